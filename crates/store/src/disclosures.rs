//! The disclosure log.

use chrono::{DateTime, Utc};
use enlace_domain::ids::{CaseId, UserId};

use crate::row::{RowExt, json};
use crate::{Db, StoreError, Tx, on_read, on_tx};

/// One logged disclosure. `basis` is the JSON of the domain's `Basis`.
#[derive(Debug, Clone)]
pub struct Disclosure {
    pub id: uuid::Uuid,
    pub case_id: CaseId,
    pub case_number: String,
    pub owner_state: String,
    pub at: DateTime<Utc>,
    pub actor: Option<UserId>,
    pub actor_name: String,
    pub purpose: String,
    pub recipient: String,
    pub recipient_kind: String,
    pub legal_instrument: String,
    pub basis: serde_json::Value,
}

pub async fn insert(tx: &mut Tx, d: &Disclosure) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO disclosures (id, case_id, case_number, owner_state, at, actor, actor_name, purpose, recipient,
                                  recipient_kind, legal_instrument, basis)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)")
        .bind(d.id).bind(d.case_id.0).bind(&d.case_number).bind(&d.owner_state).bind(d.at)
        .bind(d.actor.map(|a| a.0)).bind(&d.actor_name).bind(&d.purpose).bind(&d.recipient)
        .bind(&d.recipient_kind).bind(&d.legal_instrument).bind(d.basis.to_string())
        .execute(&mut *c).await.map(|_| ())?);
    Ok(())
}

const COLS: &str = "id, case_id, case_number, owner_state, at, actor, actor_name, purpose, recipient, \
                    recipient_kind, legal_instrument, basis";

fn from_row(r: &impl RowExt) -> Result<Disclosure, StoreError> {
    Ok(Disclosure {
        id: r.uuid("id")?,
        case_id: CaseId(r.uuid("case_id")?),
        case_number: r.text("case_number")?,
        owner_state: r.text("owner_state")?,
        at: r.ts("at")?,
        actor: r.opt_uuid("actor")?.map(UserId),
        actor_name: r.text("actor_name")?,
        purpose: r.text("purpose")?,
        recipient: r.text("recipient")?,
        recipient_kind: r.text("recipient_kind")?,
        legal_instrument: r.text("legal_instrument")?,
        basis: json("basis", &r.text("basis")?)?,
    })
}

/// The disclosures of one case, oldest first.
pub async fn for_case(db: &Db, case: CaseId) -> Result<Vec<Disclosure>, StoreError> {
    let sql =
        sqlx::AssertSqlSafe(format!("SELECT {COLS} FROM disclosures WHERE case_id = $1 ORDER BY at, id"));
    on_read!(db, p => {
        let rows = sqlx::query(sql).bind(case.0).fetch_all(p).await?;
        rows.iter().map(from_row).collect()
    })
}

/// The disclosures of a state's cases, newest first.
pub async fn for_state(db: &Db, state: &str, limit: i64) -> Result<Vec<Disclosure>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM disclosures WHERE owner_state = $1 ORDER BY at DESC, id DESC LIMIT $2"
    ));
    on_read!(db, p => {
        let rows = sqlx::query(sql).bind(state).bind(limit).fetch_all(p).await?;
        rows.iter().map(from_row).collect()
    })
}
