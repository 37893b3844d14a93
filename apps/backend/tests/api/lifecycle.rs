//! Start-up and shutdown: clear errors for bad settings, graceful stop.

use std::process::Command;

use solace_backend::{Application, Config};

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_server_stops_cleanly_when_asked() {
    let mut app = spawn_app().await;
    assert_eq!(app.get("/healthz").await.status(), 200);

    let stopped = app.stop().await;

    assert!(stopped.is_ok(), "{stopped:?}");
    let after = reqwest::get(app.url("/healthz")).await;
    assert!(after.is_err(), "nothing listens after shutdown");
}

#[tokio::test]
async fn an_unreachable_database_stops_start_up_with_a_clear_error() {
    let config = Config::from_vars([
        ("PORT".to_owned(), "0".to_owned()),
        // Tests run side by side: no fixed metrics or audio port.
        ("METRICS_ADDR".to_owned(), "off".to_owned()),
        ("RTC_UDP_PORT".to_owned(), "0".to_owned()),
        ("RTC_TCP_PORT".to_owned(), "0".to_owned()),
        (
            "DATABASE_URL".to_owned(),
            "postgres://solace:secret@127.0.0.1:1/solace".to_owned(),
        ),
    ])
    .unwrap();

    let error = Application::build(config)
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();

    assert!(
        error.starts_with("cannot open the database at postgres://solace:****@127.0.0.1:1/solace"),
        "{error}"
    );
    assert!(!error.contains("secret"));
}

/// Runs the real binary in an empty folder with only the given environment.
fn run_solace(args: &[&str], dir: &std::path::Path, env: &[(&str, &str)]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_solace"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

#[test]
fn the_binary_exits_non_zero_with_one_line_for_a_bad_database_url() {
    let dir = tempfile::tempdir().unwrap();

    let output = run_solace(
        &["serve"],
        dir.path(),
        &[("DATABASE_URL", "mysql://root@db/solace")],
    );

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("solace: invalid configuration: DATABASE_URL:"),
        "{stderr}"
    );
}

#[test]
fn the_binary_exits_non_zero_with_one_line_for_an_unreadable_env_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".env"), "PORT=\"never closed\n").unwrap();

    let output = run_solace(&[], dir.path(), &[]);

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("solace: invalid configuration: cannot read .env"),
        "{stderr}"
    );
}

#[test]
fn the_migrate_command_creates_the_sqlite_database_under_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("state");

    let output = run_solace(
        &["migrate"],
        dir.path(),
        &[("DATA_DIR", data_dir.to_str().unwrap())],
    );

    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(data_dir.join("solace.db").is_file());
}

#[tokio::test]
async fn a_missing_postgres_database_is_created_on_start() {
    if !crate::helpers::using_postgres() {
        // The SQLite counterpart is the migrate test above, which creates the file.
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("new/solace.db").display());
        let config = Config::from_vars([
            ("PORT".to_owned(), "0".to_owned()),
            ("METRICS_ADDR".to_owned(), "off".to_owned()),
            ("RTC_UDP_PORT".to_owned(), "0".to_owned()),
            ("RTC_TCP_PORT".to_owned(), "0".to_owned()),
            ("DATABASE_URL".to_owned(), url),
            (
                "DATA_DIR".to_owned(),
                dir.path().join("data").display().to_string(),
            ),
        ])
        .unwrap();
        assert!(Application::build(config).await.is_ok());
        assert!(dir.path().join("new/solace.db").is_file());
        return;
    }
    let admin = std::env::var("TEST_DATABASE_URL").unwrap();
    let mut url = url::Url::parse(&admin).unwrap();
    let name = format!("solace_test_{}", uuid::Uuid::new_v4().simple());
    url.set_path(&name);
    let data = tempfile::tempdir().unwrap();
    let config = Config::from_vars([
        ("PORT".to_owned(), "0".to_owned()),
        // Tests run side by side: no fixed metrics or audio port.
        ("METRICS_ADDR".to_owned(), "off".to_owned()),
        ("RTC_UDP_PORT".to_owned(), "0".to_owned()),
        ("RTC_TCP_PORT".to_owned(), "0".to_owned()),
        ("DATABASE_URL".to_owned(), url.to_string()),
        ("DATA_DIR".to_owned(), data.path().display().to_string()),
    ])
    .unwrap();

    let app = Application::build(config).await;

    assert!(app.is_ok(), "{:?}", app.err().map(|e| e.to_string()));
    let ready = app.unwrap().state().db.ping().await;
    assert!(ready.is_ok());
}

#[tokio::test]
async fn the_admin_command_grants_and_revokes_the_role() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}", dir.path().join("solace.db").display());
    let app = crate::helpers::spawn_app_with(&[("DATABASE_URL", &database_url)]).await;
    let user = app.browser().signup("ada@example.org").await;
    let env = [("DATABASE_URL", database_url.as_str())];

    let granted = run_solace(&["admin", "grant", "ADA@example.org"], dir.path(), &env);
    let role_after_grant = solace_backend::users::find(&app.state.db, user["id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap()
        .role;
    let revoked = run_solace(&["admin", "revoke", "ada@example.org"], dir.path(), &env);
    let unknown = run_solace(&["admin", "grant", "nobody@example.org"], dir.path(), &env);

    assert!(
        granted.status.success(),
        "{}",
        String::from_utf8_lossy(&granted.stderr)
    );
    assert_eq!(role_after_grant, solace_backend::users::Role::Admin);
    assert!(revoked.status.success());
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr)
        .contains("no account has the email nobody@example.org"));
}
