//! A node's TLS identity (certificate chain and key), its pin, PEM files, and the demo CA.

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{Datelike as _, TimeDelta, Utc};
use enlace_fed::directory::TlsPin;
use enlace_fed::ids::NodeId;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use rustls::sign::CertifiedKey;

use crate::{NetError, Result, provider};

/// File name of the certificate chain written by [`TlsIdentity::save`].
pub const CERT_FILE: &str = "tls-cert.pem";
/// File name of the private key written by [`TlsIdentity::save`] (mode 0600).
pub const KEY_FILE: &str = "tls-key.pem";

/// How long node certificates made here are valid (from the day before they are made).
pub const LEAF_VALIDITY_DAYS: i64 = 2 * 365;
/// How long the demo CA's certificate is valid.
pub const CA_VALIDITY_DAYS: i64 = 10 * 365;

/// A certificate chain (end-entity first) and the matching private key.
///
/// Always consistent: the constructors check that the key loads with the ring provider and
/// matches the end-entity certificate, so [`TlsIdentity::pin`] cannot fail.
pub struct TlsIdentity {
    cert_chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    pin: TlsPin,
}

impl TlsIdentity {
    /// Checks that `key` matches the first certificate of `cert_chain`.
    pub fn new(cert_chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> Result<Self> {
        let leaf = cert_chain.first().ok_or(NetError::Identity("empty certificate chain"))?;
        let pin = cert_pin(leaf)?;
        CertifiedKey::from_der(cert_chain.clone(), key.clone_key(), &provider())?;
        Ok(TlsIdentity { cert_chain, key, pin })
    }

    /// A self-signed ECDSA P-256 certificate for `node_id` (its CN) with `hosts` as subject
    /// alternative names (IP addresses become IP SANs). Federation pins keys, so no CA is needed.
    pub fn self_signed(node_id: &NodeId, hosts: &[&str]) -> Result<Self> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let cert = leaf_params(node_id, hosts, LEAF_VALIDITY_DAYS)?.self_signed(&key)?;
        Self::from_rcgen(cert.der().clone(), &key)
    }

    fn from_rcgen(cert: CertificateDer<'static>, key: &KeyPair) -> Result<Self> {
        let key = PrivatePkcs8KeyDer::from(key.serialize_der());
        Self::new(vec![cert], PrivateKeyDer::Pkcs8(key))
    }

    /// The certificate chain, end-entity first.
    pub fn cert_chain(&self) -> &[CertificateDer<'static>] {
        &self.cert_chain
    }

    /// The private key (DER).
    pub fn key(&self) -> &PrivateKeyDer<'static> {
        &self.key
    }

    /// SHA-256 of the end-entity certificate's SubjectPublicKeyInfo: what the directory holds.
    pub fn pin(&self) -> TlsPin {
        self.pin
    }

    /// `(certificate chain PEM, private key PEM)`.
    pub fn to_pem(&self) -> (String, String) {
        let certs = self.cert_chain.iter().map(|c| pem_block("CERTIFICATE", c)).collect();
        let label = match &self.key {
            PrivateKeyDer::Pkcs1(_) => "RSA PRIVATE KEY",
            PrivateKeyDer::Sec1(_) => "EC PRIVATE KEY",
            _ => "PRIVATE KEY",
        };
        (certs, pem_block(label, self.key.secret_der()))
    }

    /// Parses a PEM certificate chain (end-entity first) and a PEM private key (PKCS#8, SEC1
    /// or PKCS#1).
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self> {
        let chain = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| NetError::Pem(e.to_string()))?;
        let key =
            PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| NetError::Pem(e.to_string()))?;
        Self::new(chain, key)
    }

    /// Writes [`CERT_FILE`] and [`KEY_FILE`] into `dir` (created if missing). The key is
    /// written to a temporary file with mode 0600 and renamed into place.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let (cert, key) = self.to_pem();
        std::fs::create_dir_all(dir).map_err(io_at(dir))?;
        write_private(&dir.join(KEY_FILE), key.as_bytes())?;
        let cert_path = dir.join(CERT_FILE);
        std::fs::write(&cert_path, cert).map_err(io_at(&cert_path))
    }

    /// Reads what [`TlsIdentity::save`] wrote.
    pub fn load(dir: &Path) -> Result<Self> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read_to_string(&path).map_err(io_at(&path))
        };
        Self::from_pem(&read(CERT_FILE)?, &read(KEY_FILE)?)
    }
}

impl Clone for TlsIdentity {
    fn clone(&self) -> Self {
        TlsIdentity { cert_chain: self.cert_chain.clone(), key: self.key.clone_key(), pin: self.pin }
    }
}

impl fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("certs", &self.cert_chain.len())
            .field("pin", &self.pin.to_string())
            .finish_non_exhaustive()
    }
}

/// A throw-away certificate authority for demo networks and tests, so that ordinary HTTPS
/// clients (given [`DemoCa::cert_pem`]) can also reach the nodes. Federation itself does not
/// rely on it: peers are authenticated by their pins.
pub struct DemoCa {
    ca: CertifiedIssuer<'static, KeyPair>,
}

impl DemoCa {
    /// A new CA (ECDSA P-256) whose certificate's common name is `name`.
    pub fn generate(name: &str) -> Result<Self> {
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        set_validity(&mut params, CA_VALIDITY_DAYS);
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        Ok(DemoCa { ca: CertifiedIssuer::self_signed(params, key)? })
    }

    /// Issues a leaf certificate for `node_id` (CN) with `hosts` as subject alternative
    /// names, usable for both server and client authentication. The chain holds the leaf only.
    pub fn issue(&self, node_id: &NodeId, hosts: &[&str]) -> Result<TlsIdentity> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let cert = leaf_params(node_id, hosts, LEAF_VALIDITY_DAYS)?.signed_by(&key, &self.ca)?;
        TlsIdentity::from_rcgen(cert.der().clone(), &key)
    }

    /// The CA certificate (DER).
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        self.ca.der()
    }

    /// The CA certificate (PEM), to give to browsers or `curl --cacert`.
    pub fn cert_pem(&self) -> String {
        pem_block("CERTIFICATE", self.ca.der())
    }
}

impl fmt::Debug for DemoCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DemoCa").finish_non_exhaustive()
    }
}

/// Parameters of a node certificate: CN = node id, SANs = hosts, digital signature,
/// serverAuth + clientAuth.
pub(crate) fn leaf_params(node_id: &NodeId, hosts: &[&str], days: i64) -> Result<CertificateParams> {
    let mut params = CertificateParams::new(hosts.iter().map(|h| h.to_string()).collect::<Vec<_>>())?;
    params.distinguished_name.push(DnType::CommonName, node_id.as_str());
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages =
        vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
    set_validity(&mut params, days);
    Ok(params)
}

/// Valid from the start of yesterday (tolerates clocks behind ours) to the start of the day
/// `days` days from now; a negative `days` makes an expired certificate (tests).
pub(crate) fn set_validity(params: &mut CertificateParams, days: i64) {
    let day = |d: chrono::DateTime<Utc>| rcgen::date_time_ymd(d.year(), d.month() as u8, d.day() as u8);
    let now = Utc::now();
    let not_after = now + TimeDelta::days(days);
    params.not_before = day(now.min(not_after) - TimeDelta::days(1));
    params.not_after = day(not_after);
}

/// The pin of a certificate: SHA-256 over its SubjectPublicKeyInfo DER (as parsed by webpki).
pub fn cert_pin(cert: &CertificateDer<'_>) -> Result<TlsPin> {
    let ee =
        webpki::EndEntityCert::try_from(cert).map_err(|_| NetError::Identity("unparsable certificate"))?;
    Ok(TlsPin::of_spki(ee.subject_public_key_info().as_ref()))
}

/// Checks the certificate's validity period against `now` and returns its pin. This is the
/// whole certificate check of a federation handshake: no chain is built, the pin replaces it.
pub(crate) fn check_cert(
    cert: &CertificateDer<'_>,
    now: UnixTime,
) -> std::result::Result<TlsPin, rustls::CertificateError> {
    use rustls::CertificateError as E;
    let pin = cert_pin(cert).map_err(|_| E::BadEncoding)?;
    let (not_before, not_after) = validity(cert.as_ref()).ok_or(E::BadEncoding)?;
    let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    if now < not_before {
        return Err(E::NotValidYet);
    }
    if now > not_after {
        return Err(E::Expired);
    }
    Ok(pin)
}

/// `(notBefore, notAfter)` in Unix seconds, read from the certificate's TBSCertificate.
/// webpki checks validity only while building a chain, which pinning does not do, and does
/// not expose it; this reads just that field (the rest was parsed by webpki already).
fn validity(cert: &[u8]) -> Option<(i64, i64)> {
    let (0x30, cert, _) = der_tlv(cert)? else { return None };
    let (0x30, mut tbs, _) = der_tlv(cert)? else { return None };
    if tbs.first() == Some(&0xa0) {
        tbs = der_tlv(tbs)?.2; // [0] version
    }
    for expected in [0x02, 0x30, 0x30] {
        // serialNumber, signature algorithm, issuer
        let (tag, _, rest) = der_tlv(tbs)?;
        if tag != expected {
            return None;
        }
        tbs = rest;
    }
    let (0x30, validity, _) = der_tlv(tbs)? else { return None };
    let (tag, not_before, rest) = der_tlv(validity)?;
    let not_before = der_time(tag, not_before)?;
    let (tag, not_after, _) = der_tlv(rest)?;
    Some((not_before, der_time(tag, not_after)?))
}

/// One DER tag-length-value: `(tag, contents, rest)`. Definite lengths up to 4 bytes.
fn der_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// UTCTime (`YYMMDDHHMMSSZ`, years 50–99 are 19xx) or GeneralizedTime (`YYYYMMDDHHMMSSZ`).
pub(crate) fn der_time(tag: u8, s: &[u8]) -> Option<i64> {
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = s.get(r)?;
        part.iter().all(u8::is_ascii_digit).then(|| part.iter().fold(0, |a, &d| a * 10 + u32::from(d - b'0')))
    };
    let (year, rest) = match (tag, s.len()) {
        (0x17, 13) => {
            let yy = digits(0..2)?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, 2)
        }
        (0x18, 15) => (digits(0..4)?, 4),
        _ => return None,
    };
    if s.last() != Some(&b'Z') {
        return None;
    }
    let at = |i: usize| digits(rest + i..rest + i + 2);
    let date = chrono::NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, at(0)?, at(2)?)?;
    Some(date.and_hms_opt(at(4)?, at(6)?, at(8)?)?.and_utc().timestamp())
}

fn pem_block(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> NetError + '_ {
    move |source| NetError::Io { path: PathBuf::from(path), source }
}

/// Writes a secret file: temporary file created with mode 0600, synced, renamed into place.
fn write_private(path: &Path, contents: &[u8]) -> Result<()> {
    let tmp = path.with_extension("pem.tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp).map_err(io_at(&tmp))?;
    file.write_all(contents).and_then(|()| file.sync_all()).map_err(io_at(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io_at(path))
}
