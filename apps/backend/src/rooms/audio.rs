//! Where a room's audio runs — the embedded SFU or LiveKit — behind one interface, so
//! moderation is enforced on the audio itself whichever it is, not only in the app.

use std::collections::HashSet;
use std::sync::Arc;

use super::livekit::LiveKit;
use super::sfu::Sfu;
use crate::error::Result;

#[derive(Clone)]
pub enum Audio {
    /// The SFU inside this process: it drops the packets of anyone who may not speak.
    Embedded(Sfu),
    /// LiveKit: moderation goes through its RoomService.
    LiveKit(Arc<LiveKit>),
}

impl Audio {
    pub fn livekit(&self) -> Option<&LiveKit> {
        match self {
            Self::LiveKit(livekit) => Some(livekit),
            Self::Embedded(_) => None,
        }
    }

    pub fn sfu(&self) -> Option<&Sfu> {
        match self {
            Self::Embedded(sfu) => Some(sfu),
            Self::LiveKit(_) => None,
        }
    }

    /// A moderator muted them (or they muted themselves).
    pub async fn mute(&self, room: &str, handle: &str) -> Result<()> {
        match self {
            Self::Embedded(sfu) => sfu.set_may_publish(room, handle, false),
            Self::LiveKit(livekit) => livekit.mute(room, handle).await?,
        }
        Ok(())
    }

    /// They unmuted themselves; on LiveKit the browser republishes by itself.
    pub fn unmute(&self, room: &str, handle: &str, can_speak: bool) {
        if let Self::Embedded(sfu) = self {
            sfu.set_may_publish(room, handle, can_speak);
        }
    }

    /// Their role changed: speakers (unmuted) may publish, listeners may not.
    pub async fn role(&self, room: &str, handle: &str, can_speak: bool, muted: bool) -> Result<()> {
        match self {
            Self::Embedded(sfu) => sfu.set_may_publish(room, handle, can_speak && !muted),
            Self::LiveKit(livekit) => livekit.set_can_publish(room, handle, can_speak).await?,
        }
        Ok(())
    }

    /// Ends one person's audio (`Some`), or the whole room's.
    pub async fn disconnect(&self, room: &str, handle: Option<&str>) -> Result<()> {
        match (self, handle) {
            (Self::Embedded(sfu), _) => sfu.disconnect(room, handle),
            (Self::LiveKit(livekit), Some(handle)) => livekit.remove(room, handle).await?,
            (Self::LiveKit(livekit), None) => livekit.close(room).await?,
        }
        Ok(())
    }

    /// Whom this person does not want to hear. LiveKit leaves that to the browser, which
    /// does not subscribe to them.
    pub fn blocked(&self, room: &str, handle: &str, blocked: HashSet<String>) {
        if let Self::Embedded(sfu) = self {
            sfu.set_blocked(room, handle, blocked);
        }
    }
}
