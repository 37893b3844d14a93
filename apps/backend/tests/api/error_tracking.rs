//! Error tracking (Sentry) from the real binary to a local receiver that speaks Sentry's
//! envelope endpoint: a model failure arrives with its request id and route, and without
//! the person's message, email, cookie or address.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use reqwest::Method;
use serde_json::json;
use solace_ai::testing::{Behaviour, FakeUpstream};

use crate::faults::RealSolace;

/// Accepts envelopes at `/api/{project}/envelope/` and keeps their bodies.
struct Receiver {
    address: String,
    envelopes: Arc<Mutex<Vec<String>>>,
}

impl Receiver {
    async fn start() -> Self {
        let envelopes = Arc::new(Mutex::new(Vec::new()));
        let app = axum::Router::new()
            .route(
                "/api/{project}/envelope/",
                axum::routing::post(
                    |State(store): State<Arc<Mutex<Vec<String>>>>, body: Bytes| async move {
                        store
                            .lock()
                            .unwrap()
                            .push(String::from_utf8_lossy(&body).into_owned());
                        StatusCode::OK
                    },
                ),
            )
            .with_state(envelopes.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { address, envelopes }
    }

    /// Waits up to ten seconds for an envelope containing `needle`.
    async fn wait_for(&self, needle: &str) -> String {
        let started = Instant::now();
        loop {
            if let Some(found) = self
                .envelopes
                .lock()
                .unwrap()
                .iter()
                .find(|e| e.contains(needle))
            {
                return found.clone();
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "no envelope with {needle}; got {:?}",
                self.envelopes.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn everything(&self) -> String {
        self.envelopes.lock().unwrap().join("\n")
    }
}

#[tokio::test]
async fn a_model_failure_reaches_sentry_with_its_request_id_and_nothing_private() {
    let receiver = Receiver::start().await;
    let upstream = FakeUpstream::start().await.unwrap();
    // The model server refuses (a wrong key): an error an operator must see.
    upstream.then(Behaviour::Fail {
        status: 401,
        retry_after_secs: None,
    });
    let dsn = format!("http://publickey@{}/42", receiver.address);
    let solace = RealSolace::start(&upstream, &[("SENTRY_DSN", &dsn)]).await;
    let mut person = solace.person();
    let email = "ana.private@example.org";
    person.signup(email).await;
    let secret = "my private sorrow 4821";

    let response = person
        .send(
            Method::POST,
            "/api/ai/message",
            Some(json!({ "content": secret })),
        )
        .await;
    let status = response.status();
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let envelope = receiver.wait_for(&request_id).await;
    drop(solace);

    assert_eq!(status, 502);
    // An envelope: its header, then each item's header and payload, one line each.
    let event: serde_json::Value = envelope
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|item| item.get("message").is_some())
        .expect("an event item");
    assert_eq!(event["message"], "the model failed before replying");
    // Error is the protocol's default level, so it may be left out.
    assert!(event.get("level").is_none_or(|l| l == "error"), "{event}");
    assert_eq!(event["tags"]["request_id"], request_id.as_str());
    assert_eq!(event["tags"]["route"], "/api/ai/message");
    assert_eq!(
        event["release"],
        concat!("solace@", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(event["contexts"]["Rust Tracing Fields"]["kind"], "rejected");
    let everything = receiver.everything();
    for private in [
        secret,
        "private sorrow",
        email,
        "solace_session",
        "ip_address",
        r#""request":{"#,
        r#""user":{"#,
    ] {
        assert!(
            !everything.contains(private),
            "{private} reached Sentry: {everything}"
        );
    }
}

#[tokio::test]
async fn the_web_app_gets_its_dsn_and_the_csp_allows_only_that_origin() {
    let off = crate::helpers::spawn_app().await;
    let config: serde_json::Value = off.get("/api/client-config").await.json().await.unwrap();
    assert_eq!(config["sentry_dsn"], serde_json::Value::Null);
    assert_eq!(
        config["release"],
        concat!("solace@", env!("CARGO_PKG_VERSION"))
    );

    let dsn = "https://browserkey@o7.ingest.example.io/12";
    let app = crate::helpers::spawn_app_with(&[("SENTRY_BROWSER_DSN", dsn)]).await;
    let response = app.get("/api/client-config").await;
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let config: serde_json::Value = response.json().await.unwrap();
    assert_eq!(config["sentry_dsn"], dsn);
    let connect = csp
        .split(';')
        .find(|d| d.trim().starts_with("connect-src"))
        .unwrap();
    assert_eq!(
        connect.trim(),
        "connect-src 'self' https://o7.ingest.example.io"
    );
}
