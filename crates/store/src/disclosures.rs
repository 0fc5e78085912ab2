//! The disclosure log.

use enlace_domain::country::CountryCode;
use enlace_domain::disclosure::{DisclosureRecord, Purpose, RecipientKind};
use enlace_domain::ids::{CaseId, UserId};

use crate::row::{RowExt, json, parse, parse_opt};
use crate::{Db, StoreError, Tx, on_read, on_tx};

pub async fn insert(tx: &mut Tx, d: &DisclosureRecord) -> Result<(), StoreError> {
    let basis = serde_json::to_string(&d.basis).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO disclosures (id, case_id, case_number, owner_state, at, actor, actor_name, purpose, recipient,
                                  recipient_kind, legal_instrument, basis)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)")
        .bind(d.id).bind(d.case_id.0).bind(&d.case_number).bind(d.owner_state.as_str()).bind(d.at)
        .bind(d.actor.map(|a| a.0)).bind(&d.actor_name).bind(d.purpose.as_str()).bind(&d.recipient)
        .bind(d.recipient_kind.as_str()).bind(&d.legal_instrument).bind(basis)
        .execute(&mut *c).await.map(|_| ())?);
    Ok(())
}

const COLS: &str = "id, case_id, case_number, owner_state, at, actor, actor_name, purpose, recipient, \
                    recipient_kind, legal_instrument, basis";

fn from_row(r: &impl RowExt) -> Result<DisclosureRecord, StoreError> {
    Ok(DisclosureRecord {
        id: r.uuid("id")?,
        case_id: CaseId(r.uuid("case_id")?),
        case_number: r.text("case_number")?,
        owner_state: parse("owner_state", &r.text("owner_state")?, CountryCode::parse)?,
        at: r.ts("at")?,
        actor: r.opt_uuid("actor")?.map(UserId),
        actor_name: r.text("actor_name")?,
        purpose: parse_opt("purpose", &r.text("purpose")?, Purpose::parse)?,
        recipient: r.text("recipient")?,
        recipient_kind: parse_opt("recipient_kind", &r.text("recipient_kind")?, RecipientKind::parse)?,
        legal_instrument: r.text("legal_instrument")?,
        basis: json("basis", &r.text("basis")?)?,
    })
}

/// The disclosures of one case, oldest first.
pub async fn for_case(db: &Db, case: CaseId) -> Result<Vec<DisclosureRecord>, StoreError> {
    let sql =
        sqlx::AssertSqlSafe(format!("SELECT {COLS} FROM disclosures WHERE case_id = $1 ORDER BY at, id"));
    on_read!(db, p => {
        let rows = sqlx::query(sql).bind(case.0).fetch_all(p).await?;
        rows.iter().map(from_row).collect()
    })
}

/// The disclosures of one case, oldest first, in the caller's transaction.
pub async fn for_case_tx(tx: &mut Tx, case: CaseId) -> Result<Vec<DisclosureRecord>, StoreError> {
    let sql =
        sqlx::AssertSqlSafe(format!("SELECT {COLS} FROM disclosures WHERE case_id = $1 ORDER BY at, id"));
    on_tx!(tx, c => {
        let rows = sqlx::query(sql).bind(case.0).fetch_all(&mut *c).await?;
        rows.iter().map(from_row).collect()
    })
}

/// The disclosures of a state's cases, newest first.
pub async fn for_state(db: &Db, state: CountryCode, limit: i64) -> Result<Vec<DisclosureRecord>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM disclosures WHERE owner_state = $1 ORDER BY at DESC, id DESC LIMIT $2"
    ));
    on_read!(db, p => {
        let rows = sqlx::query(sql).bind(state.as_str()).bind(limit).fetch_all(p).await?;
        rows.iter().map(from_row).collect()
    })
}
