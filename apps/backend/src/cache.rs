//! Short-lived shared state: conversation memory, presence and rate-limit counters.
//!
//! One trait, two implementations: an in-process cache (bounded, per-entry TTL) for the
//! single-binary deployment, and Redis when `REDIS_URL` is set so that every replica
//! sees the same values.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use moka::Expiry;
use redis::aio::ConnectionManager;
use redis::AsyncCommands;
use secrecy::{ExposeSecret, SecretString};

use crate::error::{Error, Result};

/// A key/value store whose entries expire.
#[async_trait]
pub trait Cache: Send + Sync + 'static {
    /// The value under `key`, if present and not expired.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>>;
    /// Stores `value` under `key` for `ttl`, replacing what was there.
    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<()>;
    /// Removes `key`; removing a missing key is not an error.
    async fn delete(&self, key: &str) -> Result<()>;
    /// Adds one to the counter under `key` and returns the new value. The first increment
    /// starts the counter's `ttl`; later ones keep it, which gives fixed-window rate limits.
    async fn incr(&self, key: &str, ttl: Duration) -> Result<i64>;
    /// Puts `member` in the set under `key` until `ttl` passes (a member already there
    /// gets the new expiry). Presence uses these sets: who is connected to a room.
    async fn set_add(&self, key: &str, member: &str, ttl: Duration) -> Result<()>;
    /// Takes `member` out of the set under `key`; a missing member is not an error.
    async fn set_remove(&self, key: &str, member: &str) -> Result<()>;
    /// The members of the set under `key` whose time has not passed, in no order.
    async fn set_members(&self, key: &str) -> Result<Vec<String>>;
    /// Checks that the cache answers, for readiness.
    async fn ping(&self) -> Result<()>;
    /// "memory" or "redis", for readiness output and logs.
    fn backend(&self) -> &'static str;
}

/// Builds the cache chosen by configuration.
pub async fn connect(
    redis_url: Option<&SecretString>,
    key_prefix: &str,
    max_entries: u64,
) -> Result<Arc<dyn Cache>> {
    Ok(match redis_url {
        Some(url) => Arc::new(RedisCache::connect(url, key_prefix).await?),
        None => Arc::new(MemoryCache::new(max_entries)),
    })
}

#[derive(Clone)]
struct Entry {
    value: Arc<Vec<u8>>,
    expires_at: Instant,
}

struct ExpireAt;

impl Expiry<String, Entry> for ExpireAt {
    fn expire_after_create(&self, _key: &String, entry: &Entry, now: Instant) -> Option<Duration> {
        Some(entry.expires_at.saturating_duration_since(now))
    }

    fn expire_after_update(
        &self,
        _key: &String,
        entry: &Entry,
        now: Instant,
        _current: Option<Duration>,
    ) -> Option<Duration> {
        Some(entry.expires_at.saturating_duration_since(now))
    }
}

/// Members of one expiring set, each with its own expiry.
type Members = std::collections::HashMap<String, Instant>;

/// The embedded cache: bounded in entries, each entry with its own expiry.
pub struct MemoryCache {
    inner: moka::future::Cache<String, Entry>,
    /// Expiring sets. Not bounded by `max_entries`: a set lives only while it has
    /// unexpired members, and each member is someone connected right now.
    sets: std::sync::Mutex<std::collections::HashMap<String, Members>>,
}

impl MemoryCache {
    pub fn new(max_entries: u64) -> Self {
        Self {
            inner: moka::future::Cache::builder()
                .max_capacity(max_entries)
                .expire_after(ExpireAt)
                .build(),
            sets: Default::default(),
        }
    }

    /// Runs `f` on the set under `key` with its expired members gone; an empty set is
    /// dropped afterwards.
    fn with_set<T>(&self, key: &str, f: impl FnOnce(&mut Members) -> T) -> T {
        let mut sets = self.sets.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let set = sets.entry(key.to_owned()).or_default();
        set.retain(|_, expires_at| *expires_at > now);
        let result = f(set);
        if set.is_empty() {
            sets.remove(key);
        }
        result
    }
}

#[async_trait]
impl Cache for MemoryCache {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .inner
            .get(key)
            .await
            .filter(|entry| entry.expires_at > Instant::now())
            .map(|entry| entry.value.as_ref().clone()))
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<()> {
        let entry = Entry {
            value: Arc::new(value.to_vec()),
            expires_at: Instant::now() + ttl,
        };
        self.inner.insert(key.to_owned(), entry).await;
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.inner.invalidate(key).await;
        Ok(())
    }

    async fn incr(&self, key: &str, ttl: Duration) -> Result<i64> {
        use moka::ops::compute::Op;
        let now = Instant::now();
        let result = self
            .inner
            .entry(key.to_owned())
            .and_compute_with(|current| {
                let next = match current.map(|e| e.into_value()) {
                    Some(entry) if entry.expires_at > now => Entry {
                        value: Arc::new(
                            (decode_counter(&entry.value) + 1).to_string().into_bytes(),
                        ),
                        expires_at: entry.expires_at,
                    },
                    _ => Entry {
                        value: Arc::new(b"1".to_vec()),
                        expires_at: now + ttl,
                    },
                };
                std::future::ready(Op::Put(next))
            })
            .await;
        let value = match result {
            moka::ops::compute::CompResult::Inserted(e)
            | moka::ops::compute::CompResult::ReplacedWith(e) => {
                decode_counter(&e.into_value().value)
            }
            _ => 0,
        };
        Ok(value)
    }

    async fn set_add(&self, key: &str, member: &str, ttl: Duration) -> Result<()> {
        self.with_set(key, |set| {
            set.insert(member.to_owned(), Instant::now() + ttl)
        });
        Ok(())
    }

    async fn set_remove(&self, key: &str, member: &str) -> Result<()> {
        self.with_set(key, |set| set.remove(member));
        Ok(())
    }

    async fn set_members(&self, key: &str) -> Result<Vec<String>> {
        Ok(self.with_set(key, |set| set.keys().cloned().collect()))
    }

    async fn ping(&self) -> Result<()> {
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "memory"
    }
}

fn decode_counter(bytes: &[u8]) -> i64 {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// The scale-mode cache on Redis; reconnects on its own after a dropped connection.
pub struct RedisCache {
    link: RedisLink,
    prefix: String,
}

impl RedisCache {
    pub async fn connect(url: &SecretString, prefix: &str) -> Result<Self> {
        Ok(Self {
            link: RedisLink::connect(url).await?,
            prefix: prefix.to_owned(),
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{}", self.prefix, key)
    }
}

/// A Redis connection that reconnects by itself, for the cache and the job queue.
pub async fn redis_connection(url: &SecretString) -> Result<ConnectionManager> {
    let client = redis::Client::open(url.expose_secret())
        .map_err(|e| Error::Cache(format!("invalid REDIS_URL: {e}")))?;
    // A plain connection first: its error names the cause (refused, auth, DNS), where the
    // connection manager would retry and only report a timeout.
    let probe = tokio::time::timeout(
        Duration::from_secs(5),
        client.get_multiplexed_async_connection(),
    )
    .await
    .map_err(|_| Error::Cache("timed out after 5 s".into()))?
    .map_err(redis_error)?;
    drop(probe);
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Duration::from_secs(5))
        .set_response_timeout(Duration::from_secs(5))
        .set_number_of_retries(2);
    ConnectionManager::new_with_config(client, config)
        .await
        .map_err(redis_error)
}

fn redis_error(err: redis::RedisError) -> Error {
    Error::Cache(err.to_string())
}

/// The longest a request waits for Redis. Past it the cache counts as not answering —
/// the degraded path, or a clear 503 — instead of the request hanging on reconnects
/// until its own timeout.
const OP_TIMEOUT: Duration = Duration::from_secs(2);

/// A Redis connection that heals itself. The connection manager reconnects after a
/// dropped connection, but once its reconnection attempts have failed (Redis down for
/// longer than they last) it can stay failed after Redis is back; so a connection error
/// or a timeout also starts a fresh connection in the background (one at a time, at most
/// one a second), and requests use it as soon as it is up. Shared by the cache and the
/// job queue.
#[derive(Clone)]
pub struct RedisLink(Arc<Link>);

struct Link {
    url: SecretString,
    conn: std::sync::RwLock<ConnectionManager>,
    healing: std::sync::atomic::AtomicBool,
    /// Redis is known not to answer: from a lost connection or a timeout until a fresh
    /// connection is made. Requests meanwhile take the degraded path (or get their 503)
    /// at once, instead of each waiting up to [`OP_TIMEOUT`] for the same answer.
    down: std::sync::atomic::AtomicBool,
}

impl RedisLink {
    pub async fn connect(url: &SecretString) -> Result<Self> {
        Ok(Self(Arc::new(Link {
            url: url.clone(),
            conn: std::sync::RwLock::new(redis_connection(url).await?),
            healing: std::sync::atomic::AtomicBool::new(false),
            down: std::sync::atomic::AtomicBool::new(false),
        })))
    }

    /// The current connection (a cheap handle to it).
    pub fn conn(&self) -> ConnectionManager {
        match self.0.conn.read() {
            Ok(conn) => conn.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Runs one operation for a request, bounded by [`OP_TIMEOUT`].
    pub async fn run<T>(
        &self,
        op: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> Result<T> {
        if self.0.down.load(std::sync::atomic::Ordering::Acquire) {
            self.heal();
            return Err(Error::Cache("not answering (reconnecting)".into()));
        }
        match tokio::time::timeout(OP_TIMEOUT, op).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(self.fail(error)),
            Err(_) => {
                self.0
                    .down
                    .store(true, std::sync::atomic::Ordering::Release);
                self.heal();
                Err(Error::Cache(format!(
                    "no answer within {} s",
                    OP_TIMEOUT.as_secs()
                )))
            }
        }
    }

    /// The error of a failed operation; a connection that failed is replaced.
    pub fn fail(&self, error: redis::RedisError) -> Error {
        if error.is_io_error()
            || error.is_unrecoverable_error()
            || error.is_timeout()
            || error.is_connection_dropped()
            || error.is_connection_refusal()
        {
            self.0
                .down
                .store(true, std::sync::atomic::Ordering::Release);
            self.heal();
        }
        redis_error(error)
    }

    fn heal(&self) {
        use std::sync::atomic::Ordering;
        if self.0.healing.swap(true, Ordering::AcqRel) {
            return;
        }
        let link = self.0.clone();
        tokio::spawn(async move {
            match redis_connection(&link.url).await {
                Ok(fresh) => {
                    match link.conn.write() {
                        Ok(mut conn) => *conn = fresh,
                        Err(poisoned) => *poisoned.into_inner() = fresh,
                    }
                    link.down.store(false, Ordering::Release);
                    tracing::info!("connected to Redis again");
                }
                Err(error) => tracing::warn!(%error, "Redis is still not answering"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
            link.healing.store(false, Ordering::Release);
        });
    }
}

/// Wall-clock milliseconds: set expiries in Redis must mean the same on every replica.
fn epoch_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn ttl_ms(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

#[async_trait]
impl Cache for RedisCache {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let mut conn = self.link.conn();
        self.link.run(conn.get(self.key(key))).await
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<()> {
        let mut conn = self.link.conn();
        self.link
            .run(
                redis::cmd("SET")
                    .arg(self.key(key))
                    .arg(value)
                    .arg("PX")
                    .arg(ttl_ms(ttl))
                    .query_async::<()>(&mut conn),
            )
            .await
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let mut conn = self.link.conn();
        self.link.run(conn.del::<_, ()>(self.key(key))).await
    }

    async fn incr(&self, key: &str, ttl: Duration) -> Result<i64> {
        let mut conn = self.link.conn();
        // INCR and the first expiry in one round trip; NX keeps the window fixed.
        let (count, _): (i64, i64) = self
            .link
            .run(
                redis::pipe()
                    .atomic()
                    .incr(self.key(key), 1)
                    .cmd("PEXPIRE")
                    .arg(self.key(key))
                    .arg(ttl_ms(ttl))
                    .arg("NX")
                    .query_async(&mut conn),
            )
            .await?;
        Ok(count)
    }

    // A sorted set scored by each member's expiry (milliseconds since the epoch); the
    // key itself expires with its longest-lived member.
    async fn set_add(&self, key: &str, member: &str, ttl: Duration) -> Result<()> {
        let mut conn = self.link.conn();
        let expires_at = epoch_ms().saturating_add(ttl_ms(ttl));
        let key = self.key(key);
        self.link
            .run(
                redis::pipe()
                    .atomic()
                    .zadd(&key, member, expires_at)
                    .ignore()
                    .cmd("PEXPIRE")
                    .arg(&key)
                    .arg(ttl_ms(ttl))
                    .arg("GT")
                    .ignore()
                    // A new key has no expiry, which GT counts as infinite: NX gives it one.
                    .cmd("PEXPIRE")
                    .arg(&key)
                    .arg(ttl_ms(ttl))
                    .arg("NX")
                    .ignore()
                    .query_async::<()>(&mut conn),
            )
            .await
    }

    async fn set_remove(&self, key: &str, member: &str) -> Result<()> {
        let mut conn = self.link.conn();
        self.link
            .run(conn.zrem::<_, _, ()>(self.key(key), member))
            .await
    }

    async fn set_members(&self, key: &str) -> Result<Vec<String>> {
        let mut conn = self.link.conn();
        let key = self.key(key);
        let now = epoch_ms();
        let (members,): (Vec<String>,) = self
            .link
            .run(
                redis::pipe()
                    .atomic()
                    .zrembyscore(&key, "-inf", now)
                    .ignore()
                    .zrangebyscore(&key, format!("({now}"), "+inf")
                    .query_async(&mut conn),
            )
            .await?;
        Ok(members)
    }

    async fn ping(&self) -> Result<()> {
        let mut conn = self.link.conn();
        self.link
            .run(redis::cmd("PING").query_async::<String>(&mut conn))
            .await
            .map(|_| ())
    }

    fn backend(&self) -> &'static str {
        "redis"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_cache_returns_what_was_set_until_it_expires() {
        let cache = MemoryCache::new(100);
        cache.set("k", b"v", Duration::from_millis(50)).await.ok();
        assert_eq!(cache.get("k").await.ok().flatten(), Some(b"v".to_vec()));
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert_eq!(cache.get("k").await.ok().flatten(), None);
    }

    #[tokio::test]
    async fn memory_cache_counters_restart_after_their_window() {
        let cache = MemoryCache::new(100);
        let ttl = Duration::from_millis(60);
        let mut counts = Vec::new();
        for _ in 0..3 {
            counts.push(cache.incr("hits", ttl).await.unwrap_or_default());
        }
        assert_eq!(counts, vec![1, 2, 3]);
        tokio::time::sleep(Duration::from_millis(90)).await;
        assert_eq!(cache.incr("hits", ttl).await.unwrap_or_default(), 1);
    }

    #[tokio::test]
    async fn memory_sets_forget_members_when_their_time_passes() {
        let cache = MemoryCache::new(100);
        let short = Duration::from_millis(50);
        let long = Duration::from_secs(60);
        cache.set_add("room:1", "a", short).await.ok();
        cache.set_add("room:1", "b", long).await.ok();
        cache.set_add("room:1", "c", long).await.ok();
        cache.set_remove("room:1", "c").await.ok();
        let mut members = cache.set_members("room:1").await.unwrap_or_default();
        members.sort();
        assert_eq!(members, vec!["a", "b"]);

        tokio::time::sleep(Duration::from_millis(80)).await;
        assert_eq!(
            cache.set_members("room:1").await.unwrap_or_default(),
            vec!["b"]
        );
        cache.set_remove("room:1", "b").await.ok();
        assert!(
            cache.sets.lock().is_ok_and(|s| s.is_empty()),
            "empty sets are dropped"
        );
    }

    #[tokio::test]
    async fn memory_cache_stays_within_its_bound() {
        let cache = MemoryCache::new(10);
        for i in 0..100 {
            cache
                .set(&format!("k{i}"), b"v", Duration::from_secs(60))
                .await
                .ok();
        }
        cache.inner.run_pending_tasks().await;
        assert!(
            cache.inner.entry_count() <= 10,
            "{}",
            cache.inner.entry_count()
        );
    }
}
