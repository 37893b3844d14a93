//! The application: shared state, the router, and a server that stops gracefully.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::routing::get;
use axum::{middleware, Router};
use solace_ai::model::local::LocalModel;
use solace_ai::model::openai::{OpenAiCompatible, UpstreamConfig};
use solace_ai::model::ChatModel;
use solace_ai::CrisisDirectory;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::predicate::{DefaultPredicate, NotForContentType, Predicate};
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::{TimeoutBody, TimeoutLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::cache::{self, Cache};
use crate::config::Config;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::metrics::{self, Metrics};
use crate::{account, auth, chat, crisis, events, health, rooms, safety_plan, web};

/// Everything a request handler may need, built once at start-up.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub cache: Arc<dyn Cache>,
    pub crisis: Arc<CrisisDirectory>,
    pub metrics: Arc<Metrics>,
    pub oidc: Arc<crate::auth::oidc::OidcProvider>,
    /// The language model, when one is configured.
    pub model: Option<Arc<dyn ChatModel>>,
    /// The guarded turn: crisis detector, model, judge and crisis lines in one type,
    /// so every reply passes the safety layer.
    pub supporter: solace_ai::supporter::Supporter,
    /// Where room audio runs: the embedded SFU, or LiveKit when configured.
    pub audio: crate::rooms::Audio,
    /// Opens the embedded SFU's signalling socket.
    pub room_tokens: crate::rooms::RoomTokens,
    /// Spoken replies (text-to-speech jobs) and server-side transcription.
    pub speech: crate::speech::Speech,
}

impl AppState {
    /// Connects to the database (running migrations) and the cache.
    pub async fn build(config: Config) -> Result<Self> {
        let db = open_database(&config).await?;
        let cache = cache::connect(
            config.redis_url.as_ref(),
            &config.cache_key_prefix,
            config.cache_max_entries,
        )
        .await
        .map_err(|e| {
            Error::Startup(format!(
                "cannot connect to Redis at REDIS_URL: {}",
                e.to_string().trim_start_matches("cache error: ")
            ))
        })?;
        let model = build_model(&config).await?;
        let detector = {
            let config = config.clone();
            tokio::task::spawn_blocking(move || load_detector(&config))
                .await
                .map_err(|e| Error::Startup(e.to_string()))?
        };
        let judge = build_judge(&config, model.as_ref());
        let speech = crate::speech::Speech::build(&config, &db).await?;
        let crisis = Arc::new(crisis_directory(&config)?);
        let audio = match &config.livekit {
            Some(livekit) => {
                crate::rooms::Audio::LiveKit(Arc::new(crate::rooms::LiveKit::new(livekit)))
            }
            None => {
                let udp = SocketAddr::new(config.host, config.rtc_udp_port);
                let tcp = config
                    .rtc_tcp_port
                    .map(|port| SocketAddr::new(config.host, port));
                let sfu = crate::rooms::Sfu::start(udp, tcp, config.public_ip)
                    .await
                    .map_err(|e| {
                        let tcp = tcp.map(|t| format!(" or TCP {t}")).unwrap_or_default();
                        Error::Startup(format!(
                            "RTC_UDP_PORT/RTC_TCP_PORT: cannot listen on UDP {udp}{tcp}: {e}"
                        ))
                    })?;
                crate::rooms::Audio::Embedded(sfu)
            }
        };
        let supporter = solace_ai::supporter::Supporter {
            detector: Arc::new(detector),
            model: model.clone(),
            judge,
            crisis: crisis.clone(),
            settings: solace_ai::supporter::SupporterSettings {
                label: config.chat.label.clone(),
                history_turns: config.chat.history_turns,
                history_tokens: config.chat.history_tokens,
                sampling: config.llm_settings.sampling,
            },
        };
        Ok(Self {
            supporter,
            audio,
            speech,
            room_tokens: crate::rooms::RoomTokens::default(),
            model,
            config: Arc::new(config),
            db,
            cache,
            crisis,
            metrics: Arc::new(Metrics::default()),
            oidc: Arc::new(crate::auth::oidc::OidcProvider::default()),
        })
    }
}

/// Connects to the database and brings its schema up to date. The command-line tools
/// (`migrate`, `admin`) need only this, not the model, the cache or the audio server.
pub async fn open_database(config: &Config) -> Result<Db> {
    let db = Db::connect(&config.database_url, config.database_max_connections)
        .await
        .map_err(|e| Error::Startup(e.to_string()))?;
    db.migrate().await?;
    Ok(db)
}

/// The crisis detector: rules always, the learned layer when its files are present
/// (the built-in head, or `SAFETY_HEAD_DIR`'s, and the encoders in `SAFETY_MODEL_DIR`
/// and `SAFETY_MULTILINGUAL_DIR`). What is missing is logged once and reported by /readyz.
pub fn load_detector(config: &Config) -> solace_ai::safety::Detector {
    let detector = match &config.safety.head_dir {
        Some(head_dir) => {
            solace_ai::safety::Detector::load(&config.safety.encoder_dirs(), head_dir)
        }
        None => solace_ai::safety::Detector::load_built_in(&config.safety.encoder_dirs()),
    };
    let status = detector.status();
    if status.learned {
        tracing::info!(layers = ?status.layers, "crisis detector ready");
    } else {
        tracing::warn!(
            reason = status.reason.as_deref().unwrap_or_default(),
            "crisis detector runs on rules only; `solace model pull-safety` adds the learned layer"
        );
    }
    detector
}

/// The safety judge: on with an OpenAI-compatible upstream (`SAFETY_JUDGE=auto`), or
/// whenever a model is configured with `SAFETY_JUDGE=on`.
fn build_judge(
    config: &Config,
    model: Option<&Arc<dyn ChatModel>>,
) -> Option<Arc<solace_ai::safety::judge::Judge>> {
    use crate::config::JudgeMode;
    let enabled = match config.safety.judge {
        JudgeMode::Off => false,
        JudgeMode::On => model.is_some(),
        JudgeMode::Auto => config.llm.is_some(),
    };
    if !enabled {
        return None;
    }
    let judge_model: Arc<dyn ChatModel> = match (&config.llm, &config.safety.judge_model) {
        (Some(upstream), Some(name)) => {
            let mut client = UpstreamConfig::new(upstream.base_url.clone(), name.clone());
            client.api_key = upstream.api_key.clone();
            client.token_timeout = config.safety.judge_timeout;
            client.max_retries = 0;
            match OpenAiCompatible::new(client) {
                Ok(judge) => Arc::new(judge),
                Err(error) => {
                    tracing::warn!(%error, "SAFETY_JUDGE_MODEL: cannot build its client; no judge");
                    return None;
                }
            }
        }
        _ => model?.clone(),
    };
    Some(Arc::new(solace_ai::safety::judge::Judge::new(
        judge_model,
        config.safety.judge_timeout,
    )))
}

/// The built-in crisis lines, or the deployment's own from `CRISIS_LINES_FILE`.
fn crisis_directory(config: &Config) -> Result<CrisisDirectory> {
    let Some(path) = &config.crisis_lines_file else {
        return Ok(CrisisDirectory::default());
    };
    let json = std::fs::read_to_string(path).map_err(|e| {
        Error::Startup(format!(
            "CRISIS_LINES_FILE: cannot read {}: {e}",
            path.display()
        ))
    })?;
    CrisisDirectory::from_json(&json).map_err(|e| Error::Startup(format!("CRISIS_LINES_FILE: {e}")))
}

/// The language model chosen by configuration: an OpenAI-compatible upstream when
/// `LLM_BASE_URL` is set, a GGUF file run in this process when there is one, else none.
async fn build_model(config: &Config) -> Result<Option<Arc<dyn ChatModel>>> {
    let settings = &config.llm_settings;
    if let Some(upstream) = &config.llm {
        let mut client = UpstreamConfig::new(upstream.base_url.clone(), upstream.model.clone());
        client.api_key = upstream.api_key.clone();
        client.token_timeout = settings.timeout;
        client.max_retries = upstream.max_retries;
        client.fold_system_prompt = settings.template.is_some_and(|t| !t.has_system_role());
        let model = OpenAiCompatible::new(client)
            .map_err(|e| Error::Startup(format!("LLM_BASE_URL: {e}")))?;
        return Ok(Some(Arc::new(model)));
    }
    if let Some(path) = &config.llm_gguf_path {
        let (path, template, timeout) = (path.clone(), settings.template, settings.timeout);
        tracing::info!(path = %path.display(), "loading the language model");
        let model = tokio::task::spawn_blocking(move || LocalModel::load(&path, template, timeout))
            .await
            .map_err(|e| Error::Startup(format!("LLM_GGUF_PATH: {e}")))?
            .map_err(|e| Error::Startup(format!("LLM_GGUF_PATH: {e}")))?;
        tracing::info!(model = %model.name(), template = model.template().name(), "language model ready");
        return Ok(Some(Arc::new(model)));
    }
    Ok(None)
}

/// The JSON API, mounted under `/api`. Every route but the streaming reply has the
/// request timeout; the reply is bounded by the model's own timeouts instead.
fn api(config: &Config) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(crate::speech::router(config))
        .merge(crate::jobs::admin::router())
        .merge(auth::router())
        .merge(account::router())
        .merge(chat::router())
        .merge(crisis::router())
        .merge(events::router())
        .merge(safety_plan::router())
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
                .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(request_span)
                        .on_response(DefaultOnResponse::new().level(Level::INFO)),
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
                .layer(middleware::from_fn(auth::same_origin_only))
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
                )),
        )
}

/// The span every request runs in. It names the route pattern, never the concrete
/// path or query, so ids and search terms in URLs stay out of the logs.
fn request_span(request: &Request) -> tracing::Span {
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
    tracing::info_span!("request", method = %request.method(), route, request_id)
}

/// A bound server, ready to run. Tests bind port 0 and read the port back.
pub struct Application {
    listener: TcpListener,
    /// `/metrics`, on its own address (`METRICS_ADDR`), when it is on.
    metrics: Option<TcpListener>,
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
        let state = AppState::build(config).await?;
        Ok(Self {
            listener,
            metrics,
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
        tracing::info!(%addr, database = self.state.db.kind().as_str(), cache = self.state.cache.backend(), "Solace is listening on http://{addr}");
        if let Some(metrics) = self.metrics.as_ref().and_then(|l| l.local_addr().ok()) {
            tracing::info!(%metrics, "metrics for Prometheus at http://{metrics}/metrics");
        }

        let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
        let server = crate::server::serve(
            self.listener,
            router(self.state.clone()),
            self.state.config.header_read_timeout,
            async move {
                let _ = stop_rx.wait_for(|stop| *stop).await;
            },
        );
        let mut server = tokio::spawn(server);
        let metrics = self.metrics.map(|listener| {
            let mut stop = stop_tx.subscribe();
            tokio::spawn(crate::server::serve(
                listener,
                Router::new()
                    .route("/metrics", get(metrics::expose))
                    .with_state(self.state.clone()),
                self.state.config.header_read_timeout,
                async move {
                    let _ = stop.wait_for(|stop| *stop).await;
                },
            ))
        });
        let housekeeping = self.housekeeping.then(|| {
            tokio::spawn(crate::rooms::housekeeping::run(
                self.state.clone(),
                Duration::from_secs(60),
            ))
        });
        let (stop_jobs, jobs_stopped) = tokio::sync::oneshot::channel::<()>();
        let jobs = self.jobs.then(|| {
            let speech = self.state.speech.clone();
            tokio::spawn(speech.run_worker(
                self.state.db.clone(),
                self.state.config.speech.tts_concurrency,
                async move {
                    let _ = jobs_stopped.await;
                },
            ))
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
        if let Some(housekeeping) = housekeeping {
            housekeeping.abort();
        }
        if let Some(metrics) = metrics {
            let _ = stop_tx.send(true);
            let _ = tokio::time::timeout(Duration::from_secs(5), metrics).await;
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
