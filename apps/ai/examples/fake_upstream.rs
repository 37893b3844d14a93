//! Runs the fake OpenAI-compatible server on its own, for the browser tests and for
//! trying the chat without a model:
//!
//! ```sh
//! cargo run -p solace-ai --features test-support --example fake_upstream -- 127.0.0.1:8091
//! LLM_BASE_URL=http://127.0.0.1:8091/v1 LLM_MODEL=fake make run
//! ```
//!
//! `FAKE_UPSTREAM_DELAY_MS` sets the pause between streamed pieces (default 30).

use std::time::Duration;

use solace_ai::testing::FakeUpstream;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8091".into());
    let delay = std::env::var("FAKE_UPSTREAM_DELAY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    let upstream = FakeUpstream::start_on(listener).await?;
    upstream.set_default_delay(Duration::from_millis(delay));
    eprintln!("fake upstream listening at {}", upstream.base_url());
    let _ = tokio::signal::ctrl_c().await;
    Ok(())
}
