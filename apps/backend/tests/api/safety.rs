//! The graded safety response over HTTP: what each severity gets, which lines, whether the
//! model is asked, the judge replacing a reply, and the learned layer when its model is here.

use std::time::Duration;

use serde_json::{json, Value};
use solace_ai::testing::FakeUpstream;

use crate::ai_chat::{app_with_model, guest, named, say, streamed_text, SseEvent};
use crate::helpers::{spawn_app_with, Browser};

/// Sends a message asking for one JSON body, from a browser in `language`'s region.
async fn ask(browser: &Browser, content: &str, language: &str) -> Value {
    browser
        .client
        .post(browser.url("/api/ai/message"))
        .header("accept", "application/json")
        .header("accept-language", language)
        .header("x-csrf-token", browser.csrf.clone().unwrap())
        .json(&json!({ "content": content }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn notice(events: &[SseEvent]) -> Value {
    named(events, "done")
        .first()
        .map(|d| d["crisis"].clone())
        .unwrap_or(Value::Null)
}

fn contacts(notice: &Value) -> Vec<String> {
    notice["lines"]
        .as_array()
        .map(|lines| {
            lines
                .iter()
                .filter_map(|l| l["contact"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn imminent_danger_gets_the_crisis_reply_and_lines_without_the_model() {
    let upstream = FakeUpstream::start().await.unwrap();
    let app = app_with_model(&upstream, &[]).await;
    let mut browser = guest(&app).await;

    let (status, events) = say(
        &mut browser,
        json!({ "content": "I'm going to end my life tonight, I've written the letters" }),
    )
    .await;

    assert_eq!(status, 200);
    let notice = notice(&events);
    assert_eq!(notice["severity"], "imminent");
    assert_eq!(notice["response"], "crisis");
    assert_eq!(notice["layer"], "rules");
    assert!(contacts(&notice).contains(&"findahelpline.com".to_owned()));
    assert!(streamed_text(&events).contains("Your life matters"));
    assert!(upstream.requests().is_empty(), "the model was not asked");
    assert!(upstream.judge_requests().is_empty(), "nor the judge");
}

#[tokio::test]
async fn elevated_risk_gets_the_models_reply_guided_to_ask_about_safety_with_lines_in_view() {
    let upstream = FakeUpstream::start().await.unwrap();
    let app = app_with_model(&upstream, &[]).await;
    let mut browser = guest(&app).await;

    let (status, events) = say(
        &mut browser,
        json!({ "content": "Some nights I hope I just don't wake up" }),
    )
    .await;

    assert_eq!(status, 200);
    let notice = notice(&events);
    assert_eq!(notice["severity"], "elevated");
    assert_eq!(notice["response"], "check_in");
    assert!(!contacts(&notice).is_empty());
    let requests = upstream.requests();
    assert_eq!(requests.len(), 1, "the model answers");
    let system: Vec<&str> = requests[0]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "system")
        .filter_map(|m| m["content"].as_str())
        .collect();
    assert!(
        system.iter().any(|s| s.contains("ask directly and gently")),
        "{system:?}"
    );
}

#[tokio::test]
async fn elevated_risk_without_a_model_still_asks_about_safety() {
    let app = spawn_app_with(&[]).await;
    let mut browser = guest(&app).await;

    let (status, events) = say(&mut browser, json!({ "content": "I want to kill myself" })).await;

    assert_eq!(status, 200);
    assert_eq!(notice(&events)["response"], "check_in");
    let text = streamed_text(&events);
    assert!(
        text.contains("Are you having thoughts of ending your life"),
        "{text}"
    );
    assert!(
        text.contains("988") || text.contains("findahelpline.com"),
        "{text}"
    );
}

#[tokio::test]
async fn worry_about_someone_else_gets_how_to_help_them_without_the_model() {
    let upstream = FakeUpstream::start().await.unwrap();
    let app = app_with_model(&upstream, &[]).await;
    let mut browser = guest(&app).await;

    let (_, events) = say(
        &mut browser,
        json!({ "content": "My sister keeps saying she wants to kill herself" }),
    )
    .await;

    let notice = notice(&events);
    assert_eq!(notice["response"], "help_them");
    assert_eq!(notice["categories"], json!(["concern_for_other"]));
    assert!(streamed_text(&events).contains("Ask them directly"));
    assert!(upstream.requests().is_empty());
}

#[tokio::test]
async fn a_medical_emergency_puts_the_emergency_number_first() {
    let app = spawn_app_with(&[]).await;
    let browser = guest(&app).await;

    let body = ask(
        &browser,
        "I swallowed a whole bottle of pills an hour ago",
        "en-GB",
    )
    .await;

    assert_eq!(body["crisis"]["response"], "crisis");
    assert_eq!(
        contacts(&body["crisis"]).first().map(String::as_str),
        Some("999")
    );
    assert!(contacts(&body["crisis"]).contains(&"116 123".to_owned()));
}

#[tokio::test]
async fn abuse_brings_abuse_and_childrens_lines() {
    let app = spawn_app_with(&[]).await;
    let browser = guest(&app).await;

    let body = ask(&browser, "my stepdad hits me when mom is at work", "en-US").await;

    assert_eq!(body["crisis"]["categories"], json!(["abuse"]));
    let lines = contacts(&body["crisis"]);
    assert!(lines.contains(&"1-800-799-7233".to_owned()), "{lines:?}");
    assert!(lines.contains(&"1-800-422-4453".to_owned()), "{lines:?}");
}

#[tokio::test]
async fn an_idiom_is_an_ordinary_turn() {
    let upstream = FakeUpstream::start().await.unwrap();
    let app = app_with_model(&upstream, &[]).await;
    let mut browser = guest(&app).await;

    let (_, events) = say(
        &mut browser,
        json!({ "content": "This traffic is killing me, I'm dead tired" }),
    )
    .await;

    assert_eq!(notice(&events), Value::Null);
    assert_eq!(upstream.requests().len(), 1);
    assert_eq!(upstream.judge_requests().len(), 1, "the judge read it too");
}

#[tokio::test]
async fn a_late_alarm_from_the_judge_replaces_the_streaming_reply() {
    let upstream = FakeUpstream::start().await.unwrap();
    // The judge answers after the reply has started streaming.
    upstream.set_default_delay(Duration::from_millis(40));
    upstream.set_verdict("RISK suicide imminent", Duration::from_millis(150));
    let app = app_with_model(&upstream, &[]).await;
    let mut browser = guest(&app).await;

    let (_, events) = say(
        &mut browser,
        json!({ "content": "I sorted out who gets the dog and cleared my desk, it's all arranged now" }),
    )
    .await;

    let tokens = named(&events, "token");
    assert!(
        !tokens.is_empty(),
        "the reply started before the judge answered"
    );
    let replaced = named(&events, "replace");
    assert_eq!(replaced.len(), 1);
    assert!(replaced[0]["text"]
        .as_str()
        .unwrap()
        .contains("Your life matters"));
    let notice = notice(&events);
    assert_eq!(notice["response"], "crisis");
    assert_eq!(notice["layer"], "judge");
    let done = named(&events, "done")[0];
    assert!(done["message"]["content"]
        .as_str()
        .unwrap()
        .contains("Your life matters"));
    let session_id = done["session_id"].as_str().unwrap();
    let (_, session) = browser
        .get(&format!("/api/chat/sessions/{session_id}"))
        .await;
    assert!(session["flagged_at"].is_string(), "{session}");
}

#[tokio::test]
async fn a_slow_judge_never_delays_or_breaks_the_reply() {
    let upstream = FakeUpstream::start().await.unwrap();
    upstream.set_verdict("RISK suicide imminent", Duration::from_secs(30));
    let app = app_with_model(&upstream, &[("SAFETY_JUDGE_TIMEOUT_MS", "300")]).await;
    let mut browser = guest(&app).await;

    let started = std::time::Instant::now();
    let (status, events) = say(&mut browser, json!({ "content": "How do I sleep better?" })).await;

    assert_eq!(status, 200);
    assert!(named(&events, "replace").is_empty());
    assert_eq!(notice(&events), Value::Null);
    // The judge's timeout bounds the turn; its answer never came.
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn readiness_says_whether_the_learned_layer_runs() {
    let app = spawn_app_with(&[
        ("SAFETY_MODEL_DIR", "/nonexistent"),
        ("SAFETY_MULTILINGUAL_DIR", "/nonexistent"),
    ])
    .await;

    let response = app.get("/readyz").await;
    let body: Value = response.json().await.unwrap();

    assert_eq!(body["checks"]["safety"]["status"], "rules_only");
    // The built-in head reads the multilingual encoder; its missing weights are named.
    assert!(body["checks"]["safety"]["detector"]["reason"]
        .as_str()
        .unwrap()
        .contains("weights.npz"));
    let metrics = app.scrape().await;
    assert_eq!(
        metrics.value("solace_safety_learned_layer_ready"),
        Some(0.0),
        "operators are alerted too"
    );
}

/// The real encoders, when `scripts/ensure-safety-model.sh` provided them (CI does).
pub fn safety_model_dirs() -> Option<(String, String)> {
    let dir = std::env::var("SAFETY_MODEL_DIR").ok()?;
    let multilingual = std::env::var("SAFETY_MULTILINGUAL_DIR").ok()?;
    (std::path::Path::new(&dir)
        .join("model.safetensors")
        .is_file()
        && std::path::Path::new(&multilingual)
            .join("weights.npz")
            .is_file())
    .then_some((dir, multilingual))
}

#[tokio::test]
async fn the_learned_layer_catches_a_plan_the_rules_miss() {
    let Some((dir, multilingual)) = safety_model_dirs() else {
        assert!(
            std::env::var("CI").is_err(),
            "CI must provide SAFETY_MODEL_DIR and SAFETY_MULTILINGUAL_DIR"
        );
        return;
    };
    let upstream = FakeUpstream::start().await.unwrap();
    let app = app_with_model(
        &upstream,
        &[
            ("SAFETY_MODEL_DIR", &dir),
            ("SAFETY_MULTILINGUAL_DIR", &multilingual),
        ],
    )
    .await;
    let body: Value = app.get("/readyz").await.json().await.unwrap();
    assert_eq!(body["checks"]["safety"]["status"], "ok");
    let mut browser = guest(&app).await;
    let message = "I've been saving my pills for weeks and tonight I'm finally taking all of them";
    assert!(!solace_ai::safety::rules::assess(message, &[]).is_crisis());

    let (_, events) = say(&mut browser, json!({ "content": message })).await;

    let notice = notice(&events);
    assert_eq!(notice["layer"], "learned", "{notice}");
    assert!(notice["response"] == "crisis" || notice["response"] == "check_in");
    let metrics = app.scrape().await;
    assert_eq!(
        metrics.value("solace_safety_learned_layer_ready"),
        Some(1.0)
    );
    assert_eq!(metrics.sum("solace_safety_alarms_total"), 1.0);
    assert!(metrics.0.contains(r#"layer="learned"}"#), "{}", metrics.0);
}

#[tokio::test]
async fn any_input_gets_an_answer_never_a_500() {
    let app = spawn_app_with(&[]).await;
    let mut browser = guest(&app).await;
    let inputs = [
        "🙂🙂🙂🔥💀",
        "\u{0}\u{1}\u{7f} binary \u{fffd}\u{fffd}",
        "mixed 中文 русский العربية עברית text",
        &"a".repeat(3900),
    ];
    for input in inputs {
        let (status, _) = say(&mut browser, json!({ "content": input })).await;
        assert!(status == 200 || status == 503, "{status} for {input:.20}");
    }
    let (status, _) = say(&mut browser, json!({ "content": "x".repeat(1 << 20) })).await;
    assert_eq!(status, 413);
}
