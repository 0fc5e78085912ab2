//! Persons (data subjects).

use chrono::{DateTime, Utc};
use enlace_domain::ids::PersonId;
use enlace_domain::person::{Person, PersonData};

use crate::row::{RowExt, json, to_json};
use crate::{Db, Inserts, StoreError, Tx, Val, on_read, on_tx};

pub(crate) fn person_from_row(r: &impl RowExt) -> Result<Person, StoreError> {
    Ok(Person {
        id: PersonId(r.uuid("id")?),
        version: r.int("version")?,
        data: json("data", &r.text("data")?)?,
    })
}

pub async fn insert_person(tx: &mut Tx, p: &Person, now: DateTime<Utc>) -> Result<(), StoreError> {
    let mut ins = Inserts::default();
    push_person(&mut ins, p, now);
    ins.execute(tx).await
}

/// The persons holding a blocking key, at most `limit`.
pub async fn with_key(db: &Db, key: i64, limit: i64) -> Result<Vec<PersonId>, StoreError> {
    let ids: Vec<uuid::Uuid> = on_read!(db, p => sqlx::query_scalar(
        "SELECT person_id FROM person_keys WHERE key = $1 LIMIT $2")
        .bind(key).bind(limit).fetch_all(p).await?);
    Ok(ids.into_iter().map(PersonId).collect())
}

/// The persons with these ids that exist.
pub async fn get_many(db: &Db, ids: &[PersonId]) -> Result<Vec<Person>, StoreError> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let marks: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 1)).collect();
        let sql = format!("SELECT id, version, data FROM persons WHERE id IN ({})", marks.join(", "));
        let rows = on_read!(db, p => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(id.0);
            }
            let rows = q.fetch_all(p).await?;
            rows.iter().map(person_from_row).collect::<Result<Vec<_>, _>>()?
        });
        out.extend(rows);
    }
    Ok(out)
}

pub(crate) fn push_person(ins: &mut Inserts, p: &Person, now: DateTime<Utc>) {
    let (id, version, data) =
        (ins.arg(Val::Uuid(p.id.0)), ins.arg(Val::Int(p.version)), ins.arg(Val::Text(to_json(&p.data))));
    let (name, now) = (ins.arg(Val::Text(p.data.full_name())), ins.arg(Val::Ts(now)));
    ins.push(format!(
        "INSERT INTO persons (id, version, data, full_name, created_at, updated_at) VALUES ({id}, {version}, {data}, {name}, {now}, {now})"
    ));
}

pub async fn get_person(db: &Db, id: PersonId) -> Result<Option<Person>, StoreError> {
    on_read!(db, p => {
        let row = sqlx::query("SELECT id, version, data FROM persons WHERE id = $1").bind(id.0).fetch_optional(p).await?;
        row.as_ref().map(person_from_row).transpose()
    })
}

pub async fn get_person_tx(tx: &mut Tx, id: PersonId) -> Result<Option<Person>, StoreError> {
    on_tx!(tx, c => {
        let row = sqlx::query("SELECT id, version, data FROM persons WHERE id = $1").bind(id.0).fetch_optional(&mut *c).await?;
        row.as_ref().map(person_from_row).transpose()
    })
}

/// Replaces a person's data if the stored version is `expected`; returns the new version,
/// or `None` when the version did not match (a concurrent update won).
pub async fn update_person(
    tx: &mut Tx,
    id: PersonId,
    expected: i64,
    data: &PersonData,
    now: DateTime<Utc>,
) -> Result<Option<i64>, StoreError> {
    let n = on_tx!(tx, c => sqlx::query(
        "UPDATE persons SET data = $1, full_name = $2, version = version + 1, updated_at = $3
         WHERE id = $4 AND version = $5")
        .bind(to_json(data)).bind(data.full_name()).bind(now).bind(id.0).bind(expected)
        .execute(&mut *c).await?.rows_affected());
    if n == 0 {
        return Ok(None);
    }
    on_tx!(tx, c => sqlx::query("UPDATE cases SET person_name = $1 WHERE person_id = $2")
        .bind(data.full_name()).bind(id.0).execute(&mut *c).await.map(|_| ())?);
    crate::cases::refresh_facts_of_person(tx, id).await?;
    Ok(Some(expected + 1))
}

/// The cases about a person.
pub async fn case_ids(db: &Db, id: PersonId) -> Result<Vec<enlace_domain::ids::CaseId>, StoreError> {
    let ids: Vec<uuid::Uuid> = on_read!(db, p => sqlx::query_scalar("SELECT id FROM cases WHERE person_id = $1")
        .bind(id.0).fetch_all(p).await?);
    Ok(ids.into_iter().map(enlace_domain::ids::CaseId).collect())
}

/// Persons changed (created, rectified, anonymised) after the keyset `after` (in
/// `(updated_at, id)` order; no id: from that time on) and before `until`, at most `limit`: the
/// feed the node's background jobs follow.
pub async fn changed_after(
    db: &Db,
    after: (DateTime<Utc>, Option<PersonId>),
    until: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<(Person, DateTime<Utc>)>, StoreError> {
    let (at, id) = (after.0, after.1.map(|p| p.0).unwrap_or(uuid::Uuid::nil()));
    on_read!(db, p => {
        let rows = sqlx::query(
            "SELECT id, version, data, updated_at FROM persons
             WHERE updated_at >= $1 AND (updated_at > $1 OR id > $2) AND updated_at < $3
             ORDER BY updated_at, id LIMIT $4")
            .bind(at).bind(id).bind(until).bind(limit).fetch_all(p).await?;
        rows.iter().map(|r| Ok((person_from_row(r)?, r.ts("updated_at")?))).collect()
    })
}

/// Adds blocking keys of persons (those already there are kept).
pub async fn add_keys(tx: &mut Tx, keyed: &[(PersonId, Vec<i64>)]) -> Result<(), StoreError> {
    for chunk in keyed.chunks(50) {
        let mut ins = Inserts::default();
        let mut rows = Vec::new();
        for (person, keys) in chunk {
            let p = ins.arg(Val::Uuid(person.0));
            for k in keys {
                let k = ins.arg(Val::Int(*k));
                rows.push(format!("({k}, {p})"));
            }
        }
        if rows.is_empty() {
            continue;
        }
        ins.push(format!(
            "INSERT INTO person_keys (key, person_id) VALUES {} ON CONFLICT DO NOTHING",
            rows.join(", ")
        ));
        ins.execute(tx).await?;
    }
    Ok(())
}

/// How many persons the node holds.
pub async fn count(db: &Db) -> Result<i64, StoreError> {
    Ok(on_read!(db, p => sqlx::query_scalar("SELECT COUNT(*) FROM persons").fetch_one(p).await?))
}
