//! Background jobs: a small durable queue with retries (exponential backoff), a
//! dead-letter state and an idempotency key per job.
//!
//! Two stores behind one trait: the database (SQLite on one machine, PostgreSQL at
//! scale — `FOR UPDATE SKIP LOCKED` lets several workers share it) and Redis
//! (`JOBS_BACKEND=redis`). Workers take a job with a lease; a worker that dies lets its
//! lease run out and the job is taken again. One worker loop ([`worker`]) runs inside
//! `solace serve` and as `solace worker`.
//!
//! Why not apalis: its current line needs sqlx 0.9 and redis 1.x (a second copy of
//! both next to ours, and no `Any` pool), and the 0.7 line has no idempotency keys and
//! keeps retries in memory.

pub mod admin;
mod redis_queue;
mod sql_queue;
pub mod worker;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;

pub use redis_queue::RedisQueue;
pub use sql_queue::SqlQueue;

use crate::error::Result;

/// A job to add.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub queue: &'static str,
    /// Adding a job whose key is already known does nothing.
    pub idempotency_key: String,
    /// JSON with references only (ids and keys), never user content.
    pub payload: serde_json::Value,
    pub max_attempts: u32,
}

/// A job a worker holds.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: String,
    pub queue: String,
    pub idempotency_key: String,
    pub payload: serde_json::Value,
    /// This attempt's number, from 1.
    pub attempt: u32,
    pub max_attempts: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Pending,
    Running,
    Done,
    /// Out of attempts, or failed for good: kept for inspection, not run again.
    Dead,
}

impl JobStatus {
    fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "pending" => Self::Pending,
            "running" => Self::Running,
            "done" => Self::Done,
            "dead" => Self::Dead,
            _ => return None,
        })
    }
}

/// A dead-lettered job, for operators.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct DeadJob {
    pub id: String,
    pub queue: String,
    pub idempotency_key: String,
    #[sqlx(try_from = "i64")]
    pub attempts: u32,
    #[schema(required = true)]
    pub last_error: Option<String>,
}

/// The queues the app runs.
pub const QUEUES: &[&str] = &[crate::speech::QUEUE, crate::memory::QUEUE];

/// How many jobs a queue holds in each state, for metrics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct QueueStats {
    pub pending: u64,
    pub running: u64,
    pub dead: u64,
    /// When the oldest pending job that is already due became due (ms since the epoch).
    pub oldest_due_ms: Option<i64>,
}

/// How a failed attempt should end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Try again after this long, if attempts remain.
    After(Duration),
    /// Trying again cannot help: dead-letter now.
    Never,
}

#[async_trait]
pub trait JobQueue: Send + Sync + 'static {
    /// Adds the job; `false` when one with the same idempotency key exists already.
    async fn enqueue(&self, job: NewJob) -> Result<bool>;
    /// Takes the next due job of `queue` for `lease` (then it is due again), if any,
    /// counting the attempt — even one already past its last (see [`JobQueue::claim`]).
    async fn take(&self, queue: &str, worker: &str, lease: Duration) -> Result<Option<Job>>;
    /// Takes the next due job of `queue` for `lease`, if any. A job taken again after
    /// its worker died during every attempt is dead-lettered instead of run once more.
    async fn claim(&self, queue: &str, worker: &str, lease: Duration) -> Result<Option<Job>> {
        loop {
            match self.take(queue, worker, lease).await? {
                Some(job) if job.attempt > job.max_attempts => {
                    let why = "its worker stopped during every attempt";
                    self.fail(&job, why, Retry::Never).await?;
                }
                next => return Ok(next),
            }
        }
    }
    async fn complete(&self, job: &Job) -> Result<()>;
    /// Records a failed attempt: back to pending for later, or dead. Returns which.
    async fn fail(&self, job: &Job, error: &str, retry: Retry) -> Result<JobStatus>;
    /// Where the job with this idempotency key is.
    async fn status(&self, idempotency_key: &str) -> Result<Option<JobStatus>>;
    /// Dead-lettered jobs of `queue`, newest first.
    async fn dead(&self, queue: &str, limit: usize) -> Result<Vec<DeadJob>>;
    /// Gives a dead job of `queue` a fresh set of attempts, due now (an operator fixed
    /// the cause). `false` when no such dead job exists.
    async fn retry_dead(&self, queue: &str, id: &str) -> Result<bool>;
    /// Forgets `queue`'s finished jobs older than `before_ms` (their keys may be used
    /// again) and dead ones older than `dead_before_ms`. Returns how many went.
    async fn prune(&self, queue: &str, before_ms: i64, dead_before_ms: i64) -> Result<u64>;
    /// How many of `queue`'s jobs are pending, running and dead, and when the oldest
    /// pending job due by `now_ms` became due.
    async fn stats(&self, queue: &str, now_ms: i64) -> Result<QueueStats>;
    /// `database` or `redis`.
    fn backend(&self) -> &'static str;
}

/// Where a failed attempt leaves its job, and when (ms since the epoch) it is due or
/// died: pending again while attempts remain and the error may pass, else dead.
fn after_failure(job: &Job, retry: Retry, now: i64) -> (JobStatus, i64) {
    match retry {
        Retry::After(wait) if job.attempt < job.max_attempts => (
            JobStatus::Pending,
            now.saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX)),
        ),
        _ => (JobStatus::Dead, now),
    }
}

impl JobStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Done => "done",
            Self::Dead => "dead",
        }
    }
}

/// The wait before attempt `attempt + 1`: 1 s, 2 s, 4 s … up to a minute, each with up
/// to a fifth of random jitter so that failed jobs do not come back in lockstep.
pub fn backoff(attempt: u32) -> Duration {
    let base = Duration::from_secs(1) * 2u32.saturating_pow(attempt.saturating_sub(1).min(6));
    let base = base.min(Duration::from_secs(60));
    let random = (uuid::Uuid::new_v4().as_u128() % 10_000) as f64 / 10_000.0;
    let jitter = base.mul_f64(random / 5.0);
    base + jitter
}

/// Builds the configured queue.
pub async fn connect(
    backend: crate::config::JobsBackend,
    db: &crate::db::Db,
    redis_url: Option<&secrecy::SecretString>,
    key_prefix: &str,
) -> Result<Arc<dyn JobQueue>> {
    Ok(match (backend, redis_url) {
        (crate::config::JobsBackend::Redis, Some(url)) => {
            Arc::new(RedisQueue::connect(url, key_prefix).await?)
        }
        _ => Arc::new(SqlQueue::new(db.clone())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        for (attempt, base) in [(1, 1), (2, 2), (3, 4), (7, 60), (30, 60)] {
            let wait = backoff(attempt);
            let base = Duration::from_secs(base);
            assert!(
                wait >= base && wait <= base.mul_f64(1.2),
                "{attempt}: {wait:?}"
            );
        }
    }

    #[test]
    fn statuses_read_back() {
        for s in [
            JobStatus::Pending,
            JobStatus::Running,
            JobStatus::Done,
            JobStatus::Dead,
        ] {
            let text = serde_json::to_value(s).unwrap();
            assert_eq!(JobStatus::parse(text.as_str().unwrap()), Some(s));
        }
    }
}
