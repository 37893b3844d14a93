//! Login sessions: random tokens held in an HttpOnly cookie, stored only as hashes.
//!
//! The CSRF token is derived from the session token (a hash under a separate label), so
//! only someone who can read the session cookie — the browser itself — can present it,
//! and the server needs no extra state to check it.

use argon2::password_hash::rand_core::{OsRng, RngCore};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use cookie::{Cookie, SameSite};
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::db::{new_id, now_ms, Db};
use crate::error::{Error, ErrorCode, Result};

/// The cookie that carries the login session.
const SESSION_COOKIE: &str = "solace_session";
/// Its name over https: browsers keep a `__Host-` cookie only when this host set it, over
/// https, for the whole site, so no subdomain or plain-http page can plant one.
const SECURE_SESSION_COOKIE: &str = "__Host-solace_session";

/// The session cookie's name.
pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        SECURE_SESSION_COOKIE
    } else {
        SESSION_COOKIE
    }
}
/// The header that must carry the CSRF token on state-changing requests.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A fresh session secret, shown to the browser once and stored only as a hash.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn digest(label: &str, token: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(label.as_bytes());
    hasher.update(token.as_bytes());
    URL_SAFE_NO_PAD.encode(hasher.finalize())
}

/// What the database keeps for a token.
pub fn token_hash(token: &str) -> String {
    digest("solace-session:", token)
}

/// The CSRF token that goes with a session token.
pub fn csrf_token(token: &str) -> String {
    digest("solace-csrf:", token)
}

/// Stores a new login session for `user_id` and returns its raw token.
pub async fn create(db: &Db, user_id: &str, ttl: std::time::Duration) -> Result<String> {
    let token = new_token();
    let now = now_ms();
    let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
    // A banned account gets no session, however it signs in.
    let done = sqlx::query(
        "INSERT INTO tokens (id, user_id, kind, token_hash, expires_at, last_used_at, created_at, updated_at) \
         SELECT $1, id, 'login', $3, $4, $5, $5, $5 FROM users WHERE id = $2 AND banned_at IS NULL",
    )
    .bind(new_id())
    .bind(user_id.to_owned())
    .bind(token_hash(&token))
    .bind(now.saturating_add(ttl_ms))
    .bind(now)
    .execute(db.pool())
    .await?;
    if done.rows_affected() == 0 {
        let banned = sqlx::query("SELECT 1 AS one FROM users WHERE id = $1")
            .bind(user_id.to_owned())
            .fetch_optional(db.pool())
            .await?
            .is_some();
        return Err(if banned {
            Error::forbidden(
                ErrorCode::AccountBanned,
                "This account has been suspended by an administrator.",
            )
        } else {
            Error::NotFound
        });
    }
    Ok(token)
}

/// The user a live session token belongs to. Each use at least an hour after the last
/// one slides the expiry forward, so active people stay signed in.
pub async fn user_for(db: &Db, token: &str, ttl: std::time::Duration) -> Result<Option<String>> {
    let now = now_ms();
    let row = sqlx::query(
        "SELECT id, user_id, last_used_at FROM tokens \
         WHERE token_hash = $1 AND kind = 'login' AND expires_at > $2",
    )
    .bind(token_hash(token))
    .bind(now)
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let id: String = row.try_get("id")?;
    let user_id: String = row.try_get("user_id")?;
    let last_used: Option<i64> = row.try_get("last_used_at")?;
    if last_used.is_none_or(|at| now - at > 3_600_000) {
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        sqlx::query(
            "UPDATE tokens SET last_used_at = $1, expires_at = $2, updated_at = $1 WHERE id = $3",
        )
        .bind(now)
        .bind(now.saturating_add(ttl_ms))
        .bind(id)
        .execute(db.pool())
        .await?;
    }
    Ok(Some(user_id))
}

/// Ends one session.
pub async fn revoke(db: &Db, token: &str) -> Result<()> {
    sqlx::query("DELETE FROM tokens WHERE token_hash = $1 AND kind = 'login'")
        .bind(token_hash(token))
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Ends every session of a user ("log out everywhere").
pub async fn revoke_all(db: &Db, user_id: &str) -> Result<u64> {
    let done = sqlx::query("DELETE FROM tokens WHERE user_id = $1 AND kind = 'login'")
        .bind(user_id.to_owned())
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected())
}

/// The `Set-Cookie` value that stores a session in the browser.
pub fn cookie(token: &str, secure: bool, ttl: std::time::Duration) -> String {
    Cookie::build((cookie_name(secure), token.to_owned()))
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(cookie::time::Duration::seconds(
            i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX),
        ))
        .build()
        .to_string()
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clearing_cookie(secure: bool) -> String {
    Cookie::build((cookie_name(secure), ""))
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(cookie::time::Duration::ZERO)
        .build()
        .to_string()
}

/// The session token in a request's `Cookie` header, if any.
pub fn token_from_cookies(header: &str, secure: bool) -> Option<String> {
    Cookie::split_parse(header)
        .filter_map(std::result::Result::ok)
        .find(|c| c.name() == cookie_name(secure) && !c.value().is_empty())
        .map(|c| c.value().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_url_safe() {
        let a = new_token();
        let b = new_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }

    #[test]
    fn the_csrf_token_differs_from_the_stored_hash() {
        let token = new_token();
        assert_ne!(csrf_token(&token), token_hash(&token));
        assert_eq!(csrf_token(&token), csrf_token(&token));
    }

    #[test]
    fn session_cookies_are_http_only_and_lax() {
        let cookie = cookie("abc", true, std::time::Duration::from_secs(60));
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        assert!(cookie.contains("Secure"), "{cookie}");
        assert!(cookie.contains("SameSite=Lax"), "{cookie}");
        assert!(cookie.contains("Max-Age=60"), "{cookie}");
        assert!(!super::cookie("abc", false, std::time::Duration::from_secs(1)).contains("Secure"));
    }

    #[test]
    fn the_session_token_is_found_among_other_cookies() {
        assert_eq!(
            token_from_cookies("theme=dark; solace_session=tok123; other=1", false).as_deref(),
            Some("tok123")
        );
        assert_eq!(
            token_from_cookies("solace_session=; theme=dark", false),
            None
        );
        assert_eq!(token_from_cookies("garbage", false), None);
        // Over https only the `__Host-` cookie counts.
        assert_eq!(token_from_cookies("solace_session=tok123", true), None);
        assert_eq!(
            token_from_cookies("__Host-solace_session=tok123", true).as_deref(),
            Some("tok123")
        );
    }
}
