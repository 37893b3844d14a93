//! How much the chat streaming proxy adds, and how many replies it carries at once.
//!
//! A fake OpenAI-compatible server streams every reply at a fixed rate. The benchmark
//! measures time-to-first-token (TTFT) asking that server directly and through
//! `POST /api/ai/message` (which authenticates, stores the message, runs the safety
//! layer, builds the prompt and relays the stream), then opens more and more streams
//! at once until they no longer all finish cleanly or quickly. Run with `make bench`;
//! the results go into docs/PERFORMANCE.md by hand.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::json;
use solace_ai::testing::FakeUpstream;
use support::{guest, rss_mib, start_server, Person};

mod support;

/// The fake model: this many pieces, this far apart (50 tokens/s, a typical hosted rate).
const TOKEN_GAP: Duration = Duration::from_millis(20);
const SAMPLES: usize = 200;
/// A level passes when every stream finishes and added TTFT p99 stays under this.
const ADDED_P99_BUDGET: Duration = Duration::from_millis(250);

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Time until the first piece of text, asking the fake model directly.
async fn direct_ttft(client: &reqwest::Client, upstream: &FakeUpstream) -> Duration {
    let started = Instant::now();
    let response = client
        .post(format!("{}/chat/completions", upstream.base_url()))
        .json(&json!({ "model": "m", "stream": true, "messages": [{ "role": "user", "content": "hello there" }] }))
        .send()
        .await
        .unwrap();
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        if String::from_utf8_lossy(&chunk.unwrap()).contains("\"content\"") {
            return started.elapsed();
        }
    }
    panic!("the fake model sent no text");
}

/// Time until the first `token` event through Solace, then reads the reply to its end.
/// `None` when the reply failed.
async fn solace_turn(client: &reqwest::Client, base: &str, csrf: &str) -> Option<Duration> {
    let started = Instant::now();
    let response = client
        .post(format!("{base}/api/ai/message"))
        .header("x-csrf-token", csrf)
        .json(&json!({ "content": "hello there" }))
        .send()
        .await
        .ok()?;
    if !response.status().is_success() {
        return None;
    }
    let mut body = response.bytes_stream();
    let mut first = None;
    let mut seen = String::new();
    while let Some(chunk) = body.next().await {
        seen.push_str(&String::from_utf8_lossy(&chunk.ok()?));
        if first.is_none() && seen.contains("event: token") {
            first = Some(started.elapsed());
        }
    }
    (seen.contains("event: done")).then_some(first?)
}

#[tokio::main]
async fn main() {
    let upstream = FakeUpstream::start().await.unwrap();
    upstream.set_default_delay(TOKEN_GAP);
    let dir = tempfile::tempdir().unwrap();
    let base_url = upstream.base_url();
    let base = start_server(
        dir.path(),
        &[
            ("LLM_BASE_URL", base_url.as_str()),
            ("LLM_MODEL", "bench"),
            ("DATABASE_MAX_CONNECTIONS", "16"),
        ],
    )
    .await;

    let Person {
        client,
        csrf: token,
    } = guest(&base).await;

    // Warm up both paths.
    for _ in 0..10 {
        direct_ttft(&client, &upstream).await;
        solace_turn(&client, &base, &token).await.unwrap();
    }

    let mut direct = Vec::new();
    let mut proxied = Vec::new();
    for _ in 0..SAMPLES {
        direct.push(direct_ttft(&client, &upstream).await);
        proxied.push(solace_turn(&client, &base, &token).await.unwrap());
    }
    direct.sort();
    proxied.sort();
    let added = |p| percentile(&proxied, p).saturating_sub(percentile(&direct, p));
    println!("## Time to first token, {SAMPLES} sequential replies\n");
    println!("| | p50 | p99 |\n|---|---|---|");
    println!(
        "| fake model directly | {} | {} |",
        ms(percentile(&direct, 0.5)),
        ms(percentile(&direct, 0.99))
    );
    println!(
        "| through Solace | {} | {} |",
        ms(percentile(&proxied, 0.5)),
        ms(percentile(&proxied, 0.99))
    );
    println!(
        "| **added by Solace** | **{}** | **{}** |\n",
        ms(added(0.5)),
        ms(added(0.99))
    );

    println!(
        "## Concurrent streams (each reply: ~22 pieces, {} apart)\n",
        ms(TOKEN_GAP)
    );
    println!("| streams at once | finished | TTFT p50 | TTFT p99 | wall time | RSS after |\n|---|---|---|---|---|---|");
    let direct_p99 = percentile(&direct, 0.99);
    let (mut within_budget, mut all_finished, mut budget_held) = (0, 0, true);
    for level in [50usize, 100, 200, 400, 800, 1600, 3200] {
        let started = Instant::now();
        let turns =
            futures_util::future::join_all((0..level).map(|_| solace_turn(&client, &base, &token)))
                .await;
        let wall = started.elapsed();
        let mut ok: Vec<Duration> = turns.into_iter().flatten().collect();
        ok.sort();
        let finished = ok.len();
        let (p50, p99) = if ok.is_empty() {
            (Duration::ZERO, Duration::ZERO)
        } else {
            (percentile(&ok, 0.5), percentile(&ok, 0.99))
        };
        println!(
            "| {level} | {finished}/{level} | {} | {} | {:.2} s | {:.0} MiB |",
            ms(p50),
            ms(p99),
            wall.as_secs_f64(),
            rss_mib()
        );
        if finished < level {
            break;
        }
        all_finished = level;
        budget_held &= p99.saturating_sub(direct_p99) <= ADDED_P99_BUDGET;
        if budget_held {
            within_budget = level;
        }
    }
    println!(
        "\nMost streams at once with every reply finished: **{all_finished}**; \
         with added TTFT p99 ≤ {} as well: **{within_budget}**",
        ms(ADDED_P99_BUDGET)
    );
}
