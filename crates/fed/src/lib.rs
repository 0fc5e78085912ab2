//! The Enlace federation protocol (issue 6): what country nodes and the hub exchange, and the
//! rules both ends apply. Pure code: no network, no files, no database, no clock (every rule
//! takes `now`); only key generation reads the operating system's random generator.
//!
//! - [`keys`]: Ed25519 signing keys, their ids ([`keys::Kid`]).
//! - [`jws`]: compact JWS with EdDSA (RFC 7515, RFC 8037), nothing else accepted.
//! - [`envelope`]: the signed envelope of every message ([`envelope::EnvelopeHeader`],
//!   [`envelope::MessageType`], [`envelope::sign_envelope`]).
//! - [`directory`]: the hub-signed network directory: nodes, keys with validity and
//!   revocation, TLS pins, the agreed payload fields; serial and expiry rules.
//! - [`receive`]: the receipt check ([`receive::verify_envelope`]), one error per refusal.
//! - [`sequence`]: per-share in-order application, duplicates, gaps to pull.
//! - [`share`]: the referral's state and the deterministic end of a revoke racing an accept.
//! - [`handover`]: owner epochs and the handover that never leaves two owners.
//!
//! ```
//! use chrono::{TimeDelta, Utc};
//! use enlace_fed::directory::{Directory, Endpoint, KeyEntry, NodeEntry, NodeRole, TlsPin};
//! use enlace_fed::envelope::{EnvelopeHeader, MessageType, Payload, sign_envelope};
//! use enlace_fed::ids::{MessageId, NodeId, ShareId, StateCode};
//! use enlace_fed::keys::SigningKey;
//! use enlace_fed::receive::verify_envelope;
//!
//! let now = Utc::now();
//! let (hub, mx, gt) = (SigningKey::generate()?, SigningKey::generate()?, SigningKey::generate()?);
//! let entry = |id: &str, state: &str, key: &SigningKey| -> Result<NodeEntry, Box<dyn std::error::Error>> {
//!     Ok(NodeEntry {
//!         id: NodeId::parse(id)?,
//!         states: [StateCode::parse(state)?].into(),
//!         endpoint: Endpoint::parse(&format!("https://{id}.enlace.example"))?,
//!         tls_pin: TlsPin::of_spki(b"the node's SubjectPublicKeyInfo, DER"),
//!         keys: vec![KeyEntry::new(key.verifying_key(), now - TimeDelta::days(1), now + TimeDelta::days(90))],
//!         roles: [NodeRole::Node].into(),
//!         revoked_at: None,
//!     })
//! };
//! let directory = Directory {
//!     serial: 1,
//!     issued_at: now,
//!     expires_at: now + TimeDelta::days(1),
//!     nodes: vec![entry("mx", "MX", &mx)?, entry("gt", "GT", &gt)?],
//!     field_subsets: [(MessageType::ShareUpdate, ["status".to_string()].into())].into(),
//! };
//! // The hub signs; a node checks it against the hub's key it was given at set-up.
//! let signed = directory.sign(&hub)?;
//! let directory = signed.verify(&hub.verifying_key(), now, None)?;
//!
//! // Mexico sends Guatemala an update of a shared case…
//! let header = EnvelopeHeader {
//!     id: MessageId::new_v7(),
//!     message_type: MessageType::ShareUpdate,
//!     from: NodeId::parse("mx")?,
//!     to: NodeId::parse("gt")?,
//!     created: now,
//!     share: Some(ShareId::new_v7()),
//!     seq: 1,
//!     epoch: 0,
//!     reply_to: None,
//!     dir_serial: directory.serial,
//!     kid: mx.kid().clone(),
//! };
//! let payload: Payload = [("status".to_string(), "open".into())].into_iter().collect();
//! let compact = sign_envelope(&header, &payload, &mx)?;
//!
//! // …which Guatemala checks, knowing the TLS peer was Mexico.
//! let me = NodeId::parse("gt")?;
//! let got = verify_envelope(&compact, &directory, &me, Some(&header.from), now, TimeDelta::minutes(5))?;
//! assert_eq!(got.payload["status"], "open");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod directory;
pub mod envelope;
pub mod handover;
pub mod ids;
mod json;
pub mod jws;
pub mod keys;
pub mod receive;
pub mod sequence;
pub mod share;
#[cfg(test)]
mod testutil;
