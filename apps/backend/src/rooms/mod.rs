//! Social spaces: audio rooms people join under their pseudonym.
//!
//! This module is the rooms domain over HTTP — create, list, join, leave, close, hands,
//! invitations to speak, moderation, blocks, reports and history. Other people are only
//! ever shown a participant's per-room handle and shown name, never a user id. Every
//! change is a `room_events` row (the room's history) and an analytics event.
//!
//! Handlers by concern: `lifecycle` (create, list, join, leave, close, history),
//! `speaking` (hands, invitations, roles), `moderation` (mutes, removal, blocks,
//! reports), `connect` (LiveKit tokens and webhooks, the SFU's signalling); what they
//! share — the room as a participant sees it, membership checks, recording a change —
//! lives here.

mod audio;
mod connect;
pub mod housekeeping;
pub mod ice;
mod lifecycle;
mod livekit;
mod moderation;
pub(crate) use moderation::expel_everywhere;
mod policy;
pub mod presence;
pub mod sfu;
mod speaking;
mod store;

pub use audio::Audio;
pub use livekit::LiveKit;
pub use sfu::signal::RoomTokens;
pub use sfu::Sfu;

pub use moderation::ReportCreated;

use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use policy::RoomRole;
use store::{Participant, ParticipantView, Room};

use crate::error::{Error, ErrorCode, Result};
use crate::events;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(lifecycle::list, lifecycle::create))
        .routes(routes!(lifecycle::show))
        .routes(routes!(lifecycle::join))
        .routes(routes!(lifecycle::leave))
        .routes(routes!(lifecycle::close))
        .routes(routes!(lifecycle::history))
        .routes(routes!(speaking::hand))
        .routes(routes!(speaking::speak))
        .routes(routes!(speaking::mute_self))
        .routes(routes!(speaking::invite))
        .routes(routes!(speaking::assign_role))
        .routes(routes!(moderation::mute_all))
        .routes(routes!(moderation::mute_one))
        .routes(routes!(moderation::remove))
        .routes(routes!(moderation::block, moderation::unblock))
        .routes(routes!(moderation::report))
        .routes(routes!(moderation::list_reports))
        .routes(routes!(moderation::resolve_report))
        .routes(routes!(moderation::show_report))
        .routes(routes!(moderation::act_on_report))
        .routes(routes!(moderation::live_rooms))
        .routes(routes!(connect::signal_token))
        .routes(routes!(connect::signal))
        .routes(routes!(connect::livekit_token))
        .routes(routes!(connect::livekit_webhook))
}

/// A room as one person sees it.
#[derive(Debug, Serialize, ToSchema)]
struct RoomDetail {
    room: Room,
    participants: Vec<ParticipantView>,
    /// The caller, when they are in the room.
    #[schema(required = true)]
    you: Option<ParticipantView>,
    /// Handles of the people the caller blocked: the app does not play their audio.
    blocked: Vec<String>,
}

async fn detail(state: &AppState, room: Room, user_id: &str) -> Result<Json<RoomDetail>> {
    let present = store::present(&state.db, &room.id).await?;
    let blocked_ids = store::blocked_by(&state.db, user_id).await?;
    let connected = presence::connected(state.cache.as_ref(), &room.id).await?;
    let view = |p: &Participant| ParticipantView {
        connected: connected.contains(&p.handle),
        ..p.view()
    };
    let you = present.iter().find(|p| p.user_id == user_id).map(view);
    let blocked = present
        .iter()
        .filter(|p| blocked_ids.contains(&p.user_id))
        .map(|p| p.handle.clone())
        .collect();
    Ok(Json(RoomDetail {
        room,
        participants: present.iter().map(view).collect(),
        you,
        blocked,
    }))
}

fn live(room: Room) -> Result<Room> {
    if room.is_live() {
        Ok(room)
    } else {
        Err(Error::Conflict {
            code: ErrorCode::RoomClosed,
            message: "This room has ended.".into(),
        })
    }
}

/// The live room and the caller's place in it; not being in it is an error.
async fn inside(state: &AppState, id: &str, user_id: &str) -> Result<(Room, Participant)> {
    let room = live(store::get_room(&state.db, id).await?)?;
    match store::participant(&state.db, &room.id, user_id).await? {
        Some(me) if me.is_present() => Ok((room, me)),
        _ => Err(Error::forbidden(
            ErrorCode::NotInRoom,
            "Join the room first.",
        )),
    }
}

/// Gives a participant a role, and the audio server the matching permission.
async fn change_role(
    state: &AppState,
    room: &Room,
    who: &Participant,
    role: RoomRole,
    actor: &str,
    subject: Option<&str>,
) -> Result<()> {
    store::set_role(&state.db, &room.id, &who.user_id, role).await?;
    // New speakers start muted; a listener has no microphone to mute.
    let muted = role.can_speak() && (who.role == RoomRole::Listener || who.muted_at.is_some());
    state
        .audio
        .role(&room.id, &who.handle, role.can_speak(), muted)
        .await?;
    let kind = format!("became_{}", role.as_str());
    note(state, room, actor, subject, &kind, None).await
}

fn may_publish(p: &Participant) -> bool {
    p.role.can_speak() && p.muted_at.is_none()
}

/// Writes the history row and the analytics event for one change.
async fn note(
    state: &AppState,
    room: &Room,
    actor: &str,
    subject: Option<&str>,
    kind: &str,
    detail: Option<&str>,
) -> Result<()> {
    record_change(state, room, Some(actor), subject, kind, detail).await
}

/// A change nobody in particular made (housekeeping), or that happened to someone.
pub(crate) async fn note_change(
    state: &AppState,
    room: &Room,
    actor: Option<&str>,
    kind: &str,
    detail: Option<&str>,
) -> Result<()> {
    record_change(state, room, actor, None, kind, detail).await
}

pub(super) async fn record_change(
    state: &AppState,
    room: &Room,
    actor: Option<&str>,
    subject: Option<&str>,
    kind: &str,
    detail: Option<&str>,
) -> Result<()> {
    store::record(&state.db, &room.id, actor, subject, kind, detail).await?;
    if let Some(sfu) = state.audio.sfu() {
        sfu.room_changed(&room.id);
    }
    events::track(
        &state.db,
        actor,
        &format!("room.{kind}"),
        Some(json!({ "visibility": room.visibility })),
    )
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Toggle {
    on: bool,
}

/// The live room, the caller (who must be in it) and the participant a handle names.
async fn actor_and_subject(
    state: &AppState,
    id: &str,
    user_id: &str,
    handle: &str,
) -> Result<(Room, Participant, Participant)> {
    let (room, me) = inside(state, id, user_id).await?;
    let subject = store::by_handle(&state.db, &room.id, handle).await?;
    Ok((room, me, subject))
}

/// Text shown to the room: nothing hidden (see `crate::text`), at most `max` characters;
/// line breaks only where `lines`.
fn bounded(
    field: &'static str,
    code: ErrorCode,
    text: &str,
    max: usize,
    lines: bool,
) -> Result<String> {
    let text = crate::text::visible(field, text, lines)?;
    if text.chars().count() > max {
        return Err(Error::validation(
            code,
            format!("The {field} can be at most {max} characters."),
        ));
    }
    Ok(text)
}

/// The handles, in this room, of the people `user_id` blocked.
async fn blocked_handles(
    state: &AppState,
    room: &Room,
    user_id: &str,
) -> Result<std::collections::HashSet<String>> {
    let blocked = store::blocked_by(&state.db, user_id).await?;
    Ok(store::present(&state.db, &room.id)
        .await?
        .into_iter()
        .filter(|p| blocked.contains(&p.user_id))
        .map(|p| p.handle)
        .collect())
}
