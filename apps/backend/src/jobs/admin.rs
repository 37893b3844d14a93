//! Dead letters for administrators: what failed for good, and a second chance once the
//! cause is fixed (a key renewed, a voice installed).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::app::AppState;
use crate::auth::Admin;
use crate::error::{Error, Result};
use crate::extract::ApiQuery;

/// The queues the app runs.
const QUEUES: &[&str] = &[crate::speech::QUEUE];

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/jobs/dead", get(dead))
        .route("/admin/jobs/{id}/retry", post(retry))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QueueQuery {
    queue: Option<String>,
    limit: Option<usize>,
}

fn queue_of(query: &QueueQuery) -> Result<&'static str> {
    let wanted = query.queue.as_deref().unwrap_or(crate::speech::QUEUE);
    QUEUES
        .iter()
        .find(|q| **q == wanted)
        .copied()
        .ok_or_else(|| {
            Error::validation("unknown_queue", format!("Queues: {}.", QUEUES.join(", ")))
        })
}

/// `GET /api/admin/jobs/dead?queue=tts&limit=50`: dead-lettered jobs, newest first.
async fn dead(
    State(state): State<AppState>,
    _admin: Admin,
    ApiQuery(query): ApiQuery<QueueQuery>,
) -> Result<Json<serde_json::Value>> {
    let queue = queue_of(&query)?;
    let limit = query.limit.unwrap_or(50).clamp(1, 200);
    let jobs = state.speech.jobs.dead(queue, limit).await?;
    Ok(Json(json!({ "queue": queue, "jobs": jobs })))
}

/// `POST /api/admin/jobs/{id}/retry?queue=tts`: the dead job runs again with fresh
/// attempts.
async fn retry(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<QueueQuery>,
) -> Result<StatusCode> {
    let queue = queue_of(&query)?;
    if !state.speech.jobs.retry_dead(queue, &id).await? {
        return Err(Error::NotFound);
    }
    state.speech.wake.notify_one();
    Ok(StatusCode::NO_CONTENT)
}
