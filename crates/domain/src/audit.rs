//! Audit events and their hash chain. Hashing is pure; storage assigns the position.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::ids::{AuditEventId, UserId};

/// The hash before the first event of a chain.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audit event, as written. `detail` is JSON without personal data beyond identifiers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AuditEvent {
    pub id: AuditEventId,
    pub at: DateTime<Utc>,
    pub actor: Option<UserId>,
    pub actor_name: String,
    /// What happened, e.g. `case.create`, `case.transition`, `auth.login_failed`.
    pub action: String,
    pub record_type: String,
    pub record_id: Option<String>,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    /// Where the request came from (address), when known.
    pub source: Option<String>,
}

/// A stored event with its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ChainedEvent {
    pub pos: i64,
    #[serde(flatten)]
    pub event: AuditEvent,
    pub prev_hash: String,
    pub hash: String,
}

/// The chain hash of an event at `pos` following `prev_hash`: SHA-256 over a length-prefixed
/// encoding of every field, so no two different events hash alike by concatenation tricks.
pub fn chain_hash(prev_hash: &str, pos: i64, e: &AuditEvent) -> String {
    let mut h = Sha256::new();
    let mut field = |b: &[u8]| {
        h.update((b.len() as u64).to_be_bytes());
        h.update(b);
    };
    field(prev_hash.as_bytes());
    field(&pos.to_be_bytes());
    field(e.id.0.as_bytes());
    field(e.at.to_rfc3339_opts(SecondsFormat::Micros, true).as_bytes());
    field(e.actor.map(|a| a.0.to_string()).unwrap_or_default().as_bytes());
    field(e.actor_name.as_bytes());
    field(e.action.as_bytes());
    field(e.record_type.as_bytes());
    field(e.record_id.as_deref().unwrap_or("").as_bytes());
    field(e.detail.to_string().as_bytes());
    field(e.source.as_deref().unwrap_or("").as_bytes());
    let out = h.finalize();
    out.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_depends_on_every_field_and_the_previous_hash() {
        let e = AuditEvent {
            id: AuditEventId(uuid::Uuid::nil()),
            at: DateTime::UNIX_EPOCH,
            actor: None,
            actor_name: "system".into(),
            action: "case.create".into(),
            record_type: "case".into(),
            record_id: Some("x".into()),
            detail: serde_json::json!({"a": 1}),
            source: None,
        };
        let h = chain_hash(GENESIS, 1, &e);
        assert_eq!(h.len(), 64);
        assert_ne!(h, chain_hash(GENESIS, 2, &e));
        assert_ne!(h, chain_hash(&h, 1, &e));
        let mut e2 = e.clone();
        e2.detail = serde_json::json!({"a": 2});
        assert_ne!(h, chain_hash(GENESIS, 1, &e2));
    }
}
