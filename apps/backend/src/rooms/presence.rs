//! Who is connected to a room's audio right now.
//!
//! Presence lives in the cache: in-process on one machine, in Redis in scale mode so
//! every backend instance gives the same answer. The embedded SFU's signalling socket
//! marks a participant present once their audio connects and keeps the mark fresh with
//! a heartbeat; LiveKit's webhooks do the same for rooms on LiveKit. A mark that is not
//! refreshed expires, so a crashed instance does not leave ghosts behind.

use std::collections::HashSet;
use std::time::Duration;

use crate::cache::Cache;

/// How often a live connection refreshes its mark.
pub const HEARTBEAT: Duration = Duration::from_secs(10);
/// How long a mark lasts without a refresh: three missed heartbeats.
pub const TTL: Duration = Duration::from_secs(30);
/// LiveKit says when someone leaves (a webhook) but sends no heartbeat: its marks
/// last a day, or until `participant_left`.
pub const LIVEKIT_TTL: Duration = Duration::from_secs(24 * 60 * 60);

fn key(room: &str) -> String {
    format!("presence:room:{room}")
}

/// Marks `handle` connected to `room` for `ttl`. Presence is advisory: a cache that
/// does not answer is logged, not passed on to the audio connection.
pub async fn here(cache: &dyn Cache, room: &str, handle: &str, ttl: Duration) {
    if let Err(error) = cache.set_add(&key(room), handle, ttl).await {
        tracing::warn!(%error, "could not record room presence");
    }
}

/// `handle`'s audio connection to `room` ended.
pub async fn gone(cache: &dyn Cache, room: &str, handle: &str) {
    if let Err(error) = cache.set_remove(&key(room), handle).await {
        tracing::warn!(%error, "could not clear room presence");
    }
}

/// The handles connected to `room`'s audio.
pub async fn connected(cache: &dyn Cache, room: &str) -> crate::error::Result<HashSet<String>> {
    Ok(cache.set_members(&key(room)).await?.into_iter().collect())
}
