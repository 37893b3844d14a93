//! The SFU's core: one str0m `Rtc` per connected participant, and the forwarding of
//! Opus packets between participants of the same room.
//!
//! Nothing here does I/O: datagrams and time come in as [`Input`]s, and what must be
//! sent or told comes out through [`Core::poll`]. The driver (`sfu/mod.rs`) owns the
//! socket and the clock. Policy is enforced here, on the server: packets from someone
//! who may not speak (a listener, or muted) are dropped, and nobody receives audio from
//! a person they blocked. The SFU also works out who is speaking from the audio-level
//! header extension (RFC 6464) of the packets it forwards, and tells the room.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::media::{Direction, MediaData, MediaKind, Mid};
use str0m::net::{Protocol, Receive, TcpType};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc};
use tokio::sync::mpsc;

/// What the SFU tells one participant's signalling connection.
#[derive(Debug)]
pub enum ClientEvent {
    /// ICE and DTLS are up: audio flows.
    Connected,
    /// New media to receive: answer this offer.
    Offer(SdpOffer),
    /// The audio connection ended (network gone, or removed).
    Disconnected,
    /// The same seat connected again elsewhere (a reconnect): this connection is over,
    /// but the person is still here.
    Replaced,
    /// Something about the room changed (people, roles, mutes): fetch it again.
    RoomChanged,
    /// Who is speaking now (handles, sorted); empty when nobody is.
    Speakers(Vec<String>),
}

/// A packet at least this loud (audio level in dBov, RFC 6464) counts as speech.
const SPEECH_DBOV: i8 = -50;
/// Someone stops being an active speaker this long after their last loud packet.
const SPEECH_HOLD: Duration = Duration::from_millis(400);
/// Active speakers are worked out (and announced, when they changed) this often.
const SPEAKERS_EVERY: Duration = Duration::from_millis(200);

/// Who is connecting, and what they may do.
#[derive(Debug, Clone)]
pub struct Seat {
    pub room: String,
    pub handle: String,
    /// Speaker and not muted: their packets are forwarded.
    pub may_publish: bool,
    /// Handles whose audio they do not receive.
    pub blocked: HashSet<String>,
}

/// A participant's connection, numbered by the SFU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientId(pub u64);

#[derive(Debug)]
struct TrackIn {
    origin: ClientId,
    /// The publisher's handle: the stream id browsers see, so they know whose voice it is.
    handle: String,
    mid: Mid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutState {
    ToOpen,
    Negotiating(Mid),
    Open(Mid),
    /// The speaker left: the m-line is being stopped, so the browser's track ends.
    Stopping(Mid),
}

#[derive(Debug)]
struct TrackOut {
    track_in: Weak<TrackIn>,
    state: OutState,
}

struct Client {
    id: ClientId,
    room: String,
    handle: String,
    rtc: Rtc,
    may_publish: bool,
    blocked: HashSet<String>,
    events: mpsc::UnboundedSender<ClientEvent>,
    pending: Option<SdpPendingOffer>,
    tracks_in: Vec<Arc<TrackIn>>,
    tracks_out: Vec<TrackOut>,
    connected: bool,
    /// When this connection next needs the clock (str0m's timeout).
    wake: Instant,
    /// Its outgoing tracks changed since the last offer.
    renegotiate: bool,
    /// Something went in (a datagram, the clock, media to send): poll it.
    dirty: bool,
    /// When the last forwarded packet loud enough to be speech arrived.
    voice: Option<Instant>,
    /// Packets received from this participant at the last ingress statistics.
    ingress_packets: u64,
}

/// How often each connection reports what it received (and lost).
const STATS_INTERVAL: Duration = Duration::from_secs(5);

/// Counters for tests, metrics and the benchmark; the totals since start-up, and who is
/// connected now.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counters {
    /// Audio packets received from speakers.
    pub received: u64,
    /// Packets sent on to listeners (one per listener).
    pub forwarded: u64,
    pub dropped_muted: u64,
    pub dropped_blocked: u64,
    /// Packets lost on the way from speakers, estimated from the loss fraction of each
    /// connection's receiver reports.
    pub lost: u64,
    /// Milliseconds spoken, summed over speakers (two at once count twice).
    pub spoken_ms: u64,
    /// Rooms with anyone connected, and the connections in them.
    pub rooms: u64,
    pub participants: u64,
}

/// A datagram to send (over TCP: one RFC 4571 frame).
pub struct Transmit {
    pub proto: Protocol,
    pub destination: SocketAddr,
    pub contents: Vec<u8>,
}

pub struct Core {
    local: SocketAddr,
    /// Where browsers reach the SFU over TCP (ICE-TCP, passive), when it listens there.
    local_tcp: Option<SocketAddr>,
    clients: Vec<Client>,
    next_id: u64,
    counters: Counters,
    /// The active speakers last announced in each room.
    speakers: HashMap<String, Vec<String>>,
    speakers_at: Instant,
}

impl Core {
    /// `local` is the address browsers reach the UDP socket at (the ICE candidate);
    /// `local_tcp` the TCP listener's, offered as a passive TCP candidate for networks
    /// that block UDP.
    pub fn new(local: SocketAddr, local_tcp: Option<SocketAddr>) -> Self {
        Self {
            local,
            local_tcp,
            clients: Vec::new(),
            next_id: 1,
            counters: Counters::default(),
            speakers: HashMap::new(),
            speakers_at: Instant::now(),
        }
    }

    pub fn counters(&self) -> Counters {
        let rooms: HashSet<&str> = self.clients.iter().map(|c| c.room.as_str()).collect();
        Counters {
            rooms: rooms.len() as u64,
            participants: self.clients.len() as u64,
            ..self.counters
        }
    }

    /// A participant connects with their offer (one send-only audio m-line). Returns
    /// the answer; media from everyone already in the room follows by renegotiation.
    pub fn join(
        &mut self,
        now: Instant,
        seat: Seat,
        offer: SdpOffer,
        events: mpsc::UnboundedSender<ClientEvent>,
    ) -> Result<(ClientId, SdpAnswer), String> {
        let Seat {
            room,
            handle,
            may_publish,
            blocked,
        } = seat;
        // Reconnecting replaces the old connection instead of adding a second person.
        let before = self.clients.len();
        self.clients.retain(|c| {
            let same = c.room == room && c.handle == handle;
            if same {
                let _ = c.events.send(ClientEvent::Replaced);
            }
            !same
        });
        if self.clients.len() < before {
            self.someone_left();
        }
        let room = room.as_str();
        let mut rtc = Rtc::builder()
            .set_ice_lite(true)
            .clear_codecs()
            .enable_opus(true, false)
            .set_stats_interval(Some(STATS_INTERVAL))
            .build(now);
        let candidate = Candidate::host(self.local, "udp").map_err(|e| e.to_string())?;
        rtc.add_local_candidate(candidate);
        if let Some(tcp) = self.local_tcp {
            let candidate = Candidate::builder()
                .tcp()
                .host(tcp)
                .tcptype(TcpType::Passive)
                .build()
                .map_err(|e| e.to_string())?;
            rtc.add_local_candidate(candidate);
        }
        let answer = rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| format!("the offer was not accepted: {e}"))?;
        let id = ClientId(self.next_id);
        self.next_id += 1;
        let mut client = Client {
            id,
            room: room.to_owned(),
            handle,
            rtc,
            may_publish,
            blocked,
            events,
            pending: None,
            tracks_in: Vec::new(),
            tracks_out: Vec::new(),
            connected: false,
            wake: now,
            renegotiate: false,
            dirty: true,
            voice: None,
            ingress_packets: 0,
        };
        for other in self.clients.iter().filter(|c| c.room == room) {
            for track in &other.tracks_in {
                client.tracks_out.push(TrackOut {
                    track_in: Arc::downgrade(track),
                    state: OutState::ToOpen,
                });
                client.renegotiate = true;
            }
        }
        self.clients.push(client);
        Ok((id, answer))
    }

    /// The participant's answer to an offer the SFU sent.
    pub fn answer(&mut self, id: ClientId, answer: SdpAnswer) -> Result<(), String> {
        let client = self.client(id).ok_or("no such connection")?;
        let pending = client
            .pending
            .take()
            .ok_or("no offer is waiting for an answer")?;
        client.dirty = true;
        client
            .rtc
            .sdp_api()
            .accept_answer(pending, answer)
            .map_err(|e| format!("the answer was not accepted: {e}"))?;
        for track in &mut client.tracks_out {
            if let OutState::Negotiating(mid) = track.state {
                track.state = OutState::Open(mid);
            }
        }
        client
            .tracks_out
            .retain(|t| !matches!(t.state, OutState::Stopping(_)));
        Ok(())
    }

    pub fn leave(&mut self, id: ClientId) {
        self.clients.retain(|c| c.id != id);
        self.someone_left();
    }

    /// A departed speaker's m-lines must be stopped at everyone else's end.
    fn someone_left(&mut self) {
        for client in &mut self.clients {
            client.renegotiate = true;
        }
    }

    /// Disconnects whoever in `room` matches (`None`: everyone), telling them.
    pub fn disconnect(&mut self, room: &str, handle: Option<&str>) {
        self.clients.retain(|c| {
            let hit = c.room == room && handle.is_none_or(|h| h == c.handle);
            if hit {
                let _ = c.events.send(ClientEvent::Disconnected);
            }
            !hit
        });
        self.someone_left();
    }

    /// Tells everyone connected to the room that it changed.
    pub fn room_changed(&mut self, room: &str) {
        for c in self.clients.iter().filter(|c| c.room == room) {
            let _ = c.events.send(ClientEvent::RoomChanged);
        }
    }

    pub fn set_may_publish(&mut self, room: &str, handle: &str, may: bool) {
        for c in self
            .clients
            .iter_mut()
            .filter(|c| c.room == room && c.handle == handle)
        {
            c.may_publish = may;
        }
    }

    pub fn set_blocked(&mut self, room: &str, handle: &str, blocked: HashSet<String>) {
        for c in self
            .clients
            .iter_mut()
            .filter(|c| c.room == room && c.handle == handle)
        {
            c.blocked = blocked.clone();
        }
    }

    fn client(&mut self, id: ClientId) -> Option<&mut Client> {
        self.clients.iter_mut().find(|c| c.id == id)
    }

    /// A datagram (or a TCP frame) arrived; the connection it belongs to takes it.
    pub fn receive(&mut self, now: Instant, proto: Protocol, source: SocketAddr, data: &[u8]) {
        let destination = match proto {
            Protocol::Udp => self.local,
            _ => match self.local_tcp {
                Some(tcp) => tcp,
                None => return,
            },
        };
        let Ok(contents) = data.try_into() else {
            return;
        };
        let input = Input::Receive(
            now,
            Receive {
                proto,
                source,
                destination,
                contents,
            },
        );
        if let Some(client) = self.clients.iter_mut().find(|c| c.rtc.accepts(&input)) {
            client.dirty = true;
            if client.rtc.handle_input(input).is_err() {
                client.rtc.disconnect();
            }
        }
    }

    /// Moves time forward, forwards media, and returns what to send and when to wake.
    pub fn poll(&mut self, now: Instant, out: &mut Vec<Transmit>) -> Instant {
        let mut media: VecDeque<(ClientId, MediaData)> = VecDeque::new();
        // Only connections whose timer is due need the clock.
        for client in self.clients.iter_mut().filter(|c| c.wake <= now) {
            client.dirty = true;
            if client.rtc.is_alive() && client.rtc.handle_input(Input::Timeout(now)).is_err() {
                client.rtc.disconnect();
            }
        }
        let mut tracks_added = false;
        // Poll every connection until it has nothing more, carrying media across.
        loop {
            let mut progressed = false;
            // Only connections with something new: polling all of them for every
            // datagram would cost a room of N people N² work per second.
            for client in self
                .clients
                .iter_mut()
                .filter(|c| c.dirty || (c.renegotiate && c.connected))
            {
                client.dirty = false;
                if client.connected {
                    negotiate(client);
                }
                while client.rtc.is_alive() {
                    match client.rtc.poll_output() {
                        Ok(Output::Timeout(t)) => {
                            client.wake = t;
                            break;
                        }
                        Ok(Output::Transmit(t)) => out.push(Transmit {
                            proto: t.proto,
                            destination: t.destination,
                            contents: t.contents.to_vec(),
                        }),
                        Ok(Output::Event(event)) => {
                            progressed = true;
                            match event {
                                Event::Connected => {
                                    client.connected = true;
                                    let _ = client.events.send(ClientEvent::Connected);
                                }
                                Event::IceConnectionStateChange(
                                    IceConnectionState::Disconnected,
                                ) => {
                                    client.rtc.disconnect();
                                }
                                Event::MediaAdded(added)
                                    if added.kind == MediaKind::Audio
                                        && added.direction.is_receiving() =>
                                {
                                    client.tracks_in.push(Arc::new(TrackIn {
                                        origin: client.id,
                                        handle: client.handle.clone(),
                                        mid: added.mid,
                                    }));
                                    tracks_added = true;
                                }
                                Event::MediaData(data) => media.push_back((client.id, data)),
                                Event::MediaIngressStats(stats) => {
                                    let new = stats.packets.saturating_sub(client.ingress_packets);
                                    client.ingress_packets = stats.packets;
                                    let loss = f64::from(stats.loss.unwrap_or(0.0).clamp(0.0, 1.0));
                                    // Of every packet sent, `loss` went missing.
                                    let lost = new as f64 * loss / (1.0 - loss).max(0.01);
                                    self.counters.lost += lost.round() as u64;
                                }
                                _ => {}
                            }
                        }
                        Err(_) => client.rtc.disconnect(),
                    }
                }
            }
            // New incoming tracks become outgoing tracks for the rest of the room.
            if tracks_added {
                tracks_added = false;
                self.open_new_tracks();
            }
            while let Some((origin, data)) = media.pop_front() {
                self.forward(origin, &data);
                progressed = true;
            }
            if !progressed {
                break;
            }
        }
        // Connections that died are gone; their tracks go with them (weak references).
        let before = self.clients.len();
        self.clients.retain(|c| {
            let alive = c.rtc.is_alive();
            if !alive {
                let _ = c.events.send(ClientEvent::Disconnected);
            }
            alive
        });
        if self.clients.len() < before {
            self.someone_left();
        }
        if now >= self.speakers_at + SPEAKERS_EVERY {
            let since = now.saturating_duration_since(self.speakers_at);
            self.speakers_at = now;
            self.announce_speakers(now, since);
        }
        let idle = now + Duration::from_millis(100);
        self.clients.iter().map(|c| c.wake).fold(idle, Instant::min)
    }

    /// Gives every connection an outgoing track for each new incoming one in its room.
    fn open_new_tracks(&mut self) {
        let fresh: Vec<(String, ClientId, Arc<TrackIn>)> = self
            .clients
            .iter()
            .flat_map(|c| {
                c.tracks_in
                    .iter()
                    .map(move |t| (c.room.clone(), c.id, t.clone()))
            })
            .collect();
        for client in &mut self.clients {
            for (room, origin, track) in &fresh {
                let known = client
                    .tracks_out
                    .iter()
                    .any(|o| o.track_in.upgrade().is_some_and(|t| Arc::ptr_eq(&t, track)));
                if *room == client.room && *origin != client.id && !known {
                    client.tracks_out.push(TrackOut {
                        track_in: Arc::downgrade(track),
                        state: OutState::ToOpen,
                    });
                    client.renegotiate = true;
                }
            }
        }
    }

    /// Tells each room who speaks now, when that changed since the last announcement.
    /// Also adds the time each speaker spoke since the last call (`since`) to the tally.
    fn announce_speakers(&mut self, now: Instant, since: Duration) {
        let mut rooms: HashMap<&str, Vec<String>> = HashMap::new();
        for c in &self.clients {
            let speaking = c.may_publish
                && c.voice
                    .is_some_and(|at| now.saturating_duration_since(at) < SPEECH_HOLD);
            let room = rooms.entry(c.room.as_str()).or_default();
            if speaking {
                room.push(c.handle.clone());
                self.counters.spoken_ms += since.as_millis() as u64;
            }
        }
        let mut changed = Vec::new();
        for (room, mut handles) in rooms {
            handles.sort();
            if self
                .speakers
                .get(room)
                .map_or(!handles.is_empty(), |was| *was != handles)
            {
                changed.push((room.to_owned(), handles));
            }
        }
        for (room, handles) in changed {
            for c in self.clients.iter().filter(|c| c.room == room) {
                let _ = c.events.send(ClientEvent::Speakers(handles.clone()));
            }
            self.speakers.insert(room, handles);
        }
        // Rooms nobody is connected to any more are forgotten.
        let clients = &self.clients;
        self.speakers
            .retain(|room, _| clients.iter().any(|c| c.room == *room));
    }

    fn forward(&mut self, origin: ClientId, data: &MediaData) {
        let Some(source) = self.clients.iter_mut().find(|c| c.id == origin) else {
            return;
        };
        self.counters.received += 1;
        if !source.may_publish {
            self.counters.dropped_muted += 1;
            return;
        }
        if data.ext_vals.audio_level.is_some_and(|l| l >= SPEECH_DBOV) {
            source.voice = Some(data.network_time);
        }
        let (room, handle) = (source.room.clone(), source.handle.clone());
        for client in self
            .clients
            .iter_mut()
            .filter(|c| c.room == room && c.id != origin)
        {
            if client.blocked.contains(&handle) {
                self.counters.dropped_blocked += 1;
                continue;
            }
            let mid =
                client
                    .tracks_out
                    .iter()
                    .find_map(|o| match (o.state, o.track_in.upgrade()) {
                        (OutState::Open(mid), Some(t))
                            if t.origin == origin && t.mid == data.mid =>
                        {
                            Some(mid)
                        }
                        _ => None,
                    });
            let Some(mid) = mid else { continue };
            let Some(writer) = client.rtc.writer(mid) else {
                continue;
            };
            let Some(pt) = writer.match_params(data.params) else {
                continue;
            };
            if writer
                .write(pt, data.network_time, data.time, data.data.clone())
                .is_ok()
            {
                self.counters.forwarded += 1;
            }
            client.dirty = true;
        }
    }
}

/// Offers the participant any tracks they do not receive yet (one offer at a time).
fn negotiate(client: &mut Client) {
    if !client.renegotiate || client.pending.is_some() {
        return;
    }
    client.renegotiate = false;
    client
        .tracks_out
        .retain(|o| o.track_in.strong_count() > 0 || !matches!(o.state, OutState::ToOpen));
    let mut change = client.rtc.sdp_api();
    for track in &mut client.tracks_out {
        if let (OutState::Open(mid), 0) = (track.state, track.track_in.strong_count()) {
            change.stop_media(mid);
            track.state = OutState::Stopping(mid);
            continue;
        }
        if track.state == OutState::ToOpen {
            if let Some(track_in) = track.track_in.upgrade() {
                let stream = track_in.handle.clone();
                let mid = change.add_media(
                    MediaKind::Audio,
                    Direction::SendOnly,
                    Some(stream),
                    None,
                    None,
                );
                track.state = OutState::Negotiating(mid);
            }
        }
    }
    if !change.has_changes() {
        return;
    }
    if let Some((offer, pending)) = change.apply() {
        client.pending = Some(pending);
        let _ = client.events.send(ClientEvent::Offer(offer));
    }
}
