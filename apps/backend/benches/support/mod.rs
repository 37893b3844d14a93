//! What the benchmarks share.

use serde_json::{json, Value};

/// A browser-like HTTP client with its own guest session.
pub struct Person {
    pub client: reqwest::Client,
    /// Sent as `x-csrf-token` with state-changing calls; the login cookie stays in the client.
    pub csrf: String,
}

/// Becomes a guest on the server at `base`.
pub async fn guest(base: &str) -> Person {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .pool_max_idle_per_host(2048)
        .build()
        .unwrap();
    let me: Value = client
        .post(format!("{base}/api/auth/guest"))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    Person {
        client,
        csrf: me["csrf_token"].as_str().unwrap().to_owned(),
    }
}

/// This process's resident memory, in MiB.
pub fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}
