//! Health, the OpenAPI document, and reference data.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use enlace_app::App;
use enlace_domain::country::{COUNTRIES, CountryCode};
use enlace_domain::post::Post;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, Problem};
use crate::extract::{ApiQuery, Auth};

#[derive(Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
}

/// Alive and able to serve: answers 200 when the database answers.
#[utoipa::path(get, path = "/healthz", tag = "meta",
    responses((status = 200, body = Health), (status = 503, body = Problem)))]
pub async fn healthz(State(app): State<App>) -> Result<Json<Health>, ApiError> {
    app.db().ping().await.map_err(|e| {
        tracing::warn!(error = %e, "health check failed");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Unavailable",
            "the database does not answer",
        )
    })?;
    Ok(Json(Health { status: "ok" }))
}

/// Ready: the database answers, its migrations are current and, on a node of a network, it
/// holds a current directory (without one it refuses every message).
#[utoipa::path(get, path = "/readyz", tag = "meta",
    responses((status = 200, body = Health), (status = 503, body = Problem)))]
pub async fn readyz(State(app): State<App>) -> Result<Json<Health>, ApiError> {
    app.ready().await.map_err(|e| {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "Unavailable", e.to_string())
    })?;
    Ok(Json(Health { status: "ready" }))
}

/// This API's OpenAPI 3.1 document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta", responses((status = 200, description = "The OpenAPI document")))]
pub async fn openapi() -> Response {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], crate::openapi::openapi_json()).into_response()
}

#[derive(Serialize, ToSchema)]
pub struct StateInfo {
    pub code: &'static str,
    pub name_en: &'static str,
    pub name_es: &'static str,
    pub name_fr: &'static str,
    /// Member of the Regional Conference on Migration.
    pub crm_member: bool,
    pub languages: &'static [&'static str],
}

/// Every ISO 3166-1 state, members of the CRM flagged.
#[utoipa::path(get, path = "/api/v1/states", tag = "reference", security(("bearer" = [])),
    responses((status = 200, body = [StateInfo]), (status = 401, body = Problem)))]
pub async fn states(Auth(_): Auth) -> Json<Vec<StateInfo>> {
    Json(
        COUNTRIES
            .iter()
            .map(|c| StateInfo {
                code: c.code,
                name_en: c.name_en,
                name_es: c.name_es,
                name_fr: c.name_fr,
                crm_member: c.crm_member,
                languages: c.languages,
            })
            .collect(),
    )
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PostParams {
    /// Only the posts of this state.
    pub state: Option<String>,
}

/// Consular posts on this node.
#[utoipa::path(get, path = "/api/v1/posts", tag = "reference", params(PostParams), security(("bearer" = [])),
    responses((status = 200, body = [Post]), (status = 400, body = Problem), (status = 401, body = Problem)))]
pub async fn posts(
    State(app): State<App>,
    Auth(_): Auth,
    ApiQuery(p): ApiQuery<PostParams>,
) -> Result<Json<Vec<Post>>, ApiError> {
    let state = p
        .state
        .map(|s| CountryCode::parse(&s))
        .transpose()
        .map_err(|e| ApiError::field(StatusCode::BAD_REQUEST, "bad-query", "state", e.to_string()))?;
    Ok(Json(app.posts(state).await?))
}
