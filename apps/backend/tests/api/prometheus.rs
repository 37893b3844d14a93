//! A real Prometheus (Debian's `prometheus`) scrapes a running server with the shipped
//! configuration and alert rules (`infra/observability/`): the target is up, the series
//! arrive, every rule evaluates without error against real data, the alert for a
//! detector on rules only fires, and every metric the alerts and the dashboard name is
//! one the server exposes.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::{free_port, spawn_app_with, TestApp};

fn observability_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../infra/observability")
}

/// Prometheus on a port of its own, stopped when dropped.
struct OwnPrometheus {
    child: Child,
    base: String,
    _data: tempfile::TempDir,
}

impl Drop for OwnPrometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl OwnPrometheus {
    /// The shipped `prometheus.yml`, pointed at `target` and made quick (1 s scrapes and
    /// evaluations). `None` where Prometheus is not installed (outside CI only).
    fn start(target: &str) -> Option<Self> {
        let shipped = std::fs::read_to_string(observability_dir().join("prometheus.yml"))
            .expect("infra/observability/prometheus.yml");
        let rules = observability_dir().join("alerts.yml");
        let config = shipped
            .replace("15s", "1s")
            .replace("backend:9464", target)
            .replace("- alerts.yml", &format!("- {}", rules.display()));
        assert!(
            config.contains(target),
            "the scrape target moved: {shipped}"
        );
        let data = tempfile::tempdir().unwrap();
        let config_file = data.path().join("prometheus.yml");
        std::fs::write(&config_file, config).unwrap();
        let port = free_port();
        let spawned = Command::new("prometheus")
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                data.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(e) if std::env::var("CI").as_deref() != Ok("true") => {
                eprintln!("SKIPPED: prometheus cannot run here ({e}); apt-get install prometheus");
                return None;
            }
            Err(e) => panic!("prometheus is needed by this test: {e}"),
        };
        Some(Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            _data: data,
        })
    }

    /// Asks the HTTP API until `ready` accepts its `data`, or 30 seconds pass.
    async fn wait_for(
        &self,
        client: &reqwest::Client,
        path: &str,
        ready: impl Fn(&Value) -> bool,
    ) -> Value {
        let started = Instant::now();
        let mut last = Value::Null;
        while started.elapsed() < Duration::from_secs(30) {
            if let Ok(response) = client.get(format!("{}{path}", self.base)).send().await {
                if let Ok(body) = response.json::<Value>().await {
                    if ready(&body["data"]) {
                        return body["data"].clone();
                    }
                    last = body;
                }
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!("Prometheus never answered {path} as expected; last: {last}");
    }
}

/// `solace_…` metric names in a file (PromQL in YAML or JSON).
fn names_in(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("solace_") {
        let name: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        rest = &rest[at + name.len()..];
        names.insert(name);
    }
    names
}

/// The metric families the server declares, and the sample names each one yields.
fn exposed(app_metrics: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in app_metrics.lines() {
        let Some(rest) = line.strip_prefix("# TYPE ") else {
            continue;
        };
        let mut parts = rest.split(' ');
        let (Some(name), Some(kind)) = (parts.next(), parts.next()) else {
            continue;
        };
        let suffixes: &[&str] = match kind {
            "counter" => &["_total"],
            "histogram" => &["_bucket", "_count", "_sum"],
            _ => &[""],
        };
        for suffix in suffixes {
            names.insert(format!("{name}{suffix}"));
        }
    }
    names
}

async fn spawn_rules_only_app() -> TestApp {
    spawn_app_with(&[
        ("SAFETY_MODEL_DIR", "/nonexistent"),
        ("SAFETY_MULTILINGUAL_DIR", "/nonexistent"),
    ])
    .await
}

#[tokio::test]
async fn a_real_prometheus_scrapes_the_server_and_evaluates_every_shipped_rule() {
    let app = spawn_rules_only_app().await;
    let target = app
        .metrics_address
        .as_deref()
        .unwrap()
        .trim_start_matches("http://")
        .to_owned();
    let Some(prometheus) = OwnPrometheus::start(&target) else {
        return;
    };
    app.get("/healthz").await;
    let client = &app.client;

    let up = prometheus
        .wait_for(
            client,
            "/api/v1/query?query=up%7Bjob%3D%22solace%22%7D",
            |d| d["result"][0]["value"][1] == "1",
        )
        .await;
    let build = prometheus
        .wait_for(client, "/api/v1/query?query=solace_build_info", |d| {
            d["result"][0]["value"][1] == "1"
        })
        .await;
    let requests = prometheus
        .wait_for(
            client,
            "/api/v1/query?query=solace_http_requests_total%7Broute%3D%22%2Fhealthz%22%7D",
            |d| d["result"][0]["value"][1] == "1",
        )
        .await;
    // Every group evaluated at least once, and no rule failed on real data.
    let rules = prometheus
        .wait_for(client, "/api/v1/rules", |d| {
            d["groups"].as_array().is_some_and(|groups| {
                !groups.is_empty()
                    && groups.iter().all(|g| {
                        g["rules"].as_array().is_some_and(|rules| {
                            rules
                                .iter()
                                .all(|r| r["lastEvaluation"] != "0001-01-01T00:00:00Z")
                        })
                    })
            })
        })
        .await;
    // The detector here has no learned layer: the page is on its way (`for: 5m`).
    let alerts = prometheus
        .wait_for(client, "/api/v1/alerts", |d| {
            d["alerts"].as_array().is_some_and(|a| {
                a.iter()
                    .any(|a| a["labels"]["alertname"] == "SolaceSafetyRulesOnly")
            })
        })
        .await;

    assert_eq!(up["result"][0]["metric"]["instance"], target.as_str());
    assert_eq!(
        build["result"][0]["metric"]["version"],
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(requests["result"][0]["metric"]["status"], "200");
    let evaluated: Vec<(&str, &str)> = rules["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap())
        .map(|r| (r["name"].as_str().unwrap(), r["health"].as_str().unwrap()))
        .collect();
    assert_eq!(evaluated.len(), 10, "{evaluated:?}");
    assert!(
        evaluated.iter().all(|(_, health)| *health == "ok"),
        "{evaluated:?}"
    );
    let firing: Vec<&Value> = alerts["alerts"].as_array().unwrap().iter().collect();
    assert_eq!(firing.len(), 1, "only the rules-only alert: {firing:?}");
    assert_eq!(firing[0]["state"], "pending");
    assert_eq!(firing[0]["labels"]["severity"], "page");
}

#[tokio::test]
async fn every_metric_the_alerts_and_the_dashboard_use_is_exposed() {
    let app = spawn_rules_only_app().await;
    // Request counts appear with their first request.
    app.get("/healthz").await;
    let exposition = app.scrape().await.0;
    let exposed = exposed(&exposition);
    let dir = observability_dir();

    for file in ["alerts.yml", "alerts.test.yml", "grafana/solace.json"] {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let used = names_in(&text);
        assert!(!used.is_empty(), "{file} names no metric");
        let unknown: Vec<&String> = used.difference(&exposed).collect();
        assert!(
            unknown.is_empty(),
            "{file} uses metrics the server does not expose: {unknown:?}"
        );
    }
    // Prometheus' own linter: names, units, help texts.
    match Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(mut promtool) => {
            use std::io::Write;
            promtool
                .stdin
                .take()
                .unwrap()
                .write_all(exposition.as_bytes())
                .unwrap();
            let out = promtool.wait_with_output().unwrap();
            let report = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            // promtool reads the classic text format, where a counter's help is on its
            // `_total` name; OpenMetrics puts it on the family (`# HELP x` for
            // `x_total`). Those lines are that difference, checked here; any other
            // finding fails the test.
            let problems: Vec<&str> = report
                .lines()
                .filter(|line| {
                    let family = line
                        .strip_suffix("_total no help text")
                        .map(|name| format!("# HELP {name} "));
                    !family.is_some_and(|help| exposition.contains(&help))
                })
                .collect();
            assert!(problems.is_empty(), "promtool check metrics: {report}");
        }
        Err(e) => assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "promtool is needed by this test: {e}"
        ),
    }
    let dashboard: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("grafana/solace.json")).unwrap())
            .unwrap();
    let panels = dashboard["panels"].as_array().unwrap();
    assert!(panels.len() > 10);
    let mut ids = BTreeSet::new();
    for panel in panels {
        assert!(ids.insert(panel["id"].as_i64().unwrap()), "ids are unique");
        if panel["type"] != "row" {
            assert!(
                !panel["targets"].as_array().unwrap().is_empty(),
                "{} has no query",
                panel["title"]
            );
        }
    }
}
