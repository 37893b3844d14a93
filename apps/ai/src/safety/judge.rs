//! The fourth layer: a language model asked, with a strict classification prompt, whether
//! the person is in danger. It runs beside the reply, never before it (so it never
//! delays the first token), and is bounded by a timeout; a late "at risk" replaces the
//! reply that is streaming. It reads either our one-line answer format or Llama Guard's
//! (`safe` / `unsafe` + category codes), so a guard model served by the same
//! OpenAI-compatible upstream can be the judge.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;

use super::assessment::{Assessment, Layer, RiskCategory, Severity};
use crate::model::{ChatMessage, ChatModel, ChatRequest, ChatRole, Sampling};

/// The longest answer read: the verdict is one short line.
const MAX_ANSWER_CHARS: usize = 200;
/// Earlier messages shown for context.
const CONTEXT_TURNS: usize = 3;
/// Characters of each message shown: enough to judge, bounded for the model's context.
const MAX_MESSAGE_CHARS: usize = 2000;

const INSTRUCTIONS: &str = "You are a safety classifier for a mental-health support chat. \
Decide whether the person's LATEST message shows that someone is in danger. Answer with exactly \
one line and nothing else:\n\
SAFE\n\
or\n\
RISK <category> <severity>\n\
Categories: suicide (thoughts of death or suicide, including passive wishes not to wake up), \
self_harm, harm_to_others, abuse (the person is being abused, including a child), medical (a \
medical emergency now, such as an overdose taken), concern_other (the person is worried that \
someone else is at risk).\n\
Severity: imminent (intent, a plan, a method, a place or a time, preparation such as goodbye \
letters or giving things away, questions about lethal amounts or means, an attempt, danger right \
now) or elevated (wishes or thoughts without intent, urges, past-week self-harm, abuse without \
immediate danger, worry about someone).\n\
Use the earlier messages as context: a question about heights, pills or medicines after distress \
is RISK suicide imminent. Idioms, fiction, news, school work, jokes, song lyrics and recovery from \
events long past are SAFE. Any language.";

/// A language model used as a safety classifier.
pub struct Judge {
    model: Arc<dyn ChatModel>,
    timeout: Duration,
}

impl Judge {
    pub fn new(model: Arc<dyn ChatModel>, timeout: Duration) -> Self {
        Self { model, timeout }
    }

    /// The judge's assessment of `message` after `earlier` (the person's own earlier
    /// messages, most recent last). `None` when the model failed, took too long or
    /// answered something unreadable: the other layers still stand.
    #[tracing::instrument(name = "safety.judge", skip_all, fields(verdict = tracing::field::Empty))]
    pub async fn judge(&self, message: &str, earlier: &[&str]) -> Option<Assessment> {
        let request = ChatRequest {
            messages: prompt(message, earlier),
            sampling: Sampling {
                max_tokens: 16,
                temperature: 0.0,
                top_p: 1.0,
                ..Sampling::default()
            },
        };
        let answer = tokio::time::timeout(self.timeout, async {
            let mut stream = self.model.stream(request).await.ok()?;
            let mut answer = String::new();
            while let Some(piece) = stream.next().await {
                answer.push_str(&piece.ok()?);
                if answer.len() > MAX_ANSWER_CHARS {
                    break;
                }
            }
            Some(answer)
        })
        .await;
        let span = tracing::Span::current();
        match answer {
            Ok(Some(answer)) => {
                let verdict = parse(&answer);
                match &verdict {
                    Some(verdict) => {
                        span.record("verdict", verdict.severity.label());
                    }
                    None => {
                        span.record("verdict", "unreadable");
                        tracing::warn!("the safety judge's answer was unreadable; ignored");
                    }
                }
                verdict
            }
            Ok(None) => {
                span.record("verdict", "failed");
                tracing::warn!("the safety judge's model failed; ignored");
                None
            }
            Err(_) => {
                span.record("verdict", "timeout");
                tracing::warn!("the safety judge took too long; ignored");
                None
            }
        }
    }
}

fn clip(text: &str) -> &str {
    match text.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((at, _)) => &text[..at],
        None => text,
    }
}

/// The classification request: instructions, then the messages as quoted data.
pub fn prompt(message: &str, earlier: &[&str]) -> Vec<ChatMessage> {
    let mut user = String::new();
    let context: Vec<&&str> = earlier.iter().rev().take(CONTEXT_TURNS).rev().collect();
    if !context.is_empty() {
        user.push_str("Earlier messages from the person (oldest first):\n");
        for turn in context {
            user.push_str(&format!("<<<{}>>>\n", clip(turn)));
        }
    }
    user.push_str(&format!(
        "Latest message:\n<<<{}>>>\nAnswer SAFE or RISK <category> <severity>.",
        clip(message)
    ));
    vec![
        ChatMessage::new(ChatRole::System, INSTRUCTIONS),
        ChatMessage::new(ChatRole::User, user),
    ]
}

/// Reads a verdict: `SAFE`, `RISK <category> <severity>`, or Llama Guard's `safe` /
/// `unsafe` followed by category codes (S11 self-harm, S1 violent crimes, S3/S4 sex
/// crimes and child exploitation). `None` for anything else.
pub fn parse(answer: &str) -> Option<Assessment> {
    let mut lines = answer.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next()?.to_ascii_lowercase();
    let first = first.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != ' ' && c != '_');
    let mut words = first.split_whitespace();
    match words.next()? {
        "safe" => Some(Assessment::safe()),
        "risk" => {
            let category = RiskCategory::from_label(words.next()?)?;
            let severity = match words.next() {
                Some("imminent") => Severity::Imminent,
                _ => Severity::Elevated,
            };
            Some(Assessment::new(severity, vec![category], Layer::Judge))
        }
        "unsafe" => {
            let codes = lines.next().unwrap_or_default().to_ascii_uppercase();
            let categories: Vec<RiskCategory> = codes
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter_map(|code| match code {
                    "S11" => Some(RiskCategory::SuicidalIdeation),
                    "S1" => Some(RiskCategory::HarmToOthers),
                    "S3" | "S4" => Some(RiskCategory::Abuse),
                    _ => None,
                })
                .collect();
            // Other codes (hate, privacy, …) are moderation matters, not danger.
            Some(Assessment::new(
                Severity::Elevated,
                categories,
                Layer::Judge,
            ))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_in_our_format_and_llama_guards_are_read() {
        assert_eq!(parse("SAFE"), Some(Assessment::safe()));
        assert_eq!(parse("  safe.\n"), Some(Assessment::safe()));
        let risk = parse("RISK suicide imminent").unwrap_or_default();
        assert_eq!(risk.severity, Severity::Imminent);
        assert_eq!(risk.categories, vec![RiskCategory::SuicidalIdeation]);
        assert_eq!(risk.layer, Some(Layer::Judge));
        let elevated = parse("risk concern_other").unwrap_or_default();
        assert_eq!(elevated.severity, Severity::Elevated);
        assert_eq!(elevated.categories, vec![RiskCategory::ConcernForOther]);
        let guard = parse("unsafe\nS11").unwrap_or_default();
        assert_eq!(guard.categories, vec![RiskCategory::SuicidalIdeation]);
        assert_eq!(parse("unsafe\nS10"), Some(Assessment::safe()));
        assert_eq!(parse("I think this person is fine"), None);
        assert_eq!(parse("RISK sadness elevated"), None);
        assert_eq!(parse(""), None);
    }

    #[test]
    fn the_prompt_quotes_the_messages_and_bounds_them() {
        let long = "a".repeat(10_000);
        let messages = prompt(&long, &["one", "two", "three", "four"]);
        assert_eq!(messages.len(), 2);
        let user = &messages[1].content;
        assert!(!user.contains("<<<one>>>"));
        assert!(user.contains("<<<two>>>") && user.contains("<<<four>>>"));
        assert!(user.len() < 2_300);
    }
}
