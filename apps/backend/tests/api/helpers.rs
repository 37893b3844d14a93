use std::path::{Path, PathBuf};

use solace_backend::{AppState, Application, Config};
use sqlx::{Connection, Executor};
use tempfile::TempDir;
use tokio::sync::oneshot;

/// A running app and what a test needs to talk to it.
pub struct TestApp {
    pub address: String,
    /// Where `/metrics` is served (its own port), when it is on.
    pub metrics_address: Option<String>,
    pub client: reqwest::Client,
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    pub server: Option<tokio::task::JoinHandle<solace_backend::Result<()>>>,
    _dirs: TempDir,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request failed")
    }

    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request failed")
    }

    /// What Prometheus would read from `/metrics` now.
    pub async fn scrape(&self) -> Metrics {
        let address = self.metrics_address.as_deref().expect("metrics are on");
        let response = self
            .client
            .get(format!("{address}/metrics"))
            .send()
            .await
            .expect("scrape failed");
        assert_eq!(response.status(), 200);
        Metrics(response.text().await.expect("metrics body"))
    }

    /// Asks the server to stop and waits for it to finish draining.
    pub async fn stop(&mut self) -> solace_backend::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match self.server.take() {
            Some(handle) => handle.await.expect("server task panicked"),
            None => Ok(()),
        }
    }
}

/// A `/metrics` exposition.
#[derive(Debug)]
pub struct Metrics(pub String);

impl Metrics {
    /// The value of the sample whose name and labels start with `series`, e.g.
    /// `solace_jobs{queue="tts",state="dead"`; `None` when there is none.
    pub fn value(&self, series: &str) -> Option<f64> {
        self.0
            .lines()
            .filter(|line| !line.starts_with('#'))
            .find(|line| {
                line.strip_prefix(series)
                    .is_some_and(|rest| rest.starts_with([' ', ',', '}', '{']))
            })
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }

    /// The sum of every sample of `name` (all label sets).
    pub fn sum(&self, name: &str) -> f64 {
        self.0
            .lines()
            .filter(|line| {
                line.strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with([' ', '{']))
            })
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }
}

/// A loopback port nothing listens on (for a server a test starts itself).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Which engines this run of the suite uses.
pub fn using_postgres() -> bool {
    std::env::var("TEST_DATABASE_URL").is_ok_and(|v| !v.is_empty())
}

pub fn using_redis() -> bool {
    std::env::var("TEST_REDIS_URL").is_ok_and(|v| !v.is_empty())
}

/// Starts the app with default test settings and a fresh database.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Starts the app with extra configuration pairs (they win over the defaults).
pub async fn spawn_app_with(extra: &[(&str, &str)]) -> TestApp {
    spawn_app_on(any_port().await, extra).await
}

/// Starts the app on a listener the test bound itself (its port is known in advance).
pub async fn spawn_app_on(listener: tokio::net::TcpListener, extra: &[(&str, &str)]) -> TestApp {
    let (config, dirs) = test_config(extra).await;
    start(config, listener, dirs).await
}

/// Two replicas of one deployment: the same database, Redis, key prefix and settings,
/// each serving on its own port with its own job worker (as `solace serve` on two
/// machines behind a load balancer).
pub async fn spawn_replicas(extra: &[(&str, &str)]) -> (TestApp, TestApp) {
    let (config, dirs) = test_config(extra).await;
    let first = start(config.clone(), any_port().await, dirs).await;
    let second = start(
        config,
        any_port().await,
        tempfile::tempdir().expect("temp dir"),
    )
    .await;
    (first, second)
}

async fn any_port() -> tokio::net::TcpListener {
    tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind")
}

/// The test configuration with `extra` pairs winning over the defaults, and the folder
/// that holds its data and the stand-in web app.
async fn test_config(extra: &[(&str, &str)]) -> (Config, TempDir) {
    let dirs = tempfile::tempdir().expect("temp dir");
    let static_dir = dirs.path().join("site");
    write_fake_site(&static_dir);
    let mut vars = base_vars(&dirs, &static_dir).await;
    for (key, value) in extra {
        vars.retain(|(k, _)| k != key);
        vars.push((key.to_string(), value.to_string()));
    }
    let config = Config::from_vars(vars).expect("test configuration is valid");
    (config, dirs)
}

async fn start(config: Config, listener: tokio::net::TcpListener, dirs: TempDir) -> TestApp {
    // Tests run housekeeping themselves (`rooms::housekeeping::tick`), never behind
    // their back.
    let app = Application::build_on(config, listener)
        .await
        .expect("app failed to start")
        .without_housekeeping();
    let address = format!("http://127.0.0.1:{}", app.port());
    let metrics_address = app
        .metrics_port()
        .map(|port| format!("http://127.0.0.1:{port}"));
    let state = app.state().clone();
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = rx.await;
    }));
    TestApp {
        address,
        metrics_address,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()
            .expect("http client"),
        state,
        shutdown: Some(tx),
        server: Some(server),
        _dirs: dirs,
    }
}

/// The configuration every test starts from: loopback, a random port, a fresh database
/// and, with Redis, a key prefix of its own so tests never see each other's keys.
pub async fn base_vars(dirs: &TempDir, static_dir: &Path) -> Vec<(String, String)> {
    let database_url = if using_postgres() {
        fresh_postgres_database().await
    } else {
        format!("sqlite://{}", dirs.path().join("solace.db").display())
    };
    let mut vars = vec![
        ("APP_ENV", "test".to_owned()),
        ("HOST", "127.0.0.1".to_owned()),
        ("PORT", "0".to_owned()),
        // Any free UDP port for the embedded SFU, so tests run side by side.
        ("RTC_UDP_PORT", "0".to_owned()),
        ("RTC_TCP_PORT", "0".to_owned()),
        ("DATABASE_URL", database_url),
        ("DATABASE_MAX_CONNECTIONS", "4".to_owned()),
        // Any free port for /metrics, so tests run side by side.
        ("METRICS_ADDR", "127.0.0.1:0".to_owned()),
        ("DATA_DIR", dirs.path().join("data").display().to_string()),
        ("STATIC_DIR", static_dir.display().to_string()),
        (
            "CACHE_KEY_PREFIX",
            format!("test:{}:", uuid::Uuid::new_v4().simple()),
        ),
    ];
    if using_redis() {
        vars.push((
            "REDIS_URL",
            std::env::var("TEST_REDIS_URL").unwrap_or_default(),
        ));
        vars.push(("JOBS_BACKEND", "redis".to_owned()));
    }
    vars.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// Creates an empty database on the PostgreSQL server named by `TEST_DATABASE_URL`.
/// An unreachable server fails the test loudly: a configured engine is never skipped.
pub async fn fresh_postgres_database() -> String {
    let admin_url = std::env::var("TEST_DATABASE_URL").unwrap_or_default();
    let name = format!("solace_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&admin_url)
        .await
        .unwrap_or_else(|e| panic!("TEST_DATABASE_URL is set but PostgreSQL is unreachable: {e}"));
    admin
        .execute(format!(r#"CREATE DATABASE "{name}""#).as_str())
        .await
        .expect("create test database");
    let mut url = url::Url::parse(&admin_url).expect("TEST_DATABASE_URL is a URL");
    url.set_path(&name);
    url.to_string()
}

/// A tiny stand-in for the frontend's static export, so these tests do not depend on
/// the JS build (the end-to-end tests cover the real one).
pub fn write_fake_site(dir: &Path) {
    let files: [(PathBuf, &str); 4] = [
        (
            dir.join("index.html"),
            "<!doctype html><h1>Solace home</h1>",
        ),
        (
            dir.join("about/index.html"),
            "<!doctype html><h1>About Solace</h1>",
        ),
        (
            dir.join("404.html"),
            "<!doctype html><h1>Page not found</h1>",
        ),
        (
            dir.join("_next/static/chunks/app-abc123.js"),
            "console.log('solace');",
        ),
    ];
    for (path, body) in files {
        std::fs::create_dir_all(path.parent().expect("has a parent")).expect("mkdir");
        std::fs::write(path, body).expect("write fake site");
    }
}

/// A request header's value as text, empty when absent (for the test receivers).
pub fn header_text(headers: &axum::http::HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// The body of an error response, checked for the house shape.
pub async fn error_code(response: reqwest::Response) -> String {
    let body: serde_json::Value = response.json().await.expect("error body is JSON");
    assert!(
        body["message"].is_string(),
        "error body has a message: {body}"
    );
    body["error"]
        .as_str()
        .expect("error body has a code")
        .to_owned()
}

/// A browser-like client that keeps cookies and the CSRF token it was given.
pub struct Browser {
    pub client: reqwest::Client,
    pub csrf: Option<String>,
    base: String,
}

impl TestApp {
    /// A signed-up account made administrator the way an operator does it (`solace admin
    /// grant` writes the same row).
    pub async fn administrator(&self, email: &str) -> Browser {
        let mut browser = self.browser();
        let user = browser.signup(email).await;
        solace_backend::users::set_role(
            &self.state.db,
            user["id"].as_str().unwrap(),
            solace_backend::users::Role::Admin,
        )
        .await
        .expect("grant the role");
        browser
    }

    pub fn browser(&self) -> Browser {
        Browser {
            client: reqwest::Client::builder()
                .cookie_store(true)
                .build()
                .expect("http client"),
            csrf: None,
            base: self.address.clone(),
        }
    }
}

impl Browser {
    /// A browser for a server this test started some other way (the binary itself).
    pub fn for_base(base: &str, client: reqwest::Client, csrf: Option<String>) -> Self {
        Self {
            client,
            csrf,
            base: base.to_owned(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Sends a request with the CSRF token (when it has one) and remembers a new one.
    pub async fn send(
        &mut self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> reqwest::Response {
        let mut request = self.client.request(method, self.url(path));
        if let Some(csrf) = &self.csrf {
            request = request.header("x-csrf-token", csrf);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("request failed")
    }

    /// Sends and, on success, keeps the `csrf_token` from the JSON answer.
    pub async fn send_json(
        &mut self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (reqwest::StatusCode, serde_json::Value) {
        let response = self.send(method, path, body).await;
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap_or(serde_json::Value::Null);
        if let Some(csrf) = body["csrf_token"].as_str() {
            self.csrf = Some(csrf.to_owned());
        }
        (status, body)
    }

    pub async fn post(
        &mut self,
        path: &str,
        body: serde_json::Value,
    ) -> (reqwest::StatusCode, serde_json::Value) {
        self.send_json(reqwest::Method::POST, path, Some(body))
            .await
    }

    pub async fn get(&mut self, path: &str) -> (reqwest::StatusCode, serde_json::Value) {
        self.send_json(reqwest::Method::GET, path, None).await
    }

    pub async fn guest(&mut self) -> serde_json::Value {
        let (status, body) = self.post("/api/auth/guest", serde_json::json!({})).await;
        assert_eq!(status, 201, "{body}");
        body["user"].clone()
    }

    pub async fn login(
        &mut self,
        email: &str,
        password: &str,
    ) -> (reqwest::StatusCode, serde_json::Value) {
        self.post(
            "/api/auth/login",
            serde_json::json!({ "email": email, "password": password }),
        )
        .await
    }

    pub async fn signup(&mut self, email: &str) -> serde_json::Value {
        let (status, body) = self
            .post(
                "/api/auth/signup",
                serde_json::json!({ "email": email, "password": GOOD_PASSWORD }),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["user"].clone()
    }
}

/// A password that passes the rules.
pub const GOOD_PASSWORD: &str = "river kettle lantern";

/// Builds the app on a fresh SQLite file with `extra` settings, expecting it to refuse to
/// start, and returns the error line.
pub async fn startup_error(extra: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("t.db").display());
    let data = dir.path().join("data").display().to_string();
    let vars = [
        ("DATABASE_URL", database.as_str()),
        ("DATA_DIR", data.as_str()),
        ("RTC_UDP_PORT", "0"),
        ("RTC_TCP_PORT", "0"),
        ("METRICS_ADDR", "off"),
    ]
    .into_iter()
    .chain(extra.iter().copied())
    .map(|(k, v)| (k.to_owned(), v.to_owned()));
    let mut config = Config::from_vars(vars).unwrap();
    config.port = 0;
    match Application::build(config).await {
        Ok(_) => panic!("the app started"),
        Err(error) => error.to_string(),
    }
}

/// A certificate authority made for one test, issuing server certificates it signs.
pub struct TestCa {
    params: rcgen::CertificateParams,
    key: rcgen::KeyPair,
    cert: rcgen::Certificate,
}

impl TestCa {
    pub fn new() -> Self {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Solace test CA");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Self { params, key, cert }
    }

    /// The CA's certificate, for clients to trust.
    pub fn pem(&self) -> String {
        self.cert.pem()
    }

    /// A server certificate for `names` (host names or IP addresses) and its key, as PEM.
    pub fn issue(&self, names: &[&str]) -> (String, String) {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let key = rcgen::KeyPair::generate().unwrap();
        let issuer = rcgen::Issuer::from_params(&self.params, &self.key);
        let cert = rcgen::CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    }
}
