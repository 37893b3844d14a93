//! The SFU's core: one str0m `Rtc` per connected participant, and the forwarding of
//! Opus packets between participants of the same room.
//!
//! Nothing here does I/O: datagrams and time come in as [`Input`]s, and what must be
//! sent or told comes out through [`Core::poll`]. The driver (`sfu/mod.rs`) owns the
//! socket and the clock. Policy is enforced here, on the server: packets from someone
//! who may not speak (a listener, or muted) are dropped, and nobody receives audio from
//! a person they blocked.

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::Instant;

use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::media::{Direction, MediaData, MediaKind, Mid};
use str0m::net::Receive;
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc};
use tokio::sync::mpsc;

/// What the SFU tells one participant's signalling connection.
#[derive(Debug)]
pub enum ClientEvent {
    /// New media to receive: answer this offer.
    Offer(SdpOffer),
    /// The audio connection ended (network gone, or removed).
    Disconnected,
    /// Something about the room changed (people, roles, mutes): fetch it again.
    RoomChanged,
}

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
}

/// Counters for tests, metrics and the benchmark.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counters {
    pub forwarded: u64,
    pub dropped_muted: u64,
    pub dropped_blocked: u64,
}

/// A datagram to send.
pub struct Transmit {
    pub destination: SocketAddr,
    pub contents: Vec<u8>,
}

pub struct Core {
    local: SocketAddr,
    clients: Vec<Client>,
    next_id: u64,
    counters: Counters,
}

impl Core {
    /// `local` is the address browsers reach the UDP socket at (the ICE candidate).
    pub fn new(local: SocketAddr) -> Self {
        Self {
            local,
            clients: Vec::new(),
            next_id: 1,
            counters: Counters::default(),
        }
    }

    pub fn counters(&self) -> Counters {
        self.counters
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
        self.clients
            .retain(|c| !(c.room == room && c.handle == handle));
        if self.clients.len() < before {
            self.someone_left();
        }
        let room = room.as_str();
        let mut rtc = Rtc::builder()
            .set_ice_lite(true)
            .clear_codecs()
            .enable_opus(true, false)
            .build(now);
        let candidate = Candidate::host(self.local, "udp").map_err(|e| e.to_string())?;
        rtc.add_local_candidate(candidate);
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

    /// Every (room, handle) with a live audio connection.
    pub fn connected(&self) -> HashSet<(String, String)> {
        self.clients
            .iter()
            .filter(|c| c.rtc.is_alive())
            .map(|c| (c.room.clone(), c.handle.clone()))
            .collect()
    }

    fn client(&mut self, id: ClientId) -> Option<&mut Client> {
        self.clients.iter_mut().find(|c| c.id == id)
    }

    /// A datagram arrived; the connection it belongs to takes it.
    pub fn receive(&mut self, now: Instant, source: SocketAddr, data: &[u8]) {
        let Ok(contents) = data.try_into() else {
            return;
        };
        let input = Input::Receive(
            now,
            Receive {
                proto: str0m::net::Protocol::Udp,
                source,
                destination: self.local,
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
                            destination: t.destination,
                            contents: t.contents.to_vec(),
                        }),
                        Ok(Output::Event(event)) => {
                            progressed = true;
                            match event {
                                Event::Connected => client.connected = true,
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
        let idle = now + std::time::Duration::from_millis(100);
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

    fn forward(&mut self, origin: ClientId, data: &MediaData) {
        let Some(source) = self.clients.iter().find(|c| c.id == origin) else {
            return;
        };
        if !source.may_publish {
            self.counters.dropped_muted += 1;
            return;
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
