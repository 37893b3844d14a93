use serde_json::json;
use sqlx::Row;

use crate::helpers::{error_code, spawn_app};

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
