//! Identifiers of the federation: nodes, states, messages and shares.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// A node's identifier in the directory: 2 to 63 characters of `a-z`, `0-9` and `-`, starting
/// with a letter and not ending with `-` (a DNS label), e.g. `mx`, `node-gt`, `hub`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct NodeId(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "\"{0}\" is not a node id (expected 2 to 63 of a-z, 0-9 or -, starting with a letter, not ending with -)"
)]
pub struct BadNodeId(pub String);

impl NodeId {
    pub fn parse(s: &str) -> Result<Self, BadNodeId> {
        let b = s.as_bytes();
        let ok = (2..=63).contains(&b.len())
            && b[0].is_ascii_lowercase()
            && b[b.len() - 1] != b'-'
            && b.iter().all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-');
        if ok { Ok(NodeId(s.to_string())) } else { Err(BadNodeId(s.to_string())) }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl<'de> Deserialize<'de> for NodeId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        NodeId::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A state served by a node: an ISO 3166-1 alpha-2 code, upper case (`MX`, `GT`, `HN`, …).
///
/// Only the shape is checked here, so this crate does not depend on `enlace-domain`; the
/// application maps it to `enlace_domain::country::CountryCode`, which checks the code is
/// assigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StateCode([u8; 2]);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("\"{0}\" is not a state code (expected two upper-case letters, ISO 3166-1 alpha-2)")]
pub struct BadStateCode(pub String);

impl StateCode {
    pub fn parse(s: &str) -> Result<Self, BadStateCode> {
        match s.as_bytes() {
            &[a, b] if a.is_ascii_uppercase() && b.is_ascii_uppercase() => Ok(StateCode([a, b])),
            _ => Err(BadStateCode(s.to_string())),
        }
    }
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("two ASCII letters by construction")
    }
}

impl fmt::Display for StateCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl Serialize for StateCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for StateCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        StateCode::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A message's identifier: a UUIDv7 chosen by the sender when it writes the message to its
/// outbox. It is also the idempotency key: the receiver applies `(from, id)` at most once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct MessageId(Uuid);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("\"{0}\" is not a message id (expected a UUID version 7)")]
pub struct BadMessageId(pub String);

impl MessageId {
    /// A new time-ordered identifier (UUIDv7). Reads the clock: call it where the message is
    /// written, not in this crate's rules.
    pub fn new_v7() -> Self {
        MessageId(Uuid::now_v7())
    }
    pub fn from_uuid(u: Uuid) -> Result<Self, BadMessageId> {
        if u.get_version_num() == 7 { Ok(MessageId(u)) } else { Err(BadMessageId(u.to_string())) }
    }
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for MessageId {
    type Err = BadMessageId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map_err(|_| BadMessageId(s.to_string())).and_then(MessageId::from_uuid)
    }
}

impl<'de> Deserialize<'de> for MessageId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A share: one case offered by one state to another (a referral), the unit of sequencing.
/// Chosen by the offering node (UUIDv7 there, any UUID accepted here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ShareId(pub Uuid);

impl ShareId {
    /// A new time-ordered identifier (UUIDv7). Reads the clock.
    pub fn new_v7() -> Self {
        ShareId(Uuid::now_v7())
    }
}

impl fmt::Display for ShareId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What a receiver's replay store is keyed by: the sender and its message id. Two different
/// senders may (by chance or malice) use the same id; that is not a replay.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ReplayKey {
    pub from: NodeId,
    pub id: MessageId,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ids() {
        for ok in ["mx", "node-gt", "hub", "a1"] {
            assert_eq!(NodeId::parse(ok).unwrap().as_str(), ok);
        }
        for bad in ["", "m", "MX", "-mx", "mx-", "1mx", "m x", "m_x", &"a".repeat(64)] {
            assert!(NodeId::parse(bad).is_err(), "{bad:?}");
        }
        assert!(serde_json::from_str::<NodeId>("\"Hub\"").is_err());
    }

    #[test]
    fn state_codes() {
        assert_eq!(StateCode::parse("HN").unwrap().to_string(), "HN");
        for bad in ["hn", "H", "HND", "H1", ""] {
            assert!(StateCode::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(serde_json::to_string(&StateCode::parse("GT").unwrap()).unwrap(), "\"GT\"");
    }

    #[test]
    fn message_ids_must_be_v7() {
        let id = MessageId::new_v7();
        assert_eq!(id.to_string().parse::<MessageId>().unwrap(), id);
        let v4 = "3b241101-e2bb-4255-8caf-4136c566a962";
        assert!(v4.parse::<MessageId>().is_err());
        assert!(serde_json::from_str::<MessageId>(&format!("\"{v4}\"")).is_err());
        assert!("not-a-uuid".parse::<MessageId>().is_err());
    }
}
