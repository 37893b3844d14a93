//! What every request handler shares, built once at start-up: configuration, the
//! database and cache, the language model and the guarded turn around it, crisis lines,
//! metrics, the audio server and speech. Handlers import it from here; it imports only
//! the services it holds, never the router (`app`), so imports point down.

use std::net::SocketAddr;
use std::sync::Arc;

use solace_ai::model::local::LocalModel;
use solace_ai::model::openai::{OpenAiCompatible, UpstreamConfig};
use solace_ai::model::{ChatModel, ModelSlot};
use solace_ai::CrisisDirectory;

use crate::cache::{self, Cache};
use crate::config::Config;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::metrics::Metrics;

/// Everything a request handler may need, built once at start-up.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub cache: Arc<dyn Cache>,
    pub crisis: Arc<CrisisDirectory>,
    pub metrics: Arc<Metrics>,
    pub oidc: Arc<crate::auth::oidc::OidcProvider>,
    /// The language model, when one is configured (or installed from the setup page
    /// while the server runs).
    pub model: ModelSlot,
    /// The first-run setup: who may become the first administrator, and the model
    /// download started from the setup page.
    pub setup: crate::setup::Setup,
    /// The guarded turn: crisis detector, model, judge and crisis lines in one type,
    /// so every reply passes the safety layer.
    pub supporter: solace_ai::supporter::Supporter,
    /// Where room audio runs: the embedded SFU, or LiveKit when configured.
    pub audio: crate::rooms::Audio,
    /// Opens the embedded SFU's signalling socket.
    pub room_tokens: crate::rooms::RoomTokens,
    /// Spoken replies (text-to-speech jobs) and server-side transcription.
    pub speech: crate::speech::Speech,
    /// Memory across conversations: embedding jobs, the person's vectors, recall.
    pub memory: crate::memory::Memory,
    /// Copies of anonymous analytics events for PostHog or Plausible, when configured.
    pub analytics: crate::events::forward::Forwarder,
}

impl AppState {
    /// Connects to the database (running migrations) and the cache.
    pub async fn build(config: Config) -> Result<Self> {
        crate::tls::install_crypto_provider();
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
        let model = ModelSlot::new(build_model(&config).await?);
        let detector = {
            let config = config.clone();
            Arc::new(
                tokio::task::spawn_blocking(move || load_detector(&config))
                    .await
                    .map_err(|e| Error::Startup(e.to_string()))?,
            )
        };
        let judge = build_judge(&config, &model);
        let speech = crate::speech::Speech::build(&config, &db).await?;
        let memory = crate::memory::Memory::build(
            &config,
            &db,
            speech.jobs.clone(),
            &detector,
            model.clone(),
        )?
        .with_library(config.memory.library)
        .await;
        let crisis = Arc::new(crisis_directory(&config)?);
        let audio = match &config.livekit {
            Some(livekit) => {
                crate::rooms::Audio::LiveKit(Arc::new(crate::rooms::LiveKit::new(livekit)))
            }
            None => {
                let udp = match &config.rtc_udp_host {
                    None => SocketAddr::new(config.host, config.rtc_udp_port),
                    Some(host) => tokio::net::lookup_host((host.as_str(), config.rtc_udp_port))
                        .await
                        .ok()
                        .and_then(|mut addrs| addrs.find(SocketAddr::is_ipv4))
                        .ok_or_else(|| {
                            Error::Startup(format!(
                                "RTC_UDP_HOST: cannot resolve '{host}' to an IPv4 address"
                            ))
                        })?,
                };
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
            detector,
            model: model.clone(),
            judge,
            crisis: crisis.clone(),
            settings: solace_ai::supporter::SupporterSettings {
                label: config.chat.label.clone(),
                history_turns: config.chat.history_turns,
                history_tokens: config.chat.history_tokens,
                memory_tokens: config.memory.tokens,
                sampling: config.llm_settings.sampling,
            },
        };
        let analytics =
            crate::events::forward::Forwarder::start(&config.analytics, &config.public_url);
        Ok(Self {
            supporter,
            audio,
            speech,
            memory,
            analytics,
            room_tokens: crate::rooms::RoomTokens::default(),
            setup: crate::setup::Setup::start(&db, &config.data_dir).await?,
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
    let keystore = if config.encryption.keystore_url.expose() == config.database_url.expose() {
        db.clone()
    } else {
        Db::connect(&config.encryption.keystore_url, 4)
            .await
            .map_err(|e| {
                Error::Startup(format!(
                    "{e} (the key store, ENCRYPTION_KEYSTORE_URL: set it to a database this \
                     server may create or use)"
                ))
            })?
    };
    let vault = crate::vault::Vault::open(master_keys(config)?, keystore, &db).await?;
    Ok(db.with_vault(Arc::new(vault)))
}

/// The master keys: KMS when `ENCRYPTION_KMS_KEY_ID` is set (with the key file, when
/// there is one, for data keys wrapped before), else the key file (made on first start)
/// or `ENCRYPTION_KEYS`.
pub fn master_keys(config: &Config) -> Result<Arc<dyn crate::vault::MasterKeys>, Error> {
    use crate::vault::{AwsKms, Credentials, Keyring, KmsWithKeyFile};
    let file = |create: bool| -> Result<Option<Keyring>, Error> {
        Ok(match &config.encryption.inline_keys {
            Some(keys) => Some(Keyring::inline(secrecy::ExposeSecret::expose_secret(keys))?),
            None if create || config.encryption.key_file.exists() => {
                Some(Keyring::open(&config.encryption.key_file, create)?)
            }
            None => None,
        })
    };
    let Some(kms) = &config.encryption.kms else {
        let ring = file(true)?.ok_or_else(|| Error::Startup("no master keys".into()))?;
        return Ok(Arc::new(ring));
    };
    let credentials = Credentials {
        access_key_id: kms.access_key_id.clone(),
        secret_access_key: kms.secret_access_key.clone(),
        session_token: kms.session_token.clone(),
    };
    let current = AwsKms::new(
        kms.key_id.clone(),
        kms.region.clone(),
        kms.endpoint.clone(),
        credentials,
    )?;
    Ok(Arc::new(KmsWithKeyFile {
        kms: current,
        older: file(false)?,
    }))
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
/// with whatever model the slot holds with `SAFETY_JUDGE=on` (it judges only beside a
/// model's reply, so an empty slot is never asked).
fn build_judge(config: &Config, model: &ModelSlot) -> Option<Arc<solace_ai::safety::judge::Judge>> {
    use crate::config::JudgeMode;
    let enabled = match config.safety.judge {
        JudgeMode::Off => false,
        JudgeMode::On => true,
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
        _ => Arc::new(model.clone()),
    };
    Some(Arc::new(solace_ai::safety::judge::Judge::new(
        judge_model,
        config.safety.judge_timeout,
    )))
}

/// A client for an OpenAI-compatible model server, asked as `settings` say.
pub fn upstream_model(
    upstream: &crate::config::LlmUpstream,
    settings: &crate::config::LlmSettings,
) -> std::result::Result<Arc<dyn ChatModel>, solace_ai::model::ModelError> {
    let mut client = UpstreamConfig::new(upstream.base_url.clone(), upstream.model.clone());
    client.api_key = upstream.api_key.clone();
    client.token_timeout = settings.timeout;
    client.max_retries = upstream.max_retries;
    client.fold_system_prompt = settings.template.is_some_and(|t| !t.has_system_role());
    Ok(Arc::new(OpenAiCompatible::new(client)?))
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
/// `LLM_BASE_URL` is set; else the file `LLM_GGUF_PATH` names; else the model server
/// connected from the setup page; else the newest GGUF file in the models folder; else
/// none.
pub async fn build_model(config: &Config) -> Result<Option<Arc<dyn ChatModel>>> {
    let settings = &config.llm_settings;
    if let Some(upstream) = &config.llm {
        return upstream_model(upstream, settings)
            .map(Some)
            .map_err(|e| Error::Startup(format!("LLM_BASE_URL: {e}")));
    }
    if !config.llm_gguf_explicit {
        if let Some(saved) = crate::setup::saved_server(&config.data_dir) {
            return upstream_model(&saved, settings)
                .map(Some)
                .map_err(|e| Error::Startup(format!("{}: {e}", crate::setup::SERVER_FILE)));
        }
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
