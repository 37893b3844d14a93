//! A room's life: create, list, show, join, leave, close, and its history.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::policy::not_allowed;
use super::store::{self, NewRoom, Participant, Room, State as Flag};
use super::{bounded, detail, inside, live, note, RoomDetail, RoomRole};
use crate::auth::Identity;
use crate::chat::{Page, PageQuery};
use crate::error::{Error, ErrorCode, Result};
use crate::extract::{ApiJson, ApiQuery};
use crate::limits::Limit;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RoomInput {
    /// At most 80 characters.
    title: String,
    /// At most 280 characters.
    topic: Option<String>,
    /// `public` (listed, the default) or `private` (only people with the link).
    #[schema(pattern = "^(public|private)$")]
    visibility: Option<String>,
    /// 2–200 people, 50 by default.
    #[schema(minimum = 2, maximum = 200)]
    capacity: Option<i64>,
}

/// The most people one room may hold; the embedded SFU forwards every speaker to
/// everyone, so rooms stay conversation-sized.
pub const MAX_CAPACITY: i64 = 200;

/// The caller becomes the room's host.
#[utoipa::path(post, path = "/rooms", tag = "rooms", request_body = RoomInput, security(("session_cookie" = []), ("bearer" = [])),
    responses((status = 201, description = "The new room; the caller is its host.", body = Room), crate::openapi::SignedIn, crate::openapi::JsonBody, crate::openapi::Limited))]
pub(super) async fn create(
    State(state): State<AppState>,
    identity: Identity,
    ApiJson(input): ApiJson<RoomInput>,
) -> Result<(StatusCode, Json<Room>)> {
    let title = bounded("title", ErrorCode::TitleTooLong, &input.title, 80, false)?;
    if title.is_empty() {
        return Err(Error::validation(
            ErrorCode::TitleEmpty,
            "Give the room a title.",
        ));
    }
    Limit::per_hour("room", state.config.limits.rooms_per_hour)
        .hit(state.cache.as_ref(), &identity.user.id)
        .await?;
    let topic = input
        .topic
        .as_deref()
        .map(|t| bounded("topic", ErrorCode::TopicTooLong, t, 280, true))
        .transpose()?
        .filter(|t| !t.is_empty());
    let visibility = input.visibility.as_deref().unwrap_or("public");
    if !matches!(visibility, "public" | "private") {
        return Err(Error::validation(
            ErrorCode::InvalidVisibility,
            "visibility is public (listed) or private (only people with the link).",
        ));
    }
    let capacity = input.capacity.unwrap_or(50);
    if !(2..=MAX_CAPACITY).contains(&capacity) {
        return Err(Error::validation(
            ErrorCode::InvalidCapacity,
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

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Listed {
    #[serde(flatten)]
    pub(super) room: Room,
    pub(super) participant_count: i64,
}

pub(super) use Listed as ListedRoom;

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct RoomList {
    rooms: Vec<Listed>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct RoomHistory {
    events: Vec<store::HistoryEntry>,
}

/// Live public rooms with how many people are in each.
#[utoipa::path(get, path = "/rooms", tag = "rooms", params(PageQuery), 
    responses((status = 200, description = "A page of live public rooms.", body = RoomList), crate::openapi::QueryString))]
pub(super) async fn list(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<RoomList>> {
    let page = Page::new(query.limit, query.offset)?;
    let rooms: Vec<Listed> = store::list_live(&state.db, page, false)
        .await?
        .into_iter()
        .map(|(room, participant_count)| Listed {
            room,
            participant_count,
        })
        .collect();
    Ok(Json(RoomList { rooms }))
}

/// One room as the caller sees it.
#[utoipa::path(get, path = "/rooms/{id}", tag = "rooms", params(("id" = String, Path, description = "The room.")), security(("session_cookie" = []), ("bearer" = [])),
    responses((status = 200, description = "The room.", body = RoomDetail), crate::openapi::SignedIn, crate::openapi::Missing))]
pub(super) async fn show(
    State(state): State<AppState>,
    identity: Identity,
    Path(id): Path<String>,
) -> Result<Json<RoomDetail>> {
    let room = store::get_room(&state.db, &id).await?;
    detail(&state, room, &identity.user.id).await
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct JoinInput {
    /// `pseudonym` (default) or `display_name`.
    show_as: Option<String>,
}

/// Enter as host (the creator) or listener.
#[utoipa::path(post, path = "/rooms/{id}/join", tag = "rooms", params(("id" = String, Path, description = "The room.")), security(("session_cookie" = []), ("bearer" = [])),request_body(content = Option<JoinInput>), 
    responses((status = 200, description = "The room as the caller now sees it.", body = RoomDetail), crate::openapi::SignedIn, crate::openapi::Missing, crate::openapi::Conflicting, crate::openapi::JsonBody, crate::openapi::Upstream))]
#[tracing::instrument(name = "room.join", skip_all, fields(room = %id))]
pub(super) async fn join(
    State(state): State<AppState>,
    identity: Identity,
    Path(id): Path<String>,
    input: Option<ApiJson<Option<JoinInput>>>,
) -> Result<Json<RoomDetail>> {
    let input = input.and_then(|ApiJson(i)| i).unwrap_or_default();
    let user = &identity.user;
    let room = live(store::get_room(&state.db, &id).await?)?;
    let shown_name = match input.show_as.as_deref() {
        None | Some("pseudonym") => user.pseudonym.clone(),
        Some("display_name") => user.display_name.clone().ok_or_else(|| {
            Error::validation(
                ErrorCode::NoDisplayName,
                "Set a display name on your account page first, or join under your pseudonym.",
            )
        })?,
        Some(_) => {
            return Err(Error::validation(
                ErrorCode::InvalidShowAs,
                "show_as is pseudonym or display_name.",
            ))
        }
    };
    let before = store::participant(&state.db, &room.id, &user.id).await?;
    if before.as_ref().is_some_and(|p| p.removed_at.is_some()) {
        return Err(Error::forbidden(
            ErrorCode::RemovedFromRoom,
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

/// Leaves the room.
#[utoipa::path(post, path = "/rooms/{id}/leave", tag = "rooms", params(("id" = String, Path, description = "The room.")), security(("session_cookie" = []), ("bearer" = [])),
    responses((status = 204, description = "Left."), crate::openapi::SignedIn, crate::openapi::Missing, crate::openapi::Conflicting, crate::openapi::Upstream))]
pub(super) async fn leave(
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

/// The host (or an administrator) ends the room.
#[utoipa::path(post, path = "/rooms/{id}/close", tag = "rooms", params(("id" = String, Path, description = "The room.")), security(("session_cookie" = []), ("bearer" = [])),
    responses((status = 200, description = "The closed room.", body = Room), crate::openapi::SignedIn, crate::openapi::Missing, crate::openapi::Conflicting, crate::openapi::Upstream))]
pub(super) async fn close(
    State(state): State<AppState>,
    identity: Identity,
    Path(id): Path<String>,
) -> Result<Json<Room>> {
    let user = &identity.user;
    let room = live(store::get_room(&state.db, &id).await?)?;
    if room.host_id != user.id && user.role != crate::users::Role::Admin {
        return Err(Error::forbidden(
            ErrorCode::NotAllowed,
            "Only the host can end the room.",
        ));
    }
    let closed = store::close_room(&state.db, &room.id).await?;
    note(&state, &room, &user.id, None, "closed", None).await?;
    state.audio.disconnect(&room.id, None).await?;
    if room.host_id != user.id {
        crate::admin::audit(
            &state.db,
            &user.id,
            "room.closed",
            "room",
            Some(&room.id),
            None,
        )
        .await?;
    }
    Ok(Json(closed))
}

/// The room's events, newest first, for its host and moderators.
#[utoipa::path(get, path = "/rooms/{id}/history", tag = "rooms", params(("id" = String, Path, description = "The room.")), security(("session_cookie" = []), ("bearer" = [])),
    responses((status = 200, description = "The room's events, newest first.", body = RoomHistory), crate::openapi::SignedIn, crate::openapi::Missing))]
pub(super) async fn history(
    State(state): State<AppState>,
    identity: Identity,
    Path(id): Path<String>,
) -> Result<Json<RoomHistory>> {
    let room = store::get_room(&state.db, &id).await?;
    let me = store::participant(&state.db, &room.id, &identity.user.id).await?;
    let allowed = room.host_id == identity.user.id
        || identity.user.role == crate::users::Role::Admin
        || me.is_some_and(|p| p.is_present() && p.role.is_moderator());
    if !allowed {
        return Err(not_allowed("see the room's history"));
    }
    let events = store::history(&state.db, &room.id, 500).await?;
    Ok(Json(RoomHistory { events }))
}
