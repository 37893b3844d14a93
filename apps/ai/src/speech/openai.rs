//! Any OpenAI-compatible `/v1/audio/speech` server: OpenAI itself, Kokoro-FastAPI,
//! openedai-speech, LocalAI, and others.

use std::time::Duration;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use url::Url;

use super::{checked, http_client, request_error, status_error, Speech, Tts, TtsError, Voice};

/// OpenAI's own voices, offered when the server does not list its voices.
const OPENAI_VOICES: &[&str] = &[
    "alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer", "verse",
];

pub struct OpenAiSpeech {
    http: reqwest::Client,
    base: Url,
    api_key: Option<SecretString>,
    model: String,
    voice: String,
    /// `mp3`, `wav`, `opus`, `aac` or `flac`.
    format: String,
}

impl OpenAiSpeech {
    /// `base_url` is the API root up to and including `/v1`.
    pub fn new(
        base_url: &Url,
        api_key: Option<SecretString>,
        model: &str,
        voice: &str,
        format: &str,
    ) -> Self {
        let mut base = base_url.clone();
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        Self {
            http: http_client(Duration::from_secs(60)),
            base,
            api_key,
            model: model.to_owned(),
            voice: voice.to_owned(),
            format: format.to_owned(),
        }
    }

    fn request(
        &self,
        method: reqwest::Method,
        path: &str,
    ) -> Result<reqwest::RequestBuilder, TtsError> {
        let url = self
            .base
            .join(path)
            .map_err(|e| TtsError::Unavailable(format!("bad speech server URL ({e})")))?;
        let request = self.http.request(method, url);
        Ok(match &self.api_key {
            Some(key) => request.bearer_auth(key.expose_secret()),
            None => request,
        })
    }
}

/// The media type of an OpenAI `response_format`.
fn content_type(format: &str) -> &'static str {
    match format {
        "wav" => "audio/wav",
        "opus" => "audio/ogg",
        "aac" => "audio/aac",
        "flac" => "audio/flac",
        "pcm" => "audio/L16",
        _ => "audio/mpeg",
    }
}

#[async_trait]
impl Tts for OpenAiSpeech {
    async fn synthesize(&self, text: &str, voice: Option<&str>) -> Result<Speech, TtsError> {
        let text = checked(text)?;
        let body = json!({
            "model": self.model,
            "input": text,
            "voice": voice.unwrap_or(&self.voice),
            "response_format": self.format,
        });
        let response = self
            .request(reqwest::Method::POST, "audio/speech")?
            .json(&body)
            .send()
            .await
            .map_err(request_error)?;
        if !response.status().is_success() {
            return Err(status_error(response.status()));
        }
        let audio = response.bytes().await.map_err(request_error)?.to_vec();
        if audio.is_empty() {
            return Err(TtsError::Failed("the speech server sent no audio".into()));
        }
        Ok(Speech {
            audio,
            content_type: content_type(&self.format).into(),
        })
    }

    async fn voices(&self) -> Result<Vec<Voice>, TtsError> {
        // Kokoro-FastAPI and others list their voices here; OpenAI does not.
        let listed = match self
            .request(reqwest::Method::GET, "audio/voices")?
            .send()
            .await
        {
            Ok(response) if response.status().is_success() => response
                .json::<Value>()
                .await
                .ok()
                .map(|v| listed_voices(&v)),
            _ => None,
        };
        let mut ids: Vec<String> = listed
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| OPENAI_VOICES.iter().map(|v| (*v).to_owned()).collect());
        if !ids.contains(&self.voice) {
            ids.insert(0, self.voice.clone());
        }
        Ok(ids
            .into_iter()
            .map(|id| Voice {
                name: id.clone(),
                id,
                language: None,
            })
            .collect())
    }

    fn provider(&self) -> &'static str {
        "openai"
    }

    fn default_voice(&self) -> &str {
        &self.voice
    }
}

/// `{"voices": ["af_bella", …]}` or `{"voices": [{"id"|"name": …}, …]}`.
fn listed_voices(value: &Value) -> Vec<String> {
    value["voices"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| {
            v.as_str()
                .or_else(|| v["id"].as_str())
                .or_else(|| v["name"].as_str())
                .map(str::to_owned)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voice_lists_come_as_strings_or_objects() {
        assert_eq!(
            listed_voices(&json!({ "voices": ["af_bella", { "id": "am_adam" }, { "name": "x" }] })),
            vec!["af_bella", "am_adam", "x"]
        );
        assert!(listed_voices(&json!({ "data": [] })).is_empty());
    }

    #[test]
    fn formats_map_to_media_types() {
        assert_eq!(content_type("mp3"), "audio/mpeg");
        assert_eq!(content_type("wav"), "audio/wav");
        assert_eq!(content_type("opus"), "audio/ogg");
    }
}
