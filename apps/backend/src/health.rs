//! Liveness and readiness probes.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use solace_ai::safety::DetectorStatus;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ErrorCode;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
}

#[derive(Debug, Serialize, ToSchema)]
struct Alive {
    /// Always `ok`.
    status: &'static str,
    /// The server's version.
    version: &'static str,
}

/// The process is up and serving; says nothing about its dependencies.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "Alive.", body = Alive)))]
async fn healthz() -> Json<Alive> {
    Json(Alive {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
    })
}

/// `ok` or `failing`, and which engine answers.
#[derive(Debug, Serialize, ToSchema)]
struct Dependency {
    status: &'static str,
    engine: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
struct ModelCheck {
    /// `ok` or `not_configured`.
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
struct SafetyCheck {
    /// `ok` with the learned layer, `rules_only` without its files.
    status: &'static str,
    detector: DetectorStatus,
    /// Whether a language model judges messages beside the reply.
    judge: bool,
}

#[derive(Debug, Serialize, ToSchema)]
struct Checks {
    database: Dependency,
    cache: Dependency,
    model: ModelCheck,
    safety: SafetyCheck,
}

#[derive(Debug, Serialize, ToSchema)]
struct Ready {
    /// `ready`.
    status: &'static str,
    checks: Checks,
}

#[derive(Debug, Serialize, ToSchema)]
struct NotReady {
    /// `not_ready`.
    error: ErrorCode,
    message: &'static str,
    checks: Checks,
}

/// The app can do useful work: the database and the cache answer (the model is reported,
/// not required).
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses(
        (status = 200, description = "Ready, with what each dependency says.", body = Ready),
        (status = 503, description = "The database or the cache is not answering.", body = NotReady),
    ))]
async fn readyz(State(state): State<AppState>) -> Response {
    let database = state.db.ping().await;
    let cache = state.cache.ping().await;
    if let Err(e) = &database {
        tracing::warn!(error = %e, "readiness: database check failed");
    }
    if let Err(e) = &cache {
        tracing::warn!(error = %e, "readiness: cache check failed");
    }
    let check = |ok: bool| if ok { "ok" } else { "failing" };
    let detector = state.supporter.detector.status().clone();
    let checks = Checks {
        database: Dependency {
            status: check(database.is_ok()),
            engine: state.db.kind().as_str(),
        },
        cache: Dependency {
            status: check(cache.is_ok()),
            engine: state.cache.backend(),
        },
        model: match state.model.get() {
            Some(model) => ModelCheck {
                status: "ok",
                name: Some(model.name()),
            },
            None => ModelCheck {
                status: "not_configured",
                name: None,
            },
        },
        safety: SafetyCheck {
            status: if detector.learned { "ok" } else { "rules_only" },
            detector,
            judge: state.supporter.judge.is_some() && state.model.is_some(),
        },
    };
    if database.is_ok() && cache.is_ok() {
        (
            StatusCode::OK,
            Json(Ready {
                status: "ready",
                checks,
            }),
        )
            .into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(NotReady {
                error: ErrorCode::NotReady,
                message: "A dependency is not answering.",
                checks,
            }),
        )
            .into_response()
    }
}
