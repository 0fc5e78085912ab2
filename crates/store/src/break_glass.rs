//! Break-glass grants: who opened which restricted case, why, and until when.

use chrono::{DateTime, Utc};
use enlace_domain::country::CountryCode;
use enlace_domain::ids::{CaseId, UserId};

use crate::row::RowExt;
use crate::{Db, StoreError, Tx, on_read, on_tx};

pub use enlace_domain::record::BreakGlassGrant as Grant;

pub async fn insert(tx: &mut Tx, g: &Grant) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO break_glass (id, user_id, case_id, case_number, owner_state, reason, at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(g.id).bind(g.user.0).bind(g.case_id.0).bind(&g.case_number).bind(g.owner_state.as_str())
        .bind(&g.reason).bind(g.at).bind(g.expires_at)
        .execute(&mut *c).await.map(|_| ())?);
    Ok(())
}

const ACTIVE: &str =
    "SELECT COUNT(*) FROM break_glass WHERE user_id = $1 AND case_id = $2 AND expires_at > $3";

/// Whether `user` holds a live grant for `case`.
pub async fn active(db: &Db, user: UserId, case: CaseId, now: DateTime<Utc>) -> Result<bool, StoreError> {
    let n: i64 =
        on_read!(db, p => sqlx::query_scalar(ACTIVE).bind(user.0).bind(case.0).bind(now).fetch_one(p).await?);
    Ok(n > 0)
}

/// [`active`], inside a write transaction.
pub async fn active_tx(
    tx: &mut Tx,
    user: UserId,
    case: CaseId,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let n: i64 = on_tx!(tx, c => sqlx::query_scalar(ACTIVE).bind(user.0).bind(case.0).bind(now).fetch_one(&mut *c).await?);
    Ok(n > 0)
}

/// The grants on cases of `state`, newest first.
pub async fn list_for_state(db: &Db, state: CountryCode, limit: i64) -> Result<Vec<Grant>, StoreError> {
    on_read!(db, p => {
        let rows = sqlx::query(
            "SELECT g.id, g.user_id, u.username, g.case_id, g.case_number, g.owner_state, g.reason, g.at, g.expires_at
             FROM break_glass g JOIN users u ON u.id = g.user_id
             WHERE g.owner_state = $1 ORDER BY g.at DESC LIMIT $2")
            .bind(state.as_str()).bind(limit).fetch_all(p).await?;
        rows.iter().map(|r| Ok(Grant {
            id: r.uuid("id")?,
            user: UserId(r.uuid("user_id")?),
            username: r.text("username")?,
            case_id: CaseId(r.uuid("case_id")?),
            case_number: r.text("case_number")?,
            owner_state: crate::row::parse("owner_state", &r.text("owner_state")?, CountryCode::parse)?,
            reason: r.text("reason")?,
            at: r.ts("at")?,
            expires_at: r.ts("expires_at")?,
        })).collect()
    })
}
