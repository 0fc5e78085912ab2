//! `/api/v1/matches`: the review queue of possible matches between missing-person reports and
//! detained, hospitalised, deceased or returned persons; and `/api/v1/persons/candidates`, the
//! existing persons who may be the one being registered.

use axum::Json;
use axum::extract::{Path, State};
use enlace_app::App;
use enlace_app::matching::{
    CandidateQuery, MatchDecision, MatchPage, MatchStatus, MatchView, PersonCandidates,
};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiQuery, Auth};

/// The existing persons of this node who may be the one being registered, most probable first,
/// each with its score explained field by field and the cases you may read. Persons whose
/// cases you may not read are only counted (`withheld`).
#[utoipa::path(post, path = "/api/v1/persons/candidates", tag = "persons", request_body = CandidateQuery,
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = PersonCandidates), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn candidates(
    State(app): State<App>,
    Auth(actor): Auth,
    ApiJson(q): ApiJson<CandidateQuery>,
) -> Result<Json<PersonCandidates>, ApiError> {
    Ok(Json(app.person_candidates(&actor, q).await?))
}

/// Filters of `GET /api/v1/matches`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MatchListParams {
    /// `pending` (default), `same` or `not_same`.
    pub status: Option<MatchStatus>,
    /// From the previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// 1 to 100 (default 25).
    pub limit: Option<u32>,
}

/// The review queue of your state: possible matches whose two cases you may read, oldest first.
#[utoipa::path(get, path = "/api/v1/matches", tag = "matches", params(MatchListParams),
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = MatchPage), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn list(
    State(app): State<App>,
    Auth(actor): Auth,
    ApiQuery(p): ApiQuery<MatchListParams>,
) -> Result<Json<MatchPage>, ApiError> {
    let status = p.status.unwrap_or_default();
    Ok(Json(app.list_matches(&actor, status, p.cursor.as_deref(), p.limit.unwrap_or(25)).await?))
}

/// Decides a pending match: the same person (the cases are linked, never merged) or not the
/// same person (the pair is never proposed again). Audited.
#[utoipa::path(post, path = "/api/v1/matches/{id}/decision", tag = "matches",
    params(("id" = String, Path, description = "Match id")), request_body = MatchDecision,
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = MatchView), (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn decide(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    ApiJson(d): ApiJson<MatchDecision>,
) -> Result<Json<MatchView>, ApiError> {
    let id = id.parse().map_err(|_| ApiError::from(enlace_app::AppError::NotFound("match")))?;
    Ok(Json(app.decide_match(&actor, id, d).await?))
}

/// The possible matches that involve a case (pending and decided).
#[utoipa::path(get, path = "/api/v1/cases/{id}/matches", tag = "matches",
    params(("id" = String, Path, description = "Case id")), security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = Vec<MatchView>), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn for_case(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<Json<Vec<MatchView>>, ApiError> {
    let id = id.parse().map_err(|_| ApiError::from(enlace_app::AppError::NotFound("case")))?;
    Ok(Json(app.case_matches(&actor, id).await?))
}
