//! The in-process GGUF runner on a tiny model the test writes itself.

use std::time::Duration;

use futures_util::StreamExt;
use solace_ai::model::local::LocalModel;
use solace_ai::model::{ChatMessage, ChatModel, ChatRequest, ChatRole, Sampling};
use solace_ai::prompt::ChatTemplate;
use solace_ai::testing::write_tiny_gguf;

fn tiny_model(dir: &tempfile::TempDir) -> LocalModel {
    let path = dir.path().join("tiny.gguf");
    write_tiny_gguf(&path).unwrap_or_else(|e| panic!("{e}"));
    LocalModel::load(&path, None, Duration::from_secs(30)).unwrap_or_else(|e| panic!("{e}"))
}

fn request(max_tokens: u32, temperature: f32) -> ChatRequest {
    ChatRequest {
        messages: vec![
            ChatMessage::new(ChatRole::System, "Be kind."),
            ChatMessage::new(ChatRole::User, "I feel alone today"),
        ],
        sampling: Sampling {
            max_tokens,
            temperature,
            ..Sampling::default()
        },
    }
}

async fn generate(model: &LocalModel, request: ChatRequest) -> (Vec<String>, String) {
    let mut stream = model
        .stream(request)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut pieces = Vec::new();
    while let Some(piece) = stream.next().await {
        pieces.push(piece.unwrap_or_else(|e| panic!("{e}")));
    }
    let text = pieces.concat();
    (pieces, text)
}

#[tokio::test]
async fn a_tiny_gguf_loads_with_its_template_and_streams_a_reply() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let model = tiny_model(&dir);

    let (pieces, text) = generate(&model, request(12, 0.0)).await;

    assert_eq!(
        model.template(),
        ChatTemplate::Mistral,
        "read from the file's chat template"
    );
    assert!(model.name().starts_with("local:tiny"));
    assert!(!pieces.is_empty(), "something was generated");
    assert!(pieces.len() <= 12, "at most max_tokens pieces");
    assert!(!text.trim().is_empty());
}

#[tokio::test]
async fn greedy_decoding_is_deterministic_and_sampling_follows_the_seed() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let model = tiny_model(&dir);

    let (_, first) = generate(&model, request(10, 0.0)).await;
    let (_, second) = generate(&model, request(10, 0.0)).await;
    let (_, sampled_a) = generate(&model, request(10, 0.9)).await;
    let (_, sampled_b) = generate(&model, request(10, 0.9)).await;

    assert_eq!(first, second);
    assert_eq!(sampled_a, sampled_b, "the same seed samples the same reply");
}

#[tokio::test]
async fn a_dropped_stream_frees_the_model_for_the_next_reply() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let model = tiny_model(&dir);

    let mut long = model
        .stream(request(400, 0.8))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let first = long.next().await;
    drop(long);
    let next =
        tokio::time::timeout(Duration::from_secs(20), generate(&model, request(5, 0.0))).await;

    assert!(matches!(first, Some(Ok(_))));
    assert!(next.is_ok(), "the cancelled reply let go of the model");
}

#[tokio::test]
async fn files_that_are_not_llama_gguf_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("not-a-model.gguf");
    std::fs::write(&path, b"hello").unwrap_or_else(|e| panic!("{e}"));

    let error = LocalModel::load(&path, None, Duration::from_secs(1))
        .err()
        .map(|e| e.to_string());

    assert!(error.is_some_and(|e| e.contains("not a GGUF file")));
}
