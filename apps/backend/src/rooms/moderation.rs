//! Moderation: mute one or everyone, remove with a reason, personal blocks, reports and
//! the administrators' report queue.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::policy::{self, not_allowed, require_moderation};
use super::store::{self, State as Flag};
use super::{actor_and_subject, blocked_handles, bounded, detail, inside, note, RoomDetail};
use crate::app::AppState;
use crate::auth::{Admin, Identity};
use crate::chat::Page;
use crate::error::{Error, Result};
use crate::extract::{ApiJson, ApiQuery};

/// `POST /api/rooms/{id}/mute-all`: a moderator mutes every speaker but themselves and
/// those beyond their reach (the host, other moderators).
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

/// `POST /api/rooms/{id}/participants/{handle}/mute`.
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReasonInput {
    reason: String,
}

pub(super) fn reason(raw: &str) -> Result<String> {
    let reason = bounded("reason", "reason_too_long", raw, 500, true)?;
    if reason.is_empty() {
        return Err(Error::validation("reason_empty", "Say briefly why."));
    }
    Ok(reason)
}

/// `POST /api/rooms/{id}/participants/{handle}/remove {reason}`: they leave and cannot
/// come back to this room; the reason stays in the room's history.
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

/// `POST` / `DELETE /api/rooms/{id}/participants/{handle}/block`: stop (or start again)
/// hearing someone, in every room.
pub(super) async fn block(
    State(state): State<AppState>,
    identity: Identity,
    Path((id, handle)): Path<(String, String)>,
) -> Result<Json<RoomDetail>> {
    set_block(state, identity, id, handle, true).await
}

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

/// `POST /api/rooms/{id}/participants/{handle}/report {reason}`: goes to the
/// administrators' queue.
pub(super) async fn report(
    State(state): State<AppState>,
    identity: Identity,
    Path((id, handle)): Path<(String, String)>,
    ApiJson(input): ApiJson<ReasonInput>,
) -> Result<(StatusCode, Json<serde_json::Value>)> {
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
    Ok((StatusCode::CREATED, Json(json!({ "id": report_id }))))
}

#[derive(Debug, Deserialize)]
pub(super) struct ReportQuery {
    status: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

/// `GET /api/admin/reports?status=open`.
pub(super) async fn list_reports(
    State(state): State<AppState>,
    _admin: Admin,
    ApiQuery(query): ApiQuery<ReportQuery>,
) -> Result<Json<serde_json::Value>> {
    let status = query.status.as_deref().unwrap_or("open");
    if !matches!(status, "open" | "resolved") {
        return Err(Error::validation(
            "invalid_status",
            "status is open or resolved.",
        ));
    }
    let page = Page::new(query.limit, query.offset)?;
    let reports = store::reports(&state.db, status, page).await?;
    Ok(Json(json!({ "reports": reports })))
}

/// `POST /api/admin/reports/{id}/resolve`.
pub(super) async fn resolve_report(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    store::resolve_report(&state.db, &id, &admin.user.id).await?;
    Ok(StatusCode::NO_CONTENT)
}
