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

use chrono::{DateTime, NaiveDate, Utc};
use enlace_domain::network::{AgreementData, EventData, FollowUp, FollowUpData, MeetingData, Party, Titles};
use enlace_domain::role::Role;
use enlace_store::network::{AgreementRow, EventRow, MeetingRow};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

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

/// Every signed-in user reads the workspace; nothing in it is about a person.
fn may_read(_: &Actor) -> Result<(), AppError> {
    Ok(())
}

impl App {
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
        let now = enlace_store::now();
        let actor_w = actor.clone();
        let (row, m) = self
            .db()
            .write(move |tx| {
                let (actor, data) = (actor_w.clone(), data.clone());
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
        let now = enlace_store::now();
        let actor_w = actor.clone();
        let r = self
            .db()
            .write(move |tx| {
                let (actor, note) = (actor_w.clone(), note.clone());
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
                    let detail = serde_json::json!({"number": a.data.number, "from": from, "to": a.data.status});
                    audit(tx, event(Some(&actor), "network.follow_up", "agreement", Some(id.to_string()), detail))
                        .await?;
                    Ok((a, m))
                })
            })
            .await;
        let (a, m) = self.guard(actor, r).await?;
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
        data.validate().into_result()?;
        let row = EventRow { id: Uuid::now_v7(), data, created_at: enlace_store::now() };
        let (actor_w, r) = (actor.clone(), row.clone());
        self.db()
            .write(move |tx| {
                let (actor, r) = (actor_w.clone(), r.clone());
                Box::pin(async move {
                    enlace_store::network::insert_event(tx, &r).await?;
                    let detail =
                        serde_json::json!({"starts_on": r.data.starts_on, "ends_on": r.data.ends_on});
                    audit(tx, event(Some(&actor), "network.event", "event", Some(r.id.to_string()), detail))
                        .await
                })
            })
            .await?;
        Ok(EventView { id: row.id, data: row.data, created_at: row.created_at })
    }
}
