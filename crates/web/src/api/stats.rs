//! `/api/v1/stats`: the node's statistics for a period (issue 7).

use axum::Json;
use axum::extract::State;
use enlace_app::App;
use enlace_app::stats::NodeStats;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::{ApiError, Problem};
use crate::extract::{ApiQuery, Auth};

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
