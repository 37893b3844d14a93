//! Memory across conversations over HTTP: what is remembered reaches a later prompt,
//! only the owner's, under the person's control (pause, delete, forget, export), and
//! flagged moments only by choice. The embedding server is the fake's
//! `/v1/embeddings` (words hashed into buckets), except in the test that uses the real
//! in-process encoder.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};
use solace_ai::testing::FakeUpstream;

use crate::ai_chat::{app_with_model, guest, say};
use crate::helpers::{spawn_app_with, Browser, TestApp};

/// An app whose model and embedding server are both the fake.
async fn app_remembering(upstream: &FakeUpstream, extra: &[(&str, &str)]) -> TestApp {
    let base = upstream.base_url();
    let mut vars = vec![
        ("EMBEDDINGS_BASE_URL", base.as_str()),
        ("EMBEDDINGS_MODEL", "fake-embed"),
        // The fake's word buckets are coarser than a real model's similarities.
        ("MEMORY_MIN_SIMILARITY", "0.2"),
    ];
    vars.extend_from_slice(extra);
    app_with_model(upstream, &vars).await
}

/// Waits until at least `count` items are remembered; returns the memory page.
async fn remembered(browser: &mut Browser, count: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, page) = browser.get("/api/memory?limit=100").await;
        assert_eq!(status, 200, "{page}");
        if page["total"].as_u64().unwrap_or(0) >= count {
            return page;
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {count} items remembered",
            page["total"]
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The person chooses to have moments the safety layer flagged remembered too.
async fn keep_hard_moments(browser: &mut Browser) {
    browser
        .send_json(
            Method::PUT,
            "/api/memory/choices",
            Some(json!({ "paused": false, "hard_moments": true })),
        )
        .await;
}

/// The "earlier conversations" block of the model's latest request, if any.
fn recalled_block(upstream: &FakeUpstream) -> Option<String> {
    let last = upstream.requests().pop()?;
    last["messages"]
        .as_array()?
        .iter()
        .filter(|m| m["role"] == "system")
        .filter_map(|m| m["content"].as_str())
        .find(|c| c.starts_with("From your earlier conversations"))
        .map(str::to_owned)
}

/// The conversation a reply's `start` event names.
fn session_of(events: &[crate::ai_chat::SseEvent]) -> String {
    crate::ai_chat::named(events, "start")[0]["session_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn texts(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["text"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_fact_from_an_earlier_conversation_reaches_a_later_prompt() {
    let upstream = FakeUpstream::start().await.unwrap();
    let app = app_remembering(&upstream, &[]).await;
    let mut browser = guest(&app).await;
    let fact = "My sister Dana moved to Lisbon and we barely talk now";
    let (status, _) = say(&mut browser, json!({ "content": fact })).await;
    assert_eq!(status, 200);
    say(
        &mut browser,
        json!({ "content": "Work has been busy with the quarterly reports" }),
    )
    .await;
    let page = remembered(&mut browser, 4).await;
    assert_eq!(page["status"]["available"], true);
    assert_eq!(page["status"]["model"], "openai:fake-embed");
    assert!(texts(&page).contains(&fact.to_owned()));
    let item = &page["items"].as_array().unwrap()[0];
    for key in [
        "id",
        "session_id",
        "session_title",
        "role",
        "text",
        "said_at",
    ] {
        assert!(!item[key].is_null(), "{key} in {item}");
    }

    // A new conversation: the earlier one is not in its window, memory brings it back.
    let (status, _) = say(
        &mut browser,
        json!({ "content": "Should I call my sister Dana in Lisbon this weekend?" }),
    )
    .await;

    assert_eq!(status, 200);
    let block = recalled_block(&upstream).expect("earlier conversations in the prompt");
    assert!(block.contains(fact), "{block}");
    assert!(block.contains("earlier today, they said"), "{block}");
    // What the conversation already shows is not repeated; the unrelated turn stays out.
    assert!(!block.contains("quarterly reports"), "{block}");
}

#[tokio::test]
async fn the_same_conversation_is_not_recalled_into_itself() {
    let upstream = FakeUpstream::start().await.unwrap();
    let app = app_remembering(&upstream, &[]).await;
    let mut browser = guest(&app).await;
    let (_, events) = say(
        &mut browser,
        json!({ "content": "My cat Miso hides under the bed during storms" }),
    )
    .await;
    let session = session_of(&events);
    remembered(&mut browser, 2).await;

    say(
        &mut browser,
        json!({ "session_id": session, "content": "Miso hid under the bed again during the storm" }),
    )
    .await;

    assert_eq!(recalled_block(&upstream), None);
}

#[tokio::test]
async fn another_persons_memory_never_reaches_my_prompt() {
    let upstream = FakeUpstream::start().await.unwrap();
    let app = app_remembering(&upstream, &[]).await;
    let mut alice = guest(&app).await;
    let secret = "My dog Biscuit died on Tuesday and I keep crying at work";
    say(&mut alice, json!({ "content": secret })).await;
    let alice_page = remembered(&mut alice, 2).await;

    // Bob says the very same words: only the owner's scope keeps Alice's turn out.
    let mut bob = guest(&app).await;
    let (status, _) = say(&mut bob, json!({ "content": secret })).await;

    assert_eq!(status, 200);
    assert_eq!(recalled_block(&upstream), None);
    for item in alice_page["items"].as_array().unwrap() {
        let id = item["id"].as_str().unwrap();
        let response = bob
            .send(Method::DELETE, &format!("/api/memory/items/{id}"), None)
            .await;
        assert_eq!(response.status(), 404);
    }
    assert_eq!(alice.get("/api/memory").await.1["total"], 2);
    // Bob's own page holds only Bob's turn.
    let bob_page = remembered(&mut bob, 2).await;
    assert_eq!(bob_page["total"], 2);
    let alice_sessions: Vec<&Value> = alice_page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &i["session_id"])
        .collect();
    assert!(bob_page["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| !alice_sessions.contains(&&i["session_id"])));
}

#[tokio::test]
async fn the_person_deletes_items_conversations_and_everything() {
    let upstream = FakeUpstream::start().await.unwrap();
    let app = app_remembering(&upstream, &[]).await;
    let mut browser = guest(&app).await;
    let (_, events) = say(
        &mut browser,
        json!({ "content": "I started running in the park on Sundays" }),
    )
    .await;
    let first_session = session_of(&events);
    say(
        &mut browser,
        json!({ "content": "My manager Priya praised my report today" }),
    )
    .await;
    let page = remembered(&mut browser, 4).await;

    // One item.
    let id = page["items"][0]["id"].as_str().unwrap().to_owned();
    let deleted = browser
        .send(Method::DELETE, &format!("/api/memory/items/{id}"), None)
        .await;
    assert_eq!(deleted.status(), 204);
    let again = browser
        .send(Method::DELETE, &format!("/api/memory/items/{id}"), None)
        .await;
    assert_eq!(again.status(), 404);
    assert_eq!(browser.get("/api/memory").await.1["total"], 3);

    // A conversation, and what was remembered of it.
    let deleted = browser
        .send(
            Method::DELETE,
            &format!("/api/chat/sessions/{first_session}"),
            None,
        )
        .await;
    assert_eq!(deleted.status(), 204);
    let page = browser.get("/api/memory").await.1;
    assert!(
        !texts(&page).iter().any(|t| t.contains("running")),
        "{page}"
    );

    // Everything.
    let forgot = browser.send(Method::DELETE, "/api/memory", None).await;
    assert_eq!(forgot.status(), 204);
    assert_eq!(browser.get("/api/memory").await.1["total"], 0);
    say(
        &mut browser,
        json!({ "content": "Priya my manager and the report" }),
    )
    .await;
    assert_eq!(recalled_block(&upstream), None);
}

#[tokio::test]
async fn paused_memory_keeps_nothing_new_and_recalls_nothing() {
    let upstream = FakeUpstream::start().await.unwrap();
    let app = app_remembering(&upstream, &[]).await;
    let mut browser = guest(&app).await;
    say(
        &mut browser,
        json!({ "content": "I play the cello in a community orchestra" }),
    )
    .await;
    remembered(&mut browser, 2).await;

    let (status, choices) = browser
        .send_json(
            Method::PUT,
            "/api/memory/choices",
            Some(json!({ "paused": true, "hard_moments": false })),
        )
        .await;
    assert_eq!(status, 200, "{choices}");
    assert_eq!(choices, json!({ "paused": true, "hard_moments": false }));
    say(
        &mut browser,
        json!({ "content": "The cello concert with the orchestra is on Friday" }),
    )
    .await;
    assert_eq!(
        recalled_block(&upstream),
        None,
        "nothing recalled while paused"
    );

    // Resumed: the old item comes back; nothing said while paused was kept.
    let (status, _) = browser
        .send_json(
            Method::PUT,
            "/api/memory/choices",
            Some(json!({ "paused": false, "hard_moments": false })),
        )
        .await;
    assert_eq!(status, 200);
    say(
        &mut browser,
        json!({ "content": "Nervous about the cello concert with the orchestra" }),
    )
    .await;
    let page = remembered(&mut browser, 4).await;
    assert!(
        !texts(&page).iter().any(|t| t.contains("on Friday")),
        "{page}"
    );
    let block = recalled_block(&upstream).expect("recalled after resuming");
    assert!(block.contains("community orchestra"), "{block}");

    // A body that is not the choices is refused clearly.
    let (status, body) = browser
        .send_json(
            Method::PUT,
            "/api/memory/choices",
            Some(json!({ "paused": "yes" })),
        )
        .await;
    assert_eq!(status, 422, "{body}");
}

#[tokio::test]
async fn flagged_moments_are_remembered_only_by_choice() {
    let upstream = FakeUpstream::start().await.unwrap();
    let app = app_remembering(&upstream, &[]).await;
    let mut browser = guest(&app).await;
    let crisis = "I want to kill myself tonight";
    say(&mut browser, json!({ "content": crisis })).await;
    say(
        &mut browser,
        json!({ "content": "I baked bread with my grandmother" }),
    )
    .await;
    let page = remembered(&mut browser, 2).await;
    assert_eq!(page["total"], 2, "{page}");
    assert!(!texts(&page).iter().any(|t| t.contains("kill")), "{page}");

    keep_hard_moments(&mut browser).await;
    say(&mut browser, json!({ "content": crisis })).await;
    let page = remembered(&mut browser, 4).await;
    assert!(texts(&page).iter().any(|t| t.contains("kill")), "{page}");
}

#[tokio::test]
async fn the_export_holds_what_is_remembered_and_the_choices() {
    let upstream = FakeUpstream::start().await.unwrap();
    let app = app_remembering(&upstream, &[]).await;
    let mut browser = guest(&app).await;
    say(
        &mut browser,
        json!({ "content": "My grandfather taught me chess" }),
    )
    .await;
    remembered(&mut browser, 2).await;

    let (status, export) = browser.get("/api/me/export").await;

    assert_eq!(status, 200);
    let memory = export["memory"].as_array().unwrap();
    assert_eq!(memory.len(), 2);
    assert!(memory
        .iter()
        .any(|m| m["text"] == "My grandfather taught me chess"));
    assert!(memory.iter().all(|m| m.get("vector").is_none()));
    assert!(export["memory_choices"].is_array());
}

#[tokio::test]
async fn without_an_embedding_model_memory_says_why_and_chat_still_works() {
    let upstream = FakeUpstream::start().await.unwrap();
    let app = app_with_model(
        &upstream,
        &[
            ("SAFETY_MODEL_DIR", "/nonexistent"),
            ("SAFETY_MULTILINGUAL_DIR", "/nonexistent"),
        ],
    )
    .await;
    let mut browser = guest(&app).await;
    let (status, _) = say(&mut browser, json!({ "content": "Hello there" })).await;
    assert_eq!(status, 200);

    let (status, page) = browser.get("/api/memory").await;

    assert_eq!(status, 200);
    assert_eq!(page["status"]["available"], false);
    assert!(page["status"]["reason"]
        .as_str()
        .unwrap()
        .contains("EMBEDDINGS_BASE_URL"));
    assert_eq!(page["total"], 0);
    let off = spawn_app_with(&[("MEMORY_ENABLED", "false")]).await;
    let mut browser = guest(&off).await;
    assert_eq!(
        browser.get("/api/memory").await.1["status"]["reason"],
        "MEMORY_ENABLED is false"
    );
}

#[tokio::test]
async fn the_embedding_server_failing_costs_the_memory_never_the_reply() {
    let upstream = FakeUpstream::start().await.unwrap();
    let app = app_with_model(
        &upstream,
        &[
            ("EMBEDDINGS_BASE_URL", "http://127.0.0.1:9/v1"),
            ("EMBEDDINGS_MODEL", "gone"),
        ],
    )
    .await;
    let mut browser = guest(&app).await;

    let (status, events) = say(&mut browser, json!({ "content": "Hello again" })).await;

    assert_eq!(status, 200);
    assert_eq!(crate::ai_chat::named(&events, "done").len(), 1);
}

/// The real in-process encoder (the safety layer's), when CI provides it: a paraphrase
/// in another conversation, in another language, finds the earlier fact.
#[tokio::test]
async fn the_in_process_encoder_finds_a_paraphrase_across_languages() {
    let Some((dir, multilingual)) = crate::safety::safety_model_dirs() else {
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
    let mut browser = guest(&app).await;
    // This test is about retrieval, not the crisis detector: whatever the detector
    // makes of a nurse's night shifts at a children's hospital (it may ask a gentle
    // check-in question), the turn is remembered.
    keep_hard_moments(&mut browser).await;
    let fact = "I work night shifts as a nurse at the children's hospital";
    say(&mut browser, json!({ "content": fact })).await;
    say(
        &mut browser,
        json!({ "content": "We adopted a kitten called Pepper last spring" }),
    )
    .await;
    let page = remembered(&mut browser, 4).await;
    assert_eq!(page["status"]["model"], "use-multilingual-v3");

    say(
        &mut browser,
        json!({ "content": "Estoy agotada después de tantas noches cuidando niños enfermos en el hospital" }),
    )
    .await;

    let block = recalled_block(&upstream).expect("the earlier fact recalled");
    assert!(block.contains("night shifts"), "{block}");
}

#[tokio::test]
async fn a_long_conversation_is_summarised_and_the_summary_reaches_the_model() {
    let upstream = FakeUpstream::start().await.unwrap();
    let app = app_with_model(&upstream, &[("CHAT_HISTORY_TURNS", "4")]).await;
    let mut browser = guest(&app).await;
    let (_, events) = say(
        &mut browser,
        json!({ "content": "My brother Tomasz is visiting from Krakow" }),
    )
    .await;
    let session = session_of(&events);
    for text in [
        "We argued about dinner",
        "Then we went for a walk",
        "The walk helped a lot",
    ] {
        let (status, _) = say(
            &mut browser,
            json!({ "session_id": session, "content": text }),
        )
        .await;
        assert_eq!(status, 200);
    }

    // Four of the eight messages have left the model's window of four: jobs fold them
    // into the conversation's summary (in one request or more, as the jobs interleave
    // with the turns: a job may find the last turn half stored and cover three).
    let deadline = Instant::now() + Duration::from_secs(60);
    let summary = loop {
        let (summary, covers): (Option<String>, i64) =
            sqlx::query_as("SELECT summary, summary_covers FROM chat_sessions WHERE id = $1")
                .bind(session.clone())
                .fetch_one(app.state.db.pool())
                .await
                .unwrap();
        if covers >= 2 {
            // Stored sealed, like the conversation it sums up.
            let stored = summary.unwrap();
            assert!(stored.starts_with("sealed:v1:"), "{stored}");
            break app
                .state
                .db
                .vault()
                .unwrap()
                .open_text(
                    solace_backend::vault::Slot::new(solace_backend::chat::SUMMARY_SLOT, &session),
                    stored,
                )
                .await
                .unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "no summary covers the first turn"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(summary.starts_with("They talked about: "), "{summary}");
    let asked = upstream.summary_requests();
    let carried = |i: usize| {
        asked[i]["messages"][1]["content"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert!(carried(0).starts_with("Summary so far: (none yet)"));
    assert!(carried(0).contains("They: My brother Tomasz is visiting from Krakow"));
    assert!(carried(0).contains("Solace: Thank you for telling me."));
    assert!(
        !carried(0).contains("The walk helped a lot"),
        "{}",
        carried(0)
    );

    // The next turn: the model gets the summary of what it no longer sees.
    say(
        &mut browser,
        json!({ "session_id": session, "content": "How do I relax tonight?" }),
    )
    .await;
    let last = upstream.requests().pop().unwrap();
    let system: Vec<&str> = last["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "system")
        .filter_map(|m| m["content"].as_str())
        .collect();
    assert!(
        system
            .iter()
            .any(|s| s.starts_with("Earlier in this conversation")
                && s.contains("They talked about: ")),
        "{system:?}"
    );
    let (_, export) = browser.get("/api/me/export").await;
    // (The turn just sent may have started yet another summary.)
    assert!(export["chat_sessions"][0]["summary"]
        .as_str()
        .unwrap()
        .starts_with("They talked about: "));
}

#[tokio::test]
async fn a_fitting_library_note_is_offered_to_the_model_and_named_as_the_source() {
    let upstream = FakeUpstream::start().await.unwrap();
    // The fake's 64 word buckets collide often: a high floor keeps chance matches out.
    let app = app_remembering(&upstream, &[("LIBRARY_MIN_SIMILARITY", "0.6")]).await;
    let mut browser = guest(&app).await;

    let (_, events) = say(
        &mut browser,
        json!({ "content": "A panic attack again: heart pounding, chest tight, I thought I was dying" }),
    )
    .await;

    let done = crate::ai_chat::named(&events, "done")[0];
    assert_eq!(done["library"]["slug"], "panic-attacks", "{done}");
    let title = done["library"]["title"].as_str().unwrap();
    let last = upstream.requests().pop().unwrap();
    let offered: Vec<&str> = last["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "system")
        .filter_map(|m| m["content"].as_str())
        .filter(|c| c.starts_with("A note from Solace's library"))
        .collect();
    assert_eq!(offered.len(), 1);
    assert!(offered[0].contains(title));

    // Small talk gets no note; nor does anything when the library is off.
    let (_, events) = say(&mut browser, json!({ "content": "Okay bye" })).await;
    assert!(crate::ai_chat::named(&events, "done")[0]
        .get("library")
        .is_none());
    let off = app_remembering(
        &upstream,
        &[
            ("LIBRARY_MIN_SIMILARITY", "0.6"),
            ("LIBRARY_ENABLED", "false"),
        ],
    )
    .await;
    let mut browser = guest(&off).await;
    let (_, events) = say(
        &mut browser,
        json!({ "content": "A panic attack again: heart pounding, chest tight, I thought I was dying" }),
    )
    .await;
    assert!(crate::ai_chat::named(&events, "done")[0]
        .get("library")
        .is_none());
}
