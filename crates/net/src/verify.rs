//! Certificate verifiers for both ends: a certificate is accepted by its pin, not by a chain.

use std::fmt;
use std::sync::Arc;

use enlace_fed::directory::TlsPin;
use enlace_fed::ids::NodeId;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, Error, SignatureScheme};

use crate::identity::check_cert;
use crate::provider;

/// Pin look-ups, implemented by the node from its current directory. Consulted at every
/// handshake (both ends) and at every request received over TLS, so a directory update
/// (new pin, revoked node) takes effect at once.
pub trait PeerPins: Send + Sync + 'static {
    /// The node whose directory entry pins this SPKI hash (and is not revoked), if any.
    fn node_for_pin(&self, pin: &TlsPin) -> Option<NodeId>;
}

fn algorithms() -> WebPkiSupportedAlgorithms {
    provider().signature_verification_algorithms
}

fn refused(e: CertificateError) -> Error {
    Error::InvalidCertificate(e)
}

/// Server side: requires a client certificate and accepts it iff it is within its validity
/// period and its pin maps to a node through [`PeerPins`]. The handshake signature is
/// checked with the ring provider's algorithms, proving possession of the pinned key.
pub(crate) struct ClientPinVerifier {
    pins: Arc<dyn PeerPins>,
    algs: WebPkiSupportedAlgorithms,
}

impl ClientPinVerifier {
    pub(crate) fn new(pins: Arc<dyn PeerPins>) -> Self {
        ClientPinVerifier { pins, algs: algorithms() }
    }
}

impl fmt::Debug for ClientPinVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientPinVerifier").finish_non_exhaustive()
    }
}

impl ClientCertVerifier for ClientPinVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        let pin = check_cert(end_entity, now).map_err(refused)?;
        match self.pins.node_for_pin(&pin) {
            Some(_) => Ok(ClientCertVerified::assertion()),
            None => Err(refused(CertificateError::ApplicationVerificationFailure)),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

/// Client side: accepts the server's certificate iff it is within its validity period, its
/// pin is exactly the one expected, and the directory (through [`PeerPins`]) still maps that
/// pin to the node we mean to call. So a connection meant for node X can never complete with
/// node Y's certificate, whatever the URL's host resolves to.
///
/// The host name is not checked: the pin is the peer's identity, and whoever answers at that
/// address must prove possession of the pinned key in the handshake. A wrong DNS answer or a
/// reused IP address cannot produce that proof, and the endpoint's host is not trusted
/// anyway (it is just where the directory says the node is).
pub(crate) struct ServerPinVerifier {
    node: NodeId,
    pin: TlsPin,
    pins: Arc<dyn PeerPins>,
    algs: WebPkiSupportedAlgorithms,
}

impl ServerPinVerifier {
    pub(crate) fn new(node: NodeId, pin: TlsPin, pins: Arc<dyn PeerPins>) -> Self {
        ServerPinVerifier { node, pin, pins, algs: algorithms() }
    }
}

impl fmt::Debug for ServerPinVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerPinVerifier")
            .field("node", &self.node)
            .field("pin", &self.pin.to_string())
            .finish_non_exhaustive()
    }
}

impl ServerCertVerifier for ServerPinVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let pin = check_cert(end_entity, now).map_err(refused)?;
        if pin != self.pin || self.pins.node_for_pin(&pin).as_ref() != Some(&self.node) {
            return Err(refused(CertificateError::ApplicationVerificationFailure));
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}
