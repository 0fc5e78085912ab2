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
use enlace_domain::network::{
    AgreementData, ContactData, EventData, FollowUp, FollowUpData, GroupData, LibraryFile, LibraryItemData,
    MeetingData, Party, Task, TaskData, TextStatus, Titles,
};
use enlace_domain::role::Role;
use enlace_fed::directory::NodeRole;
use enlace_fed::envelope::MessageType;
use enlace_fed::receive::VerifiedEnvelope;
use enlace_store::Tx;
use enlace_store::network::{AgreementRow, ContactRow, EventRow, GroupRow, LibraryRow, MeetingRow};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::fed::linkage::{hub_of, to_hub};

mod files;
use crate::fed::refused;
use crate::{Actor, App, AppError, access, audit, event};
pub use files::FileAdded;

/// Who records meetings and agreements.
const RECORDERS: &[Role] = &[Role::RegionalAnalyst, Role::LiaisonOfficer];
/// Who keeps a state's entries of the directory (their own state's only).
const DIRECTORY_KEEPERS: &[Role] = &[Role::LiaisonOfficer, Role::CountryAdministrator];
/// The library items a list or a search shows at most (the most recent).
pub const LIBRARY_PAGE: i64 = 200;
/// Everyone who changes anything in the workspace.
const EDITORS: &[Role] = &[Role::RegionalAnalyst, Role::LiaisonOfficer, Role::CountryAdministrator];

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

/// A task of a working group.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TaskView {
    pub id: Uuid,
    #[serde(flatten)]
    pub data: TaskData,
    pub overdue: bool,
    pub updated_at: DateTime<Utc>,
}

/// A working group with its tasks.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GroupView {
    pub id: Uuid,
    pub version: i64,
    #[serde(flatten)]
    pub data: GroupData,
    pub tasks: Vec<TaskView>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn group_view(g: GroupRow, today: NaiveDate) -> GroupView {
    GroupView {
        id: g.id,
        version: g.version,
        data: g.data,
        tasks: g
            .tasks
            .into_iter()
            .map(|t| TaskView {
                id: t.id,
                overdue: t.data.overdue(today),
                data: t.data,
                updated_at: t.updated_at,
            })
            .collect(),
        created_at: g.created_at,
        updated_at: g.updated_at,
    }
}

/// An item of the library.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LibraryView {
    pub id: Uuid,
    pub version: i64,
    #[serde(flatten)]
    pub data: LibraryItemData,
    /// Its files, oldest first.
    pub files: Vec<LibraryFile>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn library_view(l: LibraryRow, files: Vec<LibraryFile>) -> LibraryView {
    LibraryView {
        id: l.id,
        version: l.version,
        data: l.data,
        files,
        created_at: l.created_at,
        updated_at: l.updated_at,
    }
}

/// An entry of the directory.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ContactView {
    pub id: Uuid,
    pub version: i64,
    #[serde(flatten)]
    pub data: ContactData,
    /// A post's contact point: the post's city and consular district (from the posts every
    /// node knows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub post_city: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub post_district: Option<String>,
    pub updated_at: DateTime<Utc>,
}

fn contact_view(c: ContactRow) -> ContactView {
    let seed =
        c.data.post.as_ref().and_then(|p| enlace_domain::post::POSTS.iter().find(|s| s.code == p.as_str()));
    ContactView {
        id: c.id,
        version: c.version,
        data: c.data,
        post_city: seed.map(|s| s.city.to_string()),
        post_district: seed.map(|s| s.district.to_string()),
        updated_at: c.updated_at,
    }
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

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireContact {
    id: Uuid,
    version: i64,
    removed: bool,
    data: ContactData,
    updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireGroup {
    id: Uuid,
    version: i64,
    data: GroupData,
    tasks: Vec<Task>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// What a `workspace_record` carries: a meeting; an agreement with its meeting (so that it
/// can be kept whatever order messages arrive in); an event; a directory entry; or a working
/// group with its tasks.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    meeting: Option<WireMeeting>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    agreement: Option<WireAgreement>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    event: Option<WireEvent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    contact: Option<WireContact>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    group: Option<WireGroup>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    library: Option<WireLibrary>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    file: Option<files::WireFile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    part: Option<files::WirePart>,
}

impl Record {
    /// Whether a node serving `states` may hold this record.
    fn for_states(&self, states: &[String]) -> bool {
        self.library.as_ref().is_none_or(|l| library_for_states(&l.data, states))
    }
}

/// Whether a node serving `states` may hold a library item (and its files).
fn library_for_states(item: &LibraryItemData, states: &[String]) -> bool {
    item.visible_to.is_empty()
        || states.iter().any(|s| {
            item.visible_to.iter().any(|v| v.as_str() == s) || item.state.is_some_and(|o| o.as_str() == s)
        })
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireLibrary {
    id: Uuid,
    version: i64,
    data: LibraryItemData,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
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
    Record { kind: "meeting".into(), meeting: Some(wire_meeting(m)), ..Default::default() }
}

fn agreement_record(m: &MeetingRow, a: &AgreementRow) -> Record {
    Record {
        kind: "agreement".into(),
        meeting: Some(wire_meeting(m)),
        agreement: Some(wire_agreement(a)),
        ..Default::default()
    }
}

fn event_record(e: &EventRow) -> Record {
    Record {
        kind: "event".into(),
        event: Some(WireEvent { id: e.id, data: e.data.clone(), created_at: e.created_at }),
        ..Default::default()
    }
}

fn contact_record(c: &ContactRow) -> Record {
    Record {
        kind: "contact".into(),
        contact: Some(WireContact {
            id: c.id,
            version: c.version,
            removed: c.removed,
            data: c.data.clone(),
            updated_at: c.updated_at,
        }),
        ..Default::default()
    }
}

fn group_record(g: &GroupRow) -> Record {
    Record {
        kind: "group".into(),
        group: Some(WireGroup {
            id: g.id,
            version: g.version,
            data: g.data.clone(),
            tasks: g.tasks.clone(),
            created_at: g.created_at,
            updated_at: g.updated_at,
        }),
        ..Default::default()
    }
}

fn library_record(l: &LibraryRow) -> Record {
    Record {
        kind: "library".into(),
        library: Some(WireLibrary {
            id: l.id,
            version: l.version,
            data: l.data.clone(),
            created_at: l.created_at,
            updated_at: l.updated_at,
        }),
        ..Default::default()
    }
}

/// An item's search terms: from its metadata and the text of its files that was read.
fn library_terms(item: &LibraryItemData, files: &[(LibraryFile, String)]) -> Vec<String> {
    let mut text = item.searchable_text();
    for (f, t) in files {
        if f.text_status == TextStatus::Indexed {
            text.push(' ');
            text.push_str(t);
        }
    }
    enlace_domain::network::search_terms(&text).into_iter().collect()
}

/// Keeps a library item with its search terms (its files' text among them).
async fn keep_library_item(tx: &mut Tx, l: &LibraryRow) -> Result<bool, AppError> {
    let files = enlace_store::network::library_files_tx(tx, l.id).await?;
    Ok(enlace_store::network::put_library_item(tx, l, &library_terms(&l.data, &files)).await?)
}

/// Makes an item's search terms again (a file was added).
async fn keep_terms(
    tx: &mut Tx,
    item: &LibraryItemData,
    id: Uuid,
    files: &[(LibraryFile, String)],
) -> Result<(), AppError> {
    Ok(enlace_store::network::set_library_terms(tx, id, &library_terms(item, files)).await?)
}

/// Another node of the network: its id and the states it serves.
#[derive(Debug, Clone)]
pub(crate) struct Peer {
    pub id: String,
    pub states: Vec<String>,
}

/// Queues `r` to each of `peers` that may hold it (a library item visible to some states goes
/// only to the nodes serving them), in the caller's transaction.
async fn publish(tx: &mut Tx, peers: &[Peer], r: &Record, now: DateTime<Utc>) -> Result<(), AppError> {
    let to: Vec<Peer> = peers.iter().filter(|peer| r.for_states(&peer.states)).cloned().collect();
    publish_to(tx, &to, r, now).await
}

/// Queues `r` to each of `peers`, in the caller's transaction.
async fn publish_to(tx: &mut Tx, peers: &[Peer], r: &Record, now: DateTime<Utc>) -> Result<(), AppError> {
    let p = payload(r);
    for peer in peers {
        to_hub(tx, &peer.id, MessageType::WorkspaceRecord, p.clone(), now).await?;
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
    async fn keeper(&self) -> Result<Vec<Peer>, AppError> {
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
            .map(|n| Peer {
                id: n.id.to_string(),
                states: n.states.iter().map(|s| s.as_str().to_string()).collect(),
            })
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

    /// The network directory's entries (people, not the federation's node directory), by
    /// state; of one state when given.
    pub async fn contacts(
        &self,
        actor: &Actor,
        state: Option<enlace_domain::country::CountryCode>,
    ) -> Result<Vec<ContactView>, AppError> {
        may_read(actor)?;
        let rows = enlace_store::network::contacts(self.db(), state.as_ref().map(|s| s.as_str())).await?;
        Ok(rows.into_iter().map(contact_view).collect())
    }

    /// The library items the user's state sees (the Secretariat sees all), the most recent
    /// first, at most [`LIBRARY_PAGE`]; with `q`, those whose titles, summary, topic, audience and documents' text hold every word of it
    /// (accents, capitals and word endings aside).
    pub async fn library(&self, actor: &Actor, q: Option<&str>) -> Result<Vec<LibraryView>, AppError> {
        may_read(actor)?;
        let words = q.map(enlace_domain::network::query_terms).filter(|w| !w.is_empty());
        // Items the user's state does not see are skipped, not counted: read on until a page
        // is full (or the library ends; at most twenty pages are read).
        let mut rows = Vec::new();
        let mut offset = 0;
        for _ in 0..20 {
            let page =
                enlace_store::network::library(self.db(), words.as_deref(), LIBRARY_PAGE, offset).await?;
            let n = page.len() as i64;
            rows.extend(page.into_iter().filter(|r| files::sees(actor, &r.data)));
            offset += n;
            if n < LIBRARY_PAGE || rows.len() as i64 >= LIBRARY_PAGE {
                break;
            }
        }
        rows.truncate(LIBRARY_PAGE as usize);
        self.library_views(actor, rows).await
    }

    /// The library items that came from a meeting or a working group (its documents), those
    /// the user's state sees, the most recent first.
    pub async fn library_of(
        &self,
        actor: &Actor,
        link: enlace_store::network::LibraryLink,
    ) -> Result<Vec<LibraryView>, AppError> {
        may_read(actor)?;
        let rows = enlace_store::network::library_linked(self.db(), link, LIBRARY_PAGE).await?;
        self.library_views(actor, rows).await
    }

    /// The items of `rows` the actor sees, with their files.
    async fn library_views(
        &self,
        actor: &Actor,
        rows: Vec<LibraryRow>,
    ) -> Result<Vec<LibraryView>, AppError> {
        let rows: Vec<LibraryRow> = rows.into_iter().filter(|r| files::sees(actor, &r.data)).collect();
        let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        let mut held = enlace_store::network::library_files_of(self.db(), &ids).await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let (mine, rest) = std::mem::take(&mut held).into_iter().partition(|f| f.item == r.id);
                held = rest;
                library_view(r, mine)
            })
            .collect())
    }

    /// The working groups, the newest first.
    pub async fn groups(&self, actor: &Actor) -> Result<Vec<GroupView>, AppError> {
        may_read(actor)?;
        let today = today();
        Ok(enlace_store::network::groups(self.db())
            .await?
            .into_iter()
            .map(|g| group_view(g, today))
            .collect())
    }

    /// One working group and its tasks.
    pub async fn group(&self, actor: &Actor, id: Uuid) -> Result<GroupView, AppError> {
        may_read(actor)?;
        let g =
            enlace_store::network::group(self.db(), id).await?.ok_or(AppError::NotFound("working group"))?;
        Ok(group_view(g, today()))
    }

    /// Makes a change to the workspace. Where the workspace is kept (a node outside any
    /// network, or the hub) it is recorded at once and published to the other nodes; on
    /// another node of a network it is checked against the copy held here, then sent to the
    /// hub (`workspace_edit`), which records and publishes it back.
    pub async fn edit_workspace(&self, actor: &Actor, edit: Edit) -> Result<Recorded, AppError> {
        self.guard(actor, access::require_role(actor, EDITORS)).await?;
        let now = enlace_store::now();
        match self.keeper().await {
            Ok(peers) => {
                let (actor_w, peers_w) = (actor.clone(), peers.clone());
                let r = self
                    .db()
                    .write(move |tx| {
                        let (actor, peers, edit) = (actor_w.clone(), peers_w.clone(), edit.clone());
                        Box::pin(async move { apply_edit(tx, &actor, &peers, edit, now).await })
                    })
                    .await;
                let r = self.guard(actor, r).await?;
                self.published(&peers);
                Ok(r)
            }
            Err(AppError::Conflict(_)) => self.send_edit(actor, edit, now).await,
            Err(e) => Err(e),
        }
    }

    /// Checks an edit against this node's copy and sends it to the hub.
    async fn send_edit(&self, actor: &Actor, edit: Edit, now: DateTime<Utc>) -> Result<Recorded, AppError> {
        let (dir, _) = self.my_entry(now).await?;
        let hub = hub_of(&dir)?;
        let actor_w = actor.clone();
        let r = self
            .db()
            .write(move |tx| {
                let (actor, edit, hub) = (actor_w.clone(), edit.clone(), hub.clone());
                Box::pin(async move {
                    // The same checks the hub makes, on the copy held here, so that what is
                    // sent is what the hub will take.
                    check_edit(tx, &actor, &edit).await?;
                    let author = author_of(&actor);
                    let mut p = match serde_json::to_value(&edit) {
                        Ok(Value::Object(m)) => m,
                        _ => Map::new(),
                    };
                    p.insert("author".into(), author);
                    let id = to_hub(tx, &hub, MessageType::WorkspaceEdit, p, now).await?;
                    let detail = json!({"op": edit.op(), "hub": hub, "message": id});
                    audit(tx, event(Some(&actor), "network.edit_sent", "workspace", None, detail)).await?;
                    Ok(Recorded::SentToHub { message: id })
                })
            })
            .await;
        let r = self.guard(actor, r).await?;
        self.kick_relay();
        Ok(r)
    }

    /// Records a meeting where the workspace is kept (the demo data).
    pub async fn create_meeting(&self, actor: &Actor, data: MeetingData) -> Result<MeetingView, AppError> {
        match self.edit_workspace(actor, Edit::Meeting { data }).await? {
            Recorded::Meeting(m) => Ok(m),
            _ => Err(AppError::Conflict("the network's workspace is kept at the hub".into())),
        }
    }

    /// Records an agreement of a meeting where the workspace is kept (the demo data).
    pub async fn create_agreement(
        &self,
        actor: &Actor,
        meeting: Uuid,
        data: AgreementData,
    ) -> Result<AgreementView, AppError> {
        match self.edit_workspace(actor, Edit::Agreement { meeting, data }).await? {
            Recorded::Agreement(a) => Ok(a),
            _ => Err(AppError::Conflict("the network's workspace is kept at the hub".into())),
        }
    }

    /// Announces an event where the workspace is kept (the demo data).
    pub async fn create_event(&self, actor: &Actor, data: EventData) -> Result<EventView, AppError> {
        match self.edit_workspace(actor, Edit::Event { data }).await? {
            Recorded::Event(e) => Ok(e),
            _ => Err(AppError::Conflict("the network's workspace is kept at the hub".into())),
        }
    }
}

/// A change to the workspace.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Edit {
    Meeting {
        data: MeetingData,
    },
    Agreement {
        meeting: Uuid,
        data: AgreementData,
    },
    Note {
        agreement: Uuid,
        data: FollowUpData,
    },
    Event {
        data: EventData,
    },
    /// A new directory entry (`id` none) or a new version of one.
    Contact {
        #[serde(default)]
        id: Option<Uuid>,
        data: ContactData,
    },
    ContactRemove {
        id: Uuid,
    },
    /// A new working group (`id` none) or a new version of one.
    Group {
        #[serde(default)]
        id: Option<Uuid>,
        data: GroupData,
    },
    /// A new task of a group (`id` none) or a new version of one.
    Task {
        group: Uuid,
        #[serde(default)]
        id: Option<Uuid>,
        data: TaskData,
    },
    /// A new library item (`id` none) or a new version of one.
    Library {
        #[serde(default)]
        id: Option<Uuid>,
        data: LibraryItemData,
    },
}

impl Edit {
    fn op(&self) -> &'static str {
        match self {
            Edit::Meeting { .. } => "meeting",
            Edit::Agreement { .. } => "agreement",
            Edit::Note { .. } => "note",
            Edit::Event { .. } => "event",
            Edit::Contact { .. } => "contact",
            Edit::ContactRemove { .. } => "contact_remove",
            Edit::Group { .. } => "group",
            Edit::Task { .. } => "task",
            Edit::Library { .. } => "library",
        }
    }
}

/// What became of a change: recorded here, or sent to the hub (it comes back with the hub's
/// next publication).
#[derive(Debug, Clone)]
pub enum Recorded {
    Meeting(MeetingView),
    Agreement(AgreementView),
    Event(EventView),
    Contact(ContactView),
    Group(GroupView),
    Library(LibraryView),
    Removed,
    SentToHub { message: Uuid },
}

/// Who may make `edit`, and whether it holds, against the workspace as held in `tx`: a note
/// from a liaison officer only on an agreement naming their state; an event from a liaison
/// officer only in their state's name; the data's own rules; an agreement's meeting must exist.
/// Returns the meeting (and agreement), or the directory entry, the edit is about.
async fn check_edit(tx: &mut Tx, actor: &Actor, edit: &Edit) -> Result<Subject, AppError> {
    let liaison = actor.user.role == Role::LiaisonOfficer;
    let state = actor.user.state;
    match edit {
        Edit::Contact { .. } | Edit::ContactRemove { .. } => access::require_role(actor, DIRECTORY_KEEPERS)?,
        _ => access::require_role(actor, RECORDERS)?,
    }
    // A liaison officer changes a group, or its tasks, only as a member state.
    let member = |g: &GroupRow| {
        if liaison && !g.data.has_member(state) {
            Err(AppError::Forbidden(format!("{state} is not a member of this working group")))
        } else {
            Ok(())
        }
    };
    let own = |s: enlace_domain::country::CountryCode| {
        if s == state {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!(
                "each state keeps its own entries of the directory: this one is {s}'s"
            )))
        }
    };
    match edit {
        Edit::Contact { id, data } => {
            own(data.state)?;
            data.validate().into_result()?;
            let held = match id {
                None => None,
                Some(id) => {
                    let c = enlace_store::network::contact_tx(tx, *id)
                        .await?
                        .filter(|c| !c.removed)
                        .ok_or(AppError::NotFound("directory entry"))?;
                    own(c.data.state)?;
                    Some(c)
                }
            };
            Ok((None, None, held, None, None))
        }
        Edit::ContactRemove { id } => {
            let c = enlace_store::network::contact_tx(tx, *id)
                .await?
                .filter(|c| !c.removed)
                .ok_or(AppError::NotFound("directory entry"))?;
            own(c.data.state)?;
            Ok((None, None, Some(c), None, None))
        }
        Edit::Meeting { data } => {
            data.validate().into_result()?;
            Ok((None, None, None, None, None))
        }
        Edit::Library { id, data } => {
            if liaison && data.state != Some(state) {
                return Err(AppError::invalid(
                    "state",
                    format!("a liaison officer shares library items in the name of their state ({state})"),
                ));
            }
            data.validate(enlace_store::now().date_naive()).into_result()?;
            let held = match id {
                None => None,
                Some(id) => {
                    let l = enlace_store::network::library_item_tx(tx, *id)
                        .await?
                        .ok_or(AppError::NotFound("library item"))?;
                    if liaison && l.data.state != Some(state) {
                        return Err(AppError::Forbidden(format!("this item is not {state}'s to change")));
                    }
                    Some(l)
                }
            };
            Ok((None, None, None, None, held))
        }
        Edit::Group { id, data } => {
            data.validate().into_result()?;
            let held = match id {
                None => None,
                Some(id) => {
                    let g = enlace_store::network::group_tx(tx, *id)
                        .await?
                        .ok_or(AppError::NotFound("working group"))?;
                    member(&g)?;
                    Some(g)
                }
            };
            Ok((None, None, None, held, None))
        }
        Edit::Task { group, data, id } => {
            data.validate().into_result()?;
            let g = enlace_store::network::group_tx(tx, *group)
                .await?
                .ok_or(AppError::NotFound("working group"))?;
            member(&g)?;
            if let Some(id) = id
                && !g.tasks.iter().any(|t| t.id == *id)
            {
                return Err(AppError::NotFound("task"));
            }
            Ok((None, None, None, Some(g), None))
        }
        Edit::Agreement { meeting, data } => {
            let m = enlace_store::network::meeting_tx(tx, *meeting)
                .await?
                .ok_or(AppError::NotFound("meeting"))?;
            data.validate(&m.data).into_result()?;
            Ok((Some(m), None, None, None, None))
        }
        Edit::Note { agreement, .. } => {
            let a = enlace_store::network::agreement_tx(tx, *agreement)
                .await?
                .ok_or(AppError::NotFound("agreement"))?;
            if liaison && !a.data.names(state) {
                return Err(AppError::Forbidden(format!(
                    "agreement {} does not name {state} as responsible: its notes come from the states it names \
                     and the Technical Secretariat",
                    a.data.number
                )));
            }
            let m = enlace_store::network::meeting_tx(tx, a.meeting_id)
                .await?
                .ok_or(AppError::NotFound("meeting"))?;
            Ok((Some(m), Some(a), None, None, None))
        }
        Edit::Event { data } => {
            if liaison && data.announced_by != Party::State(state) {
                return Err(AppError::invalid(
                    "announced_by",
                    format!("a liaison officer announces events in the name of their state ({state})"),
                ));
            }
            data.validate().into_result()?;
            Ok((None, None, None, None, None))
        }
    }
}

/// What an edit is about, as held.
type Subject =
    (Option<MeetingRow>, Option<AgreementRow>, Option<ContactRow>, Option<GroupRow>, Option<LibraryRow>);

/// Records `edit` where the workspace is kept, publishes it to `peers` and audits it, all in
/// the caller's transaction.
async fn apply_edit(
    tx: &mut Tx,
    actor: &Actor,
    peers: &[Peer],
    edit: Edit,
    now: DateTime<Utc>,
) -> Result<Recorded, AppError> {
    let (meeting, agreement, contact, group, library) = check_edit(tx, actor, &edit).await?;
    let today = now.date_naive();
    match edit {
        Edit::Meeting { data } => {
            let r = MeetingRow { id: Uuid::now_v7(), data, created_at: now, updated_at: now };
            enlace_store::network::insert_meeting(tx, &r).await?;
            publish(tx, peers, &meeting_record(&r), now).await?;
            let detail = json!({"starts_on": r.data.starts_on, "place": r.data.place});
            audit(tx, event(Some(actor), "network.meeting", "meeting", Some(r.id.to_string()), detail))
                .await?;
            Ok(Recorded::Meeting(MeetingView {
                id: r.id,
                data: r.data,
                agreements: 0,
                pending: 0,
                created_at: r.created_at,
                updated_at: r.updated_at,
            }))
        }
        Edit::Agreement { meeting: id, data } => {
            let m = meeting.ok_or(AppError::NotFound("meeting"))?;
            let row = AgreementRow {
                id: Uuid::now_v7(),
                meeting_id: id,
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
            publish(tx, peers, &agreement_record(&m, &row), now).await?;
            let detail = json!({"meeting": id, "number": row.data.number, "status": row.data.status,
                "due_on": row.data.due_on});
            audit(tx, event(Some(actor), "network.agreement", "agreement", Some(row.id.to_string()), detail))
                .await?;
            Ok(Recorded::Agreement(agreement_view(row, meeting_ref(&m), today)))
        }
        Edit::Note { agreement: id, data: note } => {
            let (m, mut a) = match (meeting, agreement) {
                (Some(m), Some(a)) => (m, a),
                _ => return Err(AppError::NotFound("agreement")),
            };
            let from = a.data.status;
            if let Some(s) = note.status {
                a.data.status = s;
            }
            a.notes.push(FollowUp {
                at: now,
                author: actor.user.display_name.clone(),
                state: (actor.user.role == Role::LiaisonOfficer).then_some(actor.user.state),
                data: note,
            });
            a.updated_at = now;
            let version = a.version;
            if !enlace_store::network::update_agreement(tx, &a, version).await? {
                return Err(AppError::Conflict("the agreement changed meanwhile; try again".into()));
            }
            a.version = version + 1;
            publish(tx, peers, &agreement_record(&m, &a), now).await?;
            let detail = json!({"number": a.data.number, "from": from, "to": a.data.status});
            audit(tx, event(Some(actor), "network.follow_up", "agreement", Some(id.to_string()), detail))
                .await?;
            Ok(Recorded::Agreement(agreement_view(a, meeting_ref(&m), today)))
        }
        Edit::Event { data } => {
            let r = EventRow { id: Uuid::now_v7(), data, created_at: now };
            enlace_store::network::insert_event(tx, &r).await?;
            publish(tx, peers, &event_record(&r), now).await?;
            let detail = json!({"starts_on": r.data.starts_on, "ends_on": r.data.ends_on});
            audit(tx, event(Some(actor), "network.event", "event", Some(r.id.to_string()), detail)).await?;
            Ok(Recorded::Event(EventView { id: r.id, data: r.data, created_at: r.created_at }))
        }
        Edit::Contact { data, .. } => {
            let (id, version) = contact.map(|c| (c.id, c.version + 1)).unwrap_or((Uuid::now_v7(), 1));
            let r = ContactRow { id, version, removed: false, data, updated_at: now };
            enlace_store::network::put_contact(tx, &r).await?;
            publish(tx, peers, &contact_record(&r), now).await?;
            let detail = json!({"state": r.data.state, "function": r.data.function, "version": version});
            audit(tx, event(Some(actor), "network.contact", "contact", Some(id.to_string()), detail)).await?;
            Ok(Recorded::Contact(contact_view(r)))
        }
        Edit::Group { data, .. } => {
            let r = match group {
                Some(mut g) => {
                    g.version += 1;
                    g.data = data;
                    g.updated_at = now;
                    g
                }
                None => GroupRow {
                    id: Uuid::now_v7(),
                    version: 1,
                    data,
                    tasks: Vec::new(),
                    created_at: now,
                    updated_at: now,
                },
            };
            enlace_store::network::put_group(tx, &r).await?;
            publish(tx, peers, &group_record(&r), now).await?;
            let detail = json!({"version": r.version, "members": r.data.members.len()});
            audit(tx, event(Some(actor), "network.group", "group", Some(r.id.to_string()), detail)).await?;
            Ok(Recorded::Group(group_view(r, today)))
        }
        Edit::Task { id, data, .. } => {
            let mut g = group.ok_or(AppError::NotFound("working group"))?;
            let task_id = match id {
                Some(id) => {
                    if let Some(t) = g.tasks.iter_mut().find(|t| t.id == id) {
                        t.data = data;
                        t.updated_at = now;
                    }
                    id
                }
                None => {
                    let id = Uuid::now_v7();
                    g.tasks.push(Task { id, data, updated_at: now });
                    id
                }
            };
            g.version += 1;
            g.updated_at = now;
            enlace_store::network::put_group(tx, &g).await?;
            publish(tx, peers, &group_record(&g), now).await?;
            let detail = json!({"group": g.id, "task": task_id, "version": g.version});
            audit(tx, event(Some(actor), "network.task", "group", Some(g.id.to_string()), detail)).await?;
            Ok(Recorded::Group(group_view(g, today)))
        }
        Edit::Library { data, .. } => {
            let before = library.as_ref().map(|l| l.data.clone());
            let r = match library {
                Some(mut l) => {
                    l.version += 1;
                    l.data = data;
                    l.updated_at = now;
                    l
                }
                None => LibraryRow { id: Uuid::now_v7(), version: 1, data, created_at: now, updated_at: now },
            };
            keep_library_item(tx, &r).await?;
            publish(tx, peers, &library_record(&r), now).await?;
            // Nodes that see the item only from this version on get its files too.
            let newly: Vec<Peer> = peers
                .iter()
                .filter(|p| before.as_ref().is_some_and(|b| !library_for_states(b, &p.states)))
                .cloned()
                .collect();
            let files = enlace_store::network::library_files_tx(tx, r.id).await?;
            for (f, text) in &files {
                let parts = enlace_store::network::library_file_parts_tx(tx, f.id).await?;
                files::publish_file(tx, &newly, &r.data, f, text, &parts, now).await?;
            }
            let detail = json!({"version": r.version, "kind": r.data.kind, "visible_to": r.data.visible_to});
            audit(tx, event(Some(actor), "network.library", "library", Some(r.id.to_string()), detail))
                .await?;
            Ok(Recorded::Library(library_view(r, files.into_iter().map(|(f, _)| f).collect())))
        }
        Edit::ContactRemove { .. } => {
            let mut r = contact.ok_or(AppError::NotFound("directory entry"))?;
            r.version += 1;
            r.removed = true;
            r.updated_at = now;
            enlace_store::network::put_contact(tx, &r).await?;
            publish(tx, peers, &contact_record(&r), now).await?;
            let detail = json!({"state": r.data.state, "function": r.data.function});
            audit(
                tx,
                event(Some(actor), "network.contact_removed", "contact", Some(r.id.to_string()), detail),
            )
            .await?;
            Ok(Recorded::Removed)
        }
    }
}

/// The hub receives a change a node's user made (in the inbox's transaction): the author is
/// one of the sender's users, of a state the sender serves; the same rules as at the hub
/// apply; the change is recorded and published to every node (the sender included).
pub(crate) async fn receive_edit(
    tx: &mut Tx,
    v: &VerifiedEnvelope,
    sender_states: &[String],
    hub: bool,
    peers: &[Peer],
    now: DateTime<Utc>,
) -> Result<bool, AppError> {
    if !hub {
        return Err(refused("not-the-hub", "the network's workspace is kept at its hub"));
    }
    let mut p = v.payload.clone();
    let author: Author = serde_json::from_value(p.remove("author").unwrap_or(Value::Null))
        .map_err(|e| refused("bad-edit", format!("author: {e}")))?;
    if !sender_states.iter().any(|s| s == author.state.as_str()) {
        return Err(refused(
            "not-your-state",
            format!("{} does not serve {}: its users speak for its own states", v.header.from, author.state),
        ));
    }
    let node = v.header.from.as_str();
    let actor = remote_actor(node, &author, now)?;
    if p.get("op").and_then(Value::as_str) == Some("file_part") {
        files::receive_upload_part(tx, node, &author, &actor, p, now).await.map_err(to_refusal)?;
        return Ok(false);
    }
    let edit: Edit = serde_json::from_value(Value::Object(p))
        .map_err(|e| refused("bad-edit", format!("the edit: {e}")))?;
    apply_edit(tx, &actor, peers, edit, now).await.map_err(to_refusal)?;
    Ok(!peers.is_empty())
}

/// How a change sent to the hub names its author.
fn author_of(actor: &Actor) -> Value {
    json!({"name": actor.user.display_name, "role": actor.user.role, "state": actor.user.state})
}

/// A node's user as the author of a change sent to the hub.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Author {
    name: String,
    role: Role,
    #[serde(deserialize_with = "country")]
    state: enlace_domain::country::CountryCode,
}

fn country<'de, D: serde::Deserializer<'de>>(d: D) -> Result<enlace_domain::country::CountryCode, D::Error> {
    let s = String::deserialize(d)?;
    enlace_domain::country::CountryCode::parse(&s).map_err(serde::de::Error::custom)
}

/// The author of a change a node sent, as an actor of the hub (no account here: a name, a
/// role and a state, the username `<node>.<role>`).
fn remote_actor(node: &str, author: &Author, now: DateTime<Utc>) -> Result<Actor, AppError> {
    let username = enlace_domain::user::Username::parse(&format!("{node}.{}", author.role.as_str()))
        .map_err(|e| refused("bad-edit", e))?;
    Ok(Actor {
        user: enlace_domain::user::User {
            id: enlace_domain::ids::UserId(Uuid::nil()),
            username,
            display_name: author.name.chars().take(120).collect(),
            role: author.role,
            state: author.state,
            post: None,
            disabled: false,
            sensitive_access: false,
            kind: enlace_domain::user::UserKind::Person,
            mfa_enabled: false,
            locale: None,
            created_at: now,
        },
        source: Some(format!("node {node}")),
    })
}

/// A rule the hub's copy breaks becomes the sender's permanent refusal.
fn to_refusal(e: AppError) -> AppError {
    match e {
        AppError::Federation { .. } | AppError::Store(_) | AppError::Unavailable(_) => e,
        other => refused("edit-refused", other.to_string()),
    }
}

impl App {
    /// Wakes the relay after a change was published to `peers`.
    fn published(&self, peers: &[Peer]) {
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
    if matches!(r.kind.as_str(), "file" | "part") {
        return files::receive(tx, r).await;
    }
    if r.file.is_some() || r.part.is_some() {
        return Err(bad(format!("a {} carries no file", r.kind)));
    }
    let meeting = |w: WireMeeting| MeetingRow {
        id: w.id,
        data: w.data,
        created_at: w.created_at,
        updated_at: w.updated_at,
    };
    if r.kind == "contact" {
        let c = match (r.contact, r.meeting, r.agreement, r.event, r.group) {
            (Some(c), None, None, None, None) => c,
            _ => return Err(bad("a directory entry comes alone".into())),
        };
        c.data.validate().into_result().map_err(|e| bad(format!("contact: {e}")))?;
        let row = ContactRow {
            id: c.id,
            version: c.version,
            removed: c.removed,
            data: c.data,
            updated_at: c.updated_at,
        };
        let kept = enlace_store::network::put_contact(tx, &row).await?;
        return Ok(if kept { "applied" } else { "void" });
    }
    if r.kind == "library" {
        let l = match (r.library, r.group, r.contact, r.meeting, r.agreement, r.event) {
            (Some(l), None, None, None, None, None) => l,
            _ => return Err(bad("a library item comes alone".into())),
        };
        l.data
            .validate(Utc::now().date_naive() + chrono::Days::new(1))
            .into_result()
            .map_err(|e| bad(format!("library: {e}")))?;
        let row = LibraryRow {
            id: l.id,
            version: l.version,
            data: l.data,
            created_at: l.created_at,
            updated_at: l.updated_at,
        };
        let kept = keep_library_item(tx, &row).await?;
        return Ok(if kept { "applied" } else { "void" });
    }
    if r.library.is_some() {
        return Err(bad(format!("a {} carries no library item", r.kind)));
    }
    if r.kind == "group" {
        let g = match (r.group, r.contact, r.meeting, r.agreement, r.event) {
            (Some(g), None, None, None, None) => g,
            _ => return Err(bad("a working group comes alone".into())),
        };
        g.data.validate().into_result().map_err(|e| bad(format!("group: {e}")))?;
        let row = GroupRow {
            id: g.id,
            version: g.version,
            data: g.data,
            tasks: g.tasks,
            created_at: g.created_at,
            updated_at: g.updated_at,
        };
        let kept = enlace_store::network::put_group(tx, &row).await?;
        return Ok(if kept { "applied" } else { "void" });
    }
    if r.contact.is_some() || r.group.is_some() {
        return Err(bad(format!("a {} carries no directory entry or group", r.kind)));
    }
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
    sender_states: &[String],
    hub: bool,
    now: DateTime<Utc>,
) -> Result<bool, AppError> {
    if !hub {
        return Err(refused("not-the-hub", "the network's workspace is kept at its hub"));
    }
    if !v.payload.is_empty() && v.payload.keys().any(|k| k != "since") {
        return Err(refused("bad-sync", "a request for the workspace carries nothing"));
    }
    let to = vec![Peer { id: v.header.from.as_str().to_string(), states: sender_states.to_vec() }];
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
    let contacts = enlace_store::network::all_contacts_tx(tx).await?;
    for c in &contacts {
        publish(tx, &to, &contact_record(c), now).await?;
    }
    let groups = enlace_store::network::all_groups_tx(tx).await?;
    for g in &groups {
        publish(tx, &to, &group_record(g), now).await?;
    }
    let library = enlace_store::network::all_library_tx(tx).await?;
    for l in &library {
        publish(tx, &to, &library_record(l), now).await?;
    }
    let files = files::sync_files(tx, &to, &library, now).await?;
    let detail = json!({"node": v.header.from, "meetings": meetings.len(), "agreements": agreements.len(),
        "events": events.len(), "contacts": contacts.len(), "groups": groups.len(), "library": library.len(),
        "files": files});
    audit(tx, event(None, "network.sync", "workspace", Some(v.header.from.as_str().to_string()), detail))
        .await?;
    Ok(!(meetings.is_empty()
        && agreements.is_empty()
        && events.is_empty()
        && contacts.is_empty()
        && groups.is_empty()))
}
