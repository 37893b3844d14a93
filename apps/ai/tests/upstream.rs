//! The OpenAI-compatible client against a real (fake) server on a loopback socket.

use std::time::Duration;

use futures_util::StreamExt;
use solace_ai::model::openai::{OpenAiCompatible, UpstreamConfig};
use solace_ai::model::{ChatMessage, ChatModel, ChatRequest, ChatRole, ModelError, Sampling};
use solace_ai::testing::{Behaviour, FakeUpstream};
use url::Url;

fn config(upstream: &FakeUpstream) -> UpstreamConfig {
    let mut config = UpstreamConfig::new(
        Url::parse(&upstream.base_url()).unwrap_or_else(|e| panic!("{e}")),
        "fake-model",
    );
    config.retry_base = Duration::from_millis(10);
    config.token_timeout = Duration::from_millis(500);
    config
}

fn client(config: UpstreamConfig) -> OpenAiCompatible {
    OpenAiCompatible::new(config).unwrap_or_else(|e| panic!("{e}"))
}

fn request(text: &str) -> ChatRequest {
    ChatRequest {
        messages: vec![
            ChatMessage::new(ChatRole::System, "Be kind."),
            ChatMessage::new(ChatRole::User, text),
        ],
        sampling: Sampling::default(),
    }
}

async fn start() -> FakeUpstream {
    FakeUpstream::start()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Everything the stream yields: the text so far and the error that ended it, if any.
async fn drain(
    model: &OpenAiCompatible,
    text: &str,
) -> Result<(String, Option<ModelError>), ModelError> {
    let mut stream = model.stream(request(text)).await?;
    let mut out = String::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(piece) => out.push_str(&piece),
            Err(e) => return Ok((out, Some(e))),
        }
    }
    Ok((out, None))
}

#[tokio::test]
async fn a_reply_streams_in_pieces_and_the_request_carries_the_prompt() {
    let upstream = start().await;
    upstream.then(Behaviour::reply(
        "You are not alone.",
        Duration::from_millis(1),
    ));
    let model = client(config(&upstream));

    let mut stream = model
        .stream(request("I feel lonely"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut pieces = Vec::new();
    while let Some(piece) = stream.next().await {
        pieces.push(piece.unwrap_or_else(|e| panic!("{e}")));
    }

    assert_eq!(pieces, vec!["You", " are", " not", " alone."]);
    let sent = &upstream.requests()[0];
    assert_eq!(sent["model"], "fake-model");
    assert_eq!(sent["stream"], true);
    assert_eq!(sent["messages"][0]["role"], "system");
    assert_eq!(sent["messages"][1]["content"], "I feel lonely");
    assert_eq!(model.name(), "openai:fake-model");
}

#[tokio::test]
async fn models_without_a_system_role_get_it_folded_into_the_first_turn() {
    let upstream = start().await;
    let mut config = config(&upstream);
    config.fold_system_prompt = true;

    drain(&client(config), "hello")
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let messages = upstream.requests()[0]["messages"].clone();
    assert_eq!(messages.as_array().map(Vec::len), Some(1));
    assert_eq!(messages[0]["role"], "user");
    assert_eq!(messages[0]["content"], "Be kind.\n\nhello");
}

#[tokio::test]
async fn overloaded_servers_are_retried_before_the_reply_starts() {
    let upstream = start().await;
    upstream
        .then(Behaviour::Fail {
            status: 503,
            retry_after_secs: None,
        })
        .then(Behaviour::Fail {
            status: 429,
            retry_after_secs: Some(0),
        });

    let (text, error) = drain(&client(config(&upstream)), "hi")
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    assert_eq!(error, None);
    assert!(
        text.contains("hi"),
        "the third attempt's echo arrives: {text}"
    );
    assert_eq!(upstream.requests().len(), 3);
}

#[tokio::test]
async fn retries_give_up_with_the_last_status() {
    let upstream = start().await;
    for _ in 0..3 {
        upstream.then(Behaviour::Fail {
            status: 502,
            retry_after_secs: None,
        });
    }

    let error = drain(&client(config(&upstream)), "hi").await.err();

    assert!(matches!(
        error,
        Some(ModelError::Overloaded { status: 502, .. })
    ));
    assert!(error.is_some_and(|e| e.is_retryable()));
    assert_eq!(upstream.requests().len(), 3, "one try and two retries");
}

#[tokio::test]
async fn a_refused_request_is_not_retried() {
    let upstream = start().await;
    upstream.then(Behaviour::Fail {
        status: 401,
        retry_after_secs: None,
    });

    let error = drain(&client(config(&upstream)), "hi").await.err();

    assert_eq!(error, Some(ModelError::Rejected { status: 401 }));
    assert_eq!(upstream.requests().len(), 1);
}

#[tokio::test]
async fn a_server_that_is_down_is_unreachable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
    drop(listener);
    let mut config = UpstreamConfig::new(
        Url::parse(&format!("http://127.0.0.1:{port}/v1")).unwrap_or_else(|e| panic!("{e}")),
        "m",
    );
    config.retry_base = Duration::from_millis(1);

    let error = drain(&client(config), "hi").await.err();

    assert!(
        matches!(error, Some(ModelError::Unreachable(_))),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_server_that_goes_silent_times_out() {
    let upstream = start().await;
    upstream.then(Behaviour::Stall);

    let (text, error) = drain(&client(config(&upstream)), "hi")
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    assert_eq!(text, "");
    assert_eq!(error, Some(ModelError::Timeout));
}

#[tokio::test]
async fn slow_tokens_within_the_timeout_all_arrive() {
    let upstream = start().await;
    upstream.then(Behaviour::reply(
        "one two three",
        Duration::from_millis(150),
    ));

    let (text, error) = drain(&client(config(&upstream)), "hi")
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    assert_eq!((text.as_str(), error), ("one two three", None));
}

#[tokio::test]
async fn a_dropped_connection_keeps_the_partial_text_and_reports_it() {
    let upstream = start().await;
    upstream.then(Behaviour::Disconnect {
        tokens: vec!["I".into(), " hear".into()],
    });

    let (text, error) = drain(&client(config(&upstream)), "hi")
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    assert_eq!(text, "I hear");
    assert!(
        matches!(error, Some(ModelError::Unreachable(_))),
        "{error:?}"
    );
}

#[tokio::test]
async fn dropping_the_stream_cancels_the_generation_upstream() {
    let upstream = start().await;
    upstream.then(Behaviour::reply(
        &"word ".repeat(200),
        Duration::from_millis(10),
    ));
    let model = client(config(&upstream));

    let mut stream = model
        .stream(request("hi"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let first = stream.next().await;
    drop(stream);

    assert!(matches!(first, Some(Ok(_))));
    for _ in 0..100 {
        if upstream.cancelled() == 1 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the server never saw the stream closed");
}
