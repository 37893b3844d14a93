//! A fake OpenAI-compatible server for tests and local development, so that the whole
//! chat path — HTTP, streaming, errors, retries, disconnects — runs against a real
//! socket without a model. It also speaks (`/v1/audio/speech`: a real WAV whose length
//! follows the text) and transcribes (`/v1/audio/transcriptions`: a scripted text).
//! Enabled by the `test-support` feature.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Multipart, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use axum::{Json, Router};
use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::net::TcpListener;

/// What the fake server does with one request.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// Streams these pieces, `delay` apart, then finishes properly.
    Reply {
        tokens: Vec<String>,
        delay: Duration,
    },
    /// Streams these pieces and then drops the connection without finishing.
    Disconnect { tokens: Vec<String> },
    /// Answers with this status and a JSON error body, with `Retry-After` when set.
    Fail {
        status: u16,
        retry_after_secs: Option<u64>,
    },
    /// Sends the headers and then nothing at all.
    Stall,
}

impl Behaviour {
    /// A reply split into word-sized pieces the way a tokenizer would stream them.
    pub fn reply(text: &str, delay: Duration) -> Self {
        Self::Reply {
            tokens: split_tokens(text),
            delay,
        }
    }
}

/// Splits text into pieces that keep their leading space, like BPE tokens.
pub fn split_tokens(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    for ch in text.chars() {
        if ch == ' ' && !current.is_empty() {
            tokens.push(std::mem::take(&mut current));
        }
        current.push(ch);
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    tokens
}

/// The status a message asks the fake to fail with (`[[fake:fail:NNN]]`).
fn requested_failure(message: &str) -> Option<u16> {
    let start = message.find("[[fake:fail:")? + "[[fake:fail:".len();
    let end = message[start..].find("]]")? + start;
    message[start..end].parse().ok()
}

/// A message that asks the fake to cut its reply off after a few words the first time
/// it sees the message, and to answer it in full after that (`[[fake:cut-once]]`: a
/// failure the server does not retry by itself, for the app's retry).
const CUT_ONCE: &str = "[[fake:cut-once]]";

/// The reply given when no behaviour is queued: it repeats the newest message back, so
/// tests can see which prompt arrived.
pub fn echo_reply(last_user_message: &str) -> String {
    format!(
        "Thank you for telling me. I hear that you said: \"{}\". How are you feeling about it right now?",
        last_user_message.trim()
    )
}

#[derive(Default)]
struct Shared {
    script: Mutex<VecDeque<Behaviour>>,
    requests: Mutex<Vec<Value>>,
    cancelled: AtomicUsize,
    default_delay: Mutex<Duration>,
    /// Statuses the next speech requests fail with, in order.
    speech_failures: Mutex<VecDeque<u16>>,
    speech_requests: Mutex<Vec<Value>>,
    transcript: Mutex<String>,
    transcriptions: Mutex<Vec<Value>>,
    /// What the fake answers the safety judge, and after how long.
    verdict: Mutex<(String, Duration)>,
    judge_requests: Mutex<Vec<Value>>,
    /// How many texts `/v1/embeddings` was asked to embed.
    embedded: AtomicUsize,
    /// Requests for a conversation summary (not counted in `requests`).
    summary_requests: Mutex<Vec<Value>>,
    /// The messages that asked to be cut off once and were.
    cut_once: Mutex<std::collections::HashSet<String>>,
}

/// What the fake transcribes every upload to, unless told otherwise.
pub const DEFAULT_TRANSCRIPT: &str = "I have been feeling anxious about work lately.";

/// A running fake server; it stops when dropped.
pub struct FakeUpstream {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeUpstream {
    /// Starts on a random loopback port.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_on(TcpListener::bind("127.0.0.1:0").await?).await
    }

    /// Starts on a listener bound by the caller.
    pub async fn start_on(listener: TcpListener) -> std::io::Result<Self> {
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            default_delay: Mutex::new(Duration::from_millis(5)),
            transcript: Mutex::new(DEFAULT_TRANSCRIPT.into()),
            verdict: Mutex::new(("SAFE".into(), Duration::ZERO)),
            ..Shared::default()
        });
        let app = Router::new()
            .route("/v1/chat/completions", post(completions))
            .route("/v1/audio/speech", post(speech))
            .route("/v1/audio/voices", get(voices))
            .route("/v1/audio/transcriptions", post(transcriptions))
            .route("/v1/embeddings", post(embeddings))
            // Also a model hub (`HF_ENDPOINT` = this server without `/v1`): every file it
            // is asked for is the tiny GGUF model, with its SHA-256 as the hub gives it.
            .route("/{owner}/{repo}/resolve/{revision}/{*file}", get(hub_file))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            // Like a real model server: pieces leave as soon as they are written.
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, shared, task })
    }

    /// What the fake answers when it is asked as the safety judge (a request whose
    /// system prompt is the judge's), after `delay`; "SAFE" at once by default.
    pub fn set_verdict(&self, verdict: &str, delay: Duration) {
        *lock(&self.shared.verdict) = (verdict.to_owned(), delay);
    }

    /// The safety judge's requests, kept apart from the chat requests.
    pub fn judge_requests(&self) -> Vec<Value> {
        lock(&self.shared.judge_requests).clone()
    }

    /// The base URL to configure as `LLM_BASE_URL`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Queues what the next request gets; later requests take later entries.
    pub fn then(&self, behaviour: Behaviour) -> &Self {
        lock(&self.shared.script).push_back(behaviour);
        self
    }

    /// The pause between pieces of the default echo reply.
    pub fn set_default_delay(&self, delay: Duration) {
        *lock(&self.shared.default_delay) = delay;
    }

    /// Every request body received so far.
    pub fn requests(&self) -> Vec<Value> {
        lock(&self.shared.requests).clone()
    }

    /// The next speech requests fail with these statuses, one each.
    pub fn fail_speech(&self, statuses: &[u16]) {
        lock(&self.shared.speech_failures).extend(statuses);
    }

    /// Every speech request body received so far.
    pub fn speech_requests(&self) -> Vec<Value> {
        lock(&self.shared.speech_requests).clone()
    }

    /// What uploads are transcribed to from now on.
    pub fn set_transcript(&self, text: &str) {
        *lock(&self.shared.transcript) = text.to_owned();
    }

    /// Every transcription request: its form fields and the file's size and type.
    pub fn transcriptions(&self) -> Vec<Value> {
        lock(&self.shared.transcriptions).clone()
    }

    /// How many streams were dropped by the client before they finished.
    /// The conversation-summary requests so far.
    pub fn summary_requests(&self) -> Vec<Value> {
        lock(&self.shared.summary_requests).clone()
    }

    /// How many texts were embedded so far.
    pub fn embedded(&self) -> usize {
        self.shared.embedded.load(Ordering::SeqCst)
    }

    pub fn cancelled(&self) -> usize {
        self.shared.cancelled.load(Ordering::SeqCst)
    }
}

impl Drop for FakeUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn chunk(content: &str) -> Bytes {
    let event = json!({
        "object": "chat.completion.chunk",
        "choices": [{ "index": 0, "delta": { "content": content }, "finish_reason": null }]
    });
    Bytes::from(format!("data: {event}\n\n"))
}

fn finish() -> Bytes {
    let event = json!({
        "object": "chat.completion.chunk",
        "choices": [{ "index": 0, "delta": {}, "finish_reason": "stop" }]
    });
    Bytes::from(format!("data: {event}\n\ndata: [DONE]\n\n"))
}

/// Counts a stream as cancelled when it is dropped before its end.
struct CancelGuard {
    shared: Arc<Shared>,
    finished: bool,
}

impl Drop for CancelGuard {
    fn drop(&mut self) {
        if !self.finished {
            self.shared.cancelled.fetch_add(1, Ordering::SeqCst);
        }
    }
}

async fn completions(State(shared): State<Arc<Shared>>, Json(body): Json<Value>) -> Response {
    let last_user = body
        .get("messages")
        .and_then(Value::as_array)
        .and_then(|m| {
            m.iter()
                .rev()
                .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        })
        .and_then(|m| m.get("content"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let is_judge = body
        .pointer("/messages/0/content")
        .and_then(Value::as_str)
        .is_some_and(|s| s.starts_with("You are a safety classifier"));
    let is_summary = body
        .pointer("/messages/0/content")
        .and_then(Value::as_str)
        .is_some_and(|s| s.starts_with("You summarise a conversation"));
    if is_summary {
        // A summary that names what the request carried, so tests can follow it.
        let carried = body
            .pointer("/messages/1/content")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        lock(&shared.summary_requests).push(body);
        let first = carried
            .lines()
            .find_map(|l| l.strip_prefix("They: "))
            .unwrap_or("nothing");
        let mut reply = chunk(&format!("They talked about: {first}")).to_vec();
        reply.extend_from_slice(&finish());
        return (
            [(header::CONTENT_TYPE, "text/event-stream")],
            Bytes::from(reply),
        )
            .into_response();
    }
    if is_judge {
        lock(&shared.judge_requests).push(body);
        let (verdict, delay) = lock(&shared.verdict).clone();
        tokio::time::sleep(delay).await;
        let mut body = chunk(&verdict).to_vec();
        body.extend_from_slice(&finish());
        return (
            [(header::CONTENT_TYPE, "text/event-stream")],
            Bytes::from(body),
        )
            .into_response();
    }
    lock(&shared.requests).push(body);
    let next = lock(&shared.script).pop_front();
    let behaviour = next.unwrap_or_else(|| {
        // A message may ask the fake to fail (for the browser tests, which share one fake
        // server): `[[fake:fail:502]]`.
        if let Some(status) = requested_failure(&last_user) {
            return Behaviour::Fail {
                status,
                retry_after_secs: None,
            };
        }
        if last_user.contains(CUT_ONCE) && lock(&shared.cut_once).insert(last_user.clone()) {
            return Behaviour::Disconnect {
                tokens: split_tokens("I hear you, and"),
            };
        }
        let delay = *lock(&shared.default_delay);
        Behaviour::reply(&echo_reply(&last_user), delay)
    });

    let (tokens, delay, complete) = match behaviour {
        Behaviour::Fail {
            status,
            retry_after_secs,
        } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut response = (
                status,
                Json(json!({ "error": { "message": "fake failure", "code": status.as_u16() } })),
            )
                .into_response();
            if let Some(secs) = retry_after_secs {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, secs.into());
            }
            return response;
        }
        Behaviour::Stall => (Vec::new(), Duration::from_secs(3600), false),
        Behaviour::Reply { tokens, delay } => (tokens, delay, true),
        Behaviour::Disconnect { tokens } => (tokens, Duration::from_millis(5), false),
    };
    let stalls = tokens.is_empty() && !complete;
    let guard = CancelGuard {
        shared,
        finished: false,
    };
    let pieces = futures_util::stream::iter(tokens.into_iter().map(Some).chain([None]));
    let stream = pieces
        .then(move |piece| async move {
            tokio::time::sleep(delay).await;
            piece
        })
        .scan(guard, move |guard, piece| {
            let out = match piece {
                Some(token) => Some(Ok::<_, Infallible>(chunk(&token))),
                None if complete => {
                    guard.finished = true;
                    Some(Ok(finish()))
                }
                // Ending the body here drops the connection mid-reply.
                None => {
                    guard.finished = !stalls;
                    None
                }
            };
            std::future::ready(out)
        });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// A mono 16 kHz WAV of a soft 220 Hz tone lasting `ms` milliseconds: real audio a
/// browser can play.
pub fn tone_wav(ms: u32) -> Vec<u8> {
    let rate = 16_000u32;
    let samples: Vec<i16> = (0..rate * ms / 1000)
        .map(|i| {
            let t = f64::from(i) / f64::from(rate);
            (f64::from(i16::MAX) * 0.2 * (2.0 * std::f64::consts::PI * 220.0 * t).sin()) as i16
        })
        .collect();
    crate::speech::wav::encode_pcm16(&samples, rate)
}

async fn speech(State(shared): State<Arc<Shared>>, Json(body): Json<Value>) -> Response {
    let chars = body["input"].as_str().map_or(0, |t| t.chars().count());
    lock(&shared.speech_requests).push(body);
    if let Some(status) = lock(&shared.speech_failures).pop_front() {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return (
            status,
            Json(json!({ "error": { "message": "fake failure" } })),
        )
            .into_response();
    }
    // About as long as the words would take to say.
    let ms = u32::try_from(chars)
        .unwrap_or(u32::MAX)
        .saturating_mul(60)
        .clamp(200, 20_000);
    ([(header::CONTENT_TYPE, "audio/wav")], tone_wav(ms)).into_response()
}

/// The fake's embedding of a text: a bag of its lower-cased words hashed into 64
/// buckets, so texts that share words are close and others are not (a stand-in for a
/// real embedding server's protocol, not its quality).
pub fn bag_of_words(text: &str) -> Vec<f32> {
    let mut vector = vec![0.0f32; 64];
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 2)
    {
        let hash = word.to_lowercase().bytes().fold(2_166_136_261u32, |h, b| {
            (h ^ u32::from(b)).wrapping_mul(16_777_619)
        });
        vector[(hash % 64) as usize] += 1.0;
    }
    vector
}

async fn embeddings(State(shared): State<Arc<Shared>>, Json(body): Json<Value>) -> Response {
    let texts: Vec<String> = match &body["input"] {
        Value::String(text) => vec![text.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    if texts.is_empty() || body["model"].as_str().is_none() {
        return (StatusCode::BAD_REQUEST, "input and model are required").into_response();
    }
    shared.embedded.fetch_add(texts.len(), Ordering::SeqCst);
    let data: Vec<Value> = texts
        .iter()
        .enumerate()
        .rev() // out of order on purpose: clients must sort by index
        .map(|(index, text)| json!({ "object": "embedding", "index": index, "embedding": bag_of_words(text) }))
        .collect();
    Json(json!({ "object": "list", "data": data, "model": body["model"] })).into_response()
}

/// The tiny GGUF model's bytes, written once per process.
pub fn tiny_gguf_bytes() -> Result<&'static [u8], String> {
    static BYTES: std::sync::OnceLock<Result<Vec<u8>, String>> = std::sync::OnceLock::new();
    BYTES
        .get_or_init(|| {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            let path = std::env::temp_dir()
                .join(format!("solace-tiny-{}-{nanos}.gguf", std::process::id()));
            let bytes = write_tiny_gguf(&path)
                .map_err(|e| e.to_string())
                .and_then(|()| std::fs::read(&path).map_err(|e| e.to_string()));
            let _ = std::fs::remove_file(&path);
            bytes
        })
        .as_deref()
        .map_err(Clone::clone)
}

async fn hub_file() -> Response {
    use sha2::{Digest, Sha256};
    let bytes = match tiny_gguf_bytes() {
        Ok(bytes) => bytes,
        Err(error) => return (StatusCode::INTERNAL_SERVER_ERROR, error).into_response(),
    };
    let sha: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    (
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (
                header::HeaderName::from_static("x-linked-etag"),
                format!("\"{sha}\""),
            ),
        ],
        bytes,
    )
        .into_response()
}

async fn voices() -> Json<Value> {
    Json(json!({ "voices": ["fake_calm", "fake_bright"] }))
}

async fn transcriptions(State(shared): State<Arc<Shared>>, mut form: Multipart) -> Response {
    let mut seen = serde_json::Map::new();
    while let Ok(Some(field)) = form.next_field().await {
        let name = field.name().unwrap_or_default().to_owned();
        let content_type = field.content_type().map(str::to_owned);
        let Ok(bytes) = field.bytes().await else {
            return StatusCode::BAD_REQUEST.into_response();
        };
        let value = match content_type {
            Some(content_type) => json!({ "bytes": bytes.len(), "content_type": content_type }),
            None => json!(String::from_utf8_lossy(&bytes)),
        };
        seen.insert(name, value);
    }
    if !seen.contains_key("file") || !seen.contains_key("model") {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": { "message": "file and model are required" } })),
        )
            .into_response();
    }
    lock(&shared.transcriptions).push(Value::Object(seen));
    let text = lock(&shared.transcript).clone();
    Json(json!({ "text": text })).into_response()
}

/// Writes a tiny llama-architecture GGUF file: random weights (so its words are
/// nonsense) but a real SentencePiece vocabulary with byte fallback, a chat template
/// and the metadata a real file has. Tests and benchmarks run the in-process model on
/// it without downloading anything.
pub fn write_tiny_gguf(path: &std::path::Path) -> candle_core::Result<()> {
    use candle_core::quantized::gguf_file::{self, Value};
    use candle_core::quantized::{GgmlDType, QTensor};
    use candle_core::{Device, Tensor};

    const EMBED: usize = 64;
    const HEADS: usize = 4;
    const KV_HEADS: usize = 2;
    const LAYERS: usize = 2;
    const FFN: usize = 128;
    let head_dim = EMBED / HEADS;

    // Vocabulary: <unk>, <s>, </s>, the 256 byte tokens, then word pieces with every
    // prefix, so that merging can reach each word.
    let mut tokens: Vec<String> = vec!["<unk>".into(), "<s>".into(), "</s>".into()];
    let mut types: Vec<u32> = vec![2, 3, 3];
    for byte in 0..=255u8 {
        tokens.push(format!("<0x{byte:02X}>"));
        types.push(6);
    }
    let words = [
        "I", "you", "feel", "hear", "that", "sounds", "hard", "the", "and", "to", "a", "it", "is",
        "are", "not", "alone", "here", "with", "how", "what", "today", "sleep", "calm", "breathe",
        "thank", "Thank", "for", "sharing", "[INST]", "[/INST]", "Be", "kind",
    ];
    let mut pieces: Vec<String> = vec!["▁".into()];
    for c in ('a'..='z').chain('A'..='Z').chain(".,!?'[]/".chars()) {
        pieces.push(c.to_string());
    }
    for word in words {
        let spelled = format!("▁{word}");
        let chars: Vec<char> = spelled.chars().collect();
        for end in 2..=chars.len() {
            pieces.push(chars[..end].iter().collect());
        }
    }
    for piece in pieces {
        if !tokens.contains(&piece) {
            tokens.push(piece);
            types.push(1);
        }
    }
    let scores: Vec<f32> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| t.chars().count() as f32 - i as f32 * 1e-4)
        .collect();
    let vocab = tokens.len();

    let device = Device::Cpu;
    // The same weights every time (candle's CPU generator cannot be seeded): a small
    // xorshift generator, uniform in [-0.35, 0.35).
    let mut state: u64 = 0x5eed_2026_1125_0001;
    let mut noise = |n: usize| -> Vec<f32> {
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.7
            })
            .collect()
    };
    let mut matrix = |rows: usize, cols: usize, keep_from: usize| -> candle_core::Result<QTensor> {
        let mut values = noise(rows * cols);
        // Rows before `keep_from` are zero: see the output matrix below.
        values[..keep_from * cols].fill(0.0);
        let t = Tensor::from_vec(values, (rows, cols), &device)?;
        QTensor::quantize(&t, GgmlDType::Q8_0)
    };
    let norm = || -> candle_core::Result<QTensor> {
        QTensor::quantize(
            &Tensor::ones(EMBED, candle_core::DType::F32, &device)?,
            GgmlDType::F32,
        )
    };
    let mut tensors: Vec<(String, QTensor)> = vec![
        ("token_embd.weight".into(), matrix(vocab, EMBED, 0)?),
        ("output_norm.weight".into(), norm()?),
        // The output rows of the special and byte tokens are zero, so that greedy
        // decoding picks word pieces and the nonsense is at least readable.
        ("output.weight".into(), matrix(vocab, EMBED, 259)?),
    ];
    for layer in 0..LAYERS {
        let p = format!("blk.{layer}");
        tensors.push((format!("{p}.attn_norm.weight"), norm()?));
        tensors.push((format!("{p}.attn_q.weight"), matrix(EMBED, EMBED, 0)?));
        tensors.push((
            format!("{p}.attn_k.weight"),
            matrix(KV_HEADS * head_dim, EMBED, 0)?,
        ));
        tensors.push((
            format!("{p}.attn_v.weight"),
            matrix(KV_HEADS * head_dim, EMBED, 0)?,
        ));
        tensors.push((format!("{p}.attn_output.weight"), matrix(EMBED, EMBED, 0)?));
        tensors.push((format!("{p}.ffn_norm.weight"), norm()?));
        tensors.push((format!("{p}.ffn_gate.weight"), matrix(FFN, EMBED, 0)?));
        tensors.push((format!("{p}.ffn_up.weight"), matrix(FFN, EMBED, 0)?));
        tensors.push((format!("{p}.ffn_down.weight"), matrix(EMBED, FFN, 0)?));
    }

    let u32v = |v: usize| Value::U32(v as u32);
    let metadata: Vec<(&str, Value)> = vec![
        ("general.architecture", Value::String("llama".into())),
        ("general.name", Value::String("solace-tiny-test".into())),
        ("llama.context_length", u32v(512)),
        ("llama.embedding_length", u32v(EMBED)),
        ("llama.block_count", u32v(LAYERS)),
        ("llama.feed_forward_length", u32v(FFN)),
        ("llama.attention.head_count", u32v(HEADS)),
        ("llama.attention.head_count_kv", u32v(KV_HEADS)),
        ("llama.rope.dimension_count", u32v(head_dim)),
        ("llama.attention.layer_norm_rms_epsilon", Value::F32(1e-5)),
        ("tokenizer.ggml.model", Value::String("llama".into())),
        (
            "tokenizer.ggml.tokens",
            Value::Array(tokens.into_iter().map(Value::String).collect()),
        ),
        (
            "tokenizer.ggml.scores",
            Value::Array(scores.into_iter().map(Value::F32).collect()),
        ),
        (
            "tokenizer.ggml.token_type",
            Value::Array(types.into_iter().map(|t| Value::I32(t as i32)).collect()),
        ),
        ("tokenizer.ggml.bos_token_id", u32v(1)),
        ("tokenizer.ggml.eos_token_id", u32v(2)),
        ("tokenizer.ggml.unknown_token_id", u32v(0)),
        (
            "tokenizer.chat_template",
            Value::String(
                "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}\
                 {{ '[INST] ' + message['content'] + ' [/INST]' }}{% else %}\
                 {{ message['content'] + eos_token }}{% endif %}{% endfor %}"
                    .into(),
            ),
        ),
    ];
    let metadata: Vec<(&str, &Value)> = metadata.iter().map(|(k, v)| (*k, v)).collect();
    let tensors: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, t)| (k.as_str(), t)).collect();
    let mut file = std::fs::File::create(path)?;
    gguf_file::write(&mut file, &metadata, &tensors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_keep_their_leading_space() {
        assert_eq!(split_tokens("I hear you."), vec!["I", " hear", " you."]);
    }
}
