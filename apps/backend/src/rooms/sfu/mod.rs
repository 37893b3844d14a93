//! The embedded SFU: a selective forwarding unit inside the backend, on one UDP port
//! (and one TCP port for networks that block UDP).
//!
//! [`engine::Core`] holds the WebRTC state and forwarding rules without doing I/O; this
//! module drives it from one tokio task that owns the socket and the clock, and gives
//! the rest of the app a cheap, cloneable handle ([`Sfu`]) to send it commands.

pub mod engine;
#[cfg(feature = "test-support")]
pub mod peer;
pub mod signal;
mod tcp;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::time::Instant;

use str0m::change::{SdpAnswer, SdpOffer};
use str0m::net::Protocol;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{mpsc, oneshot};

pub use engine::Seat;
use engine::{ClientEvent, ClientId, Core, Counters};

enum Command {
    Join {
        seat: Seat,
        offer: SdpOffer,
        events: mpsc::UnboundedSender<ClientEvent>,
        reply: oneshot::Sender<Result<(ClientId, SdpAnswer), String>>,
    },
    Answer {
        id: ClientId,
        answer: SdpAnswer,
        reply: oneshot::Sender<Result<(), String>>,
    },
    Leave(ClientId),
    Disconnect {
        room: String,
        handle: Option<String>,
    },
    MayPublish {
        room: String,
        handle: String,
        may: bool,
    },
    Blocked {
        room: String,
        handle: String,
        blocked: HashSet<String>,
    },
    Counters(oneshot::Sender<Counters>),
    RoomChanged(String),
}

/// A handle on the running SFU.
#[derive(Clone)]
pub struct Sfu {
    commands: mpsc::UnboundedSender<Command>,
    advertised: SocketAddr,
    advertised_tcp: Option<SocketAddr>,
    /// How much of the spoken time has been handed out by `take_spoken_seconds`.
    spoken_taken_ms: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

const GONE: &str = "the audio server has stopped";

impl Sfu {
    /// Binds the UDP socket (and the TCP listener, with `tcp`) and starts forwarding.
    /// `public_ip` is the address put in ICE candidates (the machine's public address
    /// behind NAT); the ports are the ones bound.
    pub async fn start(
        udp: SocketAddr,
        tcp: Option<SocketAddr>,
        public_ip: std::net::IpAddr,
    ) -> std::io::Result<Self> {
        let socket = UdpSocket::bind(udp).await?;
        let advertised = SocketAddr::new(public_ip, socket.local_addr()?.port());
        let (advertised_tcp, tcp_events) = match tcp {
            Some(bind) => {
                let listener = TcpListener::bind(bind).await?;
                let advertised = SocketAddr::new(public_ip, listener.local_addr()?.port());
                let (events, rx) = mpsc::channel(1024);
                tokio::spawn(tcp::accept(listener, events));
                (Some(advertised), Some(rx))
            }
            None => (None, None),
        };
        let (commands, rx) = mpsc::unbounded_channel();
        let core = Core::new(advertised, advertised_tcp);
        tokio::spawn(drive(socket, tcp_events, core, rx));
        tracing::info!(%advertised, tcp = ?advertised_tcp, "embedded audio server (SFU) listening");
        Ok(Self {
            commands,
            advertised,
            advertised_tcp,
            spoken_taken_ms: std::sync::Arc::default(),
        })
    }

    /// Where browsers send their audio over UDP.
    pub fn advertised(&self) -> SocketAddr {
        self.advertised
    }

    /// Where browsers reach the SFU over TCP, when it listens there.
    pub fn advertised_tcp(&self) -> Option<SocketAddr> {
        self.advertised_tcp
    }

    pub async fn join(
        &self,
        seat: Seat,
        offer: SdpOffer,
    ) -> Result<(ClientId, SdpAnswer, mpsc::UnboundedReceiver<ClientEvent>), String> {
        let (events, rx) = mpsc::unbounded_channel();
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Join {
                seat,
                offer,
                events,
                reply,
            })
            .map_err(|_| GONE.to_owned())?;
        let (id, sdp) = answer.await.map_err(|_| GONE.to_owned())??;
        Ok((id, sdp, rx))
    }

    pub async fn answer(&self, id: ClientId, answer: SdpAnswer) -> Result<(), String> {
        let (reply, done) = oneshot::channel();
        self.commands
            .send(Command::Answer { id, answer, reply })
            .map_err(|_| GONE.to_owned())?;
        done.await.map_err(|_| GONE.to_owned())?
    }

    pub fn leave(&self, id: ClientId) {
        let _ = self.commands.send(Command::Leave(id));
    }

    /// Ends the audio of one participant (`Some(handle)`) or of the whole room.
    pub fn disconnect(&self, room: &str, handle: Option<&str>) {
        let _ = self.commands.send(Command::Disconnect {
            room: room.to_owned(),
            handle: handle.map(str::to_owned),
        });
    }

    /// Whether the server forwards this participant's audio (speaker and not muted).
    pub fn set_may_publish(&self, room: &str, handle: &str, may: bool) {
        let _ = self.commands.send(Command::MayPublish {
            room: room.to_owned(),
            handle: handle.to_owned(),
            may,
        });
    }

    /// The handles whose audio this participant does not receive.
    pub fn set_blocked(&self, room: &str, handle: &str, blocked: HashSet<String>) {
        let _ = self.commands.send(Command::Blocked {
            room: room.to_owned(),
            handle: handle.to_owned(),
            blocked,
        });
    }

    /// Tells everyone connected to the room's audio that the room changed.
    pub fn room_changed(&self, room: &str) {
        let _ = self.commands.send(Command::RoomChanged(room.to_owned()));
    }

    pub async fn counters(&self) -> Counters {
        let (reply, counters) = oneshot::channel();
        let _ = self.commands.send(Command::Counters(reply));
        counters.await.unwrap_or_default()
    }

    /// Whole seconds spoken (summed over speakers) since the last call; the remainder
    /// carries over. For the admin overview's minutes spoken.
    pub async fn take_spoken_seconds(&self) -> i64 {
        use std::sync::atomic::Ordering;
        let total = self.counters().await.spoken_ms;
        let taken = self.spoken_taken_ms.load(Ordering::Relaxed);
        let seconds = total.saturating_sub(taken) / 1_000;
        self.spoken_taken_ms
            .fetch_add(seconds * 1_000, Ordering::Relaxed);
        i64::try_from(seconds).unwrap_or(i64::MAX)
    }
}

fn apply(core: &mut Core, command: Command) {
    match command {
        Command::Join {
            seat,
            offer,
            events,
            reply,
        } => {
            let _ = reply.send(core.join(Instant::now(), seat, offer, events));
        }
        Command::Answer { id, answer, reply } => {
            let _ = reply.send(core.answer(id, answer));
        }
        Command::Leave(id) => core.leave(id),
        Command::Disconnect { room, handle } => core.disconnect(&room, handle.as_deref()),
        Command::MayPublish { room, handle, may } => core.set_may_publish(&room, &handle, may),
        Command::Blocked {
            room,
            handle,
            blocked,
        } => core.set_blocked(&room, &handle, blocked),
        Command::RoomChanged(room) => core.room_changed(&room),
        Command::Counters(reply) => {
            let _ = reply.send(core.counters());
        }
    }
}

/// The next ICE-TCP event, or never when the SFU does not listen on TCP.
async fn next_tcp(events: &mut Option<mpsc::Receiver<tcp::TcpEvent>>) -> Option<tcp::TcpEvent> {
    match events {
        Some(events) => events.recv().await,
        None => std::future::pending().await,
    }
}

async fn drive(
    socket: UdpSocket,
    mut tcp_events: Option<mpsc::Receiver<tcp::TcpEvent>>,
    mut core: Core,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    let mut buf = vec![0u8; 2048];
    let mut out = Vec::new();
    let mut wake = Instant::now();
    let mut tcp_out: HashMap<SocketAddr, mpsc::Sender<Vec<u8>>> = HashMap::new();
    loop {
        tokio::select! {
            command = commands.recv() => match command {
                Some(command) => apply(&mut core, command),
                None => return,
            },
            received = socket.recv_from(&mut buf) => {
                if let Ok((n, from)) = received {
                    core.receive(Instant::now(), Protocol::Udp, from, &buf[..n]);
                }
            }
            Some(event) = next_tcp(&mut tcp_events) => match event {
                tcp::TcpEvent::Opened(peer, sender) => {
                    tcp_out.insert(peer, sender);
                }
                tcp::TcpEvent::Frame(peer, packet) => {
                    core.receive(Instant::now(), Protocol::Tcp, peer, &packet);
                }
                tcp::TcpEvent::Closed(peer) => {
                    tcp_out.remove(&peer);
                }
            },
            () = tokio::time::sleep_until(wake.into()) => {}
        }
        wake = core.poll(Instant::now(), &mut out);
        for transmit in out.drain(..) {
            if transmit.proto == Protocol::Udp {
                if let Err(error) = socket
                    .send_to(&transmit.contents, transmit.destination)
                    .await
                {
                    tracing::debug!(%error, "UDP send failed");
                }
            } else if let Some(connection) = tcp_out.get(&transmit.destination) {
                // A full queue drops the packet, as a congested path would.
                let _ = connection.try_send(transmit.contents);
            }
        }
    }
}
