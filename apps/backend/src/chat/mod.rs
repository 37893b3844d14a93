//! Conversations with the AI supporter: chat sessions, their messages, the model's
//! memory of them and the streaming reply.
//!
//! Every function takes the owner's id and filters by it, so one person can never
//! read, change or learn of another person's conversation: a session that is not
//! the caller's is simply "not found".

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Identity;
use crate::db::{col, new_id, now_ms, touched_a_row, Db};
use crate::error::{Error, ErrorCode, Result};
use crate::extract::{ApiJson, ApiQuery};
use crate::openapi::{JsonBody, Missing, QueryString, SignedIn};
use crate::state::AppState;
use crate::vault::Slot;

mod recent;
pub(crate) mod reply;

pub use recent::Recent;
pub use reply::streaming_router;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(reply::router())
        .routes(routes!(list, create))
        .routes(routes!(show, rename, remove))
        .routes(routes!(messages))
}

/// `?limit=&offset=` of a paginated list; checked by [`Page::new`].
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1–100, 20 by default.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// At least 0.
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
struct SessionList {
    sessions: Vec<ChatSession>,
}

/// The caller's conversations, most recently active first.
#[utoipa::path(get, path = "/chat/sessions", tag = "chat", params(PageQuery), security(("session_cookie" = []), ("bearer" = [])),
    responses((status = 200, description = "A page of conversations.", body = SessionList), SignedIn, QueryString))]
async fn list(
    State(state): State<AppState>,
    identity: Identity,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<SessionList>> {
    let page = Page::new(query.limit, query.offset)?;
    let sessions = list_sessions(&state.db, &identity.user.id, page).await?;
    Ok(Json(SessionList { sessions }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct TitleInput {
    /// At most 120 characters; "New conversation" when absent on creation.
    title: Option<String>,
}

/// Starts an empty conversation (sending a message without `session_id` does too).
#[utoipa::path(post, path = "/chat/sessions", tag = "chat", request_body = TitleInput, security(("session_cookie" = []), ("bearer" = [])),
    responses((status = 201, description = "The new conversation.", body = ChatSession), SignedIn, JsonBody))]
async fn create(
    State(state): State<AppState>,
    identity: Identity,
    ApiJson(input): ApiJson<TitleInput>,
) -> Result<(StatusCode, Json<ChatSession>)> {
    let title = SessionTitle::parse(input.title.as_deref().unwrap_or("New conversation"))?;
    let session = create_session(&state.db, &identity.user.id, &title).await?;
    Ok((StatusCode::CREATED, Json(session)))
}

/// One of the caller's conversations.
#[utoipa::path(get, path = "/chat/sessions/{id}", tag = "chat", params(("id" = String, Path)), security(("session_cookie" = []), ("bearer" = [])),
    responses((status = 200, description = "The conversation.", body = ChatSession), SignedIn, Missing))]
async fn show(
    State(state): State<AppState>,
    identity: Identity,
    Path(id): Path<String>,
) -> Result<Json<ChatSession>> {
    Ok(Json(get_session(&state.db, &identity.user.id, &id).await?))
}

/// Renames one of the caller's conversations.
#[utoipa::path(patch, path = "/chat/sessions/{id}", tag = "chat", params(("id" = String, Path)), request_body = TitleInput, security(("session_cookie" = []), ("bearer" = [])),
    responses((status = 200, description = "The renamed conversation.", body = ChatSession), SignedIn, Missing, JsonBody))]
async fn rename(
    State(state): State<AppState>,
    identity: Identity,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<TitleInput>,
) -> Result<Json<ChatSession>> {
    let title = SessionTitle::parse(input.title.as_deref().unwrap_or_default())?;
    Ok(Json(
        rename_session(&state.db, &identity.user.id, &id, &title).await?,
    ))
}

/// Deletes one of the caller's conversations and its messages.
#[utoipa::path(delete, path = "/chat/sessions/{id}", tag = "chat", params(("id" = String, Path)), security(("session_cookie" = []), ("bearer" = [])),
    responses((status = 204, description = "Deleted."), SignedIn, Missing))]
async fn remove(
    State(state): State<AppState>,
    identity: Identity,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    delete_session(&state.db, &identity.user.id, &id).await?;
    Recent::of(&state).forget(&id).await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct MessagesQuery {
    /// 1–500, 100 by default.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
struct MessageList {
    messages: Vec<Message>,
}

/// A conversation's newest `limit` messages, oldest first.
#[utoipa::path(get, path = "/chat/sessions/{id}/messages", tag = "chat", params(("id" = String, Path), MessagesQuery), security(("session_cookie" = []), ("bearer" = [])),
    responses((status = 200, description = "The messages.", body = MessageList), SignedIn, Missing, QueryString))]
async fn messages(
    State(state): State<AppState>,
    identity: Identity,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<MessagesQuery>,
) -> Result<Json<MessageList>> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(Error::validation(
            ErrorCode::InvalidLimit,
            "limit must be between 1 and 500.",
        ));
    }
    let messages = recent_messages(&state.db, &identity.user.id, &id, limit).await?;
    Ok(Json(MessageList { messages }))
}

/// A conversation's title, trimmed and bounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionTitle(String);

impl SessionTitle {
    pub const MAX_CHARS: usize = 120;

    pub fn parse(raw: &str) -> Result<Self> {
        let title = crate::text::visible("title", raw, false)?;
        if title.is_empty() {
            return Err(Error::validation(
                ErrorCode::TitleEmpty,
                "A title cannot be empty.",
            ));
        }
        if title.chars().count() > Self::MAX_CHARS {
            return Err(Error::validation(
                ErrorCode::TitleTooLong,
                format!("A title can be at most {} characters.", Self::MAX_CHARS),
            ));
        }
        Ok(Self(title))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    User,
    Assistant,
    System,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Assistant => "assistant",
            Self::System => "system",
        }
    }

    fn parse(raw: &str) -> Result<Self> {
        match raw {
            "user" => Ok(Self::User),
            "assistant" => Ok(Self::Assistant),
            "system" => Ok(Self::System),
            other => Err(decode_error(format!("unknown message role '{other}'"))),
        }
    }
}

/// Whether a message was written out in full or cut short.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    Complete,
    Incomplete,
}

impl MessageStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Complete => "complete",
            Self::Incomplete => "incomplete",
        }
    }

    fn parse(raw: &str) -> Result<Self> {
        match raw {
            "complete" => Ok(Self::Complete),
            "incomplete" => Ok(Self::Incomplete),
            other => Err(decode_error(format!("unknown message status '{other}'"))),
        }
    }
}

fn decode_error(message: String) -> Error {
    Error::Database(sqlx::Error::Decode(message.into()))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChatSession {
    pub id: String,
    #[serde(skip)]
    pub owner_id: String,
    pub title: String,
    /// When the safety layer first saw a crisis here; null if it never did.
    #[serde(with = "crate::db::rfc3339_ms::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    #[schema(required = true)]
    pub flagged_at: Option<i64>,
    #[serde(with = "crate::db::rfc3339_ms")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
    #[serde(with = "crate::db::rfc3339_ms")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: i64,
    /// The model's summary of the turns that no longer fit its window (given to the
    /// model, included in the export; not part of this API object).
    #[serde(skip)]
    #[schema(ignore)]
    pub summary: Option<String>,
    /// How many of the first messages the summary covers.
    #[serde(skip)]
    #[schema(ignore)]
    pub summary_covers: i64,
    /// How many messages the conversation held when it was read.
    #[serde(skip)]
    #[schema(ignore)]
    pub message_count: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Message {
    pub id: String,
    pub session_id: String,
    pub role: Role,
    pub content: String,
    pub status: MessageStatus,
    #[serde(with = "crate::db::rfc3339_ms")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

const SESSION_COLUMNS: &str = "id, owner_id, title, flagged_at, created_at, updated_at";
/// What is read back: the columns written, and the summary of the older turns.
const SESSION_READ: &str = "id, owner_id, title, flagged_at, created_at, updated_at, summary, \
     summary_covers, (SELECT COUNT(*) FROM messages m WHERE m.session_id = chat_sessions.id) AS message_count";
const MESSAGE_COLUMNS: &str = "id, session_id, role, content, status, created_at";

/// Where a session's title is sealed (see [`crate::vault`]).
pub const TITLE_SLOT: &str = "chat_sessions.title";
/// Where a session's summary is sealed.
pub const SUMMARY_SLOT: &str = "chat_sessions.summary";
/// Where a message's text is sealed.
pub const CONTENT_SLOT: &str = "messages.content";

async fn session_from_row(db: &Db, row: &AnyRow) -> Result<ChatSession> {
    let vault = db.vault()?;
    let id: String = col(row, "id")?;
    let title = vault
        .open_text(Slot::new(TITLE_SLOT, &id), col(row, "title")?)
        .await?;
    let summary = vault
        .open_text_opt(Slot::new(SUMMARY_SLOT, &id), col(row, "summary")?)
        .await?;
    Ok(ChatSession {
        owner_id: col(row, "owner_id")?,
        title,
        flagged_at: col(row, "flagged_at")?,
        created_at: col(row, "created_at")?,
        updated_at: col(row, "updated_at")?,
        summary,
        summary_covers: col(row, "summary_covers")?,
        message_count: col(row, "message_count")?,
        id,
    })
}

async fn message_from_row(db: &Db, row: &AnyRow) -> Result<Message> {
    let id: String = col(row, "id")?;
    let content = db
        .vault()?
        .open_text(Slot::new(CONTENT_SLOT, &id), col(row, "content")?)
        .await?;
    Ok(Message {
        session_id: col(row, "session_id")?,
        role: Role::parse(&col::<String>(row, "role")?)?,
        content,
        status: MessageStatus::parse(&col::<String>(row, "status")?)?,
        created_at: col(row, "created_at")?,
        id,
    })
}

/// A page of a list: at most `limit` rows after skipping `offset`.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub limit: i64,
    pub offset: i64,
}

impl Page {
    pub const MAX_LIMIT: i64 = 100;

    pub fn new(limit: Option<i64>, offset: Option<i64>) -> Result<Self> {
        let limit = limit.unwrap_or(20);
        let offset = offset.unwrap_or(0);
        if !(1..=Self::MAX_LIMIT).contains(&limit) {
            return Err(Error::validation(
                ErrorCode::InvalidLimit,
                format!("limit must be between 1 and {}.", Self::MAX_LIMIT),
            ));
        }
        if offset < 0 {
            return Err(Error::validation(
                ErrorCode::InvalidOffset,
                "offset cannot be negative.",
            ));
        }
        Ok(Self { limit, offset })
    }
}

#[tracing::instrument(skip_all)]
pub async fn create_session(db: &Db, owner_id: &str, title: &SessionTitle) -> Result<ChatSession> {
    let sql = format!(
        "INSERT INTO chat_sessions ({SESSION_COLUMNS}) VALUES ($1, $2, $3, NULL, $4, $4) RETURNING {SESSION_READ}"
    );
    let id = new_id();
    let title = db
        .vault()?
        .sealer(owner_id)
        .await?
        .seal_text(Slot::new(TITLE_SLOT, &id), title.as_str())?;
    let row = sqlx::query(&sql)
        .bind(id)
        .bind(owner_id.to_owned())
        .bind(title)
        .bind(now_ms())
        .fetch_one(db.pool())
        .await?;
    session_from_row(db, &row).await
}

/// The owner's sessions, most recently active first.
pub async fn list_sessions(db: &Db, owner_id: &str, page: Page) -> Result<Vec<ChatSession>> {
    let sql = format!(
        "SELECT {SESSION_READ} FROM chat_sessions WHERE owner_id = $1 \
         ORDER BY updated_at DESC, id DESC LIMIT $2 OFFSET $3"
    );
    let rows = sqlx::query(&sql)
        .bind(owner_id.to_owned())
        .bind(page.limit)
        .bind(page.offset)
        .fetch_all(db.pool())
        .await?;
    let mut sessions = Vec::with_capacity(rows.len());
    for row in &rows {
        sessions.push(session_from_row(db, row).await?);
    }
    Ok(sessions)
}

/// One of the owner's sessions; another person's session is `NotFound`.
pub async fn get_session(db: &Db, owner_id: &str, id: &str) -> Result<ChatSession> {
    let sql = format!("SELECT {SESSION_READ} FROM chat_sessions WHERE id = $1 AND owner_id = $2");
    let row = sqlx::query(&sql)
        .bind(id.to_owned())
        .bind(owner_id.to_owned())
        .fetch_optional(db.pool())
        .await?
        .ok_or(Error::NotFound)?;
    session_from_row(db, &row).await
}

#[tracing::instrument(skip_all)]
pub async fn rename_session(
    db: &Db,
    owner_id: &str,
    id: &str,
    title: &SessionTitle,
) -> Result<ChatSession> {
    let sql = format!(
        "UPDATE chat_sessions SET title = $1, updated_at = $2 WHERE id = $3 AND owner_id = $4 \
         RETURNING {SESSION_READ}"
    );
    let title = db
        .vault()?
        .sealer(owner_id)
        .await?
        .seal_text(Slot::new(TITLE_SLOT, id), title.as_str())?;
    let row = sqlx::query(&sql)
        .bind(title)
        .bind(now_ms())
        .bind(id.to_owned())
        .bind(owner_id.to_owned())
        .fetch_optional(db.pool())
        .await?
        .ok_or(Error::NotFound)?;
    session_from_row(db, &row).await
}

/// Deletes the session and its messages.
#[tracing::instrument(skip_all)]
pub async fn delete_session(db: &Db, owner_id: &str, id: &str) -> Result<()> {
    let done = sqlx::query("DELETE FROM chat_sessions WHERE id = $1 AND owner_id = $2")
        .bind(id.to_owned())
        .bind(owner_id.to_owned())
        .execute(db.pool())
        .await?;
    touched_a_row(&done)
}

/// Marks the session as one where the safety layer saw a crisis; the first mark stays.
#[tracing::instrument(skip_all)]
pub async fn flag_session(db: &Db, owner_id: &str, id: &str) -> Result<()> {
    let done = sqlx::query(
        "UPDATE chat_sessions SET flagged_at = COALESCE(flagged_at, $1), updated_at = $1 \
         WHERE id = $2 AND owner_id = $3",
    )
    .bind(now_ms())
    .bind(id.to_owned())
    .bind(owner_id.to_owned())
    .execute(db.pool())
    .await?;
    touched_a_row(&done)
}

/// A message to store.
#[derive(Debug, Clone)]
pub struct NewMessage<'a> {
    /// Chosen by the caller (`new_id()`), so that storing it again after an unclear
    /// failure (the commit may have landed) finds it instead of storing it twice.
    pub id: String,
    pub role: Role,
    pub content: &'a str,
    pub status: MessageStatus,
}

/// Appends a message to one of the owner's sessions and marks the session active.
///
/// Ownership is checked inside the same transaction as the insert, so a message can
/// never land in someone else's conversation. Appending the same id again returns the
/// message stored the first time.
#[tracing::instrument(skip_all, fields(role = ?new.role))]
pub async fn append_message(
    db: &Db,
    owner_id: &str,
    session_id: &str,
    new: NewMessage<'_>,
) -> Result<Message> {
    let now = now_ms();
    let id = new.id.as_str();
    let content = db
        .vault()?
        .sealer(owner_id)
        .await?
        .seal_text(Slot::new(CONTENT_SLOT, id), new.content)?;
    let mut tx = db.pool().begin().await?;
    let touched =
        sqlx::query("UPDATE chat_sessions SET updated_at = $1 WHERE id = $2 AND owner_id = $3")
            .bind(now)
            .bind(session_id.to_owned())
            .bind(owner_id.to_owned())
            .execute(&mut *tx)
            .await?;
    touched_a_row(&touched)?;
    let sql = format!(
        "INSERT INTO messages (id, session_id, owner_id, role, content, status, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT (id) DO NOTHING \
         RETURNING {MESSAGE_COLUMNS}"
    );
    let row = sqlx::query(&sql)
        .bind(id.to_owned())
        .bind(session_id.to_owned())
        .bind(owner_id.to_owned())
        .bind(new.role.as_str())
        .bind(content)
        .bind(new.status.as_str())
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
    tx.commit().await?;
    match row {
        Some(row) => message_from_row(db, &row).await,
        None => get_message(db, owner_id, id).await,
    }
}

/// One of the owner's messages.
pub async fn get_message(db: &Db, owner_id: &str, id: &str) -> Result<Message> {
    let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = $1 AND owner_id = $2");
    let row = sqlx::query(&sql)
        .bind(id.to_owned())
        .bind(owner_id.to_owned())
        .fetch_optional(db.pool())
        .await?
        .ok_or(crate::error::Error::NotFound)?;
    message_from_row(db, &row).await
}

/// The person's message whose reply failed, to be answered again (a retry), with the
/// newest `limit` messages before it, oldest first. Refused when the message is not the
/// owner's (404), not the person's or not in `session_id` (422), or already has a full
/// reply or a later message after it (409): a retry never stores the message twice.
pub async fn retried_message(
    db: &Db,
    owner_id: &str,
    session_id: &str,
    message_id: &str,
    limit: i64,
) -> Result<(Message, Vec<Message>)> {
    let message = get_message(db, owner_id, message_id).await?;
    if message.session_id != session_id || message.role != Role::User {
        return Err(Error::validation(
            ErrorCode::RetryNotAMessage,
            "Only your own message in this conversation can be answered again.",
        ));
    }
    let later = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE session_id = $1 AND owner_id = $2 \
         AND (created_at > $3 OR (created_at = $3 AND id > $4))"
    );
    let after = sqlx::query(&later)
        .bind(session_id.to_owned())
        .bind(owner_id.to_owned())
        .bind(message.created_at)
        .bind(message.id.clone())
        .fetch_all(db.pool())
        .await?;
    // A reply cut short (the model failed mid-way) may stand after it; nothing else.
    for row in &after {
        let role = col::<String>(row, "role")?;
        let status = col::<String>(row, "status")?;
        if role != Role::Assistant.as_str() || status != MessageStatus::Incomplete.as_str() {
            return Err(Error::Conflict {
                code: ErrorCode::AlreadyAnswered,
                message: "This message already has a reply; send a new one instead.".into(),
            });
        }
    }
    let earlier = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE session_id = $1 AND owner_id = $2 \
         AND (created_at < $3 OR (created_at = $3 AND id < $4)) \
         ORDER BY created_at DESC, id DESC LIMIT $5"
    );
    let rows = sqlx::query(&earlier)
        .bind(session_id.to_owned())
        .bind(owner_id.to_owned())
        .bind(message.created_at)
        .bind(message.id.clone())
        .bind(limit)
        .fetch_all(db.pool())
        .await?;
    Ok((message, oldest_first(db, &rows).await?))
}

/// Messages read newest first (to take the last few), decoded oldest first.
async fn oldest_first(db: &Db, rows: &[AnyRow]) -> Result<Vec<Message>> {
    let mut messages = Vec::with_capacity(rows.len());
    for row in rows.iter().rev() {
        messages.push(message_from_row(db, row).await?);
    }
    Ok(messages)
}

/// The newest `limit` messages of one of the owner's sessions, oldest first.
pub async fn recent_messages(
    db: &Db,
    owner_id: &str,
    session_id: &str,
    limit: i64,
) -> Result<Vec<Message>> {
    // Fails with NotFound before reading anything when the session is not the owner's.
    get_session(db, owner_id, session_id).await?;
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE session_id = $1 AND owner_id = $2 \
         ORDER BY created_at DESC, id DESC LIMIT $3"
    );
    let rows = sqlx::query(&sql)
        .bind(session_id.to_owned())
        .bind(owner_id.to_owned())
        .bind(limit)
        .fetch_all(db.pool())
        .await?;
    oldest_first(db, &rows).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_trimmed() {
        let title = SessionTitle::parse("  Sleep worries  ").map(|t| t.as_str().to_owned());
        assert_eq!(title.ok().as_deref(), Some("Sleep worries"));
    }

    #[test]
    fn blank_titles_are_rejected() {
        assert!(matches!(
            SessionTitle::parse(" \n "),
            Err(Error::Validation {
                code: ErrorCode::TitleEmpty,
                ..
            })
        ));
    }

    #[test]
    fn overlong_titles_are_rejected_by_characters_not_bytes() {
        assert!(SessionTitle::parse(&"é".repeat(SessionTitle::MAX_CHARS)).is_ok());
        assert!(matches!(
            SessionTitle::parse(&"é".repeat(SessionTitle::MAX_CHARS + 1)),
            Err(Error::Validation {
                code: ErrorCode::TitleTooLong,
                ..
            })
        ));
    }

    #[test]
    fn pages_are_bounded() {
        assert!(Page::new(None, None).is_ok());
        assert!(Page::new(Some(0), None).is_err());
        assert!(Page::new(Some(Page::MAX_LIMIT + 1), None).is_err());
        assert!(Page::new(Some(10), Some(-1)).is_err());
    }
}
