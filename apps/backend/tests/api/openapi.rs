//! The OpenAPI contract: generated from the handlers, served, committed, and viewable.

use crate::helpers::spawn_app;

fn committed() -> serde_json::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn the_committed_document_is_the_one_the_handlers_make() {
    let current = solace_backend::app::openapi().unwrap();
    assert!(
        current == committed(),
        "docs/openapi.json is stale: run `make api` and commit it (and apps/frontend/lib/api-schema.ts)"
    );
}

#[tokio::test]
async fn the_server_serves_its_own_document() {
    let app = spawn_app().await;

    let response = app.get("/api/openapi.json").await;

    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let served: serde_json::Value = response.json().await.unwrap();
    assert_eq!(served, solace_backend::app::openapi().unwrap());
    assert_eq!(served["openapi"], "3.1.0");
    // Every operation has its own id, says what it answers, and every error answer is
    // the house body.
    let mut ids = std::collections::HashSet::new();
    for (path, item) in served["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let id = operation["operationId"].as_str().unwrap_or_default();
            assert!(
                ids.insert(id.to_owned()),
                "{method} {path}: operationId {id} again"
            );
            let responses = operation["responses"].as_object().unwrap();
            assert!(
                responses
                    .keys()
                    .any(|s| s.starts_with('1') || s.starts_with('2') || s.starts_with('3')),
                "{method} {path} documents no success"
            );
            for (status, response) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    let reference = response["$ref"].as_str().unwrap_or_default();
                    let inline = &response["content"]["application/json"]["schema"];
                    assert!(
                        reference.starts_with("#/components/responses/") || inline.is_object(),
                        "{method} {path} {status} has no body"
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn the_documentation_page_loads_its_viewer_from_this_server_only() {
    let app = spawn_app().await;

    let page = app.get("/api/docs").await;
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let html = page.text().await.unwrap();
    // Scripts come from this origin, none inline, so the page works under the CSP even
    // once it drops 'unsafe-inline'.
    assert!(html.contains(r#"<script src="/vendor/swagger-ui/swagger-ui-bundle.js">"#));
    assert!(html.contains(r#"<script src="/api/docs/viewer.js">"#));
    assert!(!html.contains("<script>"), "inline script in {html}");
    assert!(
        !html.contains("http"),
        "a resource from elsewhere in {html}"
    );

    let viewer = app.get("/api/docs/viewer.js").await;
    assert_eq!(viewer.status(), 200);
    assert!(viewer.text().await.unwrap().contains("/api/openapi.json"));
}

/// Found by the fuzzer: an error rewritten into JSON kept the `Content-Encoding: gzip`
/// of the compressed plain-text body it replaced, so clients could not read it.
#[tokio::test]
async fn an_error_rewritten_as_json_is_not_labelled_compressed() {
    let app = spawn_app().await;

    let response = app
        .client
        .get(app.url("/api/rooms/some-room/signal?token=x"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();

    assert!(response.status().is_client_error(), "{}", response.status());
    assert!(response.headers().get("content-encoding").is_none());
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body["error"].is_string(), "{body}");
}
