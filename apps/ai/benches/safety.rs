//! What the crisis detector costs per message: latency of `assess` (rules, learned layer,
//! conversation layer) on the held-out messages, and the memory the learned layer adds.
//! `make bench` runs it; the figures are recorded in docs/PERFORMANCE.md.
//!
//! Needs the encoders: `SAFETY_MULTILINGUAL_DIR=$(bash scripts/ensure-safety-model.sh
//! multilingual)` (the shipped head's) and `SAFETY_MODEL_DIR=$(bash
//! scripts/ensure-safety-model.sh)` (the BERT encoder, timed beside it for comparison).
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use solace_ai::safety::{eval, Detector};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// How long `f` takes on each text.
fn time_each<T>(texts: &[&str], f: impl Fn(&str) -> T) -> Vec<Duration> {
    texts
        .iter()
        .map(|t| {
            let start = Instant::now();
            std::hint::black_box(f(t));
            start.elapsed()
        })
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn report(name: &str, mut times: Vec<Duration>) {
    times.sort();
    println!(
        "{name:<44} n={:<4} p50 {:>6.2} ms  p95 {:>6.2} ms  p99 {:>6.2} ms  max {:>6.2} ms",
        times.len(),
        percentile(&times, 0.50).as_secs_f64() * 1e3,
        percentile(&times, 0.95).as_secs_f64() * 1e3,
        percentile(&times, 0.99).as_secs_f64() * 1e3,
        times.last().unwrap().as_secs_f64() * 1e3,
    );
}

fn main() {
    let Ok(model_dir) = std::env::var("SAFETY_MODEL_DIR") else {
        println!("SAFETY_MODEL_DIR is not set: run `bash scripts/ensure-safety-model.sh` first");
        return;
    };
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/safety/heldout-10.tsv");
    let rows = eval::parse(&std::fs::read_to_string(data).unwrap()).unwrap();
    let texts: Vec<&str> = rows.iter().map(|r| r.text.as_str()).collect();

    let before = rss_kib();
    let started = Instant::now();
    let dirs = solace_ai::safety::learned::EncoderDirs {
        bert: model_dir.into(),
        multilingual: std::env::var("SAFETY_MULTILINGUAL_DIR")
            .unwrap_or_default()
            .into(),
    };
    let detector = Detector::load_built_in(&dirs);
    let load = started.elapsed();
    let after = rss_kib();
    assert!(detector.status().learned, "{:?}", detector.status());
    println!(
        "learned layer: loaded in {:.0} ms, resident memory +{:.1} MiB",
        load.as_secs_f64() * 1e3,
        (after.saturating_sub(before)) as f64 / 1024.0
    );

    let rules = Detector::rules_only("bench");
    report(
        "rules only, one message",
        time_each(&texts, |t| rules.assess(t, &[])),
    );

    // Warm up the model's code paths on other text, so first-call costs are not counted.
    for i in 0..5 {
        detector.assess(&format!("warming up the detector, round {i}"), &[]);
    }
    report(
        "all layers, one message (each new)",
        time_each(&texts, |t| detector.assess(t, &[])),
    );

    // The conversation layer reads three earlier turns; they were scored when they were
    // sent, so their scores come from the detector's cache, as in a real conversation.
    // The new message is new text (a suffix keeps it out of the cache).
    let times = texts
        .windows(4)
        .map(|w| {
            let earlier = &w[..3];
            let message = format!("{} (again)", w[3]);
            let start = Instant::now();
            std::hint::black_box(detector.assess(&message, earlier));
            start.elapsed()
        })
        .collect();
    report("all layers, after three earlier turns", times);
    println!(
        "resident memory at the end: {:.1} MiB",
        rss_kib() as f64 / 1024.0
    );

    // The two encoders alone, side by side on the same messages (the BERT one is the
    // comparison: heads trained with `--encoders bert` read it).
    let before = rss_kib();
    let bert = solace_ai::safety::learned::Embedder::load(&dirs.bert).expect("the BERT encoder");
    println!(
        "BERT encoder (all-MiniLM-L6-v2): resident memory +{:.1} MiB",
        (rss_kib().saturating_sub(before)) as f64 / 1024.0
    );
    let multilingual = solace_ai::safety::multilingual::Multilingual::load(&dirs.multilingual)
        .expect("the multilingual encoder");
    for text in texts.iter().take(5) {
        bert.embed(&[text]).unwrap();
        multilingual.embed(&[text]).unwrap();
    }
    report(
        "encoder alone: USE multilingual v3",
        time_each(&texts, |t| multilingual.embed(&[t]).unwrap()),
    );
    report(
        "encoder alone: all-MiniLM-L6-v2 (BERT)",
        time_each(&texts, |t| bert.embed(&[t]).unwrap()),
    );
}
