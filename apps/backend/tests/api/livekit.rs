//! Rooms on LiveKit: tokens, moderation through a fake of LiveKit's RoomService (Twirp
//! with protobuf bodies, as the real server speaks it) and signed webhooks.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use base64::Engine;
use livekit_api::access_token::{AccessToken, TokenVerifier};
use livekit_protocol as proto;
use prost::Message;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::helpers::{spawn_app, spawn_app_with, Browser, TestApp};

const KEY: &str = "APItestkey";
const SECRET: &str = "a-secret-of-at-least-thirty-two-characters";

/// What the fake RoomService was asked, as "Method room identity detail" lines.
type Calls = Arc<Mutex<Vec<String>>>;
/// When set, the fake answers like LiveKit does for people and rooms that are not
/// there (any more): Twirp `not_found`.
type Absent = Arc<AtomicBool>;

async fn room_service(
    State((calls, absent)): State<(Calls, Absent)>,
    Path(method): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // Every call must carry a token with an admin grant, signed with our secret.
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let Ok(claims) = TokenVerifier::with_api_key(KEY, SECRET).verify(token) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    if !(claims.video.room_admin || claims.video.room_create) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let record = |line: String| calls.lock().unwrap().push(line);
    if absent.load(Ordering::Relaxed) {
        record(format!("{method} not_found"));
        let error = json!({ "code": "not_found", "msg": "participant does not exist" });
        return (StatusCode::NOT_FOUND, axum::Json(error)).into_response();
    }
    let reply = match method.as_str() {
        "GetParticipant" => {
            let request = proto::RoomParticipantIdentity::decode(body).unwrap();
            record(format!(
                "GetParticipant {} {}",
                request.room, request.identity
            ));
            proto::ParticipantInfo {
                identity: request.identity,
                tracks: vec![proto::TrackInfo {
                    sid: "TR_mic".into(),
                    r#type: proto::TrackType::Audio as i32,
                    muted: false,
                    ..Default::default()
                }],
                ..Default::default()
            }
            .encode_to_vec()
        }
        "MutePublishedTrack" => {
            let request = proto::MuteRoomTrackRequest::decode(body).unwrap();
            record(format!(
                "MutePublishedTrack {} {} {} {}",
                request.room, request.identity, request.track_sid, request.muted
            ));
            proto::MuteRoomTrackResponse {
                track: Some(proto::TrackInfo::default()),
            }
            .encode_to_vec()
        }
        "UpdateParticipant" => {
            let request = proto::UpdateParticipantRequest::decode(body).unwrap();
            let can_publish = request
                .permission
                .map(|p| p.can_publish)
                .unwrap_or_default();
            record(format!(
                "UpdateParticipant {} {} can_publish={can_publish}",
                request.room, request.identity
            ));
            proto::ParticipantInfo::default().encode_to_vec()
        }
        "RemoveParticipant" => {
            let request = proto::RoomParticipantIdentity::decode(body).unwrap();
            record(format!(
                "RemoveParticipant {} {}",
                request.room, request.identity
            ));
            proto::RemoveParticipantResponse::default().encode_to_vec()
        }
        "DeleteRoom" => {
            let request = proto::DeleteRoomRequest::decode(body).unwrap();
            record(format!("DeleteRoom {}", request.room));
            proto::DeleteRoomResponse::default().encode_to_vec()
        }
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    ([("content-type", "application/protobuf")], reply).into_response()
}

async fn fake_livekit() -> (String, Calls, Absent) {
    let calls: Calls = Arc::default();
    let absent: Absent = Arc::default();
    let app = Router::new()
        .route("/twirp/livekit.RoomService/{method}", post(room_service))
        .with_state((calls.clone(), absent.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, calls, absent)
}

struct Scene {
    app: TestApp,
    absent: Absent,
    calls: Calls,
    room: String,
    host: Browser,
    listener: Browser,
    listener_handle: String,
}

async fn scene() -> Scene {
    let (url, calls, absent) = fake_livekit().await;
    // Browsers go to the public address; the backend calls the API inside the network.
    let app = spawn_app_with(&[
        ("LIVEKIT_URL", "wss://livekit.example.org"),
        ("LIVEKIT_API_URL", &url),
        ("LIVEKIT_API_KEY", KEY),
        ("LIVEKIT_API_SECRET", SECRET),
    ])
    .await;
    let mut host = app.browser();
    host.guest().await;
    let mut listener = app.browser();
    let listener_user = listener.guest().await;
    let (_, room) = host
        .post("/api/rooms", json!({ "title": "On LiveKit" }))
        .await;
    let room = room["id"].as_str().unwrap().to_owned();
    host.post(&format!("/api/rooms/{room}/join"), json!({}))
        .await;
    let (_, detail) = listener
        .post(&format!("/api/rooms/{room}/join"), json!({}))
        .await;
    let listener_handle = detail["you"]["handle"].as_str().unwrap().to_owned();
    assert_eq!(detail["you"]["name"], listener_user["pseudonym"]);
    Scene {
        app,
        calls,
        absent,
        room,
        host,
        listener,
        listener_handle,
    }
}

#[tokio::test]
async fn tokens_join_one_room_under_the_handle_and_publish_only_for_speakers() {
    let mut s = scene().await;
    let body = json!({ "room_id": s.room });

    let (status, listener_token) = s.listener.post("/api/livekit/token", body.clone()).await;
    let (_, host_token) = s.host.post("/api/livekit/token", body.clone()).await;
    let mut outsider = s.app.browser();
    outsider.guest().await;
    let (outside, _) = outsider.post("/api/livekit/token", body).await;

    assert_eq!(status, 200, "{listener_token}");
    assert_eq!(listener_token["url"], "wss://livekit.example.org/");
    let verifier = TokenVerifier::with_api_key(KEY, SECRET);
    let claims = verifier
        .verify(listener_token["token"].as_str().unwrap())
        .unwrap();
    assert_eq!(claims.sub, s.listener_handle, "the identity is the handle");
    assert_eq!(claims.video.room, s.room);
    assert!(claims.video.room_join);
    assert_eq!(
        claims.video.can_publish,
        Some(false),
        "listeners do not publish"
    );
    assert!(claims.exp - claims.nbf <= 600, "short-lived");
    let host_claims = verifier
        .verify(host_token["token"].as_str().unwrap())
        .unwrap();
    assert_eq!(host_claims.video.can_publish, Some(true));
    assert_eq!(outside, 403);
}

#[tokio::test]
async fn moderation_reaches_livekits_room_service() {
    let mut s = scene().await;
    let (room, handle) = (s.room.clone(), s.listener_handle.clone());

    s.listener
        .post(&format!("/api/rooms/{room}/hand"), json!({ "on": true }))
        .await;
    s.host
        .post(
            &format!("/api/rooms/{room}/participants/{handle}/invite"),
            json!({}),
        )
        .await;
    s.host
        .post(
            &format!("/api/rooms/{room}/participants/{handle}/mute"),
            json!({}),
        )
        .await;
    s.host
        .post(
            &format!("/api/rooms/{room}/participants/{handle}/remove"),
            json!({ "reason": "Spam" }),
        )
        .await;
    let (closed, _) = s
        .host
        .post(&format!("/api/rooms/{room}/close"), json!({}))
        .await;

    assert_eq!(closed, 200);
    let calls = s.calls.lock().unwrap().clone();
    assert_eq!(
        calls,
        vec![
            format!("UpdateParticipant {room} {handle} can_publish=true"),
            format!("GetParticipant {room} {handle}"),
            format!("MutePublishedTrack {room} {handle} TR_mic true"),
            format!("RemoveParticipant {room} {handle}"),
            format!("DeleteRoom {room}"),
        ]
    );
}

#[tokio::test]
async fn people_and_rooms_livekit_no_longer_has_are_not_an_error() {
    let mut s = scene().await;
    let room = s.room.clone();
    // Nobody ever connected to LiveKit (or everyone already dropped off).
    s.absent.store(true, Ordering::Relaxed);

    let (left, _) = s
        .listener
        .post(&format!("/api/rooms/{room}/leave"), json!({}))
        .await;
    let (closed, _) = s
        .host
        .post(&format!("/api/rooms/{room}/close"), json!({}))
        .await;

    assert_eq!(left, 204);
    assert_eq!(closed, 200);
    assert_eq!(
        s.calls.lock().unwrap().clone(),
        vec!["RemoveParticipant not_found", "DeleteRoom not_found"]
    );
}

fn signed(body: &str, secret: &str) -> String {
    let digest = Sha256::digest(body.as_bytes());
    AccessToken::with_api_key(KEY, secret)
        .with_sha256(&base64::engine::general_purpose::STANDARD.encode(digest))
        .to_jwt()
        .unwrap()
}

#[tokio::test]
async fn a_signed_webhook_marks_a_dropped_participant_as_left_and_a_forged_one_is_refused() {
    let mut s = scene().await;
    let body = json!({
        "event": "participant_left",
        "room": { "name": s.room },
        "participant": { "identity": s.listener_handle },
    })
    .to_string();
    let post = |auth: String, body: String| {
        s.app
            .client
            .post(s.app.url("/api/livekit/webhook"))
            .header("content-type", "application/webhook+json")
            .header("authorization", auth)
            .body(body)
            .send()
    };

    let forged = post(
        signed(&body, "not-the-secret-but-long-enough-to-sign"),
        body.clone(),
    )
    .await
    .unwrap();
    let tampered = post(signed(&body, SECRET), body.replace("left", "joined"))
        .await
        .unwrap();
    let genuine = post(signed(&body, SECRET), body.clone()).await.unwrap();
    let (_, detail) = s.host.get(&format!("/api/rooms/{}", s.room)).await;
    let (_, history) = s.host.get(&format!("/api/rooms/{}/history", s.room)).await;

    assert_eq!(forged.status(), 401);
    assert_eq!(tampered.status(), 401);
    assert_eq!(genuine.status(), 204);
    let handles: Vec<&Value> = detail["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["handle"])
        .collect();
    assert!(!handles.contains(&&json!(s.listener_handle)));
    assert_eq!(history["events"][0]["kind"], "left");
    assert_eq!(history["events"][0]["detail"], "disconnected");
}

#[tokio::test]
async fn without_livekit_the_token_endpoint_says_rooms_are_embedded() {
    let app = spawn_app().await;
    let mut browser = app.browser();
    browser.guest().await;

    let (status, body) = browser
        .post("/api/livekit/token", json!({ "room_id": "x" }))
        .await;

    assert_eq!(status, 409);
    assert_eq!(body["error"], "livekit_not_configured");
}

#[tokio::test]
async fn webhooks_keep_presence_connected_on_join_and_clear_it_on_leave() {
    let mut s = scene().await;
    let event = |kind: &str| {
        json!({
            "event": kind,
            "room": { "name": s.room },
            "participant": { "identity": s.listener_handle },
        })
        .to_string()
    };
    let listener_connected = |detail: &Value| {
        detail["participants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["handle"] == json!(s.listener_handle))
            .map(|p| p["connected"].clone())
    };
    let (_, before) = s.host.get(&format!("/api/rooms/{}", s.room)).await;

    let joined = event("participant_joined");
    let response = s
        .app
        .client
        .post(s.app.url("/api/livekit/webhook"))
        .header("authorization", signed(&joined, SECRET))
        .body(joined)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let (_, during) = s.host.get(&format!("/api/rooms/{}", s.room)).await;
    let left = event("participant_left");
    let response = s
        .app
        .client
        .post(s.app.url("/api/livekit/webhook"))
        .header("authorization", signed(&left, SECRET))
        .body(left)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let marks = solace_backend::rooms::presence::connected(s.app.state.cache.as_ref(), &s.room)
        .await
        .unwrap();

    assert_eq!(listener_connected(&before), Some(json!(false)));
    assert_eq!(listener_connected(&during), Some(json!(true)));
    assert!(marks.is_empty(), "left: {marks:?}");
}
