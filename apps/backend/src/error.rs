//! The crate's one error type and its single mapping to HTTP responses.
//!
//! Every API error body has the shape `{"error": "snake_case_code", "message": "…"}`.
//! Internal causes are logged with the request's span and never sent to the client.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use solace_ai::model::ModelError;

use crate::config::ConfigError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Declares [`ErrorCode`]: each variant with the snake_case code clients see.
macro_rules! error_codes {
    ($($(#[$meta:meta])* $variant:ident = $code:literal,)*) => {
        /// Every code an error body's `error` field can hold: stable, for programs (the
        /// `message` beside it is for people). The OpenAPI contract lists them all.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum ErrorCode {
            $($(#[$meta])* $variant,)*
        }

        impl ErrorCode {
            pub const ALL: &[Self] = &[$(Self::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $code,)*
                }
            }
        }
    };
}

error_codes! {
    AccountBanned = "account_banned",
    AccountRequired = "account_required",
    AdminOnly = "admin_only",
    AlreadyAnswered = "already_answered",
    AlreadyResolved = "already_resolved",
    AlreadySetUp = "already_set_up",
    AlreadySpeaking = "already_speaking",
    AudioServerUnavailable = "audio_server_unavailable",
    BadRequest = "bad_request",
    CannotActOnAdmin = "cannot_act_on_admin",
    CannotActOnSelf = "cannot_act_on_self",
    CannotBlockYourself = "cannot_block_yourself",
    CannotReportYourself = "cannot_report_yourself",
    CannotStepDown = "cannot_step_down",
    ConfirmationRequired = "confirmation_required",
    CrossOriginRequest = "cross_origin_request",
    CsrfTokenInvalid = "csrf_token_invalid",
    DownloadInProgress = "download_in_progress",
    EmailTaken = "email_taken",
    EmbeddingFailed = "embedding_failed",
    EmbeddingTimeout = "embedding_timeout",
    IdentityLinked = "identity_linked",
    InternalError = "internal_error",
    InvalidAudio = "invalid_audio",
    InvalidBody = "invalid_body",
    InvalidCapacity = "invalid_capacity",
    InvalidCredentials = "invalid_credentials",
    InvalidDays = "invalid_days",
    InvalidDisplayName = "invalid_display_name",
    InvalidEmail = "invalid_email",
    InvalidEventName = "invalid_event_name",
    InvalidEventPath = "invalid_event_path",
    InvalidEventProperties = "invalid_event_properties",
    InvalidEventVisit = "invalid_event_visit",
    InvalidLanguage = "invalid_language",
    InvalidLimit = "invalid_limit",
    InvalidModelServer = "invalid_model_server",
    InvalidOffset = "invalid_offset",
    InvalidQuery = "invalid_query",
    InvalidReason = "invalid_reason",
    InvalidRegion = "invalid_region",
    InvalidRole = "invalid_role",
    InvalidRoomToken = "invalid_room_token",
    InvalidSetupToken = "invalid_setup_token",
    InvalidShowAs = "invalid_show_as",
    InvalidSpeechRequest = "invalid_speech_request",
    InvalidStatus = "invalid_status",
    InvalidVisibility = "invalid_visibility",
    InvalidVoice = "invalid_voice",
    InvalidWebhook = "invalid_webhook",
    InvisibleCharacters = "invisible_characters",
    /// A listener tried to unmute: listeners are always muted.
    Listener = "listener",
    LivekitNotConfigured = "livekit_not_configured",
    MalformedJson = "malformed_json",
    MessageEmpty = "message_empty",
    MessageTooLong = "message_too_long",
    MethodNotAllowed = "method_not_allowed",
    ModelNotConfigured = "model_not_configured",
    ModelServerUnusable = "model_server_unusable",
    ModelSetByConfiguration = "model_set_by_configuration",
    ModelTimeout = "model_timeout",
    ModelUnavailable = "model_unavailable",
    NoDisplayName = "no_display_name",
    NotAReply = "not_a_reply",
    NotAllowed = "not_allowed",
    NotFound = "not_found",
    NotInRoom = "not_in_room",
    NotInvited = "not_invited",
    NotReady = "not_ready",
    NotSignedIn = "not_signed_in",
    PasswordContainsEmail = "password_contains_email",
    PasswordRequired = "password_required",
    PasswordTooCommon = "password_too_common",
    PasswordTooLong = "password_too_long",
    PasswordTooShort = "password_too_short",
    PayloadTooLarge = "payload_too_large",
    PlanItemTooLong = "plan_item_too_long",
    PlanTooManyItems = "plan_too_many_items",
    RateLimited = "rate_limited",
    ReasonEmpty = "reason_empty",
    ReasonTooLong = "reason_too_long",
    RecordingTooLong = "recording_too_long",
    RecordingTooShort = "recording_too_short",
    RemovedFromRoom = "removed_from_room",
    RequestTimeout = "request_timeout",
    RetryContentDiffers = "retry_content_differs",
    RetryNeedsSession = "retry_needs_session",
    RetryNotAMessage = "retry_not_a_message",
    RoomClosed = "room_closed",
    RoomFull = "room_full",
    RoomGone = "room_gone",
    SessionExpired = "session_expired",
    SfuNotInUse = "sfu_not_in_use",
    SpeechFailed = "speech_failed",
    SpeechNotConfigured = "speech_not_configured",
    SpeechTimeout = "speech_timeout",
    SpeechUnavailable = "speech_unavailable",
    TemporarilyUnavailable = "temporarily_unavailable",
    TitleEmpty = "title_empty",
    TitleTooLong = "title_too_long",
    TopicTooLong = "topic_too_long",
    TranscriptionNotConfigured = "transcription_not_configured",
    TranscriptionUnavailable = "transcription_unavailable",
    UnknownModel = "unknown_model",
    UnknownQueue = "unknown_queue",
    UnknownVoice = "unknown_voice",
    UnsupportedMediaType = "unsupported_media_type",
    UriTooLong = "uri_too_long",
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The app cannot start: a dependency is unreachable or a setting is unusable.
    #[error("{0}")]
    Startup(String),
    #[error("cache error: {0}")]
    Cache(String),
    /// Encryption at rest failed: a master key is missing or a sealed value is damaged.
    #[error("encryption: {0}")]
    Vault(#[from] crate::vault::VaultError),
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// The resource does not exist, or it is not the caller's (we never say which).
    #[error("We could not find that.")]
    NotFound,
    #[error("{message}")]
    BadRequest { code: ErrorCode, message: String },
    #[error("{message}")]
    Validation { code: ErrorCode, message: String },
    #[error("{message}")]
    Conflict { code: ErrorCode, message: String },
    /// No valid login session, or the credentials are wrong.
    #[error("{message}")]
    Unauthorized { code: ErrorCode, message: String },
    /// Signed in, but not allowed to do this.
    #[error("{message}")]
    Forbidden { code: ErrorCode, message: String },
    /// Slow down; `retry_after_secs` goes into the Retry-After header.
    #[error("Too many attempts. Please wait a little and try again.")]
    TooManyRequests { retry_after_secs: u64 },
    #[error("The request body is too large.")]
    PayloadTooLarge,
    /// The client paused sending its request body for longer than `REQUEST_TIMEOUT_SECS`.
    #[error("The request body stopped arriving.")]
    BodyStalled,
    /// One field is longer than allowed (413 with its own code, e.g. `message_too_long`).
    #[error("{message}")]
    TooLong { code: ErrorCode, message: String },
    /// The language model failed or timed out; the body says whether trying again may help.
    #[error("{0}")]
    Model(#[from] solace_ai::model::ModelError),
    /// A service we depend on (the audio server) failed: 502.
    #[error("{message}")]
    Upstream { code: ErrorCode, message: String },
    /// No language model is configured on this server.
    #[error("No language model is set up on this server yet. An administrator can set LLM_BASE_URL or LLM_GGUF_PATH.")]
    ModelNotConfigured,
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A feature this server has not been set up for (no speech provider…): 503.
    #[error("{message}")]
    Unavailable { code: ErrorCode, message: String },
    /// Something we wait for did not finish in time: 504.
    #[error("{message}")]
    Timeout { code: ErrorCode, message: String },
}

impl Error {
    pub fn validation(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Validation {
            code,
            message: message.into(),
        }
    }

    pub fn unauthorized(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Unauthorized {
            code,
            message: message.into(),
        }
    }

    pub fn forbidden(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Forbidden {
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            message: message.into(),
        }
    }

    /// Turns a unique-constraint violation into a 409 with the given code; anything
    /// else stays a database error. One helper so every insert maps duplicates alike.
    pub fn conflict_on_unique(err: sqlx::Error, code: ErrorCode, message: &str) -> Self {
        match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => Self::Conflict {
                code,
                message: message.to_owned(),
            },
            _ => Self::Database(err),
        }
    }

    fn status_and_code(&self) -> (StatusCode, ErrorCode) {
        match self {
            Self::NotFound => (StatusCode::NOT_FOUND, ErrorCode::NotFound),
            Self::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, *code),
            Self::Validation { code, .. } => (StatusCode::UNPROCESSABLE_ENTITY, *code),
            Self::Conflict { code, .. } => (StatusCode::CONFLICT, *code),
            Self::Unauthorized { code, .. } => (StatusCode::UNAUTHORIZED, *code),
            Self::Forbidden { code, .. } => (StatusCode::FORBIDDEN, *code),
            Self::TooManyRequests { .. } => (StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited),
            Self::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge),
            Self::BodyStalled => (StatusCode::REQUEST_TIMEOUT, ErrorCode::RequestTimeout),
            Self::TooLong { code, .. } => (StatusCode::PAYLOAD_TOO_LARGE, *code),
            Self::Model(error) => model_status_and_code(error),
            Self::ModelNotConfigured => (
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::ModelNotConfigured,
            ),
            Self::Upstream { code, .. } => (StatusCode::BAD_GATEWAY, *code),
            Self::Unavailable { code, .. } => (StatusCode::SERVICE_UNAVAILABLE, *code),
            Self::Timeout { code, .. } => (StatusCode::GATEWAY_TIMEOUT, *code),
            Self::UnsupportedMediaType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::UnsupportedMediaType,
            ),
            // Redis not answering: a clear, retryable 503, never a 500 (what needs only
            // the database keeps working meanwhile).
            Self::Cache(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::TemporarilyUnavailable,
            ),
            // The database connection went away under the request (a failover, a
            // connection reaper, a restart) or SQLite stayed busy: the same clear 503;
            // the pool replaces the connection for the next try.
            Self::Database(e) if connection_lost(e) => (
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::TemporarilyUnavailable,
            ),
            // The key service did not answer (or refused for now): retryable, as a lost
            // database connection is.
            Self::Vault(crate::vault::VaultError::Kms(_)) => (
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::TemporarilyUnavailable,
            ),
            Self::Config(_)
            | Self::Startup(_)
            | Self::Database(_)
            | Self::Migrate(_)
            | Self::Vault(_)
            | Self::Io(_) => (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::InternalError),
        }
    }
}

impl Error {
    /// Whether trying the same thing again soon may work: the database connection was
    /// lost (or SQLite stayed busy), or the key service did not answer.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Database(e) => connection_lost(e),
            Self::Vault(crate::vault::VaultError::Kms(_)) => true,
            _ => false,
        }
    }
}

/// Whether a database error means the connection, not the request, failed: the server
/// went away or refused it (PostgreSQL's classes 08 and 57P), the socket broke, the pool
/// had none to give, or SQLite stayed busy or locked past its timeout. Trying again later
/// can work.
fn connection_lost(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08") || code.starts_with("57P") || code == "5" || code == "6"
        }),
        _ => false,
    }
}

/// The JSON body of every error response.
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    pub error: ErrorCode,
    pub message: &'a str,
    /// Set on model failures: whether sending the same message again may work.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retryable: Option<bool>,
    /// On a failed chat turn: the conversation the person's message was kept in, and that
    /// message, so the app shows it and the next message continues there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<&'a str>,
}

/// What a person is told when the model failed; the technical cause goes to the log.
pub fn model_failure_message(error: &ModelError) -> &'static str {
    match error {
        ModelError::Timeout => "The AI took too long to answer. Please try again.",
        e if e.is_retryable() => "The AI is unavailable right now. Please try again in a moment.",
        _ => "The AI could not answer because of a problem on our side. We've logged it.",
    }
}

/// The status and code of a model failure, for a response or a streamed `error` event.
pub fn model_status_and_code(error: &ModelError) -> (StatusCode, ErrorCode) {
    match error {
        ModelError::Timeout => (StatusCode::GATEWAY_TIMEOUT, ErrorCode::ModelTimeout),
        _ => (StatusCode::BAD_GATEWAY, ErrorCode::ModelUnavailable),
    }
}

/// Builds an error response in the house format.
pub fn error_response(status: StatusCode, code: ErrorCode, message: &str) -> Response {
    json_error(
        status,
        ErrorBody {
            error: code,
            message,
            retryable: None,
            session_id: None,
            message_id: None,
        },
    )
}

/// An error body as a response.
pub fn json_error(status: StatusCode, body: ErrorBody<'_>) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    // Error bodies can describe the caller's own data; keep them out of shared caches.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

impl Error {
    /// A chat turn that failed before the reply began (no model, or the model failed):
    /// the usual error body, with where the person's message was kept.
    pub fn into_turn_response(self, session_id: &str, message_id: &str) -> Response {
        let (status, code) = self.status_and_code();
        let (message, retryable) = match &self {
            Self::Model(error) => model_failed(error),
            other => (other.to_string(), None),
        };
        json_error(
            status,
            ErrorBody {
                error: code,
                message: &message,
                retryable,
                session_id: Some(session_id),
                message_id: Some(message_id),
            },
        )
    }
}

/// Logs a model failure before any reply, and says what the person is told.
fn model_failed(error: &ModelError) -> (String, Option<bool>) {
    tracing::error!(%error, kind = error.kind(), "the model failed before replying");
    (
        model_failure_message(error).to_owned(),
        Some(error.is_retryable()),
    )
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if let Self::Model(error) = &self {
            let (message, retryable) = model_failed(error);
            return json_error(
                status,
                ErrorBody {
                    error: code,
                    message: &message,
                    retryable,
                    session_id: None,
                    message_id: None,
                },
            );
        }
        if matches!(
            self,
            Self::ModelNotConfigured
                | Self::Upstream { .. }
                | Self::Unavailable { .. }
                | Self::Timeout { .. }
        ) {
            return error_response(status, code, &self.to_string());
        }
        if status == StatusCode::SERVICE_UNAVAILABLE
            && matches!(self, Self::Cache(_) | Self::Database(_) | Self::Vault(_))
        {
            tracing::warn!(cause = %self, "a service the request needs is not answering");
            let mut response = error_response(
                status,
                code,
                "Solace is briefly unable to do this. Please try again in a few seconds.",
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            return response;
        }
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
            return error_response(
                status,
                code,
                "Something went wrong on our side. Please try again.",
            );
        }
        let mut response = error_response(status, code, &self.to_string());
        if let Self::TooManyRequests { retry_after_secs } = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_service_that_does_not_answer_is_a_retryable_503() {
        let error = crate::vault::VaultError::Kms("Decrypt: connection refused".into());
        let response = Error::Vault(error).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "5");
    }

    #[test]
    fn a_lost_database_connection_is_a_retryable_503_not_a_500() {
        let broken = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
        for error in [sqlx::Error::Io(broken), sqlx::Error::PoolTimedOut] {
            let response = Error::Database(error).into_response();
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(response.headers()[header::RETRY_AFTER], "5");
        }
        let other = Error::Database(sqlx::Error::RowNotFound).into_response();
        assert_eq!(other.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn every_code_is_distinct_snake_case_and_sent_as_written() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            let text = code.as_str();
            assert!(seen.insert(text), "{text} twice");
            assert!(
                text.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{text}"
            );
            assert_eq!(
                serde_json::to_value(code).ok(),
                Some(serde_json::Value::from(text))
            );
        }
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let response = Error::Io(std::io::Error::other("disk full at /srv/secret")).into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn a_cache_that_is_not_answering_is_a_retryable_503() {
        let response = Error::Cache("connection refused to 10.0.0.7".into()).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "5");
    }

    #[test]
    fn validation_errors_are_422_with_their_code() {
        let (status, code) = Error::validation(ErrorCode::TitleTooLong, "x").status_and_code();
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(code, ErrorCode::TitleTooLong);
    }

    #[test]
    fn non_unique_database_errors_are_not_conflicts() {
        let err =
            Error::conflict_on_unique(sqlx::Error::RowNotFound, ErrorCode::EmailTaken, "taken");
        assert!(matches!(err, Error::Database(_)));
    }
}
