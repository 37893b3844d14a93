//! The job queue in the application database (SQLite or PostgreSQL).

use std::time::Duration;

use async_trait::async_trait;
use sqlx::any::AnyRow;

use super::{DeadJob, Job, JobQueue, JobStatus, NewJob, QueueStats, Retry};
use crate::config::DatabaseKind;
use crate::db::{col, new_id, now_ms, Db};
use crate::error::Result;

pub struct SqlQueue {
    db: Db,
}

impl SqlQueue {
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

fn ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn count(value: i64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

fn job_from_row(row: &AnyRow) -> Result<Job> {
    let payload: String = col(row, "payload")?;
    Ok(Job {
        id: col(row, "id")?,
        queue: col(row, "queue")?,
        idempotency_key: col(row, "idempotency_key")?,
        payload: serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null),
        attempt: count(col(row, "attempts")?),
        max_attempts: count(col(row, "max_attempts")?),
    })
}

#[async_trait]
impl JobQueue for SqlQueue {
    async fn enqueue(&self, job: NewJob) -> Result<bool> {
        let now = now_ms();
        let done = sqlx::query(
            "INSERT INTO jobs (id, queue, idempotency_key, payload, status, attempts, max_attempts, \
               run_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 'pending', 0, $5, $6, $6, $6) \
             ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .bind(new_id())
        .bind(job.queue)
        .bind(job.idempotency_key)
        .bind(job.payload.to_string())
        .bind(i64::from(job.max_attempts.max(1)))
        .bind(now)
        .execute(self.db.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn take(&self, queue: &str, worker: &str, lease: Duration) -> Result<Option<Job>> {
        let now = now_ms();
        // Due pending jobs, and running ones whose worker's lease ran out.
        let skip_locked = match self.db.kind() {
            DatabaseKind::Postgres => " FOR UPDATE SKIP LOCKED",
            // SQLite runs one writer at a time: the UPDATE is the lock.
            DatabaseKind::Sqlite => "",
        };
        let sql = format!(
            "UPDATE jobs SET status = 'running', attempts = attempts + 1, locked_by = $1, \
               locked_until = $2, updated_at = $3 \
             WHERE id = (SELECT id FROM jobs WHERE queue = $4 AND \
               ((status = 'pending' AND run_at <= $3) OR (status = 'running' AND locked_until < $3)) \
               ORDER BY run_at, id LIMIT 1{skip_locked}) \
             RETURNING id, queue, idempotency_key, payload, attempts, max_attempts"
        );
        let row = sqlx::query(&sql)
            .bind(worker.to_owned())
            .bind(now.saturating_add(ms(lease)))
            .bind(now)
            .bind(queue.to_owned())
            .fetch_optional(self.db.pool())
            .await?;
        row.as_ref().map(job_from_row).transpose()
    }

    async fn complete(&self, job: &Job) -> Result<()> {
        sqlx::query(
            "UPDATE jobs SET status = 'done', locked_by = NULL, locked_until = NULL, \
               last_error = NULL, updated_at = $1 WHERE id = $2",
        )
        .bind(now_ms())
        .bind(job.id.clone())
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    async fn fail(&self, job: &Job, error: &str, retry: Retry) -> Result<JobStatus> {
        let now = now_ms();
        let (status, run_at) = super::after_failure(job, retry, now);
        sqlx::query(
            "UPDATE jobs SET status = $1, run_at = $2, last_error = $3, locked_by = NULL, \
               locked_until = NULL, updated_at = $4 WHERE id = $5",
        )
        .bind(status.as_str())
        .bind(run_at)
        .bind(error.chars().take(500).collect::<String>())
        .bind(now)
        .bind(job.id.clone())
        .execute(self.db.pool())
        .await?;
        Ok(status)
    }

    async fn status(&self, idempotency_key: &str) -> Result<Option<JobStatus>> {
        let row = sqlx::query("SELECT status FROM jobs WHERE idempotency_key = $1")
            .bind(idempotency_key.to_owned())
            .fetch_optional(self.db.pool())
            .await?;
        Ok(match row {
            Some(row) => JobStatus::parse(&col::<String>(&row, "status")?),
            None => None,
        })
    }

    async fn dead(&self, queue: &str, limit: usize) -> Result<Vec<DeadJob>> {
        Ok(sqlx::query_as(
            "SELECT id, queue, idempotency_key, attempts, last_error FROM jobs \
             WHERE queue = $1 AND status = 'dead' ORDER BY updated_at DESC, id DESC LIMIT $2",
        )
        .bind(queue.to_owned())
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(self.db.pool())
        .await?)
    }

    async fn retry_dead(&self, queue: &str, id: &str) -> Result<bool> {
        let now = now_ms();
        let done = sqlx::query(
            "UPDATE jobs SET status = 'pending', attempts = 0, run_at = $1, last_error = NULL, \
               updated_at = $1 WHERE id = $2 AND queue = $3 AND status = 'dead'",
        )
        .bind(now)
        .bind(id.to_owned())
        .bind(queue.to_owned())
        .execute(self.db.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn prune(&self, queue: &str, before_ms: i64, dead_before_ms: i64) -> Result<u64> {
        let done = sqlx::query(
            "DELETE FROM jobs WHERE queue = $3 AND ((status = 'done' AND updated_at < $1) \
               OR (status = 'dead' AND updated_at < $2))",
        )
        .bind(before_ms)
        .bind(dead_before_ms)
        .bind(queue.to_owned())
        .execute(self.db.pool())
        .await?;
        Ok(done.rows_affected())
    }

    async fn stats(&self, queue: &str, now_ms: i64) -> Result<QueueStats> {
        let rows = sqlx::query(
            "SELECT status, COUNT(*) AS jobs, \
               MIN(CASE WHEN status = 'pending' AND run_at <= $2 THEN run_at END) AS oldest_due \
             FROM jobs WHERE queue = $1 AND status IN ('pending', 'running', 'dead') \
             GROUP BY status",
        )
        .bind(queue.to_owned())
        .bind(now_ms)
        .fetch_all(self.db.pool())
        .await?;
        let mut stats = QueueStats::default();
        for row in &rows {
            let status: String = col(row, "status")?;
            let jobs = u64::try_from(col::<i64>(row, "jobs")?).unwrap_or_default();
            match status.as_str() {
                "pending" => {
                    stats.pending = jobs;
                    stats.oldest_due_ms = col::<Option<i64>>(row, "oldest_due")?;
                }
                "running" => stats.running = jobs,
                _ => stats.dead = jobs,
            }
        }
        Ok(stats)
    }

    fn backend(&self) -> &'static str {
        "database"
    }
}
