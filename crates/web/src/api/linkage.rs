//! The cross-border linkage service: `/api/v1/cases/{id}/linkage` puts a case's person in it
//! (or takes it out), `/api/v1/linkage/candidates` lists what the hub found and takes the
//! officers' decisions, and `/api/v1/regional/linkage` gives the hub's analysts its figures.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use enlace_app::App;
use enlace_app::fed::linkage::{
    CandidateView, CaseLinkage, DecisionRequest, EncodingView, LinkageRequest, RegionalLinkage,
};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::shares::case_id;
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, Auth};

/// The case's place in the linkage service: its side, its encodings, the candidates found.
#[utoipa::path(get, path = "/api/v1/cases/{id}/linkage", tag = "linkage",
    params(("id" = String, Path, description = "Case id")), security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = CaseLinkage), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn for_case(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<Json<CaseLinkage>, ApiError> {
    Ok(Json(app.case_linkage(&actor, case_id(&id)?).await?))
}

/// Puts the case's person in the service: a missing-person report, or a detained, hospitalised,
/// deceased or returned person. Passes the consent gate (a consent to cross-border sharing, or
/// the exception given here); the encoding (never the name) goes to the hub.
#[utoipa::path(post, path = "/api/v1/cases/{id}/linkage", tag = "linkage",
    params(("id" = String, Path, description = "Case id")), request_body = LinkageRequest,
    security(("bearer" = []), ("session" = [])),
    responses((status = 201, body = EncodingView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem), (status = 503, body = Problem)))]
pub async fn enrol(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    ApiJson(r): ApiJson<LinkageRequest>,
) -> Result<(StatusCode, Json<EncodingView>), ApiError> {
    Ok((StatusCode::CREATED, Json(app.enrol_linkage(&actor, case_id(&id)?, r).await?)))
}

/// How many encodings were withdrawn.
#[derive(Debug, Serialize, ToSchema)]
pub struct Withdrawn {
    pub withdrawn: usize,
}

/// Takes the case out of the service: its encodings are withdrawn here and at the hub.
#[utoipa::path(delete, path = "/api/v1/cases/{id}/linkage", tag = "linkage",
    params(("id" = String, Path, description = "Case id")), security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = Withdrawn), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn withdraw(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<Json<Withdrawn>, ApiError> {
    Ok(Json(Withdrawn { withdrawn: app.withdraw_linkage(&actor, case_id(&id)?).await? }))
}

/// The candidates of the cases you may read, undecided first.
#[utoipa::path(get, path = "/api/v1/linkage/candidates", tag = "linkage",
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = [CandidateView]), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn candidates(
    State(app): State<App>,
    Auth(actor): Auth,
) -> Result<Json<Vec<CandidateView>>, ApiError> {
    Ok(Json(app.linkage_candidates(&actor).await?))
}

/// Decides a candidate: the same person (then offer the case to the other state) or not.
/// Refused once expired or decided.
#[utoipa::path(post, path = "/api/v1/linkage/candidates/{id}/decision", tag = "linkage",
    params(("id" = String, Path, description = "Candidate id")), request_body = DecisionRequest,
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = CandidateView), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn decide(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    ApiJson(d): ApiJson<DecisionRequest>,
) -> Result<Json<CandidateView>, ApiError> {
    let id: Uuid = id.parse().map_err(|_| ApiError::from(enlace_app::AppError::NotFound("candidate")))?;
    Ok(Json(app.decide_candidate(&actor, id, d).await?))
}

/// The hub's linkage service in numbers: encodings per state and side, candidates by outcome
/// (regional analysts).
#[utoipa::path(get, path = "/api/v1/regional/linkage", tag = "linkage",
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = RegionalLinkage), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn regional(State(app): State<App>, Auth(actor): Auth) -> Result<Json<RegionalLinkage>, ApiError> {
    Ok(Json(app.regional_linkage(&actor).await?))
}
