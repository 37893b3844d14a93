//! Faults survived: Redis killed and brought back, PostgreSQL connections cut, and
//! SIGTERM while replies stream. Each test starts the processes it kills itself — never
//! the machine's shared services.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;
use solace_ai::testing::{Behaviour, FakeUpstream};

use crate::ai_chat::{app_with_model, parse_events};
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

/// What a failover or an idle-connection reaper does: every other connection of the
/// app's PostgreSQL database ends at once.
async fn cut_every_connection(app: &TestApp) {
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .execute(app.state.db.pool())
    .await
    .unwrap();
}

/// An app whose cache is a Redis of the test's own (jobs stay in the database), so the
/// test may kill it; `None` where redis-server cannot run (outside CI only).
async fn app_on_own_redis() -> Option<(OwnRedis, TestApp)> {
    let redis = OwnRedis::start()?;
    let url = redis.url();
    let app = spawn_app_with(&[("REDIS_URL", &url), ("JOBS_BACKEND", "database")]).await;
    Some((redis, app))
}

#[tokio::test]
async fn redis_going_away_is_a_clear_503_and_coming_back_needs_no_restart() {
    let Some((mut redis, app)) = app_on_own_redis().await else {
        return;
    };
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

    cut_every_connection(&app).await;

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

/// What one client saw while it kept writing and reading through the faults.
#[derive(Default)]
struct Tally {
    requests: usize,
    /// Conversations the server said it stored (201), by id.
    stored: Vec<String>,
    /// Clear, retryable refusals: 503 `temporarily_unavailable`.
    refused: usize,
    /// Anything else: a 5xx of another kind, a body that is not the error format, a
    /// dropped connection. Must stay empty.
    unclear: Vec<String>,
}

/// One person writing conversations and reading their list until `stop`, counting what
/// the server answered. Every answer is classified; nothing panics mid-load.
async fn keep_writing(
    person: Browser,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    stored_so_far: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) -> (Browser, Tally) {
    use std::sync::atomic::Ordering;
    let mut tally = Tally::default();
    let mut round = 0;
    while !stop.load(Ordering::Relaxed) {
        round += 1;
        for (method, path, body) in [
            (
                Method::POST,
                "/api/chat/sessions",
                Some(json!({ "title": format!("Under load {round}") })),
            ),
            (Method::GET, "/api/chat/sessions?limit=5", None),
        ] {
            tally.requests += 1;
            let mut request = person.client.request(method.clone(), person.url(path));
            if let Some(csrf) = &person.csrf {
                request = request.header("x-csrf-token", csrf);
            }
            if let Some(body) = body {
                request = request.json(&body);
            }
            let response = match request.send().await {
                Ok(response) => response,
                Err(e) => {
                    tally.unclear.push(format!("{method} {path}: {e}"));
                    continue;
                }
            };
            let status = response.status().as_u16();
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            match (status, method == Method::POST) {
                (201, true) => {
                    tally
                        .stored
                        .push(body["id"].as_str().unwrap_or_default().to_owned());
                    stored_so_far.fetch_add(1, Ordering::Relaxed);
                }
                (200, false) => {}
                (503, _) if body["error"] == "temporarily_unavailable" => tally.refused += 1,
                _ => tally
                    .unclear
                    .push(format!("{method} {path}: {status} {body}")),
            }
        }
    }
    (person, tally)
}

/// Faults under sustained load: eight people keep writing and reading while Redis is
/// killed and brought back (and, on PostgreSQL, every database connection is cut). Each
/// answer is either a success or a clear, retryable 503, and every conversation the
/// server acknowledged is there afterwards: requests lost = 0.
#[tokio::test]
async fn under_sustained_load_faults_lose_no_acknowledged_write() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;
    let Some((mut redis, app)) = app_on_own_redis().await else {
        return;
    };
    let stop = Arc::new(AtomicBool::new(false));
    let stored = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for _ in 0..8 {
        let mut person = app.browser();
        person.guest().await;
        clients.push(tokio::spawn(keep_writing(
            person,
            stop.clone(),
            stored.clone(),
        )));
    }

    tokio::time::sleep(Duration::from_millis(800)).await;
    redis.kill();
    let at_outage = stored.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    if using_postgres() {
        cut_every_connection(&app).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let during_outage = stored.load(Ordering::Relaxed) - at_outage;
    redis.launch().unwrap();
    ready_becomes(&app, 200).await;
    let at_recovery = stored.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(800)).await;
    stop.store(true, Ordering::Relaxed);

    let mut total = Tally::default();
    let mut people = Vec::new();
    for client in clients {
        let (person, tally) = client.await.unwrap();
        total.requests += tally.requests;
        total.refused += tally.refused;
        total.unclear.extend(tally.unclear);
        people.push((person, tally.stored));
    }
    let after_recovery = stored.load(Ordering::Relaxed) - at_recovery;
    assert!(total.unclear.is_empty(), "{:?}", total.unclear);
    assert!(at_outage > 0 && during_outage > 0 && after_recovery > 0,
        "writes before ({at_outage}), during ({during_outage}) and after ({after_recovery}) the outage");

    // Every acknowledged conversation is there, for its owner.
    let mut acknowledged = 0;
    for (mut person, ids) in people {
        let mut listed = std::collections::HashSet::new();
        for offset in (0..).step_by(100) {
            let (status, page) = person
                .get(&format!("/api/chat/sessions?limit=100&offset={offset}"))
                .await;
            assert_eq!(status, 200, "{page}");
            let sessions = page["sessions"].as_array().unwrap();
            listed.extend(
                sessions
                    .iter()
                    .map(|s| s["id"].as_str().unwrap().to_owned()),
            );
            if sessions.len() < 100 {
                break;
            }
        }
        let lost: Vec<&String> = ids.iter().filter(|id| !listed.contains(*id)).collect();
        assert!(lost.is_empty(), "acknowledged, then lost: {lost:?}");
        acknowledged += ids.len();
    }
    eprintln!(
        "sustained load through the faults: {} requests, {acknowledged} conversations acknowledged \
         and all found afterwards ({during_outage} while Redis was down), {} refused with a \
         retryable 503, 0 lost",
        total.requests, total.refused
    );
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

    /// Sends SIGTERM, as an orchestrator stopping it does.
    pub fn terminate(&self) {
        let stopped = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(stopped.success());
    }

    /// Waits (at most 30 s) for it to exit, and how it did.
    pub async fn exit_status(&mut self) -> std::process::ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.exited() {
                return status;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "solace did not exit"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
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

    solace.terminate();
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

    let status = solace.exit_status().await;
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

/// What one person's chat turns came to through a fault.
#[derive(Default)]
struct Turns {
    /// (conversation, reply id, reply text, when it finished) of every reply the server
    /// finished (`done`).
    done: Vec<(String, String, String, Instant)>,
    /// Turns the server declined clearly: a 429, 502, 503 or 504 with a JSON error, no
    /// connection at all (after SIGTERM the listener is closed), or a stream ending in an
    /// `error` event that says whether to retry.
    declined: usize,
    /// (conversation, reply id) of replies the model cut off: kept, marked incomplete.
    cut: Vec<(String, String)>,
    /// Anything else: a stream that began and ended without `done` or a clear error, an
    /// unclear status, a reply not stored complete.
    broken: Vec<String>,
}

/// One person chatting in one conversation, turn after turn, until `stop`.
async fn keep_chatting(
    person: Browser,
    who: usize,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> (Browser, Turns) {
    use std::sync::atomic::Ordering;
    let mut turns = Turns::default();
    let mut session: Option<String> = None;
    let mut round = 0;
    while !stop.load(Ordering::Relaxed) {
        round += 1;
        let mut body =
            json!({ "content": format!("Person {who}, turn {round}: I walked to the river.") });
        if let Some(id) = &session {
            body["session_id"] = json!(id);
        }
        let mut request = person
            .client
            .post(person.url("/api/ai/message"))
            .json(&body);
        if let Some(csrf) = &person.csrf {
            request = request.header("x-csrf-token", csrf);
        }
        let Ok(response) = request.send().await else {
            turns.declined += 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let status = response.status().as_u16();
        if status != 200 {
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            if matches!(status, 429 | 502 | 503 | 504) && body["error"].is_string() {
                turns.declined += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            } else {
                turns.broken.push(format!("{status} {body}"));
            }
            continue;
        }
        let text = match response.text().await {
            Ok(text) => text,
            Err(e) => {
                turns.broken.push(format!("the stream was cut: {e}"));
                continue;
            }
        };
        let events = parse_events(&text);
        if let Some(start) = events.iter().find(|e| e.name == "start") {
            session = start.data["session_id"].as_str().map(str::to_owned);
        }
        let Some(done) = events.iter().find(|e| e.name == "done") else {
            match events.iter().find(|e| e.name == "error") {
                // A reply that could not be stored is lost, however politely said.
                Some(error)
                    if error.data["error"].is_string()
                        && error.data["error"] != "internal_error"
                        && error.data["retryable"].is_boolean() =>
                {
                    turns.declined += 1;
                    if let (Some(session), Some(id)) = (&session, error.data["message_id"].as_str())
                    {
                        turns.cut.push((session.clone(), id.to_owned()));
                    }
                }
                _ => {
                    let names: Vec<&str> = events.iter().map(|e| e.name.as_str()).collect();
                    let error = events.iter().find(|e| e.name == "error").map(|e| &e.data);
                    turns
                        .broken
                        .push(format!("a stream without done: {names:?}, {error:?}"));
                }
            }
            continue;
        };
        let message = &done.data["message"];
        if message["status"] != "complete" {
            turns
                .broken
                .push(format!("a reply stored as {}", message["status"]));
        }
        let id = done.data["session_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        session = Some(id.clone());
        turns.done.push((
            id,
            message["id"].as_str().unwrap_or_default().to_owned(),
            message["content"].as_str().unwrap_or_default().to_owned(),
            Instant::now(),
        ));
    }
    (person, turns)
}

/// Eight guests, each with a browser from `browser`, chatting until `stop`; their
/// browsers and turns.
async fn chatting(
    browser: impl Fn() -> Browser,
    stop: &std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Vec<tokio::task::JoinHandle<(Browser, Turns)>> {
    // The server's warnings and errors, shown when the test fails.
    let _ = tracing_subscriber::fmt()
        .with_env_filter("warn")
        .with_test_writer()
        .try_init();
    let mut clients = Vec::new();
    for who in 0..8 {
        let mut person = browser();
        person.guest().await;
        clients.push(tokio::spawn(keep_chatting(person, who, stop.clone())));
    }
    clients
}

/// Gathers the chatters: every turn classified, none broken; the finished replies.
async fn gathered(
    clients: Vec<tokio::task::JoinHandle<(Browser, Turns)>>,
) -> (Vec<(Browser, Turns)>, usize) {
    let mut people = Vec::new();
    let mut broken = Vec::new();
    let mut declined = 0;
    for client in clients {
        let (person, mut turns) = client.await.unwrap();
        declined += turns.declined;
        broken.append(&mut turns.broken);
        people.push((person, turns));
    }
    assert!(broken.is_empty(), "{broken:?}");
    (people, declined)
}

/// Every reply the server finished is stored in its conversation, complete, and every
/// reply the model cut off is kept, marked incomplete.
async fn all_found(people: &mut [(Browser, Turns)]) {
    for (person, turns) in people {
        let finished = turns
            .done
            .iter()
            .map(|(s, id, text, _)| (s, id, Some(text)));
        let cut = turns.cut.iter().map(|(s, id)| (s, id, None));
        for (session, id, content) in finished.chain(cut) {
            let (status, body) = person
                .get(&format!("/api/chat/sessions/{session}/messages?limit=500"))
                .await;
            assert_eq!(status, 200, "{body}");
            let stored = body["messages"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["id"] == id.as_str())
                .unwrap_or_else(|| panic!("reply {id} acknowledged, then lost"));
            match content {
                Some(text) => {
                    assert_eq!(stored["content"], text.as_str());
                    assert_eq!(stored["status"], "complete");
                }
                None => assert_eq!(stored["status"], "incomplete"),
            }
        }
    }
}

/// SIGTERM under load: eight people chatting, each reply streaming for about a second,
/// when the server is told to stop. Every reply under way finishes and is stored
/// complete, new turns are declined (the listener closes), the process exits 0 — and
/// after a restart every reply the server finished is there: requests lost = 0.
#[tokio::test]
async fn sigterm_under_load_finishes_every_open_reply_and_loses_none() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let upstream = FakeUpstream::start().await.unwrap();
    upstream.set_default_delay(Duration::from_millis(40));
    let mut solace = RealSolace::start(&upstream, &[("AI_MESSAGES_PER_MINUTE", "1000")]).await;
    let stop = Arc::new(AtomicBool::new(false));
    let clients = chatting(|| solace.person(), &stop).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;

    solace.terminate();
    let signalled = Instant::now();
    let status = solace.exit_status().await;
    assert!(status.success(), "exit status {status}");
    stop.store(true, Ordering::Relaxed);

    let (mut people, declined) = gathered(clients).await;
    let finished: usize = people.iter().map(|(_, t)| t.done.len()).sum();
    let across: usize = people
        .iter()
        .map(|(_, t)| t.done.iter().filter(|d| d.3 > signalled).count())
        .sum();
    assert!(finished > 8, "only {finished} replies");
    assert!(across > 0, "no reply was streaming when SIGTERM came");

    // Started again on the same data: every finished reply is stored, complete.
    solace.restart().await;
    all_found(&mut people).await;
    eprintln!(
        "SIGTERM under load: {finished} replies finished and all found after a restart \
         ({across} of them streaming when the signal came), {declined} turns declined, 0 lost"
    );
}

/// Chat turns under faults: eight people chatting (each reply streaming from the model)
/// while Redis is killed and brought back and, on PostgreSQL, every database connection
/// is cut. Each turn ends in a finished reply or a clear, retryable refusal, and every
/// finished reply is stored complete: requests lost = 0.
#[tokio::test]
async fn chat_turns_through_redis_and_database_faults_lose_no_finished_reply() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let Some(mut redis) = OwnRedis::start() else {
        return;
    };
    let upstream = FakeUpstream::start().await.unwrap();
    upstream.set_default_delay(Duration::from_millis(20));
    let cache = redis.url();
    let app = app_with_model(
        &upstream,
        &[
            ("REDIS_URL", &cache),
            ("JOBS_BACKEND", "database"),
            ("AI_MESSAGES_PER_MINUTE", "1000"),
        ],
    )
    .await;
    let stop = Arc::new(AtomicBool::new(false));
    let clients = chatting(|| app.browser(), &stop).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    redis.kill();
    let outage = Instant::now();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    if using_postgres() {
        cut_every_connection(&app).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    redis.launch().unwrap();
    let recovered = Instant::now();
    ready_becomes(&app, 200).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::Relaxed);

    let (mut people, declined) = gathered(clients).await;
    let when = |from: Instant, to: Instant| -> usize {
        people
            .iter()
            .map(|(_, t)| t.done.iter().filter(|d| d.3 > from && d.3 <= to).count())
            .sum()
    };
    let far = Instant::now() + Duration::from_secs(3600);
    let (during, after) = (when(outage, recovered), when(recovered, far));
    let finished: usize = people.iter().map(|(_, t)| t.done.len()).sum();
    assert!(
        during > 0 && after > 0,
        "replies finished during ({during}) and after ({after}) the outage"
    );
    all_found(&mut people).await;
    eprintln!(
        "chat turns through the faults: {finished} replies finished and all found ({during} \
         while Redis was down), {declined} turns declined clearly, 0 lost"
    );
}

/// Model faults under load: eight people chatting while the model cuts replies off
/// mid-stream, answers 503 (which the server retries) and fails with 500. Each turn ends
/// in a finished reply or a clear, retryable error; every finished reply is stored
/// complete and every cut one kept, marked incomplete: requests lost = 0.
#[tokio::test]
async fn model_faults_under_load_keep_every_reply_begun_and_lose_none() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let upstream = FakeUpstream::start().await.unwrap();
    upstream.set_default_delay(Duration::from_millis(10));
    let app = app_with_model(&upstream, &[("AI_MESSAGES_PER_MINUTE", "1000")]).await;
    let stop = Arc::new(AtomicBool::new(false));
    let clients = chatting(|| app.browser(), &stop).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Among the next requests to the model: cuts, busy answers and failures.
    for _ in 0..10 {
        upstream.then(Behaviour::Disconnect {
            tokens: solace_ai::testing::split_tokens("I hear you, and I want to"),
        });
        upstream.then(Behaviour::Fail {
            status: 503,
            retry_after_secs: None,
        });
        upstream.then(Behaviour::Fail {
            status: 500,
            retry_after_secs: None,
        });
        upstream.then(Behaviour::reply(
            "A whole reply between the faults.",
            Duration::ZERO,
        ));
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    stop.store(true, Ordering::Relaxed);

    let (mut people, declined) = gathered(clients).await;
    let finished: usize = people.iter().map(|(_, t)| t.done.len()).sum();
    let cut: usize = people.iter().map(|(_, t)| t.cut.len()).sum();
    // Busy and failing answers are mostly absorbed by the server's own retries (up to
    // LLM_MAX_RETRIES); a cut stream is never retried, so cuts always reach people.
    assert!(cut > 0, "no reply was cut off");
    all_found(&mut people).await;
    eprintln!(
        "model faults under load: {finished} replies finished, {cut} cut off and kept as \
         incomplete, {} more declined with a retryable error, 0 lost",
        declined - cut
    );
}
