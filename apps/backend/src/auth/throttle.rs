//! Limits on failed logins, per account and per client address, on the one limiter
//! (`crate::limits`) every replica shares.

use std::time::Duration;

use crate::cache::Cache;
use crate::error::Result;
use crate::limits::Limit;

/// How long a window lasts.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failed logins allowed per account in one window.
pub const PER_ACCOUNT: Limit = Limit {
    name: "login-fail:account",
    max: 5,
    window: WINDOW,
};
/// Failed logins allowed per client address in one window (a shared NAT has many people).
pub const PER_ADDRESS: Limit = Limit {
    name: "login-fail:ip",
    max: 20,
    window: WINDOW,
};

/// Who an attempt counts against.
pub struct Keys {
    pub account: String,
    pub address: String,
}

impl Keys {
    pub fn for_login(email: &str, ip: std::net::IpAddr) -> Self {
        Self {
            account: email.to_owned(),
            address: ip.to_string(),
        }
    }

    /// A signed-in person confirming a change with their password: counted per account
    /// (by id, apart from login counts by email) and with the address's failed logins.
    pub fn for_confirmation(user_id: &str, ip: std::net::IpAddr) -> Self {
        Self {
            account: format!("user:{user_id}"),
            address: ip.to_string(),
        }
    }
}

/// Refuses the attempt when either counter is already at its limit.
pub async fn check(cache: &dyn Cache, keys: &Keys) -> Result<()> {
    PER_ACCOUNT.check(cache, &keys.account).await?;
    PER_ADDRESS.check(cache, &keys.address).await
}

/// Counts one failed attempt against both the account and the address.
pub async fn record_failure(cache: &dyn Cache, keys: &Keys) -> Result<()> {
    PER_ACCOUNT.record(cache, &keys.account).await?;
    PER_ADDRESS.record(cache, &keys.address).await
}

/// A successful login clears the account's count (the address keeps its own).
pub async fn clear(cache: &dyn Cache, keys: &Keys) -> Result<()> {
    PER_ACCOUNT.clear(cache, &keys.account).await
}
