//! One listening port for both plain HTTP (browsers, health checks) and mutual TLS (peers).

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use enlace_fed::directory::TlsPin;
use enlace_fed::ids::NodeId;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use rustls::ServerConfig;
use rustls::server::NoServerSessionStorage;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::{Instant, timeout_at};
use tokio_rustls::TlsAcceptor;
use tracing::{debug, warn};

use crate::identity::{TlsIdentity, cert_pin};
use crate::verify::{ClientPinVerifier, PeerPins};
use crate::{ALPN_HTTP11, provider};

/// The first byte of a TLS record carrying a handshake message (the ClientHello).
const TLS_HANDSHAKE: u8 = 0x16;

/// The peer node authenticated by its client certificate, put in the extensions of every
/// request the `tls` router receives. Extract it as `PeerNode` (or `Extension<PeerNode>`);
/// on a request without it (plain HTTP) the extractor answers 401.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerNode(pub NodeId);

impl<S: Send + Sync> FromRequestParts<S> for PeerNode {
    type Rejection = (StatusCode, &'static str);

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<PeerNode>().cloned().ok_or((
            StatusCode::UNAUTHORIZED,
            "this endpoint requires mutual TLS with a pinned node certificate",
        ))
    }
}

/// Limits of [`serve_with`].
#[derive(Debug, Clone, Copy)]
pub struct ServeOptions {
    /// From accept to the end of the TLS handshake (or to the first byte of a plain HTTP
    /// connection). Default 10 s.
    pub handshake_timeout: Duration,
    /// Time to receive a request's headers; also closes keep-alive connections idle that long
    /// (hyper starts the timer as soon as it waits for the next request). Default 30 s.
    pub header_read_timeout: Duration,
    /// Connections served at once; more wait in the listen backlog. Default 512.
    pub max_connections: usize,
    /// After `shutdown`, how long in-flight requests may take before connections are cut.
    /// Default 10 s.
    pub shutdown_grace: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            handshake_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(30),
            max_connections: 512,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// [`serve_with`] with the default [`ServeOptions`].
pub async fn serve(
    listener: TcpListener,
    plain: Router,
    tls: Router,
    identity: TlsIdentity,
    pins: Arc<dyn PeerPins>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    serve_with(listener, plain, tls, identity, pins, shutdown, ServeOptions::default()).await
}

/// Serves plain HTTP/1.1 and mutual-TLS HTTP/1.1 on one listener until `shutdown` completes.
///
/// The first byte of each connection decides: `0x16` (a TLS handshake record) → TLS with a
/// client certificate required and accepted by its pin ([`PeerPins`]), then the `tls` router,
/// whose requests carry [`PeerNode`]; an upper-case ASCII letter (a method) or CR/LF → the
/// `plain` router; anything else → the connection is closed. Requests on both carry
/// `ConnectInfo<SocketAddr>`.
///
/// The peer's pin is looked up again for every request, so a node revoked in the directory
/// loses its open keep-alive connections too (403, connection closed). TLS session
/// resumption is off: every connection presents and proves its certificate.
///
/// Failures of one connection (timeout, bad handshake, unknown pin) only close it. On
/// `shutdown` the listener is closed, idle connections are closed, in-flight requests get up
/// to [`ServeOptions::shutdown_grace`]; then what is left is aborted and this returns `Ok`.
/// The only error is a TLS configuration the ring provider refuses.
pub async fn serve_with(
    listener: TcpListener,
    plain: Router,
    tls: Router,
    identity: TlsIdentity,
    pins: Arc<dyn PeerPins>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    options: ServeOptions,
) -> io::Result<()> {
    let config = server_config(&identity, pins.clone()).map_err(io::Error::other)?;
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let limit = Arc::new(Semaphore::new(options.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut tasks = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        while tasks.try_join_next().is_some() {}
        let permit = tokio::select! {
            biased;
            () = &mut shutdown => break,
            permit = limit.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break, // the semaphore is never closed
            },
        };
        let accepted = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, addr) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Per-connection errors (reset before accept) and resource exhaustion
                // (EMFILE): keep going, after a pause in the second case.
                if !matches!(e.kind(), io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset) {
                    warn!(error = %e, "accept failed");
                    tokio::select! {
                        () = &mut shutdown => break,
                        () = tokio::time::sleep(Duration::from_millis(100)) => {}
                    }
                }
                continue;
            }
        };
        let conn = Connection {
            addr,
            acceptor: acceptor.clone(),
            plain: plain.clone(),
            tls: tls.clone(),
            pins: pins.clone(),
            options,
            watcher: graceful.watcher(),
        };
        tasks.spawn(async move {
            conn.run(stream).await;
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(options.shutdown_grace, graceful.shutdown()).await.is_err() {
        debug!(left = tasks.len(), "shutdown grace period over; aborting connections");
    }
    tasks.shutdown().await;
    Ok(())
}

fn server_config(identity: &TlsIdentity, pins: Arc<dyn PeerPins>) -> Result<ServerConfig, rustls::Error> {
    let mut config = ServerConfig::builder_with_provider(Arc::new(provider()))
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(Arc::new(ClientPinVerifier::new(pins)))
        .with_single_cert(identity.cert_chain().to_vec(), identity.key().clone_key())?;
    config.alpn_protocols = vec![ALPN_HTTP11.to_vec()];
    // No resumption: a resumed session would skip the certificate checks.
    config.session_storage = Arc::new(NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    Ok(config)
}

/// One accepted connection and what it needs.
struct Connection {
    addr: SocketAddr,
    acceptor: TlsAcceptor,
    plain: Router,
    tls: Router,
    pins: Arc<dyn PeerPins>,
    options: ServeOptions,
    watcher: Watcher,
}

impl Connection {
    async fn run(self, stream: TcpStream) {
        let deadline = Instant::now() + self.options.handshake_timeout;
        let mut first = [0u8; 1];
        match timeout_at(deadline, stream.peek(&mut first)).await {
            Ok(Ok(1)) => {}
            _ => return, // closed, failed or silent
        }
        match first[0] {
            TLS_HANDSHAKE => {
                let tls = match timeout_at(deadline, self.acceptor.accept(stream)).await {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(e)) => {
                        debug!(peer = %self.addr, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        debug!(peer = %self.addr, "TLS handshake timed out");
                        return;
                    }
                };
                let pin = tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .and_then(|c| cert_pin(c).ok());
                let Some(pin) = pin else { return };
                let peer = Some((pin, self.pins.clone()));
                serve_http(tls, self.addr, self.tls, peer, self.options, self.watcher).await;
            }
            b'A'..=b'Z' | b'\r' | b'\n' => {
                serve_http(stream, self.addr, self.plain, None, self.options, self.watcher).await;
            }
            _ => debug!(peer = %self.addr, "neither TLS nor HTTP; closed"),
        }
    }
}

/// HTTP/1.1 on `io` with `router`; `peer` (TLS only) is the client certificate's pin.
async fn serve_http<I>(
    io: I,
    addr: SocketAddr,
    router: Router,
    peer: Option<(TlsPin, Arc<dyn PeerPins>)>,
    options: ServeOptions,
    watcher: Watcher,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |mut req: Request<Incoming>| {
        let mut router = router.clone();
        req.extensions_mut().insert(ConnectInfo(addr));
        let allowed = match &peer {
            None => true,
            Some((pin, pins)) => match pins.node_for_pin(pin) {
                Some(node) => {
                    req.extensions_mut().insert(PeerNode(node));
                    true
                }
                None => false,
            },
        };
        async move {
            if !allowed {
                return Ok::<_, Infallible>(no_longer_pinned());
            }
            tower_service::Service::call(&mut router, req).await
        }
    });
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(options.header_read_timeout);
    let conn = builder.serve_connection(TokioIo::new(io), service);
    if let Err(e) = watcher.watch(conn).await {
        debug!(peer = %addr, error = %e, "connection ended with an error");
    }
}

fn no_longer_pinned() -> Response {
    let headers = [(header::CONNECTION, "close")];
    (StatusCode::FORBIDDEN, headers, "client certificate no longer pinned").into_response()
}
