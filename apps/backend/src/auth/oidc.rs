//! Sign-in through an external OpenID Connect provider (Keycloak, Auth0, Clerk, Google…):
//! the authorization-code flow with PKCE, a nonce, and a state value bound to the browser.
//!
//! A provider account is linked to a Solace user by (issuer, subject). The first time, it
//! joins an existing account only when the provider says the email is verified; otherwise
//! a new account is made, so nobody can take over an account with an unverified address.

use std::time::Duration;

use axum::extract::State;
use axum::http::header::{COOKIE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use cookie::{Cookie, SameSite};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use tokio::sync::OnceCell;

use super::{apply_configured_role, pseudonym, sessions, Identity};
use crate::config::Oidc;
use crate::db::{new_id, now_ms};
use crate::error::{Error, ErrorCode, Result};
use crate::extract::ApiQuery;
use crate::state::AppState;
use crate::users::{self, NewUser, User, UserKind};

/// How long a person has to finish signing in at the provider.
const FLOW_TTL: Duration = Duration::from_secs(600);
const STATE_COOKIE: &str = "solace_oidc_state";

/// The provider's metadata, fetched on first use and kept; a failed fetch is retried on
/// the next sign-in instead of stopping the server.
#[derive(Default)]
pub struct OidcProvider {
    metadata: OnceCell<CoreProviderMetadata>,
}

fn http_client() -> Result<openidconnect::reqwest::Client> {
    openidconnect::reqwest::ClientBuilder::new()
        // The provider's endpoints must not redirect us elsewhere (SSRF).
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| Error::Startup(format!("cannot build the OIDC HTTP client: {e}")))
}

/// Why the flow stopped, as a code the login page explains.
#[derive(Debug, Clone, Copy)]
enum Failure {
    Unavailable,
    State,
    Denied,
    Invalid,
}

impl Failure {
    fn code(self) -> &'static str {
        match self {
            Self::Unavailable => "oidc_unavailable",
            Self::State => "oidc_expired",
            Self::Denied => "oidc_denied",
            Self::Invalid => "oidc_failed",
        }
    }
}

impl OidcProvider {
    async fn client(
        &self,
        oidc: &Oidc,
        redirect: &str,
    ) -> Result<
        CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        Failure,
    > {
        let metadata = self
            .metadata
            .get_or_try_init(|| async {
                let issuer =
                    IssuerUrl::new(oidc.issuer_url.as_str().trim_end_matches('/').to_owned())
                        .map_err(|_| Failure::Unavailable)?;
                let http = http_client().map_err(|_| Failure::Unavailable)?;
                CoreProviderMetadata::discover_async(issuer, &http)
                    .await
                    .map_err(|e| {
                        tracing::warn!(error = %e, "OIDC discovery failed");
                        Failure::Unavailable
                    })
            })
            .await?;
        let redirect = RedirectUrl::new(redirect.to_owned()).map_err(|_| Failure::Invalid)?;
        Ok(CoreClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(oidc.client_id.clone()),
            Some(ClientSecret::new(
                oidc.client_secret.expose_secret().to_owned(),
            )),
        )
        .set_redirect_uri(redirect))
    }
}

fn callback_url(state: &AppState) -> String {
    format!(
        "{}/api/auth/oidc/callback",
        state.config.public_url.as_str().trim_end_matches('/')
    )
}

fn redirect_to(location: &str, cookies: &[String]) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(LOCATION, value);
    }
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(cookie) {
            response.headers_mut().append(SET_COOKIE, value);
        }
    }
    response
}

fn state_cookie(value: &str, secure: bool, max_age: Duration) -> String {
    Cookie::build((STATE_COOKIE, value.to_owned()))
        .path("/api/auth/oidc")
        .http_only(true)
        .secure(secure)
        // The provider sends the browser back with a top-level GET, which Lax allows.
        .same_site(SameSite::Lax)
        .max_age(cookie::time::Duration::seconds(
            i64::try_from(max_age.as_secs()).unwrap_or(0),
        ))
        .build()
        .to_string()
}

fn failed(state: &AppState, failure: Failure) -> Response {
    let secure = state.config.secure_cookies();
    redirect_to(
        &format!("/login/?error={}", failure.code()),
        &[state_cookie("", secure, Duration::ZERO)],
    )
}

#[derive(Debug, Serialize, Deserialize)]
struct Flow {
    pkce_verifier: String,
    nonce: String,
    next: String,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct StartQuery {
    /// A path on this site to return to after signing in.
    next: Option<String>,
}

/// A same-site path to return to; anything else goes home. The path is resolved the way a
/// browser would (which ignores tabs and line breaks and reads `\\` as `/`), so anything
/// that could leave the site — `//host`, `/\\host`, `/\t/host` — is refused outright.
fn safe_next(next: Option<&str>) -> String {
    const HOME: &str = "/";
    let Some(path) = next else {
        return HOME.to_owned();
    };
    if !path.starts_with('/')
        || path
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
    {
        return HOME.to_owned();
    }
    let Ok(base) = url::Url::parse("http://solace.invalid/") else {
        return HOME.to_owned();
    };
    match base.join(path) {
        Ok(url) if url.origin() == base.origin() => url[url::Position::BeforePath..].to_owned(),
        _ => HOME.to_owned(),
    }
}

/// Sends the browser to the identity provider to sign in (404 when single sign-on is
/// not configured).
#[utoipa::path(get, path = "/auth/oidc/login", tag = "auth", params(StartQuery),
    responses(
        (status = 303, description = "To the provider; or back to the app's sign-in page with `?error=` when the provider cannot be reached.",
            headers(("Location" = String, description = "Where to go next."))),
        crate::openapi::Missing, crate::openapi::QueryString,
    ))]
pub(super) async fn start(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<StartQuery>,
) -> Result<Response> {
    let Some(oidc) = state.config.oidc.clone() else {
        return Err(Error::NotFound);
    };
    let client = match state.oidc.client(&oidc, &callback_url(&state)).await {
        Ok(client) => client,
        Err(failure) => return Ok(failed(&state, failure)),
    };
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    let flow = Flow {
        pkce_verifier: verifier.secret().clone(),
        nonce: nonce.secret().clone(),
        next: safe_next(query.next.as_deref()),
    };
    let bytes = serde_json::to_vec(&flow).map_err(|e| Error::Startup(e.to_string()))?;
    state
        .cache
        .set(&format!("oidc-flow:{}", csrf.secret()), &bytes, FLOW_TTL)
        .await?;
    let secure = state.config.secure_cookies();
    Ok(redirect_to(
        url.as_str(),
        &[state_cookie(csrf.secret(), secure, FLOW_TTL)],
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

fn state_from_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(std::result::Result::ok)
        .find(|c| c.name() == STATE_COOKIE && !c.value().is_empty())
        .map(|c| c.value().to_owned())
}

/// What the provider vouched for.
struct ProviderAccount {
    issuer: String,
    subject: String,
    verified_email: Option<String>,
    name: Option<String>,
}

/// Where the provider sends the browser back: finishes the flow, signs the person in,
/// and returns to the page they started from (or to sign-in with `?error=`).
#[utoipa::path(get, path = "/auth/oidc/callback", tag = "auth", params(CallbackQuery),
    responses(
        (status = 303, description = "Back into the app, signed in, or to sign-in with `?error=`.",
            headers(("Location" = String, description = "Where to go next."))),
        crate::openapi::Missing, crate::openapi::QueryString,
    ))]
pub(super) async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    current: Option<Identity>,
    ApiQuery(query): ApiQuery<CallbackQuery>,
) -> Result<Response> {
    let Some(oidc) = state.config.oidc.clone() else {
        return Err(Error::NotFound);
    };
    if query.error.is_some() {
        return Ok(failed(&state, Failure::Denied));
    }
    let (Some(code), Some(returned_state)) = (query.code, query.state) else {
        return Ok(failed(&state, Failure::Invalid));
    };
    // The state must be the one this browser was given, or someone else's login could be
    // finished in this browser.
    if state_from_cookie(&headers).as_deref() != Some(returned_state.as_str()) {
        return Ok(failed(&state, Failure::State));
    }
    let key = format!("oidc-flow:{returned_state}");
    let Some(flow) = state
        .cache
        .get(&key)
        .await?
        .and_then(|bytes| serde_json::from_slice::<Flow>(&bytes).ok())
    else {
        return Ok(failed(&state, Failure::State));
    };
    state.cache.delete(&key).await?;

    let account = match exchange(&state, &oidc, code, flow.pkce_verifier, flow.nonce).await {
        Ok(account) => account,
        Err(failure) => return Ok(failed(&state, failure)),
    };
    let user = user_for(&state, &account).await?;
    if let Some(identity) = current {
        if identity.user.kind == UserKind::Guest && identity.user.id != user.id {
            users::merge_guest_into(&state.db, &identity.user.id, &user.id).await?;
        } else {
            sessions::revoke(&state.db, &identity.token).await?;
        }
    }
    let user = apply_configured_role(&state, user).await?;
    let token = sessions::create(&state.db, &user.id, state.config.session_ttl).await?;
    tracing::info!(user_id = %user.id, "signed in with OIDC");
    let secure = state.config.secure_cookies();
    Ok(redirect_to(
        &flow.next,
        &[
            sessions::cookie(&token, secure, state.config.session_ttl),
            state_cookie("", secure, Duration::ZERO),
        ],
    ))
}

async fn exchange(
    state: &AppState,
    oidc: &Oidc,
    code: String,
    verifier: String,
    nonce: String,
) -> Result<ProviderAccount, Failure> {
    let client = state.oidc.client(oidc, &callback_url(state)).await?;
    let http = http_client().map_err(|_| Failure::Unavailable)?;
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|_| Failure::Invalid)?
        .set_pkce_verifier(PkceCodeVerifier::new(verifier))
        .request_async(&http)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "OIDC code exchange failed");
            Failure::Invalid
        })?;
    let id_token = tokens.id_token().ok_or(Failure::Invalid)?;
    let claims = id_token
        .claims(&client.id_token_verifier(), &Nonce::new(nonce))
        .map_err(|e| {
            tracing::warn!(error = %e, "OIDC ID token rejected");
            Failure::Invalid
        })?;
    let mut email = claims.email().map(|e| e.as_str().to_owned());
    let mut email_verified = claims.email_verified();
    let mut name = claims
        .name()
        .and_then(|names| names.get(None))
        .map(|name| name.as_str().to_owned());
    // Many providers keep profile claims (or just `email_verified`) out of the ID token;
    // the UserInfo endpoint has them, checked against the same subject.
    if email.is_none() || email_verified.is_none() {
        if let Ok(request) = client.user_info(
            tokens.access_token().clone(),
            Some(claims.subject().clone()),
        ) {
            let info: openidconnect::core::CoreUserInfoClaims =
                request.request_async(&http).await.map_err(|e| {
                    tracing::warn!(error = %e, "OIDC UserInfo request failed");
                    Failure::Invalid
                })?;
            email = info.email().map(|e| e.as_str().to_owned());
            email_verified = info.email_verified();
            name = name.or_else(|| {
                info.name()
                    .and_then(|names| names.get(None))
                    .map(|name| name.as_str().to_owned())
            });
        }
    }
    let verified_email = match (email, email_verified) {
        (Some(email), Some(true)) => Some(email.to_lowercase()),
        _ => None,
    };
    Ok(ProviderAccount {
        issuer: claims.issuer().as_str().to_owned(),
        subject: claims.subject().as_str().to_owned(),
        verified_email,
        name,
    })
}

/// `user`, whose address the provider has just proven. If it had only been typed before,
/// its owner takes the account: a password someone may have set by typing the address
/// first stops working, with every session it opened.
async fn proven(state: &AppState, user: User) -> Result<User> {
    if user.email_verified {
        return Ok(user);
    }
    if users::prove_email(&state.db, &user.id).await? {
        sessions::revoke_all(&state.db, &user.id).await?;
        tracing::info!(user_id = %user.id, "a proven address took over an account; its earlier password was removed");
    }
    users::find(&state.db, &user.id)
        .await?
        .ok_or(Error::NotFound)
}

/// The Solace user for a provider account: already linked, linked now by verified email,
/// or new.
async fn user_for(state: &AppState, account: &ProviderAccount) -> Result<User> {
    let linked =
        sqlx::query("SELECT user_id FROM user_identities WHERE issuer = $1 AND subject = $2")
            .bind(account.issuer.clone())
            .bind(account.subject.clone())
            .fetch_optional(state.db.pool())
            .await?;
    if let Some(row) = linked {
        let user_id: String = row.try_get("user_id")?;
        if let Some(user) = users::find(&state.db, &user_id).await? {
            // Linked before addresses were recorded as proven: this sign-in proves it.
            return match &account.verified_email {
                Some(email) if user.email.as_ref() == Some(email) => proven(state, user).await,
                _ => Ok(user),
            };
        }
    }
    let existing = match &account.verified_email {
        Some(email) => users::find_by_email(&state.db, email).await?,
        None => None,
    };
    let user = match existing {
        Some(user) => proven(state, user).await?,
        None => {
            let pseudonym = pseudonym::unique(&state.db).await?;
            let display_name = super::parse_display_name(account.name.as_deref()).unwrap_or(None);
            users::create(
                &state.db,
                NewUser {
                    kind: UserKind::Registered,
                    email: account.verified_email.as_deref(),
                    email_verified: account.verified_email.is_some(),
                    password_hash: None,
                    display_name: display_name.as_deref(),
                    pseudonym: &pseudonym,
                },
            )
            .await?
        }
    };
    let now = now_ms();
    sqlx::query(
        "INSERT INTO user_identities (id, user_id, issuer, subject, email, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(new_id())
    .bind(user.id.clone())
    .bind(account.issuer.clone())
    .bind(account.subject.clone())
    .bind(account.verified_email.clone())
    .bind(now)
    .execute(state.db.pool())
    .await
    .map_err(|e| Error::conflict_on_unique(e, ErrorCode::IdentityLinked, "This sign-in is already linked."))?;
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_same_site_paths_are_returned_to() {
        assert_eq!(safe_next(Some("/account/")), "/account/");
        assert_eq!(safe_next(Some("/chat/?c=1#end")), "/chat/?c=1#end");
        assert_eq!(safe_next(Some("/a/../rooms/")), "/rooms/");
        for bad in [
            None,
            Some(""),
            Some("https://evil.example"),
            Some("//evil.example"),
            Some("/\\evil"),
            Some("/\t/evil.example"),
            Some("/\n/evil.example"),
            Some("/ /evil.example"),
            Some("\t//evil.example"),
            Some("/\u{3000}/evil.example"),
        ] {
            assert_eq!(safe_next(bad), "/");
        }
    }

    #[test]
    fn the_state_cookie_is_scoped_to_the_oidc_paths() {
        let cookie = state_cookie("abc", true, FLOW_TTL);
        assert!(cookie.contains("Path=/api/auth/oidc"), "{cookie}");
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("Secure"),
            "{cookie}"
        );
    }
}
