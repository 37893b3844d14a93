//! First run: who becomes the first administrator, and the language model installed from
//! the setup page.
//!
//! A fresh server has no administrator and, often, no model. At start-up it makes a
//! one-time setup token (kept in `DATA_DIR/setup-token` until used) and prints a link
//! carrying it in the URL's fragment (never sent to a server, so no proxy or error tracker
//! records it). Whoever opens the link with a registered account becomes the
//! administrator; after that the token is gone. The
//! administrator picks a model on the setup page: it downloads in the background
//! (resumable, checksum-verified, with progress) into the models folder and is put to
//! work without a restart.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use solace_ai::hub;
use solace_ai::model::local::LocalModel;
use subtle::ConstantTimeEq;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Admin, RegisteredUser};
use crate::config::LlmUpstream;
use crate::db::Db;
use crate::error::{Error, ErrorCode, Result};
use crate::extract::ApiJson;
use crate::state::AppState;
use crate::users::Role;

/// A model the setup page offers.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct Choice {
    /// What the page sends back to download it.
    pub id: &'static str,
    pub name: &'static str,
    pub about: &'static str,
    /// The hub repository and file.
    pub repo: &'static str,
    pub file: &'static str,
    /// About how large the download is.
    pub bytes: u64,
}

/// The models offered: the one the product is built around, and a small one for
/// machines with less memory.
pub const CHOICES: [Choice; 2] = [
    Choice {
        id: "mellogpt",
        name: "MelloGPT 7B (Q4_K_M)",
        about: "Mistral 7B tuned on mental-health conversations: the model Solace is built \
                around. Needs about 6 GB of memory; replies take a few seconds per sentence \
                on a laptop.",
        repo: "TheBloke/MelloGPT-GGUF",
        file: "mellogpt.Q4_K_M.gguf",
        bytes: 4_368_439_008,
    },
    Choice {
        id: "llama-3.2-1b",
        name: "Llama 3.2 1B Instruct (Q4_K_M)",
        about: "A small general assistant: fast and light (about 1.5 GB of memory), less \
                skilled at supportive conversation.",
        repo: "bartowski/Llama-3.2-1B-Instruct-GGUF",
        file: "Llama-3.2-1B-Instruct-Q4_K_M.gguf",
        bytes: 807_694_464,
    },
];

/// Where a download started from the setup page stands.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Download {
    /// The choice being downloaded.
    pub choice: &'static str,
    /// `downloading`, `loading` (checking the file and putting it to work), `ready` or
    /// `failed`.
    pub state: DownloadState,
    pub done_bytes: u64,
    #[schema(required = true)]
    pub total_bytes: Option<u64>,
    /// Why it failed, for the administrator; starting it again continues where it broke
    /// off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DownloadState {
    Downloading,
    Loading,
    Ready,
    Failed,
}

/// The first-run state shared by the handlers.
#[derive(Clone, Default)]
pub struct Setup {
    /// The one-time token that makes its holder the first administrator; `None` once
    /// there is one.
    token: Arc<Mutex<Option<String>>>,
    download: Arc<Mutex<Option<Download>>>,
    /// Where the token file is kept.
    data_dir: Option<PathBuf>,
}

/// Writes `text` to a new file only the server's user may read.
fn write_private(path: &std::path::Path, text: &str) -> Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    Ok(())
}

/// The file in `DATA_DIR` that keeps the setup token until it is used, so that a restart
/// (or a second process on the same data) prints the same link, and an operator who missed
/// the log line can find it (readable by the server's user only).
pub const TOKEN_FILE: &str = "setup-token";

impl Setup {
    /// Makes (or reads back) a setup token when the server has no administrator yet;
    /// removes a spent one when it has.
    pub async fn start(db: &Db, data_dir: &std::path::Path) -> Result<Self> {
        let setup = Self {
            data_dir: Some(data_dir.to_owned()),
            ..Self::default()
        };
        let file = data_dir.join(TOKEN_FILE);
        if has_admin(db).await? {
            let _ = std::fs::remove_file(&file);
            return Ok(setup);
        }
        let kept = std::fs::read_to_string(&file)
            .ok()
            .map(|t| t.trim().to_owned())
            .filter(|t| {
                t.len() >= 32
                    && t.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
            });
        let token = match kept {
            Some(token) => token,
            None => {
                let token = crate::auth::sessions::new_token();
                write_private(&file, &token)?;
                token
            }
        };
        *lock(&setup.token) = Some(token);
        Ok(setup)
    }

    /// Spends the token: no one else can use the link.
    fn spend(&self) {
        *lock(&self.token) = None;
        if let Some(dir) = &self.data_dir {
            let _ = std::fs::remove_file(dir.join(TOKEN_FILE));
        }
    }

    /// The link that makes its opener the first administrator, while there is none.
    pub fn link(&self, public_url: &url::Url) -> Option<String> {
        let token = lock(&self.token).clone()?;
        let mut url = public_url.join("/setup/").ok()?;
        url.set_fragment(Some(&format!("token={token}")));
        Some(url.to_string())
    }

    /// The download started from the setup page, if any.
    pub fn download(&self) -> Option<Download> {
        lock(&self.download).clone()
    }

    fn update(&self, change: impl FnOnce(&mut Download)) {
        if let Some(download) = lock(&self.download).as_mut() {
            change(download);
        }
    }
}

/// The file in `DATA_DIR` that keeps the model server connected from the setup page
/// (its address, model and key; readable by the server's user only), read at start-up
/// when neither `LLM_BASE_URL` nor `LLM_GGUF_PATH` is set. Installing a GGUF model from
/// the setup page removes it: the latest choice wins.
pub const SERVER_FILE: &str = "model-server.json";

#[derive(Debug, Serialize, Deserialize)]
struct SavedServer {
    base_url: String,
    model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    api_key: Option<String>,
}

/// The model server connected from the setup page, if one was.
pub fn saved_server(data_dir: &std::path::Path) -> Option<LlmUpstream> {
    let file = data_dir.join(SERVER_FILE);
    let text = std::fs::read_to_string(&file).ok()?;
    let saved: SavedServer = match serde_json::from_str(&text) {
        Ok(saved) => saved,
        Err(error) => {
            tracing::warn!(%error, path = %file.display(), "ignoring an unreadable model server file");
            return None;
        }
    };
    let base_url = match url::Url::parse(&saved.base_url) {
        Ok(url) => url,
        Err(error) => {
            tracing::warn!(%error, path = %file.display(), "ignoring a model server file with a bad address");
            return None;
        }
    };
    Some(LlmUpstream {
        base_url,
        api_key: saved.api_key.map(secrecy::SecretString::from),
        model: saved.model,
        max_retries: 2,
    })
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn has_admin(db: &Db) -> Result<bool> {
    let row: Option<(String,)> = sqlx::query_as("SELECT id FROM users WHERE role = $1 LIMIT 1")
        .bind(Role::Admin.as_str().to_owned())
        .fetch_optional(db.pool())
        .await?;
    Ok(row.is_some())
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(status))
        .routes(routes!(claim))
        .routes(routes!(model))
        .routes(routes!(download))
        .routes(routes!(connect))
}

#[derive(Debug, Serialize, ToSchema)]
struct SetupStatus {
    /// Whether the server still waits for its first administrator (the setup link
    /// printed at start-up makes one).
    needs_admin: bool,
}

/// Whether the server still waits for its first administrator.
#[utoipa::path(get, path = "/setup", tag = "setup",
    responses((status = 200, description = "Whether a first administrator is still needed.", body = SetupStatus)))]
async fn status(State(state): State<AppState>) -> Result<Json<SetupStatus>> {
    Ok(Json(SetupStatus {
        needs_admin: lock(&state.setup.token).is_some() && !has_admin(&state.db).await?,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ClaimInput {
    /// The token from the setup link printed at start-up.
    token: String,
}

/// Makes the signed-in account the first administrator, with the setup link's token.
#[utoipa::path(post, path = "/setup/claim", tag = "setup", request_body = ClaimInput,
    security(("session_cookie" = []), ("bearer" = [])),
    responses((status = 204, description = "You are the administrator now."),
        crate::openapi::SignedIn, crate::openapi::Conflicting, crate::openapi::JsonBody))]
async fn claim(
    State(state): State<AppState>,
    RegisteredUser(identity): RegisteredUser,
    ApiJson(input): ApiJson<ClaimInput>,
) -> Result<StatusCode> {
    let already = || Error::Conflict {
        code: ErrorCode::AlreadySetUp,
        message: "This server has an administrator already; ask them for the role.".to_owned(),
    };
    let expected = lock(&state.setup.token).clone().ok_or_else(already)?;
    if !bool::from(expected.as_bytes().ct_eq(input.token.trim().as_bytes())) {
        return Err(Error::forbidden(
            ErrorCode::InvalidSetupToken,
            "This setup link is not this server's. Use the one printed when it started.",
        ));
    }
    // One statement: of two claims at once (or on two replicas), one wins.
    let done = sqlx::query(
        "UPDATE users SET role = $1, updated_at = $2 WHERE id = $3 \
         AND NOT EXISTS (SELECT 1 FROM users WHERE role = $1)",
    )
    .bind(Role::Admin.as_str().to_owned())
    .bind(crate::db::now_ms())
    .bind(identity.user.id.clone())
    .execute(state.db.pool())
    .await?;
    state.setup.spend();
    if done.rows_affected() == 0 {
        return Err(already());
    }
    crate::admin::audit(
        &state.db,
        &identity.user.id,
        "setup.claimed",
        "user",
        Some(&identity.user.id),
        None,
    )
    .await?;
    tracing::info!(user_id = %identity.user.id, "the first administrator is set up");
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
struct ModelSetup {
    /// The model answering now (`local:…` or `openai:…`), if any.
    #[schema(required = true)]
    model: Option<String>,
    /// Whether the model is set by the server's configuration (`LLM_BASE_URL` or
    /// `LLM_GGUF_PATH`), which the setup page does not change.
    configured_by_operator: bool,
    choices: Vec<Choice>,
    #[schema(required = true)]
    download: Option<Download>,
}

/// The language model now, the choices and the download under way.
#[utoipa::path(get, path = "/admin/model", tag = "setup",
    security(("session_cookie" = []), ("bearer" = [])),
    responses((status = 200, description = "The model setup.", body = ModelSetup), crate::openapi::SignedIn))]
async fn model(State(state): State<AppState>, _admin: Admin) -> Json<ModelSetup> {
    Json(model_setup(&state))
}

fn model_setup(state: &AppState) -> ModelSetup {
    ModelSetup {
        model: state.model.get().map(|m| m.name()),
        configured_by_operator: operator_set_model(state),
        choices: CHOICES.to_vec(),
        download: state.setup.download(),
    }
}

fn operator_set_model(state: &AppState) -> bool {
    state.config.llm.is_some() || state.config.llm_gguf_explicit
}

fn installing(download: &Download) -> bool {
    matches!(
        download.state,
        DownloadState::Downloading | DownloadState::Loading
    )
}

fn set_by_configuration() -> Error {
    Error::Conflict {
        code: ErrorCode::ModelSetByConfiguration,
        message: "This server's model is set by LLM_BASE_URL or LLM_GGUF_PATH; change it there."
            .to_owned(),
    }
}

fn download_in_progress() -> Error {
    Error::Conflict {
        code: ErrorCode::DownloadInProgress,
        message: "A model is downloading already; wait for it to finish.".to_owned(),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct DownloadInput {
    /// One of the choices' ids.
    choice: String,
}

/// Starts downloading a model in the background; it is put to work when it is complete
/// and verified. A download that broke off continues where it stopped.
#[utoipa::path(post, path = "/admin/model/download", tag = "setup", request_body = DownloadInput,
    security(("session_cookie" = []), ("bearer" = [])),
    responses((status = 202, description = "Downloading; follow it with GET /api/admin/model.", body = ModelSetup),
        crate::openapi::SignedIn, crate::openapi::Conflicting, crate::openapi::JsonBody))]
async fn download(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ApiJson(input): ApiJson<DownloadInput>,
) -> Result<(StatusCode, Json<ModelSetup>)> {
    let choice = CHOICES
        .iter()
        .find(|c| c.id == input.choice)
        .copied()
        .ok_or_else(|| {
            Error::validation(
                ErrorCode::UnknownModel,
                "Choose one of the models the setup page offers.",
            )
        })?;
    if operator_set_model(&state) {
        return Err(set_by_configuration());
    }
    {
        let mut current = lock(&state.setup.download);
        if current.as_ref().is_some_and(installing) {
            return Err(download_in_progress());
        }
        *current = Some(Download {
            choice: choice.id,
            state: DownloadState::Downloading,
            done_bytes: 0,
            total_bytes: Some(choice.bytes),
            error: None,
        });
    }
    crate::admin::audit(
        &state.db,
        &admin.user.id,
        "model.download",
        "model",
        Some(choice.id),
        None,
    )
    .await?;
    tokio::spawn(install(state.clone(), choice));
    Ok((StatusCode::ACCEPTED, Json(model_setup(&state))))
}

/// Downloads the choice into the models folder, loads it and puts it in the model slot.
async fn install(state: AppState, choice: Choice) {
    let config = &state.config;
    let request = config.hub.request(choice.repo, choice.file, "main", None);
    let setup = state.setup.clone();
    let pulled = hub::pull(&request, &config.models_dir, |done, total| {
        setup.update(|d| {
            d.done_bytes = done;
            d.total_bytes = total;
        });
    })
    .await;
    let loaded = match pulled {
        Err(error) => Err(error.to_string()),
        Ok(pulled) => {
            setup.update(|d| d.state = DownloadState::Loading);
            if !pulled.verified {
                tracing::warn!(
                    file = choice.file,
                    "the hub published no checksum for the model"
                );
            }
            load(&state, pulled.path).await
        }
    };
    match loaded {
        Ok(name) => {
            tracing::info!(model = %name, "model installed from the setup page");
            setup.update(|d| d.state = DownloadState::Ready);
        }
        Err(error) => {
            tracing::warn!(%error, choice = choice.id, "model download failed");
            setup.update(|d| {
                d.state = DownloadState::Failed;
                d.error = Some(error);
            });
        }
    }
}

async fn load(state: &AppState, path: PathBuf) -> std::result::Result<String, String> {
    let settings = &state.config.llm_settings;
    let (template, timeout) = (settings.template, settings.timeout);
    let model = tokio::task::spawn_blocking(move || LocalModel::load(&path, template, timeout))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let name = solace_ai::model::ChatModel::name(&model);
    state.model.set(Arc::new(model));
    // The file just installed is the newest: after a restart it is the one used.
    let _ = std::fs::remove_file(state.config.data_dir.join(SERVER_FILE));
    Ok(name)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ServerInput {
    /// The server's API root up to and including `/v1`, e.g.
    /// `http://127.0.0.1:11434/v1` (Ollama) or `https://router.huggingface.co/v1`.
    base_url: String,
    /// The model id the server expects.
    model: String,
    /// Sent as a bearer token, when the server needs one.
    #[serde(default)]
    api_key: Option<String>,
}

/// Connects an OpenAI-compatible model server instead of downloading a model: it is
/// asked for a one-word reply first, and used (and kept for restarts) only if it gives
/// one.
#[utoipa::path(post, path = "/admin/model/server", tag = "setup", request_body = ServerInput,
    security(("session_cookie" = []), ("bearer" = [])),
    responses((status = 200, description = "Connected: the next turn uses it.", body = ModelSetup),
        crate::openapi::SignedIn, crate::openapi::Conflicting, crate::openapi::JsonBody))]
async fn connect(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ApiJson(input): ApiJson<ServerInput>,
) -> Result<Json<ModelSetup>> {
    use solace_ai::model::{ChatMessage, ChatRequest, ChatRole, Sampling};
    if operator_set_model(&state) {
        return Err(set_by_configuration());
    }
    if state.setup.download().is_some_and(|d| installing(&d)) {
        return Err(download_in_progress());
    }
    let invalid = |message: &str| Error::validation(ErrorCode::InvalidModelServer, message);
    let base_url = url::Url::parse(input.base_url.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .filter(|_| input.base_url.len() <= 2048)
        .ok_or_else(|| {
            invalid("Give the server's http(s) address, e.g. http://127.0.0.1:11434/v1.")
        })?;
    let model_id = input.model.trim();
    if model_id.is_empty()
        || model_id.chars().count() > 200
        || model_id.chars().any(char::is_control)
    {
        return Err(invalid(
            "Give the model's id as the server knows it (at most 200 characters).",
        ));
    }
    let api_key = input
        .api_key
        .map(|k| k.trim().to_owned())
        .filter(|k| !k.is_empty());
    let upstream = LlmUpstream {
        base_url,
        api_key: api_key.clone().map(secrecy::SecretString::from),
        model: model_id.to_owned(),
        max_retries: 0,
    };
    let model = crate::state::upstream_model(&upstream, &state.config.llm_settings)
        .map_err(|e| invalid(&e.to_string()))?;
    // A one-token answer proves the address, the model id and the key.
    let probe = ChatRequest {
        messages: vec![ChatMessage {
            role: ChatRole::User,
            content: "Say OK.".to_owned(),
        }],
        sampling: Sampling {
            max_tokens: 1,
            ..state.config.llm_settings.sampling
        },
    };
    let answered = match model.stream(probe).await {
        Ok(mut tokens) => match futures_util::StreamExt::next(&mut tokens).await {
            Some(Err(error)) => Err(error),
            _ => Ok(()),
        },
        Err(error) => Err(error),
    };
    if let Err(error) = answered {
        return Err(Error::validation(
            ErrorCode::ModelServerUnusable,
            format!("The model server did not answer: {error}. Check the address, the model id and the key."),
        ));
    }
    let saved = SavedServer {
        base_url: upstream.base_url.to_string(),
        model: upstream.model.clone(),
        api_key,
    };
    let json = serde_json::to_string(&saved).map_err(|e| Error::Startup(e.to_string()))?;
    write_private(&state.config.data_dir.join(SERVER_FILE), &json)?;
    state.model.set(model);
    *lock(&state.setup.download) = None;
    crate::admin::audit(
        &state.db,
        &admin.user.id,
        "model.server",
        "model",
        Some(&upstream.model),
        Some(upstream.base_url.as_str()),
    )
    .await?;
    tracing::info!(model = %upstream.model, "model server connected from the setup page");
    Ok(Json(model_setup(&state)))
}
