//! What memory costs a reply, and what remembering costs the worker.
//!
//! 1. **Recall** for a person with 10,000 remembered items, on SQLite and (when
//!    `BENCH_DATABASE_URL` or `TEST_DATABASE_URL` names a PostgreSQL server) PostgreSQL:
//!    the person's choices, then the exact search over their vectors and reading back
//!    the items found — everything `Memory::recall` does once the message's vector is
//!    there (the safety layer computes it). Cold (the person's vectors read from the
//!    database) and warm (held in this process).
//! 2. **The encoder**, when `SAFETY_MULTILINGUAL_DIR` holds it: embedding one stored turn
//!    (the background job's work), and what the second, published-weights vector adds to
//!    the safety layer's reading of a message.
//!
//! Run with `make bench`; results go into docs/PERFORMANCE.md by hand.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::{Duration, Instant};

use solace_backend::config::DatabaseUrl;
use solace_backend::db::{new_id, now_ms, Db};
use solace_backend::memory::store::{DbVectors, NewItem, VectorStore};

const ITEMS: usize = 10_000;
const DIM: usize = 512;
const QUERIES: usize = 300;
const MODEL: &str = "bench-model";

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// A reproducible pseudo-random unit vector (xorshift), so runs compare.
fn vector(seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut v: Vec<f32> = (0..DIM)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % 2001) as f32 / 1000.0 - 1.0
        })
        .collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= norm);
    v
}

/// One person with `ITEMS` remembered items (and the messages they came from).
async fn person_with_memory(db: &Db) -> String {
    let owner = new_id();
    let session = new_id();
    let now = now_ms();
    sqlx::query(
        "INSERT INTO users (id, kind, pseudonym, role, created_at, updated_at) \
         VALUES ($1, 'guest', 'Bench Otter', 'user', $2, $2)",
    )
    .bind(owner.clone())
    .bind(now)
    .execute(db.pool())
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO chat_sessions (id, owner_id, title, created_at, updated_at) \
         VALUES ($1, $2, 'Bench', $3, $3)",
    )
    .bind(session.clone())
    .bind(owner.clone())
    .bind(now)
    .execute(db.pool())
    .await
    .unwrap();
    let store = DbVectors::new(db.clone(), 1 << 30);
    for chunk in (0..ITEMS).collect::<Vec<_>>().chunks(500) {
        let mut tx = db.pool().begin().await.unwrap();
        let mut items = Vec::new();
        for &i in chunk {
            let message = new_id();
            sqlx::query(
                "INSERT INTO messages (id, session_id, owner_id, role, content, status, created_at, updated_at) \
                 VALUES ($1, $2, $3, 'user', $4, 'complete', $5, $5)",
            )
            .bind(message.clone())
            .bind(session.clone())
            .bind(owner.clone())
            .bind(format!("remembered turn number {i}, about an ordinary day"))
            .bind(now + i as i64)
            .execute(&mut *tx)
            .await
            .unwrap();
            items.push(NewItem {
                owner_id: owner.clone(),
                session_id: session.clone(),
                message_id: message,
                piece: 0,
                role: "user",
                text: format!("remembered turn number {i}, about an ordinary day"),
                vector: vector(i as u64),
                said_at: now + i as i64,
            });
        }
        tx.commit().await.unwrap();
        store.put(MODEL, &items).await.unwrap();
    }
    owner
}

async fn recall_on(name: &str, url: &str) {
    let db = Db::connect(&DatabaseUrl::parse(url).unwrap(), 4)
        .await
        .unwrap();
    db.migrate().await.unwrap();
    // Sealed as in the app (the key store in the same database, for the bench).
    let keys = tempfile::tempdir().unwrap();
    let keyring =
        solace_backend::vault::Keyring::open(&keys.path().join("master.keys"), true).unwrap();
    let vault = solace_backend::vault::Vault::open(std::sync::Arc::new(keyring), db.clone(), &db)
        .await
        .unwrap();
    let db = db.with_vault(std::sync::Arc::new(vault));
    let started = Instant::now();
    let owner = person_with_memory(&db).await;
    let filled = started.elapsed();
    let store = DbVectors::new(db.clone(), 1 << 30);
    let recall = |seed: u64| {
        let (db, store, owner) = (&db, &store, &owner);
        async move {
            let started = Instant::now();
            let choices = solace_backend::memory::choices(db, owner).await.unwrap();
            assert!(!choices.paused);
            let hits = store
                .search(owner, MODEL, &vector(seed), 5, -1.0)
                .await
                .unwrap();
            assert_eq!(hits.len(), 5);
            started.elapsed()
        }
    };
    let cold = recall(1_000_000).await;
    let mut warm = Vec::with_capacity(QUERIES);
    for q in 0..QUERIES {
        warm.push(recall(2_000_000 + q as u64).await);
    }
    warm.sort();
    println!(
        "{name}: {ITEMS} items of {DIM} dimensions for one person (stored in {:.1} s); \
         recall cold {} (vectors read from the database), warm p50 {} p99 {} max {}",
        filled.as_secs_f64(),
        ms(cold),
        ms(percentile(&warm, 0.5)),
        ms(percentile(&warm, 0.99)),
        ms(*warm.last().unwrap()),
    );
    db.close().await;
}

fn encoder() {
    let Ok(dir) = std::env::var("SAFETY_MULTILINGUAL_DIR") else {
        println!("encoder: SAFETY_MULTILINGUAL_DIR is not set; skipped");
        return;
    };
    let encoder = solace_ai::safety::multilingual::Multilingual::load(dir.as_ref()).unwrap();
    let scenarios = solace_ai::memory::eval::read(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../ai/data/memory/scenarios-dev.jsonl"),
    )
    .unwrap();
    let turns: Vec<String> = scenarios
        .iter()
        .flat_map(|s| s.earlier.iter().map(|t| t.text.clone()))
        .collect();
    let time = |f: &dyn Fn(&str)| -> Vec<Duration> {
        let mut times: Vec<Duration> = turns
            .iter()
            .map(|t| {
                let started = Instant::now();
                f(t);
                started.elapsed()
            })
            .collect();
        times.sort();
        times
    };
    let once = time(&|t| {
        encoder.embed(&[t]).unwrap();
    });
    let twice = time(&|t| {
        encoder.embed_twice(t).unwrap();
    });
    let chunked = time(&|t| {
        let pieces = solace_ai::memory::chunks(t);
        encoder.embed_plain(&pieces).unwrap();
    });
    println!(
        "encoder over {} stored turns (mean {} characters): one vector p50 {} p99 {}; \
         the safety reading with the retrieval vector too p50 {} p99 {}; \
         the memory job's embedding of a turn p50 {} p99 {}",
        turns.len(),
        turns.iter().map(|t| t.chars().count()).sum::<usize>() / turns.len().max(1),
        ms(percentile(&once, 0.5)),
        ms(percentile(&once, 0.99)),
        ms(percentile(&twice, 0.5)),
        ms(percentile(&twice, 0.99)),
        ms(percentile(&chunked, 0.5)),
        ms(percentile(&chunked, 0.99)),
    );
}

#[tokio::main]
async fn main() {
    solace_backend::tls::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}", dir.path().join("bench.db").display());
    recall_on("SQLite", &sqlite).await;
    let postgres = std::env::var("BENCH_DATABASE_URL")
        .or_else(|_| std::env::var("TEST_DATABASE_URL"))
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/solace_bench_memory".into());
    recall_on("PostgreSQL", &postgres).await;
    encoder();
}
