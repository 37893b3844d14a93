//! Managed services speak TLS: the real binary against a Redis of the test's own that
//! accepts only TLS (`rediss://`), with a certificate from a CA the test made.

use std::process::Command;
use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use solace_ai::testing::{Behaviour, FakeUpstream};

use crate::faults::{OwnRedis, RealSolace};
use crate::helpers::TestCa;

/// Keys under `prefix` in the TLS Redis, read with `redis-cli` (an independent client).
fn keys(redis: &OwnRedis, ca: &std::path::Path, prefix: &str) -> Vec<String> {
    let port = redis.url().rsplit(':').next().unwrap().to_owned();
    let out = Command::new("redis-cli")
        .args(["--tls", "--cacert"])
        .arg(ca)
        .args(["-h", "localhost", "-p", &port, "--scan", "--pattern"])
        .arg(format!("{prefix}*"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn rediss_carries_the_cache_and_the_job_queue_and_an_untrusted_server_is_refused() {
    let ca = TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = ca.issue(&["localhost"]);
    std::fs::write(dir.path().join("cert.pem"), cert).unwrap();
    std::fs::write(dir.path().join("key.pem"), key).unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let Some(redis) = OwnRedis::start_tls(dir.path()) else {
        return;
    };
    let upstream = FakeUpstream::start().await.unwrap();
    upstream.then(Behaviour::reply(
        "That sounds like a long day.",
        Duration::from_millis(5),
    ));

    // A private CA is trusted through SSL_CERT_FILE, as for any rustls program.
    let url = redis.url();
    let ca_path = ca_file.display().to_string();
    let solace = RealSolace::start(
        &upstream,
        &[
            ("REDIS_URL", url.as_str()),
            ("JOBS_BACKEND", "redis"),
            ("CACHE_KEY_PREFIX", "tls-test:"),
            ("SSL_CERT_FILE", ca_path.as_str()),
        ],
    )
    .await;
    let mut person = solace.person();
    person.guest().await;
    let reply = person
        .send(
            Method::POST,
            "/api/ai/message",
            Some(json!({ "content": "Work was a lot today." })),
        )
        .await;
    assert_eq!(reply.status(), 200);
    let body = reply.text().await.unwrap();
    assert!(body.contains("long day"), "{body}");
    let (status, ready) = person.get("/readyz").await;
    assert_eq!(status, 200, "{ready}");
    // The rate limits and the job queue live in that Redis, reached over TLS.
    let stored = keys(&redis, &ca_file, "tls-test:");
    assert!(!stored.is_empty(), "nothing reached Redis over TLS");
    drop(solace);

    // Without the CA the server's certificate is not trusted: start-up stops with a line
    // naming REDIS_URL (never silently falls back to plain text or to no Redis).
    let stranger = dir.path().join("another-ca.pem");
    std::fs::write(&stranger, TestCa::new().pem()).unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_solace"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PORT", "0")
        .env("RTC_UDP_PORT", "0")
        .env("RTC_TCP_PORT", "0")
        .env("METRICS_ADDR", "off")
        .env("DATA_DIR", dir.path().join("data"))
        .env("REDIS_URL", &url)
        .env("SSL_CERT_FILE", &stranger)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(30), out)
        .await
        .expect("solace stopped")
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot connect to Redis at REDIS_URL"),
        "{stderr}"
    );
}

#[tokio::test]
async fn postgres_connections_are_encrypted_with_sslmode() {
    if !crate::helpers::using_postgres() {
        return;
    }
    let url = crate::helpers::fresh_postgres_database().await;
    let app = crate::helpers::spawn_app_with(&[(
        "DATABASE_URL",
        format!("{url}?sslmode=require").as_str(),
    )])
    .await;
    let mut person = app.browser();
    person.guest().await;
    let (encrypted, version): (bool, Option<String>) =
        sqlx::query_as("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(app.state.db.pool())
            .await
            .unwrap();
    assert!(encrypted, "the connection is not encrypted");
    assert!(version.unwrap_or_default().starts_with("TLS"));

    // verify-full checks the server's certificate against the roots: a server with a
    // self-signed certificate (Debian's default "snakeoil" one) is refused at start-up.
    let refused = crate::helpers::startup_error(&[(
        "DATABASE_URL",
        format!("{url}?sslmode=verify-full").as_str(),
    )])
    .await;
    assert!(
        refused.starts_with("cannot open the database") && refused.contains("UnknownIssuer"),
        "{refused}"
    );
}
