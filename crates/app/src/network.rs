//! The network's workspace (issue 8): its meetings and the agreements they took, with
//! follow-up notes, and the events its members announce. Nothing here is about a person, so
//! every signed-in user may read it; who may write what is decided here:
//! - the Technical Secretariat (regional analysts) and the states' liaison officers record
//!   meetings and their agreements;
//! - a follow-up note (which may move the agreement's status) comes from the Technical
//!   Secretariat or from a liaison officer of a state the agreement names as responsible;
//! - a liaison officer announces events in their state's name; the Secretariat in anyone's.
//!
//! Every change writes its audit event in its own transaction.
//!
//! In a network the hub keeps the workspace: each change made there is published, in its
//! transaction, to every node (`workspace_record`, through the outbox), and a node joining
//! asks for all of it once (`workspace_sync`). A node's copy is read-only.

use chrono::{DateTime, NaiveDate, Utc};
use enlace_domain::network::{AgreementData, EventData, FollowUp, FollowUpData, MeetingData, Party, Titles};
use enlace_domain::role::Role;
use enlace_fed::directory::NodeRole;
use enlace_fed::envelope::MessageType;
use enlace_fed::receive::VerifiedEnvelope;
use enlace_store::Tx;
use enlace_store::network::{AgreementRow, EventRow, MeetingRow};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::fed::linkage::{hub_of, to_hub};
use crate::fed::refused;
use crate::{Actor, App, AppError, access, audit, event};

/// Who records meetings and agreements.
const RECORDERS: &[Role] = &[Role::RegionalAnalyst, Role::LiaisonOfficer];

/// A meeting as listed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MeetingView {
    pub id: Uuid,
    #[serde(flatten)]
    pub data: MeetingData,
    /// How many agreements it took, and how many of them are still to be acted on.
    pub agreements: usize,
    pub pending: usize,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The meeting an agreement comes from.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MeetingRef {
    pub id: Uuid,
    pub title: Titles,
    pub starts_on: NaiveDate,
}

/// An agreement with its notes.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AgreementView {
    pub id: Uuid,
    pub meeting: MeetingRef,
    pub version: i64,
    #[serde(flatten)]
    pub data: AgreementData,
    /// Past its due date and still pending.
    pub overdue: bool,
    /// Oldest first.
    pub notes: Vec<FollowUp>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A meeting with its agreements, by number.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MeetingDetail {
    pub meeting: MeetingView,
    pub agreements: Vec<AgreementView>,
}

/// The pending agreements one party is responsible for, overdue ones first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PartyAgreements {
    pub party: Party,
    pub agreements: Vec<AgreementView>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventView {
    pub id: Uuid,
    #[serde(flatten)]
    pub data: EventData,
    pub created_at: DateTime<Utc>,
}

fn meeting_ref(m: &MeetingRow) -> MeetingRef {
    MeetingRef { id: m.id, title: m.data.title.clone(), starts_on: m.data.starts_on }
}

fn agreement_view(a: AgreementRow, meeting: MeetingRef, today: NaiveDate) -> AgreementView {
    AgreementView {
        id: a.id,
        meeting,
        version: a.version,
        overdue: a.data.overdue(today),
        data: a.data,
        notes: a.notes,
        created_at: a.created_at,
        updated_at: a.updated_at,
    }
}

fn today() -> NaiveDate {
    enlace_store::now().date_naive()
}

/// A record as published to the nodes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireMeeting {
    id: Uuid,
    data: MeetingData,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireAgreement {
    id: Uuid,
    meeting_id: Uuid,
    version: i64,
    data: AgreementData,
    notes: Vec<FollowUp>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireEvent {
    id: Uuid,
    data: EventData,
    created_at: DateTime<Utc>,
}

/// What a `workspace_record` carries: a meeting; an agreement with its meeting (so that it
/// can be kept whatever order messages arrive in); or an event.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    meeting: Option<WireMeeting>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    agreement: Option<WireAgreement>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    event: Option<WireEvent>,
}

fn wire_meeting(m: &MeetingRow) -> WireMeeting {
    WireMeeting { id: m.id, data: m.data.clone(), created_at: m.created_at, updated_at: m.updated_at }
}

fn wire_agreement(a: &AgreementRow) -> WireAgreement {
    WireAgreement {
        id: a.id,
        meeting_id: a.meeting_id,
        version: a.version,
        data: a.data.clone(),
        notes: a.notes.clone(),
        created_at: a.created_at,
        updated_at: a.updated_at,
    }
}

fn payload(r: &Record) -> Map<String, Value> {
    match serde_json::to_value(r) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

fn meeting_record(m: &MeetingRow) -> Record {
    Record { kind: "meeting".into(), meeting: Some(wire_meeting(m)), agreement: None, event: None }
}

fn agreement_record(m: &MeetingRow, a: &AgreementRow) -> Record {
    Record {
        kind: "agreement".into(),
        meeting: Some(wire_meeting(m)),
        agreement: Some(wire_agreement(a)),
        event: None,
    }
}

fn event_record(e: &EventRow) -> Record {
    Record {
        kind: "event".into(),
        meeting: None,
        agreement: None,
        event: Some(WireEvent { id: e.id, data: e.data.clone(), created_at: e.created_at }),
    }
}

/// Queues `r` to each of `peers`, in the caller's transaction.
async fn publish(tx: &mut Tx, peers: &[String], r: &Record, now: DateTime<Utc>) -> Result<(), AppError> {
    let p = payload(r);
    for peer in peers {
        to_hub(tx, peer, MessageType::WorkspaceRecord, p.clone(), now).await?;
    }
    Ok(())
}

/// The job mark of a node that asked the hub for the whole workspace.
const SYNC_MARK: &str = "workspace.sync";

/// Every signed-in user reads the workspace; nothing in it is about a person.
fn may_read(_: &Actor) -> Result<(), AppError> {
    Ok(())
}

impl App {
    /// Where the workspace is kept. A node outside any network keeps its own (no peers); the
    /// hub keeps the network's and publishes each change to the other nodes (returned); any
    /// other node of a network holds a read-only copy: changes are refused.
    async fn keeper(&self) -> Result<Vec<String>, AppError> {
        if !self.federated() {
            return Ok(Vec::new());
        }
        let (dir, me) = self.my_entry(enlace_store::now()).await?;
        if !me.roles.contains(&NodeRole::Hub) {
            return Err(AppError::Conflict(
                "the network's workspace is kept at the hub: this node holds a read-only copy".into(),
            ));
        }
        Ok(dir
            .nodes
            .iter()
            .filter(|n| n.id != me.id && n.revoked_at.is_none())
            .map(|n| n.id.to_string())
            .collect())
    }

    /// Whether changes to the workspace are made on this node (outside a network, or the hub).
    pub async fn keeps_workspace(&self) -> bool {
        self.keeper().await.is_ok()
    }

    /// On a node of a network (not the hub): asks the hub, once, for the whole workspace.
    /// Returns whether it asked now.
    pub async fn request_workspace_sync(&self) -> Result<bool, AppError> {
        if !self.federated() || enlace_store::matches::mark(self.db(), SYNC_MARK).await?.is_some() {
            return Ok(false);
        }
        let now = enlace_store::now();
        let (dir, me) = self.my_entry(now).await?;
        if me.roles.contains(&NodeRole::Hub) {
            return Ok(false);
        }
        let hub = hub_of(&dir)?;
        self.db()
            .write(move |tx| {
                let hub = hub.clone();
                Box::pin(async move {
                    to_hub(tx, &hub, MessageType::WorkspaceSync, Map::new(), now).await?;
                    enlace_store::matches::set_mark(tx, SYNC_MARK, now, None).await?;
                    Ok::<_, AppError>(())
                })
            })
            .await?;
        self.kick_relay();
        Ok(true)
    }

    /// Every meeting, the latest first, with its count of agreements.
    pub async fn meetings(&self, actor: &Actor) -> Result<Vec<MeetingView>, AppError> {
        may_read(actor)?;
        let (meetings, counts) = tokio::try_join!(
            enlace_store::network::meetings(self.db()),
            enlace_store::network::agreement_counts(self.db())
        )?;
        let mut out = Vec::with_capacity(meetings.len());
        for m in meetings {
            let (all, open) =
                counts.iter().find(|c| c.0 == m.id).map(|c| (c.1 as usize, c.2 as usize)).unwrap_or((0, 0));
            out.push(MeetingView {
                id: m.id,
                data: m.data,
                agreements: all,
                pending: open,
                created_at: m.created_at,
                updated_at: m.updated_at,
            });
        }
        Ok(out)
    }

    /// One meeting and its agreements.
    pub async fn meeting(&self, actor: &Actor, id: Uuid) -> Result<MeetingDetail, AppError> {
        may_read(actor)?;
        let m = enlace_store::network::meeting(self.db(), id).await?.ok_or(AppError::NotFound("meeting"))?;
        let rows = enlace_store::network::agreements_of(self.db(), id).await?;
        let today = today();
        let agreements: Vec<AgreementView> =
            rows.into_iter().map(|a| agreement_view(a, meeting_ref(&m), today)).collect();
        let pending = agreements.iter().filter(|a| a.data.status.is_pending()).count();
        Ok(MeetingDetail {
            meeting: MeetingView {
                id: m.id,
                data: m.data,
                agreements: agreements.len(),
                pending,
                created_at: m.created_at,
                updated_at: m.updated_at,
            },
            agreements,
        })
    }

    /// Records a meeting (Technical Secretariat, liaison officers).
    pub async fn create_meeting(&self, actor: &Actor, data: MeetingData) -> Result<MeetingView, AppError> {
        self.guard(actor, access::require_role(actor, RECORDERS)).await?;
        data.validate().into_result()?;
        let now = enlace_store::now();
        let row = MeetingRow { id: Uuid::now_v7(), data, created_at: now, updated_at: now };
        let (actor_w, r) = (actor.clone(), row.clone());
        self.db()
            .write(move |tx| {
                let (actor, r) = (actor_w.clone(), r.clone());
                Box::pin(async move {
                    enlace_store::network::insert_meeting(tx, &r).await?;
                    let detail = serde_json::json!({"starts_on": r.data.starts_on, "place": r.data.place});
                    audit(
                        tx,
                        event(Some(&actor), "network.meeting", "meeting", Some(r.id.to_string()), detail),
                    )
                    .await
                })
            })
            .await?;
        Ok(MeetingView {
            id: row.id,
            data: row.data,
            agreements: 0,
            pending: 0,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }

    /// Records an agreement of a meeting, numbered as in its report (Technical Secretariat,
    /// liaison officers). A number the meeting already has is refused.
    pub async fn create_agreement(
        &self,
        actor: &Actor,
        meeting: Uuid,
        data: AgreementData,
    ) -> Result<AgreementView, AppError> {
        self.guard(actor, access::require_role(actor, RECORDERS)).await?;
        let peers = self.keeper().await?;
        let now = enlace_store::now();
        let (actor_w, peers_w) = (actor.clone(), peers.clone());
        let (row, m) = self
            .db()
            .write(move |tx| {
                let (actor, data, peers) = (actor_w.clone(), data.clone(), peers_w.clone());
                Box::pin(async move {
                    let m = enlace_store::network::meeting_tx(tx, meeting)
                        .await?
                        .ok_or(AppError::NotFound("meeting"))?;
                    data.validate(&m.data).into_result()?;
                    let row = AgreementRow {
                        id: Uuid::now_v7(),
                        meeting_id: meeting,
                        version: 1,
                        data,
                        notes: Vec::new(),
                        created_at: now,
                        updated_at: now,
                    };
                    if !enlace_store::network::insert_agreement(tx, &row).await? {
                        return Err(AppError::Conflict(format!(
                            "this meeting already has an agreement number {}",
                            row.data.number
                        )));
                    }
                    publish(tx, &peers, &agreement_record(&m, &row), now).await?;
                    let detail = serde_json::json!({"meeting": meeting, "number": row.data.number,
                        "status": row.data.status, "due_on": row.data.due_on});
                    audit(
                        tx,
                        event(
                            Some(&actor),
                            "network.agreement",
                            "agreement",
                            Some(row.id.to_string()),
                            detail,
                        ),
                    )
                    .await?;
                    Ok((row, m))
                })
            })
            .await?;
        self.published(&peers);
        Ok(agreement_view(row, meeting_ref(&m), today()))
    }

    /// Adds a follow-up note to an agreement, moving its status when the note says so (the
    /// Technical Secretariat, or a liaison officer of a state the agreement names).
    pub async fn add_follow_up(
        &self,
        actor: &Actor,
        id: Uuid,
        note: FollowUpData,
    ) -> Result<AgreementView, AppError> {
        self.guard(actor, access::require_role(actor, RECORDERS)).await?;
        let peers = self.keeper().await?;
        let now = enlace_store::now();
        let (actor_w, peers_w) = (actor.clone(), peers.clone());
        let r = self
            .db()
            .write(move |tx| {
                let (actor, note, peers) = (actor_w.clone(), note.clone(), peers_w.clone());
                Box::pin(async move {
                    let Some(mut a) = enlace_store::network::agreement_tx(tx, id).await? else {
                        return Err(AppError::NotFound("agreement"));
                    };
                    let state = actor.user.state;
                    if actor.user.role == Role::LiaisonOfficer && !a.data.names(state) {
                        return Err(AppError::Forbidden(format!(
                            "agreement {} does not name {state} as responsible: its notes come from the states \
                             it names and the Technical Secretariat",
                            a.data.number
                        )));
                    }
                    let m = enlace_store::network::meeting_tx(tx, a.meeting_id)
                        .await?
                        .ok_or(AppError::NotFound("meeting"))?;
                    let from = a.data.status;
                    if let Some(s) = note.status {
                        a.data.status = s;
                    }
                    a.notes.push(FollowUp {
                        at: now,
                        author: actor.user.display_name.clone(),
                        state: (actor.user.role == Role::LiaisonOfficer).then_some(state),
                        data: note,
                    });
                    a.updated_at = now;
                    let version = a.version;
                    if !enlace_store::network::update_agreement(tx, &a, version).await? {
                        return Err(AppError::Conflict("the agreement changed meanwhile; try again".into()));
                    }
                    a.version = version + 1;
                    publish(tx, &peers, &agreement_record(&m, &a), now).await?;
                    let detail = serde_json::json!({"number": a.data.number, "from": from, "to": a.data.status});
                    audit(tx, event(Some(&actor), "network.follow_up", "agreement", Some(id.to_string()), detail))
                        .await?;
                    Ok((a, m))
                })
            })
            .await;
        let (a, m) = self.guard(actor, r).await?;
        self.published(&peers);
        Ok(agreement_view(a, meeting_ref(&m), today()))
    }

    /// Every agreement still to be acted on, under each party it names (a state, or a body),
    /// overdue ones first, then by due date. States come first, by code; then bodies.
    pub async fn pending_agreements(&self, actor: &Actor) -> Result<Vec<PartyAgreements>, AppError> {
        may_read(actor)?;
        let (rows, meetings) = tokio::try_join!(
            enlace_store::network::pending_agreements(self.db()),
            enlace_store::network::meetings(self.db())
        )?;
        let today = today();
        let mut by: Vec<PartyAgreements> = Vec::new();
        for a in rows {
            let Some(m) = meetings.iter().find(|m| m.id == a.meeting_id) else { continue };
            let view = agreement_view(a, meeting_ref(m), today);
            for p in &view.data.responsible {
                match by.iter_mut().find(|g| &g.party == p) {
                    Some(g) => g.agreements.push(view.clone()),
                    None => by.push(PartyAgreements { party: p.clone(), agreements: vec![view.clone()] }),
                }
            }
        }
        let key = |p: &Party| match p {
            Party::State(c) => (0, c.as_str().to_string()),
            Party::Body(b) => (1, b.as_str().to_lowercase()),
        };
        by.sort_by_key(|g| key(&g.party));
        for g in &mut by {
            // Stable: within "overdue" and "not yet", the store's order (earliest due first).
            g.agreements.sort_by_key(|a| !a.overdue);
        }
        Ok(by)
    }

    /// Every event, in date order.
    pub async fn events(&self, actor: &Actor) -> Result<Vec<EventView>, AppError> {
        may_read(actor)?;
        let rows = enlace_store::network::events(self.db()).await?;
        Ok(rows.into_iter().map(|e| EventView { id: e.id, data: e.data, created_at: e.created_at }).collect())
    }

    /// Announces an event: a liaison officer in their state's name, the Technical Secretariat
    /// in anyone's.
    pub async fn create_event(&self, actor: &Actor, data: EventData) -> Result<EventView, AppError> {
        self.guard(actor, access::require_role(actor, RECORDERS)).await?;
        if actor.user.role == Role::LiaisonOfficer && data.announced_by != Party::State(actor.user.state) {
            return Err(AppError::invalid(
                "announced_by",
                format!(
                    "a liaison officer announces events in the name of their state ({})",
                    actor.user.state
                ),
            ));
        }
        let peers = self.keeper().await?;
        data.validate().into_result()?;
        let now = enlace_store::now();
        let row = EventRow { id: Uuid::now_v7(), data, created_at: now };
        let (actor_w, r, peers_w) = (actor.clone(), row.clone(), peers.clone());
        self.db()
            .write(move |tx| {
                let (actor, r, peers) = (actor_w.clone(), r.clone(), peers_w.clone());
                Box::pin(async move {
                    enlace_store::network::insert_event(tx, &r).await?;
                    publish(tx, &peers, &event_record(&r), now).await?;
                    let detail =
                        serde_json::json!({"starts_on": r.data.starts_on, "ends_on": r.data.ends_on});
                    audit(tx, event(Some(&actor), "network.event", "event", Some(r.id.to_string()), detail))
                        .await
                })
            })
            .await?;
        self.published(&peers);
        Ok(EventView { id: row.id, data: row.data, created_at: row.created_at })
    }
}

impl App {
    /// Wakes the relay after a change was published to `peers`.
    fn published(&self, peers: &[String]) {
        if !peers.is_empty() {
            self.kick_relay();
        }
    }
}

/// A node receives a record of the hub's workspace (in the inbox's transaction) and keeps it
/// when it is new or newer than its copy.
pub(crate) async fn receive_record(
    tx: &mut Tx,
    v: &VerifiedEnvelope,
    from_hub: bool,
) -> Result<&'static str, AppError> {
    if !from_hub {
        return Err(refused("not-from-the-hub", "the network's workspace comes from its hub only"));
    }
    let r: Record = serde_json::from_value(Value::Object(v.payload.clone()))
        .map_err(|e| refused("bad-record", format!("the workspace record: {e}")))?;
    let bad = |m: String| refused("bad-record", m);
    let meeting = |w: WireMeeting| MeetingRow {
        id: w.id,
        data: w.data,
        created_at: w.created_at,
        updated_at: w.updated_at,
    };
    let kept = match (r.kind.as_str(), r.meeting, r.agreement, r.event) {
        ("meeting", Some(m), None, None) => {
            m.data.validate().into_result().map_err(|e| bad(format!("meeting: {e}")))?;
            enlace_store::network::put_meeting(tx, &meeting(m)).await?
        }
        ("agreement", Some(m), Some(a), None) => {
            if a.meeting_id != m.id {
                return Err(bad("the agreement's meeting is not the one sent with it".into()));
            }
            a.data.validate(&m.data).into_result().map_err(|e| bad(format!("agreement: {e}")))?;
            enlace_store::network::put_meeting(tx, &meeting(m)).await?;
            let row = AgreementRow {
                id: a.id,
                meeting_id: a.meeting_id,
                version: a.version,
                data: a.data,
                notes: a.notes,
                created_at: a.created_at,
                updated_at: a.updated_at,
            };
            enlace_store::network::put_agreement(tx, &row).await?
        }
        ("event", None, None, Some(e)) => {
            e.data.validate().into_result().map_err(|x| bad(format!("event: {x}")))?;
            let row = EventRow { id: e.id, data: e.data, created_at: e.created_at };
            enlace_store::network::put_event(tx, &row).await?
        }
        (kind, ..) => {
            return Err(bad(format!(
                "\"{kind}\" with the wrong parts: a meeting; an agreement and its meeting; an event"
            )));
        }
    };
    Ok(if kept { "applied" } else { "void" })
}

/// The hub answers a node's request for the whole workspace (in the inbox's transaction):
/// every record is queued to it. Returns whether anything was queued.
pub(crate) async fn receive_sync(
    tx: &mut Tx,
    v: &VerifiedEnvelope,
    hub: bool,
    now: DateTime<Utc>,
) -> Result<bool, AppError> {
    if !hub {
        return Err(refused("not-the-hub", "the network's workspace is kept at its hub"));
    }
    if !v.payload.is_empty() && v.payload.keys().any(|k| k != "since") {
        return Err(refused("bad-sync", "a request for the workspace carries nothing"));
    }
    let to = vec![v.header.from.as_str().to_string()];
    let (meetings, agreements, events) = enlace_store::network::everything_tx(tx).await?;
    for m in &meetings {
        publish(tx, &to, &meeting_record(m), now).await?;
    }
    for a in &agreements {
        let Some(m) = meetings.iter().find(|m| m.id == a.meeting_id) else { continue };
        publish(tx, &to, &agreement_record(m, a), now).await?;
    }
    for e in &events {
        publish(tx, &to, &event_record(e), now).await?;
    }
    let detail = json!({"node": v.header.from, "meetings": meetings.len(), "agreements": agreements.len(),
        "events": events.len()});
    audit(tx, event(None, "network.sync", "workspace", Some(v.header.from.as_str().to_string()), detail))
        .await?;
    Ok(!(meetings.is_empty() && agreements.is_empty() && events.is_empty()))
}
