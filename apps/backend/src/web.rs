//! Serving the web app's static export and keeping API errors in one JSON shape.

use std::path::Path;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::Router;
use tower_http::services::{ServeDir, ServeFile};

use crate::error::{error_response, ErrorCode};

/// The frontend's static export, or a page that says how to build it.
///
/// Unknown paths get the export's own 404 page with a 404 status.
pub fn static_site(dir: &Path) -> Router {
    if !dir.join("index.html").is_file() {
        tracing::warn!(
            dir = %dir.display(),
            "the web app is not built; serving a notice at / (run `make run` or `pnpm build`)"
        );
        return Router::new().fallback(not_built);
    }
    let site = ServeDir::new(dir)
        .append_index_html_on_directories(true)
        .precompressed_gzip()
        .not_found_service(ServeFile::new(dir.join("404.html")));
    Router::new()
        .fallback_service(site)
        .layer(middleware::from_fn(cache_headers))
}

/// The Content-Security-Policy for every response. Chat content is health data: even
/// if a script were injected, it could neither run nor send anything to another origin
/// (`connect-src`, `img-src`, `form-action`), and nothing can frame the app. Scripts are
/// this origin's files, the inline scripts of the web app's own pages by their SHA-256
/// (Next.js's static export inlines its hydration data; the hashes are taken from the
/// pages in `STATIC_DIR` at start-up, so no other inline script runs), `blob:` (the
/// microphone's AudioWorklet module) and `'wasm-unsafe-eval'` (the ONNX runtime Whisper
/// runs on). LiveKit's origin is allowed for its signalling when rooms run there, and the
/// web app's Sentry origin when `SENTRY_BROWSER_DSN` is set.
pub fn content_security_policy(config: &crate::config::Config) -> String {
    let mut connect = vec!["'self'".to_owned()];
    if let Some(livekit) = &config.livekit {
        let host = livekit.url.host_str().unwrap_or_default();
        let port = livekit
            .url
            .port()
            .map(|p| format!(":{p}"))
            .unwrap_or_default();
        let secure = matches!(livekit.url.scheme(), "wss" | "https");
        let (ws, http) = if secure {
            ("wss", "https")
        } else {
            ("ws", "http")
        };
        connect.push(format!("{ws}://{host}{port}"));
        connect.push(format!("{http}://{host}{port}"));
    }
    if let Some(signal) = &config.signal_origin {
        connect.push(signal.as_str().trim_end_matches('/').to_owned());
    }
    // The web app's error reports go to its Sentry's origin, and nowhere else.
    if let Some(dsn) = &config.sentry_browser_dsn {
        connect.push(dsn.origin().ascii_serialization());
    }
    [
        "default-src 'self'".to_owned(),
        format!(
            "script-src 'self' {}'wasm-unsafe-eval' blob:",
            inline_script_hashes(&config.static_dir)
                .iter()
                .map(|hash| format!("'sha256-{hash}' "))
                .collect::<String>()
        ),
        "worker-src 'self' blob:".to_owned(),
        "style-src 'self' 'unsafe-inline'".to_owned(),
        "img-src 'self' data: blob:".to_owned(),
        "font-src 'self' data:".to_owned(),
        "media-src 'self' blob:".to_owned(),
        format!("connect-src {}", connect.join(" ")),
        "object-src 'none'".to_owned(),
        "base-uri 'self'".to_owned(),
        "form-action 'self'".to_owned(),
        "frame-ancestors 'none'".to_owned(),
    ]
    .join("; ")
}

/// The SHA-256 (base64) of every inline script in the HTML pages under `dir`, sorted and
/// without repeats. Scripts with a `src` are not inline; they load under `'self'`.
pub fn inline_script_hashes(dir: &Path) -> Vec<String> {
    use base64::Engine;
    use sha2::Digest;
    let mut hashes = std::collections::BTreeSet::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "html") {
                let Ok(html) = std::fs::read_to_string(&path) else {
                    continue;
                };
                for script in inline_scripts(&html) {
                    let digest = sha2::Sha256::digest(script.as_bytes());
                    hashes.insert(base64::engine::general_purpose::STANDARD.encode(digest));
                }
            }
        }
    }
    hashes.into_iter().collect()
}

/// The text of each `<script>` element without a `src` attribute.
fn inline_scripts(html: &str) -> Vec<&str> {
    let mut scripts = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<script") {
        let after = &rest[start + "<script".len()..];
        let Some(tag_end) = after.find('>') else {
            break;
        };
        let attributes = &after[..tag_end];
        let body = &after[tag_end + 1..];
        let Some(close) = body.find("</script") else {
            break;
        };
        let external = attributes
            .split(|c: char| c.is_whitespace())
            .any(|attribute| attribute.starts_with("src="));
        if !external && !attributes.ends_with('/') {
            scripts.push(&body[..close]);
        }
        rest = &body[close..];
    }
    scripts
}

/// Powerful features: the microphone for this origin only (voice and rooms), nothing
/// else.
pub const PERMISSIONS_POLICY: &str =
    "microphone=(self), camera=(), geolocation=(), payment=(), usb=(), interest-cohort=()";

/// The Whisper files the browser transcribes with, at `/models/{WHISPER_MODEL}/…`, from
/// `MODELS_DIR`. Only that model's folder is served, never the rest of the models.
pub fn models<S: Clone + Send + Sync + 'static>(config: &crate::config::Config) -> Router<S> {
    let name = &config.speech.whisper_model;
    let dir = config.models_dir.join(name);
    Router::new().nest_service(
        &format!("/models/{name}"),
        ServeDir::new(dir).call_fallback_on_method_not_allowed(true),
    )
}

async fn not_built() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Html(
            "<!doctype html><meta charset=utf-8><title>Solace</title>\
             <h1>Solace's web app has not been built</h1>\
             <p>The API is running. Build the web app with <code>make run</code> \
             (or <code>pnpm build</code>), or point <code>STATIC_DIR</code> at its export.</p>\
             <p>If you are struggling right now, please call or text 988 (US), \
             call Samaritans on 116 123 (UK &amp; Ireland), or find a line at \
             <a href=\"https://findahelpline.com\">findahelpline.com</a>.</p>",
        ),
    )
        .into_response()
}

/// Hashed build assets never change, so browsers may keep them; pages must revalidate.
async fn cache_headers(request: Request, next: Next) -> Response {
    let immutable = request.uri().path().starts_with("/_next/static/");
    let mut response = next.run(request).await;
    let value = if immutable && response.status().is_success() {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    response
}

/// Gives error responses under `/api` and the probes the house JSON body, including the
/// ones axum and tower produce on their own (unknown route, wrong method, timeout).
pub async fn json_errors(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let is_api = path == "/api" || path.starts_with("/api/");
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_api || !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (code, message) = match status {
        StatusCode::NOT_FOUND => (ErrorCode::NotFound, "There is no such API endpoint."),
        StatusCode::METHOD_NOT_ALLOWED => (
            ErrorCode::MethodNotAllowed,
            "This endpoint does not accept that method.",
        ),
        StatusCode::REQUEST_TIMEOUT => (ErrorCode::RequestTimeout, "The request took too long."),
        StatusCode::PAYLOAD_TOO_LARGE => {
            (ErrorCode::PayloadTooLarge, "The request body is too large.")
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            ErrorCode::UnsupportedMediaType,
            "That content type is not supported.",
        ),
        StatusCode::TOO_MANY_REQUESTS => (
            ErrorCode::RateLimited,
            "Too many requests; please slow down.",
        ),
        s if s.is_server_error() => (
            ErrorCode::InternalError,
            "Something went wrong on our side. Please try again.",
        ),
        _ => (
            ErrorCode::BadRequest,
            "The request could not be understood.",
        ),
    };
    let mut replacement = error_response(status, code, message);
    // Keep headers such as Allow and Retry-After that tell the client what to do next,
    // but none that describe the body it replaces (a gzip-encoded plain-text rejection
    // would otherwise label the new JSON as gzip).
    for (name, value) in response.headers() {
        if name != header::CONTENT_TYPE
            && name != header::CONTENT_LENGTH
            && name != header::CONTENT_ENCODING
        {
            replacement
                .headers_mut()
                .insert(name.clone(), value.clone());
        }
    }
    replacement
}

/// The response for a handler that panicked: logged, and a generic 500 for the client.
pub fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> Response<Body> {
    tracing::error!("a request handler panicked");
    error_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::InternalError,
        "Something went wrong on our side. Please try again.",
    )
}

/// The plain-HTTP side of a server that terminates TLS: every request is sent, with its
/// path and query, to the same place on `PUBLIC_URL` (308 keeps the method and body). The
/// target host comes from the configuration, never from the request's `Host` header, so
/// this cannot be turned into an open redirect.
pub fn https_redirect(public_url: &url::Url) -> Router {
    let origin = public_url.origin().ascii_serialization();
    Router::new().fallback(move |uri: axum::http::Uri| {
        let origin = origin.clone();
        async move {
            let path = uri.path_and_query().map_or("/", |p| p.as_str());
            let location = format!("{origin}{path}");
            match HeaderValue::from_str(&location) {
                Ok(location) => (
                    StatusCode::PERMANENT_REDIRECT,
                    [(header::LOCATION, location)],
                )
                    .into_response(),
                Err(_) => StatusCode::BAD_REQUEST.into_response(),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_scripts_without_a_source_are_inline() {
        let html = r#"<html><script src="/a.js"></script><script>self.x=1</script>
            <script async="" src="/b.js"></script><script id="t">(()=>{})()</script></html>"#;
        assert_eq!(inline_scripts(html), vec!["self.x=1", "(()=>{})()"]);
    }

    #[test]
    fn every_page_s_inline_scripts_are_hashed_once() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("chat")).unwrap();
        std::fs::write(dir.path().join("index.html"), "<script>a()</script>").unwrap();
        std::fs::write(
            dir.path().join("chat/index.html"),
            "<script>a()</script><script>b()</script>",
        )
        .unwrap();
        // Known SHA-256 digests (base64) of "a()" and "b()".
        assert_eq!(
            inline_script_hashes(dir.path()),
            vec![
                "cf242PFc/kb7xD0Qzhsmd9vvRkc+cWFmbi+k+YvtdKc=",
                "qVpDBgj7bpq5hMAcGp3AOc79J3Y1Z4HvySTwKrWDoy4=",
            ]
        );
    }
}
