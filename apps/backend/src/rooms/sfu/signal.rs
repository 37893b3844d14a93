//! Signalling for the embedded SFU: a WebSocket per participant at
//! `/api/rooms/{id}/signal?token=…`, opened with a short-lived room token.
//!
//! Protocol version 1 (JSON text frames, documented in docs/rooms.md):
//! - client → server: `{"type":"join","v":1,"offer":{"type":"offer","sdp":…}}` first,
//!   then `{"type":"answer","answer":{…}}` to each server offer, `{"type":"leave"}`.
//! - server → client: `{"type":"joined","v":1,"answer":{…}}`, `{"type":"offer","offer":{…}}`
//!   when there is new audio to receive (its stream id is the speaker's handle),
//!   `{"type":"room_changed"}` when people, roles or mutes changed (fetch the room again),
//!   `{"type":"speakers","handles":[…]}` when the active speakers changed,
//!   `{"type":"disconnected"}` when the audio ends (removed, room closed),
//!   `{"type":"replaced"}` when the same seat connected again from elsewhere,
//!   `{"type":"error","error":code,"message":…}`.
//!
//! While the audio is connected the socket keeps the participant's presence mark fresh
//! (see `rooms::presence`).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use str0m::change::{SdpAnswer, SdpOffer};

use super::engine::{ClientEvent, Seat};
use super::Sfu;
use crate::cache::Cache;
use crate::rooms::presence;

/// How long a room token opens the signalling socket.
pub const TOKEN_TTL: Duration = Duration::from_secs(60);
pub const PROTOCOL_VERSION: u32 = 1;

/// Signs and checks room tokens with a key made when the server starts (the SFU lives
/// in this process, so no other process needs to check them).
#[derive(Clone)]
pub struct RoomTokens {
    key: [u8; 32],
}

impl Default for RoomTokens {
    fn default() -> Self {
        let mut key = [0u8; 32];
        key[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        key[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        Self { key }
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

impl RoomTokens {
    /// HMAC-SHA256 (RFC 2104) of the message under the key.
    fn mac(&self, message: &str) -> [u8; 32] {
        let mut block = [0u8; 64];
        block[..32].copy_from_slice(&self.key);
        let pad = |byte: u8| block.map(|b| b ^ byte);
        let inner = Sha256::new()
            .chain_update(pad(0x36))
            .chain_update(message.as_bytes())
            .finalize();
        Sha256::new()
            .chain_update(pad(0x5c))
            .chain_update(inner)
            .finalize()
            .into()
    }

    pub fn issue(&self, room: &str, handle: &str) -> String {
        let message = format!("{room}.{handle}.{}", now_secs() + TOKEN_TTL.as_secs());
        let mac = URL_SAFE_NO_PAD.encode(self.mac(&message));
        format!("{message}.{mac}")
    }

    /// The handle the token was issued to, if it is genuine, unexpired and for `room`.
    pub fn verify(&self, token: &str, room: &str) -> Option<String> {
        let (message, mac) = token.rsplit_once('.')?;
        let given = URL_SAFE_NO_PAD.decode(mac).ok()?;
        let expected = self.mac(message);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            given.as_slice(),
            expected.as_slice(),
        )) {
            return None;
        }
        let mut parts = message.split('.');
        let (token_room, handle, expires) = (parts.next()?, parts.next()?, parts.next()?);
        let expires: u64 = expires.parse().ok()?;
        (token_room == room && expires >= now_secs() && parts.next().is_none())
            .then(|| handle.to_owned())
    }
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientMessage {
    Join { v: u32, offer: SdpOffer },
    Answer { answer: SdpAnswer },
    Leave,
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ServerMessage<'a> {
    Joined { v: u32, answer: SdpAnswer },
    Offer { offer: SdpOffer },
    Disconnected,
    RoomChanged,
    Speakers { handles: Vec<String> },
    Replaced,
    Error { error: &'a str, message: &'a str },
}

async fn send(socket: &mut WebSocket, message: &ServerMessage<'_>) -> bool {
    let text = json!(message).to_string();
    socket.send(Message::Text(text.into())).await.is_ok()
}

/// Upgrades to the signalling socket for one seat.
/// Serves one participant's signalling socket; `held` (a concurrency slot) is kept until
/// the socket closes.
pub fn serve(
    upgrade: WebSocketUpgrade,
    sfu: Sfu,
    seat: Seat,
    cache: Arc<dyn Cache>,
    held: impl Send + 'static,
) -> axum::response::Response {
    // The audio connection, in traces a child of the request that opened it.
    let span = tracing::info_span!("sfu.session", room = %seat.room, ended = tracing::field::Empty);
    upgrade.on_upgrade(move |socket| {
        tracing::Instrument::instrument(
            async move {
                let _held = held;
                let (room, handle) = (seat.room.clone(), seat.handle.clone());
                // Only a connection that ended for good clears the mark: a replaced one
                // leaves it to its successor.
                let ended = run(socket, sfu, seat, cache.as_ref()).await;
                tracing::Span::current().record("ended", format_args!("{ended:?}"));
                if ended == Ended::Gone {
                    presence::gone(cache.as_ref(), &room, &handle).await;
                }
            },
            span,
        )
    })
}

#[derive(Debug, PartialEq, Eq)]
enum Ended {
    Gone,
    Replaced,
}

async fn next_message(socket: &mut WebSocket) -> Option<Result<ClientMessage, String>> {
    loop {
        match socket.recv().await? {
            Ok(Message::Text(text)) => {
                return Some(serde_json::from_str(&text).map_err(|e| e.to_string()))
            }
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

async fn run(mut socket: WebSocket, sfu: Sfu, seat: Seat, cache: &dyn Cache) -> Ended {
    let (room, handle) = (seat.room.clone(), seat.handle.clone());
    let offer = match next_message(&mut socket).await {
        Some(Ok(ClientMessage::Join { v, offer })) if v == PROTOCOL_VERSION => offer,
        Some(Ok(ClientMessage::Join { .. })) => {
            let message = "This server speaks signalling protocol version 1.";
            send(
                &mut socket,
                &ServerMessage::Error {
                    error: "unsupported_version",
                    message,
                },
            )
            .await;
            return Ended::Gone;
        }
        Some(_) => {
            let message = "Send a join message with an SDP offer first.";
            send(
                &mut socket,
                &ServerMessage::Error {
                    error: "join_first",
                    message,
                },
            )
            .await;
            return Ended::Gone;
        }
        None => return Ended::Gone,
    };
    let joined = sfu.join(seat, offer).await;
    let (id, answer, mut events) = match joined {
        Ok(joined) => joined,
        Err(detail) => {
            tracing::warn!(%detail, "an audio connection was refused");
            let message = "The audio connection could not be set up.";
            send(
                &mut socket,
                &ServerMessage::Error {
                    error: "join_failed",
                    message,
                },
            )
            .await;
            return Ended::Gone;
        }
    };
    if !send(
        &mut socket,
        &ServerMessage::Joined {
            v: PROTOCOL_VERSION,
            answer,
        },
    )
    .await
    {
        sfu.leave(id);
        return Ended::Gone;
    }
    let mut heartbeat = tokio::time::interval(presence::HEARTBEAT);
    let mut connected = false;
    loop {
        tokio::select! {
            _ = heartbeat.tick(), if connected => {
                presence::here(cache, &room, &handle, presence::TTL).await;
            }
            event = events.recv() => match event {
                Some(ClientEvent::Connected) => {
                    connected = true;
                    heartbeat.reset_immediately();
                }
                Some(ClientEvent::Offer(offer)) => {
                    if !send(&mut socket, &ServerMessage::Offer { offer }).await {
                        break;
                    }
                }
                Some(ClientEvent::RoomChanged) => {
                    if !send(&mut socket, &ServerMessage::RoomChanged).await {
                        break;
                    }
                }
                Some(ClientEvent::Speakers(handles)) => {
                    if !send(&mut socket, &ServerMessage::Speakers { handles }).await {
                        break;
                    }
                }
                Some(ClientEvent::Replaced) => {
                    send(&mut socket, &ServerMessage::Replaced).await;
                    let _ = socket.send(Message::Close(None)).await;
                    return Ended::Replaced;
                }
                Some(ClientEvent::Disconnected) | None => {
                    send(&mut socket, &ServerMessage::Disconnected).await;
                    let _ = socket.send(Message::Close(None)).await;
                    return Ended::Gone;
                }
            },
            message = next_message(&mut socket) => match message {
                Some(Ok(ClientMessage::Answer { answer })) => {
                    if let Err(detail) = sfu.answer(id, answer).await {
                        tracing::debug!(%detail, "an answer was not accepted");
                    }
                }
                Some(Ok(ClientMessage::Join { .. })) => {
                    let message = "Already joined.";
                    send(&mut socket, &ServerMessage::Error { error: "already_joined", message }).await;
                }
                Some(Err(_)) => {
                    let message = "That message is not part of the protocol.";
                    send(&mut socket, &ServerMessage::Error { error: "bad_message", message }).await;
                }
                Some(Ok(ClientMessage::Leave)) | None => break,
            },
        }
    }
    sfu.leave(id);
    Ended::Gone
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_open_only_their_room_and_cannot_be_forged() {
        let tokens = RoomTokens::default();
        let token = tokens.issue("room-1", "abc123");
        assert_eq!(tokens.verify(&token, "room-1").as_deref(), Some("abc123"));
        assert_eq!(tokens.verify(&token, "room-2"), None);
        let forged = token.replace("abc123", "zzz999");
        assert_eq!(tokens.verify(&forged, "room-1"), None);
        assert_eq!(
            RoomTokens::default().verify(&token, "room-1"),
            None,
            "another key"
        );
    }

    #[test]
    fn the_mac_is_standard_hmac_sha256() {
        // RFC 4231 test case 2 uses a short key; ours is 32 bytes of "Jefe" padded here.
        let mut key = [0u8; 32];
        key[..4].copy_from_slice(b"Jefe");
        let tokens = RoomTokens { key };
        let mac = tokens.mac("what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}

/// Properties of room tokens and the signalling messages a browser sends.
#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn a_token_opens_its_room_for_its_holder_and_no_change_to_it_survives(
            room in "[A-Za-z0-9-]{1,40}",
            handle in "[A-Za-z0-9_-]{1,24}",
            other in "[A-Za-z0-9-]{1,40}",
            at in any::<prop::sample::Index>(),
            replacement in any::<char>(),
        ) {
            let tokens = RoomTokens::default();
            let token = tokens.issue(&room, &handle);
            prop_assert_eq!(tokens.verify(&token, &room), Some(handle.clone()));
            if other != room {
                prop_assert_eq!(tokens.verify(&token, &other), None);
            }
            let mut chars: Vec<char> = token.chars().collect();
            let i = at.index(chars.len());
            if chars[i] != replacement {
                chars[i] = replacement;
                let changed: String = chars.into_iter().collect();
                prop_assert_eq!(tokens.verify(&changed, &room), None);
            }
        }

        #[test]
        fn any_text_is_a_message_or_an_error_never_a_panic(
            text in prop_oneof![
                any::<String>(),
                (prop::sample::select(vec!["join", "answer", "leave", "offer", ""]), "\\PC{0,60}")
                    .prop_map(|(kind, rest)| format!(r#"{{"type":"{kind}","v":1,{rest}}}"#)),
            ],
        ) {
            let _ = serde_json::from_str::<ClientMessage>(&text);
        }
    }
}
