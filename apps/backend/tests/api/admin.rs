//! The admin console's API: only administrators; reports acted on with their context;
//! people searched, banned (signed out, refused at sign-in), unbanned and deleted; live
//! rooms ended; the overview's counts and funnels; every action in the audit log.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, Browser, TestApp};

async fn guest(app: &TestApp) -> (Browser, Value) {
    let mut browser = app.browser();
    let user = browser.guest().await;
    (browser, user)
}

async fn audit_actions(admin: &mut Browser) -> Vec<String> {
    let (status, log) = admin.get("/api/admin/audit").await;
    assert_eq!(status, 200, "{log}");
    log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn only_administrators_reach_the_console() {
    let app = spawn_app().await;
    let mut member = app.browser();
    member.signup("member@example.org").await;
    let (mut visitor, _) = guest(&app).await;
    let anonymous = reqwest::Client::new();

    for path in [
        "/api/admin/overview",
        "/api/admin/users",
        "/api/admin/audit",
        "/api/admin/rooms",
        "/api/admin/reports",
    ] {
        let (status, body) = member.get(path).await;
        assert_eq!(status, 403, "{path}: {body}");
        assert_eq!(body["error"], "admin_only");
        let (status, _) = visitor.get(path).await;
        assert_eq!(status, 403, "{path}");
        let status = anonymous.get(app.url(path)).send().await.unwrap().status();
        assert_eq!(status, 401, "{path}");
    }
    // Every action too, whatever the target.
    for (method, path, body) in [
        (
            Method::POST,
            "/api/admin/users/someone/ban",
            Some(json!({ "reason": "x" })),
        ),
        (Method::DELETE, "/api/admin/users/someone/ban", None),
        (Method::DELETE, "/api/admin/users/someone", None),
        (Method::GET, "/api/admin/reports/some-report", None),
        (
            Method::POST,
            "/api/admin/reports/some-report/act",
            Some(json!({ "action": "dismiss" })),
        ),
        (
            Method::POST,
            "/api/admin/reports/some-report/resolve",
            Some(json!({})),
        ),
        (
            Method::POST,
            "/api/admin/jobs/some-job/retry?queue=tts",
            Some(json!({})),
        ),
    ] {
        let (status, answer) = member.send_json(method.clone(), path, body.clone()).await;
        assert_eq!(
            (status.as_u16(), answer["error"].as_str()),
            (403, Some("admin_only")),
            "{path}"
        );
        let (status, _) = visitor.send_json(method, path, body).await;
        assert_eq!(status, 403, "{path}");
    }
}

#[tokio::test]
async fn a_report_is_seen_in_context_and_removing_keeps_the_person_out() {
    let app = spawn_app().await;
    let (mut host, _) = guest(&app).await;
    let (mut rude, rude_user) = guest(&app).await;
    let (_, room) = host
        .post("/api/rooms", json!({ "title": "Night owls" }))
        .await;
    let room = room["id"].as_str().unwrap().to_owned();
    host.post(&format!("/api/rooms/{room}/join"), json!({}))
        .await;
    let (_, detail) = rude
        .post(&format!("/api/rooms/{room}/join"), json!({}))
        .await;
    let handle = detail["you"]["handle"].as_str().unwrap().to_owned();
    let (status, _) = host
        .post(
            &format!("/api/rooms/{room}/participants/{handle}/report"),
            json!({ "reason": "Shouting at people" }),
        )
        .await;
    assert_eq!(status, 201);

    let mut admin = app.administrator("admin@example.org").await;
    let (_, reports) = admin.get("/api/admin/reports").await;
    let id = reports["reports"][0]["id"].as_str().unwrap().to_owned();
    let (status, shown) = admin.get(&format!("/api/admin/reports/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(shown["report"]["reason"], "Shouting at people");
    assert_eq!(shown["report"]["room_title"], "Night owls");
    assert_eq!(shown["report"]["subject_name"], rude_user["pseudonym"]);
    let kinds: Vec<&str> = shown["context"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"joined"), "{kinds:?}");

    let (status, bad) = admin
        .post(
            &format!("/api/admin/reports/{id}/act"),
            json!({ "action": "shame" }),
        )
        .await;
    assert_eq!(status, 422, "{bad}");
    let (status, acted) = admin
        .post(
            &format!("/api/admin/reports/{id}/act"),
            json!({ "action": "remove", "note": "Repeated shouting" }),
        )
        .await;
    assert_eq!(status, 200, "{acted}");
    assert_eq!(acted["status"], "resolved");
    assert_eq!(acted["action"], "removed");

    // Out, and cannot come back.
    let (status, again) = rude
        .post(&format!("/api/rooms/{room}/join"), json!({}))
        .await;
    assert_eq!(status, 403, "{again}");
    assert_eq!(again["error"], "removed_from_room");
    let (_, history) = host.get(&format!("/api/rooms/{room}/history")).await;
    assert_eq!(history["events"][0]["kind"], "removed");
    assert_eq!(history["events"][0]["detail"], "Repeated shouting");

    let (status, twice) = admin
        .post(
            &format!("/api/admin/reports/{id}/act"),
            json!({ "action": "dismiss" }),
        )
        .await;
    assert_eq!(status, 409, "{twice}");
    assert_eq!(twice["error"], "already_resolved");
    let (status, _) = admin
        .post(
            "/api/admin/reports/no-such-report/act",
            json!({ "action": "warn" }),
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(audit_actions(&mut admin).await, ["report.removed"]);
}

#[tokio::test]
async fn a_banned_account_is_signed_out_and_refused_until_unbanned() {
    let app = spawn_app().await;
    let mut person = app.browser();
    let user = person.signup("troubled.person@example.org").await;
    let id = user["id"].as_str().unwrap().to_owned();
    let mut admin = app.administrator("admin@example.org").await;

    // Found by part of the email or the pseudonym, in any case; LIKE's wildcards are literal.
    let (_, found) = admin.get("/api/admin/users?q=TROUBLED").await;
    assert_eq!(found["people"][0]["id"], id.as_str());
    assert_eq!(found["people"][0]["banned_at"], Value::Null);
    let pseudonym = user["pseudonym"].as_str().unwrap().to_lowercase();
    let (_, by_name) = admin
        .get(&format!("/api/admin/users?q={}", &pseudonym[..5]))
        .await;
    assert!(by_name["people"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["id"] == id.as_str()));
    let (_, wildcard) = admin.get("/api/admin/users?q=%25").await;
    assert_eq!(wildcard["people"].as_array().unwrap().len(), 0);
    // The length is counted as sent (the contract's maxLength), spaces and all.
    let padded = format!("{}%20%20", "a".repeat(199));
    let (too_long, body) = admin.get(&format!("/api/admin/users?q={padded}")).await;
    assert_eq!(too_long, 422, "{body}");

    let (status, empty) = admin
        .post(
            &format!("/api/admin/users/{id}/ban"),
            json!({ "reason": " " }),
        )
        .await;
    assert_eq!(status, 422, "{empty}");
    // In a room when the ban comes.
    let (mut host, _) = guest(&app).await;
    let (_, room) = host.post("/api/rooms", json!({ "title": "Late" })).await;
    let room = room["id"].as_str().unwrap().to_owned();
    host.post(&format!("/api/rooms/{room}/join"), json!({}))
        .await;
    person
        .post(&format!("/api/rooms/{room}/join"), json!({}))
        .await;

    let (status, body) = admin
        .post(
            &format!("/api/admin/users/{id}/ban"),
            json!({ "reason": "Harassment" }),
        )
        .await;
    assert_eq!(status, 204, "{body}");

    let (_, detail) = host.get(&format!("/api/rooms/{room}")).await;
    assert_eq!(
        detail["participants"].as_array().unwrap().len(),
        1,
        "{detail}"
    );
    let (_, history) = host.get(&format!("/api/rooms/{room}/history")).await;
    assert_eq!(history["events"][0]["kind"], "left");
    assert_eq!(history["events"][0]["subject"], user["pseudonym"]);
    assert_eq!(history["events"][0]["detail"], "banned");

    let (status, _) = person.get("/api/auth/me").await;
    assert_eq!(status, 401, "the ban ended every session");
    let (status, refused) = person
        .login("troubled.person@example.org", crate::helpers::GOOD_PASSWORD)
        .await;
    assert_eq!(status, 403, "{refused}");
    assert_eq!(refused["error"], "account_banned");
    let (_, found) = admin.get("/api/admin/users?q=troubled").await;
    assert_eq!(found["people"][0]["banned_reason"], "Harassment");

    let (status, _) = admin
        .send_json(Method::DELETE, &format!("/api/admin/users/{id}/ban"), None)
        .await;
    assert_eq!(status, 204);
    let (status, _) = person
        .login("troubled.person@example.org", crate::helpers::GOOD_PASSWORD)
        .await;
    assert_eq!(status, 200);

    // Not oneself, not another administrator.
    let me = admin.get("/api/auth/me").await.1["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, own) = admin
        .post(
            &format!("/api/admin/users/{me}/ban"),
            json!({ "reason": "x" }),
        )
        .await;
    assert_eq!(
        (status.as_u16(), own["error"].as_str()),
        (409, Some("cannot_act_on_self"))
    );
    let other = app.administrator("other.admin@example.org").await;
    drop(other);
    let (_, admins) = admin.get("/api/admin/users?q=other.admin").await;
    let other_id = admins["people"][0]["id"].as_str().unwrap().to_owned();
    let (status, body) = admin
        .send_json(
            Method::DELETE,
            &format!("/api/admin/users/{other_id}"),
            None,
        )
        .await;
    assert_eq!(
        (status.as_u16(), body["error"].as_str()),
        (409, Some("cannot_act_on_admin"))
    );

    assert_eq!(
        audit_actions(&mut admin).await,
        ["user.unbanned", "user.banned"]
    );
}

#[tokio::test]
async fn deleting_someone_removes_everything_they_had() {
    let app = spawn_app().await;
    let mut person = app.browser();
    let user = person.signup("leaving@example.org").await;
    let id = user["id"].as_str().unwrap().to_owned();
    let mut admin = app.administrator("admin@example.org").await;

    let (status, _) = admin
        .send_json(Method::DELETE, &format!("/api/admin/users/{id}"), None)
        .await;
    assert_eq!(status, 204);
    let (_, found) = admin.get("/api/admin/users?q=leaving").await;
    assert_eq!(found["people"].as_array().unwrap().len(), 0);
    let (status, _) = person.get("/api/auth/me").await;
    assert_eq!(status, 401);
    let (status, _) = admin
        .send_json(Method::DELETE, &format!("/api/admin/users/{id}"), None)
        .await;
    assert_eq!(status, 404);
    assert_eq!(audit_actions(&mut admin).await, ["user.deleted"]);
}

#[tokio::test]
async fn administrators_see_private_rooms_and_end_one() {
    let app = spawn_app().await;
    let (mut host, _) = guest(&app).await;
    let (_, room) = host
        .post(
            "/api/rooms",
            json!({ "title": "Just us", "visibility": "private" }),
        )
        .await;
    let room = room["id"].as_str().unwrap().to_owned();
    let mut admin = app.administrator("admin@example.org").await;

    let (_, public) = admin.get("/api/rooms").await;
    assert!(public["rooms"].as_array().unwrap().is_empty());
    let (_, live) = admin.get("/api/admin/rooms").await;
    assert_eq!(live["rooms"][0]["id"], room.as_str());
    let (status, closed) = admin
        .post(&format!("/api/rooms/{room}/close"), json!({}))
        .await;
    assert_eq!(status, 200, "{closed}");
    let (_, live) = admin.get("/api/admin/rooms").await;
    assert!(live["rooms"].as_array().unwrap().is_empty());
    assert_eq!(audit_actions(&mut admin).await, ["room.closed"]);
}

async fn event(app: &TestApp, name: &str, path: &str, visit: &str) {
    let response = app
        .post_json(
            "/api/events",
            &json!({ "name": name, "path": path, "visit": visit }),
        )
        .await;
    assert_eq!(response.status(), 202);
}

#[tokio::test]
async fn the_overview_counts_today_and_the_funnels_by_visit() {
    let app = spawn_app().await;
    let mut person = app.browser();
    person.signup("someone@example.org").await;
    // A crisis message: counted by severity, nothing else about it.
    let (status, _) = person
        .post(
            "/api/ai/message",
            json!({ "content": "I am going to kill myself tonight, I have the pills ready" }),
        )
        .await;
    assert!(status.is_success() || status.as_u16() == 503, "{status}");
    let (_, _room) = person
        .post("/api/rooms", json!({ "title": "Morning" }))
        .await;
    // Visit a: the whole chat funnel; b: only the landing page; c: chats without landing.
    for (name, path) in [
        ("pageview", "/"),
        ("chat.started", "/chat/"),
        ("chat.reply_seen", "/chat/"),
    ] {
        event(&app, name, path, "visit-aaaaaaaa").await;
    }
    event(&app, "pageview", "/", "visit-bbbbbbbb").await;
    event(&app, "room.entered", "/rooms/live/", "visit-bbbbbbbb").await;
    event(&app, "chat.started", "/chat/", "visit-cccccccc").await;

    let mut admin = app.administrator("admin@example.org").await;
    let (status, overview) = admin.get("/api/admin/overview?days=7").await;
    assert_eq!(status, 200, "{overview}");
    let days = overview["days"].as_array().unwrap();
    assert_eq!(days.len(), 7);
    let today = days.last().unwrap();
    assert_eq!(
        today["date"],
        time::OffsetDateTime::now_utc().date().to_string()
    );
    assert_eq!(today["chats_started"], 1);
    assert_eq!(today["crisis_imminent"], 1);
    assert_eq!(today["crisis_elevated"], 0);
    assert_eq!(today["rooms_opened"], 1);
    assert_eq!(today["active_people"], 1);
    assert_eq!(overview["accounts"], 2);
    assert_eq!(overview["live_rooms"], 1);

    let steps = |funnel: usize| -> Vec<(String, i64)> {
        overview["funnels"][funnel]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["name"].as_str().unwrap().to_owned(),
                    s["visits"].as_i64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(overview["funnels"][0]["name"], "chat");
    assert_eq!(
        steps(0),
        [
            ("landing".to_owned(), 2),
            ("chat started".to_owned(), 1),
            ("first reply seen".to_owned(), 1)
        ]
    );
    assert_eq!(
        steps(1),
        [
            ("landing".to_owned(), 2),
            ("room entered".to_owned(), 1),
            ("spoke".to_owned(), 0)
        ]
    );
    let (status, bad) = admin.get("/api/admin/overview?days=365").await;
    assert_eq!(status, 422, "{bad}");
}
