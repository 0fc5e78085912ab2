//! The receipt check: everything a node verifies about an envelope before applying it.
//!
//! [`verify_envelope`] runs the checks in this order, each refusal with its own
//! [`EnvelopeError`] variant (whose text can go in an HTTP problem body, and whose
//! [`EnvelopeError::code`] can be its type):
//!
//! 1. our directory is current (an expired copy accepts nothing);
//! 2. the JWS is well formed ([`crate::jws`]), its `typ` is an envelope's, its header has
//!    only known names and valid values, and the header rules hold;
//! 3. **directory serial**: an envelope made with a newer directory than ours is refused
//!    with [`EnvelopeError::DirectoryBehind`], a retryable refusal: the caller refreshes its
//!    directory and the sender's relay retries. It comes before the key checks because a new
//!    node or a rotated key appears only in the newer directory. The serial is not yet
//!    authenticated at this point, so callers rate-limit the refreshes it triggers. An
//!    envelope made with an older directory than ours is checked against ours (ours is the
//!    authority: a key revoked since is refused);
//! 4. the sender is in the directory and not revoked; the key is one of the sender's, not
//!    revoked, and valid at the envelope's `created` (during a rotation overlap both keys
//!    are valid);
//! 5. the signature (strict Ed25519) over the header and payload;
//! 6. the destination is this node; the TLS peer is the sender (no relaying by a third
//!    node); `created` is within `now ± max_skew`;
//! 7. the payload is a JSON object whose every field is agreed for the message type.
//!
//! Steps 3 and 4 read header fields before the signature is checked; they only decide
//! which refusal is given, never an acceptance.
//!
//! Duplicates are not refused here: the receiver's store looks up
//! [`crate::ids::ReplayKey`] and answers a duplicate with the stored receipt.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

use crate::directory::{Directory, DirectoryError, PayloadError};
use crate::envelope::{ENVELOPE_TYP, EnvelopeHeader, HEADER_NAMES, HeaderRuleError, Payload};
use crate::ids::NodeId;
use crate::jws::{self, JwsError};
use crate::keys::Kid;

/// An envelope that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedEnvelope {
    pub header: EnvelopeHeader,
    pub payload: Payload,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum EnvelopeError {
    #[error("this node's directory expired at {expires_at}: nothing is accepted until it is refreshed")]
    DirectoryExpired { expires_at: DateTime<Utc> },
    #[error("malformed envelope: {0}")]
    Malformed(JwsError),
    #[error("the JWS is not an envelope (typ {0})")]
    WrongType(String),
    #[error("the envelope header has an unknown field \"{0}\"")]
    UnknownHeaderField(String),
    #[error("the envelope header is invalid: {0}")]
    BadHeader(String),
    #[error("the envelope header breaks a rule: {0}")]
    HeaderRule(#[from] HeaderRuleError),
    #[error(
        "the envelope was made with directory {theirs}, newer than this node's {ours}: retry after refresh"
    )]
    DirectoryBehind { ours: u64, theirs: u64 },
    #[error("the sender {0} is not in the directory")]
    UnknownSender(NodeId),
    #[error("the sender {0} is revoked")]
    SenderRevoked(NodeId),
    #[error("the key {kid} is not one of {from}'s keys")]
    UnknownKey { kid: Kid, from: NodeId },
    #[error("the key {kid} is revoked")]
    KeyRevoked { kid: Kid },
    #[error("the key {kid} is valid only from {not_before}, the envelope was created at {created}")]
    KeyNotYetValid { kid: Kid, not_before: DateTime<Utc>, created: DateTime<Utc> },
    #[error("the key {kid} expired at {not_after}, the envelope was created at {created}")]
    KeyExpired { kid: Kid, not_after: DateTime<Utc>, created: DateTime<Utc> },
    #[error("the signature does not match the header and payload under the sender's key")]
    BadSignature,
    #[error("the envelope is for {to}, this node is {me}")]
    WrongDestination { to: NodeId, me: NodeId },
    #[error("the envelope is from {from} but came over a TLS connection from {tls_peer}")]
    RelayedByThirdNode { from: NodeId, tls_peer: NodeId },
    #[error(
        "the envelope was created at {created}, more than {max_skew_secs} s after this node's time {now}"
    )]
    FromTheFuture { created: DateTime<Utc>, now: DateTime<Utc>, max_skew_secs: i64 },
    #[error(
        "the envelope was created at {created}, more than {max_skew_secs} s before this node's time {now}"
    )]
    TooOld { created: DateTime<Utc>, now: DateTime<Utc>, max_skew_secs: i64 },
    #[error("the payload is not a JSON object: {0}")]
    BadPayload(String),
    #[error(transparent)]
    Payload(#[from] PayloadError),
}

impl EnvelopeError {
    /// A short stable name for the refusal (e.g. the last part of a problem `type` URI).
    pub fn code(&self) -> &'static str {
        match self {
            EnvelopeError::DirectoryExpired { .. } => "directory-expired",
            EnvelopeError::Malformed(_) => "malformed",
            EnvelopeError::WrongType(_) => "wrong-type",
            EnvelopeError::UnknownHeaderField(_) => "unknown-header-field",
            EnvelopeError::BadHeader(_) => "bad-header",
            EnvelopeError::HeaderRule(_) => "header-rule",
            EnvelopeError::DirectoryBehind { .. } => "directory-behind",
            EnvelopeError::UnknownSender(_) => "unknown-sender",
            EnvelopeError::SenderRevoked(_) => "sender-revoked",
            EnvelopeError::UnknownKey { .. } => "unknown-key",
            EnvelopeError::KeyRevoked { .. } => "key-revoked",
            EnvelopeError::KeyNotYetValid { .. } => "key-not-yet-valid",
            EnvelopeError::KeyExpired { .. } => "key-expired",
            EnvelopeError::BadSignature => "bad-signature",
            EnvelopeError::WrongDestination { .. } => "wrong-destination",
            EnvelopeError::RelayedByThirdNode { .. } => "relayed",
            EnvelopeError::FromTheFuture { .. } => "from-the-future",
            EnvelopeError::TooOld { .. } => "too-old",
            EnvelopeError::BadPayload(_) => "bad-payload",
            EnvelopeError::Payload(PayloadError::TypeNotAgreed(_)) => "type-not-agreed",
            EnvelopeError::Payload(PayloadError::FieldNotAllowed { .. }) => "field-not-allowed",
        }
    }

    /// The refusal is on this node's side and may pass after it refreshes its directory;
    /// the sender should retry rather than dead-letter the message.
    pub fn is_retryable(&self) -> bool {
        matches!(self, EnvelopeError::DirectoryBehind { .. } | EnvelopeError::DirectoryExpired { .. })
    }
}

impl From<JwsError> for EnvelopeError {
    fn from(e: JwsError) -> Self {
        match e {
            JwsError::BadSignature => EnvelopeError::BadSignature,
            other => EnvelopeError::Malformed(other),
        }
    }
}

/// Checks an arriving envelope (see the module documentation for the checks and their order).
///
/// `tls_peer` is the node the mutual-TLS client certificate was pinned to; `None` only where
/// the transport authenticated no peer (the check is then skipped: a server must pass it).
pub fn verify_envelope(
    compact: &str,
    directory: &Directory,
    me: &NodeId,
    tls_peer: Option<&NodeId>,
    now: DateTime<Utc>,
    max_skew: TimeDelta,
) -> Result<VerifiedEnvelope, EnvelopeError> {
    if let Err(DirectoryError::Expired { expires_at }) = directory.check_current(now) {
        return Err(EnvelopeError::DirectoryExpired { expires_at });
    }
    let jws = jws::Unverified::decode(compact)?;
    let header = parse_header(jws.header())?;
    header.check_rules()?;

    if header.dir_serial > directory.serial {
        return Err(EnvelopeError::DirectoryBehind { ours: directory.serial, theirs: header.dir_serial });
    }
    let sender =
        directory.node(&header.from).ok_or_else(|| EnvelopeError::UnknownSender(header.from.clone()))?;
    if sender.revoked_at.is_some() {
        return Err(EnvelopeError::SenderRevoked(header.from.clone()));
    }
    let kid = &header.kid;
    let key = sender
        .key(kid)
        .ok_or_else(|| EnvelopeError::UnknownKey { kid: kid.clone(), from: header.from.clone() })?;
    if key.revoked_at.is_some() {
        return Err(EnvelopeError::KeyRevoked { kid: kid.clone() });
    }
    if header.created < key.not_before {
        return Err(EnvelopeError::KeyNotYetValid {
            kid: kid.clone(),
            not_before: key.not_before,
            created: header.created,
        });
    }
    if header.created >= key.not_after {
        return Err(EnvelopeError::KeyExpired {
            kid: kid.clone(),
            not_after: key.not_after,
            created: header.created,
        });
    }

    let (_, body) = jws.verify(&key.public_key)?;

    if &header.to != me {
        return Err(EnvelopeError::WrongDestination { to: header.to.clone(), me: me.clone() });
    }
    if let Some(peer) = tls_peer
        && peer != &header.from
    {
        return Err(EnvelopeError::RelayedByThirdNode { from: header.from.clone(), tls_peer: peer.clone() });
    }
    let max_skew_secs = max_skew.num_seconds();
    if header.created > now + max_skew {
        return Err(EnvelopeError::FromTheFuture { created: header.created, now, max_skew_secs });
    }
    if header.created < now - max_skew {
        return Err(EnvelopeError::TooOld { created: header.created, now, max_skew_secs });
    }

    let payload = crate::json::parse_object(&body).map_err(EnvelopeError::BadPayload)?;
    directory.check_payload(header.message_type, &payload)?;
    Ok(VerifiedEnvelope { header, payload })
}

/// Reads the envelope fields of a protected header: `typ` must be an envelope's, every
/// name known, every value valid.
fn parse_header(raw: &jws::Header) -> Result<EnvelopeHeader, EnvelopeError> {
    match raw.get("typ") {
        Some(Value::String(t)) if t == ENVELOPE_TYP => {}
        other => return Err(EnvelopeError::WrongType(other.map_or("none".into(), |v| v.to_string()))),
    }
    if let Some(name) = raw.keys().find(|k| !HEADER_NAMES.contains(&k.as_str())) {
        return Err(EnvelopeError::UnknownHeaderField(name.clone()));
    }
    let mut fields = raw.clone();
    fields.remove("alg");
    fields.remove("typ");
    serde_json::from_value(Value::Object(fields)).map_err(|e| EnvelopeError::BadHeader(e.to_string()))
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;
    use crate::directory::KeyEntry;
    use crate::envelope::{MessageType, sign_envelope};
    use crate::ids::MessageId;
    use crate::keys::SigningKey;
    use crate::testutil::*;

    const SKEW: TimeDelta = TimeDelta::minutes(5);

    fn gt() -> NodeId {
        node("gt")
    }

    fn check(net: &Net, compact: &str) -> Result<VerifiedEnvelope, EnvelopeError> {
        verify_envelope(compact, &net.directory, &gt(), Some(&node("mx")), t(0), SKEW)
    }

    fn good(net: &Net) -> (EnvelopeHeader, Payload, String) {
        let h = update_header(&net.mx);
        let p = payload(&[("given_names", "Ana María"), ("status", "open")]);
        let compact = sign_envelope(&h, &p, &net.mx).unwrap();
        (h, p, compact)
    }

    /// Signs any header object and payload bytes, bypassing the sender's checks (a hostile peer).
    fn sign_raw(header: &serde_json::Map<String, Value>, body: &[u8], key: &SigningKey) -> String {
        let mut fields = header.clone();
        fields.insert("typ".into(), ENVELOPE_TYP.into());
        jws::sign(&fields, body, key)
    }

    fn header_map(h: &EnvelopeHeader) -> serde_json::Map<String, Value> {
        match serde_json::to_value(h).unwrap() {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    fn segments(compact: &str) -> (String, String, String) {
        let v: Vec<_> = compact.split('.').map(str::to_string).collect();
        (v[0].clone(), v[1].clone(), v[2].clone())
    }

    #[test]
    fn a_good_envelope_passes() {
        let net = Net::new();
        let (h, p, compact) = good(&net);
        let v = check(&net, &compact).unwrap();
        assert_eq!(v.header, h);
        assert_eq!(v.payload, p);
        // Without a TLS peer (the transport authenticated none) too.
        assert!(verify_envelope(&compact, &net.directory, &gt(), None, t(0), SKEW).is_ok());
    }

    #[test]
    fn expired_directory_accepts_nothing() {
        let net = Net::new();
        let (_, _, compact) = good(&net);
        let now = net.directory.expires_at;
        let err =
            verify_envelope(&compact, &net.directory, &gt(), None, now, TimeDelta::days(365)).unwrap_err();
        assert_eq!(err, EnvelopeError::DirectoryExpired { expires_at: now });
        assert!(err.is_retryable());
    }

    #[test]
    fn malformed_jws_is_refused() {
        let net = Net::new();
        let (_, _, compact) = good(&net);
        let (h, p, _) = segments(&compact);
        assert_eq!(check(&net, &format!("{h}.{p}")), Err(EnvelopeError::Malformed(JwsError::Segments(2))));
        let mut fields = header_map(&update_header(&net.mx));
        fields.insert("crit".into(), serde_json::json!(["epoch"]));
        let with_crit = sign_raw(&fields, b"{}", &net.mx);
        assert_eq!(check(&net, &with_crit), Err(EnvelopeError::Malformed(JwsError::Crit)));
        // alg none, unsigned: the classic.
        let none = format!("{}.{p}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#));
        assert!(matches!(check(&net, &none), Err(EnvelopeError::Malformed(_))));
    }

    #[test]
    fn a_directory_is_not_an_envelope() {
        let net = Net::new();
        let signed = net.directory.sign(&net.hub).unwrap();
        assert!(matches!(check(&net, signed.as_str()), Err(EnvelopeError::WrongType(_))));
    }

    #[test]
    fn unknown_header_field_is_named() {
        let net = Net::new();
        let mut fields = header_map(&update_header(&net.mx));
        fields.insert("priority".into(), "high".into());
        let compact = sign_raw(&fields, b"{}", &net.mx);
        let err = check(&net, &compact).unwrap_err();
        assert_eq!(err, EnvelopeError::UnknownHeaderField("priority".into()));
        assert!(err.to_string().contains("\"priority\""));
    }

    #[test]
    fn invalid_header_values_are_refused() {
        let net = Net::new();
        let base = header_map(&update_header(&net.mx));
        let cases: [(&str, Value); 5] = [
            ("id", "3b241101-e2bb-4255-8caf-4136c566a962".into()), // UUIDv4
            ("seq", (-1).into()),
            ("type", "share_delete".into()),
            ("from", "MX".into()),
            ("created", "yesterday".into()),
        ];
        for (name, value) in cases {
            let mut fields = base.clone();
            fields.insert(name.into(), value);
            let compact = sign_raw(&fields, b"{}", &net.mx);
            assert!(matches!(check(&net, &compact), Err(EnvelopeError::BadHeader(_))), "{name}");
        }
        let mut fields = base;
        fields.remove("kid");
        let err = check(&net, &sign_raw(&fields, b"{}", &net.mx)).unwrap_err();
        assert!(matches!(&err, EnvelopeError::BadHeader(m) if m.contains("kid")), "{err}");
    }

    #[test]
    fn header_rules_are_checked_on_receipt() {
        let net = Net::new();
        let mut h = update_header(&net.mx);
        h.seq = 0;
        let compact = sign_raw(&header_map(&h), b"{}", &net.mx);
        assert_eq!(
            check(&net, &compact),
            Err(EnvelopeError::HeaderRule(HeaderRuleError::MissingSeq(MessageType::ShareUpdate)))
        );
    }

    #[test]
    fn newer_directory_serial_asks_for_a_refresh() {
        let net = Net::new();
        let mut h = update_header(&net.mx);
        h.dir_serial = 11;
        let compact = sign_envelope(&h, &Payload::new(), &net.mx).unwrap();
        let err = check(&net, &compact).unwrap_err();
        assert_eq!(err, EnvelopeError::DirectoryBehind { ours: 10, theirs: 11 });
        assert!(err.is_retryable());
        // An older serial than ours is fine.
        h.dir_serial = 3;
        assert!(check(&net, &sign_envelope(&h, &Payload::new(), &net.mx).unwrap()).is_ok());
    }

    #[test]
    fn a_new_node_is_known_after_the_refresh() {
        let mut net = Net::new();
        let sv = SigningKey::from_seed(&[4; 32]);
        let mut h = update_header(&sv);
        h.from = node("sv");
        h.dir_serial = 11;
        let compact = sign_envelope(&h, &Payload::new(), &sv).unwrap();
        let verify =
            |net: &Net| verify_envelope(&compact, &net.directory, &gt(), Some(&node("sv")), t(0), SKEW);
        assert!(matches!(verify(&net), Err(EnvelopeError::DirectoryBehind { .. })));
        net.directory.serial = 11;
        assert_eq!(verify(&net), Err(EnvelopeError::UnknownSender(node("sv"))));
        let mut entry = net.directory.nodes[1].clone();
        entry.id = node("sv");
        entry.keys = vec![KeyEntry::new(sv.verifying_key(), t(-10), t(10))];
        net.directory.nodes.push(entry);
        assert!(verify(&net).is_ok());
    }

    #[test]
    fn revoked_sender_is_refused() {
        let mut net = Net::new();
        let (_, _, compact) = good(&net);
        net.directory.nodes[1].revoked_at = Some(t(-5));
        assert_eq!(check(&net, &compact), Err(EnvelopeError::SenderRevoked(node("mx"))));
    }

    #[test]
    fn unknown_key_is_refused() {
        let net = Net::new();
        // Guatemala's key, claiming to be Mexico: its kid is not among Mexico's keys.
        let mut h = update_header(&net.gt);
        h.to = node("hn");
        let compact = sign_envelope(&h, &Payload::new(), &net.gt).unwrap();
        let err = verify_envelope(&compact, &net.directory, &node("hn"), None, t(0), SKEW).unwrap_err();
        assert_eq!(err, EnvelopeError::UnknownKey { kid: net.gt.kid().clone(), from: node("mx") });
        // A key in no directory at all.
        let stray = SigningKey::from_seed(&[77; 32]);
        let compact = sign_envelope(&update_header(&stray), &Payload::new(), &stray).unwrap();
        assert!(matches!(check(&net, &compact), Err(EnvelopeError::UnknownKey { .. })));
    }

    #[test]
    fn revoked_key_is_refused_even_for_earlier_messages() {
        let mut net = Net::new();
        let (_, _, compact) = good(&net);
        // Revoked after the message's `created`: still refused (the key may be compromised).
        net.directory.nodes[1].keys[0].revoked_at = Some(t(10));
        assert_eq!(check(&net, &compact), Err(EnvelopeError::KeyRevoked { kid: net.mx.kid().clone() }));
    }

    #[test]
    fn key_validity_at_created() {
        let mut net = Net::new();
        let (_, _, compact) = good(&net);
        net.directory.nodes[1].keys[0].not_before = t(1);
        assert_eq!(
            check(&net, &compact),
            Err(EnvelopeError::KeyNotYetValid { kid: net.mx.kid().clone(), not_before: t(1), created: t(0) })
        );
        net.directory.nodes[1].keys[0].not_before = t(-100);
        net.directory.nodes[1].keys[0].not_after = t(0);
        assert_eq!(
            check(&net, &compact),
            Err(EnvelopeError::KeyExpired { kid: net.mx.kid().clone(), not_after: t(0), created: t(0) })
        );
        net.directory.nodes[1].keys[0].not_after = t(1);
        assert!(check(&net, &compact).is_ok());
    }

    #[test]
    fn both_keys_verify_during_a_rotation_overlap() {
        let mut net = Net::new();
        let next = SigningKey::from_seed(&[11; 32]);
        // Old key until t(3600); the next from t(-60): an overlap of an hour.
        net.directory.nodes[1].keys[0].not_after = t(3600);
        net.directory.nodes[1].keys.push(KeyEntry::new(next.verifying_key(), t(-60), t(86_400 * 365)));
        assert_eq!(net.directory.validate(), Ok(()));
        for key in [&net.mx, &next] {
            let compact = sign_envelope(&update_header(key), &Payload::new(), key).unwrap();
            assert!(check(&net, &compact).is_ok(), "key {}", key.kid());
        }
        // After the overlap only the next key works.
        let later = |key: &SigningKey| {
            let mut h = update_header(key);
            h.created = t(4000);
            let compact = sign_envelope(&h, &Payload::new(), key).unwrap();
            verify_envelope(&compact, &net.directory, &gt(), None, t(4000), SKEW)
        };
        assert!(matches!(later(&net.mx), Err(EnvelopeError::KeyExpired { .. })));
        assert!(later(&next).is_ok());
    }

    #[test]
    fn a_changed_header_field_breaks_the_signature() {
        let net = Net::new();
        let (h, _, compact) = good(&net);
        let (_, p, s) = segments(&compact);
        let mut changed = header_map(&h);
        changed.insert("seq".into(), 2.into());
        changed.insert("typ".into(), ENVELOPE_TYP.into());
        changed.insert("alg".into(), "EdDSA".into());
        let forged = format!("{}.{p}.{s}", URL_SAFE_NO_PAD.encode(serde_json::to_vec(&changed).unwrap()));
        assert_eq!(check(&net, &forged), Err(EnvelopeError::BadSignature));
    }

    #[test]
    fn one_flipped_byte_in_the_header_or_payload() {
        let net = Net::new();
        let (_, _, compact) = good(&net);
        let (h, p, s) = segments(&compact);
        // The last byte of `needle` flipped, keeping the JSON valid: the signature catches it.
        let flip = |seg: &str, needle: &[u8]| {
            let mut bytes = URL_SAFE_NO_PAD.decode(seg).unwrap();
            let i = bytes.windows(needle.len()).position(|w| w == needle).unwrap() + needle.len() - 1;
            bytes[i] ^= 0x01;
            URL_SAFE_NO_PAD.encode(bytes)
        };
        let in_header = format!("{}.{p}.{s}", flip(&h, b"\"epoch\":0"));
        assert_eq!(check(&net, &in_header), Err(EnvelopeError::BadSignature));
        let in_payload = format!("{h}.{}.{s}", flip(&p, b"ope"));
        assert_eq!(check(&net, &in_payload), Err(EnvelopeError::BadSignature));
        // And any single character of the compact form, whatever the error.
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        for i in 0..compact.len() {
            let mut bytes = compact.as_bytes().to_vec();
            let Some(pos) = alphabet.iter().position(|&a| a == bytes[i]) else { continue };
            bytes[i] = alphabet[(pos + 1) % 64];
            assert!(check(&net, std::str::from_utf8(&bytes).unwrap()).is_err(), "position {i}");
        }
    }

    #[test]
    fn an_impostor_signature_with_the_right_kid() {
        let net = Net::new();
        let h = update_header(&net.mx); // Mexico's kid…
        let compact = sign_raw(&header_map(&h), b"{}", &net.hn); // …Honduras' signature.
        assert_eq!(check(&net, &compact), Err(EnvelopeError::BadSignature));
    }

    #[test]
    fn wrong_destination() {
        let net = Net::new();
        let (_, _, compact) = good(&net);
        let err = verify_envelope(&compact, &net.directory, &node("hn"), Some(&node("mx")), t(0), SKEW);
        assert_eq!(err, Err(EnvelopeError::WrongDestination { to: gt(), me: node("hn") }));
    }

    #[test]
    fn relayed_by_a_third_node() {
        let net = Net::new();
        let (_, _, compact) = good(&net);
        let err = verify_envelope(&compact, &net.directory, &gt(), Some(&node("hn")), t(0), SKEW);
        assert_eq!(err, Err(EnvelopeError::RelayedByThirdNode { from: node("mx"), tls_peer: node("hn") }));
    }

    #[test]
    fn clock_skew_both_ways() {
        let net = Net::new();
        let (_, _, compact) = good(&net); // created t(0)
        let at = |now| verify_envelope(&compact, &net.directory, &gt(), None, now, SKEW);
        assert!(at(t(300)).is_ok());
        assert!(at(t(-300)).is_ok());
        assert_eq!(at(t(301)), Err(EnvelopeError::TooOld { created: t(0), now: t(301), max_skew_secs: 300 }));
        assert_eq!(
            at(t(-301)),
            Err(EnvelopeError::FromTheFuture { created: t(0), now: t(-301), max_skew_secs: 300 })
        );
    }

    #[test]
    fn payload_field_outside_the_subset_is_named() {
        let net = Net::new();
        let h = update_header(&net.mx);
        let compact =
            sign_envelope(&h, &payload(&[("given_names", "Ana"), ("hiv_status", "x")]), &net.mx).unwrap();
        let err = check(&net, &compact).unwrap_err();
        assert_eq!(
            err,
            EnvelopeError::Payload(PayloadError::FieldNotAllowed {
                message_type: MessageType::ShareUpdate,
                field: "hiv_status".into()
            })
        );
        assert!(err.to_string().contains("\"hiv_status\""), "{err}");
        assert_eq!(err.code(), "field-not-allowed");

        let mut net = net;
        net.directory.field_subsets.remove(&MessageType::ShareUpdate);
        let compact = sign_envelope(&h, &Payload::new(), &net.mx).unwrap();
        assert_eq!(
            check(&net, &compact),
            Err(EnvelopeError::Payload(PayloadError::TypeNotAgreed(MessageType::ShareUpdate)))
        );
    }

    #[test]
    fn payload_must_be_a_strict_json_object() {
        let net = Net::new();
        let h = header_map(&update_header(&net.mx));
        for body in [&b"[1,2]"[..], b"\"x\"", b"{\"status\":\"a\",\"status\":\"b\"}", b"\xff", b""] {
            let compact = sign_raw(&h, body, &net.mx);
            assert!(matches!(check(&net, &compact), Err(EnvelopeError::BadPayload(_))), "{body:?}");
        }
    }

    #[test]
    fn a_replay_has_the_same_key() {
        let net = Net::new();
        let (_, _, compact) = good(&net);
        let first = check(&net, &compact).unwrap();
        let again = check(&net, &compact).unwrap(); // the store, not this check, spots it
        assert_eq!(first.header.replay_key(), again.header.replay_key());
        // Another sender's message with the same id is a different key.
        let mut h = update_header(&net.hn);
        h.from = node("hn");
        h.id = first.header.id;
        let other = sign_envelope(&h, &Payload::new(), &net.hn).unwrap();
        let v = verify_envelope(&other, &net.directory, &gt(), Some(&node("hn")), t(0), SKEW).unwrap();
        assert_ne!(v.header.replay_key(), first.header.replay_key());
        let _ = MessageId::new_v7();
    }

    #[test]
    fn codes_are_distinct() {
        let kid = SigningKey::from_seed(&[1; 32]).kid().clone();
        let n = node("mx");
        let all = [
            EnvelopeError::DirectoryExpired { expires_at: t(0) },
            EnvelopeError::Malformed(JwsError::Crit),
            EnvelopeError::WrongType(String::new()),
            EnvelopeError::UnknownHeaderField(String::new()),
            EnvelopeError::BadHeader(String::new()),
            EnvelopeError::HeaderRule(HeaderRuleError::ToSelf(n.clone())),
            EnvelopeError::DirectoryBehind { ours: 1, theirs: 2 },
            EnvelopeError::UnknownSender(n.clone()),
            EnvelopeError::SenderRevoked(n.clone()),
            EnvelopeError::UnknownKey { kid: kid.clone(), from: n.clone() },
            EnvelopeError::KeyRevoked { kid: kid.clone() },
            EnvelopeError::KeyNotYetValid { kid: kid.clone(), not_before: t(0), created: t(0) },
            EnvelopeError::KeyExpired { kid, not_after: t(0), created: t(0) },
            EnvelopeError::BadSignature,
            EnvelopeError::WrongDestination { to: n.clone(), me: n.clone() },
            EnvelopeError::RelayedByThirdNode { from: n.clone(), tls_peer: n },
            EnvelopeError::FromTheFuture { created: t(0), now: t(0), max_skew_secs: 0 },
            EnvelopeError::TooOld { created: t(0), now: t(0), max_skew_secs: 0 },
            EnvelopeError::BadPayload(String::new()),
            EnvelopeError::Payload(PayloadError::TypeNotAgreed(MessageType::Pull)),
            EnvelopeError::Payload(PayloadError::FieldNotAllowed {
                message_type: MessageType::Pull,
                field: String::new(),
            }),
        ];
        let codes: std::collections::BTreeSet<_> = all.iter().map(EnvelopeError::code).collect();
        assert_eq!(codes.len(), all.len());
    }
}
