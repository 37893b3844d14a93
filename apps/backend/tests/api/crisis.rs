use crate::helpers::{error_code, spawn_app};

async fn contacts(response: reqwest::Response) -> Vec<String> {
    let body: serde_json::Value = response.json().await.unwrap();
    body["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line["contact"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn crisis_lines_follow_the_requested_region() {
    let app = spawn_app().await;

    let us = app.get("/api/crisis/resources?region=us").await;
    let ie = app.get("/api/crisis/resources?region=IE").await;

    assert_eq!(contacts(us).await, vec!["988", "findahelpline.com"]);
    assert_eq!(contacts(ie).await, vec!["116 123", "findahelpline.com"]);
}

#[tokio::test]
async fn crisis_lines_fall_back_to_the_browser_language_region() {
    let app = spawn_app().await;

    let response = app
        .client
        .get(app.url("/api/crisis/resources"))
        .header("accept-language", "en-GB,en;q=0.9")
        .send()
        .await
        .unwrap();

    assert_eq!(
        contacts(response).await,
        vec!["116 123", "findahelpline.com"]
    );
}

#[tokio::test]
async fn an_unknown_region_still_gets_the_international_directory() {
    let app = spawn_app().await;

    let response = app.get("/api/crisis/resources?region=ZZ").await;

    assert_eq!(contacts(response).await, vec!["findahelpline.com"]);
}

#[tokio::test]
async fn a_malformed_region_is_a_422() {
    let app = spawn_app().await;

    let response = app
        .get("/api/crisis/resources?region=United%20States")
        .await;

    assert_eq!(response.status(), 422);
    assert_eq!(error_code(response).await, "invalid_region");
}
