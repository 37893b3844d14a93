//! Moderation: mute one or everyone, remove with a reason, personal blocks, reports and
//! the administrators' report queue.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::policy::{self, not_allowed, require_moderation};
use super::store::{self, State as Flag};
use super::{actor_and_subject, blocked_handles, bounded, detail, inside, note, RoomDetail};
use crate::auth::{Admin, Identity};
use crate::chat::Page;
use crate::error::{Error, Result};
use crate::extract::{ApiJson, ApiQuery};
use crate::state::AppState;

/// A moderator mutes every speaker but themselves and those beyond their reach (the host,
/// other moderators).
#[utoipa::path(post, path = "/rooms/{id}/mute-all", tag = "rooms", params(("id" = String, Path, description = "The room.")), security(("session_cookie" = []), ("bearer" = [])),
    responses((status = 200, description = "The room as the caller now sees it.", body = RoomDetail), crate::openapi::SignedIn, crate::openapi::Missing, crate::openapi::Conflicting, crate::openapi::Upstream))]
pub(super) async fn mute_all(
    State(state): State<AppState>,
    identity: Identity,
    Path(id): Path<String>,
) -> Result<Json<RoomDetail>> {
    let (room, me) = inside(&state, &id, &identity.user.id).await?;
    if !me.role.is_moderator() {
        return Err(not_allowed("mute everyone"));
    }
    let present = store::present(&state.db, &room.id).await?;
    let spared: Vec<&str> = present
        .iter()
        .filter(|p| p.user_id == me.user_id || !policy::may_moderate(me.role, p.role))
        .map(|p| p.user_id.as_str())
        .collect();
    let muted = store::mute_all(&state.db, &room.id, &spared).await?;
    for handle in &muted {
        state.audio.mute(&room.id, handle).await?;
    }
    let detail_text = format!("{} muted", muted.len());
    note(
        &state,
        &room,
        &me.user_id,
        None,
        "muted_all",
        Some(&detail_text),
    )
    .await?;
    detail(&state, room, &me.user_id).await
}

/// Mutes one speaker.
#[utoipa::path(post, path = "/rooms/{id}/participants/{handle}/mute", tag = "rooms", params(("id" = String, Path, description = "The room."), ("handle" = String, Path, description = "The participant's handle in this room.")), security(("session_cookie" = []), ("bearer" = [])),
    responses((status = 200, description = "The room as the caller now sees it.", body = RoomDetail), crate::openapi::SignedIn, crate::openapi::Missing, crate::openapi::Conflicting, crate::openapi::Upstream))]
pub(super) async fn mute_one(
    State(state): State<AppState>,
    identity: Identity,
    Path((id, handle)): Path<(String, String)>,
) -> Result<Json<RoomDetail>> {
    let (room, me, subject) = actor_and_subject(&state, &id, &identity.user.id, &handle).await?;
    require_moderation(me.role, subject.role, "mute people")?;
    store::set_state(&state.db, &room.id, &subject.user_id, Flag::Muted, true).await?;
    state.audio.mute(&room.id, &subject.handle).await?;
    note(
        &state,
        &room,
        &me.user_id,
        Some(&subject.user_id),
        "muted",
        None,
    )
    .await?;
    detail(&state, room, &me.user_id).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ReasonInput {
    /// Why, in at most 500 characters.
    reason: String,
}

pub(super) fn reason(raw: &str) -> Result<String> {
    let reason = bounded("reason", "reason_too_long", raw, 500, true)?;
    if reason.is_empty() {
        return Err(Error::validation("reason_empty", "Say briefly why."));
    }
    Ok(reason)
}

/// Removes someone: they leave and cannot come back to this room; the reason stays in the room's history.
#[utoipa::path(post, path = "/rooms/{id}/participants/{handle}/remove", tag = "rooms", params(("id" = String, Path, description = "The room."), ("handle" = String, Path, description = "The participant's handle in this room.")), request_body = ReasonInput, security(("session_cookie" = []), ("bearer" = [])),
    responses((status = 200, description = "The room as the caller now sees it.", body = RoomDetail), crate::openapi::SignedIn, crate::openapi::Missing, crate::openapi::Conflicting, crate::openapi::JsonBody, crate::openapi::Upstream))]
pub(super) async fn remove(
    State(state): State<AppState>,
    identity: Identity,
    Path((id, handle)): Path<(String, String)>,
    ApiJson(input): ApiJson<ReasonInput>,
) -> Result<Json<RoomDetail>> {
    let reason = reason(&input.reason)?;
    let (room, me, subject) = actor_and_subject(&state, &id, &identity.user.id, &handle).await?;
    require_moderation(me.role, subject.role, "remove people")?;
    store::set_state(&state.db, &room.id, &subject.user_id, Flag::Removed, true).await?;
    state
        .audio
        .disconnect(&room.id, Some(&subject.handle))
        .await?;
    note(
        &state,
        &room,
        &me.user_id,
        Some(&subject.user_id),
        "removed",
        Some(&reason),
    )
    .await?;
    detail(&state, room, &me.user_id).await
}

/// Stops hearing someone, in every room (`DELETE` hears them again).
#[utoipa::path(post, path = "/rooms/{id}/participants/{handle}/block", tag = "rooms", params(("id" = String, Path, description = "The room."), ("handle" = String, Path, description = "The participant's handle in this room.")), security(("session_cookie" = []), ("bearer" = [])),
    responses((status = 200, description = "The room as the caller now sees it.", body = RoomDetail), crate::openapi::SignedIn, crate::openapi::Missing, crate::openapi::Conflicting))]
pub(super) async fn block(
    State(state): State<AppState>,
    identity: Identity,
    Path((id, handle)): Path<(String, String)>,
) -> Result<Json<RoomDetail>> {
    set_block(state, identity, id, handle, true).await
}

/// Hears someone again.
#[utoipa::path(delete, path = "/rooms/{id}/participants/{handle}/block", tag = "rooms", params(("id" = String, Path, description = "The room."), ("handle" = String, Path, description = "The participant's handle in this room.")), security(("session_cookie" = []), ("bearer" = [])),
    responses((status = 200, description = "The room as the caller now sees it.", body = RoomDetail), crate::openapi::SignedIn, crate::openapi::Missing, crate::openapi::Conflicting))]
pub(super) async fn unblock(
    State(state): State<AppState>,
    identity: Identity,
    Path((id, handle)): Path<(String, String)>,
) -> Result<Json<RoomDetail>> {
    set_block(state, identity, id, handle, false).await
}

pub(super) async fn set_block(
    state: AppState,
    identity: Identity,
    id: String,
    handle: String,
    on: bool,
) -> Result<Json<RoomDetail>> {
    let (room, me, subject) = actor_and_subject(&state, &id, &identity.user.id, &handle).await?;
    if subject.user_id == me.user_id {
        return Err(Error::validation(
            "cannot_block_yourself",
            "You cannot block yourself.",
        ));
    }
    store::block(&state.db, &me.user_id, &subject.user_id, on).await?;
    let blocked = blocked_handles(&state, &room, &me.user_id).await?;
    state.audio.blocked(&room.id, &me.handle, blocked);
    detail(&state, room, &me.user_id).await
}

/// Goes to the administrators' queue.
#[utoipa::path(post, path = "/rooms/{id}/participants/{handle}/report", tag = "rooms", params(("id" = String, Path, description = "The room."), ("handle" = String, Path, description = "The participant's handle in this room.")), request_body = ReasonInput, security(("session_cookie" = []), ("bearer" = [])),
    responses((status = 201, description = "Reported; the id of the report.", body = crate::rooms::ReportCreated), crate::openapi::SignedIn, crate::openapi::Missing, crate::openapi::Conflicting, crate::openapi::JsonBody))]
pub(super) async fn report(
    State(state): State<AppState>,
    identity: Identity,
    Path((id, handle)): Path<(String, String)>,
    ApiJson(input): ApiJson<ReasonInput>,
) -> Result<(StatusCode, Json<ReportCreated>)> {
    let reason = reason(&input.reason)?;
    let (room, me, subject) = actor_and_subject(&state, &id, &identity.user.id, &handle).await?;
    if subject.user_id == me.user_id {
        return Err(Error::validation(
            "cannot_report_yourself",
            "You cannot report yourself.",
        ));
    }
    let report_id =
        store::report(&state.db, &me.user_id, &subject.user_id, &room.id, &reason).await?;
    note(
        &state,
        &room,
        &me.user_id,
        Some(&subject.user_id),
        "reported",
        None,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(ReportCreated { id: report_id })))
}

/// The id of a new report.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportCreated {
    id: String,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ReportQuery {
    /// `open` (default) or `resolved`.
    #[param(pattern = "^(open|resolved)$")]
    status: Option<String>,
    /// 1–100, 20 by default.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// At least 0.
    #[param(minimum = 0)]
    offset: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct ReportList {
    reports: Vec<store::ReportView>,
}

/// Reports, for administrators.
#[utoipa::path(get, path = "/admin/reports", tag = "admin", params(ReportQuery), security(("session_cookie" = []), ("bearer" = [])),
    responses((status = 200, description = "A page of reports, newest first.", body = ReportList), crate::openapi::SignedIn, crate::openapi::QueryString))]
pub(super) async fn list_reports(
    State(state): State<AppState>,
    _admin: Admin,
    ApiQuery(query): ApiQuery<ReportQuery>,
) -> Result<Json<ReportList>> {
    let status = query.status.as_deref().unwrap_or("open");
    if !matches!(status, "open" | "resolved") {
        return Err(Error::validation(
            "invalid_status",
            "status is open or resolved.",
        ));
    }
    let page = Page::new(query.limit, query.offset)?;
    let reports = store::reports(&state.db, status, page).await?;
    Ok(Json(ReportList { reports }))
}

/// Marks a report resolved.
#[utoipa::path(post, path = "/admin/reports/{id}/resolve", tag = "admin", params(("id" = String, Path, description = "The report.")), security(("session_cookie" = []), ("bearer" = [])),
    responses((status = 204, description = "Resolved."), crate::openapi::SignedIn, crate::openapi::Missing))]
pub(super) async fn resolve_report(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    store::resolve_report(&state.db, &id, &admin.user.id).await?;
    Ok(StatusCode::NO_CONTENT)
}
