use crate::helpers::{spawn_app, spawn_app_with};

#[tokio::test]
async fn the_web_app_is_served_at_the_root() {
    let app = spawn_app().await;

    let response = app.get("/").await;

    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(response.text().await.unwrap().contains("Solace home"));
}

#[tokio::test]
async fn a_page_is_served_from_its_folder() {
    let app = spawn_app().await;

    let response = app.get("/about/").await;
    let without_slash = app.get("/about").await;

    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("About Solace"));
    assert_eq!(without_slash.status(), 200, "redirected to the folder");
    assert!(without_slash.text().await.unwrap().contains("About Solace"));
}

#[tokio::test]
async fn an_unknown_page_gets_the_apps_404_page_with_a_404_status() {
    let app = spawn_app().await;

    let response = app.get("/no/such/page").await;

    assert_eq!(response.status(), 404);
    assert!(response.text().await.unwrap().contains("Page not found"));
}

#[tokio::test]
async fn hashed_assets_are_cached_for_a_year_and_pages_revalidate() {
    let app = spawn_app().await;

    let asset = app.get("/_next/static/chunks/app-abc123.js").await;
    let page = app.get("/").await;

    assert_eq!(
        asset.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(page.headers()["cache-control"], "no-cache");
}

#[tokio::test]
async fn responses_are_compressed_for_clients_that_accept_it() {
    let app = spawn_app().await;

    let response = app
        .client
        .get(app.url("/api/crisis/resources?region=US"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();

    assert_eq!(response.headers()["content-encoding"], "gzip");
}

#[tokio::test]
async fn without_a_built_web_app_the_root_explains_how_to_build_it() {
    let empty = tempfile::tempdir().unwrap();
    let app = spawn_app_with(&[("STATIC_DIR", empty.path().to_str().unwrap())]).await;

    let response = app.get("/").await;
    let api = app.get("/healthz").await;

    assert_eq!(response.status(), 503);
    assert!(response.text().await.unwrap().contains("make run"));
    assert_eq!(api.status(), 200, "the API keeps working");
}
