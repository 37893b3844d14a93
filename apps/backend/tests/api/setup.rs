//! First run: the setup link makes the first administrator, who installs a language
//! model from the setup page while the server runs.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::ai_chat::{named, say, streamed_text};
use crate::helpers::{error_code, spawn_app, spawn_app_with, Browser, TestApp};

/// The token of the link the server printed at start-up.
fn setup_token(app: &TestApp) -> String {
    let link = app
        .state
        .setup
        .link(&app.state.config.public_url)
        .expect("a fresh server has a setup link");
    assert!(link.contains("/setup/#token="), "{link}");
    link.rsplit_once("#token=").unwrap().1.to_owned()
}

#[tokio::test]
async fn the_setup_link_makes_its_opener_the_first_administrator_once() {
    let app = spawn_app().await;
    let token = setup_token(&app);
    let mut guest = app.browser();
    guest.guest().await;
    let mut first = app.browser();
    first.signup("first@example.com").await;
    let mut second = app.browser();
    second.signup("second@example.com").await;

    let (_, before) = first.get("/api/setup").await;
    let (as_guest, guest_body) = guest
        .post("/api/setup/claim", json!({ "token": token }))
        .await;
    let (wrong, wrong_body) = first
        .post("/api/setup/claim", json!({ "token": "not-the-token" }))
        .await;
    let (claimed, _) = first
        .post("/api/setup/claim", json!({ "token": token }))
        .await;
    let (_, me) = first.get("/api/auth/me").await;
    let (again, again_body) = second
        .post("/api/setup/claim", json!({ "token": token }))
        .await;
    let (_, after) = second.get("/api/setup").await;
    let (_, audit) = first.get("/api/admin/audit").await;

    assert_eq!(before["needs_admin"], true);
    assert_eq!(as_guest, 403, "{guest_body}");
    assert_eq!(guest_body["error"], "account_required");
    assert_eq!(wrong, 403, "{wrong_body}");
    assert_eq!(wrong_body["error"], "invalid_setup_token");
    assert_eq!(claimed, 204);
    assert_eq!(me["user"]["role"], "admin", "{me}");
    assert_eq!(again, 409, "{again_body}");
    assert_eq!(again_body["error"], "already_set_up");
    assert_eq!(after["needs_admin"], false);
    assert!(app.state.setup.link(&app.state.config.public_url).is_none());
    let file = app
        .state
        .config
        .data_dir
        .join(solace_backend::setup::TOKEN_FILE);
    assert!(!file.exists(), "a spent token leaves no file behind");
    assert_eq!(audit["entries"][0]["action"], "setup.claimed", "{audit}");
}

#[tokio::test]
async fn a_server_that_has_an_administrator_makes_no_setup_link() {
    let app = spawn_app().await;
    app.administrator("boss@example.com").await;

    let data = &app.state.config.data_dir;
    let had_file = data.join(solace_backend::setup::TOKEN_FILE).exists();

    let restarted = solace_backend::setup::Setup::start(&app.state.db, data)
        .await
        .unwrap();

    assert!(had_file, "the first start kept its token on disk");
    assert!(restarted.link(&app.state.config.public_url).is_none());
    assert!(!data.join(solace_backend::setup::TOKEN_FILE).exists());
}

#[tokio::test]
async fn a_restart_before_anyone_used_the_link_prints_the_same_one() {
    let app = spawn_app().await;
    let url = &app.state.config.public_url;

    let again = solace_backend::setup::Setup::start(&app.state.db, &app.state.config.data_dir)
        .await
        .unwrap();

    assert!(again.link(url).is_some());
    assert_eq!(again.link(url), app.state.setup.link(url));
}

#[tokio::test]
async fn only_an_administrator_may_install_a_model_and_only_one_offered() {
    let app = spawn_app().await;
    let mut person = app.browser();
    person.signup("person@example.com").await;
    let mut admin = app.administrator("admin@example.com").await;

    let (as_person, _) = person.get("/api/admin/model").await;
    let (status, setup) = admin.get("/api/admin/model").await;
    let (unknown, unknown_body) = admin
        .post("/api/admin/model/download", json!({ "choice": "gpt-9" }))
        .await;

    assert_eq!(as_person, 403);
    assert_eq!(status, 200);
    assert_eq!(setup["model"], Value::Null);
    assert_eq!(setup["configured_by_operator"], false);
    let ids: Vec<&str> = setup["choices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["mellogpt", "llama-3.2-1b"]);
    assert_eq!(unknown, 422, "{unknown_body}");
    assert_eq!(unknown_body["error"], "unknown_model");
}

#[tokio::test]
async fn a_model_set_by_the_operator_is_not_replaced_from_the_setup_page() {
    let app = spawn_app_with(&[
        ("LLM_BASE_URL", "http://127.0.0.1:9/v1"),
        ("LLM_MODEL", "mellogpt"),
    ])
    .await;
    let mut admin = app.administrator("admin@example.com").await;

    let response = admin
        .send(
            reqwest::Method::POST,
            "/api/admin/model/download",
            Some(json!({ "choice": "llama-3.2-1b" })),
        )
        .await;

    assert_eq!(response.status(), 409);
    assert_eq!(error_code(response).await, "model_set_by_configuration");
}

/// What the fake hub saw: the `Range` header of each download request.
#[derive(Clone, Default)]
struct HubLog {
    ranges: Arc<Mutex<Vec<Option<String>>>>,
    served: Arc<AtomicUsize>,
}

/// A hub that answers like huggingface.co for the small model: a redirect carrying the
/// LFS checksum, then the bytes from a "CDN" that honours ranges. The first download
/// breaks off after half the file, as a dropped connection does.
async fn fake_hub(model: Arc<Vec<u8>>, log: HubLog) -> SocketAddr {
    let sha: String = Sha256::digest(model.as_slice())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let app = Router::new()
        .route(
            "/bartowski/Llama-3.2-1B-Instruct-GGUF/resolve/main/Llama-3.2-1B-Instruct-Q4_K_M.gguf",
            get(move || {
                let sha = sha.clone();
                async move {
                    let mut response = Redirect::temporary("/cdn/blob").into_response();
                    response.headers_mut().insert(
                        "x-linked-etag",
                        HeaderValue::from_str(&format!("\"{sha}\"")).unwrap(),
                    );
                    response
                }
            }),
        )
        .route(
            "/cdn/blob",
            get(move |headers: HeaderMap| cdn(model.clone(), log.clone(), headers)),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

async fn cdn(model: Arc<Vec<u8>>, log: HubLog, headers: HeaderMap) -> Response {
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    log.ranges.lock().unwrap().push(range.clone());
    let first = log.served.fetch_add(1, Ordering::SeqCst) == 0;
    let total = model.len();
    let start: usize = range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let rest = model[start..].to_vec();
    let length = rest.len();
    let body = if first {
        // Half the file, then the connection breaks.
        use futures_util::StreamExt;
        let half = rest[..length / 2].to_vec();
        let broken = futures_util::stream::once(async move { Ok::<_, std::io::Error>(half) })
            .chain(futures_util::stream::once(async {
                // Long enough for the half to reach the client first.
                tokio::time::sleep(Duration::from_millis(300)).await;
                Err(std::io::Error::other("connection reset"))
            }));
        Body::from_stream(broken)
    } else {
        Body::from(rest)
    };
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if start > 0 {
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
        response.headers_mut().insert(
            header::CONTENT_RANGE,
            HeaderValue::from_str(&format!("bytes {start}-{}/{total}", total - 1)).unwrap(),
        );
    }
    response
}

/// Polls the setup until the download leaves `downloading`/`loading`.
async fn settled(admin: &mut Browser) -> Value {
    for _ in 0..300 {
        let (_, setup) = admin.get("/api/admin/model").await;
        let state = setup["download"]["state"].as_str().unwrap_or_default();
        if state == "ready" || state == "failed" {
            return setup;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the download did not finish");
}

#[tokio::test]
async fn a_model_chosen_on_the_setup_page_downloads_resumes_and_answers_without_a_restart() {
    let scratch = tempfile::tempdir().unwrap();
    let file = scratch.path().join("tiny.gguf");
    solace_ai::testing::write_tiny_gguf(&file).unwrap();
    let model = Arc::new(std::fs::read(&file).unwrap());
    let log = HubLog::default();
    let hub = fake_hub(model.clone(), log.clone()).await;
    let endpoint = format!("http://{hub}");
    let app = spawn_app_with(&[("HF_ENDPOINT", &endpoint), ("LLM_MAX_TOKENS", "16")]).await;
    let mut admin = app.administrator("admin@example.com").await;
    let mut person = app.browser();
    person.guest().await;
    let (_, before) = person.get("/api/ai/info").await;

    let (started, body) = admin
        .post(
            "/api/admin/model/download",
            json!({ "choice": "llama-3.2-1b" }),
        )
        .await;
    let broken = settled(&mut admin).await;
    let (restarted, _) = admin
        .post(
            "/api/admin/model/download",
            json!({ "choice": "llama-3.2-1b" }),
        )
        .await;
    let ready = settled(&mut admin).await;
    let (_, after) = person.get("/api/ai/info").await;
    let (status, events) = say(&mut person, json!({ "content": "I feel alone today" })).await;

    assert_eq!(before["model"]["configured"], false);
    assert_eq!(started, 202, "{body}");
    assert_eq!(body["download"]["choice"], "llama-3.2-1b");
    assert_eq!(broken["download"]["state"], "failed", "{broken}");
    assert!(
        broken["download"]["error"]
            .as_str()
            .unwrap()
            .contains("broke off"),
        "{broken}"
    );
    assert_eq!(restarted, 202);
    assert_eq!(ready["download"]["state"], "ready", "{ready}");
    assert_eq!(ready["download"]["done_bytes"], model.len());
    assert!(
        ready["model"].as_str().unwrap().starts_with("local:"),
        "{ready}"
    );
    // The second request continued where the first broke off.
    let ranges = log.ranges.lock().unwrap().clone();
    assert_eq!(ranges.len(), 2, "{ranges:?}");
    assert_eq!(ranges[0], None);
    let from: usize = ranges[1]
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|n| n.parse().ok())
        .expect("a range request");
    assert!(from > 0 && from < model.len(), "{from}");
    let saved = std::fs::read(
        app.state
            .config
            .models_dir
            .join("Llama-3.2-1B-Instruct-Q4_K_M.gguf"),
    )
    .unwrap();
    assert_eq!(&saved, model.as_ref());
    // The chat answers from the new model, without a restart.
    assert_eq!(after["model"]["configured"], true);
    assert_eq!(status, 200);
    assert!(!named(&events, "token").is_empty());
    let done = named(&events, "done")[0].clone();
    assert_eq!(
        done["message"]["content"].as_str().unwrap(),
        streamed_text(&events).as_str()
    );
}

#[tokio::test]
async fn a_model_server_connected_on_the_setup_page_answers_and_is_kept_for_restarts() {
    let upstream = solace_ai::testing::FakeUpstream::start().await.unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nowhere = format!("http://{}/v1", closed.local_addr().unwrap());
    drop(closed);
    let app = spawn_app().await;
    let mut admin = app.administrator("admin@example.com").await;
    let mut person = app.browser();
    person.guest().await;

    let (bad_url, bad_url_body) = admin
        .post(
            "/api/admin/model/server",
            json!({ "base_url": "ftp://example.com/v1", "model": "m" }),
        )
        .await;
    let (unreachable, unreachable_body) = admin
        .post(
            "/api/admin/model/server",
            json!({ "base_url": nowhere, "model": "fake-mellogpt" }),
        )
        .await;
    let (connected, setup) = admin
        .post(
            "/api/admin/model/server",
            json!({ "base_url": upstream.base_url(), "model": "fake-mellogpt", "api_key": "sk-test" }),
        )
        .await;
    let (status, events) = say(&mut person, json!({ "content": "I feel alone today" })).await;
    let restarted = solace_backend::state::build_model(&app.state.config)
        .await
        .unwrap();
    let saved = std::fs::read_to_string(
        app.state
            .config
            .data_dir
            .join(solace_backend::setup::SERVER_FILE),
    )
    .unwrap();

    assert_eq!(bad_url, 422, "{bad_url_body}");
    assert_eq!(bad_url_body["error"], "invalid_model_server");
    assert_eq!(unreachable, 422, "{unreachable_body}");
    assert_eq!(unreachable_body["error"], "model_server_unusable");
    assert_eq!(connected, 200, "{setup}");
    assert_eq!(setup["model"], "openai:fake-mellogpt");
    assert_eq!(status, 200);
    assert!(!named(&events, "token").is_empty());
    assert_eq!(named(&events, "done").len(), 1);
    // The probe and the chat turn both reached the server, the key with them.
    assert!(upstream.requests().len() >= 2);
    assert_eq!(
        restarted.map(|m| m.name()).as_deref(),
        Some("openai:fake-mellogpt")
    );
    assert!(saved.contains("sk-test"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let file = app
            .state
            .config
            .data_dir
            .join(solace_backend::setup::SERVER_FILE);
        let mode = std::fs::metadata(file).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "only the server's user may read the key");
    }
}
