//! `/api/v1/admin`: the country administrator's integration tokens.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use enlace_app::App;
use enlace_app::auth::{ApiTokenInfo, IssuedApiToken, NewApiToken};
use enlace_app::mfa::MfaPolicy;
use enlace_app::users::{AccountChange, NewAccount};
use enlace_domain::retention::RetentionRule;
use enlace_domain::user::User;

use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, Auth};

/// Creates an integration account and its token for the administrator's state. The token is
/// shown once.
#[utoipa::path(post, path = "/api/v1/admin/api-tokens", tag = "admin", request_body = NewApiToken,
    security(("bearer" = []), ("session" = [])),
    responses((status = 201, body = IssuedApiToken), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_token(
    State(app): State<App>,
    Auth(actor): Auth,
    ApiJson(n): ApiJson<NewApiToken>,
) -> Result<(StatusCode, Json<IssuedApiToken>), ApiError> {
    Ok((StatusCode::CREATED, Json(app.create_api_token(&actor, n).await?)))
}

/// The integration tokens of the administrator's state (never their secrets).
#[utoipa::path(get, path = "/api/v1/admin/api-tokens", tag = "admin", security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = [ApiTokenInfo]), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn tokens(State(app): State<App>, Auth(actor): Auth) -> Result<Json<Vec<ApiTokenInfo>>, ApiError> {
    Ok(Json(app.api_tokens(&actor).await?))
}

/// Revokes an integration token at once.
#[utoipa::path(delete, path = "/api/v1/admin/api-tokens/{id}", tag = "admin",
    params(("id" = String, Path, description = "The token's id")),
    security(("bearer" = []), ("session" = [])),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn revoke_token(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = id.parse().map_err(|_| ApiError::from(enlace_app::AppError::NotFound("API token")))?;
    app.revoke_api_token(&actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The retention rules of the user's state (administrators and auditors).
#[utoipa::path(get, path = "/api/v1/admin/retention-rules", tag = "admin", security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = [RetentionRule]), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn retention_rules(
    State(app): State<App>,
    Auth(actor): Auth,
) -> Result<Json<Vec<RetentionRule>>, ApiError> {
    Ok(Json(app.retention_rules(&actor).await?))
}

/// Sets how long closed cases of a category are kept, and what happens then (purge or
/// anonymise), for the administrator's state.
#[utoipa::path(put, path = "/api/v1/admin/retention-rules", tag = "admin", request_body = RetentionRule,
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = RetentionRule), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, body = Problem)))]
pub async fn set_retention_rule(
    State(app): State<App>,
    Auth(actor): Auth,
    ApiJson(r): ApiJson<RetentionRule>,
) -> Result<Json<RetentionRule>, ApiError> {
    Ok(Json(app.set_retention_rule(&actor, r).await?))
}

/// The state's two-factor sign-in policy.
#[utoipa::path(get, path = "/api/v1/admin/mfa-policy", tag = "admin", security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = MfaPolicy), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn mfa_policy(State(app): State<App>, Auth(actor): Auth) -> Result<Json<MfaPolicy>, ApiError> {
    Ok(Json(app.mfa_policy(&actor).await?))
}

/// Requires two-factor sign-in of everyone of the state (supervisors, administrators and
/// auditors always use it).
#[utoipa::path(put, path = "/api/v1/admin/mfa-policy", tag = "admin", request_body = MfaPolicy,
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = MfaPolicy), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn set_mfa_policy(
    State(app): State<App>,
    Auth(actor): Auth,
    ApiJson(p): ApiJson<MfaPolicy>,
) -> Result<Json<MfaPolicy>, ApiError> {
    Ok(Json(app.set_mfa_policy(&actor, p).await?))
}

/// The accounts of the administrator's state.
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin", security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = [User]), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn users(State(app): State<App>, Auth(actor): Auth) -> Result<Json<Vec<User>>, ApiError> {
    Ok(Json(app.users(&actor).await?))
}

/// Creates an account of the administrator's state.
#[utoipa::path(post, path = "/api/v1/admin/users", tag = "admin", request_body = NewAccount,
    security(("bearer" = []), ("session" = [])),
    responses((status = 201, body = User), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_user(
    State(app): State<App>,
    Auth(actor): Auth,
    ApiJson(n): ApiJson<NewAccount>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    Ok((StatusCode::CREATED, Json(app.create_account(&actor, n).await?)))
}

/// Changes an account: role, post, disabled, sensitive-data permission, second-factor reset.
#[utoipa::path(patch, path = "/api/v1/admin/users/{id}", tag = "admin", request_body = AccountChange,
    params(("id" = String, Path, description = "The user's id")), security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = User), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn change_user(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    ApiJson(ch): ApiJson<AccountChange>,
) -> Result<Json<User>, ApiError> {
    let id = id.parse().map_err(|_| ApiError::from(enlace_app::AppError::NotFound("user")))?;
    Ok(Json(app.change_account(&actor, id, ch).await?))
}
