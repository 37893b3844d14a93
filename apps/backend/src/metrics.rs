//! Prometheus metrics at `/metrics` (on `METRICS_ADDR`, never the public port): HTTP
//! requests, the language model (time to first token, speed, errors by kind), the
//! safety layer's alarms (counts by severity and layer, never content), open chat
//! streams, conversation-memory cache hits, the job queues, the database pool and the
//! embedded audio server.
//!
//! The registry lives in `AppState` (no global recorder), so every app instance — and
//! every test — counts only its own traffic. Labels are route patterns and fixed names,
//! never URLs, ids or text. Gauges that describe shared state (queues, pool, SFU) are
//! read when Prometheus scrapes, so they cost nothing in between.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::error::{Error, Result};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AlarmLabels {
    severity: &'static str,
    layer: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    queue: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueStateLabels {
    queue: &'static str,
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabels {
    version: &'static str,
}

/// How a conversation-memory lookup went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryLookup {
    /// Found in the cache.
    Hit,
    /// Not cached: rebuilt from the database.
    Miss,
    /// The cache failed, or held something unreadable: rebuilt from the database.
    Error,
}

impl MemoryLookup {
    const ALL: [Self; 3] = [Self::Hit, Self::Miss, Self::Error];

    fn label(self) -> &'static str {
        match self {
            Self::Hit => "hit",
            Self::Miss => "miss",
            Self::Error => "error",
        }
    }
}

/// The embedded audio server's totals, mirrored into counters at each scrape.
#[derive(Default)]
struct SfuMetrics {
    rooms: Gauge,
    participants: Gauge,
    received: Counter,
    forwarded: Counter,
    dropped: Family<ReasonLabels, Counter>,
    lost: Counter,
}

/// The app's metrics and the registry that renders them.
pub struct Metrics {
    registry: Mutex<Registry>,
    requests: Family<RequestLabels, Counter>,
    durations: Family<RouteLabels, Histogram>,
    first_token: Histogram,
    tokens: Counter,
    token_rate: Histogram,
    model_errors: Family<KindLabels, Counter>,
    alarms: Family<AlarmLabels, Counter>,
    learned_ready: Gauge,
    streams: Gauge,
    memory: Family<ResultLabels, Counter>,
    jobs: Family<QueueStateLabels, Gauge>,
    oldest_job: Family<QueueLabels, Gauge<f64, AtomicU64>>,
    db_connections: Family<StateLabels, Gauge>,
    db_connections_max: Gauge,
    sfu: SfuMetrics,
}

impl Default for Metrics {
    fn default() -> Self {
        let metrics = Self {
            registry: Mutex::new(Registry::with_prefix("solace")),
            requests: Family::default(),
            durations: Family::new_with_constructor(|| {
                // 1 ms … ~16 s: API calls and whole (non-streamed) replies.
                Histogram::new(exponential_buckets(0.001, 2.0, 15))
            }),
            // 50 ms … ~100 s: a remote model's first token, or a CPU model's.
            first_token: Histogram::new(exponential_buckets(0.05, 2.0, 12)),
            tokens: Counter::default(),
            // 1 … 512 pieces per second.
            token_rate: Histogram::new(exponential_buckets(1.0, 2.0, 10)),
            model_errors: Family::default(),
            alarms: Family::default(),
            learned_ready: Gauge::default(),
            streams: Gauge::default(),
            memory: Family::default(),
            jobs: Family::default(),
            oldest_job: Family::default(),
            db_connections: Family::default(),
            db_connections_max: Gauge::default(),
            sfu: SfuMetrics::default(),
        };
        metrics.register();
        metrics.start_at_zero();
        metrics
    }
}

impl Metrics {
    fn register(&self) {
        let Ok(mut registry) = self.registry.lock() else {
            return;
        };
        let r = &mut *registry;
        let build = Family::<VersionLabels, Gauge>::default();
        build
            .get_or_create(&VersionLabels {
                version: env!("CARGO_PKG_VERSION"),
            })
            .set(1);
        r.register("build_info", "The running build (always 1)", build);
        r.register(
            "http_requests",
            "HTTP requests answered, by method, route pattern and status",
            self.requests.clone(),
        );
        r.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request (until the response head)",
            self.durations.clone(),
        );
        r.register(
            "model_time_to_first_token_seconds",
            "From the person's message to the model's first checked piece of reply",
            self.first_token.clone(),
        );
        r.register(
            "model_tokens",
            "Pieces (tokens) of model replies streamed to people",
            self.tokens.clone(),
        );
        r.register(
            "model_tokens_per_second",
            "Streaming speed of each model reply after its first piece",
            self.token_rate.clone(),
        );
        r.register(
            "model_errors",
            "Model calls that failed, by kind (timeout, unreachable, overloaded, rejected, protocol, inference)",
            self.model_errors.clone(),
        );
        r.register(
            "safety_alarms",
            "Messages the safety layer raised the alarm on, by severity and the layer that fired (counts only)",
            self.alarms.clone(),
        );
        r.register(
            "safety_learned_layer_ready",
            "1 when the crisis detector's learned layer is loaded, 0 when it runs on rules only",
            self.learned_ready.clone(),
        );
        r.register(
            "chat_streams_active",
            "Model replies being streamed now",
            self.streams.clone(),
        );
        r.register(
            "chat_memory_lookups",
            "Conversation-memory cache lookups, by result (hit, miss, error)",
            self.memory.clone(),
        );
        r.register(
            "jobs",
            "Jobs in each queue, by state (pending, running, dead)",
            self.jobs.clone(),
        );
        r.register(
            "jobs_oldest_due_age_seconds",
            "How long the oldest due, pending job of each queue has waited (0 when none)",
            self.oldest_job.clone(),
        );
        r.register(
            "db_connections",
            "Database pool connections, by state (in_use, idle)",
            self.db_connections.clone(),
        );
        r.register(
            "db_connections_max",
            "The most connections the database pool opens (DATABASE_MAX_CONNECTIONS)",
            self.db_connections_max.clone(),
        );
        let sfu = &self.sfu;
        r.register(
            "sfu_rooms",
            "Rooms with anyone connected to the embedded audio server",
            sfu.rooms.clone(),
        );
        r.register(
            "sfu_participants",
            "Audio connections to the embedded audio server",
            sfu.participants.clone(),
        );
        r.register(
            "sfu_packets_received",
            "Audio packets received from speakers",
            sfu.received.clone(),
        );
        r.register(
            "sfu_packets_forwarded",
            "Audio packets forwarded to listeners (one per listener)",
            sfu.forwarded.clone(),
        );
        r.register(
            "sfu_packets_dropped",
            "Audio packets not forwarded, by reason (muted: the sender may not speak; blocked: per listener)",
            sfu.dropped.clone(),
        );
        r.register(
            "sfu_packets_lost",
            "Audio packets lost on the way from speakers (from receiver-report loss fractions)",
            sfu.lost.clone(),
        );
    }

    /// Every label set known in advance exists from the start, at zero, so a rate or
    /// an alert has a series before the first event.
    fn start_at_zero(&self) {
        use solace_ai::safety::{Layer, Severity};
        for kind in solace_ai::model::ModelError::KINDS {
            self.model_errors
                .get_or_create(&KindLabels { kind })
                .inc_by(0);
        }
        for severity in [Severity::Elevated, Severity::Imminent] {
            for layer in Layer::ALL {
                self.alarms
                    .get_or_create(&AlarmLabels {
                        severity: severity.label(),
                        layer: layer.label(),
                    })
                    .inc_by(0);
            }
        }
        for lookup in MemoryLookup::ALL {
            self.memory
                .get_or_create(&ResultLabels {
                    result: lookup.label(),
                })
                .inc_by(0);
        }
    }

    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.to_owned(),
                route: route.to_owned(),
                status,
            })
            .inc();
        self.durations
            .get_or_create(&RouteLabels {
                method: method.to_owned(),
                route: route.to_owned(),
            })
            .observe(seconds);
    }

    /// The first piece of a model reply reached the person `seconds` after they sent.
    pub fn model_first_token(&self, seconds: f64) {
        self.first_token.observe(seconds);
    }

    /// A model reply streamed `tokens` pieces, `seconds` from its first to its last.
    pub fn model_reply(&self, tokens: u64, seconds: f64) {
        self.tokens.inc_by(tokens);
        if tokens > 1 && seconds > 0.0 {
            self.token_rate.observe((tokens - 1) as f64 / seconds);
        }
    }

    pub fn model_error(&self, error: &solace_ai::model::ModelError) {
        self.model_errors
            .get_or_create(&KindLabels { kind: error.kind() })
            .inc();
    }

    /// The safety layer raised the alarm (`layer` is `None` only for a fixed reply).
    pub fn safety_alarm(
        &self,
        severity: solace_ai::safety::Severity,
        layer: Option<solace_ai::safety::Layer>,
    ) {
        self.alarms
            .get_or_create(&AlarmLabels {
                severity: severity.label(),
                layer: layer.map_or("unknown", |l| l.label()),
            })
            .inc();
    }

    /// Counts a model reply as streaming until the returned guard is dropped.
    pub fn stream_opened(self: &Arc<Self>) -> StreamGuard {
        self.streams.inc();
        StreamGuard(self.clone())
    }

    /// Counts a conversation-memory lookup by how it went.
    pub fn memory_lookup(&self, lookup: MemoryLookup) {
        self.memory
            .get_or_create(&ResultLabels {
                result: lookup.label(),
            })
            .inc();
    }

    /// Reads the gauges of shared state: the safety layer, the job queues, the database
    /// pool and the embedded audio server. A source that cannot answer keeps its last
    /// values (and is logged), so a scrape during an outage still shows everything else.
    async fn collect(&self, state: &crate::state::AppState) {
        let now = crate::db::now_ms();
        for &queue in crate::jobs::QUEUES {
            match state.speech.jobs.stats(queue, now).await {
                Ok(stats) => {
                    for (name, count) in [
                        ("pending", stats.pending),
                        ("running", stats.running),
                        ("dead", stats.dead),
                    ] {
                        self.jobs
                            .get_or_create(&QueueStateLabels { queue, state: name })
                            .set(gauge_value(count));
                    }
                    let waited = stats.oldest_due_ms.map_or(0, |due| now.saturating_sub(due));
                    self.oldest_job
                        .get_or_create(&QueueLabels { queue })
                        .set(waited.max(0) as f64 / 1000.0);
                }
                Err(error) => tracing::warn!(%error, queue, "metrics: cannot read the job queue"),
            }
        }
        self.learned_ready
            .set(i64::from(state.supporter.detector.status().learned));
        self.db_connections_max
            .set(i64::from(state.config.database_max_connections));
        let pool = state.db.pool();
        let (size, idle) = (
            pool.size(),
            u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
        );
        self.db_connections
            .get_or_create(&StateLabels { state: "in_use" })
            .set(i64::from(size.saturating_sub(idle)));
        self.db_connections
            .get_or_create(&StateLabels { state: "idle" })
            .set(i64::from(idle));
        if let Some(sfu) = state.audio.sfu() {
            let now = sfu.counters().await;
            let m = &self.sfu;
            m.rooms.set(gauge_value(now.rooms));
            m.participants.set(gauge_value(now.participants));
            catch_up(&m.received, now.received);
            catch_up(&m.forwarded, now.forwarded);
            catch_up(&m.lost, now.lost);
            // One label set at a time: a family's child is a read guard on the family,
            // and creating the next child while holding it would deadlock.
            for (reason, total) in [
                ("muted", now.dropped_muted),
                ("blocked", now.dropped_blocked),
            ] {
                catch_up(&m.dropped.get_or_create(&ReasonLabels { reason }), total);
            }
        }
    }

    /// The OpenMetrics text exposition of every metric.
    pub fn render(&self) -> Result<String> {
        let registry = self
            .registry
            .lock()
            .map_err(|_| Error::Startup("metrics registry lock poisoned".into()))?;
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry)
            .map_err(|e| Error::Startup(format!("cannot encode metrics: {e}")))?;
        Ok(text)
    }
}

fn gauge_value(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// Brings a counter mirrored from a running total up to it.
fn catch_up(counter: &Counter, total: u64) {
    counter.inc_by(total.saturating_sub(counter.get()));
}

/// One streaming reply, counted in `solace_chat_streams_active` while it lives.
pub struct StreamGuard(Arc<Metrics>);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.streams.dec();
    }
}

/// Records every request; unmatched paths (the static site) share one label value.
pub async fn track(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("static", MatchedPath::as_str)
        .to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    metrics.observe(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// `GET /metrics`.
pub async fn expose(State(state): State<crate::state::AppState>) -> Result<Response> {
    state.metrics.collect(&state).await;
    let mut response = state.metrics.render()?.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observed_requests_appear_in_the_exposition() {
        let metrics = Metrics::default();
        metrics.observe("GET", "/healthz", 200, 0.002);
        metrics.observe("GET", "/healthz", 200, 0.004);

        let text = metrics.render().unwrap_or_default();

        assert!(
            text.contains(
                r#"solace_http_requests_total{method="GET",route="/healthz",status="200"} 2"#
            ),
            "{text}"
        );
        assert!(
            text.contains("solace_http_request_duration_seconds_count"),
            "{text}"
        );
        assert!(text.trim_end().ends_with("# EOF"));
    }
}
