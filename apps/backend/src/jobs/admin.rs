//! Dead letters for administrators: what failed for good, and a second chance once the
//! cause is fixed (a key renewed, a voice installed).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Admin;
use crate::error::{Error, ErrorCode, Result};
use crate::extract::ApiQuery;
use crate::jobs::QUEUES;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(dead))
        .routes(routes!(retry))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct QueueQuery {
    /// The queue; `tts` (the only one) by default.
    queue: Option<String>,
    /// How many; 50 by default, at most 200 (larger values are capped).
    #[param(minimum = 0)]
    limit: Option<usize>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct DeadJobs {
    queue: &'static str,
    jobs: Vec<crate::jobs::DeadJob>,
}

fn queue_of(query: &QueueQuery) -> Result<&'static str> {
    let wanted = query.queue.as_deref().unwrap_or(crate::speech::QUEUE);
    QUEUES
        .iter()
        .find(|q| **q == wanted)
        .copied()
        .ok_or_else(|| {
            Error::validation(
                ErrorCode::UnknownQueue,
                format!("Queues: {}.", QUEUES.join(", ")),
            )
        })
}

/// Dead-lettered jobs, newest first.
#[utoipa::path(get, path = "/admin/jobs/dead", tag = "admin", params(QueueQuery),
    security(("session_cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The dead jobs.", body = DeadJobs),
        crate::openapi::SignedIn, crate::openapi::QueryString,
    ))]
async fn dead(
    State(state): State<AppState>,
    _admin: Admin,
    ApiQuery(query): ApiQuery<QueueQuery>,
) -> Result<Json<DeadJobs>> {
    let queue = queue_of(&query)?;
    let limit = query.limit.unwrap_or(50).clamp(1, 200);
    let jobs = state.speech.jobs.dead(queue, limit).await?;
    Ok(Json(DeadJobs { queue, jobs }))
}

/// The dead job runs again with fresh attempts.
#[utoipa::path(post, path = "/admin/jobs/{id}/retry", tag = "admin", params(("id" = String, Path, description = "The job."), QueueQuery),
    security(("session_cookie" = []), ("bearer" = [])),
    responses(
        (status = 204, description = "Queued again."),
        crate::openapi::SignedIn, crate::openapi::QueryString, crate::openapi::Missing,
    ))]
async fn retry(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<QueueQuery>,
) -> Result<StatusCode> {
    let queue = queue_of(&query)?;
    if !state.speech.jobs.retry_dead(queue, &id).await? {
        return Err(Error::NotFound);
    }
    state.speech.wake.notify_one();
    state.memory.wake.notify_one();
    crate::admin::audit(
        &state.db,
        &admin.user.id,
        "job.retried",
        "job",
        Some(&id),
        Some(queue),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
