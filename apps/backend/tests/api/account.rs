use reqwest::Method;
use serde_json::json;
use solace_backend::chat::{self, MessageStatus, NewMessage, Role, SessionTitle};

use crate::helpers::{spawn_app, GOOD_PASSWORD};

async fn conversation(app: &crate::helpers::TestApp, owner: &str, text: &str) -> String {
    let title = SessionTitle::parse("A talk").unwrap();
    let session = chat::create_session(&app.state.db, owner, &title)
        .await
        .unwrap();
    let message = NewMessage {
        id: solace_backend::db::new_id(),
        role: Role::User,
        content: text,
        status: MessageStatus::Complete,
    };
    chat::append_message(&app.state.db, owner, &session.id, message)
        .await
        .unwrap();
    session.id
}

#[tokio::test]
async fn the_export_holds_my_content_and_nobody_elses() {
    let app = spawn_app().await;
    let mut sam = app.browser();
    let sam_user = sam.signup("sam@example.org").await;
    let mut ada = app.browser();
    let ada_user = ada.signup("ada@example.org").await;
    conversation(
        &app,
        sam_user["id"].as_str().unwrap(),
        "sam's private words",
    )
    .await;
    conversation(
        &app,
        ada_user["id"].as_str().unwrap(),
        "ada's private words",
    )
    .await;

    let response = sam.send(Method::GET, "/api/me/export", None).await;

    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("solace-export.json"));
    let text = response.text().await.unwrap();
    assert!(text.contains("sam's private words"));
    assert!(!text.contains("ada's private words"));
    assert!(!text.contains("argon2"), "no password hash in the export");
    let export: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(export["account"]["email"], "sam@example.org");
    assert_eq!(export["chat_sessions"].as_array().unwrap().len(), 1);
    assert_eq!(export["login_sessions"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn deleting_an_account_needs_the_password_and_removes_everything() {
    let app = spawn_app().await;
    let mut sam = app.browser();
    let user = sam.signup("sam@example.org").await;
    let id = user["id"].as_str().unwrap().to_owned();
    conversation(&app, &id, "to be forgotten").await;

    let (wrong_status, wrong) = sam
        .send_json(
            Method::DELETE,
            "/api/me",
            Some(json!({ "password": "not it at all" })),
        )
        .await;
    let (missing_status, missing) = sam
        .send_json(Method::DELETE, "/api/me", Some(json!({})))
        .await;
    let response = sam
        .send(
            Method::DELETE,
            "/api/me",
            Some(json!({ "password": GOOD_PASSWORD })),
        )
        .await;

    assert_eq!(wrong_status, 401, "{wrong}");
    assert_eq!(missing_status, 422);
    assert_eq!(missing["error"], "password_required");
    assert_eq!(response.status(), 204);
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE owner_id = $1")
        .bind(id.clone())
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(left, 0);
    let (me_status, _) = sam.get("/api/auth/me").await;
    assert_eq!(me_status, 401);
    let (login_status, _) = app.browser().login("sam@example.org", GOOD_PASSWORD).await;
    assert_eq!(login_status, 401);
}

#[tokio::test]
async fn a_guest_deletes_itself_by_typing_its_pseudonym() {
    let app = spawn_app().await;
    let mut guest = app.browser();
    let user = guest.guest().await;
    let pseudonym = user["pseudonym"].as_str().unwrap().to_owned();

    let (wrong_status, wrong) = guest
        .send_json(
            Method::DELETE,
            "/api/me",
            Some(json!({ "confirm": "someone else" })),
        )
        .await;
    let response = guest
        .send(
            Method::DELETE,
            "/api/me",
            Some(json!({ "confirm": pseudonym })),
        )
        .await;

    assert_eq!(wrong_status, 422);
    assert_eq!(wrong["error"], "confirmation_required");
    assert_eq!(response.status(), 204);
}

#[tokio::test]
async fn changing_the_password_signs_out_other_devices() {
    let app = spawn_app().await;
    let mut laptop = app.browser();
    laptop.signup("sam@example.org").await;
    let mut phone = app.browser();
    phone.login("sam@example.org", GOOD_PASSWORD).await;

    let (status, body) = laptop
        .post(
            "/api/me/password",
            json!({ "current_password": GOOD_PASSWORD, "new_password": "meadow pebble compass" }),
        )
        .await;
    let (laptop_me, _) = laptop.get("/api/auth/me").await;
    let (phone_me, _) = phone.get("/api/auth/me").await;
    let (new_login, _) = app
        .browser()
        .login("sam@example.org", "meadow pebble compass")
        .await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(laptop_me, 200, "this device stays signed in");
    assert_eq!(phone_me, 401);
    assert_eq!(new_login, 200);
}

#[tokio::test]
async fn guessing_the_password_from_a_signed_in_session_is_throttled() {
    let app = spawn_app().await;
    let mut stolen = app.browser();
    stolen.signup("sam@example.org").await;

    let mut refusals = Vec::new();
    for guess in 0..5 {
        let (status, _) = stolen
            .post(
                "/api/me/password",
                json!({ "current_password": format!("guess number {guess}"), "new_password": "meadow pebble compass" }),
            )
            .await;
        refusals.push(status.as_u16());
    }
    let (right_but_late, body) = stolen
        .post(
            "/api/me/password",
            json!({ "current_password": GOOD_PASSWORD, "new_password": "meadow pebble compass" }),
        )
        .await;
    let (delete, _) = stolen
        .send_json(
            Method::DELETE,
            "/api/me",
            Some(json!({ "password": GOOD_PASSWORD })),
        )
        .await;

    assert_eq!(refusals, vec![401; 5]);
    assert_eq!(right_but_late, 429, "{body}");
    assert_eq!(body["error"], "rate_limited");
    assert_eq!(delete, 429, "deleting the account counts the same attempts");
    let (still, _) = app.browser().login("sam@example.org", GOOD_PASSWORD).await;
    assert_eq!(still, 200, "the password was not changed");
}

#[tokio::test]
async fn a_guest_cannot_use_account_only_endpoints() {
    let app = spawn_app().await;
    let mut guest = app.browser();
    guest.guest().await;

    let (status, body) = guest
        .send_json(
            Method::PATCH,
            "/api/me",
            Some(json!({ "display_name": "Sam" })),
        )
        .await;

    assert_eq!(status, 403);
    assert_eq!(body["error"], "account_required");
}

#[tokio::test]
async fn a_display_name_can_be_set_and_cleared() {
    let app = spawn_app().await;
    let mut sam = app.browser();
    sam.signup("sam@example.org").await;

    let (set_status, set) = sam
        .send_json(
            Method::PATCH,
            "/api/me",
            Some(json!({ "display_name": "  Sam D  " })),
        )
        .await;
    let (clear_status, cleared) = sam
        .send_json(
            Method::PATCH,
            "/api/me",
            Some(json!({ "display_name": null })),
        )
        .await;
    let (bad_status, bad) = sam
        .send_json(
            Method::PATCH,
            "/api/me",
            Some(json!({ "display_name": "x".repeat(61) })),
        )
        .await;

    assert_eq!(set_status, 200);
    assert_eq!(set["display_name"], "Sam D");
    assert_eq!(clear_status, 200);
    assert!(cleared["display_name"].is_null());
    assert_eq!(bad_status, 422);
    assert_eq!(bad["error"], "invalid_display_name");
}
