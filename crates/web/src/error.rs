//! Errors as RFC 9457 problem details (`application/problem+json`), naming the field at fault.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use enlace_app::AppError;
use serde::Serialize;
use utoipa::ToSchema;

/// One field at fault.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProblemField {
    pub field: String,
    pub message: String,
}

/// An error response.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URN naming the kind of problem, e.g. `urn:enlace:problem:validation`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ProblemField>,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub kind: std::borrow::Cow<'static, str>,
    pub title: &'static str,
    pub detail: String,
    pub errors: Vec<ProblemField>,
    /// Seconds for a `Retry-After` header.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        kind: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            kind: kind.into(),
            title,
            detail: detail.into(),
            errors: Vec::new(),
            retry_after: None,
        }
    }
    pub fn field(status: StatusCode, kind: &'static str, field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        ApiError {
            status,
            kind: kind.into(),
            title: "Invalid input",
            detail: format!("{field}: {message}"),
            errors: vec![ProblemField { field: field.to_string(), message }],
            retry_after: None,
        }
    }
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad-request", "Bad request", detail)
    }
    /// A fault of the node's own: the cause goes to the log, never to the client.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "an internal error occurred; it has been logged",
        )
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Validation(v) => ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                kind: "validation".into(),
                title: "Invalid input",
                detail: v.to_string(),
                errors: v
                    .0
                    .into_iter()
                    .map(|f| ProblemField { field: f.field, message: f.message })
                    .collect(),
                retry_after: None,
            },
            AppError::NotFound(what) | AppError::Hidden { what, .. } => {
                ApiError::new(StatusCode::NOT_FOUND, "not-found", "Not found", format!("{what} not found"))
            }
            AppError::Forbidden(m) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", m),
            AppError::Unauthorized(m) => {
                ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized", m)
            }
            AppError::MfaRequired => ApiError::field(
                StatusCode::UNAUTHORIZED,
                "mfa-required",
                "totp",
                "this account signs in with a second factor: send the authenticator app's code as totp",
            ),
            AppError::TooManyAttempts { retry_after_secs } => ApiError {
                retry_after: Some(retry_after_secs),
                ..ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too-many-attempts",
                    "Too many failed sign-ins",
                    format!(
                        "sign-in is locked after repeated failures; try again in {retry_after_secs} seconds"
                    ),
                )
            },
            AppError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", "Conflict", m),
            AppError::Rule(m) => {
                ApiError::new(StatusCode::CONFLICT, "workflow", "Not allowed in this state", m)
            }
            AppError::Unavailable(m) => {
                tracing::error!(error = %m, "service unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "Unavailable",
                    "the service is unavailable; try again",
                )
            }
            AppError::Federation { code, message, retryable } => {
                // Peers read `type` (urn:enlace:problem:fed:<code>) to tell a refusal to give up
                // on from one to retry.
                let status = match code.as_str() {
                    _ if retryable => StatusCode::SERVICE_UNAVAILABLE,
                    "bad-signature" | "unknown-sender" | "sender-revoked" | "unknown-key" | "key-revoked"
                    | "key-not-yet-valid" | "key-expired" | "relayed" | "not-a-party" | "wrong-state" => {
                        StatusCode::FORBIDDEN
                    }
                    "wrong-destination" => StatusCode::MISDIRECTED_REQUEST,
                    "stale-sequence" | "share-exists" | "share-conflict" => StatusCode::CONFLICT,
                    _ => StatusCode::BAD_REQUEST,
                };
                ApiError {
                    retry_after: retryable.then_some(5),
                    kind: format!("fed:{code}").into(),
                    ..ApiError::new(status, "fed", "Federation refusal", message)
                }
            }
            AppError::Store(e) if e.is_unique_violation() => {
                ApiError::new(StatusCode::CONFLICT, "conflict", "Conflict", "the record already exists")
            }
            AppError::Store(e) if e.is_retryable() => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "Busy",
                "the database is busy; try again",
            ),
            AppError::Store(e) => {
                tracing::error!(error = %e, "storage error");
                ApiError::internal()
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Problem {
            kind: format!("urn:enlace:problem:{}", self.kind),
            title: self.title.to_string(),
            status: self.status.as_u16(),
            detail: self.detail,
            errors: self.errors,
        };
        let mut res = (self.status, axum::Json(body)).into_response();
        res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let Some(secs) = self.retry_after {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        res
    }
}

/// What a request whose handler panicked gets: a 500 problem document instead of a dropped
/// connection. Any transaction the handler held is rolled back as it unwinds, so nothing is
/// half-written. The panic's message is not logged here (it may hold a value from the request).
pub fn panicked(_payload: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked; answered 500");
    ApiError::internal().into_response()
}

pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not-found", "Not found", "no such resource")
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
        "this resource does not support that method",
    )
}
