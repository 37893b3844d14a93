use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, Browser, TestApp};

async fn guest(app: &TestApp) -> (Browser, Value) {
    let mut browser = app.browser();
    let user = browser.guest().await;
    (browser, user)
}

async fn create_room(host: &mut Browser, body: Value) -> String {
    let (status, room) = host.post("/api/rooms", body).await;
    assert_eq!(status, 201, "{room}");
    room["id"].as_str().unwrap().to_owned()
}

async fn join(browser: &mut Browser, room: &str) -> (reqwest::StatusCode, Value) {
    browser
        .post(&format!("/api/rooms/{room}/join"), json!({}))
        .await
}

fn handle_of(detail: &Value, name: &str) -> String {
    detail["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .map(|p| p["handle"].as_str().unwrap().to_owned())
        .unwrap_or_else(|| panic!("{name} is not in {detail}"))
}

fn role_of(detail: &Value, name: &str) -> String {
    detail["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .map(|p| p["role"].as_str().unwrap().to_owned())
        .unwrap_or_else(|| "absent".into())
}

/// A room with a host and one listener, and everything needed to act in it.
struct Scene {
    _app: TestApp,
    room: String,
    host: Browser,
    listener: Browser,
    listener_name: String,
    listener_handle: String,
}

async fn scene() -> Scene {
    let app = spawn_app().await;
    let (mut host, _) = guest(&app).await;
    let (mut listener, listener_user) = guest(&app).await;
    let room = create_room(&mut host, json!({ "title": "Evening calm" })).await;
    join(&mut host, &room).await;
    let (_, detail) = join(&mut listener, &room).await;
    let listener_name = listener_user["pseudonym"].as_str().unwrap().to_owned();
    let listener_handle = handle_of(&detail, &listener_name);
    Scene {
        _app: app,
        room,
        host,
        listener,
        listener_name,
        listener_handle,
    }
}

#[tokio::test]
async fn people_join_a_listed_room_under_their_pseudonym_and_never_see_user_ids() {
    let app = spawn_app().await;
    let (mut host, host_user) = guest(&app).await;
    let (mut visitor, visitor_user) = guest(&app).await;

    let room = create_room(
        &mut host,
        json!({ "title": "Evening calm", "topic": "Winding down" }),
    )
    .await;
    let (host_join, _) = join(&mut host, &room).await;
    let (visitor_join, detail) = join(&mut visitor, &room).await;
    let (_, listed) = visitor.get("/api/rooms").await;

    assert_eq!((host_join.as_u16(), visitor_join.as_u16()), (200, 200));
    let host_name = host_user["pseudonym"].as_str().unwrap();
    let visitor_name = visitor_user["pseudonym"].as_str().unwrap();
    assert_eq!(role_of(&detail, host_name), "host");
    assert_eq!(role_of(&detail, visitor_name), "listener");
    assert_eq!(detail["you"]["name"], visitor_name);
    assert_eq!(detail["you"]["muted"], true, "listeners are silent");
    let text = detail.to_string();
    for id in [&host_user["id"], &visitor_user["id"]] {
        assert!(
            !text.contains(id.as_str().unwrap()),
            "a user id leaked: {text}"
        );
    }
    assert_eq!(listed["rooms"][0]["title"], "Evening calm");
    assert_eq!(listed["rooms"][0]["participant_count"], 2);
    assert!(listed["rooms"][0].get("host_id").is_none());
}

#[tokio::test]
async fn bad_rooms_are_refused_and_private_rooms_are_not_listed() {
    let app = spawn_app().await;
    let (mut host, _) = guest(&app).await;

    for (body, code) in [
        (json!({ "title": "  " }), "title_empty"),
        (json!({ "title": "x".repeat(81) }), "title_too_long"),
        (json!({ "title": "ok", "capacity": 1 }), "invalid_capacity"),
        (
            json!({ "title": "ok", "visibility": "secret" }),
            "invalid_visibility",
        ),
    ] {
        let (status, error) = host.post("/api/rooms", body).await;
        assert_eq!(
            (status.as_u16(), error["error"].as_str()),
            (422, Some(code))
        );
    }
    create_room(
        &mut host,
        json!({ "title": "Just us", "visibility": "private" }),
    )
    .await;
    let (_, listed) = host.get("/api/rooms").await;
    assert_eq!(listed["rooms"], json!([]));
}

#[tokio::test]
async fn a_full_room_says_so() {
    let app = spawn_app().await;
    let (mut host, _) = guest(&app).await;
    let room = create_room(&mut host, json!({ "title": "Small", "capacity": 2 })).await;
    join(&mut host, &room).await;
    let (mut second, _) = guest(&app).await;
    join(&mut second, &room).await;
    let (mut third, _) = guest(&app).await;

    let (status, body) = join(&mut third, &room).await;

    assert_eq!(status, 409);
    assert_eq!(body["error"], "room_full");
}

#[tokio::test]
async fn speaking_needs_consent_from_both_sides() {
    let mut s = scene().await;
    let room = s.room.clone();
    let invite = format!(
        "/api/rooms/{room}/participants/{}/invite",
        s.listener_handle
    );

    // Path 1: the listener raises a hand, the host invites, they speak.
    s.listener
        .post(&format!("/api/rooms/{room}/hand"), json!({ "on": true }))
        .await;
    let (_, after_invite) = s.host.post(&invite, json!({})).await;
    assert_eq!(role_of(&after_invite, &s.listener_name), "speaker");

    // Stepping back to listening is always possible.
    let (_, stepped_back) = s
        .listener
        .post(&format!("/api/rooms/{room}/speak"), json!({ "on": false }))
        .await;
    assert_eq!(stepped_back["you"]["role"], "listener");

    // Path 2: the host invites first; nothing changes until the listener accepts.
    let (_, invited) = s.host.post(&invite, json!({})).await;
    assert_eq!(role_of(&invited, &s.listener_name), "listener");
    let (_, accepted) = s
        .listener
        .post(&format!("/api/rooms/{room}/speak"), json!({ "on": true }))
        .await;
    assert_eq!(accepted["you"]["role"], "speaker");
}

#[tokio::test]
async fn nobody_speaks_uninvited_and_listeners_cannot_moderate() {
    let mut s = scene().await;
    let room = s.room.clone();

    let (uninvited, body) = s
        .listener
        .post(&format!("/api/rooms/{room}/speak"), json!({ "on": true }))
        .await;
    let (unmute, _) = s
        .listener
        .post(&format!("/api/rooms/{room}/mute"), json!({ "on": false }))
        .await;
    let (mute_all, _) = s
        .listener
        .post(&format!("/api/rooms/{room}/mute-all"), json!({}))
        .await;
    let (history, _) = s.listener.get(&format!("/api/rooms/{room}/history")).await;

    assert_eq!(
        (uninvited.as_u16(), body["error"].as_str()),
        (403, Some("not_invited"))
    );
    assert_eq!(unmute, 403);
    assert_eq!(mute_all, 403);
    assert_eq!(history, 403);
}

#[tokio::test]
async fn moderators_mute_one_or_all_but_never_the_host() {
    let mut s = scene().await;
    let room = s.room.clone();
    let handle = s.listener_handle.clone();
    s.listener
        .post(&format!("/api/rooms/{room}/hand"), json!({ "on": true }))
        .await;
    s.host
        .post(
            &format!("/api/rooms/{room}/participants/{handle}/invite"),
            json!({}),
        )
        .await;

    let (_, invited) = s.host.get(&format!("/api/rooms/{room}")).await;
    // The host unmutes: everyone who can speak arrives muted.
    s.host
        .post(&format!("/api/rooms/{room}/mute"), json!({ "on": false }))
        .await;
    s.listener
        .post(&format!("/api/rooms/{room}/mute"), json!({ "on": false }))
        .await;
    let (_, muted) = s
        .host
        .post(
            &format!("/api/rooms/{room}/participants/{handle}/mute"),
            json!({}),
        )
        .await;
    let (_, unmuted) = s
        .listener
        .post(&format!("/api/rooms/{room}/mute"), json!({ "on": false }))
        .await;
    let (_, all) = s
        .host
        .post(&format!("/api/rooms/{room}/mute-all"), json!({}))
        .await;
    let host_handle = all["you"]["handle"].as_str().unwrap().to_owned();
    let (speaker_on_host, _) = s
        .listener
        .post(
            &format!("/api/rooms/{room}/participants/{host_handle}/mute"),
            json!({}),
        )
        .await;

    let muted_flag = |detail: &Value, handle: &str| {
        detail["participants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["handle"] == handle)
            .unwrap()["muted"]
            .clone()
    };
    assert_eq!(
        muted_flag(&invited, &handle),
        true,
        "new speakers start muted"
    );
    assert_eq!(muted_flag(&muted, &handle), true);
    assert_eq!(
        unmuted["you"]["muted"], false,
        "people may unmute themselves"
    );
    assert_eq!(muted_flag(&all, &handle), true);
    assert_eq!(
        all["you"]["muted"], false,
        "mute-all spares whoever pressed it"
    );
    assert_eq!(speaker_on_host, 403);
}

#[tokio::test]
async fn a_removed_person_cannot_come_back_and_the_reason_stays_in_the_history() {
    let mut s = scene().await;
    let room = s.room.clone();
    let handle = s.listener_handle.clone();

    let (_, after) = s
        .host
        .post(
            &format!("/api/rooms/{room}/participants/{handle}/remove"),
            json!({ "reason": "Shouting at people" }),
        )
        .await;
    let (rejoin, body) = join(&mut s.listener, &room).await;
    let (_, history) = s.host.get(&format!("/api/rooms/{room}/history")).await;

    assert_eq!(role_of(&after, &s.listener_name), "absent");
    assert_eq!(
        (rejoin.as_u16(), body["error"].as_str()),
        (403, Some("removed_from_room"))
    );
    let removed = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "removed")
        .unwrap()
        .clone();
    assert_eq!(removed["detail"], "Shouting at people");
    assert_eq!(removed["subject"], s.listener_name.as_str());
    let kinds: Vec<&str> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert!(
        kinds.contains(&"joined") && kinds.contains(&"created"),
        "{kinds:?}"
    );
}

#[tokio::test]
async fn only_the_host_ends_a_room_and_then_nobody_can_join() {
    let mut s = scene().await;
    let room = s.room.clone();

    let (by_listener, _) = s
        .listener
        .post(&format!("/api/rooms/{room}/close"), json!({}))
        .await;
    let (by_host, closed) = s
        .host
        .post(&format!("/api/rooms/{room}/close"), json!({}))
        .await;
    let (rejoin, body) = join(&mut s.listener, &room).await;
    let (_, detail) = s.host.get(&format!("/api/rooms/{room}")).await;

    assert_eq!(by_listener, 403);
    assert_eq!(
        (by_host.as_u16(), closed["status"].as_str()),
        (200, Some("closed"))
    );
    assert_eq!(
        (rejoin.as_u16(), body["error"].as_str()),
        (409, Some("room_closed"))
    );
    assert_eq!(detail["participants"], json!([]));
}

#[tokio::test]
async fn blocks_are_personal_and_reports_reach_the_administrators() {
    let app = spawn_app().await;
    let (mut host, host_user) = guest(&app).await;
    let (mut listener, _) = guest(&app).await;
    let room = create_room(&mut host, json!({ "title": "Evening calm" })).await;
    join(&mut host, &room).await;
    let (_, detail) = join(&mut listener, &room).await;
    let host_name = host_user["pseudonym"].as_str().unwrap();
    let host_handle = handle_of(&detail, host_name);

    let (_, blocked) = listener
        .send_json(
            Method::POST,
            &format!("/api/rooms/{room}/participants/{host_handle}/block"),
            None,
        )
        .await;
    let (reported, _) = listener
        .post(
            &format!("/api/rooms/{room}/participants/{host_handle}/report"),
            json!({ "reason": "Rude" }),
        )
        .await;
    let (not_admin, _) = listener.get("/api/admin/reports").await;
    let mut admin = app.administrator("admin@example.org").await;
    let (_, reports) = admin.get("/api/admin/reports").await;
    let report_id = reports["reports"][0]["id"].as_str().unwrap().to_owned();
    let (resolved, _) = admin
        .post(
            &format!("/api/admin/reports/{report_id}/resolve"),
            json!({}),
        )
        .await;
    let (_, open) = admin.get("/api/admin/reports").await;
    let (_, unblocked) = listener
        .send_json(
            Method::DELETE,
            &format!("/api/rooms/{room}/participants/{host_handle}/block"),
            None,
        )
        .await;

    assert_eq!(blocked["blocked"], json!([host_handle]));
    assert_eq!(reported, 201);
    assert_eq!(not_admin, 403);
    assert_eq!(reports["reports"][0]["reason"], "Rude");
    assert_eq!(reports["reports"][0]["subject_name"], host_name);
    assert_eq!(resolved, 204);
    assert_eq!(open["reports"], json!([]));
    assert_eq!(unblocked["blocked"], json!([]));
}

#[tokio::test]
async fn strangers_and_outsiders_are_turned_away() {
    let mut s = scene().await;
    let room = s.room.clone();
    let app = &s._app;
    let mut stranger = app.browser();
    let (mut outsider, _) = guest(app).await;

    let (anonymous, _) = stranger.get(&format!("/api/rooms/{room}")).await;
    let (not_inside, body) = outsider
        .post(&format!("/api/rooms/{room}/hand"), json!({ "on": true }))
        .await;
    let (unknown, _) = outsider.get("/api/rooms/no-such-room").await;
    let (no_such_person, _) = s
        .host
        .post(
            &format!("/api/rooms/{room}/participants/nobody/mute"),
            json!({}),
        )
        .await;

    assert_eq!(anonymous, 401);
    assert_eq!(
        (not_inside.as_u16(), body["error"].as_str()),
        (403, Some("not_in_room"))
    );
    assert_eq!(unknown, 404);
    assert_eq!(no_such_person, 404);
}

#[tokio::test]
async fn a_guests_blocks_come_into_their_account_and_the_export() {
    let app = spawn_app().await;
    let mut account = app.browser();
    account.signup("blocks@example.org").await;
    // The host shows their display name in the room, never their pseudonym.
    let mut host = app.browser();
    let (_, host_user) = host
        .post(
            "/api/auth/signup",
            json!({ "email": "sam@example.org", "password": crate::helpers::GOOD_PASSWORD, "display_name": "Sam Rivers" }),
        )
        .await;
    let (mut visitor, _) = guest(&app).await;
    let room = create_room(&mut host, json!({ "title": "Evening calm" })).await;
    host.post(
        &format!("/api/rooms/{room}/join"),
        json!({ "show_as": "display_name" }),
    )
    .await;
    let (_, detail) = join(&mut visitor, &room).await;
    let host_handle = handle_of(&detail, "Sam Rivers");
    visitor
        .send_json(
            Method::POST,
            &format!("/api/rooms/{room}/participants/{host_handle}/block"),
            None,
        )
        .await;

    let (login, _) = visitor
        .login("blocks@example.org", crate::helpers::GOOD_PASSWORD)
        .await;
    let (_, export) = visitor.get("/api/me/export").await;

    assert_eq!(login, 200);
    assert_eq!(export["people_you_blocked"][0]["name"], "Sam Rivers");
    let pseudonym = host_user["user"]["pseudonym"].as_str().unwrap();
    assert!(
        !export["people_you_blocked"].to_string().contains(pseudonym),
        "the pseudonym the room never showed stays out of the export"
    );
}

mod housekeeping {
    use std::time::{Duration, Instant};

    use serde_json::json;
    use solace_backend::rooms::housekeeping::{tick, Missing};
    use solace_backend::rooms::presence;

    use super::{create_room, guest, join};
    use crate::helpers::spawn_app;

    #[tokio::test]
    async fn a_seat_without_audio_is_kept_for_the_grace_period_then_released() {
        let app = spawn_app().await;
        let (mut host, _) = guest(&app).await;
        let room = create_room(&mut host, json!({ "title": "Grace" })).await;
        join(&mut host, &room).await;
        // A second person whose audio is connected (their presence mark is fresh).
        let (mut other, _) = guest(&app).await;
        let (_, seen) = join(&mut other, &room).await;
        let other_handle = seen["you"]["handle"].as_str().unwrap().to_owned();
        let cache = app.state.cache.as_ref();
        presence::here(cache, &room, &other_handle, presence::TTL).await;
        let mut missing = Missing::new();
        let now = Instant::now();

        let first = tick(&app.state, &mut missing, now).await.unwrap();
        let (_, during) = host.get(&format!("/api/rooms/{room}")).await;
        let later = tick(&app.state, &mut missing, now + Duration::from_secs(61))
            .await
            .unwrap();
        let (_, after) = host.get(&format!("/api/rooms/{room}")).await;
        let (_, history) = host.get(&format!("/api/rooms/{room}/history")).await;

        assert_eq!(first.left_after_grace, 0);
        assert_eq!(during["participants"].as_array().unwrap().len(), 2);
        assert_eq!(later.left_after_grace, 1, "only the host had no audio");
        let stayed: Vec<&str> = after["participants"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["handle"].as_str().unwrap())
            .collect();
        assert_eq!(stayed, vec![other_handle.as_str()]);
        assert_eq!(history["events"][0]["kind"], "left");
        assert_eq!(history["events"][0]["detail"], "disconnected");
    }

    #[tokio::test]
    async fn empty_rooms_end_after_the_idle_time_and_old_history_is_deleted() {
        let app = spawn_app().await;
        let (mut host, _) = guest(&app).await;
        let room = create_room(&mut host, json!({ "title": "Quiet" })).await;
        let long_ago = solace_backend::db::now_ms() - 400 * 86_400_000;
        for sql in [
            "UPDATE rooms SET updated_at = $1 WHERE id = $2",
            "UPDATE room_events SET created_at = $1 WHERE room_id = $2",
        ] {
            sqlx::query(sql)
                .bind(long_ago)
                .bind(room.clone())
                .execute(app.state.db.pool())
                .await
                .unwrap();
        }

        let report = tick(&app.state, &mut Missing::new(), Instant::now())
            .await
            .unwrap();
        let (_, detail) = host.get(&format!("/api/rooms/{room}")).await;

        assert_eq!(report.idle_rooms_closed, 1);
        assert_eq!(report.events_deleted, 1, "the year-old 'created' event");
        assert_eq!(detail["room"]["status"], "closed");
    }
}

#[tokio::test]
async fn titles_that_hide_text_and_reports_about_yourself_are_refused() {
    let app = spawn_app().await;
    let (mut host, host_user) = guest(&app).await;

    let (invisible, invisible_body) = host
        .post("/api/rooms", json!({ "title": "\u{200b}\u{200b}" }))
        .await;
    let (reversed, _) = host
        .post("/api/rooms", json!({ "title": "Calm \u{202e}moor" }))
        .await;
    let room = create_room(&mut host, json!({ "title": "Evening calm" })).await;
    let (_, detail) = join(&mut host, &room).await;
    let handle = handle_of(&detail, host_user["pseudonym"].as_str().unwrap());
    let (self_report, body) = host
        .post(
            &format!("/api/rooms/{room}/participants/{handle}/report"),
            json!({ "reason": "Testing" }),
        )
        .await;

    assert_eq!(invisible, 422);
    assert_eq!(invisible_body["error"], "invisible_characters");
    assert_eq!(reversed, 422);
    assert_eq!(self_report, 422);
    assert_eq!(body["error"], "cannot_report_yourself");
}
