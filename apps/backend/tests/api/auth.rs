use reqwest::Method;
use serde_json::json;
use solace_backend::chat::{self, SessionTitle};

use crate::helpers::{spawn_app, spawn_app_with, GOOD_PASSWORD};

#[tokio::test]
async fn a_guest_gets_a_kind_pseudonym_and_an_http_only_session_cookie() {
    let app = spawn_app().await;

    let response = app.post_json("/api/auth/guest", &json!({})).await;

    assert_eq!(response.status(), 201);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("solace_session="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "plain http in tests: {cookie}");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["user"]["kind"], "guest");
    let pseudonym = body["user"]["pseudonym"].as_str().unwrap();
    assert_eq!(pseudonym.split(' ').count(), 2, "{pseudonym}");
    assert!(body["user"]["email"].is_null());
    assert!(body["user"].get("password_hash").is_none());
    assert!(body["csrf_token"].as_str().unwrap().len() > 20);
}

#[tokio::test]
async fn asking_for_a_guest_again_keeps_the_same_identity() {
    let app = spawn_app().await;
    let mut browser = app.browser();
    let first = browser.guest().await;

    let (status, again) = browser.post("/api/auth/guest", json!({})).await;

    assert_eq!(status, 200);
    assert_eq!(again["user"]["id"], first["id"]);
}

#[tokio::test]
async fn me_says_who_is_signed_in() {
    let app = spawn_app().await;
    let mut browser = app.browser();
    let guest = browser.guest().await;

    let (status, me) = browser.get("/api/auth/me").await;

    assert_eq!(status, 200);
    assert_eq!(me["user"]["id"], guest["id"]);
    assert_eq!(me["user"]["pseudonym"], guest["pseudonym"]);
}

#[tokio::test]
async fn me_without_a_session_is_401() {
    let app = spawn_app().await;

    let (status, body) = app.browser().get("/api/auth/me").await;

    assert_eq!(status, 401);
    assert_eq!(body["error"], "not_signed_in");
}

#[tokio::test]
async fn a_forged_session_cookie_is_401() {
    let app = spawn_app().await;

    let response = app
        .client
        .get(app.url("/api/auth/me"))
        .header("cookie", "solace_session=forged-token-value")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 401);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "session_expired");
}

#[tokio::test]
async fn an_expired_session_is_401() {
    let app = spawn_app().await;
    let mut browser = app.browser();
    browser.guest().await;
    sqlx::query("UPDATE tokens SET expires_at = 1")
        .execute(app.state.db.pool())
        .await
        .unwrap();

    let (status, body) = browser.get("/api/auth/me").await;

    assert_eq!(status, 401);
    assert_eq!(body["error"], "session_expired");
}

#[tokio::test]
async fn signing_up_creates_an_account_and_signs_in() {
    let app = spawn_app().await;
    let mut browser = app.browser();

    let (status, body) = browser
        .post(
            "/api/auth/signup",
            json!({ "email": " Sam@Example.org ", "password": GOOD_PASSWORD, "display_name": "Sam" }),
        )
        .await;
    let (_, me) = browser.get("/api/auth/me").await;

    assert_eq!(status, 201, "{body}");
    assert_eq!(me["user"]["kind"], "registered");
    assert_eq!(me["user"]["email"], "sam@example.org");
    assert_eq!(me["user"]["display_name"], "Sam");
    assert_eq!(me["user"]["role"], "user");
    let stored: String =
        sqlx::query_scalar("SELECT password_hash FROM users WHERE email = 'sam@example.org'")
            .fetch_one(app.state.db.pool())
            .await
            .unwrap();
    assert!(stored.starts_with("$argon2id$"));
}

#[tokio::test]
async fn sign_up_rejects_bad_input_with_clear_codes() {
    let app = spawn_app().await;
    let mut browser = app.browser();
    let cases = [
        (
            json!({ "email": "not-an-email", "password": GOOD_PASSWORD }),
            422,
            "invalid_email",
        ),
        (
            json!({ "email": "a@example.org", "password": "short" }),
            422,
            "password_too_short",
        ),
        (
            json!({ "email": "a@example.org", "password": "password123" }),
            422,
            "password_too_common",
        ),
        (json!({ "email": "a@example.org" }), 422, "invalid_body"),
    ];

    for (body, status, code) in cases {
        let (got_status, got) = browser.post("/api/auth/signup", body.clone()).await;
        assert_eq!(got_status, status, "{body} → {got}");
        assert_eq!(got["error"], code, "{body} → {got}");
    }
}

#[tokio::test]
async fn an_email_can_sign_up_only_once() {
    let app = spawn_app().await;
    app.browser().signup("sam@example.org").await;

    let (status, body) = app
        .browser()
        .post(
            "/api/auth/signup",
            json!({ "email": "SAM@example.org", "password": GOOD_PASSWORD }),
        )
        .await;

    assert_eq!(status, 409);
    assert_eq!(body["error"], "email_taken");
}

#[tokio::test]
async fn logging_in_works_with_the_right_password_only() {
    let app = spawn_app().await;
    app.browser().signup("sam@example.org").await;
    let mut browser = app.browser();

    let (wrong_status, wrong) = browser.login("sam@example.org", "not the password").await;
    let (unknown_status, unknown) = browser.login("nobody@example.org", GOOD_PASSWORD).await;
    let (status, body) = browser.login("sam@example.org", GOOD_PASSWORD).await;

    assert_eq!(wrong_status, 401);
    assert_eq!(unknown_status, 401);
    assert_eq!(
        wrong, unknown,
        "the same answer whether or not the account exists"
    );
    assert_eq!(wrong["message"], "The email or password is wrong.");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["email"], "sam@example.org");
}

#[tokio::test]
async fn repeated_failed_logins_are_throttled_per_account() {
    let app = spawn_app().await;
    app.browser().signup("sam@example.org").await;
    let mut browser = app.browser();
    let attempt = json!({ "email": "sam@example.org", "password": "wrong password!" });
    for _ in 0..5 {
        let (status, _) = browser.post("/api/auth/login", attempt.clone()).await;
        assert_eq!(status, 401);
    }

    let response = browser
        .send(
            Method::POST,
            "/api/auth/login",
            Some(json!({ "email": "sam@example.org", "password": GOOD_PASSWORD })),
        )
        .await;

    assert_eq!(response.status(), 429, "even the right password waits");
    assert_eq!(response.headers()["retry-after"], "900");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "rate_limited");
}

#[tokio::test]
async fn logging_out_ends_the_session() {
    let app = spawn_app().await;
    let mut browser = app.browser();
    browser.signup("sam@example.org").await;

    let response = browser.send(Method::POST, "/api/auth/logout", None).await;
    let (status, _) = browser.get("/api/auth/me").await;

    assert_eq!(response.status(), 204);
    assert!(response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    assert_eq!(status, 401);
}

#[tokio::test]
async fn logging_out_everywhere_ends_every_device() {
    let app = spawn_app().await;
    let mut laptop = app.browser();
    laptop.signup("sam@example.org").await;
    let mut phone = app.browser();
    phone.login("sam@example.org", GOOD_PASSWORD).await;

    let response = phone.send(Method::POST, "/api/auth/logout-all", None).await;
    let (laptop_status, _) = laptop.get("/api/auth/me").await;

    assert_eq!(response.status(), 204);
    assert_eq!(laptop_status, 401);
}

#[tokio::test]
async fn a_cookie_request_that_changes_state_needs_the_csrf_token() {
    let app = spawn_app().await;
    let mut browser = app.browser();
    browser.signup("sam@example.org").await;
    let token = browser.csrf.take();

    let without = browser.send(Method::POST, "/api/auth/logout", None).await;
    browser.csrf = Some("not-the-token".into());
    let wrong = browser.send(Method::POST, "/api/auth/logout", None).await;
    browser.csrf = token;
    let (still_signed_in, _) = browser.get("/api/auth/me").await;

    assert_eq!(without.status(), 403);
    let body: serde_json::Value = without.json().await.unwrap();
    assert_eq!(body["error"], "csrf_token_invalid");
    assert_eq!(wrong.status(), 403);
    assert_eq!(still_signed_in, 200);
}

#[tokio::test]
async fn a_bearer_token_works_without_csrf_for_api_clients() {
    let app = spawn_app().await;
    let response = app.post_json("/api/auth/guest", &json!({})).await;
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    let token = cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("solace_session=")
        .to_owned();

    let logout = app
        .client
        .post(app.url("/api/auth/logout"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();

    assert_eq!(logout.status(), 204);
}

#[tokio::test]
async fn requests_from_another_site_are_refused() {
    let app = spawn_app().await;

    let foreign = app
        .client
        .post(app.url("/api/auth/guest"))
        .header("origin", "https://evil.example")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let opaque = app
        .client
        .post(app.url("/api/auth/guest"))
        .header("origin", "null")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let same = app
        .client
        .post(app.url("/api/auth/guest"))
        .header("origin", app.address.clone())
        .json(&json!({}))
        .send()
        .await
        .unwrap();

    assert_eq!(foreign.status(), 403);
    let body: serde_json::Value = foreign.json().await.unwrap();
    assert_eq!(body["error"], "cross_origin_request");
    assert_eq!(
        opaque.status(),
        403,
        "a sandboxed page's `Origin: null` is another site"
    );
    assert_eq!(same.status(), 201);
}

#[tokio::test]
async fn the_web_app_served_from_public_url_elsewhere_may_call_the_api_through_a_rewrite() {
    // A CDN serves the pages at PUBLIC_URL and rewrites /api here: the browser sends the
    // CDN's origin, the request arrives with this server's Host.
    let app = spawn_app_with(&[("PUBLIC_URL", "https://solace.example.app")]).await;
    let post = |origin: &'static str| {
        app.client
            .post(app.url("/api/auth/guest"))
            .header("origin", origin)
            .header("sec-fetch-site", "same-origin")
            .json(&json!({}))
            .send()
    };
    assert_eq!(
        post("https://solace.example.app").await.unwrap().status(),
        201
    );
    // Only that origin: a look-alike or the plain-http twin is another site.
    assert_eq!(
        post("https://solace.example.app.evil.example")
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        post("http://solace.example.app").await.unwrap().status(),
        403
    );
}

#[tokio::test]
async fn a_guests_conversations_survive_sign_up() {
    let app = spawn_app().await;
    let mut browser = app.browser();
    let guest = browser.guest().await;
    let guest_id = guest["id"].as_str().unwrap();
    let title = SessionTitle::parse("Before I had an account").unwrap();
    let session = chat::create_session(&app.state.db, guest_id, &title)
        .await
        .unwrap();

    let account = browser.signup("sam@example.org").await;

    assert_eq!(account["id"], guest["id"], "the guest became the account");
    assert_eq!(account["pseudonym"], guest["pseudonym"]);
    let kept = chat::get_session(&app.state.db, guest_id, &session.id)
        .await
        .unwrap();
    assert_eq!(kept.title, "Before I had an account");
}

#[tokio::test]
async fn logging_in_as_a_guest_brings_the_guests_conversations_along() {
    let app = spawn_app().await;
    let account = app.browser().signup("sam@example.org").await;
    let account_id = account["id"].as_str().unwrap();
    let mut browser = app.browser();
    let guest = browser.guest().await;
    let guest_id = guest["id"].as_str().unwrap().to_owned();
    let title = SessionTitle::parse("Late-night thoughts").unwrap();
    let session = chat::create_session(&app.state.db, &guest_id, &title)
        .await
        .unwrap();

    let (status, body) = browser.login("sam@example.org", GOOD_PASSWORD).await;

    assert_eq!(status, 200, "{body}");
    let moved = chat::get_session(&app.state.db, account_id, &session.id)
        .await
        .unwrap();
    assert_eq!(moved.title, "Late-night thoughts");
    assert!(solace_backend::users::find(&app.state.db, &guest_id)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn a_listed_admin_email_typed_at_sign_up_grants_nothing() {
    // Whoever signs up first with a listed address has not proven it is theirs; the role
    // comes from an identity provider's verified address (oidc.rs) or `solace admin grant`.
    let app = spawn_app_with(&[("ADMIN_EMAILS", "ada@example.org")]).await;

    let signed_up = app.browser().signup("ada@example.org").await;
    let (status, logged_in) = app.browser().login("ada@example.org", GOOD_PASSWORD).await;

    assert_eq!(signed_up["role"], "user");
    assert_eq!(signed_up["email_verified"], false);
    assert_eq!(status, 200);
    assert_eq!(logged_in["user"]["role"], "user");
}

#[tokio::test]
async fn private_responses_are_never_stored_by_caches() {
    let app = spawn_app().await;
    let mut browser = app.browser();
    browser.guest().await;

    for path in [
        "/api/auth/me",
        "/api/chat/sessions",
        "/api/me/export",
        "/api/nowhere",
    ] {
        let response = browser.client.get(browser.url(path)).send().await.unwrap();
        assert_eq!(
            response.headers()["cache-control"],
            "no-store",
            "{path} answered {}",
            response.status()
        );
    }
}

#[tokio::test]
async fn names_that_hide_or_reorder_characters_are_refused() {
    let app = spawn_app().await;
    let mut browser = app.browser();
    browser.signup("sam@example.org").await;

    let mut refused = Vec::new();
    for name in [
        "Admin\u{200b}",
        "\u{202e}nimdA",
        "Sam\u{2066}x",
        "\u{feff}Sam",
    ] {
        let (status, body) = browser
            .send_json(
                Method::PATCH,
                "/api/me",
                Some(json!({ "display_name": name })),
            )
            .await;
        refused.push((
            status.as_u16(),
            body["error"].as_str().unwrap_or_default().to_owned(),
        ));
    }
    let (status, body) = browser
        .send_json(
            Method::PATCH,
            "/api/me",
            Some(json!({ "display_name": "Rene\u{301}e 🌿" })),
        )
        .await;

    assert!(
        refused
            .iter()
            .all(|(s, e)| *s == 422 && e == "invisible_characters"),
        "{refused:?}"
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["display_name"], "Ren\u{e9}e 🌿",
        "stored in one form (NFC)"
    );
}
