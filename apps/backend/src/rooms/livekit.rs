//! Rooms on LiveKit (scale mode): access tokens for the browser, moderation through
//! LiveKit's RoomService, and its webhooks for people who drop off.
//!
//! A participant's LiveKit identity is their per-room handle, so other clients never
//! see a user id; their LiveKit room name is the Solace room id.

use std::time::Duration;

use livekit_api::access_token::{AccessToken, TokenVerifier, VideoGrants};
use livekit_api::services::room::{RoomClient, UpdateParticipantOptions};
use livekit_api::services::{ServerError, ServerErrorCode, ServiceError};
use livekit_api::webhooks::WebhookReceiver;
use livekit_protocol as proto;
use secrecy::ExposeSecret;
use url::Url;

use crate::config;
use crate::error::{Error, ErrorCode, Result};

/// How long a browser's LiveKit token lets it join; it reconnects with a fresh one.
pub const TOKEN_TTL: Duration = Duration::from_secs(10 * 60);

pub struct LiveKit {
    /// What browsers connect to (`wss://…`).
    client_url: Url,
    api_key: String,
    api_secret: String,
    rooms: RoomClient,
}

fn audio_server_error(error: impl std::fmt::Display) -> Error {
    tracing::error!(%error, "LiveKit request failed");
    Error::Upstream {
        code: ErrorCode::AudioServerUnavailable,
        message: "The audio server did not answer. Please try again.".into(),
    }
}

/// LiveKit's "this participant or room is not there": nothing left to enforce.
fn absent(error: &ServiceError) -> bool {
    matches!(
        error,
        ServiceError::Twirp(ServerError::Twirp(ServerErrorCode { code, .. }))
            if code == ServerErrorCode::NOT_FOUND
    )
}

impl LiveKit {
    pub fn new(config: &config::LiveKit) -> Self {
        // The API speaks HTTP, by default on the host the browsers reach over WebSocket.
        let mut api = config.api_url.clone().unwrap_or_else(|| config.url.clone());
        let scheme = match api.scheme() {
            "wss" | "https" => "https",
            _ => "http",
        };
        let _ = api.set_scheme(scheme);
        let mut client_url = config.url.clone();
        let secure = matches!(client_url.scheme(), "wss" | "https");
        let _ = client_url.set_scheme(if secure { "wss" } else { "ws" });
        let secret = config.api_secret.expose_secret().to_owned();
        Self {
            rooms: RoomClient::with_api_key(api.as_str(), &config.api_key, &secret)
                .with_failover(false),
            client_url,
            api_key: config.api_key.clone(),
            api_secret: secret,
        }
    }

    pub fn client_url(&self) -> &Url {
        &self.client_url
    }

    /// A token to join one room as `handle`, publishing audio only when allowed.
    pub fn token(
        &self,
        room_id: &str,
        handle: &str,
        name: &str,
        can_publish: bool,
    ) -> Result<String> {
        AccessToken::with_api_key(&self.api_key, &self.api_secret)
            .with_identity(handle)
            .with_name(name)
            .with_ttl(TOKEN_TTL)
            .with_grants(VideoGrants {
                room_join: true,
                room: room_id.to_owned(),
                can_publish: Some(can_publish),
                can_subscribe: Some(true),
                can_publish_data: Some(false),
                can_publish_sources: vec!["microphone".into()],
                ..Default::default()
            })
            .to_jwt()
            .map_err(audio_server_error)
    }

    /// Mutes every audio track the participant publishes.
    pub async fn mute(&self, room_id: &str, handle: &str) -> Result<()> {
        let participant = match self.rooms.get_participant(room_id, handle).await {
            Ok(participant) => participant,
            Err(e) if absent(&e) => return Ok(()),
            Err(e) => return Err(audio_server_error(e)),
        };
        for track in participant.tracks {
            if track.r#type == proto::TrackType::Audio as i32 && !track.muted {
                self.rooms
                    .mute_published_track(room_id, handle, &track.sid, true)
                    .await
                    .map_err(audio_server_error)?;
            }
        }
        Ok(())
    }

    /// Lets the participant publish, or stops them (their tracks are unpublished).
    pub async fn set_can_publish(
        &self,
        room_id: &str,
        handle: &str,
        can_publish: bool,
    ) -> Result<()> {
        let options = UpdateParticipantOptions {
            permission: Some(proto::ParticipantPermission {
                can_subscribe: true,
                can_publish,
                can_publish_data: false,
                can_publish_sources: vec![proto::TrackSource::Microphone as i32],
                ..Default::default()
            }),
            ..Default::default()
        };
        match self
            .rooms
            .update_participant(room_id, handle, options)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if absent(&e) => Ok(()),
            Err(e) => Err(audio_server_error(e)),
        }
    }

    pub async fn remove(&self, room_id: &str, handle: &str) -> Result<()> {
        match self.rooms.remove_participant(room_id, handle).await {
            Ok(()) => Ok(()),
            Err(e) if absent(&e) => Ok(()),
            Err(e) => Err(audio_server_error(e)),
        }
    }

    pub async fn close(&self, room_id: &str) -> Result<()> {
        match self.rooms.delete_room(room_id).await {
            Ok(()) => Ok(()),
            Err(e) if absent(&e) => Ok(()),
            Err(e) => Err(audio_server_error(e)),
        }
    }

    /// Checks a webhook's signature (a JWT over the body's SHA-256) and decodes it.
    pub fn webhook(&self, body: &str, authorization: &str) -> Result<proto::WebhookEvent> {
        let receiver =
            WebhookReceiver::new(TokenVerifier::with_api_key(&self.api_key, &self.api_secret));
        let token = authorization
            .strip_prefix("Bearer ")
            .unwrap_or(authorization);
        receiver.receive(body, token).map_err(|e| {
            tracing::warn!(error = %e, "rejected a LiveKit webhook");
            Error::unauthorized(
                ErrorCode::InvalidWebhook,
                "The webhook signature is not valid.",
            )
        })
    }
}
