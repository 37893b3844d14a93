//! In-process inference on a quantized GGUF file with candle: llama-family models
//! (Llama 2/3, Mistral and its fine-tunes such as MelloGPT, TinyLlama…).
//!
//! The weights are loaded once and shared; each reply clones the (reference-counted)
//! weights so it has its own attention cache, and runs on the blocking thread pool one
//! at a time — a CPU has no spare cores for a second reply, so later ones wait their
//! turn. The reply streams back piece by piece; dropping the stream stops generation
//! at the next token.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use candle_core::quantized::gguf_file::{Content, Value};
use candle_core::{Device, Tensor};
use candle_transformers::generation::{LogitsProcessor, Sampling as Sampler};
use candle_transformers::models::quantized_llama::ModelWeights;
use tokenizers::Tokenizer;
use tokio::sync::{mpsc, Semaphore};

use super::spm::SpmTokenizer;
use super::{ChatModel, ChatRequest, ModelError, TokenStream};
use crate::prompt::ChatTemplate;

/// How many recent tokens the repetition penalty looks at, and how hard it pushes.
const REPEAT_WINDOW: usize = 64;
const REPEAT_PENALTY: f32 = 1.1;

/// The vocabulary of the file: SentencePiece (`llama`) or byte-level BPE (`gpt2`).
enum GgufTokenizer {
    Spm(SpmTokenizer),
    Bpe(Box<Tokenizer>),
}

impl GgufTokenizer {
    fn from_gguf(content: &Content) -> Result<Self, ModelError> {
        let kind = string(content, "tokenizer.ggml.model").unwrap_or_default();
        match kind.as_str() {
            "llama" => {
                let tokens: Vec<String> = array(content, "tokenizer.ggml.tokens")?
                    .iter()
                    .map(|v| v.to_string().cloned().unwrap_or_default())
                    .collect();
                let scores = match content.metadata.get("tokenizer.ggml.scores") {
                    Some(Value::Array(values)) => {
                        values.iter().map(|v| v.to_f32().unwrap_or(0.0)).collect()
                    }
                    _ => vec![0.0; tokens.len()],
                };
                let types = match content.metadata.get("tokenizer.ggml.token_type") {
                    Some(Value::Array(values)) => values
                        .iter()
                        .map(|v| match v {
                            Value::I32(t) => *t as u32,
                            other => other.to_u32().unwrap_or(1),
                        })
                        .collect(),
                    _ => vec![1; tokens.len()],
                };
                let unk = number(content, "tokenizer.ggml.unknown_token_id").unwrap_or(0);
                Ok(Self::Spm(SpmTokenizer::new(tokens, scores, types, unk)))
            }
            "gpt2" => {
                use candle_core::quantized::tokenizer::TokenizerFromGguf;
                let tokenizer = Tokenizer::from_gguf(content)
                    .map_err(|e| ModelError::Inference(format!("tokenizer: {e}")))?;
                Ok(Self::Bpe(Box::new(tokenizer)))
            }
            other => Err(ModelError::Inference(format!(
                "the tokenizer '{other}' in this GGUF file is not supported"
            ))),
        }
    }

    fn encode(&self, text: &str) -> Result<Vec<u32>, ModelError> {
        match self {
            Self::Spm(t) => Ok(t.encode(text)),
            Self::Bpe(t) => t
                .encode(text, false)
                .map(|e| e.get_ids().to_vec())
                .map_err(|e| ModelError::Inference(format!("tokenizer: {e}"))),
        }
    }

    /// The text of `ids`, with a trailing incomplete UTF-8 sequence left out.
    fn decode(&self, ids: &[u32]) -> String {
        match self {
            Self::Spm(t) => {
                let bytes = t.decode_bytes(ids);
                // Hold back a character whose bytes have not all arrived yet; bytes that
                // can never form one become U+FFFD.
                let complete = match std::str::from_utf8(&bytes) {
                    Err(e) if e.error_len().is_none() => e.valid_up_to(),
                    _ => bytes.len(),
                };
                String::from_utf8_lossy(&bytes[..complete]).into_owned()
            }
            Self::Bpe(t) => {
                let text = t.decode(ids, true).unwrap_or_default();
                text.trim_end_matches('\u{FFFD}').to_owned()
            }
        }
    }

    fn token_id(&self, token: &str) -> Option<u32> {
        match self {
            Self::Spm(t) => t.token_id(token),
            Self::Bpe(t) => t.token_to_id(token),
        }
    }
}

fn string(content: &Content, key: &str) -> Option<String> {
    content.metadata.get(key)?.to_string().ok().cloned()
}

fn number(content: &Content, key: &str) -> Option<u32> {
    content.metadata.get(key)?.to_u32().ok()
}

fn array<'a>(content: &'a Content, key: &str) -> Result<&'a Vec<Value>, ModelError> {
    content
        .metadata
        .get(key)
        .and_then(|v| v.to_vec().ok())
        .ok_or_else(|| ModelError::Inference(format!("the GGUF file has no {key}")))
}

/// A GGUF model loaded into memory.
pub struct LocalModel {
    weights: ModelWeights,
    tokenizer: Arc<GgufTokenizer>,
    template: ChatTemplate,
    bos: Option<u32>,
    stops: Vec<u32>,
    context_length: usize,
    timeout: Duration,
    name: String,
    turn: Arc<Semaphore>,
}

impl LocalModel {
    /// Loads the file. `template` overrides the chat template the file names; without
    /// either, llama-family files get the Mistral/Llama 2 `[INST]` format.
    pub fn load(
        path: &Path,
        template: Option<ChatTemplate>,
        timeout: Duration,
    ) -> Result<Self, ModelError> {
        let fail = |what: &str, e: &dyn std::fmt::Display| {
            ModelError::Inference(format!("{what} {}: {e}", path.display()))
        };
        let mut file = File::open(path).map_err(|e| fail("cannot open", &e))?;
        let content = Content::read(&mut file).map_err(|e| fail("not a GGUF file:", &e))?;
        let architecture = string(&content, "general.architecture").unwrap_or_default();
        if architecture != "llama" {
            return Err(ModelError::Inference(format!(
                "the in-process runner supports llama-family GGUF files (Llama, Mistral, \
                 MelloGPT); this one is '{architecture}'. Serve it with an OpenAI-compatible \
                 server (llama.cpp, Ollama) and set LLM_BASE_URL instead."
            )));
        }
        let tokenizer = GgufTokenizer::from_gguf(&content)?;
        let template = template
            .or_else(|| {
                string(&content, "tokenizer.chat_template").and_then(|t| ChatTemplate::detect(&t))
            })
            .unwrap_or(ChatTemplate::Mistral);
        let bos = number(&content, "tokenizer.ggml.bos_token_id");
        let mut stops: Vec<u32> = number(&content, "tokenizer.ggml.eos_token_id")
            .into_iter()
            .collect();
        for stop in template.stop_sequences() {
            stops.extend(tokenizer.token_id(stop));
        }
        let context_length = number(&content, "llama.context_length").unwrap_or(4096) as usize;
        let weights = ModelWeights::from_gguf(content, &mut file, &Device::Cpu)
            .map_err(|e| fail("cannot load the weights of", &e))?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "model".into());
        Ok(Self {
            weights,
            tokenizer: Arc::new(tokenizer),
            template,
            bos,
            stops,
            context_length,
            timeout,
            name: format!("local:{name}"),
            turn: Arc::new(Semaphore::new(1)),
        })
    }

    pub fn template(&self) -> ChatTemplate {
        self.template
    }

    /// The prompt's token ids, cut from the front (after BOS) to leave room for the reply.
    fn prompt_ids(&self, request: &ChatRequest) -> Result<Vec<u32>, ModelError> {
        let text = self.template.render(&request.messages);
        let mut ids = self.tokenizer.encode(&text)?;
        let room = self
            .context_length
            .saturating_sub(request.sampling.max_tokens as usize)
            .max(16);
        if ids.len() + 1 > room {
            ids.drain(..ids.len() + 1 - room);
        }
        if let Some(bos) = self.bos {
            ids.insert(0, bos);
        }
        Ok(ids)
    }
}

/// One reply's work, run on a blocking thread.
struct Generation {
    weights: ModelWeights,
    tokenizer: Arc<GgufTokenizer>,
    prompt: Vec<u32>,
    stops: Vec<u32>,
    max_tokens: usize,
    sampler: LogitsProcessor,
}

impl Generation {
    fn run(mut self, tx: &mpsc::Sender<Result<String, ModelError>>) -> Result<(), ModelError> {
        let fail = |e: candle_core::Error| ModelError::Inference(e.to_string());
        let mut context = self.prompt.clone();
        let mut generated: Vec<u32> = Vec::new();
        let mut sent = String::new();
        let mut input = Tensor::new(self.prompt.as_slice(), &Device::Cpu)
            .and_then(|t| t.unsqueeze(0))
            .map_err(fail)?;
        let mut position = 0;
        for _ in 0..self.max_tokens {
            if tx.is_closed() {
                return Ok(());
            }
            let logits = self
                .weights
                .forward(&input, position)
                .and_then(|l| l.squeeze(0))
                .map_err(fail)?;
            position += input.dim(1).map_err(fail)?;
            let window = &context[context.len().saturating_sub(REPEAT_WINDOW)..];
            let logits =
                candle_transformers::utils::apply_repeat_penalty(&logits, REPEAT_PENALTY, window)
                    .map_err(fail)?;
            let next = self.sampler.sample(&logits).map_err(fail)?;
            if self.stops.contains(&next) {
                break;
            }
            context.push(next);
            generated.push(next);
            let text = self.tokenizer.decode(&generated);
            let text = text.trim_start();
            if let Some(piece) = text.strip_prefix(sent.as_str()) {
                if !piece.is_empty() {
                    if tx.blocking_send(Ok(piece.to_owned())).is_err() {
                        return Ok(());
                    }
                    sent = text.to_owned();
                }
            }
            input = Tensor::new(&[next], &Device::Cpu)
                .and_then(|t| t.unsqueeze(0))
                .map_err(fail)?;
        }
        Ok(())
    }
}

#[async_trait]
impl ChatModel for LocalModel {
    #[tracing::instrument(name = "model.request", skip_all, fields(model = "local"))]
    async fn stream(&self, request: ChatRequest) -> Result<TokenStream, ModelError> {
        let prompt = self.prompt_ids(&request)?;
        let sampling = request.sampling;
        let sampler = if sampling.temperature <= 0.0 {
            Sampler::ArgMax
        } else {
            Sampler::TopP {
                p: f64::from(sampling.top_p),
                temperature: f64::from(sampling.temperature),
            }
        };
        let generation = Generation {
            weights: self.weights.clone(),
            tokenizer: self.tokenizer.clone(),
            prompt,
            stops: self.stops.clone(),
            max_tokens: sampling.max_tokens as usize,
            sampler: LogitsProcessor::from_sampling(sampling.seed, sampler),
        };
        let (tx, rx) = mpsc::channel(64);
        let turn = self.turn.clone();
        tokio::spawn(async move {
            // Waits for the reply before this one; a closed stream gives up its place.
            let permit = tokio::select! {
                permit = turn.acquire_owned() => permit,
                () = tx.closed() => return,
            };
            let Ok(permit) = permit else { return };
            let outcome = tokio::task::spawn_blocking(move || {
                let result = generation.run(&tx);
                if let Err(error) = result {
                    let _ = tx.blocking_send(Err(error));
                }
                drop(permit);
            })
            .await;
            if let Err(error) = outcome {
                tracing::error!(%error, "the local model's thread failed");
            }
        });
        Ok(Box::pin(timed(rx, self.timeout)))
    }

    fn name(&self) -> String {
        self.name.clone()
    }
}

/// The pieces from the generation thread, failing with a timeout when one is too slow.
fn timed(
    rx: mpsc::Receiver<Result<String, ModelError>>,
    timeout: Duration,
) -> impl futures_util::Stream<Item = Result<String, ModelError>> + Send {
    futures_util::stream::unfold(Some(rx), move |rx| async move {
        let mut rx = rx?;
        match tokio::time::timeout(timeout, rx.recv()).await {
            Ok(Some(item)) => Some((item, Some(rx))),
            Ok(None) => None,
            Err(_) => Some((Err(ModelError::Timeout), None)),
        }
    })
}
