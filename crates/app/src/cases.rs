//! Case use cases: register, read, update, move through the workflow, list and search,
//! actions, attachments and consents.

use chrono::{DateTime, Utc};
use enlace_domain::ValidationErrors;
use enlace_domain::case::{
    Case, CaseParts, CaseSummary, Category, LegalBasis, Protection, Subtype, Vulnerability, validate_parts,
};
use enlace_domain::country::CountryCode;
use enlace_domain::ids::{ActionId, AttachmentId, CaseId, ConsentId, PersonId, TransitionId, UserId};
use enlace_domain::parts::{
    ChildRecord, ConsentData, DeathRecord, Detention, DetentionDelays, LabourRecord, MissingReport,
};
use enlace_domain::person::{LongText, Person, PersonData};
use enlace_domain::post::PostCode;
use enlace_domain::record::{
    Action, ActionData, Attachment, Consent, Transition, check_attachment, clean_filename,
};
use enlace_domain::role::Role;
use enlace_domain::workflow::Status;
pub use enlace_store::cases::{CaseFilter, CaseSort, Cursor};
use enlace_store::{BoxFuture, Tx};
use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::access;
use crate::{Actor, App, AppError, audit, event};

fn pending() -> Protection {
    Protection::Pending
}

/// A new case. The person is given in full (`person`) or as an existing person (`person_id`).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "person": {
        "given_names": ["Kevin", "Josué"],
        "surnames": ["Hernández", "Ramos"],
        "sex": "male",
        "birth": {"kind": "year", "year": 2014},
        "birth_place": "San Pedro Sula, Cortés",
        "nationalities": ["HN"],
        "languages": ["es"]
    },
    "post": "HN-TAPACHULA",
    "host_state": "MX",
    "category": "migration",
    "subtype": "unaccompanied_child",
    "vulnerabilities": ["unaccompanied_child"],
    "protection": {"state": "not_possible", "reason": "child"},
    "legal_basis": "vital_interest",
    "narrative": "Niño localizado por el DIF en la central de autobuses de Tapachula; viajaba solo.",
    "child": {
        "accompaniment": "unaccompanied",
        "family_tracing": "in_progress",
        "host_protection_authority": "DIF Chiapas / Procuraduría de Protección de NNA"
    }
}))]
pub struct NewCase {
    #[serde(default)]
    pub person: Option<PersonData>,
    #[serde(default)]
    pub person_id: Option<PersonId>,
    /// The nationality state that owns the case; by default the user's state.
    #[serde(default)]
    pub owner_state: Option<CountryCode>,
    /// The post working the case; by default the user's post.
    #[serde(default)]
    pub post: Option<PostCode>,
    pub host_state: CountryCode,
    pub category: Category,
    pub subtype: Subtype,
    #[serde(default)]
    pub vulnerabilities: Vec<Vulnerability>,
    #[serde(default = "pending")]
    pub protection: Protection,
    pub legal_basis: LegalBasis,
    #[serde(default)]
    pub narrative: Option<LongText>,
    #[serde(default)]
    pub assigned_officer: Option<UserId>,
    #[serde(default)]
    pub detention: Option<Detention>,
    #[serde(default)]
    pub child: Option<ChildRecord>,
    #[serde(default)]
    pub death: Option<DeathRecord>,
    #[serde(default)]
    pub missing: Option<MissingReport>,
    #[serde(default)]
    pub labour: Option<LabourRecord>,
}

/// Absent: leave as is. `null`: clear. A value: set.
pub(crate) fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Changes to a case. Fields left out stay as they are; `null` clears an optional field.
/// Status changes go through transitions, not here.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "version": 1,
    "vulnerabilities": ["unaccompanied_child", "indigenous_language"],
    "narrative": "El niño habla k'iche'; se solicitó intérprete."
}))]
pub struct CaseUpdate {
    /// The version you read; may instead be sent as `If-Match`.
    #[serde(default)]
    pub version: Option<i64>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub post: Option<Option<PostCode>>,
    #[serde(default)]
    pub host_state: Option<CountryCode>,
    #[serde(default)]
    pub category: Option<Category>,
    #[serde(default)]
    pub subtype: Option<Subtype>,
    #[serde(default)]
    pub vulnerabilities: Option<Vec<Vulnerability>>,
    #[serde(default)]
    pub protection: Option<Protection>,
    #[serde(default)]
    pub legal_basis: Option<LegalBasis>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub narrative: Option<Option<LongText>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = Uuid)]
    pub assigned_officer: Option<Option<UserId>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Detention>)]
    pub detention: Option<Option<Detention>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<ChildRecord>)]
    pub child: Option<Option<ChildRecord>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<DeathRecord>)]
    pub death: Option<Option<DeathRecord>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<MissingReport>)]
    pub missing: Option<Option<MissingReport>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<LabourRecord>)]
    pub labour: Option<Option<LabourRecord>>,
}

/// A status change.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"to": "protection_accepted", "version": 1}))]
pub struct TransitionRequest {
    pub to: Status,
    /// Why; required to close, reopen or go back.
    #[serde(default)]
    pub reason: Option<String>,
    /// The version you read; may instead be sent as `If-Match`.
    #[serde(default)]
    pub version: Option<i64>,
}

/// A correction of the person's data.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "version": 1,
    "person": {"given_names": ["Kevin", "Josué"], "surnames": ["Hernández", "Ramos"], "sex": "male",
               "birth": {"kind": "date", "date": "2014-03-02"}, "nationalities": ["HN"]}
}))]
pub struct PersonUpdate {
    /// The person's version you read; may instead be sent as `If-Match`.
    #[serde(default)]
    pub version: Option<i64>,
    pub person: PersonData,
}

/// Most rows a case-list export from the interface holds.
pub const LIST_EXPORT_MAX: usize = 10_000;

/// A case with what is computed from it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CaseView {
    #[serde(flatten)]
    pub case: Case,
    /// Art. 36 delays, for detention cases.
    pub detention_delays: Option<DetentionDelays>,
}

/// One page of a case list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CasePage {
    pub items: Vec<CaseSummary>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Checks a whole case: its parts, the protection time, the owner against nationalities.
fn check_case(c: &Case, now: DateTime<Utc>) -> ValidationErrors {
    let mut e = validate_parts(&c.parts, &c.person, now);
    if let Protection::Accepted { at } = c.protection
        && at > now + chrono::Duration::minutes(5)
    {
        e.push("protection.at", "is in the future");
    }
    if !c.person.nationalities.is_empty() && !c.person.nationalities.contains(&c.owner_state) {
        e.push("owner_state", format!("{} is not among the person's nationalities", c.owner_state));
    }
    e
}

fn expected_version(body: Option<i64>, header: Option<i64>) -> Result<i64, AppError> {
    match (body, header) {
        (Some(b), Some(h)) if b != h => Err(AppError::invalid("version", "differs from If-Match")),
        (Some(v), _) | (None, Some(v)) => Ok(v),
        (None, None) => Err(AppError::invalid(
            "version",
            "send the version you read, in the body or as If-Match, so no update is lost",
        )),
    }
}

impl App {
    async fn check_post(&self, post: &PostCode, e: &mut ValidationErrors) -> Option<CountryCode> {
        match self.post(post).await {
            Ok(Some(p)) => Some(p.state),
            Ok(None) => {
                e.push("post", format!("no post {post} on this node"));
                None
            }
            Err(err) => {
                e.push("post", format!("could not be checked: {err}"));
                None
            }
        }
    }

    /// Registers a case (and its person, when new) with its first transition and audit event.
    pub async fn create_case(&self, actor: &Actor, n: NewCase) -> Result<CaseView, AppError> {
        let now = enlace_store::now();
        let (case, new_person) = self.prepare_case(actor, n, now).await?;
        let assistance = self.assistance_target(&case).await;
        let notify = assistance.is_some();
        let actor_w = actor.clone();
        let case = self
            .db()
            .write(move |tx| {
                let actor = actor_w.clone();
                let mut case = case.clone();
                let assistance = assistance.clone();
                Box::pin(async move {
                    let actor = &actor;
                    insert_case_tx(tx, actor, &mut case, new_person).await?;
                    if let Some((peer, dir, me)) = assistance {
                        crate::fed::assistance_tx(tx, actor, &case, peer, &me, &dir, now).await?;
                    }
                    Ok::<_, AppError>(case)
                })
            })
            .await?;
        if notify {
            self.kick_relay();
        }
        // A missing-person report or a found person is matched in the background: it never
        // slows or stops a registration; what the queue cannot take, the periodic sweep finds.
        if crate::matching::side(&case).is_some() {
            self.queue_for_matching(case.clone());
        }
        Ok(view(case, now))
    }

    /// Checks a new case against every rule and the actor's rights, and builds it (without its
    /// number, which the insert assigns). Returns the case and whether its person is new.
    pub async fn prepare_case(
        &self,
        actor: &Actor,
        n: NewCase,
        now: DateTime<Utc>,
    ) -> Result<(Case, bool), AppError> {
        self.guard(actor, access::require_case_worker(actor)).await?;
        let mut e = ValidationErrors::new();
        match (&n.person, &n.person_id) {
            (Some(p), None) => e.extend(p.validate(now.date_naive()).nest("person")),
            (None, Some(_)) => {}
            _ => e.push("person", "give either person or person_id"),
        }
        let post = n.post.clone().or_else(|| actor.user.post.clone());
        let post_state = match &post {
            Some(p) => self.check_post(p, &mut e).await,
            None => None,
        };
        let owner = n.owner_state.unwrap_or(actor.user.state);
        e.into_result()?;
        self.guard(actor, access::can_register(actor, owner, post_state)).await?;
        let existing = match n.person_id {
            Some(id) => Some(self.known_person(actor, id).await?),
            None => None,
        };
        let new_person = existing.is_none();
        let (person_id, person_version, person) = match (existing, n.person) {
            (Some(p), _) => (p.id, p.version, p.data),
            (None, Some(data)) => (PersonId::new_v7(), 1, data),
            (None, None) => return Err(AppError::invalid("person", "give either person or person_id")),
        };
        let case = Case {
            id: CaseId::new_v7(),
            number: enlace_domain::case::CaseNumber { state: owner, year: 0, seq: 0 },
            version: 1,
            owner_state: owner,
            assisting_state: post_state.filter(|s| *s != owner),
            post,
            host_state: n.host_state,
            category: n.category,
            subtype: n.subtype,
            vulnerabilities: dedup(n.vulnerabilities),
            status: Status::Intake,
            assigned_officer: n.assigned_officer,
            protection: n.protection,
            legal_basis: n.legal_basis,
            narrative: n.narrative,
            person_id,
            person,
            person_version,
            parts: CaseParts {
                detention: n.detention,
                child: n.child,
                death: n.death,
                missing: n.missing,
                labour: n.labour,
            },
            opened_at: now,
            updated_at: now,
            closed_at: None,
            created_by: actor.user.id,
        };
        check_case(&case, now).into_result()?;
        if let Some(officer) = case.assigned_officer {
            self.check_officer(officer, owner, post_state).await?;
        }
        Ok((case, new_person))
    }

    /// An existing person a new case may be about: one the actor already sees a case of (so a
    /// person id cannot be used to read someone else's data).
    async fn known_person(&self, actor: &Actor, id: PersonId) -> Result<Person, AppError> {
        let no_such = || AppError::invalid("person_id", "no such person");
        let mut visible = false;
        for case_id in enlace_store::persons::case_ids(self.db(), id).await? {
            if let Some(c) = enlace_store::cases::get_case(self.db(), case_id).await?
                && access::can_read(actor, &c)
            {
                visible = true;
                break;
            }
        }
        if !visible {
            let hidden = AppError::Hidden { what: "person", id: id.to_string(), reason: NOT_IN_SCOPE };
            self.guard(actor, Err::<(), _>(hidden)).await.map_err(|_| no_such())?;
        }
        enlace_store::persons::get_person(self.db(), id).await?.ok_or_else(no_such)
    }

    async fn check_officer(
        &self,
        officer: UserId,
        owner: CountryCode,
        post_state: Option<CountryCode>,
    ) -> Result<(), AppError> {
        let u = enlace_store::users::get_user(self.db(), officer)
            .await?
            .ok_or_else(|| AppError::invalid("assigned_officer", "no such user"))?;
        if u.state != owner && Some(u.state) != post_state {
            return Err(AppError::invalid("assigned_officer", "the officer works for another state"));
        }
        Ok(())
    }

    /// A case the actor may read. A case they may not read is "not found", like a missing one.
    pub async fn get_case(&self, actor: &Actor, id: CaseId) -> Result<CaseView, AppError> {
        let case = self.read_case(actor, enlace_store::cases::get_case(self.db(), id).await?, "case").await?;
        Ok(view(case, enlace_store::now()))
    }

    pub async fn get_case_by_number(
        &self,
        actor: &Actor,
        n: &enlace_domain::case::CaseNumber,
    ) -> Result<CaseView, AppError> {
        let found = enlace_store::cases::get_case_by_number(self.db(), n).await?;
        let case = self.read_case(actor, found, "case").await?;
        Ok(view(case, enlace_store::now()))
    }

    pub(crate) async fn load_for_change(tx: &mut Tx, actor: &Actor, id: CaseId) -> Result<Case, AppError> {
        let c = readable(actor, enlace_store::cases::get_case_tx(tx, id).await?)?;
        let granted = needs_grant(actor, &c)
            && enlace_store::break_glass::active_tx(tx, actor.user.id, c.id, enlace_store::now()).await?;
        let c = unrestricted(actor, c, granted)?;
        crate::fed::check_owned_here(tx, &c).await?;
        Ok(c)
    }

    /// [`Self::read_case`] by id.
    pub(crate) async fn read_case_for(
        &self,
        actor: &Actor,
        id: CaseId,
        part: &str,
    ) -> Result<Case, AppError> {
        self.read_case(actor, enlace_store::cases::get_case(self.db(), id).await?, part).await
    }

    /// A case the actor may read, with the read audited (`part` says what of it was read).
    async fn read_case(&self, actor: &Actor, found: Option<Case>, part: &str) -> Result<Case, AppError> {
        let c = self.guard(actor, readable(actor, found)).await?;
        let granted = needs_grant(actor, &c)
            && enlace_store::break_glass::active(self.db(), actor.user.id, c.id, enlace_store::now()).await?;
        let c = self.guard(actor, unrestricted(actor, c, granted)).await?;
        let detail = serde_json::json!({"number": c.number, "part": part, "break_glass": granted});
        self.audit_read(actor, "case.read", "case", c.id.to_string(), detail).await?;
        Ok(c)
    }

    /// Applies `u` to a case if `If-Match`/`version` is still current.
    pub async fn update_case(
        &self,
        actor: &Actor,
        id: CaseId,
        if_match: Option<i64>,
        u: CaseUpdate,
    ) -> Result<CaseView, AppError> {
        self.guard(actor, access::require_case_worker(actor)).await?;
        let expected = expected_version(u.version, if_match)?;
        let mut e = ValidationErrors::new();
        let new_post_state = match &u.post {
            Some(Some(p)) => self.check_post(p, &mut e).await,
            _ => None,
        };
        e.into_result()?;
        if let Some(Some(officer)) = u.assigned_officer {
            self.check_officer(officer, actor.user.state, new_post_state).await?;
        }
        let now = enlace_store::now();
        let federated = self.federated();
        let actor_w = actor.clone();
        let (case, queued) = self
            .write_as(actor, move |tx| {
                let actor = actor_w.clone();
                let u = u.clone();
                Box::pin(async move {
                    let actor = &actor;
                    let mut c = Self::load_for_change(tx, actor, id).await?;
                    if c.version != expected {
                        return Err(stale("case", c.version));
                    }
                    let mut changed: Vec<&str> = Vec::new();
                    macro_rules! set {
                        ($field:ident, $target:expr) => {
                            if let Some(v) = u.$field {
                                $target = v;
                                changed.push(stringify!($field));
                            }
                        };
                    }
                    if let Some(p) = u.post {
                        c.assisting_state = match &p {
                            Some(_) => new_post_state.filter(|s| *s != c.owner_state),
                            None => None,
                        };
                        if let Some(s) = new_post_state
                            && s != c.owner_state
                            && s != actor.user.state
                            && c.owner_state != actor.user.state
                        {
                            return Err(AppError::Forbidden(
                                "the post belongs to neither the owner nor your state".into(),
                            ));
                        }
                        c.post = p;
                        changed.push("post");
                    }
                    set!(host_state, c.host_state);
                    set!(category, c.category);
                    set!(subtype, c.subtype);
                    if let Some(v) = u.vulnerabilities {
                        c.vulnerabilities = dedup(v);
                        changed.push("vulnerabilities");
                    }
                    set!(protection, c.protection);
                    set!(legal_basis, c.legal_basis);
                    set!(narrative, c.narrative);
                    set!(assigned_officer, c.assigned_officer);
                    set!(detention, c.parts.detention);
                    set!(child, c.parts.child);
                    set!(death, c.parts.death);
                    set!(missing, c.parts.missing);
                    set!(labour, c.parts.labour);
                    check_case(&c, now).into_result()?;
                    c.updated_at = now;
                    if !enlace_store::cases::update_case(tx, &c).await? {
                        return Err(stale("case", c.version));
                    }
                    c.version += 1;
                    audit(
                        tx,
                        event(
                            Some(actor),
                            "case.update",
                            "case",
                            Some(c.id.to_string()),
                            serde_json::json!({"number": c.number, "fields": changed}),
                        ),
                    )
                    .await?;
                    let queued = federated
                        && Self::propagate_change(tx, &c, false, actor.user.username.as_str(), now).await?;
                    Ok((c, queued))
                })
            })
            .await?;
        if queued {
            self.kick_relay();
        }
        Ok(view(case, now))
    }

    /// Moves a case to another status, recording who, when and why.
    pub async fn transition(
        &self,
        actor: &Actor,
        id: CaseId,
        if_match: Option<i64>,
        r: TransitionRequest,
    ) -> Result<CaseView, AppError> {
        self.guard(actor, access::can_transition(actor, r.to)).await?;
        let expected = expected_version(r.version, if_match)?;
        let reason = match r.reason.as_deref().map(|s| enlace_domain::text::clean_text(s, 2000)) {
            Some(Err(m)) => return Err(AppError::invalid("reason", m)),
            Some(Ok(s)) if !s.is_empty() => Some(s),
            _ => None,
        };
        let now = enlace_store::now();
        let federated = self.federated();
        let actor_w = actor.clone();
        let (case, queued) = self
            .write_as(actor, move |tx| {
                let actor = actor_w.clone();
                let reason = reason.clone();
                Box::pin(async move {
                    let actor = &actor;
                    let mut c = Self::load_for_change(tx, actor, id).await?;
                    if c.version != expected {
                        return Err(stale("case", c.version));
                    }
                    let from = c.status;
                    c.status = from
                        .transition(r.to, &c.protection, reason.as_deref())
                        .map_err(|e| AppError::Rule(e.to_string()))?;
                    c.closed_at = if c.status == Status::Closed { Some(now) } else { None };
                    c.updated_at = now;
                    if !enlace_store::cases::update_case(tx, &c).await? {
                        return Err(stale("case", c.version));
                    }
                    c.version += 1;
                    let t = Transition {
                        id: TransitionId::new_v7(),
                        case_id: c.id,
                        from: Some(from),
                        to: c.status,
                        reason: reason.clone(),
                        actor: actor.user.id,
                        at: now,
                    };
                    enlace_store::records::insert_transition(tx, &t).await?;
                    audit(
                        tx,
                        event(
                            Some(actor),
                            "case.transition",
                            "case",
                            Some(c.id.to_string()),
                            serde_json::json!({"number": c.number, "from": from, "to": c.status}),
                        ),
                    )
                    .await?;
                    let queued = federated
                        && Self::propagate_change(tx, &c, false, actor.user.username.as_str(), now).await?;
                    Ok((c, queued))
                })
            })
            .await?;
        if queued {
            self.kick_relay();
        }
        Ok(view(case, now))
    }

    /// Corrects the person of a case (a rectification), re-indexing every case of that person.
    pub async fn update_person(
        &self,
        actor: &Actor,
        case_id: CaseId,
        if_match: Option<i64>,
        u: PersonUpdate,
    ) -> Result<Person, AppError> {
        self.guard(actor, access::require_case_worker(actor)).await?;
        let expected = expected_version(u.version, if_match)?;
        let now = enlace_store::now();
        u.person.validate(now.date_naive()).nest("person").into_result()?;
        let federated = self.federated();
        let actor_w = actor.clone();
        let (person, queued) = self
            .write_as(actor, move |tx| {
                let actor = actor_w.clone();
                let data = u.person.clone();
                Box::pin(async move {
                    let actor = &actor;
                    let c = Self::load_for_change(tx, actor, case_id).await?;
                    let mut check = c.clone();
                    check.person = data.clone();
                    check_case(&check, now).into_result()?;
                    let version = enlace_store::persons::update_person(tx, c.person_id, expected, &data, now)
                        .await?
                        .ok_or_else(|| {
                            AppError::Conflict("the person was changed by someone else; read it again".into())
                        })?;
                    let mut queued = false;
                    for id in enlace_store::cases::case_ids_of_person(tx, c.person_id).await? {
                        if let Some(other) = enlace_store::cases::get_case_tx(tx, id).await? {
                            let terms = enlace_domain::case::search_terms(&other.number, &data);
                            enlace_store::cases::set_terms(tx, id, other.owner_state, &terms).await?;
                            // The correction reaches every state the case was shared with.
                            if federated {
                                queued |= Self::propagate_change(
                                    tx,
                                    &other,
                                    true,
                                    actor.user.username.as_str(),
                                    now,
                                )
                                .await?;
                            }
                        }
                    }
                    audit(
                        tx,
                        event(
                            Some(actor),
                            "person.rectify",
                            "person",
                            Some(c.person_id.to_string()),
                            serde_json::json!({"case": c.number}),
                        ),
                    )
                    .await?;
                    Ok((Person { id: c.person_id, version, data }, queued))
                })
            })
            .await?;
        if queued {
            self.kick_relay();
        }
        Ok(person)
    }

    /// A page of the cases the actor may see, filtered, searched and sorted.
    pub async fn list_cases(&self, actor: &Actor, mut f: CaseFilter) -> Result<CasePage, AppError> {
        self.guard(actor, access::require_case_worker(actor)).await?;
        let scope = access::case_scope(actor);
        if f.limit == 0 {
            f.limit = 50;
        }
        let (mut items, next) =
            enlace_store::cases::list_cases(self.db(), &scope, &f, enlace_store::now()).await?;
        if !access::may_read_restricted(actor) {
            for s in items.iter_mut().filter(|s| s.vulnerabilities.iter().any(|v| v.is_restricted())) {
                s.person_name = String::new();
                s.restricted = true;
            }
        }
        if !items.is_empty() {
            let ids: Vec<String> = items.iter().map(|c| c.id.to_string()).collect();
            let detail = serde_json::json!({"cases": ids, "searched": f.q.is_some()});
            self.audit_read(actor, "case.list", "case", "list".into(), detail).await?;
        }
        Ok(CasePage { items, next_cursor: next.map(|c| c.encode()) })
    }

    /// The cases a list shows (same filter, same access rule, names of restricted cases
    /// withheld), at most [`LIST_EXPORT_MAX`] of them, for an export in `format` (a file
    /// kind: csv, xlsx, pdf); the export is audited with its filter, format and row count.
    pub async fn export_case_list(
        &self,
        actor: &Actor,
        mut f: CaseFilter,
        format: &str,
    ) -> Result<Vec<CaseSummary>, AppError> {
        f.limit = 200;
        f.cursor = None;
        let mut rows: Vec<CaseSummary> = Vec::new();
        loop {
            let page = self.list_cases(actor, f.clone()).await?;
            let room = LIST_EXPORT_MAX - rows.len();
            rows.extend(page.items.into_iter().take(room));
            match page.next_cursor {
                Some(next) if rows.len() < LIST_EXPORT_MAX => f.cursor = Some(Self::parse_cursor(&next)?),
                _ => break,
            }
        }
        let detail = serde_json::json!({"rows": rows.len(), "format": format, "q": f.q, "statuses": f.statuses,
            "category": f.category, "subtype": f.subtype, "post": f.post});
        self.audit_alone(event(Some(actor), "case.list_export", "case", None, detail)).await?;
        Ok(rows)
    }

    /// Decodes a cursor given by a client.
    pub fn parse_cursor(s: &str) -> Result<Cursor, AppError> {
        Cursor::decode(s).map_err(|m| AppError::invalid("cursor", m))
    }

    pub async fn transitions(&self, actor: &Actor, id: CaseId) -> Result<Vec<Transition>, AppError> {
        self.read_case(actor, enlace_store::cases::get_case(self.db(), id).await?, "transitions").await?;
        Ok(enlace_store::records::list_transitions(self.db(), id).await?)
    }

    pub async fn add_action(&self, actor: &Actor, id: CaseId, data: ActionData) -> Result<Action, AppError> {
        let now = enlace_store::now();
        if data.occurred_at > now + chrono::Duration::minutes(5) {
            return Err(AppError::invalid("occurred_at", "is in the future"));
        }
        self.add_to_case(actor, id, "case.action", move |tx, c, actor| {
            let a = Action {
                id: ActionId::new_v7(),
                case_id: c.id,
                data: data.clone(),
                author: actor.user.id,
                created_at: now,
            };
            Box::pin(async move {
                enlace_store::records::insert_action(tx, &a).await?;
                let detail = serde_json::json!({"action": a.id, "kind": a.data.kind});
                Ok((a, detail))
            })
        })
        .await
    }

    pub async fn actions(&self, actor: &Actor, id: CaseId) -> Result<Vec<Action>, AppError> {
        self.read_case(actor, enlace_store::cases::get_case(self.db(), id).await?, "actions").await?;
        Ok(enlace_store::records::list_actions(self.db(), id).await?)
    }

    /// Stores an attachment after checking its type against its bytes; keeps its SHA-256.
    pub async fn add_attachment(
        &self,
        actor: &Actor,
        id: CaseId,
        filename: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> Result<Attachment, AppError> {
        self.guard(actor, access::require_case_worker(actor)).await?;
        let mut e = ValidationErrors::new();
        let filename = e.check("filename", clean_filename(filename));
        e.check("content", check_attachment(content_type, &bytes));
        e.into_result()?;
        let filename = filename.expect("checked");
        let ct = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        let sha = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect::<String>();
        let now = enlace_store::now();
        let bytes = std::sync::Arc::new(bytes);
        let key = self.settings().node_key.clone();
        self.add_to_case(actor, id, "case.attachment", move |tx, c, actor| {
            let a = Attachment {
                id: AttachmentId::new_v7(),
                case_id: c.id,
                filename: filename.clone(),
                content_type: ct.clone(),
                size: bytes.len() as i64,
                sha256: sha.clone(),
                uploaded_by: actor.user.id,
                created_at: now,
            };
            let sealed = key.seal(ATTACHMENTS, &attachment_context(c.id, a.id), &bytes);
            Box::pin(async move {
                enlace_store::records::insert_attachment(tx, &a, &sealed?, true).await?;
                let detail = serde_json::json!({"attachment": a.id, "sha256": a.sha256, "size": a.size});
                Ok((a, detail))
            })
        })
        .await
    }

    pub async fn attachments(&self, actor: &Actor, id: CaseId) -> Result<Vec<Attachment>, AppError> {
        self.read_case(actor, enlace_store::cases::get_case(self.db(), id).await?, "attachments").await?;
        Ok(enlace_store::records::list_attachments(self.db(), id).await?)
    }

    pub async fn attachment(
        &self,
        actor: &Actor,
        id: CaseId,
        att: AttachmentId,
    ) -> Result<(Attachment, Vec<u8>), AppError> {
        self.read_case(actor, enlace_store::cases::get_case(self.db(), id).await?, "attachment").await?;
        let (a, content, sealed) = enlace_store::records::get_attachment(self.db(), id, att)
            .await?
            .ok_or(AppError::NotFound("attachment"))?;
        let content = if sealed {
            self.settings().node_key.open(ATTACHMENTS, &attachment_context(id, att), &content)?
        } else {
            content
        };
        Ok((a, content))
    }

    pub async fn add_consent(
        &self,
        actor: &Actor,
        id: CaseId,
        data: ConsentData,
    ) -> Result<Consent, AppError> {
        data.validate(enlace_store::now()).into_result()?;
        self.add_to_case(actor, id, "case.consent", move |tx, c, actor| {
            let consent = Consent {
                id: ConsentId::new_v7(),
                case_id: c.id,
                data: data.clone(),
                withdrawn_at: None,
                recorded_by: actor.user.id,
            };
            Box::pin(async move {
                enlace_store::records::insert_consent(tx, &consent).await?;
                let detail = serde_json::json!({"consent": consent.id, "scope": consent.data.scope});
                Ok((consent, detail))
            })
        })
        .await
    }

    pub async fn consents(&self, actor: &Actor, id: CaseId) -> Result<Vec<Consent>, AppError> {
        self.read_case(actor, enlace_store::cases::get_case(self.db(), id).await?, "consents").await?;
        Ok(enlace_store::records::list_consents(self.db(), id).await?)
    }

    pub async fn withdraw_consent(
        &self,
        actor: &Actor,
        id: CaseId,
        consent: ConsentId,
    ) -> Result<(), AppError> {
        let now = enlace_store::now();
        let ended = self
            .add_to_case(actor, id, "case.consent_withdrawn", move |tx, _, actor| {
                Box::pin(async move {
                    if !enlace_store::records::withdraw_consent(tx, id, consent, now).await? {
                        return Err(AppError::NotFound("consent"));
                    }
                    // The shares offered on this consent end with it, in the same transaction.
                    let ended = crate::fed::end_shares_of_consent(tx, id, consent, actor, now).await?;
                    // So do the encodings in the linkage service that rest on it.
                    let withdrawn =
                        crate::fed::linkage::withdraw_linkage_of_consent(tx, id, consent, actor).await?;
                    Ok((
                        ended + withdrawn,
                        serde_json::json!({"consent": consent, "shares_ended": ended,
                            "linkage_withdrawn": withdrawn}),
                    ))
                })
            })
            .await?;
        if ended > 0 {
            self.kick_relay();
        }
        Ok(())
    }

    /// Adds or changes a record belonging to a case in one write transaction: loads the case
    /// (it must be one the actor may see), runs `change`, and audits `action` with the detail
    /// `change` returns plus the case number.
    async fn add_to_case<T, F>(
        &self,
        actor: &Actor,
        id: CaseId,
        action: &'static str,
        change: F,
    ) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: for<'t> Fn(
                &'t mut Tx,
                &'t Case,
                &'t Actor,
            ) -> BoxFuture<'t, Result<(T, serde_json::Value), AppError>>
            + Send
            + Sync
            + 'static,
    {
        self.guard(actor, access::require_case_worker(actor)).await?;
        let change = std::sync::Arc::new(change);
        let actor_w = actor.clone();
        self.write_as(actor, move |tx| {
            let actor = actor_w.clone();
            let change = change.clone();
            Box::pin(async move {
                let c = Self::load_for_change(tx, &actor, id).await?;
                let (v, mut detail) = change(tx, &c, &actor).await?;
                detail["number"] = serde_json::json!(c.number);
                audit(tx, event(Some(&actor), action, "case", Some(c.id.to_string()), detail)).await?;
                Ok(v)
            })
        })
        .await
    }
}

/// Inserts a prepared case: assigns its number, writes the person when new, the case, its
/// first transition and the audit event, all in the caller's transaction.
pub(crate) async fn insert_case_tx(
    tx: &mut Tx,
    actor: &Actor,
    case: &mut Case,
    new_person: bool,
) -> Result<(), AppError> {
    let year = chrono::Datelike::year(&case.opened_at);
    let seq =
        enlace_store::cases::next_seq(tx, case.owner_state, year, !crate::audit_log::noop_sink()).await?;
    case.number = enlace_domain::case::CaseNumber { state: case.owner_state, year, seq };
    let t = Transition {
        id: TransitionId::new_v7(),
        case_id: case.id,
        from: None,
        to: Status::Intake,
        reason: None,
        actor: actor.user.id,
        at: case.opened_at,
    };
    let person = new_person.then(|| Person { id: case.person_id, version: 1, data: case.person.clone() });
    // The event goes with the case's INSERTs (one round trip to SQLite's writer, not two).
    let ev = (!crate::audit_log::noop_sink()).then(|| {
        event(
            Some(actor),
            "case.create",
            "case",
            Some(case.id.to_string()),
            // An existing person means an officer linked this case to them (a linkage
            // decision, kept here).
            serde_json::json!({"number": case.number, "owner_state": case.owner_state, "post": case.post,
                "person": case.person_id, "existing_person": !new_person}),
        )
    });
    enlace_store::cases::insert_new_case(tx, case, person.as_ref(), &t, ev.as_ref()).await?;
    Ok(())
}

/// The node key's purpose for attachments.
const ATTACHMENTS: &str = "attachments/v1";

/// What a sealed attachment is bound to: its case and its own id.
fn attachment_context(case: CaseId, att: AttachmentId) -> Vec<u8> {
    [case.0.as_bytes().as_slice(), att.0.as_bytes().as_slice()].concat()
}

/// The case if the actor may read it; a case they may not read is hidden (an audited "not found").
pub(crate) fn readable(actor: &Actor, found: Option<Case>) -> Result<Case, AppError> {
    match found {
        None => Err(AppError::NotFound("case")),
        Some(c) if access::can_read(actor, &c) => Ok(c),
        Some(c) => Err(AppError::Hidden { what: "case", id: c.id.to_string(), reason: NOT_IN_SCOPE }),
    }
}

const NOT_IN_SCOPE: &str = "not in the actor's scope";
const RESTRICTED: &str =
    "restricted case (child or sensitive facts) without the permission or a break-glass grant";

/// A restricted case needs the permission, or a live break-glass grant (`granted`).
pub(crate) fn unrestricted(actor: &Actor, c: Case, granted: bool) -> Result<Case, AppError> {
    if !c.is_restricted() || access::may_read_restricted(actor) || granted {
        Ok(c)
    } else {
        Err(AppError::Hidden { what: "case", id: c.id.to_string(), reason: RESTRICTED })
    }
}

pub(crate) fn needs_grant(actor: &Actor, c: &Case) -> bool {
    c.is_restricted() && !access::may_read_restricted(actor)
}

fn stale(what: &str, current: i64) -> AppError {
    AppError::Conflict(format!(
        "the {what} was changed by someone else (now version {current}); read it again"
    ))
}

fn dedup(mut v: Vec<Vulnerability>) -> Vec<Vulnerability> {
    v.sort();
    v.dedup();
    v
}

fn view(case: Case, now: DateTime<Utc>) -> CaseView {
    let detention_delays = case.parts.detention.as_ref().map(|d| d.delays(now));
    CaseView { case, detention_delays }
}

/// A supervisor's request to open a restricted case: the written reason is kept and shown to
/// the state's auditors.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "Child at risk of removal tonight; the assigned officer is unreachable."}))]
pub struct BreakGlassRequest {
    /// Why the case must be opened now (20 to 2000 characters).
    pub reason: String,
}

/// A break-glass grant (the domain's record).
pub use enlace_domain::record::BreakGlassGrant;

/// How long a break-glass grant lasts.
pub const BREAK_GLASS_FOR: chrono::Duration = chrono::Duration::hours(1);

impl App {
    /// Breaks the glass: a protection supervisor opens a restricted case of their state for
    /// an hour, giving a written reason. Audited, and listed for the state's auditors.
    pub async fn break_glass(
        &self,
        actor: &Actor,
        id: CaseId,
        r: BreakGlassRequest,
    ) -> Result<BreakGlassGrant, AppError> {
        self.guard(actor, access::can_break_glass(actor)).await?;
        let reason =
            enlace_domain::text::clean_text(&r.reason, 2000).map_err(|m| AppError::invalid("reason", m))?;
        if reason.chars().count() < 20 {
            return Err(AppError::invalid("reason", "explain why in at least 20 characters"));
        }
        let found = enlace_store::cases::get_case(self.db(), id).await?;
        let c = self.guard(actor, readable(actor, found)).await?;
        if !needs_grant(actor, &c) {
            return Err(AppError::Rule(
                "this case is open to you already; no need to break the glass".into(),
            ));
        }
        let now = enlace_store::now();
        let grant = BreakGlassGrant {
            id: uuid::Uuid::now_v7(),
            user: actor.user.id,
            username: actor.user.username.to_string(),
            case_id: c.id,
            case_number: c.number.to_string(),
            owner_state: c.owner_state,
            reason,
            at: now,
            expires_at: now + BREAK_GLASS_FOR,
        };
        let detail =
            serde_json::json!({"number": c.number, "reason": grant.reason, "until": grant.expires_at});
        let ev = event(Some(actor), "case.break_glass", "case", Some(c.id.to_string()), detail);
        let g = grant.clone();
        self.db()
            .write(move |tx| {
                let (g, ev) = (g.clone(), ev.clone());
                Box::pin(async move {
                    enlace_store::break_glass::insert(tx, &g).await?;
                    audit(tx, ev).await
                })
            })
            .await?;
        Ok(grant)
    }

    /// The break-glass grants on the auditor's state's cases, newest first.
    pub async fn break_glass_grants(&self, actor: &Actor) -> Result<Vec<BreakGlassGrant>, AppError> {
        self.guard(actor, access::require_role(actor, &[Role::Auditor])).await?;
        Ok(enlace_store::break_glass::list_for_state(self.db(), actor.user.state, 500).await?)
    }
}

/// A case-list export as CSV: one row per case, codes rather than labels (for other
/// programs), a cell that a spreadsheet would run as a formula defused.
pub fn case_list_csv(rows: &[CaseSummary]) -> Result<Vec<u8>, AppError> {
    let io = |e: csv::Error| AppError::Unavailable(format!("writing the export failed: {e}"));
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "number",
        "status",
        "owner_state",
        "post",
        "host_state",
        "category",
        "subtype",
        "vulnerabilities",
        "person_name",
        "opened_at",
        "updated_at",
        "first_contact_overdue",
    ])
    .map_err(io)?;
    for c in rows {
        let flags: Vec<&str> = c.vulnerabilities.iter().map(|v| v.as_str()).collect();
        w.write_record([
            c.number.to_string(),
            c.status.as_str().to_string(),
            c.owner_state.to_string(),
            c.post.as_ref().map(|p| p.to_string()).unwrap_or_default(),
            c.host_state.to_string(),
            c.category.as_str().to_string(),
            c.subtype.as_str().to_string(),
            flags.join(";"),
            crate::csv_io::defuse(&c.person_name),
            c.opened_at.to_rfc3339(),
            c.updated_at.to_rfc3339(),
            c.first_contact_overdue.to_string(),
        ])
        .map_err(io)?;
    }
    w.into_inner().map_err(|e| AppError::Unavailable(format!("writing the export failed: {e}")))
}
