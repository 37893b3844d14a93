//! Crisis lines for the caller's region, shared by the web app and the safety layer.

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::Json;
use serde::{Deserialize, Serialize};
use solace_ai::CrisisLine;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{Error, ErrorCode, Result};
use crate::extract::ApiQuery;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(resources))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct RegionQuery {
    /// ISO 3166-1 alpha-2, e.g. `US`; by default the region of `Accept-Language`.
    #[param(pattern = "^\\s*[A-Za-z]{2}\\s*$")]
    region: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
struct Resources {
    #[schema(required = true)]
    region: Option<String>,
    lines: Vec<CrisisLine>,
}

/// Crisis lines for a region, international ones last. Public: it needs no session.
#[utoipa::path(get, path = "/crisis/resources", tag = "safety", params(RegionQuery),
    responses((status = 200, description = "The lines.", body = Resources), crate::openapi::QueryString))]
async fn resources(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<RegionQuery>,
) -> Result<Json<Resources>> {
    let region = match query.region {
        Some(raw) => Some(parse_region(&raw)?),
        None => region_from_headers(&headers),
    };
    let lines = state
        .crisis
        .for_region(region.as_deref())
        .into_iter()
        .cloned()
        .collect();
    Ok(Json(Resources { region, lines }))
}

/// A two-letter region code, upper-cased.
fn parse_region(raw: &str) -> Result<String> {
    let raw = raw.trim();
    if raw.len() == 2 && raw.chars().all(|c| c.is_ascii_alphabetic()) {
        Ok(raw.to_ascii_uppercase())
    } else {
        Err(Error::validation(
            ErrorCode::InvalidRegion,
            "region must be a two-letter country code such as US or GB.",
        ))
    }
}

/// The caller's region, from their browser's `Accept-Language`.
pub fn region_from_headers(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(region_from_accept_language)
}

/// The region of the first language tag that names one: `en-GB,en;q=0.8` → `GB`.
fn region_from_accept_language(value: &str) -> Option<String> {
    value
        .split(',')
        .filter_map(|part| part.split(';').next())
        .filter_map(|tag| tag.trim().split(['-', '_']).nth(1))
        .find(|region| region.len() == 2 && region.chars().all(|c| c.is_ascii_alphabetic()))
        .map(str::to_ascii_uppercase)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_comes_from_the_first_tag_that_has_one() {
        assert_eq!(
            region_from_accept_language("en-GB,en;q=0.8").as_deref(),
            Some("GB")
        );
        assert_eq!(
            region_from_accept_language("fr;q=0.9, en_us").as_deref(),
            Some("US")
        );
        assert_eq!(region_from_accept_language("zh-Hant-TW"), None);
        assert_eq!(region_from_accept_language("de"), None);
    }

    #[test]
    fn region_codes_are_two_letters() {
        assert_eq!(parse_region(" ie ").ok().as_deref(), Some("IE"));
        assert!(parse_region("USA").is_err());
        assert!(parse_region("1A").is_err());
    }
}
