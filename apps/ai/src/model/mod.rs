//! Language models behind one streaming interface.
//!
//! [`ChatModel`] is what the backend talks to; it never knows whether the words come
//! from an OpenAI-compatible server ([`openai::OpenAiCompatible`]) or from a GGUF file
//! run in this process. A reply is a stream of text pieces; dropping the stream cancels
//! the generation.

pub mod local;
pub mod openai;
mod spm;
mod sse;

use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::Stream;
use serde::{Deserialize, Serialize};

/// Who said a turn of a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatRole {
    System,
    User,
    Assistant,
}

/// One turn of a conversation as the model sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: ChatRole,
    pub content: String,
}

impl ChatMessage {
    pub fn new(role: ChatRole, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
        }
    }
}

/// How the next words are chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampling {
    /// The most tokens one reply may have.
    pub max_tokens: u32,
    /// 0 picks the likeliest token every time; higher is more varied.
    pub temperature: f32,
    /// Nucleus sampling: only the likeliest tokens whose probabilities add up to this.
    pub top_p: f32,
    /// For reproducible sampling in tests and benchmarks.
    pub seed: u64,
}

impl Default for Sampling {
    fn default() -> Self {
        Self {
            max_tokens: 512,
            temperature: 0.7,
            top_p: 0.9,
            seed: 299_792_458,
        }
    }
}

/// A whole prompt: the system prompt first, then the conversation, ending with the
/// person's newest message.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    pub messages: Vec<ChatMessage>,
    pub sampling: Sampling,
}

/// Why a model could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// The model server could not be reached or dropped the connection.
    #[error("the model server could not be reached ({0})")]
    Unreachable(String),
    /// Nothing came back in time.
    #[error("the model did not answer in time")]
    Timeout,
    /// The model server is overloaded or failing (429 or 5xx), even after retries.
    #[error("the model server is busy or failing (HTTP {status})")]
    Overloaded {
        status: u16,
        retry_after: Option<Duration>,
    },
    /// The model server refused the request itself (4xx): a configuration problem such
    /// as a wrong model id or API key. Its body is not kept: it may quote the prompt.
    #[error("the model server refused the request (HTTP {status})")]
    Rejected { status: u16 },
    /// The model server answered with something that is not the protocol.
    #[error("the model server sent an unreadable reply ({0})")]
    Protocol(String),
    /// The in-process model failed to load or to run.
    #[error("the local model failed ({0})")]
    Inference(String),
}

impl ModelError {
    /// Every value [`ModelError::kind`] takes.
    pub const KINDS: [&'static str; 6] = [
        "unreachable",
        "timeout",
        "overloaded",
        "rejected",
        "protocol",
        "inference",
    ];

    /// A short, stable name for the kind of failure (a metric label; never content).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Unreachable(_) => "unreachable",
            Self::Timeout => "timeout",
            Self::Overloaded { .. } => "overloaded",
            Self::Rejected { .. } => "rejected",
            Self::Protocol(_) => "protocol",
            Self::Inference(_) => "inference",
        }
    }

    /// Whether sending the same message again later may work.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Unreachable(_) | Self::Timeout | Self::Overloaded { .. }
        )
    }
}

/// The pieces of a reply as they are generated.
pub type TokenStream = Pin<Box<dyn Stream<Item = Result<String, ModelError>> + Send>>;

/// A language model that streams its reply.
#[async_trait]
pub trait ChatModel: Send + Sync + 'static {
    /// Starts a reply. Errors that happen before the model accepted the request (the
    /// server is down, refuses, is overloaded after retries) come back here; later ones
    /// come as the stream's items. Dropping the stream stops the generation.
    async fn stream(&self, request: ChatRequest) -> Result<TokenStream, ModelError>;

    /// A short name for logs, metrics and the readiness probe, e.g. `openai:mellogpt`.
    fn name(&self) -> String;
}

/// Where the running server keeps its language model: empty until one is configured,
/// and replaced while it runs when a model is installed from the setup page. Clones
/// share the slot, so the supporter, the judge and the memory summaries all see the
/// new model at once; a reply already streaming keeps the model it started with.
#[derive(Clone, Default)]
pub struct ModelSlot(std::sync::Arc<std::sync::RwLock<Option<std::sync::Arc<dyn ChatModel>>>>);

impl ModelSlot {
    pub fn new(model: Option<std::sync::Arc<dyn ChatModel>>) -> Self {
        Self(std::sync::Arc::new(std::sync::RwLock::new(model)))
    }

    /// The model now in the slot.
    pub fn get(&self) -> Option<std::sync::Arc<dyn ChatModel>> {
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Puts `model` in the slot; later turns use it.
    pub fn set(&self, model: std::sync::Arc<dyn ChatModel>) {
        *self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(model);
    }

    pub fn is_some(&self) -> bool {
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_some()
    }
}

/// The slot answers as its model does; empty, it refuses as an unreachable model would.
#[async_trait]
impl ChatModel for ModelSlot {
    async fn stream(&self, request: ChatRequest) -> Result<TokenStream, ModelError> {
        match self.get() {
            Some(model) => model.stream(request).await,
            None => Err(ModelError::Unreachable(
                "no language model is configured".to_owned(),
            )),
        }
    }

    fn name(&self) -> String {
        self.get().map_or_else(|| "none".to_owned(), |m| m.name())
    }
}

#[cfg(test)]
mod tests {
    use super::ModelError;

    #[test]
    fn every_error_kind_is_listed_once() {
        let errors = [
            ModelError::Unreachable(String::new()),
            ModelError::Timeout,
            ModelError::Overloaded {
                status: 503,
                retry_after: None,
            },
            ModelError::Rejected { status: 401 },
            ModelError::Protocol(String::new()),
            ModelError::Inference(String::new()),
        ];
        let kinds: Vec<&str> = errors.iter().map(ModelError::kind).collect();
        assert_eq!(kinds, ModelError::KINDS);
    }
}
