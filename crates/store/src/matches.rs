//! The review queue of possible matches between a missing-person report and a detained,
//! hospitalised, deceased or returned person. Rows are never re-proposed once they exist.

use chrono::{DateTime, Utc};
use enlace_domain::country::CountryCode;
use enlace_domain::ids::{CaseId, PersonId, UserId};
use uuid::Uuid;

use crate::row::{RowExt, parse};
use crate::{Db, StoreError, Tx, on_read, on_tx};

/// A stored match. `explanation` is the linkage engine's explanation as JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchRow {
    pub id: Uuid,
    pub missing_case: CaseId,
    pub missing_person: PersonId,
    pub found_case: CaseId,
    pub found_person: PersonId,
    pub owner_state: CountryCode,
    pub probability: f64,
    pub band: String,
    pub explanation: String,
    /// `pending`, `same` or `not_same`.
    pub status: String,
    pub found_at: DateTime<Utc>,
    pub decided_by: Option<UserId>,
    pub decided_by_name: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub note: Option<String>,
}

const SELECT: &str =
    "SELECT m.id, m.missing_case, m.missing_person, m.found_case, m.found_person, m.owner_state,
    m.probability, m.band, m.explanation, m.status, m.found_at, m.decided_by, u.username AS decided_by_name,
    m.decided_at, m.note FROM person_matches m LEFT JOIN users u ON u.id = m.decided_by";

fn from_row(r: &impl RowExt) -> Result<MatchRow, StoreError> {
    Ok(MatchRow {
        id: r.uuid("id")?,
        missing_case: CaseId(r.uuid("missing_case")?),
        missing_person: PersonId(r.uuid("missing_person")?),
        found_case: CaseId(r.uuid("found_case")?),
        found_person: PersonId(r.uuid("found_person")?),
        owner_state: parse("owner_state", &r.text("owner_state")?, CountryCode::parse)?,
        probability: r.float("probability")?,
        band: r.text("band")?,
        explanation: r.text("explanation")?,
        status: r.text("status")?,
        found_at: r.ts("found_at")?,
        decided_by: r.opt_uuid("decided_by")?.map(UserId),
        decided_by_name: r.opt_text("decided_by_name")?,
        decided_at: r.opt_ts("decided_at")?,
        note: r.opt_text("note")?,
    })
}

/// Adds a proposed match unless the pair of cases already has one (pending or decided).
/// Returns whether it was added.
pub async fn insert(tx: &mut Tx, m: &MatchRow) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query(
        "INSERT INTO person_matches (id, missing_case, missing_person, found_case, found_person, owner_state,
             probability, band, explanation, status, found_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (missing_case, found_case) DO NOTHING")
        .bind(m.id).bind(m.missing_case.0).bind(m.missing_person.0).bind(m.found_case.0).bind(m.found_person.0)
        .bind(m.owner_state.as_str()).bind(m.probability).bind(&m.band).bind(&m.explanation).bind(&m.status)
        .bind(m.found_at)
        .execute(&mut *c).await?.rows_affected());
    Ok(n == 1)
}

/// Whether a pair of cases already has a match row.
pub async fn exists(db: &Db, missing_case: CaseId, found_case: CaseId) -> Result<bool, StoreError> {
    let n: i64 = on_read!(db, p => sqlx::query_scalar(
        "SELECT COUNT(*) FROM person_matches WHERE missing_case = $1 AND found_case = $2")
        .bind(missing_case.0).bind(found_case.0).fetch_one(p).await?);
    Ok(n > 0)
}

/// A page of a state's matches with this status, oldest first (the queue's order), after the
/// keyset `(found_at, id)`.
pub async fn list(
    db: &Db,
    state: CountryCode,
    status: &str,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<MatchRow>, StoreError> {
    let (at, id) = after.unwrap_or((DateTime::<Utc>::UNIX_EPOCH, Uuid::nil()));
    let sql = sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE m.owner_state = $1 AND m.status = $2 AND (m.found_at > $3 OR (m.found_at = $3 AND m.id > $4))
         ORDER BY m.found_at, m.id LIMIT $5"
    ));
    on_read!(db, p => {
        let rows = sqlx::query(sql).bind(state.as_str()).bind(status).bind(at).bind(id).bind(limit).fetch_all(p).await?;
        rows.iter().map(from_row).collect()
    })
}

/// The matches that involve a case, on either side, newest first.
pub async fn for_case(db: &Db, case: CaseId) -> Result<Vec<MatchRow>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE m.missing_case = $1 OR m.found_case = $1 ORDER BY m.found_at DESC, m.id DESC LIMIT 100"
    ));
    on_read!(db, p => {
        let rows = sqlx::query(sql).bind(case.0).fetch_all(p).await?;
        rows.iter().map(from_row).collect()
    })
}

pub async fn get_tx(tx: &mut Tx, id: Uuid) -> Result<Option<MatchRow>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!("{SELECT} WHERE m.id = $1"));
    on_tx!(tx, c => {
        let row = sqlx::query(sql).bind(id).fetch_optional(&mut *c).await?;
        row.as_ref().map(from_row).transpose()
    })
}

/// Records a decision on a pending match. Returns `false` when it was no longer pending.
pub async fn decide(
    tx: &mut Tx,
    id: Uuid,
    status: &str,
    by: UserId,
    at: DateTime<Utc>,
    note: Option<&str>,
) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query(
        "UPDATE person_matches SET status = $1, decided_by = $2, decided_at = $3, note = $4
         WHERE id = $5 AND status = 'pending'")
        .bind(status).bind(by.0).bind(at).bind(note).bind(id)
        .execute(&mut *c).await?.rows_affected());
    Ok(n == 1)
}

/// Removes a case's matches (the case is purged or anonymised).
pub async fn forget_case(tx: &mut Tx, case: CaseId) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query("DELETE FROM person_matches WHERE missing_case = $1 OR found_case = $1")
        .bind(case.0).execute(&mut *c).await.map(|_| ())?);
    Ok(())
}

/// How far a background job has followed the persons' feed: `(at, person)`, if it ever ran.
pub async fn mark(db: &Db, job: &str) -> Result<Option<(DateTime<Utc>, Option<PersonId>)>, StoreError> {
    on_read!(db, p => {
        let row = sqlx::query("SELECT at, person_id FROM job_marks WHERE name = $1").bind(job).fetch_optional(p).await?;
        row.as_ref().map(|r| Ok((r.ts("at")?, r.opt_uuid("person_id")?.map(PersonId)))).transpose()
    })
}

pub async fn set_mark(
    tx: &mut Tx,
    job: &str,
    at: DateTime<Utc>,
    person: Option<PersonId>,
) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO job_marks (name, at, person_id) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO UPDATE SET at = excluded.at, person_id = excluded.person_id")
        .bind(job).bind(at).bind(person.map(|p| p.0)).execute(&mut *c).await.map(|_| ())?);
    Ok(())
}
