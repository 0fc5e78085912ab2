//! A small network for the tests: a hub and three nodes with fixed keys.

use chrono::{DateTime, TimeDelta, Utc};

use crate::directory::{Directory, Endpoint, KeyEntry, NodeEntry, NodeRole, TlsPin};
use crate::envelope::{EnvelopeHeader, MessageType, Payload};
use crate::ids::{MessageId, NodeId, ShareId, StateCode};
use crate::keys::SigningKey;

/// 2026-03-01T12:00:00Z plus `secs` seconds.
pub fn t(secs: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-01T12:00:00Z").unwrap().to_utc() + TimeDelta::seconds(secs)
}

pub fn node(id: &str) -> NodeId {
    NodeId::parse(id).unwrap()
}

pub struct Net {
    pub hub: SigningKey,
    pub mx: SigningKey,
    pub gt: SigningKey,
    pub hn: SigningKey,
    pub directory: Directory,
}

fn entry(id: &str, states: &[&str], key: &SigningKey, roles: &[NodeRole]) -> NodeEntry {
    NodeEntry {
        id: node(id),
        states: states.iter().map(|s| StateCode::parse(s).unwrap()).collect(),
        endpoint: Endpoint::parse(&format!("https://{id}.enlace.test")).unwrap(),
        tls_pin: TlsPin::of_spki(id.as_bytes()),
        keys: vec![KeyEntry::new(key.verifying_key(), t(-86_400), t(86_400 * 30))],
        roles: roles.iter().copied().collect(),
        revoked_at: None,
    }
}

impl Net {
    pub fn new() -> Net {
        let hub = SigningKey::from_seed(&[100; 32]);
        let mx = SigningKey::from_seed(&[1; 32]);
        let gt = SigningKey::from_seed(&[2; 32]);
        let hn = SigningKey::from_seed(&[3; 32]);
        let fields = |names: &[&str]| names.iter().map(|s| s.to_string()).collect();
        let field_subsets = MessageType::ALL
            .into_iter()
            .map(|t| {
                let names = match t {
                    MessageType::ShareUpdate | MessageType::ReferralOffer | MessageType::Rectification => {
                        fields(&["given_names", "surnames", "birth_date", "status"])
                    }
                    MessageType::Pull => fields(&["from_seq", "to_seq"]),
                    MessageType::Receipt => fields(&["status", "message_hash"]),
                    _ => fields(&["reason"]),
                };
                (t, names)
            })
            .collect();
        let directory = Directory {
            serial: 10,
            issued_at: t(-3600),
            expires_at: t(86_400),
            nodes: vec![
                entry("hub", &[], &hub, &[NodeRole::Hub]),
                entry("mx", &["MX"], &mx, &[NodeRole::Node]),
                entry("gt", &["GT"], &gt, &[NodeRole::Node]),
                entry("hn", &["HN", "SV"], &hn, &[NodeRole::Node]),
            ],
            field_subsets,
        };
        Net { hub, mx, gt, hn, directory }
    }
}

/// A share update from `mx` to `gt`, created at `t(0)`, signed with `key`'s id.
pub fn update_header(key: &SigningKey) -> EnvelopeHeader {
    EnvelopeHeader {
        id: MessageId::new_v7(),
        message_type: MessageType::ShareUpdate,
        from: node("mx"),
        to: node("gt"),
        created: t(0),
        share: Some(ShareId::new_v7()),
        seq: 1,
        epoch: 0,
        reply_to: None,
        dir_serial: 10,
        kid: key.kid().clone(),
    }
}

pub fn payload(fields: &[(&str, &str)]) -> Payload {
    fields.iter().map(|(k, v)| (k.to_string(), serde_json::Value::from(*v))).collect()
}
