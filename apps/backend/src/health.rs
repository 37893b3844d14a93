//! Liveness and readiness probes.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::app::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// The process is up and serving; says nothing about its dependencies.
async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

/// The app can do useful work: the database and the cache answer (the model is reported,
/// not required).
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
    let checks = json!({
        "database": { "status": check(database.is_ok()), "engine": state.db.kind().as_str() },
        "cache": { "status": check(cache.is_ok()), "engine": state.cache.backend() },
        // Informational: without a model the app still serves crisis replies and the rest.
        "model": match &state.model {
            Some(model) => json!({ "status": "ok", "name": model.name() }),
            None => json!({ "status": "not_configured" }),
        },
        // Informational too: without the learned layer the rules still catch the plain cases.
        "safety": {
            "status": if state.supporter.detector.status().learned { "ok" } else { "rules_only" },
            "detector": state.supporter.detector.status(),
            "judge": state.supporter.judge.is_some(),
        },
    });
    if database.is_ok() && cache.is_ok() {
        (
            StatusCode::OK,
            Json(json!({ "status": "ready", "checks": checks })),
        )
            .into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({
                "error": "not_ready",
                "message": "A dependency is not answering.",
                "checks": checks,
            })),
        )
            .into_response()
    }
}
