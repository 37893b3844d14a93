//! A WebRTC participant written with str0m, for tests and benchmarks: it joins through
//! the signalling socket like a browser, sends Opus-sized frames every 20 ms when it
//! speaks (with the audio-level header extension saying how loud, as browsers do), and
//! counts what it receives. It talks UDP, or ICE over TCP with RFC 4571 framing like a
//! browser behind a firewall that blocks UDP. Enabled by the `test-support` feature.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use str0m::change::{SdpAnswer, SdpOffer};
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive, TcpType};
use str0m::{Candidate, Event, Input, Output, Rtc};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How packets travel.
enum Link {
    Udp(UdpSocket),
    /// ICE-TCP, active side: the connection opens on the first packet ICE sends; a task
    /// reads its frames into `frames`.
    Tcp {
        writer: Option<OwnedWriteHalf>,
        frames_in: mpsc::UnboundedSender<(SocketAddr, Vec<u8>)>,
        frames: mpsc::UnboundedReceiver<(SocketAddr, Vec<u8>)>,
    },
}

impl Link {
    async fn send(&mut self, destination: SocketAddr, packet: &[u8]) {
        match self {
            Self::Udp(socket) => {
                let _ = socket.send_to(packet, destination).await;
            }
            Self::Tcp {
                writer, frames_in, ..
            } => {
                if writer.is_none() {
                    let Ok(stream) = TcpStream::connect(destination).await else {
                        return;
                    };
                    let _ = stream.set_nodelay(true);
                    let (mut reader, write) = stream.into_split();
                    let frames_in = frames_in.clone();
                    tokio::spawn(async move {
                        while let Ok(len) = reader.read_u16().await {
                            let mut packet = vec![0u8; usize::from(len)];
                            if reader.read_exact(&mut packet).await.is_err()
                                || frames_in.send((destination, packet)).is_err()
                            {
                                return;
                            }
                        }
                    });
                    *writer = Some(write);
                }
                let (Some(writer), Ok(len)) = (writer.as_mut(), u16::try_from(packet.len())) else {
                    return;
                };
                let mut frame = len.to_be_bytes().to_vec();
                frame.extend_from_slice(packet);
                let _ = writer.write_all(&frame).await;
            }
        }
    }

    /// The next packet that arrives: its protocol, where from, and its bytes.
    async fn recv(&mut self, buf: &mut [u8]) -> Option<(Protocol, SocketAddr, Vec<u8>)> {
        match self {
            Self::Udp(socket) => {
                let (n, source) = socket.recv_from(buf).await.ok()?;
                Some((Protocol::Udp, source, buf[..n].to_vec()))
            }
            Self::Tcp { frames, .. } => {
                let (source, packet) = frames.recv().await?;
                Some((Protocol::Tcp, source, packet))
            }
        }
    }
}

/// One participant's audio connection, driven by hand.
pub struct Peer {
    rtc: Rtc,
    link: Link,
    local: SocketAddr,
    ws: Ws,
    mid: Mid,
    /// Audio frames received from the SFU.
    pub received: usize,
    /// The SFU said the audio is over.
    pub disconnected: bool,
    /// `room_changed` notices received.
    pub changes: usize,
    /// The active speakers the SFU announced last.
    pub speakers: Vec<String>,
    /// The SFU said the same seat connected again elsewhere.
    pub replaced: bool,
    /// Frames sent.
    pub sent: u64,
    next_frame: Instant,
}

async fn ws_send(ws: &mut Ws, value: Value) -> Result<(), String> {
    ws.send(Message::Text(value.to_string().into()))
        .await
        .map_err(|e| e.to_string())
}

impl Peer {
    /// Opens `signal_url` (`ws://…/api/rooms/{id}/signal?token=…`) and joins over UDP.
    pub async fn connect(signal_url: &str) -> Result<Peer, String> {
        let socket = UdpSocket::bind("127.0.0.1:0")
            .await
            .map_err(|e| e.to_string())?;
        let local = socket.local_addr().map_err(|e| e.to_string())?;
        let candidate = Candidate::host(local, "udp").map_err(|e| e.to_string())?;
        Self::join(signal_url, Link::Udp(socket), local, candidate).await
    }

    /// Joins with only an active TCP candidate, as a browser does when UDP is blocked.
    pub async fn connect_tcp(signal_url: &str) -> Result<Peer, String> {
        // Active candidates carry the discard port: the real one is chosen on connect.
        let local = SocketAddr::from(([127, 0, 0, 1], 9));
        let candidate = Candidate::builder()
            .tcp()
            .host(local)
            .tcptype(TcpType::Active)
            .build()
            .map_err(|e| e.to_string())?;
        let (frames_in, frames) = mpsc::unbounded_channel();
        let link = Link::Tcp {
            writer: None,
            frames_in,
            frames,
        };
        Self::join(signal_url, link, local, candidate).await
    }

    async fn join(
        signal_url: &str,
        link: Link,
        local: SocketAddr,
        candidate: Candidate,
    ) -> Result<Peer, String> {
        let (mut ws, _) = tokio_tungstenite::connect_async(signal_url)
            .await
            .map_err(|e| e.to_string())?;
        let mut rtc = Rtc::builder()
            .clear_codecs()
            .enable_opus(true, false)
            .build(Instant::now());
        rtc.add_local_candidate(candidate);
        let mut change = rtc.sdp_api();
        let mid = change.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
        let (offer, pending) = change.apply().ok_or("no offer")?;
        ws_send(&mut ws, json!({ "type": "join", "v": 1, "offer": offer })).await?;
        let joined = loop {
            match ws.next().await {
                Some(Ok(Message::Text(text))) => {
                    break serde_json::from_str::<Value>(&text).map_err(|e| e.to_string())?
                }
                Some(Ok(_)) => continue,
                other => return Err(format!("the socket closed: {other:?}")),
            }
        };
        if joined["type"] != "joined" {
            return Err(format!("not joined: {joined}"));
        }
        let answer: SdpAnswer =
            serde_json::from_value(joined["answer"].clone()).map_err(|e| e.to_string())?;
        rtc.sdp_api()
            .accept_answer(pending, answer)
            .map_err(|e| e.to_string())?;
        Ok(Peer {
            rtc,
            link,
            local,
            ws,
            mid,
            received: 0,
            disconnected: false,
            changes: 0,
            speakers: Vec::new(),
            replaced: false,
            sent: 0,
            next_frame: Instant::now(),
        })
    }

    /// ICE and DTLS are up.
    pub fn is_connected(&self) -> bool {
        self.rtc.is_connected()
    }

    /// Runs the connection for `period`: sends a frame every 20 ms when `speak`, takes
    /// in what arrives, answers offers.
    pub async fn pump(&mut self, speak: bool, period: Duration) {
        let deadline = Instant::now() + period;
        let mut buf = vec![0u8; 2048];
        while Instant::now() < deadline && !self.disconnected {
            let timeout = loop {
                match self.rtc.poll_output() {
                    Ok(Output::Timeout(t)) => break t,
                    Ok(Output::Transmit(t)) => self.link.send(t.destination, &t.contents).await,
                    Ok(Output::Event(Event::MediaData(_))) => self.received += 1,
                    Ok(Output::Event(_)) => {}
                    Err(_) => {
                        self.disconnected = true;
                        return;
                    }
                }
            };
            if speak && Instant::now() >= self.next_frame {
                self.send_frame();
                self.next_frame += Duration::from_millis(20);
                continue;
            }
            let mut wake = timeout.min(deadline);
            if speak {
                wake = wake.min(self.next_frame);
            }
            let wait = wake.saturating_duration_since(Instant::now());
            tokio::select! {
                received = self.link.recv(&mut buf) => {
                    if let Some((proto, source, packet)) = received {
                        if let Ok(contents) = packet.as_slice().try_into() {
                            let input = Input::Receive(Instant::now(), Receive {
                                proto,
                                source,
                                destination: self.local,
                                contents,
                            });
                            let _ = self.rtc.handle_input(input);
                        }
                    }
                }
                message = self.ws.next() => self.on_signal(message).await,
                () = tokio::time::sleep(wait) => {}
            }
            let _ = self.rtc.handle_input(Input::Timeout(Instant::now()));
        }
    }

    async fn on_signal(
        &mut self,
        message: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
    ) {
        let Some(Ok(Message::Text(text))) = message else {
            self.disconnected = true;
            return;
        };
        let Ok(message) = serde_json::from_str::<Value>(&text) else {
            return;
        };
        match message["type"].as_str() {
            Some("offer") => {
                let Ok(offer) = serde_json::from_value::<SdpOffer>(message["offer"].clone()) else {
                    return;
                };
                if let Ok(answer) = self.rtc.sdp_api().accept_offer(offer) {
                    let _ =
                        ws_send(&mut self.ws, json!({ "type": "answer", "answer": answer })).await;
                }
            }
            Some("disconnected") => self.disconnected = true,
            Some("room_changed") => self.changes += 1,
            Some("speakers") => {
                self.speakers =
                    serde_json::from_value(message["handles"].clone()).unwrap_or_default();
            }
            Some("replaced") => {
                self.replaced = true;
                self.disconnected = true;
            }
            _ => {}
        }
    }

    fn send_frame(&mut self) {
        if !self.rtc.is_connected() {
            return;
        }
        let Some(writer) = self.rtc.writer(self.mid) else {
            return;
        };
        let Some(pt) = writer.payload_params().next().map(|p| p.pt()) else {
            return;
        };
        // About a 24 kbit/s Opus frame; the SFU forwards without decoding.
        let mut frame = vec![0xF8u8; 60];
        frame[1] = self.sent as u8;
        let time = MediaTime::new(self.sent * 960, Frequency::FORTY_EIGHT_KHZ);
        // -20 dBov: a voice at a comfortable level.
        let writer = writer.audio_level(-20, true);
        if writer.write(pt, Instant::now(), time, frame).is_ok() {
            self.sent += 1;
        }
    }
}
