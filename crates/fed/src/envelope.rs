//! The signed envelope every message between nodes travels in.
//!
//! An envelope is a compact JWS ([`crate::jws`]) whose protected header carries the routing
//! and ordering fields ([`EnvelopeHeader`]) next to `alg` and `typ`, and whose payload is a
//! JSON object holding only the fields the directory allows for the message type. So the
//! header and the payload are each covered by the one signature, and a receiver can refuse
//! a message from its header alone before reading the payload.
//!
//! `created` is the time of signing. The outbox keeps the header without it (id, sequence,
//! epoch and payload are fixed when the change is written); the relay signs at each delivery
//! attempt, so a message queued during a long outage is not refused as too old on arrival.
//! The idempotency key stays the message id.
//!
//! Receiving is [`crate::receive::verify_envelope`].

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ids::{MessageId, NodeId, ReplayKey, ShareId};
use crate::jws;
use crate::keys::{Kid, SigningKey};

/// The `typ` of an envelope's protected header. A directory (signed by the hub) has another,
/// so neither can be passed off as the other.
pub const ENVELOPE_TYP: &str = "enlace-msg+jws";

/// A message's payload: a JSON object.
pub type Payload = Map<String, Value>;

/// What a message does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageType {
    /// A state offers a case (a field subset, a purpose, a legal instrument): opens a share.
    ReferralOffer,
    /// The recipient accepts the offer (its own message, never an HTTP reply).
    ReferralAccept,
    /// The recipient declines the offer.
    ReferralReject,
    /// The owner sends changed fields of a shared case (within the share's subset).
    ShareUpdate,
    /// Either side ends a share; the recipient erases what it received.
    ShareRevoke,
    /// The owner offers ownership of the case.
    HandoverOffer,
    /// The offered node accepts; it does not own the case yet.
    HandoverAccept,
    /// The owner refuses an accept (the offer was withdrawn or superseded).
    HandoverReject,
    /// The former owner committed the transfer: the receiver owns the case from now.
    HandoverConfirm,
    /// The owner withdraws an offer not yet accepted.
    HandoverCancel,
    /// A post of one state registered a case for a national of another (mutual assistance).
    AssistanceNotice,
    /// A correction of personal data, sent to every state the data was shared with.
    Rectification,
    /// The receiver's signed acknowledgement of a message (stored; repeated for duplicates).
    Receipt,
    /// Asks the sender to send again a share's messages in a sequence range (gap backfill).
    Pull,
    /// A node's published (suppressed) statistics of one state and period, for the hub.
    StatsSubmission,
    /// A node's privacy-preserving encodings of persons (added and withdrawn), for the hub's
    /// cross-border linkage service. Never names.
    LinkageSubmission,
    /// The hub tells a node that one of its encodings resembles another state's (encoding ids
    /// and similarity only).
    LinkageCandidate,
    /// A node tells the hub what its officers decided on a candidate.
    LinkageDecision,
    /// The hub tells a node that the other encoding of one of its candidates left the
    /// service (withdrawn by its state): the candidate takes no decision any more.
    LinkageWithdrawn,
    /// The hub publishes a record of the network's workspace (a meeting, an agreement with its
    /// meeting, an event) to every node. No personal data.
    WorkspaceRecord,
    /// A node asks the hub for every record of the workspace (on joining the network).
    WorkspaceSync,
    /// A node sends the hub a change one of its users made to the workspace.
    WorkspaceEdit,
}

impl MessageType {
    pub const ALL: [MessageType; 22] = [
        MessageType::ReferralOffer,
        MessageType::ReferralAccept,
        MessageType::ReferralReject,
        MessageType::ShareUpdate,
        MessageType::ShareRevoke,
        MessageType::HandoverOffer,
        MessageType::HandoverAccept,
        MessageType::HandoverReject,
        MessageType::HandoverConfirm,
        MessageType::HandoverCancel,
        MessageType::AssistanceNotice,
        MessageType::Rectification,
        MessageType::Receipt,
        MessageType::Pull,
        MessageType::StatsSubmission,
        MessageType::LinkageSubmission,
        MessageType::LinkageCandidate,
        MessageType::LinkageDecision,
        MessageType::LinkageWithdrawn,
        MessageType::WorkspaceRecord,
        MessageType::WorkspaceSync,
        MessageType::WorkspaceEdit,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MessageType::ReferralOffer => "referral_offer",
            MessageType::ReferralAccept => "referral_accept",
            MessageType::ReferralReject => "referral_reject",
            MessageType::ShareUpdate => "share_update",
            MessageType::ShareRevoke => "share_revoke",
            MessageType::HandoverOffer => "handover_offer",
            MessageType::HandoverAccept => "handover_accept",
            MessageType::HandoverReject => "handover_reject",
            MessageType::HandoverConfirm => "handover_confirm",
            MessageType::HandoverCancel => "handover_cancel",
            MessageType::AssistanceNotice => "assistance_notice",
            MessageType::Rectification => "rectification",
            MessageType::Receipt => "receipt",
            MessageType::Pull => "pull",
            MessageType::StatsSubmission => "stats_submission",
            MessageType::LinkageSubmission => "linkage_submission",
            MessageType::LinkageCandidate => "linkage_candidate",
            MessageType::LinkageDecision => "linkage_decision",
            MessageType::LinkageWithdrawn => "linkage_withdrawn",
            MessageType::WorkspaceRecord => "workspace_record",
            MessageType::WorkspaceSync => "workspace_sync",
            MessageType::WorkspaceEdit => "workspace_edit",
        }
    }

    /// Belongs to a share (`share` required). Every type but receipts and what goes to and
    /// from the hub (statistics, linkage).
    pub fn is_share_bound(self) -> bool {
        !matches!(self, MessageType::Receipt) && !self.is_hub_traffic()
    }

    /// Between a node and the hub, outside any share: statistics and the linkage service.
    pub fn is_hub_traffic(self) -> bool {
        matches!(
            self,
            MessageType::StatsSubmission
                | MessageType::LinkageSubmission
                | MessageType::LinkageCandidate
                | MessageType::LinkageDecision
                | MessageType::LinkageWithdrawn
                | MessageType::WorkspaceRecord
                | MessageType::WorkspaceSync
                | MessageType::WorkspaceEdit
        )
    }

    /// Takes a place in the sender's per-share sequence (`seq` ≥ 1), so the receiver applies
    /// it in order and pulls what is missing. Receipts, pulls and statistics are not
    /// sequenced (`seq` 0): they change nothing in a share.
    pub fn is_sequenced(self) -> bool {
        !matches!(self, MessageType::Receipt | MessageType::Pull) && !self.is_hub_traffic()
    }

    /// Answers an earlier message, named in `reply_to`.
    pub fn needs_reply_to(self) -> bool {
        matches!(
            self,
            MessageType::ReferralAccept
                | MessageType::ReferralReject
                | MessageType::HandoverAccept
                | MessageType::HandoverReject
                | MessageType::HandoverConfirm
                | MessageType::Receipt
        )
    }
}

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// The envelope's own fields, in the JWS protected header (beside `alg` and `typ`). Parsed
/// strictly: an unknown name is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeHeader {
    /// Message id (UUIDv7), the idempotency key.
    pub id: MessageId,
    #[serde(rename = "type")]
    pub message_type: MessageType,
    pub from: NodeId,
    pub to: NodeId,
    /// When the envelope was signed.
    pub created: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share: Option<ShareId>,
    /// Place in the sender's sequence for this share, from 1; 0 for unsequenced types.
    pub seq: u64,
    /// The case's owner epoch as the sender knows it (see [`crate::handover`]).
    pub epoch: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<MessageId>,
    /// Serial of the directory the sender used.
    pub dir_serial: u64,
    /// The signing key's id, looked up in the directory under `from`.
    pub kid: Kid,
}

/// The names an [`EnvelopeHeader`] may have, with `alg` and `typ`.
pub const HEADER_NAMES: [&str; 13] = [
    "alg",
    "typ",
    "id",
    "type",
    "from",
    "to",
    "created",
    "share",
    "seq",
    "epoch",
    "reply_to",
    "dir_serial",
    "kid",
];

/// A header that breaks a rule tying its fields together.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum HeaderRuleError {
    #[error("a node does not send messages to itself ({0})")]
    ToSelf(NodeId),
    #[error("a {0} message must name its share")]
    MissingShare(MessageType),
    #[error("a {0} message has a sequence number from 1")]
    MissingSeq(MessageType),
    #[error("a {0} message is not sequenced: its seq must be 0, not {1}")]
    UnexpectedSeq(MessageType, u64),
    #[error("a {0} message must name the message it answers (reply_to)")]
    MissingReplyTo(MessageType),
}

impl EnvelopeHeader {
    /// The rules tying the fields together, checked when signing and when receiving.
    pub fn check_rules(&self) -> Result<(), HeaderRuleError> {
        let t = self.message_type;
        if self.from == self.to {
            return Err(HeaderRuleError::ToSelf(self.from.clone()));
        }
        if t.is_share_bound() && self.share.is_none() {
            return Err(HeaderRuleError::MissingShare(t));
        }
        if t.is_sequenced() && self.seq == 0 {
            return Err(HeaderRuleError::MissingSeq(t));
        }
        if !t.is_sequenced() && self.seq != 0 {
            return Err(HeaderRuleError::UnexpectedSeq(t, self.seq));
        }
        if t.needs_reply_to() && self.reply_to.is_none() {
            return Err(HeaderRuleError::MissingReplyTo(t));
        }
        Ok(())
    }

    /// The key of the receiver's replay store.
    pub fn replay_key(&self) -> ReplayKey {
        ReplayKey { from: self.from.clone(), id: self.id }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignError {
    #[error("the header names key {header} but the signing key is {key}")]
    KidMismatch { header: Kid, key: Kid },
    #[error(transparent)]
    Rule(#[from] HeaderRuleError),
}

/// Signs an envelope. `header.kid` must be the key's id. The receiver's directory checks
/// (payload fields, key validity) are not repeated here: the sender's relay should run
/// [`crate::directory::Directory::check_payload`] before writing to the outbox.
pub fn sign_envelope(
    header: &EnvelopeHeader,
    payload: &Payload,
    key: &SigningKey,
) -> Result<String, SignError> {
    if &header.kid != key.kid() {
        return Err(SignError::KidMismatch { header: header.kid.clone(), key: key.kid().clone() });
    }
    header.check_rules()?;
    let Value::Object(mut fields) = serde_json::to_value(header).expect("the header serialises") else {
        unreachable!("a struct serialises to an object")
    };
    fields.insert("typ".into(), ENVELOPE_TYP.into());
    let body = serde_json::to_vec(payload).expect("a JSON map serialises");
    Ok(jws::sign(&fields, &body, key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::update_header as header;

    #[test]
    fn message_type_names_match_serde() {
        for t in MessageType::ALL {
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
            assert_eq!(serde_json::from_value::<MessageType>(t.as_str().into()).unwrap(), t);
        }
        assert!(serde_json::from_value::<MessageType>("ReferralOffer".into()).is_err());
    }

    #[test]
    fn header_names_are_complete() {
        let key = SigningKey::from_seed(&[1; 32]);
        let mut h = header(&key);
        h.reply_to = Some(MessageId::new_v7());
        let Value::Object(map) = serde_json::to_value(&h).unwrap() else { panic!() };
        for name in map.keys() {
            assert!(HEADER_NAMES.contains(&name.as_str()), "{name}");
        }
        assert_eq!(map.len() + 2, HEADER_NAMES.len());
    }

    #[test]
    fn header_rules() {
        let key = SigningKey::from_seed(&[1; 32]);
        let ok = header(&key);
        assert_eq!(ok.check_rules(), Ok(()));

        let mut h = ok.clone();
        h.to = h.from.clone();
        assert!(matches!(h.check_rules(), Err(HeaderRuleError::ToSelf(_))));

        let mut h = ok.clone();
        h.share = None;
        assert_eq!(h.check_rules(), Err(HeaderRuleError::MissingShare(MessageType::ShareUpdate)));

        let mut h = ok.clone();
        h.seq = 0;
        assert_eq!(h.check_rules(), Err(HeaderRuleError::MissingSeq(MessageType::ShareUpdate)));

        let mut h = ok.clone();
        h.message_type = MessageType::Pull;
        assert_eq!(h.check_rules(), Err(HeaderRuleError::UnexpectedSeq(MessageType::Pull, 1)));
        h.seq = 0;
        assert_eq!(h.check_rules(), Ok(()));

        let mut h = ok.clone();
        h.message_type = MessageType::ReferralAccept;
        assert_eq!(h.check_rules(), Err(HeaderRuleError::MissingReplyTo(MessageType::ReferralAccept)));
        h.reply_to = Some(MessageId::new_v7());
        assert_eq!(h.check_rules(), Ok(()));

        // A receipt needs no share, but does name what it acknowledges.
        let mut h = ok;
        h.message_type = MessageType::Receipt;
        h.share = None;
        h.seq = 0;
        h.reply_to = Some(MessageId::new_v7());
        assert_eq!(h.check_rules(), Ok(()));
    }

    #[test]
    fn signing_checks_the_kid_and_rules() {
        let key = SigningKey::from_seed(&[1; 32]);
        let other = SigningKey::from_seed(&[2; 32]);
        let h = header(&key);
        assert!(matches!(sign_envelope(&h, &Payload::new(), &other), Err(SignError::KidMismatch { .. })));
        let mut bad = h.clone();
        bad.seq = 0;
        assert!(matches!(sign_envelope(&bad, &Payload::new(), &key), Err(SignError::Rule(_))));
        let compact = sign_envelope(&h, &Payload::new(), &key).unwrap();
        let jws = jws::Unverified::decode(&compact).unwrap();
        assert_eq!(jws.header()["typ"], ENVELOPE_TYP);
        assert_eq!(jws.header()["type"], "share_update");
        assert_eq!(jws.payload(), b"{}");
    }
}
