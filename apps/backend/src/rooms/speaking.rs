//! Speaking: hands, invitations (consent on both sides), stepping back, muting oneself,
//! and the roles moderators give.

use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;

use super::policy::{may_assign, require_moderation};
use super::store::{self, State as Flag};
use super::{actor_and_subject, change_role, detail, inside, note, RoomDetail, RoomRole, Toggle};
use crate::auth::Identity;
use crate::error::{Error, ErrorCode, Result};
use crate::extract::ApiJson;
use crate::state::AppState;

/// A listener asks to speak (or stops asking). If a moderator already invited them, raising
/// the hand is the consent: they speak.
#[utoipa::path(post, path = "/rooms/{id}/hand", tag = "rooms", params(("id" = String, Path, description = "The room.")), request_body = Toggle, security(("session_cookie" = []), ("bearer" = [])),
    responses((status = 200, description = "The room as the caller now sees it.", body = RoomDetail), crate::openapi::SignedIn, crate::openapi::Missing, crate::openapi::Conflicting, crate::openapi::JsonBody, crate::openapi::Upstream))]
pub(super) async fn hand(
    State(state): State<AppState>,
    identity: Identity,
    Path(id): Path<String>,
    ApiJson(Toggle { on }): ApiJson<Toggle>,
) -> Result<Json<RoomDetail>> {
    let (room, me) = inside(&state, &id, &identity.user.id).await?;
    if me.role != RoomRole::Listener {
        return Err(Error::Conflict {
            code: ErrorCode::AlreadySpeaking,
            message: "You can already speak.".into(),
        });
    }
    if on && me.invited_at.is_some() {
        change_role(&state, &room, &me, RoomRole::Speaker, &me.user_id, None).await?;
    } else {
        store::set_state(&state.db, &room.id, &me.user_id, Flag::HandRaised, on).await?;
        let kind = if on { "hand_raised" } else { "hand_lowered" };
        note(&state, &room, &me.user_id, None, kind, None).await?;
    }
    detail(&state, room, &me.user_id).await
}

/// Accept an invitation to speak (`on`), or decline it / step back to listening (`!on`).
#[utoipa::path(post, path = "/rooms/{id}/speak", tag = "rooms", params(("id" = String, Path, description = "The room.")), request_body = Toggle, security(("session_cookie" = []), ("bearer" = [])),
    responses((status = 200, description = "The room as the caller now sees it.", body = RoomDetail), crate::openapi::SignedIn, crate::openapi::Missing, crate::openapi::Conflicting, crate::openapi::JsonBody, crate::openapi::Upstream))]
pub(super) async fn speak(
    State(state): State<AppState>,
    identity: Identity,
    Path(id): Path<String>,
    ApiJson(Toggle { on }): ApiJson<Toggle>,
) -> Result<Json<RoomDetail>> {
    let (room, me) = inside(&state, &id, &identity.user.id).await?;
    match (on, me.role) {
        (true, RoomRole::Listener) if me.invited_at.is_some() => {
            change_role(&state, &room, &me, RoomRole::Speaker, &me.user_id, None).await?;
        }
        (true, RoomRole::Listener) => {
            return Err(Error::forbidden(
                ErrorCode::NotInvited,
                "Raise your hand; a moderator can then invite you to speak.",
            ))
        }
        (true, _) => {}
        (false, RoomRole::Speaker) => {
            change_role(&state, &room, &me, RoomRole::Listener, &me.user_id, None).await?;
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
                code: ErrorCode::CannotStepDown,
                message: "Hosts and moderators keep the floor; the host can change roles.".into(),
            })
        }
    }
    detail(&state, room, &me.user_id).await
}

/// Mute or unmute yourself.
#[utoipa::path(post, path = "/rooms/{id}/mute", tag = "rooms", params(("id" = String, Path, description = "The room.")), request_body = Toggle, security(("session_cookie" = []), ("bearer" = [])),
    responses((status = 200, description = "The room as the caller now sees it.", body = RoomDetail), crate::openapi::SignedIn, crate::openapi::Missing, crate::openapi::Conflicting, crate::openapi::JsonBody, crate::openapi::Upstream))]
pub(super) async fn mute_self(
    State(state): State<AppState>,
    identity: Identity,
    Path(id): Path<String>,
    ApiJson(Toggle { on }): ApiJson<Toggle>,
) -> Result<Json<RoomDetail>> {
    let (room, me) = inside(&state, &id, &identity.user.id).await?;
    if !me.role.can_speak() {
        return Err(Error::forbidden(
            ErrorCode::Listener,
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

/// Ask a listener to speak. If their hand is up, that was their consent: they speak at
/// once.
#[utoipa::path(post, path = "/rooms/{id}/participants/{handle}/invite", tag = "rooms", params(("id" = String, Path, description = "The room."), ("handle" = String, Path, description = "The participant's handle in this room.")), security(("session_cookie" = []), ("bearer" = [])),
    responses((status = 200, description = "The room as the caller now sees it.", body = RoomDetail), crate::openapi::SignedIn, crate::openapi::Missing, crate::openapi::Conflicting, crate::openapi::Upstream))]
pub(super) async fn invite(
    State(state): State<AppState>,
    identity: Identity,
    Path((id, handle)): Path<(String, String)>,
) -> Result<Json<RoomDetail>> {
    let (room, me, subject) = actor_and_subject(&state, &id, &identity.user.id, &handle).await?;
    require_moderation(me.role, subject.role, "invite people to speak")?;
    if subject.role != RoomRole::Listener {
        return Err(Error::Conflict {
            code: ErrorCode::AlreadySpeaking,
            message: "They can already speak.".into(),
        });
    }
    if subject.hand_raised_at.is_some() {
        let subject_id = Some(subject.user_id.as_str());
        change_role(
            &state,
            &room,
            &subject,
            RoomRole::Speaker,
            &me.user_id,
            subject_id,
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

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RoleInput {
    /// `moderator` or `listener`.
    #[schema(pattern = "^(moderator|listener)$")]
    role: String,
}

/// Make a moderator (host only), or move a speaker back to the listeners. Nobody is made a
/// speaker without consent: that goes through `invite`.
#[utoipa::path(post, path = "/rooms/{id}/participants/{handle}/role", tag = "rooms", params(("id" = String, Path, description = "The room."), ("handle" = String, Path, description = "The participant's handle in this room.")), request_body = RoleInput, security(("session_cookie" = []), ("bearer" = [])),
    responses((status = 200, description = "The room as the caller now sees it.", body = RoomDetail), crate::openapi::SignedIn, crate::openapi::Missing, crate::openapi::Conflicting, crate::openapi::JsonBody, crate::openapi::Upstream))]
pub(super) async fn assign_role(
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
                ErrorCode::InvalidRole,
                "role is moderator or listener; invite people to make them speakers.",
            ))
        }
    };
    require_moderation(me.role, subject.role, "change roles")?;
    if !may_assign(me.role, subject.role, role) {
        return Err(Error::forbidden(
            ErrorCode::NotAllowed,
            "Only the host can make moderators.",
        ));
    }
    let subject_id = Some(subject.user_id.as_str());
    change_role(&state, &room, &subject, role, &me.user_id, subject_id).await?;
    detail(&state, room, &me.user_id).await
}
