//! `/api/v1/stats`: the node's statistics for a period (issue 7).

use axum::Json;
use axum::extract::State;
use enlace_app::App;
use enlace_app::hub::RegionalStats;
use enlace_app::stats::NodeStats;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiQuery, Auth};

/// Which statistics.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatsParams {
    /// A year (`2026`), a half (`2026-H1`) or a quarter (`2026-Q3`); not in the future.
    /// Default: the current half-year.
    pub period: Option<String>,
    /// `true`: the view that may leave the node (small counts and what would reveal them
    /// suppressed). Regional analysts and liaison officers always get it.
    pub published: Option<bool>,
}

/// Cases opened, closed and open in the period by nationality, host state, post, category,
/// subtype, sex, age band, unaccompanied and vulnerability flags, return route and outcome,
/// with art. 36 delays; for the caller's state (supervisors and administrators: as they are,
/// unless `published`; regional analysts and liaison officers: suppressed).
#[utoipa::path(get, path = "/api/v1/stats", tag = "stats", params(StatsParams),
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = NodeStats), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn get(
    State(app): State<App>,
    Auth(actor): Auth,
    ApiQuery(p): ApiQuery<StatsParams>,
) -> Result<Json<NodeStats>, ApiError> {
    let period = p.period.unwrap_or_else(enlace_app::stats::current_half);
    Ok(Json(app.node_stats(&actor, &period, p.published.unwrap_or(false)).await?))
}

/// Which period to send to the hub.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"period": "2026-H1"}))]
pub struct SubmitRequest {
    /// A year, a half or a quarter that has started.
    pub period: String,
}

/// A submission queued for the hub.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubmitResponse {
    pub period: String,
    /// The relay delivers it (and retries until the hub's signed receipt comes back).
    pub queued: bool,
}

/// Sends the published (suppressed) statistics of your state for a period to the network's
/// hub, signed, through the outbox (protection supervisors and country administrators; a
/// federated node only).
#[utoipa::path(post, path = "/api/v1/stats/submissions", tag = "stats", request_body = SubmitRequest,
    security(("bearer" = []), ("session" = [])),
    responses((status = 202, body = SubmitResponse), (status = 403, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn submit(
    State(app): State<App>,
    Auth(actor): Auth,
    ApiJson(r): ApiJson<SubmitRequest>,
) -> Result<(axum::http::StatusCode, Json<SubmitResponse>), ApiError> {
    let p = app.submit_stats(&actor, &r.period).await?;
    Ok((axum::http::StatusCode::ACCEPTED, Json(SubmitResponse { period: p.label, queued: true })))
}

/// Which regional period.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RegionalParams {
    /// A year, a half or a quarter; default: the current half-year.
    pub period: Option<String>,
}

/// The hub's regional view of a period: each state's published figures (cases opened, by
/// category, art. 36 delays) beside the previous period (regional analysts).
#[utoipa::path(get, path = "/api/v1/regional/stats", tag = "stats", params(RegionalParams),
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = RegionalStats), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn regional(
    State(app): State<App>,
    Auth(actor): Auth,
    ApiQuery(p): ApiQuery<RegionalParams>,
) -> Result<Json<RegionalStats>, ApiError> {
    let period = p.period.unwrap_or_else(enlace_app::stats::current_half);
    Ok(Json(app.regional_stats(&actor, &period).await?))
}
