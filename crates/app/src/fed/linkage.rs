//! The cross-border linkage service (issue 7): families report a person missing in one state;
//! the person turns up detained, in hospital, dead or returned in another. No state may show
//! another its nationals' names, and the hub may see none at all.
//!
//! - A state's officer puts a case in the service ([`App::enrol_linkage`]): the consent gate
//!   (a consent to cross-border sharing, or a recorded exception) logs a disclosure, and the
//!   person's keyed Bloom filter ([`encode_person`], under the secret the states share and the
//!   hub never has) goes to the hub in a `linkage_submission`, with a random id; the case stays
//!   here. Withdrawing (by hand, or with the consent it rested on) sends the id's removal.
//! - The hub keeps the bits ([`receive_submission`]) and compares every new encoding of one
//!   state with the other side's encodings of every other state ([`find_pairs`]: Dice
//!   coefficient, threshold and top-k); each pair found becomes a candidate, sent to both
//!   owning nodes as a `linkage_candidate` (encoding ids, other state, similarity, expiry).
//! - Officers who may read the case decide ([`App::decide_candidate`]): the same person or
//!   not. The decision is kept here and sent to the hub (`linkage_decision`); "the same
//!   person" leads the officer to offer the case to the other state (an ordinary referral,
//!   with its own consent gate). A candidate not decided in time expires.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use enlace_domain::case::{Case, Subtype};
use enlace_domain::disclosure::{Basis, DisclosureRequest, Exception, Purpose, RecipientKind};
use enlace_domain::ids::CaseId;
use enlace_domain::person::ShortText;
use enlace_domain::person::{Birth, PersonData, Sex};
use enlace_domain::role::Role;
use enlace_fed::directory::{Directory, NodeRole};
use enlace_fed::envelope::MessageType;
use enlace_fed::receive::VerifiedEnvelope;
use enlace_pprl::{
    BloomFilter, DEFAULT_BITS, Encoder, EncoderConfig, FieldSpec, FilterSet, Hardening, MatchOptions,
    PprlError, Role as FieldRole, match_sets,
};
use enlace_store::Tx;
use enlace_store::fed::OutboxRow;
use enlace_store::linkage::{CandidateRow, EncodingRow, HubCandidateRow, HubEncodingRow};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use super::shares::replayable;
use super::{LinkageSecret, refused};
use crate::{Actor, App, AppError, access, audit, event};

/// The encoding scheme the network agreed on: given names, surnames, date of birth and sex,
/// 1024-bit CLK, no hardening. A submission in another scheme is refused.
pub const SCHEME: &str = "enlace-clk-v1";
/// Pairs at least this similar (Dice) become candidates.
pub const MATCH_THRESHOLD: f64 = 0.8;
/// At most this many candidates per new encoding (the most similar).
pub const TOP_K: usize = 5;
/// Encodings per submission at most.
pub const MAX_BATCH: usize = 5_000;
/// The hub refuses a filter fuller than this: it would resemble everything.
pub const MAX_FILL: f64 = 0.7;
const RECIPIENT: &str = "CRM cross-border linkage service (regional hub)";
const INSTRUMENT: &str = "RCM Network of Consular Protection Liaison Officers: cross-border linkage service";

/// Which side of the search a case's person stands on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LinkSide {
    /// Reported missing by their family.
    Missing,
    /// Detained, in hospital, deceased or returned somewhere.
    Found,
}

impl LinkSide {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkSide::Missing => "missing",
            LinkSide::Found => "found",
        }
    }

    fn parse(s: &str) -> Result<LinkSide, AppError> {
        match s {
            "missing" => Ok(LinkSide::Missing),
            "found" => Ok(LinkSide::Found),
            other => Err(AppError::Store(enlace_store::StoreError::Corrupt(format!("link side {other:?}")))),
        }
    }

    /// The side a case of this subtype stands on; `None`: the service does not compare it.
    pub fn of(subtype: Subtype) -> Option<LinkSide> {
        match subtype {
            Subtype::Whereabouts => Some(LinkSide::Missing),
            Subtype::Detention
            | Subtype::MedicalEmergency
            | Subtype::DeathRepatriation
            | Subtype::ReturnReception => Some(LinkSide::Found),
            _ => None,
        }
    }
}

/// The agreed encoder configuration.
pub fn encoder_config() -> EncoderConfig {
    let field = |role| FieldSpec { role, hashes: None };
    EncoderConfig {
        bits: DEFAULT_BITS,
        fields: vec![
            field(FieldRole::GivenNames),
            field(FieldRole::Surnames),
            field(FieldRole::BirthDate),
            field(FieldRole::Sex),
        ],
        hardening: Hardening::None,
    }
}

/// The values encoded for a person, in the order of [`encoder_config`] (a birth known only as
/// a year or an estimated age gives no date).
pub fn person_values(p: &PersonData) -> [String; 4] {
    let join = |names: &[enlace_domain::person::Name]| {
        names.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(" ")
    };
    let birth = match &p.birth {
        Birth::Date { date } => date.format("%Y-%m-%d").to_string(),
        _ => String::new(),
    };
    let sex = match p.sex {
        Sex::Female => "f",
        Sex::Male => "m",
        Sex::Other | Sex::Unknown => "",
    };
    [join(&p.given_names), join(&p.surnames), birth, sex.to_string()]
}

/// A person's encoding under the network's secret. Pure.
pub fn encode_person(secret: &[u8], p: &PersonData) -> Result<BloomFilter, PprlError> {
    let encoder = Encoder::new(secret, &encoder_config())?;
    Ok(encoder.encode(&person_values(p))?.filter)
}

/// Puts a case in the service; with `exception` when no consent covers it.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[schema(example = json!({"exception": {"kind": "vital_interest",
    "reason": "Detained person who may be a missing migrant; family searching."}}))]
#[serde(deny_unknown_fields)]
pub struct LinkageRequest {
    #[serde(default)]
    pub exception: Option<Exception>,
}

/// An encoding of the case's person in the service.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EncodingView {
    pub id: Uuid,
    pub side: LinkSide,
    pub created_at: DateTime<Utc>,
    pub withdrawn_at: Option<DateTime<Utc>>,
    /// `consent` or `exception`.
    pub basis: String,
}

/// What officers decide on a candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = SamePersonOrNot)]
pub enum Decision {
    /// The same person: the state will offer the case to the other state.
    SamePerson,
    /// Not the same person.
    NotSamePerson,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::SamePerson => "same_person",
            Decision::NotSamePerson => "not_same_person",
        }
    }
}

/// A decision on a candidate.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[schema(example = json!({"decision": "same_person", "note": "Same date of birth and family names."}))]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    pub decision: Decision,
    #[serde(default)]
    pub note: Option<String>,
}

/// A possible match the hub found for one of this node's cases (no data of the other state's
/// person: only its state and how alike the encodings are).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CandidateView {
    pub id: Uuid,
    #[schema(value_type = Uuid)]
    pub case_id: CaseId,
    pub case_number: String,
    pub side: LinkSide,
    pub other_state: String,
    /// Dice coefficient of the two encodings (0 to 1).
    pub similarity: f64,
    pub received_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Past its expiry without a decision.
    pub expired: bool,
    pub decision: Option<Decision>,
    pub decided_at: Option<DateTime<Utc>>,
    pub note: Option<String>,
    /// When the other state's encoding left the service (withdrawn by that state, e.g. its
    /// consent was withdrawn): the candidate takes no decision any more.
    pub withdrawn_at: Option<DateTime<Utc>>,
}

/// A case's place in the service.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CaseLinkage {
    /// The side the case stands on; `None`: its subtype is not compared.
    pub side: Option<LinkSide>,
    /// Whether this node takes part in the service (it holds the network's linkage secret).
    pub available: bool,
    pub encodings: Vec<EncodingView>,
    pub candidates: Vec<CandidateView>,
}

/// One encoding in a submission.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Submitted {
    id: Uuid,
    side: LinkSide,
    /// The filter's bits, standard base64.
    filter: String,
}

/// The hub of the network, from the directory.
pub(crate) fn hub_of(dir: &Directory) -> Result<String, AppError> {
    dir.nodes
        .iter()
        .find(|n| n.roles.contains(&NodeRole::Hub) && n.revoked_at.is_none())
        .map(|n| n.id.to_string())
        .ok_or_else(|| AppError::Rule("the network directory names no hub".into()))
}

/// Queues a message to or from the hub (not share-bound), in the caller's transaction.
pub(crate) async fn to_hub(
    tx: &mut Tx,
    hub: &str,
    t: MessageType,
    payload: Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<Uuid, AppError> {
    let id = Uuid::now_v7();
    let row =
        OutboxRow::pending(id, hub.to_string(), t.as_str(), None, 0, 0, None, Value::Object(payload), now);
    enlace_store::fed::enqueue(tx, &row).await?;
    Ok(id)
}

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn encoding_view(e: EncodingRow) -> Result<EncodingView, AppError> {
    Ok(EncodingView {
        id: e.id,
        side: LinkSide::parse(&e.side)?,
        created_at: e.created_at,
        withdrawn_at: e.withdrawn_at,
        basis: if e.consent_id.is_some() { "consent" } else { "exception" }.into(),
    })
}

fn candidate_view(
    k: CandidateRow,
    case_number: String,
    now: DateTime<Utc>,
) -> Result<CandidateView, AppError> {
    let decision = match k.decision.as_deref() {
        None => None,
        Some("same_person") => Some(Decision::SamePerson),
        Some("not_same_person") => Some(Decision::NotSamePerson),
        Some(other) => {
            return Err(AppError::Store(enlace_store::StoreError::Corrupt(format!("decision {other:?}"))));
        }
    };
    Ok(CandidateView {
        id: k.id,
        case_id: CaseId(k.case_id),
        case_number,
        side: LinkSide::parse(&k.side)?,
        other_state: k.other_state,
        similarity: k.similarity,
        received_at: k.received_at,
        expired: decision.is_none() && k.withdrawn_at.is_none() && k.expires_at <= now,
        expires_at: k.expires_at,
        decision,
        decided_at: k.decided_at,
        note: k.note,
        withdrawn_at: k.withdrawn_at,
    })
}

impl App {
    fn linkage_secret(&self) -> Result<LinkageSecret, AppError> {
        self.fed()?.settings.linkage_secret.clone().ok_or_else(|| {
            AppError::Rule(
                "this node takes no part in the linkage service (it holds no linkage secret)".into(),
            )
        })
    }

    /// Puts a case's person in the cross-border linkage service: the consent gate logs the
    /// disclosure, and the encoding goes to the hub, in one transaction.
    pub async fn enrol_linkage(
        &self,
        actor: &Actor,
        case_id: CaseId,
        req: LinkageRequest,
    ) -> Result<EncodingView, AppError> {
        self.guard(actor, access::require_case_worker(actor)).await?;
        let secret = self.linkage_secret();
        let now = enlace_store::now();
        let hub = match self.current_directory(now).await {
            Ok(dir) => hub_of(&dir),
            Err(e) => Err(e),
        };
        let actor_w = actor.clone();
        let row = self
            .write_as(actor, move |tx| {
                let (actor, req) = (actor_w.clone(), req.clone());
                let secret = secret.as_ref().map_err(replayable).cloned();
                let hub = hub.as_ref().map_err(replayable).cloned();
                Box::pin(async move {
                    let c = Self::load_for_change(tx, &actor, case_id).await?;
                    let (secret, hub) = (secret?, hub?);
                    enrol_tx(tx, &actor, &c, &req, &secret, &hub, now).await
                })
            })
            .await?;
        self.kick_relay();
        encoding_view(row)
    }

    /// Takes a case out of the service: its encodings are withdrawn here and at the hub.
    pub async fn withdraw_linkage(&self, actor: &Actor, case_id: CaseId) -> Result<usize, AppError> {
        self.guard(actor, access::require_case_worker(actor)).await?;
        let actor_w = actor.clone();
        let n = self
            .write_as(actor, move |tx| {
                let actor = actor_w.clone();
                Box::pin(async move {
                    let c = Self::load_for_change(tx, &actor, case_id).await?;
                    let live = enlace_store::linkage::live_encodings_of_case(tx, c.id.0).await?;
                    if live.is_empty() {
                        return Err(AppError::Rule("this case is not in the linkage service".into()));
                    }
                    withdraw_tx(tx, &actor, &c.number.to_string(), c.id, live, "withdrawn by an officer")
                        .await
                })
            })
            .await?;
        self.kick_relay();
        Ok(n)
    }

    /// The case's encodings and candidates (for those who may read the case).
    pub async fn case_linkage(&self, actor: &Actor, case_id: CaseId) -> Result<CaseLinkage, AppError> {
        let c = self.read_case_for(actor, case_id, "linkage").await?;
        let now = enlace_store::now();
        let encodings = enlace_store::linkage::encodings_of_case(self.db(), c.id.0)
            .await?
            .into_iter()
            .map(encoding_view)
            .collect::<Result<_, _>>()?;
        let candidates = enlace_store::linkage::candidates_of_case(self.db(), c.id.0)
            .await?
            .into_iter()
            .map(|k| candidate_view(k, c.number.to_string(), now))
            .collect::<Result<_, _>>()?;
        let available = self.inner.fed.as_ref().is_some_and(|f| f.settings.linkage_secret.is_some());
        Ok(CaseLinkage { side: LinkSide::of(c.subtype), available, encodings, candidates })
    }

    /// The candidates of the cases the actor may read, undecided first (at most 500).
    pub async fn linkage_candidates(&self, actor: &Actor) -> Result<Vec<CandidateView>, AppError> {
        self.guard(actor, access::require_case_worker(actor)).await?;
        let now = enlace_store::now();
        let mut out = Vec::new();
        for k in enlace_store::linkage::candidates(self.db(), 500).await? {
            let Some(c) = enlace_store::cases::get_case(self.db(), CaseId(k.case_id)).await? else {
                continue;
            };
            if !access::can_read(actor, &c) || crate::cases::needs_grant(actor, &c) {
                continue;
            }
            out.push(candidate_view(k, c.number.to_string(), now)?);
        }
        let detail = json!({"candidates": out.len()});
        self.audit_read(actor, "linkage.candidates", "linkage", String::new(), detail).await?;
        Ok(out)
    }

    /// Records the officers' decision on a candidate and tells the hub, in one transaction. An
    /// expired or already decided candidate is refused.
    pub async fn decide_candidate(
        &self,
        actor: &Actor,
        id: Uuid,
        req: DecisionRequest,
    ) -> Result<CandidateView, AppError> {
        self.guard(actor, access::require_case_worker(actor)).await?;
        let note = req.note.as_deref().map(str::trim).filter(|n| !n.is_empty()).map(str::to_string);
        if note.as_ref().is_some_and(|n| n.chars().count() > 2000) {
            return Err(AppError::invalid("note", "at most 2000 characters"));
        }
        let now = enlace_store::now();
        let actor_w = actor.clone();
        let view = self
            .write_as(actor, move |tx| {
                let (actor, note) = (actor_w.clone(), note.clone());
                Box::pin(async move {
                    let Some(k) = enlace_store::linkage::candidate_tx(tx, id).await? else {
                        return Err(AppError::NotFound("candidate"));
                    };
                    let c = Self::load_for_change(tx, &actor, CaseId(k.case_id)).await?;
                    if k.decision.is_some() {
                        return Err(AppError::Conflict("this candidate was already decided".into()));
                    }
                    if k.withdrawn_at.is_some() {
                        return Err(AppError::Conflict(
                            "the other state withdrew its encoding: this candidate takes no decision".into(),
                        ));
                    }
                    if k.expires_at <= now {
                        return Err(AppError::Conflict(format!(
                            "this candidate expired on {} without a decision",
                            k.expires_at.format("%Y-%m-%d %H:%M UTC")
                        )));
                    }
                    let d = req.decision.as_str();
                    enlace_store::linkage::decide_candidate(tx, id, d, actor.user.id.0, now, note.as_deref())
                        .await?;
                    let hub = enlace_store::linkage::encoding_tx(tx, k.encoding_id)
                        .await?
                        .map(|e| e.hub_node)
                        .ok_or_else(|| AppError::NotFound("candidate"))?;
                    let payload = object(json!({"candidate": id, "encoding": k.encoding_id, "decision": d}));
                    let msg = to_hub(tx, &hub, MessageType::LinkageDecision, payload, now).await?;
                    let detail = json!({"number": c.number, "candidate": id, "decision": d,
                        "other_state": k.other_state, "similarity": k.similarity, "message": msg});
                    audit(tx, event(Some(&actor), "linkage.decide", "case", Some(c.id.to_string()), detail))
                        .await?;
                    let k = enlace_store::linkage::candidate_tx(tx, id)
                        .await?
                        .ok_or(AppError::NotFound("candidate"))?;
                    candidate_view(k, c.number.to_string(), now)
                })
            })
            .await?;
        self.kick_relay();
        Ok(view)
    }
}

/// The enrolment's transaction: gate, encode, keep, queue, audit.
async fn enrol_tx(
    tx: &mut Tx,
    actor: &Actor,
    c: &Case,
    req: &LinkageRequest,
    secret: &LinkageSecret,
    hub: &str,
    now: DateTime<Utc>,
) -> Result<EncodingRow, AppError> {
    let Some(side) = LinkSide::of(c.subtype) else {
        return Err(AppError::invalid(
            "case",
            format!(
                "the linkage service compares missing-person reports with detained, hospitalised, deceased and \
                 returned persons; a {} case is neither",
                c.subtype.as_str()
            ),
        ));
    };
    if !enlace_store::linkage::live_encodings_of_case(tx, c.id.0).await?.is_empty() {
        return Err(AppError::Conflict("this case is already in the linkage service".into()));
    }
    let text = |s: &str| ShortText::parse(s).map_err(|e| AppError::Rule(e.to_string()));
    let disclosure = DisclosureRequest {
        purpose: Purpose::CrossBorderSharing,
        recipient: text(RECIPIENT)?,
        recipient_kind: RecipientKind::Organisation,
        legal_instrument: text(INSTRUMENT)?,
        exception: req.exception.clone(),
    };
    let d = crate::disclosure::record_disclosure(tx, actor, c, &disclosure, now).await?;
    let filter = encode_person(&secret.0, &c.person).map_err(|e| AppError::Rule(e.to_string()))?;
    let row = EncodingRow {
        id: Uuid::now_v7(),
        case_id: c.id.0,
        side: side.as_str().into(),
        hub_node: hub.to_string(),
        consent_id: match d.basis {
            Basis::Consent { consent } => Some(consent.0),
            _ => None,
        },
        disclosure_id: Some(d.id),
        created_at: now,
        created_by: Some(actor.user.id.0),
        withdrawn_at: None,
    };
    enlace_store::linkage::insert_encoding(tx, &row).await?;
    let add = Submitted { id: row.id, side, filter: filter.to_base64() };
    let payload = object(json!({"state": c.owner_state, "scheme": SCHEME, "add": [add], "remove": []}));
    let msg = to_hub(tx, hub, MessageType::LinkageSubmission, payload, now).await?;
    let detail = json!({"number": c.number, "encoding": row.id, "side": side, "hub": hub, "message": msg,
        "disclosure": d.id});
    audit(tx, event(Some(actor), "linkage.enrol", "case", Some(c.id.to_string()), detail)).await?;
    Ok(row)
}

/// Withdraws encodings here and queues their removal at the hub, in the caller's transaction.
async fn withdraw_tx(
    tx: &mut Tx,
    actor: &Actor,
    number: &str,
    case: CaseId,
    live: Vec<EncodingRow>,
    why: &str,
) -> Result<usize, AppError> {
    let now = enlace_store::now();
    let mut by_hub: std::collections::BTreeMap<String, Vec<Uuid>> = Default::default();
    for e in &live {
        if enlace_store::linkage::withdraw_encoding(tx, e.id, now).await? {
            by_hub.entry(e.hub_node.clone()).or_default().push(e.id);
        }
    }
    let c = enlace_store::cases::get_case_tx(tx, case).await?.ok_or(AppError::NotFound("case"))?;
    let mut n = 0;
    for (hub, ids) in by_hub {
        n += ids.len();
        let payload = object(json!({"state": c.owner_state, "scheme": SCHEME, "add": [], "remove": ids}));
        let msg = to_hub(tx, &hub, MessageType::LinkageSubmission, payload, now).await?;
        let detail = json!({"number": number, "encodings": ids, "hub": hub, "message": msg, "why": why});
        audit(tx, event(Some(actor), "linkage.withdraw", "case", Some(case.to_string()), detail)).await?;
    }
    Ok(n)
}

/// In a consent's withdrawal transaction: the encodings that rest on it leave the service.
pub(crate) async fn withdraw_linkage_of_consent(
    tx: &mut Tx,
    case: CaseId,
    consent: enlace_domain::ids::ConsentId,
    actor: &Actor,
) -> Result<usize, AppError> {
    let live = enlace_store::linkage::live_encodings_of_consent(tx, consent.0).await?;
    if live.is_empty() {
        return Ok(0);
    }
    let number =
        enlace_store::cases::get_case_tx(tx, case).await?.map(|c| c.number.to_string()).unwrap_or_default();
    withdraw_tx(tx, actor, &number, case, live, "the consent it rested on was withdrawn").await
}

// ---------------------------------------------------------------------------------------------
// Receiving, on a node

/// A node receives a candidate from the hub (in the inbox's transaction). A candidate for an
/// encoding this node no longer has in the service is dropped (the withdrawal crossed it).
pub(crate) async fn receive_candidate(
    tx: &mut Tx,
    v: &VerifiedEnvelope,
    from_hub: bool,
    now: DateTime<Utc>,
) -> Result<&'static str, AppError> {
    if !from_hub {
        return Err(refused("not-from-the-hub", "linkage candidates come from the network's hub only"));
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Payload {
        candidate: Uuid,
        encoding: Uuid,
        side: LinkSide,
        other_state: String,
        other_encoding: Uuid,
        similarity: f64,
        expires_at: DateTime<Utc>,
    }
    let p: Payload = serde_json::from_value(Value::Object(v.payload.clone()))
        .map_err(|e| refused("bad-candidate", format!("the candidate: {e}")))?;
    if !(0.0..=1.0).contains(&p.similarity) {
        return Err(refused("bad-candidate", format!("similarity {} is not between 0 and 1", p.similarity)));
    }
    enlace_domain::country::CountryCode::parse(&p.other_state)
        .map_err(|e| refused("bad-candidate", format!("other_state: {e}")))?;
    let Some(e) = enlace_store::linkage::encoding_tx(tx, p.encoding).await? else {
        return Ok("void");
    };
    if e.withdrawn_at.is_some() || e.side != p.side.as_str() || e.hub_node != v.header.from.as_str() {
        return Ok("void");
    }
    let row = CandidateRow {
        id: p.candidate,
        encoding_id: e.id,
        case_id: e.case_id,
        side: e.side,
        other_state: p.other_state,
        other_encoding: p.other_encoding,
        similarity: p.similarity,
        received_at: now,
        expires_at: p.expires_at,
        decision: None,
        decided_by: None,
        decided_at: None,
        note: None,
        withdrawn_at: None,
    };
    enlace_store::linkage::insert_candidate(tx, &row).await?;
    let detail = json!({"candidate": row.id, "encoding": row.encoding_id, "other_state": row.other_state,
        "similarity": row.similarity});
    audit(tx, event(None, "linkage.candidate", "case", Some(row.case_id.to_string()), detail)).await?;
    Ok("applied")
}

// ---------------------------------------------------------------------------------------------
// The hub

/// The hub receives a submission (in the inbox's transaction): every encoding is checked
/// (scheme, length, fill, side) before any is kept; removals only touch the sender's own.
/// Returns whether messages were queued (candidates of removed encodings, to their other
/// nodes).
pub(crate) async fn receive_submission(
    tx: &mut Tx,
    v: &VerifiedEnvelope,
    sender_states: &[String],
    hub: bool,
    now: DateTime<Utc>,
) -> Result<bool, AppError> {
    let state = crate::hub::submitting_state(v, sender_states, hub, "linkage encodings")?;
    let p = &v.payload;
    let scheme = p.get("scheme").and_then(Value::as_str).unwrap_or("");
    if scheme != SCHEME {
        return Err(refused("bad-scheme", format!("the hub compares {SCHEME} encodings, not \"{scheme}\"")));
    }
    let add: Vec<Submitted> = serde_json::from_value(p.get("add").cloned().unwrap_or(Value::Array(vec![])))
        .map_err(|e| refused("bad-encoding", format!("add: {e}")))?;
    let remove: Vec<Uuid> = serde_json::from_value(p.get("remove").cloned().unwrap_or(Value::Array(vec![])))
        .map_err(|e| refused("bad-encoding", format!("remove: {e}")))?;
    if add.len() + remove.len() > MAX_BATCH {
        return Err(refused("too-many", format!("at most {MAX_BATCH} encodings per submission")));
    }
    let node = v.header.from.as_str();
    let mut filters = Vec::with_capacity(add.len());
    for (i, a) in add.iter().enumerate() {
        let f = BloomFilter::from_base64(&a.filter)
            .map_err(|e| refused("bad-encoding", format!("add[{i}]: {e}")))?;
        if f.len_bits() != DEFAULT_BITS {
            return Err(refused(
                "bad-encoding",
                format!("add[{i}] has {} bits; {SCHEME} encodings have {DEFAULT_BITS}", f.len_bits()),
            ));
        }
        let fill = f.fill();
        if fill == 0.0 || fill > MAX_FILL {
            return Err(refused(
                "bad-encoding",
                format!(
                    "add[{i}] is {:.0} % full; an encoding of a person is between 0 and {:.0} %",
                    fill * 100.0,
                    MAX_FILL * 100.0
                ),
            ));
        }
        filters.push(f);
    }
    let mut added = 0;
    for (a, f) in add.iter().zip(filters) {
        match enlace_store::linkage::hub_encoding_owner(tx, a.id).await? {
            Some(owner) if owner == node => continue,
            Some(_) => {
                return Err(refused("duplicate-encoding", format!("encoding {} is another node's", a.id)));
            }
            None => {}
        }
        let row = HubEncodingRow {
            id: a.id,
            state: state.to_string(),
            node: node.to_string(),
            side: a.side.as_str().into(),
            filter: f.to_bytes(),
            received_at: now,
            matched: false,
        };
        enlace_store::linkage::insert_hub_encoding(tx, &row).await?;
        added += 1;
    }
    let (mut removed, mut told) = (0, 0);
    for id in &remove {
        // The other side of each candidate of a withdrawn encoding is told, so that its
        // officers do not decide on a pair that no longer exists.
        let of_it = enlace_store::linkage::hub_candidates_of_encoding(tx, *id).await?;
        if !enlace_store::linkage::delete_hub_encoding(tx, *id, node).await? {
            continue;
        }
        removed += 1;
        for k in of_it {
            let (other_node, other) = if k.missing_encoding == *id {
                (&k.found_node, k.found_encoding)
            } else {
                (&k.missing_node, k.missing_encoding)
            };
            let payload = object(json!({"candidate": k.id, "encoding": other}));
            to_hub(tx, other_node, MessageType::LinkageWithdrawn, payload, now).await?;
            told += 1;
        }
    }
    let detail = json!({"state": state, "node": node, "added": added, "removed": removed,
        "candidates_withdrawn": told, "message": v.header.id});
    audit(tx, event(None, "linkage.submission", "linkage", Some(state.to_string()), detail)).await?;
    Ok(told > 0)
}

/// A node hears from the hub that the other encoding of one of its candidates left the
/// service (in the inbox's transaction): the candidate is kept, marked, and takes no decision.
pub(crate) async fn receive_withdrawn(
    tx: &mut Tx,
    v: &VerifiedEnvelope,
    from_hub: bool,
    now: DateTime<Utc>,
) -> Result<&'static str, AppError> {
    if !from_hub {
        return Err(refused("not-from-the-hub", "linkage candidates come from the network's hub only"));
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Payload {
        candidate: Uuid,
        encoding: Uuid,
    }
    let p: Payload = serde_json::from_value(Value::Object(v.payload.clone()))
        .map_err(|e| refused("bad-candidate", format!("the withdrawal: {e}")))?;
    let Some(k) = enlace_store::linkage::candidate_tx(tx, p.candidate).await? else { return Ok("void") };
    if !enlace_store::linkage::withdraw_candidate(tx, p.candidate, p.encoding, now).await? {
        return Ok("void");
    }
    let detail = json!({"candidate": k.id, "encoding": k.encoding_id, "other_state": k.other_state});
    audit(tx, event(None, "linkage.candidate_withdrawn", "case", Some(k.case_id.to_string()), detail))
        .await?;
    Ok("applied")
}

/// The hub receives a node's decision on a candidate (in the inbox's transaction).
pub(crate) async fn receive_decision(tx: &mut Tx, v: &VerifiedEnvelope, hub: bool) -> Result<(), AppError> {
    if !hub {
        return Err(refused("not-the-hub", "linkage decisions go to the network's hub"));
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Payload {
        candidate: Uuid,
        encoding: Uuid,
        decision: Decision,
    }
    let p: Payload = serde_json::from_value(Value::Object(v.payload.clone()))
        .map_err(|e| refused("bad-decision", format!("the decision: {e}")))?;
    let node = v.header.from.as_str();
    // A candidate the hub no longer holds (the other state withdrew its encoding) takes no
    // decision; the message is acknowledged so that it does not become a dead letter.
    let Some(k) = enlace_store::linkage::hub_candidate_tx(tx, p.candidate).await? else {
        let detail = json!({"candidate": p.candidate, "node": v.header.from, "outcome": "void"});
        audit(tx, event(None, "linkage.decision", "linkage", Some(p.candidate.to_string()), detail)).await?;
        return Ok(());
    };
    let side = if k.missing_encoding == p.encoding && k.missing_node == node {
        "missing"
    } else if k.found_encoding == p.encoding && k.found_node == node {
        "found"
    } else {
        return Err(refused("not-a-party", format!("{node} holds neither encoding of candidate {}", k.id)));
    };
    let now = enlace_store::now();
    enlace_store::linkage::decide_hub_candidate(tx, k.id, side, p.decision.as_str(), now).await?;
    let detail = json!({"candidate": k.id, "side": side, "node": node, "decision": p.decision});
    audit(tx, event(None, "linkage.decision", "linkage", Some(k.id.to_string()), detail)).await?;
    Ok(())
}

/// One encoding as the hub compares it.
pub struct HubEncoding {
    pub state: String,
    pub filter: BloomFilter,
    /// Not compared yet.
    pub new: bool,
}

/// A candidate pair: indices into the missing and the found encodings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pair {
    pub missing: usize,
    pub found: usize,
    pub similarity: f64,
}

/// The pairs to propose: every new missing encoding against the found encodings of every other
/// state, and every new found encoding against the older missing encodings of every other state
/// (a pair of two new ones is found once), at `threshold`, the `top_k` best per new encoding.
/// Pure: no I/O.
pub fn find_pairs(
    missing: &[HubEncoding],
    found: &[HubEncoding],
    threshold: f64,
    top_k: usize,
) -> Result<Vec<Pair>, PprlError> {
    let options = MatchOptions { threshold, top_k: Some(top_k), ..MatchOptions::default() };
    let mut out = Vec::new();
    // (queries, others, queries are the missing side)
    let mut passes: Vec<(Vec<usize>, Vec<usize>, bool)> = Vec::new();
    let states =
        |v: &[HubEncoding]| v.iter().filter(|e| e.new).map(|e| e.state.clone()).collect::<BTreeSet<_>>();
    for s in states(missing) {
        let q = (0..missing.len()).filter(|&i| missing[i].new && missing[i].state == s).collect();
        let o = (0..found.len()).filter(|&j| found[j].state != s).collect();
        passes.push((q, o, true));
    }
    for s in states(found) {
        let q = (0..found.len()).filter(|&j| found[j].new && found[j].state == s).collect();
        let o = (0..missing.len()).filter(|&i| !missing[i].new && missing[i].state != s).collect();
        passes.push((q, o, false));
    }
    for (q, o, q_missing) in passes {
        if q.is_empty() || o.is_empty() {
            continue;
        }
        let (qs, os) = if q_missing { (missing, found) } else { (found, missing) };
        let a = FilterSet::new(q.iter().map(|&i| &qs[i].filter))?;
        let b = FilterSet::new(o.iter().map(|&j| &os[j].filter))?;
        let (pairs, _) = match_sets(&a, &b, &options, &|_| {})?;
        for p in pairs {
            let (qi, oi) = (q[p.a], o[p.b]);
            let (m, f) = if q_missing { (qi, oi) } else { (oi, qi) };
            out.push(Pair { missing: m, found: f, similarity: p.similarity });
        }
    }
    Ok(out)
}

impl App {
    /// On the hub: compares the encodings not yet compared with the others and sends each
    /// candidate pair to both owning nodes. Returns how many candidates are new.
    pub async fn run_linkage_matching(&self) -> Result<usize, AppError> {
        let fed = self.fed()?;
        if !enlace_store::linkage::hub_has_unmatched(self.db()).await? {
            return Ok(0);
        }
        let ttl = fed.settings.candidate_ttl;
        // Read, compare outside the transaction (CPU work), then write what still holds.
        // (Read outside the writer: an encoding arriving meanwhile is compared next round.)
        let missing_rows = enlace_store::linkage::hub_encodings_of_side(self.db(), "missing").await?;
        let found_rows = enlace_store::linkage::hub_encodings_of_side(self.db(), "found").await?;
        let to_hub_enc = |r: &HubEncodingRow| HubEncoding {
            state: r.state.clone(),
            filter: BloomFilter::from_bytes(&r.filter),
            new: !r.matched,
        };
        let missing: Vec<HubEncoding> = missing_rows.iter().map(to_hub_enc).collect();
        let found: Vec<HubEncoding> = found_rows.iter().map(to_hub_enc).collect();
        let pairs = tokio::task::spawn_blocking(move || find_pairs(&missing, &found, MATCH_THRESHOLD, TOP_K))
            .await
            .map_err(|e| AppError::Unavailable(format!("the matcher stopped: {e}")))?
            .map_err(|e| AppError::Rule(e.to_string()))?;
        let compared: Vec<Uuid> =
            missing_rows.iter().chain(&found_rows).filter(|r| !r.matched).map(|r| r.id).collect();
        let candidates: Vec<HubCandidateRow> = {
            let now = enlace_store::now();
            pairs
                .iter()
                .map(|p| {
                    let (m, f) = (&missing_rows[p.missing], &found_rows[p.found]);
                    HubCandidateRow {
                        id: Uuid::now_v7(),
                        missing_encoding: m.id,
                        missing_state: m.state.clone(),
                        missing_node: m.node.clone(),
                        found_encoding: f.id,
                        found_state: f.state.clone(),
                        found_node: f.node.clone(),
                        similarity: (p.similarity * 1e4).round() / 1e4,
                        created_at: now,
                        expires_at: now + ttl,
                        missing_decision: None,
                        missing_decided_at: None,
                        found_decision: None,
                        found_decided_at: None,
                    }
                })
                .collect()
        };
        let new = self
            .db()
            .write(move |tx| {
                let (candidates, compared) = (candidates.clone(), compared.clone());
                Box::pin(async move {
                    let mut new = 0;
                    for k in &candidates {
                        // Either encoding may have been withdrawn meanwhile.
                        let held_m = enlace_store::linkage::hub_encoding_owner(tx, k.missing_encoding).await?;
                        let held_f = enlace_store::linkage::hub_encoding_owner(tx, k.found_encoding).await?;
                        if held_m.is_none() || held_f.is_none() {
                            continue;
                        }
                        if !enlace_store::linkage::insert_hub_candidate(tx, k).await? {
                            continue;
                        }
                        new += 1;
                        for (node, mine, side, other_state, other) in [
                            (&k.missing_node, k.missing_encoding, LinkSide::Missing, &k.found_state, k.found_encoding),
                            (&k.found_node, k.found_encoding, LinkSide::Found, &k.missing_state, k.missing_encoding),
                        ] {
                            let payload = object(json!({"candidate": k.id, "encoding": mine, "side": side,
                                "other_state": other_state, "other_encoding": other, "similarity": k.similarity,
                                "expires_at": k.expires_at}));
                            to_hub(tx, node, MessageType::LinkageCandidate, payload, k.created_at).await?;
                        }
                    }
                    enlace_store::linkage::mark_hub_matched(tx, &compared).await?;
                    let detail = json!({"compared": compared.len(), "candidates": new});
                    audit(tx, event(None, "linkage.match", "linkage", None, detail)).await?;
                    Ok::<_, AppError>(new)
                })
            })
            .await?;
        if new > 0 {
            self.kick_relay();
        }
        Ok(new)
    }

    /// Wakes the hub's matcher (a submission arrived).
    pub(crate) fn kick_matcher(&self) {
        if let Some(f) = self.inner.fed.as_ref() {
            f.link_kick.notify_one();
        }
    }

    /// The matcher's loop on the hub: after each submission, and every minute.
    pub(crate) async fn matcher_loop(&self) {
        let Ok(fed) = self.fed() else { return };
        loop {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(60), fed.link_kick.notified()).await;
            if let Err(e) = self.run_linkage_matching().await {
                tracing::warn!(error = %e, "linkage matching failed");
            }
        }
    }
}

/// The hub's linkage service in numbers (regional analysts: aggregates only).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RegionalLinkage {
    pub states: Vec<RegionalLinkageRow>,
    pub candidates: u64,
    /// Decided "the same person" by both states.
    pub confirmed: u64,
    /// Decided "not the same person" by either.
    pub rejected: u64,
    /// Open (not both decided, not expired).
    pub open: u64,
    pub expired: u64,
}

/// One state's encodings in the service.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RegionalLinkageRow {
    pub state: String,
    pub missing: u64,
    pub found: u64,
}

impl App {
    /// The linkage service's figures on the hub (regional analysts).
    pub async fn regional_linkage(&self, actor: &Actor) -> Result<RegionalLinkage, AppError> {
        self.guard(actor, access::require_role(actor, &[Role::RegionalAnalyst])).await?;
        let mut states: Vec<RegionalLinkageRow> = Vec::new();
        for (state, side, n) in enlace_store::linkage::hub_encoding_counts(self.db()).await? {
            let row = match states.iter_mut().find(|r| r.state == state) {
                Some(r) => r,
                None => {
                    states.push(RegionalLinkageRow { state, missing: 0, found: 0 });
                    states.last_mut().expect("just pushed")
                }
            };
            match side.as_str() {
                "missing" => row.missing = n as u64,
                _ => row.found = n as u64,
            }
        }
        let now = enlace_store::now();
        let (mut confirmed, mut rejected, mut open, mut expired) = (0, 0, 0, 0);
        let all = enlace_store::linkage::hub_candidates(self.db(), i64::MAX).await?;
        for k in &all {
            let d = [k.missing_decision.as_deref(), k.found_decision.as_deref()];
            if d.contains(&Some("not_same_person")) {
                rejected += 1;
            } else if d == [Some("same_person"), Some("same_person")] {
                confirmed += 1;
            } else if k.expires_at <= now {
                expired += 1;
            } else {
                open += 1;
            }
        }
        let detail = json!({"candidates": all.len()});
        self.audit_read(actor, "linkage.regional", "linkage", String::new(), detail).await?;
        Ok(RegionalLinkage { states, candidates: all.len() as u64, confirmed, rejected, open, expired })
    }
}
