//! The API's contract: an OpenAPI 3.1 document generated from the handlers themselves.
//!
//! Every route is registered through `utoipa_axum::routes!`, which takes its path and
//! method from the handler's `#[utoipa::path]`, so a route cannot exist without its
//! documentation, nor the other way round. The document is served at
//! `/api/openapi.json`, read by `/api/docs`, committed as `docs/openapi.json`, and the web
//! app's types are generated from it (`apps/frontend/lib/api-schema.ts`); the tests fail
//! when either is stale, and `make api` regenerates both.
//!
//! Error responses are shared components: every operation lists the ones it can return
//! by status, each with the house body `{"error": code, "message": …}`.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, ObjectBuilder, Ref, RefOr, Type};
use utoipa::{IntoResponses, Modify, OpenApi, ToSchema};

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ApiError)]
pub struct ApiErrorSchema {
    /// A stable, snake_case code for programs, e.g. `not_signed_in`, `rate_limited`.
    pub error: crate::error::ErrorCode,
    /// A sentence for people.
    pub message: String,
    /// On model failures: whether sending the same message again may work.
    pub retryable: Option<bool>,
    /// On a failed chat turn: the conversation the person's message was kept in, so the
    /// app shows it and the next message continues there.
    pub session_id: Option<String>,
    /// On a failed chat turn: the person's stored message.
    pub message_id: Option<String>,
}

/// The error responses, by component name: status and what it means.
const ERRORS: &[(&str, u16, &str)] = &[
    ("BadRequest", 400, "The request is malformed: unreadable JSON or query string."),
    ("Unauthorized", 401, "No valid session (`not_signed_in`, `session_expired`) or wrong credentials (`invalid_credentials`)."),
    ("Forbidden", 403, "Signed in but not allowed: a missing CSRF token, a request from another site, a guest where an account is needed, or not a moderator/administrator."),
    ("NotFound", 404, "No such thing, or it is not the caller's (the API never says which)."),
    ("RequestTimeout", 408, "The request body stopped arriving for longer than `REQUEST_TIMEOUT_SECS`."),
    ("Conflict", 409, "The request conflicts with what exists (an email already taken, a room already closed…)."),
    ("PayloadTooLarge", 413, "The body, or one field of it (`message_too_long`), is larger than allowed."),
    ("UnsupportedMediaType", 415, "The body's Content-Type is not the one this endpoint reads."),
    ("Unprocessable", 422, "The body is well-formed but a value is not acceptable; the code names which."),
    ("TooManyRequests", 429, "Too many requests: wait `Retry-After` seconds."),
    ("BadGateway", 502, "A service this server depends on (the model, speech, the audio server) failed."),
    ("Unavailable", 503, "This server has not been set up for this (no model, no speech provider…), or a service it needs (Redis) is briefly not answering: `temporarily_unavailable`, with `Retry-After`."),
    ("GatewayTimeout", 504, "A service this server depends on did not answer in time."),
];

fn error_response(status: u16, description: &str) -> Response {
    let mut response = ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("ApiError")))
            .build(),
    );
    if matches!(status, 429 | 503) {
        response = response.header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(0)),
                ))
                .description(Some("Seconds to wait before trying again (always on 429; on 503 when waiting helps)."))
                .build(),
        );
    }
    response.build()
}

/// Declares a set of error responses an operation lists as one name in its
/// `responses(...)`: each is a reference to the shared component of its status.
macro_rules! error_set {
    ($(#[$doc:meta])* $name:ident: $($status:literal),+) => {
        $(#[$doc])*
        pub struct $name;

        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                [$($status),+]
                    .into_iter()
                    .filter_map(|status: u16| {
                        ERRORS.iter().find(|(_, s, _)| *s == status).map(|(name, _, _)| {
                            (
                                status.to_string(),
                                RefOr::Ref(Ref::new(format!("#/components/responses/{name}"))),
                            )
                        })
                    })
                    .collect()
            }
        }
    };
}

error_set!(
    /// Needs a session: none or an ended one (401); a cookie session without its CSRF
    /// token, or a request from another site (403).
    SignedIn: 401, 403
);
error_set!(
    /// Reads a JSON body: unreadable (400), stalled (408), too large (413), not JSON
    /// (415), or a value that is not acceptable (422).
    JsonBody: 400, 408, 413, 415, 422
);
error_set!(
    /// Reads a query string: unreadable (400) or a value out of range (422).
    QueryString: 400, 422
);
error_set!(
    /// Names something by id that may not exist or not be the caller's.
    Missing: 404
);
error_set!(
    /// Counts requests and refuses past the limit, with `Retry-After`.
    Limited: 429
);
error_set!(
    /// Needs an account, or a role, the caller may not have.
    NotAllowed: 403
);
error_set!(
    /// Refuses what conflicts with what exists.
    Conflicting: 409
);
error_set!(
    /// Checks credentials (a password).
    Unauthenticated: 401
);
error_set!(
    /// Calls a service beside this server (the model, speech, the audio server), which
    /// may fail (502) or not answer in time (504).
    Upstream: 502, 504
);
error_set!(
    /// Needs something this server may not be set up for, or Redis when it is down (503).
    Unavailable: 503
);

/// Adds the shared error responses and the two ways to authenticate.
struct Components;

impl Modify for Components {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for (name, status, description) in ERRORS {
            components.responses.insert(
                (*name).to_owned(),
                RefOr::T(error_response(*status, description)),
            );
        }
        components.add_security_scheme(
            "session_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "solace_session",
                "The browser's session (`__Host-solace_session` over https). State-changing \
                 requests also send the CSRF token from `/api/auth/me` as `X-CSRF-Token`.",
            ))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The same session token, for scripts and apps (no CSRF token needed).",
                    ))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Solace API",
        description = "Solace's HTTP API: accounts, the AI therapist's conversations, \
            crisis resources, audio rooms and their moderation. Errors always have the body \
            `{\"error\": code, \"message\": …}`. Generated from the server's own handlers.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    components(schemas(ApiErrorSchema)),
    modifiers(&Components),
    tags(
        (name = "health", description = "Probes for load balancers and orchestrators."),
        (name = "auth", description = "Guests, accounts and sign-in sessions."),
        (name = "account", description = "The person's own account and data."),
        (name = "chat", description = "Conversations with the AI therapist."),
        (name = "memory", description = "What Solace remembers across conversations, under the person's control."),
        (name = "speech", description = "Spoken replies and transcription."),
        (name = "safety", description = "Crisis resources and the safety plan."),
        (name = "rooms", description = "Audio rooms: joining, speaking, moderation."),
        (name = "admin", description = "Administrators only."),
        (name = "analytics", description = "Anonymous product events."),
    )
)]
pub struct ApiDoc;

/// Raw bytes in a request or response body (audio).
pub struct Binary;

impl utoipa::PartialSchema for Binary {
    fn schema() -> RefOr<utoipa::openapi::schema::Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Binary,
            )))
            .into()
    }
}

impl ToSchema for Binary {}

/// The document as served: the routes' operations on [`ApiDoc`], with this build's
/// version, and each streamed event's `data` described as what it is on the wire — a
/// string of JSON, whose schema is `contentSchema` (the way OpenAPI 3.1 says it, and
/// what Schemathesis and other validators check).
pub fn finish(document: &utoipa::openapi::OpenApi) -> serde_json::Value {
    let mut json = serde_json::to_value(document).unwrap_or_default();
    json["info"]["version"] = env!("CARGO_PKG_VERSION").into();
    // Handlers in different modules share names (`list`, `show`): the tag makes each
    // operation's id unique, as generators need.
    let operations = json
        .get_mut("paths")
        .and_then(serde_json::Value::as_object_mut)
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(serde_json::Value::as_object_mut)
        .flat_map(|item| item.values_mut());
    for operation in operations {
        let tag = operation["tags"][0].as_str().unwrap_or("api").to_owned();
        if let Some(id) = operation["operationId"].as_str() {
            operation["operationId"] = format!("{tag}_{id}").into();
        }
    }
    let events = json
        .pointer_mut("/components/schemas/ReplyStreamEvent/oneOf")
        .and_then(serde_json::Value::as_array_mut);
    for event in events.into_iter().flatten() {
        if let Some(data) = event.pointer_mut("/properties/data") {
            let mut schema = data.take();
            let description = schema
                .as_object_mut()
                .and_then(|schema| schema.remove("description"));
            *data = serde_json::json!({
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": schema,
            });
            if let Some(description) = description {
                data["description"] = description;
            }
        }
    }
    json
}

/// The document as JSON, the way `docs/openapi.json` is committed.
pub fn to_json(document: &serde_json::Value) -> String {
    let mut json = serde_json::to_string_pretty(document).unwrap_or_default();
    json.push('\n');
    json
}

/// `/api/openapi.json`, and the viewer at `/api/docs` (Swagger UI, copied from npm into
/// the web app's `vendor/` at build time; no script from anywhere else, nothing inline).
pub fn router<S: Clone + Send + Sync + 'static>(document: &serde_json::Value) -> axum::Router<S> {
    use axum::http::{header, HeaderValue};
    use axum::response::IntoResponse;
    use axum::routing::get;

    let json = to_json(document);
    let text = |content_type: &'static str, body: &'static str| {
        move || async move {
            (
                [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
                body,
            )
                .into_response()
        }
    };
    axum::Router::new()
        .route(
            "/api/openapi.json",
            get(move || async move {
                (
                    [(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    )],
                    json,
                )
            }),
        )
        .route(
            "/api/docs",
            get(text(
                "text/html; charset=utf-8",
                include_str!("../assets/api-docs.html"),
            )),
        )
        .route(
            "/api/docs/viewer.js",
            get(text(
                "text/javascript; charset=utf-8",
                include_str!("../assets/api-docs.js"),
            )),
        )
}
