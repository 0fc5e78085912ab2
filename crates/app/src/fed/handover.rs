//! Handover of a case between nodes: ownership moves by offer and accept, bumping the owner
//! epoch (the protocol is `enlace_fed::handover`, pure; this module keeps its state on the
//! share and does what each step means for the case).
//!
//! - The giving node's owner offers on a share (an accepted referral). A mutual-assistance
//!   notice *is* an offer: the state of nationality may take the case over at once, or decline
//!   and so ask the assisting state to continue (seed item 3).
//! - The taking node accepts; it does not own the case yet.
//! - The giving node commits on the accept, in one transaction: the case is recorded as owned
//!   by the taker from epoch `e + 1`, closed here with the reason (read-only from then on:
//!   every change is refused), and the confirm, which carries the whole case, is queued.
//! - The taker, on the confirm, registers the case in its own series and owns it.
//!
//! Between the commit and the confirm's arrival nobody owns the case and nobody writes; the
//! outbox delivers the confirm whatever happens to either node meanwhile. A case is handed
//! over only when no other state holds it through a share (else that state would keep a
//! share with a node that no longer owns the case).

use chrono::{DateTime, Utc};
use enlace_domain::case::{Case, CaseParts, Category, LegalBasis, Protection, Subtype, Vulnerability};
use enlace_domain::country::CountryCode;
use enlace_domain::disclosure::{DisclosureRequest, Exception, Purpose, RecipientKind};
use enlace_domain::ids::{CaseId, PersonId, TransitionId, UserId};
use enlace_domain::person::{LongText, Person, PersonData, ShortText};
use enlace_domain::post::PostCode;
use enlace_domain::record::Transition;
use enlace_domain::workflow::Status;
use enlace_fed::envelope::MessageType;
use enlace_fed::handover::{HandoverMsg, Ownership, OwnershipError, Phase};
use enlace_fed::ids::NodeId;
use enlace_fed::receive::VerifiedEnvelope;
use enlace_store::Tx;
use enlace_store::fed::{CaseOwnerRow, ShareRow};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use super::shares::{DECIDERS, Share, clean_note, enqueue, row_state, share_view};
use super::{refused, refused_retry};
use crate::disclosure::record_disclosure;
use crate::{Actor, App, AppError, access, audit, event};

/// The handover state kept on a share (its `handover` column).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct HandoverRecord {
    pub ownership: Ownership,
    /// Who acted last on this node: offered (giving side) or accepted (taking side). Named as
    /// the one who closed, or registered, the case when the handover completes.
    #[serde(default)]
    pub by: Option<Uuid>,
    /// The taking user's post, where the received case is registered.
    #[serde(default)]
    pub post: Option<String>,
    /// The epoch of the offer this node accepted (taking side): a confirm is taken only for it.
    #[serde(default)]
    pub accepted_epoch: Option<u64>,
}

impl HandoverRecord {
    pub(crate) fn new(me: NodeId, owner: NodeId, epoch: u64) -> HandoverRecord {
        HandoverRecord {
            ownership: Ownership::new(me, owner, epoch),
            by: None,
            post: None,
            accepted_epoch: None,
        }
    }
}

fn corrupt(m: String) -> AppError {
    AppError::Store(enlace_store::StoreError::Corrupt(m))
}

/// The share's handover record; a share made before handovers existed is owned by the
/// offerer at epoch 0.
pub(crate) fn record_of(share: &ShareRow, me: &NodeId) -> Result<HandoverRecord, AppError> {
    match &share.handover {
        Some(v) => serde_json::from_value(v.clone()).map_err(|e| corrupt(format!("share handover: {e}"))),
        None => {
            let owner = if share.side == "offerer" {
                me.clone()
            } else {
                NodeId::parse(&share.peer_node).map_err(|e| corrupt(e.to_string()))?
            };
            Ok(HandoverRecord::new(me.clone(), owner, 0))
        }
    }
}

pub(crate) fn set_record(share: &mut ShareRow, r: &HandoverRecord) -> Result<(), AppError> {
    share.handover = Some(serde_json::to_value(r).map_err(|e| corrupt(e.to_string()))?);
    Ok(())
}

/// The owner epoch this node knows for the share's case (what its messages carry).
pub(crate) fn epoch_of(share: &ShareRow) -> u64 {
    share.handover.as_ref().and_then(|h| h["ownership"]["epoch"].as_u64()).unwrap_or(0)
}

/// The owner epoch of a local case (0 unless it came through a handover).
pub(crate) async fn case_epoch(tx: &mut Tx, case: CaseId) -> Result<u64, AppError> {
    Ok(enlace_store::fed::case_owner_tx(tx, case.0).await?.map_or(0, |o| o.epoch as u64))
}

/// Refuses a change of a case this node handed over.
pub(crate) async fn check_owned_here(tx: &mut Tx, c: &Case) -> Result<(), AppError> {
    match enlace_store::fed::case_owner_tx(tx, c.id.0).await? {
        Some(CaseOwnerRow { owner_node: Some(node), .. }) => Err(AppError::Rule(format!(
            "case {} was handed over to node {node}, which owns it now: it is read-only here",
            c.number
        ))),
        _ => Ok(()),
    }
}

/// A share's handover, as users see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HandoverView {
    /// Whether this node owns the case.
    pub owned_here: bool,
    /// The node that owns the case, when it is not this one.
    pub owner_node: Option<String>,
    /// The owner epoch: 0 at registration, one more at each handover.
    pub owner_epoch: u64,
    /// `settled`, `offering` (this node offered the case), `offered` (the case is offered to
    /// this node), `accepting` (this node accepted and waits for the confirm) or `confirming`
    /// (this node gave the case; the confirm is on its way).
    pub phase: String,
}

pub(crate) fn handover_view(share: &ShareRow) -> HandoverView {
    let record =
        share.handover.as_ref().and_then(|v| serde_json::from_value::<HandoverRecord>(v.clone()).ok());
    match record {
        Some(r) => {
            let o = &r.ownership;
            HandoverView {
                owned_here: o.is_owner(),
                owner_node: (!o.is_owner()).then(|| o.owner().to_string()),
                owner_epoch: o.epoch(),
                phase: phase_name(o.phase()).into(),
            }
        }
        None => HandoverView {
            owned_here: share.side == "offerer",
            owner_node: (share.side != "offerer").then(|| share.peer_node.clone()),
            owner_epoch: 0,
            phase: "settled".into(),
        },
    }
}

fn phase_name(p: &Phase) -> &'static str {
    match p {
        Phase::Settled => "settled",
        Phase::Offering { .. } => "offering",
        Phase::Offered => "offered",
        Phase::Accepting => "accepting",
        Phase::Confirming { .. } => "confirming",
    }
}

/// The refusal code of an ownership error.
pub(crate) fn ownership_code(e: &OwnershipError) -> &'static str {
    match e {
        OwnershipError::StaleEpoch { .. } => "stale-epoch",
        OwnershipError::EpochAhead { .. } => "epoch-ahead",
        OwnershipError::NotOwner { .. } => "not-owner",
        OwnershipError::Busy => "handover-busy",
        OwnershipError::NoHandover => "no-handover",
        OwnershipError::ToSelf => "handover-to-self",
    }
}

/// A peer's message that breaks the ownership rules. An epoch ahead of ours is retryable: the
/// confirm that explains it is on its way.
pub(crate) fn ownership_refusal(e: OwnershipError) -> AppError {
    match e {
        OwnershipError::EpochAhead { .. } => refused_retry(ownership_code(&e), e.to_string()),
        _ => refused(ownership_code(&e), e.to_string()),
    }
}

/// A share that ends (rejected or revoked here) takes an open handover offer with it: the
/// giver withdraws its offer, the taker declines it. An accept already sent stands (the
/// protocol cannot take it back): the giver answers it, and the case moves or stays.
pub(crate) async fn end_with_share(
    tx: &mut Tx,
    share: &mut ShareRow,
    actor_name: &str,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let Some(Ok(mut rec)) = share.handover.clone().map(serde_json::from_value::<HandoverRecord>) else {
        return Ok(());
    };
    let msg = match rec.ownership.phase() {
        Phase::Offering { .. } => rec.ownership.withdraw(),
        Phase::Offered => rec.ownership.decline(),
        _ => return Ok(()),
    }
    .map_err(|e| AppError::Rule(e.to_string()))?;
    set_record(share, &rec)?;
    let reply_to = msg.message_type().needs_reply_to().then_some(share.id);
    enqueue(tx, share, msg.message_type(), Map::new(), reply_to, None, actor_name, None, now).await?;
    Ok(())
}

/// Offer the case of a share to the other state.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"note": "The family lives in Guatemala; GT's protection office takes over."}))]
pub struct HandoverRequest {
    #[serde(default)]
    pub note: Option<String>,
    /// When no consent covers giving the whole case to that state: the exception that applies.
    #[serde(default)]
    pub exception: Option<Exception>,
}

/// What this node does in a handover.
#[derive(Debug, Clone)]
enum Step {
    Offer(Option<Exception>),
    Withdraw,
    Accept,
    Decline,
}

impl App {
    /// The state holding a case offers it, through an accepted share, to the other state.
    /// Passes the consent gate for the whole case (a consent covering cross-border sharing
    /// with that state, or an exception).
    pub async fn offer_handover(
        &self,
        actor: &Actor,
        share: Uuid,
        req: HandoverRequest,
    ) -> Result<Share, AppError> {
        self.handover_step(actor, share, Step::Offer(req.exception), req.note).await
    }

    /// The offering state withdraws its offer (before the other state accepted).
    pub async fn withdraw_handover(
        &self,
        actor: &Actor,
        share: Uuid,
        note: Option<String>,
    ) -> Result<Share, AppError> {
        self.handover_step(actor, share, Step::Withdraw, note).await
    }

    /// The state a case is offered to takes it over (`accept`), or declines and so asks the
    /// holding state to continue.
    pub async fn decide_handover(
        &self,
        actor: &Actor,
        share: Uuid,
        accept: bool,
        note: Option<String>,
    ) -> Result<Share, AppError> {
        let step = if accept { Step::Accept } else { Step::Decline };
        self.handover_step(actor, share, step, note).await
    }

    async fn handover_step(
        &self,
        actor: &Actor,
        id: Uuid,
        step: Step,
        note: Option<String>,
    ) -> Result<Share, AppError> {
        self.guard(actor, access::require_role(actor, DECIDERS)).await?;
        let note = clean_note(note)?;
        self.share_for(actor, id).await?;
        let me = self.fed()?.settings.node.clone();
        let now = enlace_store::now();
        let dir = self.current_directory(now).await?;
        let actor_w = actor.clone();
        let row = self
            .write_as(actor, move |tx| {
                let (actor, note, step, me, dir) =
                    (actor_w.clone(), note.clone(), step.clone(), me.clone(), dir.clone());
                Box::pin(async move {
                    let mut share =
                        enlace_store::fed::share_tx(tx, id).await?.ok_or(AppError::NotFound("share"))?;
                    let giving = matches!(step, Step::Offer(_) | Step::Withdraw);
                    let side = if giving { "offerer" } else { "recipient" };
                    if share.side != side {
                        return Err(AppError::Rule(if giving {
                            "only the state that holds the case can hand it over".into()
                        } else {
                            "only the state the case is offered to can take it over".into()
                        }));
                    }
                    let state = row_state(&share)?;
                    let mut rec = record_of(&share, &me)?;
                    let local = |e: OwnershipError| AppError::Rule(e.to_string());
                    let peer = NodeId::parse(&share.peer_node).map_err(|e| corrupt(e.to_string()))?;
                    let msg = match &step {
                        Step::Offer(exception) => {
                            let open = state == enlace_fed::share::ShareState::Accepted
                                || (share.kind == "assistance" && state.recipient_may_hold_data());
                            if !open {
                                return Err(AppError::Rule(format!(
                                    "the share is {}: a case is handed over through an accepted share",
                                    share.state
                                )));
                            }
                            let case_id = share.case_id.map(CaseId).ok_or(AppError::NotFound("case"))?;
                            let c = Self::load_for_change(tx, &actor, case_id).await?;
                            for other in enlace_store::fed::shares_of_case_tx(tx, case_id.0).await? {
                                if other.id != share.id
                                    && other.side == "offerer"
                                    && row_state(&other)?.recipient_may_hold_data()
                                {
                                    return Err(AppError::Rule(format!(
                                        "the case is also shared with {}: end that share before handing the case over",
                                        other.peer_state
                                    )));
                                }
                            }
                            let nationalities = &c.person.nationalities;
                            if !nationalities.is_empty() && !nationalities.iter().any(|n| n.as_str() == share.peer_state) {
                                return Err(AppError::Rule(format!(
                                    "the person is not a national of {}: a case moves only to a state of the person's nationality",
                                    share.peer_state
                                )));
                            }
                            let m = rec.ownership.offer(peer).map_err(local)?;
                            let disclosure = DisclosureRequest {
                                purpose: Purpose::CrossBorderSharing,
                                recipient: ShortText::parse(&share.peer_state).map_err(AppError::Rule)?,
                                recipient_kind: RecipientKind::State,
                                legal_instrument: ShortText::parse(&share.legal_instrument)
                                    .or_else(|_| ShortText::parse("Handover of the case"))
                                    .map_err(AppError::Rule)?,
                                exception: exception.clone(),
                            };
                            record_disclosure(tx, &actor, &c, &disclosure, now).await?;
                            m
                        }
                        Step::Withdraw => rec.ownership.withdraw().map_err(local)?,
                        Step::Accept => {
                            if !state.recipient_may_hold_data() {
                                return Err(AppError::Rule(format!("the share is {}", share.state)));
                            }
                            rec.post = actor.user.post.as_ref().map(|p| p.to_string());
                            rec.accepted_epoch = Some(rec.ownership.epoch());
                            rec.ownership.accept().map_err(local)?
                        }
                        Step::Decline => rec.ownership.decline().map_err(local)?,
                    };
                    rec.by = Some(actor.user.id.0);
                    set_record(&mut share, &rec)?;
                    let mtype = msg.message_type();
                    let mut payload = Map::new();
                    if let Some(n) = &note {
                        payload.insert("note".into(), json!(n));
                    }
                    dir.check_payload(mtype, &payload).map_err(|e| refused("field-not-allowed", e.to_string()))?;
                    let reply_to = mtype.needs_reply_to().then_some(share.id);
                    let who = actor.user.username.as_str().to_string();
                    enqueue(tx, &mut share, mtype, payload, reply_to, None, &who, note.clone(), now).await?;
                    enlace_store::fed::update_share(tx, &mut share, now).await?;
                    let action = match step {
                        Step::Offer(_) => "handover.offer",
                        Step::Withdraw => "handover.withdraw",
                        Step::Accept => "handover.accept",
                        Step::Decline => "handover.decline",
                    };
                    let detail = json!({"share": share.id, "case_number": share.case_number,
                        "peer_state": share.peer_state, "epoch": rec.ownership.epoch()});
                    audit(tx, event(Some(&actor), action, "share", Some(share.id.to_string()), detail)).await?;
                    Ok(share)
                })
            })
            .await?;
        self.kick_relay();
        share_view(row)
    }
}

/// The whole case, as a handover's confirm carries it to the new owner. Local identifiers
/// (ids, versions, users) stay behind; the new owner registers the case in its own series.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TransferredCase {
    /// The number the case had at the giving node.
    pub number: String,
    pub owner_state: CountryCode,
    /// The giving node's post (kept as a note; posts are per node).
    pub post: Option<String>,
    pub host_state: CountryCode,
    pub category: Category,
    pub subtype: Subtype,
    pub vulnerabilities: Vec<Vulnerability>,
    pub status: Status,
    pub protection: Protection,
    pub legal_basis: LegalBasis,
    pub narrative: Option<LongText>,
    pub person: PersonData,
    pub parts: CaseParts,
    pub opened_at: DateTime<Utc>,
}

impl TransferredCase {
    fn of(c: &Case) -> TransferredCase {
        TransferredCase {
            number: c.number.to_string(),
            owner_state: c.owner_state,
            post: c.post.as_ref().map(|p| p.to_string()),
            host_state: c.host_state,
            category: c.category,
            subtype: c.subtype,
            vulnerabilities: c.vulnerabilities.clone(),
            status: c.status,
            protection: c.protection.clone(),
            legal_basis: c.legal_basis,
            narrative: c.narrative.clone(),
            person: c.person.clone(),
            parts: c.parts.clone(),
            opened_at: c.opened_at,
        }
    }
}

/// A handover message received on `share` (in the inbox's transaction). Returns whether a
/// message was queued in answer.
pub(crate) async fn receive(
    tx: &mut Tx,
    share: &mut ShareRow,
    v: &VerifiedEnvelope,
    me: &NodeId,
    now: DateTime<Utc>,
) -> Result<bool, AppError> {
    let h = &v.header;
    let epoch = h.epoch;
    let msg = match h.message_type {
        MessageType::HandoverOffer => HandoverMsg::Offer { epoch },
        MessageType::HandoverCancel => HandoverMsg::Cancel { epoch },
        MessageType::HandoverAccept => HandoverMsg::Accept { epoch },
        MessageType::HandoverReject => HandoverMsg::Reject { epoch },
        MessageType::HandoverConfirm => HandoverMsg::Confirm { epoch, new_owner: me.clone() },
        t => return Err(refused("wrong-message", format!("a {t} is not a handover message"))),
    };
    let mut rec = record_of(share, me)?;
    // A case is pushed onto no node: only the offer this node's users accepted is confirmed.
    if h.message_type == MessageType::HandoverConfirm
        && !rec.ownership.is_owner()
        && rec.ownership.epoch() < epoch
        && rec.accepted_epoch != epoch.checked_sub(1)
    {
        return Err(refused(
            "not-accepted",
            "this node did not accept a handover of this case at that epoch",
        ));
    }
    let was_owner = rec.ownership.is_owner();
    let answer = rec.ownership.receive(&h.from, &msg).map_err(ownership_refusal)?;
    set_record(share, &rec)?;
    let committed = was_owner && !rec.ownership.is_owner();
    let took = !was_owner && rec.ownership.is_owner();
    match answer {
        Some(HandoverMsg::Confirm { .. }) if committed => {
            commit(tx, share, &rec, now).await?;
            Ok(true)
        }
        Some(HandoverMsg::Reject { .. }) => {
            enqueue(
                tx,
                share,
                MessageType::HandoverReject,
                Map::new(),
                Some(share.id),
                None,
                "system",
                None,
                now,
            )
            .await?;
            Ok(true)
        }
        // A repeated offer or accept: the answer queued the first time is still in the outbox,
        // which delivers it.
        _ => {
            if took {
                take(tx, share, &rec, &v.payload, now).await?;
            }
            Ok(false)
        }
    }
}

/// The giving node commits: the case is the taker's from the new epoch, closed and read-only
/// here, and the confirm with the whole case is queued.
async fn commit(
    tx: &mut Tx,
    share: &mut ShareRow,
    rec: &HandoverRecord,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let case_id =
        share.case_id.map(CaseId).ok_or_else(|| corrupt(format!("share {} has no case", share.id)))?;
    let mut c = enlace_store::cases::get_case_tx(tx, case_id)
        .await?
        .ok_or_else(|| corrupt(format!("the case of share {} is gone", share.id)))?;
    let to_node = rec.ownership.owner().to_string();
    let epoch = rec.ownership.epoch();
    enlace_store::fed::set_case_owner(
        tx,
        &CaseOwnerRow {
            case_id: c.id.0,
            owner_node: Some(to_node.clone()),
            epoch: epoch as i64,
            share_id: share.id,
            at: now,
        },
    )
    .await?;
    let transferred = TransferredCase::of(&c);
    let from = c.status;
    if from != Status::Closed {
        c.status = Status::Closed;
        c.closed_at = Some(now);
        c.updated_at = now;
        if !enlace_store::cases::update_case(tx, &c).await? {
            return Err(AppError::Store(enlace_store::StoreError::Contended(format!(
                "case {} changed",
                c.id
            ))));
        }
        let t = Transition {
            id: TransitionId::new_v7(),
            case_id: c.id,
            from: Some(from),
            to: Status::Closed,
            reason: Some(format!(
                "Handed over to {} (node {to_node}), which owns the case from now on.",
                share.peer_state
            )),
            actor: rec.by.map(UserId).unwrap_or(c.created_by),
            at: now,
        };
        enlace_store::records::insert_transition(tx, &t).await?;
    }
    let payload: Map<String, Value> = [
        ("case_number".to_string(), json!(c.number)),
        ("case".to_string(), serde_json::to_value(&transferred).map_err(|e| corrupt(e.to_string()))?),
    ]
    .into_iter()
    .collect();
    enqueue(tx, share, MessageType::HandoverConfirm, payload, Some(share.id), None, "system", None, now)
        .await?;
    let detail = json!({"number": c.number, "share": share.id, "to_node": to_node, "to_state": share.peer_state,
        "epoch": epoch});
    audit(tx, event(None, "case.handover", "case", Some(c.id.to_string()), detail)).await
}

/// The taking node got the confirm: it registers the case in its own series and owns it.
async fn take(
    tx: &mut Tx,
    share: &mut ShareRow,
    rec: &HandoverRecord,
    payload: &Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let t: TransferredCase = payload
        .get("case")
        .cloned()
        .ok_or_else(|| refused("bad-handover", "the confirm carries no case"))
        .and_then(|v| {
            serde_json::from_value(v).map_err(|e| refused("bad-handover", format!("the confirmed case: {e}")))
        })?;
    // The taking state owns the case from now on: it must be one of the person's states.
    let owner_state = CountryCode::parse(&share.local_state).map_err(|e| corrupt(e.to_string()))?;
    if !t.person.nationalities.is_empty() && !t.person.nationalities.contains(&owner_state) {
        return Err(refused(
            "wrong-state",
            format!("the person is not a national of {owner_state}, which cannot own the case"),
        ));
    }
    let by = rec
        .by
        .map(UserId)
        .ok_or_else(|| refused("not-accepted", "this node did not accept a handover of this case"))?;
    let post = rec.post.as_deref().and_then(|p| PostCode::parse(p).ok());
    let mut c = Case {
        id: CaseId::new_v7(),
        number: enlace_domain::case::CaseNumber { state: owner_state, year: 0, seq: 0 },
        version: 1,
        owner_state,
        // A post of another state assists (the invariant the post scope's search relies on).
        assisting_state: post.as_ref().map(PostCode::state).filter(|s| *s != owner_state),
        post,
        host_state: t.host_state,
        category: t.category,
        subtype: t.subtype,
        vulnerabilities: t.vulnerabilities,
        status: t.status,
        assigned_officer: None,
        protection: t.protection,
        legal_basis: t.legal_basis,
        narrative: t.narrative,
        person_id: PersonId::new_v7(),
        person: t.person,
        person_version: 1,
        parts: t.parts,
        opened_at: t.opened_at,
        updated_at: now,
        closed_at: None,
        created_by: by,
    };
    let year = chrono::Datelike::year(&now);
    let seq = enlace_store::cases::next_seq(tx, c.owner_state, year, true).await?;
    c.number = enlace_domain::case::CaseNumber { state: c.owner_state, year, seq };
    let transition = Transition {
        id: TransitionId::new_v7(),
        case_id: c.id,
        from: None,
        to: c.status,
        reason: Some(format!(
            "Taken over from {} (node {}, case {}, post {}).",
            share.peer_state,
            share.peer_node,
            t.number,
            t.post.as_deref().unwrap_or("none")
        )),
        actor: by,
        at: now,
    };
    let person = Person { id: c.person_id, version: 1, data: c.person.clone() };
    enlace_store::cases::insert_new_case(tx, &c, Some(&person), &transition, None).await?;
    enlace_store::fed::set_case_owner(
        tx,
        &CaseOwnerRow {
            case_id: c.id.0,
            owner_node: None,
            epoch: rec.ownership.epoch() as i64,
            share_id: share.id,
            at: now,
        },
    )
    .await?;
    share.case_id = Some(c.id.0);
    // The case holds the data now; the share keeps its history only.
    share.data = None;
    let detail = json!({"number": c.number, "from_number": t.number, "from_node": share.peer_node,
        "share": share.id, "epoch": rec.ownership.epoch()});
    audit(tx, event(None, "case.handover_receive", "case", Some(c.id.to_string()), detail)).await
}
