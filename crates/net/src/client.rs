//! HTTPS clients to peer nodes: our certificate as client certificate, the peer's by its pin.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use enlace_fed::directory::TlsPin;
use enlace_fed::ids::NodeId;
use rustls::ClientConfig;
use rustls::client::Resumption;

use crate::identity::TlsIdentity;
use crate::verify::{PeerPins, ServerPinVerifier};
use crate::{ALPN_HTTP11, Result, provider};

/// Pooled connections idle this long are dropped: shorter than the server's default
/// `header_read_timeout` (30 s), after which it closes them, so a pooled connection is not
/// reused just as the peer closes it.
pub const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(20);

/// A `reqwest::Client` that talks only to `node`, and only if it presents the certificate
/// whose pin is `pin` and the directory (`pins`) still maps that pin to `node`, checked at
/// every handshake. Our `identity` is the client certificate.
///
/// HTTPS only (an `http://` URL is refused), no redirects, no proxy, HTTP/1.1, no TLS session
/// resumption, `timeout` for the whole request (connect: at most 10 s of it). The URL's host
/// name is not checked against the certificate: the pin is the peer's identity (see the crate
/// docs).
pub fn client_for(
    identity: &TlsIdentity,
    node: NodeId,
    pin: TlsPin,
    pins: Arc<dyn PeerPins>,
    timeout: Duration,
) -> Result<reqwest::Client> {
    let verifier = ServerPinVerifier::new(node, pin, pins);
    let mut tls = ClientConfig::builder_with_provider(Arc::new(provider()))
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_client_auth_cert(identity.cert_chain().to_vec(), identity.key().clone_key())?;
    tls.alpn_protocols = vec![ALPN_HTTP11.to_vec()];
    tls.resumption = Resumption::disabled();
    Ok(reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .https_only(true)
        .http1_only()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .build()?)
}

/// [`client_for`] clients, one per peer node, kept so that connections are reused. Asking
/// for a node with a different pin (its key was rotated) replaces that node's client, so
/// connections to the old key are dropped.
pub struct PinnedClient {
    identity: TlsIdentity,
    pins: Arc<dyn PeerPins>,
    timeout: Duration,
    clients: Mutex<HashMap<NodeId, (TlsPin, reqwest::Client)>>,
}

impl PinnedClient {
    pub fn new(identity: TlsIdentity, pins: Arc<dyn PeerPins>, timeout: Duration) -> Self {
        PinnedClient { identity, pins, timeout, clients: Mutex::new(HashMap::new()) }
    }

    /// The client for `node`, which must present the certificate pinned as `pin` (take both
    /// from the current directory entry of the node being called).
    pub fn for_peer(&self, node: &NodeId, pin: TlsPin) -> Result<reqwest::Client> {
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((cached, client)) = clients.get(node)
            && *cached == pin
        {
            return Ok(client.clone());
        }
        let client = client_for(&self.identity, node.clone(), pin, self.pins.clone(), self.timeout)?;
        clients.insert(node.clone(), (pin, client.clone()));
        Ok(client)
    }

    /// Drops the client for `node` (e.g. the node left the directory).
    pub fn forget(&self, node: &NodeId) {
        self.clients.lock().unwrap_or_else(PoisonError::into_inner).remove(node);
    }
}

impl std::fmt::Debug for PinnedClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PinnedClient").field("identity", &self.identity).finish_non_exhaustive()
    }
}
