//! Server-side sessions of the web interface. Only the hash of the cookie's secret is kept.

use chrono::{DateTime, Utc};
use enlace_domain::ids::UserId;
use enlace_domain::user::User;

use crate::row::RowExt;
use crate::{Db, StoreError, Tx, on_read, on_tx};

/// A stored session.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub id_hash: String,
    pub user: UserId,
    pub csrf_token: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub source: Option<String>,
}

pub async fn insert(tx: &mut Tx, s: &SessionRow) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, last_seen_at, expires_at, source)
         VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(&s.id_hash).bind(s.user.0).bind(&s.csrf_token).bind(s.created_at).bind(s.last_seen_at)
        .bind(s.expires_at).bind(s.source.as_deref())
        .execute(&mut *c).await.map(|_| ())?);
    Ok(())
}

/// The live session with this hash and its enabled user: not past its absolute end, and seen
/// after `idle_since`.
pub async fn find(
    db: &Db,
    id_hash: &str,
    now: DateTime<Utc>,
    idle_since: DateTime<Utc>,
) -> Result<Option<(SessionRow, User)>, StoreError> {
    on_read!(db, p => {
        let row = sqlx::query(
            "SELECT s.id_hash, s.csrf_token, s.created_at AS s_created_at, s.last_seen_at, s.expires_at,
                    s.source, u.id, u.username, u.role, u.state, u.post, u.display_name, u.disabled,
                    u.created_at, u.sensitive_access, u.kind, u.mfa_enabled, u.locale
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.id_hash = $1 AND s.expires_at > $2 AND s.last_seen_at > $3 AND u.disabled = $4")
            .bind(id_hash).bind(now).bind(idle_since).bind(false).fetch_optional(p).await?;
        match row {
            None => Ok(None),
            Some(r) => {
                let user = crate::users::user_from_row(&r)?;
                Ok(Some((SessionRow {
                    id_hash: r.text("id_hash")?,
                    user: user.id,
                    csrf_token: r.text("csrf_token")?,
                    created_at: r.ts("s_created_at")?,
                    last_seen_at: r.ts("last_seen_at")?,
                    expires_at: r.ts("expires_at")?,
                    source: r.opt_text("source")?,
                }, user)))
            }
        }
    })
}

pub async fn touch(tx: &mut Tx, id_hash: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2")
        .bind(now).bind(id_hash).execute(&mut *c).await.map(|_| ())?);
    Ok(())
}

pub async fn delete(tx: &mut Tx, id_hash: &str) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
        .bind(id_hash).execute(&mut *c).await?.rows_affected());
    Ok(n > 0)
}

/// Ends every session of a user; returns how many there were.
pub async fn delete_for_user(tx: &mut Tx, user: UserId) -> Result<u64, StoreError> {
    Ok(on_tx!(tx, c => sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user.0).execute(&mut *c).await?.rows_affected()))
}

/// Removes sessions past their end (housekeeping).
pub async fn delete_expired(
    tx: &mut Tx,
    now: DateTime<Utc>,
    idle_since: DateTime<Utc>,
) -> Result<u64, StoreError> {
    Ok(on_tx!(tx, c => sqlx::query("DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2")
        .bind(now).bind(idle_since).execute(&mut *c).await?.rows_affected()))
}

/// Remembers an OpenID Connect sign-in under way.
pub async fn insert_oidc_pending(
    tx: &mut Tx,
    state_hash: &str,
    nonce: &str,
    pkce_verifier: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO oidc_pending (state_hash, nonce, pkce_verifier, created_at) VALUES ($1, $2, $3, $4)")
        .bind(state_hash).bind(nonce).bind(pkce_verifier).bind(now).execute(&mut *c).await.map(|_| ())?);
    Ok(())
}

/// Takes (once) the sign-in under way with this state, if it began after `since`:
/// its nonce and PKCE verifier.
pub async fn take_oidc_pending(
    tx: &mut Tx,
    state_hash: &str,
    since: DateTime<Utc>,
) -> Result<Option<(String, String)>, StoreError> {
    let row: Option<(String, String, DateTime<Utc>)> = on_tx!(tx, c => sqlx::query_as(
        "DELETE FROM oidc_pending WHERE state_hash = $1 RETURNING nonce, pkce_verifier, created_at")
        .bind(state_hash).fetch_optional(&mut *c).await?);
    on_tx!(tx, c => sqlx::query("DELETE FROM oidc_pending WHERE created_at < $1")
        .bind(since).execute(&mut *c).await.map(|_| ())?);
    Ok(row.filter(|(_, _, at)| *at >= since).map(|(n, v, _)| (n, v)))
}
