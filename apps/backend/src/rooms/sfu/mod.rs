//! The embedded SFU: a selective forwarding unit inside the backend, on one UDP port.
//!
//! [`engine::Core`] holds the WebRTC state and forwarding rules without doing I/O; this
//! module drives it from one tokio task that owns the socket and the clock, and gives
//! the rest of the app a cheap, cloneable handle ([`Sfu`]) to send it commands.

pub mod engine;
#[cfg(feature = "test-support")]
pub mod peer;
pub mod signal;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Instant;

use str0m::change::{SdpAnswer, SdpOffer};
use tokio::net::UdpSocket;
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
    Connected(oneshot::Sender<HashSet<(String, String)>>),
}

/// A handle on the running SFU.
#[derive(Clone)]
pub struct Sfu {
    commands: mpsc::UnboundedSender<Command>,
    advertised: SocketAddr,
}

const GONE: &str = "the audio server has stopped";

impl Sfu {
    /// Binds the UDP socket and starts forwarding. `public_ip` is the address put in
    /// ICE candidates (the machine's public address behind NAT); the port is the one
    /// bound.
    pub async fn start(bind: SocketAddr, public_ip: std::net::IpAddr) -> std::io::Result<Self> {
        let socket = UdpSocket::bind(bind).await?;
        let advertised = SocketAddr::new(public_ip, socket.local_addr()?.port());
        let (commands, rx) = mpsc::unbounded_channel();
        tokio::spawn(drive(socket, Core::new(advertised), rx));
        tracing::info!(%advertised, "embedded audio server (SFU) listening on UDP");
        Ok(Self {
            commands,
            advertised,
        })
    }

    /// Where browsers send their audio.
    pub fn advertised(&self) -> SocketAddr {
        self.advertised
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

    /// Every (room, handle) with a live audio connection.
    pub async fn connected(&self) -> HashSet<(String, String)> {
        let (reply, connected) = oneshot::channel();
        let _ = self.commands.send(Command::Connected(reply));
        connected.await.unwrap_or_default()
    }

    pub async fn counters(&self) -> Counters {
        let (reply, counters) = oneshot::channel();
        let _ = self.commands.send(Command::Counters(reply));
        counters.await.unwrap_or_default()
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
        Command::Connected(reply) => {
            let _ = reply.send(core.connected());
        }
        Command::Counters(reply) => {
            let _ = reply.send(core.counters());
        }
    }
}

async fn drive(socket: UdpSocket, mut core: Core, mut commands: mpsc::UnboundedReceiver<Command>) {
    let mut buf = vec![0u8; 2048];
    let mut out = Vec::new();
    let mut wake = Instant::now();
    loop {
        tokio::select! {
            command = commands.recv() => match command {
                Some(command) => apply(&mut core, command),
                None => return,
            },
            received = socket.recv_from(&mut buf) => {
                if let Ok((n, from)) = received {
                    core.receive(Instant::now(), from, &buf[..n]);
                }
            }
            () = tokio::time::sleep_until(wake.into()) => {}
        }
        wake = core.poll(Instant::now(), &mut out);
        for transmit in out.drain(..) {
            if let Err(error) = socket
                .send_to(&transmit.contents, transmit.destination)
                .await
            {
                tracing::debug!(%error, "UDP send failed");
            }
        }
    }
}
