use serde_json::json;

use crate::helpers::{error_code, spawn_app, spawn_app_with};

#[tokio::test]
async fn an_unknown_api_path_is_a_json_404() {
    let app = spawn_app().await;

    let response = app.get("/api/does-not-exist").await;

    assert_eq!(response.status(), 404);
    assert_eq!(error_code(response).await, "not_found");
}

#[tokio::test]
async fn the_api_root_is_a_json_404_not_the_web_app() {
    let app = spawn_app().await;

    let response = app.get("/api").await;

    assert_eq!(response.status(), 404);
    assert_eq!(error_code(response).await, "not_found");
}

#[tokio::test]
async fn a_wrong_method_is_a_json_405_that_names_the_allowed_one() {
    let app = spawn_app().await;

    let response = app
        .client
        .delete(app.url("/api/events"))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST");
    assert_eq!(error_code(response).await, "method_not_allowed");
}

#[tokio::test]
async fn malformed_json_is_a_400() {
    let app = spawn_app().await;

    let response = app
        .client
        .post(app.url("/api/events"))
        .header("content-type", "application/json")
        .body("{\"name\":")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 400);
    assert_eq!(error_code(response).await, "malformed_json");
}

#[tokio::test]
async fn a_body_of_the_wrong_shape_is_a_422() {
    let app = spawn_app().await;

    let response = app.post_json("/api/events", &json!({ "name": 42 })).await;

    assert_eq!(response.status(), 422);
    assert_eq!(error_code(response).await, "invalid_body");
}

#[tokio::test]
async fn a_body_without_a_json_content_type_is_a_415() {
    let app = spawn_app().await;

    let response = app
        .client
        .post(app.url("/api/events"))
        .body(r#"{"name":"pageview"}"#)
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 415);
    assert_eq!(error_code(response).await, "unsupported_media_type");
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_json_413() {
    let app = spawn_app_with(&[("MAX_BODY_BYTES", "256")]).await;
    let padding = "x".repeat(1024);

    let response = app
        .post_json(
            "/api/events",
            &json!({ "name": "pageview", "path": format!("/{padding}") }),
        )
        .await;

    assert_eq!(response.status(), 413);
    assert_eq!(error_code(response).await, "payload_too_large");
}

#[tokio::test]
async fn an_overlong_address_is_a_json_414_and_a_long_one_still_works() {
    let app = spawn_app().await;
    let client = reqwest::Client::new();

    let long = "a".repeat(solace_backend::app::MAX_URI_BYTES);
    let too_long = client
        .get(app.url(&format!("/api/rooms?x={long}")))
        .send()
        .await
        .unwrap();
    assert_eq!(too_long.status(), 414);
    assert_eq!(error_code(too_long).await, "uri_too_long");
    // The same on a page of the web app.
    let page = client
        .get(app.url(&format!("/chat/?x={long}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 414);

    let fits = "a".repeat(solace_backend::app::MAX_URI_BYTES - 100);
    let ok = client
        .get(app.url(&format!("/api/rooms?x={fits}")))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}
