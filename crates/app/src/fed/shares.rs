//! Shares of cases with other states: the referral (offer, accept or reject, revoke), the
//! mutual-assistance notice, updates and rectifications flowing within the share's fields.
//! Every step writes its outgoing message to the outbox in the same transaction as the change
//! and its audit event; the relay delivers it afterwards.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use enlace_domain::case::Case;
use enlace_domain::country::CountryCode;
use enlace_domain::disclosure::{DisclosureRequest, Exception, Purpose, RecipientKind};
use enlace_domain::ids::CaseId;
use enlace_domain::person::ShortText;
use enlace_domain::role::Role;
use enlace_fed::directory::Directory;
use enlace_fed::envelope::MessageType;
use enlace_fed::ids::NodeId;
use enlace_fed::share::{ShareEvent, ShareState, Side};
use enlace_store::Tx;
use enlace_store::fed::{OutboxRow, ShareEventRow, ShareRow};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use super::handover::{HandoverRecord, HandoverView, epoch_of, handover_view, set_record};
use super::{fields, refused, state_code};
use crate::disclosure::record_disclosure;
use crate::{Actor, App, AppError, access, audit, event};

/// Which end of a share this node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShareSide {
    /// This node holds the case and offered it.
    Offerer,
    /// The case was offered to this node's state.
    Recipient,
}

impl ShareSide {
    pub fn as_str(self) -> &'static str {
        match self {
            ShareSide::Offerer => "offerer",
            ShareSide::Recipient => "recipient",
        }
    }
    fn side(self) -> Side {
        match self {
            ShareSide::Offerer => Side::Offerer,
            ShareSide::Recipient => Side::Recipient,
        }
    }
    fn parse(s: &str) -> Result<Self, AppError> {
        match s {
            "offerer" => Ok(ShareSide::Offerer),
            "recipient" => Ok(ShareSide::Recipient),
            other => Err(AppError::Store(enlace_store::StoreError::Corrupt(format!("share side {other:?}")))),
        }
    }
}

/// A share as users see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Share {
    pub id: Uuid,
    pub side: ShareSide,
    /// The local case (offering side only).
    #[schema(value_type = Option<Uuid>)]
    pub case_id: Option<CaseId>,
    pub case_number: String,
    /// This node's state in the share.
    #[schema(value_type = String)]
    pub local_state: CountryCode,
    /// The other state, and its node.
    #[schema(value_type = String)]
    pub peer_state: CountryCode,
    pub peer_node: String,
    /// `offered`, `accepted`, `rejected` or `revoked`.
    #[schema(value_type = String)]
    pub state: ShareState,
    /// `referral` or `assistance` (a mutual-assistance notice).
    pub kind: String,
    pub fields: Vec<String>,
    pub purpose: String,
    pub legal_instrument: String,
    /// What was received (receiving side, while the share allows holding it).
    #[schema(value_type = Option<Object>)]
    pub data: Option<Map<String, Value>>,
    /// Who owns the case and where a handover of it stands.
    pub handover: HandoverView,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One step of a share's history.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShareEventView {
    pub at: DateTime<Utc>,
    /// `sent` or `received`.
    pub direction: String,
    pub message_type: String,
    pub message_id: Uuid,
    pub actor: String,
    pub note: Option<String>,
    /// The outgoing message's delivery: `pending`, `delivered` or `dead`.
    pub delivery: Option<String>,
}

/// A page of shares.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SharesPage {
    pub items: Vec<Share>,
    /// Pass as `cursor` for the next page.
    pub next: Option<String>,
}

/// An outgoing message as administrators see it (the dead-letter list).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OutboxView {
    pub id: Uuid,
    pub peer_node: String,
    pub message_type: String,
    pub share_id: Option<Uuid>,
    pub seq: i64,
    pub queued_at: DateTime<Utc>,
    pub state: String,
    pub attempts: i64,
    pub next_at: DateTime<Utc>,
    pub last_error: Option<String>,
}

/// Offer a case to another state.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[schema(example = json!({"to_state": "GT", "fields": ["given_names", "surnames", "birth", "category", "status"],
    "purpose": "Family reunification support in Guatemala", "legal_instrument": "Consent of the person"}))]
#[serde(deny_unknown_fields)]
pub struct ShareRequest {
    /// The state the case is offered to.
    #[schema(value_type = String, example = "GT")]
    pub to_state: CountryCode,
    /// The fields the share carries (see the case fields of the API).
    #[schema(example = json!(["given_names", "surnames", "birth", "category", "status"]))]
    pub fields: Vec<String>,
    /// What the other state is asked to do with it.
    #[schema(value_type = String, example = "Family reunification support in Guatemala")]
    pub purpose: ShortText,
    /// The legal instrument the share rests on.
    #[schema(value_type = String, example = "CA-4 + DR MoU on mutual consular assistance")]
    pub legal_instrument: ShortText,
    /// When no consent covers the share: the exception that applies.
    #[serde(default)]
    pub exception: Option<Exception>,
}

pub(crate) fn share_view(r: ShareRow) -> Result<Share, AppError> {
    let corrupt = |m: String| AppError::Store(enlace_store::StoreError::Corrupt(m));
    let state = serde_json::from_value(Value::String(r.state.clone())).map_err(|e| corrupt(e.to_string()))?;
    let handover = handover_view(&r);
    Ok(Share {
        handover,
        id: r.id,
        side: ShareSide::parse(&r.side)?,
        case_id: r.case_id.map(CaseId),
        case_number: r.case_number,
        local_state: CountryCode::parse(&r.local_state).map_err(|e| corrupt(e.to_string()))?,
        peer_state: CountryCode::parse(&r.peer_state).map_err(|e| corrupt(e.to_string()))?,
        peer_node: r.peer_node,
        state,
        kind: r.kind,
        fields: serde_json::from_value(r.fields).map_err(|e| corrupt(e.to_string()))?,
        purpose: r.purpose,
        legal_instrument: r.legal_instrument,
        data: match r.data {
            Some(Value::Object(m)) => Some(m),
            _ => None,
        },
        created_at: r.created_at,
        updated_at: r.updated_at,
    })
}

/// The name of a share's state (`offered`, `accepted`, `rejected`, `revoked`).
pub fn share_state_name(s: ShareState) -> &'static str {
    state_str(s)
}

pub(crate) fn state_str(s: ShareState) -> &'static str {
    match s {
        ShareState::Offered => "offered",
        ShareState::Accepted => "accepted",
        ShareState::Rejected => "rejected",
        ShareState::Revoked => "revoked",
    }
}

pub(crate) fn row_state(r: &ShareRow) -> Result<ShareState, AppError> {
    serde_json::from_value(Value::String(r.state.clone()))
        .map_err(|e| AppError::Store(enlace_store::StoreError::Corrupt(format!("share state: {e}"))))
}

/// Queues a message of `share` to its peer and records it in the share's history. Sequenced
/// types take the share's next outgoing number. Returns the message id.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn enqueue(
    tx: &mut Tx,
    share: &mut ShareRow,
    message_type: MessageType,
    payload: Map<String, Value>,
    reply_to: Option<Uuid>,
    id: Option<Uuid>,
    actor_name: &str,
    note: Option<String>,
    now: DateTime<Utc>,
) -> Result<Uuid, AppError> {
    let id = id.unwrap_or_else(Uuid::now_v7);
    let seq = if message_type.is_sequenced() {
        share.seq_out += 1;
        share.seq_out
    } else {
        0
    };
    let row = OutboxRow::pending(
        id,
        share.peer_node.clone(),
        message_type.as_str(),
        Some(share.id),
        seq,
        epoch_of(share) as i64,
        reply_to,
        Value::Object(payload),
        now,
    );
    enlace_store::fed::enqueue(tx, &row).await?;
    record_share_event(tx, share.id, "sent", message_type, id, actor_name, note, now).await?;
    Ok(id)
}

/// Adds a message sent or applied to a share's history.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn record_share_event(
    tx: &mut Tx,
    share: Uuid,
    direction: &str,
    message_type: MessageType,
    message_id: Uuid,
    actor_name: &str,
    note: Option<String>,
    at: DateTime<Utc>,
) -> Result<(), AppError> {
    let e = ShareEventRow {
        id: Uuid::now_v7(),
        share_id: share,
        at,
        direction: direction.into(),
        message_type: message_type.as_str().into(),
        message_id,
        actor_name: actor_name.to_string(),
        note,
    };
    Ok(enlace_store::fed::insert_share_event(tx, &e).await?)
}

/// Roles that decide on what other states offer (accept, reject, revoke a received share).
pub(crate) const DECIDERS: &[Role] = &[Role::LiaisonOfficer, Role::ProtectionSupervisor];

impl App {
    /// The states a case can be offered to: those served by another node of the current
    /// directory (none when this node is not in a network, or its directory has expired).
    pub async fn share_targets(&self) -> Vec<CountryCode> {
        let Ok((dir, me)) = self.my_entry(enlace_store::now()).await else { return Vec::new() };
        let mut out: Vec<CountryCode> = dir
            .nodes
            .iter()
            .filter(|n| n.id != me.id && n.revoked_at.is_none())
            .flat_map(|n| n.states.iter())
            .filter_map(|s| CountryCode::parse(s.as_str()).ok())
            .collect();
        out.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        out.dedup();
        out
    }

    /// Offers a case to another state's node (a referral). Passes the consent gate (a consent
    /// covering cross-border sharing with that state, or a recorded exception), which records
    /// the disclosure in the same transaction as the share and its outgoing message.
    pub async fn offer_share(
        &self,
        actor: &Actor,
        case_id: CaseId,
        req: ShareRequest,
    ) -> Result<Share, AppError> {
        self.guard(actor, access::require_case_worker(actor)).await?;
        let field_names = fields::normalise(&req.fields).map_err(|m| AppError::invalid("fields", m))?;
        let now = enlace_store::now();
        // Where the offer goes; any refusal is answered after the case is found visible, so
        // a case the actor may not see stays "not found".
        let target = match self.my_entry(now).await {
            Ok((dir, me)) => match dir.node_for_state(state_code(req.to_state)) {
                None => Err(AppError::invalid(
                    "to_state",
                    format!("no node of the network holds the cases of {}", req.to_state),
                )),
                Some(peer) if peer.id == me.id => {
                    Err(AppError::invalid("to_state", format!("{} is served by this node", req.to_state)))
                }
                Some(peer) => Ok((dir.clone(), peer.id.to_string(), me.id.clone())),
            },
            Err(e) => Err(e),
        };
        let actor_w = actor.clone();
        let row = self
            .write_as(actor, move |tx| {
                // The body may run again (a retried batch): a refusal is rebuilt each time.
                let target = match &target {
                    Ok(t) => Ok(t.clone()),
                    Err(e) => Err(replayable(e)),
                };
                let (actor, req, field_names) = (actor_w.clone(), req.clone(), field_names.clone());
                Box::pin(async move {
                    let c = Self::load_for_change(tx, &actor, case_id).await?;
                    let (dir, peer, me) = target?;
                    share_out_tx(tx, &actor, &c, &req, &field_names, "referral", peer, &me, &dir, now).await
                })
            })
            .await?;
        self.kick_relay();
        share_view(row)
    }

    /// Where a new case's mutual-assistance notice goes: a case a post of this node's state
    /// registers for a national of a state another node serves (seed item 3). Decided before
    /// the case's transaction, which then queues the notice ([`assistance_tx`]).
    pub(crate) async fn assistance_target(&self, c: &Case) -> Option<(String, Arc<Directory>, NodeId)> {
        let assisting = c.assisting_state?;
        if !self.federated() {
            return None;
        }
        let now = enlace_store::now();
        let (dir, me) = match self.my_entry(now).await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, case = %c.id,
                    "no usable directory: the assistance notice goes when one is installed");
                return None;
            }
        };
        let peer = dir.node_for_state(state_code(c.owner_state))?;
        if peer.id == me.id || !me.states.contains(&state_code(assisting)) {
            return None;
        }
        Some((peer.id.to_string(), dir.clone(), me.id.clone()))
    }

    /// Queues the mutual-assistance notices of cases registered while the node had no usable
    /// directory (nothing is dropped: the case's registration never waits for the network).
    /// Each notice goes in its own transaction, which checks again that none was queued.
    pub(crate) async fn sweep_notices(&self) {
        let mut after = None;
        let mut queued = 0;
        loop {
            let ids = match enlace_store::fed::assisted_without_notice(self.db(), after, 200).await {
                Ok(ids) => ids,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot look for assistance notices to send");
                    return;
                }
            };
            let Some(last) = ids.last().copied() else { break };
            after = Some(last);
            for id in ids {
                match self.send_missing_notice(CaseId(id)).await {
                    Ok(true) => queued += 1,
                    Ok(false) => {}
                    Err(e) => tracing::warn!(error = %e, case = %id, "cannot queue an assistance notice"),
                }
            }
        }
        if queued > 0 {
            tracing::info!(queued, "assistance notices held back are queued");
            self.kick_relay();
        }
    }

    async fn send_missing_notice(&self, id: CaseId) -> Result<bool, AppError> {
        let Some(c) = enlace_store::cases::get_case(self.db(), id).await? else { return Ok(false) };
        let Some((peer, dir, me)) = self.assistance_target(&c).await else { return Ok(false) };
        let Some(user) = enlace_store::users::get_user(self.db(), c.created_by).await? else {
            return Ok(false);
        };
        let actor = Actor { user, source: Some("assistance notice, sent late".into()) };
        let now = enlace_store::now();
        self.db()
            .write(move |tx| {
                let (actor, c, peer, dir, me) =
                    (actor.clone(), c.clone(), peer.clone(), dir.clone(), me.clone());
                Box::pin(async move {
                    let sent = enlace_store::fed::shares_of_case_tx(tx, c.id.0).await?;
                    if sent.iter().any(|s| s.kind == "assistance") {
                        return Ok(false);
                    }
                    assistance_tx(tx, &actor, &c, peer, &me, &dir, now).await?;
                    Ok::<_, AppError>(true)
                })
            })
            .await
    }

    /// The shares of a case the actor may read.
    pub async fn case_shares(&self, actor: &Actor, id: CaseId) -> Result<Vec<Share>, AppError> {
        self.read_case_for(actor, id, "shares").await?;
        enlace_store::fed::shares_of_case(self.db(), id.0).await?.into_iter().map(share_view).collect()
    }

    /// A page of the shares of the actor's state: `side` = recipient lists what other states
    /// offered (the "shared with us" worklist), offerer what this state offered.
    pub async fn list_shares(
        &self,
        actor: &Actor,
        side: ShareSide,
        cursor: Option<&str>,
        limit: i64,
    ) -> Result<SharesPage, AppError> {
        self.guard(actor, access::require_case_worker(actor)).await?;
        let before = cursor.map(parse_cursor).transpose()?;
        let limit = limit.clamp(1, 200);
        let mut rows = enlace_store::fed::list_shares(
            self.db(),
            actor.user.state.as_str(),
            side.as_str(),
            before,
            limit + 1,
        )
        .await?;
        let next = if rows.len() as i64 > limit {
            rows.truncate(limit as usize);
            rows.last().map(|r| format!("{}_{}", r.updated_at.timestamp_micros(), r.id))
        } else {
            None
        };
        // Lists show no received personal data beyond the case number; the share page does.
        let items = rows
            .into_iter()
            .map(|mut r| {
                r.data = None;
                share_view(r)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SharesPage { items, next })
    }

    /// One share with what it carries (audited as a read when it holds received data).
    pub async fn get_share(&self, actor: &Actor, id: Uuid) -> Result<(Share, Vec<ShareEventView>), AppError> {
        let row = self.share_for(actor, id).await?;
        if row.data.is_some() {
            let detail = json!({"share": id, "case_number": row.case_number, "from_state": row.peer_state});
            self.audit_read(actor, "share.read", "share", id.to_string(), detail).await?;
        }
        let events = enlace_store::fed::share_events(self.db(), id).await?;
        let outbox = enlace_store::fed::outbox_of_share(self.db(), id).await?;
        let events = events
            .into_iter()
            .map(|e| ShareEventView {
                delivery: outbox
                    .iter()
                    .find(|m| m.id == e.message_id && e.direction == "sent")
                    .map(|m| m.state.clone()),
                at: e.at,
                direction: e.direction,
                message_type: e.message_type,
                message_id: e.message_id,
                actor: e.actor_name,
                note: e.note,
            })
            .collect();
        Ok((share_view(row)?, events))
    }

    /// A share the actor may see: one of its state's, and for the offering side, of a case it
    /// may read.
    pub(crate) async fn share_for(&self, actor: &Actor, id: Uuid) -> Result<ShareRow, AppError> {
        self.guard(actor, access::require_case_worker(actor)).await?;
        let row = enlace_store::fed::share(self.db(), id).await?;
        let visible = match &row {
            Some(r) if r.local_state == actor.user.state.as_str() => match r.case_id {
                Some(case) if r.side == "offerer" => enlace_store::cases::get_case(self.db(), CaseId(case))
                    .await?
                    .is_some_and(|c| access::can_read(actor, &c)),
                _ => actor.user.role != Role::ConsularOfficer || r.side == "recipient",
            },
            _ => false,
        };
        match row {
            Some(r) if visible => Ok(r),
            Some(_) => {
                let hidden =
                    AppError::Hidden { what: "share", id: id.to_string(), reason: "not the actor's state" };
                self.guard(actor, Err(hidden)).await
            }
            None => Err(AppError::NotFound("share")),
        }
    }

    /// The receiving state accepts or rejects an offered share.
    pub async fn decide_share(
        &self,
        actor: &Actor,
        id: Uuid,
        accept: bool,
        note: Option<String>,
    ) -> Result<Share, AppError> {
        self.guard(actor, access::require_role(actor, DECIDERS)).await?;
        let note = clean_note(note)?;
        self.share_for(actor, id).await?;
        let event_kind = if accept { ShareEvent::Accept } else { ShareEvent::Reject };
        self.share_step(actor, id, ShareSide::Recipient, event_kind, note).await
    }

    /// Either side ends a share; the receiving side erases what it received.
    pub async fn revoke_share(
        &self,
        actor: &Actor,
        id: Uuid,
        reason: Option<String>,
    ) -> Result<Share, AppError> {
        let row = self.share_for(actor, id).await?;
        let side = ShareSide::parse(&row.side)?;
        if side == ShareSide::Recipient {
            self.guard(actor, access::require_role(actor, DECIDERS)).await?;
        }
        let note = clean_note(reason)?;
        self.share_step(actor, id, side, ShareEvent::Revoke(side.side()), note).await
    }

    async fn share_step(
        &self,
        actor: &Actor,
        id: Uuid,
        side: ShareSide,
        ev: ShareEvent,
        note: Option<String>,
    ) -> Result<Share, AppError> {
        let now = enlace_store::now();
        let dir = self.current_directory(now).await?;
        let actor_w = actor.clone();
        let row = self
            .write_as(actor, move |tx| {
                let (actor, note, dir) = (actor_w.clone(), note.clone(), dir.clone());
                Box::pin(async move {
                    let mut share =
                        enlace_store::fed::share_tx(tx, id).await?.ok_or(AppError::NotFound("share"))?;
                    if share.side != side.as_str() {
                        return Err(AppError::Rule(format!("this node is not the {} of the share", side.as_str())));
                    }
                    let state = row_state(&share)?.act(side.side(), ev).map_err(|e| AppError::Rule(e.to_string()))?;
                    share.state = state_str(state).into();
                    if !state.recipient_may_hold_data() {
                        share.data = None;
                    }
                    let mtype = ev.message_type();
                    let mut payload = Map::new();
                    if let Some(n) = &note {
                        payload.insert(if mtype == MessageType::ShareRevoke { "reason" } else { "note" }.into(), json!(n));
                    }
                    dir.check_payload(mtype, &payload).map_err(|e| refused(e_code(&e), e.to_string()))?;
                    let reply_to = mtype.needs_reply_to().then_some(share.id);
                    enqueue(tx, &mut share, mtype, payload, reply_to, None, actor.user.username.as_str(), note.clone(), now)
                        .await?;
                    if !state.recipient_may_hold_data() {
                        super::handover::end_with_share(tx, &mut share, actor.user.username.as_str(), now).await?;
                    }
                    enlace_store::fed::update_share(tx, &mut share, now).await?;
                    let detail = json!({"share": share.id, "case_number": share.case_number, "state": share.state,
                        "peer_state": share.peer_state});
                    let action = match ev {
                        ShareEvent::Accept => "share.accept",
                        ShareEvent::Reject => "share.reject",
                        ShareEvent::Revoke(_) => "share.revoke",
                    };
                    audit(tx, event(Some(&actor), action, "share", Some(share.id.to_string()), detail)).await?;
                    Ok(share)
                })
            })
            .await?;
        self.kick_relay();
        share_view(row)
    }

    /// In a case change's transaction: sends the share's fields again to every state the case
    /// is shared with (accepted shares), and a rectification of the person's data to every
    /// state that holds it (offered or accepted), when `person_changed`. Returns whether
    /// anything was queued (the caller then wakes the relay).
    pub(crate) async fn propagate_change(
        tx: &mut Tx,
        c: &Case,
        person_changed: bool,
        actor_name: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, AppError> {
        let mut queued = false;
        for mut share in enlace_store::fed::shares_of_case_tx(tx, c.id.0).await? {
            if share.side != "offerer" {
                continue;
            }
            let state = row_state(&share)?;
            let names: Vec<String> = serde_json::from_value(share.fields.clone()).unwrap_or_default();
            let (mtype, names) = if state.carries_updates() {
                (MessageType::ShareUpdate, names)
            } else if person_changed && state.recipient_may_hold_data() {
                let person: Vec<String> = names.into_iter().filter(|n| fields::is_person_field(n)).collect();
                (MessageType::Rectification, person)
            } else {
                continue;
            };
            if names.is_empty() {
                continue;
            }
            let mut payload = fields::values(c, &names);
            payload.insert("case_number".into(), json!(c.number));
            enqueue(tx, &mut share, mtype, payload, None, None, actor_name, None, now).await?;
            enlace_store::fed::update_share(tx, &mut share, now).await?;
            queued = true;
        }
        Ok(queued)
    }

    /// Dead letters (messages the relay gave up on), for administrators.
    pub async fn dead_letters(&self, actor: &Actor) -> Result<Vec<OutboxView>, AppError> {
        self.guard(actor, access::require_role(actor, &[Role::CountryAdministrator])).await?;
        Ok(enlace_store::fed::dead_letters(self.db(), 500).await?.into_iter().map(outbox_view).collect())
    }

    /// How many outgoing messages are pending, delivered and dead.
    pub async fn outbox_counts(&self, actor: &Actor) -> Result<Vec<(String, i64)>, AppError> {
        self.guard(actor, access::require_role(actor, &[Role::CountryAdministrator])).await?;
        Ok(enlace_store::fed::outbox_counts(self.db()).await?)
    }

    /// An administrator puts a dead letter back in the queue (after fixing what refused it).
    pub async fn retry_dead_letter(&self, actor: &Actor, id: Uuid) -> Result<(), AppError> {
        self.guard(actor, access::require_role(actor, &[Role::CountryAdministrator])).await?;
        let actor_w = actor.clone();
        self.write_as(actor, move |tx| {
            let actor = actor_w.clone();
            Box::pin(async move {
                let n = enlace_store::fed::requeue(tx, Some(id), None, enlace_store::now()).await?;
                if n == 0 {
                    return Err(AppError::NotFound("dead letter"));
                }
                audit(tx, event(Some(&actor), "fed.retry", "message", Some(id.to_string()), json!({}))).await
            })
        })
        .await?;
        self.kick_relay();
        Ok(())
    }

    /// Wakes the relay (a message was queued, or a peer is back).
    pub fn kick_relay(&self) {
        if let Some(f) = self.inner.fed.as_ref() {
            f.kick.notify_one();
        }
    }
}

/// In a consent's withdrawal transaction: the shares of the case offered on that consent end
/// (revoked, the other state erases what it received, an open handover offer is withdrawn).
/// A share offered on an exception, or on another consent, stands. Returns how many ended.
pub(crate) async fn end_shares_of_consent(
    tx: &mut Tx,
    case: CaseId,
    consent: enlace_domain::ids::ConsentId,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<usize, AppError> {
    use enlace_domain::disclosure::Basis;
    let disclosures = enlace_store::disclosures::for_case_tx(tx, case).await?;
    let mut ended = 0;
    for mut share in enlace_store::fed::shares_of_case_tx(tx, case.0).await? {
        let state = row_state(&share)?;
        if share.side != "offerer" || !state.recipient_may_hold_data() {
            continue;
        }
        // The share's disclosure was logged in the share's own transaction, at its creation.
        let rests_on_it = disclosures.iter().any(|d| {
            d.at == share.created_at
                && d.recipient == share.peer_state
                && matches!(d.basis, Basis::Consent { consent: c } if c == consent)
        });
        if !rests_on_it {
            continue;
        }
        let revoked = state
            .act(Side::Offerer, ShareEvent::Revoke(Side::Offerer))
            .map_err(|e| AppError::Rule(e.to_string()))?;
        share.state = state_str(revoked).into();
        let reason = "The person withdrew the consent this share rested on.".to_string();
        let payload: Map<String, Value> = [("reason".to_string(), json!(reason))].into_iter().collect();
        let who = actor.user.username.as_str().to_string();
        enqueue(tx, &mut share, MessageType::ShareRevoke, payload, None, None, &who, Some(reason), now)
            .await?;
        super::handover::end_with_share(tx, &mut share, &who, now).await?;
        enlace_store::fed::update_share(tx, &mut share, now).await?;
        let detail = json!({"share": share.id, "case_number": share.case_number, "state": share.state,
            "peer_state": share.peer_state, "consent": consent});
        audit(tx, event(Some(actor), "share.revoke", "share", Some(share.id.to_string()), detail)).await?;
        ended += 1;
    }
    Ok(ended)
}

/// A copy of a refusal decided before a transaction, to return from its body (which may run
/// more than once).
pub(crate) fn replayable(e: &AppError) -> AppError {
    match e {
        AppError::Validation(v) => AppError::Validation(v.clone()),
        AppError::Rule(m) => AppError::Rule(m.clone()),
        AppError::Federation { code, message, retryable } => {
            AppError::Federation { code: code.clone(), message: message.clone(), retryable: *retryable }
        }
        other => AppError::Unavailable(other.to_string()),
    }
}

fn outbox_view(m: OutboxRow) -> OutboxView {
    OutboxView {
        id: m.id,
        peer_node: m.peer_node,
        message_type: m.message_type,
        share_id: m.share_id,
        seq: m.seq,
        queued_at: m.queued_at,
        state: m.state,
        attempts: m.attempts,
        next_at: m.next_at,
        last_error: m.last_error,
    }
}

fn e_code(e: &enlace_fed::directory::PayloadError) -> &'static str {
    match e {
        enlace_fed::directory::PayloadError::TypeNotAgreed(_) => "type-not-agreed",
        enlace_fed::directory::PayloadError::FieldNotAllowed { .. } => "field-not-allowed",
    }
}

pub(crate) fn clean_note(note: Option<String>) -> Result<Option<String>, AppError> {
    match note.as_deref().map(|s| enlace_domain::text::clean_text(s, 2000)) {
        Some(Err(m)) => Err(AppError::invalid("note", m)),
        Some(Ok(s)) if !s.is_empty() => Ok(Some(s)),
        _ => Ok(None),
    }
}

fn parse_cursor(s: &str) -> Result<(DateTime<Utc>, Uuid), AppError> {
    let bad = || AppError::invalid("cursor", "not a cursor of this list");
    let (t, id) = s.split_once('_').ok_or_else(bad)?;
    let t = DateTime::from_timestamp_micros(t.parse().map_err(|_| bad())?).ok_or_else(bad)?;
    Ok((t, id.parse().map_err(|_| bad())?))
}

/// The notice of mutual consular assistance for a new case, in the case's transaction: the
/// agreed fields go to the node of the person's state at once. No consent is asked (the notice
/// to the state of nationality is the MoU's mandatory notification), but it is logged as a
/// disclosure like any other.
pub(crate) async fn assistance_tx(
    tx: &mut Tx,
    actor: &Actor,
    c: &Case,
    peer_node: String,
    me: &NodeId,
    dir: &Directory,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let text = |s: &str| ShortText::parse(s).map_err(AppError::Rule);
    let req = ShareRequest {
        to_state: c.owner_state,
        fields: fields::ASSISTANCE_FIELDS.iter().map(|s| s.to_string()).collect(),
        purpose: text("Mutual consular assistance: notice to the state of nationality")?,
        legal_instrument: text("CA-4 + Dominican Republic MoU on mutual consular assistance")?,
        exception: Some(Exception {
            kind: enlace_domain::disclosure::ExceptionKind::MandatoryNotification,
            reason: text("Notice of mutual consular assistance to the state of nationality")?,
        }),
    };
    let names = req.fields.clone();
    share_out_tx(tx, actor, c, &req, &names, "assistance", peer_node, me, dir, now).await?;
    Ok(())
}

/// The body of a new outgoing share, in the caller's transaction.
#[allow(clippy::too_many_arguments)]
async fn share_out_tx(
    tx: &mut Tx,
    actor: &Actor,
    c: &Case,
    req: &ShareRequest,
    field_names: &[String],
    kind: &'static str,
    peer_node: String,
    me: &NodeId,
    dir: &Directory,
    now: DateTime<Utc>,
) -> Result<ShareRow, AppError> {
    if req.to_state == c.owner_state && kind == "referral" {
        return Err(AppError::invalid("to_state", "the case already belongs to that state"));
    }
    let disclosure = DisclosureRequest {
        purpose: Purpose::CrossBorderSharing,
        recipient: ShortText::parse(req.to_state.as_str()).map_err(AppError::Rule)?,
        recipient_kind: RecipientKind::State,
        legal_instrument: req.legal_instrument.clone(),
        exception: req.exception.clone(),
    };
    let d = record_disclosure(tx, actor, c, &disclosure, now).await?;
    let local_state = match (kind, c.assisting_state) {
        ("assistance", Some(s)) => s,
        _ => c.owner_state,
    };
    // The case's ownership travels with the share; a mutual-assistance notice is also the
    // offer of the case to the state of nationality (it may take the case over).
    let mut rec = HandoverRecord::new(me.clone(), me.clone(), super::handover::case_epoch(tx, c.id).await?);
    rec.by = Some(actor.user.id.0);
    if kind == "assistance" {
        let peer = NodeId::parse(&peer_node).map_err(|e| AppError::Rule(e.to_string()))?;
        rec.ownership.offer(peer).map_err(|e| AppError::Rule(e.to_string()))?;
    }
    let mut share = ShareRow {
        handover: None,
        id: Uuid::now_v7(),
        side: "offerer".into(),
        case_id: Some(c.id.0),
        case_number: c.number.to_string(),
        local_state: local_state.as_str().into(),
        peer_node,
        peer_state: req.to_state.as_str().into(),
        state: "offered".into(),
        kind: kind.into(),
        fields: json!(field_names),
        purpose: req.purpose.to_string(),
        legal_instrument: req.legal_instrument.to_string(),
        data: None,
        seq_out: 0,
        seq_in: 0,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let mut payload = fields::values(c, field_names);
    payload.insert("case_number".into(), json!(c.number));
    payload.insert("owner_state".into(), json!(c.owner_state));
    payload.insert("from_state".into(), json!(local_state));
    payload.insert("to_state".into(), json!(req.to_state));
    payload.insert("kind".into(), json!(kind));
    payload.insert("purpose".into(), json!(share.purpose));
    payload.insert("legal_instrument".into(), json!(share.legal_instrument));
    payload.insert("fields".into(), json!(field_names));
    set_record(&mut share, &rec)?;
    let mtype = if kind == "assistance" { MessageType::AssistanceNotice } else { MessageType::ReferralOffer };
    dir.check_payload(mtype, &payload).map_err(|e| refused(e_code(&e), e.to_string()))?;
    enlace_store::fed::insert_share(tx, &share).await?;
    let id = share.id;
    enqueue(tx, &mut share, mtype, payload, None, Some(id), actor.user.username.as_str(), None, now).await?;
    enlace_store::fed::update_share(tx, &mut share, now).await?;
    let detail = json!({"number": c.number, "share": share.id, "to_state": req.to_state,
        "peer_node": share.peer_node, "fields": field_names, "kind": kind, "disclosure": d.id});
    audit(tx, event(Some(actor), "share.offer", "case", Some(c.id.to_string()), detail)).await?;
    Ok(share)
}
