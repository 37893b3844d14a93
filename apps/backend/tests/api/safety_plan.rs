use reqwest::Method;
use serde_json::json;

use crate::helpers::{spawn_app, GOOD_PASSWORD};

#[tokio::test]
async fn a_guest_writes_a_safety_plan_and_reads_it_back() {
    let app = spawn_app().await;
    let mut guest = app.browser();
    guest.guest().await;

    let (empty_status, empty) = guest.get("/api/me/safety-plan").await;
    let (saved_status, saved) = guest
        .send_json(
            Method::PUT,
            "/api/me/safety-plan",
            Some(json!({
                "warning_signs": ["  I stop answering messages ", ""],
                "coping_strategies": ["A walk by the river"],
                "people_to_contact": ["Sam — 07700 900123"],
                "reasons_to_live": ["My niece"],
            })),
        )
        .await;
    let (_, read) = guest.get("/api/me/safety-plan").await;

    assert_eq!(empty_status, 200);
    assert_eq!(empty["plan"]["warning_signs"], json!([]));
    assert_eq!(empty["updated_at"], json!(null));
    assert_eq!(saved_status, 200, "{saved}");
    assert_eq!(
        read["plan"]["warning_signs"],
        json!(["I stop answering messages"])
    );
    assert_eq!(read["plan"]["reasons_to_live"], json!(["My niece"]));
    assert!(read["updated_at"].is_string());
}

#[tokio::test]
async fn bad_plans_are_refused_and_strangers_turned_away() {
    let app = spawn_app().await;
    let mut stranger = app.browser();
    let mut guest = app.browser();
    guest.guest().await;

    let (unknown_field, _) = guest
        .send_json(
            Method::PUT,
            "/api/me/safety-plan",
            Some(json!({ "secrets": ["x"] })),
        )
        .await;
    let (too_long, body) = guest
        .send_json(
            Method::PUT,
            "/api/me/safety-plan",
            Some(json!({ "warning_signs": ["x".repeat(501)] })),
        )
        .await;
    let (anonymous, _) = stranger.get("/api/me/safety-plan").await;

    assert_eq!(unknown_field, 422);
    assert_eq!(too_long, 422);
    assert_eq!(body["error"], "plan_item_too_long");
    assert_eq!(anonymous, 401);
}

#[tokio::test]
async fn a_guests_plan_follows_them_into_their_account_and_the_export() {
    let app = spawn_app().await;
    let mut owner = app.browser();
    owner.signup("plan@example.com").await;
    let mut guest = app.browser();
    guest.guest().await;
    guest
        .send_json(
            Method::PUT,
            "/api/me/safety-plan",
            Some(json!({ "reasons_to_live": ["The sea"] })),
        )
        .await;

    let (login, _) = guest.login("plan@example.com", GOOD_PASSWORD).await;
    let (_, plan) = guest.get("/api/me/safety-plan").await;
    let (_, export) = guest.get("/api/me/export").await;

    assert_eq!(login, 200);
    assert_eq!(plan["plan"]["reasons_to_live"], json!(["The sea"]));
    let exported = export["safety_plan"][0]["plan"].as_str().unwrap();
    assert!(exported.contains("The sea"));
}
