//! The embedded SFU end to end: Rust WebRTC peers (str0m, like a browser would) join
//! through the signalling socket and exchange Opus packets over real UDP on loopback.

use std::time::{Duration, Instant};

use serde_json::json;
use solace_backend::rooms::sfu::peer::Peer;

use crate::helpers::{spawn_app, Browser, TestApp};

async fn connect(app: &TestApp, browser: &mut Browser, room: &str) -> Peer {
    let (status, grant) = browser
        .post(&format!("/api/rooms/{room}/signal-token"), json!({}))
        .await;
    assert_eq!(status, 200, "{grant}");
    let url = format!(
        "{}{}?token={}",
        app.address.replace("http://", "ws://"),
        grant["url"].as_str().unwrap(),
        grant["token"].as_str().unwrap()
    );
    Peer::connect(&url).await.unwrap()
}

/// Runs both peers until `done` or ten seconds pass.
async fn run_until(
    a: &mut Peer,
    a_speaks: bool,
    b: &mut Peer,
    b_speaks: bool,
    done: impl Fn(&Peer, &Peer) -> bool,
) {
    let start = Instant::now();
    while !done(a, b) && start.elapsed() < Duration::from_secs(10) {
        a.pump(a_speaks, Duration::from_millis(20)).await;
        b.pump(b_speaks, Duration::from_millis(20)).await;
    }
}

async fn room_with_two(app: &TestApp) -> (String, Browser, Browser, String) {
    let mut host = app.browser();
    host.guest().await;
    let mut guest = app.browser();
    guest.guest().await;
    let (_, room) = host
        .post("/api/rooms", json!({ "title": "Loopback" }))
        .await;
    let room = room["id"].as_str().unwrap().to_owned();
    host.post(&format!("/api/rooms/{room}/join"), json!({}))
        .await;
    let (_, detail) = guest
        .post(&format!("/api/rooms/{room}/join"), json!({}))
        .await;
    let guest_handle = detail["you"]["handle"].as_str().unwrap().to_owned();
    // Everyone arrives muted; the host speaks.
    host.post(&format!("/api/rooms/{room}/mute"), json!({ "on": false }))
        .await;
    (room, host, guest, guest_handle)
}

#[tokio::test]
async fn a_listener_hears_the_host_and_a_listeners_own_packets_go_nowhere() {
    let app = spawn_app().await;
    let (room, mut host, mut guest, _) = room_with_two(&app).await;
    let mut a = connect(&app, &mut host, &room).await;
    let mut b = connect(&app, &mut guest, &room).await;

    run_until(&mut a, true, &mut b, true, |_, b| b.received >= 20).await;
    let sfu = app.state.audio.sfu().unwrap().counters().await;

    assert!(b.received >= 20, "B got {} packets from A", b.received);
    assert_eq!(a.received, 0, "a listener's packets are never forwarded");
    assert!(
        sfu.dropped_muted > 0,
        "the server dropped the listener's packets"
    );
}

#[tokio::test]
async fn a_server_side_mute_stops_a_speakers_audio_and_removal_closes_the_connection() {
    let app = spawn_app().await;
    let (room, mut host, mut guest, guest_handle) = room_with_two(&app).await;
    guest
        .post(&format!("/api/rooms/{room}/hand"), json!({ "on": true }))
        .await;
    host.post(
        &format!("/api/rooms/{room}/participants/{guest_handle}/invite"),
        json!({}),
    )
    .await;
    guest
        .post(&format!("/api/rooms/{room}/mute"), json!({ "on": false }))
        .await;
    let mut a = connect(&app, &mut host, &room).await;
    let mut b = connect(&app, &mut guest, &room).await;

    // B speaks; A hears B.
    run_until(&mut a, false, &mut b, true, |a, _| a.received >= 20).await;
    assert!(a.received >= 20, "A got {} packets from B", a.received);

    // The host mutes B on the server: B keeps sending, nothing reaches A.
    host.post(
        &format!("/api/rooms/{room}/participants/{guest_handle}/mute"),
        json!({}),
    )
    .await;
    let changes_before = b.changes;
    // Packets already in flight may still land.
    let settle = b.sent + 5;
    run_until(&mut a, false, &mut b, true, |_, b| b.sent > settle).await;
    let (before, sent_before) = (a.received, b.sent);
    run_until(&mut a, false, &mut b, true, |_, b| {
        b.sent > sent_before + 50
    })
    .await;
    assert!(
        a.received - before <= 2,
        "muted audio kept arriving: {}",
        a.received - before
    );

    assert!(b.changes > changes_before, "B was told the room changed");

    // Removing B ends B's audio connection.
    host.post(
        &format!("/api/rooms/{room}/participants/{guest_handle}/remove"),
        json!({ "reason": "Testing removal" }),
    )
    .await;
    run_until(&mut a, false, &mut b, true, |_, b| b.disconnected).await;
    assert!(b.disconnected, "the SFU closed B's connection");
}

#[tokio::test]
async fn the_signalling_socket_needs_a_valid_room_token() {
    let app = spawn_app().await;
    let (room, _, _, _) = room_with_two(&app).await;
    let url = format!(
        "{}/api/rooms/{room}/signal?token=forged.token.1.xyz",
        app.address.replace("http://", "ws://")
    );

    let refused = tokio_tungstenite::connect_async(url).await;

    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 401)
        }
        other => panic!("the socket opened: {other:?}"),
    }
}
