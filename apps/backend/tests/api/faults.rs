//! Faults survived: Redis killed and brought back, PostgreSQL connections cut, and
//! SIGTERM while replies stream. Each test starts the processes it kills itself — never
//! the machine's shared services.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;
use solace_ai::testing::{Behaviour, FakeUpstream};

use crate::ai_chat::parse_events;
use crate::helpers::{free_port, spawn_app_with, using_postgres, Browser, TestApp, GOOD_PASSWORD};

/// A Redis server of this test's own, on a port of its own.
pub struct OwnRedis {
    port: u16,
    child: Option<Child>,
    /// Serves TLS only, with `cert.pem` and `key.pem` from this folder.
    tls: Option<std::path::PathBuf>,
}

impl OwnRedis {
    /// `None` where redis-server is not installed (outside CI only: CI must run this).
    pub fn start() -> Option<Self> {
        Self::start_with(None)
    }

    /// Speaking TLS only (`rediss://`), with the certificate and key in `dir`.
    pub fn start_tls(dir: &std::path::Path) -> Option<Self> {
        Self::start_with(Some(dir.to_owned()))
    }

    fn start_with(tls: Option<std::path::PathBuf>) -> Option<Self> {
        let mut redis = Self {
            port: free_port(),
            child: None,
            tls,
        };
        match redis.launch() {
            Ok(()) => Some(redis),
            Err(e) if std::env::var("CI").as_deref() != Ok("true") => {
                eprintln!("SKIPPED: redis-server cannot run here ({e})");
                None
            }
            Err(e) => panic!("redis-server is needed by this test: {e}"),
        }
    }

    fn launch(&mut self) -> std::io::Result<()> {
        let port = self.port.to_string();
        let mut command = Command::new("redis-server");
        command.args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);
        match &self.tls {
            None => command.args(["--port", &port]),
            Some(dir) => command
                .args([
                    "--port",
                    "0",
                    "--tls-port",
                    &port,
                    "--tls-auth-clients",
                    "no",
                ])
                .arg("--tls-cert-file")
                .arg(dir.join("cert.pem"))
                .arg("--tls-key-file")
                .arg(dir.join("key.pem")),
        };
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        self.child = Some(child);
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn url(&self) -> String {
        match self.tls {
            None => format!("redis://127.0.0.1:{}", self.port),
            Some(_) => format!("rediss://localhost:{}", self.port),
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Polls `/readyz` until it answers `status`, for at most ten seconds.
async fn ready_becomes(app: &TestApp, status: u16) {
    let started = Instant::now();
    loop {
        let response = app.get("/readyz").await;
        if response.status() == status {
            return;
        }
        let body = response.text().await.unwrap_or_default();
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "/readyz never answered {status}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn redis_going_away_is_a_clear_503_and_coming_back_needs_no_restart() {
    let Some(mut redis) = OwnRedis::start() else {
        return;
    };
    let url = redis.url();
    let app = spawn_app_with(&[("REDIS_URL", &url), ("JOBS_BACKEND", "database")]).await;
    let mut person = app.browser();
    person.signup("outage@example.org").await;
    let (status, before) = person
        .post(
            "/api/chat/sessions",
            json!({ "title": "Before the outage" }),
        )
        .await;
    assert_eq!(status, 201, "{before}");

    redis.kill();

    // Degraded, not down: what needs only the database keeps working, and the abuse
    // limits let requests through (with a warning in the log)…
    let (status, me) = person.get("/api/auth/me").await;
    assert_eq!(status, 200, "{me}");
    let (status, list) = person.get("/api/chat/sessions").await;
    assert_eq!(status, 200, "{list}");
    app.browser().guest().await;
    // …but password attempts, which must stay throttled, are refused clearly: a
    // retryable 503, never a 500.
    let response = app
        .client
        .post(app.url("/api/auth/login"))
        .json(&json!({ "email": "outage@example.org", "password": GOOD_PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "5");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable", "{body}");
    ready_becomes(&app, 503).await;

    redis.launch().unwrap();
    ready_becomes(&app, 200).await;

    let (status, body) = app
        .browser()
        .login("outage@example.org", GOOD_PASSWORD)
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, list) = person.get("/api/chat/sessions").await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(
        list["sessions"][0]["id"], before["id"],
        "nothing persisted is lost"
    );
}

#[tokio::test]
async fn postgres_connections_cut_off_are_replaced_without_a_restart() {
    if !using_postgres() {
        return;
    }
    let app = spawn_app_with(&[]).await;
    let mut person = app.browser();
    person.guest().await;
    let (status, before) = person
        .post("/api/chat/sessions", json!({ "title": "Before the cut" }))
        .await;
    assert_eq!(status, 201, "{before}");

    // What a failover or an idle-connection reaper does: every other connection of this
    // database ends at once.
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .execute(app.state.db.pool())
    .await
    .unwrap();

    for round in 0..5 {
        let (status, list) = person.get("/api/chat/sessions").await;
        assert_eq!(status, 200, "round {round}: {list}");
        let ids: Vec<&serde_json::Value> = list["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| &s["id"])
            .collect();
        assert!(ids.contains(&&before["id"]), "round {round}: {list}");
        let (status, created) = person
            .post(
                "/api/chat/sessions",
                json!({ "title": format!("After the cut {round}") }),
            )
            .await;
        assert_eq!(status, 201, "round {round}: {created}");
    }
}

/// The real binary, in a directory and on a port of its own, with a fake model and
/// `extra` settings; killed when dropped.
pub struct RealSolace {
    child: Option<Child>,
    pub base: String,
    port: u16,
    model: String,
    extra: Vec<(String, String)>,
    dir: tempfile::TempDir,
}

impl RealSolace {
    pub async fn start(upstream: &FakeUpstream, extra: &[(&str, &str)]) -> Self {
        let port = free_port();
        let mut solace = Self {
            child: None,
            base: format!("http://127.0.0.1:{port}"),
            port,
            model: upstream.base_url(),
            extra: extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            dir: tempfile::tempdir().unwrap(),
        };
        solace.restart().await;
        solace
    }

    /// Starts it (again, on the same data and port) and waits until it serves.
    pub async fn restart(&mut self) {
        self.stop();
        let child = Command::new(env!("CARGO_BIN_EXE_solace"))
            .arg("serve")
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOST", "127.0.0.1")
            .env("PORT", self.port.to_string())
            .env("RTC_UDP_PORT", "0")
            // Tests run side by side: nothing on a fixed port.
            .env("RTC_TCP_PORT", free_port().to_string())
            .env("METRICS_ADDR", "off")
            .env("DATA_DIR", self.dir.path().join("data"))
            .env("LLM_BASE_URL", &self.model)
            .env("LLM_MODEL", "fake")
            .env("TTS_PROVIDER", "off")
            .envs(self.extra.iter().map(|(k, v)| (k, v)))
            .stdout(self.log_file())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let started = Instant::now();
        while reqwest::get(format!("{}/healthz", self.base))
            .await
            .is_err()
        {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "solace did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Its log lines (stdout) are kept in its directory, across restarts.
    fn log_file(&self) -> std::fs::File {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("solace.log"))
            .unwrap()
    }

    /// What it has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("solace.log")).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// How it exited, once it has.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.as_mut()?.try_wait().unwrap()
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Someone with a browser's cookie jar.
    pub fn person(&self) -> Browser {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .unwrap();
        Browser::for_base(&self.base, client, None)
    }
}

impl Drop for RealSolace {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test]
async fn sigterm_lets_open_replies_finish_refuses_new_work_and_exits_0() {
    let upstream = FakeUpstream::start().await.unwrap();
    let reply = "One small step at a time is still a step, and you are taking it.";
    upstream.then(Behaviour::reply(reply, Duration::from_millis(150)));
    let mut solace = RealSolace::start(&upstream, &[]).await;
    let base = solace.base.clone();

    let mut person = solace.person();
    person.guest().await;
    let mut stream = person
        .send(
            Method::POST,
            "/api/ai/message",
            Some(json!({ "content": "I finally went for a walk today." })),
        )
        .await;
    assert_eq!(stream.status(), 200);
    // The reply has begun.
    let mut text = String::from_utf8(stream.chunk().await.unwrap().unwrap().to_vec()).unwrap();
    while !text.contains("event: token") {
        text.push_str(&String::from_utf8_lossy(
            &stream.chunk().await.unwrap().unwrap(),
        ));
    }

    let stopped = Command::new("kill")
        .args(["-TERM", &solace.pid().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    tokio::time::sleep(Duration::from_millis(300)).await;

    // New work is refused: the listener is closed.
    let refused = reqwest::Client::new()
        .get(format!("{base}/healthz"))
        .timeout(Duration::from_secs(2))
        .send()
        .await;
    assert!(
        refused.is_err(),
        "a new connection was served after SIGTERM"
    );

    // The open reply finishes.
    while let Some(chunk) = stream.chunk().await.unwrap() {
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let events = parse_events(&text);
    let done = events
        .iter()
        .find(|e| e.name == "done")
        .expect("a done event");
    assert_eq!(done.data["message"]["content"], reply);
    assert_eq!(done.data["message"]["status"], "complete");

    let started = Instant::now();
    let status = loop {
        if let Some(status) = solace.exited() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "solace did not exit"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "exit status {status}");

    // Started again on the same data, the reply is there, complete.
    solace.restart().await;
    let session_id = done.data["session_id"].as_str().unwrap();
    let (status, body) = person
        .send_json(
            Method::GET,
            &format!("/api/chat/sessions/{session_id}/messages"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[1]["content"], reply);
    assert_eq!(messages[1]["status"], "complete");
}
