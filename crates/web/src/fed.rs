//! `/fed/v1`: what nodes serve each other. `POST /fed/v1/inbox` takes one signed envelope
//! (a compact JWS, `application/jose`) and answers the signed receipt; refusals are problem
//! documents whose `type` is `urn:enlace:problem:fed:<code>`. `GET /fed/v1/directory` serves
//! the hub-signed directory this node holds (on the hub: the one it publishes).
//!
//! The inbox is served only over mutual TLS: the connection layer puts the peer node its
//! client certificate is pinned to in the request's extensions ([`TlsPeer`]); a request
//! without one is refused before anything is read.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use enlace_app::App;
use enlace_fed::ids::NodeId;

use crate::error::ApiError;

/// The node a mutual-TLS client certificate was pinned to, set by the connection layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsPeer(pub NodeId);

/// The media type of a compact JWS (RFC 7515 §9.2.1).
pub const JOSE: &str = "application/jose";

pub fn routes() -> Router<App> {
    Router::new()
        .route("/fed/v1/inbox", post(inbox))
        // An envelope is at most this long; the rest of the node reads bodies in its own
        // extractors, this route takes the raw bytes.
        .layer(axum::extract::DefaultBodyLimit::max(enlace_fed::jws::MAX_COMPACT_LEN + 1))
        .route("/fed/v1/directory", get(directory))
}

fn jose(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(JOSE));
    r
}

async fn inbox(
    State(app): State<App>,
    peer: Option<Extension<TlsPeer>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let Some(Extension(TlsPeer(peer))) = peer else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "fed:no-client-certificate",
            "Federation refusal",
            "the inbox is served only over mutual TLS with a pinned client certificate",
        ));
    };
    if body.len() > enlace_fed::jws::MAX_COMPACT_LEN {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "fed:too-large",
            "Federation refusal",
            format!("an envelope is at most {} bytes", enlace_fed::jws::MAX_COMPACT_LEN),
        ));
    }
    let compact = std::str::from_utf8(&body).map_err(|_| {
        ApiError::new(StatusCode::BAD_REQUEST, "fed:malformed", "Federation refusal", "the body is not UTF-8")
    })?;
    let received = app.receive_envelope(compact.trim(), Some(&peer)).await?;
    let mut r = jose(StatusCode::OK, received.receipt);
    if received.duplicate {
        r.headers_mut().insert("enlace-duplicate", HeaderValue::from_static("true"));
    }
    Ok(r)
}

async fn directory(State(app): State<App>) -> Result<Response, ApiError> {
    match app.signed_directory().await? {
        Some(d) => Ok(jose(StatusCode::OK, d)),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            "this node holds no directory",
        )),
    }
}
