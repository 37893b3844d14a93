//! ElevenLabs: natural voices over its streaming text-to-speech API.

use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use url::Url;

use super::{checked, http_client, request_error, status_error, Speech, Tts, TtsError, Voice};

pub const DEFAULT_BASE_URL: &str = "https://api.elevenlabs.io";
/// Low latency, many languages.
pub const DEFAULT_MODEL: &str = "eleven_flash_v2_5";
const OUTPUT_FORMAT: &str = "mp3_44100_128";

pub struct ElevenLabs {
    http: reqwest::Client,
    base: Url,
    api_key: SecretString,
    voice_id: String,
    model_id: String,
}

impl ElevenLabs {
    pub fn new(base: Url, api_key: SecretString, voice_id: &str, model_id: &str) -> Self {
        Self {
            http: http_client(Duration::from_secs(60)),
            base,
            api_key,
            voice_id: voice_id.to_owned(),
            model_id: model_id.to_owned(),
        }
    }

    fn url(&self, segments: &[&str]) -> Result<Url, TtsError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| TtsError::Unavailable("bad ElevenLabs URL".into()))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }
}

#[async_trait]
impl Tts for ElevenLabs {
    async fn synthesize(&self, text: &str, voice: Option<&str>) -> Result<Speech, TtsError> {
        let text = checked(text)?;
        let voice = voice.unwrap_or(&self.voice_id);
        // ElevenLabs voice ids are letters and digits; anything else is not one.
        if voice.is_empty() || voice.len() > 64 || !voice.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return Err(TtsError::BadInput(format!("'{voice}' is not a voice id.")));
        }
        let mut url = self.url(&["v1", "text-to-speech", voice, "stream"])?;
        url.query_pairs_mut()
            .append_pair("output_format", OUTPUT_FORMAT);
        let response = self
            .http
            .post(url)
            .header("xi-api-key", self.api_key.expose_secret())
            .json(&json!({ "text": text, "model_id": self.model_id }))
            .send()
            .await
            .map_err(request_error)?;
        if !response.status().is_success() {
            return Err(status_error(response.status()));
        }
        // The audio streams in as it is generated.
        let mut audio = Vec::new();
        let mut chunks = response.bytes_stream();
        while let Some(chunk) = chunks.next().await {
            audio.extend_from_slice(&chunk.map_err(request_error)?);
        }
        if audio.is_empty() {
            return Err(TtsError::Failed("ElevenLabs sent no audio".into()));
        }
        Ok(Speech {
            audio,
            content_type: "audio/mpeg".into(),
        })
    }

    async fn voices(&self) -> Result<Vec<Voice>, TtsError> {
        let response = self
            .http
            .get(self.url(&["v1", "voices"])?)
            .header("xi-api-key", self.api_key.expose_secret())
            .send()
            .await
            .map_err(request_error)?;
        if !response.status().is_success() {
            return Err(status_error(response.status()));
        }
        let listing: Value = response
            .json()
            .await
            .map_err(|_| TtsError::Failed("ElevenLabs sent an unreadable voice list".into()))?;
        Ok(listing["voices"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| {
                Some(Voice {
                    id: v["voice_id"].as_str()?.to_owned(),
                    name: v["name"].as_str().unwrap_or("Unnamed").to_owned(),
                    language: v["labels"]["language"]
                        .as_str()
                        .or_else(|| v["labels"]["accent"].as_str())
                        .map(str::to_owned),
                })
            })
            .collect())
    }

    fn provider(&self) -> &'static str {
        "elevenlabs"
    }

    fn default_voice(&self) -> &str {
        &self.voice_id
    }
}
