//! Typed configuration, read once at start-up from defaults, `.env` and the environment.
//!
//! Every key is listed in `.env.example` and README's table (a test keeps them so). Each
//! section reads its own keys through [`env::Env`]'s typed readers, one line per key, so
//! a bad value stops the process with one line that names the key, before anything
//! connects.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use solace_ai::model::Sampling;
use solace_ai::prompt::ChatTemplate;
use url::Url;

mod env;
pub use env::SECRET_KEYS;
use env::{http_url, Env, DAYS, MILLISECONDS, MINUTES, SECONDS};

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
    /// `ENCRYPTION_KMS_KEY_ID`: when set, AWS KMS (or a KMS-compatible endpoint) wraps
    /// the data keys instead of the key file; the file, when present, still opens the
    /// data keys it wrapped before.
    pub kms: Option<KmsSettings>,
}

/// An AWS KMS key and how to reach it.
#[derive(Debug, Clone)]
pub struct KmsSettings {
    /// `ENCRYPTION_KMS_KEY_ID`: a key id, ARN or `alias/…`.
    pub key_id: String,
    /// `AWS_REGION` (or `AWS_DEFAULT_REGION`).
    pub region: String,
    /// `AWS_ENDPOINT_URL_KMS` (or `AWS_ENDPOINT_URL`); default AWS's regional endpoint.
    pub endpoint: Option<Url>,
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`.
    pub access_key_id: String,
    pub secret_access_key: SecretString,
    pub session_token: Option<SecretString>,
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
    /// Whether `LLM_GGUF_PATH` was set (rather than a model found in the models folder).
    pub llm_gguf_explicit: bool,
    /// Where models are downloaded from (`solace model pull`, the setup page).
    pub hub: HubSettings,
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
        use AppEnv::{Development, Production, Test};
        let env = Env::new(vars)?;

        let app_env = env.choice(
            "APP_ENV",
            Development,
            &[
                ("development", Development),
                ("dev", Development),
                ("test", Test),
                ("production", Production),
                ("prod", Production),
            ],
        )?;
        let log_format = env.choice(
            "LOG_FORMAT",
            if app_env == Production {
                LogFormat::Json
            } else {
                LogFormat::Pretty
            },
            &[("json", LogFormat::Json), ("pretty", LogFormat::Pretty)],
        )?;
        let host: IpAddr = env
            .parsed("HOST", "an IP address")?
            .unwrap_or(IpAddr::from([127, 0, 0, 1]));
        let port = env.number("PORT", 8080u16)?;
        let data_dir = env.path("DATA_DIR").unwrap_or_else(|| "./data".into());
        let database_url = DatabaseUrl::parse(
            &env.text("DATABASE_URL")
                .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("solace.db").display())),
        )?;
        let redis_url = redis_url(&env)?;
        let models_dir = env
            .path("MODELS_DIR")
            .unwrap_or_else(|| data_dir.join("models"));
        let llm = LlmUpstream::read(&env)?;
        let llm_gguf_explicit = env.path("LLM_GGUF_PATH").is_some();
        let llm_gguf_path = match env.path("LLM_GGUF_PATH") {
            Some(_) if llm.is_some() => {
                return Err(invalid(
                    "LLM_GGUF_PATH",
                    "set either LLM_GGUF_PATH (a model in this process) or LLM_BASE_URL (a model server), not both",
                ))
            }
            Some(path) => Some(path),
            // Without a server, a model dropped into DATA_DIR/models is picked up.
            None if llm.is_none() => find_gguf(&models_dir),
            None => None,
        };
        let jobs_backend = env.choice(
            "JOBS_BACKEND",
            JobsBackend::Database,
            &[
                ("database", JobsBackend::Database),
                ("redis", JobsBackend::Redis),
            ],
        )?;
        if jobs_backend == JobsBackend::Redis && redis_url.is_none() {
            return Err(invalid("JOBS_BACKEND", "redis needs REDIS_URL"));
        }

        let tls = env
            .together(["TLS_CERT_FILE", "TLS_KEY_FILE"])?
            .map(|[cert, key]| crate::tls::TlsFiles {
                cert: cert.into(),
                key: key.into(),
            });
        let http_redirect_port = env.parsed("HTTP_REDIRECT_PORT", "a whole number")?;
        if http_redirect_port.is_some() && tls.is_none() {
            return Err(invalid(
                "HTTP_REDIRECT_PORT",
                "redirects to https need TLS_CERT_FILE and TLS_KEY_FILE",
            ));
        }
        let public_url = match env.http_url("PUBLIC_URL")? {
            Some(url) => url,
            None => {
                let scheme = if tls.is_some() { "https" } else { "http" };
                Url::parse(&format!("{scheme}://localhost:{port}"))
                    .map_err(|e| invalid("PORT", e.to_string()))?
            }
        };
        if tls.is_some() && public_url.scheme() != "https" {
            return Err(invalid(
                "PUBLIC_URL",
                "must be https://… when this server terminates TLS (TLS_CERT_FILE is set)",
            ));
        }
        // Metrics describe the whole service (routes, volumes, errors): never on the
        // public port. Loopback by default; a scraper on another host needs an address
        // only the private network reaches (e.g. 0.0.0.0:9464 inside a container).
        let metrics_addr = match env.text("METRICS_ADDR").as_deref() {
            Some("off" | "none") => None,
            _ => Some(
                env.parsed(
                    "METRICS_ADDR",
                    "an address and port such as 127.0.0.1:9464, or off",
                )?
                .unwrap_or(std::net::SocketAddr::from(([127, 0, 0, 1], 9464))),
            ),
        };
        let client_ip_header = env
            .text("CLIENT_IP_HEADER")
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

        Ok(Self {
            public_url,
            session_ttl: env.positive_duration("SESSION_TTL_DAYS", 30, DAYS)?,
            admin_emails: env
                .list("ADMIN_EMAILS")
                .into_iter()
                .map(|email| email.to_lowercase())
                .collect(),
            trust_forwarded_for: env.flag("TRUST_FORWARDED_FOR", false)?,
            client_ip_header,
            host,
            port,
            app_env,
            log_format,
            database_max_connections: env.at_least_one("DATABASE_MAX_CONNECTIONS", 10u32)?,
            redis_url,
            cache_key_prefix: env.text_or("CACHE_KEY_PREFIX", "solace:"),
            cache_max_entries: env.number("CACHE_MAX_ENTRIES", 100_000u64)?,
            static_dir: env
                .path("STATIC_DIR")
                .unwrap_or_else(|| "apps/frontend/out".into()),
            max_body_bytes: env.number("MAX_BODY_BYTES", 1_048_576usize)?,
            request_timeout: env.positive_duration("REQUEST_TIMEOUT_SECS", 30, SECONDS)?,
            header_read_timeout: env.positive_duration("HEADER_READ_TIMEOUT_SECS", 10, SECONDS)?,
            metrics_addr,
            tls,
            http_redirect_port,
            llm,
            llm_gguf_path,
            llm_gguf_explicit,
            hub: HubSettings {
                endpoint: env.http_url_or("HF_ENDPOINT", "https://huggingface.co")?,
                token: env.secret("HF_TOKEN"),
            },
            llm_settings: LlmSettings::read(&env)?,
            chat: ChatSettings::read(&env)?,
            limits: AbuseLimits::read(&env)?,
            guest_retention: env.positive_duration("GUEST_RETENTION_DAYS", 30, DAYS)?,
            safety: SafetySettings::read(&env, &models_dir)?,
            crisis_lines_file: env.path("CRISIS_LINES_FILE"),
            rtc_udp_port: env.number("RTC_UDP_PORT", 50000u16)?,
            rtc_udp_host: env.text("RTC_UDP_HOST"),
            rtc_tcp_port: match env.text("RTC_TCP_PORT") {
                Some(raw) if raw.eq_ignore_ascii_case("off") => None,
                _ => Some(env.number("RTC_TCP_PORT", 50000u16)?),
            },
            rooms: RoomSettings::read(&env)?,
            public_ip: env.parsed("PUBLIC_IP", "an IP address")?.unwrap_or(
                if host.is_unspecified() || host.is_loopback() {
                    IpAddr::from([127, 0, 0, 1])
                } else {
                    host
                },
            ),
            signal_origin: signal_origin(&env)?,
            ice: Ice::read(&env)?,
            livekit: LiveKit::read(&env)?,
            oidc: Oidc::read(&env)?,
            speech: SpeechSettings::read(&env)?,
            jobs_backend,
            sentry_dsn: env.secret("SENTRY_DSN"),
            sentry_browser_dsn: sentry_browser_dsn(&env)?,
            otel: Otel::read(&env)?,
            analytics: AnalyticsSettings::read(&env)?,
            memory: MemorySettings::read(&env)?,
            encryption: EncryptionSettings::read(&env, &data_dir, &database_url)?,
            database_url,
            data_dir,
            models_dir,
        })
    }

    /// Cookies get `Secure` when people reach Solace over https.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.scheme() == "https"
    }
}

fn redis_url(env: &Env) -> Result<Option<SecretString>, ConfigError> {
    let Some(raw) = env.text("REDIS_URL") else {
        return Ok(None);
    };
    let url =
        Url::parse(&raw).map_err(|e| invalid("REDIS_URL", format!("not a valid URL ({e})")))?;
    if !matches!(url.scheme(), "redis" | "rediss" | "redis+unix" | "unix") {
        return Err(invalid(
            "REDIS_URL",
            format!(
                "expected redis://… or rediss://…, got '{}'",
                redact_url(&raw)
            ),
        ));
    }
    Ok(Some(SecretString::from(raw)))
}

fn signal_origin(env: &Env) -> Result<Option<Url>, ConfigError> {
    env.text("SIGNAL_ORIGIN")
        .map(|raw| {
            Url::parse(&raw)
                .ok()
                .filter(|u| matches!(u.scheme(), "ws" | "wss") && u.path() == "/")
                .ok_or_else(|| {
                    invalid(
                        "SIGNAL_ORIGIN",
                        format!("expected wss://host[:port] with no path, got '{raw}'"),
                    )
                })
        })
        .transpose()
}

fn sentry_browser_dsn(env: &Env) -> Result<Option<Url>, ConfigError> {
    let Some(url) = env.http_url("SENTRY_BROWSER_DSN")? else {
        return Ok(None);
    };
    if url.username().is_empty() || url.path().trim_matches('/').is_empty() {
        return Err(invalid(
            "SENTRY_BROWSER_DSN",
            "expected a DSN like https://publickey@o0.ingest.sentry.io/123",
        ));
    }
    Ok(Some(url))
}

/// The newest `.gguf` file in `dir` (the one downloaded last; the first by name among
/// equally new ones), if there is one.
fn find_gguf(dir: &std::path::Path) -> Option<PathBuf> {
    let mut files: Vec<(std::cmp::Reverse<std::time::SystemTime>, PathBuf)> =
        std::fs::read_dir(dir)
            .ok()?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "gguf") && path.is_file())
            .map(|path| {
                let modified = std::fs::metadata(&path)
                    .and_then(|m| m.modified())
                    .unwrap_or(std::time::UNIX_EPOCH);
                (std::cmp::Reverse(modified), path)
            })
            .collect();
    files.sort();
    files.into_iter().next().map(|(_, path)| path)
}

/// Where models are downloaded from.
#[derive(Debug, Clone)]
pub struct HubSettings {
    /// `https://huggingface.co`, or a mirror (`HF_ENDPOINT`).
    pub endpoint: Url,
    /// For gated or private repositories (`HF_TOKEN`).
    pub token: Option<SecretString>,
}

impl HubSettings {
    /// A download of `file` from `repo` at `revision` on this hub.
    pub fn request(
        &self,
        repo: &str,
        file: &str,
        revision: &str,
        sha256: Option<String>,
    ) -> solace_ai::hub::PullRequest {
        solace_ai::hub::PullRequest {
            endpoint: self.endpoint.clone(),
            repo: repo.to_owned(),
            file: file.to_owned(),
            revision: revision.to_owned(),
            token: self.token.as_ref().map(|t| t.expose_secret().to_owned()),
            sha256,
            url: None,
        }
    }
}

/// What an OpenAI-compatible server's `*_MODEL` names.
const MODEL_ID: &str = "the model id the server expects";

impl LlmUpstream {
    fn read(env: &Env) -> Result<Option<Self>, ConfigError> {
        let Some(base_url) = env.http_url("LLM_BASE_URL")? else {
            return Ok(None);
        };
        Ok(Some(Self {
            base_url,
            api_key: env.secret("LLM_API_KEY"),
            model: env.required_with("LLM_MODEL", "LLM_BASE_URL", MODEL_ID)?,
            max_retries: env.number("LLM_MAX_RETRIES", 2u32)?,
        }))
    }
}

impl LlmSettings {
    fn read(env: &Env) -> Result<Self, ConfigError> {
        let template = match env.text("LLM_CHAT_TEMPLATE") {
            None => None,
            Some(name) => Some(ChatTemplate::from_name(&name).ok_or_else(|| {
                invalid(
                    "LLM_CHAT_TEMPLATE",
                    format!("expected mistral, chatml or llama3, got '{name}'"),
                )
            })?),
        };
        let defaults = Sampling::default();
        let top_p = env.decimal("LLM_TOP_P", defaults.top_p, 0.0, 1.0)?;
        if top_p <= 0.0 {
            return Err(invalid("LLM_TOP_P", "must be above 0 and at most 1"));
        }
        Ok(Self {
            template,
            timeout: env.positive_duration("LLM_TIMEOUT_SECS", 60, SECONDS)?,
            sampling: Sampling {
                max_tokens: env.at_least_one("LLM_MAX_TOKENS", defaults.max_tokens)?,
                temperature: env.decimal("LLM_TEMPERATURE", defaults.temperature, 0.0, 2.0)?,
                top_p,
                ..defaults
            },
        })
    }
}

impl ChatSettings {
    fn read(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            label: env.text_or("AI_LABEL", "AI therapist"),
            history_turns: env.at_least_one("CHAT_HISTORY_TURNS", 20usize)?,
            history_tokens: env.number("CHAT_HISTORY_TOKENS", 3000usize)?,
            max_message_chars: env.at_least_one("CHAT_MAX_MESSAGE_CHARS", 4000usize)?,
            messages_per_minute: env.at_least_one("AI_MESSAGES_PER_MINUTE", 20u32)?,
        })
    }
}

impl SafetySettings {
    fn read(env: &Env, models_dir: &std::path::Path) -> Result<Self, ConfigError> {
        Ok(Self {
            model_dir: env
                .path("SAFETY_MODEL_DIR")
                .unwrap_or_else(|| models_dir.join(solace_ai::safety::learned::MODEL_DIR_NAME)),
            multilingual_dir: env
                .path("SAFETY_MULTILINGUAL_DIR")
                .unwrap_or_else(|| models_dir.join(solace_ai::safety::multilingual::DIR_NAME)),
            head_dir: env.path("SAFETY_HEAD_DIR"),
            judge: env.choice(
                "SAFETY_JUDGE",
                JudgeMode::Auto,
                &[
                    ("auto", JudgeMode::Auto),
                    ("on", JudgeMode::On),
                    ("off", JudgeMode::Off),
                ],
            )?,
            judge_model: env.text("SAFETY_JUDGE_MODEL"),
            judge_timeout: env.duration("SAFETY_JUDGE_TIMEOUT_MS", 8000, MILLISECONDS)?,
        })
    }
}

impl RoomSettings {
    fn read(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            idle_after: env.duration("ROOM_IDLE_MINUTES", 30, MINUTES)?,
            history_retention: env.duration("ROOM_HISTORY_DAYS", 90, DAYS)?,
            reconnect_grace: env.duration("ROOM_RECONNECT_GRACE_SECS", 60, SECONDS)?,
        })
    }
}

impl AbuseLimits {
    fn read(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            guests_per_hour: env.at_least_one("GUESTS_PER_HOUR", 100)?,
            signups_per_hour: env.at_least_one("SIGNUPS_PER_HOUR", 20)?,
            events_per_minute: env.at_least_one("EVENTS_PER_MINUTE", 120)?,
            rooms_per_hour: env.at_least_one("ROOMS_PER_HOUR", 20)?,
            room_tokens_per_minute: env.at_least_one("ROOM_TOKENS_PER_MINUTE", 30)?,
            open_replies: env.at_least_one("MAX_OPEN_REPLIES", 3)?,
            open_sockets: env.at_least_one("MAX_OPEN_SOCKETS", 4)?,
        })
    }
}

impl MemorySettings {
    fn read(env: &Env) -> Result<Self, ConfigError> {
        let embeddings = match env.http_url("EMBEDDINGS_BASE_URL")? {
            None => None,
            Some(base_url) => Some(EmbeddingsUpstream {
                base_url,
                api_key: env.secret("EMBEDDINGS_API_KEY"),
                model: env.required_with("EMBEDDINGS_MODEL", "EMBEDDINGS_BASE_URL", MODEL_ID)?,
            }),
        };
        Ok(Self {
            enabled: env.flag("MEMORY_ENABLED", true)?,
            recall_items: env.number("MEMORY_RECALL_ITEMS", 5usize)?,
            tokens: env.number("MEMORY_TOKENS", 400usize)?,
            min_similarity: env.decimal("MEMORY_MIN_SIMILARITY", 0.2, -1.0, 1.0)?,
            cache_bytes: env
                .number("MEMORY_CACHE_MB", 256u64)?
                .saturating_mul(1 << 20),
            library: env.flag("LIBRARY_ENABLED", true)?,
            library_min_similarity: env.decimal("LIBRARY_MIN_SIMILARITY", 0.35, -1.0, 1.0)?,
            embeddings,
        })
    }
}

impl EncryptionSettings {
    fn read(
        env: &Env,
        data_dir: &std::path::Path,
        database_url: &DatabaseUrl,
    ) -> Result<Self, ConfigError> {
        Ok(Self {
            key_file: env
                .path("ENCRYPTION_KEY_FILE")
                .unwrap_or_else(|| data_dir.join("master.keys")),
            inline_keys: env.secret("ENCRYPTION_KEYS"),
            keystore_url: match env.text("ENCRYPTION_KEYSTORE_URL") {
                Some(raw) => DatabaseUrl::parse(&raw).map_err(|_| {
                    invalid(
                        "ENCRYPTION_KEYSTORE_URL",
                        "expected sqlite://… or postgres://…",
                    )
                })?,
                None => database_url.sibling("keys"),
            },
            kms: KmsSettings::read(env)?,
        })
    }
}

impl KmsSettings {
    fn read(env: &Env) -> Result<Option<Self>, ConfigError> {
        let Some(key_id) = env.text("ENCRYPTION_KMS_KEY_ID") else {
            return Ok(None);
        };
        const KEY: &str = "ENCRYPTION_KMS_KEY_ID";
        let region = env
            .text("AWS_REGION")
            .or_else(|| env.text("AWS_DEFAULT_REGION"))
            .ok_or_else(|| invalid("AWS_REGION", format!("required when {KEY} is set")))?;
        let endpoint = match env.http_url("AWS_ENDPOINT_URL_KMS")? {
            Some(url) => Some(url),
            None => env.http_url("AWS_ENDPOINT_URL")?,
        };
        Ok(Some(Self {
            key_id,
            region,
            endpoint,
            access_key_id: env.required_with("AWS_ACCESS_KEY_ID", KEY, "the KMS credentials")?,
            secret_access_key: env
                .required_with("AWS_SECRET_ACCESS_KEY", KEY, "the KMS credentials")?
                .into(),
            session_token: env.secret("AWS_SESSION_TOKEN"),
        }))
    }
}

impl LiveKit {
    fn read(env: &Env) -> Result<Option<Self>, ConfigError> {
        let Some([url, api_key, secret]) =
            env.together(["LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"])?
        else {
            return Ok(None);
        };
        let url = Url::parse(&url)
            .map_err(|e| invalid("LIVEKIT_URL", format!("not a valid URL ({e})")))?;
        if !matches!(url.scheme(), "ws" | "wss" | "http" | "https") {
            return Err(invalid("LIVEKIT_URL", "expected ws(s):// or http(s)://"));
        }
        Ok(Some(Self {
            api_url: env.http_url("LIVEKIT_API_URL")?,
            url,
            api_key,
            api_secret: SecretString::from(secret),
        }))
    }
}

impl Oidc {
    fn read(env: &Env) -> Result<Option<Self>, ConfigError> {
        let Some([issuer, client_id, secret]) =
            env.together(["OIDC_ISSUER_URL", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET"])?
        else {
            return Ok(None);
        };
        Ok(Some(Self {
            display_name: env.text_or("OIDC_PROVIDER_NAME", "single sign-on"),
            issuer_url: http_url("OIDC_ISSUER_URL", &issuer)?,
            client_id,
            client_secret: SecretString::from(secret),
        }))
    }
}

impl AnalyticsSettings {
    fn read(env: &Env) -> Result<Self, ConfigError> {
        let posthog = match env.secret("POSTHOG_KEY") {
            None => None,
            Some(key) => Some(PostHog {
                host: env.http_url_or("POSTHOG_HOST", "https://us.i.posthog.com")?,
                key,
            }),
        };
        let plausible = match env.text("PLAUSIBLE_DOMAIN") {
            None => None,
            Some(domain) => {
                let valid = domain
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '/'));
                if !valid {
                    return Err(invalid(
                        "PLAUSIBLE_DOMAIN",
                        format!("expected the site's domain as registered in Plausible, e.g. solace.example.org, got '{domain}'"),
                    ));
                }
                Some(Plausible {
                    host: env.http_url_or("PLAUSIBLE_HOST", "https://plausible.io")?,
                    domain,
                })
            }
        };
        Ok(Self {
            retention: env.positive_duration("ANALYTICS_RETENTION_DAYS", 90, DAYS)?,
            posthog,
            plausible,
        })
    }
}

impl Otel {
    fn read(env: &Env) -> Result<Option<Self>, ConfigError> {
        const TRACES: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
        const BASE: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
        let traces_endpoint = match (env.http_url(TRACES)?, env.http_url(BASE)?) {
            (Some(url), _) => url,
            (None, Some(mut url)) => {
                let path = format!("{}/v1/traces", url.path().trim_end_matches('/'));
                url.set_path(&path);
                url
            }
            (None, None) => return Ok(None),
        };
        let headers = env.text("OTEL_EXPORTER_OTLP_HEADERS");
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
        Ok(Some(Self {
            traces_endpoint,
            headers: headers.map(SecretString::from),
        }))
    }
}

impl Ice {
    fn read(env: &Env) -> Result<Self, ConfigError> {
        let stun = env.list("STUN_URLS");
        if stun
            .iter()
            .any(|u| !u.starts_with("stun:") && !u.starts_with("stuns:"))
        {
            return Err(invalid("STUN_URLS", "each URL starts with stun: or stuns:"));
        }
        let urls = env.list("TURN_URL");
        if urls
            .iter()
            .any(|u| !u.starts_with("turn:") && !u.starts_with("turns:"))
        {
            return Err(invalid("TURN_URL", "each URL starts with turn: or turns:"));
        }
        let auth = match (
            env.secret("TURN_SECRET"),
            env.text("TURN_USERNAME"),
            env.secret("TURN_CREDENTIAL"),
        ) {
            (None, None, None) => None,
            (Some(secret), None, None) => Some(TurnAuth::Rest {
                secret,
                ttl: env.positive_duration("TURN_TTL_SECS", 86_400, SECONDS)?,
            }),
            (None, Some(username), Some(credential)) => Some(TurnAuth::Static {
                username,
                credential,
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
        let relay_only = env.choice(
            "ICE_TRANSPORT_POLICY",
            false,
            &[("all", false), ("relay", true)],
        )?;
        if relay_only && turn.is_none() {
            return Err(invalid(
                "ICE_TRANSPORT_POLICY",
                "relay needs a TURN server (TURN_URL)",
            ));
        }
        Ok(Self {
            stun,
            turn,
            relay_only,
        })
    }
}

impl SpeechSettings {
    fn read(env: &Env) -> Result<Self, ConfigError> {
        let whisper_model = env.text_or("WHISPER_MODEL", "whisper-tiny.en");
        if whisper_model.contains("..") || whisper_model.starts_with('/') {
            return Err(invalid(
                "WHISPER_MODEL",
                "a folder name under MODELS_DIR, like whisper-tiny.en",
            ));
        }
        let stt_max_seconds = env.number("STT_MAX_SECONDS", 60u32)?;
        if !(1..=600).contains(&stt_max_seconds) {
            return Err(invalid("STT_MAX_SECONDS", "must be between 1 and 600"));
        }
        Ok(Self {
            tts: TtsChoice::read(env)?,
            stt: env.http_url("STT_BASE_URL")?.map(|base_url| SttUpstream {
                base_url,
                api_key: env.secret("STT_API_KEY"),
                model: env.text_or("STT_MODEL", "whisper-1"),
            }),
            stt_max_seconds,
            whisper_model,
            tts_concurrency: env.at_least_one("TTS_CONCURRENCY", 2usize)?,
        })
    }
}

/// ElevenLabs' "Rachel": calm and clear.
const ELEVENLABS_DEFAULT_VOICE: &str = "21m00Tcm4TlvDq8ikWAM";

impl TtsChoice {
    fn read(env: &Env) -> Result<Self, ConfigError> {
        #[derive(Clone, Copy, PartialEq)]
        enum Provider {
            Auto,
            Espeak,
            OpenAi,
            ElevenLabs,
            Off,
        }
        let provider = env.choice(
            "TTS_PROVIDER",
            Provider::Auto,
            &[
                ("auto", Provider::Auto),
                ("espeak-ng", Provider::Espeak),
                ("espeak", Provider::Espeak),
                ("openai", Provider::OpenAi),
                ("elevenlabs", Provider::ElevenLabs),
                ("off", Provider::Off),
                ("none", Provider::Off),
            ],
        )?;
        let provider = match provider {
            Provider::Auto if env.text("ELEVENLABS_API_KEY").is_some() => Provider::ElevenLabs,
            Provider::Auto if env.text("TTS_BASE_URL").is_some() => Provider::OpenAi,
            other => other,
        };
        let voice = env.text("TTS_VOICE");
        Ok(match provider {
            Provider::Off => Self::Off,
            Provider::Auto | Provider::Espeak => Self::Espeak {
                path: env.path("ESPEAK_NG_PATH"),
                voice: voice.unwrap_or_else(|| "en-us".into()),
                explicit: provider == Provider::Espeak,
            },
            Provider::OpenAi => {
                let base_url = env.http_url("TTS_BASE_URL")?.ok_or_else(|| {
                    invalid(
                        "TTS_BASE_URL",
                        "required for TTS_PROVIDER=openai (the API root up to /v1)",
                    )
                })?;
                let format = env.text_or("TTS_FORMAT", "mp3");
                if !matches!(format.as_str(), "mp3" | "wav" | "opus" | "aac" | "flac") {
                    return Err(invalid(
                        "TTS_FORMAT",
                        format!("expected mp3, wav, opus, aac or flac, got '{format}'"),
                    ));
                }
                Self::OpenAi {
                    base_url,
                    api_key: env.secret("TTS_API_KEY"),
                    model: env.text_or("TTS_MODEL", "tts-1"),
                    voice: voice.unwrap_or_else(|| "alloy".into()),
                    format,
                }
            }
            Provider::ElevenLabs => Self::ElevenLabs {
                api_key: env.secret("ELEVENLABS_API_KEY").ok_or_else(|| {
                    invalid("ELEVENLABS_API_KEY", "required for TTS_PROVIDER=elevenlabs")
                })?,
                base_url: env.http_url_or(
                    "ELEVENLABS_BASE_URL",
                    solace_ai::speech::ELEVENLABS_BASE_URL,
                )?,
                voice_id: voice
                    .or_else(|| env.text("ELEVENLABS_VOICE_ID"))
                    .unwrap_or_else(|| ELEVENLABS_DEFAULT_VOICE.into()),
                model: env.text_or("ELEVENLABS_MODEL", solace_ai::speech::ELEVENLABS_MODEL),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_vars(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    /// Every key the server reads is in README's configuration table and in
    /// `.env.example`, so neither can drift from the code: the scan takes each string
    /// literal in upper-case snake case outside the tests, which is how keys are named.
    #[test]
    fn every_key_is_documented_in_the_readme_and_the_env_example() {
        let code = include_str!("mod.rs")
            .split("#[cfg(test)]")
            .next()
            .unwrap_or_default();
        let secrets = include_str!("env.rs")
            .split("#[cfg(test)]")
            .next()
            .unwrap_or_default();
        let readme = include_str!("../../../../README.md");
        let example = include_str!("../../../../.env.example");
        let keys: std::collections::BTreeSet<&str> = [code, secrets]
            .iter()
            .flat_map(|source| source.split('"').skip(1).step_by(2))
            .filter(|literal| {
                literal.len() > 2
                    && literal.starts_with(|c: char| c.is_ascii_uppercase())
                    && literal
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            })
            .collect();
        assert!(keys.len() > 90, "the scan found the settings: {keys:?}");
        let undocumented: Vec<&&str> = keys
            .iter()
            .filter(|key| !readme.contains(&format!("`{key}`")))
            .collect();
        let not_in_example: Vec<&&str> = keys
            .iter()
            .filter(|key| !example.contains(&format!("{key}=")))
            .collect();
        assert!(
            undocumented.is_empty(),
            "add to README.md's configuration table: {undocumented:?}"
        );
        assert!(
            not_in_example.is_empty(),
            "add to .env.example: {not_in_example:?}"
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
