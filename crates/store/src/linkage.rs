//! Cross-border linkage service tables (issue 7). On a state's node: the encodings it sent the
//! hub and the candidates the hub sent back. On the hub: the encodings received (bits, never
//! names) and the candidate pairs across states.

use chrono::{DateTime, Utc};
use sqlx::AssertSqlSafe;
use uuid::Uuid;

use crate::row::RowExt;
use crate::{Db, StoreError, Tx, on_read, on_tx};

// ---------------------------------------------------------------------------------------------
// A state's node

/// An encoding this node sent the hub for one case's person.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodingRow {
    pub id: Uuid,
    pub case_id: Uuid,
    /// `missing` (a missing-person report) or `found` (detained, hospitalised, deceased,
    /// returned).
    pub side: String,
    /// The hub it was sent to (a withdrawal goes there).
    pub hub_node: String,
    /// The consent it rests on (its withdrawal withdraws the encoding), if not an exception.
    pub consent_id: Option<Uuid>,
    pub disclosure_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<Uuid>,
    pub withdrawn_at: Option<DateTime<Utc>>,
}

const ENCODING_COLS: &str =
    "id, case_id, side, hub_node, consent_id, disclosure_id, created_at, created_by, withdrawn_at";

fn encoding_from_row(r: &impl RowExt) -> Result<EncodingRow, StoreError> {
    Ok(EncodingRow {
        id: r.uuid("id")?,
        case_id: r.uuid("case_id")?,
        side: r.text("side")?,
        hub_node: r.text("hub_node")?,
        consent_id: r.opt_uuid("consent_id")?,
        disclosure_id: r.opt_uuid("disclosure_id")?,
        created_at: r.ts("created_at")?,
        created_by: r.opt_uuid("created_by")?,
        withdrawn_at: r.opt_ts("withdrawn_at")?,
    })
}

pub async fn insert_encoding(tx: &mut Tx, e: &EncodingRow) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO link_encodings (id, case_id, side, hub_node, consent_id, disclosure_id, created_at, created_by,
             withdrawn_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
        .bind(e.id).bind(e.case_id).bind(&e.side).bind(&e.hub_node).bind(e.consent_id).bind(e.disclosure_id)
        .bind(e.created_at).bind(e.created_by).bind(e.withdrawn_at)
        .execute(&mut *c).await.map(|_| ())?);
    Ok(())
}

/// The encodings of a case, newest first (withdrawn ones included).
pub async fn encodings_of_case(db: &Db, case_id: Uuid) -> Result<Vec<EncodingRow>, StoreError> {
    on_read!(db, p => {
        let sql = format!("SELECT {ENCODING_COLS} FROM link_encodings WHERE case_id = $1 ORDER BY created_at DESC");
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(case_id).fetch_all(p).await?;
        rows.iter().map(encoding_from_row).collect()
    })
}

/// The encodings of a case still in the service, in the caller's transaction.
pub async fn live_encodings_of_case(tx: &mut Tx, case_id: Uuid) -> Result<Vec<EncodingRow>, StoreError> {
    on_tx!(tx, c => {
        let sql = format!("SELECT {ENCODING_COLS} FROM link_encodings WHERE case_id = $1 AND withdrawn_at IS NULL");
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(case_id).fetch_all(&mut *c).await?;
        rows.iter().map(encoding_from_row).collect()
    })
}

/// The encodings still in the service that rest on a consent.
pub async fn live_encodings_of_consent(
    tx: &mut Tx,
    consent_id: Uuid,
) -> Result<Vec<EncodingRow>, StoreError> {
    on_tx!(tx, c => {
        let sql = format!("SELECT {ENCODING_COLS} FROM link_encodings WHERE consent_id = $1 AND withdrawn_at IS NULL");
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(consent_id).fetch_all(&mut *c).await?;
        rows.iter().map(encoding_from_row).collect()
    })
}

pub async fn encoding_tx(tx: &mut Tx, id: Uuid) -> Result<Option<EncodingRow>, StoreError> {
    on_tx!(tx, c => {
        let sql = format!("SELECT {ENCODING_COLS} FROM link_encodings WHERE id = $1");
        let row = sqlx::query(AssertSqlSafe(sql)).bind(id).fetch_optional(&mut *c).await?;
        row.as_ref().map(encoding_from_row).transpose()
    })
}

/// Marks an encoding withdrawn (once).
pub async fn withdraw_encoding(tx: &mut Tx, id: Uuid, at: DateTime<Utc>) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query(
        "UPDATE link_encodings SET withdrawn_at = $2 WHERE id = $1 AND withdrawn_at IS NULL")
        .bind(id).bind(at).execute(&mut *c).await?.rows_affected());
    Ok(n > 0)
}

/// A candidate the hub sent this node, with the officers' decision.
#[derive(Debug, Clone, PartialEq)]
pub struct CandidateRow {
    pub id: Uuid,
    pub encoding_id: Uuid,
    pub case_id: Uuid,
    pub side: String,
    pub other_state: String,
    pub other_encoding: Uuid,
    pub similarity: f64,
    pub received_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// `same_person` or `not_same_person`.
    pub decision: Option<String>,
    pub decided_by: Option<Uuid>,
    pub decided_at: Option<DateTime<Utc>>,
    pub note: Option<String>,
    /// When the hub said the other state's encoding left the service.
    pub withdrawn_at: Option<DateTime<Utc>>,
}

const CANDIDATE_COLS: &str = "id, encoding_id, case_id, side, other_state, other_encoding, similarity, \
     received_at, expires_at, decision, decided_by, decided_at, note, withdrawn_at";

fn candidate_from_row(r: &impl RowExt) -> Result<CandidateRow, StoreError> {
    Ok(CandidateRow {
        id: r.uuid("id")?,
        encoding_id: r.uuid("encoding_id")?,
        case_id: r.uuid("case_id")?,
        side: r.text("side")?,
        other_state: r.text("other_state")?,
        other_encoding: r.uuid("other_encoding")?,
        similarity: r.float("similarity")?,
        received_at: r.ts("received_at")?,
        expires_at: r.ts("expires_at")?,
        decision: r.opt_text("decision")?,
        decided_by: r.opt_uuid("decided_by")?,
        decided_at: r.opt_ts("decided_at")?,
        note: r.opt_text("note")?,
        withdrawn_at: r.opt_ts("withdrawn_at")?,
    })
}

/// Keeps a candidate (a repeated one is ignored). Returns whether it is new.
pub async fn insert_candidate(tx: &mut Tx, k: &CandidateRow) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query(
        "INSERT INTO link_candidates (id, encoding_id, case_id, side, other_state, other_encoding, similarity,
             received_at, expires_at, decision, decided_by, decided_at, note)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (id) DO NOTHING")
        .bind(k.id).bind(k.encoding_id).bind(k.case_id).bind(&k.side).bind(&k.other_state)
        .bind(k.other_encoding).bind(k.similarity).bind(k.received_at).bind(k.expires_at)
        .bind(&k.decision).bind(k.decided_by).bind(k.decided_at).bind(&k.note)
        .execute(&mut *c).await?.rows_affected());
    Ok(n > 0)
}

pub async fn candidate_tx(tx: &mut Tx, id: Uuid) -> Result<Option<CandidateRow>, StoreError> {
    on_tx!(tx, c => {
        let sql = format!("SELECT {CANDIDATE_COLS} FROM link_candidates WHERE id = $1");
        let row = sqlx::query(AssertSqlSafe(sql)).bind(id).fetch_optional(&mut *c).await?;
        row.as_ref().map(candidate_from_row).transpose()
    })
}

/// Marks candidate `id`, held for this node's encoding `encoding`, as void: the other
/// state's encoding left the service. Returns whether a candidate was marked.
pub async fn withdraw_candidate(
    tx: &mut Tx,
    id: Uuid,
    encoding: Uuid,
    at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query(
        "UPDATE link_candidates SET withdrawn_at = $3 WHERE id = $1 AND encoding_id = $2 AND withdrawn_at IS NULL")
        .bind(id).bind(encoding).bind(at).execute(&mut *c).await?.rows_affected());
    Ok(n > 0)
}

/// Records the decision on a candidate not yet decided. Returns whether it was recorded.
pub async fn decide_candidate(
    tx: &mut Tx,
    id: Uuid,
    decision: &str,
    by: Uuid,
    at: DateTime<Utc>,
    note: Option<&str>,
) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query(
        "UPDATE link_candidates SET decision = $2, decided_by = $3, decided_at = $4, note = $5
         WHERE id = $1 AND decision IS NULL AND withdrawn_at IS NULL")
        .bind(id).bind(decision).bind(by).bind(at).bind(note).execute(&mut *c).await?.rows_affected());
    Ok(n > 0)
}

/// The newest candidates (at most `limit`), undecided first.
pub async fn candidates(db: &Db, limit: i64) -> Result<Vec<CandidateRow>, StoreError> {
    on_read!(db, p => {
        let sql = format!(
            "SELECT {CANDIDATE_COLS} FROM link_candidates
             ORDER BY CASE WHEN decision IS NULL AND withdrawn_at IS NULL THEN 0 ELSE 1 END, received_at DESC, id
             LIMIT $1");
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(limit).fetch_all(p).await?;
        rows.iter().map(candidate_from_row).collect()
    })
}

/// The candidates of a case, newest first.
pub async fn candidates_of_case(db: &Db, case_id: Uuid) -> Result<Vec<CandidateRow>, StoreError> {
    on_read!(db, p => {
        let sql = format!("SELECT {CANDIDATE_COLS} FROM link_candidates WHERE case_id = $1 ORDER BY received_at DESC, id");
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(case_id).fetch_all(p).await?;
        rows.iter().map(candidate_from_row).collect()
    })
}

// ---------------------------------------------------------------------------------------------
// The hub

/// An encoding a node submitted (its bits as bytes).
#[derive(Debug, Clone, PartialEq)]
pub struct HubEncodingRow {
    pub id: Uuid,
    pub state: String,
    pub node: String,
    pub side: String,
    pub filter: Vec<u8>,
    pub received_at: DateTime<Utc>,
    /// Compared with the others already.
    pub matched: bool,
}

fn hub_encoding_from_row(r: &impl RowExt) -> Result<HubEncodingRow, StoreError> {
    Ok(HubEncodingRow {
        id: r.uuid("id")?,
        state: r.text("state")?,
        node: r.text("node")?,
        side: r.text("side")?,
        filter: r.bytes("filter")?,
        received_at: r.ts("received_at")?,
        matched: r.boolean("matched")?,
    })
}

/// The node that submitted an encoding, if the hub holds it.
pub async fn hub_encoding_owner(tx: &mut Tx, id: Uuid) -> Result<Option<String>, StoreError> {
    on_tx!(tx, c => {
        let row = sqlx::query("SELECT node FROM hub_link_encodings WHERE id = $1")
            .bind(id).fetch_optional(&mut *c).await?;
        row.map(|r| r.text("node")).transpose()
    })
}

pub async fn insert_hub_encoding(tx: &mut Tx, e: &HubEncodingRow) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO hub_link_encodings (id, state, node, side, filter, received_at, matched)
         VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(e.id).bind(&e.state).bind(&e.node).bind(&e.side).bind(&e.filter).bind(e.received_at)
        .bind(e.matched).execute(&mut *c).await.map(|_| ())?);
    Ok(())
}

/// Removes an encoding of `node` and the candidates that name it. Returns whether it was held.
/// The candidates the hub holds that involve encoding `id`.
pub async fn hub_candidates_of_encoding(tx: &mut Tx, id: Uuid) -> Result<Vec<HubCandidateRow>, StoreError> {
    on_tx!(tx, c => {
        let sql = format!(
            "SELECT {HUB_CANDIDATE_COLS} FROM hub_link_candidates WHERE missing_encoding = $1 OR found_encoding = $1");
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(id).fetch_all(&mut *c).await?;
        rows.iter().map(hub_candidate_from_row).collect()
    })
}

pub async fn delete_hub_encoding(tx: &mut Tx, id: Uuid, node: &str) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query("DELETE FROM hub_link_encodings WHERE id = $1 AND node = $2")
        .bind(id).bind(node).execute(&mut *c).await?.rows_affected());
    if n > 0 {
        on_tx!(tx, c => sqlx::query(
            "DELETE FROM hub_link_candidates WHERE missing_encoding = $1 OR found_encoding = $1")
            .bind(id).execute(&mut *c).await.map(|_| ())?);
    }
    Ok(n > 0)
}

/// Every encoding the hub holds of one side (`missing` or `found`).
pub async fn hub_encodings_of_side(db: &Db, side: &str) -> Result<Vec<HubEncodingRow>, StoreError> {
    on_read!(db, p => {
        let rows = sqlx::query(
            "SELECT id, state, node, side, filter, received_at, matched FROM hub_link_encodings
             WHERE side = $1 ORDER BY id")
            .bind(side).fetch_all(p).await?;
        rows.iter().map(hub_encoding_from_row).collect()
    })
}

/// Whether some encoding waits to be compared.
pub async fn hub_has_unmatched(db: &Db) -> Result<bool, StoreError> {
    on_read!(db, p => {
        let row = sqlx::query("SELECT id FROM hub_link_encodings WHERE matched = $1 LIMIT 1")
            .bind(false).fetch_optional(p).await?;
        Ok(row.is_some())
    })
}

/// Marks encodings compared.
pub async fn mark_hub_matched(tx: &mut Tx, ids: &[Uuid]) -> Result<(), StoreError> {
    for id in ids {
        on_tx!(tx, c => sqlx::query("UPDATE hub_link_encodings SET matched = $2 WHERE id = $1")
            .bind(id).bind(true).execute(&mut *c).await.map(|_| ())?);
    }
    Ok(())
}

/// A pair of encodings of two states that look alike, with each side's decision.
#[derive(Debug, Clone, PartialEq)]
pub struct HubCandidateRow {
    pub id: Uuid,
    pub missing_encoding: Uuid,
    pub missing_state: String,
    pub missing_node: String,
    pub found_encoding: Uuid,
    pub found_state: String,
    pub found_node: String,
    pub similarity: f64,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub missing_decision: Option<String>,
    pub missing_decided_at: Option<DateTime<Utc>>,
    pub found_decision: Option<String>,
    pub found_decided_at: Option<DateTime<Utc>>,
}

const HUB_CANDIDATE_COLS: &str = "id, missing_encoding, missing_state, missing_node, found_encoding, \
     found_state, found_node, similarity, created_at, expires_at, missing_decision, missing_decided_at, \
     found_decision, found_decided_at";

fn hub_candidate_from_row(r: &impl RowExt) -> Result<HubCandidateRow, StoreError> {
    Ok(HubCandidateRow {
        id: r.uuid("id")?,
        missing_encoding: r.uuid("missing_encoding")?,
        missing_state: r.text("missing_state")?,
        missing_node: r.text("missing_node")?,
        found_encoding: r.uuid("found_encoding")?,
        found_state: r.text("found_state")?,
        found_node: r.text("found_node")?,
        similarity: r.float("similarity")?,
        created_at: r.ts("created_at")?,
        expires_at: r.ts("expires_at")?,
        missing_decision: r.opt_text("missing_decision")?,
        missing_decided_at: r.opt_ts("missing_decided_at")?,
        found_decision: r.opt_text("found_decision")?,
        found_decided_at: r.opt_ts("found_decided_at")?,
    })
}

/// Keeps a candidate pair unless the same pair is already held. Returns whether it is new.
pub async fn insert_hub_candidate(tx: &mut Tx, k: &HubCandidateRow) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query(
        "INSERT INTO hub_link_candidates (id, missing_encoding, missing_state, missing_node, found_encoding,
             found_state, found_node, similarity, created_at, expires_at, missing_decision, missing_decided_at,
             found_decision, found_decided_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
         ON CONFLICT (missing_encoding, found_encoding) DO NOTHING")
        .bind(k.id).bind(k.missing_encoding).bind(&k.missing_state).bind(&k.missing_node)
        .bind(k.found_encoding).bind(&k.found_state).bind(&k.found_node).bind(k.similarity)
        .bind(k.created_at).bind(k.expires_at).bind(&k.missing_decision).bind(k.missing_decided_at)
        .bind(&k.found_decision).bind(k.found_decided_at)
        .execute(&mut *c).await?.rows_affected());
    Ok(n > 0)
}

pub async fn hub_candidate_tx(tx: &mut Tx, id: Uuid) -> Result<Option<HubCandidateRow>, StoreError> {
    on_tx!(tx, c => {
        let sql = format!("SELECT {HUB_CANDIDATE_COLS} FROM hub_link_candidates WHERE id = $1");
        let row = sqlx::query(AssertSqlSafe(sql)).bind(id).fetch_optional(&mut *c).await?;
        row.as_ref().map(hub_candidate_from_row).transpose()
    })
}

/// Records one side's decision (`missing` or `found`) on a candidate.
pub async fn decide_hub_candidate(
    tx: &mut Tx,
    id: Uuid,
    side: &str,
    decision: &str,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let sql = if side == "missing" {
        "UPDATE hub_link_candidates SET missing_decision = $2, missing_decided_at = $3 WHERE id = $1"
    } else {
        "UPDATE hub_link_candidates SET found_decision = $2, found_decided_at = $3 WHERE id = $1"
    };
    on_tx!(tx, c => sqlx::query(sql).bind(id).bind(decision).bind(at).execute(&mut *c).await.map(|_| ())?);
    Ok(())
}

/// The newest candidate pairs (at most `limit`).
pub async fn hub_candidates(db: &Db, limit: i64) -> Result<Vec<HubCandidateRow>, StoreError> {
    on_read!(db, p => {
        let sql = format!("SELECT {HUB_CANDIDATE_COLS} FROM hub_link_candidates ORDER BY created_at DESC, id LIMIT $1");
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(limit).fetch_all(p).await?;
        rows.iter().map(hub_candidate_from_row).collect()
    })
}

/// How many encodings each state has in the service, by side: `(state, side, count)`.
pub async fn hub_encoding_counts(db: &Db) -> Result<Vec<(String, String, i64)>, StoreError> {
    on_read!(db, p => {
        let rows = sqlx::query(
            "SELECT state, side, COUNT(*) AS n FROM hub_link_encodings GROUP BY state, side ORDER BY state, side")
            .fetch_all(p).await?;
        rows.iter().map(|r| Ok((r.text("state")?, r.text("side")?, r.int("n")?))).collect()
    })
}
