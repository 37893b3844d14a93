use crate::helpers::{spawn_app, spawn_app_with, using_postgres, using_redis};

#[tokio::test]
async fn healthz_answers_ok_with_the_version() {
    let app = spawn_app().await;

    let response = app.get("/healthz").await;

    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn readyz_checks_the_configured_database_and_cache() {
    let app = spawn_app().await;

    let response = app.get("/readyz").await;

    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    let database = if using_postgres() {
        "postgres"
    } else {
        "sqlite"
    };
    let cache = if using_redis() { "redis" } else { "memory" };
    assert_eq!(body["checks"]["database"]["engine"], database);
    assert_eq!(body["checks"]["database"]["status"], "ok");
    assert_eq!(body["checks"]["cache"]["engine"], cache);
    assert_eq!(body["checks"]["cache"]["status"], "ok");
    assert_eq!(
        body["checks"]["model"]["status"], "not_configured",
        "a missing model is reported, and readiness does not depend on it"
    );
}

#[tokio::test]
async fn readyz_is_503_once_the_database_is_gone() {
    let app = spawn_app().await;
    app.state.db.close().await;

    let response = app.get("/readyz").await;

    assert_eq!(response.status(), 503);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "not_ready");
    assert_eq!(body["checks"]["database"]["status"], "failing");
}

#[tokio::test]
async fn every_response_gets_a_request_id_and_keeps_a_given_one() {
    let app = spawn_app().await;

    let generated = app.get("/healthz").await;
    let given = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "trace-me-123")
        .send()
        .await
        .unwrap();

    let id = generated.headers()["x-request-id"].to_str().unwrap();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    assert_eq!(given.headers()["x-request-id"], "trace-me-123");
}

#[tokio::test]
async fn responses_carry_security_headers() {
    let app = spawn_app().await;

    let response = app.get("/").await;

    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    assert_eq!(response.headers()["x-frame-options"], "DENY");
    assert_eq!(
        response.headers()["referrer-policy"],
        "strict-origin-when-cross-origin"
    );
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap();
    assert!(csp.contains("connect-src 'self';"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(csp.contains("object-src 'none'"), "{csp}");
    assert_eq!(
        response.headers()["permissions-policy"],
        solace_backend::web::PERMISSIONS_POLICY
    );
}

#[tokio::test]
async fn only_the_web_app_s_own_inline_scripts_may_run() {
    let site = tempfile::tempdir().unwrap();
    crate::helpers::write_fake_site(site.path());
    let script = "self.__next_f=self.__next_f||[]";
    std::fs::write(
        site.path().join("index.html"),
        format!("<!doctype html><h1>Solace home</h1><script>{script}</script><script src=\"/_next/a.js\"></script>"),
    )
    .unwrap();
    let dir = site.path().display().to_string();
    let app = crate::helpers::spawn_app_with(&[("STATIC_DIR", &dir)]).await;

    let response = app.get("/").await;

    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let scripts = csp
        .split(';')
        .map(str::trim)
        .find(|d| d.starts_with("script-src "))
        .unwrap();
    assert!(!scripts.contains("'unsafe-inline'"), "{scripts}");
    // The page's one inline script, by its SHA-256 (computed independently by
    // `printf %s "$script" | openssl dgst -sha256 -binary | base64`).
    assert!(
        scripts.contains("'sha256-sXjGqJ00dxxEvsgy0wz4SHVW5xv3gsSh03kmxXNPOKo='"),
        "{scripts}"
    );
}

#[tokio::test]
async fn with_livekit_its_origin_may_be_reached_from_the_page_and_nothing_else() {
    let app = crate::helpers::spawn_app_with(&[
        ("LIVEKIT_URL", "wss://rtc.example.org:7443"),
        ("LIVEKIT_API_KEY", "APIkey"),
        (
            "LIVEKIT_API_SECRET",
            "a-secret-of-at-least-thirty-two-characters",
        ),
    ])
    .await;

    let response = app.get("/api/ai/info").await;

    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap();
    assert!(
        csp.contains("connect-src 'self' wss://rtc.example.org:7443 https://rtc.example.org:7443;"),
        "{csp}"
    );
}

#[tokio::test]
async fn over_https_browsers_are_held_to_it_and_the_session_cookie_is_host_only() {
    let secure = spawn_app_with(&[("PUBLIC_URL", "https://solace.example.org")]).await;
    let plain = spawn_app().await;

    let guest = secure
        .client
        .post(secure.url("/api/auth/guest"))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    let hsts = guest.headers().get("strict-transport-security").cloned();
    let cookie = guest.headers()["set-cookie"].to_str().unwrap().to_owned();
    let token = cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("__Host-solace_session=")
        .to_owned();
    let me = |name: &str| {
        secure
            .client
            .get(secure.url("/api/auth/me"))
            .header("cookie", format!("{name}={token}"))
            .send()
    };
    let with_prefix = me("__Host-solace_session").await.unwrap().status();
    let without_prefix = me("solace_session").await.unwrap().status();
    let plain_health = plain.get("/healthz").await;

    assert_eq!(
        hsts.unwrap().to_str().unwrap(),
        "max-age=63072000; includeSubDomains"
    );
    assert!(cookie.starts_with("__Host-solace_session="), "{cookie}");
    assert!(
        cookie.contains("Secure") && cookie.contains("Path=/"),
        "{cookie}"
    );
    assert!(!cookie.contains("Domain"), "{cookie}");
    assert_eq!(with_prefix, 200);
    assert_eq!(
        without_prefix, 401,
        "over https only the __Host- cookie counts"
    );
    assert!(plain_health
        .headers()
        .get("strict-transport-security")
        .is_none());
}
