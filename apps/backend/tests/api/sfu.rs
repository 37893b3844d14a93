//! The embedded SFU end to end: Rust WebRTC peers (str0m, like a browser would) join
//! through the signalling socket and exchange Opus packets over real UDP on loopback.

use std::time::{Duration, Instant};

use serde_json::json;
use solace_backend::rooms::sfu::peer::Peer;

use crate::helpers::{spawn_app, Browser, TestApp};

async fn connect(app: &TestApp, browser: &mut Browser, room: &str) -> Peer {
    Peer::connect(&signal_url(app, browser, room).await)
        .await
        .unwrap()
}

/// The signalling socket's address for `browser`'s seat in `room`, with a fresh token.
pub async fn signal_url(app: &TestApp, browser: &mut Browser, room: &str) -> String {
    let (status, grant) = browser
        .post(&format!("/api/rooms/{room}/signal-token"), json!({}))
        .await;
    assert_eq!(status, 200, "{grant}");
    format!(
        "{}{}?token={}",
        app.address.replace("http://", "ws://"),
        grant["url"].as_str().unwrap(),
        grant["token"].as_str().unwrap()
    )
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
    let metrics = app.scrape().await;

    assert!(b.received >= 20, "B got {} packets from A", b.received);
    assert_eq!(a.received, 0, "a listener's packets are never forwarded");
    assert!(
        sfu.dropped_muted > 0,
        "the server dropped the listener's packets"
    );
    // What an operator sees of it.
    assert_eq!(metrics.value("solace_sfu_rooms"), Some(1.0));
    assert_eq!(metrics.value("solace_sfu_participants"), Some(2.0));
    assert!(metrics.value("solace_sfu_packets_forwarded_total") >= Some(20.0));
    assert!(
        metrics.value("solace_sfu_packets_received_total")
            >= metrics.value("solace_sfu_packets_forwarded_total")
    );
    assert!(metrics.value(r#"solace_sfu_packets_dropped_total{reason="muted""#) > Some(0.0));
    assert_eq!(metrics.value("solace_sfu_packets_lost_total"), Some(0.0));
}

#[tokio::test]
async fn a_listener_whose_network_blocks_udp_hears_the_host_over_ice_tcp() {
    let app = spawn_app().await;
    let (room, mut host, mut guest, _) = room_with_two(&app).await;
    let mut a = connect(&app, &mut host, &room).await;
    let mut b = Peer::connect_tcp(&signal_url(&app, &mut guest, &room).await)
        .await
        .unwrap();

    run_until(&mut a, true, &mut b, false, |_, b| b.received >= 20).await;

    assert!(b.is_connected(), "ICE and DTLS came up over TCP");
    assert!(b.received >= 20, "B got {} packets over TCP", b.received);
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

/// Who the room says is connected to its audio, by handle.
async fn connected_handles(browser: &mut Browser, room: &str) -> Vec<String> {
    let (_, detail) = browser.get(&format!("/api/rooms/{room}")).await;
    let mut handles: Vec<String> = detail["participants"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["connected"] == true)
        .map(|p| p["handle"].as_str().unwrap().to_owned())
        .collect();
    handles.sort();
    handles
}

#[tokio::test]
async fn presence_and_active_speakers_follow_the_audio_across_a_reconnect() {
    let app = spawn_app().await;
    let (room, mut host, mut guest, guest_handle) = room_with_two(&app).await;
    let (_, detail) = host.get(&format!("/api/rooms/{room}")).await;
    let host_handle = detail["you"]["handle"].as_str().unwrap().to_owned();
    assert!(
        connected_handles(&mut host, &room).await.is_empty(),
        "nobody's audio is connected yet"
    );
    let mut a = connect(&app, &mut host, &room).await;
    let mut b = connect(&app, &mut guest, &room).await;

    // A speaks: B is told A is the active speaker, and both are present.
    run_until(&mut a, true, &mut b, false, |_, b| {
        b.speakers == [host_handle.clone()]
    })
    .await;
    assert_eq!(b.speakers, vec![host_handle.clone()]);
    let mut both = vec![host_handle.clone(), guest_handle.clone()];
    both.sort();
    assert_eq!(connected_handles(&mut guest, &room).await, both);

    // A goes quiet: the list empties.
    run_until(&mut a, false, &mut b, false, |_, b| b.speakers.is_empty()).await;
    assert!(b.speakers.is_empty(), "still speaking: {:?}", b.speakers);

    // A reconnects from a new connection: the old one is told it was replaced, and A
    // stays present throughout — one participant, not two.
    let mut a2 = connect(&app, &mut host, &room).await;
    run_until(&mut a, false, &mut a2, false, |a, a2| {
        a.replaced && a2.is_connected()
    })
    .await;
    assert!(a.replaced, "the old connection was told");
    assert!(a2.is_connected());
    assert_eq!(connected_handles(&mut guest, &room).await, both);

    // B's connection ends: B's presence goes with it, A's stays.
    drop(b);
    let start = Instant::now();
    let mut marks = Vec::new();
    while start.elapsed() < Duration::from_secs(10) {
        marks = solace_backend::rooms::presence::connected(app.state.cache.as_ref(), &room)
            .await
            .unwrap()
            .into_iter()
            .collect();
        if marks == [host_handle.clone()] {
            break;
        }
        a2.pump(false, Duration::from_millis(50)).await;
    }
    assert_eq!(marks, vec![host_handle]);
}

#[tokio::test]
async fn each_join_gets_its_own_time_limited_turn_credentials() {
    use base64::Engine;
    use hmac::{Hmac, Mac};
    let app = crate::helpers::spawn_app_with(&[
        ("STUN_URLS", "stun:stun.example.org:3478"),
        (
            "TURN_URL",
            "turn:turn.example.org:3478?transport=udp, turns:turn.example.org:5349?transport=tcp",
        ),
        ("TURN_SECRET", "shared-with-coturn"),
        ("TURN_TTL_SECS", "600"),
        ("ICE_TRANSPORT_POLICY", "relay"),
    ])
    .await;
    let (room, mut host, mut guest, _) = room_with_two(&app).await;
    let grant = |grant: serde_json::Value| {
        assert_eq!(grant["ice_transport_policy"], "relay");
        assert_eq!(
            grant["ice_servers"][0],
            json!({ "urls": ["stun:stun.example.org:3478"] })
        );
        let turn = grant["ice_servers"][1].clone();
        assert_eq!(
            turn["urls"],
            json!([
                "turn:turn.example.org:3478?transport=udp",
                "turns:turn.example.org:5349?transport=tcp"
            ])
        );
        turn
    };
    let path = format!("/api/rooms/{room}/signal-token");
    let (_, host_grant) = host.post(&path, json!({})).await;
    let (_, guest_grant) = guest.post(&path, json!({})).await;
    let (host_turn, guest_turn) = (grant(host_grant), grant(guest_grant));

    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    for turn in [&host_turn, &guest_turn] {
        let username = turn["username"].as_str().unwrap();
        let expiry: i64 = username.split_once(':').unwrap().0.parse().unwrap();
        assert!((now + 590..=now + 610).contains(&expiry), "{username}");
        // What coturn checks with `use-auth-secret`: the password is the username's
        // HMAC-SHA1 under the shared secret.
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(b"shared-with-coturn").unwrap();
        mac.update(username.as_bytes());
        let expected =
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        assert_eq!(turn["credential"], expected.as_str());
    }
    assert_ne!(
        host_turn["username"], guest_turn["username"],
        "each person has their own"
    );
}

#[tokio::test]
async fn with_signal_origin_the_socket_is_opened_at_the_backend_directly() {
    // The web app on a CDN (which carries no WebSockets): the grant names the backend.
    let app = crate::helpers::spawn_app_with(&[
        ("PUBLIC_URL", "https://solace.example.app"),
        ("SIGNAL_ORIGIN", "wss://api.solace.example.org"),
    ])
    .await;
    let (room, mut host, _, _) = room_with_two(&app).await;
    let (status, grant) = host
        .post(&format!("/api/rooms/{room}/signal-token"), json!({}))
        .await;
    assert_eq!(status, 200, "{grant}");
    assert_eq!(
        grant["url"],
        format!("wss://api.solace.example.org/api/rooms/{room}/signal").as_str()
    );
    let page = app.get("/").await;
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("connect-src 'self' wss://api.solace.example.org;"),
        "{csp}"
    );
}

#[tokio::test]
async fn the_udp_socket_binds_to_rtc_udp_host_and_audio_flows() {
    // As on Fly.io, where UDP reaches only a socket bound to a named address.
    let app = crate::helpers::spawn_app_with(&[("RTC_UDP_HOST", "localhost")]).await;
    let (room, mut host, mut guest, _) = room_with_two(&app).await;
    let mut a = connect(&app, &mut host, &room).await;
    let mut b = connect(&app, &mut guest, &room).await;
    run_until(&mut a, true, &mut b, false, |_, b| b.received >= 10).await;
    assert!(b.received >= 10, "B got {} packets", b.received);

    let unknown = crate::helpers::startup_error(&[("RTC_UDP_HOST", "no-such-host.invalid")]).await;
    assert!(
        unknown.contains("RTC_UDP_HOST: cannot resolve 'no-such-host.invalid'"),
        "{unknown}"
    );
}

#[tokio::test]
async fn time_spoken_in_rooms_reaches_the_admin_overview() {
    let app = spawn_app().await;
    let (room, mut host, mut guest, _) = room_with_two(&app).await;
    let mut a = connect(&app, &mut host, &room).await;
    let mut b = connect(&app, &mut guest, &room).await;

    // The host speaks until the audio server has heard two seconds of speech (a busy
    // machine delays its ticks, so time it by what it counted, not by the clock).
    let sfu = app.state.audio.sfu().unwrap().clone();
    let started = Instant::now();
    while sfu.counters().await.spoken_ms < 2_000 && started.elapsed() < Duration::from_secs(20) {
        for _ in 0..10 {
            a.pump(true, Duration::from_millis(20)).await;
            b.pump(false, Duration::from_millis(20)).await;
        }
    }
    assert!(sfu.counters().await.spoken_ms >= 2_000, "no speech counted");
    solace_backend::rooms::housekeeping::tick(&app.state, &mut Default::default(), Instant::now())
        .await
        .unwrap();

    let mut admin = app.administrator("admin@example.org").await;
    let (_, overview) = admin.get("/api/admin/overview?days=1").await;
    let minutes = overview["days"][0]["minutes_spoken"].as_f64().unwrap();
    // Whole seconds are counted; one speaker for ~3 s is 0.03–0.05 minutes.
    assert!(
        (0.0..=0.1).contains(&minutes) && minutes > 0.0,
        "{overview}"
    );
    // What was counted is not counted again.
    assert_eq!(
        app.state.audio.sfu().unwrap().take_spoken_seconds().await,
        0
    );
}
