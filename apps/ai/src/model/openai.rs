//! A client for any OpenAI-compatible `/v1/chat/completions` server that streams.
//!
//! Hugging Face Inference (the router and Inference Endpoints), TGI, vLLM, llama.cpp's
//! server and Ollama all speak this protocol. Failures before the first byte of the reply
//! (connection refused, 429, 5xx) are retried with exponential backoff; once the reply
//! has started, an error ends the stream and the caller keeps what arrived.

use std::collections::VecDeque;
use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::{Stream, StreamExt};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use url::Url;

use super::sse::SseDecoder;
use super::{ChatMessage, ChatModel, ChatRequest, ModelError, TokenStream};
use crate::prompt::fold_system_prompt;

/// Where the server is and how patient to be with it.
#[derive(Debug, Clone)]
pub struct UpstreamConfig {
    /// The API root, up to and including `/v1`, e.g. `http://127.0.0.1:11434/v1`.
    pub base_url: Url,
    /// Sent as a bearer token when set (Hugging Face token, OpenAI key…).
    pub api_key: Option<SecretString>,
    /// The model id the server expects, e.g. `mistralai/Mistral-7B-Instruct-v0.3`.
    pub model: String,
    /// How long to wait for a TCP/TLS connection.
    pub connect_timeout: Duration,
    /// How long to wait for the reply to start, and then between two pieces of it.
    pub token_timeout: Duration,
    /// Extra attempts after a 429, a 5xx or a refused connection, before the reply starts.
    pub max_retries: u32,
    /// The first backoff; each retry waits twice as long as the one before.
    pub retry_base: Duration,
    /// The model has no system role (Mistral/MelloGPT): put the system prompt at the
    /// start of the first user turn instead.
    pub fold_system_prompt: bool,
}

impl UpstreamConfig {
    pub fn new(base_url: Url, model: impl Into<String>) -> Self {
        Self {
            base_url,
            api_key: None,
            model: model.into(),
            connect_timeout: Duration::from_secs(5),
            token_timeout: Duration::from_secs(60),
            max_retries: 2,
            retry_base: Duration::from_millis(250),
            fold_system_prompt: false,
        }
    }
}

/// The longest a server's `Retry-After` may make us wait before we give up instead.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);

/// A streaming chat client for one OpenAI-compatible server and model.
pub struct OpenAiCompatible {
    http: reqwest::Client,
    endpoint: Url,
    config: UpstreamConfig,
}

impl OpenAiCompatible {
    pub fn new(config: UpstreamConfig) -> Result<Self, ModelError> {
        let mut base = config.base_url.clone();
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let endpoint = base
            .join("chat/completions")
            .map_err(|e| ModelError::Protocol(format!("bad base URL: {e}")))?;
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!("solace/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ModelError::Unreachable(e.to_string()))?;
        Ok(Self {
            http,
            endpoint,
            config,
        })
    }

    fn body(&self, request: &ChatRequest) -> Value {
        let messages: Vec<ChatMessage> = if self.config.fold_system_prompt {
            fold_system_prompt(&request.messages)
        } else {
            request.messages.clone()
        };
        json!({
            "model": self.config.model,
            "messages": messages,
            "stream": true,
            "max_tokens": request.sampling.max_tokens,
            "temperature": request.sampling.temperature,
            "top_p": request.sampling.top_p,
            "seed": request.sampling.seed,
        })
    }

    /// One attempt: the response once its status says the reply is coming.
    async fn send(&self, body: &Value) -> Result<reqwest::Response, ModelError> {
        let mut builder = self.http.post(self.endpoint.clone()).json(body);
        if let Some(key) = &self.config.api_key {
            builder = builder.bearer_auth(key.expose_secret());
        }
        let response = tokio::time::timeout(self.config.token_timeout, builder.send())
            .await
            .map_err(|_| ModelError::Timeout)?
            .map_err(|e| {
                if e.is_timeout() {
                    ModelError::Timeout
                } else {
                    ModelError::Unreachable(without_url(&e))
                }
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        Err(
            if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
                ModelError::Overloaded {
                    status: status.as_u16(),
                    retry_after: retry_after(response.headers()),
                }
            } else {
                ModelError::Rejected {
                    status: status.as_u16(),
                }
            },
        )
    }

    fn backoff(&self, attempt: u32, error: &ModelError) -> Option<Duration> {
        if attempt >= self.config.max_retries {
            return None;
        }
        match error {
            ModelError::Overloaded {
                retry_after: Some(wait),
                ..
            } => (*wait <= MAX_RETRY_AFTER).then_some(*wait),
            ModelError::Overloaded { .. } | ModelError::Unreachable(_) => {
                let exponential = self.config.retry_base * 2u32.saturating_pow(attempt);
                Some(exponential + jitter(exponential / 4))
            }
            _ => None,
        }
    }
}

#[async_trait]
impl ChatModel for OpenAiCompatible {
    #[tracing::instrument(name = "model.request", skip_all, fields(otel.kind = "client", model = %self.config.model))]
    async fn stream(&self, request: ChatRequest) -> Result<TokenStream, ModelError> {
        let body = self.body(&request);
        let mut attempt = 0;
        let response = loop {
            match self.send(&body).await {
                Ok(response) => break response,
                Err(error) => match self.backoff(attempt, &error) {
                    Some(wait) => {
                        tracing::warn!(%error, attempt, wait_ms = wait.as_millis() as u64, "model server failed; retrying");
                        tokio::time::sleep(wait).await;
                        attempt += 1;
                    }
                    None => return Err(error),
                },
            }
        };
        Ok(Box::pin(reply_stream(
            Box::pin(response.bytes_stream()),
            self.config.token_timeout,
        )))
    }

    fn name(&self) -> String {
        format!("openai:{}", self.config.model)
    }
}

/// A reqwest error's description without the URL, which can carry a signed query.
fn without_url(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(url.as_str(), "the model server");
    }
    text
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// Up to `max` of spread so that many clients do not retry in step.
fn jitter(max: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let max_nanos = max.as_nanos().max(1) as u64;
    Duration::from_nanos(u64::from(nanos) % max_nanos)
}

type ByteStream = Pin<Box<dyn Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>;

/// What one event of the reply means.
#[derive(Debug, PartialEq)]
enum Event {
    Text(String),
    /// The model finished its reply (`finish_reason`); `[DONE]` may still follow.
    Finished,
    /// The `[DONE]` marker: nothing more will come.
    Done,
    Failed(ModelError),
    /// A role-only delta, usage numbers and the like.
    Nothing,
}

fn parse_event(data: &str) -> Event {
    if data.trim() == "[DONE]" {
        return Event::Done;
    }
    let value: Value = match serde_json::from_str(data) {
        Ok(value) => value,
        Err(e) => return Event::Failed(ModelError::Protocol(format!("not JSON: {e}"))),
    };
    if value.get("error").is_some_and(|e| !e.is_null()) {
        let status = value
            .pointer("/error/code")
            .and_then(Value::as_u64)
            .and_then(|c| u16::try_from(c).ok())
            .unwrap_or(500);
        return Event::Failed(ModelError::Overloaded {
            status,
            retry_after: None,
        });
    }
    let choice = value.pointer("/choices/0");
    let text = choice
        .and_then(|c| c.pointer("/delta/content"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !text.is_empty() {
        return Event::Text(text.to_owned());
    }
    if choice
        .and_then(|c| c.get("finish_reason"))
        .is_some_and(|r| !r.is_null())
    {
        return Event::Finished;
    }
    Event::Nothing
}

struct ReplyState {
    body: ByteStream,
    decoder: SseDecoder,
    pending: VecDeque<Result<String, ModelError>>,
    finished: bool,
    closed: bool,
    token_timeout: Duration,
}

/// Turns the server's event stream into the reply's text pieces.
fn reply_stream(
    body: ByteStream,
    token_timeout: Duration,
) -> impl Stream<Item = Result<String, ModelError>> + Send {
    let state = ReplyState {
        body,
        decoder: SseDecoder::default(),
        pending: VecDeque::new(),
        finished: false,
        closed: false,
        token_timeout,
    };
    futures_util::stream::unfold(state, |mut state| async move {
        loop {
            if let Some(item) = state.pending.pop_front() {
                return Some((item, state));
            }
            if state.closed {
                return None;
            }
            match tokio::time::timeout(state.token_timeout, state.body.next()).await {
                Err(_) => {
                    state.closed = true;
                    state.pending.push_back(Err(ModelError::Timeout));
                }
                Ok(None) => {
                    state.closed = true;
                    if !state.finished {
                        state.pending.push_back(Err(ModelError::Unreachable(
                            "the reply stopped before it was complete".into(),
                        )));
                    }
                }
                Ok(Some(Err(e))) => {
                    state.closed = true;
                    state
                        .pending
                        .push_back(Err(ModelError::Unreachable(without_url(&e))));
                }
                Ok(Some(Ok(bytes))) => {
                    for data in state.decoder.feed(&bytes) {
                        match parse_event(&data) {
                            Event::Text(text) => state.pending.push_back(Ok(text)),
                            Event::Finished => state.finished = true,
                            Event::Done => {
                                state.finished = true;
                                state.closed = true;
                                break;
                            }
                            Event::Failed(error) => {
                                state.closed = true;
                                state.pending.push_back(Err(error));
                                break;
                            }
                            Event::Nothing => {}
                        }
                    }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_become_text_and_markers_end_the_reply() {
        assert_eq!(
            parse_event(r#"{"choices":[{"delta":{"content":"Hi"},"finish_reason":null}]}"#),
            Event::Text("Hi".into())
        );
        assert_eq!(
            parse_event(r#"{"choices":[{"delta":{"role":"assistant"}}]}"#),
            Event::Nothing
        );
        assert_eq!(
            parse_event(r#"{"choices":[{"delta":{},"finish_reason":"stop"}]}"#),
            Event::Finished
        );
        assert_eq!(parse_event("[DONE]"), Event::Done);
    }

    #[test]
    fn an_error_event_or_garbage_fails_the_reply() {
        assert!(matches!(
            parse_event(r#"{"error":{"message":"out of memory","code":503}}"#),
            Event::Failed(ModelError::Overloaded { status: 503, .. })
        ));
        assert!(matches!(
            parse_event("<html>"),
            Event::Failed(ModelError::Protocol(_))
        ));
    }

    #[test]
    fn the_endpoint_is_under_the_base_path_with_or_without_a_slash() {
        for base in ["http://127.0.0.1:9/v1", "http://127.0.0.1:9/v1/"] {
            let config =
                UpstreamConfig::new(Url::parse(base).unwrap_or_else(|e| panic!("{e}")), "m");
            let client = OpenAiCompatible::new(config).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                client.endpoint.as_str(),
                "http://127.0.0.1:9/v1/chat/completions"
            );
        }
    }

    #[test]
    fn backoff_doubles_and_respects_a_short_retry_after() {
        let mut config = UpstreamConfig::new(
            Url::parse("http://127.0.0.1:9/v1").unwrap_or_else(|e| panic!("{e}")),
            "m",
        );
        config.retry_base = Duration::from_millis(100);
        config.max_retries = 3;
        let client = OpenAiCompatible::new(config).unwrap_or_else(|e| panic!("{e}"));
        let busy = ModelError::Overloaded {
            status: 503,
            retry_after: None,
        };
        let first = client.backoff(0, &busy).unwrap_or_default();
        let third = client.backoff(2, &busy).unwrap_or_default();
        assert!(first >= Duration::from_millis(100) && first < Duration::from_millis(126));
        assert!(third >= Duration::from_millis(400) && third < Duration::from_millis(501));
        assert_eq!(client.backoff(3, &busy), None);
        let told = ModelError::Overloaded {
            status: 429,
            retry_after: Some(Duration::from_secs(2)),
        };
        assert_eq!(client.backoff(0, &told), Some(Duration::from_secs(2)));
        let too_long = ModelError::Overloaded {
            status: 429,
            retry_after: Some(Duration::from_secs(600)),
        };
        assert_eq!(client.backoff(0, &too_long), None);
        assert_eq!(
            client.backoff(0, &ModelError::Rejected { status: 401 }),
            None
        );
    }
}
