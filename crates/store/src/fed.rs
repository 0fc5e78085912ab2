//! Federation tables (issue 6): the directory held, shares of cases between states with their
//! history, the outbox the relay delivers from, and the inbox of messages received (the
//! idempotency record and the messages waiting for an earlier one of their share).
//!
//! Rows are plain values; the application layer gives them meaning (`enlace-fed` types).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::row::RowExt;
use crate::{Db, StoreError, Tx, on_read, on_tx};

// ---------------------------------------------------------------------------------------------
// The directory

/// The signed directory held by this node, with its serial.
pub async fn directory(db: &Db) -> Result<Option<(i64, String)>, StoreError> {
    on_read!(db, p => {
        let row = sqlx::query("SELECT serial, signed FROM fed_directory WHERE id = 1").fetch_optional(p).await?;
        row.map(|r| Ok((r.int("serial")?, r.text("signed")?))).transpose()
    })
}

/// Keeps `signed` as the node's directory, unless one with a higher serial is already held
/// (another process may have refreshed it). Returns whether it was stored.
pub async fn put_directory(
    tx: &mut Tx,
    serial: i64,
    signed: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query(
        "INSERT INTO fed_directory (id, serial, signed, installed_at) VALUES (1, $1, $2, $3)
         ON CONFLICT (id) DO UPDATE SET serial = excluded.serial, signed = excluded.signed,
             installed_at = excluded.installed_at
         WHERE fed_directory.serial <= excluded.serial")
        .bind(serial).bind(signed).bind(now).execute(&mut *c).await?.rows_affected());
    Ok(n > 0)
}

// ---------------------------------------------------------------------------------------------
// Shares

/// A share of one case between this node's state and a peer state.
#[derive(Debug, Clone, PartialEq)]
pub struct ShareRow {
    pub id: Uuid,
    /// `offerer` (this node holds the case) or `recipient`.
    pub side: String,
    /// The local case, on the offering side.
    pub case_id: Option<Uuid>,
    pub case_number: String,
    /// This node's state in the share.
    pub local_state: String,
    pub peer_node: String,
    pub peer_state: String,
    /// `offered`, `accepted`, `rejected`, `revoked`.
    pub state: String,
    /// `referral` or `assistance`.
    pub kind: String,
    /// The fields the share carries (JSON array of names).
    pub fields: serde_json::Value,
    pub purpose: String,
    pub legal_instrument: String,
    /// The fields received (recipient side, while it may hold them).
    pub data: Option<serde_json::Value>,
    pub seq_out: i64,
    pub seq_in: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
    /// The case's ownership as this node sees it (the application's handover record).
    pub handover: Option<serde_json::Value>,
}

const SHARE_COLS: &str = "id, side, case_id, case_number, local_state, peer_node, peer_state, state, kind, fields, \
                          purpose, legal_instrument, data, seq_out, seq_in, created_at, updated_at, version, handover";

fn json_col(r: &impl RowExt, col: &str) -> Result<serde_json::Value, StoreError> {
    crate::row::json(col, &r.text(col)?)
}

fn share_from_row(r: &impl RowExt) -> Result<ShareRow, StoreError> {
    Ok(ShareRow {
        id: r.uuid("id")?,
        side: r.text("side")?,
        case_id: r.opt_uuid("case_id")?,
        case_number: r.text("case_number")?,
        local_state: r.text("local_state")?,
        peer_node: r.text("peer_node")?,
        peer_state: r.text("peer_state")?,
        state: r.text("state")?,
        kind: r.text("kind")?,
        fields: json_col(r, "fields")?,
        purpose: r.text("purpose")?,
        legal_instrument: r.text("legal_instrument")?,
        data: r.opt_text("data")?.map(|d| crate::row::json("data", &d)).transpose()?,
        seq_out: r.int("seq_out")?,
        seq_in: r.int("seq_in")?,
        created_at: r.ts("created_at")?,
        updated_at: r.ts("updated_at")?,
        version: r.int("version")?,
        handover: r.opt_text("handover")?.map(|d| crate::row::json("handover", &d)).transpose()?,
    })
}

pub async fn insert_share(tx: &mut Tx, s: &ShareRow) -> Result<(), StoreError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "INSERT INTO fed_shares ({SHARE_COLS})
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)"
    ));
    let fields = s.fields.to_string();
    let data = s.data.as_ref().map(|d| d.to_string());
    let handover = s.handover.as_ref().map(|d| d.to_string());
    on_tx!(tx, c => sqlx::query(sql)
        .bind(s.id).bind(&s.side).bind(s.case_id).bind(&s.case_number).bind(&s.local_state)
        .bind(&s.peer_node).bind(&s.peer_state).bind(&s.state).bind(&s.kind).bind(fields)
        .bind(&s.purpose).bind(&s.legal_instrument).bind(data).bind(s.seq_out).bind(s.seq_in)
        .bind(s.created_at).bind(s.updated_at).bind(s.version).bind(handover)
        .execute(&mut *c).await.map(|_| ())?);
    Ok(())
}

/// Writes back a share read in this transaction (its state, data, sequence numbers), bumping
/// its version. A concurrent change of the same share makes the write contended, so the whole
/// transaction runs again on the new row.
pub async fn update_share(tx: &mut Tx, s: &mut ShareRow, now: DateTime<Utc>) -> Result<(), StoreError> {
    let data = s.data.as_ref().map(|d| d.to_string());
    let handover = s.handover.as_ref().map(|d| d.to_string());
    let n = on_tx!(tx, c => sqlx::query(
        "UPDATE fed_shares SET state = $1, data = $2, seq_out = $3, seq_in = $4, updated_at = $5,
             version = version + 1, case_id = $6, handover = $7
         WHERE id = $8 AND version = $9")
        .bind(&s.state).bind(data).bind(s.seq_out).bind(s.seq_in).bind(now).bind(s.case_id)
        .bind(handover).bind(s.id).bind(s.version)
        .execute(&mut *c).await?.rows_affected());
    if n == 0 {
        return Err(StoreError::Contended(format!("share {} changed meanwhile", s.id)));
    }
    s.version += 1;
    s.updated_at = now;
    Ok(())
}

pub async fn share_tx(tx: &mut Tx, id: Uuid) -> Result<Option<ShareRow>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {SHARE_COLS} FROM fed_shares WHERE id = $1"));
    on_tx!(tx, c => {
        let row = sqlx::query(sql).bind(id).fetch_optional(&mut *c).await?;
        row.as_ref().map(share_from_row).transpose()
    })
}

pub async fn share(db: &Db, id: Uuid) -> Result<Option<ShareRow>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {SHARE_COLS} FROM fed_shares WHERE id = $1"));
    on_read!(db, p => {
        let row = sqlx::query(sql).bind(id).fetch_optional(p).await?;
        row.as_ref().map(share_from_row).transpose()
    })
}

/// The shares of a local case (offering side), oldest first.
pub async fn shares_of_case_tx(tx: &mut Tx, case: Uuid) -> Result<Vec<ShareRow>, StoreError> {
    let sql =
        sqlx::AssertSqlSafe(format!("SELECT {SHARE_COLS} FROM fed_shares WHERE case_id = $1 ORDER BY id"));
    on_tx!(tx, c => {
        let rows = sqlx::query(sql).bind(case).fetch_all(&mut *c).await?;
        rows.iter().map(share_from_row).collect()
    })
}

pub async fn shares_of_case(db: &Db, case: Uuid) -> Result<Vec<ShareRow>, StoreError> {
    let sql =
        sqlx::AssertSqlSafe(format!("SELECT {SHARE_COLS} FROM fed_shares WHERE case_id = $1 ORDER BY id"));
    on_read!(db, p => {
        let rows = sqlx::query(sql).bind(case).fetch_all(p).await?;
        rows.iter().map(share_from_row).collect()
    })
}

/// Who owns a case that went through a handover.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseOwnerRow {
    pub case_id: Uuid,
    /// `None`: this node (it received the case); otherwise the node it was handed to.
    pub owner_node: Option<String>,
    pub epoch: i64,
    /// The share the handover went through.
    pub share_id: Uuid,
    pub at: DateTime<Utc>,
}

fn case_owner_from_row(r: &impl RowExt) -> Result<CaseOwnerRow, StoreError> {
    Ok(CaseOwnerRow {
        case_id: r.uuid("case_id")?,
        owner_node: r.opt_text("owner_node")?,
        epoch: r.int("epoch")?,
        share_id: r.uuid("share_id")?,
        at: r.ts("at")?,
    })
}

pub async fn case_owner_tx(tx: &mut Tx, case: Uuid) -> Result<Option<CaseOwnerRow>, StoreError> {
    on_tx!(tx, c => {
        let row = sqlx::query("SELECT case_id, owner_node, epoch, share_id, at FROM fed_case_owner WHERE case_id = $1")
            .bind(case).fetch_optional(&mut *c).await?;
        row.as_ref().map(case_owner_from_row).transpose()
    })
}

pub async fn case_owner(db: &Db, case: Uuid) -> Result<Option<CaseOwnerRow>, StoreError> {
    on_read!(db, p => {
        let row = sqlx::query("SELECT case_id, owner_node, epoch, share_id, at FROM fed_case_owner WHERE case_id = $1")
            .bind(case).fetch_optional(p).await?;
        row.as_ref().map(case_owner_from_row).transpose()
    })
}

/// Records who owns a case after a handover (one row per case, replaced by a later handover).
pub async fn set_case_owner(tx: &mut Tx, o: &CaseOwnerRow) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO fed_case_owner (case_id, owner_node, epoch, share_id, at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (case_id) DO UPDATE SET owner_node = excluded.owner_node, epoch = excluded.epoch,
             share_id = excluded.share_id, at = excluded.at")
        .bind(o.case_id).bind(&o.owner_node).bind(o.epoch).bind(o.share_id).bind(o.at)
        .execute(&mut *c).await.map(|_| ())?);
    Ok(())
}

/// Cases registered under mutual assistance (a post of another state than the owner's) that
/// have no assistance notice yet, by id after `after`.
pub async fn assisted_without_notice(
    db: &Db,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Uuid>, StoreError> {
    on_read!(db, p => {
        let rows = sqlx::query(
            "SELECT c.id FROM cases c WHERE c.assisting_state IS NOT NULL AND c.id > $1
               AND NOT EXISTS (SELECT 1 FROM fed_shares s WHERE s.case_id = c.id AND s.kind = 'assistance')
             ORDER BY c.id LIMIT $2")
            .bind(after.unwrap_or(Uuid::nil())).bind(limit).fetch_all(p).await?;
        rows.iter().map(|r| r.uuid("id")).collect()
    })
}

/// A page of a state's shares on one side, most recently changed first; `before` is the
/// (updated_at, id) of the last row of the previous page.
pub async fn list_shares(
    db: &Db,
    local_state: &str,
    side: &str,
    before: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<ShareRow>, StoreError> {
    // The first page starts after the end of time as both engines store it (SQLite compares
    // timestamps as text, so the year must keep four digits).
    let end = DateTime::parse_from_rfc3339("9999-12-31T23:59:59Z").expect("a valid date").with_timezone(&Utc);
    let (at, id) = before.unwrap_or((end, Uuid::max()));
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {SHARE_COLS} FROM fed_shares WHERE local_state = $1 AND side = $2
           AND (updated_at < $3 OR (updated_at = $3 AND id < $4))
         ORDER BY updated_at DESC, id DESC LIMIT $5"
    ));
    on_read!(db, p => {
        let rows = sqlx::query(sql).bind(local_state).bind(side).bind(at).bind(id).bind(limit)
            .fetch_all(p).await?;
        rows.iter().map(share_from_row).collect()
    })
}

/// One step in a share's history.
#[derive(Debug, Clone, PartialEq)]
pub struct ShareEventRow {
    pub id: Uuid,
    pub share_id: Uuid,
    pub at: DateTime<Utc>,
    /// `sent` or `received`.
    pub direction: String,
    pub message_type: String,
    pub message_id: Uuid,
    pub actor_name: String,
    pub note: Option<String>,
}

pub async fn insert_share_event(tx: &mut Tx, e: &ShareEventRow) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO fed_share_events (id, share_id, at, direction, message_type, message_id, actor_name, note)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(e.id).bind(e.share_id).bind(e.at).bind(&e.direction).bind(&e.message_type)
        .bind(e.message_id).bind(&e.actor_name).bind(&e.note)
        .execute(&mut *c).await.map(|_| ())?);
    Ok(())
}

pub async fn share_events(db: &Db, share: Uuid) -> Result<Vec<ShareEventRow>, StoreError> {
    on_read!(db, p => {
        let rows = sqlx::query(
            "SELECT id, share_id, at, direction, message_type, message_id, actor_name, note
             FROM fed_share_events WHERE share_id = $1 ORDER BY at, id")
            .bind(share).fetch_all(p).await?;
        rows.iter().map(|r| Ok(ShareEventRow {
            id: r.uuid("id")?,
            share_id: r.uuid("share_id")?,
            at: r.ts("at")?,
            direction: r.text("direction")?,
            message_type: r.text("message_type")?,
            message_id: r.uuid("message_id")?,
            actor_name: r.text("actor_name")?,
            note: r.opt_text("note")?,
        })).collect()
    })
}

// ---------------------------------------------------------------------------------------------
// The outbox

/// A message waiting to be delivered (or delivered, or dead).
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRow {
    /// The message id (UUIDv7), kept across attempts: the receiver's idempotency key.
    pub id: Uuid,
    pub peer_node: String,
    pub message_type: String,
    pub share_id: Option<Uuid>,
    pub seq: i64,
    pub epoch: i64,
    pub reply_to: Option<Uuid>,
    pub payload: serde_json::Value,
    pub queued_at: DateTime<Utc>,
    /// `pending`, `delivered` or `dead`.
    pub state: String,
    pub attempts: i64,
    pub next_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// The peer's signed receipt, once delivered.
    pub receipt: Option<String>,
}

impl OutboxRow {
    /// A new message, pending and due now.
    #[allow(clippy::too_many_arguments)]
    pub fn pending(
        id: Uuid,
        peer_node: String,
        message_type: &str,
        share_id: Option<Uuid>,
        seq: i64,
        epoch: i64,
        reply_to: Option<Uuid>,
        payload: serde_json::Value,
        now: DateTime<Utc>,
    ) -> OutboxRow {
        OutboxRow {
            id,
            peer_node,
            message_type: message_type.to_string(),
            share_id,
            seq,
            epoch,
            reply_to,
            payload,
            queued_at: now,
            state: "pending".into(),
            attempts: 0,
            next_at: now,
            last_error: None,
            delivered_at: None,
            receipt: None,
        }
    }
}

const OUTBOX_COLS: &str = "id, peer_node, message_type, share_id, seq, epoch, reply_to, payload, queued_at, \
                           state, attempts, next_at, last_error, delivered_at, receipt";

fn outbox_from_row(r: &impl RowExt) -> Result<OutboxRow, StoreError> {
    Ok(OutboxRow {
        id: r.uuid("id")?,
        peer_node: r.text("peer_node")?,
        message_type: r.text("message_type")?,
        share_id: r.opt_uuid("share_id")?,
        seq: r.int("seq")?,
        epoch: r.int("epoch")?,
        reply_to: r.opt_uuid("reply_to")?,
        payload: json_col(r, "payload")?,
        queued_at: r.ts("queued_at")?,
        state: r.text("state")?,
        attempts: r.int("attempts")?,
        next_at: r.ts("next_at")?,
        last_error: r.opt_text("last_error")?,
        delivered_at: r.opt_ts("delivered_at")?,
        receipt: r.opt_text("receipt")?,
    })
}

pub async fn enqueue(tx: &mut Tx, m: &OutboxRow) -> Result<(), StoreError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "INSERT INTO fed_outbox ({OUTBOX_COLS})
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
    ));
    let payload = m.payload.to_string();
    on_tx!(tx, c => sqlx::query(sql)
        .bind(m.id).bind(&m.peer_node).bind(&m.message_type).bind(m.share_id).bind(m.seq)
        .bind(m.epoch).bind(m.reply_to).bind(payload).bind(m.queued_at).bind(&m.state)
        .bind(m.attempts).bind(m.next_at).bind(&m.last_error).bind(m.delivered_at).bind(&m.receipt)
        .execute(&mut *c).await.map(|_| ())?);
    Ok(())
}

/// Where a pending message queues and when it is due: what the relay's dispatcher reads,
/// often and for a whole backlog, without the payloads.
#[derive(Debug, Clone)]
pub struct OutboxHead {
    pub id: Uuid,
    pub peer_node: String,
    pub share_id: Option<Uuid>,
    pub next_at: DateTime<Utc>,
}

/// Pending messages in queue order (the relay keeps each peer's order), without their
/// payloads: under a backlog the dispatcher reads this many times a second.
pub async fn pending(db: &Db, limit: i64) -> Result<Vec<OutboxHead>, StoreError> {
    on_read!(db, p => {
        let rows = sqlx::query(
            "SELECT id, peer_node, share_id, next_at FROM fed_outbox WHERE state = 'pending' ORDER BY queued_at, id LIMIT $1")
            .bind(limit).fetch_all(p).await?;
        rows.iter()
            .map(|r| Ok(OutboxHead {
                id: r.uuid("id")?,
                peer_node: r.text("peer_node")?,
                share_id: r.opt_uuid("share_id")?,
                next_at: r.ts("next_at")?,
            }))
            .collect()
    })
}

/// The messages with these ids that are still pending, in queue order.
pub async fn pending_by_ids(db: &Db, ids: &[Uuid]) -> Result<Vec<OutboxRow>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {OUTBOX_COLS} FROM fed_outbox WHERE state = 'pending' AND id IN ({}) ORDER BY queued_at, id",
        crate::placeholders(1, ids.len())
    );
    on_read!(db, p => {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in ids {
            q = q.bind(*id);
        }
        let rows = q.fetch_all(p).await?;
        rows.iter().map(outbox_from_row).collect()
    })
}

/// Records a delivery and its receipt. Returns false when the message was not pending (a
/// concurrent relay or an administrator got there first).
pub async fn mark_delivered(
    tx: &mut Tx,
    id: Uuid,
    receipt: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query(
        "UPDATE fed_outbox SET state = 'delivered', delivered_at = $1, receipt = $2, attempts = attempts + 1,
             last_error = NULL
         WHERE id = $3 AND state = 'pending'")
        .bind(now).bind(receipt).bind(id).execute(&mut *c).await?.rows_affected());
    Ok(n > 0)
}

/// Records a failed attempt: the message waits until `next_at`, or becomes a dead letter.
pub async fn mark_failed(
    tx: &mut Tx,
    id: Uuid,
    error: &str,
    next_at: DateTime<Utc>,
    dead: bool,
) -> Result<bool, StoreError> {
    let state = if dead { "dead" } else { "pending" };
    let n = on_tx!(tx, c => sqlx::query(
        "UPDATE fed_outbox SET state = $1, attempts = attempts + 1, next_at = $2, last_error = $3
         WHERE id = $4 AND state = 'pending'")
        .bind(state).bind(next_at).bind(error).bind(id).execute(&mut *c).await?.rows_affected());
    Ok(n > 0)
}

/// Puts messages back in the queue: a dead letter an administrator retries, or a share's
/// messages a peer pulled (`seq` in `from..=to`). Returns how many.
pub async fn requeue(
    tx: &mut Tx,
    id: Option<Uuid>,
    share: Option<(Uuid, &str, i64, i64)>,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let n = match (id, share) {
        (Some(id), _) => on_tx!(tx, c => sqlx::query(
            "UPDATE fed_outbox SET state = 'pending', next_at = $1, last_error = NULL
             WHERE id = $2 AND state = 'dead'")
            .bind(now).bind(id).execute(&mut *c).await?.rows_affected()),
        (None, Some((share, peer, from, to))) => on_tx!(tx, c => sqlx::query(
            "UPDATE fed_outbox SET state = 'pending', next_at = $1
             WHERE share_id = $2 AND peer_node = $3 AND seq >= $4 AND seq <= $5 AND state = 'delivered'")
            .bind(now).bind(share).bind(peer).bind(from).bind(to).execute(&mut *c).await?.rows_affected()),
        (None, None) => 0,
    };
    Ok(n)
}

/// A peer answers again: its pending messages are due now instead of at their backoff.
pub async fn retry_peer_now(tx: &mut Tx, peer: &str, now: DateTime<Utc>) -> Result<u64, StoreError> {
    Ok(on_tx!(tx, c => sqlx::query(
        "UPDATE fed_outbox SET next_at = $1 WHERE state = 'pending' AND peer_node = $2 AND next_at > $1")
        .bind(now).bind(peer).execute(&mut *c).await?.rows_affected()))
}

/// Dead letters, oldest first.
pub async fn dead_letters(db: &Db, limit: i64) -> Result<Vec<OutboxRow>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {OUTBOX_COLS} FROM fed_outbox WHERE state = 'dead' ORDER BY queued_at, id LIMIT $1"
    ));
    on_read!(db, p => {
        let rows = sqlx::query(sql).bind(limit).fetch_all(p).await?;
        rows.iter().map(outbox_from_row).collect()
    })
}

/// How many messages are in each outbox state.
pub async fn outbox_counts(db: &Db) -> Result<Vec<(String, i64)>, StoreError> {
    on_read!(db, p => {
        let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM fed_outbox GROUP BY state ORDER BY state")
            .fetch_all(p).await?;
        rows.iter().map(|r| Ok((r.text("state")?, r.int("n")?))).collect()
    })
}

/// The messages of a share sent by this node, in sequence order (tests and the share page).
pub async fn outbox_of_share(db: &Db, share: Uuid) -> Result<Vec<OutboxRow>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {OUTBOX_COLS} FROM fed_outbox WHERE share_id = $1 ORDER BY seq, queued_at, id"
    ));
    on_read!(db, p => {
        let rows = sqlx::query(sql).bind(share).fetch_all(p).await?;
        rows.iter().map(outbox_from_row).collect()
    })
}

/// The messages of one type this node queued, oldest first (tests and checks of what left).
pub async fn outbox_of_type(db: &Db, message_type: &str) -> Result<Vec<OutboxRow>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {OUTBOX_COLS} FROM fed_outbox WHERE message_type = $1 ORDER BY queued_at, id"
    ));
    on_read!(db, p => {
        let rows = sqlx::query(sql).bind(message_type).fetch_all(p).await?;
        rows.iter().map(outbox_from_row).collect()
    })
}

// ---------------------------------------------------------------------------------------------
// The inbox

/// A message received from a peer.
#[derive(Debug, Clone, PartialEq)]
pub struct InboxRow {
    pub from_node: String,
    pub message_id: Uuid,
    pub message_type: String,
    pub share_id: Option<Uuid>,
    pub seq: i64,
    pub received_at: DateTime<Utc>,
    /// False while it waits for an earlier message of its share.
    pub applied: bool,
    /// The verified header and payload (JSON), applied later when it waits.
    pub envelope: serde_json::Value,
    /// The signed receipt answered (again for a duplicate).
    pub receipt: String,
}

const INBOX_COLS: &str =
    "from_node, message_id, message_type, share_id, seq, received_at, applied, envelope, receipt";

fn inbox_from_row(r: &impl RowExt) -> Result<InboxRow, StoreError> {
    Ok(InboxRow {
        from_node: r.text("from_node")?,
        message_id: r.uuid("message_id")?,
        message_type: r.text("message_type")?,
        share_id: r.opt_uuid("share_id")?,
        seq: r.int("seq")?,
        received_at: r.ts("received_at")?,
        applied: r.boolean("applied")?,
        envelope: json_col(r, "envelope")?,
        receipt: r.text("receipt")?,
    })
}

pub async fn inbox_get_tx(tx: &mut Tx, from: &str, id: Uuid) -> Result<Option<InboxRow>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {INBOX_COLS} FROM fed_inbox WHERE from_node = $1 AND message_id = $2"
    ));
    on_tx!(tx, c => {
        let row = sqlx::query(sql).bind(from).bind(id).fetch_optional(&mut *c).await?;
        row.as_ref().map(inbox_from_row).transpose()
    })
}

pub async fn inbox_insert(tx: &mut Tx, m: &InboxRow) -> Result<(), StoreError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "INSERT INTO fed_inbox ({INBOX_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    ));
    let envelope = m.envelope.to_string();
    on_tx!(tx, c => sqlx::query(sql)
        .bind(&m.from_node).bind(m.message_id).bind(&m.message_type).bind(m.share_id).bind(m.seq)
        .bind(m.received_at).bind(m.applied).bind(envelope).bind(&m.receipt)
        .execute(&mut *c).await.map(|_| ())?);
    Ok(())
}

/// The waiting message of a share with sequence number `seq`, from `from`.
pub async fn inbox_waiting_tx(
    tx: &mut Tx,
    share: Uuid,
    from: &str,
    seq: i64,
) -> Result<Option<InboxRow>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {INBOX_COLS} FROM fed_inbox WHERE share_id = $1 AND seq = $2 AND from_node = $3 AND applied = $4"
    ));
    on_tx!(tx, c => {
        let row = sqlx::query(sql).bind(share).bind(seq).bind(from).bind(false).fetch_optional(&mut *c).await?;
        row.as_ref().map(inbox_from_row).transpose()
    })
}

pub async fn inbox_mark_applied(tx: &mut Tx, from: &str, id: Uuid) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query("UPDATE fed_inbox SET applied = $1 WHERE from_node = $2 AND message_id = $3")
        .bind(true).bind(from).bind(id).execute(&mut *c).await.map(|_| ())?);
    Ok(())
}

/// The messages received from `from` on a share, by sequence number (tests, diagnostics).
pub async fn inbox_of_share(db: &Db, share: Uuid) -> Result<Vec<InboxRow>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {INBOX_COLS} FROM fed_inbox WHERE share_id = $1 ORDER BY from_node, seq, message_id"
    ));
    on_read!(db, p => {
        let rows = sqlx::query(sql).bind(share).fetch_all(p).await?;
        rows.iter().map(inbox_from_row).collect()
    })
}

/// Every message received, oldest first (tests, diagnostics).
pub async fn inbox_all(db: &Db) -> Result<Vec<InboxRow>, StoreError> {
    let sql =
        sqlx::AssertSqlSafe(format!("SELECT {INBOX_COLS} FROM fed_inbox ORDER BY received_at, message_id"));
    on_read!(db, p => {
        let rows = sqlx::query(sql).fetch_all(p).await?;
        rows.iter().map(inbox_from_row).collect()
    })
}

// ---------------------------------------------------------------------------------------------
// The hub's statistics

/// One state's published statistics for one period, as the hub keeps them.
#[derive(Debug, Clone, PartialEq)]
pub struct HubStatsRow {
    pub state: String,
    pub period: String,
    pub period_from: DateTime<Utc>,
    pub from_node: String,
    pub message_id: Uuid,
    pub received_at: DateTime<Utc>,
    pub body: serde_json::Value,
}

/// Keeps a submission (replacing an earlier one of the same state and period).
pub async fn put_hub_stats(tx: &mut Tx, r: &HubStatsRow) -> Result<(), StoreError> {
    let body = r.body.to_string();
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO hub_stats (state, period, period_from, from_node, message_id, received_at, body)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (state, period) DO UPDATE SET period_from = excluded.period_from,
             from_node = excluded.from_node, message_id = excluded.message_id,
             received_at = excluded.received_at, body = excluded.body")
        .bind(&r.state).bind(&r.period).bind(r.period_from).bind(&r.from_node).bind(r.message_id)
        .bind(r.received_at).bind(body)
        .execute(&mut *c).await.map(|_| ())?);
    Ok(())
}

/// The submissions of one period, by state.
pub async fn hub_stats_of_period(db: &Db, period: &str) -> Result<Vec<HubStatsRow>, StoreError> {
    on_read!(db, p => {
        let rows = sqlx::query(
            "SELECT state, period, period_from, from_node, message_id, received_at, body
             FROM hub_stats WHERE period = $1 ORDER BY state")
            .bind(period).fetch_all(p).await?;
        rows.iter().map(|r| Ok(HubStatsRow {
            state: r.text("state")?,
            period: r.text("period")?,
            period_from: r.ts("period_from")?,
            from_node: r.text("from_node")?,
            message_id: r.uuid("message_id")?,
            received_at: r.ts("received_at")?,
            body: json_col(r, "body")?,
        })).collect()
    })
}
