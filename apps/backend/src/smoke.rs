//! `solace smoke URL`: checks a live deployment the way a person uses it — probes, the
//! web app's pages and security headers, a guest identity, the crisis path (it never waits
//! for a model) and a chat turn when a model is configured, a room with its audio token —
//! then deletes the guest it made. Every check is reported; any failure fails the run.

use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, CONTENT_TYPE, COOKIE, ORIGIN, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use url::Url;

/// A message the rules alone recognise as imminent danger: the crisis reply must come
/// with crisis lines whether or not a model is configured.
const CRISIS_MESSAGE: &str = "I'm going to kill myself tonight, I already wrote my goodbye letter";

/// How one check went.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: &'static str,
    pub passed: bool,
    pub detail: String,
    pub took: Duration,
}

/// Every check, in order.
#[derive(Debug, Default)]
pub struct Report {
    pub checks: Vec<Check>,
}

impl Report {
    pub fn passed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.passed)
    }

    /// One line per check, then a summary line.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for check in &self.checks {
            out.push_str(&format!(
                "{} {:<16} {} ({} ms)\n",
                if check.passed { "PASS" } else { "FAIL" },
                check.name,
                check.detail,
                check.took.as_millis()
            ));
        }
        let failed = self.checks.iter().filter(|c| !c.passed).count();
        out.push_str(&format!(
            "{} of {} checks passed{}\n",
            self.checks.len() - failed,
            self.checks.len(),
            if failed == 0 {
                ""
            } else {
                " — the deployment is not healthy"
            }
        ));
        out
    }
}

/// A check's outcome before timing: `Ok(detail)` or `Err(reason)`.
type Outcome = Result<String, String>;

/// The client side of the run: one guest's cookie, CSRF token and pseudonym (which
/// confirms the guest's deletion at the end).
struct Visitor {
    http: reqwest::Client,
    base: Url,
    origin: HeaderValue,
    cookie: Option<HeaderValue>,
    csrf: Option<String>,
    pseudonym: String,
}

impl Visitor {
    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base.as_str().trim_end_matches('/'), path)
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(StatusCode, HeaderMap, String), String> {
        let mut request = self
            .http
            .request(method.clone(), self.url(path))
            .header(ORIGIN, self.origin.clone())
            .header(ACCEPT, "application/json");
        if let Some(cookie) = &self.cookie {
            request = request.header(COOKIE, cookie.clone());
        }
        if let Some(csrf) = &self.csrf {
            request = request.header("x-csrf-token", csrf.as_str());
        }
        if let Some(body) = body {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_string());
        }
        let response = request
            .send()
            .await
            .map_err(|e| format!("{method} {path}: {}", error_chain(&e)))?;
        let status = response.status();
        let headers = response.headers().clone();
        let text = response
            .text()
            .await
            .map_err(|e| format!("{method} {path}: {e}"))?;
        Ok((status, headers, text))
    }

    /// Sends and expects `want`, returning the JSON body.
    async fn expect(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        want: StatusCode,
    ) -> Result<Value, String> {
        let (status, _, text) = self.send(method.clone(), path, body).await?;
        if status != want {
            return Err(format!(
                "{method} {path}: {status}, expected {want}: {}",
                shorten(&text)
            ));
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn shorten(text: &str) -> String {
    let line = text.replace('\n', " ");
    match line.char_indices().nth(200) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line,
    }
}

/// Runs every check against `base` (e.g. `https://solace.example.org`). `ca_pem` adds a
/// certificate authority to trust (a private or local CA, as Caddy's `tls internal`).
pub async fn run(base: &Url, ca_pem: Option<&[u8]>, timeout: Duration) -> Result<Report, String> {
    let mut http = reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("solace-smoke/", env!("CARGO_PKG_VERSION")));
    if let Some(pem) = ca_pem {
        let ca = reqwest::Certificate::from_pem(pem).map_err(|e| format!("--ca-cert: {e}"))?;
        http = http.add_root_certificate(ca);
    }
    let origin = HeaderValue::from_str(&base.origin().ascii_serialization())
        .map_err(|_| format!("{base} has no origin"))?;
    let mut visitor = Visitor {
        http: http.build().map_err(|e| e.to_string())?,
        base: base.clone(),
        origin,
        cookie: None,
        csrf: None,
        pseudonym: String::new(),
    };
    let mut report = Report::default();
    let https = base.scheme() == "https";

    let probe = |path: &'static str| {
        let visitor = &visitor;
        async move {
            let (status, _, text) = visitor.send(Method::GET, path, None).await?;
            if status == StatusCode::OK {
                Ok(format!("{path} 200"))
            } else {
                Err(format!("{path}: {status}: {}", shorten(&text)))
            }
        }
    };
    timed(&mut report, "liveness", probe("/healthz")).await;
    timed(&mut report, "readiness", probe("/readyz")).await;
    timed(&mut report, "web app", pages(&visitor)).await;
    timed(&mut report, "security headers", headers(&visitor, https)).await;

    let started = Instant::now();
    let guest = guest(&mut visitor, https).await;
    let signed_in = guest.is_ok();
    report.checks.push(finish("guest identity", guest, started));
    if !signed_in {
        return Ok(report);
    }
    timed(&mut report, "crisis path", crisis(&visitor)).await;
    timed(&mut report, "chat turn", chat_turn(&visitor)).await;
    timed(&mut report, "room", room(&visitor)).await;
    timed(&mut report, "clean-up", delete_guest(&visitor)).await;
    Ok(report)
}

async fn timed(
    report: &mut Report,
    name: &'static str,
    check: impl std::future::Future<Output = Outcome>,
) {
    let started = Instant::now();
    let outcome = check.await;
    report.checks.push(finish(name, outcome, started));
}

fn finish(name: &'static str, outcome: Outcome, started: Instant) -> Check {
    let (passed, detail) = match outcome {
        Ok(detail) => (true, detail),
        Err(reason) => (false, reason),
    };
    Check {
        name,
        passed,
        detail,
        took: started.elapsed(),
    }
}

/// The static export's pages answer with HTML.
async fn pages(visitor: &Visitor) -> Outcome {
    for path in ["/", "/chat/", "/rooms/"] {
        let (status, headers, text) = visitor.send(Method::GET, path, None).await?;
        let html = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/html"));
        let page = text.to_ascii_lowercase();
        let is_page = page.contains("<!doctype html") || page.contains("<html");
        if status != StatusCode::OK || !html || !is_page {
            return Err(format!("{path}: {status}, not the web app's page"));
        }
    }
    Ok("/, /chat/, /rooms/ serve the web app".into())
}

/// The headers every page must carry (HSTS over https).
async fn headers(visitor: &Visitor, https: bool) -> Outcome {
    let (_, headers, _) = visitor.send(Method::GET, "/", None).await?;
    let mut wanted = vec![
        ("content-security-policy", None),
        ("x-content-type-options", Some("nosniff")),
        ("x-frame-options", Some("DENY")),
        ("referrer-policy", None),
    ];
    if https {
        wanted.push(("strict-transport-security", None));
    }
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|(name, value)| {
            let got = headers.get(*name).and_then(|v| v.to_str().ok());
            match (got, value) {
                (None, _) => true,
                (Some(got), Some(value)) => !got.eq_ignore_ascii_case(value),
                (Some(_), None) => false,
            }
        })
        .map(|(name, _)| *name)
        .collect();
    if missing.is_empty() {
        Ok(format!("{} headers present", wanted.len()))
    } else {
        Err(format!("missing or wrong: {}", missing.join(", ")))
    }
}

/// A guest identity: the session cookie (HttpOnly, and Secure over https) and `/me`.
async fn guest(visitor: &mut Visitor, https: bool) -> Outcome {
    let (status, headers, text) = visitor
        .send(Method::POST, "/api/auth/guest", Some(json!({})))
        .await?;
    if status != StatusCode::CREATED {
        return Err(format!(
            "POST /api/auth/guest: {status}: {}",
            shorten(&text)
        ));
    }
    let cookie = headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        // `__Host-solace_session` over https.
        .find(|v| v.starts_with("solace_session=") || v.starts_with("__Host-solace_session="))
        .ok_or("no session cookie was set")?;
    if !cookie.contains("HttpOnly") || (https && !cookie.contains("Secure")) {
        return Err(format!(
            "the session cookie lacks HttpOnly{}",
            if https { " or Secure" } else { "" }
        ));
    }
    let pair = cookie.split(';').next().unwrap_or_default();
    visitor.cookie = Some(HeaderValue::from_str(pair).map_err(|e| e.to_string())?);
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    visitor.csrf = body["csrf_token"].as_str().map(str::to_owned);
    let me = visitor
        .expect(Method::GET, "/api/auth/me", None, StatusCode::OK)
        .await?;
    visitor.pseudonym = me["user"]["pseudonym"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    Ok(format!("signed in as a guest ({})", visitor.pseudonym))
}

/// Imminent danger gets the crisis reply with crisis lines, model or not.
async fn crisis(visitor: &Visitor) -> Outcome {
    let reply = visitor
        .expect(
            Method::POST,
            "/api/ai/message",
            Some(json!({ "content": CRISIS_MESSAGE })),
            StatusCode::OK,
        )
        .await?;
    let lines = reply["crisis"]["lines"].as_array().map_or(0, Vec::len);
    if lines == 0 {
        return Err("a message of imminent danger got no crisis lines".into());
    }
    Ok(format!(
        "crisis reply ({}) with {lines} crisis lines",
        reply["crisis"]["response"].as_str().unwrap_or("?")
    ))
}

/// An ordinary message gets the model's reply, when a model is configured.
async fn chat_turn(visitor: &Visitor) -> Outcome {
    let info = visitor
        .expect(Method::GET, "/api/ai/info", None, StatusCode::OK)
        .await?;
    if info["model"]["configured"] != Value::Bool(true) {
        return Ok("no model is configured here: only the crisis path was checked".into());
    }
    let reply = visitor
        .expect(
            Method::POST,
            "/api/ai/message",
            Some(json!({ "content": "Checking in: today was a long day at work." })),
            StatusCode::OK,
        )
        .await?;
    let text = reply["message"]["content"].as_str().unwrap_or_default();
    if text.trim().is_empty() {
        return Err("the model's reply was empty".into());
    }
    Ok(format!(
        "the model replied ({} characters)",
        text.chars().count()
    ))
}

/// A room: create, join, an audio token for the embedded server or LiveKit, close.
async fn room(visitor: &Visitor) -> Outcome {
    let room = visitor
        .expect(
            Method::POST,
            "/api/rooms",
            Some(json!({ "title": "Smoke test" })),
            StatusCode::CREATED,
        )
        .await?;
    let id = room["id"]
        .as_str()
        .ok_or("the new room has no id")?
        .to_owned();
    let outcome = async {
        visitor
            .expect(
                Method::POST,
                &format!("/api/rooms/{id}/join"),
                Some(json!({})),
                StatusCode::OK,
            )
            .await?;
        let (status, _, text) = visitor
            .send(
                Method::POST,
                &format!("/api/rooms/{id}/signal-token"),
                Some(json!({})),
            )
            .await?;
        let grant: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        match status {
            StatusCode::OK if grant["token"].is_string() => Ok(format!(
                "room created and joined; embedded audio token with {} ICE servers",
                grant["ice_servers"].as_array().map_or(0, Vec::len)
            )),
            StatusCode::CONFLICT => {
                let token = visitor
                    .expect(
                        Method::POST,
                        "/api/livekit/token",
                        Some(json!({ "room_id": id })),
                        StatusCode::OK,
                    )
                    .await?;
                if token["token"].is_string() {
                    Ok("room created and joined; LiveKit token issued".into())
                } else {
                    Err("LiveKit token missing".into())
                }
            }
            other => Err(format!("signal token: {other}: {}", shorten(&text))),
        }
    }
    .await;
    // Closing it keeps the smoke test's room out of the list either way.
    let closed = visitor
        .expect(
            Method::POST,
            &format!("/api/rooms/{id}/close"),
            Some(json!({})),
            StatusCode::OK,
        )
        .await;
    match (outcome, closed) {
        (Ok(detail), Ok(_)) => Ok(detail),
        (Err(reason), _) => Err(reason),
        (Ok(_), Err(reason)) => Err(reason),
    }
}

/// The guest and everything it made are deleted.
async fn delete_guest(visitor: &Visitor) -> Outcome {
    let (status, _, text) = visitor
        .send(
            Method::DELETE,
            "/api/me",
            Some(json!({ "confirm": visitor.pseudonym })),
        )
        .await?;
    if status == StatusCode::NO_CONTENT {
        Ok("the smoke test's guest and its data are deleted".into())
    } else {
        Err(format!("DELETE /api/me: {status}: {}", shorten(&text)))
    }
}
