//! Logging set-up (JSON lines in production, readable lines in development), error
//! tracking with Sentry when `SENTRY_DSN` is set, and traces (OpenTelemetry over OTLP/HTTP)
//! when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
//!
//! Traces are built from the server's `tracing` spans — the request, the chat turn, the
//! safety check, the model call, each database write, a room join, a job run — whose
//! fields are names, ids, counts and timings, never what anyone wrote.
//!
//! Error tracking is scrubbed by construction: [`scrub`] rebuilds every event from an
//! allow-list — the message, the exception and its stack, the level, the release, the
//! request id and route pattern as tags, and a few named log fields — and drops the rest
//! (request data, user, extra, unknown contexts, breadcrumb data). Log lines never carry
//! what people write, and whatever an email address slipped into is masked besides. So no
//! message text, transcript, safety-plan content, email or IP address leaves.

use std::borrow::Cow;
use std::io::IsTerminal;
use std::sync::Arc;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use secrecy::ExposeSecret;
use sentry::protocol::{Breadcrumb, Context, Event, Map, Value, Values};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter};

use crate::config::{AppEnv, Config, LogFormat, Otel};

/// Keeps error tracking and tracing running; dropping it sends what is queued (errors
/// for up to two seconds, then the spans still batched).
pub struct Telemetry {
    _sentry: Option<sentry::ClientInitGuard>,
    tracer: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(tracer) = self.tracer.take() {
            if let Err(error) = tracer.shutdown() {
                eprintln!("could not send the last traces: {error}");
            }
        }
    }
}

/// Installs logging (and error tracking when `SENTRY_DSN` is set) once; later calls
/// (as in tests) leave it as it is.
pub fn init(config: &Config) -> Telemetry {
    let sentry = config
        .sentry_dsn
        .as_ref()
        .and_then(|dsn| start_sentry(dsn.expose_secret(), config.app_env));
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    // Errors become events; warnings and info lines become breadcrumbs. No spans: Sentry
    // is not the tracing backend here.
    let sentry_layer = sentry.as_ref().map(|_| {
        sentry::integrations::tracing::layer()
            .event_filter(|metadata| match *metadata.level() {
                tracing::Level::ERROR => sentry::integrations::tracing::EventFilter::Event,
                tracing::Level::WARN | tracing::Level::INFO => {
                    sentry::integrations::tracing::EventFilter::Breadcrumb
                }
                _ => sentry::integrations::tracing::EventFilter::Ignore,
            })
            .span_filter(|_| false)
    });
    let tracer = config
        .otel
        .as_ref()
        .and_then(|otel| start_tracing(otel, config.app_env));
    let otel_layer = tracer.as_ref().map(|provider| {
        use opentelemetry::trace::TracerProvider as _;
        tracing_opentelemetry::layer().with_tracer(provider.tracer("solace"))
    });
    let registry = tracing_subscriber::registry()
        .with(filter)
        .with(sentry_layer)
        .with(otel_layer);
    let _ = match config.log_format {
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true),
            )
            .try_init(),
        LogFormat::Pretty => registry
            .with(
                fmt::layer()
                    .compact()
                    .with_ansi(std::io::stdout().is_terminal()),
            )
            .try_init(),
    };
    if sentry.is_some() {
        tracing::info!("error tracking on (Sentry), scrubbed of personal data");
    }
    if let Some(otel) = tracer.as_ref().and(config.otel.as_ref()) {
        // The endpoint's host only: a path or query could hold a token.
        let host = otel.traces_endpoint.host_str().unwrap_or_default();
        tracing::info!(
            collector = host,
            "traces on (OpenTelemetry, OTLP over HTTP)"
        );
    }
    Telemetry {
        _sentry: sentry,
        tracer,
    }
}

fn environment(env: AppEnv) -> &'static str {
    match env {
        AppEnv::Development => "development",
        AppEnv::Test => "test",
        AppEnv::Production => "production",
    }
}

/// The span exporter and the W3C trace-context propagator (a `traceparent` header from a
/// proxy or the browser continues its trace). Sampling follows `OTEL_TRACES_SAMPLER`
/// and `OTEL_TRACES_SAMPLER_ARG`; the service is `OTEL_SERVICE_NAME`, else `solace`.
fn start_tracing(otel: &Otel, env: AppEnv) -> Option<opentelemetry_sdk::trace::SdkTracerProvider> {
    use opentelemetry::KeyValue;
    use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
    use opentelemetry_sdk::Resource;
    use secrecy::ExposeSecret;

    let mut exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(otel.traces_endpoint.as_str());
    if let Some(headers) = &otel.headers {
        let headers = headers
            .expose_secret()
            .split(',')
            .filter_map(|pair| pair.split_once('='))
            .map(|(key, value)| (key.trim().to_owned(), value.trim().to_owned()))
            .collect();
        exporter = exporter.with_headers(headers);
    }
    let exporter = match exporter.build() {
        Ok(exporter) => exporter,
        Err(error) => {
            // Logging is not up yet: say it on stderr, and run without traces.
            eprintln!("cannot send traces to the OTLP endpoint ({error}); tracing is off");
            return None;
        }
    };
    let mut resource = Resource::builder().with_attributes([
        KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
        KeyValue::new("deployment.environment.name", environment(env)),
    ]);
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name("solace");
    }
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    TRACING.store(true, std::sync::atomic::Ordering::Relaxed);
    Some(
        opentelemetry_sdk::trace::SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource.build())
            .build(),
    )
}

/// Set once traces are exported: without it a request skips the trace-context work.
static TRACING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Continues the trace of a `traceparent` header (when `trusted`: it came through a proxy
/// we trust) and returns the span's trace id for the logs; `None` when tracing is off.
pub fn join_trace(
    span: &tracing::Span,
    headers: &axum::http::HeaderMap,
    trusted: bool,
) -> Option<String> {
    use opentelemetry::trace::TraceContextExt;
    use tracing_opentelemetry::OpenTelemetrySpanExt;

    if !TRACING.load(std::sync::atomic::Ordering::Relaxed) {
        return None;
    }
    struct Headers<'a>(&'a axum::http::HeaderMap);
    impl opentelemetry::propagation::Extractor for Headers<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            self.0.get(key).and_then(|value| value.to_str().ok())
        }
        fn keys(&self) -> Vec<&str> {
            self.0.keys().map(|key| key.as_str()).collect()
        }
    }

    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&Headers(headers))
    });
    if trusted && parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
    let context = span.context();
    let span_context = context.span().span_context().clone();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}

fn start_sentry(dsn: &str, env: AppEnv) -> Option<sentry::ClientInitGuard> {
    let dsn = match dsn.parse::<sentry::types::Dsn>() {
        Ok(dsn) => dsn,
        Err(error) => {
            // Logging is not up yet: say it on stderr, and run without error tracking.
            eprintln!("SENTRY_DSN is not a valid DSN ({error}); error tracking is off");
            return None;
        }
    };
    let guard = sentry::init(sentry::ClientOptions {
        dsn: Some(dsn),
        release: Some(Cow::Borrowed(concat!("solace@", env!("CARGO_PKG_VERSION")))),
        environment: Some(Cow::Borrowed(environment(env))),
        send_default_pii: false,
        attach_stacktrace: true,
        max_breadcrumbs: 30,
        before_send: Some(Arc::new(|event| Some(scrub(event)))),
        before_breadcrumb: Some(Arc::new(|crumb| Some(scrub_breadcrumb(crumb)))),
        ..Default::default()
    });
    Some(guard)
}

/// Log fields that may leave with an error: names, kinds and error texts, never content.
const FIELDS: &[&str] = &[
    "error", "cause", "kind", "queue", "job", "attempt", "status", "severity", "layer", "key",
    "reason",
];
/// Tags set per request (`tag_request`) and per job.
const TAGS: &[&str] = &["request_id", "route", "method", "queue"];
/// Contexts about the machine, not the person.
const CONTEXTS: &[&str] = &["os", "rust", "device", "runtime"];
/// The tracing integration's context holding an event's log fields.
const FIELDS_CONTEXT: &str = "Rust Tracing Fields";

/// The event rebuilt from the allow-list; everything else is dropped.
pub fn scrub(event: Event<'static>) -> Event<'static> {
    let fields = allowed_fields(&event.contexts);
    let mut contexts: Map<String, Context> = event
        .contexts
        .into_iter()
        .filter(|(name, _)| CONTEXTS.contains(&name.as_str()))
        .collect();
    if let Some(fields) = fields {
        contexts.insert(FIELDS_CONTEXT.to_owned(), fields);
    }
    let exception = event
        .exception
        .values
        .into_iter()
        .map(|mut exception| {
            exception.value = exception.value.as_deref().map(mask);
            if let Some(stack) = &mut exception.stacktrace {
                for frame in &mut stack.frames {
                    frame.vars.clear();
                }
            }
            exception
        })
        .collect::<Vec<_>>();
    Event {
        event_id: event.event_id,
        level: event.level,
        fingerprint: event.fingerprint,
        message: event.message.as_deref().map(mask),
        logger: event.logger,
        platform: event.platform,
        timestamp: event.timestamp,
        server_name: event.server_name,
        release: event.release,
        environment: event.environment,
        contexts,
        breadcrumbs: Values {
            values: event
                .breadcrumbs
                .values
                .into_iter()
                .map(scrub_breadcrumb)
                .collect(),
        },
        exception: Values { values: exception },
        tags: event
            .tags
            .into_iter()
            .filter(|(name, _)| TAGS.contains(&name.as_str()))
            .map(|(name, value)| (name, mask(&value)))
            .collect(),
        sdk: event.sdk,
        ..Default::default()
    }
}

/// The allowed log fields, masked, from the event's tracing context.
fn allowed_fields(contexts: &Map<String, Context>) -> Option<Context> {
    let Some(Context::Other(fields)) = contexts.get(FIELDS_CONTEXT) else {
        return None;
    };
    let kept: Map<String, Value> = fields
        .iter()
        .filter(|(name, _)| FIELDS.contains(&name.as_str()))
        .map(|(name, value)| (name.clone(), mask_value(value)))
        .collect();
    (!kept.is_empty()).then_some(Context::Other(kept))
}

/// A breadcrumb keeps what kind of line it was and its (fixed) message, not its data.
pub fn scrub_breadcrumb(crumb: Breadcrumb) -> Breadcrumb {
    Breadcrumb {
        timestamp: crumb.timestamp,
        ty: crumb.ty,
        category: crumb.category,
        level: crumb.level,
        message: crumb.message.as_deref().map(mask),
        data: Map::new(),
    }
}

fn mask_value(value: &Value) -> Value {
    match value {
        Value::String(text) => Value::String(mask(text)),
        Value::Number(_) | Value::Bool(_) | Value::Null => value.clone(),
        Value::Array(_) | Value::Object(_) => Value::String("[structured value removed]".into()),
    }
}

/// Masks anything shaped like an email address and caps the length: a last guard for
/// error texts, which are written never to carry content.
pub fn mask(text: &str) -> String {
    const MAX: usize = 1_000;
    let masked: Vec<&str> = text
        .split(' ')
        .map(|word| {
            let at = word.find('@');
            let looks_like_email = at.is_some_and(|at| at > 0 && word[at..].contains('.'));
            if looks_like_email {
                "[email]"
            } else {
                word
            }
        })
        .collect();
    let joined = masked.join(" ");
    if joined.chars().count() > MAX {
        joined.chars().take(MAX).chain("…".chars()).collect()
    } else {
        joined
    }
}

/// Gives each request's errors its request id and route pattern (never the path, whose
/// ids and query could say who someone is). Runs inside the per-request hub.
pub async fn tag_request(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("static", MatchedPath::as_str)
        .to_owned();
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let method = request.method().as_str().to_owned();
    sentry::configure_scope(|scope| {
        scope.set_tag("request_id", request_id);
        scope.set_tag("route", route);
        scope.set_tag("method", method);
    });
    next.run(request).await
}

/// What the web app needs to report its own errors.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
struct ClientConfig {
    /// The build, as error reports name it (`solace@<version>`).
    release: &'static str,
    /// `development`, `test` or `production`.
    environment: &'static str,
    /// The web app's Sentry DSN (`SENTRY_BROWSER_DSN`); `null` when error reports are off.
    #[schema(required = true)]
    sentry_dsn: Option<String>,
}

pub fn router() -> utoipa_axum::router::OpenApiRouter<crate::state::AppState> {
    utoipa_axum::router::OpenApiRouter::new().routes(utoipa_axum::routes!(client_config))
}

/// The web app's error-reporting settings: public by nature (a browser DSN only lets
/// one send events), the same for everyone.
#[utoipa::path(get, path = "/client-config", tag = "health",
    responses((status = 200, description = "Release, environment and the browser's Sentry DSN.", body = ClientConfig)))]
async fn client_config(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
) -> axum::Json<ClientConfig> {
    axum::Json(ClientConfig {
        release: concat!("solace@", env!("CARGO_PKG_VERSION")),
        environment: environment(state.config.app_env),
        sentry_dsn: state
            .config
            .sentry_browser_dsn
            .as_ref()
            .map(ToString::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sentry::protocol::{Exception, Request as SentryRequest, User};

    fn private_event() -> Event<'static> {
        let mut fields = Map::new();
        fields.insert("error".into(), "model rejected (HTTP 401)".into());
        fields.insert("content".into(), "I want to disappear".into());
        fields.insert("email".into(), "ana@example.org".into());
        let mut contexts = Map::new();
        contexts.insert(FIELDS_CONTEXT.to_owned(), Context::Other(fields));
        let mut extra = Map::new();
        extra.insert("transcript".into(), "my plan is tonight".into());
        let mut tags = Map::new();
        tags.insert("request_id".into(), "req-1".into());
        tags.insert("session".into(), "secret-session".into());
        let mut crumb_data = Map::new();
        crumb_data.insert("message_text".into(), "I can't go on".into());
        Event {
            message: Some("request failed for ana@example.org".into()),
            user: Some(User {
                email: Some("ana@example.org".into()),
                ip_address: Some(sentry::protocol::IpAddress::Auto),
                ..Default::default()
            }),
            request: Some(SentryRequest {
                data: Some("{\"content\":\"I want to disappear\"}".into()),
                query_string: Some("email=ana@example.org".into()),
                ..Default::default()
            }),
            contexts,
            extra,
            tags,
            breadcrumbs: Values {
                values: vec![Breadcrumb {
                    message: Some("safety layer raised the alarm".into()),
                    data: crumb_data,
                    ..Default::default()
                }],
            },
            exception: Values {
                values: vec![Exception {
                    ty: "Error".into(),
                    value: Some("cannot store ana@example.org's reply".into()),
                    ..Default::default()
                }],
            },
            ..Default::default()
        }
    }

    #[test]
    fn nothing_private_survives_scrubbing() {
        let scrubbed = scrub(private_event());
        let json = serde_json::to_string(&scrubbed).unwrap_or_default();

        for private in [
            "I want to disappear",
            "ana@example.org",
            "my plan is tonight",
            "I can't go on",
            "secret-session",
            "ip_address",
        ] {
            assert!(!json.contains(private), "{private} left in {json}");
        }
        assert!(scrubbed.user.is_none() && scrubbed.request.is_none());
        assert!(scrubbed.extra.is_empty());
        assert_eq!(
            scrubbed.tags.get("request_id").map(String::as_str),
            Some("req-1")
        );
        assert!(json.contains("model rejected (HTTP 401)"), "{json}");
        assert!(json.contains("safety layer raised the alarm"));
        assert_eq!(
            scrubbed.message.as_deref(),
            Some("request failed for [email]")
        );
    }

    #[test]
    fn masking_keeps_ordinary_text_and_caps_length() {
        assert_eq!(
            mask("the model failed (HTTP 502)"),
            "the model failed (HTTP 502)"
        );
        assert_eq!(mask("write to a@b.co now"), "write to [email] now");
        assert_eq!(mask("@handle and user@ alone"), "@handle and user@ alone");
        assert_eq!(mask(&"x".repeat(5_000)).chars().count(), 1_001);
    }
}
