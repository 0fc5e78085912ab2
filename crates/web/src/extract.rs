//! Extractors that turn every kind of bad request into a problem naming what is wrong.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use enlace_app::{Actor, App};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body: checked content type, size, syntax, and every field against the type
/// (unknown fields, wrong types and bad values name their path).
pub struct ApiJson<T>(pub T);

/// Past the limit, a body is still read (and thrown away) up to this size, so the client gets
/// its 413 instead of a connection reset while it is still sending.
const DRAIN_CAP: u64 = 64 * 1024 * 1024;

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too-large",
        "Body too large",
        format!("the request body is larger than the {limit} bytes this endpoint accepts"),
    )
}

/// Reads a body of at most `limit` bytes.
async fn body_bytes(req: Request, limit: usize) -> Result<Bytes, ApiError> {
    use http_body_util::BodyExt;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > DRAIN_CAP) {
        return Err(too_large(limit));
    }
    let mut body = req.into_body();
    let mut buf = Vec::with_capacity(declared.map_or(0, |n| n.min(limit as u64) as usize));
    let mut seen: u64 = 0;
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|e| ApiError::bad_request(format!("the request body could not be read: {e}")))?;
        if let Ok(data) = frame.into_data() {
            seen += data.len() as u64;
            if seen <= limit as u64 {
                buf.extend_from_slice(&data);
            } else if seen > DRAIN_CAP {
                break;
            }
        }
    }
    if seen > limit as u64 {
        return Err(too_large(limit));
    }
    Ok(Bytes::from(buf))
}

impl<T: DeserializeOwned> FromRequest<App> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &App) -> Result<Self, Self::Rejection> {
        let ct = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let mime = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        if mime != "application/json" && !mime.ends_with("+json") {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
                "send the body as application/json",
            ));
        }
        let bytes = body_bytes(req, crate::JSON_LIMIT).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Parses JSON, naming the path of the first bad field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        ApiError::bad_request(format!("the body is not valid UTF-8 (at byte {})", e.valid_up_to()))
    })?;
    let de = &mut serde_json::Deserializer::from_str(text);
    match serde_path_to_error::deserialize::<_, T>(de) {
        Ok(v) => {
            // Trailing characters after the value.
            let mut rest = serde_json::Deserializer::from_str(text).into_iter::<serde_json::Value>();
            rest.next();
            if rest.next().is_some() {
                return Err(ApiError::bad_request("the body holds more than one JSON value"));
            }
            Ok(v)
        }
        Err(err) => {
            let path = err.path().to_string();
            let inner = err.into_inner();
            use serde_json::error::Category;
            match inner.classify() {
                Category::Syntax | Category::Eof | Category::Io => {
                    Err(ApiError::bad_request(format!("the body is not valid JSON: {inner}")))
                }
                Category::Data => {
                    let field = if path == "." { String::new() } else { path };
                    let msg = strip_position(&inner.to_string());
                    Err(ApiError::field(StatusCode::UNPROCESSABLE_ENTITY, "validation", &field, msg))
                }
            }
        }
    }
}

fn strip_position(s: &str) -> String {
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s.to_string(),
    }
}

/// Query parameters, with unknown or malformed parameters named.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let q = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded_parse(q));
        serde_path_to_error::deserialize(de).map(ApiQuery).map_err(|e| {
            let path = e.path().to_string();
            let msg = e.into_inner().to_string();
            ApiError::field(
                StatusCode::BAD_REQUEST,
                "bad-query",
                if path == "." { "query" } else { &path },
                msg,
            )
        })
    }
}

fn form_urlencoded_parse(q: &str) -> form_urlencoded::Parse<'_> {
    form_urlencoded::parse(q.as_bytes())
}

/// The name of the session cookie. `__Host-` makes browsers refuse it unless it is Secure,
/// host-only and for path `/`.
pub const SESSION_COOKIE: &str = "__Host-enlace-session";
/// The header that carries the session's CSRF token on state-changing requests.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The authenticated actor: from `Authorization: Bearer <token>`, or from the session cookie
/// (then a state-changing request must carry the session's CSRF token in `X-CSRF-Token`).
pub struct Auth(pub Actor);

impl FromRequestParts<App> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let actor = authenticated(parts, app).await?;
        // Until a user who must use two-factor sign-in has enrolled, only their own account
        // and sign-in endpoints answer.
        let path = parts.uri.path();
        if path != "/api/v1/me" && !path.starts_with("/api/v1/auth/") {
            app.require_enrolled(&actor).await?;
        }
        Ok(Auth(actor))
    }
}

/// The actor of a request: its bearer token, or its session cookie (with the CSRF check on
/// state-changing requests).
async fn authenticated(parts: &mut Parts, app: &App) -> Result<Actor, ApiError> {
    let source = client_addr(parts);
    if let Some(h) = parts.headers.get(header::AUTHORIZATION) {
        let h = h.to_str().unwrap_or("");
        let Some(token) = h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")) else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Unauthorized",
                "the Authorization header must be \"Bearer <token>\"",
            ));
        };
        return Ok(app.authenticate(token.trim(), source).await?);
    }
    if let Some(secret) = session_cookie(&parts.headers) {
        let s = app.session(&secret, source).await?;
        if !parts.method.is_safe() {
            let given = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
            app.check_csrf(&s, given, same_origin(parts)).await?;
        }
        return Ok(s.actor);
    }
    Err(ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "Unauthorized",
        "sign in: send a bearer token from POST /api/v1/auth/token, or the session cookie",
    ))
}

/// The session cookie's value, if the request carries one.
pub fn session_cookie(headers: &axum::http::HeaderMap) -> Option<String> {
    cookie(headers, SESSION_COOKIE)
}

/// A cookie's value, if the request carries it.
pub fn cookie(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.trim().to_string())
}

/// Whether the browser's `Origin` (or, failing that, `Referer`) names this host. Requests
/// without either (non-browser clients) pass; the CSRF token still has to match.
pub fn same_origin(parts: &Parts) -> bool {
    same_origin_headers(&parts.headers)
}

/// [`same_origin`] on the headers alone.
pub fn same_origin_headers(headers: &axum::http::HeaderMap) -> bool {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    let from =
        headers.get(header::ORIGIN).or_else(|| headers.get(header::REFERER)).and_then(|v| v.to_str().ok());
    match from {
        None => true,
        Some(url) => {
            let rest = url.split_once("://").map_or("", |(_, r)| r);
            let authority = rest.split('/').next().unwrap_or("");
            !host.is_empty() && authority.eq_ignore_ascii_case(host)
        }
    }
}

/// The bearer token itself, for sign-out.
pub fn bearer(parts: &axum::http::HeaderMap) -> Option<String> {
    parts
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(|t| t.trim().to_string())
}

pub fn client_addr(parts: &Parts) -> Option<String> {
    parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string())
}

/// The client's address, as an extractor.
pub struct ClientAddr(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(client_addr(parts)))
    }
}

/// `If-Match: "3"` (or `W/"3"`, or `3`): the version the client read.
pub struct IfMatch(pub Option<i64>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let Some(v) = parts.headers.get(header::IF_MATCH) else { return Ok(IfMatch(None)) };
        let s = v.to_str().unwrap_or("").trim();
        let s = s.strip_prefix("W/").unwrap_or(s).trim_matches('"');
        s.parse::<i64>().map(|n| IfMatch(Some(n))).map_err(|_| {
            ApiError::field(
                StatusCode::BAD_REQUEST,
                "bad-header",
                "If-Match",
                "is not a version given by this API (e.g. \"3\")",
            )
        })
    }
}

/// A raw body for uploads, with its size limit turned into a problem.
pub struct RawBody(pub Bytes);

impl FromRequest<App> for RawBody {
    type Rejection = ApiError;
    async fn from_request(req: Request, _: &App) -> Result<Self, Self::Rejection> {
        body_bytes(req, enlace_domain::record::ATTACHMENT_MAX_BYTES).await.map(RawBody)
    }
}
