//! ICE over TCP (RFC 6544) for networks that block UDP: the SFU listens on a TCP port
//! too, offers it as a passive candidate, and each browser connection carries RFC 4571
//! frames — a two-byte big-endian length, then one STUN, DTLS or SRTP packet.
//!
//! Every connection becomes [`TcpEvent`]s for the driver, which owns the WebRTC state;
//! what the SFU sends back goes through a bounded queue per connection, and a full
//! queue drops the packet, as a congested UDP path would.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Connections at once; more are refused until some close.
const MAX_CONNECTIONS: usize = 4096;
/// A connection that sends nothing for this long is closed (ICE consent checks come
/// every few seconds on a live one).
const IDLE: Duration = Duration::from_secs(30);
/// Packets waiting to be written to one connection.
const QUEUE: usize = 256;

pub enum TcpEvent {
    Opened(SocketAddr, mpsc::Sender<Vec<u8>>),
    Frame(SocketAddr, Vec<u8>),
    Closed(SocketAddr),
}

/// Accepts connections forever, reporting each one's frames on `events`.
pub async fn accept(listener: TcpListener, events: mpsc::Sender<TcpEvent>) {
    let open = Arc::new(AtomicUsize::new(0));
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            // Out of file descriptors, say: wait rather than spin.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        if open.load(Ordering::Relaxed) >= MAX_CONNECTIONS {
            tracing::warn!("ICE-TCP: too many connections; refusing one");
            continue;
        }
        open.fetch_add(1, Ordering::Relaxed);
        let (events, open) = (events.clone(), open.clone());
        tokio::spawn(async move {
            serve(stream, peer, &events).await;
            let _ = events.send(TcpEvent::Closed(peer)).await;
            open.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

async fn serve(stream: TcpStream, peer: SocketAddr, events: &mpsc::Sender<TcpEvent>) {
    let _ = stream.set_nodelay(true);
    let (mut reader, mut writer) = stream.into_split();
    let (outgoing, mut queue) = mpsc::channel::<Vec<u8>>(QUEUE);
    if events.send(TcpEvent::Opened(peer, outgoing)).await.is_err() {
        return;
    }
    let write = async {
        while let Some(packet) = queue.recv().await {
            let Ok(len) = u16::try_from(packet.len()) else {
                continue;
            };
            let mut frame = Vec::with_capacity(packet.len() + 2);
            frame.extend_from_slice(&len.to_be_bytes());
            frame.extend_from_slice(&packet);
            if writer.write_all(&frame).await.is_err() {
                return;
            }
        }
    };
    let read = async {
        loop {
            let Ok(Ok(len)) = tokio::time::timeout(IDLE, reader.read_u16()).await else {
                return;
            };
            let mut packet = vec![0u8; usize::from(len)];
            if reader.read_exact(&mut packet).await.is_err()
                || events.send(TcpEvent::Frame(peer, packet)).await.is_err()
            {
                return;
            }
        }
    };
    tokio::select! {
        () = write => {}
        () = read => {}
    }
}
