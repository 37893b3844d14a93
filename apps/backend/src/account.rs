//! Your account and your data: profile, password, export, deletion.

use std::net::IpAddr;

use axum::extract::State;
use axum::http::header::CONTENT_DISPOSITION;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sqlx::any::AnyRow;
use sqlx::{Column, Row};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{self, sessions, throttle, ClientIp, Identity, Password, RegisteredUser};
use crate::chat::{CONTENT_SLOT, SUMMARY_SLOT, TITLE_SLOT};
use crate::error::{Error, ErrorCode, Result};
use crate::extract::ApiJson;
use crate::openapi::{JsonBody, Limited, SignedIn, Unauthenticated, Unavailable};
use crate::safety_plan::{PLAN_SLOT, SAFETY_PLAN_ROW};
use crate::state::AppState;
use crate::users::{self, User};
use crate::vault::Slot;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(update_profile, delete_account))
        .routes(routes!(change_password))
        .routes(routes!(export))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ProfileInput {
    /// A name to show instead of the pseudonym; `null` or blank clears it.
    display_name: Option<String>,
}

/// Changes the account's display name (accounts only, not guests).
#[utoipa::path(patch, path = "/me", tag = "account", request_body = ProfileInput,
    security(("session_cookie" = []), ("bearer" = [])),
    responses((status = 200, description = "The updated account.", body = User), SignedIn, JsonBody))]
async fn update_profile(
    State(state): State<AppState>,
    RegisteredUser(identity): RegisteredUser,
    ApiJson(input): ApiJson<ProfileInput>,
) -> Result<Json<User>> {
    let name = auth::parse_display_name(input.display_name.as_deref())?;
    let user = users::set_display_name(&state.db, &identity.user.id, name.as_deref()).await?;
    Ok(Json(user))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PasswordInput {
    current_password: String,
    new_password: String,
}

/// Confirms a sensitive change with the account's password. Wrong guesses count against
/// the account and the address like failed logins, so a stolen session cannot be used to
/// guess the password.
async fn require_password(
    state: &AppState,
    ip: IpAddr,
    identity: &Identity,
    raw: &str,
) -> Result<()> {
    let wrong =
        || Error::unauthorized(ErrorCode::InvalidCredentials, "That password is not right.");
    let keys = throttle::Keys::for_confirmation(&identity.user.id, ip);
    throttle::check(state.cache.as_ref(), &keys).await?;
    let attempt = Password::parse_attempt(raw).map_err(|_| wrong())?;
    if attempt.verify(identity.user.password_hash.clone()).await? {
        throttle::clear(state.cache.as_ref(), &keys).await
    } else {
        throttle::record_failure(state.cache.as_ref(), &keys).await?;
        Err(wrong())
    }
}

/// A new token after a password change.
#[derive(Debug, Serialize, ToSchema)]
struct NewCsrfToken {
    csrf_token: String,
}

/// Changes the password: every other session ends; this one gets a new token (and cookie).
#[utoipa::path(post, path = "/me/password", tag = "account", request_body = PasswordInput,
    security(("session_cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Changed; the CSRF token of the new session.", body = NewCsrfToken),
        SignedIn, Unauthenticated, JsonBody, Limited, Unavailable,
    ))]
async fn change_password(
    State(state): State<AppState>,
    RegisteredUser(identity): RegisteredUser,
    ClientIp(ip): ClientIp,
    ApiJson(input): ApiJson<PasswordInput>,
) -> Result<Response> {
    require_password(&state, ip, &identity, &input.current_password).await?;
    let email = identity
        .user
        .email
        .as_deref()
        .map(auth::Email::parse)
        .transpose()?;
    let hash = Password::parse_new(&input.new_password, email.as_ref())?
        .hash()
        .await?;
    users::set_password_hash(&state.db, &identity.user.id, &hash).await?;
    sessions::revoke_all(&state.db, &identity.user.id).await?;
    let token = sessions::create(&state.db, &identity.user.id, state.config.session_ttl).await?;
    let mut response = Json(NewCsrfToken {
        csrf_token: sessions::csrf_token(&token),
    })
    .into_response();
    auth::set_session_cookie(&state, &mut response, &token);
    tracing::info!(user_id = %identity.user.id, "password changed");
    Ok(response)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct DeleteInput {
    /// Accounts with a password confirm with it.
    password: Option<String>,
    /// Guests and single-sign-on accounts, who have no password, type their pseudonym.
    confirm: Option<String>,
}

/// Removes the identity and everything it owns, irreversibly. Accounts with a password
/// confirm with it; guests and single-sign-on accounts type their pseudonym.
#[utoipa::path(delete, path = "/me", tag = "account", request_body = DeleteInput,
    security(("session_cookie" = []), ("bearer" = [])),
    responses(
        (status = 204, description = "Deleted; the cookie is cleared."),
        SignedIn, Unauthenticated, JsonBody, Limited, Unavailable,
    ))]
async fn delete_account(
    State(state): State<AppState>,
    identity: Identity,
    ClientIp(ip): ClientIp,
    ApiJson(input): ApiJson<DeleteInput>,
) -> Result<Response> {
    if identity.user.password_hash.is_some() {
        let password = input.password.ok_or_else(|| {
            Error::validation(
                ErrorCode::PasswordRequired,
                "Enter your password to delete your account.",
            )
        })?;
        require_password(&state, ip, &identity, &password).await?;
    } else if input.confirm.as_deref().map(str::trim) != Some(identity.user.pseudonym.as_str()) {
        // Guests and accounts that sign in through an identity provider have no password.
        return Err(Error::validation(
            ErrorCode::ConfirmationRequired,
            format!(
                "Type your pseudonym, {}, to confirm.",
                identity.user.pseudonym
            ),
        ));
    }
    users::delete(&state.db, &identity.user.id).await?;
    tracing::info!(user_id = %identity.user.id, "account deleted");
    let mut response = StatusCode::NO_CONTENT.into_response();
    auth::clear_session_cookie(&state, &mut response);
    Ok(response)
}

/// A row as a JSON object, whatever its columns (text, numbers or null).
fn row_to_json(row: &AnyRow) -> Value {
    let mut object = Map::new();
    for (index, column) in row.columns().iter().enumerate() {
        let value = row
            .try_get::<Option<String>, _>(index)
            .map(|v| v.map_or(Value::Null, Value::String))
            .or_else(|_| {
                row.try_get::<Option<i64>, _>(index)
                    .map(|v| v.map_or(Value::Null, Value::from))
            })
            .unwrap_or(Value::Null);
        object.insert(column.name().to_owned(), value);
    }
    Value::Object(object)
}

async fn rows(state: &AppState, sql: &str, user_id: &str) -> Result<Vec<Value>> {
    opened(state, sql, user_id, &[]).await
}

/// A sealed column of an exported row: its field, its slot, and the slot's row (the
/// row's `id` unless fixed).
type Sealed = (&'static str, &'static str, Option<&'static str>);

/// The rows, with the sealed columns `fields` opened.
async fn opened(
    state: &AppState,
    sql: &str,
    user_id: &str,
    fields: &[Sealed],
) -> Result<Vec<Value>> {
    let rows = sqlx::query(sql)
        .bind(user_id.to_owned())
        .fetch_all(state.db.pool())
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let mut value = row_to_json(row);
        for (field, slot, fixed_row) in fields {
            let row_key = match fixed_row {
                Some(fixed) => (*fixed).to_owned(),
                None => value["id"].as_str().unwrap_or_default().to_owned(),
            };
            if let Some(Value::String(stored)) = value.get_mut(*field) {
                let plain = state
                    .db
                    .vault()?
                    .open_text(Slot::new(slot, &row_key), std::mem::take(stored))
                    .await?;
                *stored = plain;
            }
        }
        out.push(value);
    }
    Ok(out)
}

/// Everything Solace holds about the caller, as one JSON file (`format`:
/// `solace-export/1`). Secrets (the password hash, session token hashes) are described,
/// never included.
#[utoipa::path(get, path = "/me/export", tag = "account",
    security(("session_cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The export, as an attachment.", body = Object,
            headers(("Content-Disposition" = String))),
        SignedIn,
    ))]
async fn export(State(state): State<AppState>, identity: Identity) -> Result<Response> {
    let id = identity.user.id.as_str();
    let document = json!({
        "format": "solace-export/1",
        "exported_at": crate::db::now_ms(),
        "account": identity.user,
        "chat_sessions": opened(&state, "SELECT id, title, flagged_at, summary, created_at, updated_at FROM chat_sessions WHERE owner_id = $1 ORDER BY created_at", id,
            &[("title", TITLE_SLOT, None), ("summary", SUMMARY_SLOT, None)]).await?,
        "messages": opened(&state, "SELECT id, session_id, role, content, status, created_at FROM messages WHERE owner_id = $1 ORDER BY created_at, id", id,
            &[("content", CONTENT_SLOT, None)]).await?,
        "rooms_hosted": rows(&state, "SELECT id, title, topic, visibility, capacity, status, closed_at, created_at FROM rooms WHERE host_id = $1 ORDER BY created_at", id).await?,
        "room_participation": rows(&state, "SELECT room_id, role, shown_name, joined_at, left_at FROM room_participants WHERE user_id = $1 ORDER BY joined_at", id).await?,
        "room_events": rows(&state, "SELECT id, room_id, kind, detail, created_at, CASE WHEN actor_id = $1 THEN 'actor' ELSE 'subject' END AS your_part FROM room_events WHERE actor_id = $1 OR subject_id = $1 ORDER BY created_at", id).await?,
        "memory": opened(&state, "SELECT id, session_id, role, text, said_at, created_at FROM memory_items WHERE owner_id = $1 ORDER BY said_at, piece", id,
            &[("text", crate::memory::store::TEXT_SLOT, None)]).await?,
        "memory_choices": rows(&state, "SELECT memory_paused_at, memory_hard_moments_at FROM users WHERE id = $1", id).await?,
        "safety_plan": opened(&state, "SELECT plan, created_at, updated_at FROM safety_plans WHERE user_id = $1", id,
            &[("plan", PLAN_SLOT, Some(SAFETY_PLAN_ROW))]).await?,
        // Named as the room showed them to this person (their display name, if that is
        // what they showed), never by the pseudonym the room kept from view; null once no
        // room the two shared is left.
        "people_you_blocked": rows(&state, "SELECT (SELECT them.shown_name FROM room_participants them \
             JOIN room_participants me ON me.room_id = them.room_id AND me.user_id = b.blocker_id \
             WHERE them.user_id = b.blocked_id ORDER BY them.updated_at DESC LIMIT 1) AS name, b.created_at \
             FROM room_blocks b WHERE b.blocker_id = $1 ORDER BY b.created_at", id).await?,
        "reports_you_made": rows(&state, "SELECT room_id, reason, status, created_at FROM reports WHERE reporter_id = $1 ORDER BY created_at", id).await?,
        "linked_sign_ins": rows(&state, "SELECT issuer, subject, email, created_at FROM user_identities WHERE user_id = $1 ORDER BY created_at", id).await?,
        "login_sessions": rows(&state, "SELECT kind, created_at, last_used_at, expires_at FROM tokens WHERE user_id = $1 ORDER BY created_at", id).await?,
        "analytics_events": rows(&state, "SELECT name, path, properties, created_at FROM analytics_events WHERE user_id = $1 ORDER BY created_at", id).await?,
    });
    let mut response = Json(document).into_response();
    response.headers_mut().insert(
        CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"solace-export.json\""),
    );
    Ok(response)
}
