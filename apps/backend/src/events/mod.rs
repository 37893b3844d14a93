//! First-party product analytics: page views, clicks and funnel steps.
//!
//! Only what was used is recorded — an event name, the page path without its query
//! string, a few small properties and the tab's random visit id that joins a funnel's
//! steps — never what anyone said, their IP or their agent. A browser that sends
//! Do-Not-Track or Global Privacy Control is not recorded at all (the web app does not
//! even send then, nor when the person turned statistics off). Events are deleted after
//! `ANALYTICS_RETENTION_DAYS`; copies go to PostHog or Plausible when configured
//! ([`forward`]).

pub mod forward;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::ClientIp;
use crate::db::{new_id, now_ms, Db};
use crate::error::{Error, ErrorCode, Result};
use crate::extract::ApiJson;
use crate::limits::Limit;
use crate::openapi::{JsonBody, Limited};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(record))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct EventInput {
    /// Lower-case letters, digits, `_` or `.`, starting with a letter; at most 64.
    #[schema(example = "pageview", pattern = "^\\s*[a-z][a-z0-9_.]{0,63}\\s*$")]
    name: String,
    /// The page's route, starting with `/`; the query and fragment are dropped.
    #[schema(pattern = "^/")]
    path: Option<String>,
    /// A flat object of strings, numbers, booleans or null; at most 2 KB of JSON.
    #[serde(default)]
    #[schema(value_type = Object)]
    properties: Map<String, Value>,
    /// A random id for this browser tab's visit (the web app keeps it in
    /// `sessionStorage`), joining the steps of a funnel; 8 to 64 letters, digits or `-`.
    #[schema(pattern = "^[A-Za-z0-9-]{8,64}$")]
    visit: Option<String>,
}

/// The id of a recorded event.
#[derive(Debug, Serialize, ToSchema)]
struct Recorded {
    id: String,
}

/// An analytics event that passed validation.
#[derive(Debug, PartialEq)]
pub struct Event {
    pub name: String,
    pub path: Option<String>,
    pub properties: Option<String>,
    pub visit: Option<String>,
}

impl Event {
    const MAX_NAME: usize = 64;
    const MAX_PATH: usize = 512;
    const MAX_PROPERTIES_BYTES: usize = 2048;

    fn parse(input: EventInput) -> Result<Self> {
        let name = input.name.trim();
        let name_ok = name.len() <= Self::MAX_NAME
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.');
        if !name_ok {
            return Err(Error::validation(
                ErrorCode::InvalidEventName,
                "name must be lower-case letters, digits, '_' or '.', at most 64 characters, e.g. pageview.",
            ));
        }
        let path = match input.path {
            None => None,
            Some(path) => {
                // The query string and fragment can carry personal data; keep only the route.
                let route = path.split(['?', '#']).next().unwrap_or_default();
                if !route.starts_with('/') || route.len() > Self::MAX_PATH {
                    return Err(Error::validation(
                        ErrorCode::InvalidEventPath,
                        "path must start with '/' and be at most 512 characters.",
                    ));
                }
                Some(route.to_owned())
            }
        };
        if input
            .properties
            .values()
            .any(|v| v.is_object() || v.is_array())
        {
            return Err(Error::validation(
                ErrorCode::InvalidEventProperties,
                "properties must be a flat object of strings, numbers, booleans or null.",
            ));
        }
        let visit = match input.visit {
            None => None,
            Some(visit) => {
                let ok = (8..=64).contains(&visit.len())
                    && visit.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
                if !ok {
                    return Err(Error::validation(
                        ErrorCode::InvalidEventVisit,
                        "visit must be 8 to 64 letters, digits or '-'.",
                    ));
                }
                Some(visit)
            }
        };
        let properties = if input.properties.is_empty() {
            None
        } else {
            let text = Value::Object(input.properties).to_string();
            if text.len() > Self::MAX_PROPERTIES_BYTES {
                return Err(Error::validation(
                    ErrorCode::InvalidEventProperties,
                    "properties can be at most 2048 bytes of JSON.",
                ));
            }
            Some(text)
        };
        Ok(Self {
            name: name.to_owned(),
            path,
            properties,
            visit,
        })
    }
}

/// Records an anonymous product event (a page view, a funnel step): no session, no
/// content, limited per address.
#[utoipa::path(post, path = "/events", tag = "analytics", request_body = EventInput,
    responses(
        (status = 202, description = "Recorded.", body = Recorded),
        (status = 204, description = "Not recorded: the browser asks not to be tracked (`DNT: 1` or `Sec-GPC: 1`)."),
        JsonBody, Limited,
    ))]
async fn record(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(input): ApiJson<EventInput>,
) -> Result<Response> {
    let event = Event::parse(input)?;
    if asks_not_to_be_tracked(&headers) {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    Limit::per_minute("events", state.config.limits.events_per_minute)
        .hit(state.cache.as_ref(), &ip.to_string())
        .await?;
    let id = insert(&state.db, None, &event).await?;
    state.analytics.send(forward::Outgoing {
        properties: event
            .properties
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok())
            .unwrap_or_default(),
        name: event.name,
        path: event.path,
        visit: event.visit,
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        at: time::OffsetDateTime::now_utc(),
    });
    Ok((StatusCode::ACCEPTED, Json(Recorded { id })).into_response())
}

/// `DNT: 1` (Do Not Track) or `Sec-GPC: 1` (Global Privacy Control, a legal opt-out in
/// some places).
fn asks_not_to_be_tracked(headers: &HeaderMap) -> bool {
    ["dnt", "sec-gpc"].iter().any(|name| {
        headers
            .get(*name)
            .is_some_and(|v| v.as_bytes().trim_ascii() == b"1")
    })
}

async fn insert(db: &Db, user_id: Option<&str>, event: &Event) -> Result<String> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO analytics_events (id, user_id, name, path, properties, visit_id, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(id.clone())
    .bind(user_id.map(str::to_owned))
    .bind(event.name.clone())
    .bind(event.path.clone())
    .bind(event.properties.clone())
    .bind(event.visit.clone())
    .bind(now_ms())
    .execute(db.pool())
    .await?;
    Ok(id)
}

/// Deletes events recorded before `before_ms` (the retention period); returns how many.
pub async fn purge(db: &Db, before_ms: i64) -> Result<u64> {
    let done = sqlx::query("DELETE FROM analytics_events WHERE created_at < $1")
        .bind(before_ms)
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected())
}

/// Records a product event from the server side (`room.joined`…): what was used, by
/// whom, never what was said.
pub async fn track(
    db: &Db,
    user_id: Option<&str>,
    name: &str,
    properties: Option<Value>,
) -> Result<()> {
    let event = Event {
        name: name.to_owned(),
        path: None,
        properties: properties.map(|p| p.to_string()),
        visit: None,
    };
    insert(db, user_id, &event).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input(value: Value) -> EventInput {
        serde_json::from_value(value).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn page_views_keep_the_route_but_not_the_query() {
        let event = Event::parse(input(
            json!({"name": "pageview", "path": "/chat?email=a@b.c#x"}),
        ));
        assert_eq!(event.ok().and_then(|e| e.path).as_deref(), Some("/chat"));
    }

    #[test]
    fn event_names_are_lower_snake_case() {
        for bad in ["", "PageView", "1st", "page view", &"a".repeat(65)] {
            assert!(
                Event::parse(input(json!({"name": bad}))).is_err(),
                "{bad:?}"
            );
        }
        assert!(Event::parse(input(json!({"name": "funnel_step.signup"}))).is_ok());
    }

    #[test]
    fn nested_or_large_properties_are_rejected() {
        let nested = input(json!({"name": "click", "properties": {"a": {"b": 1}}}));
        assert!(Event::parse(nested).is_err());
        let large = input(json!({"name": "click", "properties": {"a": "x".repeat(3000)}}));
        assert!(Event::parse(large).is_err());
    }

    #[test]
    fn relative_paths_are_rejected() {
        assert!(Event::parse(input(json!({"name": "pageview", "path": "chat"}))).is_err());
    }
}
