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

/// Begins sign-in with the state's identity provider (when configured): a redirect to it.
#[utoipa::path(get, path = "/api/v1/auth/oidc/login", tag = "auth",
    responses((status = 303, description = "To the identity provider"), (status = 404, body = Problem)))]
pub async fn oidc_login(State(app): State<App>) -> Result<Response, ApiError> {
    let url = app.start_oidc().await?;
    let mut res = StatusCode::SEE_OTHER.into_response();
    res.headers_mut().insert(
        header::LOCATION,
        HeaderValue::from_str(&url)
            .map_err(|_| ApiError::bad_request("the provider's URL is not a valid header"))?,
    );
    Ok(res)
}

/// The identity provider's answer (query parameters it sends; others it may add are ignored).
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OidcCallback {
    pub code: Option<String>,
    pub state: Option<String>,
    /// Set by the provider when the person did not sign in.
    pub error: Option<String>,
}

/// Where the identity provider sends the browser back: opens the session and goes home.
#[utoipa::path(get, path = "/api/v1/auth/oidc/callback", tag = "auth", params(OidcCallback),
    responses((status = 303, description = "Signed in; to the home page, with the session cookie"),
        (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn oidc_callback(
    State(app): State<App>,
    ClientAddr(addr): ClientAddr,
    axum::extract::Query(q): axum::extract::Query<OidcCallback>,
) -> Result<Response, ApiError> {
    let (Some(code), Some(state)) = (q.code.as_deref(), q.state.as_deref()) else {
        let why = q.error.as_deref().unwrap_or("the answer has no code");
        let msg = format!(
            "the identity provider did not sign you in ({})",
            why.chars().take(100).collect::<String>()
        );
        return Err(ApiError::from(enlace_app::AppError::Unauthorized(msg)));
    };
    let s = app.finish_oidc(code, state, addr).await?;
    let max_age = (s.expires_at - Utc::now()).num_seconds().max(0);
    let mut res = StatusCode::SEE_OTHER.into_response();
    res.headers_mut().insert(header::LOCATION, HeaderValue::from_static("/"));
    res.headers_mut().insert(header::SET_COOKIE, session_cookie_header(&s.secret, max_age));
    Ok(res)
}
