//! What the benchmarks share (each uses part of it).
#![allow(dead_code)]

use serde_json::{json, Value};
use solace_backend::{Application, Config};

/// Starts Solace on a free port with a fresh SQLite database in `dir`, plus `extra`
/// settings; returns its base URL. It serves until the benchmark ends.
pub async fn start_server(dir: &std::path::Path, extra: &[(&str, &str)]) -> String {
    let database = format!("sqlite://{}", dir.join("bench.db").display());
    let data_dir = dir.display().to_string();
    let mut vars = vec![
        ("DATABASE_URL", database.as_str()),
        ("DATA_DIR", data_dir.as_str()),
        ("AI_MESSAGES_PER_MINUTE", "1000000"),
        ("RTC_UDP_PORT", "0"),
        ("RTC_TCP_PORT", "off"),
        ("RUST_LOG", "error"),
    ];
    vars.extend_from_slice(extra);
    let mut config =
        Config::from_vars(vars.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned()))).unwrap();
    config.port = 0;
    let app = Application::build(config).await.unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    base
}

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
