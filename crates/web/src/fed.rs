//! `/fed/v1`: what nodes serve each other. `POST /fed/v1/inbox` takes one signed envelope
//! (a compact JWS, `application/jose`) and answers the signed receipt; refusals are problem
//! documents whose `type` is `urn:enlace:problem:fed:<code>`. `GET /fed/v1/directory` serves
//! the hub-signed directory this node holds (on the hub: the one it publishes).
//!
//! The inbox is served only over mutual TLS ([`serve_federated`]): the connection layer
//! (`enlace-net`) puts the peer node its client certificate is pinned to in the request's
//! extensions; a request without one is refused before anything is read. [`HttpsTransport`]
//! is the node's way out: the relay's deliveries and the directory fetch.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use enlace_app::App;
use enlace_app::fed::{Delivery, Transport};
use enlace_fed::directory::{NodeEntry, TlsPin};
use enlace_fed::ids::NodeId;
use enlace_net::{PeerNode, PeerPins, PinnedClient, TlsIdentity};
use enlace_store::BoxFuture;

use crate::error::ApiError;

/// The media type of a compact JWS (RFC 7515 §9.2.1).
pub const JOSE: &str = "application/jose";

/// How long one delivery or directory fetch may take.
const TIMEOUT: Duration = Duration::from_secs(10);

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
    peer: Option<Extension<PeerNode>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let Some(Extension(PeerNode(peer))) = peer else {
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

/// The pins of the directory the node holds: a certificate is a node's while the node's
/// current (unexpired) directory entry pins it and the node is not revoked.
pub struct DirectoryPins(pub App);

impl PeerPins for DirectoryPins {
    fn node_for_pin(&self, pin: &TlsPin) -> Option<NodeId> {
        let d = self.0.directory_cached()?;
        d.check_current(chrono::Utc::now()).ok()?;
        d.nodes.iter().find(|n| n.revoked_at.is_none() && &n.tls_pin == pin).map(|n| n.id.clone())
    }
}

/// The node's network: HTTPS with mutual TLS to peers (each pinned to its directory entry),
/// and the directory fetch from the hub.
pub struct HttpsTransport {
    peers: PinnedClient,
    hub: reqwest::Client,
}

impl HttpsTransport {
    pub fn new(app: &App, identity: TlsIdentity) -> Result<HttpsTransport, reqwest::Error> {
        // The directory is signed by the hub's key, which the node holds as its trust anchor:
        // what the connection to the hub proves adds nothing, so its certificate is not checked
        // (the hub may sit behind any TLS front, or none). Nothing secret is sent.
        let hub = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .danger_accept_invalid_certs(true)
            .build()?;
        let pins: Arc<dyn PeerPins> = Arc::new(DirectoryPins(app.clone()));
        Ok(HttpsTransport { peers: PinnedClient::new(identity, pins, TIMEOUT), hub })
    }
}

/// The refusal a peer's problem document names (`urn:enlace:problem:fed:<code>`, or another
/// problem type's last part).
fn refusal_code(body: &str) -> (String, String) {
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let kind = v["type"].as_str().unwrap_or("");
    let code =
        kind.strip_prefix("urn:enlace:problem:fed:").or_else(|| kind.strip_prefix("urn:enlace:problem:"));
    let detail = v["detail"].as_str().map(str::to_string).unwrap_or_else(|| body.chars().take(300).collect());
    (code.unwrap_or("refused").to_string(), detail)
}

impl Transport for HttpsTransport {
    fn deliver(&self, peer: &NodeEntry, envelope: String) -> BoxFuture<'static, Result<Delivery, String>> {
        let client = self.peers.for_peer(&peer.id, peer.tls_pin).map_err(|e| e.to_string());
        let url = format!("{}/fed/v1/inbox", peer.endpoint.as_str().trim_end_matches('/'));
        Box::pin(async move {
            let r = client?
                .post(url)
                .header(header::CONTENT_TYPE, JOSE)
                .body(envelope)
                .send()
                .await
                .map_err(|e| format!("{e}"))?;
            let status = r.status();
            let body = r.text().await.map_err(|e| format!("reading the answer: {e}"))?;
            if status == StatusCode::OK {
                Ok(Delivery::Receipt(body))
            } else if status.is_server_error() {
                Err(format!("{status}: {}", refusal_code(&body).1))
            } else {
                let (code, detail) = refusal_code(&body);
                Ok(Delivery::Refused { status: status.as_u16(), code, detail })
            }
        })
    }

    fn fetch_directory(&self, endpoint: &str) -> BoxFuture<'static, Result<String, String>> {
        let req = self.hub.get(format!("{}/fed/v1/directory", endpoint.trim_end_matches('/')));
        Box::pin(async move {
            let r = req.send().await.map_err(|e| e.to_string())?;
            if !r.status().is_success() {
                return Err(format!("the hub answered {}", r.status()));
            }
            r.text().await.map_err(|e| e.to_string())
        })
    }
}
