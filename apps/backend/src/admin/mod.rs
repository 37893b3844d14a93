//! The admin console's API: the overview, people (search, ban, unban, delete) and the
//! audit log. Reports and rooms have their admin routes beside the rest of the rooms
//! domain (`rooms::moderation`), dead jobs beside the queue (`jobs::admin`). Every
//! administrator action is written to the audit log — who, what, to which kind of thing,
//! when; never content.

mod overview;
mod people;

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Admin;
use crate::chat::{Page, PageQuery};
use crate::db::{new_id, now_ms, Db};
use crate::error::{Error, ErrorCode, Result};
use crate::extract::ApiQuery;
use crate::state::AppState;

pub use people::ban;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(overview::overview))
        .routes(routes!(audit_log))
        .routes(routes!(people::search))
        .routes(routes!(people::ban_route, people::unban))
        .routes(routes!(people::delete))
}

/// Records an administrator's action.
pub async fn audit(
    db: &Db,
    actor_id: &str,
    action: &str,
    target_kind: &str,
    target_id: Option<&str>,
    detail: Option<&str>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO admin_audit (id, actor_id, action, target_kind, target_id, detail, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(new_id())
    .bind(actor_id.to_owned())
    .bind(action.to_owned())
    .bind(target_kind.to_owned())
    .bind(target_id.map(str::to_owned))
    .bind(detail.map(str::to_owned))
    .bind(now_ms())
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Adds to today's count of `name` (a safety alarm, seconds spoken): numbers for the
/// overview, linked to no one. Failing to count never fails what is being counted.
pub async fn count(db: &Db, name: &str, value: i64) {
    let day = now_ms() / overview::DAY_MS;
    let done = sqlx::query(
        "INSERT INTO daily_counts (day, name, value) VALUES ($1, $2, $3) \
         ON CONFLICT (day, name) DO UPDATE SET value = daily_counts.value + excluded.value",
    )
    .bind(day)
    .bind(name.to_owned())
    .bind(value)
    .execute(db.pool())
    .await;
    if let Err(error) = done {
        tracing::warn!(%error, name, "could not count for the overview");
    }
}

/// Counts a safety alarm by severity for the overview.
pub async fn count_alarm(db: &Db, severity: solace_ai::safety::Severity) {
    use solace_ai::safety::Severity;
    let name = match severity {
        Severity::Imminent => overview::IMMINENT,
        Severity::Elevated => overview::ELEVATED,
        Severity::None => return,
    };
    count(db, name, 1).await;
}

/// Counts seconds spoken in rooms (the embedded audio server's tally since the last call).
pub async fn count_spoken(db: &Db, seconds: i64) {
    if seconds > 0 {
        count(db, overview::SPOKEN_SECONDS, seconds).await;
    }
}

/// One audit-log line.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
struct AuditEntry {
    id: String,
    /// The administrator's pseudonym (`null` once their account is gone).
    #[schema(required = true)]
    actor: Option<String>,
    /// What was done, e.g. `user.banned`, `report.removed`, `job.retried`, `room.closed`.
    action: String,
    /// `user`, `report`, `room`, `job` or `model`.
    target_kind: String,
    #[schema(required = true)]
    target_id: Option<String>,
    #[schema(required = true)]
    detail: Option<String>,
    #[serde(with = "crate::db::rfc3339_ms")]
    #[schema(value_type = String, format = DateTime)]
    #[sqlx(rename = "created_at")]
    at: i64,
}

#[derive(Debug, Serialize, ToSchema)]
struct AuditLog {
    entries: Vec<AuditEntry>,
}

/// Administrators' actions, newest first.
#[utoipa::path(get, path = "/admin/audit", tag = "admin", params(PageQuery), security(("session_cookie" = []), ("bearer" = [])),
    responses((status = 200, description = "A page of the audit log, newest first.", body = AuditLog), crate::openapi::SignedIn, crate::openapi::QueryString))]
async fn audit_log(
    State(state): State<AppState>,
    _admin: Admin,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<AuditLog>> {
    let page = Page::new(query.limit, query.offset)?;
    let entries = sqlx::query_as(
        "SELECT a.id, u.pseudonym AS actor, a.action, a.target_kind, a.target_id, a.detail, a.created_at \
         FROM admin_audit a LEFT JOIN users u ON u.id = a.actor_id \
         ORDER BY a.created_at DESC, a.id DESC LIMIT $1 OFFSET $2",
    )
    .bind(page.limit)
    .bind(page.offset)
    .fetch_all(state.db.pool())
    .await?;
    Ok(Json(AuditLog { entries }))
}

/// Refuses to act on oneself or on another administrator (revoke the role first, with
/// `solace admin revoke`).
fn not_an_admin_or_self(admin_id: &str, target: &crate::users::User, what: &str) -> Result<()> {
    if target.id == admin_id {
        return Err(Error::Conflict {
            code: ErrorCode::CannotActOnSelf,
            message: format!("You cannot {what} your own account here."),
        });
    }
    if target.role == crate::users::Role::Admin {
        return Err(Error::Conflict {
            code: ErrorCode::CannotActOnAdmin,
            message: format!(
                "Administrators cannot {what} each other; revoke the role first (solace admin revoke)."
            ),
        });
    }
    Ok(())
}
