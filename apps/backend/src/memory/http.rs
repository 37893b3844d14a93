//! "What Solace remembers": the person sees, deletes and pauses their memory.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::store::{self, Item};
use super::{choices, choose, Choices, MemoryStatus};
use crate::auth::Identity;
use crate::chat::{Page, PageQuery};
use crate::error::Result;
use crate::extract::{ApiJson, ApiQuery};
use crate::openapi::{JsonBody, Missing, QueryString, SignedIn};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, forget_all))
        .routes(routes!(delete_item))
        .routes(routes!(set_choices))
}

#[derive(Debug, Serialize, ToSchema)]
struct MemoryPage {
    status: MemoryStatus,
    choices: Choices,
    /// Newest first.
    items: Vec<Item>,
    /// How many items there are in all.
    total: i64,
}

/// What Solace remembers of the caller's earlier conversations, newest first, with
/// their choices and whether memory runs here.
#[utoipa::path(get, path = "/memory", tag = "memory", params(PageQuery),
    security(("session_cookie" = []), ("bearer" = [])),
    responses((status = 200, description = "A page of remembered items.", body = MemoryPage), SignedIn, QueryString))]
async fn list(
    State(state): State<AppState>,
    identity: Identity,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<MemoryPage>> {
    let page = Page::new(query.limit, query.offset)?;
    let owner = &identity.user.id;
    let (items, total) = store::list(&state.db, owner, page).await?;
    Ok(Json(MemoryPage {
        status: state.memory.status().clone(),
        choices: choices(&state.db, owner).await?,
        items,
        total,
    }))
}

/// Forgets one remembered item.
#[utoipa::path(delete, path = "/memory/items/{id}", tag = "memory", params(("id" = String, Path)),
    security(("session_cookie" = []), ("bearer" = [])),
    responses((status = 204, description = "Forgotten."), SignedIn, Missing))]
async fn delete_item(
    State(state): State<AppState>,
    identity: Identity,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    store::delete(&state.db, &identity.user.id, &id).await?;
    state.memory.changed(&identity.user.id).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Forgets everything remembered of the caller (their conversations stay).
#[utoipa::path(delete, path = "/memory", tag = "memory",
    security(("session_cookie" = []), ("bearer" = [])),
    responses((status = 204, description = "Everything is forgotten."), SignedIn))]
async fn forget_all(State(state): State<AppState>, identity: Identity) -> Result<StatusCode> {
    store::forget(&state.db, &identity.user.id).await?;
    state.memory.changed(&identity.user.id).await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ChoicesInput {
    /// Stop remembering and recalling (what is remembered stays until deleted).
    paused: bool,
    /// Let moments the safety layer flagged be remembered too.
    hard_moments: bool,
}

/// Pauses or resumes memory, and says whether flagged moments may be remembered.
#[utoipa::path(put, path = "/memory/choices", tag = "memory", request_body = ChoicesInput,
    security(("session_cookie" = []), ("bearer" = [])),
    responses((status = 200, description = "The choices now.", body = Choices), SignedIn, JsonBody))]
async fn set_choices(
    State(state): State<AppState>,
    identity: Identity,
    ApiJson(input): ApiJson<ChoicesInput>,
) -> Result<Json<Choices>> {
    let wanted = Choices {
        paused: input.paused,
        hard_moments: input.hard_moments,
    };
    choose(&state.db, &identity.user.id, wanted).await?;
    Ok(Json(wanted))
}
