//! Spoken replies and transcription over HTTP: sentences become text-to-speech jobs
//! while the reply streams, clips are fetched (and waited for), cached per content,
//! private to their owner and deleted with their conversation; the transcription
//! fallback checks what it is sent.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};
use solace_ai::speech::wav;
use solace_ai::testing::{tone_wav, Behaviour, FakeUpstream, DEFAULT_TRANSCRIPT};

use crate::ai_chat::{app_with_model, guest, named, say, streamed_text};
use crate::helpers::{error_code, spawn_app_with, Browser, TestApp};

/// An app whose model and voice are both the fake upstream.
async fn speaking_app(upstream: &FakeUpstream) -> TestApp {
    let base = upstream.base_url();
    app_with_model(
        upstream,
        &[
            ("TTS_PROVIDER", "openai"),
            ("TTS_BASE_URL", base.as_str()),
            ("TTS_FORMAT", "wav"),
            ("TTS_VOICE", "nova"),
        ],
    )
    .await
}

async fn fetch_clip(browser: &mut Browser, url: &str) -> (reqwest::StatusCode, String, Vec<u8>) {
    let response = browser.send(Method::GET, url, None).await;
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (
        status,
        content_type,
        response.bytes().await.unwrap().to_vec(),
    )
}

const REPLY: &str =
    "That sounds **really** heavy. It makes sense that you feel tired. What would help tonight?";

#[tokio::test]
async fn a_spoken_reply_arrives_sentence_by_sentence_and_replays_from_the_cache() {
    let upstream = FakeUpstream::start().await.unwrap();
    upstream.then(Behaviour::reply(REPLY, Duration::from_millis(5)));
    let app = speaking_app(&upstream).await;
    let mut browser = guest(&app).await;

    let (status, events) = say(
        &mut browser,
        json!({ "content": "I had a long week.", "speak": true }),
    )
    .await;
    let audio = named(&events, "audio");
    let done = named(&events, "done")[0].clone();

    assert_eq!(status, 200);
    assert_eq!(streamed_text(&events), REPLY);
    assert_eq!(audio.len(), 3, "{audio:?}");
    let seqs: Vec<u64> = audio.iter().map(|a| a["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, vec![0, 1, 2]);
    // The first clip was queued before the reply ended.
    let first_audio = events.iter().position(|e| e.name == "audio").unwrap();
    let last_token = events.iter().rposition(|e| e.name == "token").unwrap();
    assert!(
        first_audio < last_token,
        "speech starts while the reply streams"
    );
    assert_eq!(done["audio"].as_array().unwrap().len(), 3);

    for clip in &audio {
        let (status, content_type, bytes) =
            fetch_clip(&mut browser, clip["url"].as_str().unwrap()).await;
        assert_eq!(status, 200);
        assert_eq!(content_type, "audio/wav");
        assert!(wav::parse(&bytes).unwrap().duration_ms() >= 200);
    }
    let spoken: Vec<String> = upstream
        .speech_requests()
        .iter()
        .map(|r| r["input"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        spoken,
        vec![
            "That sounds really heavy.",
            "It makes sense that you feel tired.",
            "What would help tonight?"
        ],
        "Markdown is not read aloud"
    );
    assert!(upstream
        .speech_requests()
        .iter()
        .all(|r| r["voice"] == "nova"));

    // Playing the message again reuses its clips: no new synthesis.
    let message_id = done["message"]["id"].as_str().unwrap();
    let (status, replay) = browser
        .post(&format!("/api/ai/messages/{message_id}/speech"), json!({}))
        .await;
    assert_eq!(status, 200, "{replay}");
    let replayed: Vec<&str> = replay["clips"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["url"].as_str().unwrap())
        .collect();
    let streamed: Vec<&str> = audio.iter().map(|a| a["url"].as_str().unwrap()).collect();
    assert_eq!(replayed, streamed);
    assert_eq!(upstream.speech_requests().len(), 3);

    // Another voice is another clip.
    let (_, other) = browser
        .post(
            &format!("/api/ai/messages/{message_id}/speech"),
            json!({ "voice": "fake_calm" }),
        )
        .await;
    let url = other["clips"][0]["url"].as_str().unwrap().to_owned();
    let (status, _, _) = fetch_clip(&mut browser, &url).await;
    assert_eq!(status, 200);
    assert_eq!(
        upstream.speech_requests().last().unwrap()["voice"],
        "fake_calm"
    );
}

#[tokio::test]
async fn clips_are_private_and_go_with_their_conversation() {
    let upstream = FakeUpstream::start().await.unwrap();
    upstream.then(Behaviour::reply(REPLY, Duration::from_millis(1)));
    let app = speaking_app(&upstream).await;
    let mut owner = guest(&app).await;
    let mut stranger = guest(&app).await;

    let (_, events) = say(&mut owner, json!({ "content": "Hello.", "speak": true })).await;
    let url = named(&events, "audio")[0]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let session_id = named(&events, "done")[0]["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let message_id = named(&events, "done")[0]["message"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (mine, _, _) = fetch_clip(&mut owner, &url).await;
    let (theirs, _, _) = fetch_clip(&mut stranger, &url).await;
    let (replay, _) = stranger
        .post(&format!("/api/ai/messages/{message_id}/speech"), json!({}))
        .await;
    let deleted = owner
        .send(
            Method::DELETE,
            &format!("/api/chat/sessions/{session_id}"),
            None,
        )
        .await
        .status();
    let (after, _, _) = fetch_clip(&mut owner, &url).await;
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM speech_clips")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();

    assert_eq!(mine, 200);
    assert_eq!(theirs, 404, "someone else's clip does not exist for them");
    assert_eq!(replay, 404);
    assert_eq!(deleted, 204);
    assert_eq!(after, 404);
    assert_eq!(left, 0, "the conversation's clips were deleted with it");
}

#[tokio::test]
async fn a_failing_voice_is_retried_and_a_refusing_one_fails_the_clip_not_the_reply() {
    let upstream = FakeUpstream::start().await.unwrap();
    upstream.then(Behaviour::reply(
        "You are not alone in this.",
        Duration::from_millis(1),
    ));
    upstream.fail_speech(&[503]);
    let app = speaking_app(&upstream).await;
    let mut browser = guest(&app).await;

    let (_, events) = say(&mut browser, json!({ "content": "Hi.", "speak": true })).await;
    let url = named(&events, "audio")[0]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let started = Instant::now();
    let (status, _, bytes) = fetch_clip(&mut browser, &url).await;

    assert_eq!(status, 200, "the second attempt worked");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "after a backoff"
    );
    assert!(wav::parse(&bytes).is_some());
    assert_eq!(upstream.speech_requests().len(), 2);

    // A provider that refuses (a wrong key) is not retried; the clip says so.
    upstream.then(Behaviour::reply(
        "Take a breath with me.",
        Duration::from_millis(1),
    ));
    upstream.fail_speech(&[401]);
    let (status, events) = say(&mut browser, json!({ "content": "Again.", "speak": true })).await;
    let url = named(&events, "audio")[0]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = browser.send(Method::GET, &url, None).await;

    assert_eq!(status, 200, "the reply itself is fine");
    assert_eq!(named(&events, "done").len(), 1);
    assert_eq!(response.status(), 502);
    assert_eq!(error_code(response).await, "speech_failed");
    assert_eq!(
        upstream.speech_requests().len(),
        3,
        "no retry after a refusal"
    );
    // The worker records the job's end just after the clip's.
    let mut dead = Vec::new();
    for _ in 0..50 {
        dead = app.state.speech.jobs.dead("tts", 10).await.unwrap();
        if !dead.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(dead.len(), 1);
    assert!(dead[0].last_error.as_deref().unwrap().contains("401"));
}

#[tokio::test]
async fn espeak_ng_speaks_by_default_and_its_voices_are_listed() {
    let upstream = FakeUpstream::start().await.unwrap();
    upstream.then(Behaviour::reply(
        "I am here. Let us go slowly.",
        Duration::from_millis(1),
    ));
    let app = app_with_model(&upstream, &[]).await;
    let mut browser = guest(&app).await;

    let (status, voices) = browser.get("/api/ai/voices").await;
    let (_, events) = say(
        &mut browser,
        json!({ "content": "Hi.", "speak": true, "voice": "en-gb" }),
    )
    .await;
    let url = named(&events, "audio")[0]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let (clip, content_type, bytes) = fetch_clip(&mut browser, &url).await;
    let (bad_voice, _) = browser
        .post(
            "/api/ai/message",
            json!({ "content": "Hi.", "speak": true, "voice": "" }),
        )
        .await;
    let (made_up_voice, made_up) = browser
        .post(
            "/api/ai/message",
            json!({ "content": "Hi.", "speak": true, "voice": "no-such-voice" }),
        )
        .await;

    assert_eq!(status, 200);
    assert_eq!(voices["provider"], "espeak-ng");
    assert_eq!(voices["default_voice"], "en-us");
    assert!(voices["voices"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v["id"] == "en-gb"));
    assert_eq!(clip, 200);
    assert_eq!(content_type, "audio/wav");
    assert!(wav::parse(&bytes).unwrap().duration_ms() > 500);
    assert_eq!(bad_voice, 422);
    assert_eq!(
        made_up_voice, 422,
        "a made-up voice would queue jobs that can only fail"
    );
    assert_eq!(made_up["error"], "unknown_voice");
}

#[tokio::test]
async fn without_a_voice_speaking_is_a_clear_503_and_the_chat_still_works() {
    let upstream = FakeUpstream::start().await.unwrap();
    let app = app_with_model(&upstream, &[("TTS_PROVIDER", "off")]).await;
    let mut browser = guest(&app).await;

    let (status, voices) = browser.get("/api/ai/voices").await;
    let refused = browser
        .send(
            Method::POST,
            "/api/ai/message",
            Some(json!({ "content": "Hi.", "speak": true })),
        )
        .await;
    let refused_status = refused.status();
    let code = error_code(refused).await;
    let (plain, events) = say(&mut browser, json!({ "content": "Hi." })).await;

    assert_eq!(status, 200);
    assert_eq!(voices["provider"], Value::Null);
    assert_eq!(refused_status, 503);
    assert_eq!(code, "speech_not_configured");
    assert_eq!(plain, 200);
    assert!(named(&events, "audio").is_empty());
}

async fn upload(
    browser: &mut Browser,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> reqwest::Response {
    let mut request = browser
        .client
        .post(browser.url(path))
        .header("content-type", content_type)
        .body(body);
    if let Some(csrf) = &browser.csrf {
        request = request.header("x-csrf-token", csrf);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn the_transcription_fallback_checks_the_recording_and_forwards_it() {
    let upstream = FakeUpstream::start().await.unwrap();
    let base = upstream.base_url();
    let app = spawn_app_with(&[
        ("STT_BASE_URL", base.as_str()),
        ("STT_MODEL", "whisper-1"),
        ("STT_MAX_SECONDS", "5"),
    ])
    .await;
    let mut browser = app.browser();
    browser.guest().await;

    let ok = upload(
        &mut browser,
        "/api/ai/transcribe?language=en",
        "audio/wav",
        tone_wav(1_500),
    )
    .await;
    let ok_status = ok.status();
    let text: Value = ok.json().await.unwrap();
    let long = upload(
        &mut browser,
        "/api/ai/transcribe",
        "audio/wav",
        tone_wav(6_000),
    )
    .await;
    let webm = upload(
        &mut browser,
        "/api/ai/transcribe",
        "audio/webm",
        vec![0x1A, 0x45, 0xDF, 0xA3],
    )
    .await;
    let junk = upload(
        &mut browser,
        "/api/ai/transcribe",
        "audio/wav",
        b"not a wav at all".to_vec(),
    )
    .await;
    let language = upload(
        &mut browser,
        "/api/ai/transcribe?language=english",
        "audio/wav",
        tone_wav(500),
    )
    .await;
    let huge = upload(
        &mut browser,
        "/api/ai/transcribe",
        "audio/wav",
        vec![0u8; 2_000_000],
    )
    .await;
    let mut stranger = app.browser();
    let anonymous = upload(
        &mut stranger,
        "/api/ai/transcribe",
        "audio/wav",
        tone_wav(500),
    )
    .await;

    assert_eq!(ok_status, 200);
    assert_eq!(text["text"], DEFAULT_TRANSCRIPT);
    let sent = &upstream.transcriptions()[0];
    assert_eq!(sent["model"], "whisper-1");
    assert_eq!(sent["language"], "en");
    assert_eq!(sent["file"]["content_type"], "audio/wav");
    assert_eq!(long.status(), 413);
    assert_eq!(error_code(long).await, "recording_too_long");
    assert_eq!(webm.status(), 415);
    assert_eq!(junk.status(), 422);
    assert_eq!(error_code(junk).await, "invalid_audio");
    assert_eq!(language.status(), 422);
    assert_eq!(huge.status(), 413, "over the route's body limit");
    assert_eq!(anonymous.status(), 401);
    assert_eq!(
        upstream.transcriptions().len(),
        1,
        "only the good recording went out"
    );
}

#[tokio::test]
async fn without_a_transcription_server_the_fallback_says_the_browser_does_it() {
    let app = spawn_app_with(&[]).await;
    let mut browser = app.browser();
    browser.guest().await;

    let response = upload(
        &mut browser,
        "/api/ai/transcribe",
        "audio/wav",
        tone_wav(500),
    )
    .await;

    assert_eq!(response.status(), 503);
    assert_eq!(error_code(response).await, "transcription_not_configured");
}

#[tokio::test]
async fn the_browser_gets_the_whisper_files_from_the_models_folder_and_nothing_else() {
    let models = tempfile::tempdir().unwrap();
    let whisper = models.path().join("whisper-tiny.en");
    std::fs::create_dir_all(whisper.join("onnx")).unwrap();
    std::fs::write(whisper.join("config.json"), br#"{"model_type":"whisper"}"#).unwrap();
    std::fs::write(whisper.join("onnx/decoder_model_merged.onnx"), b"onnx").unwrap();
    std::fs::write(models.path().join("secret.txt"), b"SECRET").unwrap();
    let dir = models.path().display().to_string();
    let app = spawn_app_with(&[("MODELS_DIR", &dir), ("TTS_PROVIDER", "off")]).await;
    let empty = spawn_app_with(&[]).await;

    let (_, info) = app.browser().get("/api/ai/info").await;
    let (_, without) = empty.browser().get("/api/ai/info").await;
    let config = app
        .client
        .get(app.url("/models/whisper-tiny.en/config.json"))
        .send()
        .await
        .unwrap();
    let config_status = config.status();
    let config_body = config.text().await.unwrap();
    let outside = app
        .client
        .get(app.url("/models/secret.txt"))
        .send()
        .await
        .unwrap();
    let escape = app
        .client
        .get(app.url("/models/whisper-tiny.en/../secret.txt"))
        .send()
        .await
        .unwrap();

    assert_eq!(
        info["speech"]["browser_transcription"],
        json!({ "model": "whisper-tiny.en", "dtype": "fp32" })
    );
    assert_eq!(info["speech"]["tts"], Value::Null);
    assert_eq!(info["speech"]["server_transcription"], false);
    assert_eq!(without["speech"]["browser_transcription"], Value::Null);
    assert_eq!(without["speech"]["tts"], "espeak-ng");
    assert_eq!(config_status, 200);
    assert_eq!(config_body, r#"{"model_type":"whisper"}"#);
    assert_ne!(outside.status(), 200);
    assert!(!outside.text().await.unwrap().contains("SECRET"));
    assert!(!escape.text().await.unwrap().contains("SECRET"));
}

#[tokio::test]
async fn a_guests_spoken_replies_come_along_when_they_log_in() {
    let upstream = FakeUpstream::start().await.unwrap();
    upstream.then(Behaviour::reply(REPLY, Duration::from_millis(1)));
    let app = speaking_app(&upstream).await;
    app.browser().signup("sam@example.org").await;
    let mut browser = guest(&app).await;
    let (_, events) = say(&mut browser, json!({ "content": "Hello.", "speak": true })).await;
    let url = named(&events, "audio")[0]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let (as_guest, _, _) = fetch_clip(&mut browser, &url).await;

    let (status, _) = browser
        .login("sam@example.org", crate::helpers::GOOD_PASSWORD)
        .await;
    let (as_account, content_type, _) = fetch_clip(&mut browser, &url).await;

    assert_eq!(as_guest, 200);
    assert_eq!(status, 200);
    assert_eq!(as_account, 200, "the clip moved with the conversation");
    assert_eq!(content_type, "audio/wav");
}

#[tokio::test]
async fn administrators_see_dead_speech_jobs_and_give_them_another_chance() {
    let upstream = FakeUpstream::start().await.unwrap();
    upstream.then(Behaviour::reply(
        "You are doing your best.",
        Duration::from_millis(1),
    ));
    upstream.fail_speech(&[401]);
    let base = upstream.base_url();
    let app = app_with_model(
        &upstream,
        &[
            ("TTS_PROVIDER", "openai"),
            ("TTS_BASE_URL", base.as_str()),
            ("TTS_FORMAT", "wav"),
        ],
    )
    .await;
    let mut person = guest(&app).await;
    let mut admin = app.administrator("admin@example.org").await;
    let (_, events) = say(&mut person, json!({ "content": "Hi.", "speak": true })).await;
    let url = named(&events, "audio")[0]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let (failed, _, _) = fetch_clip(&mut person, &url).await;
    let mut dead = json!([]);
    for _ in 0..50 {
        let (_, listed) = admin.get("/api/admin/jobs/dead?queue=tts").await;
        dead = listed["jobs"].clone();
        if dead.as_array().is_some_and(|d| !d.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let id = dead[0]["id"].as_str().unwrap().to_owned();

    let (forbidden, _) = person.get("/api/admin/jobs/dead").await;
    let (unknown_queue, _) = admin.get("/api/admin/jobs/dead?queue=nope").await;
    let (retried, _) = admin
        .post(&format!("/api/admin/jobs/{id}/retry?queue=tts"), json!({}))
        .await;
    let (again, _) = admin
        .post(&format!("/api/admin/jobs/{id}/retry?queue=tts"), json!({}))
        .await;
    // The key works now: the clip is spoken on the retried job.
    let started = Instant::now();
    let mut status = reqwest::StatusCode::BAD_GATEWAY;
    while status != 200 && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        status = fetch_clip(&mut person, &url).await.0;
    }

    assert_eq!(failed, 502);
    assert!(dead[0]["last_error"].as_str().unwrap().contains("401"));
    assert!(
        !dead.to_string().contains("doing your best"),
        "dead letters never hold what was said"
    );
    assert_eq!(forbidden, 403);
    assert_eq!(unknown_queue, 422);
    assert_eq!(retried, 204);
    assert_eq!(again, 404, "it is not dead any more");
    assert_eq!(status, 200);
}
