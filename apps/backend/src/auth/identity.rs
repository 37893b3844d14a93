//! Who is asking: extractors for any identity, a registered account, or an admin.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, OptionalFromRequestParts};
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use subtle::ConstantTimeEq;

use super::sessions;
use crate::error::{Error, ErrorCode, Result};
use crate::state::AppState;
use crate::users::{self, User, UserKind};

/// Anyone with a live session: a guest or a registered user.
#[derive(Debug, Clone)]
pub struct Identity {
    pub user: User,
    /// The raw session token, needed to end this session or derive its CSRF token.
    pub token: String,
}

impl Identity {
    pub fn csrf_token(&self) -> String {
        sessions::csrf_token(&self.token)
    }
}

/// Where the session token came from: browsers use the cookie (and so need CSRF
/// protection); scripts and apps send `Authorization: Bearer …`.
fn token_from(parts: &Parts, secure: bool) -> Option<(String, bool)> {
    let from_cookie = parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|header| sessions::token_from_cookies(header, secure));
    if let Some(token) = from_cookie {
        return Some((token, true));
    }
    parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| (t.trim().to_owned(), false))
}

async fn resolve(parts: &Parts, state: &AppState) -> Result<Option<Identity>> {
    let Some((token, via_cookie)) = token_from(parts, state.config.secure_cookies()) else {
        return Ok(None);
    };
    let session_ended = || {
        Error::unauthorized(
            ErrorCode::SessionExpired,
            "Your session has ended. Please sign in again.",
        )
    };
    let user_id = sessions::user_for(&state.db, &token, state.config.session_ttl)
        .await?
        .ok_or_else(session_ended)?;
    let user = users::find(&state.db, &user_id)
        .await?
        .ok_or_else(session_ended)?;
    if via_cookie && !parts.method.is_safe() {
        let expected = sessions::csrf_token(&token);
        let given = parts
            .headers
            .get(sessions::CSRF_HEADER)
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        if !bool::from(given.ct_eq(expected.as_bytes())) {
            return Err(Error::forbidden(
                ErrorCode::CsrfTokenInvalid,
                "This request is missing its security token. Reload the page and try again.",
            ));
        }
    }
    Ok(Some(Identity { user, token }))
}

impl FromRequestParts<AppState> for Identity {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        resolve(parts, state).await?.ok_or_else(|| {
            Error::unauthorized(
                ErrorCode::NotSignedIn,
                "Please sign in or continue as a guest.",
            )
        })
    }
}

/// The caller's identity when there is a valid one. An ended session counts as none,
/// because signing in again must stay possible; a bad CSRF token still fails.
impl OptionalFromRequestParts<AppState> for Identity {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Option<Self>> {
        match resolve(parts, state).await {
            Ok(identity) => Ok(identity),
            Err(Error::Unauthorized { .. }) => Ok(None),
            Err(other) => Err(other),
        }
    }
}

/// A signed-in account (not a guest).
#[derive(Debug, Clone)]
pub struct RegisteredUser(pub Identity);

impl FromRequestParts<AppState> for RegisteredUser {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let identity =
            <Identity as FromRequestParts<AppState>>::from_request_parts(parts, state).await?;
        if identity.user.kind != UserKind::Registered {
            return Err(Error::forbidden(
                ErrorCode::AccountRequired,
                "Create an account to use this. Your guest conversations will come with you.",
            ));
        }
        Ok(Self(identity))
    }
}

/// An administrator.
#[derive(Debug, Clone)]
pub struct Admin(pub Identity);

impl FromRequestParts<AppState> for Admin {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let RegisteredUser(identity) = RegisteredUser::from_request_parts(parts, state).await?;
        if identity.user.role != crate::users::Role::Admin {
            return Err(Error::forbidden(
                ErrorCode::AdminOnly,
                "Only administrators can do this.",
            ));
        }
        Ok(Self(identity))
    }
}

/// The client's address, for throttling: the header a platform's proxy sets
/// (`CLIENT_IP_HEADER`, e.g. `Fly-Client-IP`); behind a reverse proxy that appends to
/// `X-Forwarded-For` (`TRUST_FORWARDED_FOR`), the last hop; otherwise the TCP peer.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        if let Some(header) = &state.config.client_ip_header {
            let named = parts
                .headers
                .get(header)
                .and_then(|v| v.to_str().ok())
                .and_then(|ip| ip.trim().parse().ok());
            if let Some(ip) = named {
                return Ok(Self(ip));
            }
        }
        if state.config.trust_forwarded_for {
            let forwarded = parts
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .and_then(|ip| ip.trim().parse().ok());
            if let Some(ip) = forwarded {
                return Ok(Self(ip));
            }
        }
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
            .unwrap_or(IpAddr::from([0, 0, 0, 0]));
        Ok(Self(peer))
    }
}
