//! Connecting the audio: LiveKit tokens and webhooks, or the embedded SFU's signalling
//! token and socket.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::store::{self, State as Flag};
use super::{blocked_handles, inside, live, livekit, may_publish, note, presence, sfu, Sfu};
use crate::auth::Identity;
use crate::error::{Error, ErrorCode, Result};
use crate::extract::{ApiJson, ApiQuery};
use crate::limits::{Concurrent, Limit};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct TokenInput {
    room_id: String,
}

/// Where and how to connect to LiveKit.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct LiveKitToken {
    url: String,
    token: String,
    /// The caller's handle in the room.
    identity: String,
    can_publish: bool,
    /// Seconds.
    expires_in: u64,
}

/// Where and how to open the embedded audio server's signalling socket.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct SignalToken {
    token: String,
    /// The socket's path (`ws:` or `wss:` on this host), or its full `wss://` address
    /// when `SIGNAL_ORIGIN` is set.
    url: String,
    protocol: u32,
    /// Seconds.
    expires_in: u64,
    /// For `RTCPeerConnection`'s `iceServers` (STUN/TURN, with credentials for this join).
    ice_servers: Vec<super::ice::IceServer>,
    /// For `RTCPeerConnection`'s `iceTransportPolicy`.
    ice_transport_policy: super::ice::IcePolicy,
}

/// `POST /api/livekit/token {room_id}`: for someone in the room, a short-lived LiveKit
/// token whose identity is their handle and which lets them publish only when they may
/// speak.
/// Audio tokens one identity may take per minute (each reconnect takes one).
async fn room_token_limit(state: &AppState, identity: &Identity) -> Result<()> {
    Limit::per_minute("room-token", state.config.limits.room_tokens_per_minute)
        .hit(state.cache.as_ref(), &identity.user.id)
        .await
}

/// A LiveKit access token.
#[utoipa::path(post, path = "/livekit/token", tag = "rooms", request_body = TokenInput, security(("session_cookie" = []), ("bearer" = [])),
    responses((status = 200, description = "A LiveKit token for the caller's seat.", body = LiveKitToken), crate::openapi::SignedIn, crate::openapi::Missing, crate::openapi::Conflicting, crate::openapi::JsonBody, crate::openapi::Limited))]
pub(super) async fn livekit_token(
    State(state): State<AppState>,
    identity: Identity,
    ApiJson(input): ApiJson<TokenInput>,
) -> Result<Json<LiveKitToken>> {
    let livekit = state.audio.livekit().ok_or_else(|| Error::Conflict {
        code: ErrorCode::LivekitNotConfigured,
        message: "This server runs rooms on its embedded audio server, not LiveKit.".into(),
    })?;
    let (room, me) = inside(&state, &input.room_id, &identity.user.id).await?;
    room_token_limit(&state, &identity).await?;
    let can_publish = me.role.can_speak();
    let token = livekit.token(&room.id, &me.handle, &me.shown_name, can_publish)?;
    Ok(Json(LiveKitToken {
        url: livekit.client_url().as_str().to_owned(),
        token,
        identity: me.handle,
        can_publish,
        expires_in: livekit::TOKEN_TTL.as_secs(),
    }))
}

/// LiveKit tells us who connected and who dropped off; a participant whose connection ended
/// for good has left the room.
#[utoipa::path(post, path = "/livekit/webhook", tag = "rooms", request_body(content = String, content_type = "application/webhook+json", description = "A LiveKit webhook event, signed in `Authorization`."), 
    responses((status = 204, description = "Handled."), crate::openapi::Missing, crate::openapi::Unauthenticated, crate::openapi::JsonBody))]
pub(super) async fn livekit_webhook(
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

pub(super) fn sfu_of(state: &AppState) -> Result<&Sfu> {
    state.audio.sfu().ok_or_else(|| Error::Conflict {
        code: ErrorCode::SfuNotInUse,
        message: "Rooms on this server use LiveKit: ask /api/livekit/token instead.".into(),
    })
}

/// A one-minute token that opens the embedded SFU's signalling socket for the caller's seat
/// in the room.
#[utoipa::path(post, path = "/rooms/{id}/signal-token", tag = "rooms", params(("id" = String, Path, description = "The room.")), security(("session_cookie" = []), ("bearer" = [])),
    responses((status = 200, description = "A one-minute token for the signalling socket.", body = SignalToken), crate::openapi::SignedIn, crate::openapi::Missing, crate::openapi::Conflicting, crate::openapi::Limited))]
pub(super) async fn signal_token(
    State(state): State<AppState>,
    identity: Identity,
    Path(id): Path<String>,
) -> Result<Json<SignalToken>> {
    sfu_of(&state)?;
    let (room, me) = inside(&state, &id, &identity.user.id).await?;
    room_token_limit(&state, &identity).await?;
    let token = state.room_tokens.issue(&room.id, &me.handle);
    Ok(Json(SignalToken {
        token,
        url: match &state.config.signal_origin {
            None => format!("/api/rooms/{}/signal", room.id),
            Some(origin) => format!(
                "{}/api/rooms/{}/signal",
                origin.as_str().trim_end_matches('/'),
                room.id
            ),
        },
        protocol: sfu::signal::PROTOCOL_VERSION,
        expires_in: sfu::signal::TOKEN_TTL.as_secs(),
        ice_servers: super::ice::servers_for(
            &state.config.ice,
            &identity.user.id,
            time::OffsetDateTime::now_utc()
                .unix_timestamp()
                .unsigned_abs(),
        ),
        ice_transport_policy: super::ice::policy(&state.config.ice),
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct SignalQuery {
    token: String,
}

/// The embedded audio server's signalling socket.
#[utoipa::path(get, path = "/rooms/{id}/signal", tag = "rooms", params(("id" = String, Path, description = "The room."), SignalQuery), 
    responses((status = 101, description = "Switching to the WebSocket: JSON signalling messages (offer, answer, candidates, room changes)."), crate::openapi::QueryString, crate::openapi::Unauthenticated, crate::openapi::NotAllowed, crate::openapi::Missing, crate::openapi::Conflicting, crate::openapi::Limited))]
#[tracing::instrument(name = "room.signal", skip_all, fields(room = %id))]
pub(super) async fn signal(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<SignalQuery>,
    upgrade: axum::extract::WebSocketUpgrade,
) -> Result<axum::response::Response> {
    let sfu = sfu_of(&state)?.clone();
    let handle = state.room_tokens.verify(&query.token, &id).ok_or_else(|| {
        Error::unauthorized(
            ErrorCode::InvalidRoomToken,
            "This room token is not valid any more.",
        )
    })?;
    let room = live(store::get_room(&state.db, &id).await?)?;
    let me = store::by_handle(&state.db, &room.id, &handle)
        .await
        .map_err(|_| Error::forbidden(ErrorCode::NotInRoom, "Join the room first."))?;
    let seat = sfu::Seat {
        room: room.id.clone(),
        handle: me.handle.clone(),
        may_publish: may_publish(&me),
        blocked: blocked_handles(&state, &room, &me.user_id).await?,
    };
    let slot = Concurrent {
        name: "sockets",
        max: state.config.limits.open_sockets,
        ttl: Duration::from_secs(12 * 3600),
    }
    .take(&state.cache, &me.user_id)
    .await?;
    Ok(sfu::signal::serve(
        upgrade,
        sfu,
        seat,
        state.cache.clone(),
        slot,
    ))
}
