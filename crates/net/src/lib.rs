//! `enlace-net`: the transport between federation nodes — mutual TLS where each end is
//! authenticated by the pin the hub's directory holds for it, not by a certificate authority.
//!
//! A pin is SHA-256 over the DER of the certificate's SubjectPublicKeyInfo
//! ([`TlsPin::of_spki`]), so a node may renew its certificate under the same key without a
//! directory change, and rotates its key by publishing the new pin.
//!
//! # API
//!
//! - [`TlsIdentity`]: a certificate chain and its key. [`TlsIdentity::self_signed`]`(node_id,
//!   hosts)` makes one (ECDSA P-256, serverAuth + clientAuth, CN = node id, SANs = hosts, IP
//!   addresses as IP SANs); [`TlsIdentity::pin`], [`TlsIdentity::to_pem`] /
//!   [`TlsIdentity::from_pem`], [`TlsIdentity::save`] / [`TlsIdentity::load`] (`tls-cert.pem`
//!   and `tls-key.pem`, the key with mode 0600).
//! - [`DemoCa`]: a CA for demo networks and tests: [`DemoCa::generate`]`(name)`,
//!   [`DemoCa::issue`]`(node_id, hosts)`, [`DemoCa::cert_pem`].
//! - [`PeerPins`]: implemented by the node from its current directory: which (non-revoked)
//!   node a pin belongs to. Consulted at every handshake and every request received over TLS.
//! - Server: [`serve`]`(listener, plain, tls, identity, pins, shutdown)` /
//!   [`serve_with`]`(…, `[`ServeOptions`]`)`: plain HTTP and mutual TLS on one port, told
//!   apart by the first byte; handlers of the `tls` router extract [`PeerNode`]; both routers
//!   get `ConnectInfo<SocketAddr>`.
//! - Client: [`client_for`]`(identity, node, pin, pins, timeout)` is a `reqwest::Client` that
//!   completes a handshake only with `node`'s pinned certificate; [`PinnedClient`] keeps one
//!   per peer ([`PinnedClient::for_peer`]`(node, pin)`).
//!
//! # Why no host name check, no chain
//!
//! The pin is the peer's identity: the TLS handshake proves the peer holds the private key of
//! the pinned SubjectPublicKeyInfo (handshake signatures are checked with the ring provider's
//! algorithms), which is what a CA chain plus host name check would otherwise vouch for.
//! Both ends also check the certificate's validity period. A client verifier accepts exactly
//! one pin, and only while the directory maps it to the node being called, so a connection
//! meant for node X is never accepted with node Y's certificate, whatever DNS says.
//!
//! Only the ring provider is used, passed explicitly to every configuration; no process-wide
//! default provider is installed. TLS session resumption is off at both ends, so every
//! connection goes through the certificate checks.

mod client;
mod identity;
mod server;
mod verify;

#[cfg(test)]
mod tests;

use std::path::PathBuf;

pub use client::{POOL_IDLE_TIMEOUT, PinnedClient, client_for};
pub use enlace_fed::directory::TlsPin;
pub use enlace_fed::ids::NodeId;
pub use identity::{
    CA_VALIDITY_DAYS, CERT_FILE, DemoCa, KEY_FILE, LEAF_VALIDITY_DAYS, TlsIdentity, cert_pin,
};
pub use rustls::pki_types::{CertificateDer, PrivateKeyDer};
pub use server::{PeerNode, ServeOptions, serve, serve_with};
pub use verify::PeerPins;

/// Errors of identity handling and client construction.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("certificate generation failed: {0}")]
    Certificate(#[from] rcgen::Error),
    #[error("TLS configuration refused: {0}")]
    Tls(#[from] rustls::Error),
    #[error("bad PEM: {0}")]
    Pem(String),
    #[error("invalid TLS identity: {0}")]
    Identity(&'static str),
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

pub type Result<T, E = NetError> = std::result::Result<T, E>;

/// The only ALPN protocol offered and accepted.
const ALPN_HTTP11: &[u8] = b"http/1.1";

/// The crypto provider of every configuration made here.
fn provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}
