//! Housekeeping, run every minute by the background worker: people whose audio dropped
//! and did not come back within the grace period have left; rooms nobody has been in for
//! a while end; room history older than its retention period is deleted; expired login
//! sessions go, and so do abandoned guests with everything they own, and analytics
//! events older than theirs.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::{note_change, presence, store};
use crate::db::now_ms;
use crate::error::Result;
use crate::state::AppState;

/// What one pass did, for logs and tests.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub left_after_grace: usize,
    pub idle_rooms_closed: usize,
    pub events_deleted: u64,
    pub guests_deleted: u64,
    pub sessions_deleted: u64,
    pub analytics_deleted: u64,
}

/// When each present participant was first seen without an audio connection.
pub type Missing = HashMap<(String, String), Instant>;

/// Runs forever, one pass per `every`.
pub async fn run(state: AppState, every: Duration) {
    let mut missing = Missing::new();
    // The first pass comes one period after start, not during it.
    let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    loop {
        interval.tick().await;
        match tick(&state, &mut missing, Instant::now()).await {
            Ok(report) if report != Report::default() => {
                tracing::info!(?report, "room housekeeping")
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "room housekeeping failed"),
        }
    }
}

/// One pass at time `now`.
pub async fn tick(state: &AppState, missing: &mut Missing, now: Instant) -> Result<Report> {
    let settings = &state.config.rooms;
    let mut report = Report::default();

    // People with a seat but no audio (no presence mark) for longer than the grace
    // period have left. On LiveKit its webhooks tell us instead.
    if state.audio.sfu().is_some() {
        let present = store::everyone_present(&state.db).await?;
        let rooms: std::collections::BTreeSet<&String> =
            present.iter().map(|(room, _)| &room.id).collect();
        let mut connected = std::collections::HashSet::new();
        for room in rooms {
            for handle in presence::connected(state.cache.as_ref(), room).await? {
                connected.insert((room.clone(), handle));
            }
        }
        missing.retain(|seat, _| {
            present
                .iter()
                .any(|(room, p)| (room.id.clone(), p.handle.clone()) == *seat)
        });
        for (room, p) in present {
            let seat = (room.id.clone(), p.handle.clone());
            if connected.contains(&seat) {
                missing.remove(&seat);
                continue;
            }
            let since = *missing.entry(seat.clone()).or_insert(now);
            if now.duration_since(since) >= settings.reconnect_grace {
                store::set_state(&state.db, &room.id, &p.user_id, store::State::Left, true).await?;
                note_change(state, &room, Some(&p.user_id), "left", Some("disconnected")).await?;
                missing.remove(&seat);
                report.left_after_grace += 1;
            }
        }
    }

    let idle_before = now_ms() - i64::try_from(settings.idle_after.as_millis()).unwrap_or(i64::MAX);
    for room in store::idle_rooms(&state.db, idle_before).await? {
        store::close_room(&state.db, &room.id).await?;
        note_change(state, &room, None, "closed", Some("idle")).await?;
        state.audio.disconnect(&room.id, None).await?;
        report.idle_rooms_closed += 1;
    }

    if let Some(sfu) = state.audio.sfu() {
        crate::admin::count_spoken(&state.db, sfu.take_spoken_seconds().await).await;
    }

    let keep_after =
        now_ms() - i64::try_from(settings.history_retention.as_millis()).unwrap_or(i64::MAX);
    report.events_deleted = store::delete_events_before(&state.db, keep_after).await?;

    let guests_unused_since =
        now_ms() - i64::try_from(state.config.guest_retention.as_millis()).unwrap_or(i64::MAX);
    (report.guests_deleted, report.sessions_deleted) =
        crate::users::purge(&state.db, now_ms(), guests_unused_since).await?;
    let analytics_before =
        now_ms() - i64::try_from(state.config.analytics.retention.as_millis()).unwrap_or(i64::MAX);
    report.analytics_deleted = crate::events::purge(&state.db, analytics_before).await?;
    Ok(report)
}
