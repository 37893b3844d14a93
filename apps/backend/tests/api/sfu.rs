//! The embedded SFU end to end: Rust WebRTC peers (str0m, like a browser would) join
//! through the signalling socket and exchange Opus packets over real UDP on loopback.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::media::{Direction, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};
use tokio::net::{TcpStream, UdpSocket};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::helpers::{spawn_app, Browser, TestApp};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// One participant's audio connection, driven by hand.
struct Peer {
    rtc: Rtc,
    socket: UdpSocket,
    local: SocketAddr,
    ws: Ws,
    mid: Mid,
    /// Opus frames received from the SFU.
    received: usize,
    /// The SFU said the audio is over.
    disconnected: bool,
    /// `room_changed` notices received.
    changes: usize,
    sent: u64,
}

async fn ws_send(ws: &mut Ws, value: Value) {
    ws.send(Message::Text(value.to_string().into()))
        .await
        .unwrap();
}

async fn ws_next(ws: &mut Ws) -> Value {
    loop {
        match ws.next().await.unwrap().unwrap() {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            Message::Close(_) => return json!({ "type": "closed" }),
            _ => continue,
        }
    }
}

impl Peer {
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
        let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();

        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let local = socket.local_addr().unwrap();
        let mut rtc = Rtc::builder()
            .clear_codecs()
            .enable_opus(true, false)
            .build(Instant::now());
        rtc.add_local_candidate(Candidate::host(local, "udp").unwrap());
        let mut change = rtc.sdp_api();
        let mid = change.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
        let (offer, pending): (SdpOffer, SdpPendingOffer) = change.apply().unwrap();
        ws_send(&mut ws, json!({ "type": "join", "v": 1, "offer": offer })).await;
        let joined = ws_next(&mut ws).await;
        assert_eq!(joined["type"], "joined", "{joined}");
        let answer: SdpAnswer = serde_json::from_value(joined["answer"].clone()).unwrap();
        rtc.sdp_api().accept_answer(pending, answer).unwrap();
        Peer {
            rtc,
            socket,
            local,
            ws,
            mid,
            received: 0,
            disconnected: false,
            changes: 0,
            sent: 0,
        }
    }

    /// Sends what is due, takes in what arrived, for a few milliseconds.
    async fn pump(&mut self, speak: bool) {
        let deadline = Instant::now() + Duration::from_millis(20);
        let mut buf = vec![0u8; 2048];
        loop {
            let timeout = loop {
                match self.rtc.poll_output().unwrap() {
                    Output::Timeout(t) => break t,
                    Output::Transmit(t) => {
                        let _ = self.socket.send_to(&t.contents, t.destination).await;
                    }
                    Output::Event(Event::MediaData(_)) => self.received += 1,
                    Output::Event(_) => {}
                }
            };
            let wait = timeout
                .min(deadline)
                .saturating_duration_since(Instant::now());
            tokio::select! {
                received = self.socket.recv_from(&mut buf) => {
                    let (n, source) = received.unwrap();
                    let input = Input::Receive(Instant::now(), Receive {
                        proto: Protocol::Udp,
                        source,
                        destination: self.local,
                        contents: buf[..n].try_into().unwrap(),
                    });
                    self.rtc.handle_input(input).unwrap();
                }
                message = self.ws.next() => {
                    if let Some(Ok(Message::Text(text))) = message {
                        let message: Value = serde_json::from_str(&text).unwrap();
                        match message["type"].as_str() {
                            Some("offer") => {
                                let offer: SdpOffer = serde_json::from_value(message["offer"].clone()).unwrap();
                                let answer = self.rtc.sdp_api().accept_offer(offer).unwrap();
                                ws_send(&mut self.ws, json!({ "type": "answer", "answer": answer })).await;
                            }
                            Some("disconnected") => self.disconnected = true,
                            Some("room_changed") => self.changes += 1,
                            _ => {}
                        }
                    } else {
                        self.disconnected = true;
                    }
                }
                () = tokio::time::sleep(wait) => {}
            }
            self.rtc
                .handle_input(Input::Timeout(Instant::now()))
                .unwrap();
            if Instant::now() >= deadline {
                break;
            }
        }
        if speak && self.rtc.is_connected() {
            if let Some(writer) = self.rtc.writer(self.mid) {
                let pt = writer.payload_params().next().map(|p| p.pt());
                if let Some(pt) = pt {
                    // A 20 ms Opus frame's worth of bytes; the SFU forwards, it does not decode.
                    let time =
                        MediaTime::new(self.sent * 960, str0m::media::Frequency::FORTY_EIGHT_KHZ);
                    let _ = writer.write(
                        pt,
                        Instant::now(),
                        time,
                        vec![0xF8u8, 0xFF, 0xFE, self.sent as u8],
                    );
                    self.sent += 1;
                }
            }
        }
    }
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
        a.pump(a_speaks).await;
        b.pump(b_speaks).await;
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
    let mut a = Peer::connect(&app, &mut host, &room).await;
    let mut b = Peer::connect(&app, &mut guest, &room).await;

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
    let mut a = Peer::connect(&app, &mut host, &room).await;
    let mut b = Peer::connect(&app, &mut guest, &room).await;

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
