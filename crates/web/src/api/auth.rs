//! Sign-in (bearer tokens for programs, cookie sessions for the browser), sign-out, who am I.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use enlace_app::App;
use enlace_app::auth::{Credentials, IssuedToken};
use enlace_app::mfa::{MfaCode, MfaEnrolment, RecoveryCodes};
use enlace_domain::user::User;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, Auth, ClientAddr, SESSION_COOKIE, bearer, session_cookie};

/// Exchanges credentials for a bearer token (shown once).
#[utoipa::path(post, path = "/api/v1/auth/token", tag = "auth", request_body = Credentials,
    responses((status = 200, body = IssuedToken), (status = 401, body = Problem), (status = 422, body = Problem),
        (status = 429, body = Problem)))]
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
#[utoipa::path(get, path = "/api/v1/me", tag = "auth", security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = User), (status = 401, body = Problem)))]
pub async fn me(Auth(actor): Auth) -> Json<User> {
    Json(actor.user)
}

/// A browser session: the user, and the CSRF token to send as `X-CSRF-Token` with every
/// state-changing request.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionInfo {
    pub user: User,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

fn session_cookie_header(value: &str, max_age: i64) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/; Max-Age={max_age}; HttpOnly; Secure; SameSite=Strict"
    ))
    .expect("cookie characters")
}

/// Signs in for the browser: sets the session cookie (HttpOnly, Secure, SameSite=Strict).
#[utoipa::path(post, path = "/api/v1/auth/session", tag = "auth", request_body = Credentials,
    responses((status = 200, body = SessionInfo), (status = 401, body = Problem), (status = 422, body = Problem),
        (status = 429, body = Problem)))]
pub async fn start_session(
    State(app): State<App>,
    ClientAddr(addr): ClientAddr,
    ApiJson(c): ApiJson<Credentials>,
) -> Result<Response, ApiError> {
    let s = app.start_session(c, addr).await?;
    let max_age = (s.expires_at - Utc::now()).num_seconds().max(0);
    let mut res = Json(SessionInfo { user: s.user, csrf_token: s.csrf_token, expires_at: s.expires_at })
        .into_response();
    res.headers_mut().insert(header::SET_COOKIE, session_cookie_header(&s.secret, max_age));
    Ok(res)
}

/// The current browser session (and its CSRF token).
#[utoipa::path(get, path = "/api/v1/auth/session", tag = "auth", security(("session" = [])),
    responses((status = 200, body = SessionInfo), (status = 401, body = Problem)))]
pub async fn current_session(
    State(app): State<App>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
) -> Result<Json<SessionInfo>, ApiError> {
    let secret = session_cookie(&headers)
        .ok_or_else(|| ApiError::from(enlace_app::AppError::Unauthorized("no session cookie".into())))?;
    let s = app.session(&secret, addr).await?;
    Ok(Json(SessionInfo { user: s.actor.user, csrf_token: s.csrf_token, expires_at: s.expires_at }))
}

/// Signs out of this browser session (send the CSRF token); the cookie is cleared.
#[utoipa::path(delete, path = "/api/v1/auth/session", tag = "auth", security(("session" = [])),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn end_session(
    State(app): State<App>,
    Auth(actor): Auth,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(secret) = session_cookie(&headers) {
        app.end_session(&actor, &secret).await?;
    }
    let mut res = StatusCode::NO_CONTENT.into_response();
    res.headers_mut().insert(header::SET_COOKIE, session_cookie_header("", 0));
    Ok(res)
}

/// Ends every session and every personal token of the signed-in user.
#[utoipa::path(post, path = "/api/v1/auth/sign-out-everywhere", tag = "auth",
    security(("bearer" = []), ("session" = [])),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn sign_out_everywhere(State(app): State<App>, Auth(actor): Auth) -> Result<Response, ApiError> {
    app.sign_out_everywhere(&actor).await?;
    let mut res = StatusCode::NO_CONTENT.into_response();
    res.headers_mut().insert(header::SET_COOKIE, session_cookie_header("", 0));
    Ok(res)
}

/// Starts enrolment in two-factor sign-in: a new secret and its QR code for the
/// authenticator app. It takes effect once a code from it is confirmed.
#[utoipa::path(post, path = "/api/v1/auth/mfa/enrol", tag = "auth", security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = MfaEnrolment), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn mfa_enrol(State(app): State<App>, Auth(actor): Auth) -> Result<Json<MfaEnrolment>, ApiError> {
    Ok(Json(app.start_mfa_enrolment(&actor).await?))
}

/// Confirms enrolment with a current code; answers the recovery codes, shown this once.
#[utoipa::path(post, path = "/api/v1/auth/mfa/confirm", tag = "auth", request_body = MfaCode,
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = RecoveryCodes), (status = 401, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn mfa_confirm(
    State(app): State<App>,
    Auth(actor): Auth,
    ApiJson(c): ApiJson<MfaCode>,
) -> Result<Json<RecoveryCodes>, ApiError> {
    Ok(Json(app.confirm_mfa(&actor, &c.code).await?))
}
