//! The voice round trip on this machine: from the end of the person's speech to the
//! first byte of the spoken reply.
//!
//! The turn goes the way the web app's server fallback sends it: the recording to
//! `POST /api/ai/transcribe` (a fake OpenAI-compatible transcription server answers at
//! once), the transcript to `POST /api/ai/message` with `"speak": true` (the fake model
//! streams 50 tokens/s), and the first `audio` event's clip fetched until its first
//! byte — synthesized for real by espeak-ng through the job queue. Each stage is timed.
//! In-browser Whisper replaces the first stage in the default setup; its time is in
//! docs/PERFORMANCE.md from the browser tests. Run with `make bench`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{json, Value};
use solace_ai::testing::{tone_wav, FakeUpstream};
use support::{guest, rss_mib, start_server, Person};

mod support;

const TOKEN_GAP: Duration = Duration::from_millis(20);
const SAMPLES: usize = 30;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

/// A stage's name and how to read it off a turn.
type Stage = (&'static str, fn(&Turn) -> Duration);

struct Turn {
    transcribed: Duration,
    first_audio_event: Duration,
    first_audio_byte: Duration,
}

async fn turn(person: &Person, base: &str, recording: &[u8]) -> Turn {
    let started = Instant::now();
    let transcript: Value = person
        .client
        .post(format!("{base}/api/ai/transcribe?language=en"))
        .header("x-csrf-token", &person.csrf)
        .header("content-type", "audio/wav")
        .body(recording.to_vec())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let transcribed = started.elapsed();
    let response = person
        .client
        .post(format!("{base}/api/ai/message"))
        .header("x-csrf-token", &person.csrf)
        .json(&json!({ "content": transcript["text"], "speak": true }))
        .send()
        .await
        .unwrap();
    let mut body = response.bytes_stream();
    let mut seen = String::new();
    let url = loop {
        seen.push_str(&String::from_utf8_lossy(
            &body.next().await.unwrap().unwrap(),
        ));
        if let Some(at) = seen.find("event: audio\ndata: ") {
            let line = seen[at + 19..]
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned();
            if let Ok(event) = serde_json::from_str::<Value>(&line) {
                break event["url"].as_str().unwrap().to_owned();
            }
        }
    };
    let first_audio_event = started.elapsed();
    let clip = person
        .client
        .get(format!("{base}{url}"))
        .send()
        .await
        .unwrap();
    assert!(clip.status().is_success(), "{}", clip.status());
    let mut audio = clip.bytes_stream();
    audio.next().await.unwrap().unwrap();
    let first_audio_byte = started.elapsed();
    // Let the reply finish so turns do not overlap.
    while body.next().await.is_some() {}
    Turn {
        transcribed,
        first_audio_event,
        first_audio_byte,
    }
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
            ("STT_BASE_URL", base_url.as_str()),
            ("TTS_PROVIDER", "espeak-ng"),
        ],
    )
    .await;
    let person = guest(&base).await;
    // Three seconds of audio, as a short spoken sentence would be.
    let recording = tone_wav(3_000);

    for _ in 0..3 {
        turn(&person, &base, &recording).await;
    }
    let mut turns = Vec::new();
    for _ in 0..SAMPLES {
        turns.push(turn(&person, &base, &recording).await);
    }
    let column = |f: fn(&Turn) -> Duration| {
        let mut values: Vec<Duration> = turns.iter().map(f).collect();
        values.sort();
        (percentile(&values, 0.5), percentile(&values, 0.95))
    };
    let stages: [Stage; 3] = [
        ("transcript back (server fallback, fake STT)", |t| {
            t.transcribed
        }),
        ("first `audio` event (first sentence queued)", |t| {
            t.first_audio_event
        }),
        ("**first byte of reply audio (espeak-ng)**", |t| {
            t.first_audio_byte
        }),
    ];
    println!("## Voice round trip, {SAMPLES} sequential turns (from the end of speech)\n");
    println!("| stage, time since the end of speech | p50 | p95 |\n|---|---|---|");
    for (name, f) in stages {
        let (p50, p95) = column(f);
        println!("| {name} | {} | {} |", ms(p50), ms(p95));
    }
    println!(
        "\nResident memory of the benchmark process (server + client): {:.0} MiB",
        rss_mib()
    );
}
