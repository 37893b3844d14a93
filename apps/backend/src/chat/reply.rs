//! `POST /api/ai/message`: one turn with the AI supporter.
//!
//! The person's message is stored before anything else happens. The reply itself comes
//! from `solace_ai::supporter::Supporter`, which owns its safety: it assesses the
//! message, answers imminent danger and worry for someone else with graded replies
//! that never wait for a model, and otherwise streams the model's reply through the
//! output checks with the safety judge beside it. This module carries HTTP, storage,
//! speech and streaming: Server-Sent Events (or one JSON body), and a spawned task that
//! stores the reply — complete, or marked incomplete with what arrived — whether the
//! person stays, the model fails or the connection drops.
//!
//! With `"speak": true` each sentence that has passed the output checks is queued for
//! text-to-speech as soon as it is complete, and an `audio` event names its clip, so
//! the first words play while the rest is still being written. A `replace` event means
//! the clips so far must not be played; the replacement's own clips follow.

use std::convert::Infallible;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::{Stream, StreamExt};
use serde::Serialize;
use solace_ai::model::{ChatMessage, ChatRole, ModelError};
use solace_ai::supporter::{Reply, SafetyNotice, SupporterError, TurnEvent, TurnStream};
use tokio::sync::mpsc;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::recent::{as_turn, Recent};
use super::{
    append_message, create_session, flag_session, get_session, retried_message, Message,
    MessageStatus, NewMessage, Role, SessionTitle,
};
use crate::auth::Identity;
use crate::crisis::region_from_headers;
use crate::db::new_id;
use crate::error::{
    json_error, model_failure_message, model_status_and_code, Error, ErrorBody, ErrorCode, Result,
};
use crate::extract::ApiJson;
use crate::limits::{Concurrent, Limit};
use crate::openapi::{JsonBody, Limited, Missing, SignedIn, Unavailable, Upstream};
use crate::state::AppState;

/// How long storing a finished reply waits before each new try after a transient
/// failure (about eight seconds in all).
const STORE_RETRY_WAITS: [Duration; 5] = [
    Duration::from_millis(200),
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
];

/// The streaming route; it is mounted outside the request timeout, which would cut
/// long replies short. The model's own timeout bounds the wait for each piece.
pub fn streaming_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(send))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(info))
}

/// How the UI must present the supporter here.
#[derive(Debug, Serialize, ToSchema)]
struct Info {
    /// What the supporter is called, e.g. "AI therapist".
    label: String,
    /// The sentence the app shows beside every conversation.
    disclosure: String,
    model: ModelInfo,
    max_message_chars: usize,
    speech: crate::speech::SpeechInfo,
}

#[derive(Debug, Serialize, ToSchema)]
struct ModelInfo {
    configured: bool,
    #[schema(required = true)]
    name: Option<String>,
    /// A model being downloaded from the setup page, so the chat can say so meanwhile.
    #[schema(required = true)]
    download: Option<crate::setup::Download>,
}

/// How the UI must present the supporter on this server.
#[utoipa::path(get, path = "/ai/info", tag = "chat",
    responses((status = 200, description = "The supporter's label, disclosure, model and speech.", body = Info)))]
async fn info(State(state): State<AppState>) -> Json<Info> {
    let label = state.config.chat.label.clone();
    Json(Info {
        disclosure: format!(
            "Your {label} is an AI, not a person and not a licensed clinician. It can make \
             mistakes and is not a substitute for professional care or emergency help."
        ),
        label,
        model: ModelInfo {
            configured: state.model.is_some(),
            name: state.model.get().map(|m| m.name()),
            download: state.setup.download(),
        },
        max_message_chars: state.config.chat.max_message_chars,
        speech: crate::speech::info(&state),
    })
}

/// A message to the AI: trimmed, not empty, not too long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageText(String);

impl MessageText {
    pub fn parse(raw: &str, max_chars: usize) -> Result<Self> {
        // Control characters other than line breaks and tabs carry nothing a person
        // wrote, and PostgreSQL cannot store NUL in text: they are dropped.
        let cleaned: String = raw
            .chars()
            .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
            .collect();
        let text = cleaned.trim();
        if text.is_empty() {
            return Err(Error::validation(
                ErrorCode::MessageEmpty,
                "Write something before sending.",
            ));
        }
        if text.chars().count() > max_chars {
            return Err(Error::TooLong {
                code: ErrorCode::MessageTooLong,
                message: format!("A message can be at most {max_chars} characters."),
            });
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A title for a new conversation: its first words.
    fn title(&self) -> SessionTitle {
        const MAX: usize = 48;
        // What others might see of it shows nothing hidden (`crate::text`).
        let first_line: String = self
            .0
            .lines()
            .next()
            .unwrap_or_default()
            .chars()
            .filter(|&c| !crate::text::is_invisible(c))
            .collect();
        let mut title = String::new();
        for word in first_line.split_whitespace() {
            let gap = usize::from(!title.is_empty());
            if title.chars().count() + gap + word.chars().count() > MAX {
                if title.is_empty() {
                    title = word.chars().take(MAX - 1).collect();
                }
                title.push('…');
                break;
            }
            if gap == 1 {
                title.push(' ');
            }
            title.push_str(word);
        }
        SessionTitle::parse(&title).unwrap_or_else(|_| SessionTitle("New conversation".into()))
    }
}

#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SendInput {
    /// The conversation to continue; a new one starts when absent.
    session_id: Option<String>,
    /// The person's message; at most `max_message_chars` (see `/api/ai/info`).
    content: String,
    /// Speak the reply as it is written.
    #[serde(default)]
    speak: bool,
    /// The voice to speak it in (the provider's default when absent).
    voice: Option<String>,
    /// Answer again this message of the person's, whose reply failed (its id, from the
    /// `start` event or the error body's `message_id`), instead of storing it a second
    /// time. Needs `session_id`, and `content` must be the message's text.
    retry_of: Option<String>,
}

/// A spoken reply in the making: sentences out of the stream, numbered in order.
struct Speaker {
    voice: Option<String>,
    splitter: solace_ai::speech::SentenceSplitter,
    next_seq: u32,
}

/// A clip of the spoken reply, in playing order.
#[derive(Debug, Clone, Serialize, ToSchema)]
struct AudioClip {
    seq: u32,
    #[serde(flatten)]
    clip: crate::speech::Clip,
}

/// The person's message is stored: the first event of every reply.
#[derive(Debug, Clone, Serialize, ToSchema)]
struct Start {
    session_id: String,
    user_message: Message,
}

/// A piece of the reply (`token`), or what replaces all of it so far (`replace`).
#[derive(Debug, Clone, Serialize, ToSchema)]
struct Text {
    text: String,
}

/// The reply is stored: the last event of a reply that did not fail.
#[derive(Debug, Clone, Serialize, ToSchema)]
struct Done {
    session_id: String,
    message: Message,
    /// The graded safety response (severity, what the app shows, the lines for the
    /// person's region), so the app can put the lines, a check-in, the safety plan and
    /// the grounding exercises on screen.
    #[schema(required = true)]
    crisis: Option<SafetyNotice>,
    /// Every clip of the spoken reply (for clients that do not stream).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    audio: Vec<AudioClip>,
    /// The note of Solace's library the model was offered for this reply (the app names
    /// it as a source).
    #[serde(skip_serializing_if = "Option::is_none")]
    library: Option<LibraryNote>,
}

/// A note of Solace's library, by name.
#[derive(Debug, Clone, Serialize, ToSchema)]
struct LibraryNote {
    slug: String,
    title: String,
}

/// The model failed: the last event of a reply that did.
#[derive(Debug, Clone, Serialize, ToSchema)]
struct Failure {
    /// The status a JSON client gets (the event stream itself is already 200).
    #[serde(serialize_with = "status_code")]
    #[schema(value_type = u16, example = 502)]
    status: StatusCode,
    error: ErrorCode,
    message: &'static str,
    retryable: bool,
    /// The stored partial reply, when anything arrived before the failure.
    #[schema(required = true)]
    message_id: Option<String>,
}

fn status_code<S: serde::Serializer>(
    status: &StatusCode,
    to: S,
) -> std::result::Result<S::Ok, S::Error> {
    to.serialize_u16(status.as_u16())
}

/// What the client hears while a reply is made.
#[derive(Debug, Clone)]
enum ReplyEvent {
    /// The next piece of the reply.
    Token(String),
    /// The text so far broke an output rule; this replaces all of it.
    Replace(String),
    /// The next clip of the spoken reply is on its way.
    Audio(AudioClip),
    Done(Box<Done>),
    Failed(Failure),
}

impl ReplyEvent {
    fn into_sse(self) -> Event {
        let (name, data) = match self {
            Self::Token(text) => ("token", json_text(&Text { text })),
            Self::Replace(text) => ("replace", json_text(&Text { text })),
            Self::Audio(clip) => ("audio", json_text(&clip)),
            Self::Done(done) => ("done", json_text(&done)),
            Self::Failed(failure) => ("error", json_text(&failure)),
        };
        Event::default().event(name).data(data)
    }
}

fn json_text(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// The events of a streamed reply, as the contract documents them: each arrives as a
/// Server-Sent Event named `event`, whose `data` is the JSON of the variant's content.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "event", content = "data", rename_all = "snake_case")]
#[allow(dead_code)]
enum ReplyStreamEvent {
    /// First: the person's message, stored.
    Start(Start),
    /// The next piece of the reply, past the output checks.
    Token(Text),
    /// Everything so far is replaced by this (an output rule broke, or a late alarm);
    /// clips so far must not be played.
    Replace(Text),
    /// The next clip of the spoken reply (`"speak": true`).
    Audio(AudioClip),
    /// Last, on success: the stored reply and any safety notice.
    Done(Box<Done>),
    /// Last, on failure: what went wrong; a partial reply is stored as incomplete.
    Error(Failure),
}

/// The whole reply as one JSON body (`Accept: application/json`).
#[derive(Debug, Serialize, ToSchema)]
struct ReplyBody {
    session_id: String,
    user_message: Message,
    message: Message,
    #[schema(required = true)]
    crisis: Option<SafetyNotice>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    audio: Vec<AudioClip>,
    #[serde(skip_serializing_if = "Option::is_none")]
    library: Option<LibraryNote>,
}

/// One turn with the AI therapist. The message passes the safety layer first: imminent
/// danger and worry for someone else get a graded reply with crisis lines and never wait
/// for the model. The reply streams as Server-Sent Events (`start`, `token`…, `replace`,
/// `audio`, then `done` or `error`; see `ReplyStreamEvent`), or comes as one JSON body
/// when the client accepts only `application/json`.
#[utoipa::path(post, path = "/ai/message", tag = "chat", request_body = SendInput, security(("session_cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The reply.", content(
            (ReplyStreamEvent = "text/event-stream"),
            (ReplyBody = "application/json"),
        )),
        SignedIn, Missing, JsonBody, Limited, Unavailable, Upstream,
    ))]
#[tracing::instrument(name = "chat.turn", skip_all, fields(new_conversation = input.session_id.is_none(), spoken = input.speak))]
async fn send(
    State(state): State<AppState>,
    identity: Identity,
    headers: HeaderMap,
    ApiJson(input): ApiJson<SendInput>,
) -> Result<Response> {
    let owner_id = identity.user.id;
    let text = MessageText::parse(&input.content, state.config.chat.max_message_chars)?;
    let voice = state.speech.known_voice(input.voice).await?;
    if input.speak && state.speech.tts.is_none() {
        return Err(crate::speech::speech_off());
    }
    Limit::per_minute("ai", state.config.chat.messages_per_minute)
        .hit(state.cache.as_ref(), &owner_id)
        .await?;
    // Held until the reply is written (its model call ends), whether or not anyone
    // still reads the stream.
    let slot = Concurrent {
        name: "replies",
        max: state.config.limits.open_replies,
        ttl: Duration::from_secs(15 * 60),
    }
    .take(&state.cache, &owner_id)
    .await?;
    let session = match (&input.session_id, &input.retry_of) {
        (Some(id), _) => get_session(&state.db, &owner_id, id).await?,
        (None, None) => create_session(&state.db, &owner_id, &text.title()).await?,
        (None, Some(_)) => {
            return Err(Error::validation(
                ErrorCode::RetryNeedsSession,
                "A retry names the conversation of the message it answers again.",
            ))
        }
    };
    let recent = Recent::of(&state);
    let (mut history, user_message) = match &input.retry_of {
        // The message is stored already: the turns before it are read from the
        // database, whatever the remembered ones hold after the failure.
        Some(id) => {
            let limit = i64::try_from(state.config.chat.history_turns).unwrap_or(i64::MAX);
            let (message, before) =
                retried_message(&state.db, &owner_id, &session.id, id, limit).await?;
            if message.content != text.as_str() {
                return Err(Error::validation(
                    ErrorCode::RetryContentDiffers,
                    "A retry sends the message's own text; a changed message is a new one.",
                ));
            }
            (before.iter().filter_map(as_turn).collect(), message)
        }
        None => {
            let history: Vec<ChatMessage> = recent.recall(&owner_id, &session.id).await?;
            let message = append_message(
                &state.db,
                &owner_id,
                &session.id,
                NewMessage {
                    id: new_id(),
                    role: Role::User,
                    content: text.as_str(),
                    status: MessageStatus::Complete,
                },
            )
            .await?;
            (history, message)
        }
    };
    let earlier: Vec<String> = history
        .iter()
        .filter(|m| m.role == ChatRole::User)
        .map(|m| m.content.clone())
        .collect();
    let supporter = &state.supporter;
    let (assessment, vector) = supporter.assess_embedded(text.as_str(), earlier).await;
    if assessment.is_crisis() {
        flag_session(&state.db, &owner_id, &session.id).await?;
        alarm(&state, assessment.severity, assessment.layer).await;
        // Counted, never described: what someone is going through stays out of the logs.
        tracing::info!(
            severity = assessment.severity.label(),
            layer = assessment.layer.map(|l| l.label()),
            "safety layer raised the alarm"
        );
    }
    let region = region_from_headers(&headers);
    let asked = Instant::now();
    // Read once: whether memory is paused decides both recall and keeping this turn.
    let choices = state.memory.choices_of(&state.db, &owner_id).await;
    let context = if supporter.uses_model(&assessment) {
        let (recalled, note) = state
            .memory
            .recall(&owner_id, choices, text.as_str(), vector, &history)
            .await;
        solace_ai::memory::Context {
            summary: session.summary.clone(),
            recalled,
            note,
        }
    } else {
        solace_ai::memory::Context::default()
    };
    let reply = supporter
        .reply(
            &history,
            text.as_str(),
            &assessment,
            region.as_deref(),
            &context,
        )
        .await;
    history.extend(as_turn(&user_message));

    let mut turn = Turn {
        state: state.clone(),
        recent,
        owner_id,
        session_id: session.id.clone(),
        user_message_id: user_message.id.clone(),
        // Before this turn, plus the person's message (unless stored already) and the reply.
        message_count: usize::try_from(session.message_count).unwrap_or(0)
            + if input.retry_of.is_some() { 1 } else { 2 },
        summary_covers: usize::try_from(session.summary_covers).unwrap_or(0),
        flagged: assessment.is_crisis(),
        choices,
        library: context.note.as_ref().map(|note| LibraryNote {
            slug: note.slug.to_owned(),
            title: note.title.clone(),
        }),
        history,
        speaker: input.speak.then(|| Speaker {
            voice,
            splitter: solace_ai::speech::SentenceSplitter::new(),
            next_seq: 0,
        }),
        audio: Vec::new(),
    };
    let start = Start {
        session_id: session.id.clone(),
        user_message,
    };
    let wants_json = wants_json(&headers);

    // Before the reply began, the turn fails with its status; the body says where the
    // person's message was kept.
    match reply {
        Err(SupporterError::NoModel) => {
            Ok(Error::ModelNotConfigured
                .into_turn_response(&start.session_id, &start.user_message.id))
        }
        Err(SupporterError::Model(error)) => {
            state.metrics.model_error(&error);
            Ok(Error::Model(error).into_turn_response(&start.session_id, &start.user_message.id))
        }
        Ok(Reply::Fixed { text, notice }) => {
            let mut events = vec![ReplyEvent::Token(text.clone())];
            events.extend(turn.spoken(&text, true).await);
            events.push(
                turn.finish(text, MessageStatus::Complete, Some(notice))
                    .await?,
            );
            slot.release().await;
            respond(wants_json, start, futures_util::stream::iter(events)).await
        }
        Ok(Reply::Streaming { notice, events }) => {
            let (tx, rx) = mpsc::channel(64);
            let streaming = state.metrics.stream_opened();
            // The reply outlives the request: its errors keep the request's tags.
            let hub = sentry::Hub::current();
            // A child of the turn in traces, though it outlives the request.
            let span = tracing::info_span!(
                "model.stream",
                time_to_first_token_ms = tracing::field::Empty,
                tokens = tracing::field::Empty,
                outcome = tracing::field::Empty,
            );
            tokio::spawn(sentry::SentryFutureExt::bind_hub(
                tracing::Instrument::instrument(
                    async move {
                        // The stream ends only after the slot is back, so whoever read it
                        // to the end may send the next message at once.
                        let open_until_released = tx.clone();
                        turn.generate(events, notice, asked, tx).await;
                        drop(streaming);
                        slot.release().await;
                        drop(open_until_released);
                    },
                    span,
                ),
                hub,
            ));
            let events = futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|event| (event, rx))
            });
            respond(wants_json, start, events).await
        }
    }
}

/// Counts a safety alarm: in the metrics (by severity and layer) and in the admin
/// overview's daily counts.
async fn alarm(
    state: &AppState,
    severity: solace_ai::safety::Severity,
    layer: Option<solace_ai::safety::Layer>,
) {
    state.metrics.safety_alarm(severity, layer);
    crate::admin::count_alarm(&state.db, severity).await;
}

/// JSON when the client asks for it and not for an event stream.
fn wants_json(headers: &HeaderMap) -> bool {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    accept.contains("application/json") && !accept.contains("text/event-stream")
}

async fn respond(
    wants_json: bool,
    start: Start,
    events: impl Stream<Item = ReplyEvent> + Send + 'static,
) -> Result<Response> {
    if wants_json {
        return Ok(collect_json(start, events).await);
    }
    let start = Event::default().event("start").data(json_text(&start));
    let body = futures_util::stream::once(std::future::ready(start))
        .chain(events.map(ReplyEvent::into_sse))
        .map(Ok::<_, Infallible>);
    let mut response = Sse::new(body)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Tells nginx and similar proxies not to hold the stream back.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

/// The whole reply as one JSON body, for clients that do not stream.
async fn collect_json(
    start: Start,
    events: impl Stream<Item = ReplyEvent> + Send + 'static,
) -> Response {
    let mut events = std::pin::pin!(events);
    while let Some(event) = events.next().await {
        match event {
            ReplyEvent::Token(_) | ReplyEvent::Replace(_) | ReplyEvent::Audio(_) => {}
            ReplyEvent::Done(done) => {
                let Done {
                    message,
                    crisis,
                    audio,
                    library,
                    ..
                } = *done;
                return Json(ReplyBody {
                    session_id: start.session_id,
                    user_message: start.user_message,
                    message,
                    crisis,
                    audio,
                    library,
                })
                .into_response();
            }
            ReplyEvent::Failed(failure) => {
                return json_error(
                    failure.status,
                    ErrorBody {
                        error: failure.error,
                        message: failure.message,
                        retryable: Some(failure.retryable),
                        session_id: Some(&start.session_id),
                        message_id: Some(&start.user_message.id),
                    },
                );
            }
        }
    }
    Error::Model(ModelError::Protocol(
        "the reply ended without a result".into(),
    ))
    .into_response()
}

/// One reply being made, with everything needed to store it.
struct Turn {
    state: AppState,
    recent: Recent,
    owner_id: String,
    session_id: String,
    /// The person's message this turn answers.
    user_message_id: String,
    /// How many messages the conversation holds with this turn's reply, and how many of
    /// them its summary covers.
    message_count: usize,
    summary_covers: usize,
    /// The safety layer raised an alarm on this turn (memory keeps it only by choice).
    flagged: bool,
    /// The person's memory choices when the turn began (`None`: memory is off).
    choices: Option<crate::memory::Choices>,
    /// The library note the model was offered.
    library: Option<LibraryNote>,
    /// The conversation so far, ending with the person's new message.
    history: Vec<ChatMessage>,
    /// Set when the reply is spoken.
    speaker: Option<Speaker>,
    /// The clips queued so far (the current text's: a replacement starts afresh).
    audio: Vec<AudioClip>,
}

/// How the model's stream ended.
enum Outcome {
    Finished,
    /// An output rule was broken and the reply replaced.
    Replaced,
    Failed(ModelError),
    /// The person closed the connection.
    Abandoned,
}

impl Outcome {
    fn label(&self) -> &'static str {
        match self {
            Self::Finished => "finished",
            Self::Replaced => "replaced",
            Self::Failed(_) => "failed",
            Self::Abandoned => "abandoned",
        }
    }
}

impl Turn {
    /// Queues the sentences `text` completes for speech (all of what is left with
    /// `last`); returns their `audio` events. A failure to queue costs the voice, never
    /// the reply.
    async fn spoken(&mut self, text: &str, last: bool) -> Vec<ReplyEvent> {
        let Some(speaker) = &mut self.speaker else {
            return Vec::new();
        };
        let mut sentences = speaker.splitter.push(text);
        if last {
            sentences.extend(speaker.splitter.finish());
        }
        let mut events = Vec::new();
        for sentence in sentences {
            let clip = self
                .state
                .speech
                .speak(
                    &self.state.db,
                    &self.owner_id,
                    &self.session_id,
                    &sentence,
                    speaker.voice.as_deref(),
                )
                .await;
            match clip {
                Ok(Some(clip)) => {
                    let clip = AudioClip {
                        seq: speaker.next_seq,
                        clip,
                    };
                    speaker.next_seq += 1;
                    self.audio.push(clip.clone());
                    events.push(ReplyEvent::Audio(clip));
                }
                Ok(None) => {}
                Err(error) => tracing::warn!(%error, "could not queue a spoken sentence"),
            }
        }
        events
    }

    /// Relays the guarded reply to its end — each checked piece, a replacement when
    /// the safety layer steps in — then stores it and says how it ended.
    async fn generate(
        mut self,
        mut events: TurnStream,
        mut notice: Option<SafetyNotice>,
        asked: Instant,
        tx: mpsc::Sender<ReplyEvent>,
    ) {
        let mut text = String::new();
        let mut replaced = false;
        let metrics = self.state.metrics.clone();
        // When the first and the latest piece arrived, and how many there were.
        let mut pieces: Option<(Instant, Instant, u64)> = None;
        let outcome = loop {
            let event = tokio::select! {
                () = tx.closed() => break Outcome::Abandoned,
                event = events.next() => match event {
                    Some(event) => event,
                    None if replaced => break Outcome::Replaced,
                    None => break Outcome::Finished,
                },
            };
            match event {
                TurnEvent::Token(piece) => {
                    let now = Instant::now();
                    pieces = Some(match pieces {
                        None => {
                            metrics.model_first_token(now.duration_since(asked).as_secs_f64());
                            (now, now, 1)
                        }
                        Some((first, _, count)) => (first, now, count + 1),
                    });
                    text.push_str(&piece);
                    if tx.send(ReplyEvent::Token(piece.clone())).await.is_err() {
                        break Outcome::Abandoned;
                    }
                    for event in self.spoken(&piece, false).await {
                        if tx.send(event).await.is_err() {
                            break;
                        }
                    }
                }
                TurnEvent::Replace {
                    text: replacement, ..
                } => {
                    replaced = true;
                    text = replacement;
                    let _ = tx.send(ReplyEvent::Replace(text.clone())).await;
                    // Nothing said so far stands: the replacement is spoken from the start.
                    if let Some(speaker) = &mut self.speaker {
                        speaker.splitter = solace_ai::speech::SentenceSplitter::new();
                    }
                    self.audio.clear();
                    for event in self.spoken(&text.clone(), true).await {
                        let _ = tx.send(event).await;
                    }
                }
                TurnEvent::Notice(late) => {
                    self.flagged = true;
                    alarm(&self.state, late.severity, late.layer).await;
                    if let Err(error) =
                        flag_session(&self.state.db, &self.owner_id, &self.session_id).await
                    {
                        tracing::error!(%error, "could not flag the conversation");
                    }
                    notice = Some(late);
                }
                TurnEvent::Failed(error) => {
                    metrics.model_error(&error);
                    break Outcome::Failed(error);
                }
            }
        };
        let span = tracing::Span::current();
        span.record("outcome", outcome.label());
        if let Some((first, last, count)) = pieces {
            metrics.model_reply(count, last.duration_since(first).as_secs_f64());
            span.record("tokens", count);
            span.record(
                "time_to_first_token_ms",
                first.duration_since(asked).as_millis() as u64,
            );
        }
        if matches!(outcome, Outcome::Finished) {
            for event in self.spoken("", true).await {
                let _ = tx.send(event).await;
            }
        }
        // Dropping the stream stops the model and the judge.
        drop(events);

        let status = match outcome {
            Outcome::Finished | Outcome::Replaced => MessageStatus::Complete,
            Outcome::Failed(_) | Outcome::Abandoned => MessageStatus::Incomplete,
        };
        let event = match (outcome, text.trim().is_empty()) {
            (Outcome::Failed(error), nothing_arrived) => {
                tracing::error!(%error, kind = error.kind(), "the model failed mid-reply");
                let message_id = if nothing_arrived {
                    None
                } else {
                    self.store(&text, status).await.ok().map(|m| m.id)
                };
                let (status, code) = model_status_and_code(&error);
                ReplyEvent::Failed(Failure {
                    status,
                    error: code,
                    message: model_failure_message(&error),
                    retryable: error.is_retryable(),
                    message_id,
                })
            }
            (Outcome::Abandoned, true) => return,
            (_, _) => match self.finish(text, status, notice).await {
                Ok(done) => done,
                Err(error) => {
                    tracing::error!(%error, "could not store the reply");
                    ReplyEvent::Failed(Failure {
                        status: StatusCode::INTERNAL_SERVER_ERROR,
                        error: ErrorCode::InternalError,
                        message: "Something went wrong on our side. Please try again.",
                        retryable: true,
                        message_id: None,
                    })
                }
            },
        };
        let _ = tx.send(event).await;
    }

    /// Stores the reply. A transient failure (a lost database connection, SQLite busy
    /// past its timeout, the key service not answering) is tried again for about eight
    /// seconds: the reply exists only here, and the person has already read it.
    async fn store(&self, text: &str, status: MessageStatus) -> Result<Message> {
        let id = new_id();
        let mut waits = STORE_RETRY_WAITS.iter();
        loop {
            let message = append_message(
                &self.state.db,
                &self.owner_id,
                &self.session_id,
                NewMessage {
                    id: id.clone(),
                    role: Role::Assistant,
                    content: text,
                    status,
                },
            )
            .await;
            match (message, waits.next()) {
                (Err(error), Some(wait)) if error.is_transient() => {
                    tracing::warn!(%error, "could not store the reply yet; trying again");
                    tokio::time::sleep(*wait).await;
                }
                (Err(error), _) => {
                    tracing::error!(%error, "could not store the reply");
                    return Err(error);
                }
                (message, _) => return message,
            }
        }
    }

    /// Stores the reply, remembers it for the next turn and builds the `done` event.
    async fn finish(
        self,
        text: String,
        status: MessageStatus,
        crisis: Option<SafetyNotice>,
    ) -> Result<ReplyEvent> {
        let message = self.store(&text, status).await?;
        let mut turns = self.history;
        turns.extend(as_turn(&message));
        self.recent
            .store(&self.owner_id, &self.session_id, &turns)
            .await;
        // Remembered in the background: a slow queue never delays the `done` event.
        let (memory, owner, ids) = (
            self.state.memory.clone(),
            self.owner_id.clone(),
            [self.user_message_id.clone(), message.id.clone()],
        );
        let (flagged, choices, session) = (self.flagged, self.choices, self.session_id.clone());
        let (count, covers) = (self.message_count, self.summary_covers);
        tokio::spawn(async move {
            let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
            memory.remember(&owner, &ids, flagged, choices).await;
            memory
                .summarise_later(&owner, &session, count, covers)
                .await;
        });
        Ok(ReplyEvent::Done(Box::new(Done {
            session_id: self.session_id,
            message,
            crisis,
            audio: self.audio,
            library: self.library,
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_trimmed_and_must_have_text() {
        assert_eq!(
            MessageText::parse("  hello \n", 10).ok().map(|t| t.0),
            Some("hello".to_owned())
        );
        assert!(matches!(
            MessageText::parse(" \n\t", 10),
            Err(Error::Validation {
                code: ErrorCode::MessageEmpty,
                ..
            })
        ));
    }

    #[test]
    fn control_characters_are_dropped_and_line_breaks_kept() {
        let text = MessageText::parse("a\u{0}b\u{7}\r\nc\td", 100).map(|t| t.0);
        assert_eq!(text.ok().as_deref(), Some("ab\nc\td"));
        assert!(MessageText::parse("\u{0}\u{1}", 100).is_err());
    }

    #[test]
    fn overlong_messages_are_413_by_characters() {
        assert!(MessageText::parse(&"ü".repeat(10), 10).is_ok());
        assert!(matches!(
            MessageText::parse(&"ü".repeat(11), 10),
            Err(Error::TooLong {
                code: ErrorCode::MessageTooLong,
                ..
            })
        ));
    }

    #[test]
    fn titles_are_the_first_words_of_the_first_line() {
        let text = MessageText::parse(
            "I keep waking up at 4am and cannot get back to sleep at all\nsecond line",
            500,
        );
        let title = text.map(|t| t.title().as_str().to_owned()).ok();
        assert_eq!(
            title.as_deref(),
            Some("I keep waking up at 4am and cannot get back to…")
        );
        let one_word =
            MessageText::parse(&"a".repeat(80), 500).map(|t| t.title().as_str().chars().count());
        assert_eq!(one_word.ok(), Some(48));
    }

    #[test]
    fn json_is_chosen_only_when_asked_for() {
        let mut headers = HeaderMap::new();
        assert!(!wants_json(&headers));
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        assert!(wants_json(&headers));
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("text/event-stream, application/json"),
        );
        assert!(!wants_json(&headers));
    }
}
