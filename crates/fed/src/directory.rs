//! The network directory, published by the hub and signed with its key.
//!
//! For every node: its id, the states it serves, its endpoint, the pin of its TLS key, its
//! signing keys with their validity, its roles; for the whole network: the payload fields
//! agreed per message type. Nodes hold the hub's public key as a trust anchor given at set-up
//! and accept a directory only when ([`SignedDirectory::verify`]):
//!
//! - it is signed by the trust anchor (and carries the directory `typ`);
//! - it is well formed ([`Directory::validate`]);
//! - it is current: issued no later than now (with [`ISSUE_TOLERANCE`] for clocks) and not
//!   expired. An expired copy is never used (fail closed): [`Directory::check_current`] is
//!   run again by every receipt check;
//! - its serial is not older than the one held. **An equal serial is accepted**: it is the
//!   usual answer to a periodic refresh. The hub never signs two contents under one serial; a
//!   node that wants to detect a hub doing so compares [`SignedDirectory::digest`]s.
//!
//! Rotation: a node publishes its next key with validity overlapping the current one; during
//! the overlap messages signed with either verify. Revocation: `revoked_at` on a key or on a
//! whole node. A revoked key or node is refused for every message whatever its `created`:
//! whoever holds a compromised key can date a message before the revocation.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::envelope::{MessageType, Payload};
use crate::ids::{NodeId, StateCode};
use crate::jws::{self, JwsError};
use crate::keys::{Kid, SigningKey, VerifyingKey};

/// The `typ` of a directory's protected header.
pub const DIRECTORY_TYP: &str = "enlace-dir+jws";

/// How far a directory's `issued_at` may be ahead of our clock.
pub const ISSUE_TOLERANCE: TimeDelta = TimeDelta::minutes(5);

/// A node's HTTPS endpoint, e.g. `https://gt.enlace.example:8443`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Endpoint(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("\"{0}\" is not an endpoint (expected https://host[:port][/path], no spaces)")]
pub struct BadEndpoint(pub String);

impl Endpoint {
    pub fn parse(s: &str) -> Result<Self, BadEndpoint> {
        let bad = || BadEndpoint(s.to_string());
        let rest = s.strip_prefix("https://").ok_or_else(bad)?;
        let host = rest.split(['/', '?', '#']).next().unwrap_or("");
        if host.is_empty()
            || host.contains('@')
            || s.len() > 2048
            || s.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(bad());
        }
        Ok(Endpoint(s.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Endpoint {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Endpoint::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// The pin of a node's TLS key: SHA-256 of its certificate's SubjectPublicKeyInfo (DER), in
/// standard base64 with padding (the `pin-sha256` form).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TlsPin([u8; 32]);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("\"{0}\" is not a TLS key pin (expected the base64 of 32 bytes, SHA-256 of the SPKI)")]
pub struct BadTlsPin(pub String);

impl TlsPin {
    /// The pin of a SubjectPublicKeyInfo given in DER.
    pub fn of_spki(spki_der: &[u8]) -> TlsPin {
        TlsPin(Sha256::digest(spki_der).into())
    }
    pub fn parse(s: &str) -> Result<Self, BadTlsPin> {
        let bytes = STANDARD.decode(s).map_err(|_| BadTlsPin(s.to_string()))?;
        Ok(TlsPin(bytes.as_slice().try_into().map_err(|_| BadTlsPin(s.to_string()))?))
    }
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for TlsPin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&STANDARD.encode(self.0))
    }
}

impl Serialize for TlsPin {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TlsPin {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        TlsPin::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// What a directory entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeRole {
    /// A country node: holds cases, sends and receives messages.
    Node,
    /// The regional hub: publishes the directory.
    Hub,
}

/// One signing key of a node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyEntry {
    /// Must be [`Kid::of`] the public key.
    pub kid: Kid,
    pub public_key: VerifyingKey,
    /// Valid for messages created from this instant…
    pub not_before: DateTime<Utc>,
    /// …until just before this one.
    pub not_after: DateTime<Utc>,
    /// Set when the key was revoked; a revoked key verifies nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
}

impl KeyEntry {
    /// An entry for `key`, valid over `[not_before, not_after)`.
    pub fn new(key: VerifyingKey, not_before: DateTime<Utc>, not_after: DateTime<Utc>) -> KeyEntry {
        KeyEntry { kid: key.kid(), public_key: key, not_before, not_after, revoked_at: None }
    }
}

/// One node of the network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeEntry {
    pub id: NodeId,
    /// The states whose cases the node holds (none for the hub).
    pub states: BTreeSet<StateCode>,
    pub endpoint: Endpoint,
    pub tls_pin: TlsPin,
    pub keys: Vec<KeyEntry>,
    pub roles: BTreeSet<NodeRole>,
    /// Set when the whole node was revoked: nothing it signs is accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
}

impl NodeEntry {
    pub fn key(&self, kid: &Kid) -> Option<&KeyEntry> {
        self.keys.iter().find(|k| &k.kid == kid)
    }
    /// The keys valid at `at`, neither revoked nor outside their validity.
    pub fn valid_keys(&self, at: DateTime<Utc>) -> impl Iterator<Item = &KeyEntry> {
        self.keys.iter().filter(move |k| k.revoked_at.is_none() && k.not_before <= at && at < k.not_after)
    }
}

/// The network directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Directory {
    /// Grows with every new directory.
    pub serial: u64,
    pub issued_at: DateTime<Utc>,
    /// After this instant the directory is not used, and nothing is accepted until a newer
    /// one arrives.
    pub expires_at: DateTime<Utc>,
    pub nodes: Vec<NodeEntry>,
    /// The payload fields agreed per message type, network-wide. A type absent here is not
    /// accepted at all. A share narrows this further to the fields it was offered with (the
    /// application checks that against the share); this is the ceiling.
    pub field_subsets: BTreeMap<MessageType, BTreeSet<String>>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DirectoryError {
    #[error("the directory is not a well-formed JWS: {0}")]
    Malformed(JwsError),
    #[error("the JWS is not a directory (typ {0})")]
    WrongType(String),
    #[error("the directory is signed with key {signed_with}, not with the hub's key {anchor}")]
    WrongSigner { signed_with: String, anchor: Kid },
    #[error("the directory's signature does not verify under the hub's key")]
    BadSignature,
    #[error("the directory is not valid: {0}")]
    Invalid(String),
    #[error("the directory expired at {expires_at}")]
    Expired { expires_at: DateTime<Utc> },
    #[error("the directory is issued at {issued_at}, in the future")]
    NotYetValid { issued_at: DateTime<Utc> },
    #[error("the directory's serial {received} is older than the one held ({held})")]
    OlderSerial { received: u64, held: u64 },
}

impl From<JwsError> for DirectoryError {
    fn from(e: JwsError) -> Self {
        match e {
            JwsError::BadSignature => DirectoryError::BadSignature,
            other => DirectoryError::Malformed(other),
        }
    }
}

/// A field-subset refusal (also a receipt refusal, see [`crate::receive::EnvelopeError`]).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum PayloadError {
    #[error("the message type {0} is not agreed in the directory")]
    TypeNotAgreed(MessageType),
    #[error("the field \"{field}\" is not among those agreed for {message_type}")]
    FieldNotAllowed { message_type: MessageType, field: String },
}

impl Directory {
    pub fn node(&self, id: &NodeId) -> Option<&NodeEntry> {
        self.nodes.iter().find(|n| &n.id == id)
    }

    /// The (non-revoked) node that holds the cases of `state`.
    pub fn node_for_state(&self, state: StateCode) -> Option<&NodeEntry> {
        self.nodes.iter().find(|n| n.revoked_at.is_none() && n.states.contains(&state))
    }

    /// Refuses an expired directory: a node whose copy has expired accepts nothing.
    pub fn check_current(&self, now: DateTime<Utc>) -> Result<(), DirectoryError> {
        if now >= self.expires_at {
            return Err(DirectoryError::Expired { expires_at: self.expires_at });
        }
        if self.issued_at > now + ISSUE_TOLERANCE {
            return Err(DirectoryError::NotYetValid { issued_at: self.issued_at });
        }
        Ok(())
    }

    /// Checks that every top-level payload field is agreed for the message type. Run by the
    /// sender before writing to its outbox and by the receiver.
    pub fn check_payload(&self, message_type: MessageType, payload: &Payload) -> Result<(), PayloadError> {
        let allowed =
            self.field_subsets.get(&message_type).ok_or(PayloadError::TypeNotAgreed(message_type))?;
        match payload.keys().find(|k| !allowed.contains(k.as_str())) {
            Some(field) => Err(PayloadError::FieldNotAllowed { message_type, field: field.clone() }),
            None => Ok(()),
        }
    }

    /// Checks the directory is coherent: times in order, unique node ids and key ids, every
    /// key id derived from its key, each node with a role and at least one key.
    pub fn validate(&self) -> Result<(), DirectoryError> {
        let invalid = |m: String| Err(DirectoryError::Invalid(m));
        if self.issued_at >= self.expires_at {
            return invalid("issued_at is not before expires_at".into());
        }
        let mut ids = BTreeSet::new();
        let mut kids = BTreeSet::new();
        for node in &self.nodes {
            if !ids.insert(&node.id) {
                return invalid(format!("node {} is listed twice", node.id));
            }
            if node.roles.is_empty() {
                return invalid(format!("node {} has no role", node.id));
            }
            if node.roles.contains(&NodeRole::Node) && node.states.is_empty() {
                return invalid(format!("node {} serves no state", node.id));
            }
            if node.keys.is_empty() {
                return invalid(format!("node {} has no signing key", node.id));
            }
            for key in &node.keys {
                if key.kid != key.public_key.kid() {
                    return invalid(format!("key {} of node {} is not the id of its key", key.kid, node.id));
                }
                if !kids.insert(&key.kid) {
                    return invalid(format!("key {} is listed twice", key.kid));
                }
                if key.not_before >= key.not_after {
                    return invalid(format!(
                        "key {} of node {} has not_before ≥ not_after",
                        key.kid, node.id
                    ));
                }
            }
        }
        let mut states = BTreeMap::new();
        for node in self.nodes.iter().filter(|n| n.revoked_at.is_none()) {
            for s in &node.states {
                if let Some(other) = states.insert(*s, &node.id) {
                    return invalid(format!("state {s} is served by both {other} and {}", node.id));
                }
            }
        }
        for (t, fields) in &self.field_subsets {
            if fields.iter().any(|f| f.is_empty()) {
                return invalid(format!("an empty field name is agreed for {t}"));
            }
        }
        Ok(())
    }

    /// Validates and signs the directory with the hub's key.
    pub fn sign(&self, hub_key: &SigningKey) -> Result<SignedDirectory, DirectoryError> {
        self.validate()?;
        let mut header = jws::Header::new();
        header.insert("typ".into(), DIRECTORY_TYP.into());
        header.insert("kid".into(), hub_key.kid().as_str().into());
        let body = serde_json::to_vec(self).expect("a directory serialises");
        Ok(SignedDirectory(jws::sign(&header, &body, hub_key)))
    }
}

/// A directory as the hub serves it (`GET /fed/v1/directory`): a compact JWS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SignedDirectory(pub String);

impl SignedDirectory {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// SHA-256 of the signed bytes, to tell two directories with the same serial apart.
    pub fn digest(&self) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(self.0.as_bytes()))
    }

    /// Verifies the directory against the trust anchor and the serial held (see the module
    /// documentation for the rules).
    pub fn verify(
        &self,
        trust_anchor: &VerifyingKey,
        now: DateTime<Utc>,
        previous_serial: Option<u64>,
    ) -> Result<Directory, DirectoryError> {
        let jws = jws::Unverified::decode(&self.0)?;
        match jws.header().get("typ") {
            Some(Value::String(t)) if t == DIRECTORY_TYP => {}
            other => return Err(DirectoryError::WrongType(other.map_or("none".into(), |v| v.to_string()))),
        }
        let anchor = trust_anchor.kid();
        match jws.header().get("kid") {
            Some(Value::String(k)) if k == anchor.as_str() => {}
            other => {
                let signed_with = other.map_or("none".into(), |v| v.to_string());
                return Err(DirectoryError::WrongSigner { signed_with, anchor });
            }
        }
        let (_, body) = jws.verify(trust_anchor)?;
        let directory: Directory =
            serde_json::from_slice(&body).map_err(|e| DirectoryError::Invalid(e.to_string()))?;
        directory.validate()?;
        directory.check_current(now)?;
        if let Some(held) = previous_serial
            && directory.serial < held
        {
            return Err(DirectoryError::OlderSerial { received: directory.serial, held });
        }
        Ok(directory)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::testutil::*;

    #[test]
    fn endpoints_and_pins() {
        assert!(Endpoint::parse("https://gt.enlace.example:8443/fed").is_ok());
        for bad in ["http://gt.example", "https://", "https:///x", "https://a b", "https://u@h", "gt.example"]
        {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
        let pin = TlsPin::of_spki(b"some SPKI DER");
        assert_eq!(pin.to_string().len(), 44);
        assert_eq!(TlsPin::parse(&pin.to_string()).unwrap(), pin);
        assert!(TlsPin::parse("AAAA").is_err());
        assert!(TlsPin::parse(&URL_SAFE_NO_PAD.encode([0xfb; 32])).is_err());
    }

    #[test]
    fn sign_and_verify_round_trip() {
        let net = Net::new();
        let signed = net.directory.sign(&net.hub).unwrap();
        let got = signed.verify(&net.hub.verifying_key(), t(0), None).unwrap();
        assert_eq!(got, net.directory);
        // Same serial again (a refresh): accepted.
        assert_eq!(signed.verify(&net.hub.verifying_key(), t(0), Some(net.directory.serial)).unwrap(), got);
        // A newer serial than held: accepted.
        assert!(signed.verify(&net.hub.verifying_key(), t(0), Some(net.directory.serial - 1)).is_ok());
    }

    #[test]
    fn older_serial_is_refused() {
        let net = Net::new();
        let signed = net.directory.sign(&net.hub).unwrap();
        assert_eq!(
            signed.verify(&net.hub.verifying_key(), t(0), Some(net.directory.serial + 1)),
            Err(DirectoryError::OlderSerial {
                received: net.directory.serial,
                held: net.directory.serial + 1
            })
        );
    }

    #[test]
    fn expired_directory_fails_closed() {
        let net = Net::new();
        let signed = net.directory.sign(&net.hub).unwrap();
        let expires_at = net.directory.expires_at;
        let anchor = net.hub.verifying_key();
        assert!(signed.verify(&anchor, expires_at - TimeDelta::seconds(1), None).is_ok());
        assert_eq!(signed.verify(&anchor, expires_at, None), Err(DirectoryError::Expired { expires_at }));
        assert_eq!(net.directory.check_current(expires_at), Err(DirectoryError::Expired { expires_at }));
    }

    #[test]
    fn directory_from_the_future_is_refused() {
        let net = Net::new();
        let signed = net.directory.sign(&net.hub).unwrap();
        let early = net.directory.issued_at - ISSUE_TOLERANCE - TimeDelta::seconds(1);
        assert!(matches!(
            signed.verify(&net.hub.verifying_key(), early, None),
            Err(DirectoryError::NotYetValid { .. })
        ));
        assert!(signed.verify(&net.hub.verifying_key(), early + TimeDelta::seconds(2), None).is_ok());
    }

    #[test]
    fn only_the_trust_anchor_signs() {
        let net = Net::new();
        let impostor = SigningKey::from_seed(&[66; 32]);
        let signed = net.directory.sign(&impostor).unwrap();
        assert!(matches!(
            signed.verify(&net.hub.verifying_key(), t(0), None),
            Err(DirectoryError::WrongSigner { .. })
        ));
        // The impostor claiming the hub's kid: the signature gives it away.
        let mut header = jws::Header::new();
        header.insert("typ".into(), DIRECTORY_TYP.into());
        header.insert("kid".into(), net.hub.kid().as_str().into());
        let forged =
            SignedDirectory(jws::sign(&header, &serde_json::to_vec(&net.directory).unwrap(), &impostor));
        assert_eq!(forged.verify(&net.hub.verifying_key(), t(0), None), Err(DirectoryError::BadSignature));
    }

    #[test]
    fn a_flipped_byte_is_refused() {
        let net = Net::new();
        let signed = net.directory.sign(&net.hub).unwrap();
        let (h, rest) = signed.0.split_once('.').unwrap();
        let (p, s) = rest.split_once('.').unwrap();
        let mut body = URL_SAFE_NO_PAD.decode(p).unwrap();
        let i = body.windows(6).position(|w| w == b"serial").unwrap() + 8;
        assert!(body[i].is_ascii_digit());
        body[i] = if body[i] == b'9' { b'8' } else { b'9' };
        let tampered = SignedDirectory(format!("{h}.{}.{s}", URL_SAFE_NO_PAD.encode(body)));
        assert_eq!(tampered.verify(&net.hub.verifying_key(), t(0), None), Err(DirectoryError::BadSignature));
    }

    #[test]
    fn an_envelope_is_not_a_directory() {
        let net = Net::new();
        let mut header = jws::Header::new();
        header.insert("typ".into(), crate::envelope::ENVELOPE_TYP.into());
        header.insert("kid".into(), net.hub.kid().as_str().into());
        let other =
            SignedDirectory(jws::sign(&header, &serde_json::to_vec(&net.directory).unwrap(), &net.hub));
        assert!(matches!(
            other.verify(&net.hub.verifying_key(), t(0), None),
            Err(DirectoryError::WrongType(_))
        ));
    }

    #[test]
    fn unknown_fields_in_the_directory_are_refused() {
        let net = Net::new();
        let mut value = serde_json::to_value(&net.directory).unwrap();
        value["nodes"][0]["extra"] = true.into();
        let mut header = jws::Header::new();
        header.insert("typ".into(), DIRECTORY_TYP.into());
        header.insert("kid".into(), net.hub.kid().as_str().into());
        let signed = SignedDirectory(jws::sign(&header, &serde_json::to_vec(&value).unwrap(), &net.hub));
        let err = signed.verify(&net.hub.verifying_key(), t(0), None).unwrap_err();
        assert!(matches!(&err, DirectoryError::Invalid(m) if m.contains("extra")), "{err}");
    }

    #[test]
    fn validation() {
        let net = Net::new();
        assert_eq!(net.directory.validate(), Ok(()));
        let check = |f: &dyn Fn(&mut Directory), expect: &str| {
            let mut d = net.directory.clone();
            f(&mut d);
            match d.validate() {
                Err(DirectoryError::Invalid(m)) => assert!(m.contains(expect), "{m} lacks {expect}"),
                other => panic!("{other:?} for {expect}"),
            }
            assert!(d.sign(&net.hub).is_err(), "signed an invalid directory ({expect})");
        };
        check(&|d| d.expires_at = d.issued_at, "expires_at");
        check(
            &|d| {
                let n = d.nodes[1].clone();
                d.nodes.push(n);
            },
            "listed twice",
        );
        check(&|d| d.nodes[1].roles.clear(), "no role");
        check(&|d| d.nodes[1].states.clear(), "serves no state");
        check(&|d| d.nodes[1].keys.clear(), "no signing key");
        check(&|d| d.nodes[1].keys[0].kid = d.nodes[2].keys[0].kid.clone(), "not the id of its key");
        check(&|d| d.nodes[1].keys[0].not_after = d.nodes[1].keys[0].not_before, "not_before");
        check(
            &|d| {
                d.nodes[2].states.insert(StateCode::parse("MX").unwrap());
            },
            "served by both",
        );
        check(
            &|d| {
                d.field_subsets.insert(MessageType::Pull, [String::new()].into());
            },
            "empty field name",
        );
        // The same key under two nodes.
        check(
            &|d| {
                let k = d.nodes[1].keys[0].clone();
                d.nodes[2].keys.push(k);
            },
            "listed twice",
        );
    }

    #[test]
    fn payload_subsets() {
        let net = Net::new();
        let mut p = Payload::new();
        p.insert("given_names".into(), "Ana".into());
        assert_eq!(net.directory.check_payload(MessageType::ShareUpdate, &p), Ok(()));
        p.insert("religion".into(), "x".into());
        assert_eq!(
            net.directory.check_payload(MessageType::ShareUpdate, &p),
            Err(PayloadError::FieldNotAllowed {
                message_type: MessageType::ShareUpdate,
                field: "religion".into()
            })
        );
        let mut d = net.directory.clone();
        d.field_subsets.remove(&MessageType::ShareUpdate);
        assert_eq!(
            d.check_payload(MessageType::ShareUpdate, &Payload::new()),
            Err(PayloadError::TypeNotAgreed(MessageType::ShareUpdate))
        );
    }

    #[test]
    fn lookups() {
        let net = Net::new();
        let gt = StateCode::parse("GT").unwrap();
        assert_eq!(net.directory.node_for_state(gt).unwrap().id.as_str(), "gt");
        assert!(net.directory.node_for_state(StateCode::parse("FR").unwrap()).is_none());
        let node = net.directory.node(&NodeId::parse("mx").unwrap()).unwrap();
        assert_eq!(node.valid_keys(t(0)).count(), 1);
        assert_eq!(node.valid_keys(t(-100_000)).count(), 0);
    }
}
