//! The audit log: appended in the caller's transaction, chained by hash.

use enlace_domain::audit::{AuditEvent, ChainedEvent, chain_hash_with};
use enlace_domain::ids::{AuditEventId, UserId};

use chrono::{DateTime, Utc};
use sqlx::AssertSqlSafe;

use crate::row::{RowExt, json};
use crate::{Db, Inserts, PgTx, SqliteTx, StoreError, Tx, Val, bind_owned_vals, bind_vals, on_read};

/// Appends `e` to the chain inside the caller's transaction. Appenders are serialised by the
/// single `audit_head` row (a row lock on PostgreSQL, the write lock on SQLite), so positions
/// are dense and each event names its true predecessor. On SQLite the writer holds the head for
/// its whole batch and writes it back once before the commit (`SqliteTx::flush`).
pub async fn append(tx: &mut Tx, e: &AuditEvent) -> Result<i64, StoreError> {
    append_many(tx, std::slice::from_ref(e)).await
}

/// The position and hash of the last event, as the SQLite writer holds them for its batch
/// (read from `audit_head` by the batch's first appender).
async fn held_head(t: &mut SqliteTx) -> Result<(i64, String), StoreError> {
    if let Some((pos, hash, _)) = &t.held.audit {
        return Ok((*pos, hash.clone()));
    }
    Ok(sqlx::query_as("SELECT pos, hash FROM audit_head WHERE id = 1").fetch_one(&mut *t.tx).await?)
}

/// Appends `e` with the INSERTs of the change it records, so that it goes to the database in
/// the same round trip as the change: on SQLite each round trip is a hand-off to the writer
/// connection's thread and back (the writer's main cost); on PostgreSQL the event's INSERT and
/// the head's UPDATE ride in the change's statement, after the head was locked and read (by
/// [`crate::cases::next_seq`] when asked to, in the same statement as the case number).
pub(crate) async fn append_with(tx: &mut Tx, ins: &mut Inserts, e: &AuditEvent) -> Result<(), StoreError> {
    let (last, prev) = match tx {
        Tx::Sqlite(t) => held_head(t).await?,
        Tx::Postgres(t) => pg_head(t).await?,
    };
    let pos = last + 1;
    let detail = e.detail.to_string();
    let hash = chain_hash_with(&prev, pos, e, &detail);
    let args: Vec<String> =
        event_vals(pos, e, detail, prev, hash.clone()).into_iter().map(|v| ins.arg(v)).collect();
    ins.push(format!("{INSERT_EVENTS}({})", args.join(", ")));
    match tx {
        // A job that fails after this is rolled back with the head the writer held before it.
        Tx::Sqlite(t) => t.held.audit = Some((pos, hash, true)),
        Tx::Postgres(t) => {
            let (p, h) = (ins.arg(Val::Int(pos)), ins.arg(Val::Text(hash.clone())));
            ins.push(format!("UPDATE audit_head SET pos = {p}, hash = {h} WHERE id = 1"));
            // A failed statement aborts the whole PostgreSQL transaction, so this never
            // outlives a write that did not happen.
            t.audit_head = Some((pos, hash));
        }
    }
    Ok(())
}

/// The audit head on PostgreSQL: locked (until the commit) and read by the transaction's first
/// appender, then as the transaction's own appends left it.
async fn pg_head(t: &mut PgTx) -> Result<(i64, String), StoreError> {
    if let Some((pos, hash)) = &t.audit_head {
        return Ok((*pos, hash.clone()));
    }
    let head: (i64, String) = sqlx::query_as("SELECT pos, hash FROM audit_head WHERE id = 1 FOR UPDATE")
        .fetch_one(&mut *t.tx)
        .await?;
    t.audit_head = Some(head.clone());
    Ok(head)
}

/// The SQL that locks and reads the audit head along with another statement's first row, for
/// [`crate::cases::next_seq`]: `WITH` it before the statement and add [`HEAD_COLUMNS`] to its
/// `RETURNING`, which PostgreSQL evaluates after the statement's own row was written and
/// locked, so the head is always locked after that row (the order every other writer of both
/// follows).
pub(crate) const LOCK_HEAD_CTE: &str =
    "audit_h AS (SELECT pos, hash FROM audit_head WHERE id = 1 FOR UPDATE)";
pub(crate) const HEAD_COLUMNS: &str = "(SELECT pos FROM audit_h), (SELECT hash FROM audit_h)";

/// Records a head read with [`LOCK_HEAD_CTE`].
pub(crate) fn pg_head_locked(t: &mut PgTx, pos: i64, hash: String) {
    t.audit_head = Some((pos, hash));
}

/// An event's row, in the column order of [`INSERT_EVENTS`] (`detail` is `e.detail` serialised,
/// the text its hash was computed over).
fn event_vals(pos: i64, e: &AuditEvent, detail: String, prev_hash: String, hash: String) -> [Val; 12] {
    [
        Val::Int(pos),
        Val::Uuid(e.id.0),
        Val::Ts(e.at),
        Val::OptUuid(e.actor.map(|a| a.0)),
        Val::Text(e.actor_name.clone()),
        Val::Text(e.action.clone()),
        Val::Text(e.record_type.clone()),
        Val::OptText(e.record_id.clone()),
        Val::Text(detail),
        Val::OptText(e.source.clone()),
        Val::Text(prev_hash),
        Val::Text(hash),
    ]
}

/// The start of an INSERT of audit events, up to `VALUES `.
const INSERT_EVENTS: &str = "INSERT INTO audit_events (pos, id, at, actor, actor_name, action, record_type, \
     record_id, detail, source, prev_hash, hash) VALUES ";

fn event_from_row(r: &impl RowExt) -> Result<ChainedEvent, StoreError> {
    Ok(ChainedEvent {
        pos: r.int("pos")?,
        event: AuditEvent {
            id: AuditEventId(r.uuid("id")?),
            at: r.ts("at")?,
            actor: r.opt_uuid("actor")?.map(UserId),
            actor_name: r.text("actor_name")?,
            action: r.text("action")?,
            record_type: r.text("record_type")?,
            record_id: r.opt_text("record_id")?,
            detail: json("detail", &r.text("detail")?)?,
            source: r.opt_text("source")?,
        },
        prev_hash: r.text("prev_hash")?,
        hash: r.text("hash")?,
    })
}

/// Events in chain order from position `after` (exclusive), at most `limit`.
pub async fn events_after(db: &Db, after: i64, limit: i64) -> Result<Vec<ChainedEvent>, StoreError> {
    on_read!(db, p => {
        let rows = sqlx::query("SELECT pos, id, at, actor, actor_name, action, record_type, record_id, detail, source, prev_hash, hash FROM audit_events WHERE pos > $1 ORDER BY pos LIMIT $2")
            .bind(after).bind(limit).fetch_all(p).await?;
        rows.iter().map(event_from_row).collect()
    })
}

/// The events about one record, oldest first.
pub async fn events_for_record(
    db: &Db,
    record_type: &str,
    record_id: &str,
) -> Result<Vec<ChainedEvent>, StoreError> {
    let f = EventFilter {
        record_type: Some(record_type.to_string()),
        record_id: Some(record_id.to_string()),
        ..EventFilter::default()
    };
    let mut events = select_events(db, &f, None).await?;
    events.reverse();
    Ok(events)
}

/// Positions per block of the audit log's index by record, `(pos / RECORD_BLOCK, record_id)`
/// (migration 0023): read events, whose records are random, land in the leaves of the newest
/// block instead of one random leaf each. A query for a record probes each block in turn, newest
/// first: a log of 100 million events is ~24,000 probes.
const RECORD_BLOCK: i64 = 4096;

/// The start of a query of events and the condition that lets the database probe the record
/// index block by block, from the block of the log's last event (or of the cursor `before`,
/// when lower: a cursor is the caller's number, and blocks past the log's end are never
/// generated) down to block 0. SQLite gets the blocks from a recursive CTE, PostgreSQL from
/// `generate_series` as an array, so that each backend looks each block up in the index
/// rather than scanning the log.
fn record_probe(backend: crate::Backend, before: Option<&str>) -> (String, String) {
    let b = RECORD_BLOCK;
    let last = "(SELECT coalesce(max(pos), 0) FROM audit_events)";
    match backend {
        crate::Backend::Sqlite => {
            let upper = before.map_or(last.to_string(), |c| format!("min({last}, {c} - 1)"));
            (
                format!(
                    "WITH RECURSIVE blk(b) AS (SELECT {upper} / {b} UNION ALL SELECT b - 1 FROM blk WHERE b > 0) "
                ),
                format!(" AND (pos / {b}) IN (SELECT b FROM blk)"),
            )
        }
        crate::Backend::Postgres => {
            let upper = before.map_or(last.to_string(), |c| format!("least({last}, {c} - 1)"));
            (
                String::new(),
                format!(" AND (pos / {b}) = ANY(ARRAY(SELECT generate_series({upper} / {b}, 0, -1)))"),
            )
        }
    }
}

/// The head of the chain as the node recorded it: the last position and its hash.
pub async fn head(db: &Db) -> Result<(i64, String), StoreError> {
    on_read!(db, p => Ok(sqlx::query_as("SELECT pos, hash FROM audit_head WHERE id = 1").fetch_one(p).await?))
}

/// What the audit viewer asks for. Every filter is optional; events come newest first.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub actor: Option<UserId>,
    pub record_type: Option<String>,
    pub record_id: Option<String>,
    /// An action (`case.read`) or a family of actions (`case.`, `auth.`).
    pub action: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Only events before this position (the cursor of the previous page).
    pub before: Option<i64>,
    pub limit: u32,
}

/// A page of events matching `f`, newest first.
pub async fn list_events(db: &Db, f: &EventFilter) -> Result<Vec<ChainedEvent>, StoreError> {
    select_events(db, f, Some(i64::from(f.limit.clamp(1, 1000)))).await
}

/// The events matching `f`, newest first, at most `limit` of them.
async fn select_events(
    db: &Db,
    f: &EventFilter,
    limit: Option<i64>,
) -> Result<Vec<ChainedEvent>, StoreError> {
    let mut vals: Vec<Val> = Vec::new();
    let mut arg = |v: Val| {
        vals.push(v);
        format!("${}", vals.len())
    };
    let mut with = String::new();
    let mut sql = String::from(
        "SELECT pos, id, at, actor, actor_name, action, record_type, record_id, detail, source, prev_hash, hash FROM audit_events WHERE 1 = 1",
    );
    if let Some(a) = f.actor {
        sql += &format!(" AND actor = {}", arg(Val::Uuid(a.0)));
    }
    if let Some(t) = &f.record_type {
        sql += &format!(" AND record_type = {}", arg(Val::Text(t.clone())));
    }
    if let Some(r) = &f.record_id {
        sql += &format!(" AND record_id = {}", arg(Val::Text(r.clone())));
        // `before - 1` is computed by the database: a cursor of i64::MIN must not overflow here.
        let before = f.before.map(|b| arg(Val::Int(b.max(1))));
        let probe;
        (with, probe) = record_probe(db.backend(), before.as_deref());
        sql += &probe;
    }
    match &f.action {
        Some(a) if a.ends_with('.') => {
            let n = a.chars().count();
            sql += &format!(" AND substr(action, 1, {n}) = {}", arg(Val::Text(a.clone())));
        }
        Some(a) => sql += &format!(" AND action = {}", arg(Val::Text(a.clone()))),
        None => {}
    }
    if let Some(t) = f.from {
        sql += &format!(" AND at >= {}", arg(Val::Ts(t)));
    }
    if let Some(t) = f.to {
        sql += &format!(" AND at < {}", arg(Val::Ts(t)));
    }
    if let Some(b) = f.before {
        sql += &format!(" AND pos < {}", arg(Val::Int(b)));
    }
    sql += " ORDER BY pos DESC";
    if let Some(n) = limit {
        sql += &format!(" LIMIT {}", arg(Val::Int(n)));
    }
    let sql = with + &sql;
    on_read!(db, p => {
        let rows = bind_vals!(sqlx::query(AssertSqlSafe(sql)), &vals).fetch_all(p).await?;
        rows.iter().map(event_from_row).collect()
    })
}

/// Most rows in one multi-row INSERT of [`append_many`] (12 parameters each: 1,536 of SQLite's
/// 32,766 and PostgreSQL's 65,535). A batch is cut into statements of 128, 64, …, 2, 1 rows, so
/// at most eight statements of this kind are ever prepared (and kept in the cache), and a
/// batch of 1,024 read events is eight round trips to the connection, not 128.
const ROWS_PER_INSERT: usize = 128;

/// The INSERT of `rows` audit events. SQLite gets anonymous `?` parameters: sqlx binds a named
/// one (`$n`) by looking its name up in the statement's list of names, which is linear in the
/// parameters, so a statement's binding cost grew with the square of its rows (6 % of the
/// node's CPU at 64 rows under read load); anonymous ones are bound in order.
fn insert_events_sql(backend: crate::Backend, rows: usize) -> String {
    let mut sql = String::with_capacity(130 + rows * 64);
    sql.push_str(INSERT_EVENTS);
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        match backend {
            crate::Backend::Sqlite => sql.push_str("?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?"),
            crate::Backend::Postgres => sql.push_str(&crate::placeholders(r * 12 + 1, 12)),
        }
        sql.push(')');
    }
    sql
}

/// Appends several events in order, in the caller's transaction, with one multi-row INSERT per
/// up to [`ROWS_PER_INSERT`] events (read events come in batches); returns the last position.
pub async fn append_many(tx: &mut Tx, events: &[AuditEvent]) -> Result<i64, StoreError> {
    if events.is_empty() {
        return Err(StoreError::Corrupt("no audit event to append".into()));
    }
    let n = events.len() as i64;
    let (head, mut prev) = match tx {
        Tx::Sqlite(t) => held_head(t).await?,
        Tx::Postgres(t) => pg_head(t).await?,
    };
    let first = head + 1;
    let mut rows = Vec::with_capacity(events.len());
    for (i, e) in events.iter().enumerate() {
        let pos = first + i as i64;
        let detail = e.detail.to_string();
        let hash = chain_hash_with(&prev, pos, e, &detail);
        rows.push(event_vals(pos, e, detail, std::mem::replace(&mut prev, hash.clone()), hash));
    }
    let last = first + n - 1;
    let backend = match tx {
        Tx::Sqlite(_) => crate::Backend::Sqlite,
        Tx::Postgres(_) => crate::Backend::Postgres,
    };
    let mut rest = rows.len();
    let mut rows = rows.into_iter().flatten();
    while rest > 0 {
        // The largest power of two that fits, up to ROWS_PER_INSERT.
        let size = ROWS_PER_INSERT.min(1 << rest.ilog2());
        rest -= size;
        let mut sql = insert_events_sql(backend, size);
        // The values are moved into the query, not copied (a batch binds 12 per event).
        let chunk = rows.by_ref().take(size * 12);
        match tx {
            Tx::Sqlite(t) => {
                bind_owned_vals!(sqlx::query(AssertSqlSafe(sql)), chunk).execute(&mut *t.tx).await?;
            }
            // On PostgreSQL the last INSERT also writes the head back (one round trip less).
            Tx::Postgres(t) if rest == 0 => {
                let (p, h) = (size * 12 + 1, size * 12 + 2);
                sql = format!("WITH h AS (UPDATE audit_head SET pos = ${p}, hash = ${h} WHERE id = 1) {sql}");
                let q = bind_owned_vals!(sqlx::query(AssertSqlSafe(sql)), chunk);
                q.bind(last).bind(prev.as_str()).execute(&mut *t.tx).await?;
            }
            Tx::Postgres(t) => {
                bind_owned_vals!(sqlx::query(AssertSqlSafe(sql)), chunk).execute(&mut *t.tx).await?;
            }
        }
    }
    match tx {
        Tx::Sqlite(t) => t.held.audit = Some((last, prev, true)),
        Tx::Postgres(t) => t.audit_head = Some((last, prev)),
    }
    Ok(last)
}
