//! The ICE servers a browser is handed with each signalling token: STUN, and TURN with
//! credentials minted for this join when `TURN_SECRET` is set (the TURN REST API scheme
//! coturn checks with `use-auth-secret`, without any database).

use base64::Engine;
use hmac::{Hmac, Mac};
use secrecy::ExposeSecret;
use serde::Serialize;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::config::{Ice, TurnAuth};

/// One entry of `RTCPeerConnection`'s `iceServers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub credential: Option<String>,
}

/// `RTCPeerConnection`'s `iceTransportPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum IcePolicy {
    All,
    Relay,
}

/// The servers for `user_id` joining at `now` (Unix seconds).
pub fn servers_for(ice: &Ice, user_id: &str, now: u64) -> Vec<IceServer> {
    let mut servers = Vec::with_capacity(2);
    if !ice.stun.is_empty() {
        servers.push(IceServer {
            urls: ice.stun.clone(),
            username: None,
            credential: None,
        });
    }
    if let Some(turn) = &ice.turn {
        let (username, credential) = match &turn.auth {
            TurnAuth::Static {
                username,
                credential,
            } => (username.clone(), credential.expose_secret().to_owned()),
            TurnAuth::Rest { secret, ttl } => {
                rest_credential(secret.expose_secret(), now + ttl.as_secs(), user_id)
            }
        };
        servers.push(IceServer {
            urls: turn.urls.clone(),
            username: Some(username),
            credential: Some(credential),
        });
    }
    servers
}

pub fn policy(ice: &Ice) -> IcePolicy {
    if ice.relay_only {
        IcePolicy::Relay
    } else {
        IcePolicy::All
    }
}

/// A TURN REST API credential valid until `expiry`: the username is `<expiry>:<tag>`,
/// where the tag is a digest of the user id (the TURN server's logs and quotas see a
/// stable tag, never the account), and the password is base64(HMAC-SHA1(secret, username)).
pub fn rest_credential(secret: &str, expiry: u64, user_id: &str) -> (String, String) {
    let digest = Sha256::digest(user_id.as_bytes());
    let tag: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    let username = format!("{expiry}:{tag}");
    // HMAC takes a key of any length; this cannot fail.
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(username.as_bytes());
    let credential = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    (username, credential)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_credentials_follow_the_turn_rest_api_scheme() {
        // The expected values come from an independent implementation:
        // `echo -n user-1 | sha256sum` and `echo -n 1700000000:c6c289e49e9c05b2 |
        // openssl dgst -sha1 -hmac north-star -binary | base64`.
        let (username, credential) = rest_credential("north-star", 1_700_000_000, "user-1");
        assert_eq!(username, "1700000000:c6c289e49e9c05b2");
        assert_eq!(credential, "qX0iQKerp6CLNHIHAbRV/nSjMsg=");
        // Same user and expiry, same credential; another user, another one.
        assert_eq!(
            rest_credential("north-star", 1_700_000_000, "user-1"),
            (username.clone(), credential.clone())
        );
        assert_ne!(
            rest_credential("north-star", 1_700_000_000, "user-2").0,
            username
        );
    }
}
