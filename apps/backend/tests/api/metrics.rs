//! `/metrics` on its own address: what an operator alerts on, counted from real traffic
//! (a fake OpenAI-compatible model on a real socket) and never carrying content.

use serde_json::json;
use solace_ai::testing::{echo_reply, split_tokens, Behaviour, FakeUpstream};

use crate::ai_chat::{app_with_model, guest, say};
use crate::helpers::spawn_app;

#[tokio::test]
async fn metrics_count_requests_by_route_pattern() {
    let app = spawn_app().await;
    app.get("/healthz").await;
    app.get("/api/crisis/resources?region=US").await;
    app.get("/some/page/with/an/id-123").await;

    let text = app.scrape().await.0;

    assert!(
        text.contains(
            r#"solace_http_requests_total{method="GET",route="/healthz",status="200"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains(r#"route="/api/crisis/resources""#), "{text}");
    assert!(
        !text.contains("id-123"),
        "concrete paths never become labels: {text}"
    );
    assert!(!text.contains("region=US"));
}

#[tokio::test]
async fn metrics_are_not_on_the_public_port_and_can_be_turned_off() {
    let app = spawn_app().await;
    let public = app.get("/metrics").await;
    assert_eq!(public.status(), 404);
    assert!(!public
        .text()
        .await
        .unwrap()
        .contains("solace_http_requests_total"));

    let off = crate::helpers::spawn_app_with(&[("METRICS_ADDR", "off")]).await;
    assert!(off.metrics_address.is_none());
}

#[tokio::test]
async fn the_model_the_safety_layer_and_the_memory_are_measured_without_content() {
    let upstream = FakeUpstream::start().await.unwrap();
    let app = app_with_model(&upstream, &[]).await;
    let mut browser = guest(&app).await;
    let calm = "I can't sleep before my exams";
    let danger = "I'm going to end my life tonight, I've written the letters";

    let (_, first) = say(&mut browser, json!({ "content": calm })).await;
    let session = first[0].data["session_id"].as_str().unwrap().to_owned();
    say(
        &mut browser,
        json!({ "content": "thank you", "session_id": session }),
    )
    .await;
    upstream.then(Behaviour::Fail {
        status: 401,
        retry_after_secs: None,
    });
    say(&mut browser, json!({ "content": "are you there?" })).await;
    say(&mut browser, json!({ "content": danger })).await;
    let metrics = app.scrape().await;

    // Two replies streamed; the failed call and the crisis reply have no first token.
    assert_eq!(
        metrics.value("solace_model_time_to_first_token_seconds_count"),
        Some(2.0)
    );
    let pieces =
        split_tokens(&echo_reply(calm)).len() + split_tokens(&echo_reply("thank you")).len();
    assert_eq!(
        metrics.value("solace_model_tokens_total"),
        Some(pieces as f64)
    );
    assert_eq!(
        metrics.value("solace_model_tokens_per_second_count"),
        Some(2.0)
    );
    assert_eq!(
        metrics.value(r#"solace_model_errors_total{kind="rejected""#),
        Some(1.0)
    );
    assert_eq!(
        metrics.sum("solace_safety_alarms_total"),
        1.0,
        "{}",
        metrics.0
    );
    assert!(
        metrics
            .0
            .contains(r#"solace_safety_alarms_total{severity="imminent",layer=""#),
        "{}",
        metrics.0
    );
    assert_eq!(metrics.value("solace_chat_streams_active"), Some(0.0));
    // A new conversation misses the memory; its next turn finds it.
    assert_eq!(
        metrics.value(r#"solace_chat_memory_lookups_total{result="hit""#),
        Some(1.0)
    );
    assert!(metrics.value(r#"solace_chat_memory_lookups_total{result="miss""#) >= Some(1.0));
    assert_eq!(
        metrics.value(r#"solace_jobs{queue="tts",state="dead""#),
        Some(0.0)
    );
    assert_eq!(
        metrics.value(r#"solace_jobs_oldest_due_age_seconds{queue="tts""#),
        Some(0.0)
    );
    // The pool's open connections, busy or idle (which of the two depends on what the
    // background jobs are doing at the moment of the scrape).
    let open = metrics
        .value(r#"solace_db_connections{state="idle""#)
        .unwrap_or(0.0)
        + metrics
            .value(r#"solace_db_connections{state="in_use""#)
            .unwrap_or(0.0);
    assert!(open >= 1.0, "{}", metrics.0);
    assert_eq!(metrics.value("solace_sfu_participants"), Some(0.0));
    assert_eq!(
        metrics.value(&format!(
            r#"solace_build_info{{version="{}""#,
            env!("CARGO_PKG_VERSION")
        )),
        Some(1.0)
    );
    for private in [calm, danger, "thank you", "letters", &session] {
        assert!(!metrics.0.contains(private), "{private} in the metrics");
    }
}

#[tokio::test]
async fn a_dead_lettered_job_shows_in_the_queue_gauges() {
    let app = spawn_app().await;
    let broken = solace_backend::jobs::NewJob {
        queue: solace_backend::speech::QUEUE,
        idempotency_key: "metrics-test".into(),
        // Names no clip: the worker cannot run it and dead-letters it at once.
        payload: json!({}),
        max_attempts: 3,
    };
    app.state.speech.jobs.enqueue(broken).await.unwrap();

    let dead = r#"solace_jobs{queue="tts",state="dead""#;
    let started = std::time::Instant::now();
    let mut metrics = app.scrape().await;
    while metrics.value(dead) != Some(1.0) && started.elapsed().as_secs() < 10 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        metrics = app.scrape().await;
    }

    assert_eq!(metrics.value(dead), Some(1.0), "{}", metrics.0);
    assert_eq!(
        metrics.value(r#"solace_jobs{queue="tts",state="pending""#),
        Some(0.0)
    );
}
