//! Retention rules, legal holds, and the removal of closed cases whose time is up.

use chrono::{DateTime, Utc};
use enlace_domain::case::{CaseNumber, Category};
use enlace_domain::country::CountryCode;
use enlace_domain::ids::{CaseId, PersonId, UserId};
use enlace_domain::person::PersonData;
use enlace_domain::retention::{RetentionAction, RetentionRule};

use crate::row::{RowExt, parse, parse_opt, to_json};
use crate::{Db, StoreError, Tx, on_read, on_tx};

pub async fn put_rule(
    tx: &mut Tx,
    state: CountryCode,
    r: &RetentionRule,
    by: UserId,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO retention_rules (state, category, years, action, updated_at, updated_by)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (state, category) DO UPDATE SET years = $3, action = $4, updated_at = $5, updated_by = $6")
        .bind(state.as_str()).bind(r.category.as_str()).bind(i64::from(r.years)).bind(r.action.as_str())
        .bind(now).bind(by.0).execute(&mut *c).await.map(|_| ())?);
    Ok(())
}

/// The rules of one state, or of every state.
pub async fn rules(
    db: &Db,
    state: Option<CountryCode>,
) -> Result<Vec<(CountryCode, RetentionRule)>, StoreError> {
    let st = state.map(|s| s.as_str().to_string());
    on_read!(db, p => {
        let rows = sqlx::query(
            "SELECT state, category, years, action FROM retention_rules WHERE ($1 IS NULL OR state = $1)
             ORDER BY state, category")
            .bind(st).fetch_all(p).await?;
        rows.iter().map(|r| Ok((
            parse("state", &r.text("state")?, CountryCode::parse)?,
            RetentionRule {
                category: parse_opt("category", &r.text("category")?, Category::parse)?,
                years: u32::try_from(r.int("years")?).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                action: parse_opt("action", &r.text("action")?, RetentionAction::parse)?,
            },
        ))).collect()
    })
}

/// A closed case whose time is up.
#[derive(Debug, Clone)]
pub struct DueCase {
    pub id: CaseId,
    pub number: CaseNumber,
    pub person: PersonId,
    pub closed_at: DateTime<Utc>,
}

/// Closed cases of `state` and `category` closed before `before`, not on legal hold and not
/// anonymised yet, oldest first.
pub async fn due(
    db: &Db,
    state: CountryCode,
    category: Category,
    before: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<DueCase>, StoreError> {
    on_read!(db, p => {
        let rows = sqlx::query(
            "SELECT id, owner_state, year, seq, person_id, closed_at FROM cases
             WHERE owner_state = $1 AND category = $2 AND closed_at IS NOT NULL AND closed_at < $3
               AND status = 'closed' AND legal_hold = $4 AND anonymised_at IS NULL
             ORDER BY closed_at, id LIMIT $5")
            .bind(state.as_str()).bind(category.as_str()).bind(before).bind(false).bind(limit)
            .fetch_all(p).await?;
        rows.iter().map(|r| Ok(DueCase {
            id: CaseId(r.uuid("id")?),
            number: CaseNumber {
                state: parse("owner_state", &r.text("owner_state")?, CountryCode::parse)?,
                year: r.int("year")? as i32,
                seq: r.int("seq")?,
            },
            person: PersonId(r.uuid("person_id")?),
            closed_at: r.ts("closed_at")?,
        })).collect()
    })
}

/// Puts a case on legal hold (or lifts it); false when there is no such case.
pub async fn set_legal_hold(tx: &mut Tx, case: CaseId, hold: bool) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query("UPDATE cases SET legal_hold = $1 WHERE id = $2")
        .bind(hold).bind(case.0).execute(&mut *c).await?.rows_affected());
    Ok(n > 0)
}

pub async fn legal_hold(db: &Db, case: CaseId) -> Result<bool, StoreError> {
    let v: Option<bool> = on_read!(db, p => sqlx::query_scalar("SELECT legal_hold FROM cases WHERE id = $1")
        .bind(case.0).fetch_optional(p).await?);
    Ok(v.unwrap_or(false))
}

/// How many other cases refer to `person` and are not anonymised.
async fn other_live_cases(tx: &mut Tx, person: PersonId, except: CaseId) -> Result<i64, StoreError> {
    Ok(on_tx!(tx, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM cases WHERE person_id = $1 AND id <> $2 AND anonymised_at IS NULL")
        .bind(person.0).bind(except.0).fetch_one(&mut *c).await?))
}

/// Deletes a case with its records (transitions, actions, attachments, consents, search
/// terms), and its person when no other case refers to it. Returns whether the person went too.
pub async fn purge(tx: &mut Tx, case: CaseId, person: PersonId) -> Result<bool, StoreError> {
    on_tx!(tx, c => sqlx::query("DELETE FROM cases WHERE id = $1").bind(case.0).execute(&mut *c).await.map(|_| ())?);
    on_tx!(tx, c => sqlx::query("DELETE FROM case_facts WHERE case_id = $1").bind(case.0).execute(&mut *c).await.map(|_| ())?);
    crate::matches::forget_case(tx, case).await?;
    let others: i64 = on_tx!(tx, c => sqlx::query_scalar("SELECT COUNT(*) FROM cases WHERE person_id = $1")
        .bind(person.0).fetch_one(&mut *c).await?);
    if others == 0 {
        on_tx!(tx, c => sqlx::query("DELETE FROM persons WHERE id = $1").bind(person.0).execute(&mut *c).await.map(|_| ())?);
    }
    Ok(others == 0)
}

/// Removes a case's free text and records (narrative, parts, actions, attachments, consents,
/// transition reasons) and marks it anonymised; the person is replaced by `anonymous` when no
/// other live case refers to them. Returns whether the person was anonymised (the caller then
/// re-indexes the case's search terms).
pub async fn anonymise(
    tx: &mut Tx,
    case: &DueCase,
    anonymous: &PersonData,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let id = case.id.0;
    crate::matches::forget_case(tx, case.id).await?;
    on_tx!(tx, c => {
        sqlx::query("UPDATE cases SET narrative = NULL, parts = '{}', anonymised_at = $1,
                     version = version + 1, updated_at = $1 WHERE id = $2")
            .bind(now).bind(id).execute(&mut *c).await?;
        for table in ["DELETE FROM actions WHERE case_id = $1", "DELETE FROM attachments WHERE case_id = $1",
                      "DELETE FROM consents WHERE case_id = $1", "UPDATE transitions SET reason = NULL WHERE case_id = $1",
                      "DELETE FROM case_search WHERE case_id = $1"] {
            sqlx::query(table).bind(id).execute(&mut *c).await?;
        }
    });
    if other_live_cases(tx, case.person, case.id).await? > 0 {
        if let Some(c) = crate::cases::get_case_tx(tx, case.id).await? {
            crate::cases::put_facts(tx, &c).await?;
        }
        return Ok(false);
    }
    on_tx!(tx, c => sqlx::query("UPDATE persons SET data = $1, full_name = $2, version = version + 1, updated_at = $3 WHERE id = $4")
        .bind(to_json(anonymous)).bind(anonymous.full_name()).bind(now).bind(case.person.0)
        .execute(&mut *c).await.map(|_| ())?);
    on_tx!(tx, c => sqlx::query("UPDATE cases SET person_name = $1 WHERE person_id = $2")
        .bind(anonymous.full_name()).bind(case.person.0).execute(&mut *c).await.map(|_| ())?);
    crate::cases::refresh_facts_of_person(tx, case.person).await?;
    Ok(true)
}
