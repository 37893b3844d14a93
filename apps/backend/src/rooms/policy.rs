//! Who may do what in a room. Pure functions, so the rules are tested on their own.

use serde::Serialize;

use crate::error::{Error, ErrorCode, Result};

/// A participant's part in a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoomRole {
    /// Created the room; there is one, and nobody can moderate them.
    Host,
    Moderator,
    Speaker,
    Listener,
}

impl TryFrom<String> for RoomRole {
    type Error = String;

    /// A role as stored; anything else is a damaged row.
    fn try_from(raw: String) -> Result<Self, String> {
        Self::parse(&raw).ok_or_else(|| format!("no room role '{raw}'"))
    }
}

impl RoomRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Host => "host",
            Self::Moderator => "moderator",
            Self::Speaker => "speaker",
            Self::Listener => "listener",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "host" => Some(Self::Host),
            "moderator" => Some(Self::Moderator),
            "speaker" => Some(Self::Speaker),
            "listener" => Some(Self::Listener),
            _ => None,
        }
    }

    /// May publish audio.
    pub fn can_speak(self) -> bool {
        !matches!(self, Self::Listener)
    }

    /// May mute, remove, invite and move people (within [`may_moderate`]).
    pub fn is_moderator(self) -> bool {
        matches!(self, Self::Host | Self::Moderator)
    }
}

/// Whether `actor` may mute, remove or move `subject`. The host is beyond moderation;
/// moderators do not moderate each other; nobody moderates themselves this way.
pub fn may_moderate(actor: RoomRole, subject: RoomRole) -> bool {
    match (actor, subject) {
        (_, RoomRole::Host) => false,
        (RoomRole::Host, _) => true,
        (RoomRole::Moderator, RoomRole::Moderator) => false,
        (RoomRole::Moderator, _) => true,
        _ => false,
    }
}

/// The error for an action the caller's role does not allow.
pub fn not_allowed(what: &str) -> Error {
    Error::forbidden(
        ErrorCode::NotAllowed,
        format!("Only the host or a moderator can {what}."),
    )
}

/// Checks `may_moderate`, with a clear error.
pub fn require_moderation(actor: RoomRole, subject: RoomRole, what: &str) -> Result<()> {
    if !actor.is_moderator() {
        return Err(not_allowed(what));
    }
    if !may_moderate(actor, subject) {
        return Err(Error::forbidden(
            ErrorCode::NotAllowed,
            "The host, and moderators other than the host, cannot be moderated by you.",
        ));
    }
    Ok(())
}

/// The role a moderator may give: moderator only by the host; never host.
pub fn may_assign(actor: RoomRole, subject: RoomRole, role: RoomRole) -> bool {
    may_moderate(actor, subject)
        && match role {
            RoomRole::Host => false,
            RoomRole::Moderator => actor == RoomRole::Host,
            RoomRole::Speaker | RoomRole::Listener => true,
        }
}

#[cfg(test)]
mod tests {
    use super::RoomRole::*;
    use super::*;

    #[test]
    fn the_host_moderates_everyone_but_is_moderated_by_nobody() {
        for subject in [Moderator, Speaker, Listener] {
            assert!(may_moderate(Host, subject));
        }
        for actor in [Host, Moderator, Speaker, Listener] {
            assert!(!may_moderate(actor, Host));
        }
    }

    #[test]
    fn moderators_moderate_speakers_and_listeners_but_not_each_other() {
        assert!(may_moderate(Moderator, Speaker));
        assert!(may_moderate(Moderator, Listener));
        assert!(!may_moderate(Moderator, Moderator));
        assert!(!may_moderate(Speaker, Listener));
        assert!(!may_moderate(Listener, Speaker));
    }

    #[test]
    fn only_the_host_makes_moderators_and_nobody_makes_hosts() {
        assert!(may_assign(Host, Listener, Moderator));
        assert!(!may_assign(Moderator, Listener, Moderator));
        assert!(may_assign(Moderator, Speaker, Listener));
        assert!(!may_assign(Host, Listener, Host));
    }

    #[test]
    fn roles_round_trip_and_only_listeners_are_silent() {
        for role in [Host, Moderator, Speaker, Listener] {
            assert_eq!(RoomRole::parse(role.as_str()), Some(role));
        }
        assert!(!Listener.can_speak() && Speaker.can_speak() && Host.can_speak());
    }
}
