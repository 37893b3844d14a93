//! The therapist's voice: spoken replies as background text-to-speech jobs, one clip
//! per sentence so the first words play while the rest is still being written, and
//! the server-side transcription fallback.
//!
//! A reply's sentences become `speech_clips` rows (the text waits there until it is
//! spoken) and `tts` jobs that carry only the conversation and the clip key. Clips are
//! keyed by a hash of provider, voice and text, so speaking the same words again in a
//! conversation is free. Deleting the conversation deletes its clips.

mod clips;
mod http;

use std::sync::Arc;
use std::time::{Duration, Instant};

use solace_ai::speech::transcribe::Transcriber;
use solace_ai::speech::{ElevenLabs, EspeakNg, OpenAiSpeech, Tts};
use tokio::sync::{Mutex, Notify};

pub use clips::Clip;
use http::checked_voice;
pub use http::{router, speech_off};

use crate::config::{Config, TtsChoice};
use crate::db::Db;
use crate::error::{Error, ErrorCode, Result};
use crate::jobs::worker::{Handler, JobError};
use crate::jobs::{JobQueue, NewJob};

/// The queue text-to-speech jobs wait in.
pub const QUEUE: &str = "tts";
/// Attempts per clip before it is dead-lettered.
const MAX_ATTEMPTS: u32 = 4;

/// A provider's voice ids and when they were listed.
type Listed = (Instant, Vec<String>);

/// Speech for the whole app; cheap to clone.
#[derive(Clone)]
pub struct Speech {
    pub tts: Option<Arc<dyn Tts>>,
    pub transcriber: Option<Arc<Transcriber>>,
    pub jobs: Arc<dyn JobQueue>,
    /// Wakes a local worker when a job is added.
    pub wake: Arc<Notify>,
    /// Wakes requests waiting for a clip when one is ready.
    pub ready: Arc<Notify>,
    /// The provider's voices as last listed.
    voices: Arc<Mutex<Option<Listed>>>,
}

impl Speech {
    pub async fn build(config: &Config, db: &Db) -> Result<Self> {
        let jobs = crate::jobs::connect(
            config.jobs_backend,
            db,
            config.redis_url.as_ref(),
            &config.cache_key_prefix,
        )
        .await
        .map_err(|e| Error::Startup(format!("JOBS_BACKEND: {e}")))?;
        let transcriber = match &config.speech.stt {
            Some(stt) => Some(Arc::new(
                Transcriber::new(&stt.base_url, stt.api_key.clone(), &stt.model)
                    .map_err(|e| Error::Startup(format!("STT_BASE_URL: {e}")))?,
            )),
            None => None,
        };
        Ok(Self {
            tts: build_tts(&config.speech.tts).await?,
            transcriber,
            jobs,
            wake: Arc::new(Notify::new()),
            ready: Arc::new(Notify::new()),
            voices: Arc::default(),
        })
    }

    /// The voice a client asked for: refused with 422 `invalid_voice` unless it is a short
    /// plain name ([`checked_voice`]), and with `unknown_voice` unless the provider lists
    /// it (a made-up name would queue work that can only fail). The list is kept for ten
    /// minutes; when the provider cannot list its voices, the name is let through and the
    /// provider decides.
    pub async fn known_voice(&self, voice: Option<String>) -> Result<Option<String>> {
        const FRESH: Duration = Duration::from_secs(600);
        let voice = checked_voice(voice)?;
        let (Some(name), Some(tts)) = (voice.as_deref(), &self.tts) else {
            return Ok(voice);
        };
        let mut listed = self.voices.lock().await;
        if listed.as_ref().is_none_or(|(at, _)| at.elapsed() > FRESH) {
            match tts.voices().await {
                Ok(voices) => {
                    *listed = Some((Instant::now(), voices.into_iter().map(|v| v.id).collect()));
                }
                Err(error) => {
                    tracing::debug!(%error, "cannot list the provider's voices");
                    return Ok(voice);
                }
            }
        }
        let known = name == tts.default_voice()
            || listed
                .as_ref()
                .is_some_and(|(_, voices)| voices.iter().any(|v| v == name));
        if known {
            Ok(voice)
        } else {
            Err(Error::validation(
                ErrorCode::UnknownVoice,
                "That voice is not offered here; see /api/ai/voices.",
            ))
        }
    }

    /// Queues one sentence of a reply to be spoken; returns the clip to fetch. The same
    /// words in the same voice in the same conversation are one clip.
    pub async fn speak(
        &self,
        db: &Db,
        owner_id: &str,
        session_id: &str,
        text: &str,
        voice: Option<&str>,
    ) -> Result<Option<Clip>> {
        let Some(tts) = &self.tts else {
            return Ok(None);
        };
        let text = solace_ai::speech::speakable(text);
        if text.is_empty() {
            return Ok(None);
        }
        let voice = voice.unwrap_or(tts.default_voice());
        let key = solace_ai::speech::cache_key(tts.provider(), voice, &text);
        let clip = clips::add(db, owner_id, session_id, &key, tts.provider(), voice, &text).await?;
        if clip.status == clips::Status::Pending {
            self.jobs
                .enqueue(NewJob {
                    queue: QUEUE,
                    idempotency_key: format!("tts:{session_id}:{key}"),
                    payload: serde_json::json!({ "session_id": session_id, "clip_key": key }),
                    max_attempts: MAX_ATTEMPTS,
                })
                .await?;
            self.wake.notify_one();
        }
        Ok(Some(clip))
    }

    /// The job handler: speaks one clip and stores the audio.
    pub fn handler(&self, db: Db) -> Handler {
        let speech = self.clone();
        Arc::new(move |job| {
            let (speech, db) = (speech.clone(), db.clone());
            Box::pin(async move { speech.synthesize(&db, &job).await })
        })
    }

    async fn synthesize(&self, db: &Db, job: &crate::jobs::Job) -> Result<(), JobError> {
        let (Some(session_id), Some(clip_key)) = (
            job.payload["session_id"].as_str(),
            job.payload["clip_key"].as_str(),
        ) else {
            return Err(JobError::fatal("the job names no clip"));
        };
        let Some(tts) = &self.tts else {
            return Err(JobError::retry("no text-to-speech provider on this worker"));
        };
        let pending = clips::pending(db, session_id, clip_key)
            .await
            .map_err(|e| JobError::retry(format!("database: {e}")))?;
        // Already spoken, or its conversation was deleted: nothing to do.
        let Some(clips::PendingClip {
            owner_id,
            voice,
            text,
        }) = pending
        else {
            return Ok(());
        };
        match tts.synthesize(&text, Some(&voice)).await {
            Ok(speech) => {
                clips::ready(
                    db,
                    &owner_id,
                    session_id,
                    clip_key,
                    &speech.content_type,
                    &speech.audio,
                )
                .await
                .map_err(|e| JobError::retry(format!("database: {e}")))?;
                self.ready.notify_waiters();
                Ok(())
            }
            Err(error) => {
                let last = !error.is_retryable() || job.attempt >= job.max_attempts;
                if last {
                    let _ = clips::failed(db, session_id, clip_key, &error.to_string()).await;
                    self.ready.notify_waiters();
                }
                // The provider's message names a status or a cause, never the text.
                Err(JobError::from_provider(&error, error.is_retryable()))
            }
        }
    }

    /// Runs the text-to-speech worker until `stop`.
    pub async fn run_worker(
        self,
        db: Db,
        concurrency: usize,
        stop: impl std::future::Future<Output = ()>,
    ) {
        let handler = self.handler(db);
        crate::jobs::worker::run(
            self.jobs.clone(),
            QUEUE,
            handler,
            concurrency,
            self.wake.clone(),
            stop,
        )
        .await;
    }
}

/// The configured provider. espeak-ng chosen by default but not installed turns
/// speech off with a warning; asked for by name, its absence stops the start.
async fn build_tts(choice: &TtsChoice) -> Result<Option<Arc<dyn Tts>>> {
    Ok(match choice {
        TtsChoice::Off => None,
        TtsChoice::Espeak {
            path,
            voice,
            explicit,
        } => match EspeakNg::detect(path.clone(), voice).await {
            Ok(espeak) => Some(Arc::new(espeak)),
            Err(error) if *explicit => {
                return Err(Error::Startup(format!("TTS_PROVIDER=espeak-ng: {error}")))
            }
            Err(error) => {
                tracing::warn!(%error, "spoken replies are off");
                None
            }
        },
        TtsChoice::OpenAi {
            base_url,
            api_key,
            model,
            voice,
            format,
        } => Some(Arc::new(OpenAiSpeech::new(
            base_url,
            api_key.clone(),
            model,
            voice,
            format,
        ))),
        TtsChoice::ElevenLabs {
            base_url,
            api_key,
            voice_id,
            model,
        } => Some(Arc::new(ElevenLabs::new(
            base_url.clone(),
            api_key.clone(),
            voice_id,
            model,
        ))),
    })
}

/// What the app needs to know to offer voice: who speaks replies, and how speech is
/// transcribed (in the browser with the Whisper files in MODELS_DIR, else on the server).
/// What the app can do with voice on this server.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct SpeechInfo {
    /// The text-to-speech provider (`espeak`, `openai`, `elevenlabs`), null when off.
    #[schema(required = true)]
    tts: Option<&'static str>,
    #[schema(required = true)]
    default_voice: Option<String>,
    /// The Whisper files the browser can transcribe with, null when none are installed.
    #[schema(required = true)]
    browser_transcription: Option<WhisperInfo>,
    /// Whether `/api/ai/transcribe` works here.
    server_transcription: bool,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct WhisperInfo {
    model: String,
    /// `fp32` or `q8`.
    dtype: &'static str,
}

pub fn info(state: &crate::state::AppState) -> SpeechInfo {
    let speech = &state.config.speech;
    let folder = state.config.models_dir.join(&speech.whisper_model);
    // fp32 files when present (the most accurate), else the 8-bit ones.
    let dtype = [
        ("decoder_model_merged.onnx", "fp32"),
        ("decoder_model_merged_quantized.onnx", "q8"),
    ]
    .into_iter()
    .find(|(file, _)| folder.join("onnx").join(file).is_file())
    .map(|(_, dtype)| dtype);
    SpeechInfo {
        tts: state.speech.tts.as_ref().map(|t| t.provider()),
        default_voice: state
            .speech
            .tts
            .as_ref()
            .map(|t| t.default_voice().to_owned()),
        browser_transcription: dtype.map(|dtype| WhisperInfo {
            model: speech.whisper_model.clone(),
            dtype,
        }),
        server_transcription: state.speech.transcriber.is_some(),
    }
}

/// How long a request waits for a clip before answering 504.
pub const CLIP_WAIT: Duration = Duration::from_secs(25);
