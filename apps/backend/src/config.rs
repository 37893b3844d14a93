//! Typed configuration, read once at start-up from defaults, `.env` and the environment.
//!
//! Every key is listed in `.env.example`. Validation happens here so that a bad value
//! stops the process with one line that names the key, before anything connects.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use solace_ai::model::Sampling;
use solace_ai::prompt::ChatTemplate;
use url::Url;

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{key}: {reason}")]
    Invalid { key: &'static str, reason: String },
    #[error("cannot read .env: {0}")]
    DotEnv(String),
}

fn invalid(key: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        reason: reason.into(),
    }
}

/// Which kind of deployment this is; production switches logs to JSON and cookies to `Secure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    Development,
    Test,
    Production,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable, coloured when attached to a terminal.
    Pretty,
    /// One JSON object per line, for log shippers.
    Json,
}

/// The relational database behind the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    Sqlite,
    Postgres,
}

impl DatabaseKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// A database URL with its kind; the URL may hold a password, so it is secret.
#[derive(Debug, Clone)]
pub struct DatabaseUrl {
    kind: DatabaseKind,
    url: SecretString,
}

impl DatabaseUrl {
    pub fn parse(raw: &str) -> Result<Self, ConfigError> {
        let kind = if raw.starts_with("sqlite:") {
            DatabaseKind::Sqlite
        } else if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            Url::parse(raw)
                .map_err(|e| invalid("DATABASE_URL", format!("not a valid URL ({e})")))?;
            DatabaseKind::Postgres
        } else {
            return Err(invalid(
                "DATABASE_URL",
                format!(
                    "expected sqlite://… or postgres://…, got '{}'",
                    redact_url(raw)
                ),
            ));
        };
        Ok(Self {
            kind,
            url: SecretString::from(raw.to_owned()),
        })
    }

    pub fn kind(&self) -> DatabaseKind {
        self.kind
    }

    /// A database beside this one, named with `suffix`: `solace.db` → `solace-keys.db`,
    /// `postgres://…/solace` → `postgres://…/solace_keys`. An in-memory SQLite database
    /// has no sibling: it is its own.
    pub fn sibling(&self, suffix: &str) -> Self {
        let raw = self.expose();
        let (base, query) = raw
            .split_once('?')
            .map_or((raw, None), |(b, q)| (b, Some(q)));
        let renamed = match self.kind {
            DatabaseKind::Sqlite if base.contains(":memory:") => return self.clone(),
            DatabaseKind::Sqlite => match base.rsplit_once('.') {
                Some((stem, ext)) if !ext.contains('/') => format!("{stem}-{suffix}.{ext}"),
                _ => format!("{base}-{suffix}"),
            },
            DatabaseKind::Postgres => format!("{base}_{suffix}"),
        };
        let url = match query {
            Some(query) => format!("{renamed}?{query}"),
            None => renamed,
        };
        Self {
            kind: self.kind,
            url: SecretString::from(url),
        }
    }

    /// The full URL, for the driver only.
    pub fn expose(&self) -> &str {
        self.url.expose_secret()
    }

    /// The URL with any password replaced, safe for logs and error lines.
    pub fn redacted(&self) -> String {
        redact_url(self.url.expose_secret())
    }
}

/// Hides the password part of a URL so it can appear in a log or an error line.
pub fn redact_url(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(mut url) if url.password().is_some() => {
            // Setting a password only fails for URLs that cannot have one.
            let _ = url.set_password(Some("****"));
            url.to_string()
        }
        _ => raw.to_owned(),
    }
}

/// An OpenAI-compatible chat upstream.
#[derive(Debug, Clone)]
pub struct LlmUpstream {
    /// The API root up to and including `/v1`.
    pub base_url: Url,
    pub api_key: Option<SecretString>,
    /// The model id the server expects.
    pub model: String,
    /// Extra attempts on 429/5xx or a refused connection before the reply starts.
    pub max_retries: u32,
}

/// How the language model is asked, whichever model it is.
#[derive(Debug, Clone)]
pub struct LlmSettings {
    /// The chat template: for a GGUF file it overrides the one in its metadata; for an
    /// upstream, `mistral` folds the system prompt into the first user turn.
    pub template: Option<ChatTemplate>,
    /// How long to wait for the reply to start, and then between two of its pieces.
    pub timeout: Duration,
    pub sampling: Sampling,
}

/// When the model-based safety judge runs beside a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JudgeMode {
    /// With an OpenAI-compatible upstream (which serves requests in parallel); not with
    /// an in-process model, which would make the reply wait for the judge.
    Auto,
    On,
    Off,
}

/// The crisis detector's layers.
#[derive(Debug, Clone)]
pub struct SafetySettings {
    /// The BERT encoder (`SAFETY_MODEL_DIR`, else `MODELS_DIR/all-MiniLM-L6-v2`), read
    /// only by heads trained with `--encoders bert` or `both`.
    pub model_dir: PathBuf,
    /// The multilingual sentence encoder (`SAFETY_MULTILINGUAL_DIR`, else
    /// `MODELS_DIR/use-multilingual-v3`). Missing: rules only, said in /readyz.
    pub multilingual_dir: PathBuf,
    /// A classification head replacing the built-in one (`SAFETY_HEAD_DIR`).
    pub head_dir: Option<PathBuf>,
    pub judge: JudgeMode,
    /// The model the judge asks (`SAFETY_JUDGE_MODEL`, e.g. a Llama Guard served by the
    /// same upstream); the chat model when unset.
    pub judge_model: Option<String>,
    /// How long the judge may take before its answer is ignored.
    pub judge_timeout: Duration,
}

impl SafetySettings {
    /// Where the learned layer's encoders are.
    pub fn encoder_dirs(&self) -> solace_ai::safety::learned::EncoderDirs {
        solace_ai::safety::learned::EncoderDirs {
            bert: self.model_dir.clone(),
            multilingual: self.multilingual_dir.clone(),
        }
    }
}

/// Room upkeep.
#[derive(Debug, Clone)]
pub struct RoomSettings {
    /// A live room nobody has been in for this long ends.
    pub idle_after: Duration,
    /// Room history older than this is deleted.
    pub history_retention: Duration,
    /// How long someone whose audio dropped keeps their seat to reconnect.
    pub reconnect_grace: Duration,
}

/// The AI therapist's behaviour in this deployment.
#[derive(Debug, Clone)]
pub struct ChatSettings {
    /// What the product calls the AI supporter, e.g. "AI therapist" or "AI companion";
    /// some jurisdictions restrict the word "therapist".
    pub label: String,
    /// How many past turns of a conversation the model sees.
    pub history_turns: usize,
    /// The token budget for those turns.
    pub history_tokens: usize,
    /// The longest message a person may send, in characters.
    pub max_message_chars: usize,
    /// Messages to the AI one identity may send per minute.
    pub messages_per_minute: u32,
}

/// Memory across conversations (see `crate::memory`).
#[derive(Debug, Clone)]
pub struct MemorySettings {
    /// `MEMORY_ENABLED=false` turns it off for everyone.
    pub enabled: bool,
    /// How many earlier items may be put into a prompt.
    pub recall_items: usize,
    /// Their token budget.
    pub tokens: usize,
    /// Items less similar than this to the message are left out, so an unrelated past is
    /// not pushed into the conversation.
    pub min_similarity: f32,
    /// Room for people's vectors in this process's memory, in bytes.
    pub cache_bytes: u64,
    /// Whether notes of Solace's library are offered to the model (`LIBRARY_ENABLED`).
    pub library: bool,
    /// A note less similar than this to the message is not offered.
    pub library_min_similarity: f32,
    /// An OpenAI-compatible `/v1/embeddings` server instead of the in-process encoder.
    pub embeddings: Option<EmbeddingsUpstream>,
}

/// Encryption at rest: where the master keys and the people's wrapped data keys live.
#[derive(Debug, Clone)]
pub struct EncryptionSettings {
    /// `ENCRYPTION_KEY_FILE`: the master keys, newest last. Default `DATA_DIR/master.keys`,
    /// made on first start when missing; every replica must read the same file.
    pub key_file: PathBuf,
    /// `ENCRYPTION_KEYS`: the key file's text itself (lines or `;`-separated `id key`
    /// entries), for platforms that inject secrets as variables; wins over the file.
    pub inline_keys: Option<SecretString>,
    /// `ENCRYPTION_KEYSTORE_URL`: the database holding the wrapped data keys. Default a
    /// sibling of `DATABASE_URL` (`solace-keys.db`, or the `…_keys` PostgreSQL
    /// database), so a backup of the app's database holds no key and deleting an
    /// account makes its rows unreadable in every backup.
    pub keystore_url: DatabaseUrl,
}

/// `EMBEDDINGS_BASE_URL`, `EMBEDDINGS_API_KEY`, `EMBEDDINGS_MODEL`.
#[derive(Debug, Clone)]
pub struct EmbeddingsUpstream {
    pub base_url: Url,
    pub api_key: Option<SecretString>,
    pub model: String,
}

/// Limits on cheap writes anyone can repeat, so nobody can grow the database or the
/// server's work without bound. Past one, the answer is 429 with `Retry-After`.
#[derive(Debug, Clone, Copy)]
pub struct AbuseLimits {
    /// New guest identities per client address per hour (a shared NAT has many people).
    pub guests_per_hour: u32,
    /// Sign-ups per client address per hour.
    pub signups_per_hour: u32,
    /// Analytics events per client address per minute.
    pub events_per_minute: u32,
    /// Rooms one identity may open per hour.
    pub rooms_per_hour: u32,
    /// Room audio tokens (embedded audio server or LiveKit) per identity per minute.
    pub room_tokens_per_minute: u32,
    /// Replies one identity may have being generated at once (each holds a model call).
    pub open_replies: usize,
    /// Audio-room connections (embedded audio server) one identity may hold at once.
    pub open_sockets: usize,
}

/// LiveKit credentials; present only when all three keys are set.
#[derive(Debug, Clone)]
pub struct LiveKit {
    /// What browsers connect to (`wss://…`).
    pub url: Url,
    /// Where this server reaches LiveKit's API, when not at `url` (inside a private
    /// network, e.g. `http://livekit:7880` in docker compose).
    pub api_url: Option<Url>,
    pub api_key: String,
    pub api_secret: SecretString,
}

/// Where traces go (OpenTelemetry, OTLP over HTTP with protobuf bodies); tracing is
/// off unless an endpoint is set.
#[derive(Debug, Clone)]
pub struct Otel {
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as given, else
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces` (the OpenTelemetry convention).
    pub traces_endpoint: Url,
    /// `OTEL_EXPORTER_OTLP_HEADERS`: `key=value` pairs, comma-separated (an API key).
    pub headers: Option<SecretString>,
}

/// First-party analytics: how long events are kept, and where copies go.
#[derive(Debug, Clone)]
pub struct AnalyticsSettings {
    /// Events older than this are deleted (`ANALYTICS_RETENTION_DAYS`).
    pub retention: Duration,
    /// Forwarding, each only when its key is set.
    pub posthog: Option<PostHog>,
    pub plausible: Option<Plausible>,
}

/// PostHog's capture API (`POSTHOG_KEY`, the project API key; `POSTHOG_HOST`).
#[derive(Debug, Clone)]
pub struct PostHog {
    pub host: Url,
    pub key: SecretString,
}

/// Plausible's events API (`PLAUSIBLE_DOMAIN`, the site as registered; `PLAUSIBLE_HOST`).
#[derive(Debug, Clone)]
pub struct Plausible {
    pub host: Url,
    pub domain: String,
}

/// An external OpenID Connect identity provider.
#[derive(Debug, Clone)]
pub struct Oidc {
    /// The name on the sign-in button, e.g. "Keycloak" or "your organisation".
    pub display_name: String,
    pub issuer_url: Url,
    pub client_id: String,
    pub client_secret: SecretString,
}

/// Everything the backend needs to start, validated.
#[derive(Debug, Clone)]
pub struct Config {
    pub host: IpAddr,
    /// 0 asks the OS for a free port (tests do this).
    pub port: u16,
    pub app_env: AppEnv,
    pub log_format: LogFormat,
    pub database_url: DatabaseUrl,
    /// Size of the database connection pool.
    pub database_max_connections: u32,
    pub redis_url: Option<SecretString>,
    /// Prefix for every cache key, so several deployments can share one Redis.
    pub cache_key_prefix: String,
    /// Upper bound on entries held by the in-process cache.
    pub cache_max_entries: u64,
    /// Where the frontend's static export lives.
    pub static_dir: PathBuf,
    /// Where local state (the SQLite file, models, audio) lives.
    pub data_dir: PathBuf,
    /// Model files: GGUF chat models and the Whisper files the browser loads (served
    /// at `/models/`). `MODELS_DIR`, else `DATA_DIR/models`.
    pub models_dir: PathBuf,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Longest time a request may take before it is answered with 408; also the longest
    /// pause allowed while a request body arrives.
    pub request_timeout: Duration,
    /// Longest time a client may take to send a request's headers before the connection
    /// is closed (slow-loris clients).
    pub header_read_timeout: Duration,
    /// Where `/metrics` is served, apart from the public port; `None` turns it off.
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// HTTPS on the public port, from these PEM files (`TLS_CERT_FILE`, `TLS_KEY_FILE`).
    pub tls: Option<crate::tls::TlsFiles>,
    /// With TLS: a plain-HTTP port on the same host that redirects to https (e.g. 80).
    pub http_redirect_port: Option<u16>,
    /// The address people use to reach Solace; `https://` turns on `Secure` cookies.
    pub public_url: Url,
    /// How long a login session lasts without use.
    pub session_ttl: Duration,
    /// Emails that become administrators when they sign up or log in.
    pub admin_emails: Vec<String>,
    /// Take the client address from the last `X-Forwarded-For` hop (behind a proxy only).
    pub trust_forwarded_for: bool,
    /// Take the client address from this header instead (`CLIENT_IP_HEADER`, e.g.
    /// `Fly-Client-IP` or `CF-Connecting-IP`), set by a proxy that always overwrites it.
    pub client_ip_header: Option<axum::http::HeaderName>,
    pub llm: Option<LlmUpstream>,
    pub llm_gguf_path: Option<PathBuf>,
    pub llm_settings: LlmSettings,
    pub chat: ChatSettings,
    pub memory: MemorySettings,
    pub encryption: EncryptionSettings,
    pub safety: SafetySettings,
    /// A JSON list of crisis lines replacing the built-in one.
    pub crisis_lines_file: Option<PathBuf>,
    pub rooms: RoomSettings,
    pub limits: AbuseLimits,
    /// Guests nobody has used for this long are deleted with everything they own.
    pub guest_retention: Duration,
    /// The embedded SFU's UDP port (0: any free port).
    pub rtc_udp_port: u16,
    /// The address or host name its UDP socket binds to, when not `host` (Fly.io routes
    /// UDP only to `fly-global-services`).
    pub rtc_udp_host: Option<String>,
    /// Its TCP port for ICE over TCP (0: any free port; `None`: UDP only).
    pub rtc_tcp_port: Option<u16>,
    /// The address browsers reach the SFU at, put in its ICE candidates.
    pub public_ip: IpAddr,
    /// Where browsers open the rooms' signalling socket when the web app is served from
    /// another origin (`SIGNAL_ORIGIN`, `wss://…`); `None`: the page's own host.
    pub signal_origin: Option<Url>,
    /// STUN/TURN servers handed to browsers (see [`crate::rooms::ice`]).
    pub ice: Ice,
    pub livekit: Option<LiveKit>,
    pub oidc: Option<Oidc>,
    pub speech: SpeechSettings,
    /// Where background jobs wait: the database (default) or Redis.
    pub jobs_backend: JobsBackend,
    pub sentry_dsn: Option<SecretString>,
    /// The web app's Sentry DSN (`SENTRY_BROWSER_DSN`): public by design, handed to
    /// browsers by `/api/client-config` and allowed by the CSP's `connect-src`.
    pub sentry_browser_dsn: Option<Url>,
    pub otel: Option<Otel>,
    pub analytics: AnalyticsSettings,
}

impl Config {
    /// Reads `.env` (when present) and the process environment; the environment wins.
    pub fn from_env() -> Result<Self, ConfigError> {
        match dotenvy::dotenv() {
            Ok(_) => {}
            Err(e) if e.not_found() => {}
            Err(e) => {
                return Err(ConfigError::DotEnv(
                    e.to_string().replace('\n', " ").trim().to_owned(),
                ))
            }
        }
        Self::from_vars(std::env::vars())
    }

    /// Builds the configuration from key/value pairs; empty values count as unset.
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut vars: HashMap<String, String> = vars
            .into_iter()
            .filter(|(_, v)| !v.trim().is_empty())
            .collect();
        read_secret_files(&mut vars)?;
        let get = |key: &str| vars.get(key).map(|v| v.trim().to_owned());

        let app_env = match get("APP_ENV").as_deref() {
            None | Some("development") | Some("dev") => AppEnv::Development,
            Some("test") => AppEnv::Test,
            Some("production") | Some("prod") => AppEnv::Production,
            Some(other) => {
                return Err(invalid(
                    "APP_ENV",
                    format!("expected development, test or production, got '{other}'"),
                ))
            }
        };
        let log_format = match get("LOG_FORMAT").as_deref() {
            None if app_env == AppEnv::Production => LogFormat::Json,
            None => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some("pretty") => LogFormat::Pretty,
            Some(other) => {
                return Err(invalid(
                    "LOG_FORMAT",
                    format!("expected json or pretty, got '{other}'"),
                ))
            }
        };

        let host = match get("HOST") {
            None => IpAddr::from([127, 0, 0, 1]),
            Some(raw) => raw
                .parse()
                .map_err(|_| invalid("HOST", format!("expected an IP address, got '{raw}'")))?,
        };
        let port = parse_number("PORT", get("PORT"), 8080u16)?;

        let data_dir = PathBuf::from(get("DATA_DIR").unwrap_or_else(|| "./data".into()));
        let database_url = match get("DATABASE_URL") {
            Some(raw) => DatabaseUrl::parse(&raw)?,
            None => DatabaseUrl::parse(&format!(
                "sqlite://{}",
                data_dir.join("solace.db").display()
            ))?,
        };
        let keystore_default = database_url.sibling("keys");
        let data_dir_for_keys = data_dir.clone();
        let database_max_connections = parse_number(
            "DATABASE_MAX_CONNECTIONS",
            get("DATABASE_MAX_CONNECTIONS"),
            10u32,
        )?;
        if database_max_connections == 0 {
            return Err(invalid("DATABASE_MAX_CONNECTIONS", "must be at least 1"));
        }

        let redis_url = match get("REDIS_URL") {
            None => None,
            Some(raw) => {
                let url = Url::parse(&raw)
                    .map_err(|e| invalid("REDIS_URL", format!("not a valid URL ({e})")))?;
                if !matches!(url.scheme(), "redis" | "rediss" | "redis+unix" | "unix") {
                    return Err(invalid(
                        "REDIS_URL",
                        format!(
                            "expected redis://… or rediss://…, got '{}'",
                            redact_url(&raw)
                        ),
                    ));
                }
                Some(SecretString::from(raw))
            }
        };

        let models_dir = get("MODELS_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| data_dir.join("models"));
        let llm = match get("LLM_BASE_URL") {
            None => None,
            Some(raw) => Some(LlmUpstream {
                base_url: parse_http_url("LLM_BASE_URL", &raw)?,
                api_key: get("LLM_API_KEY").map(SecretString::from),
                model: get("LLM_MODEL").ok_or_else(|| {
                    invalid(
                        "LLM_MODEL",
                        "required when LLM_BASE_URL is set (the model id the server expects)",
                    )
                })?,
                max_retries: parse_number("LLM_MAX_RETRIES", get("LLM_MAX_RETRIES"), 2u32)?,
            }),
        };
        let llm_gguf_path = match get("LLM_GGUF_PATH") {
            Some(_) if llm.is_some() => {
                return Err(invalid(
                    "LLM_GGUF_PATH",
                    "set either LLM_GGUF_PATH (a model in this process) or LLM_BASE_URL (a model server), not both",
                ))
            }
            Some(path) => Some(PathBuf::from(path)),
            // Without a server, a model dropped into DATA_DIR/models is picked up.
            None if llm.is_none() => find_gguf(&models_dir),
            None => None,
        };
        let jobs_backend = match get("JOBS_BACKEND").as_deref() {
            None | Some("database") => JobsBackend::Database,
            Some("redis") if redis_url.is_some() => JobsBackend::Redis,
            Some("redis") => {
                return Err(invalid("JOBS_BACKEND", "redis needs REDIS_URL"));
            }
            Some(other) => {
                return Err(invalid(
                    "JOBS_BACKEND",
                    format!("expected database or redis, got '{other}'"),
                ))
            }
        };
        let llm_settings = llm_settings(&get)?;
        let chat = ChatSettings {
            label: get("AI_LABEL").unwrap_or_else(|| "AI therapist".into()),
            history_turns: parse_number("CHAT_HISTORY_TURNS", get("CHAT_HISTORY_TURNS"), 20usize)?,
            history_tokens: parse_number(
                "CHAT_HISTORY_TOKENS",
                get("CHAT_HISTORY_TOKENS"),
                3000usize,
            )?,
            max_message_chars: parse_number(
                "CHAT_MAX_MESSAGE_CHARS",
                get("CHAT_MAX_MESSAGE_CHARS"),
                4000usize,
            )?,
            messages_per_minute: parse_number(
                "AI_MESSAGES_PER_MINUTE",
                get("AI_MESSAGES_PER_MINUTE"),
                20u32,
            )?,
        };
        if chat.history_turns == 0 {
            return Err(invalid("CHAT_HISTORY_TURNS", "must be at least 1"));
        }
        if chat.max_message_chars == 0 || chat.messages_per_minute == 0 {
            return Err(invalid(
                "CHAT_MAX_MESSAGE_CHARS",
                "CHAT_MAX_MESSAGE_CHARS and AI_MESSAGES_PER_MINUTE must be at least 1",
            ));
        }

        let livekit = match (
            get("LIVEKIT_URL"),
            get("LIVEKIT_API_KEY"),
            get("LIVEKIT_API_SECRET"),
        ) {
            (None, None, None) => None,
            (Some(url), Some(api_key), Some(secret)) => {
                let url = Url::parse(&url)
                    .map_err(|e| invalid("LIVEKIT_URL", format!("not a valid URL ({e})")))?;
                if !matches!(url.scheme(), "ws" | "wss" | "http" | "https") {
                    return Err(invalid("LIVEKIT_URL", "expected ws(s):// or http(s)://"));
                }
                Some(LiveKit {
                    api_url: get("LIVEKIT_API_URL")
                        .map(|raw| parse_http_url("LIVEKIT_API_URL", &raw))
                        .transpose()?,
                    url,
                    api_key,
                    api_secret: SecretString::from(secret),
                })
            }
            _ => {
                return Err(invalid(
                    "LIVEKIT_URL",
                    "LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET must be set together",
                ))
            }
        };

        let oidc = match (
            get("OIDC_ISSUER_URL"),
            get("OIDC_CLIENT_ID"),
            get("OIDC_CLIENT_SECRET"),
        ) {
            (None, None, None) => None,
            (Some(issuer), Some(client_id), Some(secret)) => Some(Oidc {
                display_name: get("OIDC_PROVIDER_NAME").unwrap_or_else(|| "single sign-on".into()),
                issuer_url: parse_http_url("OIDC_ISSUER_URL", &issuer)?,
                client_id,
                client_secret: SecretString::from(secret),
            }),
            _ => {
                return Err(invalid(
                    "OIDC_ISSUER_URL",
                    "OIDC_ISSUER_URL, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET must be set together",
                ))
            }
        };

        let request_timeout_secs =
            positive("REQUEST_TIMEOUT_SECS", get("REQUEST_TIMEOUT_SECS"), 30u64)?;
        let header_read_timeout_secs = positive(
            "HEADER_READ_TIMEOUT_SECS",
            get("HEADER_READ_TIMEOUT_SECS"),
            10u64,
        )?;

        // Metrics describe the whole service (routes, volumes, errors): never on the
        // public port. Loopback by default; a scraper on another host needs an address
        // only the private network reaches (e.g. 0.0.0.0:9464 inside a container).
        let metrics_addr = match get("METRICS_ADDR").as_deref() {
            None => Some(std::net::SocketAddr::from(([127, 0, 0, 1], 9464))),
            Some("off" | "none") => None,
            Some(raw) => Some(raw.parse().map_err(|_| {
                invalid(
                    "METRICS_ADDR",
                    format!(
                        "expected an address and port such as 127.0.0.1:9464, or off; got '{raw}'"
                    ),
                )
            })?),
        };

        let tls = match (get("TLS_CERT_FILE"), get("TLS_KEY_FILE")) {
            (None, None) => None,
            (Some(cert), Some(key)) => Some(crate::tls::TlsFiles {
                cert: PathBuf::from(cert),
                key: PathBuf::from(key),
            }),
            _ => {
                return Err(invalid(
                    "TLS_CERT_FILE",
                    "TLS_CERT_FILE and TLS_KEY_FILE must be set together",
                ))
            }
        };
        let http_redirect_port = match get("HTTP_REDIRECT_PORT") {
            None => None,
            Some(_) if tls.is_none() => {
                return Err(invalid(
                    "HTTP_REDIRECT_PORT",
                    "redirects to https need TLS_CERT_FILE and TLS_KEY_FILE",
                ))
            }
            raw => Some(parse_number("HTTP_REDIRECT_PORT", raw, 80u16)?),
        };

        let scheme = if tls.is_some() { "https" } else { "http" };
        let public_url = match get("PUBLIC_URL") {
            None => Url::parse(&format!("{scheme}://localhost:{port}"))
                .map_err(|e| invalid("PORT", e.to_string()))?,
            Some(raw) => parse_http_url("PUBLIC_URL", &raw)?,
        };
        if tls.is_some() && public_url.scheme() != "https" {
            return Err(invalid(
                "PUBLIC_URL",
                "must be https://… when this server terminates TLS (TLS_CERT_FILE is set)",
            ));
        }
        let session_ttl_days = parse_number("SESSION_TTL_DAYS", get("SESSION_TTL_DAYS"), 30u64)?;
        if session_ttl_days == 0 {
            return Err(invalid("SESSION_TTL_DAYS", "must be at least 1"));
        }
        let trust_forwarded_for =
            parse_bool("TRUST_FORWARDED_FOR", get("TRUST_FORWARDED_FOR"), false)?;
        let client_ip_header = get("CLIENT_IP_HEADER")
            .map(|raw| {
                axum::http::HeaderName::from_bytes(raw.to_ascii_lowercase().as_bytes()).map_err(
                    |_| {
                        invalid(
                            "CLIENT_IP_HEADER",
                            format!("expected a header name such as Fly-Client-IP, got '{raw}'"),
                        )
                    },
                )
            })
            .transpose()?;
        let admin_emails = get("ADMIN_EMAILS")
            .map(|raw| {
                raw.split(',')
                    .map(|e| e.trim().to_lowercase())
                    .filter(|e| !e.is_empty())
                    .collect()
            })
            .unwrap_or_default();

        let safety_model_dir = get("SAFETY_MODEL_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| models_dir.join(solace_ai::safety::learned::MODEL_DIR_NAME));
        let safety_multilingual_dir = get("SAFETY_MULTILINGUAL_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| models_dir.join(solace_ai::safety::multilingual::DIR_NAME));
        Ok(Self {
            public_url,
            session_ttl: Duration::from_secs(session_ttl_days * 86_400),
            admin_emails,
            trust_forwarded_for,
            client_ip_header,
            host,
            port,
            app_env,
            log_format,
            database_url,
            database_max_connections,
            redis_url,
            cache_key_prefix: get("CACHE_KEY_PREFIX").unwrap_or_else(|| "solace:".into()),
            cache_max_entries: parse_number(
                "CACHE_MAX_ENTRIES",
                get("CACHE_MAX_ENTRIES"),
                100_000u64,
            )?,
            static_dir: PathBuf::from(
                get("STATIC_DIR").unwrap_or_else(|| "apps/frontend/out".into()),
            ),
            data_dir,
            models_dir,
            max_body_bytes: parse_number("MAX_BODY_BYTES", get("MAX_BODY_BYTES"), 1_048_576usize)?,
            request_timeout: Duration::from_secs(request_timeout_secs),
            header_read_timeout: Duration::from_secs(header_read_timeout_secs),
            metrics_addr,
            tls,
            http_redirect_port,
            llm,
            llm_gguf_path,
            llm_settings,
            chat,
            limits: abuse_limits(&get)?,
            guest_retention: Duration::from_secs(
                86_400 * positive("GUEST_RETENTION_DAYS", get("GUEST_RETENTION_DAYS"), 30u64)?,
            ),
            safety: SafetySettings {
                model_dir: safety_model_dir,
                multilingual_dir: safety_multilingual_dir,
                head_dir: get("SAFETY_HEAD_DIR").map(PathBuf::from),
                judge: match get("SAFETY_JUDGE").as_deref() {
                    None | Some("auto") => JudgeMode::Auto,
                    Some("on") => JudgeMode::On,
                    Some("off") => JudgeMode::Off,
                    Some(other) => {
                        return Err(invalid(
                            "SAFETY_JUDGE",
                            format!("expected auto, on or off, got '{other}'"),
                        ))
                    }
                },
                judge_model: get("SAFETY_JUDGE_MODEL"),
                judge_timeout: Duration::from_millis(parse_number(
                    "SAFETY_JUDGE_TIMEOUT_MS",
                    get("SAFETY_JUDGE_TIMEOUT_MS"),
                    8000u64,
                )?),
            },
            crisis_lines_file: get("CRISIS_LINES_FILE").map(PathBuf::from),
            rtc_udp_port: parse_number("RTC_UDP_PORT", get("RTC_UDP_PORT"), 50000u16)?,
            rtc_udp_host: get("RTC_UDP_HOST"),
            rtc_tcp_port: match get("RTC_TCP_PORT") {
                Some(raw) if raw.eq_ignore_ascii_case("off") => None,
                raw => Some(parse_number("RTC_TCP_PORT", raw, 50000u16)?),
            },
            rooms: RoomSettings {
                idle_after: Duration::from_secs(
                    60 * parse_number("ROOM_IDLE_MINUTES", get("ROOM_IDLE_MINUTES"), 30u64)?,
                ),
                history_retention: Duration::from_secs(
                    86_400 * parse_number("ROOM_HISTORY_DAYS", get("ROOM_HISTORY_DAYS"), 90u64)?,
                ),
                reconnect_grace: Duration::from_secs(parse_number(
                    "ROOM_RECONNECT_GRACE_SECS",
                    get("ROOM_RECONNECT_GRACE_SECS"),
                    60u64,
                )?),
            },
            public_ip: match get("PUBLIC_IP") {
                None if host.is_unspecified() || host.is_loopback() => IpAddr::from([127, 0, 0, 1]),
                None => host,
                Some(raw) => raw.parse().map_err(|_| {
                    invalid("PUBLIC_IP", format!("expected an IP address, got '{raw}'"))
                })?,
            },
            signal_origin: match get("SIGNAL_ORIGIN") {
                None => None,
                Some(raw) => {
                    let url = Url::parse(&raw)
                        .ok()
                        .filter(|u| matches!(u.scheme(), "ws" | "wss") && u.path() == "/")
                        .ok_or_else(|| {
                            invalid(
                                "SIGNAL_ORIGIN",
                                format!("expected wss://host[:port] with no path, got '{raw}'"),
                            )
                        })?;
                    Some(url)
                }
            },
            ice: ice(&get)?,
            livekit,
            oidc,
            speech: speech_settings(&get)?,
            jobs_backend,
            sentry_dsn: get("SENTRY_DSN").map(SecretString::from),
            sentry_browser_dsn: match get("SENTRY_BROWSER_DSN") {
                None => None,
                Some(raw) => {
                    let url = parse_http_url("SENTRY_BROWSER_DSN", &raw)?;
                    if url.username().is_empty() || url.path().trim_matches('/').is_empty() {
                        return Err(invalid(
                            "SENTRY_BROWSER_DSN",
                            "expected a DSN like https://publickey@o0.ingest.sentry.io/123",
                        ));
                    }
                    Some(url)
                }
            },
            otel: otel(&get)?,
            analytics: analytics(&get)?,
            memory: memory(&get)?,
            encryption: EncryptionSettings {
                key_file: get("ENCRYPTION_KEY_FILE")
                    .map_or_else(|| data_dir_for_keys.join("master.keys"), PathBuf::from),
                inline_keys: get("ENCRYPTION_KEYS").map(SecretString::from),
                keystore_url: match get("ENCRYPTION_KEYSTORE_URL") {
                    Some(raw) => DatabaseUrl::parse(&raw).map_err(|_| {
                        invalid(
                            "ENCRYPTION_KEYSTORE_URL",
                            "expected sqlite://… or postgres://…",
                        )
                    })?,
                    None => keystore_default,
                },
            },
        })
    }
}

/// Keys whose value may instead come from a file named by `KEY_FILE` — Docker and
/// Kubernetes secrets are mounted as files, and values in files stay out of the process
/// environment (and `docker inspect`).
pub const SECRET_KEYS: &[&str] = &[
    "DATABASE_URL",
    "ENCRYPTION_KEYSTORE_URL",
    "REDIS_URL",
    "LLM_API_KEY",
    "EMBEDDINGS_API_KEY",
    "LIVEKIT_API_KEY",
    "LIVEKIT_API_SECRET",
    "OIDC_CLIENT_SECRET",
    "TURN_SECRET",
    "TURN_CREDENTIAL",
    "TTS_API_KEY",
    "STT_API_KEY",
    "ELEVENLABS_API_KEY",
    "SENTRY_DSN",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "POSTHOG_KEY",
];

/// Replaces each `KEY_FILE` of [`SECRET_KEYS`] by `KEY` holding the file's contents
/// (without the trailing newline editors and `echo` add).
fn read_secret_files(vars: &mut HashMap<String, String>) -> Result<(), ConfigError> {
    for &key in SECRET_KEYS {
        let file_key = format!("{key}_FILE");
        let Some(path) = vars.remove(&file_key) else {
            continue;
        };
        if vars.contains_key(key) {
            return Err(invalid(
                key,
                format!("set either {key} or {file_key}, not both"),
            ));
        }
        let path = path.trim();
        let value = std::fs::read_to_string(path)
            .map_err(|e| invalid(key, format!("cannot read {file_key} ({path}): {e}")))?;
        let value = value.trim_end_matches(['\n', '\r']);
        if value.trim().is_empty() {
            return Err(invalid(key, format!("{file_key} ({path}) is empty")));
        }
        vars.insert(key.to_owned(), value.to_owned());
    }
    Ok(())
}

impl Config {
    /// Cookies get `Secure` when people reach Solace over https.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.scheme() == "https"
    }
}

/// How browsers reach the embedded audio server: STUN servers, a TURN server, and
/// whether they may only use TURN.
#[derive(Debug, Clone, Default)]
pub struct Ice {
    /// `stun:`/`stuns:` URLs (`STUN_URLS`).
    pub stun: Vec<String>,
    pub turn: Option<Turn>,
    /// `ICE_TRANSPORT_POLICY=relay`: browsers send media through TURN only (their own
    /// address is never offered; also how the tests prove TURN works).
    pub relay_only: bool,
}

/// A TURN server (`TURN_URL`, comma-separated `turn:`/`turns:` URLs).
#[derive(Debug, Clone)]
pub struct Turn {
    pub urls: Vec<String>,
    pub auth: TurnAuth,
}

/// How TURN credentials are made.
#[derive(Debug, Clone)]
pub enum TurnAuth {
    /// One fixed username and password for everybody (`TURN_USERNAME`, `TURN_CREDENTIAL`).
    Static {
        username: String,
        credential: SecretString,
    },
    /// The TURN REST API scheme (coturn's `use-auth-secret`): each join gets a username
    /// `<expiry>:<user>` and its HMAC-SHA1 under `TURN_SECRET`, valid for `ttl`.
    Rest { secret: SecretString, ttl: Duration },
}

fn ice(get: &impl Fn(&str) -> Option<String>) -> Result<Ice, ConfigError> {
    let list = |raw: String| -> Vec<String> {
        raw.split(',')
            .map(|u| u.trim().to_owned())
            .filter(|u| !u.is_empty())
            .collect()
    };
    let stun = get("STUN_URLS").map(list).unwrap_or_default();
    if stun
        .iter()
        .any(|u| !u.starts_with("stun:") && !u.starts_with("stuns:"))
    {
        return Err(invalid("STUN_URLS", "each URL starts with stun: or stuns:"));
    }
    let urls = get("TURN_URL").map(list).unwrap_or_default();
    if urls
        .iter()
        .any(|u| !u.starts_with("turn:") && !u.starts_with("turns:"))
    {
        return Err(invalid("TURN_URL", "each URL starts with turn: or turns:"));
    }
    let auth = match (
        get("TURN_SECRET"),
        get("TURN_USERNAME"),
        get("TURN_CREDENTIAL"),
    ) {
        (None, None, None) => None,
        (Some(secret), None, None) => Some(TurnAuth::Rest {
            secret: SecretString::from(secret),
            ttl: Duration::from_secs(positive(
                "TURN_TTL_SECS",
                get("TURN_TTL_SECS"),
                86_400u64,
            )?),
        }),
        (None, Some(username), Some(credential)) => Some(TurnAuth::Static {
            username,
            credential: SecretString::from(credential),
        }),
        _ => {
            return Err(invalid(
                "TURN_SECRET",
                "set TURN_SECRET (time-limited credentials), or TURN_USERNAME with TURN_CREDENTIAL, not both",
            ))
        }
    };
    let turn = match (urls.is_empty(), auth) {
        (true, None) => None,
        (false, Some(auth)) => Some(Turn { urls, auth }),
        (true, Some(_)) => return Err(invalid("TURN_URL", "TURN credentials need TURN_URL")),
        (false, None) => {
            return Err(invalid(
                "TURN_URL",
                "needs TURN_SECRET, or TURN_USERNAME with TURN_CREDENTIAL",
            ))
        }
    };
    let relay_only = match get("ICE_TRANSPORT_POLICY").as_deref() {
        None | Some("all") => false,
        Some("relay") if turn.is_some() => true,
        Some("relay") => {
            return Err(invalid(
                "ICE_TRANSPORT_POLICY",
                "relay needs a TURN server (TURN_URL)",
            ))
        }
        Some(other) => {
            return Err(invalid(
                "ICE_TRANSPORT_POLICY",
                format!("expected all or relay, got '{other}'"),
            ))
        }
    };
    Ok(Ice {
        stun,
        turn,
        relay_only,
    })
}

/// The first `.gguf` file in `dir` by name, if there is one.
fn find_gguf(dir: &std::path::Path) -> Option<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "gguf") && path.is_file())
        .collect();
    files.sort();
    files.into_iter().next()
}

fn llm_settings(get: &impl Fn(&str) -> Option<String>) -> Result<LlmSettings, ConfigError> {
    let template = match get("LLM_CHAT_TEMPLATE") {
        None => None,
        Some(name) => Some(ChatTemplate::from_name(&name).ok_or_else(|| {
            invalid(
                "LLM_CHAT_TEMPLATE",
                format!("expected mistral, chatml or llama3, got '{name}'"),
            )
        })?),
    };
    let timeout_secs = parse_number("LLM_TIMEOUT_SECS", get("LLM_TIMEOUT_SECS"), 60u64)?;
    if timeout_secs == 0 {
        return Err(invalid("LLM_TIMEOUT_SECS", "must be at least 1"));
    }
    let defaults = Sampling::default();
    let max_tokens = parse_number("LLM_MAX_TOKENS", get("LLM_MAX_TOKENS"), defaults.max_tokens)?;
    if max_tokens == 0 {
        return Err(invalid("LLM_MAX_TOKENS", "must be at least 1"));
    }
    let temperature = parse_decimal(
        "LLM_TEMPERATURE",
        get("LLM_TEMPERATURE"),
        defaults.temperature,
    )?;
    if !(0.0..=2.0).contains(&temperature) {
        return Err(invalid("LLM_TEMPERATURE", "must be between 0 and 2"));
    }
    let top_p = parse_decimal("LLM_TOP_P", get("LLM_TOP_P"), defaults.top_p)?;
    if !(top_p > 0.0 && top_p <= 1.0) {
        return Err(invalid("LLM_TOP_P", "must be above 0 and at most 1"));
    }
    Ok(LlmSettings {
        template,
        timeout: Duration::from_secs(timeout_secs),
        sampling: Sampling {
            max_tokens,
            temperature,
            top_p,
            ..defaults
        },
    })
}

/// `true`/`1` or `false`/`0`; `default` when unset.
fn parse_bool(key: &'static str, raw: Option<String>, default: bool) -> Result<bool, ConfigError> {
    match raw.as_deref() {
        None => Ok(default),
        Some("true") | Some("1") => Ok(true),
        Some("false") | Some("0") => Ok(false),
        Some(other) => Err(invalid(
            key,
            format!("expected true or false, got '{other}'"),
        )),
    }
}

fn parse_decimal(key: &'static str, raw: Option<String>, default: f32) -> Result<f32, ConfigError> {
    match raw {
        None => Ok(default),
        Some(raw) => raw
            .parse::<f32>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| invalid(key, format!("expected a number such as 0.7, got '{raw}'"))),
    }
}

/// Where background jobs are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobsBackend {
    /// The application database: SQLite on one machine, PostgreSQL at scale.
    Database,
    Redis,
}

/// Which text-to-speech provider speaks the therapist's replies.
#[derive(Debug, Clone)]
pub enum TtsChoice {
    Off,
    /// The espeak-ng program (`ESPEAK_NG_PATH`, else on the PATH). `explicit` when
    /// `TTS_PROVIDER=espeak-ng` asked for it: then a missing program stops the start;
    /// chosen by default, its absence only turns speech off.
    Espeak {
        path: Option<PathBuf>,
        voice: String,
        explicit: bool,
    },
    /// An OpenAI-compatible `/v1/audio/speech` server.
    OpenAi {
        base_url: Url,
        api_key: Option<SecretString>,
        model: String,
        voice: String,
        format: String,
    },
    ElevenLabs {
        base_url: Url,
        api_key: SecretString,
        voice_id: String,
        model: String,
    },
}

/// The server-side transcription fallback: an OpenAI-compatible
/// `/v1/audio/transcriptions` server.
#[derive(Debug, Clone)]
pub struct SttUpstream {
    pub base_url: Url,
    pub api_key: Option<SecretString>,
    pub model: String,
}

#[derive(Debug, Clone)]
pub struct SpeechSettings {
    pub tts: TtsChoice,
    pub stt: Option<SttUpstream>,
    /// The longest recording `/api/ai/transcribe` takes.
    pub stt_max_seconds: u32,
    /// Which Whisper model the browser loads (a folder under `MODELS_DIR`).
    pub whisper_model: String,
    /// Text-to-speech jobs one worker runs at once.
    pub tts_concurrency: usize,
}

/// ElevenLabs' "Rachel": calm and clear.
const ELEVENLABS_DEFAULT_VOICE: &str = "21m00Tcm4TlvDq8ikWAM";

fn speech_settings(get: &impl Fn(&str) -> Option<String>) -> Result<SpeechSettings, ConfigError> {
    let voice = get("TTS_VOICE");
    let espeak = |explicit| TtsChoice::Espeak {
        path: get("ESPEAK_NG_PATH").map(PathBuf::from),
        voice: voice.clone().unwrap_or_else(|| "en-us".into()),
        explicit,
    };
    let openai = || -> Result<TtsChoice, ConfigError> {
        let raw = get("TTS_BASE_URL").ok_or_else(|| {
            invalid(
                "TTS_BASE_URL",
                "required for TTS_PROVIDER=openai (the API root up to /v1)",
            )
        })?;
        let format = get("TTS_FORMAT").unwrap_or_else(|| "mp3".into());
        if !matches!(format.as_str(), "mp3" | "wav" | "opus" | "aac" | "flac") {
            return Err(invalid(
                "TTS_FORMAT",
                format!("expected mp3, wav, opus, aac or flac, got '{format}'"),
            ));
        }
        Ok(TtsChoice::OpenAi {
            base_url: parse_http_url("TTS_BASE_URL", &raw)?,
            api_key: get("TTS_API_KEY").map(SecretString::from),
            model: get("TTS_MODEL").unwrap_or_else(|| "tts-1".into()),
            voice: voice.clone().unwrap_or_else(|| "alloy".into()),
            format,
        })
    };
    let elevenlabs = || -> Result<TtsChoice, ConfigError> {
        let api_key = get("ELEVENLABS_API_KEY")
            .ok_or_else(|| invalid("ELEVENLABS_API_KEY", "required for TTS_PROVIDER=elevenlabs"))?;
        let base = get("ELEVENLABS_BASE_URL")
            .unwrap_or_else(|| solace_ai::speech::ELEVENLABS_BASE_URL.into());
        Ok(TtsChoice::ElevenLabs {
            base_url: parse_http_url("ELEVENLABS_BASE_URL", &base)?,
            api_key: SecretString::from(api_key),
            voice_id: voice
                .clone()
                .or_else(|| get("ELEVENLABS_VOICE_ID"))
                .unwrap_or_else(|| ELEVENLABS_DEFAULT_VOICE.into()),
            model: get("ELEVENLABS_MODEL")
                .unwrap_or_else(|| solace_ai::speech::ELEVENLABS_MODEL.into()),
        })
    };
    let tts = match get("TTS_PROVIDER").as_deref() {
        None | Some("auto") => {
            if get("ELEVENLABS_API_KEY").is_some() {
                elevenlabs()?
            } else if get("TTS_BASE_URL").is_some() {
                openai()?
            } else {
                espeak(false)
            }
        }
        Some("espeak-ng" | "espeak") => espeak(true),
        Some("openai") => openai()?,
        Some("elevenlabs") => elevenlabs()?,
        Some("off" | "none") => TtsChoice::Off,
        Some(other) => {
            return Err(invalid(
                "TTS_PROVIDER",
                format!("expected auto, espeak-ng, openai, elevenlabs or off, got '{other}'"),
            ))
        }
    };
    let stt = get("STT_BASE_URL")
        .map(|raw| -> Result<SttUpstream, ConfigError> {
            Ok(SttUpstream {
                base_url: parse_http_url("STT_BASE_URL", &raw)?,
                api_key: get("STT_API_KEY").map(SecretString::from),
                model: get("STT_MODEL").unwrap_or_else(|| "whisper-1".into()),
            })
        })
        .transpose()?;
    let stt_max_seconds = parse_number("STT_MAX_SECONDS", get("STT_MAX_SECONDS"), 60u32)?;
    if !(1..=600).contains(&stt_max_seconds) {
        return Err(invalid("STT_MAX_SECONDS", "must be between 1 and 600"));
    }
    let whisper_model = get("WHISPER_MODEL").unwrap_or_else(|| "whisper-tiny.en".into());
    if whisper_model.contains("..") || whisper_model.starts_with('/') {
        return Err(invalid(
            "WHISPER_MODEL",
            "a folder name under MODELS_DIR, like whisper-tiny.en",
        ));
    }
    let tts_concurrency = parse_number("TTS_CONCURRENCY", get("TTS_CONCURRENCY"), 2usize)?;
    if tts_concurrency == 0 {
        return Err(invalid("TTS_CONCURRENCY", "must be at least 1"));
    }
    Ok(SpeechSettings {
        tts,
        stt,
        stt_max_seconds,
        whisper_model,
        tts_concurrency,
    })
}

fn abuse_limits(get: &impl Fn(&str) -> Option<String>) -> Result<AbuseLimits, ConfigError> {
    Ok(AbuseLimits {
        guests_per_hour: positive("GUESTS_PER_HOUR", get("GUESTS_PER_HOUR"), 100)?,
        signups_per_hour: positive("SIGNUPS_PER_HOUR", get("SIGNUPS_PER_HOUR"), 20)?,
        events_per_minute: positive("EVENTS_PER_MINUTE", get("EVENTS_PER_MINUTE"), 120)?,
        rooms_per_hour: positive("ROOMS_PER_HOUR", get("ROOMS_PER_HOUR"), 20)?,
        room_tokens_per_minute: positive(
            "ROOM_TOKENS_PER_MINUTE",
            get("ROOM_TOKENS_PER_MINUTE"),
            30,
        )?,
        open_replies: positive("MAX_OPEN_REPLIES", get("MAX_OPEN_REPLIES"), 3)?,
        open_sockets: positive("MAX_OPEN_SOCKETS", get("MAX_OPEN_SOCKETS"), 4)?,
    })
}

/// A whole number of at least 1.
fn positive<T: std::str::FromStr + PartialOrd + From<u8>>(
    key: &'static str,
    raw: Option<String>,
    default: T,
) -> Result<T, ConfigError> {
    let value = parse_number(key, raw, default)?;
    if value < T::from(1) {
        return Err(invalid(key, "must be at least 1"));
    }
    Ok(value)
}

fn parse_number<T: std::str::FromStr>(
    key: &'static str,
    raw: Option<String>,
    default: T,
) -> Result<T, ConfigError> {
    match raw {
        None => Ok(default),
        Some(raw) => raw
            .parse()
            .map_err(|_| invalid(key, format!("expected a whole number, got '{raw}'"))),
    }
}

fn memory(get: &impl Fn(&str) -> Option<String>) -> Result<MemorySettings, ConfigError> {
    let enabled = parse_bool("MEMORY_ENABLED", get("MEMORY_ENABLED"), true)?;
    let min_similarity = parse_decimal("MEMORY_MIN_SIMILARITY", get("MEMORY_MIN_SIMILARITY"), 0.2)?;
    if !(-1.0..=1.0).contains(&min_similarity) {
        return Err(invalid("MEMORY_MIN_SIMILARITY", "must be between -1 and 1"));
    }
    let embeddings = match get("EMBEDDINGS_BASE_URL") {
        None => None,
        Some(raw) => Some(EmbeddingsUpstream {
            base_url: parse_http_url("EMBEDDINGS_BASE_URL", &raw)?,
            api_key: get("EMBEDDINGS_API_KEY").map(SecretString::from),
            model: get("EMBEDDINGS_MODEL").ok_or_else(|| {
                invalid(
                    "EMBEDDINGS_MODEL",
                    "required when EMBEDDINGS_BASE_URL is set (the model id the server expects)",
                )
            })?,
        }),
    };
    Ok(MemorySettings {
        enabled,
        recall_items: parse_number("MEMORY_RECALL_ITEMS", get("MEMORY_RECALL_ITEMS"), 5usize)?,
        tokens: parse_number("MEMORY_TOKENS", get("MEMORY_TOKENS"), 400usize)?,
        min_similarity,
        cache_bytes: parse_number("MEMORY_CACHE_MB", get("MEMORY_CACHE_MB"), 256u64)?
            .saturating_mul(1 << 20),
        library: parse_bool("LIBRARY_ENABLED", get("LIBRARY_ENABLED"), true)?,
        library_min_similarity: parse_decimal(
            "LIBRARY_MIN_SIMILARITY",
            get("LIBRARY_MIN_SIMILARITY"),
            0.35,
        )?,
        embeddings,
    })
}

fn analytics(get: &impl Fn(&str) -> Option<String>) -> Result<AnalyticsSettings, ConfigError> {
    let days = positive(
        "ANALYTICS_RETENTION_DAYS",
        get("ANALYTICS_RETENTION_DAYS"),
        90u64,
    )?;
    let host = |key: &'static str, default: &str| {
        parse_http_url(key, &get(key).unwrap_or_else(|| default.to_owned()))
    };
    let posthog = match get("POSTHOG_KEY") {
        None => None,
        Some(key) => Some(PostHog {
            host: host("POSTHOG_HOST", "https://us.i.posthog.com")?,
            key: SecretString::from(key),
        }),
    };
    let plausible = match get("PLAUSIBLE_DOMAIN") {
        None => None,
        Some(domain) => {
            let valid = !domain.is_empty()
                && domain
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '/'));
            if !valid {
                return Err(invalid(
                    "PLAUSIBLE_DOMAIN",
                    format!("expected the site's domain as registered in Plausible, e.g. solace.example.org, got '{domain}'"),
                ));
            }
            Some(Plausible {
                host: host("PLAUSIBLE_HOST", "https://plausible.io")?,
                domain,
            })
        }
    };
    Ok(AnalyticsSettings {
        retention: Duration::from_secs(86_400 * days),
        posthog,
        plausible,
    })
}

fn otel(get: &impl Fn(&str) -> Option<String>) -> Result<Option<Otel>, ConfigError> {
    const TRACES: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
    const BASE: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
    let traces_endpoint = match (get(TRACES), get(BASE)) {
        (Some(raw), _) => parse_http_url(TRACES, &raw)?,
        (None, Some(raw)) => {
            let base = parse_http_url(BASE, &raw)?;
            let path = format!("{}/v1/traces", base.path().trim_end_matches('/'));
            let mut url = base;
            url.set_path(&path);
            url
        }
        (None, None) => return Ok(None),
    };
    let headers = get("OTEL_EXPORTER_OTLP_HEADERS");
    if let Some(raw) = &headers {
        let well_formed = raw.split(',').all(|pair| {
            pair.split_once('=')
                .is_some_and(|(k, _)| !k.trim().is_empty())
        });
        if !well_formed {
            return Err(invalid(
                "OTEL_EXPORTER_OTLP_HEADERS",
                "expected key=value pairs separated by commas",
            ));
        }
    }
    Ok(Some(Otel {
        traces_endpoint,
        headers: headers.map(SecretString::from),
    }))
}

fn parse_http_url(key: &'static str, raw: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(raw).map_err(|e| invalid(key, format!("not a valid URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(
            key,
            format!("expected http(s)://…, got '{}'", redact_url(raw)),
        ));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_vars(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    /// Every key the server reads is in README's configuration table and in
    /// `.env.example`, so neither can drift from the code.
    #[test]
    fn every_key_is_documented_in_the_readme_and_the_env_example() {
        let code = include_str!("config.rs");
        let readme = include_str!("../../../README.md");
        let example = include_str!("../../../.env.example");
        let keys: std::collections::BTreeSet<&str> = code
            .match_indices("get(\"")
            .filter_map(|(at, _)| {
                let rest = &code[at + 5..];
                rest.find('"').map(|end| &rest[..end])
            })
            .filter(|key| {
                key.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            })
            .collect();
        assert!(keys.len() > 90, "{keys:?}");
        let undocumented: Vec<&&str> = keys
            .iter()
            .filter(|key| !readme.contains(&format!("`{key}`")))
            .collect();
        let not_in_example: Vec<&&str> = keys
            .iter()
            .filter(|key| !example.contains(&format!("{key}=")))
            .collect();
        assert!(undocumented.is_empty(), "not in README: {undocumented:?}");
        assert!(
            not_in_example.is_empty(),
            "not in .env.example: {not_in_example:?}"
        );
    }

    #[test]
    fn a_browser_dsn_needs_its_key_and_project() {
        for bad in [
            "https://o7.ingest.example.io/12",
            "https://key@o7.ingest.example.io/",
            "o7/12",
        ] {
            let error = config(&[("SENTRY_BROWSER_DSN", bad)]).unwrap_err();
            assert!(
                error.to_string().contains("SENTRY_BROWSER_DSN"),
                "{bad}: {error}"
            );
        }
        let ok = config(&[("SENTRY_BROWSER_DSN", "https://key@o7.ingest.example.io/12")]);
        assert!(ok.unwrap().sentry_browser_dsn.is_some());
    }

    #[test]
    fn traces_go_to_the_otlp_endpoint_by_the_opentelemetry_convention() {
        let off = config(&[]).unwrap();
        assert!(off.otel.is_none());
        let base = config(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")]).unwrap();
        assert_eq!(
            base.otel.unwrap().traces_endpoint.as_str(),
            "http://collector:4318/v1/traces"
        );
        let prefixed = config(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://otlp.example/api")]);
        assert_eq!(
            prefixed.unwrap().otel.unwrap().traces_endpoint.as_str(),
            "https://otlp.example/api/v1/traces"
        );
        let own = config(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://tempo:4318/otlp/v1/traces",
            ),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "x-honeycomb-team=abc,x-other=1",
            ),
        ])
        .unwrap()
        .otel
        .unwrap();
        assert_eq!(
            own.traces_endpoint.as_str(),
            "http://tempo:4318/otlp/v1/traces"
        );
        assert!(own.headers.is_some());
        let bad = config(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318")]).unwrap_err();
        assert!(
            bad.to_string().contains("OTEL_EXPORTER_OTLP_ENDPOINT"),
            "{bad}"
        );
        let headers = config(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "just-a-key"),
        ])
        .unwrap_err();
        assert!(headers.to_string().contains("key=value"), "{headers}");
    }

    #[test]
    fn secrets_can_come_from_files_as_docker_and_kubernetes_mount_them() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("llm_api_key");
        std::fs::write(&secret, "sk-from-a-file\n").unwrap();
        let database = dir.path().join("database_url");
        std::fs::write(&database, "postgres://solace:p%40ss@db.internal/solace\r\n").unwrap();
        let path = |p: &std::path::Path| p.display().to_string();
        let loaded = config(&[
            ("LLM_BASE_URL", "http://model.internal/v1"),
            ("LLM_MODEL", "m"),
            ("LLM_API_KEY_FILE", &path(&secret)),
            ("DATABASE_URL_FILE", &path(&database)),
        ])
        .unwrap();
        let llm = loaded.llm.unwrap();
        assert_eq!(llm.api_key.unwrap().expose_secret(), "sk-from-a-file");
        assert_eq!(loaded.database_url.kind(), DatabaseKind::Postgres);
        assert_eq!(
            loaded.database_url.expose(),
            "postgres://solace:p%40ss@db.internal/solace"
        );

        let both = config(&[("SENTRY_DSN", "x"), ("SENTRY_DSN_FILE", &path(&secret))]);
        assert_eq!(
            both.unwrap_err().to_string(),
            "SENTRY_DSN: set either SENTRY_DSN or SENTRY_DSN_FILE, not both"
        );
        let missing = config(&[("REDIS_URL_FILE", "/nonexistent/redis_url")]).unwrap_err();
        assert!(
            missing
                .to_string()
                .starts_with("REDIS_URL: cannot read REDIS_URL_FILE (/nonexistent/redis_url)"),
            "{missing}"
        );
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "\n").unwrap();
        let empty = config(&[("POSTHOG_KEY_FILE", &path(&empty))]).unwrap_err();
        assert!(empty.to_string().contains("is empty"), "{empty}");
        // Keys that name files in their own right are not secrets read this way.
        assert!(!SECRET_KEYS.contains(&"CRISIS_LINES"));
        assert!(!SECRET_KEYS.contains(&"TLS_CERT"));
    }

    #[test]
    fn every_setting_read_here_is_documented_in_the_readme_and_env_example() {
        let source = include_str!("config.rs");
        let readme = include_str!("../../../README.md");
        let example = include_str!("../../../.env.example");
        let keys: std::collections::BTreeSet<&str> = source
            .split("get(\"")
            .skip(1)
            .filter_map(|rest| rest.split_once("\")"))
            .map(|(key, _)| key)
            .filter(|key| {
                key.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            })
            .collect();
        assert!(keys.len() > 50, "the scan found the settings: {keys:?}");
        let undocumented: Vec<&&str> = keys
            .iter()
            .filter(|key| !readme.contains(&format!("`{key}`")) || !example.contains(**key))
            .collect();
        assert!(
            undocumented.is_empty(),
            "add these to README.md's configuration table and .env.example: {undocumented:?}"
        );
    }

    #[test]
    fn defaults_run_embedded_on_sqlite_at_localhost_8080() {
        let config = config(&[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.host.to_string(), "127.0.0.1");
        assert_eq!(config.port, 8080);
        assert_eq!(config.database_url.kind(), DatabaseKind::Sqlite);
        assert_eq!(config.database_url.expose(), "sqlite://./data/solace.db");
        assert!(config.redis_url.is_none());
        assert!(config.livekit.is_none());
        assert_eq!(config.log_format, LogFormat::Pretty);
    }

    #[test]
    fn postgres_url_switches_the_database_kind() {
        let config = config(&[("DATABASE_URL", "postgres://u:p@db:5432/solace")])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.database_url.kind(), DatabaseKind::Postgres);
    }

    #[test]
    fn unknown_database_scheme_is_rejected_with_the_key_name() {
        let err = config(&[("DATABASE_URL", "mysql://root:hunter2@db/solace")])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.starts_with("DATABASE_URL: expected sqlite"), "{err}");
        assert!(!err.contains("hunter2"), "password leaked: {err}");
    }

    #[test]
    fn a_port_that_is_not_a_number_is_rejected() {
        let err = config(&[("PORT", "eighty")]).err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("PORT: expected a whole number, got 'eighty'")
        );
    }

    #[test]
    fn an_upstream_model_needs_its_model_id() {
        let err = config(&[("LLM_BASE_URL", "http://127.0.0.1:11434/v1")])
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.starts_with("LLM_MODEL:")));
        let ok = config(&[
            ("LLM_BASE_URL", "http://127.0.0.1:11434/v1"),
            ("LLM_MODEL", "mellogpt"),
            ("LLM_CHAT_TEMPLATE", "Mistral"),
        ]);
        assert!(ok.as_ref().is_ok_and(
            |c| c.llm.is_some() && c.llm_settings.template == Some(ChatTemplate::Mistral)
        ));
    }

    #[test]
    fn the_key_store_defaults_to_a_sibling_of_the_database() {
        let sibling = |url: &str| {
            DatabaseUrl::parse(url)
                .map(|u| u.sibling("keys").expose().to_owned())
                .unwrap_or_default()
        };
        assert_eq!(
            sibling("sqlite://./data/solace.db"),
            "sqlite://./data/solace-keys.db"
        );
        assert_eq!(
            sibling("sqlite:///tmp/a.b/db?mode=rwc"),
            "sqlite:///tmp/a.b/db-keys?mode=rwc"
        );
        assert_eq!(sibling("sqlite::memory:"), "sqlite::memory:");
        assert_eq!(
            sibling("postgres://u:p@db:5432/solace?sslmode=require"),
            "postgres://u:p@db:5432/solace_keys?sslmode=require"
        );
        let defaults = config(&[("DATA_DIR", "/srv/solace")]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            defaults.encryption.key_file,
            PathBuf::from("/srv/solace/master.keys")
        );
        assert_eq!(
            defaults.encryption.keystore_url.expose(),
            "sqlite:///srv/solace/solace-keys.db"
        );
        let chosen = config(&[
            ("ENCRYPTION_KEY_FILE", "/run/secrets/keys"),
            ("ENCRYPTION_KEYSTORE_URL", "postgres://keys.internal/keys"),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            chosen.encryption.key_file,
            PathBuf::from("/run/secrets/keys")
        );
        assert_eq!(
            chosen.encryption.keystore_url.kind(),
            DatabaseKind::Postgres
        );
        assert!(config(&[("ENCRYPTION_KEYSTORE_URL", "mysql://x")]).is_err());
    }

    #[test]
    fn a_gguf_in_the_data_dir_is_found_unless_a_server_is_configured() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let models = dir.path().join("models");
        std::fs::create_dir_all(&models).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(models.join("b.gguf"), b"").unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(models.join("a.gguf"), b"").unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(models.join("notes.txt"), b"").unwrap_or_else(|e| panic!("{e}"));
        let data_dir = dir.path().display().to_string();

        let found = config(&[("DATA_DIR", &data_dir)]).map(|c| c.llm_gguf_path);
        let with_server = config(&[
            ("DATA_DIR", &data_dir),
            ("LLM_BASE_URL", "http://127.0.0.1:9/v1"),
            ("LLM_MODEL", "m"),
        ])
        .map(|c| c.llm_gguf_path);
        let both = config(&[
            ("LLM_GGUF_PATH", "/models/x.gguf"),
            ("LLM_BASE_URL", "http://127.0.0.1:9/v1"),
            ("LLM_MODEL", "m"),
        ]);

        assert_eq!(found.ok().flatten(), Some(models.join("a.gguf")));
        assert_eq!(with_server.ok().flatten(), None);
        assert!(both.is_err_and(|e| e.to_string().starts_with("LLM_GGUF_PATH:")));
    }

    #[test]
    fn sampling_and_chat_limits_are_validated() {
        for (key, value) in [
            ("LLM_TEMPERATURE", "hot"),
            ("LLM_TEMPERATURE", "3"),
            ("LLM_TOP_P", "0"),
            ("LLM_CHAT_TEMPLATE", "gpt"),
            ("CHAT_HISTORY_TURNS", "0"),
            ("AI_MESSAGES_PER_MINUTE", "0"),
        ] {
            assert!(
                config(&[(key, value)]).is_err(),
                "{key}={value} was accepted"
            );
        }
        let c = config(&[("AI_LABEL", "AI companion"), ("LLM_TEMPERATURE", "0.2")]);
        assert!(c.is_ok_and(|c| c.chat.label == "AI companion"
            && (c.llm_settings.sampling.temperature - 0.2).abs() < f32::EPSILON));
    }

    #[test]
    fn livekit_keys_must_come_together() {
        let err = config(&[("LIVEKIT_URL", "wss://lk.example.org")]).err();
        assert!(matches!(
            err,
            Some(ConfigError::Invalid {
                key: "LIVEKIT_URL",
                ..
            })
        ));
    }

    #[test]
    fn cookies_are_secure_only_behind_https() {
        let local = config(&[]).unwrap_or_else(|e| panic!("{e}"));
        let public = config(&[("PUBLIC_URL", "https://solace.example.org")])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(local.public_url.scheme(), "http");
        assert_eq!(public.public_url.scheme(), "https");
    }

    #[test]
    fn admin_emails_are_a_lower_cased_list() {
        let config = config(&[("ADMIN_EMAILS", " Ada@Example.org, ,sam@example.org")])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            config.admin_emails,
            vec!["ada@example.org", "sam@example.org"]
        );
    }

    #[test]
    fn production_defaults_to_json_logs() {
        let config = config(&[("APP_ENV", "production")]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.log_format, LogFormat::Json);
    }

    #[test]
    fn empty_values_count_as_unset() {
        let config = config(&[("REDIS_URL", ""), ("PORT", " ")]).unwrap_or_else(|e| panic!("{e}"));
        assert!(config.redis_url.is_none());
        assert_eq!(config.port, 8080);
    }

    #[test]
    fn secrets_do_not_appear_in_debug_output() {
        let config = config(&[
            ("DATABASE_URL", "postgres://u:topsecret@db/solace"),
            ("LLM_BASE_URL", "http://127.0.0.1:9000/v1"),
            ("LLM_API_KEY", "sk-topsecret"),
            ("LLM_MODEL", "m"),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        let debug = format!("{config:?}");
        assert!(!debug.contains("topsecret"), "{debug}");
    }

    #[test]
    fn redaction_hides_only_the_password() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/solace"),
            "postgres://app:****@db:5432/solace"
        );
        assert_eq!(
            redact_url("sqlite://./data/solace.db"),
            "sqlite://./data/solace.db"
        );
    }
}
