//! HTTPS's crypto backend, side by side: rustls on ring (what `solace serve` uses) and
//! rustls on aws-lc-rs (rustls's default, and what the embedded SFU's DTLS library
//! links), in the same run, on the same certificates.
//!
//! For each provider and each certificate key type (ECDSA P-256, the usual ACME
//! certificate; RSA-2048) it measures full TLS 1.3 handshakes (client and server in one
//! thread, in memory, so the figure is their combined CPU cost) and bulk transfer (the
//! server encrypting 16 KiB records and the client decrypting them). Single-threaded; run
//! with `make bench`; results go into docs/PERFORMANCE.md by hand.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{
    ClientConfig, ClientConnection, Connection, RootCertStore, ServerConfig, ServerConnection,
};

const HANDSHAKE_TIME: Duration = Duration::from_secs(3);
const BULK_BYTES: usize = 256 * 1024 * 1024;
const RECORD: usize = 16 * 1024;

struct Certificate {
    name: &'static str,
    chain: Vec<CertificateDer<'static>>,
    key: PrivatePkcs8KeyDer<'static>,
}

fn certificate(name: &'static str, algorithm: &'static rcgen::SignatureAlgorithm) -> Certificate {
    let key = rcgen::KeyPair::generate_for(algorithm).unwrap();
    assert!(
        key.is_compatible(algorithm),
        "{name}: the key is not {algorithm:?}"
    );
    let cert = rcgen::CertificateParams::new(vec!["solace.example.org".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    Certificate {
        name,
        chain: vec![cert.der().clone()],
        key: PrivatePkcs8KeyDer::from(key.serialize_der()),
    }
}

fn configs(
    provider: &CryptoProvider,
    cert: &Certificate,
) -> (Arc<ServerConfig>, Arc<ClientConfig>) {
    let provider = Arc::new(provider.clone());
    let server = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            cert.chain.clone(),
            PrivateKeyDer::Pkcs8(cert.key.clone_key()),
        )
        .unwrap();
    let mut roots = RootCertStore::empty();
    roots.add(cert.chain[0].clone()).unwrap();
    let client = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    (Arc::new(server), Arc::new(client))
}

/// Moves every TLS byte `from` has to send into `to`.
fn pump(from: &mut Connection, to: &mut Connection, buffer: &mut Vec<u8>) {
    buffer.clear();
    while from.wants_write() {
        from.write_tls(buffer).unwrap();
    }
    let mut unread = &buffer[..];
    while !unread.is_empty() {
        to.read_tls(&mut unread).unwrap();
        to.process_new_packets().unwrap();
    }
}

fn connect(server: &Arc<ServerConfig>, client: &Arc<ClientConfig>) -> (Connection, Connection) {
    let name = ServerName::try_from("solace.example.org").unwrap();
    let mut c = Connection::from(ClientConnection::new(client.clone(), name).unwrap());
    let mut s = Connection::from(ServerConnection::new(server.clone()).unwrap());
    let mut buffer = Vec::with_capacity(8192);
    while c.is_handshaking() || s.is_handshaking() {
        pump(&mut c, &mut s, &mut buffer);
        pump(&mut s, &mut c, &mut buffer);
    }
    (c, s)
}

/// Full handshakes per second (client and server together).
fn handshakes(server: &Arc<ServerConfig>, client: &Arc<ClientConfig>) -> f64 {
    for _ in 0..50 {
        connect(server, client);
    }
    let started = Instant::now();
    let mut done = 0u64;
    while started.elapsed() < HANDSHAKE_TIME {
        connect(server, client);
        done += 1;
    }
    done as f64 / started.elapsed().as_secs_f64()
}

/// MiB per second the server encrypts and the client decrypts.
fn bulk(server: &Arc<ServerConfig>, client: &Arc<ClientConfig>) -> (f64, &'static str) {
    let (mut c, mut s) = connect(server, client);
    let suite = match s.negotiated_cipher_suite().map(|s| s.suite()) {
        Some(rustls::CipherSuite::TLS13_AES_128_GCM_SHA256) => "AES-128-GCM",
        Some(rustls::CipherSuite::TLS13_AES_256_GCM_SHA384) => "AES-256-GCM",
        Some(rustls::CipherSuite::TLS13_CHACHA20_POLY1305_SHA256) => "ChaCha20-Poly1305",
        _ => "?",
    };
    let record = vec![7u8; RECORD];
    let mut sink = vec![0u8; RECORD * 4];
    let mut buffer = Vec::with_capacity(RECORD * 2);
    let started = Instant::now();
    let mut moved = 0usize;
    while moved < BULK_BYTES {
        s.writer().write_all(&record).unwrap();
        pump(&mut s, &mut c, &mut buffer);
        loop {
            match c.reader().read(&mut sink) {
                Ok(0) => break,
                Ok(n) => moved += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
        }
    }
    let mib = moved as f64 / (1024.0 * 1024.0);
    (mib / started.elapsed().as_secs_f64(), suite)
}

fn main() {
    let providers = [
        ("ring", rustls::crypto::ring::default_provider()),
        ("aws-lc-rs", rustls::crypto::aws_lc_rs::default_provider()),
    ];
    let certificates = [
        certificate("ECDSA P-256", &rcgen::PKCS_ECDSA_P256_SHA256),
        certificate("RSA-2048", &rcgen::PKCS_RSA_SHA256),
    ];
    println!("TLS 1.3, X25519, one thread, client + server in memory");
    for cert in &certificates {
        println!(
            "{}: private key {} bytes (PKCS#8)",
            cert.name,
            cert.key.secret_pkcs8_der().len()
        );
    }
    println!("| provider | certificate | handshakes/s | µs per handshake | bulk MiB/s | cipher |");
    println!("|---|---|---|---|---|---|");
    for cert in &certificates {
        for (name, provider) in &providers {
            let (server, client) = configs(provider, cert);
            let rate = handshakes(&server, &client);
            let (throughput, suite) = bulk(&server, &client);
            println!(
                "| {name} | {} | {rate:.0} | {:.0} | {throughput:.0} | {suite} |",
                cert.name,
                1e6 / rate
            );
        }
    }
}
