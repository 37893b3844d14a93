//! Encryption at rest over the real server, on SQLite and on PostgreSQL + Redis: what a
//! person says is nowhere in a dump of the database (the file itself, or `pg_dump`) nor
//! in the cache, yet reads back through the API and the export; deleting the account
//! destroys the data key, so a backup taken before no longer opens; rows from before
//! encryption are read and then sealed; the master key rotates under a running server;
//! and a server given the wrong key file refuses to start.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};
use solace_ai::testing::FakeUpstream;
use solace_backend::config::DatabaseUrl;
use solace_backend::db::Db;
use solace_backend::vault::{plain, Keyring, Vault, VaultError};

use crate::ai_chat::{app_with_model, guest, say};
use crate::helpers::{using_postgres, Browser, TestApp};

pub(crate) const SAID: &str = "Marguerite from the bakery on Rue Cler is the only one who knows";
const REPLIED_MARK: &str = "fake-mellogpt";
const PLAN: &str = "Call Ezinne at the lighthouse co-op";

/// An app with the fake model and the fake embedding server (so memory items exist).
async fn app(upstream: &FakeUpstream) -> TestApp {
    app_with(upstream, &[]).await
}

/// `app` with more settings.
pub(crate) async fn app_with(upstream: &FakeUpstream, extra: &[(&str, &str)]) -> TestApp {
    let base = upstream.base_url();
    let mut vars = vec![
        ("EMBEDDINGS_BASE_URL", base.as_str()),
        ("EMBEDDINGS_MODEL", "fake-embed"),
    ];
    vars.extend_from_slice(extra);
    app_with_model(upstream, &vars).await
}

/// A guest who said `SAID`, wrote a safety plan, and whose turn is remembered.
/// Returns the browser, the user id and the conversation id.
pub(crate) async fn someone_who_talked(app: &TestApp) -> (Browser, String, String) {
    let mut browser = guest(app).await;
    let (_, me) = browser.get("/api/auth/me").await;
    let user_id = me["user"]["id"].as_str().unwrap().to_owned();
    let (status, events) = say(&mut browser, json!({ "content": SAID })).await;
    assert_eq!(status, 200);
    let session = crate::ai_chat::named(&events, "start")[0]["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = browser
        .send_json(
            Method::PUT,
            "/api/me/safety-plan",
            Some(json!({ "warning_signs": [PLAN] })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, page) = browser.get("/api/memory").await;
        if page["total"].as_u64().unwrap_or(0) >= 2 {
            break;
        }
        assert!(Instant::now() < deadline, "the turn was never remembered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (browser, user_id, session)
}

/// Everything the database holds, as bytes: the SQLite files (with the write-ahead
/// log), or `pg_dump`'s output.
async fn dump(app: &TestApp) -> Vec<u8> {
    let url = app.state.config.database_url.expose().to_owned();
    if using_postgres() {
        let out = tokio::process::Command::new("pg_dump")
            .arg("--data-only")
            .arg(&url)
            .output()
            .await
            .expect("pg_dump runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        return out.stdout;
    }
    let path = url
        .trim_start_matches("sqlite://")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let mut bytes = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        if let Ok(more) = std::fs::read(format!("{path}{suffix}")) {
            bytes.extend(more);
        }
    }
    assert!(!bytes.is_empty());
    bytes
}

fn holds(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// A backup of the app's database as it is now (SQLite's `VACUUM INTO`, or `pg_dump`
/// restored into a new PostgreSQL database); returns its URL.
async fn backup(app: &TestApp) -> String {
    let config = &app.state.config;
    let url = if using_postgres() {
        let copy = crate::helpers::fresh_postgres_database().await;
        let dumped = tokio::process::Command::new("pg_dump")
            .arg(config.database_url.expose())
            .output()
            .await
            .expect("pg_dump runs");
        assert!(dumped.status.success());
        let mut restore = tokio::process::Command::new("psql")
            .args(["-q", "-v", "ON_ERROR_STOP=1", &copy])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("psql runs");
        use tokio::io::AsyncWriteExt;
        let mut stdin = restore.stdin.take().unwrap();
        stdin.write_all(&dumped.stdout).await.unwrap();
        drop(stdin);
        assert!(restore.wait().await.unwrap().success());
        copy
    } else {
        let dir = tempfile::tempdir().unwrap().keep();
        let file = dir.join("backup.db");
        sqlx::query(&format!("VACUUM INTO '{}'", file.display()))
            .execute(app.state.db.pool())
            .await
            .unwrap();
        format!("sqlite://{}", file.display())
    };
    url
}

/// The backup at `url`, opened as a restore would: with a vault of its own that shares
/// only the key file and the key store, nothing cached.
async fn restore(app: &TestApp, url: &str) -> Db {
    Db::connect(&DatabaseUrl::parse(url).unwrap(), 2)
        .await
        .unwrap()
        .with_vault(fresh_vault(app).await)
}

async fn fresh_vault(app: &TestApp) -> Arc<Vault> {
    let config = &app.state.config;
    let keystore = Db::connect(&config.encryption.keystore_url, 2)
        .await
        .unwrap();
    let keyring = Keyring::open(&config.encryption.key_file, false).unwrap();
    Arc::new(
        Vault::open(Arc::new(keyring), keystore, &app.state.db)
            .await
            .unwrap(),
    )
}

#[tokio::test]
async fn a_database_dump_holds_none_of_what_was_said_yet_the_person_reads_it_all() {
    let upstream = FakeUpstream::start().await.unwrap();
    let app = app(&upstream).await;
    let (mut browser, _, session) = someone_who_talked(&app).await;

    let dumped = dump(&app).await;
    assert!(!dumped.is_empty());
    for secret in [SAID, "Marguerite", "Rue Cler", PLAN, "Ezinne"] {
        assert!(
            !holds(&dumped, secret),
            "'{secret}' is in the dump in plain text"
        );
    }
    assert!(holds(&dumped, "sealed:v1:"), "sealed values are stored");
    // The key store holds wrapped keys only, never a word of it either.
    let keystore = app.state.config.encryption.keystore_url.expose();
    assert_ne!(keystore, app.state.config.database_url.expose());

    // The cache's copy of the conversation (Redis in scale mode) is sealed too.
    let cached = app
        .state
        .cache
        .get(&format!("chat:memory:{session}"))
        .await
        .unwrap()
        .expect("the conversation is cached");
    assert!(!holds(&cached, "Marguerite"));

    // The person reads everything in the clear: messages, title, memory, plan, export.
    let (_, messages) = browser
        .get(&format!("/api/chat/sessions/{session}/messages"))
        .await;
    let contents: Vec<&str> = messages["messages"]
        .as_array()
        .or_else(|| messages.as_array())
        .unwrap()
        .iter()
        .filter_map(|m| m["content"].as_str())
        .collect();
    assert!(contents.contains(&SAID), "{messages}");
    assert!(
        contents
            .iter()
            .any(|c| c.contains(REPLIED_MARK) || !c.is_empty()),
        "{messages}"
    );
    let (_, sessions) = browser.get("/api/chat/sessions").await;
    let title = sessions
        .as_array()
        .or_else(|| sessions["sessions"].as_array())
        .unwrap()[0]["title"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(SAID.starts_with(title.trim_end_matches('…')), "{title}");
    let (_, memory) = browser.get("/api/memory").await;
    assert!(memory.to_string().contains("Marguerite"), "{memory}");
    let (_, plan) = browser.get("/api/me/safety-plan").await;
    assert_eq!(plan["plan"]["warning_signs"][0], PLAN);
    let export: Value = browser
        .send(Method::GET, "/api/me/export", None)
        .await
        .json()
        .await
        .unwrap();
    assert!(export["messages"].to_string().contains(SAID));
    assert!(export["memory"].to_string().contains("Marguerite"));
    assert!(export["safety_plan"].to_string().contains("Ezinne"));
    assert!(export["chat_sessions"].to_string().contains(&title));
}

#[tokio::test]
async fn deleting_an_account_leaves_a_backup_taken_before_it_unreadable() {
    let upstream = FakeUpstream::start().await.unwrap();
    let app = app(&upstream).await;
    let (mut browser, user_id, session) = someone_who_talked(&app).await;
    let taken = backup(&app).await;
    let before = restore(&app, &taken).await;
    // While the account exists, its backup opens (with nothing cached).
    let read = solace_backend::chat::recent_messages(&before, &user_id, &session, 50)
        .await
        .expect("a backup of a living account opens");
    assert!(read.iter().any(|m| m.content == SAID));
    let plan = solace_backend::safety_plan::load(&before, &user_id)
        .await
        .unwrap();
    assert!(plan.is_some());

    let (_, me) = browser.get("/api/auth/me").await;
    let pseudonym = me["user"]["pseudonym"].as_str().unwrap().to_owned();
    let response = browser
        .send(
            Method::DELETE,
            "/api/me",
            Some(json!({ "confirm": pseudonym })),
        )
        .await;
    assert_eq!(response.status(), 204);

    // The backup taken before the deletion, restored now: every sealed value is shut.
    before.close().await;
    let after = restore(&app, &taken).await;
    let read = solace_backend::chat::recent_messages(&after, &user_id, &session, 50).await;
    assert!(
        matches!(
            read,
            Err(solace_backend::Error::Vault(VaultError::Shredded))
        ),
        "{:?}",
        read.map(|m| m.len())
    );
    assert!(matches!(
        solace_backend::safety_plan::load(&after, &user_id).await,
        Err(solace_backend::Error::Vault(VaultError::Shredded))
    ));
    assert_eq!(keys_in_store(&app).await, 0);
}

/// The app's key store, on a connection of the test's own.
async fn keystore(app: &TestApp) -> Db {
    Db::connect(&app.state.config.encryption.keystore_url, 1)
        .await
        .unwrap()
}

/// How many data keys of `owner` the key store holds.
async fn keys_of(app: &TestApp, owner: &str) -> i64 {
    let store = keystore(app).await;
    sqlx::query_scalar("SELECT COUNT(*) FROM data_keys WHERE owner_id = $1")
        .bind(owner.to_owned())
        .fetch_one(store.pool())
        .await
        .unwrap()
}

/// How many data keys the key store holds (each test's store is its own).
async fn keys_in_store(app: &TestApp) -> i64 {
    let store = keystore(app).await;
    sqlx::query_scalar("SELECT COUNT(*) FROM data_keys")
        .fetch_one(store.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn rows_stored_before_encryption_are_read_and_then_sealed_in_place() {
    let upstream = FakeUpstream::start().await.unwrap();
    let app = app(&upstream).await;
    let (mut browser, user_id, session) = someone_who_talked(&app).await;
    let db = &app.state.db;
    // A message and a title as an older release wrote them: plain text.
    let old = "Written before encryption: the allotment on Hawthorn Lane";
    sqlx::query(
        "INSERT INTO messages (id, session_id, owner_id, role, content, status, created_at, updated_at) \
         VALUES ($1, $2, $3, 'user', $4, 'complete', 1, 1)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(session.clone())
    .bind(user_id.clone())
    .bind(old)
    .execute(db.pool())
    .await
    .unwrap();
    sqlx::query("UPDATE chat_sessions SET title = 'An old plain title' WHERE id = $1")
        .bind(session.clone())
        .execute(db.pool())
        .await
        .unwrap();
    assert_eq!(plain::count_plain(db).await.unwrap(), 2);

    let path = format!("/api/chat/sessions/{session}/messages");
    let (_, before) = browser.get(&path).await;
    assert!(before.to_string().contains(old));

    let sealed = plain::seal_all(db, db.vault().unwrap(), 1, Duration::ZERO, |_| {})
        .await
        .unwrap();
    assert_eq!(sealed, 2);
    assert_eq!(plain::count_plain(db).await.unwrap(), 0);
    assert!(!holds(&dump(&app).await, "Hawthorn"));
    let (_, after) = browser.get(&path).await;
    assert!(after.to_string().contains(old), "{after}");
    let title: String = sqlx::query_scalar("SELECT title FROM chat_sessions WHERE id = $1")
        .bind(session)
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert!(title.starts_with("sealed:v1:"));
}

#[tokio::test]
async fn rotating_the_master_key_rewraps_every_data_key_under_a_running_server() {
    let upstream = FakeUpstream::start().await.unwrap();
    let app = app(&upstream).await;
    let (mut browser, user_id, session) = someone_who_talked(&app).await;
    let vault = app.state.db.vault().unwrap();
    let keyring = Keyring::open(&app.state.config.encryption.key_file, false).unwrap();
    let old = keyring.ids();
    assert_eq!(old.len(), 1);

    let new = keyring.add_key().unwrap();
    // The running server sees the new key (it re-reads the file) and re-wraps with it.
    assert_eq!(vault.master().current_id().unwrap(), new);
    let rewrapped = vault.rewrap(|_, _| {}).await.unwrap();
    assert!(rewrapped >= 1);
    assert_eq!(
        vault.master_key_use().await.unwrap(),
        vec![(new.clone(), i64::try_from(rewrapped).unwrap())]
    );
    // Old master keys can go; what was said still opens, with nothing cached.
    assert_eq!(keyring.retire(&old).unwrap(), 1);
    let reader = app.state.db.clone().with_vault(fresh_vault(&app).await);
    let read = solace_backend::chat::recent_messages(&reader, &user_id, &session, 50)
        .await
        .unwrap();
    assert!(read.iter().any(|m| m.content == SAID));
    // And the server keeps serving the conversation.
    let (status, _) = say(
        &mut browser,
        json!({ "content": "Still here after the rotation", "session_id": session }),
    )
    .await;
    assert_eq!(status, 200);
}

/// A configuration beside `app`'s: its key store, this database and this key file.
async fn beside(
    app: &TestApp,
    dir: &tempfile::TempDir,
    database: &str,
    key_file: &std::path::Path,
) -> solace_backend::Config {
    beside_with(app, dir, database, key_file, &[]).await
}

/// `beside`, with more settings.
pub(crate) async fn beside_with(
    app: &TestApp,
    dir: &tempfile::TempDir,
    database: &str,
    key_file: &std::path::Path,
    extra: &[(&str, &str)],
) -> solace_backend::Config {
    let keystore = app.state.config.encryption.keystore_url.expose().to_owned();
    let mut vars: Vec<(String, String)> = crate::helpers::base_vars(dir, dir.path()).await;
    let key_file = key_file.display().to_string();
    let set = [
        ("DATABASE_URL", database),
        ("ENCRYPTION_KEYSTORE_URL", keystore.as_str()),
        ("ENCRYPTION_KEY_FILE", key_file.as_str()),
    ];
    for (key, value) in set.iter().chain(extra) {
        vars.retain(|(k, _)| k != key);
        vars.push(((*key).to_owned(), (*value).to_owned()));
    }
    solace_backend::Config::from_vars(vars).unwrap()
}

/// The master ids wrapping `owner`'s data keys.
pub(crate) async fn masters_of(app: &TestApp, owner: &str) -> Vec<String> {
    let store = keystore(app).await;
    sqlx::query_scalar("SELECT master_id FROM data_keys WHERE owner_id = $1")
        .bind(owner.to_owned())
        .fetch_all(store.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_server_without_the_master_key_its_data_keys_need_refuses_to_start() {
    let upstream = FakeUpstream::start().await.unwrap();
    let app = app(&upstream).await;
    someone_who_talked(&app).await;
    let elsewhere = tempfile::tempdir().unwrap();
    let other_keys = elsewhere.path().join("other.keys");
    let database = app.state.config.database_url.expose().to_owned();
    let config = beside(&app, &elsewhere, &database, &other_keys).await;
    let error = solace_backend::Application::build(config)
        .await
        .err()
        .expect("the server refuses to start")
        .to_string();
    assert!(error.contains("ENCRYPTION_KEY_FILE"), "{error}");
    assert!(error.contains("does not hold"), "{error}");

    // The same key store with a database wiped since (nobody in it owns those keys), as
    // a benchmark that recreates its database does: it starts, and destroys nothing.
    let keys_before = keys_in_store(&app).await;
    assert!(keys_before >= 1);
    let wiped = if using_postgres() {
        crate::helpers::fresh_postgres_database().await
    } else {
        format!("sqlite://{}", elsewhere.path().join("wiped.db").display())
    };
    let config = beside(&app, &elsewhere, &wiped, &other_keys).await;
    let fresh = solace_backend::Application::build(config).await;
    assert!(fresh.is_ok(), "{:?}", fresh.err().map(|e| e.to_string()));
    let fresh = fresh.unwrap();
    solace_backend::vault::plain::in_background(&fresh.state().db)
        .await
        .unwrap();
    assert_eq!(keys_in_store(&app).await, keys_before);
}

#[tokio::test]
async fn a_deletion_stopped_between_rows_and_keys_is_finished_and_nothing_else_is_touched() {
    let upstream = FakeUpstream::start().await.unwrap();
    let app = app(&upstream).await;
    let (_, gone, _) = someone_who_talked(&app).await;
    let (_, changed_mind, _) = someone_who_talked(&app).await;
    let (_, unmarked, _) = someone_who_talked(&app).await;
    let db = &app.state.db;
    let vault = db.vault().unwrap();
    // Marked, then the rows went and the process stopped; marked but never deleted;
    // deleted behind the app's back without a mark.
    vault
        .doom(&[gone.clone(), changed_mind.clone()])
        .await
        .unwrap();
    for owner in [&gone, &unmarked] {
        sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(owner.clone())
            .execute(db.pool())
            .await
            .unwrap();
    }

    let swept = vault.sweep(db).await.unwrap();

    assert_eq!(swept, 1);
    assert_eq!(keys_of(&app, &gone).await, 0);
    assert_eq!(keys_of(&app, &changed_mind).await, 1);
    assert_eq!(keys_of(&app, &unmarked).await, 1);
    // The mark of the person who stayed is gone: a later sweep leaves them be.
    assert_eq!(vault.sweep(db).await.unwrap(), 0);
    assert_eq!(keys_of(&app, &changed_mind).await, 1);
}

#[tokio::test]
async fn a_guest_merged_into_an_account_keeps_reading_what_it_said() {
    let upstream = FakeUpstream::start().await.unwrap();
    let app = app(&upstream).await;
    let mut owner = app.browser();
    owner.signup("merge-keys@example.org").await;
    let (mut browser, _, session) = someone_who_talked(&app).await;
    let (status, body) = browser
        .login("merge-keys@example.org", crate::helpers::GOOD_PASSWORD)
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, messages) = browser
        .get(&format!("/api/chat/sessions/{session}/messages"))
        .await;
    assert!(messages.to_string().contains(SAID), "{messages}");
    let (_, memory) = browser.get("/api/memory").await;
    assert!(memory.to_string().contains("Marguerite"), "{memory}");
    // Deleting the account destroys the guest's keys too.
    let response = browser
        .send(
            Method::DELETE,
            "/api/me",
            Some(json!({ "password": crate::helpers::GOOD_PASSWORD })),
        )
        .await;
    assert_eq!(response.status(), 204);
    assert_eq!(keys_in_store(&app).await, 0);
}
