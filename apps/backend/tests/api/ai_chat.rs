//! `POST /api/ai/message` against a fake OpenAI-compatible server on a real socket.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use solace_ai::testing::{echo_reply, Behaviour, FakeUpstream};

use crate::helpers::{error_code, spawn_app_with, startup_error, Browser, TestApp};

/// One Server-Sent Event: its name and JSON data.
#[derive(Debug)]
pub struct SseEvent {
    pub name: String,
    pub data: Value,
}

pub fn parse_events(body: &str) -> Vec<SseEvent> {
    body.split("\n\n")
        .filter_map(|block| {
            let mut name = String::from("message");
            let mut data = String::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    name = v.trim().to_owned();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim_start());
                }
            }
            (!data.is_empty()).then(|| SseEvent {
                name,
                data: serde_json::from_str(&data).unwrap_or(Value::String(data)),
            })
        })
        .collect()
}

pub fn named<'a>(events: &'a [SseEvent], name: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e.name == name)
        .map(|e| &e.data)
        .collect()
}

pub fn streamed_text(events: &[SseEvent]) -> String {
    named(events, "token")
        .iter()
        .filter_map(|d| d["text"].as_str())
        .collect()
}

pub async fn app_with_model(upstream: &FakeUpstream, extra: &[(&str, &str)]) -> TestApp {
    let base = upstream.base_url();
    let mut vars = vec![
        ("LLM_BASE_URL", base.as_str()),
        ("LLM_MODEL", "fake-mellogpt"),
        ("LLM_TIMEOUT_SECS", "2"),
    ];
    vars.extend_from_slice(extra);
    spawn_app_with(&vars).await
}

pub async fn guest(app: &TestApp) -> Browser {
    let mut browser = app.browser();
    browser.guest().await;
    browser
}

/// Sends a message and reads the whole event stream.
pub async fn say(browser: &mut Browser, body: Value) -> (reqwest::StatusCode, Vec<SseEvent>) {
    let response = browser
        .send(Method::POST, "/api/ai/message", Some(body))
        .await;
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, parse_events(&text))
}

async fn messages_of(browser: &mut Browser, session_id: &str) -> Vec<Value> {
    let (status, body) = browser
        .get(&format!("/api/chat/sessions/{session_id}/messages"))
        .await;
    assert_eq!(status, 200, "{body}");
    body["messages"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_guest_gets_a_streamed_reply_and_both_messages_are_stored() {
    let upstream = FakeUpstream::start().await.unwrap();
    let app = app_with_model(&upstream, &[]).await;
    let mut browser = guest(&app).await;

    let response = browser
        .send(
            Method::POST,
            "/api/ai/message",
            Some(json!({ "content": "I can't sleep" })),
        )
        .await;
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    let events = parse_events(&response.text().await.unwrap());

    assert!(content_type.starts_with("text/event-stream"));
    assert_eq!(events[0].name, "start");
    let session_id = events[0].data["session_id"].as_str().unwrap().to_owned();
    assert!(
        named(&events, "token").len() > 3,
        "the reply arrives in pieces"
    );
    assert_eq!(streamed_text(&events), echo_reply("I can't sleep"));
    let done = named(&events, "done");
    assert_eq!(done.len(), 1);
    assert_eq!(done[0]["message"]["status"], "complete");
    assert_eq!(done[0]["crisis"], Value::Null);

    let stored = messages_of(&mut browser, &session_id).await;
    assert_eq!(stored.len(), 2);
    assert_eq!(
        (stored[0]["role"].as_str(), stored[0]["content"].as_str()),
        (Some("user"), Some("I can't sleep"))
    );
    assert_eq!(stored[1]["role"], "assistant");
    assert_eq!(stored[1]["content"], echo_reply("I can't sleep"));
    let (_, session) = browser
        .get(&format!("/api/chat/sessions/{session_id}"))
        .await;
    assert_eq!(session["title"], "I can't sleep");
}

#[tokio::test]
async fn json_clients_get_the_whole_reply_in_one_body() {
    let upstream = FakeUpstream::start().await.unwrap();
    let app = app_with_model(&upstream, &[]).await;
    let browser = guest(&app).await;

    let response = browser
        .client
        .post(browser.url("/api/ai/message"))
        .header("accept", "application/json")
        .header("x-csrf-token", browser.csrf.clone().unwrap())
        .json(&json!({ "content": "hello there" }))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["message"]["content"], echo_reply("hello there"));
    assert_eq!(body["user_message"]["content"], "hello there");
    assert!(body["session_id"].is_string());
}

#[tokio::test]
async fn the_model_sees_the_system_prompt_and_the_earlier_turns_even_after_the_cache_is_emptied() {
    let upstream = FakeUpstream::start().await.unwrap();
    let app = app_with_model(&upstream, &[("AI_LABEL", "AI companion")]).await;
    let mut browser = guest(&app).await;
    let (_, first) = say(&mut browser, json!({ "content": "My dog died last week" })).await;
    let session_id = first[0].data["session_id"].as_str().unwrap().to_owned();

    let (_, _) = say(
        &mut browser,
        json!({ "session_id": session_id, "content": "I miss him" }),
    )
    .await;
    app.state
        .cache
        .delete(&format!("chat:memory:{session_id}"))
        .await
        .unwrap();
    let (status, _) = say(
        &mut browser,
        json!({ "session_id": session_id, "content": "Thank you" }),
    )
    .await;

    assert_eq!(status, 200);
    let requests = upstream.requests();
    assert_eq!(requests.len(), 3);
    for request in &requests {
        let system = request["messages"][0]["content"].as_str().unwrap();
        assert_eq!(request["messages"][0]["role"], "system");
        assert!(system.contains("an AI companion") && system.contains("not a licensed clinician"));
        assert_eq!(request["model"], "fake-mellogpt");
    }
    let contents = |i: usize| -> Vec<String> {
        requests[i]["messages"]
            .as_array()
            .unwrap()
            .iter()
            .skip(1)
            .map(|m| m["content"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        contents(1),
        vec![
            "My dog died last week".to_owned(),
            echo_reply("My dog died last week"),
            "I miss him".to_owned()
        ]
    );
    assert_eq!(
        contents(2).len(),
        5,
        "rebuilt from the database: {:?}",
        contents(2)
    );
    assert_eq!(contents(2)[2], "I miss him");
}

#[tokio::test]
async fn history_is_cut_to_the_configured_number_of_turns() {
    let upstream = FakeUpstream::start().await.unwrap();
    let app = app_with_model(&upstream, &[("CHAT_HISTORY_TURNS", "3")]).await;
    let mut browser = guest(&app).await;
    let (_, first) = say(&mut browser, json!({ "content": "one" })).await;
    let session_id = first[0].data["session_id"].as_str().unwrap().to_owned();

    for text in ["two", "three"] {
        say(
            &mut browser,
            json!({ "session_id": session_id, "content": text }),
        )
        .await;
    }

    let last = upstream.requests().pop().unwrap();
    let messages = last["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 4, "the system prompt and three turns");
    assert_eq!(messages[3]["content"], "three");
}

#[tokio::test]
async fn a_crisis_message_gets_crisis_lines_and_never_reaches_the_model() {
    let upstream = FakeUpstream::start().await.unwrap();
    let app = app_with_model(&upstream, &[]).await;
    let mut browser = guest(&app).await;

    let response = browser
        .client
        .post(browser.url("/api/ai/message"))
        .header("x-csrf-token", browser.csrf.clone().unwrap())
        .header("accept-language", "en-US,en;q=0.9")
        .json(&json!({ "content": "I just want it all to stop, I'm going to die tonight" }))
        .send()
        .await
        .unwrap();
    let events = parse_events(&response.text().await.unwrap());

    let done = named(&events, "done")[0].clone();
    let session_id = done["session_id"].as_str().unwrap().to_owned();
    assert!(done["crisis"]["categories"]
        .as_array()
        .unwrap()
        .contains(&json!("suicidal_ideation")));
    let contacts: Vec<&str> = done["crisis"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["contact"].as_str())
        .collect();
    assert!(contacts.contains(&"988"), "{contacts:?}");
    assert!(streamed_text(&events).contains("988"));
    assert!(streamed_text(&events).contains("safety plan"));
    assert!(upstream.requests().is_empty(), "the model was not asked");
    let (_, session) = browser
        .get(&format!("/api/chat/sessions/{session_id}"))
        .await;
    assert!(session["flagged_at"].is_string(), "{session}");
    assert_eq!(messages_of(&mut browser, &session_id).await.len(), 2);
}

#[tokio::test]
async fn the_crisis_reply_works_without_any_model() {
    let app = spawn_app_with(&[]).await;
    let mut browser = guest(&app).await;

    let (status, events) = say(&mut browser, json!({ "content": "I want to kill myself" })).await;

    assert_eq!(status, 200);
    assert!(named(&events, "done")[0]["crisis"].is_object());
}

#[tokio::test]
async fn without_a_model_an_ordinary_message_is_a_clear_503_and_is_still_stored() {
    let app = spawn_app_with(&[]).await;
    let mut browser = guest(&app).await;

    let response = browser
        .send(
            Method::POST,
            "/api/ai/message",
            Some(json!({ "content": "hi" })),
        )
        .await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    let (_, sessions) = browser.get("/api/chat/sessions").await;
    let session_id = sessions["sessions"][0]["id"].as_str().unwrap().to_owned();

    assert_eq!(
        (status.as_u16(), body["error"].as_str()),
        (503, Some("model_not_configured"))
    );
    let stored = messages_of(&mut browser, &session_id).await;
    assert_eq!(stored.len(), 1);
    // Where the message was kept, so the app shows it and continues there.
    assert_eq!(body["session_id"], session_id.as_str());
    assert_eq!(body["message_id"], stored[0]["id"]);
    let (_, info) = browser.get("/api/ai/info").await;
    assert_eq!(info["model"]["configured"], false);
    assert_eq!(info["label"], "AI therapist");
    assert!(info["disclosure"]
        .as_str()
        .unwrap()
        .contains("not a licensed clinician"));
}

async fn failure(browser: &mut Browser) -> (u16, Value) {
    let response = browser
        .send(
            Method::POST,
            "/api/ai/message",
            Some(json!({ "content": "hi" })),
        )
        .await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn an_upstream_that_is_down_is_a_retryable_502() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    drop(listener);
    let app = spawn_app_with(&[
        ("LLM_BASE_URL", &base),
        ("LLM_MODEL", "m"),
        ("LLM_MAX_RETRIES", "1"),
    ])
    .await;
    let mut browser = guest(&app).await;

    let (status, body) = failure(&mut browser).await;

    assert_eq!(status, 502);
    assert_eq!(body["error"], "model_unavailable");
    assert_eq!(body["retryable"], true);
    assert!(
        body["session_id"].is_string() && body["message_id"].is_string(),
        "{body}"
    );
}

#[tokio::test]
async fn an_upstream_that_stays_silent_is_a_retryable_504() {
    let upstream = FakeUpstream::start().await.unwrap();
    upstream.then(Behaviour::Stall);
    let app = app_with_model(&upstream, &[("LLM_TIMEOUT_SECS", "1")]).await;
    let mut browser = guest(&app).await;

    let (status, body) = failure(&mut browser).await;

    assert_eq!(status, 504);
    assert_eq!(body["error"], "model_timeout");
    assert_eq!(body["retryable"], true);
}

#[tokio::test]
async fn an_upstream_that_refuses_the_request_is_a_502_not_worth_retrying() {
    let upstream = FakeUpstream::start().await.unwrap();
    upstream.then(Behaviour::Fail {
        status: 401,
        retry_after_secs: None,
    });
    let app = app_with_model(&upstream, &[]).await;
    let mut browser = guest(&app).await;

    let (status, body) = failure(&mut browser).await;

    assert_eq!(status, 502);
    assert_eq!(body["retryable"], false);
    assert!(
        !body["message"].as_str().unwrap().contains("401"),
        "no internals leak"
    );
}

#[tokio::test]
async fn busy_upstreams_are_retried_transparently() {
    let upstream = FakeUpstream::start().await.unwrap();
    upstream.then(Behaviour::Fail {
        status: 503,
        retry_after_secs: Some(0),
    });
    let app = app_with_model(&upstream, &[]).await;
    let mut browser = guest(&app).await;

    let (status, events) = say(&mut browser, json!({ "content": "hi" })).await;

    assert_eq!(status, 200);
    assert_eq!(named(&events, "done").len(), 1);
    assert_eq!(upstream.requests().len(), 2);
}

#[tokio::test]
async fn a_reply_cut_off_upstream_ends_with_an_error_event_and_is_kept_as_incomplete() {
    let upstream = FakeUpstream::start().await.unwrap();
    upstream.then(Behaviour::Disconnect {
        tokens: vec!["That".into(), " sounds".into(), " hard".into()],
    });
    let app = app_with_model(&upstream, &[]).await;
    let mut browser = guest(&app).await;

    let (status, events) = say(&mut browser, json!({ "content": "hi" })).await;

    assert_eq!(status, 200);
    assert_eq!(streamed_text(&events), "That sounds hard");
    let error = named(&events, "error")[0].clone();
    assert_eq!(error["error"], "model_unavailable");
    assert_eq!(error["retryable"], true);
    let session_id = events[0].data["session_id"].as_str().unwrap().to_owned();
    let stored = messages_of(&mut browser, &session_id).await;
    assert_eq!(stored[1]["content"], "That sounds hard");
    assert_eq!(stored[1]["status"], "incomplete");
    assert_eq!(stored[1]["id"], error["message_id"]);
}

#[tokio::test]
async fn a_retry_answers_the_stored_message_again_without_storing_it_twice() {
    let upstream = FakeUpstream::start().await.unwrap();
    let app = app_with_model(&upstream, &[]).await;
    let mut browser = guest(&app).await;
    let (_, first) = say(&mut browser, json!({ "content": "Work was long today" })).await;
    let session_id = first[0].data["session_id"].as_str().unwrap().to_owned();

    // The model refuses before replying: the message is kept, the body names it.
    upstream.then(Behaviour::Fail {
        status: 401,
        retry_after_secs: None,
    });
    let response = browser
        .send(
            Method::POST,
            "/api/ai/message",
            Some(json!({ "session_id": session_id, "content": "I keep replaying it" })),
        )
        .await;
    assert_eq!(response.status(), 502);
    let failed: Value = response.json().await.unwrap();
    let message_id = failed["message_id"].as_str().unwrap().to_owned();

    // A changed text, no conversation, or someone else's message is not a retry.
    let retry = |content: &str| json!({ "session_id": session_id, "content": content, "retry_of": message_id });
    let (status, _) = say(&mut browser, retry("I keep replaying it!")).await;
    assert_eq!(status, 422);
    let (status, _) = say(
        &mut browser,
        json!({ "content": "I keep replaying it", "retry_of": message_id }),
    )
    .await;
    assert_eq!(status, 422);
    let mut stranger = guest(&app).await;
    let (_, theirs) = say(&mut stranger, json!({ "content": "Hello" })).await;
    let their_session = theirs[0].data["session_id"].as_str().unwrap();
    let (status, _) = say(
        &mut stranger,
        json!({ "session_id": their_session, "content": "I keep replaying it", "retry_of": message_id }),
    )
    .await;
    assert_eq!(status, 404, "someone else's message is not found");

    let (status, events) = say(&mut browser, retry("I keep replaying it")).await;
    assert_eq!(status, 200);
    assert_eq!(events[0].data["user_message"]["id"], message_id.as_str());
    assert_eq!(streamed_text(&events), echo_reply("I keep replaying it"));
    // The model saw the earlier turns and the message once.
    let asked = upstream.requests().last().cloned().unwrap();
    let turns: Vec<&str> = asked["messages"]
        .as_array()
        .unwrap()
        .iter()
        .skip(1)
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(
        turns,
        vec![
            "Work was long today",
            echo_reply("Work was long today").as_str(),
            "I keep replaying it"
        ]
    );
    let stored = messages_of(&mut browser, &session_id).await;
    let roles: Vec<&str> = stored.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["user", "assistant", "user", "assistant"]);

    // Answered now: a second retry is a conflict, and nothing more is stored.
    let response = browser
        .send(
            Method::POST,
            "/api/ai/message",
            Some(retry("I keep replaying it")),
        )
        .await;
    assert_eq!(response.status(), 409);
    assert_eq!(error_code(response).await, "already_answered");
    assert_eq!(messages_of(&mut browser, &session_id).await.len(), 4);
}

#[tokio::test]
async fn a_reply_cut_short_can_be_retried_and_the_partial_reply_stays_marked() {
    let upstream = FakeUpstream::start().await.unwrap();
    upstream.then(Behaviour::Disconnect {
        tokens: vec!["That".into(), " sounds".into()],
    });
    let app = app_with_model(&upstream, &[]).await;
    let mut browser = guest(&app).await;
    let (_, events) = say(&mut browser, json!({ "content": "Rough week" })).await;
    let session_id = events[0].data["session_id"].as_str().unwrap().to_owned();
    let message_id = events[0].data["user_message"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(named(&events, "error").len(), 1);

    let (status, events) = say(
        &mut browser,
        json!({ "session_id": session_id, "content": "Rough week", "retry_of": message_id }),
    )
    .await;

    assert_eq!(status, 200);
    assert_eq!(named(&events, "done").len(), 1);
    let stored = messages_of(&mut browser, &session_id).await;
    let shape: Vec<(&str, &str)> = stored
        .iter()
        .map(|m| (m["role"].as_str().unwrap(), m["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        shape,
        [
            ("user", "complete"),
            ("assistant", "incomplete"),
            ("assistant", "complete")
        ]
    );
}

#[tokio::test]
async fn closing_the_connection_stops_the_model_and_keeps_the_partial_reply() {
    let upstream = FakeUpstream::start().await.unwrap();
    upstream.then(Behaviour::reply(
        &"calm ".repeat(300),
        Duration::from_millis(20),
    ));
    let app = app_with_model(&upstream, &[]).await;
    let mut browser = guest(&app).await;

    let mut response = browser
        .send(
            Method::POST,
            "/api/ai/message",
            Some(json!({ "content": "hi" })),
        )
        .await;
    let mut received = String::new();
    while !received.contains("event: token") {
        let chunk = response.chunk().await.unwrap().unwrap();
        received.push_str(&String::from_utf8_lossy(&chunk));
    }
    let session_id = parse_events(&received)[0].data["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    drop(response);

    let mut stored = Vec::new();
    for _ in 0..200 {
        stored = messages_of(&mut browser, &session_id).await;
        if stored.len() == 2 && upstream.cancelled() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(upstream.cancelled(), 1, "the upstream stream was closed");
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[1]["status"], "incomplete");
    assert!(stored[1]["content"].as_str().unwrap().starts_with("calm"));
}

#[tokio::test]
async fn model_output_that_breaks_a_rule_is_replaced_before_it_is_complete() {
    let upstream = FakeUpstream::start().await.unwrap();
    upstream.then(Behaviour::reply(
        "From what you describe, you clearly have depression and should double your dose.",
        Duration::from_millis(1),
    ));
    let app = app_with_model(&upstream, &[]).await;
    let mut browser = guest(&app).await;

    let (_, events) = say(&mut browser, json!({ "content": "I feel low" })).await;

    let streamed = streamed_text(&events);
    assert!(
        !streamed.contains("depression"),
        "the breaking word never went out: {streamed}"
    );
    let replaced = named(&events, "replace")[0]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(replaced.contains("not able to diagnose"));
    let done = named(&events, "done")[0].clone();
    assert_eq!(done["message"]["content"], replaced);
    assert_eq!(done["message"]["status"], "complete");
}

#[tokio::test]
async fn empty_oversized_and_malformed_messages_are_refused_without_storing_anything() {
    let upstream = FakeUpstream::start().await.unwrap();
    let app = app_with_model(&upstream, &[("CHAT_MAX_MESSAGE_CHARS", "20")]).await;
    let mut browser = guest(&app).await;

    let empty = browser
        .send(
            Method::POST,
            "/api/ai/message",
            Some(json!({ "content": "  \n " })),
        )
        .await;
    let long = browser
        .send(
            Method::POST,
            "/api/ai/message",
            Some(json!({ "content": "x".repeat(21) })),
        )
        .await;
    let missing = browser
        .send(
            Method::POST,
            "/api/ai/message",
            Some(json!({ "text": "hi" })),
        )
        .await;

    assert_eq!(empty.status(), 422);
    assert_eq!(error_code(empty).await, "message_empty");
    assert_eq!(long.status(), 413);
    assert_eq!(error_code(long).await, "message_too_long");
    assert_eq!(missing.status(), 422);
    let (_, sessions) = browser.get("/api/chat/sessions").await;
    assert_eq!(sessions["sessions"].as_array().unwrap().len(), 0);
    assert!(upstream.requests().is_empty());
}

#[tokio::test]
async fn another_persons_or_an_unknown_session_is_404_and_nothing_is_stored_there() {
    let upstream = FakeUpstream::start().await.unwrap();
    let app = app_with_model(&upstream, &[]).await;
    let mut alice = guest(&app).await;
    let mut mallory = guest(&app).await;
    let (_, events) = say(&mut alice, json!({ "content": "private" })).await;
    let session_id = events[0].data["session_id"].as_str().unwrap().to_owned();

    let (theirs, _) = say(
        &mut mallory,
        json!({ "session_id": session_id, "content": "hi" }),
    )
    .await;
    let (unknown, _) = say(
        &mut mallory,
        json!({ "session_id": "nope", "content": "hi" }),
    )
    .await;

    assert_eq!(theirs, 404);
    assert_eq!(unknown, 404);
    assert_eq!(messages_of(&mut alice, &session_id).await.len(), 2);
}

#[tokio::test]
async fn too_many_messages_a_minute_are_429_with_retry_after() {
    let upstream = FakeUpstream::start().await.unwrap();
    let app = app_with_model(&upstream, &[("AI_MESSAGES_PER_MINUTE", "2")]).await;
    let mut browser = guest(&app).await;

    for _ in 0..2 {
        let (status, _) = say(&mut browser, json!({ "content": "hi" })).await;
        assert_eq!(status, 200);
    }
    let response = browser
        .send(
            Method::POST,
            "/api/ai/message",
            Some(json!({ "content": "hi" })),
        )
        .await;

    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "60");
    assert_eq!(error_code(response).await, "rate_limited");
}

#[tokio::test]
async fn strangers_and_forged_requests_are_turned_away() {
    let upstream = FakeUpstream::start().await.unwrap();
    let app = app_with_model(&upstream, &[]).await;
    let mut stranger = app.browser();
    let mut browser = guest(&app).await;
    browser.csrf = None;

    let (anonymous, _) = say(&mut stranger, json!({ "content": "hi" })).await;
    let (no_csrf, _) = say(&mut browser, json!({ "content": "hi" })).await;

    assert_eq!(anonymous, 401);
    assert_eq!(no_csrf, 403);
    assert!(upstream.requests().is_empty());
}

#[tokio::test]
async fn a_gguf_model_in_this_process_answers_through_the_same_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny.gguf");
    solace_ai::testing::write_tiny_gguf(&path).unwrap();
    let path = path.display().to_string();
    let app = spawn_app_with(&[("LLM_GGUF_PATH", &path), ("LLM_MAX_TOKENS", "16")]).await;
    let mut browser = guest(&app).await;

    let (status, events) = say(&mut browser, json!({ "content": "I feel alone today" })).await;
    let (_, info) = browser.get("/api/ai/info").await;

    assert_eq!(status, 200);
    assert!(!named(&events, "token").is_empty());
    let done = named(&events, "done")[0].clone();
    assert_eq!(
        done["message"]["content"].as_str().unwrap(),
        streamed_text(&events).as_str()
    );
    assert_eq!(info["model"]["name"], "local:tiny");
}

#[tokio::test]
async fn a_file_that_is_not_a_model_stops_the_start_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.gguf");
    std::fs::write(&path, b"not a model").unwrap();
    let path = path.display().to_string();

    let error = startup_error(&[("LLM_GGUF_PATH", &path)]).await;

    assert!(error.starts_with("LLM_GGUF_PATH:"), "{error}");
    assert!(error.contains("not a GGUF file"), "{error}");
}
