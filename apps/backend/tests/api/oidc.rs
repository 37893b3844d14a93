//! Sign-in through a real OpenID Connect provider: the `oidc-provider` package, started
//! on loopback by each test (tests/e2e/oidc/provider.mjs), driven like a browser would.

use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::helpers::{spawn_app_on, TestApp, GOOD_PASSWORD};

const CLIENT_ID: &str = "solace-test";
const CLIENT_SECRET: &str = "a-client-secret-long-enough-for-hs256-and-more";

struct Provider {
    issuer: String,
    _process: Child,
}

impl Provider {
    /// A form action, absolute or relative to the provider.
    fn url(&self, action: &str) -> url::Url {
        url::Url::parse(&self.issuer).unwrap().join(action).unwrap()
    }
}

async fn start_provider(redirect_uri: &str) -> Provider {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/e2e/oidc/provider.mjs"
    );
    let mut process = Command::new("node")
        .arg(script)
        .env("CLIENT_ID", CLIENT_ID)
        .env("CLIENT_SECRET", CLIENT_SECRET)
        .env("REDIRECT_URI", redirect_uri)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the OIDC tests need Node.js 20+ (`node`) on PATH");
    let stdout = process.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let ready = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("the OIDC provider did not start within 30 s")
        .expect("reading the provider's output")
        .unwrap_or_else(|| {
            panic!("the OIDC provider exited; run `pnpm install` so tests/e2e has oidc-provider")
        });
    let issuer = ready
        .strip_prefix("READY ")
        .unwrap_or_else(|| panic!("unexpected provider output: {ready}"))
        .to_owned();
    // Keep reading: the provider logs to stdout, and a closed pipe would make it crash.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Provider {
        issuer,
        _process: process,
    }
}

/// The app configured for the provider, plus the provider itself.
async fn app_with_provider(extra: &[(&str, &str)]) -> (TestApp, Provider) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let public = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let provider = start_provider(&format!("{public}/api/auth/oidc/callback")).await;
    let mut vars = vec![
        ("PUBLIC_URL", public.as_str()),
        ("OIDC_ISSUER_URL", provider.issuer.as_str()),
        ("OIDC_CLIENT_ID", CLIENT_ID),
        ("OIDC_CLIENT_SECRET", CLIENT_SECRET),
        ("OIDC_PROVIDER_NAME", "Test Provider"),
    ];
    vars.extend_from_slice(extra);
    (spawn_app_on(listener, &vars).await, provider)
}

/// The `action` and hidden fields of the first form in a page.
fn form(html: &str) -> (String, Vec<(String, String)>) {
    let attribute = |tag: &str, name: &str| {
        let needle = format!("{name}=\"");
        tag.find(&needle).map(|start| {
            let rest = &tag[start + needle.len()..];
            rest[..rest.find('"').unwrap_or(rest.len())].to_owned()
        })
    };
    let form_start = html.find("<form").expect("the page has a form");
    let form_tag = &html[form_start..form_start + html[form_start..].find('>').unwrap()];
    let action = attribute(form_tag, "action").expect("the form has an action");
    let hidden = html[form_start..]
        .split("<input")
        .skip(1)
        .map(|chunk| &chunk[..chunk.find('>').unwrap_or(chunk.len())])
        .filter(|tag| tag.contains("type=\"hidden\""))
        .filter_map(|tag| {
            Some((
                attribute(tag, "name")?,
                attribute(tag, "value").unwrap_or_default(),
            ))
        })
        .collect();
    (action, hidden)
}

/// Signs in at the provider as `login`, as a person would: the login form, then consent.
/// Returns the response after the provider sends the browser back to Solace.
async fn sign_in_at_provider(
    client: &reqwest::Client,
    app: &TestApp,
    provider: &Provider,
    login: &str,
    next: &str,
) -> reqwest::Response {
    let login_page = client
        .get(app.url(&format!("/api/auth/oidc/login?next={next}")))
        .send()
        .await
        .unwrap();
    assert!(
        login_page.url().as_str().starts_with(&provider.issuer),
        "{}",
        login_page.url()
    );
    let (action, mut fields) = form(&login_page.text().await.unwrap());
    fields.push(("login".into(), login.into()));
    fields.push(("password".into(), "anything".into()));
    let consent_page = client
        .post(provider.url(&action))
        .form(&fields)
        .send()
        .await
        .unwrap();
    let (action, fields) = form(&consent_page.text().await.unwrap());
    client
        .post(provider.url(&action))
        .form(&fields)
        .send()
        .await
        .unwrap()
}

fn browser_client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::limited(20))
        .build()
        .unwrap()
}

async fn me(client: &reqwest::Client, app: &TestApp) -> (reqwest::StatusCode, serde_json::Value) {
    let response = client.get(app.url("/api/auth/me")).send().await.unwrap();
    (response.status(), response.json().await.unwrap_or_default())
}

#[tokio::test]
async fn the_providers_endpoint_names_the_configured_provider() {
    let (app, _provider) = app_with_provider(&[]).await;

    let body: serde_json::Value = app.get("/api/auth/providers").await.json().await.unwrap();

    assert_eq!(body["oidc"]["name"], "Test Provider");
    assert_eq!(body["oidc"]["login_url"], "/api/auth/oidc/login");
}

#[tokio::test]
async fn signing_in_with_the_provider_creates_an_account_and_returns_to_next() {
    let (app, provider) = app_with_provider(&[]).await;
    let client = browser_client();

    let landed = sign_in_at_provider(&client, &app, &provider, "ada", "/about/").await;
    let (status, body) = me(&client, &app).await;

    assert_eq!(landed.url().path(), "/about/");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["kind"], "registered");
    assert_eq!(body["user"]["email"], "ada@example.org");
    assert_eq!(body["user"]["display_name"], "Ada Provider");
}

#[tokio::test]
async fn signing_in_again_reuses_the_linked_account() {
    let (app, provider) = app_with_provider(&[]).await;
    let first = browser_client();
    sign_in_at_provider(&first, &app, &provider, "ada", "/").await;
    let (_, first_me) = me(&first, &app).await;

    let second = browser_client();
    sign_in_at_provider(&second, &app, &provider, "ada", "/").await;
    let (_, second_me) = me(&second, &app).await;

    assert_eq!(first_me["user"]["id"], second_me["user"]["id"]);
}

#[tokio::test]
async fn a_verified_email_takes_over_the_account_that_only_typed_it() {
    // Someone may sign up with an address that is not theirs, to read what its owner
    // later writes: the owner's proof links the account and ends that password.
    let (app, provider) = app_with_provider(&[]).await;
    let mut typed_first = app.browser();
    let account = typed_first.signup("ada@example.org").await;
    let client = browser_client();

    sign_in_at_provider(&client, &app, &provider, "ada", "/").await;
    let (_, body) = me(&client, &app).await;
    let (password_login, _) = app.browser().login("ada@example.org", GOOD_PASSWORD).await;
    let (earlier_session, _) = typed_first.get("/api/auth/me").await;

    assert_eq!(body["user"]["id"], account["id"]);
    assert_eq!(body["user"]["email_verified"], true);
    assert_eq!(body["user"]["has_password"], false);
    assert_eq!(
        password_login, 401,
        "the password set before the proof no longer works"
    );
    assert_eq!(
        earlier_session, 401,
        "and the sessions it opened have ended"
    );
}

#[tokio::test]
async fn a_listed_admin_email_grants_the_role_once_the_provider_proves_it() {
    let (app, provider) =
        app_with_provider(&[("ADMIN_EMAILS", "ada@example.org,eve@example.org")]).await;
    let ada = browser_client();
    let eve = browser_client();

    sign_in_at_provider(&ada, &app, &provider, "ada", "/").await;
    sign_in_at_provider(&eve, &app, &provider, "eve-unverified", "/").await;
    let (_, proven) = me(&ada, &app).await;
    let (_, unproven) = me(&eve, &app).await;

    assert_eq!(proven["user"]["role"], "admin");
    assert_eq!(unproven["user"]["role"], "user");
}

#[tokio::test]
async fn an_unverified_email_never_takes_over_an_existing_account() {
    let (app, provider) = app_with_provider(&[]).await;
    let account = app.browser().signup("eve@example.org").await;
    let client = browser_client();

    sign_in_at_provider(&client, &app, &provider, "eve-unverified", "/").await;
    let (status, body) = me(&client, &app).await;

    assert_eq!(status, 200);
    assert_ne!(body["user"]["id"], account["id"]);
    assert!(
        body["user"]["email"].is_null(),
        "an unverified address is not stored"
    );
    let (login_status, _) = app.browser().login("eve@example.org", GOOD_PASSWORD).await;
    assert_eq!(login_status, 200, "the original account is untouched");
}

#[tokio::test]
async fn a_guest_who_signs_in_with_the_provider_keeps_their_conversations() {
    let (app, provider) = app_with_provider(&[]).await;
    let client = browser_client();
    let guest: serde_json::Value = client
        .post(app.url("/api/auth/guest"))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let guest_id = guest["user"]["id"].as_str().unwrap();
    let title = solace_backend::chat::SessionTitle::parse("From my guest days").unwrap();
    let session = solace_backend::chat::create_session(&app.state.db, guest_id, &title)
        .await
        .unwrap();

    sign_in_at_provider(&client, &app, &provider, "ada", "/").await;
    let (_, body) = me(&client, &app).await;

    let account_id = body["user"]["id"].as_str().unwrap();
    let moved = solace_backend::chat::get_session(&app.state.db, account_id, &session.id).await;
    assert_eq!(moved.unwrap().title, "From my guest days");
}

#[tokio::test]
async fn a_callback_with_a_forged_state_is_refused() {
    let (app, _provider) = app_with_provider(&[]).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let response = client
        .get(app.url("/api/auth/oidc/callback?code=stolen&state=forged"))
        .header("cookie", "solace_oidc_state=different")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/login/?error=oidc_expired");
    assert!(response
        .headers()
        .get_all("set-cookie")
        .iter()
        .all(|c| !c.to_str().unwrap().starts_with("solace_session=")));
}

#[tokio::test]
async fn without_oidc_configured_its_endpoints_are_404() {
    let app = crate::helpers::spawn_app().await;

    let login = app.get("/api/auth/oidc/login").await;
    let providers: serde_json::Value = app.get("/api/auth/providers").await.json().await.unwrap();

    assert_eq!(login.status(), 404);
    assert!(providers["oidc"].is_null());
}

#[tokio::test]
async fn an_account_from_the_provider_deletes_itself_by_typing_its_pseudonym() {
    let (app, provider) = app_with_provider(&[]).await;
    let client = browser_client();
    sign_in_at_provider(&client, &app, &provider, "ada", "/").await;
    let (_, session) = me(&client, &app).await;
    let csrf = session["csrf_token"].as_str().unwrap();
    let pseudonym = session["user"]["pseudonym"].as_str().unwrap();

    let without = client
        .delete(app.url("/api/me"))
        .header("x-csrf-token", csrf)
        .json(&json!({ "password": "there is none" }))
        .send()
        .await
        .unwrap();
    let confirmed = client
        .delete(app.url("/api/me"))
        .header("x-csrf-token", csrf)
        .json(&json!({ "confirm": pseudonym }))
        .send()
        .await
        .unwrap();

    assert_eq!(without.status(), 422);
    assert_eq!(confirmed.status(), 204);
    let links: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM user_identities")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(links, 0, "the provider link goes with the account");
}

#[tokio::test]
async fn an_account_linked_before_addresses_were_recorded_is_proven_at_its_next_sign_in() {
    let (app, provider) = app_with_provider(&[("ADMIN_EMAILS", "ada@example.org")]).await;
    let first = browser_client();
    sign_in_at_provider(&first, &app, &provider, "ada", "/").await;
    let (_, before) = me(&first, &app).await;
    let id = before["user"]["id"].as_str().unwrap().to_owned();
    // As a link made by an earlier release left it.
    sqlx::query("UPDATE users SET email_verified_at = NULL, role = 'user' WHERE id = $1")
        .bind(id.clone())
        .execute(app.state.db.pool())
        .await
        .unwrap();

    let again = browser_client();
    sign_in_at_provider(&again, &app, &provider, "ada", "/").await;
    let (_, after) = me(&again, &app).await;

    assert_eq!(after["user"]["id"], id.as_str(), "{before} {after}");
    assert_eq!(after["user"]["email_verified"], true, "{before} {after}");
    assert_eq!(after["user"]["role"], "admin");
}
