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

#[tokio::test]
async fn a_deployment_brings_its_own_crisis_lines_and_the_crisis_reply_uses_them() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lines.json");
    std::fs::write(
        &file,
        r#"[{"regions": ["DE"], "name": "TelefonSeelsorge", "contact": "0800 111 0 111",
             "how": "call", "hours": "24/7", "url": "https://www.telefonseelsorge.de"},
            {"name": "Find A Helpline", "contact": "findahelpline.com", "how": "web",
             "hours": "always", "url": "https://findahelpline.com"}]"#,
    )
    .unwrap();
    let path = file.display().to_string();
    let app = crate::helpers::spawn_app_with(&[("CRISIS_LINES_FILE", &path)]).await;
    let mut browser = app.browser();
    browser.guest().await;

    let (_, resources) = browser.get("/api/crisis/resources?region=de").await;
    let reply = browser
        .client
        .post(browser.url("/api/ai/message"))
        .header("accept", "application/json")
        .header("accept-language", "de-DE")
        .header("x-csrf-token", browser.csrf.clone().unwrap())
        .json(&serde_json::json!({ "content": "Ich will mich umbringen" }))
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();

    assert_eq!(resources["lines"][0]["name"], "TelefonSeelsorge");
    assert_eq!(reply["crisis"]["lines"][0]["contact"], "0800 111 0 111");
    assert!(reply["message"]["content"]
        .as_str()
        .unwrap()
        .contains("0800 111 0 111"));
}

#[tokio::test]
async fn a_crisis_list_without_a_line_for_everyone_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lines.json");
    std::fs::write(&file, r#"[{"regions": ["DE"], "name": "x", "contact": "1", "how": "call", "hours": "", "url": ""}]"#).unwrap();
    let path = file.display().to_string();

    let error = crate::helpers::startup_error(&[("CRISIS_LINES_FILE", &path)]).await;

    assert!(error.starts_with("CRISIS_LINES_FILE:"), "{error}");
}
