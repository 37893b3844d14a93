//! `solace model pull` against a fake Hugging Face hub on loopback.

use std::net::SocketAddr;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use axum::Router;
use sha2::{Digest, Sha256};

const MODEL: &[u8] = b"GGUF pretend model bytes, long enough to be a file";

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A hub that answers like huggingface.co: a redirect carrying the LFS checksum, then
/// the bytes from a "CDN" path. `etag` is what it claims the checksum is.
async fn fake_hub(etag: String) -> SocketAddr {
    let app = Router::new()
        .route(
            "/owner/repo/resolve/main/tiny.gguf",
            get(move || {
                let etag = etag.clone();
                async move {
                    let mut response = Redirect::temporary("/cdn/blob").into_response();
                    response.headers_mut().insert(
                        "x-linked-etag",
                        HeaderValue::from_str(&format!("\"{etag}\"")).unwrap(),
                    );
                    response
                }
            }),
        )
        .route(
            "/cdn/blob",
            get(|| async { ([(header::CONTENT_TYPE, "application/octet-stream")], MODEL) }),
        )
        .route(
            "/owner/gated/resolve/main/tiny.gguf",
            get(|| async { StatusCode::UNAUTHORIZED }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

async fn pull(endpoint: &str, repo: &str, dir: &std::path::Path) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_solace"))
        .args(["model", "pull", repo, "tiny.gguf"])
        .current_dir(dir)
        .env_clear()
        .env("HF_ENDPOINT", endpoint)
        .env("DATA_DIR", dir.join("data"))
        .output()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_model_is_downloaded_with_progress_and_its_checksum_verified() {
    let hub = fake_hub(sha256_hex(MODEL)).await;
    let dir = tempfile::tempdir().unwrap();

    let output = pull(&format!("http://{hub}"), "owner/repo", dir.path()).await;

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("100%"), "{stderr}");
    assert!(stderr.contains("checksum verified"), "{stderr}");
    let saved = std::fs::read(dir.path().join("data/models/tiny.gguf")).unwrap();
    assert_eq!(saved, MODEL);
}

#[tokio::test]
async fn a_corrupt_download_is_refused_and_leaves_nothing_behind() {
    let hub = fake_hub("0".repeat(64)).await;
    let dir = tempfile::tempdir().unwrap();

    let output = pull(&format!("http://{hub}"), "owner/repo", dir.path()).await;

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("the download is corrupt"), "{stderr}");
    let models = dir.path().join("data/models");
    assert_eq!(
        std::fs::read_dir(models).unwrap().count(),
        0,
        "no file, no .part"
    );
}

#[tokio::test]
async fn offline_and_gated_downloads_say_what_to_do() {
    let hub = fake_hub(sha256_hex(MODEL)).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_addr = closed.local_addr().unwrap();
    drop(closed);
    let dir = tempfile::tempdir().unwrap();

    let offline = pull(&format!("http://{closed_addr}"), "owner/repo", dir.path()).await;
    let gated = pull(&format!("http://{hub}"), "owner/gated", dir.path()).await;

    let offline = String::from_utf8_lossy(&offline.stderr).into_owned();
    let gated = String::from_utf8_lossy(&gated.stderr).into_owned();
    assert!(
        offline.starts_with("solace: cannot reach 127.0.0.1"),
        "{offline}"
    );
    assert!(offline.contains("LLM_GGUF_PATH"), "{offline}");
    assert!(gated.contains("HF_TOKEN"), "{gated}");
}

/// A hub holding a Whisper repository in the transformers.js layout: every file's body
/// is its own path, so the test can see each landed where it belongs.
async fn fake_whisper_hub() -> SocketAddr {
    let app = Router::new().route(
        "/onnx-community/whisper-tiny.en/resolve/main/{*file}",
        get(
            |axum::extract::Path(file): axum::extract::Path<String>| async move {
                ([(header::CONTENT_TYPE, "application/octet-stream")], file)
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

#[tokio::test]
async fn pull_whisper_lays_out_the_files_the_browser_loads() {
    let hub = fake_whisper_hub().await;
    let dir = tempfile::tempdir().unwrap();

    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_solace"))
        .args(["model", "pull-whisper", "--dtype", "q8"])
        .current_dir(dir.path())
        .env_clear()
        .env("HF_ENDPOINT", format!("http://{hub}"))
        .env("DATA_DIR", dir.path().join("data"))
        .output()
        .await
        .unwrap();

    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let folder = dir.path().join("data/models/whisper-tiny.en");
    for file in [
        "config.json",
        "generation_config.json",
        "preprocessor_config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "onnx/encoder_model_quantized.onnx",
        "onnx/decoder_model_merged_quantized.onnx",
    ] {
        assert_eq!(std::fs::read_to_string(folder.join(file)).unwrap(), file);
    }
    assert!(String::from_utf8_lossy(&output.stderr).contains("Whisper is ready"));
}
