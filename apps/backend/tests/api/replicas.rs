//! Two replicas, one truth: two servers on one PostgreSQL and Redis, as behind a load
//! balancer that sends each request wherever it likes. Runs on the PostgreSQL + Redis
//! pass (`make test` runs both).
//!
//! Not here, by design: moderation from one replica reaching a participant whose audio
//! is connected to the other. The embedded SFU forwards a room's audio only between the
//! participants connected to it, so a room must live on one replica; deployments of more
//! than one replica use LiveKit for rooms (docs/RELIABILITY.md), where moderation goes
//! to LiveKit's API from whichever replica handles the request.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use solace_ai::testing::{Behaviour, FakeUpstream};
use solace_backend::rooms::sfu::peer::Peer;

use crate::ai_chat::{named, parse_events};
use crate::helpers::{spawn_replicas, using_postgres, using_redis, Browser, TestApp};

fn on_shared_engines() -> bool {
    using_postgres() && using_redis()
}

/// The same browser (cookie jar and CSRF token) talking to the other replica.
fn same_person_on(browser: &Browser, other: &TestApp) -> Browser {
    Browser::for_base(&other.address, browser.client.clone(), browser.csrf.clone())
}

async fn say(
    browser: &mut Browser,
    body: serde_json::Value,
) -> (u16, Vec<crate::ai_chat::SseEvent>) {
    let response = browser
        .send(Method::POST, "/api/ai/message", Some(body))
        .await;
    let status = response.status().as_u16();
    (status, parse_events(&response.text().await.unwrap()))
}

#[tokio::test]
async fn a_conversation_continues_on_the_other_replica_with_its_memory_and_its_limits() {
    if !on_shared_engines() {
        return;
    }
    let upstream = FakeUpstream::start().await.unwrap();
    let base = upstream.base_url();
    let (a, b) = spawn_replicas(&[
        ("LLM_BASE_URL", base.as_str()),
        ("LLM_MODEL", "fake"),
        ("AI_MESSAGES_PER_MINUTE", "3"),
    ])
    .await;
    let mut on_a = a.browser();
    on_a.guest().await;
    let mut on_b = same_person_on(&on_a, &b);

    let (status, events) = say(&mut on_a, json!({ "content": "My sister is visiting." })).await;
    assert_eq!(status, 200);
    let session = named(&events, "done")[0]["session_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // The next message goes to the other replica: it knows the conversation.
    let (status, events) = say(
        &mut on_b,
        json!({ "session_id": session, "content": "We argued about dinner." }),
    )
    .await;
    assert_eq!(status, 200, "{events:?}");
    let prompt = upstream.requests().last().unwrap()["messages"].to_string();
    assert!(prompt.contains("My sister is visiting."), "{prompt}");
    let (status, list) = on_a
        .get(&format!("/api/chat/sessions/{session}/messages"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(list["messages"].as_array().unwrap().len(), 4);

    // The limit counts messages on both replicas together.
    let (status, _) = say(
        &mut on_a,
        json!({ "session_id": session, "content": "Three." }),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = say(
        &mut on_b,
        json!({ "session_id": session, "content": "Four." }),
    )
    .await;
    assert_eq!(status, 429);
}

#[tokio::test]
async fn each_spoken_sentence_is_made_once_though_both_replicas_run_workers() {
    if !on_shared_engines() {
        return;
    }
    let upstream = FakeUpstream::start().await.unwrap();
    let base = upstream.base_url();
    let reply = "Sleep matters. A short walk may help. Try it tomorrow morning.";
    upstream.then(Behaviour::reply(reply, Duration::from_millis(5)));
    let (a, b) = spawn_replicas(&[
        ("LLM_BASE_URL", base.as_str()),
        ("LLM_MODEL", "fake"),
        ("TTS_PROVIDER", "openai"),
        ("TTS_BASE_URL", base.as_str()),
        ("TTS_FORMAT", "wav"),
    ])
    .await;
    let mut on_a = a.browser();
    on_a.guest().await;
    let mut on_b = same_person_on(&on_a, &b);

    let (status, events) = say(
        &mut on_a,
        json!({ "content": "I can't sleep.", "speak": true }),
    )
    .await;
    assert_eq!(status, 200);
    let clips = named(&events, "audio");
    assert_eq!(clips.len(), 3);
    // Fetched through the other replica: each clip waits until a worker made it.
    for clip in &clips {
        let response = on_b
            .send(Method::GET, clip["url"].as_str().unwrap(), None)
            .await;
        assert_eq!(response.status(), 200);
    }
    assert_eq!(
        upstream.speech_requests().len(),
        3,
        "each sentence was synthesised once, by one of the two workers"
    );
}

#[tokio::test]
async fn both_replicas_agree_on_who_is_connected_to_a_room() {
    if !on_shared_engines() {
        return;
    }
    let (a, b) = spawn_replicas(&[]).await;
    let mut host = a.browser();
    host.guest().await;
    let (_, room) = host
        .post("/api/rooms", json!({ "title": "Replicas" }))
        .await;
    let room = room["id"].as_str().unwrap().to_owned();
    let (_, detail) = host
        .post(&format!("/api/rooms/{room}/join"), json!({}))
        .await;
    let handle = detail["you"]["handle"].as_str().unwrap().to_owned();
    let url = crate::sfu::signal_url(&a, &mut host, &room).await;
    let mut peer = Peer::connect(&url).await.unwrap();

    // Connected to replica A's audio; replica B, asked about the room, says so too.
    let mut on_b = same_person_on(&host, &b);
    let started = std::time::Instant::now();
    let connected = loop {
        peer.pump(false, Duration::from_millis(50)).await;
        let (_, detail) = on_b.get(&format!("/api/rooms/{room}")).await;
        let me = detail["participants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["handle"] == handle.as_str())
            .cloned()
            .unwrap();
        if me["connected"] == true || started.elapsed() > Duration::from_secs(10) {
            break me["connected"] == true;
        }
    };
    assert!(connected, "replica B did not see the connection made on A");
}
