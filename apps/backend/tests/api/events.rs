use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde_json::json;
use sqlx::Row;

use crate::helpers::{error_code, header_text, spawn_app, spawn_app_with};

#[tokio::test]
async fn a_page_view_is_stored_without_its_query_string() {
    let app = spawn_app().await;

    let response = app
        .post_json(
            "/api/events",
            &json!({ "name": "pageview", "path": "/chat?email=someone@example.org", "properties": { "theme": "dark" } }),
        )
        .await;

    assert_eq!(response.status(), 202);
    let id = response.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let row =
        sqlx::query("SELECT name, path, properties, user_id FROM analytics_events WHERE id = $1")
            .bind(id)
            .fetch_one(app.state.db.pool())
            .await
            .unwrap();
    assert_eq!(row.get::<String, _>("name"), "pageview");
    assert_eq!(row.get::<String, _>("path"), "/chat");
    assert_eq!(row.get::<String, _>("properties"), r#"{"theme":"dark"}"#);
    assert_eq!(row.get::<Option<String>, _>("user_id"), None);
}

#[tokio::test]
async fn an_event_with_a_bad_name_is_a_422_and_is_not_stored() {
    let app = spawn_app().await;

    let response = app
        .post_json("/api/events", &json!({ "name": "Drop Table" }))
        .await;

    assert_eq!(response.status(), 422);
    assert_eq!(error_code(response).await, "invalid_event_name");
    let count: i64 = sqlx::query("SELECT COUNT(*) AS n FROM analytics_events")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap()
        .get("n");
    assert_eq!(count, 0);
}

#[tokio::test]
async fn unknown_fields_are_rejected() {
    let app = spawn_app().await;

    let response = app
        .post_json(
            "/api/events",
            &json!({ "name": "click", "message": "private words" }),
        )
        .await;

    assert_eq!(response.status(), 422);
}

async fn count_events(app: &crate::helpers::TestApp) -> i64 {
    sqlx::query("SELECT COUNT(*) AS n FROM analytics_events")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap()
        .get("n")
}

#[tokio::test]
async fn do_not_track_and_global_privacy_control_are_honoured() {
    let app = spawn_app().await;
    let client = reqwest::Client::new();

    for (header, value) in [("dnt", "1"), ("sec-gpc", "1")] {
        let response = client
            .post(app.url("/api/events"))
            .header(header, value)
            .json(&json!({ "name": "pageview", "path": "/" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204, "{header}");
        assert!(response.bytes().await.unwrap().is_empty());
    }
    // Invalid events are still refused, so a client learns of its mistake.
    let bad = client
        .post(app.url("/api/events"))
        .header("dnt", "1")
        .json(&json!({ "name": "Bad Name" }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    assert_eq!(count_events(&app).await, 0);

    // DNT: 0 is no objection.
    let allowed = client
        .post(app.url("/api/events"))
        .header("dnt", "0")
        .json(&json!({ "name": "pageview", "path": "/" }))
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 202);
    assert_eq!(count_events(&app).await, 1);
}

#[tokio::test]
async fn a_visit_id_joins_funnel_steps_and_must_be_well_formed() {
    let app = spawn_app().await;
    let visit = "0b7d2c1e-4f4a-4a57-9d3c-2f1e8a9b6c5d";
    for name in ["pageview", "chat.started"] {
        let response = app
            .post_json(
                "/api/events",
                &json!({ "name": name, "path": "/", "visit": visit }),
            )
            .await;
        assert_eq!(response.status(), 202);
    }
    let rows: i64 = sqlx::query("SELECT COUNT(*) AS n FROM analytics_events WHERE visit_id = $1")
        .bind(visit)
        .fetch_one(app.state.db.pool())
        .await
        .unwrap()
        .get("n");
    assert_eq!(rows, 2);

    for bad in [
        "short",
        "has spaces in it",
        "ana@example.org",
        &"x".repeat(65),
    ] {
        let response = app
            .post_json("/api/events", &json!({ "name": "pageview", "visit": bad }))
            .await;
        assert_eq!(response.status(), 422, "{bad}");
        assert_eq!(error_code(response).await, "invalid_event_visit");
    }
}

#[tokio::test]
async fn events_older_than_the_retention_period_are_deleted() {
    let app = spawn_app_with(&[("ANALYTICS_RETENTION_DAYS", "30")]).await;
    let response = app
        .post_json("/api/events", &json!({ "name": "pageview", "path": "/" }))
        .await;
    assert_eq!(response.status(), 202);
    let old = solace_backend::db::now_ms() - 31 * 86_400_000;
    sqlx::query(
        "INSERT INTO analytics_events (id, name, created_at, updated_at) VALUES ('old', 'pageview', $1, $1)",
    )
    .bind(old)
    .execute(app.state.db.pool())
    .await
    .unwrap();

    let report = solace_backend::rooms::housekeeping::tick(
        &app.state,
        &mut Default::default(),
        std::time::Instant::now(),
    )
    .await
    .unwrap();

    assert_eq!(report.analytics_deleted, 1);
    assert_eq!(count_events(&app).await, 1);
}

/// Takes PostHog's batch capture and Plausible's events API, keeping what arrived.
struct FakeAnalytics {
    base: String,
    posthog: Arc<Mutex<Vec<serde_json::Value>>>,
    plausible: Arc<Mutex<Vec<(serde_json::Value, String, String)>>>,
}

impl FakeAnalytics {
    async fn start() -> Self {
        let posthog = Arc::new(Mutex::new(Vec::new()));
        let plausible = Arc::new(Mutex::new(Vec::new()));
        let (ph, pl) = (posthog.clone(), plausible.clone());
        let app = axum::Router::new()
            .route(
                "/batch/",
                axum::routing::post(move |Json(body): Json<serde_json::Value>| async move {
                    ph.lock().unwrap().push(body);
                    StatusCode::OK
                }),
            )
            .route(
                "/api/event",
                axum::routing::post(
                    move |headers: HeaderMap, Json(body): Json<serde_json::Value>| async move {
                        let header = |name: &str| header_text(&headers, name);
                        // Plausible refuses events without these two.
                        if header("user-agent").is_empty() || header("x-forwarded-for").is_empty() {
                            return StatusCode::BAD_REQUEST;
                        }
                        pl.lock().unwrap().push((
                            body,
                            header("user-agent"),
                            header("x-forwarded-for"),
                        ));
                        StatusCode::ACCEPTED
                    },
                ),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            base,
            posthog,
            plausible,
        }
    }
}

#[tokio::test]
async fn anonymous_events_are_forwarded_to_posthog_and_plausible_without_anything_personal() {
    let fake = FakeAnalytics::start().await;
    let app = spawn_app_with(&[
        ("POSTHOG_KEY", "phc_local_test"),
        ("POSTHOG_HOST", &fake.base),
        ("PLAUSIBLE_DOMAIN", "solace.example.org"),
        ("PLAUSIBLE_HOST", &fake.base),
        ("PUBLIC_URL", "https://solace.example.org"),
    ])
    .await;
    let visit = "visit-4821-abcd";
    let browser = "Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0";
    let client = reqwest::Client::new();
    for (name, path) in [("pageview", "/?ref=mail"), ("cta.click", "/")] {
        let response = client
            .post(app.url("/api/events"))
            .header("user-agent", browser)
            .json(&json!({ "name": name, "path": path, "visit": visit, "properties": { "cta": "start_chat" } }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202);
    }
    // Not forwarded: asked not to be tracked.
    let refused = client
        .post(app.url("/api/events"))
        .header("sec-gpc", "1")
        .json(&json!({ "name": "pageview", "path": "/private", "visit": "visit-gpc-0000" }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 204);
    // A signed-in person's own server-side events stay first-party.
    let mut person = app.browser();
    person.signup("forwarding@example.org").await;
    let (status, _) = person
        .post("/api/rooms", json!({ "title": "Evening check-in" }))
        .await;
    assert_eq!(status, 201);

    let started = std::time::Instant::now();
    while fake.plausible.lock().unwrap().len() < 2 || fake.posthog.lock().unwrap().is_empty() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(15),
            "nothing forwarded"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // One more batch period, so anything wrongly forwarded would be here too.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;

    let posthog = fake.posthog.lock().unwrap().clone();
    let events: Vec<&serde_json::Value> = posthog
        .iter()
        .flat_map(|b| b["batch"].as_array().unwrap())
        .collect();
    assert!(posthog.iter().all(|b| b["api_key"] == "phc_local_test"));
    assert_eq!(events.len(), 2, "{posthog:?}");
    let pageview = events.iter().find(|e| e["event"] == "$pageview").unwrap();
    assert_eq!(pageview["distinct_id"], visit);
    assert_eq!(pageview["properties"]["$pathname"], "/");
    assert_eq!(
        pageview["properties"]["$current_url"],
        "https://solace.example.org/"
    );
    assert_eq!(pageview["properties"]["$process_person_profile"], false);
    assert_eq!(pageview["properties"]["$geoip_disable"], true);
    assert_eq!(pageview["properties"]["cta"], "start_chat");
    assert!(events.iter().any(|e| e["event"] == "cta.click"));

    let plausible = fake.plausible.lock().unwrap().clone();
    assert_eq!(plausible.len(), 2, "{plausible:?}");
    let (body, agent, address) = &plausible[0];
    assert_eq!(body["name"], "pageview");
    assert_eq!(body["url"], "https://solace.example.org/");
    assert_eq!(body["domain"], "solace.example.org");
    assert_eq!(body["props"]["cta"], "start_chat");
    assert_eq!(agent, browser);
    // A made-up private address, the same within the visit; never the client's.
    assert!(address.starts_with("fd"), "{address}");
    assert_eq!(address, &plausible[1].2);

    let everything = format!("{posthog:?}{plausible:?}");
    for private in [
        "127.0.0.1",
        "forwarding@example.org",
        "ref=mail",
        "visit-gpc",
        "/private",
        "room.",
        "user_id",
    ] {
        assert!(
            !everything.contains(private),
            "{private} was forwarded: {everything}"
        );
    }
}
