//! Memory across conversations, under the person's control.
//!
//! Each finished turn (the person's message and Solace's reply) becomes a background
//! job on the existing queue: chunk → embed → store, off the reply's path. When the
//! person writes again, the message's vector — computed once, by the safety layer's own
//! reading of it when the in-process encoder runs — is searched against that person's
//! items only, and the closest few that the conversation does not already show go into
//! the prompt as earlier conversations (`solace_ai::memory::recalled_prompt`).
//!
//! A long conversation also gets a rolling summary, when a language model is configured:
//! once its older turns no longer fit the model's window, a background job asks the model
//! to fold them into the conversation's summary (checked like any reply), which later
//! turns give the model.
//!
//! Nothing the safety layer flagged is remembered unless the person opted in; memory can
//! be paused, items deleted one by one or all at once, and deleting a conversation or
//! the account deletes what was remembered of it. Memory never fails a reply: any error
//! here leaves the reply without it.

mod http;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use solace_ai::memory::knowledge::{Library, Note};
use solace_ai::memory::{chunks, summarise, Embedder, LocalEmbedder, OpenAiEmbedder, Recalled};
use solace_ai::model::{ChatMessage, ChatRole};
use solace_ai::safety::Detector;
use tokio::sync::Notify;

pub use http::router;
use store::{DbVectors, NewItem, VectorStore};

use crate::config::Config;
use crate::db::{col, Db};
use crate::error::{Error, ErrorCode, Result};
use crate::jobs::worker::{Handler, JobError};
use crate::jobs::{JobQueue, NewJob};
use crate::vault::Slot;

/// The queue embedding jobs wait in.
pub const QUEUE: &str = "memory";
/// Turns embedded at once by one worker (the in-process encoder is CPU work).
pub const CONCURRENCY: usize = 2;
/// Attempts per turn before it is dead-lettered.
const MAX_ATTEMPTS: u32 = 5;
/// The longest a remote embedding of the message may delay the reply.
const QUERY_TIMEOUT: Duration = Duration::from_secs(2);

/// What memory can do here, for `/api/memory` and the admin view.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MemoryStatus {
    /// Whether this deployment remembers across conversations.
    pub available: bool,
    /// Why not, when it does not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The embedding model, when it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

/// A person's choices about memory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Choices {
    /// Nothing new is remembered and nothing is recalled.
    pub paused: bool,
    /// Moments the safety layer flagged may be remembered too.
    pub hard_moments: bool,
}

/// Memory for the whole app; cheap to clone.
#[derive(Clone)]
pub struct Memory {
    embedder: Option<Arc<dyn Embedder>>,
    /// The embedder is the safety layer's encoder: the message's vector comes with its
    /// assessment.
    shares_safety_reading: bool,
    status: MemoryStatus,
    pub store: Arc<DbVectors>,
    jobs: Arc<dyn JobQueue>,
    /// Wakes a local worker when a job is added.
    pub wake: Arc<Notify>,
    recall_items: usize,
    min_similarity: f32,
    /// Writes conversation summaries, when a model is configured.
    model: solace_ai::model::ModelSlot,
    /// How many messages of a conversation the model sees (`CHAT_HISTORY_TURNS`).
    window: usize,
    /// Solace's library of notes, embedded at start-up (`with_library`).
    library: Option<Arc<Library>>,
    library_floor: f32,
}

impl Memory {
    /// Memory on `EMBEDDINGS_BASE_URL` when set, else on the safety layer's encoder;
    /// off (saying why) when neither is there or `MEMORY_ENABLED=false`.
    pub fn build(
        config: &Config,
        db: &Db,
        jobs: Arc<dyn JobQueue>,
        detector: &Arc<Detector>,
        model: solace_ai::model::ModelSlot,
    ) -> Result<Self> {
        let settings = &config.memory;
        let (embedder, reason): (Option<Arc<dyn Embedder>>, Option<String>) =
            match (&settings.embeddings, settings.enabled) {
                (_, false) => (None, Some("MEMORY_ENABLED is false".into())),
                (Some(remote), true) => {
                    let embedder = OpenAiEmbedder::new(
                        &remote.base_url,
                        remote.api_key.clone(),
                        &remote.model,
                    )
                    .map_err(|e| Error::Startup(format!("EMBEDDINGS_BASE_URL: {e}")))?;
                    (Some(Arc::new(embedder)), None)
                }
                (None, true) => match LocalEmbedder::new(detector.clone()) {
                    Some(local) => (Some(Arc::new(local)), None),
                    None => (
                        None,
                        Some(
                            "no embedding model: the multilingual safety encoder is not \
                             installed (solace model pull-safety) and EMBEDDINGS_BASE_URL \
                             is not set"
                                .into(),
                        ),
                    ),
                },
            };
        let status = MemoryStatus {
            available: embedder.is_some(),
            reason,
            model: embedder.as_ref().map(|e| e.model_id().to_owned()),
        };
        Ok(Self {
            shares_safety_reading: settings.enabled && settings.embeddings.is_none(),
            embedder,
            status,
            store: Arc::new(DbVectors::new(db.clone(), settings.cache_bytes)),
            jobs,
            wake: Arc::new(Notify::new()),
            recall_items: settings.recall_items,
            min_similarity: settings.min_similarity,
            model,
            window: config.chat.history_turns,
            library: None,
            library_floor: settings.library_min_similarity,
        })
    }

    /// Embeds Solace's library of notes so messages can be matched to them (when
    /// `wanted` and an embedder runs). A failure leaves the library out, saying why.
    pub async fn with_library(mut self, wanted: bool) -> Self {
        let Some(embedder) = self.embedder.as_ref().filter(|_| wanted) else {
            return self;
        };
        match Library::build(embedder.as_ref()).await {
            Ok(library) => {
                tracing::info!(notes = library.len(), "Solace's library is ready");
                self.library = Some(Arc::new(library));
            }
            Err(error) => {
                tracing::warn!(%error, "Solace's library is off: its notes could not be embedded")
            }
        }
        self
    }

    pub fn status(&self) -> &MemoryStatus {
        &self.status
    }

    /// Drops this replica's copy of a person's vectors after their items changed here.
    pub async fn changed(&self, owner_id: &str) {
        if let Some(embedder) = &self.embedder {
            self.store.invalidate(owner_id, embedder.model_id()).await;
        }
    }

    /// The person's choices, read once per turn (for `recall` and `remember`); `None`
    /// when memory is off here or they cannot be read (then nothing is kept or recalled).
    pub async fn choices_of(&self, db: &Db, owner_id: &str) -> Option<Choices> {
        self.embedder.as_ref()?;
        match choices(db, owner_id).await {
            Ok(choices) => Some(choices),
            Err(error) => {
                tracing::warn!(%error, "could not read memory choices; no memory this turn");
                None
            }
        }
    }

    /// What bears on `message`: from the person's earlier conversations at most
    /// `MEMORY_RECALL_ITEMS` items, none of them already in `window` (the turns the model
    /// sees anyway), unless memory is paused or off; and the library note that fits it,
    /// if any. `vector` is the message's, when the safety layer computed it. Never fails:
    /// without an answer in time the reply goes on without these.
    #[tracing::instrument(name = "memory.recall", skip_all, fields(found = tracing::field::Empty))]
    pub async fn recall(
        &self,
        owner_id: &str,
        choices: Option<Choices>,
        message: &str,
        vector: Option<Vec<f32>>,
        window: &[ChatMessage],
    ) -> (Vec<Recalled>, Option<Note>) {
        let Some(embedder) = &self.embedder else {
            return (Vec::new(), None);
        };
        let personal = choices.is_some_and(|c| !c.paused);
        if !personal && self.library.is_none() {
            return (Vec::new(), None);
        }
        let vector = match self.query_vector(embedder, message, vector).await {
            Ok(vector) => vector,
            Err(error) => {
                tracing::warn!(%error, "memory unavailable for this reply");
                return (Vec::new(), None);
            }
        };
        let note = self
            .library
            .as_ref()
            .filter(|library| library.model() == embedder.model_id())
            .and_then(|library| library.find(&vector, self.library_floor))
            .map(|(note, _)| note.clone());
        if !personal {
            return (Vec::new(), note);
        }
        match self.search(embedder, owner_id, &vector, window).await {
            Ok(found) => {
                tracing::Span::current().record("found", found.len());
                (found, note)
            }
            Err(error) => {
                tracing::warn!(%error, "memory unavailable for this reply");
                (Vec::new(), note)
            }
        }
    }

    /// The message's vector: the safety layer's when it is the same encoder, else the
    /// embedding server's, waited for at most `QUERY_TIMEOUT`.
    async fn query_vector(
        &self,
        embedder: &Arc<dyn Embedder>,
        message: &str,
        vector: Option<Vec<f32>>,
    ) -> Result<Vec<f32>> {
        if let Some(vector) = vector.filter(|_| self.shares_safety_reading) {
            return Ok(vector);
        }
        let embedded = tokio::time::timeout(QUERY_TIMEOUT, embedder.embed(&[message.to_owned()]))
            .await
            .map_err(|_| Error::Timeout {
                code: ErrorCode::EmbeddingTimeout,
                message: "the embedding server did not answer in time".into(),
            })?
            .map_err(embedding_failed)?;
        embedded
            .into_iter()
            .next()
            .ok_or_else(|| embedding_failed("no vector for the message"))
    }

    async fn search(
        &self,
        embedder: &Arc<dyn Embedder>,
        owner_id: &str,
        vector: &[f32],
        window: &[ChatMessage],
    ) -> Result<Vec<Recalled>> {
        let hits = self
            .store
            .search(
                owner_id,
                embedder.model_id(),
                vector,
                self.recall_items + window.len(),
                self.min_similarity,
            )
            .await?;
        Ok(hits
            .into_iter()
            .filter(|hit| {
                let text = hit.item.text.trim();
                !window.iter().any(|turn| turn.content.contains(text))
            })
            .take(self.recall_items)
            .map(|hit| Recalled {
                role: if hit.item.role == "assistant" {
                    ChatRole::Assistant
                } else {
                    ChatRole::User
                },
                text: hit.item.text,
                said_at: hit.item.said_at / 1000,
            })
            .collect())
    }

    /// Queues the turn's messages (the person's and the reply) to be remembered, as one
    /// job, unless memory was paused during the turn (`choices`, read when it began), or
    /// the turn was `flagged` and the person did not opt in to keep such moments. The job
    /// checks again, in case they paused since. A failure to queue costs the memory,
    /// never the reply.
    pub async fn remember(
        &self,
        owner_id: &str,
        message_ids: &[&str],
        flagged: bool,
        choices: Option<Choices>,
    ) {
        let (Some(_), Some(first), Some(choices)) = (&self.embedder, message_ids.first(), choices)
        else {
            return;
        };
        if choices.paused || (flagged && !choices.hard_moments) {
            return;
        }
        let queued = self
            .jobs
            .enqueue(NewJob {
                queue: QUEUE,
                idempotency_key: format!("memory:{first}"),
                payload: serde_json::json!({
                    "owner_id": owner_id, "message_ids": message_ids, "flagged": flagged,
                }),
                max_attempts: MAX_ATTEMPTS,
            })
            .await;
        match queued {
            Ok(_) => self.wake.notify_one(),
            Err(error) => tracing::warn!(%error, "could not queue a turn to remember"),
        }
    }

    /// Queues an update of the conversation's summary when at least half a window of
    /// new messages has left the model's window since the summary was last written
    /// (`count`: the messages the conversation holds now; `covers`: how many of them the
    /// summary covers).
    pub async fn summarise_later(
        &self,
        owner_id: &str,
        session_id: &str,
        count: usize,
        covers: usize,
    ) {
        if !self.model.is_some() || !self.summary_due(count, covers) {
            return;
        }
        let queued = self
            .jobs
            .enqueue(NewJob {
                queue: QUEUE,
                idempotency_key: format!("summary:{session_id}:{count}"),
                payload: serde_json::json!({
                    "kind": "summary", "owner_id": owner_id, "session_id": session_id,
                }),
                max_attempts: MAX_ATTEMPTS,
            })
            .await;
        match queued {
            Ok(_) => self.wake.notify_one(),
            Err(error) => tracing::warn!(%error, "could not queue a conversation summary"),
        }
    }

    /// The job handler: embeds one message's pieces and stores them, or updates a
    /// conversation's summary.
    pub fn handler(&self, db: Db) -> Handler {
        let memory = self.clone();
        Arc::new(move |job| {
            let (memory, db) = (memory.clone(), db.clone());
            Box::pin(async move {
                if job.payload["kind"] == "summary" {
                    memory.summarise_conversation(&db, &job).await
                } else {
                    memory.embed_turn(&db, &job).await
                }
            })
        })
    }

    async fn summarise_conversation(
        &self,
        db: &Db,
        job: &crate::jobs::Job,
    ) -> Result<(), JobError> {
        let (Some(owner_id), Some(session_id)) = (
            job.payload["owner_id"].as_str(),
            job.payload["session_id"].as_str(),
        ) else {
            return Err(JobError::fatal("the job names no conversation"));
        };
        let Some(model) = self.model.get() else {
            return Err(JobError::retry("no language model on this worker"));
        };
        let database = |e: Error| JobError::retry(format!("database: {e}"));
        let Some((previous, covers, count)) = summary_state(db, owner_id, session_id)
            .await
            .map_err(database)?
        else {
            return Ok(()); // the conversation was deleted
        };
        if !self.summary_due(count, covers) {
            return Ok(());
        }
        let outside = count.saturating_sub(self.window);
        let turns = messages_between(db, owner_id, session_id, covers, outside)
            .await
            .map_err(database)?;
        let written = summarise(model.as_ref(), previous.as_deref(), &turns)
            .await
            .map_err(|e| JobError::from_provider(&e, e.is_retryable()))?;
        let Some(summary) = written else {
            tracing::warn!("a conversation summary failed the output checks; kept the old one");
            return Ok(());
        };
        let sealed = async {
            let sealer = db.vault()?.sealer(owner_id).await?;
            sealer.seal_text(Slot::new(crate::chat::SUMMARY_SLOT, session_id), &summary)
        };
        let summary = sealed.await.map_err(database)?;
        let stored = sqlx::query(
            "UPDATE chat_sessions SET summary = $1, summary_covers = $2 \
             WHERE id = $3 AND owner_id = $4 AND summary_covers = $5",
        )
        .bind(summary)
        .bind(i64::try_from(outside).unwrap_or(i64::MAX))
        .bind(session_id.to_owned())
        .bind(owner_id.to_owned())
        .bind(i64::try_from(covers).unwrap_or(i64::MAX))
        .execute(db.pool())
        .await
        .map_err(|e| database(e.into()))?;
        // Another job wrote a summary meanwhile: start again from it (unless the
        // conversation is gone).
        if stored.rows_affected() == 0
            && summary_state(db, owner_id, session_id)
                .await
                .map_err(database)?
                .is_some()
        {
            return Err(JobError::retry("the summary changed meanwhile"));
        }
        Ok(())
    }

    async fn embed_turn(&self, db: &Db, job: &crate::jobs::Job) -> Result<(), JobError> {
        let (Some(owner_id), Some(ids)) = (
            job.payload["owner_id"].as_str(),
            job.payload["message_ids"].as_array(),
        ) else {
            return Err(JobError::fatal("the job names no messages"));
        };
        let Some(embedder) = &self.embedder else {
            return Err(JobError::retry("no embedding model on this worker"));
        };
        let database = |e: Error| JobError::retry(format!("database: {e}"));
        let choices = choices(db, owner_id).await.map_err(database)?;
        let flagged = job.payload["flagged"].as_bool().unwrap_or(true);
        if choices.paused || (flagged && !choices.hard_moments) {
            return Ok(());
        }
        let mut items = Vec::new();
        for id in ids.iter().filter_map(serde_json::Value::as_str) {
            // Deleted since: nothing to remember.
            let Some(message) = message_of(db, owner_id, id).await.map_err(database)? else {
                continue;
            };
            for (piece, text) in chunks(&message.content).into_iter().enumerate() {
                items.push(NewItem {
                    owner_id: owner_id.to_owned(),
                    session_id: message.session_id.clone(),
                    message_id: id.to_owned(),
                    piece,
                    role: message.role,
                    text: text.to_owned(),
                    vector: Vec::new(),
                    said_at: message.said_at,
                });
            }
        }
        if items.is_empty() {
            return Ok(());
        }
        let texts: Vec<String> = items.iter().map(|i| i.text.clone()).collect();
        let vectors = embedder
            .embed(&texts)
            .await
            .map_err(|e| JobError::from_provider(&e, e.is_retryable()))?;
        for (item, vector) in items.iter_mut().zip(vectors) {
            item.vector = vector;
        }
        self.store
            .put(embedder.model_id(), &items)
            .await
            .map_err(database)
    }

    /// Whether enough messages have left the window since the summary covered `covers`
    /// of them: half a window (at least two), so the model is asked every few turns.
    fn summary_due(&self, count: usize, covers: usize) -> bool {
        count.saturating_sub(self.window) >= covers + (self.window / 2).max(2)
    }

    /// Runs the memory worker until `stop`.
    pub async fn run_worker(
        self,
        db: Db,
        concurrency: usize,
        stop: impl std::future::Future<Output = ()>,
    ) {
        let handler = self.handler(db);
        crate::jobs::worker::run(
            self.jobs.clone(),
            QUEUE,
            handler,
            concurrency,
            self.wake.clone(),
            stop,
        )
        .await;
    }

    /// Re-embeds every item another model made with this one, `batch` at a time, calling
    /// `progress(done, total)` after each batch. Safe to stop and run again: each batch is
    /// stored before the next begins.
    pub async fn reindex(
        &self,
        db: &Db,
        batch: usize,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<u64> {
        let Some(embedder) = &self.embedder else {
            return Err(Error::Startup(
                self.status
                    .reason
                    .clone()
                    .unwrap_or_else(|| "memory is off".into()),
            ));
        };
        let model = embedder.model_id();
        let total = u64::try_from(store::count_stale(db, model).await?).unwrap_or(0);
        let mut done = 0;
        progress(done, total);
        loop {
            let stale = store::stale(db, model, batch.max(1)).await?;
            if stale.is_empty() {
                break;
            }
            let texts: Vec<String> = stale.iter().map(|(_, _, text)| text.clone()).collect();
            let vectors = embedder.embed(&texts).await.map_err(embedding_failed)?;
            for ((id, owner, _), vector) in stale.iter().zip(vectors) {
                store::revector(db, id, owner, model, &vector).await?;
            }
            done += stale.len() as u64;
            progress(done.min(total), total);
        }
        self.store.blocks_changed().await;
        Ok(done)
    }
}

fn embedding_failed(error: impl std::fmt::Display) -> Error {
    Error::Upstream {
        code: ErrorCode::EmbeddingFailed,
        message: error.to_string(),
    }
}

/// A conversation's summary, how many messages it covers, and how many there are.
async fn summary_state(
    db: &Db,
    owner_id: &str,
    session_id: &str,
) -> Result<Option<(Option<String>, usize, usize)>> {
    let row = sqlx::query(
        "SELECT s.summary, s.summary_covers, \
           (SELECT COUNT(*) FROM messages m WHERE m.session_id = s.id) AS count \
         FROM chat_sessions s WHERE s.id = $1 AND s.owner_id = $2",
    )
    .bind(session_id.to_owned())
    .bind(owner_id.to_owned())
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let size = |n: i64| usize::try_from(n).unwrap_or(0);
    let summary = db
        .vault()?
        .open_text_opt(
            Slot::new(crate::chat::SUMMARY_SLOT, session_id),
            col(&row, "summary")?,
        )
        .await?;
    Ok(Some((
        summary,
        size(col(&row, "summary_covers")?),
        size(col(&row, "count")?),
    )))
}

/// The conversation's messages from position `from` up to (not including) `to`, oldest
/// first.
async fn messages_between(
    db: &Db,
    owner_id: &str,
    session_id: &str,
    from: usize,
    to: usize,
) -> Result<Vec<ChatMessage>> {
    let rows = sqlx::query(
        "SELECT id, role, content FROM messages WHERE session_id = $1 AND owner_id = $2 \
         ORDER BY created_at, id LIMIT $3 OFFSET $4",
    )
    .bind(session_id.to_owned())
    .bind(owner_id.to_owned())
    .bind(i64::try_from(to.saturating_sub(from)).unwrap_or(0))
    .bind(i64::try_from(from).unwrap_or(0))
    .fetch_all(db.pool())
    .await?;
    let vault = db.vault()?;
    let mut turns = Vec::with_capacity(rows.len());
    for row in &rows {
        let role = if col::<String>(row, "role")? == "assistant" {
            ChatRole::Assistant
        } else {
            ChatRole::User
        };
        let id: String = col(row, "id")?;
        let content = vault
            .open_text(
                Slot::new(crate::chat::CONTENT_SLOT, &id),
                col(row, "content")?,
            )
            .await?;
        turns.push(ChatMessage::new(role, content));
    }
    Ok(turns)
}

/// A stored message, as the memory job reads it.
struct StoredMessage {
    session_id: String,
    role: &'static str,
    content: String,
    said_at: i64,
}

async fn message_of(db: &Db, owner_id: &str, message_id: &str) -> Result<Option<StoredMessage>> {
    let row = sqlx::query(
        "SELECT session_id, role, content, created_at FROM messages \
         WHERE id = $1 AND owner_id = $2 AND role IN ('user', 'assistant')",
    )
    .bind(message_id.to_owned())
    .bind(owner_id.to_owned())
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    Ok(Some(StoredMessage {
        session_id: col(&row, "session_id")?,
        role: if col::<String>(&row, "role")? == "assistant" {
            "assistant"
        } else {
            "user"
        },
        content: db
            .vault()?
            .open_text(
                Slot::new(crate::chat::CONTENT_SLOT, message_id),
                col(&row, "content")?,
            )
            .await?,
        said_at: col(&row, "created_at")?,
    }))
}

/// The person's memory choices (defaults for an unknown id).
pub async fn choices(db: &Db, owner_id: &str) -> Result<Choices> {
    let row =
        sqlx::query("SELECT memory_paused_at, memory_hard_moments_at FROM users WHERE id = $1")
            .bind(owner_id.to_owned())
            .fetch_optional(db.pool())
            .await?;
    let Some(row) = row else {
        return Ok(Choices::default());
    };
    Ok(Choices {
        paused: col::<Option<i64>>(&row, "memory_paused_at")?.is_some(),
        hard_moments: col::<Option<i64>>(&row, "memory_hard_moments_at")?.is_some(),
    })
}

/// Records the person's choices.
pub async fn choose(db: &Db, owner_id: &str, choices: Choices) -> Result<()> {
    let now = crate::db::now_ms();
    let done = sqlx::query(
        "UPDATE users SET \
           memory_paused_at = CASE WHEN $1 = 1 THEN COALESCE(memory_paused_at, $3) END, \
           memory_hard_moments_at = CASE WHEN $2 = 1 THEN COALESCE(memory_hard_moments_at, $3) END, \
           updated_at = $3 \
         WHERE id = $4",
    )
    .bind(i64::from(choices.paused))
    .bind(i64::from(choices.hard_moments))
    .bind(now)
    .bind(owner_id.to_owned())
    .execute(db.pool())
    .await?;
    crate::db::touched_a_row(&done)
}
