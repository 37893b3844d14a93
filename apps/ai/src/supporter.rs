//! The guarded turn: one type that owns a reply's safety, so "every reply passes the
//! safety layer" holds by construction rather than by call order.
//!
//! `Supporter::reply` assesses the message (rules → learned → conversation), answers
//! imminent danger and worry for someone else with fixed graded replies that never wait
//! for a model, and otherwise streams the model's reply through the output checks,
//! with the model-based judge running beside it: a late alarm replaces what was said.
//! The backend only carries HTTP, storage, speech and streaming.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use futures_util::{Stream, StreamExt};
use serde::Serialize;

use crate::crisis::{CrisisDirectory, CrisisLine};
use crate::memory::{recalled_prompt, Context};
use crate::model::{
    ChatMessage, ChatRequest, ChatRole, ModelError, ModelSlot, Sampling, TokenStream,
};
use crate::prompt::{estimate_tokens, fit_history, summary_prompt, system_prompt};
use crate::safety::judge::Judge;
use crate::safety::{self, Assessment, Detector, Layer, Response, RiskCategory, Severity};

/// How the supporter talks in this deployment.
#[derive(Debug, Clone)]
pub struct SupporterSettings {
    /// What the product calls the AI supporter.
    pub label: String,
    /// How many past turns the model sees, and their token budget.
    pub history_turns: usize,
    pub history_tokens: usize,
    /// The token budget for what is recalled from earlier conversations.
    pub memory_tokens: usize,
    pub sampling: Sampling,
}

/// What the person is shown beside a graded reply: how serious, and whom to call.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SafetyNotice {
    pub severity: Severity,
    pub response: Response,
    pub categories: Vec<RiskCategory>,
    /// The layer that raised the alarm.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub layer: Option<Layer>,
    pub lines: Vec<CrisisLine>,
}

/// Why the text so far was replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplaceReason {
    /// The model's words broke an output rule.
    Output,
    /// The judge saw danger the other layers missed.
    Judge,
}

/// What happens while a model reply streams.
#[derive(Debug, Clone, PartialEq)]
pub enum TurnEvent {
    /// The next piece of the reply; it has passed the output checks.
    Token(String),
    /// Everything said so far is replaced by this; the reply ends after it.
    Replace { text: String, reason: ReplaceReason },
    /// A safety notice the reply now carries (after a late alarm).
    Notice(SafetyNotice),
    /// The model failed mid-reply.
    Failed(ModelError),
}

pub type TurnStream = Pin<Box<dyn Stream<Item = TurnEvent> + Send>>;

/// A reply in the making.
pub enum Reply {
    /// A fixed graded reply, without the model: crisis lines first, how to help
    /// someone, or a check-in when no model is configured.
    Fixed { text: String, notice: SafetyNotice },
    /// The model's reply: `events` starts with its first piece (already checked).
    Streaming {
        notice: Option<SafetyNotice>,
        events: TurnStream,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum SupporterError {
    /// No model is configured and the message needs one.
    #[error("no language model is configured")]
    NoModel,
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// The AI supporter: detector, model, judge and crisis lines.
#[derive(Clone)]
pub struct Supporter {
    pub detector: Arc<Detector>,
    pub model: ModelSlot,
    pub judge: Option<Arc<Judge>>,
    pub crisis: Arc<CrisisDirectory>,
    pub settings: SupporterSettings,
}

impl Supporter {
    /// Runs the detector off the async threads (it is CPU work). `earlier` are the
    /// person's own earlier messages, most recent last.
    pub async fn assess(&self, message: &str, earlier: Vec<String>) -> Assessment {
        self.assess_embedded(message, earlier).await.0
    }

    /// `assess`, with the message's vector for retrieval from the same reading, when the
    /// detector's multilingual encoder runs here.
    #[tracing::instrument(
        name = "safety.assess",
        skip_all,
        fields(safety.severity = tracing::field::Empty, safety.layer = tracing::field::Empty)
    )]
    pub async fn assess_embedded(
        &self,
        message: &str,
        earlier: Vec<String>,
    ) -> (Assessment, Option<Vec<f32>>) {
        let (assessment, vector) = self.assess_off_thread(message, earlier).await;
        let span = tracing::Span::current();
        span.record("safety.severity", assessment.severity.label());
        if let Some(layer) = assessment.layer {
            span.record("safety.layer", layer.label());
        }
        (assessment, vector)
    }

    async fn assess_off_thread(
        &self,
        message: &str,
        earlier: Vec<String>,
    ) -> (Assessment, Option<Vec<f32>>) {
        let detector = self.detector.clone();
        let text = message.to_owned();
        let assessed = tokio::task::spawn_blocking(move || {
            let earlier: Vec<&str> = earlier.iter().map(String::as_str).collect();
            detector.assess_embedded(&text, &earlier)
        })
        .await;
        match assessed {
            Ok(assessed) => assessed,
            // The learned layer failed in a way it should not: the rules still answer.
            Err(_) => (safety::rules::assess(message, &[]), None),
        }
    }

    /// Whether the reply to a message so assessed comes from the model (otherwise it is
    /// a fixed graded reply: imminent danger and worry for someone else never wait for a
    /// model; a check-in does only when there is none).
    pub fn uses_model(&self, assessment: &Assessment) -> bool {
        match assessment.response() {
            Response::Crisis | Response::HelpThem => false,
            Response::CheckIn => self.model.is_some(),
            Response::Support => true,
        }
    }

    /// The notice for an assessment, with the lines for the person's region.
    pub fn notice(&self, assessment: &Assessment, region: Option<&str>) -> SafetyNotice {
        let lines = self.crisis.for_assessment(region, assessment);
        notice_with(assessment, &lines)
    }

    /// The fixed graded reply for an assessment — crisis lines first, how to help
    /// someone, or a check-in — with its notice; the region's lines are looked up once.
    fn graded(&self, assessment: &Assessment, region: Option<&str>) -> (String, SafetyNotice) {
        let lines = self.crisis.for_assessment(region, assessment);
        let text = match assessment.response() {
            Response::Crisis => safety::crisis_reply(assessment, &lines),
            Response::HelpThem => safety::reply::help_them_reply(&lines),
            Response::CheckIn | Response::Support => {
                safety::reply::check_in_reply(assessment, &lines)
            }
        };
        (text, notice_with(assessment, &lines))
    }

    /// One turn. `history` is the conversation before `message`; the message has been
    /// assessed by the caller with `assess` (so the caller can store and flag first);
    /// `context` holds the summary of this conversation's older turns and what was found
    /// in the person's earlier conversations.
    #[tracing::instrument(
        name = "supporter.reply",
        skip_all,
        fields(response = assessment.response().label())
    )]
    pub async fn reply(
        &self,
        history: &[ChatMessage],
        message: &str,
        assessment: &Assessment,
        region: Option<&str>,
        context: &Context,
    ) -> Result<Reply, SupporterError> {
        if !self.uses_model(assessment) {
            let (text, notice) = self.graded(assessment, region);
            return Ok(Reply::Fixed { text, notice });
        }
        let notice = assessment
            .is_crisis()
            .then(|| self.notice(assessment, region));
        let model = self.model.get().ok_or(SupporterError::NoModel)?;
        let mut messages = vec![ChatMessage::new(
            ChatRole::System,
            system_prompt(&self.settings.label),
        )];
        if assessment.response() == Response::CheckIn {
            messages.push(ChatMessage::new(
                ChatRole::System,
                safety::reply::check_in_instruction(assessment),
            ));
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        if let Some(summary) = &context.summary {
            messages.push(ChatMessage::new(ChatRole::System, summary_prompt(summary)));
        }
        if let Some(note) = &context.note {
            messages.push(ChatMessage::new(
                ChatRole::System,
                crate::memory::knowledge::library_prompt(note),
            ));
        }
        if let Some(earlier) = recalled_prompt(&context.recalled, self.settings.memory_tokens, now)
        {
            messages.push(ChatMessage::new(ChatRole::System, earlier));
        }
        let mut turns = history.to_vec();
        turns.push(ChatMessage::new(ChatRole::User, message));
        messages.extend(fit_history(
            &turns,
            self.settings.history_turns,
            self.settings.history_tokens,
            estimate_tokens,
        ));
        let tokens = model
            .stream(ChatRequest {
                messages,
                sampling: self.settings.sampling,
            })
            .await?;
        let judge = self.judge.clone().map(|judge| {
            let message = message.to_owned();
            let earlier: Vec<String> = history
                .iter()
                .filter(|m| m.role == ChatRole::User)
                .map(|m| m.content.clone())
                .collect();
            Box::pin(async move {
                let earlier: Vec<&str> = earlier.iter().map(String::as_str).collect();
                judge.judge(&message, &earlier).await
            }) as JudgeFuture
        });
        let guard = Guard {
            tokens: Some(tokens),
            judge,
            assessment: assessment.clone(),
            text: String::new(),
            pending: VecDeque::new(),
            ended: false,
            supporter: self.clone(),
            region: region.map(str::to_owned),
        };
        let mut events: TurnStream = Box::pin(futures_util::stream::unfold(guard, Guard::next));
        // Wait for the first event, so a model that fails at once is a clean error.
        let first = events.next().await;
        let events: TurnStream = match first {
            Some(TurnEvent::Failed(error)) => return Err(error.into()),
            None => {
                return Err(ModelError::Protocol("the reply was empty".into()).into());
            }
            Some(first) => Box::pin(futures_util::stream::iter([first]).chain(events)),
        };
        Ok(Reply::Streaming { notice, events })
    }
}

fn notice_with(assessment: &Assessment, lines: &[&CrisisLine]) -> SafetyNotice {
    SafetyNotice {
        severity: assessment.severity,
        response: assessment.response(),
        categories: assessment.categories.clone(),
        layer: assessment.layer,
        lines: lines.iter().map(|l| (*l).clone()).collect(),
    }
}

type JudgeFuture = Pin<Box<dyn Future<Output = Option<Assessment>> + Send>>;

/// The state of a guarded stream.
struct Guard {
    tokens: Option<TokenStream>,
    judge: Option<JudgeFuture>,
    assessment: Assessment,
    text: String,
    pending: VecDeque<TurnEvent>,
    ended: bool,
    supporter: Supporter,
    region: Option<String>,
}

impl Guard {
    async fn next(mut self) -> Option<(TurnEvent, Self)> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some((event, self));
            }
            if self.ended {
                return None;
            }
            match (&mut self.tokens, &mut self.judge) {
                (Some(tokens), Some(judge)) => {
                    tokio::select! {
                        piece = tokens.next() => self.on_piece(piece),
                        verdict = judge => {
                            self.judge = None;
                            self.on_verdict(verdict);
                        }
                    }
                }
                (Some(tokens), None) => {
                    let piece = tokens.next().await;
                    self.on_piece(piece);
                }
                // The model is done; the judge still has its say, within its timeout.
                (None, Some(judge)) => {
                    let verdict = judge.await;
                    self.judge = None;
                    self.on_verdict(verdict);
                    self.ended = true;
                }
                (None, None) => self.ended = true,
            }
        }
    }

    fn on_piece(&mut self, piece: Option<Result<String, ModelError>>) {
        match piece {
            None => self.tokens = None,
            Some(Err(error)) => {
                self.tokens = None;
                self.judge = None;
                self.ended = true;
                self.pending.push_back(TurnEvent::Failed(error));
            }
            Some(Ok(piece)) => {
                self.text.push_str(&piece);
                match safety::check_output(&self.text).first() {
                    None => self.pending.push_back(TurnEvent::Token(piece)),
                    Some(violation) => {
                        tracing::warn!(?violation, "model output replaced by the safety layer");
                        let text = match violation {
                            // Method information is never passed on; the person gets
                            // the crisis reply and lines.
                            safety::Violation::SelfHarmMethod => {
                                let assessment = Assessment::new(
                                    Severity::Imminent,
                                    vec![RiskCategory::SuicidalIdeation],
                                    Layer::Rules,
                                )
                                .merge(self.assessment.clone());
                                let (text, notice) =
                                    self.supporter.graded(&assessment, self.region.as_deref());
                                self.pending.push_back(TurnEvent::Notice(notice));
                                text
                            }
                            other => safety::replacement(*other).to_owned(),
                        };
                        self.replace(text, ReplaceReason::Output);
                    }
                }
            }
        }
    }

    fn on_verdict(&mut self, verdict: Option<Assessment>) {
        let Some(verdict) = verdict.filter(Assessment::is_crisis) else {
            return;
        };
        // Only a verdict that calls for a different, more serious response changes
        // the reply; a check-in the model is already giving stands.
        let before = self.assessment.response();
        let merged = self.assessment.clone().merge(verdict);
        let after = merged.response();
        let worse = merged.severity > self.assessment.severity || before == Response::Support;
        if !worse || after == before {
            return;
        }
        tracing::info!(
            severity = merged.severity.label(),
            "the safety judge raised the alarm; the reply is replaced"
        );
        let (text, notice) = self.supporter.graded(&merged, self.region.as_deref());
        self.assessment = merged;
        self.pending.push_back(TurnEvent::Notice(notice));
        self.replace(text, ReplaceReason::Judge);
    }

    /// Ends the reply with `text` in place of everything said.
    fn replace(&mut self, text: String, reason: ReplaceReason) {
        self.tokens = None;
        self.judge = None;
        self.ended = true;
        self.text.clone_from(&text);
        self.pending.push_back(TurnEvent::Replace { text, reason });
    }
}
