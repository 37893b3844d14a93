//! People, for administrators: search by email or pseudonym, ban and unban, delete.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{audit, not_an_admin_or_self};
use crate::auth::{sessions, Admin};
use crate::chat::Page;
use crate::db::{now_ms, touched_a_row};
use crate::error::{Error, ErrorCode, Result};
use crate::extract::{ApiJson, ApiQuery};
use crate::state::AppState;
use crate::users::{self, UserKind};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct SearchQuery {
    /// Part of an email address or pseudonym, any case; empty lists everyone.
    #[param(max_length = 200)]
    q: Option<String>,
    /// 1–100, 20 by default.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// At least 0.
    #[param(minimum = 0)]
    offset: Option<i64>,
}

/// A person as administrators see them.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub(super) struct Person {
    id: String,
    #[sqlx(try_from = "String")]
    kind: UserKind,
    #[schema(required = true)]
    email: Option<String>,
    pseudonym: String,
    #[schema(required = true)]
    display_name: Option<String>,
    #[sqlx(try_from = "String")]
    role: users::Role,
    #[serde(with = "crate::db::rfc3339_ms")]
    #[schema(value_type = String, format = DateTime)]
    created_at: i64,
    /// When an administrator banned the account; `null` when it is not banned.
    #[serde(with = "crate::db::rfc3339_ms::option")]
    #[schema(value_type = Option<String>, format = DateTime, required = true)]
    banned_at: Option<i64>,
    #[schema(required = true)]
    banned_reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct People {
    people: Vec<Person>,
}

/// People whose email or pseudonym contains `q`, newest first.
#[utoipa::path(get, path = "/admin/users", tag = "admin", params(SearchQuery), security(("session_cookie" = []), ("bearer" = [])),
    responses((status = 200, description = "A page of people, newest first.", body = People), crate::openapi::SignedIn, crate::openapi::QueryString))]
pub(super) async fn search(
    State(state): State<AppState>,
    _admin: Admin,
    ApiQuery(query): ApiQuery<SearchQuery>,
) -> Result<Json<People>> {
    let page = Page::new(query.limit, query.offset)?;
    let raw = query.q.unwrap_or_default();
    // Counted as given (as the contract's maxLength does), before trimming.
    if raw.chars().count() > 200 {
        return Err(Error::validation(
            ErrorCode::InvalidQuery,
            "q can be at most 200 characters.",
        ));
    }
    let q = raw.trim().to_lowercase();
    // The search text is matched literally: LIKE's wildcards in it are escaped.
    let pattern = format!(
        "%{}%",
        q.replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    let people = sqlx::query_as(
        "SELECT id, kind, email, pseudonym, display_name, role, created_at, banned_at, banned_reason \
         FROM users \
         WHERE $1 = '' OR LOWER(COALESCE(email, '')) LIKE $2 ESCAPE '\\' OR LOWER(pseudonym) LIKE $2 ESCAPE '\\' \
         ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4",
    )
    .bind(q)
    .bind(pattern)
    .bind(page.limit)
    .bind(page.offset)
    .fetch_all(state.db.pool())
    .await?;
    Ok(Json(People { people }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct BanInput {
    /// Why, in a few words (kept with the account and in the audit log); 1–500 characters.
    reason: String,
}

/// Bans an account: it is signed out everywhere, leaves every room and cannot sign in
/// again until unbanned. Not for administrators or oneself.
pub async fn ban(state: &AppState, admin_id: &str, user_id: &str, reason: &str) -> Result<()> {
    let user = users::find(&state.db, user_id)
        .await?
        .ok_or(Error::NotFound)?;
    not_an_admin_or_self(admin_id, &user, "ban")?;
    let done = sqlx::query(
        "UPDATE users SET banned_at = $1, banned_reason = $2, updated_at = $1 WHERE id = $3",
    )
    .bind(now_ms())
    .bind(reason.to_owned())
    .bind(user_id.to_owned())
    .execute(state.db.pool())
    .await?;
    touched_a_row(&done)?;
    sessions::revoke_all(&state.db, user_id).await?;
    // Recorded before leaving the rooms, which may need the audio server.
    audit(
        &state.db,
        admin_id,
        "user.banned",
        "user",
        Some(user_id),
        Some(reason),
    )
    .await?;
    crate::rooms::expel_everywhere(state, user_id, "banned").await
}

fn ban_reason(raw: &str) -> Result<String> {
    let reason = crate::text::visible("reason", raw, false)?;
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(Error::validation(
            ErrorCode::InvalidReason,
            "Say briefly why, in at most 500 characters.",
        ));
    }
    Ok(reason)
}

/// Bans an account (see [`ban`]).
#[utoipa::path(post, path = "/admin/users/{id}/ban", tag = "admin", params(("id" = String, Path, description = "The person.")), request_body = BanInput, security(("session_cookie" = []), ("bearer" = [])),
    responses((status = 204, description = "Banned."), crate::openapi::SignedIn, crate::openapi::Missing, crate::openapi::Conflicting, crate::openapi::JsonBody, crate::openapi::Upstream))]
pub(super) async fn ban_route(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<BanInput>,
) -> Result<StatusCode> {
    let reason = ban_reason(&input.reason)?;
    ban(&state, &admin.user.id, &id, &reason).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lifts a ban.
#[utoipa::path(delete, path = "/admin/users/{id}/ban", tag = "admin", params(("id" = String, Path, description = "The person.")), security(("session_cookie" = []), ("bearer" = [])),
    responses((status = 204, description = "Not banned any more."), crate::openapi::SignedIn, crate::openapi::Missing))]
pub(super) async fn unban(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let done = sqlx::query(
        "UPDATE users SET banned_at = NULL, banned_reason = NULL, updated_at = $1 WHERE id = $2",
    )
    .bind(now_ms())
    .bind(id.clone())
    .execute(state.db.pool())
    .await?;
    touched_a_row(&done)?;
    audit(
        &state.db,
        &admin.user.id,
        "user.unbanned",
        "user",
        Some(&id),
        None,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes an account with everything it owns. Not for administrators or oneself.
#[utoipa::path(delete, path = "/admin/users/{id}", tag = "admin", params(("id" = String, Path, description = "The person.")), security(("session_cookie" = []), ("bearer" = [])),
    responses((status = 204, description = "Deleted with everything it owned."), crate::openapi::SignedIn, crate::openapi::Missing, crate::openapi::Conflicting, crate::openapi::Upstream))]
pub(super) async fn delete(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let user = users::find(&state.db, &id).await?.ok_or(Error::NotFound)?;
    not_an_admin_or_self(&admin.user.id, &user, "delete")?;
    crate::rooms::expel_everywhere(&state, &id, "account deleted").await?;
    users::delete(&state.db, &id).await?;
    audit(
        &state.db,
        &admin.user.id,
        "user.deleted",
        "user",
        Some(&id),
        None,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
