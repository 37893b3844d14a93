//! The person's own safety plan: warning signs, what helps, who to reach, reasons to
//! live. Offered from every crisis reply; kept per identity, exported and deleted with
//! the rest of their data, and moved along when a guest creates an account.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Identity;
use crate::db::{col, now_ms, Db};
use crate::error::{Error, ErrorCode, Result};
use crate::extract::ApiJson;
use crate::state::AppState;
use crate::vault::Slot;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(show, save))
}

/// The steps of the plan, each a short list in the person's own words.
/// The Stanley–Brown safety plan's sections, each at most 20 entries of 500 characters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SafetyPlan {
    #[serde(default)]
    pub warning_signs: Vec<String>,
    #[serde(default)]
    pub coping_strategies: Vec<String>,
    /// People and places that take the mind off things.
    #[serde(default)]
    pub distractions: Vec<String>,
    /// People to ask for help, with how to reach them.
    #[serde(default)]
    pub people_to_contact: Vec<String>,
    /// Professionals and services, including crisis lines.
    #[serde(default)]
    pub professionals: Vec<String>,
    /// Making the surroundings safer.
    #[serde(default)]
    pub safe_environment: Vec<String>,
    #[serde(default)]
    pub reasons_to_live: Vec<String>,
}

impl SafetyPlan {
    const MAX_ITEMS: usize = 20;
    const MAX_CHARS: usize = 500;

    /// Trims every entry, drops empty ones and enforces the limits.
    fn validated(self) -> Result<Self> {
        let clean = |field: &'static str, items: Vec<String>| -> Result<Vec<String>> {
            let items: Vec<String> = items
                .into_iter()
                .map(|item| item.trim().to_owned())
                .filter(|item| !item.is_empty())
                .collect();
            if items.len() > Self::MAX_ITEMS {
                return Err(Error::validation(
                    ErrorCode::PlanTooManyItems,
                    format!("{field}: at most {} entries.", Self::MAX_ITEMS),
                ));
            }
            if items.iter().any(|i| i.chars().count() > Self::MAX_CHARS) {
                return Err(Error::validation(
                    ErrorCode::PlanItemTooLong,
                    format!(
                        "{field}: each entry can be at most {} characters.",
                        Self::MAX_CHARS
                    ),
                ));
            }
            Ok(items)
        };
        Ok(Self {
            warning_signs: clean("warning_signs", self.warning_signs)?,
            coping_strategies: clean("coping_strategies", self.coping_strategies)?,
            distractions: clean("distractions", self.distractions)?,
            people_to_contact: clean("people_to_contact", self.people_to_contact)?,
            professionals: clean("professionals", self.professionals)?,
            safe_environment: clean("safe_environment", self.safe_environment)?,
            reasons_to_live: clean("reasons_to_live", self.reasons_to_live)?,
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
struct PlanResponse {
    plan: SafetyPlan,
    /// Null until a plan is saved.
    #[serde(with = "crate::db::rfc3339_ms::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    #[schema(required = true)]
    updated_at: Option<i64>,
}

/// The caller's safety plan, empty when none was written yet.
#[utoipa::path(get, path = "/me/safety-plan", tag = "safety",
    security(("session_cookie" = []), ("bearer" = [])),
    responses((status = 200, description = "The plan.", body = PlanResponse), crate::openapi::SignedIn))]
async fn show(State(state): State<AppState>, identity: Identity) -> Result<Json<PlanResponse>> {
    let (plan, updated_at) = match load(&state.db, &identity.user.id).await? {
        Some((plan, at)) => (plan, Some(at)),
        None => (SafetyPlan::default(), None),
    };
    Ok(Json(PlanResponse { plan, updated_at }))
}

/// Replaces the caller's safety plan; blank entries are dropped.
#[utoipa::path(put, path = "/me/safety-plan", tag = "safety", request_body = SafetyPlan,
    security(("session_cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The saved plan.", body = PlanResponse),
        crate::openapi::SignedIn, crate::openapi::JsonBody,
    ))]
async fn save(
    State(state): State<AppState>,
    identity: Identity,
    ApiJson(plan): ApiJson<SafetyPlan>,
) -> Result<Json<PlanResponse>> {
    let plan = plan.validated()?;
    let now = now_ms();
    let json = serde_json::to_string(&plan)
        .map_err(|e| Error::Startup(format!("cannot encode a safety plan: {e}")))?;
    let json = state
        .db
        .vault()?
        .sealer(&identity.user.id)
        .await?
        .seal_text(slot(), &json)?;
    sqlx::query(
        "INSERT INTO safety_plans (user_id, plan, created_at, updated_at) VALUES ($1, $2, $3, $3) \
         ON CONFLICT (user_id) DO UPDATE SET plan = excluded.plan, updated_at = excluded.updated_at",
    )
    .bind(identity.user.id.clone())
    .bind(json)
    .bind(now)
    .execute(state.db.pool())
    .await?;
    Ok(Json(PlanResponse {
        plan,
        updated_at: Some(now),
    }))
}

/// Where a plan is sealed: one per person, bound to the column alone, since its row's
/// key (the owner) changes when a guest's plan moves into their account.
fn slot() -> Slot<'static> {
    Slot::new(PLAN_SLOT, SAFETY_PLAN_ROW)
}

pub const PLAN_SLOT: &str = "safety_plans.plan";
pub use crate::vault::plain::SAFETY_PLAN_ROW;

/// The owner's plan and when it last changed.
pub async fn load(db: &Db, owner_id: &str) -> Result<Option<(SafetyPlan, i64)>> {
    let row = sqlx::query("SELECT plan, updated_at FROM safety_plans WHERE user_id = $1")
        .bind(owner_id.to_owned())
        .fetch_optional(db.pool())
        .await?;
    let Some(row) = row else { return Ok(None) };
    let plan = db.vault()?.open_text(slot(), col(&row, "plan")?).await?;
    let plan =
        serde_json::from_str(&plan).map_err(|e| Error::Database(sqlx::Error::Decode(e.into())))?;
    Ok(Some((plan, col(&row, "updated_at")?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_trimmed_and_blank_ones_dropped() {
        let plan = SafetyPlan {
            warning_signs: vec!["  can't sleep ".into(), "   ".into()],
            ..SafetyPlan::default()
        }
        .validated();
        assert_eq!(
            plan.ok().map(|p| p.warning_signs),
            Some(vec!["can't sleep".to_owned()])
        );
    }

    #[test]
    fn limits_are_enforced() {
        let too_many = SafetyPlan {
            reasons_to_live: vec!["x".into(); SafetyPlan::MAX_ITEMS + 1],
            ..SafetyPlan::default()
        };
        assert!(too_many.validated().is_err());
        let too_long = SafetyPlan {
            people_to_contact: vec!["y".repeat(SafetyPlan::MAX_CHARS + 1)],
            ..SafetyPlan::default()
        };
        assert!(too_long.validated().is_err());
    }
}
