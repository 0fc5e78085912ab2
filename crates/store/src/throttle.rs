//! Failed sign-in counters per key (`user:…`, `addr:…`), for throttling and lockout.

use chrono::{DateTime, Utc};

use crate::row::RowExt;
use crate::{Db, StoreError, Tx, on_read, on_tx};

/// The latest time until which any of `keys` is locked, if one is locked at `now`.
pub async fn locked_until(
    db: &Db,
    keys: &[String],
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let mut latest: Option<DateTime<Utc>> = None;
    for k in keys {
        let row = on_read!(db, p => {
            let r = sqlx::query("SELECT locked_until FROM login_throttle WHERE key = $1 AND locked_until > $2")
                .bind(k).bind(now).fetch_optional(p).await?;
            r.map(|r| r.ts("locked_until")).transpose()?
        });
        latest = latest.max(row);
    }
    Ok(latest)
}

/// Counts one failure for `key` in the window starting `window` before `now`; when the count
/// reaches `threshold`, locks the key until `now + lock` and starts counting again.
/// Returns whether this failure locked the key.
pub async fn record_failure(
    tx: &mut Tx,
    key: &str,
    now: DateTime<Utc>,
    window: chrono::Duration,
    threshold: i64,
    lock: chrono::Duration,
) -> Result<bool, StoreError> {
    let failures: i64 = on_tx!(tx, c => sqlx::query_scalar(
        "INSERT INTO login_throttle (key, failures, window_start, locked_until) VALUES ($1, 1, $2, NULL)
         ON CONFLICT (key) DO UPDATE SET
           failures = CASE WHEN login_throttle.window_start < $3 THEN 1 ELSE login_throttle.failures + 1 END,
           window_start = CASE WHEN login_throttle.window_start < $3 THEN $2 ELSE login_throttle.window_start END
         RETURNING failures")
        .bind(key).bind(now).bind(now - window).fetch_one(&mut *c).await?);
    if failures < threshold {
        return Ok(false);
    }
    on_tx!(tx, c => sqlx::query(
        "UPDATE login_throttle SET failures = 0, window_start = $2, locked_until = $3 WHERE key = $1")
        .bind(key).bind(now).bind(now + lock).execute(&mut *c).await.map(|_| ())?);
    Ok(true)
}

/// Forgets the failures of `key` (after a successful sign-in).
pub async fn clear(tx: &mut Tx, key: &str) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query("DELETE FROM login_throttle WHERE key = $1").bind(key).execute(&mut *c).await.map(|_| ())?);
    Ok(())
}
