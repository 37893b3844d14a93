//! Speech over HTTP: voices, spoken messages, clips, and server-side transcription.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use solace_ai::speech::{wav, SentenceSplitter, TtsError, Voice};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::clips::{self, Fetched};
use super::{Clip, CLIP_WAIT};
use crate::auth::Identity;
use crate::chat::{get_message, Role};
use crate::error::{Error, ErrorCode, Result};
use crate::extract::{ApiJson, ApiQuery};
use crate::jobs::JobStatus;
use crate::limits::Limit;
use crate::openapi::{JsonBody, Limited, Missing, QueryString, SignedIn, Unavailable, Upstream};
use crate::state::AppState;

pub fn router(config: &crate::config::Config) -> OpenApiRouter<AppState> {
    // A minute of 48 kHz 16-bit mono WAV, and then some: the route's own body limit.
    let max_upload = usize::try_from(config.speech.stt_max_seconds)
        .unwrap_or(60)
        .saturating_mul(96_000)
        .saturating_add(4_096);
    let (schemas, paths, transcribe) = routes!(transcribe);
    OpenApiRouter::new()
        .routes(routes!(voices))
        .routes(routes!(speak_message))
        .routes(routes!(clip))
        .routes((
            schemas,
            paths,
            transcribe.layer(DefaultBodyLimit::max(max_upload)),
        ))
}

#[derive(Debug, Serialize, ToSchema)]
struct Voices {
    /// Null when spoken replies are off on this server.
    #[schema(required = true)]
    provider: Option<&'static str>,
    #[schema(required = true)]
    default_voice: Option<String>,
    voices: Vec<Voice>,
}

/// The text-to-speech provider and its voices. Public: it says nothing about anyone.
#[utoipa::path(get, path = "/ai/voices", tag = "speech",
    responses((status = 200, description = "The voices.", body = Voices), Upstream))]
async fn voices(State(state): State<AppState>) -> Result<Json<Voices>> {
    let Some(tts) = &state.speech.tts else {
        return Ok(Json(Voices {
            provider: None,
            default_voice: None,
            voices: Vec::new(),
        }));
    };
    let voices = tts.voices().await.map_err(speech_error)?;
    Ok(Json(Voices {
        provider: Some(tts.provider()),
        default_voice: Some(tts.default_voice().to_owned()),
        voices,
    }))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SpeakInput {
    /// A voice from `/api/ai/voices`; the provider's default when absent.
    pub voice: Option<String>,
}

/// The clips one message is spoken in.
#[derive(Debug, Serialize, ToSchema)]
struct SpokenMessage {
    message_id: String,
    clips: Vec<Clip>,
}

/// Checks a voice name from a client: short and plain (each provider checks its own).
pub(super) fn checked_voice(voice: Option<String>) -> Result<Option<String>> {
    match voice {
        Some(v) if v.is_empty() || v.len() > 64 || v.chars().any(char::is_control) => {
            Err(Error::validation(
                ErrorCode::InvalidVoice,
                "A voice is a short name from /api/ai/voices.",
            ))
        }
        other => Ok(other),
    }
}

/// Speaks one of the therapist's messages, sentence by sentence (the body is optional).
/// Clips already made are reused, so replays cost nothing.
#[utoipa::path(post, path = "/ai/messages/{id}/speech", tag = "speech", params(("id" = String, Path, description = "The message.")),
    request_body(content = Option<SpeakInput>),
    security(("session_cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The clips, in playing order; fetch each `url`.", body = SpokenMessage),
        SignedIn, Missing, JsonBody, Limited, Unavailable, Upstream,
    ))]
async fn speak_message(
    State(state): State<AppState>,
    identity: Identity,
    Path(id): Path<String>,
    input: Option<ApiJson<Option<SpeakInput>>>,
) -> Result<Json<SpokenMessage>> {
    let voice = state
        .speech
        .known_voice(input.and_then(|ApiJson(i)| i).and_then(|i| i.voice))
        .await?;
    let owner = &identity.user.id;
    // Each request may queue a job per sentence: counted like messages to the AI.
    Limit::per_minute("speech", state.config.chat.messages_per_minute)
        .hit(state.cache.as_ref(), owner)
        .await?;
    let message = get_message(&state.db, owner, &id).await?;
    if message.role != Role::Assistant {
        return Err(Error::validation(
            ErrorCode::NotAReply,
            "Only the therapist's replies are spoken.",
        ));
    }
    if state.speech.tts.is_none() {
        return Err(speech_off());
    }
    let mut splitter = SentenceSplitter::new();
    let mut sentences = splitter.push(&message.content);
    sentences.extend(splitter.finish());
    let mut clips: Vec<Clip> = Vec::new();
    for sentence in sentences {
        let clip = state
            .speech
            .speak(
                &state.db,
                owner,
                &message.session_id,
                &sentence,
                voice.as_deref(),
            )
            .await?;
        clips.extend(clip);
    }
    Ok(Json(SpokenMessage {
        message_id: message.id,
        clips,
    }))
}

/// Spoken replies are off on this server: 503.
pub fn speech_off() -> Error {
    Error::Unavailable {
        code: ErrorCode::SpeechNotConfigured,
        message: "Spoken replies are off on this server. An administrator can install espeak-ng or set TTS_PROVIDER.".into(),
    }
}

/// What a provider's failure means for the person asking.
fn speech_error(error: TtsError) -> Error {
    match error {
        TtsError::BadInput(message) => Error::validation(ErrorCode::InvalidSpeechRequest, message),
        TtsError::Unavailable(_) => speech_off(),
        TtsError::Failed(_) | TtsError::Rejected { .. } => {
            tracing::warn!(%error, "speech provider failed");
            Error::Upstream {
                code: ErrorCode::SpeechUnavailable,
                message:
                    "The voice service is not answering right now. Please try again in a moment."
                        .into(),
            }
        }
    }
}

/// One clip's audio, waiting (up to 25 s) while it is being made.
#[utoipa::path(get, path = "/ai/speech/{session_id}/{clip_key}", tag = "speech",
    params(("session_id" = String, Path), ("clip_key" = String, Path)),
    security(("session_cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The audio (WAV, MP3 or Ogg, as the provider makes it); immutable.", content(
            (inline(crate::openapi::Binary) = "audio/wav"), (inline(crate::openapi::Binary) = "audio/mpeg"), (inline(crate::openapi::Binary) = "audio/ogg"),
        )),
        SignedIn, Missing, Upstream,
    ))]
async fn clip(
    State(state): State<AppState>,
    identity: Identity,
    Path((session_id, clip_key)): Path<(String, String)>,
) -> Result<Response> {
    let owner = &identity.user.id;
    let started = Instant::now();
    loop {
        // Listen before looking, so a clip finished in between still wakes us.
        let ready = state.speech.ready.notified();
        match clips::fetch(&state.db, owner, &session_id, &clip_key).await? {
            None => return Err(Error::NotFound),
            Some(Fetched::Ready {
                content_type,
                audio,
            }) => {
                let mut response = audio.into_response();
                let headers = response.headers_mut();
                headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_str(&content_type)
                        .unwrap_or(HeaderValue::from_static("application/octet-stream")),
                );
                // The key is a hash of the content: it never changes.
                headers.insert(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("private, max-age=86400, immutable"),
                );
                return Ok(response);
            }
            Some(Fetched::Failed) => return Err(clip_failed()),
            Some(Fetched::Pending) => {
                let key = format!("tts:{session_id}:{clip_key}");
                if state.speech.jobs.status(&key).await? == Some(JobStatus::Dead) {
                    return Err(clip_failed());
                }
            }
        }
        let left = CLIP_WAIT.saturating_sub(started.elapsed());
        if left.is_zero() {
            return Err(Error::Timeout {
                code: ErrorCode::SpeechTimeout,
                message: "The voice took too long. Please try again.".into(),
            });
        }
        // Another process may finish it: look again every quarter second.
        let _ = tokio::time::timeout(left.min(std::time::Duration::from_millis(250)), ready).await;
    }
}

fn clip_failed() -> Error {
    Error::Upstream {
        code: ErrorCode::SpeechFailed,
        message: "This part of the reply could not be spoken. The text is still there to read."
            .into(),
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct TranscribeQuery {
    /// ISO 639-1, e.g. `en`.
    language: Option<String>,
}

/// The words of a recording.
#[derive(Debug, Serialize, ToSchema)]
struct Transcript {
    text: String,
}

/// The words of a WAV recording, from the configured transcription server. Used only
/// when the browser cannot transcribe by itself; the recording is not stored.
#[utoipa::path(post, path = "/ai/transcribe", tag = "speech", params(TranscribeQuery),
    request_body(content = inline(crate::openapi::Binary), content_type = "audio/wav", description = "A WAV recording, at most `STT_MAX_SECONDS` long."),
    security(("session_cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The transcript.", body = Transcript),
        SignedIn, JsonBody, QueryString, Limited, Unavailable, Upstream,
    ))]
async fn transcribe(
    State(state): State<AppState>,
    identity: Identity,
    ApiQuery(query): ApiQuery<TranscribeQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Transcript>> {
    let Some(transcriber) = &state.speech.transcriber else {
        return Err(Error::Unavailable {
            code: ErrorCode::TranscriptionNotConfigured,
            message: "This server does not transcribe speech; your browser does it instead. An administrator can set STT_BASE_URL.".into(),
        });
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    if !matches!(
        content_type.as_str(),
        "audio/wav" | "audio/wave" | "audio/x-wav"
    ) {
        return Err(Error::UnsupportedMediaType(
            "Send the recording as audio/wav.".into(),
        ));
    }
    let info = wav::parse(&body).ok_or_else(|| {
        Error::validation(
            ErrorCode::InvalidAudio,
            "That is not a readable WAV recording.",
        )
    })?;
    let max = state.config.speech.stt_max_seconds;
    if info.duration_ms() > u64::from(max) * 1000 {
        return Err(Error::TooLong {
            code: ErrorCode::RecordingTooLong,
            message: format!("Recordings can be at most {max} seconds long."),
        });
    }
    if info.duration_ms() < 100 {
        return Err(Error::validation(
            ErrorCode::RecordingTooShort,
            "The recording is empty.",
        ));
    }
    let language = match query.language {
        Some(l) if l.len() == 2 && l.chars().all(|c| c.is_ascii_lowercase()) => Some(l),
        Some(_) => {
            return Err(Error::validation(
                ErrorCode::InvalidLanguage,
                "language is a two-letter code such as en.",
            ))
        }
        None => None,
    };
    Limit::per_minute("transcribe", state.config.chat.messages_per_minute)
        .hit(state.cache.as_ref(), &identity.user.id)
        .await?;
    let text = transcriber
        .transcribe(body.to_vec(), "audio/wav", language.as_deref())
        .await
        .map_err(|error| match error {
            TtsError::BadInput(message) => Error::validation(ErrorCode::InvalidAudio, message),
            other => {
                tracing::warn!(error = %other, "transcription server failed");
                Error::Upstream {
                    code: ErrorCode::TranscriptionUnavailable,
                    message: "The transcription service is not answering right now. Please try again, or type your message.".into(),
                }
            }
        })?;
    Ok(Json(Transcript { text }))
}
