//! Accounts, guests and login sessions.
//!
//! Everyone who uses Solace has an identity: a guest with a pseudonym, or a registered
//! account. Signing up as a guest upgrades the guest in place; logging in as a guest
//! moves the guest's conversations and room history into the account.

pub mod credentials;
pub mod identity;
pub mod oidc;
pub mod pseudonym;
pub mod sessions;
pub mod throttle;

use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use credentials::{Email, Password};
pub use identity::{Admin, ClientIp, Identity, RegisteredUser};

use crate::error::{Error, ErrorCode, Result};
use crate::extract::ApiJson;
use crate::limits::Limit;
use crate::openapi::{Conflicting, JsonBody, Limited, SignedIn, Unauthenticated, Unavailable};
use crate::state::AppState;
use crate::users::{self, NewUser, User, UserKind};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(guest))
        .routes(routes!(signup))
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(logout_all))
        .routes(routes!(me))
        .routes(routes!(providers))
        .routes(routes!(oidc::start))
        .routes(routes!(oidc::callback))
}

/// The ways to sign in this deployment offers.
#[derive(Debug, Serialize, ToSchema)]
struct Providers {
    /// Email and password.
    password: bool,
    /// Continuing anonymously under a pseudonym.
    guest: bool,
    /// Single sign-on, when an identity provider is configured.
    #[schema(required = true)]
    oidc: Option<OidcProviderInfo>,
}

#[derive(Debug, Serialize, ToSchema)]
struct OidcProviderInfo {
    /// The provider's name, for the button.
    name: String,
    /// Where the browser goes to start signing in.
    login_url: String,
}

/// Which ways to sign in this deployment offers.
#[utoipa::path(get, path = "/auth/providers", tag = "auth",
    responses((status = 200, description = "The sign-in methods.", body = Providers)))]
async fn providers(State(state): State<AppState>) -> Json<Providers> {
    let oidc = state.config.oidc.as_ref().map(|oidc| OidcProviderInfo {
        name: oidc.display_name.clone(),
        login_url: "/api/auth/oidc/login".into(),
    });
    Json(Providers {
        password: true,
        guest: true,
        oidc,
    })
}

/// Refuses state-changing API requests sent by another site's page. Browsers mark them
/// (`Sec-Fetch-Site`, `Origin`); this stops login CSRF and is a second line behind the
/// CSRF token for signed-in requests. A page is this site when its origin is the host the
/// request came to, or `PUBLIC_URL`'s origin (the web app served elsewhere — a CDN
/// rewriting `/api` here — sends that origin with this server's `Host`).
pub async fn same_origin_only(
    State(public_origin): State<std::sync::Arc<str>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let headers = request.headers();
    let unsafe_method = !request.method().is_safe();
    let is_api = request.uri().path().starts_with("/api/");
    let cross_site = headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes() == b"cross-site");
    // HTTP/2 names the host in the request line, not a header.
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| request.uri().authority().map(|a| a.as_str()));
    // An origin that is not this host — including `null` (sandboxed frames, `data:`
    // pages, some redirects) and anything unreadable — is another site.
    let foreign_origin = headers
        .get(axum::http::header::ORIGIN)
        .is_some_and(|origin| {
            let origin = origin
                .to_str()
                .ok()
                .and_then(|origin| url::Url::parse(origin).ok())
                .filter(|origin| matches!(origin.scheme(), "http" | "https"));
            match (origin, host) {
                (Some(origin), _) if origin.origin().ascii_serialization() == *public_origin => {
                    false
                }
                (Some(origin), Some(host)) => {
                    let origin_host = match origin.port() {
                        Some(port) => format!("{}:{port}", origin.host_str().unwrap_or_default()),
                        None => origin.host_str().unwrap_or_default().to_owned(),
                    };
                    !origin_host.eq_ignore_ascii_case(host)
                }
                (Some(_), None) => false,
                (None, _) => true,
            }
        });
    if unsafe_method && is_api && (cross_site || foreign_origin) {
        return Error::forbidden(
            ErrorCode::CrossOriginRequest,
            "Requests from other sites are not accepted.",
        )
        .into_response();
    }
    next.run(request).await
}

/// What the web app learns about the signed-in person: their own details and the
/// CSRF token to send with state-changing requests.
#[derive(Debug, Serialize, ToSchema)]
pub struct Session {
    pub user: User,
    /// Sent back as `X-CSRF-Token` with state-changing requests that use the cookie.
    pub csrf_token: String,
}

/// Adds the cookie that stores `token` in the browser.
pub(crate) fn set_session_cookie(state: &AppState, response: &mut Response, token: &str) {
    let cookie = sessions::cookie(
        token,
        state.config.secure_cookies(),
        state.config.session_ttl,
    );
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(SET_COOKIE, value);
    }
}

/// Adds the header that removes the session cookie.
pub(crate) fn clear_session_cookie(state: &AppState, response: &mut Response) {
    if let Ok(value) =
        HeaderValue::from_str(&sessions::clearing_cookie(state.config.secure_cookies()))
    {
        response.headers_mut().insert(SET_COOKIE, value);
    }
}

/// A JSON response that also sets the session cookie.
fn with_session(state: &AppState, status: StatusCode, user: User, token: &str) -> Response {
    let body = Session {
        user,
        csrf_token: sessions::csrf_token(token),
    };
    let mut response = (status, Json(body)).into_response();
    set_session_cookie(state, &mut response, token);
    response
}

fn clear_session(state: &AppState) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    clear_session_cookie(state, &mut response);
    response
}

/// Admins named in configuration get the role when they sign in with an address an
/// identity provider proved. A typed address proves nothing: whoever signed up first with
/// a listed address would otherwise be an administrator (`solace admin grant` is the other
/// way in).
async fn apply_configured_role(state: &AppState, mut user: User) -> Result<User> {
    let listed = user.email_verified
        && user
            .email
            .as_deref()
            .is_some_and(|email| state.config.admin_emails.iter().any(|a| a == email));
    if listed && user.role != users::Role::Admin {
        users::set_role(&state.db, &user.id, users::Role::Admin).await?;
        user.role = users::Role::Admin;
    }
    Ok(user)
}

/// An anonymous identity with a fresh pseudonym. Calling it with a live session returns
/// that session instead of making another guest.
#[utoipa::path(post, path = "/auth/guest", tag = "auth",
    responses(
        (status = 200, description = "The caller's existing session.", body = Session),
        (status = 201, description = "A new guest, signed in (sets the session cookie).", body = Session),
        Limited,
    ))]
async fn guest(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    current: Option<Identity>,
) -> Result<Response> {
    if let Some(identity) = current {
        return Ok(with_session(
            &state,
            StatusCode::OK,
            identity.user,
            &identity.token,
        ));
    }
    Limit::per_hour("guest", state.config.limits.guests_per_hour)
        .hit(state.cache.as_ref(), &ip.to_string())
        .await?;
    let pseudonym = pseudonym::unique(&state.db).await?;
    let user = users::create(
        &state.db,
        NewUser {
            kind: UserKind::Guest,
            email: None,
            email_verified: false,
            password_hash: None,
            display_name: None,
            pseudonym: &pseudonym,
        },
    )
    .await?;
    let token = sessions::create(&state.db, &user.id, state.config.session_ttl).await?;
    tracing::info!(user_id = %user.id, "guest identity created");
    Ok(with_session(&state, StatusCode::CREATED, user, &token))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SignupInput {
    email: String,
    /// At least 10 characters, not the email, not a common password.
    password: String,
    /// A name to show instead of the pseudonym; at most 60 characters.
    display_name: Option<String>,
}

/// A name a person chose to show, trimmed and bounded; blank means none.
pub fn parse_display_name(raw: Option<&str>) -> Result<Option<String>> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let name = crate::text::visible("display name", raw, false)?;
    if name.is_empty() {
        return Ok(None);
    }
    if name.chars().count() > 60 {
        return Err(Error::validation(
            ErrorCode::InvalidDisplayName,
            "A display name can be at most 60 characters.",
        ));
    }
    Ok(Some(name))
}

/// Creates an account. A guest who signs up keeps everything: the guest becomes the
/// account. The session is replaced so a token issued before sign-up stops working.
#[utoipa::path(post, path = "/auth/signup", tag = "auth", request_body = SignupInput,
    responses(
        (status = 201, description = "The new account, signed in.", body = Session),
        Conflicting, JsonBody, Limited,
    ))]
async fn signup(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    current: Option<Identity>,
    ApiJson(input): ApiJson<SignupInput>,
) -> Result<Response> {
    let email = Email::parse(&input.email)?;
    let password = Password::parse_new(&input.password, Some(&email))?;
    let display_name = parse_display_name(input.display_name.as_deref())?;
    Limit::per_hour("signup", state.config.limits.signups_per_hour)
        .hit(state.cache.as_ref(), &ip.to_string())
        .await?;
    if users::find_by_email(&state.db, email.as_str())
        .await?
        .is_some()
    {
        return Err(Error::Conflict {
            code: ErrorCode::EmailTaken,
            message: "An account with this email already exists. Log in instead.".into(),
        });
    }
    let hash = password.hash().await?;
    let user = match current {
        Some(identity) if identity.user.kind == UserKind::Guest => {
            let user = users::upgrade_guest(
                &state.db,
                &identity.user.id,
                email.as_str(),
                &hash,
                display_name.as_deref(),
            )
            .await?;
            sessions::revoke(&state.db, &identity.token).await?;
            user
        }
        _ => {
            let pseudonym = pseudonym::unique(&state.db).await?;
            users::create(
                &state.db,
                NewUser {
                    kind: UserKind::Registered,
                    email: Some(email.as_str()),
                    email_verified: false,
                    password_hash: Some(&hash),
                    display_name: display_name.as_deref(),
                    pseudonym: &pseudonym,
                },
            )
            .await?
        }
    };
    let user = apply_configured_role(&state, user).await?;
    let token = sessions::create(&state.db, &user.id, state.config.session_ttl).await?;
    tracing::info!(user_id = %user.id, "account created");
    Ok(with_session(&state, StatusCode::CREATED, user, &token))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct LoginInput {
    email: String,
    password: String,
}

/// Signs in. Every failure says the same thing, whether the email is unknown or the
/// password wrong, and failures are throttled per account and address. A guest's
/// conversations move into the account.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginInput,
    responses(
        (status = 200, description = "Signed in.", body = Session),
        Unauthenticated, JsonBody, Limited, Unavailable,
    ))]
async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    current: Option<Identity>,
    ApiJson(input): ApiJson<LoginInput>,
) -> Result<Response> {
    let wrong = || {
        Error::unauthorized(
            ErrorCode::InvalidCredentials,
            "The email or password is wrong.",
        )
    };
    let email = Email::parse(&input.email).map_err(|_| wrong())?;
    let keys = throttle::Keys::for_login(email.as_str(), ip);
    throttle::check(state.cache.as_ref(), &keys).await?;
    let password = Password::parse_attempt(&input.password)?;
    let account = users::find_by_email(&state.db, email.as_str()).await?;
    let stored_hash = account.as_ref().and_then(|u| u.password_hash.clone());
    if !password.verify(stored_hash).await? {
        throttle::record_failure(state.cache.as_ref(), &keys).await?;
        tracing::info!("login failed");
        return Err(wrong());
    }
    let account = account.ok_or_else(wrong)?;
    throttle::clear(state.cache.as_ref(), &keys).await?;
    if let Some(identity) = current {
        if identity.user.kind == UserKind::Guest && identity.user.id != account.id {
            users::merge_guest_into(&state.db, &identity.user.id, &account.id).await?;
        } else {
            sessions::revoke(&state.db, &identity.token).await?;
        }
    }
    let account = apply_configured_role(&state, account).await?;
    let token = sessions::create(&state.db, &account.id, state.config.session_ttl).await?;
    tracing::info!(user_id = %account.id, "logged in");
    Ok(with_session(&state, StatusCode::OK, account, &token))
}

/// Ends this session.
#[utoipa::path(post, path = "/auth/logout", tag = "auth",
    security(("session_cookie" = []), ("bearer" = [])),
    responses((status = 204, description = "Signed out; the cookie is cleared."), SignedIn))]
async fn logout(State(state): State<AppState>, identity: Identity) -> Result<Response> {
    sessions::revoke(&state.db, &identity.token).await?;
    Ok(clear_session(&state))
}

/// Ends every session of this identity, on every device.
#[utoipa::path(post, path = "/auth/logout-all", tag = "auth",
    security(("session_cookie" = []), ("bearer" = [])),
    responses((status = 204, description = "Every session ended."), SignedIn))]
async fn logout_all(State(state): State<AppState>, identity: Identity) -> Result<Response> {
    let ended = sessions::revoke_all(&state.db, &identity.user.id).await?;
    tracing::info!(user_id = %identity.user.id, ended, "logged out everywhere");
    Ok(clear_session(&state))
}

/// The signed-in person and the CSRF token for their requests.
#[utoipa::path(get, path = "/auth/me", tag = "auth",
    security(("session_cookie" = []), ("bearer" = [])),
    responses((status = 200, description = "The caller.", body = Session), SignedIn))]
async fn me(identity: Identity) -> Json<Session> {
    let csrf_token = identity.csrf_token();
    Json(Session {
        user: identity.user,
        csrf_token,
    })
}
