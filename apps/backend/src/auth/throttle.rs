//! Fixed-window limits on failed attempts, kept in the shared cache so every replica
//! counts the same failures.

use std::time::Duration;

use crate::cache::Cache;
use crate::error::{Error, Result};

/// Failed logins allowed per account in one window.
pub const PER_ACCOUNT: i64 = 5;
/// Failed logins allowed per client address in one window (a shared NAT has many people).
pub const PER_ADDRESS: i64 = 20;
/// How long a window lasts.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);

/// The cache keys that count failures for one attempt.
pub struct Keys {
    pub account: String,
    pub address: String,
}

impl Keys {
    pub fn for_login(email: &str, ip: std::net::IpAddr) -> Self {
        Self {
            account: format!("login-fail:account:{email}"),
            address: format!("login-fail:ip:{ip}"),
        }
    }
}

async fn count(cache: &dyn Cache, key: &str) -> Result<i64> {
    Ok(cache
        .get(key)
        .await?
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.parse().ok())
        .unwrap_or(0))
}

/// Refuses the attempt when either counter is already at its limit.
pub async fn check(cache: &dyn Cache, keys: &Keys) -> Result<()> {
    if count(cache, &keys.account).await? >= PER_ACCOUNT
        || count(cache, &keys.address).await? >= PER_ADDRESS
    {
        return Err(Error::TooManyRequests {
            retry_after_secs: WINDOW.as_secs(),
        });
    }
    Ok(())
}

/// Counts one failed attempt against both the account and the address.
pub async fn record_failure(cache: &dyn Cache, keys: &Keys) -> Result<()> {
    cache.incr(&keys.account, WINDOW).await?;
    cache.incr(&keys.address, WINDOW).await?;
    Ok(())
}

/// A successful login clears the account's count (the address keeps its own).
pub async fn clear(cache: &dyn Cache, keys: &Keys) -> Result<()> {
    cache.delete(&keys.account).await
}
