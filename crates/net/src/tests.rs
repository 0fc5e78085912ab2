use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use axum::routing::get;
use rcgen::PublicKeyData as _;
use rustls::ClientConfig;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::*;
use crate::identity::{check_cert, leaf_params};
use crate::verify::ServerPinVerifier;

fn node(s: &str) -> NodeId {
    NodeId::parse(s).unwrap()
}

const HOSTS: &[&str] = &["localhost", "127.0.0.1"];

/// A directory stand-in that can change while servers run.
#[derive(Default)]
struct Pins(RwLock<HashMap<TlsPin, NodeId>>);

impl Pins {
    fn of(entries: &[(&TlsIdentity, &str)]) -> Arc<Pins> {
        let pins = Pins::default();
        for (identity, id) in entries {
            pins.0.write().unwrap().insert(identity.pin(), node(id));
        }
        Arc::new(pins)
    }
    fn remove(&self, pin: TlsPin) {
        self.0.write().unwrap().remove(&pin);
    }
}

impl PeerPins for Pins {
    fn node_for_pin(&self, pin: &TlsPin) -> Option<NodeId> {
        self.0.read().unwrap().get(pin).cloned()
    }
}

struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    handle: JoinHandle<std::io::Result<()>>,
}

impl Server {
    fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.addr.port())
    }
    fn plain_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.addr.port())
    }
    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        let served = tokio::time::timeout(Duration::from_secs(5), self.handle).await;
        served.expect("serve returns after shutdown").unwrap().unwrap();
    }
}

fn test_options() -> ServeOptions {
    ServeOptions {
        handshake_timeout: Duration::from_millis(300),
        shutdown_grace: Duration::from_millis(1500),
        ..ServeOptions::default()
    }
}

async fn start(identity: &TlsIdentity, pins: Arc<Pins>, options: ServeOptions) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let plain = Router::new().route(
        "/hello",
        get(|ConnectInfo(a): ConnectInfo<SocketAddr>| async move { format!("plain {}", a.ip()) }),
    );
    let tls = Router::new()
        .route(
            "/whoami",
            get(|PeerNode(n): PeerNode, ConnectInfo(a): ConnectInfo<SocketAddr>| async move {
                format!("{n} {}", a.ip())
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(400)).await;
                "done"
            }),
        )
        .route(
            "/hang",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                "never"
            }),
        );
    let (tx, rx) = oneshot::channel::<()>();
    let shutdown = async move {
        let _ = rx.await;
    };
    let handle = tokio::spawn(serve_with(listener, plain, tls, identity.clone(), pins, shutdown, options));
    Server { addr, stop: Some(tx), handle }
}

fn plain_client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

fn client(me: &TlsIdentity, peer: &str, pin: TlsPin, pins: &Arc<Pins>) -> reqwest::Client {
    client_for(me, node(peer), pin, pins.clone(), Duration::from_secs(5)).unwrap()
}

async fn get_text(client: &reqwest::Client, url: &str) -> reqwest::Result<(u16, String)> {
    let response = client.get(url).send().await?;
    let status = response.status().as_u16();
    Ok((status, response.text().await?))
}

/// Identities: mx (issued by a demo CA) calls gt (self-signed).
fn mx_and_gt() -> (TlsIdentity, TlsIdentity, Arc<Pins>) {
    let ca = DemoCa::generate("Enlace test CA").unwrap();
    let mx = ca.issue(&node("mx"), HOSTS).unwrap();
    let gt = TlsIdentity::self_signed(&node("gt"), HOSTS).unwrap();
    let pins = Pins::of(&[(&mx, "mx"), (&gt, "gt")]);
    (mx, gt, pins)
}

#[tokio::test]
async fn tls_and_plain_http_share_one_port() {
    let (mx, gt, pins) = mx_and_gt();
    let server = start(&gt, pins.clone(), test_options()).await;
    let to_gt = client(&mx, "gt", gt.pin(), &pins);

    assert_eq!(get_text(&to_gt, &server.url("/whoami")).await.unwrap(), (200, "mx 127.0.0.1".into()));
    let by_name = format!("https://localhost:{}/whoami", server.addr.port());
    assert_eq!(get_text(&to_gt, &by_name).await.unwrap().1, "mx 127.0.0.1");
    // The routers are separate.
    assert_eq!(get_text(&to_gt, &server.url("/hello")).await.unwrap().0, 404);

    let plain = plain_client();
    assert_eq!(get_text(&plain, &server.plain_url("/hello")).await.unwrap(), (200, "plain 127.0.0.1".into()));
    assert_eq!(get_text(&plain, &server.plain_url("/whoami")).await.unwrap().0, 404);
    // The pinned client never speaks plain HTTP.
    assert!(to_gt.get(server.plain_url("/hello")).send().await.is_err());

    // The cached client works the same.
    let clients = PinnedClient::new(mx.clone(), pins.clone(), Duration::from_secs(5));
    let cached = clients.for_peer(&node("gt"), gt.pin()).unwrap();
    assert_eq!(get_text(&cached, &server.url("/whoami")).await.unwrap().1, "mx 127.0.0.1");
    server.stop().await;
}

#[tokio::test]
async fn unpinned_client_certificate_is_refused() {
    let (mx, gt, pins) = mx_and_gt();
    let server = start(&gt, pins.clone(), test_options()).await;
    let stranger = TlsIdentity::self_signed(&node("xx"), HOSTS).unwrap();
    let from_stranger = client(&stranger, "gt", gt.pin(), &pins);
    assert!(get_text(&from_stranger, &server.url("/whoami")).await.is_err());
    // The server keeps serving.
    let to_gt = client(&mx, "gt", gt.pin(), &pins);
    assert_eq!(get_text(&to_gt, &server.url("/whoami")).await.unwrap().1, "mx 127.0.0.1");
    server.stop().await;
}

#[tokio::test]
async fn expired_client_certificate_is_refused() {
    let (mx, gt, pins) = mx_and_gt();
    let server = start(&gt, pins.clone(), test_options()).await;
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = leaf_params(&node("mx"), HOSTS, -2).unwrap().self_signed(&key).unwrap();
    let key = PrivateKeyDer::try_from(key.serialize_der()).unwrap();
    let expired = TlsIdentity::new(vec![cert.der().clone()], key).unwrap();
    assert_eq!(
        check_cert(&expired.cert_chain()[0], rustls::pki_types::UnixTime::now()),
        Err(rustls::CertificateError::Expired)
    );
    pins.0.write().unwrap().insert(expired.pin(), node("mx"));
    let from_expired = client(&expired, "gt", gt.pin(), &pins);
    assert!(get_text(&from_expired, &server.url("/whoami")).await.is_err());
    let to_gt = client(&mx, "gt", gt.pin(), &pins);
    assert!(get_text(&to_gt, &server.url("/whoami")).await.is_ok());
    server.stop().await;
}

#[tokio::test]
async fn server_with_another_certificate_is_refused() {
    let (mx, gt, pins) = mx_and_gt();
    let hn = TlsIdentity::self_signed(&node("hn"), HOSTS).unwrap();
    pins.0.write().unwrap().insert(hn.pin(), node("hn"));
    // hn's certificate answers where mx expects gt.
    let server = start(&hn, pins.clone(), test_options()).await;
    let to_gt = client(&mx, "gt", gt.pin(), &pins);
    assert!(get_text(&to_gt, &server.url("/whoami")).await.is_err());
    // Expecting hn's pin but calling it gt: the directory says that pin is hn's.
    let confused = client(&mx, "gt", hn.pin(), &pins);
    assert!(get_text(&confused, &server.url("/whoami")).await.is_err());
    // Calling hn as hn works.
    let to_hn = client(&mx, "hn", hn.pin(), &pins);
    assert_eq!(get_text(&to_hn, &server.url("/whoami")).await.unwrap().1, "mx 127.0.0.1");
    server.stop().await;
}

/// A reqwest client over a hand-made rustls configuration (protocol versions, client cert).
fn custom_client(
    versions: &[&'static rustls::SupportedProtocolVersion],
    expect: (&str, TlsPin),
    pins: &Arc<Pins>,
    me: Option<&TlsIdentity>,
) -> reqwest::Client {
    let verifier = ServerPinVerifier::new(node(expect.0), expect.1, pins.clone());
    let builder = ClientConfig::builder_with_provider(Arc::new(provider()))
        .with_protocol_versions(versions)
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier));
    let tls = match me {
        Some(me) => builder.with_client_auth_cert(me.cert_chain().to_vec(), me.key().clone_key()).unwrap(),
        None => builder.with_no_client_auth(),
    };
    reqwest::Client::builder().use_preconfigured_tls(tls).no_proxy().build().unwrap()
}

#[tokio::test]
async fn tls_without_client_certificate_is_refused() {
    let (mx, gt, pins) = mx_and_gt();
    let server = start(&gt, pins.clone(), test_options()).await;
    let versions = rustls::DEFAULT_VERSIONS;
    for anonymous in [
        custom_client(versions, ("gt", gt.pin()), &pins, None),
        custom_client(&[&rustls::version::TLS12], ("gt", gt.pin()), &pins, None),
    ] {
        assert!(get_text(&anonymous, &server.url("/whoami")).await.is_err());
    }
    // The same construction with the certificate goes through.
    let with_cert = custom_client(versions, ("gt", gt.pin()), &pins, Some(&mx));
    assert_eq!(get_text(&with_cert, &server.url("/whoami")).await.unwrap().1, "mx 127.0.0.1");
    server.stop().await;
}

#[tokio::test]
async fn tls12_handshakes_are_verified_too() {
    let (mx, gt, pins) = mx_and_gt();
    let server = start(&gt, pins.clone(), test_options()).await;
    let tls12 = [&rustls::version::TLS12];
    let to_gt = custom_client(&tls12, ("gt", gt.pin()), &pins, Some(&mx));
    assert_eq!(get_text(&to_gt, &server.url("/whoami")).await.unwrap().1, "mx 127.0.0.1");
    let stranger = TlsIdentity::self_signed(&node("xx"), HOSTS).unwrap();
    let from_stranger = custom_client(&tls12, ("gt", gt.pin()), &pins, Some(&stranger));
    assert!(get_text(&from_stranger, &server.url("/whoami")).await.is_err());
    let wrong_pin = custom_client(&tls12, ("gt", mx.pin()), &pins, Some(&mx));
    assert!(get_text(&wrong_pin, &server.url("/whoami")).await.is_err());
    server.stop().await;
}

#[test]
fn verifiers_offer_the_ring_signature_schemes() {
    let pins = Pins::of(&[]);
    let expected = provider().signature_verification_algorithms.supported_schemes();
    assert!(expected.contains(&rustls::SignatureScheme::ECDSA_NISTP256_SHA256));
    assert!(expected.contains(&rustls::SignatureScheme::ED25519));
    let client_side = ServerPinVerifier::new(node("gt"), TlsPin::of_spki(b""), pins.clone());
    let server_side = crate::verify::ClientPinVerifier::new(pins);
    use rustls::client::danger::ServerCertVerifier as _;
    use rustls::server::danger::ClientCertVerifier as _;
    assert_eq!(client_side.supported_verify_schemes(), expected);
    assert_eq!(server_side.supported_verify_schemes(), expected);
    assert!(server_side.client_auth_mandatory());
}

/// Reads until the server closes the connection; fails if it does not within `within`.
async fn closed_by_server(mut stream: TcpStream, within: Duration) {
    let mut buf = Vec::new();
    match tokio::time::timeout(within, stream.read_to_end(&mut buf)).await {
        Ok(Ok(_)) => assert!(buf.is_empty() || !buf.starts_with(b"HTTP/1.1 200"), "{buf:?}"),
        Ok(Err(_)) => {} // reset
        Err(_) => panic!("connection still open after {within:?}"),
    }
}

#[tokio::test]
async fn garbage_and_stalled_connections_are_dropped() {
    let (mx, gt, pins) = mx_and_gt();
    let server = start(&gt, pins.clone(), test_options()).await;
    let within = Duration::from_secs(3);

    let mut garbage = TcpStream::connect(server.addr).await.unwrap();
    garbage.write_all(b"\x00\xffnot a protocol").await.unwrap();
    closed_by_server(garbage, within).await;

    // Half a TLS record, then silence: cut at the handshake timeout.
    let started = Instant::now();
    let mut half = TcpStream::connect(server.addr).await.unwrap();
    half.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00]).await.unwrap();
    closed_by_server(half, within).await;
    assert!(started.elapsed() >= Duration::from_millis(250));

    // A broken ClientHello.
    let mut bad = TcpStream::connect(server.addr).await.unwrap();
    bad.write_all(&[0x16, 0x03, 0x01, 0x00, 0x04, 0xde, 0xad, 0xbe, 0xef]).await.unwrap();
    closed_by_server(bad, within).await;

    // Nothing at all.
    closed_by_server(TcpStream::connect(server.addr).await.unwrap(), within).await;

    let to_gt = client(&mx, "gt", gt.pin(), &pins);
    assert_eq!(get_text(&to_gt, &server.url("/whoami")).await.unwrap().1, "mx 127.0.0.1");
    assert_eq!(get_text(&plain_client(), &server.plain_url("/hello")).await.unwrap().0, 200);
    server.stop().await;
}

#[tokio::test]
async fn connections_over_the_cap_wait() {
    let (_, gt, pins) = mx_and_gt();
    let options = ServeOptions { max_connections: 1, ..test_options() };
    let server = start(&gt, pins, options).await;
    // A silent connection holds the only slot until the handshake timeout.
    let silent = TcpStream::connect(server.addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = Instant::now();
    assert_eq!(get_text(&plain_client(), &server.plain_url("/hello")).await.unwrap().0, 200);
    assert!(started.elapsed() >= Duration::from_millis(150), "{:?}", started.elapsed());
    drop(silent);
    server.stop().await;
}

#[tokio::test]
async fn revocation_applies_to_open_connections() {
    let (mx, gt, pins) = mx_and_gt();
    let server_pins = Pins::of(&[(&mx, "mx"), (&gt, "gt")]);
    let server = start(&gt, server_pins.clone(), test_options()).await;
    let to_gt = client(&mx, "gt", gt.pin(), &pins);
    assert_eq!(get_text(&to_gt, &server.url("/whoami")).await.unwrap().0, 200);
    server_pins.remove(mx.pin());
    // Same (pooled) connection: refused and closed; a new connection: handshake refused.
    assert_eq!(get_text(&to_gt, &server.url("/whoami")).await.unwrap().0, 403);
    assert!(get_text(&to_gt, &server.url("/whoami")).await.is_err());
    server.stop().await;
}

#[tokio::test]
async fn shutdown_lets_in_flight_requests_finish() {
    let (mx, gt, pins) = mx_and_gt();
    let server = start(&gt, pins.clone(), test_options()).await;
    let to_gt = client(&mx, "gt", gt.pin(), &pins);
    // An idle keep-alive connection must not hold shutdown up.
    assert_eq!(get_text(&to_gt, &server.url("/whoami")).await.unwrap().0, 200);
    let url = server.url("/slow");
    let slow = tokio::spawn({
        let to_gt = to_gt.clone();
        async move { get_text(&to_gt, &url).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let addr = server.addr;
    let started = Instant::now();
    server.stop().await;
    assert!(started.elapsed() < Duration::from_millis(1400), "{:?}", started.elapsed());
    assert_eq!(slow.await.unwrap().unwrap(), (200, "done".into()));
    assert!(TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn shutdown_is_bounded() {
    let (mx, gt, pins) = mx_and_gt();
    let options = ServeOptions { shutdown_grace: Duration::from_millis(200), ..test_options() };
    let server = start(&gt, pins.clone(), options).await;
    let to_gt = client(&mx, "gt", gt.pin(), &pins);
    let url = server.url("/hang");
    let hanging = tokio::spawn(async move { get_text(&to_gt, &url).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    server.stop().await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(hanging.await.unwrap().is_err());
}

#[test]
fn pins_are_sha256_of_the_spki() {
    let ca = DemoCa::generate("Enlace test CA").unwrap();
    for identity in [
        TlsIdentity::self_signed(&node("gt"), HOSTS).unwrap(),
        ca.issue(&node("mx"), &["mx.enlace.test"]).unwrap(),
    ] {
        // Independently: the SPKI as rcgen encodes it from the private key.
        let key = rcgen::KeyPair::try_from(identity.key()).unwrap();
        let spki = key.subject_public_key_info();
        // id-ecPublicKey, prime256v1, uncompressed point.
        assert!(spki.starts_with(&[0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce]));
        assert_eq!(identity.pin(), TlsPin::of_spki(&spki));
        assert_eq!(cert_pin(&identity.cert_chain()[0]).unwrap(), identity.pin());
        assert!(check_cert(&identity.cert_chain()[0], rustls::pki_types::UnixTime::now()).is_ok());
    }
    assert!(ca.cert_pem().starts_with("-----BEGIN CERTIFICATE-----\n"));
    assert_ne!(cert_pin(ca.cert_der()).unwrap(), TlsPin::of_spki(b""));
}

#[test]
fn pem_and_files_round_trip() {
    let gt = TlsIdentity::self_signed(&node("gt"), HOSTS).unwrap();
    let (cert, key) = gt.to_pem();
    assert!(key.starts_with("-----BEGIN PRIVATE KEY-----\n"));
    assert!(cert.lines().all(|l| l.len() <= 64));
    assert_eq!(TlsIdentity::from_pem(&cert, &key).unwrap().pin(), gt.pin());

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node");
    gt.save(&path).unwrap();
    gt.save(&path).unwrap(); // overwrites
    assert_eq!(TlsIdentity::load(&path).unwrap().pin(), gt.pin());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path.join(KEY_FILE)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // A key that is not the certificate's, garbage, nothing.
    let other = TlsIdentity::self_signed(&node("mx"), HOSTS).unwrap();
    assert!(matches!(TlsIdentity::from_pem(&cert, &other.to_pem().1), Err(NetError::Tls(_))));
    assert!(TlsIdentity::from_pem("garbage", &key).is_err());
    assert!(TlsIdentity::from_pem("", &key).is_err());
    assert!(TlsIdentity::load(dir.path()).is_err());
}

#[test]
fn der_times() {
    use crate::identity::der_time;
    assert_eq!(der_time(0x17, b"700101000000Z"), Some(0));
    assert_eq!(der_time(0x17, b"491231235959Z"), Some(2_524_607_999));
    assert_eq!(der_time(0x18, b"20000101000000Z"), Some(946_684_800));
    assert_eq!(der_time(0x18, b"20001301000000Z"), None);
    assert_eq!(der_time(0x17, b"7001010000000"), None);
    assert_eq!(der_time(0x04, b"700101000000Z"), None);
}
