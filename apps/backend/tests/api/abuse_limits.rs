//! Cheap writes anyone can repeat are limited, so nobody can grow the database without
//! bound; abandoned guests and expired sessions are purged.

use std::time::Instant;

use serde_json::json;
use solace_backend::chat::{self, SessionTitle};
use solace_backend::rooms::housekeeping::{tick, Missing};

use crate::helpers::{spawn_app, spawn_app_with};

/// The status and `Retry-After` of each of `n` anonymous POSTs to `path`.
async fn post_n(
    app: &crate::helpers::TestApp,
    path: &str,
    body: serde_json::Value,
    n: usize,
) -> Vec<(u16, Option<String>)> {
    let mut answers = Vec::new();
    for _ in 0..n {
        // A fresh client each time: no cookie, so each guest request makes a new guest.
        let response = reqwest::Client::new()
            .post(app.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        let retry = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        answers.push((response.status().as_u16(), retry));
    }
    answers
}

#[tokio::test]
async fn guest_creation_sign_ups_and_analytics_are_limited_per_address() {
    let app = spawn_app_with(&[
        ("GUESTS_PER_HOUR", "2"),
        ("SIGNUPS_PER_HOUR", "1"),
        ("EVENTS_PER_MINUTE", "2"),
    ])
    .await;

    let guests = post_n(&app, "/api/auth/guest", json!({}), 3).await;
    let event = json!({ "name": "page_view", "path": "/" });
    let events = post_n(&app, "/api/events", event, 3).await;
    let mut first = app.browser();
    first.signup("ada@example.org").await;
    let (second_signup, body) = app
        .browser()
        .post(
            "/api/auth/signup",
            json!({ "email": "eve@example.org", "password": crate::helpers::GOOD_PASSWORD }),
        )
        .await;

    assert_eq!(guests[..2], [(201, None), (201, None)]);
    assert_eq!(guests[2], (429, Some("3600".to_owned())));
    assert_eq!(events[..2], [(202, None), (202, None)]);
    assert_eq!(events[2], (429, Some("60".to_owned())));
    assert_eq!(second_signup, 429, "{body}");
    assert_eq!(body["error"], "rate_limited");
}

#[tokio::test]
async fn rooms_and_audio_tokens_are_limited_per_identity() {
    let app = spawn_app_with(&[("ROOMS_PER_HOUR", "1"), ("ROOM_TOKENS_PER_MINUTE", "1")]).await;
    let mut host = app.browser();
    host.guest().await;

    let (first, room) = host
        .post("/api/rooms", json!({ "title": "Evening calm" }))
        .await;
    let (second, _) = host.post("/api/rooms", json!({ "title": "Another" })).await;
    let room = room["id"].as_str().unwrap().to_owned();
    host.post(&format!("/api/rooms/{room}/join"), json!({}))
        .await;
    let (token, body) = host
        .post(&format!("/api/rooms/{room}/signal-token"), json!({}))
        .await;
    let (again, _) = host
        .post(&format!("/api/rooms/{room}/signal-token"), json!({}))
        .await;

    assert_eq!(first, 201);
    assert_eq!(second, 429);
    assert_eq!(token, 200, "{body}");
    assert_eq!(again, 429);
}

#[tokio::test]
async fn abandoned_guests_go_with_their_data_and_expired_sessions_go() {
    let app = spawn_app().await;
    let db = &app.state.db;
    let mut abandoned = app.browser();
    let gone = abandoned.guest().await["id"].as_str().unwrap().to_owned();
    let mut active = app.browser();
    let kept = active.guest().await["id"].as_str().unwrap().to_owned();
    let mut account = app.browser();
    let registered = account.signup("sam@example.org").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let title = SessionTitle::parse("Night shifts").unwrap();
    let conversation = chat::create_session(db, &gone, &title).await.unwrap();
    // Forty days without use: past GUEST_RETENTION_DAYS (30) and past the session's life.
    let long_ago = solace_backend::db::now_ms() - 40 * 86_400_000;
    for sql in [
        "UPDATE users SET created_at = $1 WHERE id IN ($2, $3)",
        "UPDATE tokens SET created_at = $1, last_used_at = $1, expires_at = $1 WHERE user_id IN ($2, $3)",
    ] {
        sqlx::query(sql)
            .bind(long_ago)
            .bind(gone.clone())
            .bind(registered.clone())
            .execute(db.pool())
            .await
            .unwrap();
    }

    let report = tick(&app.state, &mut Missing::new(), Instant::now())
        .await
        .unwrap();
    let conversation_left = chat::get_session(db, &gone, &conversation.id).await;
    let (active_me, _) = active.get("/api/auth/me").await;
    let (expired_me, _) = account.get("/api/auth/me").await;
    let (relogin, _) = app
        .browser()
        .login("sam@example.org", crate::helpers::GOOD_PASSWORD)
        .await;

    assert_eq!(report.guests_deleted, 1);
    assert_eq!(report.sessions_deleted, 1, "the account's expired session");
    assert!(solace_backend::users::find(db, &gone)
        .await
        .unwrap()
        .is_none());
    assert!(
        conversation_left.is_err(),
        "their conversation went with them"
    );
    assert!(solace_backend::users::find(db, &kept)
        .await
        .unwrap()
        .is_some());
    assert_eq!(active_me, 200);
    assert_eq!(expired_me, 401);
    assert_eq!(
        relogin, 200,
        "an account is never purged, only its expired session"
    );
}

#[tokio::test]
async fn replies_being_written_at_once_are_limited_per_identity() {
    use solace_ai::testing::{Behaviour, FakeUpstream};
    let upstream = FakeUpstream::start().await.unwrap();
    // Fifteen pieces 100 ms apart: the first reply is still being written below.
    upstream.then(Behaviour::reply(
        "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen",
        std::time::Duration::from_millis(100),
    ));
    let app = crate::ai_chat::app_with_model(
        &upstream,
        &[("MAX_OPEN_REPLIES", "1"), ("LLM_TIMEOUT_SECS", "10")],
    )
    .await;
    let mut person = crate::ai_chat::guest(&app).await;
    let mut someone_else = crate::ai_chat::guest(&app).await;

    let first = person
        .send(
            reqwest::Method::POST,
            "/api/ai/message",
            Some(json!({ "content": "Hello" })),
        )
        .await;
    let (second, body) = person
        .post("/api/ai/message", json!({ "content": "Again" }))
        .await;
    let (theirs, _) = crate::ai_chat::say(&mut someone_else, json!({ "content": "Hi" })).await;
    let first_status = first.status();
    let first_text = first.text().await.unwrap();
    let (after, _) = crate::ai_chat::say(&mut person, json!({ "content": "Now?" })).await;

    assert_eq!(first_status, 200);
    assert!(
        first_text.contains("fifteen"),
        "the first reply was written in full"
    );
    assert_eq!(second, 429, "{body}");
    assert_eq!(body["error"], "rate_limited");
    assert_eq!(theirs, 200, "someone else has their own");
    assert_eq!(after, 200, "the slot came back when the reply was done");
}

/// Opens the embedded SFU's signalling socket for `person`'s seat in `room`.
async fn signal_socket(
    app: &crate::helpers::TestApp,
    person: &mut crate::helpers::Browser,
    room: &str,
) -> Result<impl Sized, tokio_tungstenite::tungstenite::Error> {
    let url = crate::sfu::signal_url(app, person, room).await;
    tokio_tungstenite::connect_async(url)
        .await
        .map(|(socket, _)| socket)
}

#[tokio::test]
async fn audio_sockets_open_at_once_are_limited_per_identity() {
    let app = spawn_app_with(&[("MAX_OPEN_SOCKETS", "2")]).await;
    let mut person = app.browser();
    person.guest().await;
    let (_, room) = person
        .post("/api/rooms", json!({ "title": "Sockets" }))
        .await;
    let room = room["id"].as_str().unwrap().to_owned();
    person
        .post(&format!("/api/rooms/{room}/join"), json!({}))
        .await;

    let first = signal_socket(&app, &mut person, &room).await.unwrap();
    let second = signal_socket(&app, &mut person, &room).await.unwrap();
    match signal_socket(&app, &mut person, &room).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 429)
        }
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("a third socket opened"),
    }

    // Closing one gives its place back.
    drop(first);
    let started = Instant::now();
    let third = loop {
        match signal_socket(&app, &mut person, &room).await {
            Ok(socket) => break socket,
            Err(_) if started.elapsed() < std::time::Duration::from_secs(5) => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => panic!("the closed socket's place never came back: {e}"),
        }
    };
    drop((second, third));
}

#[tokio::test]
async fn behind_a_proxy_each_client_address_has_its_own_allowance() {
    // Every request reaches Solace from the proxy's address; the limit must follow the
    // person, named by the proxy's header (Fly.io) or its X-Forwarded-For hop (Caddy).
    for (setting, header) in [
        (("CLIENT_IP_HEADER", "Fly-Client-IP"), "fly-client-ip"),
        (("TRUST_FORWARDED_FOR", "true"), "x-forwarded-for"),
    ] {
        let app = crate::helpers::spawn_app_with(&[("GUESTS_PER_HOUR", "1"), setting]).await;
        let guest_from = |address: &'static str| {
            app.client
                .post(app.url("/api/auth/guest"))
                .header(header, address)
                .json(&json!({}))
                .send()
        };
        assert_eq!(
            guest_from("203.0.113.7").await.unwrap().status(),
            201,
            "{header}"
        );
        assert_eq!(
            guest_from("203.0.113.7").await.unwrap().status(),
            429,
            "{header}"
        );
        // Someone else behind the same proxy is not refused because of the first.
        assert_eq!(
            guest_from("198.51.100.23").await.unwrap().status(),
            201,
            "{header}"
        );
    }
}
