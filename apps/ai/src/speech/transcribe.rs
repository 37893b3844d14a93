//! The server-side speech-to-text fallback: any OpenAI-compatible
//! `/v1/audio/transcriptions` server (OpenAI, faster-whisper-server/Speaches, LocalAI,
//! whisper.cpp's server with its OpenAI route, Groq…). Normally speech is transcribed
//! in the browser and never leaves the device.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use url::Url;

use super::{http_client, request_error, status_error, TtsError};

pub struct Transcriber {
    http: reqwest::Client,
    endpoint: Url,
    api_key: Option<SecretString>,
    model: String,
}

impl Transcriber {
    pub fn new(
        base_url: &Url,
        api_key: Option<SecretString>,
        model: &str,
    ) -> Result<Self, TtsError> {
        let mut base = base_url.clone();
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let endpoint = base
            .join("audio/transcriptions")
            .map_err(|e| TtsError::Unavailable(format!("bad transcription server URL ({e})")))?;
        Ok(Self {
            http: http_client(Duration::from_secs(120)),
            endpoint,
            api_key,
            model: model.to_owned(),
        })
    }

    /// The words in `audio` (a file of type `content_type`), optionally hinting the
    /// spoken `language` (ISO 639-1).
    pub async fn transcribe(
        &self,
        audio: Vec<u8>,
        content_type: &str,
        language: Option<&str>,
    ) -> Result<String, TtsError> {
        let extension = match content_type {
            "audio/wav" | "audio/x-wav" | "audio/wave" => "wav",
            "audio/webm" => "webm",
            "audio/ogg" => "ogg",
            "audio/mpeg" => "mp3",
            "audio/mp4" => "m4a",
            _ => "bin",
        };
        let file = reqwest::multipart::Part::bytes(audio)
            .file_name(format!("speech.{extension}"))
            .mime_str(content_type)
            .map_err(|_| TtsError::BadInput("That is not an audio type.".into()))?;
        let mut form = reqwest::multipart::Form::new()
            .part("file", file)
            .text("model", self.model.clone())
            .text("response_format", "json");
        if let Some(language) = language {
            form = form.text("language", language.to_owned());
        }
        let mut request = self.http.post(self.endpoint.clone()).multipart(form);
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key.expose_secret());
        }
        let response = request.send().await.map_err(request_error)?;
        if !response.status().is_success() {
            return Err(status_error(response.status()));
        }
        let body: Value = response.json().await.map_err(|_| {
            TtsError::Failed("the transcription server sent an unreadable reply".into())
        })?;
        body["text"]
            .as_str()
            .map(|t| t.trim().to_owned())
            .ok_or_else(|| TtsError::Failed("the transcription server sent no text".into()))
    }
}
