//! Enlace web layer: the only crate that knows HTTP.
//!
//! The REST API under `/api/v1` (JSON, errors as `application/problem+json`), its OpenAPI
//! document generated from the code, and health checks. Handlers translate HTTP to use-case
//! calls on [`enlace_app::App`] and back; they hold no rules of their own.

mod api;
mod error;
mod extract;
pub mod fed;
pub mod metrics;
mod openapi;
pub mod report;
pub mod ui;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, header};
use enlace_app::App;
use tower_http::set_header::SetResponseHeaderLayer;

pub use error::{Problem, ProblemField};
pub use openapi::openapi_json;

/// Largest JSON body accepted, in bytes.
pub const JSON_LIMIT: usize = 1024 * 1024;

/// The node's HTTP application.
pub fn router(app: App) -> Router {
    let headers = [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        // Not `no-referrer`: under it browsers send `Origin: null` even on same-origin form
        // posts, and the anti-forgery check needs the real origin. `same-origin` still sends
        // nothing to other sites.
        (header::REFERRER_POLICY, "same-origin"),
        (HeaderName::from_static("cross-origin-opener-policy"), "same-origin"),
        (header::CACHE_CONTROL, "no-store"),
    ];
    // Body limits are enforced by the extractors (JSON_LIMIT, ATTACHMENT_MAX_BYTES), which
    // answer 413 as a problem document after reading what the client sends.
    let m = metrics::Metrics::new();
    let scrape = Router::new()
        .route("/metrics", axum::routing::get(metrics::metrics))
        .with_state((m.clone(), app.clone()));
    let mut r = api::routes()
        .merge(ui::routes())
        .merge(fed::routes())
        .layer(DefaultBodyLimit::disable())
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .with_state(app)
        .merge(scrape);
    for (name, value) in headers {
        r = r.layer(SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value)));
    }
    r.layer(tower_http::catch_panic::CatchPanicLayer::custom(error::panicked))
        .layer(axum::middleware::from_fn_with_state(m, metrics::track))
        .layer(axum::middleware::from_fn(hsts))
}

/// Behind a TLS-terminating proxy (`X-Forwarded-Proto: https`), tells browsers to use HTTPS
/// only from now on. A node serving plain HTTP on loopback does not send it.
async fn hsts(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    let tls = req
        .headers()
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    let mut res = next.run(req).await;
    if tls {
        res.headers_mut().insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=63072000; includeSubDomains"),
        );
    }
    res
}

/// Serves `app` on `listener` until `shutdown` resolves, finishing requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: App,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let svc = router(app).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, svc).with_graceful_shutdown(shutdown).await
}

/// Serves `app` as a federated node on `listener`: browsers and the API over plain HTTP (behind
/// the state's TLS front), and `/fed/v1` over mutual TLS with `identity`, peers pinned to the
/// directory, on the same port (told apart by the first byte). Until `shutdown` resolves.
pub async fn serve_federated(
    listener: tokio::net::TcpListener,
    app: App,
    identity: enlace_net::TlsIdentity,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The pins are read from the directory in memory during handshakes: load it first.
    if let Err(e) = app.directory().await {
        tracing::warn!(error = %e, "no directory yet: peers are refused until one is installed");
    }
    let pins = std::sync::Arc::new(fed::DirectoryPins(app.clone()));
    let tls = fed::routes()
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .with_state(app.clone());
    enlace_net::serve(listener, router(app), tls, identity, pins, shutdown).await
}
