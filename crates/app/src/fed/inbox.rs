//! Receipt of messages from peers: check (`enlace_fed::receive::verify_envelope`), then in one
//! transaction apply the effect and record `(sender, message id)` with the signed receipt. A
//! duplicate gets the stored receipt again and changes nothing. A message ahead of its share's
//! sequence waits in the inbox, and the missing ones are pulled from the sender.

use chrono::Utc;
use enlace_fed::envelope::{EnvelopeHeader, MessageType, Payload, sign_envelope};
use enlace_fed::handover::HandoverMsg;
use enlace_fed::ids::{MessageId, NodeId};
use enlace_fed::receive::{EnvelopeError, VerifiedEnvelope, verify_envelope};
use enlace_fed::sequence::{Inbound, classify};
use enlace_fed::share::{ShareEvent, ShareState, Side};
use enlace_store::Tx;
use enlace_store::fed::{InboxRow, ShareRow};
use serde_json::{Value, json};

use super::handover::{self, HandoverRecord, ownership_refusal, record_of, set_record};
use super::shares::{enqueue, record_share_event, row_state, state_str};
use super::{fields, refused};
use crate::{App, AppError, audit, event};

/// What the inbox answered.
#[derive(Debug, Clone)]
pub struct Received {
    /// The signed receipt (a compact JWS), the body of the answer.
    pub receipt: String,
    /// Whether this message had been received before (the stored receipt was sent again).
    pub duplicate: bool,
}

fn envelope_refusal(e: EnvelopeError) -> AppError {
    AppError::Federation { code: e.code().to_string(), message: e.to_string(), retryable: e.is_retryable() }
}

impl App {
    /// Receives one envelope. `tls_peer` is the node the mutual-TLS client certificate was
    /// pinned to. Every check failure is a refusal with a stable code; nothing is written.
    pub async fn receive_envelope(
        &self,
        compact: &str,
        tls_peer: Option<&NodeId>,
    ) -> Result<Received, AppError> {
        let fed = self.fed()?;
        let now = Utc::now();
        let dir = self.current_directory(now).await?;
        let me = fed.settings.node.clone();
        let verified = match verify_envelope(compact, &dir, &me, tls_peer, now, fed.settings.max_skew) {
            Ok(v) => v,
            Err(e) => {
                if matches!(e, EnvelopeError::DirectoryBehind { .. }) {
                    self.refresh_soon();
                }
                return Err(envelope_refusal(e));
            }
        };
        if verified.header.message_type == MessageType::Receipt {
            return Err(refused("unexpected-receipt", "receipts are answers, not messages to post"));
        }
        let h = verified.header.clone();
        // The receipt is signed before the transaction (so the transaction stays repeatable
        // and short) and stored with the message; a duplicate is answered with the stored one.
        let status = "accepted";
        let receipt_header = EnvelopeHeader {
            id: MessageId::new_v7(),
            message_type: MessageType::Receipt,
            from: me.clone(),
            to: h.from.clone(),
            created: Utc::now(),
            share: None,
            seq: 0,
            epoch: 0,
            reply_to: Some(h.id),
            dir_serial: dir.serial,
            kid: fed.settings.signing_key.kid().clone(),
        };
        let receipt_payload: Payload = [("status".to_string(), json!(status))].into_iter().collect();
        let receipt = sign_envelope(&receipt_header, &receipt_payload, &fed.settings.signing_key)
            .map_err(|e| AppError::Rule(format!("cannot sign the receipt: {e}")))?;
        let digest = crate::sha256_hex(compact);
        let states_of = |n: &NodeId| -> Vec<String> {
            dir.node(n).map(|n| n.states.iter().map(|s| s.as_str().to_string()).collect()).unwrap_or_default()
        };
        let is_hub =
            |n: &NodeId| dir.node(n).is_some_and(|n| n.roles.contains(&enlace_fed::directory::NodeRole::Hub));
        let peers: Vec<crate::network::Peer> = dir
            .nodes
            .iter()
            .filter(|n| n.id != me && n.revoked_at.is_none())
            .map(|n| crate::network::Peer {
                id: n.id.to_string(),
                states: n.states.iter().map(|s| s.as_str().to_string()).collect(),
            })
            .collect();
        let states = States {
            peers,
            mine: states_of(&me),
            sender: states_of(&h.from),
            me: me.clone(),
            hub: is_hub(&me),
            sender_hub: is_hub(&h.from),
        };
        let (received, queued) = self
            .db()
            .write(move |tx| {
                let (v, receipt, digest, states) =
                    (verified.clone(), receipt.clone(), digest.clone(), states.clone());
                Box::pin(async move { apply(tx, v, receipt, digest, &states).await })
            })
            .await?;
        if queued {
            self.kick_relay();
        }
        if h.message_type == MessageType::LinkageSubmission && !received.duplicate {
            self.kick_matcher();
        }
        if h.message_type == MessageType::WorkspaceEdit && !received.duplicate && is_hub(&me) {
            // Perhaps the last part of a file a node's user sent: read and keep it, off the
            // inbox's transaction.
            let app = self.clone();
            tokio::spawn(async move { app.finish_uploads().await });
        }
        Ok(received)
    }
}

/// The states served by this node and by the sender, from the directory.
#[derive(Debug, Clone)]
struct States {
    /// Every other node of the directory (what the hub publishes the workspace to).
    peers: Vec<crate::network::Peer>,
    mine: Vec<String>,
    sender: Vec<String>,
    me: NodeId,
    /// This node is the network's hub.
    hub: bool,
    /// The sender is the network's hub.
    sender_hub: bool,
}

/// The transaction of a receipt: dedupe, sequence, apply, record, audit.
async fn apply(
    tx: &mut Tx,
    v: VerifiedEnvelope,
    receipt: String,
    digest: String,
    states: &States,
) -> Result<(Received, bool), AppError> {
    let h = &v.header;
    let from = h.from.as_str().to_string();
    let id = h.id.as_uuid();
    if let Some(prev) = enlace_store::fed::inbox_get_tx(tx, &from, id).await? {
        return Ok((Received { receipt: prev.receipt, duplicate: true }, false));
    }
    let now = enlace_store::now();
    let share_id = h.share.map(|s| s.0);
    let mut queued = false;
    let mut applied = true;
    let mut outcome = "applied";
    if h.message_type.is_sequenced() {
        let share_id = share_id.expect("sequenced messages name their share");
        let share = enlace_store::fed::share_tx(tx, share_id).await?;
        if let Some(s) = &share
            && s.peer_node != from
        {
            return Err(refused("not-a-party", format!("{from} is not a party to share {share_id}")));
        }
        let last = share.as_ref().map_or(0, |s| s.seq_in as u64);
        match classify(last, h.seq) {
            Inbound::Apply => {
                let (mut share, answered) = apply_one(tx, share, &v, states, now).await?;
                queued |= answered;
                // Messages that waited for this one follow, in order.
                loop {
                    let next = share.seq_in + 1;
                    let Some(w) = enlace_store::fed::inbox_waiting_tx(tx, share.id, &from, next).await?
                    else {
                        break;
                    };
                    let waiting = waiting_envelope(&w)?;
                    let (next_share, answered) = apply_one(tx, Some(share), &waiting, states, now).await?;
                    share = next_share;
                    queued |= answered;
                    enlace_store::fed::inbox_mark_applied(tx, &from, w.message_id).await?;
                }
                if share.state == "revoked" && share.side == "recipient" {
                    share.data = None;
                }
                enlace_store::fed::update_share(tx, &mut share, now).await?;
            }
            Inbound::Gap { missing } => {
                // Wait for the earlier ones, and ask the sender for them.
                applied = false;
                outcome = "queued";
                if let Some(mut s) = share {
                    let payload = [
                        ("from_seq".to_string(), json!(missing.start())),
                        ("to_seq".to_string(), json!(missing.end())),
                    ]
                    .into_iter()
                    .collect();
                    enqueue(tx, &mut s, MessageType::Pull, payload, None, None, "system", None, now).await?;
                    enlace_store::fed::update_share(tx, &mut s, now).await?;
                    queued = true;
                } else {
                    // The share's offer itself is missing: the sender's relay re-sends it (its
                    // first message is never marked delivered without our receipt).
                }
            }
            Inbound::Duplicate => {
                return Err(refused(
                    "stale-sequence",
                    format!("message {} of share {share_id} was already applied under another id", h.seq),
                ));
            }
        }
    } else if h.message_type == MessageType::StatsSubmission {
        crate::hub::receive_stats(tx, &v, &states.sender, states.hub, now).await?;
    } else if h.message_type == MessageType::LinkageSubmission {
        queued = super::linkage::receive_submission(tx, &v, &states.sender, states.hub, now).await?;
    } else if h.message_type == MessageType::LinkageCandidate {
        outcome = super::linkage::receive_candidate(tx, &v, states.sender_hub, now).await?;
    } else if h.message_type == MessageType::WorkspaceRecord {
        outcome = crate::network::receive_record(tx, &v, states.sender_hub).await?;
    } else if h.message_type == MessageType::WorkspaceEdit {
        queued = crate::network::receive_edit(tx, &v, &states.sender, states.hub, &states.peers, now).await?;
    } else if h.message_type == MessageType::WorkspaceSync {
        queued = crate::network::receive_sync(tx, &v, &states.sender, states.hub, now).await?;
    } else if h.message_type == MessageType::LinkageWithdrawn {
        outcome = super::linkage::receive_withdrawn(tx, &v, states.sender_hub, now).await?;
    } else if h.message_type == MessageType::LinkageDecision {
        super::linkage::receive_decision(tx, &v, states.hub).await?;
    } else if h.message_type == MessageType::Pull {
        let share_id = share_id.expect("pulls name their share");
        let share = enlace_store::fed::share_tx(tx, share_id).await?;
        match share {
            Some(s) if s.peer_node == from => {
                let from_seq = v.payload.get("from_seq").and_then(Value::as_i64).unwrap_or(1);
                let to_seq = v.payload.get("to_seq").and_then(Value::as_i64).unwrap_or(s.seq_out);
                let n =
                    enlace_store::fed::requeue(tx, None, Some((s.id, &from, from_seq, to_seq)), now).await?;
                queued = n > 0;
            }
            _ => return Err(refused("not-a-party", format!("{from} is not a party to share {share_id}"))),
        }
    }
    // What is kept: the header always; the payload only while the message waits.
    let mut envelope = json!({"header": h});
    if !applied {
        envelope["payload"] = Value::Object(v.payload.clone());
    }
    enlace_store::fed::inbox_insert(
        tx,
        &InboxRow {
            from_node: from.clone(),
            message_id: id,
            message_type: h.message_type.as_str().into(),
            share_id,
            seq: h.seq as i64,
            received_at: now,
            applied,
            envelope,
            receipt: receipt.clone(),
        },
    )
    .await?;
    let detail = json!({"from": from, "message": id, "type": h.message_type, "share": share_id, "seq": h.seq,
        "outcome": outcome, "envelope_sha256": digest, "receipt_sha256": crate::sha256_hex(&receipt)});
    audit(tx, event(None, "fed.receive", "message", Some(id.to_string()), detail)).await?;
    Ok((Received { receipt, duplicate: false }, queued))
}

fn waiting_envelope(w: &InboxRow) -> Result<VerifiedEnvelope, AppError> {
    let corrupt = |m: String| AppError::Store(enlace_store::StoreError::Corrupt(m));
    let header = serde_json::from_value(w.envelope["header"].clone()).map_err(|e| corrupt(e.to_string()))?;
    let payload = match &w.envelope["payload"] {
        Value::Object(m) => m.clone(),
        _ => return Err(corrupt("a waiting message without its payload".into())),
    };
    Ok(VerifiedEnvelope { header, payload })
}

/// Applies one in-sequence message of a share, returning the share as it now is (not yet
/// written back) and whether an answer was queued. `share` is `None` for the offer that
/// creates it.
async fn apply_one(
    tx: &mut Tx,
    share: Option<ShareRow>,
    v: &VerifiedEnvelope,
    states: &States,
    now: chrono::DateTime<Utc>,
) -> Result<(ShareRow, bool), AppError> {
    let mut answered = false;
    let h = &v.header;
    let p = &v.payload;
    let from = h.from.as_str();
    let share_id = h.share.expect("sequenced").0;
    let text = |k: &str| p.get(k).and_then(Value::as_str).map(str::to_string);
    let mut share = match (share, h.message_type) {
        (None, MessageType::ReferralOffer | MessageType::AssistanceNotice) => {
            let bad = |m: &str| refused("bad-offer", format!("the offer {m}"));
            let to_state = text("to_state").ok_or_else(|| bad("names no state"))?;
            if !states.mine.contains(&to_state) {
                return Err(refused(
                    "wrong-state",
                    format!("this node does not hold the cases of {to_state}"),
                ));
            }
            let from_state = text("from_state").ok_or_else(|| bad("names no sending state"))?;
            if !states.sender.contains(&from_state) {
                return Err(refused("wrong-state", format!("{from} does not serve {from_state}")));
            }
            let names: Vec<String> = p
                .get("fields")
                .and_then(|f| serde_json::from_value(f.clone()).ok())
                .ok_or_else(|| bad("has no list of fields"))?;
            let names = fields::normalise(&names).map_err(|m| bad(&m))?;
            let data = only_fields(p, &names)?;
            // The sender owns the case at the message's epoch; a mutual-assistance notice is
            // also the offer of the case to this state.
            let mut rec = HandoverRecord::new(states.me.clone(), h.from.clone(), h.epoch);
            if h.message_type == MessageType::AssistanceNotice {
                let offer = HandoverMsg::Offer { epoch: h.epoch };
                rec.ownership.receive(&h.from, &offer).map_err(|e| refused("bad-offer", e.to_string()))?;
            }
            let mut row = ShareRow {
                handover: None,
                id: share_id,
                side: "recipient".into(),
                case_id: None,
                case_number: text("case_number").ok_or_else(|| bad("has no case number"))?,
                local_state: to_state,
                peer_node: from.to_string(),
                peer_state: from_state,
                state: "offered".into(),
                kind: if h.message_type == MessageType::AssistanceNotice { "assistance" } else { "referral" }
                    .into(),
                fields: json!(names),
                purpose: text("purpose").unwrap_or_default(),
                legal_instrument: text("legal_instrument").unwrap_or_default(),
                data: Some(Value::Object(data)),
                seq_out: 0,
                seq_in: 0,
                created_at: now,
                updated_at: now,
                version: 1,
            };
            set_record(&mut row, &rec)?;
            enlace_store::fed::insert_share(tx, &row).await?;
            row
        }
        (None, t) => {
            return Err(refused(
                "unknown-share",
                format!("a {t} for share {share_id}, which this node does not know"),
            ));
        }
        (Some(_), MessageType::ReferralOffer | MessageType::AssistanceNotice) => {
            return Err(refused("share-exists", format!("share {share_id} was already offered")));
        }
        (Some(mut s), t) => {
            let side = if s.side == "offerer" { Side::Offerer } else { Side::Recipient };
            let state = row_state(&s)?;
            let merged = |e: ShareEvent| -> Result<ShareState, AppError> {
                state.merge(e).map_err(|e| refused("share-conflict", e.to_string()))
            };
            match (side, t) {
                (Side::Offerer, MessageType::ReferralAccept) => {
                    s.state = state_str(merged(ShareEvent::Accept)?).into()
                }
                (Side::Offerer, MessageType::ReferralReject) => {
                    s.state = state_str(merged(ShareEvent::Reject)?).into()
                }
                (Side::Offerer, MessageType::ShareRevoke) => {
                    s.state = state_str(merged(ShareEvent::Revoke(Side::Recipient))?).into()
                }
                (Side::Recipient, MessageType::ShareRevoke) => {
                    s.state = state_str(merged(ShareEvent::Revoke(Side::Offerer))?).into();
                    s.data = None;
                }
                (
                    _,
                    MessageType::HandoverOffer
                    | MessageType::HandoverCancel
                    | MessageType::HandoverAccept
                    | MessageType::HandoverReject
                    | MessageType::HandoverConfirm,
                ) => {
                    answered = handover::receive(tx, &mut s, v, &states.me, now).await?;
                }
                (Side::Recipient, MessageType::ShareUpdate | MessageType::Rectification) => {
                    // Only the owner writes, at the epoch known here.
                    record_of(&s, &states.me)?
                        .ownership
                        .check_update(&h.from, h.epoch)
                        .map_err(ownership_refusal)?;
                    let names: Vec<String> = serde_json::from_value(s.fields.clone()).unwrap_or_default();
                    let changed = only_fields(p, &names)?;
                    // After a revoke or a rejection nothing is kept, whatever was in flight.
                    if state.recipient_may_hold_data()
                        && let Some(Value::Object(data)) = s.data.as_mut()
                    {
                        data.extend(changed);
                    }
                }
                (side, t) => {
                    return Err(refused(
                        "wrong-message",
                        format!("a {t} cannot be sent to the {side:?} of a share"),
                    ));
                }
            }
            s
        }
    };
    share.seq_in = h.seq as i64;
    let note = text("note").or_else(|| text("reason"));
    record_share_event(tx, share.id, "received", h.message_type, h.id.as_uuid(), from, note, now).await?;
    Ok((share, answered))
}

/// The share fields of a payload, refusing any field the share does not carry (meta fields
/// of the message type are left out).
fn only_fields(p: &Payload, names: &[String]) -> Result<serde_json::Map<String, Value>, AppError> {
    let mut out = serde_json::Map::new();
    for (k, val) in p {
        if fields::is_field(k) {
            if !names.iter().any(|n| n == k) {
                return Err(refused(
                    "field-not-in-share",
                    format!("the field \"{k}\" is not one the share carries"),
                ));
            }
            out.insert(k.clone(), val.clone());
        }
    }
    Ok(out)
}
