//! Person linkage in the node: candidates among the node's persons while a person is being
//! registered, and missing-person reports matched against detained, hospitalised, deceased
//! and returned persons into a review queue. Nothing is ever merged: officers decide, and each
//! decision is audited and kept (a decided pair is never proposed again).
//!
//! Candidates come from the database, not from memory: each person's blocking keys (the
//! linkage engine's, the same in every process) are stored in `person_keys`. A background
//! worker writes them, following the persons' change feed in large batches, so registrations
//! pay nothing for them; a lookup first brings the keys up to date, then reads the blocks of the
//! new person's keys (each capped as the engine caps it), the persons found, and scores them;
//! each candidate's cases are read with the access rules before anyone sees them. Memory stays
//! flat whatever the number of persons.

use chrono::{DateTime, Datelike, Utc};
use enlace_domain::case::{Case, Subtype};
use enlace_domain::ids::{CaseId, PersonId};
use enlace_domain::person::{Birth, Person, PersonData, Sex};
use enlace_domain::post::PostCode;
use enlace_domain::workflow::Status;
use enlace_linkage::blocking::Blocking;
use enlace_linkage::person::Schema;
use enlace_linkage::{Explanation, KeyMaker, Model, Scorer};
use enlace_store::matches::MatchRow;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::cases::{needs_grant, readable, unrestricted};
use crate::{Actor, App, AppError, access, audit, event};

/// How many records the shipped model was trained on (its prior is for sets of that size).
const TRAINED_ON: f64 = 100_000.0;
/// Changes committed up to this long after their timestamp are still seen by the sweep.
const FEED_OVERLAP: chrono::Duration = chrono::Duration::minutes(2);
const FEED_PAGE: i64 = 5_000;
/// Registered cases waiting for the matching task, at most.
const MATCH_QUEUE: usize = 256;

// ---------------------------------------------------------------------------------------------
// Pure parts: what the engine sees of a person, and which side of a missing-person match a case
// is on.

/// The linkage engine's view of a person (the standard schema: sex, nationality, birth place,
/// document). Original spellings are passed; the engine folds them.
pub fn to_linkage(p: &PersonData) -> enlace_linkage::Person {
    let birth = match &p.birth {
        Birth::Date { date } => {
            enlace_linkage::Date::new(date.year() as u16, date.month() as u8, date.day() as u8)
                .map_or(enlace_linkage::Birth::Unknown, |date| enlace_linkage::Birth::Date { date })
        }
        Birth::Year { year } => enlace_linkage::Birth::Year { year: *year as u16 },
        Birth::EstimatedAge { min_years, max_years, estimated_on } => {
            let y = estimated_on.year() as u16;
            enlace_linkage::Birth::Range {
                from: y.saturating_sub(*max_years as u16),
                to: y.saturating_sub(*min_years as u16),
            }
        }
        Birth::Unknown => enlace_linkage::Birth::Unknown,
    };
    let sex = match p.sex {
        Sex::Female => Some("F".to_string()),
        Sex::Male => Some("M".to_string()),
        Sex::Other | Sex::Unknown => None,
    };
    enlace_linkage::Person {
        given_names: p.given_names.iter().map(|n| n.as_str().to_string()).collect(),
        surnames: p.surnames.iter().map(|n| n.as_str().to_string()).collect(),
        birth,
        attributes: vec![
            sex,
            p.nationalities.first().map(|c| c.as_str().to_string()),
            p.birth_place.as_ref().map(|b| b.as_str().to_string()),
            p.documents.first().map(|d| d.number.as_str().to_string()),
        ],
    }
}

/// The side of a missing-person match a case is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// A report of a missing person (subtype `whereabouts`).
    Missing,
    /// A person found detained, in hospital, dead, or returned.
    Found,
}

/// Which side, if any, of a missing-person match `c` is on.
pub fn side(c: &Case) -> Option<Side> {
    if c.subtype == Subtype::Whereabouts {
        return Some(Side::Missing);
    }
    let found = matches!(
        c.subtype,
        Subtype::Detention
            | Subtype::DeathRepatriation
            | Subtype::MedicalEmergency
            | Subtype::ReturnReception
    ) || c.parts.detention.is_some()
        || c.parts.death.is_some();
    found.then_some(Side::Found)
}

/// The fields a score explains, in order.
pub const FIELDS: &[&str] =
    &["given_names", "surnames", "birth", "sex", "nationality", "birth_place", "document"];

/// Every comparison level name a score can show.
pub fn level_names() -> Vec<&'static str> {
    use enlace_linkage::compare::*;
    let mut v: Vec<&'static str> =
        [GIVEN_LEVELS, SURNAME_LEVELS, BIRTH_LEVELS, EXACT_LEVELS, TEXT_LEVELS, DOCUMENT_LEVELS].concat();
    v.sort_unstable();
    v.dedup();
    v
}

/// A model for an index of `n` persons: the shipped model with its prior scaled from the size it
/// was trained on (the chance that two records are the same person falls as the set grows).
pub fn model_for(n: usize) -> Model {
    let mut m = Model::node_default();
    m.prior = (m.prior * TRAINED_ON / n.max(1_000) as f64).min(0.01);
    m
}

// ---------------------------------------------------------------------------------------------
// What the API and pages show.

/// How one field contributed to a score.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldExplained {
    /// `given_names`, `surnames`, `birth`, `sex`, `nationality`, `birth_place` or `document`.
    pub field: String,
    /// The comparison level (for example `exact`, `phonetic`, `day_month_swapped`); absent when
    /// the field is missing on either side (neutral).
    pub level: Option<String>,
    /// The level's weight in bits, with the adjustment for common names.
    pub weight: f64,
}

/// A score, explained field by field: `weight = prior_weight + Σ fields[].weight`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Score {
    pub probability: f64,
    /// `likely`, `possible` or `no_link`.
    pub band: String,
    pub weight: f64,
    pub prior_weight: f64,
    pub fields: Vec<FieldExplained>,
}

impl From<&Explanation> for Score {
    fn from(e: &Explanation) -> Score {
        Score {
            probability: e.probability,
            band: e.band.as_str().to_string(),
            weight: e.weight,
            prior_weight: e.prior_weight,
            fields: e
                .fields
                .iter()
                .map(|f| FieldExplained {
                    field: f.field.clone(),
                    level: f.level.clone(),
                    weight: f.weight + f.term_frequency_adjustment,
                })
                .collect(),
        }
    }
}

/// A case, briefly, as a candidate or match shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CaseBrief {
    #[schema(value_type = String)]
    pub id: CaseId,
    pub number: String,
    pub status: Status,
    pub subtype: Subtype,
    #[schema(value_type = Option<String>)]
    pub post: Option<PostCode>,
    pub opened_at: DateTime<Utc>,
}

impl From<&Case> for CaseBrief {
    fn from(c: &Case) -> CaseBrief {
        CaseBrief {
            id: c.id,
            number: c.number.to_string(),
            status: c.status,
            subtype: c.subtype,
            post: c.post.clone(),
            opened_at: c.opened_at,
        }
    }
}

/// Who may already be known: a person being registered, as far as it is typed.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "person": {"given_names": ["Maria"], "surnames": ["Gutierres"], "sex": "female",
               "birth": {"kind": "year", "year": 1990}, "nationalities": ["HN"]},
    "limit": 10
}))]
pub struct CandidateQuery {
    pub person: PersonData,
    /// At most this many candidates (1 to 50; default 10).
    #[serde(default)]
    pub limit: Option<u32>,
}

/// One existing person who may be the one being registered.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PersonCandidate {
    pub person: Person,
    pub score: Score,
    /// The person's cases the actor may read.
    pub cases: Vec<CaseBrief>,
}

/// The candidates for a person being registered.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PersonCandidates {
    /// Most probable first.
    pub candidates: Vec<PersonCandidate>,
    /// Candidates whose cases the actor may not read (outside their posts, or restricted):
    /// only counted, so the officer can ask a supervisor.
    pub withheld: u32,
}

/// One side of a match as shown in the queue.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MatchSideView {
    pub case: CaseBrief,
    pub person: PersonData,
}

/// A possible match between a missing-person report and a found person.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MatchView {
    pub id: Uuid,
    /// `pending`, `same` or `not_same`.
    pub status: String,
    pub score: Score,
    pub found_at: DateTime<Utc>,
    pub missing: MatchSideView,
    pub found: MatchSideView,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub note: Option<String>,
}

/// A page of the review queue.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MatchPage {
    pub items: Vec<MatchView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// An officer's decision on a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = SameOrNot)]
pub enum Decision {
    /// The same person: the two cases are linked (not merged).
    Same,
    /// Not the same person: the pair is never proposed again.
    NotSame,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Same => "same",
            Decision::NotSame => "not_same",
        }
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"decision": "not_same", "note": "La familia confirma que no tiene esa cicatriz."}))]
pub struct MatchDecision {
    pub decision: Decision,
    /// Why (shown in the match's history).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub note: Option<enlace_domain::person::LongText>,
}

/// Which matches to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MatchStatus {
    #[default]
    Pending,
    Same,
    NotSame,
}

impl MatchStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchStatus::Pending => "pending",
            MatchStatus::Same => "same",
            MatchStatus::NotSame => "not_same",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Blocking keys and candidates.

fn key_maker() -> &'static KeyMaker {
    static KM: std::sync::OnceLock<KeyMaker> = std::sync::OnceLock::new();
    KM.get_or_init(|| KeyMaker::new(Schema::standard(), Blocking::default()))
}

/// A person's blocking keys, as stored in `person_keys`.
pub fn person_keys(p: &PersonData) -> Vec<i64> {
    key_maker().keys(&to_linkage(p)).into_iter().map(|(_, k)| k).collect()
}

/// How long the count of persons (which scales the model's prior) is reused.
const COUNT_TTL: std::time::Duration = std::time::Duration::from_secs(600);
/// Persons whose keys are written per transaction when catching up.
const KEY_PAGE: i64 = 2_000;
/// Persons whose keys the background worker writes per second, at most (so a flood of
/// registrations keeps the writer; the worker catches up afterwards, and lookups catch up
/// themselves).
const KEYS_PER_TICK: i64 = 300;
/// Queued registrations the background worker matches per second, at most (the rest overflow
/// to the periodic sweep).
const MATCHES_PER_TICK: usize = 50;
/// A transaction commits within this long of the time it stamps on a person.
const SETTLE: chrono::Duration = chrono::Duration::seconds(2);
const KEYS_JOB: &str = "person_keys";
const SWEEP_JOB: &str = "match_sweep";

impl App {
    /// How many persons the node holds, counted at most every ten minutes.
    async fn person_count(&self) -> Result<usize, AppError> {
        if let Some((at, n)) = *self.inner.person_count.lock().expect("not poisoned")
            && at.elapsed() < COUNT_TTL
        {
            return Ok(n);
        }
        let n = enlace_store::persons::count(self.db()).await? as usize;
        *self.inner.person_count.lock().expect("not poisoned") = Some((std::time::Instant::now(), n));
        Ok(n)
    }

    /// Persons who may be `p`, at or above the model's "possible" band, most probable first.
    async fn index_candidates(
        &self,
        p: &PersonData,
        limit: usize,
    ) -> Result<Vec<enlace_linkage::Candidate<PersonId>>, AppError> {
        let q = to_linkage(p);
        let km = key_maker();
        let mut ids: Vec<PersonId> = Vec::new();
        for (pass, key) in km.keys(&q) {
            let cap = km.max_block(pass);
            let block = enlace_store::persons::with_key(self.db(), key, cap as i64 + 1).await?;
            if block.len() <= cap {
                ids.extend(block);
            }
        }
        ids.sort_unstable_by_key(|id| id.0);
        ids.dedup();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let found: Vec<(PersonId, enlace_linkage::Person)> = enlace_store::persons::get_many(self.db(), &ids)
            .await?
            .into_iter()
            .map(|p| (p.id, to_linkage(&p.data)))
            .collect();
        let scorer = Scorer::new(model_for(self.person_count().await?))
            .map_err(|e| AppError::Unavailable(format!("the linkage model: {e}")))?;
        let min = scorer.model().bands.possible;
        Ok(scorer.rank(&q, &found, min, limit))
    }

    /// Writes the blocking keys of up to `max` persons changed after `after` (in feed order),
    /// in one transaction, and moves the keys' mark past those that are surely committed
    /// (stamped more than [`SETTLE`] ago; newer ones get their keys now and again later).
    /// Returns how many persons got keys and the last one's place in the feed.
    async fn index_person_keys(
        &self,
        after: (DateTime<Utc>, Option<PersonId>),
        max: i64,
    ) -> Result<(usize, Option<(DateTime<Utc>, Option<PersonId>)>), AppError> {
        let now = enlace_store::now();
        let page = enlace_store::persons::changed_after(self.db(), after, now + SETTLE, max).await?;
        let Some((last, last_at)) = page.last() else { return Ok((0, None)) };
        let last = (*last_at, Some(last.id));
        let settled = page.iter().rev().find(|(_, at)| *at < now - SETTLE).map(|(p, at)| (*at, p.id));
        let keyed: Vec<(PersonId, Vec<i64>)> =
            page.iter().map(|(p, _)| (p.id, person_keys(&p.data))).collect();
        let n = keyed.len();
        self.db()
            .write(move |tx| {
                let keyed = keyed.clone();
                Box::pin(async move {
                    enlace_store::persons::add_keys(tx, &keyed).await?;
                    if let Some((at, id)) = settled {
                        enlace_store::matches::set_mark(tx, KEYS_JOB, at, Some(id)).await?;
                    }
                    Ok::<_, AppError>(())
                })
            })
            .await?;
        Ok((n, Some(last)))
    }

    /// The keys' mark: persons up to here have their keys.
    async fn keys_mark(&self) -> Result<(DateTime<Utc>, Option<PersonId>), AppError> {
        Ok(enlace_store::matches::mark(self.db(), KEYS_JOB)
            .await?
            .unwrap_or((DateTime::<Utc>::UNIX_EPOCH, None)))
    }

    /// Brings every person's blocking keys up to date (at start, after a bulk load, before a
    /// registration lookup). With `settle`, waits until the newest are surely committed and
    /// moves the mark past them too (so the worker does not read them again). Returns how many
    /// persons got keys.
    pub async fn catch_up_person_keys(&self, settle: bool) -> Result<usize, AppError> {
        let _one = self.inner.key_writer.lock().await;
        let mut done = 0;
        for round in 0..if settle { 2 } else { 1 } {
            if round == 1 {
                if done == 0 {
                    break;
                }
                tokio::time::sleep(
                    (SETTLE + chrono::Duration::milliseconds(100)).to_std().expect("positive"),
                )
                .await;
            }
            let mut after = self.keys_mark().await?;
            loop {
                let (n, last) = self.index_person_keys(after, KEY_PAGE).await?;
                done += n;
                if n > 0 && done % 100_000 < n {
                    tracing::info!(persons = done, "blocking keys written");
                }
                match last {
                    Some(last) if n as i64 == KEY_PAGE => after = last,
                    _ => break,
                }
            }
        }
        Ok(done)
    }

    /// One round of the worker: keys for at most `max` persons after `after` (its cursor).
    async fn index_some_person_keys(
        &self,
        after: Option<(DateTime<Utc>, Option<PersonId>)>,
        max: i64,
    ) -> Result<(usize, Option<(DateTime<Utc>, Option<PersonId>)>), AppError> {
        let _one = self.inner.key_writer.lock().await;
        // A catch-up may have moved the mark past the cursor: start from whichever is ahead.
        let mark = self.keys_mark().await?;
        let key = |(at, id): (DateTime<Utc>, Option<PersonId>)| (at, id.map(|p| p.0));
        let after = match after {
            Some(a) if key(a) > key(mark) => a,
            _ => mark,
        };
        self.index_person_keys(after, max).await
    }

    /// The existing persons that may be the one being registered, with their explanation.
    /// Only persons with a case the actor may read are shown; the others are counted.
    pub async fn person_candidates(
        &self,
        actor: &Actor,
        q: CandidateQuery,
    ) -> Result<PersonCandidates, AppError> {
        self.guard(actor, access::require_case_worker(actor)).await?;
        let limit = q.limit.unwrap_or(10);
        if !(1..=50).contains(&limit) {
            return Err(AppError::invalid("limit", "must be between 1 and 50"));
        }
        q.person.validate(enlace_store::now().date_naive()).nest("person").into_result()?;
        // An officer must see a person registered a moment ago at another post: the keys are
        // brought up to date first. (Matching does not wait: the worker and the sweep follow.)
        self.catch_up_person_keys(false).await?;
        let found = self.index_candidates(&q.person, limit as usize).await?;
        let (mut candidates, mut withheld) = (Vec::new(), 0u32);
        for c in found {
            let cases = enlace_store::cases::cases_of_person(self.db(), c.id).await?;
            if cases.is_empty() {
                continue;
            }
            let visible: Vec<&Case> =
                cases.iter().filter(|k| access::can_read(actor, k) && !needs_grant(actor, k)).collect();
            if visible.is_empty() {
                withheld += 1;
                continue;
            }
            let person =
                Person { id: c.id, version: visible[0].person_version, data: visible[0].person.clone() };
            candidates.push(PersonCandidate {
                person,
                score: Score::from(&c.explanation),
                cases: visible.into_iter().map(CaseBrief::from).collect(),
            });
        }
        let ids: Vec<String> = candidates.iter().map(|c| c.person.id.to_string()).collect();
        let detail = serde_json::json!({"persons": ids, "withheld": withheld});
        self.audit_read(actor, "person.candidates", "person", "candidates".into(), detail).await?;
        Ok(PersonCandidates { candidates, withheld })
    }

    /// The matches a case calls for that are not yet in the queue: for a missing-person report,
    /// found persons who may be them; for a found person, open reports who may be them.
    pub(crate) async fn propose_matches(&self, case: &Case) -> Result<Vec<MatchRow>, AppError> {
        let Some(side) = side(case) else { return Ok(Vec::new()) };
        if side == Side::Missing && case.status == Status::Closed {
            return Ok(Vec::new());
        }
        let now = enlace_store::now();
        let mut rows = Vec::new();
        for c in self.index_candidates(&case.person, 50).await? {
            if c.id == case.person_id {
                continue;
            }
            for other in enlace_store::cases::cases_of_person(self.db(), c.id).await? {
                if other.owner_state != case.owner_state {
                    continue;
                }
                let (missing, found) = match (side, self::side(&other)) {
                    (Side::Missing, Some(Side::Found)) => (case, &other),
                    (Side::Found, Some(Side::Missing)) if other.status != Status::Closed => (&other, case),
                    _ => continue,
                };
                if enlace_store::matches::exists(self.db(), missing.id, found.id).await? {
                    continue;
                }
                rows.push(MatchRow {
                    id: Uuid::now_v7(),
                    missing_case: missing.id,
                    missing_person: missing.person_id,
                    found_case: found.id,
                    found_person: found.person_id,
                    owner_state: case.owner_state,
                    probability: c.explanation.probability,
                    band: c.explanation.band.as_str().to_string(),
                    explanation: serde_json::to_string(&c.explanation).unwrap_or_default(),
                    status: "pending".into(),
                    found_at: now,
                    decided_by: None,
                    decided_by_name: None,
                    decided_at: None,
                    note: None,
                });
            }
        }
        Ok(rows)
    }

    /// Starts the background worker (once): every second it writes the blocking keys of
    /// persons changed since its last round and matches newly registered cases, both within
    /// per-second budgets. It holds no strong reference to the application and ends with it.
    pub fn start_linkage_worker(&self) -> &tokio::sync::mpsc::Sender<Case> {
        self.inner.matcher.get_or_init(|| {
            let (tx, mut rx) = tokio::sync::mpsc::channel::<Case>(MATCH_QUEUE);
            let app = std::sync::Arc::downgrade(&self.inner);
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                // Registrations taken from the queue, waiting for their turn.
                let mut pending: std::collections::VecDeque<Case> = std::collections::VecDeque::new();
                // Where the last round stopped. Every tenth round starts again from the mark
                // (which moves only past surely committed persons), so a person committed
                // late, behind the cursor, still gets keys.
                let mut cursor = None;
                let mut rounds: u64 = 0;
                loop {
                    tick.tick().await;
                    rounds += 1;
                    if rounds.is_multiple_of(10) {
                        cursor = None;
                    }
                    let Some(inner) = app.upgrade() else { return };
                    let app = App { inner };
                    loop {
                        if pending.len() >= MATCH_QUEUE {
                            break;
                        }
                        match rx.try_recv() {
                            Ok(case) => pending.push_back(case),
                            Err(tokio::sync::mpsc::error::TryRecvError::Empty) => break,
                            Err(tokio::sync::mpsc::error::TryRecvError::Disconnected) => return,
                        }
                    }
                    // Matching waits until every person written so far (these registrations'
                    // included) has keys, else a match would be missed for good; behind a
                    // flood, the queue fills and the sweep follows.
                    let keys_current = match app.index_some_person_keys(cursor, KEYS_PER_TICK).await {
                        Ok((n, last)) => {
                            cursor = last.or(cursor);
                            (n as i64) < KEYS_PER_TICK
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "writing blocking keys failed; will retry");
                            false
                        }
                    };
                    if !keys_current {
                        continue;
                    }
                    for _ in 0..MATCHES_PER_TICK {
                        let Some(case) = pending.pop_front() else { break };
                        if let Err(e) = app.match_case(&case).await {
                            tracing::warn!(error = %e, "missing-person matching failed; the sweep will retry");
                        }
                    }
                }
            });
            tx
        })
    }

    /// Hands a newly registered case to the background worker. The queue is bounded: when a
    /// flood of registrations fills it, the rest wait for the periodic sweep.
    pub(crate) fn queue_for_matching(&self, case: Case) {
        if self.start_linkage_worker().try_send(case).is_err() {
            tracing::debug!("matching queue full; the sweep will match this case");
        }
    }

    /// Proposes and stores the matches a case calls for; returns how many were added.
    pub async fn match_case(&self, case: &Case) -> Result<usize, AppError> {
        let rows = self.propose_matches(case).await?;
        if rows.is_empty() {
            return Ok(0);
        }
        self.db()
            .write(move |tx| {
                let rows = rows.clone();
                Box::pin(async move { insert_matches(tx, &rows).await })
            })
            .await
    }

    /// Looks again at every open missing-person report (what arrived through other processes,
    /// or while matching was failing). Returns how many matches were added to the queue.
    pub async fn sweep_missing_matches(&self) -> Result<usize, AppError> {
        let (mut after, mut added) = (None, 0);
        loop {
            let page = enlace_store::cases::open_missing_cases(self.db(), after, 200).await?;
            for case in &page {
                added += self.match_case(case).await?;
            }
            match page.last() {
                Some(c) if page.len() == 200 => after = Some(c.id),
                _ => return Ok(added),
            }
        }
    }

    /// The sweep a running node does: the cases of every person changed since `since` (new
    /// registrations, imports, rectifications) are matched again. Cheap when little changed,
    /// unlike [`Self::sweep_missing_matches`], which looks at every open report.
    pub async fn sweep_changed_since(&self, since: DateTime<Utc>) -> Result<usize, AppError> {
        // Everything changed until now (and a little after, for clocks a moment apart).
        let until = enlace_store::now() + FEED_OVERLAP;
        let (mut after, mut added) = ((since, None), 0);
        loop {
            let page = enlace_store::persons::changed_after(self.db(), after, until, FEED_PAGE).await?;
            for (p, _) in &page {
                for case in enlace_store::cases::cases_of_person(self.db(), p.id).await? {
                    if side(&case).is_some() {
                        added += self.match_case(&case).await?;
                    }
                }
            }
            match page.last() {
                Some((p, at)) if page.len() as i64 == FEED_PAGE => after = (*at, Some(p.id)),
                _ => return Ok(added),
            }
        }
    }

    /// The running node's periodic sweep: matches the cases of persons changed since the last
    /// sweep (its mark is kept in the database, so a restart neither repeats nor skips work).
    /// The first sweep ever only sets the mark. Returns how many matches were added.
    pub async fn sweep_due(&self) -> Result<usize, AppError> {
        let started = enlace_store::now();
        let added = match enlace_store::matches::mark(self.db(), SWEEP_JOB).await? {
            None => 0,
            Some((mark, _)) => {
                // The persons the sweep looks at must have their keys (to be found by others).
                self.catch_up_person_keys(false).await?;
                self.sweep_changed_since(mark - FEED_OVERLAP).await?
            }
        };
        self.db()
            .write(move |tx| {
                Box::pin(async move {
                    Ok::<_, AppError>(enlace_store::matches::set_mark(tx, SWEEP_JOB, started, None).await?)
                })
            })
            .await?;
        Ok(added)
    }

    /// A page of the actor's state's review queue: matches whose two cases the actor may read.
    pub async fn list_matches(
        &self,
        actor: &Actor,
        status: MatchStatus,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<MatchPage, AppError> {
        self.guard(actor, access::require_case_worker(actor)).await?;
        if !(1..=100).contains(&limit) {
            return Err(AppError::invalid("limit", "must be between 1 and 100"));
        }
        let mut after = cursor.map(parse_cursor).transpose()?;
        let mut items = Vec::new();
        let mut next = None;
        'pages: loop {
            let batch = 2 * limit as i64;
            let rows =
                enlace_store::matches::list(self.db(), actor.user.state, status.as_str(), after, batch)
                    .await?;
            for r in &rows {
                if items.len() == limit as usize {
                    next = after;
                    break 'pages;
                }
                after = Some((r.found_at, r.id));
                if let Some(v) = self.visible_match(actor, r).await? {
                    items.push(v);
                }
            }
            if (rows.len() as i64) < batch {
                break;
            }
        }
        if !items.is_empty() {
            let ids: Vec<String> = items.iter().map(|m| m.id.to_string()).collect();
            self.audit_read(actor, "match.list", "match", "list".into(), serde_json::json!({"matches": ids}))
                .await?;
        }
        Ok(MatchPage { items, next_cursor: next.map(|(at, id)| format!("{}~{id}", at.timestamp_micros())) })
    }

    /// The matches that involve a case (whose other case the actor may read too).
    pub async fn case_matches(&self, actor: &Actor, case: CaseId) -> Result<Vec<MatchView>, AppError> {
        self.read_case_for(actor, case, "matches").await?;
        self.matches_of(actor, case).await
    }

    /// [`Self::case_matches`] for a case the caller has just read (and so audited): only
    /// matches whose two cases the actor may read.
    pub async fn matches_of(&self, actor: &Actor, case: CaseId) -> Result<Vec<MatchView>, AppError> {
        let mut out = Vec::new();
        for r in enlace_store::matches::for_case(self.db(), case).await? {
            if let Some(v) = self.visible_match(actor, &r).await? {
                out.push(v);
            }
        }
        Ok(out)
    }

    /// Records an officer's decision on a pending match, audited in the same transaction.
    pub async fn decide_match(
        &self,
        actor: &Actor,
        id: Uuid,
        d: MatchDecision,
    ) -> Result<MatchView, AppError> {
        self.guard(actor, access::require_case_worker(actor)).await?;
        let now = enlace_store::now();
        let actor_w = actor.clone();
        let row = self
            .write_as(actor, move |tx| {
                let actor = actor_w.clone();
                let d = d.clone();
                Box::pin(async move {
                    let m =
                        enlace_store::matches::get_tx(tx, id).await?.ok_or(AppError::NotFound("match"))?;
                    if m.owner_state != actor.user.state {
                        return Err(AppError::NotFound("match"));
                    }
                    let mut numbers = Vec::new();
                    for case in [m.missing_case, m.found_case] {
                        let c = Self::load_for_change(tx, &actor, case).await?;
                        numbers.push(c.number.to_string());
                    }
                    let note = d.note.as_ref().map(|n| n.as_str());
                    if !enlace_store::matches::decide(tx, id, d.decision.as_str(), actor.user.id, now, note)
                        .await?
                    {
                        return Err(AppError::Conflict("this match was already decided".into()));
                    }
                    let detail = serde_json::json!({
                        "decision": d.decision.as_str(), "missing_case": numbers[0], "found_case": numbers[1],
                    });
                    audit(tx, event(Some(&actor), "match.decide", "match", Some(id.to_string()), detail))
                        .await?;
                    enlace_store::matches::get_tx(tx, id).await?.ok_or(AppError::NotFound("match"))
                })
            })
            .await?;
        self.visible_match(actor, &row).await?.ok_or(AppError::NotFound("match"))
    }

    /// A match as the actor may see it: `None` when either case is outside their reach.
    async fn visible_match(&self, actor: &Actor, r: &MatchRow) -> Result<Option<MatchView>, AppError> {
        let mut sides = Vec::with_capacity(2);
        for id in [r.missing_case, r.found_case] {
            let Some(c) = enlace_store::cases::get_case(self.db(), id).await? else { return Ok(None) };
            let Ok(c) = readable(actor, Some(c)) else { return Ok(None) };
            let granted = needs_grant(actor, &c)
                && enlace_store::break_glass::active(self.db(), actor.user.id, c.id, enlace_store::now())
                    .await?;
            let Ok(c) = unrestricted(actor, c, granted) else { return Ok(None) };
            sides.push(MatchSideView { case: CaseBrief::from(&c), person: c.person });
        }
        let explanation: Explanation = serde_json::from_str(&r.explanation)
            .map_err(|e| AppError::Unavailable(format!("stored match explanation: {e}")))?;
        let found = sides.pop().expect("two sides");
        let missing = sides.pop().expect("two sides");
        Ok(Some(MatchView {
            id: r.id,
            status: r.status.clone(),
            score: Score::from(&explanation),
            found_at: r.found_at,
            missing,
            found,
            decided_by: r.decided_by_name.clone(),
            decided_at: r.decided_at,
            note: r.note.clone(),
        }))
    }
}

/// Adds proposed matches (skipping pairs already there) with an audit event each; returns how
/// many were added. Runs in the caller's transaction.
pub(crate) async fn insert_matches(tx: &mut enlace_store::Tx, rows: &[MatchRow]) -> Result<usize, AppError> {
    let mut added = 0;
    for m in rows {
        if enlace_store::matches::insert(tx, m).await? {
            added += 1;
            let detail = serde_json::json!({
                "missing_case": m.missing_case.to_string(), "found_case": m.found_case.to_string(),
                "probability": m.probability, "band": m.band,
            });
            audit(tx, event(None, "match.propose", "match", Some(m.id.to_string()), detail)).await?;
        }
    }
    Ok(added)
}

fn parse_cursor(s: &str) -> Result<(DateTime<Utc>, Uuid), AppError> {
    let bad = || AppError::invalid("cursor", "is not a cursor this list gave");
    let (micros, id) = s.split_once('~').ok_or_else(bad)?;
    let at = micros.parse::<i64>().ok().and_then(DateTime::<Utc>::from_timestamp_micros).ok_or_else(bad)?;
    Ok((at, id.parse().map_err(|_| bad())?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(json: serde_json::Value) -> PersonData {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn the_engine_sees_names_birth_and_attributes() {
        let p = person(serde_json::json!({
            "given_names": ["María", "José"], "surnames": ["Gutiérrez", "Hernández"], "sex": "female",
            "birth": {"kind": "estimated_age", "min_years": 30, "max_years": 35, "estimated_on": "2026-06-01"},
            "nationalities": ["HN"], "birth_place": "Choluteca",
            "documents": [{"kind": "passport", "number": "F123456", "issuing_state": "HN"}]
        }));
        let l = to_linkage(&p);
        assert_eq!(l.given_names, ["María", "José"]);
        assert_eq!(l.surnames, ["Gutiérrez", "Hernández"]);
        assert_eq!(l.birth, enlace_linkage::Birth::Range { from: 1991, to: 1996 });
        assert_eq!(
            l.attributes,
            [Some("F".into()), Some("HN".into()), Some("Choluteca".into()), Some("F123456".into())]
        );
        let p = person(serde_json::json!({
            "given_names": ["Kevin"], "sex": "unknown", "birth": {"kind": "year", "year": 2009}
        }));
        let l = to_linkage(&p);
        assert_eq!(l.birth, enlace_linkage::Birth::Year { year: 2009 });
        assert_eq!(l.attributes, [None, None, None, None]);
    }

    #[test]
    fn the_prior_follows_the_size_of_the_index() {
        let (small, large) = (model_for(10), model_for(1_000_000));
        assert_eq!(small.prior, model_for(1_000).prior, "small nodes share a floor");
        assert!(small.prior > large.prior * 100.0);
        assert!(small.prior <= 0.01);
    }

    #[test]
    fn cursors_round_trip_and_refuse_junk() {
        let at = DateTime::<Utc>::from_timestamp_micros(1_780_000_000_123_456).unwrap();
        let id = Uuid::now_v7();
        assert_eq!(parse_cursor(&format!("{}~{id}", at.timestamp_micros())).unwrap(), (at, id));
        for bad in ["", "x~y", "12", "12~not-a-uuid", "~"] {
            assert!(parse_cursor(bad).is_err(), "{bad}");
        }
    }
}
