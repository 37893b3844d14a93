//! The application: the router over the shared state (`state`), and a server that stops
//! gracefully.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::routing::get;
use axum::{middleware, Router};
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::predicate::{DefaultPredicate, NotForContentType, Predicate};
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::{TimeoutBody, TimeoutLayer};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::config::Config;
use crate::error::{Error, ErrorCode, Result};
use crate::metrics;
use crate::state::AppState;
use crate::{account, auth, chat, crisis, events, health, rooms, safety_plan, telemetry, web};

/// The JSON API, mounted under `/api`. Every route but the streaming reply has the
/// request timeout; the reply is bounded by the model's own timeouts instead.
fn api(config: &Config) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(crate::speech::router(config))
        .merge(crate::jobs::admin::router())
        .merge(crate::admin::router())
        .merge(auth::router())
        .merge(account::router())
        .merge(chat::router())
        .merge(crisis::router())
        .merge(events::router())
        .merge(telemetry::router())
        .merge(safety_plan::router())
        .merge(crate::memory::router())
        .merge(crate::setup::router())
        .merge(rooms::router())
        // An unknown API path is a JSON 404, never the web app's HTML page.
        .fallback(|| async { StatusCode::NOT_FOUND })
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            config.request_timeout,
        ))
        .merge(chat::streaming_router())
}

/// Every documented route — the probes and the API — with the document they make.
fn routes(config: &Config) -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(crate::openapi::ApiDoc::openapi())
        .merge(health::router())
        // Everything under /api is someone's own data: no shared cache, back/forward
        // cache or disk may keep it, unless a route says otherwise (immutable speech
        // clips are `private`).
        .nest(
            "/api",
            api(config).layer(SetResponseHeaderLayer::if_not_present(
                header::CACHE_CONTROL,
                HeaderValue::from_static("no-store"),
            )),
        )
}

/// The API's OpenAPI document, as the server serves it at `/api/openapi.json`.
pub fn openapi() -> Result<serde_json::Value> {
    let config = Config::from_vars(std::iter::empty())?;
    Ok(crate::openapi::finish(&routes(&config).into_openapi()))
}

/// The whole HTTP surface: probes, the API and the web app, with the shared middleware.
pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let static_site = web::static_site(&state.config.static_dir);
    let max_body = state.config.max_body_bytes;
    let timeout = state.config.request_timeout;
    let metrics = state.metrics.clone();
    let error_tracking = state.config.sentry_dsn.is_some();
    // A caller's `traceparent` is followed only behind a proxy we trust: otherwise anyone
    // could choose trace ids, or force their requests to be sampled.
    let trusted_proxy = state.config.trust_forwarded_for || state.config.client_ip_header.is_some();
    let public_origin: std::sync::Arc<str> = state
        .config
        .public_url
        .origin()
        .ascii_serialization()
        .into();
    let csp = HeaderValue::from_str(&web::content_security_policy(&state.config))
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'"));
    // Served over https: browsers must never reach it over plain http again.
    let hsts = state
        .config
        .secure_cookies()
        .then(|| HeaderValue::from_static("max-age=63072000; includeSubDomains"));

    let (routes, spec) = routes(&state.config).split_for_parts();
    routes
        .merge(crate::openapi::router(&crate::openapi::finish(&spec)))
        .merge(web::models(&state.config))
        .with_state(state)
        .fallback_service(static_site)
        .layer(
            // Listed outermost first: the request id exists before the span that records it.
            ServiceBuilder::new()
                .layer(middleware::from_fn(refuse_long_uris))
                .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(move |request: &Request| {
                            request_span(request, trusted_proxy)
                        })
                        .on_response(record_response),
                )
                .layer(PropagateRequestIdLayer::new(request_id))
                .layer(middleware::from_fn_with_state(metrics, metrics::track))
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ))
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::REFERRER_POLICY,
                    HeaderValue::from_static("strict-origin-when-cross-origin"),
                ))
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::X_FRAME_OPTIONS,
                    HeaderValue::from_static("DENY"),
                ))
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::CONTENT_SECURITY_POLICY,
                    csp,
                ))
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::STRICT_TRANSPORT_SECURITY,
                    hsts,
                ))
                .layer(SetResponseHeaderLayer::if_not_present(
                    HeaderName::from_static("permissions-policy"),
                    HeaderValue::from_static(web::PERMISSIONS_POLICY),
                ))
                .layer(middleware::from_fn(web::json_errors))
                .layer(middleware::from_fn_with_state(
                    public_origin,
                    auth::same_origin_only,
                ))
                .layer(CatchPanicLayer::custom(web::panic_response))
                // Not model weights or audio: they barely shrink, and gzipping 150 MB
                // of Whisper on every load costs seconds of CPU.
                .layer(
                    CompressionLayer::new().compress_when(
                        DefaultPredicate::new()
                            .and(NotForContentType::const_new("application/octet-stream"))
                            .and(NotForContentType::const_new("audio/")),
                    ),
                )
                .layer(DefaultBodyLimit::max(max_body))
                // A body that stops arriving (a stalled upload) ends the request.
                .layer(middleware::from_fn(
                    move |request: Request, next: middleware::Next| {
                        next.run(request.map(|body| Body::new(TimeoutBody::new(timeout, body))))
                    },
                ))
                // With error tracking, each request gets its own scope, tagged with its
                // request id and route pattern (innermost, where handlers log errors).
                .option_layer(
                    error_tracking
                        .then(sentry::integrations::tower::NewSentryLayer::<Request>::new_from_top),
                )
                .option_layer(error_tracking.then(|| middleware::from_fn(telemetry::tag_request))),
        )
}

/// The span every request runs in. It names the route pattern, never the concrete
/// path or query, so ids and search terms in URLs stay out of the logs.
fn request_span(request: &Request, trusted_proxy: bool) -> tracing::Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str)
        .unwrap_or("static");
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let span = tracing::info_span!(
        "request",
        otel.name = %format_args!("{} {route}", request.method()),
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        method = %request.method(),
        route,
        request_id,
        trace_id = tracing::field::Empty,
        http.response.status_code = tracing::field::Empty,
    );
    if let Some(trace_id) = crate::telemetry::join_trace(&span, request.headers(), trusted_proxy) {
        span.record("trace_id", trace_id);
    }
    span
}

/// The longest path and query accepted. Nothing Solace serves needs more; a longer one is
/// a 414 in the house format. (Past 64 KiB hyper answers 414 itself, without a body.)
pub const MAX_URI_BYTES: usize = 8 * 1024;

async fn refuse_long_uris(request: Request, next: middleware::Next) -> axum::response::Response {
    let length = request
        .uri()
        .path_and_query()
        .map_or(0, |p| p.as_str().len());
    if length > MAX_URI_BYTES {
        return crate::error::error_response(
            StatusCode::URI_TOO_LONG,
            ErrorCode::UriTooLong,
            "The address is too long (at most 8 KiB of path and query).",
        );
    }
    next.run(request).await
}

/// Logs the status and latency, and gives the trace the status (server errors mark it
/// failed).
fn record_response<B>(response: &axum::http::Response<B>, latency: Duration, span: &tracing::Span) {
    let status = response.status();
    span.record("http.response.status_code", status.as_u16());
    if status.is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
    // One line per request, with numbers a log store can aggregate: the status, the
    // time to the response head in milliseconds, and (from the span) the method, route
    // pattern, request id and trace id.
    tracing::info!(
        status = status.as_u16(),
        latency_ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
        "request finished"
    );
}

/// A bound server, ready to run. Tests bind port 0 and read the port back.
pub struct Application {
    listener: TcpListener,
    /// `/metrics`, on its own address (`METRICS_ADDR`), when it is on.
    metrics: Option<TcpListener>,
    /// HTTPS on `listener`, when `TLS_CERT_FILE` is set.
    tls: Option<crate::tls::Tls>,
    /// Plain HTTP that redirects to https (`HTTP_REDIRECT_PORT`).
    redirect: Option<TcpListener>,
    state: AppState,
    /// Runs room housekeeping beside HTTP.
    housekeeping: bool,
    /// Runs the job worker (text-to-speech) beside HTTP.
    jobs: bool,
}

impl Application {
    /// Builds the state and binds the listener; fails before serving if anything is wrong.
    pub async fn build(config: Config) -> Result<Self> {
        let addr = SocketAddr::new(config.host, config.port);
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| Error::Startup(format!("cannot listen on {addr}: {e}")))?;
        Self::build_on(config, listener).await
    }

    /// Like [`Application::build`] on a listener bound beforehand, for when the address
    /// must be known before the configuration is complete (tests registering a callback
    /// URL with an identity provider).
    pub async fn build_on(config: Config, listener: TcpListener) -> Result<Self> {
        let metrics = match config.metrics_addr {
            Some(addr) => Some(TcpListener::bind(addr).await.map_err(|e| {
                Error::Startup(format!("METRICS_ADDR: cannot listen on {addr}: {e}"))
            })?),
            None => None,
        };
        let tls = match &config.tls {
            Some(files) => Some(crate::tls::Tls::load(files).await.map_err(Error::Startup)?),
            None => None,
        };
        let redirect = match config.http_redirect_port {
            Some(port) => {
                let addr = SocketAddr::new(config.host, port);
                Some(TcpListener::bind(addr).await.map_err(|e| {
                    Error::Startup(format!("HTTP_REDIRECT_PORT: cannot listen on {addr}: {e}"))
                })?)
            }
            None => None,
        };
        let state = AppState::build(config).await?;
        Ok(Self {
            listener,
            metrics,
            tls,
            redirect,
            state,
            housekeeping: true,
            jobs: true,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener
            .local_addr()
            .map(|a| a.port())
            .unwrap_or_default()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The port `/metrics` is served on, when it is on.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics
            .as_ref()
            .and_then(|l| l.local_addr().ok())
            .map(|a| a.port())
    }

    /// Serves HTTP only; another replica or `solace worker` runs the background work
    /// (`--no-worker`).
    pub fn without_worker(mut self) -> Self {
        self.housekeeping = false;
        self.jobs = false;
        self
    }

    /// Runs jobs but no room housekeeping: tests run that themselves, when they choose.
    pub fn without_housekeeping(mut self) -> Self {
        self.housekeeping = false;
        self
    }

    /// Serves until SIGTERM or Ctrl-C, then drains.
    pub async fn run_until_stopped(self) -> Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `shutdown` resolves, then stops accepting connections and gives the
    /// open ones a grace period to finish before closing the database.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        const DRAIN_GRACE: Duration = Duration::from_secs(20);
        let addr = self.listener.local_addr()?;
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        tracing::info!(%addr, database = self.state.db.kind().as_str(), cache = self.state.cache.backend(), "Solace is listening on {scheme}://{addr}");
        if let Some(metrics) = self.metrics.as_ref().and_then(|l| l.local_addr().ok()) {
            tracing::info!(%metrics, "metrics for Prometheus at http://{metrics}/metrics");
        }
        if let Some(link) = self.state.setup.link(&self.state.config.public_url) {
            // The token is in the fragment, which browsers never send: open it yourself.
            tracing::info!(
                "first run: no administrator yet. Open {link} with an account to become it and \
                 choose a language model (the token is also in DATA_DIR/{})",
                crate::setup::TOKEN_FILE
            );
        }

        let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
        let server = crate::server::serve(
            self.listener,
            router(self.state.clone()),
            self.state.config.header_read_timeout,
            self.tls.as_ref().map(|tls| tls.acceptor().clone()),
            async move {
                let _ = stop_rx.wait_for(|stop| *stop).await;
            },
        );
        let mut server = tokio::spawn(server);
        let reload_tls = self.tls.map(|tls| tokio::spawn(tls.watch()));
        // Plain-HTTP side listeners (the https redirect, /metrics): they stop with the rest.
        let header_read_timeout = self.state.config.header_read_timeout;
        let side = |listener: TcpListener, routes: Router| {
            let mut stop = stop_tx.subscribe();
            tokio::spawn(crate::server::serve(
                listener,
                routes,
                header_read_timeout,
                None,
                async move {
                    let _ = stop.wait_for(|stop| *stop).await;
                },
            ))
        };
        let redirect = self
            .redirect
            .map(|listener| side(listener, web::https_redirect(&self.state.config.public_url)));
        let metrics = self.metrics.map(|listener| {
            let routes = Router::new()
                .route("/metrics", get(metrics::expose))
                .with_state(self.state.clone());
            side(listener, routes)
        });
        let housekeeping = self.housekeeping.then(|| {
            tokio::spawn(crate::rooms::housekeeping::run(
                self.state.clone(),
                Duration::from_secs(60),
            ))
        });
        // Rows from before encryption get sealed, and keys whose owner is gone destroyed,
        // beside live traffic by every process that does background work.
        let sealing = self.jobs.then(|| {
            let db = self.state.db.clone();
            tokio::spawn(async move {
                if let Err(error) = crate::vault::plain::in_background(&db).await {
                    tracing::warn!(%error, "sealing older rows stopped; it resumes at the next start");
                }
            })
        });
        let (stop_jobs, jobs_stopped) = tokio::sync::oneshot::channel::<()>();
        let jobs = self.jobs.then(|| {
            let (speech, memory) = (self.state.speech.clone(), self.state.memory.clone());
            let db = self.state.db.clone();
            let concurrency = self.state.config.speech.tts_concurrency;
            // Both workers stop together, each after its running jobs end.
            let stop = futures_util::FutureExt::shared(async move {
                let _ = jobs_stopped.await;
            });
            tokio::spawn(async move {
                tokio::join!(
                    speech.run_worker(db.clone(), concurrency, stop.clone()),
                    memory.run_worker(db, crate::memory::CONCURRENCY, stop),
                );
            })
        });

        let outcome: std::result::Result<(), tokio::task::JoinError> = tokio::select! {
            served = &mut server => served,
            () = shutdown => {
                tracing::info!("shutting down: draining open connections");
                let _ = stop_tx.send(true);
                match tokio::time::timeout(DRAIN_GRACE, &mut server).await {
                    Ok(served) => served,
                    Err(_) => {
                        tracing::warn!("connections still open after the grace period; closing them");
                        server.abort();
                        Ok(())
                    }
                }
            }
        };
        for task in [housekeeping, reload_tls, sealing].into_iter().flatten() {
            task.abort();
        }
        let _ = stop_tx.send(true);
        for side in [redirect, metrics].into_iter().flatten() {
            let _ = tokio::time::timeout(Duration::from_secs(5), side).await;
        }
        if let Some(jobs) = jobs {
            // Jobs already running finish; a crash mid-job is covered by its lease.
            let _ = stop_jobs.send(());
            let _ = tokio::time::timeout(Duration::from_secs(10), jobs).await;
        }
        self.state.db.close().await;
        outcome.map_err(|join| Error::Startup(format!("server task failed: {join}")))
    }
}

pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
