//! Social spaces: audio rooms people join under their pseudonym.
//!
//! This module is the rooms domain over HTTP — create, list, join, leave, close, hands,
//! invitations to speak, moderation, blocks, reports and history. Other people are only
//! ever shown a participant's per-room handle and shown name, never a user id. Every
//! change is a `room_events` row (the room's history) and an analytics event.

mod audio;
pub mod housekeeping;
mod livekit;
mod policy;
pub mod presence;
pub mod sfu;
mod store;

pub use audio::Audio;
pub use livekit::LiveKit;
pub use sfu::signal::RoomTokens;
pub use sfu::Sfu;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;

pub use policy::RoomRole;
use policy::{may_assign, not_allowed, require_moderation};
use store::{NewRoom, Participant, ParticipantView, Room, State as Flag};

use crate::app::AppState;
use crate::auth::{Admin, Identity};
use crate::chat::{Page, PageQuery};
use crate::error::{Error, Result};
use crate::events;
use crate::extract::{ApiJson, ApiQuery};

pub fn router() -> Router<AppState> {
    let room = "/rooms/{id}";
    let someone = "/rooms/{id}/participants/{handle}";
    Router::new()
        .route("/rooms", get(list).post(create))
        .route(room, get(show))
        .route(&format!("{room}/join"), post(join))
        .route(&format!("{room}/leave"), post(leave))
        .route(&format!("{room}/close"), post(close))
        .route(&format!("{room}/hand"), post(hand))
        .route(&format!("{room}/speak"), post(speak))
        .route(&format!("{room}/mute"), post(mute_self))
        .route(&format!("{room}/mute-all"), post(mute_all))
        .route(&format!("{room}/history"), get(history))
        .route(&format!("{someone}/invite"), post(invite))
        .route(&format!("{someone}/role"), post(assign_role))
        .route(&format!("{someone}/mute"), post(mute_one))
        .route(&format!("{someone}/remove"), post(remove))
        .route(&format!("{someone}/block"), post(block).delete(unblock))
        .route(&format!("{someone}/report"), post(report))
        .route(&format!("{room}/signal-token"), post(signal_token))
        .route(&format!("{room}/signal"), get(signal))
        .route("/livekit/token", post(livekit_token))
        .route("/livekit/webhook", post(livekit_webhook))
        .route("/admin/reports", get(list_reports))
        .route("/admin/reports/{id}/resolve", post(resolve_report))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoomInput {
    title: String,
    topic: Option<String>,
    visibility: Option<String>,
    capacity: Option<i64>,
}

/// The most people one room may hold; the embedded SFU forwards every speaker to
/// everyone, so rooms stay conversation-sized.
pub const MAX_CAPACITY: i64 = 200;

fn bounded(field: &'static str, code: &'static str, text: &str, max: usize) -> Result<String> {
    let text = text.trim();
    if text.chars().count() > max {
        return Err(Error::validation(
            code,
            format!("The {field} can be at most {max} characters."),
        ));
    }
    Ok(text.to_owned())
}

/// `POST /api/rooms`: the caller becomes the room's host.
async fn create(
    State(state): State<AppState>,
    identity: Identity,
    ApiJson(input): ApiJson<RoomInput>,
) -> Result<(StatusCode, Json<Room>)> {
    let title = bounded("title", "title_too_long", &input.title, 80)?;
    if title.is_empty() {
        return Err(Error::validation("title_empty", "Give the room a title."));
    }
    let topic = input
        .topic
        .as_deref()
        .map(|t| bounded("topic", "topic_too_long", t, 280))
        .transpose()?
        .filter(|t| !t.is_empty());
    let visibility = input.visibility.as_deref().unwrap_or("public");
    if !matches!(visibility, "public" | "private") {
        return Err(Error::validation(
            "invalid_visibility",
            "visibility is public (listed) or private (only people with the link).",
        ));
    }
    let capacity = input.capacity.unwrap_or(50);
    if !(2..=MAX_CAPACITY).contains(&capacity) {
        return Err(Error::validation(
            "invalid_capacity",
            format!("capacity must be between 2 and {MAX_CAPACITY}."),
        ));
    }
    let room = store::create_room(
        &state.db,
        &identity.user.id,
        NewRoom {
            title: &title,
            topic: topic.as_deref(),
            visibility,
            capacity,
        },
    )
    .await?;
    note(&state, &room, &identity.user.id, None, "created", None).await?;
    Ok((StatusCode::CREATED, Json(room)))
}

#[derive(Debug, Serialize)]
struct Listed {
    #[serde(flatten)]
    room: Room,
    participant_count: i64,
}

/// `GET /api/rooms`: live public rooms with how many people are in each.
async fn list(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<serde_json::Value>> {
    let page = Page::new(query.limit, query.offset)?;
    let rooms: Vec<Listed> = store::list_live(&state.db, page)
        .await?
        .into_iter()
        .map(|(room, participant_count)| Listed {
            room,
            participant_count,
        })
        .collect();
    Ok(Json(json!({ "rooms": rooms })))
}

/// A room as one person sees it.
#[derive(Debug, Serialize)]
struct RoomDetail {
    room: Room,
    participants: Vec<ParticipantView>,
    /// The caller, when they are in the room.
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

/// `GET /api/rooms/{id}`.
async fn show(
    State(state): State<AppState>,
    identity: Identity,
    Path(id): Path<String>,
) -> Result<Json<RoomDetail>> {
    let room = store::get_room(&state.db, &id).await?;
    detail(&state, room, &identity.user.id).await
}

fn live(room: Room) -> Result<Room> {
    if room.is_live() {
        Ok(room)
    } else {
        Err(Error::Conflict {
            code: "room_closed",
            message: "This room has ended.".into(),
        })
    }
}

/// The live room and the caller's place in it; not being in it is an error.
async fn inside(state: &AppState, id: &str, user_id: &str) -> Result<(Room, Participant)> {
    let room = live(store::get_room(&state.db, id).await?)?;
    match store::participant(&state.db, &room.id, user_id).await? {
        Some(me) if me.is_present() => Ok((room, me)),
        _ => Err(Error::forbidden("not_in_room", "Join the room first.")),
    }
}

/// Gives a participant a role, and the audio server the matching permission.
async fn change_role(
    state: &AppState,
    room: &Room,
    who: &Participant,
    role: RoomRole,
) -> Result<()> {
    store::set_role(&state.db, &room.id, &who.user_id, role).await?;
    // New speakers start muted; a listener has no microphone to mute.
    let muted = role.can_speak() && (who.role == RoomRole::Listener || who.muted_at.is_some());
    state
        .audio
        .role(&room.id, &who.handle, role.can_speak(), muted)
        .await
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

async fn record_change(
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

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct JoinInput {
    /// `pseudonym` (default) or `display_name`.
    show_as: Option<String>,
}

/// `POST /api/rooms/{id}/join`: enter as host (the creator) or listener.
async fn join(
    State(state): State<AppState>,
    identity: Identity,
    Path(id): Path<String>,
    input: Option<ApiJson<JoinInput>>,
) -> Result<Json<RoomDetail>> {
    let input = input.map(|ApiJson(i)| i).unwrap_or_default();
    let user = &identity.user;
    let room = live(store::get_room(&state.db, &id).await?)?;
    let shown_name = match input.show_as.as_deref() {
        None | Some("pseudonym") => user.pseudonym.clone(),
        Some("display_name") => user.display_name.clone().ok_or_else(|| {
            Error::validation(
                "no_display_name",
                "Set a display name on your account page first, or join under your pseudonym.",
            )
        })?,
        Some(_) => {
            return Err(Error::validation(
                "invalid_show_as",
                "show_as is pseudonym or display_name.",
            ))
        }
    };
    let before = store::participant(&state.db, &room.id, &user.id).await?;
    if before.as_ref().is_some_and(|p| p.removed_at.is_some()) {
        return Err(Error::forbidden(
            "removed_from_room",
            "A moderator removed you from this room.",
        ));
    }
    if !before.as_ref().is_some_and(Participant::is_present) {
        let role = if room.host_id == user.id {
            RoomRole::Host
        } else {
            RoomRole::Listener
        };
        store::enter(&state.db, &room, &user.id, role, &shown_name).await?;
        note(&state, &room, &user.id, None, "joined", None).await?;
    }
    detail(&state, room, &user.id).await
}

/// `POST /api/rooms/{id}/leave`.
async fn leave(
    State(state): State<AppState>,
    identity: Identity,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let (room, me) = inside(&state, &id, &identity.user.id).await?;
    store::set_state(&state.db, &room.id, &me.user_id, Flag::Left, true).await?;
    note(&state, &room, &me.user_id, None, "left", None).await?;
    state.audio.disconnect(&room.id, Some(&me.handle)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/rooms/{id}/close`: the host (or an administrator) ends the room.
async fn close(
    State(state): State<AppState>,
    identity: Identity,
    Path(id): Path<String>,
) -> Result<Json<Room>> {
    let user = &identity.user;
    let room = live(store::get_room(&state.db, &id).await?)?;
    if room.host_id != user.id && user.role != "admin" {
        return Err(Error::forbidden(
            "not_allowed",
            "Only the host can end the room.",
        ));
    }
    let closed = store::close_room(&state.db, &room.id).await?;
    note(&state, &room, &user.id, None, "closed", None).await?;
    state.audio.disconnect(&room.id, None).await?;
    Ok(Json(closed))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Toggle {
    on: bool,
}

/// `POST /api/rooms/{id}/hand {on}`: a listener asks to speak (or stops asking). If a
/// moderator already invited them, raising the hand is the consent: they speak.
async fn hand(
    State(state): State<AppState>,
    identity: Identity,
    Path(id): Path<String>,
    ApiJson(Toggle { on }): ApiJson<Toggle>,
) -> Result<Json<RoomDetail>> {
    let (room, me) = inside(&state, &id, &identity.user.id).await?;
    if me.role != RoomRole::Listener {
        return Err(Error::Conflict {
            code: "already_speaking",
            message: "You can already speak.".into(),
        });
    }
    if on && me.invited_at.is_some() {
        change_role(&state, &room, &me, RoomRole::Speaker).await?;
        note(&state, &room, &me.user_id, None, "became_speaker", None).await?;
    } else {
        store::set_state(&state.db, &room.id, &me.user_id, Flag::HandRaised, on).await?;
        let kind = if on { "hand_raised" } else { "hand_lowered" };
        note(&state, &room, &me.user_id, None, kind, None).await?;
    }
    detail(&state, room, &me.user_id).await
}

/// `POST /api/rooms/{id}/speak {on}`: accept an invitation to speak (`on`), or decline
/// it / step back to listening (`!on`).
async fn speak(
    State(state): State<AppState>,
    identity: Identity,
    Path(id): Path<String>,
    ApiJson(Toggle { on }): ApiJson<Toggle>,
) -> Result<Json<RoomDetail>> {
    let (room, me) = inside(&state, &id, &identity.user.id).await?;
    match (on, me.role) {
        (true, RoomRole::Listener) if me.invited_at.is_some() => {
            change_role(&state, &room, &me, RoomRole::Speaker).await?;
            note(&state, &room, &me.user_id, None, "became_speaker", None).await?;
        }
        (true, RoomRole::Listener) => {
            return Err(Error::forbidden(
                "not_invited",
                "Raise your hand; a moderator can then invite you to speak.",
            ))
        }
        (true, _) => {}
        (false, RoomRole::Speaker) => {
            change_role(&state, &room, &me, RoomRole::Listener).await?;
            note(&state, &room, &me.user_id, None, "became_listener", None).await?;
        }
        (false, RoomRole::Listener) => {
            store::set_state(&state.db, &room.id, &me.user_id, Flag::Invited, false).await?;
            note(
                &state,
                &room,
                &me.user_id,
                None,
                "declined_invitation",
                None,
            )
            .await?;
        }
        (false, _) => {
            return Err(Error::Conflict {
                code: "cannot_step_down",
                message: "Hosts and moderators keep the floor; the host can change roles.".into(),
            })
        }
    }
    detail(&state, room, &me.user_id).await
}

/// `POST /api/rooms/{id}/mute {on}`: mute or unmute yourself.
async fn mute_self(
    State(state): State<AppState>,
    identity: Identity,
    Path(id): Path<String>,
    ApiJson(Toggle { on }): ApiJson<Toggle>,
) -> Result<Json<RoomDetail>> {
    let (room, me) = inside(&state, &id, &identity.user.id).await?;
    if !me.role.can_speak() {
        return Err(Error::forbidden(
            "listener",
            "Listeners are always muted. Raise your hand to speak.",
        ));
    }
    store::set_state(&state.db, &room.id, &me.user_id, Flag::Muted, on).await?;
    if on {
        state.audio.mute(&room.id, &me.handle).await?;
    } else {
        state
            .audio
            .unmute(&room.id, &me.handle, me.role.can_speak());
    }
    let kind = if on { "muted" } else { "unmuted" };
    note(&state, &room, &me.user_id, Some(&me.user_id), kind, None).await?;
    detail(&state, room, &me.user_id).await
}

/// `POST /api/rooms/{id}/mute-all`: a moderator mutes every speaker but themselves and
/// those beyond their reach (the host, other moderators).
async fn mute_all(
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

/// `POST /api/rooms/{id}/participants/{handle}/invite`: ask a listener to speak. If their
/// hand is up, that was their consent: they speak at once.
async fn invite(
    State(state): State<AppState>,
    identity: Identity,
    Path((id, handle)): Path<(String, String)>,
) -> Result<Json<RoomDetail>> {
    let (room, me, subject) = actor_and_subject(&state, &id, &identity.user.id, &handle).await?;
    require_moderation(me.role, subject.role, "invite people to speak")?;
    if subject.role != RoomRole::Listener {
        return Err(Error::Conflict {
            code: "already_speaking",
            message: "They can already speak.".into(),
        });
    }
    if subject.hand_raised_at.is_some() {
        change_role(&state, &room, &subject, RoomRole::Speaker).await?;
        note(
            &state,
            &room,
            &me.user_id,
            Some(&subject.user_id),
            "became_speaker",
            None,
        )
        .await?;
    } else {
        store::set_state(&state.db, &room.id, &subject.user_id, Flag::Invited, true).await?;
        note(
            &state,
            &room,
            &me.user_id,
            Some(&subject.user_id),
            "invited",
            None,
        )
        .await?;
    }
    detail(&state, room, &me.user_id).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleInput {
    role: String,
}

/// `POST /api/rooms/{id}/participants/{handle}/role`: make a moderator (host only), or
/// move a speaker back to the listeners. Nobody is made a speaker without consent: that
/// goes through `invite`.
async fn assign_role(
    State(state): State<AppState>,
    identity: Identity,
    Path((id, handle)): Path<(String, String)>,
    ApiJson(input): ApiJson<RoleInput>,
) -> Result<Json<RoomDetail>> {
    let (room, me, subject) = actor_and_subject(&state, &id, &identity.user.id, &handle).await?;
    let role = match RoomRole::parse(&input.role) {
        Some(role @ (RoomRole::Moderator | RoomRole::Listener)) => role,
        _ => {
            return Err(Error::validation(
                "invalid_role",
                "role is moderator or listener; invite people to make them speakers.",
            ))
        }
    };
    require_moderation(me.role, subject.role, "change roles")?;
    if !may_assign(me.role, subject.role, role) {
        return Err(Error::forbidden(
            "not_allowed",
            "Only the host can make moderators.",
        ));
    }
    change_role(&state, &room, &subject, role).await?;
    let kind = format!("became_{}", role.as_str());
    note(
        &state,
        &room,
        &me.user_id,
        Some(&subject.user_id),
        &kind,
        None,
    )
    .await?;
    detail(&state, room, &me.user_id).await
}

/// `POST /api/rooms/{id}/participants/{handle}/mute`.
async fn mute_one(
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
struct ReasonInput {
    reason: String,
}

fn reason(raw: &str) -> Result<String> {
    let reason = bounded("reason", "reason_too_long", raw, 500)?;
    if reason.is_empty() {
        return Err(Error::validation("reason_empty", "Say briefly why."));
    }
    Ok(reason)
}

/// `POST /api/rooms/{id}/participants/{handle}/remove {reason}`: they leave and cannot
/// come back to this room; the reason stays in the room's history.
async fn remove(
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
async fn block(
    State(state): State<AppState>,
    identity: Identity,
    Path((id, handle)): Path<(String, String)>,
) -> Result<Json<RoomDetail>> {
    set_block(state, identity, id, handle, true).await
}

async fn unblock(
    State(state): State<AppState>,
    identity: Identity,
    Path((id, handle)): Path<(String, String)>,
) -> Result<Json<RoomDetail>> {
    set_block(state, identity, id, handle, false).await
}

async fn set_block(
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
async fn report(
    State(state): State<AppState>,
    identity: Identity,
    Path((id, handle)): Path<(String, String)>,
    ApiJson(input): ApiJson<ReasonInput>,
) -> Result<(StatusCode, Json<serde_json::Value>)> {
    let reason = reason(&input.reason)?;
    let (room, me, subject) = actor_and_subject(&state, &id, &identity.user.id, &handle).await?;
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

/// `GET /api/rooms/{id}/history`: the room's events, newest first, for its host and
/// moderators.
async fn history(
    State(state): State<AppState>,
    identity: Identity,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>> {
    let room = store::get_room(&state.db, &id).await?;
    let me = store::participant(&state.db, &room.id, &identity.user.id).await?;
    let allowed = room.host_id == identity.user.id
        || identity.user.role == "admin"
        || me.is_some_and(|p| p.is_present() && p.role.is_moderator());
    if !allowed {
        return Err(not_allowed("see the room's history"));
    }
    let events = store::history(&state.db, &room.id, 500).await?;
    Ok(Json(json!({ "events": events })))
}

#[derive(Debug, Deserialize)]
struct ReportQuery {
    status: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

/// `GET /api/admin/reports?status=open`.
async fn list_reports(
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
async fn resolve_report(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    store::resolve_report(&state.db, &id, &admin.user.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenInput {
    room_id: String,
}

/// `POST /api/livekit/token {room_id}`: for someone in the room, a short-lived LiveKit
/// token whose identity is their handle and which lets them publish only when they may
/// speak.
async fn livekit_token(
    State(state): State<AppState>,
    identity: Identity,
    ApiJson(input): ApiJson<TokenInput>,
) -> Result<Json<serde_json::Value>> {
    let livekit = state.audio.livekit().ok_or_else(|| Error::Conflict {
        code: "livekit_not_configured",
        message: "This server runs rooms on its embedded audio server, not LiveKit.".into(),
    })?;
    let (room, me) = inside(&state, &input.room_id, &identity.user.id).await?;
    let can_publish = me.role.can_speak();
    let token = livekit.token(&room.id, &me.handle, &me.shown_name, can_publish)?;
    Ok(Json(json!({
        "url": livekit.client_url().as_str(),
        "token": token,
        "identity": me.handle,
        "can_publish": can_publish,
        "expires_in": livekit::TOKEN_TTL.as_secs(),
    })))
}

/// `POST /api/livekit/webhook`: LiveKit tells us who connected and who dropped off; a
/// participant whose connection ended for good has left the room.
async fn livekit_webhook(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    body: String,
) -> Result<StatusCode> {
    let livekit = state.audio.livekit().ok_or(Error::NotFound)?;
    let authorization = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let event = livekit.webhook(&body, authorization)?;
    let (Some(room), Some(participant)) = (event.room.as_ref(), event.participant.as_ref()) else {
        return Ok(StatusCode::NO_CONTENT);
    };
    let Ok(room) = store::get_room(&state.db, &room.name).await else {
        return Ok(StatusCode::NO_CONTENT);
    };
    let Ok(who) = store::by_handle(&state.db, &room.id, &participant.identity).await else {
        return Ok(StatusCode::NO_CONTENT);
    };
    match event.event.as_str() {
        "participant_joined" => {
            presence::here(
                state.cache.as_ref(),
                &room.id,
                &who.handle,
                presence::LIVEKIT_TTL,
            )
            .await;
            store::record(
                &state.db,
                &room.id,
                Some(&who.user_id),
                None,
                "audio_connected",
                None,
            )
            .await?;
        }
        "participant_left" => {
            presence::gone(state.cache.as_ref(), &room.id, &who.handle).await;
            store::set_state(&state.db, &room.id, &who.user_id, Flag::Left, true).await?;
            note(
                &state,
                &room,
                &who.user_id,
                None,
                "left",
                Some("disconnected"),
            )
            .await?;
        }
        _ => {}
    }
    Ok(StatusCode::NO_CONTENT)
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

fn sfu_of(state: &AppState) -> Result<&Sfu> {
    state.audio.sfu().ok_or_else(|| Error::Conflict {
        code: "sfu_not_in_use",
        message: "Rooms on this server use LiveKit: ask /api/livekit/token instead.".into(),
    })
}

/// `POST /api/rooms/{id}/signal-token`: a one-minute token that opens the embedded
/// SFU's signalling socket for the caller's seat in the room.
async fn signal_token(
    State(state): State<AppState>,
    identity: Identity,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>> {
    sfu_of(&state)?;
    let (room, me) = inside(&state, &id, &identity.user.id).await?;
    let token = state.room_tokens.issue(&room.id, &me.handle);
    Ok(Json(json!({
        "token": token,
        "url": format!("/api/rooms/{}/signal", room.id),
        "protocol": sfu::signal::PROTOCOL_VERSION,
        "expires_in": sfu::signal::TOKEN_TTL.as_secs(),
        "ice_servers": state.config.ice_servers,
    })))
}

#[derive(Debug, Deserialize)]
struct SignalQuery {
    token: String,
}

/// `GET /api/rooms/{id}/signal?token=…` (WebSocket).
async fn signal(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<SignalQuery>,
    upgrade: axum::extract::WebSocketUpgrade,
) -> Result<axum::response::Response> {
    let sfu = sfu_of(&state)?.clone();
    let handle = state.room_tokens.verify(&query.token, &id).ok_or_else(|| {
        Error::unauthorized(
            "invalid_room_token",
            "This room token is not valid any more.",
        )
    })?;
    let room = live(store::get_room(&state.db, &id).await?)?;
    let me = store::by_handle(&state.db, &room.id, &handle)
        .await
        .map_err(|_| Error::forbidden("not_in_room", "Join the room first."))?;
    let seat = sfu::Seat {
        room: room.id.clone(),
        handle: me.handle.clone(),
        may_publish: may_publish(&me),
        blocked: blocked_handles(&state, &room, &me.user_id).await?,
    };
    Ok(sfu::signal::serve(upgrade, sfu, seat, state.cache.clone()))
}
