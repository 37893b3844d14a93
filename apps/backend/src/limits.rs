//! One fixed-window limiter for every limit the backend enforces — messages to the AI,
//! transcriptions, failed logins — counted in the shared cache, so every replica sees
//! the same counts (Redis at scale, the in-process cache on one machine).

use std::sync::Arc;
use std::time::Duration;

use crate::cache::Cache;
use crate::error::{Error, Result};

/// At most `max` events per `window` for one key.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    /// Names the counter in the cache (`ratelimit:{name}:{who}`).
    pub name: &'static str,
    pub max: i64,
    pub window: Duration,
}

impl Limit {
    pub const fn per_minute(name: &'static str, max: u32) -> Self {
        Self {
            name,
            // Widening: a u32 always fits.
            max: max as i64,
            window: Duration::from_secs(60),
        }
    }

    pub const fn per_hour(name: &'static str, max: u32) -> Self {
        Self {
            name,
            max: max as i64,
            window: Duration::from_secs(3600),
        }
    }

    fn key(&self, who: &str) -> String {
        format!("ratelimit:{}:{who}", self.name)
    }

    fn refused(&self) -> Error {
        Error::TooManyRequests {
            retry_after_secs: self.window.as_secs(),
        }
    }

    /// Counts one request and refuses it past the limit. Fails open: a cache outage
    /// must not silence people who need to talk.
    pub async fn hit(&self, cache: &dyn Cache, who: &str) -> Result<()> {
        match cache.incr(&self.key(who), self.window).await {
            Ok(count) if count > self.max => Err(self.refused()),
            Ok(_) => Ok(()),
            Err(error) => {
                tracing::warn!(%error, limit = self.name, "rate limiter unavailable; letting the request through");
                Ok(())
            }
        }
    }

    /// Refuses when the limit is already reached, without counting (for attempts that
    /// only count when they fail). Fails closed: guessing passwords is not urgent.
    pub async fn check(&self, cache: &dyn Cache, who: &str) -> Result<()> {
        let count = cache
            .get(&self.key(who))
            .await?
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .and_then(|text| text.parse::<i64>().ok())
            .unwrap_or(0);
        if count >= self.max {
            return Err(self.refused());
        }
        Ok(())
    }

    /// Counts one event without refusing it.
    pub async fn record(&self, cache: &dyn Cache, who: &str) -> Result<()> {
        cache.incr(&self.key(who), self.window).await.map(|_| ())
    }

    /// Forgets the count.
    pub async fn clear(&self, cache: &dyn Cache, who: &str) -> Result<()> {
        cache.delete(&self.key(who)).await
    }
}

/// At most `max` open at once per key — replies being generated, audio sockets — counted
/// in the shared cache like [`Limit`], so every replica sees the others' too. A replica
/// that dies leaves its marks until `ttl` passes.
#[derive(Debug, Clone, Copy)]
pub struct Concurrent {
    pub name: &'static str,
    pub max: usize,
    pub ttl: Duration,
}

impl Concurrent {
    /// Takes one of `who`'s slots until the returned [`Slot`] is dropped, or refuses with
    /// 429 when all are taken. Fails open, like [`Limit::hit`].
    pub async fn take(&self, cache: &Arc<dyn Cache>, who: &str) -> Result<Slot> {
        let slot = Slot {
            cache: cache.clone(),
            key: format!("open:{}:{who}", self.name),
            id: uuid::Uuid::new_v4().to_string(),
        };
        let open = match cache.set_add(&slot.key, &slot.id, self.ttl).await {
            Ok(()) => cache.set_members(&slot.key).await.map(|m| m.len()),
            Err(error) => Err(error),
        };
        match open {
            Ok(open) if open > self.max => Err(Error::TooManyRequests {
                retry_after_secs: 10,
            }),
            Ok(_) => Ok(slot),
            Err(error) => {
                tracing::warn!(%error, limit = self.name, "concurrency limiter unavailable; letting the request through");
                Ok(slot)
            }
        }
    }
}

/// One taken slot of a [`Concurrent`] limit; dropping it gives the slot back.
pub struct Slot {
    cache: Arc<dyn Cache>,
    key: String,
    id: String,
}

impl Slot {
    /// Gives the slot back now (dropping it gives it back soon after, on another task).
    pub async fn release(mut self) {
        let (key, id) = (std::mem::take(&mut self.key), std::mem::take(&mut self.id));
        give_back(self.cache.as_ref(), &key, &id).await;
    }
}

async fn give_back(cache: &dyn Cache, key: &str, id: &str) {
    if let Err(error) = cache.set_remove(key, id).await {
        tracing::warn!(%error, "cannot give back a concurrency slot; it expires on its own");
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if self.key.is_empty() {
            return;
        }
        let (cache, key, id) = (
            self.cache.clone(),
            std::mem::take(&mut self.key),
            std::mem::take(&mut self.id),
        );
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { give_back(cache.as_ref(), &key, &id).await });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::MemoryCache;

    #[tokio::test]
    async fn requests_past_the_limit_are_refused_with_the_window_as_retry_after() {
        let cache = MemoryCache::new(100);
        let limit = Limit::per_minute("test", 2);
        assert!(limit.hit(&cache, "a").await.is_ok());
        assert!(limit.hit(&cache, "a").await.is_ok());
        let third = limit.hit(&cache, "a").await;
        assert!(matches!(
            third,
            Err(Error::TooManyRequests {
                retry_after_secs: 60
            })
        ));
        // Someone else has a count of their own.
        assert!(limit.hit(&cache, "b").await.is_ok());
    }

    #[tokio::test]
    async fn failures_are_counted_checked_and_cleared() {
        let cache = MemoryCache::new(100);
        let limit = Limit {
            name: "fail",
            max: 2,
            window: Duration::from_secs(900),
        };
        assert!(limit.check(&cache, "x").await.is_ok());
        assert!(limit.record(&cache, "x").await.is_ok());
        assert!(limit.check(&cache, "x").await.is_ok());
        assert!(limit.record(&cache, "x").await.is_ok());
        assert!(limit.check(&cache, "x").await.is_err());
        assert!(limit.clear(&cache, "x").await.is_ok());
        assert!(limit.check(&cache, "x").await.is_ok());
    }

    #[tokio::test]
    async fn slots_are_refused_past_the_limit_and_given_back_on_drop() {
        let cache: Arc<dyn Cache> = Arc::new(MemoryCache::new(100));
        let limit = Concurrent {
            name: "streams",
            max: 2,
            ttl: Duration::from_secs(60),
        };
        let first = limit.take(&cache, "a").await.unwrap();
        let _second = limit.take(&cache, "a").await.unwrap();
        assert!(matches!(
            limit.take(&cache, "a").await,
            Err(Error::TooManyRequests { .. })
        ));
        assert!(
            limit.take(&cache, "b").await.is_ok(),
            "someone else has their own"
        );
        drop(first);
        // The slot goes back on a spawned task.
        for _ in 0..100 {
            if limit.take(&cache, "a").await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("a dropped slot was never given back");
    }
}
