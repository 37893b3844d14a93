use reqwest::Method;
use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn a_guest_creates_lists_renames_and_deletes_conversations() {
    let app = spawn_app().await;
    let mut guest = app.browser();
    guest.guest().await;

    let (created_status, created) = guest.post("/api/chat/sessions", json!({})).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let (renamed_status, renamed) = guest
        .send_json(
            Method::PATCH,
            &format!("/api/chat/sessions/{id}"),
            Some(json!({ "title": "Sleep" })),
        )
        .await;
    let (_, listed) = guest.get("/api/chat/sessions").await;
    let deleted = guest
        .send(Method::DELETE, &format!("/api/chat/sessions/{id}"), None)
        .await;
    let (gone_status, _) = guest.get(&format!("/api/chat/sessions/{id}")).await;

    assert_eq!(created_status, 201);
    assert_eq!(created["title"], "New conversation");
    assert!(
        created.get("owner_id").is_none(),
        "owners are never exposed"
    );
    assert_eq!(renamed_status, 200);
    assert_eq!(renamed["title"], "Sleep");
    assert_eq!(listed["sessions"][0]["title"], "Sleep");
    assert_eq!(deleted.status(), 204);
    assert_eq!(gone_status, 404);
}

#[tokio::test]
async fn one_guest_cannot_see_or_touch_another_guests_conversation() {
    let app = spawn_app().await;
    let mut owner = app.browser();
    owner.guest().await;
    let (_, created) = owner
        .post("/api/chat/sessions", json!({ "title": "Mine" }))
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let mut other = app.browser();
    other.guest().await;

    let (read, _) = other.get(&format!("/api/chat/sessions/{id}")).await;
    let (messages, _) = other
        .get(&format!("/api/chat/sessions/{id}/messages"))
        .await;
    let (rename, _) = other
        .send_json(
            Method::PATCH,
            &format!("/api/chat/sessions/{id}"),
            Some(json!({ "title": "Theirs" })),
        )
        .await;
    let delete = other
        .send(Method::DELETE, &format!("/api/chat/sessions/{id}"), None)
        .await;
    let (_, listed) = other.get("/api/chat/sessions").await;

    assert_eq!(read, 404);
    assert_eq!(messages, 404);
    assert_eq!(rename, 404);
    assert_eq!(delete.status(), 404);
    assert_eq!(listed["sessions"].as_array().unwrap().len(), 0);
    let (_, still_mine) = owner.get(&format!("/api/chat/sessions/{id}")).await;
    assert_eq!(still_mine["title"], "Mine");
}

#[tokio::test]
async fn conversations_need_a_session_and_valid_input() {
    let app = spawn_app().await;
    let mut guest = app.browser();
    let (anonymous, _) = guest.get("/api/chat/sessions").await;
    guest.guest().await;

    let (blank, blank_body) = guest
        .post("/api/chat/sessions", json!({ "title": "   " }))
        .await;
    let (limit, _) = guest.get("/api/chat/sessions?limit=1000").await;
    let (bad_query, _) = guest.get("/api/chat/sessions?limit=lots").await;

    assert_eq!(anonymous, 401);
    assert_eq!(blank, 422);
    assert_eq!(blank_body["error"], "title_empty");
    assert_eq!(limit, 422);
    assert_eq!(bad_query, 400);
}
