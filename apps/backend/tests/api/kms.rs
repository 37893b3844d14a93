//! Master keys in AWS KMS, against an independent implementation of the KMS API that
//! checks every request's Signature Version 4 and encryption context: moto's server
//! (`scripts/ensure-moto.sh` installs it; `MOTO_VENV` names it), started by each test on
//! its own port. On SQLite and on PostgreSQL + Redis: data keys are wrapped by KMS and
//! open again with nothing cached; a wrong secret is a clear startup error; and data
//! keys wrapped by the key file before KMS was configured still open, then move to KMS.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use solace_ai::testing::FakeUpstream;
use solace_backend::db::Db;
use solace_backend::vault::Vault;

use crate::encryption::{app_with, beside_with, masters_of, someone_who_talked, SAID};
use crate::helpers::{free_port, TestApp};

/// A moto server with a user, its access key and a KMS key.
struct Moto {
    child: Child,
    endpoint: String,
    access_key_id: String,
    secret_access_key: String,
    key_id: String,
}

impl Moto {
    /// `None` (the test is skipped) where moto is not installed, except in CI.
    async fn start() -> Option<Self> {
        let venv = std::env::var_os("MOTO_VENV").map(std::path::PathBuf::from);
        let Some(venv) = venv.filter(|v| v.join("bin/moto_server").exists()) else {
            assert!(
                std::env::var("CI").map_or(true, |v| v != "true"),
                "MOTO_VENV must name moto's virtual environment in CI (scripts/ensure-moto.sh)"
            );
            eprintln!("skipped: moto is not installed (bash scripts/ensure-moto.sh)");
            return None;
        };
        let port = free_port();
        let child = Command::new(venv.join("bin/moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("INITIAL_NO_AUTH_ACTION_COUNT", "3")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server starts");
        let endpoint = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "moto_server did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api/kms_fixture.py");
        let out = tokio::process::Command::new(venv.join("bin/python"))
            .args([fixture, &endpoint])
            .output()
            .await
            .expect("the fixture runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let made: Value = serde_json::from_slice(&out.stdout).unwrap();
        let text = |k: &str| made[k].as_str().unwrap().to_owned();
        Some(Self {
            child,
            endpoint,
            access_key_id: text("access_key_id"),
            secret_access_key: text("secret_access_key"),
            key_id: text("key_id"),
        })
    }

    /// The settings that put the master key in this KMS, with `secret`.
    fn settings<'a>(&'a self, secret: &'a str) -> [(&'a str, &'a str); 5] {
        [
            ("ENCRYPTION_KMS_KEY_ID", self.key_id.as_str()),
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ENDPOINT_URL_KMS", self.endpoint.as_str()),
            ("AWS_ACCESS_KEY_ID", self.access_key_id.as_str()),
            ("AWS_SECRET_ACCESS_KEY", secret),
        ]
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A vault opened from `config` with nothing cached: every data key is unwrapped anew.
async fn fresh_vault(app: &TestApp, config: &solace_backend::Config) -> Arc<Vault> {
    let keystore = Db::connect(&config.encryption.keystore_url, 2)
        .await
        .unwrap();
    let keys = solace_backend::state::master_keys(config).unwrap();
    Arc::new(Vault::open(keys, keystore, &app.state.db).await.unwrap())
}

async fn said_reads_back(app: &TestApp, vault: Arc<Vault>, user_id: &str, session: &str) {
    let reader = app.state.db.clone().with_vault(vault);
    let read = solace_backend::chat::recent_messages(&reader, user_id, session, 50)
        .await
        .unwrap();
    assert!(read.iter().any(|m| m.content == SAID));
}

#[tokio::test]
async fn data_keys_wrapped_by_kms_open_with_nothing_cached_and_a_wrong_secret_stops_startup() {
    let Some(moto) = Moto::start().await else {
        return;
    };
    let upstream = FakeUpstream::start().await.unwrap();
    let app = app_with(&upstream, &moto.settings(&moto.secret_access_key)).await;
    let (_, user_id, session) = someone_who_talked(&app).await;

    let masters = masters_of(&app, &user_id).await;
    assert!(!masters.is_empty());
    let expected = format!("aws-kms:{}", moto.key_id);
    assert!(masters.iter().all(|m| *m == expected), "{masters:?}");
    // No key file was made: the master key lives in KMS only.
    assert!(!app.state.config.encryption.key_file.exists());

    let config = &app.state.config;
    said_reads_back(&app, fresh_vault(&app, config).await, &user_id, &session).await;

    // The same deployment with a wrong secret: KMS refuses the signature, and the server
    // says so at startup instead of failing every read.
    let dir = tempfile::tempdir().unwrap();
    let database = config.database_url.expose().to_owned();
    let wrong = beside_with(
        &app,
        &dir,
        &database,
        &config.encryption.key_file,
        &moto.settings("not-the-secret"),
    )
    .await;
    let error = solace_backend::Application::build(wrong)
        .await
        .err()
        .expect("the server refuses to start")
        .to_string();
    assert!(error.contains("KMS (ENCRYPTION_KMS_KEY_ID)"), "{error}");
    assert!(error.contains("403"), "{error}");
}

#[tokio::test]
async fn data_keys_from_the_key_file_still_open_under_kms_and_rotate_into_it() {
    let Some(moto) = Moto::start().await else {
        return;
    };
    let upstream = FakeUpstream::start().await.unwrap();
    // Before KMS: the key file wraps the data keys.
    let app = app_with(&upstream, &[]).await;
    let (_, user_id, session) = someone_who_talked(&app).await;
    let key_file = app.state.config.encryption.key_file.clone();
    assert!(masters_of(&app, &user_id)
        .await
        .iter()
        .all(|m| !m.starts_with("aws-kms:")));

    // KMS configured beside the same key file: old data keys still open, and the
    // rotation moves every one of them to KMS.
    let dir = tempfile::tempdir().unwrap();
    let database = app.state.config.database_url.expose().to_owned();
    let with_kms = beside_with(
        &app,
        &dir,
        &database,
        &key_file,
        &moto.settings(&moto.secret_access_key),
    )
    .await;
    let vault = fresh_vault(&app, &with_kms).await;
    said_reads_back(&app, vault.clone(), &user_id, &session).await;
    let moved = vault.rewrap(|_, _| {}).await.unwrap();
    assert!(moved >= 1);
    let expected = format!("aws-kms:{}", moto.key_id);
    assert!(masters_of(&app, &user_id)
        .await
        .iter()
        .all(|m| *m == expected));

    // Without the key file now, KMS alone opens everything.
    let kms_only = beside_with(
        &app,
        &dir,
        &database,
        &dir.path().join("no-such.keys"),
        &moto.settings(&moto.secret_access_key),
    )
    .await;
    said_reads_back(&app, fresh_vault(&app, &kms_only).await, &user_id, &session).await;
}
