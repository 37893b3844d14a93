//! How many listeners the embedded SFU serves from one core.
//!
//! The server (HTTP, signalling and the SFU driver) runs on a single-threaded runtime on
//! its own thread, so everything it does is on one core and that thread's CPU time is
//! the SFU's cost. One synthetic speaker sends a 60-byte Opus-sized frame every 20 ms;
//! N listeners (str0m peers, like browsers) receive over loopback UDP. For each N the
//! benchmark reports delivery loss, the server thread's CPU and the process's memory.
//! Run with `make bench`; results go into docs/PERFORMANCE.md by hand.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use solace_backend::rooms::sfu::peer::Peer;
use solace_backend::{Application, Config};
use support::{guest, rss_mib, Person};

mod support;

const WARM_UP: Duration = Duration::from_secs(3);
const MEASURE: Duration = Duration::from_secs(5);

/// CPU seconds used by one thread (utime + stime from /proc, in clock ticks of 10 ms).
fn thread_cpu(tid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // After the ")" field 3 is index 0: utime is field 14, stime field 15.
    (ticks(11) + ticks(12)) / 100.0
}

impl Person {
    async fn post(&self, base: &str, path: &str, body: Value) -> Value {
        self.client
            .post(format!("{base}{path}"))
            .header("x-csrf-token", &self.csrf)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap_or(Value::Null)
    }

    async fn peer(&self, base: &str, room: &str) -> Peer {
        let grant = self
            .post(base, &format!("/api/rooms/{room}/signal-token"), json!({}))
            .await;
        let url = format!(
            "{}{}?token={}",
            base.replace("http://", "ws://"),
            grant["url"].as_str().unwrap(),
            grant["token"].as_str().unwrap()
        );
        Peer::connect(&url).await.unwrap()
    }
}

/// Pumps every peer for `period` at once, each on its own task.
async fn pump_all(peers: Vec<(Peer, bool)>, period: Duration) -> Vec<(Peer, bool)> {
    let tasks: Vec<_> = peers
        .into_iter()
        .map(|(mut peer, speak)| {
            tokio::spawn(async move {
                peer.pump(speak, period).await;
                (peer, speak)
            })
        })
        .collect();
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.unwrap());
    }
    out
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("bench.db").display());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let tid = std::fs::read_to_string("/proc/thread-self/stat")
            .ok()
            .and_then(|s| s.split_whitespace().next().map(str::to_owned))
            .unwrap_or_default();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let mut config = Config::from_vars(
                [
                    ("DATABASE_URL", database.as_str()),
                    ("RTC_UDP_PORT", "0"),
                    ("RTC_TCP_PORT", "off"),
                    ("RUST_LOG", "error"),
                ]
                .map(|(k, v)| (k.to_owned(), v.to_owned())),
            )
            .unwrap();
            config.port = 0;
            let app = Application::build(config).await.unwrap().without_worker();
            tx.send((app.port(), tid)).unwrap();
            let _ = app.run_until_stopped().await;
        });
    });
    let (port, server_tid) = rx.recv().unwrap();
    let base = format!("http://127.0.0.1:{port}");

    println!("## Embedded SFU: one speaker, N listeners, server on one core\n");
    println!("| listeners | frames expected | delivered | loss | server CPU (one core) | RSS after |\n|---|---|---|---|---|---|");
    let mut best = 0;
    for listeners in [10usize, 25, 50, 100, 150, 199] {
        let host = guest(&base).await;
        let room = host
            .post(
                &base,
                "/api/rooms",
                json!({ "title": "Bench", "capacity": 200 }),
            )
            .await;
        let room = room["id"].as_str().unwrap().to_owned();
        host.post(&base, &format!("/api/rooms/{room}/join"), json!({}))
            .await;
        host.post(
            &base,
            &format!("/api/rooms/{room}/mute"),
            json!({ "on": false }),
        )
        .await;
        let mut peers = vec![(host.peer(&base, &room).await, true)];
        let mut people = Vec::new();
        for _ in 0..listeners {
            let listener = guest(&base).await;
            listener
                .post(&base, &format!("/api/rooms/{room}/join"), json!({}))
                .await;
            peers.push((listener.peer(&base, &room).await, false));
            people.push(listener);
        }

        let peers = pump_all(peers, WARM_UP).await;
        let sent_before = peers[0].0.sent;
        let received_before: usize = peers[1..].iter().map(|(p, _)| p.received).sum();
        let cpu_before = thread_cpu(&server_tid);
        let started = Instant::now();
        let peers = pump_all(peers, MEASURE).await;
        let wall = started.elapsed().as_secs_f64();
        let cpu = (thread_cpu(&server_tid) - cpu_before) / wall;
        let sent = peers[0].0.sent - sent_before;
        let received: usize =
            peers[1..].iter().map(|(p, _)| p.received).sum::<usize>() - received_before;
        let expected = sent as usize * listeners;
        let loss = 1.0 - received as f64 / expected.max(1) as f64;
        println!(
            "| {listeners} | {expected} | {received} | {:.2} % | {:.0} % | {:.0} MiB |",
            loss.max(0.0) * 100.0,
            cpu * 100.0,
            rss_mib()
        );
        drop(peers);
        host.post(&base, &format!("/api/rooms/{room}/close"), json!({}))
            .await;
        if loss < 0.01 {
            best = listeners;
        } else {
            break;
        }
    }
    println!("\nMost listeners of one speaker with < 1 % loss: **{best}**");
}
