//! Text-to-speech providers and the transcription client against real processes and
//! servers: espeak-ng itself, the fake OpenAI-compatible server, and a fake of
//! ElevenLabs' streaming API started here.

#![allow(clippy::unwrap_used)] // A panic is how a test fails.

use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use secrecy::SecretString;
use serde_json::{json, Value};
use solace_ai::speech::transcribe::Transcriber;
use solace_ai::speech::{wav, ElevenLabs, EspeakNg, OpenAiSpeech, Tts, TtsError};
use solace_ai::testing::{tone_wav, FakeUpstream, DEFAULT_TRANSCRIPT};
use url::Url;

fn url(text: &str) -> Url {
    Url::parse(text).unwrap()
}

#[tokio::test]
async fn espeak_ng_speaks_a_valid_wav_whose_length_follows_the_text() {
    let espeak = EspeakNg::detect(None, "en-us").await.unwrap();

    let short = espeak.synthesize("Hello.", None).await.unwrap();
    let long = espeak
        .synthesize(
            "Take a slow breath in, hold it for a moment, and let it go.",
            Some("en-gb"),
        )
        .await
        .unwrap();

    assert_eq!(short.content_type, "audio/wav");
    let (s, l) = (
        wav::parse(&short.audio).unwrap(),
        wav::parse(&long.audio).unwrap(),
    );
    assert_eq!(s.channels, 1);
    assert!(s.sample_rate >= 16_000, "{}", s.sample_rate);
    assert_eq!(
        u64::from(s.data_len) + 44,
        short.audio.len() as u64,
        "the header's sizes are the file's"
    );
    assert!(s.duration_ms() > 200, "{} ms", s.duration_ms());
    assert!(
        l.duration_ms() > s.duration_ms() * 3,
        "{} vs {}",
        l.duration_ms(),
        s.duration_ms()
    );
    // Not silence: some samples are loud.
    let loud = long.audio[44..]
        .chunks_exact(2)
        .filter(|p| i16::from_le_bytes([p[0], p[1]]).unsigned_abs() > 3_000)
        .count();
    assert!(loud > 1_000, "{loud} loud samples");
}

#[tokio::test]
async fn espeak_ng_lists_voices_refuses_bad_ones_and_says_when_it_is_missing() {
    let espeak = EspeakNg::detect(None, "en-us").await.unwrap();
    let voices = espeak.voices().await.unwrap();
    let bad = espeak.synthesize("Hello there.", Some("--help")).await;
    let unknown = espeak.synthesize("Hello there.", Some("xx-nope")).await;
    let missing = EspeakNg::detect(Some("/nonexistent/espeak-ng".into()), "en-us").await;

    assert!(voices.iter().any(|v| v.id == "en-us"), "{voices:?}");
    assert!(voices.len() > 20);
    assert!(matches!(bad, Err(TtsError::BadInput(_))));
    assert!(matches!(unknown, Err(TtsError::BadInput(_))), "{unknown:?}");
    match missing {
        Err(TtsError::Unavailable(message)) => {
            assert!(message.contains("apt-get install espeak-ng"))
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
}

#[tokio::test]
async fn an_openai_compatible_server_speaks_and_its_failures_are_classified() {
    let upstream = FakeUpstream::start().await.unwrap();
    let tts = OpenAiSpeech::new(
        &url(&upstream.base_url()),
        Some(SecretString::from("sk-test")),
        "tts-1",
        "nova",
        "wav",
    );

    let speech = tts.synthesize("I am here with you.", None).await.unwrap();
    upstream.fail_speech(&[503, 401]);
    let busy = tts.synthesize("Again.", Some("alloy")).await;
    let refused = tts.synthesize("Again.", None).await;
    let voices = tts.voices().await.unwrap();

    assert_eq!(speech.content_type, "audio/wav");
    assert!(wav::parse(&speech.audio).unwrap().duration_ms() >= 200);
    let requests = upstream.speech_requests();
    assert_eq!(
        requests[0],
        json!({ "model": "tts-1", "input": "I am here with you.", "voice": "nova", "response_format": "wav" })
    );
    assert_eq!(requests[1]["voice"], "alloy");
    assert!(matches!(&busy, Err(e) if e.is_retryable()), "{busy:?}");
    assert!(matches!(refused, Err(TtsError::Rejected { status: 401 })));
    let ids: Vec<&str> = voices.iter().map(|v| v.id.as_str()).collect();
    assert_eq!(
        ids,
        vec!["nova", "fake_calm", "fake_bright"],
        "the configured voice first"
    );
}

#[tokio::test]
async fn an_unreachable_speech_server_is_a_retryable_failure() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let tts = OpenAiSpeech::new(
        &url(&format!("http://{address}/v1")),
        None,
        "tts-1",
        "nova",
        "mp3",
    );

    let result = tts.synthesize("Hello.", None).await;

    assert!(matches!(&result, Err(TtsError::Failed(_))), "{result:?}");
}

type Seen = Arc<Mutex<Vec<Value>>>;

async fn elevenlabs_stream(
    State(seen): State<Seen>,
    Path(voice): Path<String>,
    Query(query): Query<Value>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if headers.get("xi-api-key").and_then(|v| v.to_str().ok()) != Some("el-key") {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "detail": "bad key" })),
        )
            .into_response();
    }
    seen.lock()
        .unwrap()
        .push(json!({ "voice": voice, "query": query, "body": body }));
    // The audio arrives in several chunks, as the streaming endpoint sends it.
    let audio = tone_wav(500);
    let chunks: Vec<Result<Bytes, std::io::Error>> = audio
        .chunks(4_000)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    Response::builder()
        .header("content-type", "audio/mpeg")
        .body(Body::from_stream(futures_util::stream::iter(chunks)))
        .unwrap()
}

async fn elevenlabs_voices() -> Json<Value> {
    Json(json!({ "voices": [
        { "voice_id": "21m00Tcm4TlvDq8ikWAM", "name": "Rachel", "labels": { "accent": "american" } },
        { "voice_id": "AZnzlk1XvdvUeBnXmlld", "name": "Domi", "labels": {} }
    ]}))
}

async fn fake_elevenlabs() -> (Url, Seen) {
    let seen: Seen = Arc::default();
    let app = Router::new()
        .route("/v1/text-to-speech/{voice}/stream", post(elevenlabs_stream))
        .route("/v1/voices", get(elevenlabs_voices))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = url(&format!("http://{}", listener.local_addr().unwrap()));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, seen)
}

#[tokio::test]
async fn elevenlabs_streams_the_audio_with_the_configured_voice_and_model() {
    let (base, seen) = fake_elevenlabs().await;
    let tts = ElevenLabs::new(
        base.clone(),
        SecretString::from("el-key"),
        "21m00Tcm4TlvDq8ikWAM",
        "eleven_flash_v2_5",
    );
    let wrong_key = ElevenLabs::new(
        base,
        SecretString::from("nope"),
        "21m00Tcm4TlvDq8ikWAM",
        "eleven_flash_v2_5",
    );

    let speech = tts.synthesize("You did well today.", None).await.unwrap();
    let other = tts
        .synthesize("Hi.", Some("AZnzlk1XvdvUeBnXmlld"))
        .await
        .unwrap();
    let sneaky = tts.synthesize("Hi.", Some("../../v1/voices")).await;
    let voices = tts.voices().await.unwrap();
    let refused = wrong_key.synthesize("Hi.", None).await;

    assert_eq!(speech.content_type, "audio/mpeg");
    assert_eq!(speech.audio, tone_wav(500), "every chunk arrived, in order");
    assert_eq!(other.audio.len(), speech.audio.len());
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen[0]["voice"], "21m00Tcm4TlvDq8ikWAM");
    assert_eq!(seen[0]["query"]["output_format"], "mp3_44100_128");
    assert_eq!(
        seen[0]["body"],
        json!({ "text": "You did well today.", "model_id": "eleven_flash_v2_5" })
    );
    assert_eq!(seen[1]["voice"], "AZnzlk1XvdvUeBnXmlld");
    assert_eq!(
        seen.len(),
        2,
        "an escaped voice id reached no other endpoint"
    );
    assert!(matches!(sneaky, Err(TtsError::BadInput(_))));
    assert_eq!(voices.len(), 2);
    assert_eq!(voices[0].name, "Rachel");
    assert_eq!(voices[0].language.as_deref(), Some("american"));
    assert!(matches!(refused, Err(TtsError::Rejected { status: 401 })));
}

#[tokio::test]
async fn the_transcription_client_uploads_the_file_and_model_and_reads_the_text() {
    let upstream = FakeUpstream::start().await.unwrap();
    let transcriber = Transcriber::new(&url(&upstream.base_url()), None, "whisper-1").unwrap();
    let audio = tone_wav(1_000);
    let size = audio.len();

    let text = transcriber
        .transcribe(audio, "audio/wav", Some("en"))
        .await
        .unwrap();

    assert_eq!(text, DEFAULT_TRANSCRIPT);
    let seen = upstream.transcriptions();
    assert_eq!(seen[0]["model"], "whisper-1");
    assert_eq!(seen[0]["language"], "en");
    assert_eq!(
        seen[0]["file"],
        json!({ "bytes": size, "content_type": "audio/wav" })
    );
}
