//! The job queue in Redis: each step is one Lua script, so it is atomic however many
//! workers share the queue.
//!
//! Keys (under the cache key prefix): `jobs:{queue}:ready` (sorted by when each job is
//! due), `jobs:{queue}:running` (sorted by lease end), `jobs:{queue}:dead` (sorted by
//! when it died), `jobs:job:{id}` (a hash with the job), `jobs:key:{idempotency key}`
//! (the job's id). Finished jobs and their keys expire after a day.

use std::time::Duration;

use async_trait::async_trait;
use redis::Script;
use secrecy::SecretString;

use super::{DeadJob, Job, JobQueue, JobStatus, NewJob, QueueStats, Retry};
use crate::db::{new_id, now_ms};
use crate::error::Result;

/// How long a finished job (and so its idempotency key) is kept.
const KEEP_DONE_SECS: i64 = 24 * 60 * 60;

pub struct RedisQueue {
    link: crate::cache::RedisLink,
    prefix: String,
}

const ENQUEUE: &str = r"
-- KEYS: key, job hash, ready set. ARGV: id, queue, idempotency key, payload, max attempts, now
if redis.call('SET', KEYS[1], ARGV[1], 'NX') == false then return 0 end
redis.call('HSET', KEYS[2], 'id', ARGV[1], 'queue', ARGV[2], 'key', ARGV[3], 'payload', ARGV[4],
  'status', 'pending', 'attempts', 0, 'max_attempts', ARGV[5], 'created_at', ARGV[6])
redis.call('ZADD', KEYS[3], ARGV[6], ARGV[1])
return 1
";

const CLAIM: &str = r"
-- KEYS: ready, running. ARGV: now, lease end, worker, job key prefix
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[1])
for _, id in ipairs(expired) do
  redis.call('ZREM', KEYS[2], id)
  redis.call('ZADD', KEYS[1], ARGV[1], id)
end
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 1)
if #ids == 0 then return false end
local id = ids[1]
redis.call('ZREM', KEYS[1], id)
redis.call('ZADD', KEYS[2], ARGV[2], id)
local job = ARGV[4] .. id
redis.call('HINCRBY', job, 'attempts', 1)
redis.call('HSET', job, 'status', 'running', 'locked_by', ARGV[3])
return redis.call('HMGET', job, 'id', 'queue', 'key', 'payload', 'attempts', 'max_attempts')
";

const COMPLETE: &str = r"
-- KEYS: running, job hash, key. ARGV: id, keep seconds
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], 'status', 'done')
redis.call('HDEL', KEYS[2], 'locked_by', 'last_error')
redis.call('EXPIRE', KEYS[2], ARGV[2])
redis.call('EXPIRE', KEYS[3], ARGV[2])
return 1
";

const FAIL: &str = r"
-- KEYS: running, ready, dead, job hash. ARGV: id, status, score, error
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[4], 'status', ARGV[2], 'last_error', ARGV[4])
redis.call('HDEL', KEYS[4], 'locked_by')
if ARGV[2] == 'pending' then
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
else
  redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
end
return 1
";

const RETRY_DEAD: &str = r"
-- KEYS: dead, ready, job hash. ARGV: id, now
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[3], 'status', 'pending', 'attempts', 0)
redis.call('HDEL', KEYS[3], 'last_error')
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return 1
";

impl RedisQueue {
    pub async fn connect(url: &SecretString, prefix: &str) -> Result<Self> {
        Ok(Self {
            link: crate::cache::RedisLink::connect(url).await?,
            prefix: prefix.to_owned(),
        })
    }

    fn set(&self, queue: &str, which: &str) -> String {
        format!("{}jobs:{queue}:{which}", self.prefix)
    }

    fn job_key(&self, id: &str) -> String {
        format!("{}jobs:job:{id}", self.prefix)
    }

    fn idempotency(&self, key: &str) -> String {
        format!("{}jobs:key:{key}", self.prefix)
    }
}

fn number(raw: Option<String>) -> u32 {
    raw.and_then(|v| v.parse().ok()).unwrap_or_default()
}

#[async_trait]
impl JobQueue for RedisQueue {
    async fn enqueue(&self, job: NewJob) -> Result<bool> {
        let id = new_id();
        let mut conn = self.link.conn();
        let added: i64 = Script::new(ENQUEUE)
            .key(self.idempotency(&job.idempotency_key))
            .key(self.job_key(&id))
            .key(self.set(job.queue, "ready"))
            .arg(&id)
            .arg(job.queue)
            .arg(&job.idempotency_key)
            .arg(job.payload.to_string())
            .arg(job.max_attempts.max(1))
            .arg(now_ms())
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.link.fail(e))?;
        Ok(added == 1)
    }

    async fn take(&self, queue: &str, worker: &str, lease: Duration) -> Result<Option<Job>> {
        let now = now_ms();
        let mut conn = self.link.conn();
        let fields: Option<Vec<Option<String>>> = Script::new(CLAIM)
            .key(self.set(queue, "ready"))
            .key(self.set(queue, "running"))
            .arg(now)
            .arg(now.saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX)))
            .arg(worker)
            .arg(self.job_key(""))
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.link.fail(e))?;
        let Some(mut fields) = fields else {
            return Ok(None);
        };
        fields.resize(6, None);
        let mut field = |i: usize| fields[i].take();
        let payload = field(3).unwrap_or_default();
        let job = Job {
            id: field(0).unwrap_or_default(),
            queue: field(1).unwrap_or_default(),
            idempotency_key: field(2).unwrap_or_default(),
            payload: serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null),
            attempt: number(field(4)),
            max_attempts: number(field(5)),
        };
        Ok(Some(job))
    }

    async fn complete(&self, job: &Job) -> Result<()> {
        let mut conn = self.link.conn();
        Script::new(COMPLETE)
            .key(self.set(&job.queue, "running"))
            .key(self.job_key(&job.id))
            .key(self.idempotency(&job.idempotency_key))
            .arg(&job.id)
            .arg(KEEP_DONE_SECS)
            .invoke_async::<i64>(&mut conn)
            .await
            .map_err(|e| self.link.fail(e))?;
        Ok(())
    }

    async fn fail(&self, job: &Job, error: &str, retry: Retry) -> Result<JobStatus> {
        let (status, score) = super::after_failure(job, retry, now_ms());
        let mut conn = self.link.conn();
        Script::new(FAIL)
            .key(self.set(&job.queue, "running"))
            .key(self.set(&job.queue, "ready"))
            .key(self.set(&job.queue, "dead"))
            .key(self.job_key(&job.id))
            .arg(&job.id)
            .arg(status.as_str())
            .arg(score)
            .arg(error.chars().take(500).collect::<String>())
            .invoke_async::<i64>(&mut conn)
            .await
            .map_err(|e| self.link.fail(e))?;
        Ok(status)
    }

    async fn status(&self, idempotency_key: &str) -> Result<Option<JobStatus>> {
        let mut conn = self.link.conn();
        let id: Option<String> = redis::cmd("GET")
            .arg(self.idempotency(idempotency_key))
            .query_async(&mut conn)
            .await
            .map_err(|e| self.link.fail(e))?;
        let Some(id) = id else { return Ok(None) };
        let status: Option<String> = redis::cmd("HGET")
            .arg(self.job_key(&id))
            .arg("status")
            .query_async(&mut conn)
            .await
            .map_err(|e| self.link.fail(e))?;
        Ok(status.as_deref().and_then(JobStatus::parse))
    }

    async fn dead(&self, queue: &str, limit: usize) -> Result<Vec<DeadJob>> {
        let mut conn = self.link.conn();
        let ids: Vec<String> = redis::cmd("ZRANGE")
            .arg(self.set(queue, "dead"))
            .arg(0)
            .arg(i64::try_from(limit).unwrap_or(i64::MAX).saturating_sub(1))
            .arg("REV")
            .query_async(&mut conn)
            .await
            .map_err(|e| self.link.fail(e))?;
        let mut dead = Vec::with_capacity(ids.len());
        for id in ids {
            let fields: Vec<Option<String>> = redis::cmd("HMGET")
                .arg(self.job_key(&id))
                .arg(&["queue", "key", "attempts", "last_error"])
                .query_async(&mut conn)
                .await
                .map_err(|e| self.link.fail(e))?;
            let mut fields = fields.into_iter();
            let mut next = || fields.next().flatten();
            dead.push(DeadJob {
                id,
                queue: next().unwrap_or_default(),
                idempotency_key: next().unwrap_or_default(),
                attempts: number(next()),
                last_error: next(),
            });
        }
        Ok(dead)
    }

    async fn retry_dead(&self, queue: &str, id: &str) -> Result<bool> {
        let mut conn = self.link.conn();
        let moved: i64 = Script::new(RETRY_DEAD)
            .key(self.set(queue, "dead"))
            .key(self.set(queue, "ready"))
            .key(self.job_key(id))
            .arg(id)
            .arg(now_ms())
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.link.fail(e))?;
        Ok(moved == 1)
    }

    async fn prune(&self, queue: &str, _before_ms: i64, dead_before_ms: i64) -> Result<u64> {
        // Finished jobs expire by themselves; old dead ones are removed here.
        let mut conn = self.link.conn();
        let set = self.set(queue, "dead");
        let ids: Vec<String> = redis::cmd("ZRANGEBYSCORE")
            .arg(&set)
            .arg("-inf")
            .arg(format!("({dead_before_ms}"))
            .query_async(&mut conn)
            .await
            .map_err(|e| self.link.fail(e))?;
        for id in &ids {
            let key: Option<String> = redis::cmd("HGET")
                .arg(self.job_key(id))
                .arg("key")
                .query_async(&mut conn)
                .await
                .map_err(|e| self.link.fail(e))?;
            let mut pipe = redis::pipe();
            pipe.cmd("ZREM").arg(&set).arg(id).ignore();
            pipe.cmd("DEL").arg(self.job_key(id)).ignore();
            if let Some(key) = key {
                pipe.cmd("DEL").arg(self.idempotency(&key)).ignore();
            }
            pipe.query_async::<()>(&mut conn)
                .await
                .map_err(|e| self.link.fail(e))?;
        }
        Ok(ids.len() as u64)
    }

    async fn stats(&self, queue: &str, now_ms: i64) -> Result<QueueStats> {
        let mut conn = self.link.conn();
        let ready = self.set(queue, "ready");
        let (pending, running, dead, oldest): (u64, u64, u64, Vec<(String, f64)>) = redis::pipe()
            .cmd("ZCARD")
            .arg(&ready)
            .cmd("ZCARD")
            .arg(self.set(queue, "running"))
            .cmd("ZCARD")
            .arg(self.set(queue, "dead"))
            .cmd("ZRANGE")
            .arg(&ready)
            .arg(0)
            .arg(0)
            .arg("WITHSCORES")
            .query_async(&mut conn)
            .await
            .map_err(|e| self.link.fail(e))?;
        Ok(QueueStats {
            pending,
            running,
            dead,
            // Ready jobs are sorted by when they are due.
            oldest_due_ms: oldest
                .first()
                .map(|(_, due)| *due as i64)
                .filter(|due| *due <= now_ms),
        })
    }

    fn backend(&self) -> &'static str {
        "redis"
    }
}
