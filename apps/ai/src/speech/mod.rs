//! Speech for the therapist: text-to-speech providers behind one trait, and the text
//! handling a spoken reply needs (sentences as tokens stream in, Markdown removed).
//!
//! Providers: embedded espeak-ng (a Debian package, no network), any OpenAI-compatible
//! `/v1/audio/speech` server, and ElevenLabs' streaming API. Speech-to-text runs in the
//! browser; the server-side fallback is an OpenAI-compatible `/v1/audio/transcriptions`
//! client ([`transcribe`]).

mod elevenlabs;
mod espeak;
mod openai;
mod sentences;
pub mod transcribe;
pub mod wav;

use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;
use sha2::{Digest, Sha256};

pub use elevenlabs::{
    ElevenLabs, DEFAULT_BASE_URL as ELEVENLABS_BASE_URL, DEFAULT_MODEL as ELEVENLABS_MODEL,
};
pub use espeak::EspeakNg;
pub use openai::OpenAiSpeech;
pub use sentences::{speakable, SentenceSplitter};

/// Synthesized audio.
#[derive(Debug, Clone)]
pub struct Speech {
    pub audio: Vec<u8>,
    /// `audio/wav`, `audio/mpeg` or `audio/ogg`.
    pub content_type: String,
}

/// A voice a provider offers.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Voice {
    pub id: String,
    pub name: String,
    /// BCP 47-ish language tag when the provider says (`en-us`).
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub language: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum TtsError {
    /// The provider is not there: the espeak-ng program is missing, or no server.
    #[error("text-to-speech is unavailable: {0}")]
    Unavailable(String),
    /// The provider could not be reached or failed (5xx, 429, timeout): try again later.
    #[error("the speech server failed ({0})")]
    Failed(String),
    /// The provider refused the request (4xx): a wrong key, voice or model. Trying
    /// again will not help.
    #[error("the speech server refused the request (HTTP {status})")]
    Rejected { status: u16 },
    /// Nothing to say, or too much at once.
    #[error("{0}")]
    BadInput(String),
}

impl TtsError {
    /// Whether the same request may succeed later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Failed(_))
    }
}

/// The longest text one synthesis takes; replies are spoken sentence by sentence.
pub const MAX_CHARS: usize = 2_000;

/// One text-to-speech provider.
#[async_trait]
pub trait Tts: Send + Sync + 'static {
    /// Speaks `text` in `voice` (the provider's default when `None`).
    async fn synthesize(&self, text: &str, voice: Option<&str>) -> Result<Speech, TtsError>;
    /// The voices it offers.
    async fn voices(&self) -> Result<Vec<Voice>, TtsError>;
    /// `espeak-ng`, `openai` or `elevenlabs`: part of the cache key and shown in the UI.
    fn provider(&self) -> &'static str;
    /// The voice used when none is chosen.
    fn default_voice(&self) -> &str;
}

/// The key audio is cached under: the same words in the same voice from the same
/// provider are synthesized once.
pub fn cache_key(provider: &str, voice: &str, text: &str) -> String {
    let mut hash = Sha256::new();
    for part in [provider, voice, text] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks the text a provider is asked to speak.
fn checked(text: &str) -> Result<&str, TtsError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(TtsError::BadInput("There is nothing to say.".into()));
    }
    if text.chars().count() > MAX_CHARS {
        return Err(TtsError::BadInput(format!(
            "At most {MAX_CHARS} characters can be spoken at once."
        )));
    }
    Ok(text)
}

/// An HTTP client for speech servers: bounded connect and total time.
fn http_client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(timeout)
        .build()
        .unwrap_or_default()
}

/// Maps an HTTP failure to the error kind: 429/5xx may pass, other 4xx will not.
fn status_error(status: reqwest::StatusCode) -> TtsError {
    if status.as_u16() == 429 || status.is_server_error() {
        TtsError::Failed(format!("HTTP {status}"))
    } else {
        TtsError::Rejected {
            status: status.as_u16(),
        }
    }
}

fn request_error(error: reqwest::Error) -> TtsError {
    TtsError::Failed(if error.is_timeout() {
        "timed out".into()
    } else if error.is_connect() {
        "could not connect".into()
    } else {
        "the connection failed".into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_keys_differ_by_provider_voice_and_text_and_do_not_collide_on_joins() {
        let a = cache_key("espeak-ng", "en-us", "Hello.");
        assert_eq!(a, cache_key("espeak-ng", "en-us", "Hello."));
        assert_ne!(a, cache_key("espeak-ng", "en-gb", "Hello."));
        assert_ne!(a, cache_key("openai", "en-us", "Hello."));
        assert_ne!(
            cache_key("ab", "c", "d"),
            cache_key("a", "bc", "d"),
            "length-prefixed parts"
        );
        assert_eq!(a.len(), 64);
    }

    #[test]
    fn empty_or_huge_texts_are_refused() {
        assert!(matches!(checked("  "), Err(TtsError::BadInput(_))));
        assert!(matches!(
            checked(&"a".repeat(MAX_CHARS + 1)),
            Err(TtsError::BadInput(_))
        ));
        assert_eq!(checked(" Hi. ").ok(), Some("Hi."));
    }
}
