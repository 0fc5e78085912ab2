//! Sign-in with a user name and password for a bearer token; sign-out; who am I.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use enlace_app::App;
use enlace_app::auth::{Credentials, IssuedToken};
use enlace_domain::user::User;

use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, Auth, ClientAddr, bearer};

/// Exchanges credentials for a bearer token (shown once).
#[utoipa::path(post, path = "/api/v1/auth/token", tag = "auth", request_body = Credentials,
    responses((status = 200, body = IssuedToken), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn token(
    State(app): State<App>,
    ClientAddr(addr): ClientAddr,
    ApiJson(c): ApiJson<Credentials>,
) -> Result<Json<IssuedToken>, ApiError> {
    Ok(Json(app.login(c, addr).await?))
}

/// Revokes the bearer token used for this request.
#[utoipa::path(delete, path = "/api/v1/auth/token", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = Problem)))]
pub async fn logout(
    State(app): State<App>,
    Auth(actor): Auth,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let token = bearer(&headers).unwrap_or_default();
    app.logout(&actor, &token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = User), (status = 401, body = Problem)))]
pub async fn me(Auth(actor): Auth) -> Json<User> {
    Json(actor.user)
}
