//! `solace smoke`: the deployment check, run against live servers — healthy ones pass
//! every check, a release missing its web app fails with a report that says so.

use std::time::Duration;

use solace_ai::testing::{Behaviour, FakeUpstream};
use solace_backend::smoke;

use crate::helpers::{spawn_app_with, TestApp};

/// A web app with the pages the smoke test opens.
fn site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for page in ["", "chat/", "rooms/"] {
        let folder = dir.path().join(page);
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(
            folder.join("index.html"),
            format!("<!doctype html><html><title>Solace {page}</title></html>"),
        )
        .unwrap();
    }
    dir
}

async fn check(app: &TestApp) -> smoke::Report {
    let url = url::Url::parse(&app.address).unwrap();
    smoke::run(&url, None, Duration::from_secs(10))
        .await
        .unwrap()
}

fn detail<'a>(report: &'a smoke::Report, name: &str) -> &'a smoke::Check {
    report
        .checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no check named {name}: {report:?}"))
}

#[tokio::test]
async fn a_healthy_deployment_with_a_model_passes_every_check_and_leaves_nothing_behind() {
    let upstream = FakeUpstream::start().await.unwrap();
    upstream.then(Behaviour::reply(
        "That sounds tiring. What helped you unwind?",
        Duration::from_millis(2),
    ));
    let site = site();
    let model = upstream.base_url();
    let static_dir = site.path().display().to_string();
    let app = spawn_app_with(&[
        ("LLM_BASE_URL", model.as_str()),
        ("LLM_MODEL", "fake"),
        ("STATIC_DIR", static_dir.as_str()),
    ])
    .await;

    let report = check(&app).await;

    assert!(report.passed(), "{}", report.render());
    let names: Vec<&str> = report.checks.iter().map(|c| c.name).collect();
    assert_eq!(
        names,
        [
            "liveness",
            "readiness",
            "web app",
            "security headers",
            "guest identity",
            "crisis path",
            "chat turn",
            "room",
            "clean-up"
        ]
    );
    assert!(detail(&report, "chat turn")
        .detail
        .contains("the model replied"));
    assert!(detail(&report, "crisis path")
        .detail
        .contains("crisis lines"));
    // The guest it made is gone, with its conversations and its room's seat.
    let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(users, 0);
}

#[tokio::test]
async fn without_a_model_the_crisis_path_is_checked_and_a_release_without_its_web_app_fails() {
    let site = site();
    let static_dir = site.path().display().to_string();
    let app = spawn_app_with(&[("STATIC_DIR", static_dir.as_str())]).await;
    let report = check(&app).await;
    assert!(report.passed(), "{}", report.render());
    assert!(detail(&report, "chat turn").detail.contains("no model"));

    // A release whose static export went missing: the probes still pass (the process is
    // up), the smoke test does not.
    let empty = tempfile::tempdir().unwrap();
    let broken_dir = empty.path().display().to_string();
    let broken = spawn_app_with(&[("STATIC_DIR", broken_dir.as_str())]).await;
    let report = check(&broken).await;
    assert!(!report.passed());
    assert!(detail(&report, "liveness").passed);
    let web = detail(&report, "web app");
    assert!(!web.passed);
    assert!(
        web.detail.contains("not the web app's page"),
        "{}",
        web.detail
    );
    assert!(report.render().contains("the deployment is not healthy"));

    // Nothing listening: every failure is reported, not a crash.
    let nowhere =
        url::Url::parse(&format!("http://127.0.0.1:{}", crate::helpers::free_port())).unwrap();
    let report = smoke::run(&nowhere, None, Duration::from_secs(2))
        .await
        .unwrap();
    assert!(!report.passed());
    assert!(detail(&report, "liveness").detail.contains("/healthz"));
}
