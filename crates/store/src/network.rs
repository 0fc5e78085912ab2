//! The network's workspace (issue 8): meetings, agreements with their follow-up notes, and
//! events, kept as JSON records beside the columns lists are ordered and filtered by.

use chrono::{DateTime, Utc};
use enlace_domain::network::{
    AgreementData, ContactData, EventData, FileKind, FollowUp, GroupData, LibraryFile, LibraryItemData,
    MeetingData, Task, TextStatus,
};
use sqlx::AssertSqlSafe;
use uuid::Uuid;

use crate::row::{RowExt, json, parse_opt, to_json};
use crate::{Db, StoreError, Tx, on_read, on_tx};

#[derive(Debug, Clone, PartialEq)]
pub struct MeetingRow {
    pub id: Uuid,
    pub data: MeetingData,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AgreementRow {
    pub id: Uuid,
    pub meeting_id: Uuid,
    pub version: i64,
    pub data: AgreementData,
    /// Oldest first.
    pub notes: Vec<FollowUp>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    pub id: Uuid,
    pub data: EventData,
    pub created_at: DateTime<Utc>,
}

pub async fn insert_meeting(tx: &mut Tx, m: &MeetingRow) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO net_meetings (id, starts_on, data, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(m.id).bind(m.data.starts_on.to_string()).bind(to_json(&m.data)).bind(m.created_at)
        .bind(m.updated_at).execute(&mut *c).await.map(|_| ())?);
    Ok(())
}

const MEETING_COLS: &str = "id, data, created_at, updated_at";

fn meeting_from_row(r: &impl RowExt) -> Result<MeetingRow, StoreError> {
    Ok(MeetingRow {
        id: r.uuid("id")?,
        data: json("data", &r.text("data")?)?,
        created_at: r.ts("created_at")?,
        updated_at: r.ts("updated_at")?,
    })
}

/// Every meeting, the latest first.
pub async fn meetings(db: &Db) -> Result<Vec<MeetingRow>, StoreError> {
    on_read!(db, p => {
        let sql = format!("SELECT {MEETING_COLS} FROM net_meetings ORDER BY starts_on DESC, id");
        let rows = sqlx::query(AssertSqlSafe(sql)).fetch_all(p).await?;
        rows.iter().map(meeting_from_row).collect()
    })
}

pub async fn meeting(db: &Db, id: Uuid) -> Result<Option<MeetingRow>, StoreError> {
    on_read!(db, p => {
        let sql = format!("SELECT {MEETING_COLS} FROM net_meetings WHERE id = $1");
        let row = sqlx::query(AssertSqlSafe(sql)).bind(id).fetch_optional(p).await?;
        row.as_ref().map(meeting_from_row).transpose()
    })
}

pub async fn meeting_tx(tx: &mut Tx, id: Uuid) -> Result<Option<MeetingRow>, StoreError> {
    on_tx!(tx, c => {
        let sql = format!("SELECT {MEETING_COLS} FROM net_meetings WHERE id = $1");
        let row = sqlx::query(AssertSqlSafe(sql)).bind(id).fetch_optional(&mut *c).await?;
        row.as_ref().map(meeting_from_row).transpose()
    })
}

/// Keeps a new agreement; `false` when its meeting already has one with that number.
pub async fn insert_agreement(tx: &mut Tx, a: &AgreementRow) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query(
        "INSERT INTO net_agreements (id, meeting_id, number, status, due_on, version, data, notes, created_at,
             updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (meeting_id, number) DO NOTHING")
        .bind(a.id).bind(a.meeting_id).bind(i64::from(a.data.number)).bind(a.data.status.as_str())
        .bind(a.data.due_on.map(|d| d.to_string())).bind(a.version).bind(to_json(&a.data))
        .bind(to_json(&a.notes)).bind(a.created_at).bind(a.updated_at)
        .execute(&mut *c).await?.rows_affected());
    Ok(n > 0)
}

/// Writes an agreement's new state (its data and notes) if it is still at `version`; the
/// row's version becomes `version + 1`. Returns whether it was written.
pub async fn update_agreement(tx: &mut Tx, a: &AgreementRow, version: i64) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query(
        "UPDATE net_agreements SET status = $3, due_on = $4, version = $5, data = $6, notes = $7, updated_at = $8
         WHERE id = $1 AND version = $2")
        .bind(a.id).bind(version).bind(a.data.status.as_str()).bind(a.data.due_on.map(|d| d.to_string()))
        .bind(version + 1).bind(to_json(&a.data)).bind(to_json(&a.notes)).bind(a.updated_at)
        .execute(&mut *c).await?.rows_affected());
    Ok(n > 0)
}

const AGREEMENT_COLS: &str = "id, meeting_id, version, data, notes, created_at, updated_at";

fn agreement_from_row(r: &impl RowExt) -> Result<AgreementRow, StoreError> {
    Ok(AgreementRow {
        id: r.uuid("id")?,
        meeting_id: r.uuid("meeting_id")?,
        version: r.int("version")?,
        data: json("data", &r.text("data")?)?,
        notes: json("notes", &r.text("notes")?)?,
        created_at: r.ts("created_at")?,
        updated_at: r.ts("updated_at")?,
    })
}

/// A meeting's agreements, by number.
pub async fn agreements_of(db: &Db, meeting: Uuid) -> Result<Vec<AgreementRow>, StoreError> {
    on_read!(db, p => {
        let sql = format!("SELECT {AGREEMENT_COLS} FROM net_agreements WHERE meeting_id = $1 ORDER BY number");
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(meeting).fetch_all(p).await?;
        rows.iter().map(agreement_from_row).collect()
    })
}

/// Per meeting: how many agreements it took and how many are still to be acted on.
pub async fn agreement_counts(db: &Db) -> Result<Vec<(Uuid, i64, i64)>, StoreError> {
    on_read!(db, p => {
        let rows = sqlx::query(
            "SELECT meeting_id, COUNT(*) AS total,
                    SUM(CASE WHEN status IN ('open', 'in_progress') THEN 1 ELSE 0 END) AS pending
             FROM net_agreements GROUP BY meeting_id")
            .fetch_all(p).await?;
        rows.iter().map(|r| Ok((r.uuid("meeting_id")?, r.int("total")?, r.int("pending")?))).collect()
    })
}

/// Every agreement still to be acted on (open or in progress), the earliest due first, those
/// without a date last.
pub async fn pending_agreements(db: &Db) -> Result<Vec<AgreementRow>, StoreError> {
    on_read!(db, p => {
        let sql = format!(
            "SELECT {AGREEMENT_COLS} FROM net_agreements WHERE status IN ('open', 'in_progress')
             ORDER BY CASE WHEN due_on IS NULL THEN 1 ELSE 0 END, due_on, id");
        let rows = sqlx::query(AssertSqlSafe(sql)).fetch_all(p).await?;
        rows.iter().map(agreement_from_row).collect()
    })
}

pub async fn agreement_tx(tx: &mut Tx, id: Uuid) -> Result<Option<AgreementRow>, StoreError> {
    on_tx!(tx, c => {
        let sql = format!("SELECT {AGREEMENT_COLS} FROM net_agreements WHERE id = $1");
        let row = sqlx::query(AssertSqlSafe(sql)).bind(id).fetch_optional(&mut *c).await?;
        row.as_ref().map(agreement_from_row).transpose()
    })
}

pub async fn agreement(db: &Db, id: Uuid) -> Result<Option<AgreementRow>, StoreError> {
    on_read!(db, p => {
        let sql = format!("SELECT {AGREEMENT_COLS} FROM net_agreements WHERE id = $1");
        let row = sqlx::query(AssertSqlSafe(sql)).bind(id).fetch_optional(p).await?;
        row.as_ref().map(agreement_from_row).transpose()
    })
}

pub async fn insert_event(tx: &mut Tx, e: &EventRow) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query("INSERT INTO net_events (id, starts_on, data, created_at) VALUES ($1, $2, $3, $4)")
        .bind(e.id).bind(e.data.starts_on.to_string()).bind(to_json(&e.data)).bind(e.created_at)
        .execute(&mut *c).await.map(|_| ())?);
    Ok(())
}

/// Every event, in date order.
pub async fn events(db: &Db) -> Result<Vec<EventRow>, StoreError> {
    on_read!(db, p => {
        let rows = sqlx::query("SELECT id, data, created_at FROM net_events ORDER BY starts_on, id")
            .fetch_all(p).await?;
        rows.iter()
            .map(|r| Ok(EventRow { id: r.uuid("id")?, data: json("data", &r.text("data")?)?, created_at: r.ts("created_at")? }))
            .collect()
    })
}

/// Whether the workspace holds any meeting (the demo loads its data once).
pub async fn has_meetings(db: &Db) -> Result<bool, StoreError> {
    on_read!(db, p => {
        let row = sqlx::query("SELECT id FROM net_meetings LIMIT 1").fetch_optional(p).await?;
        Ok(row.is_some())
    })
}

// ---------------------------------------------------------------------------------------------
// A node's copy of the hub's workspace

/// Keeps a meeting the hub published, unless it is already here.
pub async fn put_meeting(tx: &mut Tx, m: &MeetingRow) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query(
        "INSERT INTO net_meetings (id, starts_on, data, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (id) DO NOTHING")
        .bind(m.id).bind(m.data.starts_on.to_string()).bind(to_json(&m.data)).bind(m.created_at)
        .bind(m.updated_at).execute(&mut *c).await?.rows_affected());
    Ok(n > 0)
}

/// Keeps an agreement the hub published when it is new here or newer than the copy held.
pub async fn put_agreement(tx: &mut Tx, a: &AgreementRow) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query(
        "INSERT INTO net_agreements (id, meeting_id, number, status, due_on, version, data, notes, created_at,
             updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (id) DO UPDATE SET status = excluded.status, due_on = excluded.due_on,
             version = excluded.version, data = excluded.data, notes = excluded.notes,
             updated_at = excluded.updated_at
         WHERE net_agreements.version < excluded.version")
        .bind(a.id).bind(a.meeting_id).bind(i64::from(a.data.number)).bind(a.data.status.as_str())
        .bind(a.data.due_on.map(|d| d.to_string())).bind(a.version).bind(to_json(&a.data))
        .bind(to_json(&a.notes)).bind(a.created_at).bind(a.updated_at)
        .execute(&mut *c).await?.rows_affected());
    Ok(n > 0)
}

/// Keeps an event the hub published, unless it is already here.
pub async fn put_event(tx: &mut Tx, e: &EventRow) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query(
        "INSERT INTO net_events (id, starts_on, data, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING")
        .bind(e.id).bind(e.data.starts_on.to_string()).bind(to_json(&e.data)).bind(e.created_at)
        .execute(&mut *c).await?.rows_affected());
    Ok(n > 0)
}

/// Everything the workspace holds, in the caller's transaction (the hub answering a node's
/// request for all of it).
pub async fn everything_tx(
    tx: &mut Tx,
) -> Result<(Vec<MeetingRow>, Vec<AgreementRow>, Vec<EventRow>), StoreError> {
    let meetings = on_tx!(tx, c => {
        let sql = format!("SELECT {MEETING_COLS} FROM net_meetings ORDER BY starts_on, id");
        let rows = sqlx::query(AssertSqlSafe(sql)).fetch_all(&mut *c).await?;
        rows.iter().map(meeting_from_row).collect::<Result<Vec<_>, _>>()
    })?;
    let agreements = on_tx!(tx, c => {
        let sql = format!("SELECT {AGREEMENT_COLS} FROM net_agreements ORDER BY meeting_id, number");
        let rows = sqlx::query(AssertSqlSafe(sql)).fetch_all(&mut *c).await?;
        rows.iter().map(agreement_from_row).collect::<Result<Vec<_>, _>>()
    })?;
    let events = on_tx!(tx, c => {
        let rows = sqlx::query("SELECT id, data, created_at FROM net_events ORDER BY starts_on, id")
            .fetch_all(&mut *c).await?;
        rows.iter()
            .map(|r| Ok(EventRow { id: r.uuid("id")?, data: json("data", &r.text("data")?)?, created_at: r.ts("created_at")? }))
            .collect::<Result<Vec<_>, StoreError>>()
    })?;
    Ok((meetings, agreements, events))
}

// ---------------------------------------------------------------------------------------------
// The directory

#[derive(Debug, Clone, PartialEq)]
pub struct ContactRow {
    pub id: Uuid,
    pub version: i64,
    /// Removed by its state: kept as a tombstone, shown nowhere.
    pub removed: bool,
    pub data: ContactData,
    pub updated_at: DateTime<Utc>,
}

fn contact_from_row(r: &impl RowExt) -> Result<ContactRow, StoreError> {
    Ok(ContactRow {
        id: r.uuid("id")?,
        version: r.int("version")?,
        removed: r.boolean("removed")?,
        data: json("data", &r.text("data")?)?,
        updated_at: r.ts("updated_at")?,
    })
}

/// Keeps a contact when it is new or newer than the copy held (what the hub writes, and what
/// a node takes from the hub). Returns whether it was written.
pub async fn put_contact(tx: &mut Tx, c: &ContactRow) -> Result<bool, StoreError> {
    let n = on_tx!(tx, x => sqlx::query(
        "INSERT INTO net_contacts (id, state, version, removed, data, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (id) DO UPDATE SET state = excluded.state, version = excluded.version,
             removed = excluded.removed, data = excluded.data, updated_at = excluded.updated_at
         WHERE net_contacts.version < excluded.version")
        .bind(c.id).bind(c.data.state.as_str()).bind(c.version).bind(c.removed).bind(to_json(&c.data))
        .bind(c.updated_at).execute(&mut *x).await?.rows_affected());
    Ok(n > 0)
}

pub async fn contact_tx(tx: &mut Tx, id: Uuid) -> Result<Option<ContactRow>, StoreError> {
    on_tx!(tx, c => {
        let row = sqlx::query("SELECT id, version, removed, data, updated_at FROM net_contacts WHERE id = $1")
            .bind(id).fetch_optional(&mut *c).await?;
        row.as_ref().map(contact_from_row).transpose()
    })
}

/// The directory's entries (not removed), by state; of one state when given.
pub async fn contacts(db: &Db, state: Option<&str>) -> Result<Vec<ContactRow>, StoreError> {
    on_read!(db, p => {
        let rows = sqlx::query(
            "SELECT id, version, removed, data, updated_at FROM net_contacts
             WHERE removed = $1 AND ($2 IS NULL OR state = $2) ORDER BY state, id")
            .bind(false).bind(state).fetch_all(p).await?;
        rows.iter().map(contact_from_row).collect()
    })
}

/// Every entry, tombstones included (the hub answering a node's request for all of it).
pub async fn all_contacts_tx(tx: &mut Tx) -> Result<Vec<ContactRow>, StoreError> {
    on_tx!(tx, c => {
        let rows = sqlx::query("SELECT id, version, removed, data, updated_at FROM net_contacts ORDER BY state, id")
            .fetch_all(&mut *c).await?;
        rows.iter().map(contact_from_row).collect()
    })
}

// ---------------------------------------------------------------------------------------------
// Working groups

#[derive(Debug, Clone, PartialEq)]
pub struct GroupRow {
    pub id: Uuid,
    pub version: i64,
    pub data: GroupData,
    pub tasks: Vec<Task>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn group_from_row(r: &impl RowExt) -> Result<GroupRow, StoreError> {
    Ok(GroupRow {
        id: r.uuid("id")?,
        version: r.int("version")?,
        data: json("data", &r.text("data")?)?,
        tasks: json("tasks", &r.text("tasks")?)?,
        created_at: r.ts("created_at")?,
        updated_at: r.ts("updated_at")?,
    })
}

/// Keeps a group when it is new or newer than the copy held. Returns whether it was written.
pub async fn put_group(tx: &mut Tx, g: &GroupRow) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query(
        "INSERT INTO net_groups (id, version, data, tasks, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (id) DO UPDATE SET version = excluded.version, data = excluded.data, tasks = excluded.tasks,
             updated_at = excluded.updated_at
         WHERE net_groups.version < excluded.version")
        .bind(g.id).bind(g.version).bind(to_json(&g.data)).bind(to_json(&g.tasks)).bind(g.created_at)
        .bind(g.updated_at).execute(&mut *c).await?.rows_affected());
    Ok(n > 0)
}

pub async fn group_tx(tx: &mut Tx, id: Uuid) -> Result<Option<GroupRow>, StoreError> {
    on_tx!(tx, c => {
        let row = sqlx::query("SELECT id, version, data, tasks, created_at, updated_at FROM net_groups WHERE id = $1")
            .bind(id).fetch_optional(&mut *c).await?;
        row.as_ref().map(group_from_row).transpose()
    })
}

pub async fn group(db: &Db, id: Uuid) -> Result<Option<GroupRow>, StoreError> {
    on_read!(db, p => {
        let row = sqlx::query("SELECT id, version, data, tasks, created_at, updated_at FROM net_groups WHERE id = $1")
            .bind(id).fetch_optional(p).await?;
        row.as_ref().map(group_from_row).transpose()
    })
}

/// Every group, the newest first.
pub async fn groups(db: &Db) -> Result<Vec<GroupRow>, StoreError> {
    on_read!(db, p => {
        let rows = sqlx::query("SELECT id, version, data, tasks, created_at, updated_at FROM net_groups
             ORDER BY created_at DESC, id")
            .fetch_all(p).await?;
        rows.iter().map(group_from_row).collect()
    })
}

pub async fn all_groups_tx(tx: &mut Tx) -> Result<Vec<GroupRow>, StoreError> {
    on_tx!(tx, c => {
        let rows = sqlx::query("SELECT id, version, data, tasks, created_at, updated_at FROM net_groups ORDER BY id")
            .fetch_all(&mut *c).await?;
        rows.iter().map(group_from_row).collect()
    })
}

// ---------------------------------------------------------------------------------------------
// The library

#[derive(Debug, Clone, PartialEq)]
pub struct LibraryRow {
    pub id: Uuid,
    pub version: i64,
    pub data: LibraryItemData,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const LIBRARY_COLS: &str = "id, version, data, created_at, updated_at";

fn library_from_row(r: &impl RowExt) -> Result<LibraryRow, StoreError> {
    Ok(LibraryRow {
        id: r.uuid("id")?,
        version: r.int("version")?,
        data: json("data", &r.text("data")?)?,
        created_at: r.ts("created_at")?,
        updated_at: r.ts("updated_at")?,
    })
}

/// Keeps an item and its search terms when it is new or newer than the copy held. Returns
/// whether it was written.
pub async fn put_library_item(tx: &mut Tx, item: &LibraryRow, terms: &[String]) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query(
        "INSERT INTO net_library (id, version, item_date, data, created_at, updated_at, meeting_id, group_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (id) DO UPDATE SET version = excluded.version, item_date = excluded.item_date,
             data = excluded.data, updated_at = excluded.updated_at, meeting_id = excluded.meeting_id,
             group_id = excluded.group_id
         WHERE net_library.version < excluded.version")
        .bind(item.id).bind(item.version).bind(item.data.date.to_string()).bind(to_json(&item.data))
        .bind(item.created_at).bind(item.updated_at).bind(item.data.meeting).bind(item.data.group)
        .execute(&mut *c).await?.rows_affected());
    if n == 0 {
        return Ok(false);
    }
    set_library_terms(tx, item.id, terms).await?;
    Ok(true)
}

/// Replaces an item's search terms.
pub async fn set_library_terms(tx: &mut Tx, item: Uuid, terms: &[String]) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query("DELETE FROM net_library_terms WHERE item_id = $1")
        .bind(item).execute(&mut *c).await.map(|_| ())?);
    // One statement per 500 terms (well under either engine's limit on parameters).
    for chunk in terms.chunks(500) {
        let rows: Vec<String> =
            (0..chunk.len()).map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2)).collect();
        let sql = format!(
            "INSERT INTO net_library_terms (term, item_id) VALUES {} ON CONFLICT DO NOTHING",
            rows.join(", ")
        );
        on_tx!(tx, c => {
            let mut q = sqlx::query(AssertSqlSafe(sql.clone()));
            for t in chunk {
                q = q.bind(t.clone()).bind(item);
            }
            q.execute(&mut *c).await.map(|_| ())?
        });
    }
    Ok(())
}

pub async fn library_item(db: &Db, id: Uuid) -> Result<Option<LibraryRow>, StoreError> {
    on_read!(db, p => {
        let sql = format!("SELECT {LIBRARY_COLS} FROM net_library WHERE id = $1");
        let row = sqlx::query(AssertSqlSafe(sql)).bind(id).fetch_optional(p).await?;
        row.as_ref().map(library_from_row).transpose()
    })
}

pub async fn library_item_tx(tx: &mut Tx, id: Uuid) -> Result<Option<LibraryRow>, StoreError> {
    on_tx!(tx, c => {
        let sql = format!("SELECT {LIBRARY_COLS} FROM net_library WHERE id = $1");
        let row = sqlx::query(AssertSqlSafe(sql)).bind(id).fetch_optional(&mut *c).await?;
        row.as_ref().map(library_from_row).transpose()
    })
}

/// The most recent items (at most `limit`, after the first `offset`); or, with `words`, those whose terms hold, for every
/// word of the query, one of its forms (`words`, from `enlace_domain::network::query_terms`),
/// the most recent first. One statement: a subquery on the terms' index per word.
pub async fn library(
    db: &Db,
    words: Option<&[Vec<String>]>,
    limit: i64,
    offset: i64,
) -> Result<Vec<LibraryRow>, StoreError> {
    let words: Vec<&Vec<String>> = words.unwrap_or_default().iter().filter(|f| !f.is_empty()).collect();
    let mut n = 0;
    let mut mark = || {
        n += 1;
        format!("${n}")
    };
    let mut conds = Vec::new();
    for forms in &words {
        let marks: Vec<String> = forms.iter().map(|_| mark()).collect();
        conds.push(format!(
            "id IN (SELECT item_id FROM net_library_terms WHERE term IN ({}))",
            marks.join(", ")
        ));
    }
    let (limit_mark, offset_mark) = (mark(), mark());
    let filter = if conds.is_empty() { String::new() } else { format!("WHERE {}", conds.join(" AND ")) };
    let sql = format!(
        "SELECT {LIBRARY_COLS} FROM net_library {filter} ORDER BY item_date DESC, id LIMIT {limit_mark} OFFSET {offset_mark}"
    );
    on_read!(db, p => {
        let mut q = sqlx::query(AssertSqlSafe(sql.clone()));
        for forms in &words {
            for f in forms.iter() {
                q = q.bind(f.clone());
            }
        }
        let rows = q.bind(limit).bind(offset).fetch_all(p).await?;
        rows.iter().map(library_from_row).collect()
    })
}

/// What a library item may have come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LibraryLink {
    Meeting(Uuid),
    Group(Uuid),
}

/// The items that came from a meeting or a working group, the most recent first (at most
/// `limit`).
pub async fn library_linked(db: &Db, link: LibraryLink, limit: i64) -> Result<Vec<LibraryRow>, StoreError> {
    let (col, id) = match link {
        LibraryLink::Meeting(id) => ("meeting_id", id),
        LibraryLink::Group(id) => ("group_id", id),
    };
    let sql = format!(
        "SELECT {LIBRARY_COLS} FROM net_library WHERE {col} = $1 ORDER BY item_date DESC, id LIMIT $2"
    );
    on_read!(db, p => {
        let rows = sqlx::query(AssertSqlSafe(sql.clone())).bind(id).bind(limit).fetch_all(p).await?;
        rows.iter().map(library_from_row).collect()
    })
}

pub async fn all_library_tx(tx: &mut Tx) -> Result<Vec<LibraryRow>, StoreError> {
    on_tx!(tx, c => {
        let sql = format!("SELECT {LIBRARY_COLS} FROM net_library ORDER BY id");
        let rows = sqlx::query(AssertSqlSafe(sql)).fetch_all(&mut *c).await?;
        rows.iter().map(library_from_row).collect()
    })
}

// ---------------------------------------------------------------------------------------------
// The library's files

const FILE_COLS: &str =
    "id, item_id, filename, kind, content_type, size, sha256, parts, text_status, text_note, created_at";

fn file_from_row(r: &impl RowExt) -> Result<LibraryFile, StoreError> {
    Ok(LibraryFile {
        id: r.uuid("id")?,
        item: r.uuid("item_id")?,
        filename: r.text("filename")?,
        kind: parse_opt("kind", &r.text("kind")?, FileKind::parse)?,
        content_type: r.text("content_type")?,
        size: r.int("size")?,
        sha256: r.text("sha256")?,
        parts: r.int("parts")?,
        text_status: parse_opt("text_status", &r.text("text_status")?, TextStatus::parse)?,
        text_note: r.opt_text("text_note")?,
        created_at: r.ts("created_at")?,
    })
}

/// Keeps a file's description and text, unless it is held already (a file never changes).
/// Returns whether it was written.
pub async fn put_library_file(tx: &mut Tx, f: &LibraryFile, text: &str) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query(
        "INSERT INTO net_library_files (id, item_id, filename, kind, content_type, size, sha256, parts,
             text_status, text_note, body_text, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (id) DO NOTHING")
        .bind(f.id).bind(f.item).bind(&f.filename).bind(f.kind.as_str()).bind(&f.content_type).bind(f.size)
        .bind(&f.sha256).bind(f.parts).bind(f.text_status.as_str()).bind(&f.text_note).bind(text)
        .bind(f.created_at).execute(&mut *c).await?.rows_affected());
    Ok(n > 0)
}

/// Keeps one part of a file's content, unless it is held already. Returns whether it was
/// written.
pub async fn put_library_file_part(
    tx: &mut Tx,
    file: Uuid,
    idx: i64,
    content: &[u8],
) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query(
        "INSERT INTO net_library_file_parts (file_id, idx, content) VALUES ($1, $2, $3)
         ON CONFLICT (file_id, idx) DO NOTHING")
        .bind(file).bind(idx).bind(content).execute(&mut *c).await?.rows_affected());
    Ok(n > 0)
}

/// The files of the given items, oldest first.
pub async fn library_files_of(db: &Db, items: &[Uuid]) -> Result<Vec<LibraryFile>, StoreError> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {FILE_COLS} FROM net_library_files WHERE item_id IN ({}) ORDER BY created_at, id",
        crate::placeholders(1, items.len())
    );
    on_read!(db, p => {
        let mut q = sqlx::query(AssertSqlSafe(sql.clone()));
        for i in items {
            q = q.bind(*i);
        }
        let rows = q.fetch_all(p).await?;
        rows.iter().map(file_from_row).collect()
    })
}

/// The files of an item with their text, oldest first.
pub async fn library_files_tx(tx: &mut Tx, item: Uuid) -> Result<Vec<(LibraryFile, String)>, StoreError> {
    on_tx!(tx, c => {
        let sql = format!(
            "SELECT {FILE_COLS}, body_text FROM net_library_files WHERE item_id = $1 ORDER BY created_at, id"
        );
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(item).fetch_all(&mut *c).await?;
        rows.iter().map(|r| Ok((file_from_row(r)?, r.text("body_text")?))).collect()
    })
}

/// Every file with its text (for a node that asks for the whole workspace).
pub async fn all_library_files_tx(tx: &mut Tx) -> Result<Vec<(LibraryFile, String)>, StoreError> {
    on_tx!(tx, c => {
        let sql = format!("SELECT {FILE_COLS}, body_text FROM net_library_files ORDER BY id");
        let rows = sqlx::query(AssertSqlSafe(sql)).fetch_all(&mut *c).await?;
        rows.iter().map(|r| Ok((file_from_row(r)?, r.text("body_text")?))).collect()
    })
}

pub async fn library_file(db: &Db, id: Uuid) -> Result<Option<LibraryFile>, StoreError> {
    on_read!(db, p => {
        let sql = format!("SELECT {FILE_COLS} FROM net_library_files WHERE id = $1");
        let row = sqlx::query(AssertSqlSafe(sql)).bind(id).fetch_optional(p).await?;
        row.as_ref().map(file_from_row).transpose()
    })
}

const PARTS_SQL: &str = "SELECT idx, content FROM net_library_file_parts WHERE file_id = $1 ORDER BY idx";

fn parts_from_rows(rows: &[impl RowExt]) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
    rows.iter().map(|r| Ok((r.int("idx")?, r.bytes("content")?))).collect()
}

/// The parts of a file's content held, in order, with their numbers.
pub async fn library_file_parts(db: &Db, file: Uuid) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
    on_read!(db, p => parts_from_rows(&sqlx::query(PARTS_SQL).bind(file).fetch_all(p).await?))
}

pub async fn library_file_parts_tx(tx: &mut Tx, file: Uuid) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
    on_tx!(tx, c => parts_from_rows(&sqlx::query(PARTS_SQL).bind(file).fetch_all(&mut *c).await?))
}

/// At the hub: a file a node's user sent, while its parts arrive.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadRow {
    pub file_id: Uuid,
    pub sender: String,
    pub parts: i64,
    /// What was sent and by whom (JSON, the application's).
    pub data: serde_json::Value,
    pub received_at: DateTime<Utc>,
}

/// Keeps an upload's description unless it is held already. Returns whether it was written.
pub async fn put_upload(tx: &mut Tx, u: &UploadRow) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query(
        "INSERT INTO net_library_uploads (file_id, sender, parts, data, received_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (file_id) DO NOTHING")
        .bind(u.file_id).bind(&u.sender).bind(u.parts).bind(u.data.to_string()).bind(u.received_at)
        .execute(&mut *c).await?.rows_affected());
    Ok(n > 0)
}

/// The uploads every part of which has arrived.
pub async fn complete_uploads(db: &Db) -> Result<Vec<UploadRow>, StoreError> {
    on_read!(db, p => {
        let rows = sqlx::query(
            "SELECT u.file_id, u.sender, u.parts, u.data, u.received_at FROM net_library_uploads u
             WHERE (SELECT COUNT(*) FROM net_library_file_parts p WHERE p.file_id = u.file_id) = u.parts
             ORDER BY u.received_at, u.file_id")
            .fetch_all(p).await?;
        rows.iter()
            .map(|r| {
                Ok(UploadRow {
                    file_id: r.uuid("file_id")?,
                    sender: r.text("sender")?,
                    parts: r.int("parts")?,
                    data: json("data", &r.text("data")?)?,
                    received_at: r.ts("received_at")?,
                })
            })
            .collect()
    })
}

/// Ends an upload: forgets its description and, when `drop_parts`, its parts (it was refused).
/// Returns whether it was still there.
pub async fn end_upload(tx: &mut Tx, file: Uuid, drop_parts: bool) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query("DELETE FROM net_library_uploads WHERE file_id = $1")
        .bind(file).execute(&mut *c).await?.rows_affected());
    if drop_parts {
        on_tx!(tx, c => sqlx::query("DELETE FROM net_library_file_parts WHERE file_id = $1")
            .bind(file).execute(&mut *c).await.map(|_| ())?);
    }
    Ok(n > 0)
}
