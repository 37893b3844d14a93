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
use crate::error::{Error, ErrorCode, Result};
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
    let reason = bounded("reason", ErrorCode::ReasonTooLong, raw, 500, true)?;
    if reason.is_empty() {
        return Err(Error::validation(
            ErrorCode::ReasonEmpty,
            "Say briefly why.",
        ));
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
            ErrorCode::CannotBlockYourself,
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
            ErrorCode::CannotReportYourself,
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
            ErrorCode::InvalidStatus,
            "status is open or resolved.",
        ));
    }
    let page = Page::new(query.limit, query.offset)?;
    let reports = store::reports(&state.db, status, page).await?;
    Ok(Json(ReportList { reports }))
}

/// A report with what happened in its room around it (names as the room showed them).
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct ReportDetail {
    report: store::ReportView,
    /// The room's latest events, newest first (empty when the room is gone).
    context: Vec<store::HistoryEntry>,
}

/// One report and its context, for administrators.
#[utoipa::path(get, path = "/admin/reports/{id}", tag = "admin", params(("id" = String, Path, description = "The report.")), security(("session_cookie" = []), ("bearer" = [])),
    responses((status = 200, description = "The report and its room's latest events.", body = ReportDetail), crate::openapi::SignedIn, crate::openapi::Missing))]
pub(super) async fn show_report(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<String>,
) -> Result<Json<ReportDetail>> {
    let report = store::report_by_id(&state.db, &id).await?;
    let context = match &report.room_id {
        Some(room) => store::history(&state.db, room, 20).await?,
        None => Vec::new(),
    };
    Ok(Json(ReportDetail { report, context }))
}

/// Dismisses a report (the same as acting on it with `dismiss`).
#[utoipa::path(post, path = "/admin/reports/{id}/resolve", tag = "admin", params(("id" = String, Path, description = "The report.")), security(("session_cookie" = []), ("bearer" = [])),
    responses((status = 204, description = "Resolved."), crate::openapi::SignedIn, crate::openapi::Missing, crate::openapi::Conflicting))]
pub(super) async fn resolve_report(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    act(&state, &admin.user.id, &id, ReportAction::Dismiss, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What an administrator does about a report.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(super) enum ReportAction {
    /// A warning in the room's history; the person stays.
    Warn,
    /// Out of the room, for good.
    Remove,
    /// The account is banned: signed out everywhere, out of every room.
    Ban,
    /// Nothing to do.
    Dismiss,
}

impl ReportAction {
    fn done(self) -> &'static str {
        match self {
            Self::Warn => "warned",
            Self::Remove => "removed",
            Self::Ban => "banned",
            Self::Dismiss => "dismissed",
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ActInput {
    action: ReportAction,
    /// Why, in a few words (shown in the room's history for a warning or removal); at
    /// most 500 characters.
    note: Option<String>,
}

/// Acts on a report: warn, remove from the room, ban the account, or dismiss. Recorded
/// in the audit log.
#[utoipa::path(post, path = "/admin/reports/{id}/act", tag = "admin", params(("id" = String, Path, description = "The report.")), request_body = ActInput, security(("session_cookie" = []), ("bearer" = [])),
    responses((status = 200, description = "The report, resolved.", body = store::ReportView), crate::openapi::SignedIn, crate::openapi::Missing, crate::openapi::Conflicting, crate::openapi::JsonBody, crate::openapi::Upstream))]
pub(super) async fn act_on_report(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<ActInput>,
) -> Result<Json<store::ReportView>> {
    let note = match input.note.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(reason(text)?),
    };
    act(&state, &admin.user.id, &id, input.action, note.as_deref()).await?;
    Ok(Json(store::report_by_id(&state.db, &id).await?))
}

async fn act(
    state: &AppState,
    admin_id: &str,
    id: &str,
    action: ReportAction,
    note_text: Option<&str>,
) -> Result<()> {
    // Claimed first, so two administrators cannot both act on one report.
    store::resolve_report(&state.db, id, admin_id, action.done()).await?;
    let acted = act_on(state, admin_id, id, action, note_text).await;
    if acted.is_err() {
        store::reopen_report(&state.db, id).await?;
    }
    acted
}

async fn act_on(
    state: &AppState,
    admin_id: &str,
    id: &str,
    action: ReportAction,
    note_text: Option<&str>,
) -> Result<()> {
    let report = store::report_by_id(&state.db, id).await?;
    let room = match &report.room_id {
        Some(room) => match store::get_room(&state.db, room).await {
            Ok(room) => Some(room),
            Err(Error::NotFound) => None,
            Err(other) => return Err(other),
        },
        None => None,
    };
    match action {
        ReportAction::Warn | ReportAction::Remove => {
            let Some(room) = &room else {
                return Err(Error::Conflict {
                    code: ErrorCode::RoomGone,
                    message: "The room of this report no longer exists; ban or dismiss instead."
                        .into(),
                });
            };
            if action == ReportAction::Remove {
                if let Some(p) = store::participant(&state.db, &room.id, &report.subject_id).await?
                {
                    store::set_state(&state.db, &room.id, &p.user_id, Flag::Removed, true).await?;
                    state.audio.disconnect(&room.id, Some(&p.handle)).await?;
                }
            }
            note(
                state,
                room,
                admin_id,
                Some(&report.subject_id),
                action.done(),
                Some(note_text.unwrap_or("after a report")),
            )
            .await?;
        }
        ReportAction::Ban => {
            crate::admin::ban(
                state,
                admin_id,
                &report.subject_id,
                note_text.unwrap_or("after a report"),
            )
            .await?;
        }
        ReportAction::Dismiss => {}
    }
    crate::admin::audit(
        &state.db,
        admin_id,
        &format!("report.{}", action.done()),
        "report",
        Some(id),
        note_text,
    )
    .await
}

/// Takes someone out of every live room they are in now (a banned or deleted account);
/// each room's history says they left and why.
pub(crate) async fn expel_everywhere(state: &AppState, user_id: &str, why: &str) -> Result<()> {
    for (room, p) in store::present_rooms_of(&state.db, user_id).await? {
        store::set_state(&state.db, &room.id, user_id, Flag::Left, true).await?;
        super::record_change(state, &room, None, Some(user_id), "left", Some(why)).await?;
        state.audio.disconnect(&room.id, Some(&p.handle)).await?;
    }
    Ok(())
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct LiveRooms {
    rooms: Vec<super::lifecycle::ListedRoom>,
}

/// Every live room, private ones too, with how many are in each; administrators end one
/// with `POST /api/rooms/{id}/close`.
#[utoipa::path(get, path = "/admin/rooms", tag = "admin", params(crate::chat::PageQuery), security(("session_cookie" = []), ("bearer" = [])),
    responses((status = 200, description = "Live rooms, newest first.", body = LiveRooms), crate::openapi::SignedIn, crate::openapi::QueryString))]
pub(super) async fn live_rooms(
    State(state): State<AppState>,
    _admin: Admin,
    ApiQuery(query): ApiQuery<crate::chat::PageQuery>,
) -> Result<Json<LiveRooms>> {
    let page = Page::new(query.limit, query.offset)?;
    let rooms = store::list_live(&state.db, page, true)
        .await?
        .into_iter()
        .map(|(room, participant_count)| super::lifecycle::ListedRoom {
            room,
            participant_count,
        })
        .collect();
    Ok(Json(LiveRooms { rooms }))
}
