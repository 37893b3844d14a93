//! What the model remembers of a conversation: its newest turns, kept in the cache
//! (Redis in scale mode, in-process otherwise) and rebuilt from the database on a miss.
//!
//! Callers check that the session is the caller's before touching its memory; keys are
//! per session and the entries expire, so a deleted conversation does not linger. The
//! entries are sealed with the owner's data key like the rows they copy, so Redis (and
//! its snapshots) hold no readable turn and a shredded account's entries stay closed.

use std::sync::Arc;
use std::time::Duration;

use solace_ai::model::{ChatMessage, ChatRole};

use super::{recent_messages, Message, Role};
use crate::cache::Cache;
use crate::db::Db;
use crate::error::Result;
use crate::metrics::{MemoryLookup, Metrics};
use crate::state::AppState;
use crate::vault::Slot;

/// Where a cached conversation is sealed; the row is the cache key.
const SLOT: &str = "cache.recent";

/// How long an idle conversation's memory stays in the cache.
const TTL: Duration = Duration::from_secs(60 * 60);

#[derive(Clone)]
pub struct Recent {
    db: Db,
    cache: Arc<dyn Cache>,
    turns: usize,
    metrics: Arc<Metrics>,
}

impl Recent {
    /// The app's memory: its cache, as many turns as `CHAT_HISTORY_TURNS`.
    pub fn of(state: &AppState) -> Self {
        Self {
            db: state.db.clone(),
            cache: state.cache.clone(),
            turns: state.config.chat.history_turns,
            metrics: state.metrics.clone(),
        }
    }

    fn key(session_id: &str) -> String {
        format!("chat:memory:{session_id}")
    }

    /// The newest turns of one of the owner's sessions, oldest first.
    pub async fn recall(&self, owner_id: &str, session_id: &str) -> Result<Vec<ChatMessage>> {
        let key = Self::key(session_id);
        let lookup = match self.cache.get(&key).await {
            Ok(Some(bytes)) => match self.open(&key, bytes).await {
                Some(turns) => {
                    self.metrics.memory_lookup(MemoryLookup::Hit);
                    return Ok(turns);
                }
                None => MemoryLookup::Error,
            },
            Ok(None) => MemoryLookup::Miss,
            // Memory is an optimisation: a cache outage falls back to the database.
            Err(error) => {
                tracing::warn!(%error, "conversation memory unavailable; reading the database");
                MemoryLookup::Error
            }
        };
        self.metrics.memory_lookup(lookup);
        let limit = i64::try_from(self.turns).unwrap_or(i64::MAX);
        let messages = recent_messages(&self.db, owner_id, session_id, limit).await?;
        let turns: Vec<ChatMessage> = messages.iter().filter_map(as_turn).collect();
        self.store(owner_id, session_id, &turns).await;
        Ok(turns)
    }

    /// An entry in the clear; `None` if it cannot be opened or read (then the database
    /// is asked instead).
    async fn open(&self, key: &str, bytes: Vec<u8>) -> Option<Vec<ChatMessage>> {
        let vault = self.db.vault().ok()?;
        let plain = vault.open_bytes(Slot::new(SLOT, key), bytes).await.ok()?;
        serde_json::from_slice(&plain).ok()
    }

    /// Replaces the remembered turns, keeping only the newest.
    pub async fn store(&self, owner_id: &str, session_id: &str, turns: &[ChatMessage]) {
        let newest = &turns[turns.len().saturating_sub(self.turns)..];
        let key = Self::key(session_id);
        let sealed = async {
            let bytes = serde_json::to_vec(newest).ok()?;
            let sealer = self.db.vault().ok()?.sealer(owner_id).await.ok()?;
            sealer.seal_bytes(Slot::new(SLOT, &key), &bytes).ok()
        };
        // Memory is an optimisation: without a sealed copy, nothing is cached.
        let Some(sealed) = sealed.await else {
            return;
        };
        if let Err(error) = self.cache.set(&key, &sealed, TTL).await {
            tracing::warn!(%error, "could not remember the conversation");
        }
    }

    /// Drops what is remembered, e.g. when the conversation is deleted.
    pub async fn forget(&self, session_id: &str) {
        if let Err(error) = self.cache.delete(&Self::key(session_id)).await {
            tracing::warn!(%error, "could not forget the conversation");
        }
    }
}

/// A stored message as a turn the model sees; system notes are not part of it.
pub fn as_turn(message: &Message) -> Option<ChatMessage> {
    let role = match message.role {
        Role::User => ChatRole::User,
        Role::Assistant => ChatRole::Assistant,
        Role::System => return None,
    };
    Some(ChatMessage::new(role, message.content.clone()))
}
