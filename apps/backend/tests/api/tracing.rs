//! Traces (OpenTelemetry over OTLP/HTTP) from the real binary to a local receiver that
//! decodes the protocol's protobuf bodies with the OpenTelemetry project's own message
//! definitions: a chat turn arrives as one trace — the request, the turn, the safety
//! check, the model call and stream, the writes — continuing the caller's `traceparent`,
//! with timings and counts and without the person's words; the JSON log lines carry the
//! same trace id.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use prost::Message as _;
use reqwest::Method;
use serde_json::json;
use solace_ai::testing::{Behaviour, FakeUpstream};

use crate::faults::RealSolace;
use crate::helpers::header_text;

/// One span as the collector received it.
#[derive(Debug, Clone)]
struct Span {
    name: String,
    trace_id: String,
    span_id: String,
    parent: String,
    attributes: HashMap<String, String>,
    service: String,
}

#[derive(Default)]
struct Received {
    spans: Vec<Span>,
    /// Every body as it arrived, to search for what must never be there.
    raw: Vec<u8>,
    content_types: Vec<String>,
    auth: Vec<String>,
}

/// Accepts OTLP/HTTP trace exports at `/v1/traces`.
struct Collector {
    address: String,
    received: Arc<Mutex<Received>>,
}

fn text(value: &KeyValue) -> String {
    match value.value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(AnyValue::StringValue(s)) => s.clone(),
        Some(AnyValue::IntValue(i)) => i.to_string(),
        Some(AnyValue::BoolValue(b)) => b.to_string(),
        Some(AnyValue::DoubleValue(d)) => d.to_string(),
        other => format!("{other:?}"),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Collector {
    async fn start() -> Self {
        let received = Arc::new(Mutex::new(Received::default()));
        let app =
            axum::Router::new()
                .route(
                    "/v1/traces",
                    axum::routing::post(
                        |State(store): State<Arc<Mutex<Received>>>,
                         headers: HeaderMap,
                         body: Bytes| async move {
                            let Ok(request) = ExportTraceServiceRequest::decode(body.clone())
                            else {
                                return StatusCode::BAD_REQUEST;
                            };
                            let mut store = store.lock().unwrap();
                            store.raw.extend_from_slice(&body);
                            let header = |name: &str| header_text(&headers, name);
                            store.content_types.push(header("content-type"));
                            store.auth.push(header("x-collector-key"));
                            for resource in request.resource_spans {
                                let service = resource
                                    .resource
                                    .iter()
                                    .flat_map(|r| &r.attributes)
                                    .find(|kv| kv.key == "service.name")
                                    .map(text)
                                    .unwrap_or_default();
                                for scope in resource.scope_spans {
                                    for span in scope.spans {
                                        store.spans.push(Span {
                                            name: span.name,
                                            trace_id: hex(&span.trace_id),
                                            span_id: hex(&span.span_id),
                                            parent: hex(&span.parent_span_id),
                                            attributes: span
                                                .attributes
                                                .iter()
                                                .map(|kv| (kv.key.clone(), text(kv)))
                                                .collect(),
                                            service: service.clone(),
                                        });
                                    }
                                }
                            }
                            StatusCode::OK
                        },
                    ),
                )
                .with_state(received.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { address, received }
    }

    /// Waits up to fifteen seconds until spans named `names` have arrived in `trace`.
    async fn wait_for(&self, trace: &str, names: &[&str]) -> Vec<Span> {
        let started = Instant::now();
        loop {
            let spans: Vec<Span> = self
                .received
                .lock()
                .unwrap()
                .spans
                .iter()
                .filter(|s| s.trace_id == trace)
                .cloned()
                .collect();
            if names.iter().all(|n| spans.iter().any(|s| s.name == *n)) {
                return spans;
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "spans {names:?} of trace {trace} did not all arrive; got {:?}",
                spans.iter().map(|s| &s.name).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The fields Fluent Bit's configuration keeps (Vector's is checked to match it by
/// scripts/check-logging.py).
fn shipped_fields() -> Vec<String> {
    let config = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../infra/logging/fluent-bit/fluent-bit.yaml"
    ))
    .unwrap();
    config
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("allowlist_key:"))
        .skip(1)
        .map_while(|l| l.trim_start().strip_prefix("- "))
        .map(str::to_owned)
        .collect()
}

fn one<'a>(spans: &'a [Span], name: &str) -> &'a Span {
    let found: Vec<&Span> = spans.iter().filter(|s| s.name == name).collect();
    assert_eq!(found.len(), 1, "one {name} span expected: {spans:#?}");
    found[0]
}

/// Whether `span` descends from `ancestor`.
fn descends(spans: &[Span], span: &Span, ancestor: &Span) -> bool {
    let mut current = span;
    for _ in 0..spans.len() {
        if current.parent == ancestor.span_id {
            return true;
        }
        match spans.iter().find(|s| s.span_id == current.parent) {
            Some(parent) => current = parent,
            None => return false,
        }
    }
    false
}

#[tokio::test]
async fn a_chat_turn_arrives_as_one_trace_with_timings_and_no_content() {
    let collector = Collector::start().await;
    let upstream = FakeUpstream::start().await.unwrap();
    let reply = "That sounds heavy. Would you tell me more about the night shifts?";
    upstream.then(Behaviour::reply(reply, Duration::from_millis(20)));
    let endpoint = format!("http://{}", collector.address);
    let solace = RealSolace::start(
        &upstream,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-collector-key=k-123"),
            ("OTEL_BSP_SCHEDULE_DELAY", "200"),
            ("LOG_FORMAT", "json"),
            // A proxy in front: its traceparent is followed.
            ("TRUST_FORWARDED_FOR", "true"),
        ],
    )
    .await;
    let mut person = solace.person();
    person.signup("tracing.person@example.org").await;
    let secret = "my sister and the night shifts 5512";

    // A proxy in front started the trace.
    let caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let traceparent = format!("00-{caller_trace}-00f067aa0ba902b7-01");
    let response = person
        .client
        .post(person.url("/api/ai/message"))
        .header("x-csrf-token", person.csrf.clone().unwrap_or_default())
        .header("traceparent", &traceparent)
        .header("accept", "application/json")
        .json(&json!({ "content": secret }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["message"]["content"], reply);

    let spans = collector
        .wait_for(
            caller_trace,
            &[
                "POST /api/ai/message",
                "chat.turn",
                "safety.assess",
                "supporter.reply",
                "model.request",
                "safety.judge",
                "model.stream",
                "append_message",
            ],
        )
        .await;
    let request = one(&spans, "POST /api/ai/message");
    assert_eq!(
        request.parent, "00f067aa0ba902b7",
        "continues the caller's span"
    );
    assert_eq!(request.service, "solace");
    assert_eq!(request.attributes["route"], "/api/ai/message");
    assert_eq!(request.attributes["request_id"], request_id);
    assert_eq!(request.attributes["http.response.status_code"], "200");
    let turn = one(&spans, "chat.turn");
    assert_eq!(turn.parent, request.span_id);
    assert_eq!(turn.attributes["new_conversation"], "true");
    let safety = one(&spans, "safety.assess");
    assert_eq!(safety.parent, turn.span_id);
    assert_eq!(safety.attributes["safety.severity"], "none");
    // Two calls to the model: the reply, and the safety judge reading the message.
    let judge = one(&spans, "safety.judge");
    assert!(descends(&spans, judge, turn), "{spans:#?}");
    assert_eq!(judge.attributes["verdict"], "none");
    let calls: Vec<&Span> = spans.iter().filter(|s| s.name == "model.request").collect();
    assert_eq!(calls.len(), 2, "{spans:#?}");
    assert!(calls
        .iter()
        .all(|c| c.attributes["model"] == "fake" && descends(&spans, c, turn)));
    assert!(calls.iter().any(|c| descends(&spans, c, judge)));
    let stream = one(&spans, "model.stream");
    assert_eq!(stream.parent, turn.span_id);
    assert_eq!(stream.attributes["outcome"], "finished");
    assert!(stream.attributes["tokens"].parse::<u64>().unwrap() > 3);
    assert!(stream.attributes.contains_key("time_to_first_token_ms"));
    // Both messages written: the person's within the turn, the reply within the stream.
    let writes: Vec<&Span> = spans
        .iter()
        .filter(|s| s.name == "append_message")
        .collect();
    assert_eq!(writes.len(), 2, "{spans:#?}");
    assert!(writes.iter().any(|w| descends(&spans, w, stream)));

    let received = collector.received.lock().unwrap();
    assert!(received
        .content_types
        .iter()
        .all(|c| c == "application/x-protobuf"));
    assert!(received.auth.iter().all(|a| a == "k-123"), "headers sent");
    let raw = String::from_utf8_lossy(&received.raw);
    for private in [
        secret,
        "night shifts",
        reply,
        "tracing.person@example.org",
        "solace_session",
    ] {
        assert!(!raw.contains(private), "{private} reached the collector");
    }
    drop(received);

    // The request's log line names the same trace.
    let log = solace.log();
    let line = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| l["span"]["request_id"] == request_id.as_str() && l["status"] == 200)
        .unwrap_or_else(|| panic!("no JSON request line in {log}"));
    assert_eq!(line["span"]["trace_id"], caller_trace);
    assert_eq!(line["span"]["route"], "/api/ai/message");
    assert_eq!(line["message"], "request finished");
    assert!(line["latency_ms"].is_u64(), "{line}");
    // The log shippers' allow-list (infra/logging) keeps every field of this line.
    let shipped = shipped_fields();
    let object = line.as_object().unwrap();
    // `span` (the line's own span) is lifted into the top-level fields by the shippers.
    for key in object.keys().filter(|k| *k != "span") {
        assert!(shipped.contains(key), "{key} is not shipped: {shipped:?}");
    }
    for key in ["request_id", "trace_id", "route", "method"] {
        assert!(shipped.iter().any(|s| s == key), "{key} is not shipped");
        assert!(line["span"][key].is_string(), "{line}");
    }
    assert!(!log.contains(secret));
}

#[tokio::test]
async fn a_room_join_is_traced_and_each_request_starts_its_own_trace() {
    let collector = Collector::start().await;
    let upstream = FakeUpstream::start().await.unwrap();
    let endpoint = format!("http://{}/", collector.address);
    let solace = RealSolace::start(
        &upstream,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_BSP_SCHEDULE_DELAY", "200"),
            ("OTEL_SERVICE_NAME", "solace-eu-1"),
        ],
    )
    .await;
    let mut host = solace.person();
    host.guest().await;
    let response = host
        .send(
            Method::POST,
            "/api/rooms",
            Some(json!({ "title": "Evening check-in" })),
        )
        .await;
    assert_eq!(response.status(), 201);
    let room: serde_json::Value = response.json().await.unwrap();
    let room_id = room["id"].as_str().unwrap().to_owned();
    let mut guest = solace.person();
    guest.guest().await;
    // Straight from a client, with no trusted proxy in front: its traceparent is ignored.
    let joined = guest
        .client
        .post(guest.url(&format!("/api/rooms/{room_id}/join")))
        .header("x-csrf-token", guest.csrf.clone().unwrap_or_default())
        .header(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(joined.status(), 200);

    let started = Instant::now();
    let join = loop {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "no room.join span"
        );
        let found = collector
            .received
            .lock()
            .unwrap()
            .spans
            .iter()
            .find(|s| s.name == "room.join")
            .cloned();
        if let Some(found) = found {
            break found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let spans = collector
        .wait_for(&join.trace_id, &["POST /api/rooms/{id}/join", "room.join"])
        .await;
    let request = one(&spans, "POST /api/rooms/{id}/join");
    assert_eq!(join.parent, request.span_id);
    assert_eq!(join.attributes["room"], room_id);
    assert_eq!(request.parent, "", "an untrusted traceparent: a new trace");
    assert_ne!(join.trace_id, "0af7651916cd43dd8448eb211c80319c");
    assert_eq!(request.service, "solace-eu-1");
    let traces: std::collections::HashSet<String> = collector
        .received
        .lock()
        .unwrap()
        .spans
        .iter()
        .filter(|s| s.name.starts_with("POST "))
        .map(|s| s.trace_id.clone())
        .collect();
    assert!(traces.len() >= 4, "each request its own trace: {traces:?}");
}
