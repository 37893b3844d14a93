//! Encryption at rest, side by side: AES-256-GCM from aws-lc-rs (what the vault uses;
//! already linked for HTTPS), ring, and RustCrypto's `aes-gcm`, in the same run, on the
//! sizes Solace seals — a chat message (300 bytes), a memory vector (512 f32s, 2 KiB) and
//! a spoken sentence's audio (48 KiB) — then the vault's own path (seal a message as
//! text, open it through the key cache), and opening a 10,000-item memory block (what a
//! cold recall pays once per person). Single-threaded; run with `make bench`; results
//! go into docs/PERFORMANCE.md by hand.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use solace_backend::config::DatabaseUrl;
use solace_backend::db::Db;
use solace_backend::vault::{Keyring, Slot, Vault};

const TIME: Duration = Duration::from_secs(2);
const SIZES: [(&str, usize); 3] = [
    ("message 300 B", 300),
    ("vector 2 KiB", 2048),
    ("audio 48 KiB", 48 * 1024),
];

/// Seal then open `plain` in a loop for `TIME`; returns the mean nanoseconds per pair.
fn measure(mut round_trip: impl FnMut(u64)) -> f64 {
    let mut n = 0u64;
    let started = Instant::now();
    while started.elapsed() < TIME {
        for _ in 0..64 {
            round_trip(n);
            n += 1;
        }
    }
    started.elapsed().as_nanos() as f64 / n as f64
}

fn nonce(n: u64) -> [u8; 12] {
    let mut nonce = [0u8; 12];
    nonce[4..].copy_from_slice(&n.to_le_bytes());
    nonce
}

/// The same round trip on ring and on aws-lc-rs, whose `aead` modules share one API.
macro_rules! ring_like {
    ($name:ident, $krate:ident) => {
        fn $name(plain: &[u8]) -> f64 {
            use $krate::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
            let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[7u8; 32]).unwrap());
            measure(|n| {
                let mut buf = plain.to_vec();
                key.seal_in_place_append_tag(
                    Nonce::assume_unique_for_key(nonce(n)),
                    Aad::from(b"slot"),
                    &mut buf,
                )
                .unwrap();
                let opened = key
                    .open_in_place(
                        Nonce::assume_unique_for_key(nonce(n)),
                        Aad::from(b"slot"),
                        &mut buf,
                    )
                    .unwrap();
                black_box(opened.len());
            })
        }
    };
}

ring_like!(aws_lc_gcm, aws_lc_rs);
ring_like!(ring_gcm, ring);

fn rust_crypto(plain: &[u8]) -> f64 {
    use aes_gcm::aead::{Aead, KeyInit, Payload};
    use aes_gcm::{Aes256Gcm, Nonce};
    let cipher = Aes256Gcm::new_from_slice(&[7u8; 32]).unwrap();
    measure(|n| {
        let nonce_bytes = nonce(n);
        let nonce = Nonce::from_slice(&nonce_bytes);
        let sealed = cipher
            .encrypt(
                nonce,
                Payload {
                    msg: plain,
                    aad: b"slot",
                },
            )
            .unwrap();
        let opened = cipher
            .decrypt(
                nonce,
                Payload {
                    msg: &sealed,
                    aad: b"slot",
                },
            )
            .unwrap();
        black_box(opened.len());
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    println!("AES-256-GCM, seal + open, mean per pair (lower is better)");
    println!(
        "{:<16} {:>12} {:>12} {:>12}",
        "size", "aws-lc-rs", "ring", "aes-gcm"
    );
    for (name, size) in SIZES {
        let plain: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        let (a, r, c) = (aws_lc_gcm(&plain), ring_gcm(&plain), rust_crypto(&plain));
        println!(
            "{name:<16} {:>10.0}ns {:>10.0}ns {:>10.0}ns   ({:.2} / {:.2} / {:.2} GB/s)",
            a,
            r,
            c,
            2.0 * size as f64 / a,
            2.0 * size as f64 / r,
            2.0 * size as f64 / c
        );
    }

    // The vault itself: a key store in a temporary SQLite file, a fresh key file.
    let dir = tempfile::tempdir().unwrap();
    let store = Db::connect(
        &DatabaseUrl::parse(&format!(
            "sqlite://{}",
            dir.path().join("keys.db").display()
        ))
        .unwrap(),
        2,
    )
    .await
    .unwrap();
    let keyring = Keyring::open(&dir.path().join("master.keys"), true).unwrap();
    let vault = Vault::open(Arc::new(keyring), store.clone(), &store)
        .await
        .unwrap();
    let message =
        "I keep thinking about what my sister said at dinner, and I could not sleep. ".repeat(4);
    let sealer = vault.sealer("person-1").await.unwrap();
    let slot = Slot::new("messages.content", "0190f3a0-0000-7000-8000-000000000001");
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < TIME {
        let sealed = sealer.seal_text(slot, &message).unwrap();
        let opened = vault.open_text(slot, sealed).await.unwrap();
        black_box(opened.len());
        n += 1;
    }
    println!(
        "\nvault, a {}-byte message sealed to text and opened through the key cache: {:.1} µs per pair",
        message.len(),
        started.elapsed().as_secs_f64() * 1e6 / n as f64
    );
    let fresh = Instant::now();
    let mut owners = 0;
    while fresh.elapsed() < TIME {
        black_box(vault.sealer(&format!("new-person-{owners}")).await.unwrap());
        owners += 1;
    }
    println!(
        "vault, a person's first data key (made, wrapped, stored in SQLite): {:.0} µs",
        fresh.elapsed().as_secs_f64() * 1e6 / f64::from(owners)
    );

    let vector: Vec<u8> = (0..2048).map(|i| (i % 251) as u8).collect();
    let block: Vec<(String, Vec<u8>)> = (0..10_000)
        .map(|i| {
            let id = format!("item-{i}");
            let sealed = sealer
                .seal_bytes(Slot::new("memory_items.vector", &id), &vector)
                .unwrap();
            (id, sealed)
        })
        .collect();
    let started = Instant::now();
    for (id, sealed) in &block {
        let opened = vault
            .open_bytes(Slot::new("memory_items.vector", id), sealed.clone())
            .await
            .unwrap();
        black_box(opened.len());
    }
    println!(
        "vault, opening a 10,000-item memory block (512-dim vectors): {:.1} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
}
