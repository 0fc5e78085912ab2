//! Posts, users and API tokens.

use chrono::{DateTime, Utc};
use enlace_domain::country::CountryCode;
use enlace_domain::ids::UserId;
use enlace_domain::post::{Post, PostCode, PostKind};
use enlace_domain::role::Role;
use enlace_domain::user::{User, UserKind, Username};

use crate::row::{RowExt, parse, parse_opt};
use crate::{Db, StoreError, Tx, on_read, on_tx};

fn post_from_row(r: &impl RowExt) -> Result<Post, StoreError> {
    Ok(Post {
        code: parse("code", &r.text("code")?, PostCode::parse)?,
        state: parse("state", &r.text("state")?, CountryCode::parse)?,
        kind: parse_opt("kind", &r.text("kind")?, PostKind::parse)?,
        host_state: parse("host_state", &r.text("host_state")?, CountryCode::parse)?,
        city: r.text("city")?,
        district: r.text("district")?,
    })
}

/// Inserts posts that are not there yet; existing ones are left as they are.
pub async fn insert_posts(tx: &mut Tx, posts: &[Post]) -> Result<u64, StoreError> {
    let mut n = 0;
    for p in posts {
        let done = on_tx!(tx, c => sqlx::query(
            "INSERT INTO posts (code, state, kind, host_state, city, district) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (code) DO NOTHING")
            .bind(p.code.as_str()).bind(p.state.as_str()).bind(p.kind.as_str())
            .bind(p.host_state.as_str()).bind(&p.city).bind(&p.district)
            .execute(&mut *c).await?.rows_affected());
        n += done;
    }
    Ok(n)
}

pub async fn list_posts(db: &Db, state: Option<CountryCode>) -> Result<Vec<Post>, StoreError> {
    let st = state.map(|s| s.as_str().to_string());
    on_read!(db, p => {
        let rows = sqlx::query("SELECT code, state, kind, host_state, city, district FROM posts WHERE ($1 IS NULL OR state = $1) ORDER BY code")
            .bind(st).fetch_all(p).await?;
        rows.iter().map(post_from_row).collect()
    })
}

pub async fn get_post(db: &Db, code: &PostCode) -> Result<Option<Post>, StoreError> {
    on_read!(db, p => {
        let row = sqlx::query("SELECT code, state, kind, host_state, city, district FROM posts WHERE code = $1").bind(code.as_str()).fetch_optional(p).await?;
        row.as_ref().map(post_from_row).transpose()
    })
}

pub(crate) fn user_from_row(r: &impl RowExt) -> Result<User, StoreError> {
    Ok(User {
        id: UserId(r.uuid("id")?),
        username: parse("username", &r.text("username")?, Username::parse)?,
        display_name: r.text("display_name")?,
        role: parse_opt("role", &r.text("role")?, Role::parse)?,
        state: parse("state", &r.text("state")?, CountryCode::parse)?,
        post: r.opt_text("post")?.map(|p| parse("post", &p, PostCode::parse)).transpose()?,
        disabled: r.boolean("disabled")?,
        sensitive_access: r.boolean("sensitive_access")?,
        kind: parse_opt("kind", &r.text("kind")?, UserKind::parse)?,
        mfa_enabled: r.boolean("mfa_enabled")?,
        locale: r.opt_text("locale")?,
        created_at: r.ts("created_at")?,
    })
}

pub async fn insert_user(tx: &mut Tx, u: &User, password_hash: &str) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO users (id, username, password_hash, role, state, post, display_name, disabled, created_at,
                            sensitive_access, kind)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)")
        .bind(u.id.0).bind(u.username.as_str()).bind(password_hash).bind(u.role.as_str())
        .bind(u.state.as_str()).bind(u.post.as_ref().map(|p| p.as_str().to_string()))
        .bind(&u.display_name).bind(u.disabled).bind(u.created_at).bind(u.sensitive_access).bind(u.kind.as_str())
        .execute(&mut *c).await.map(|_| ())?);
    Ok(())
}

/// A user and their password hash, by user name.
pub async fn find_user_credentials(db: &Db, username: &str) -> Result<Option<(User, String)>, StoreError> {
    on_read!(db, p => {
        let row = sqlx::query("SELECT id, username, role, state, post, display_name, disabled, created_at, sensitive_access, kind, mfa_enabled, locale, password_hash FROM users WHERE username = $1").bind(username).fetch_optional(p).await?;
        match row {
            Some(r) => Ok(Some((user_from_row(&r)?, r.text("password_hash")?))),
            None => Ok(None),
        }
    })
}

pub async fn get_user(db: &Db, id: UserId) -> Result<Option<User>, StoreError> {
    on_read!(db, p => {
        let row = sqlx::query("SELECT id, username, role, state, post, display_name, disabled, created_at, sensitive_access, kind, mfa_enabled, locale FROM users WHERE id = $1").bind(id.0).fetch_optional(p).await?;
        row.as_ref().map(user_from_row).transpose()
    })
}

/// The accounts of one state (or of every state), by user name.
pub async fn list_users(db: &Db, state: Option<CountryCode>) -> Result<Vec<User>, StoreError> {
    let st = state.map(|s| s.as_str().to_string());
    on_read!(db, p => {
        let rows = sqlx::query("SELECT id, username, role, state, post, display_name, disabled, created_at, sensitive_access, kind, mfa_enabled, locale FROM users WHERE ($1 IS NULL OR state = $1) ORDER BY username")
            .bind(st).fetch_all(p).await?;
        rows.iter().map(user_from_row).collect()
    })
}

/// Changes what an administrator may change of an account (role, post, disabled, permission).
pub async fn update_user(tx: &mut Tx, u: &User) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "UPDATE users SET role = $1, post = $2, disabled = $3, sensitive_access = $4, display_name = $5 WHERE id = $6")
        .bind(u.role.as_str()).bind(u.post.as_ref().map(|p| p.as_str().to_string())).bind(u.disabled)
        .bind(u.sensitive_access).bind(&u.display_name).bind(u.id.0)
        .execute(&mut *c).await.map(|_| ())?);
    Ok(())
}

/// Removes a user's second factor (a lost phone): they enrol again at next sign-in.
pub async fn reset_totp(tx: &mut Tx, user: UserId) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "UPDATE users SET mfa_enabled = $1, totp_secret = NULL, totp_pending = NULL, totp_last_step = NULL WHERE id = $2")
        .bind(false).bind(user.0).execute(&mut *c).await.map(|_| ())?);
    on_tx!(tx, c => sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(user.0).execute(&mut *c).await.map(|_| ())?);
    Ok(())
}

/// A stored API token (its secret is never stored, only its hash).
#[derive(Debug, Clone)]
pub struct TokenRow {
    pub id: uuid::Uuid,
    pub user: UserId,
    /// For integration tokens: what the token is for.
    pub name: Option<String>,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

pub async fn insert_token(tx: &mut Tx, token_hash: &str, t: &TokenRow) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO api_tokens (token_hash, user_id, created_at, expires_at, id, name, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(token_hash).bind(t.user.0).bind(t.created_at).bind(t.expires_at).bind(t.id)
        .bind(t.name.as_deref()).bind(t.created_by.map(|u| u.0))
        .execute(&mut *c).await.map(|_| ())?);
    Ok(())
}

/// Integration tokens of the accounts of `state`, newest first, with their account.
pub async fn list_integration_tokens(
    db: &Db,
    state: CountryCode,
) -> Result<Vec<(TokenRow, User)>, StoreError> {
    on_read!(db, p => {
        let rows = sqlx::query(
            "SELECT t.id AS token_id, t.name AS token_name, t.created_by AS token_created_by,
                    t.created_at AS token_created_at, t.expires_at AS token_expires_at,
                    t.revoked_at AS token_revoked_at,
                    u.id, u.username, u.role, u.state, u.post, u.display_name, u.disabled, u.created_at,
                    u.sensitive_access, u.kind, u.mfa_enabled, u.locale
             FROM api_tokens t JOIN users u ON u.id = t.user_id
             WHERE u.kind = 'integration' AND u.state = $1 ORDER BY t.created_at DESC")
            .bind(state.as_str()).fetch_all(p).await?;
        rows.iter().map(|r| {
            let user = user_from_row(r)?;
            Ok((TokenRow {
                id: r.uuid("token_id")?,
                user: user.id,
                name: r.opt_text("token_name")?,
                created_by: r.opt_uuid("token_created_by")?.map(UserId),
                created_at: r.ts("token_created_at")?,
                expires_at: r.ts("token_expires_at")?,
                revoked_at: r.opt_ts("token_revoked_at")?,
            }, user))
        }).collect()
    })
}

/// Revokes the integration token `id` of an account of `state`; returns its hash (to drop it
/// from caches) when it was live.
pub async fn revoke_integration_token(
    tx: &mut Tx,
    id: uuid::Uuid,
    state: CountryCode,
    now: DateTime<Utc>,
) -> Result<Option<String>, StoreError> {
    let hash: Option<String> = on_tx!(tx, c => sqlx::query_scalar(
        "UPDATE api_tokens SET revoked_at = $1
         WHERE id = $2 AND revoked_at IS NULL
           AND user_id IN (SELECT id FROM users WHERE kind = 'integration' AND state = $3)
         RETURNING token_hash")
        .bind(now).bind(id).bind(state.as_str()).fetch_optional(&mut *c).await?);
    Ok(hash)
}

/// Deletes every token of a user (sign-out everywhere); returns their hashes.
pub async fn delete_user_tokens(tx: &mut Tx, user: UserId) -> Result<Vec<String>, StoreError> {
    let hashes: Vec<String> = on_tx!(tx, c => sqlx::query_scalar(
        "DELETE FROM api_tokens WHERE user_id = $1 RETURNING token_hash")
        .bind(user.0).fetch_all(&mut *c).await?);
    Ok(hashes)
}

/// The enabled user holding an unexpired token with this hash.
/// The enabled user holding an unexpired token with this hash, and when the token expires.
pub async fn user_by_token(
    db: &Db,
    token_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<(User, DateTime<Utc>)>, StoreError> {
    on_read!(db, p => {
        let row = sqlx::query(
            "SELECT u.id, u.username, u.role, u.state, u.post, u.display_name, u.disabled, u.created_at, u.sensitive_access, u.kind, u.mfa_enabled, u.locale, t.expires_at AS token_expires_at FROM api_tokens t JOIN users u ON u.id = t.user_id
             WHERE t.token_hash = $1 AND t.expires_at > $2 AND u.disabled = $3 AND t.revoked_at IS NULL")
            .bind(token_hash).bind(now).bind(false).fetch_optional(p).await?;
        match row {
            Some(r) => Ok(Some((user_from_row(&r)?, r.ts("token_expires_at")?))),
            None => Ok(None),
        }
    })
}

pub async fn delete_token(tx: &mut Tx, token_hash: &str) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query("DELETE FROM api_tokens WHERE token_hash = $1")
        .bind(token_hash).execute(&mut *c).await?.rows_affected());
    Ok(n > 0)
}

/// A user's TOTP state: the sealed secret in use, one being enrolled, the last step accepted.
#[derive(Debug, Clone, Default)]
pub struct TotpState {
    pub secret: Option<String>,
    pub pending: Option<String>,
    pub last_step: Option<i64>,
}

pub async fn totp_state(db: &Db, user: UserId) -> Result<TotpState, StoreError> {
    on_read!(db, p => {
        let row = sqlx::query("SELECT totp_secret, totp_pending, totp_last_step FROM users WHERE id = $1")
            .bind(user.0).fetch_optional(p).await?;
        match row {
            None => Ok(TotpState::default()),
            Some(r) => Ok(TotpState {
                secret: r.opt_text("totp_secret")?,
                pending: r.opt_text("totp_pending")?,
                last_step: sqlx::Row::try_get(&r, "totp_last_step")?,
            }),
        }
    })
}

pub async fn set_totp_pending(tx: &mut Tx, user: UserId, sealed: &str) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query("UPDATE users SET totp_pending = $1 WHERE id = $2")
        .bind(sealed).bind(user.0).execute(&mut *c).await.map(|_| ())?);
    Ok(())
}

/// Makes the pending secret the one in use, with its recovery codes (hashes).
pub async fn confirm_totp(
    tx: &mut Tx,
    user: UserId,
    step: i64,
    recovery_hashes: &[String],
) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query(
        "UPDATE users SET totp_secret = totp_pending, totp_pending = NULL, mfa_enabled = $1, totp_last_step = $2
         WHERE id = $3 AND totp_pending IS NOT NULL")
        .bind(true).bind(step).bind(user.0).execute(&mut *c).await?.rows_affected());
    if n == 0 {
        return Ok(false);
    }
    on_tx!(tx, c => sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(user.0).execute(&mut *c).await.map(|_| ())?);
    for h in recovery_hashes {
        on_tx!(tx, c => sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
            .bind(user.0).bind(h).execute(&mut *c).await.map(|_| ())?);
    }
    Ok(true)
}

/// Accepts time step `step` for the user if it is later than the last one accepted (a code
/// is good once).
pub async fn take_totp_step(tx: &mut Tx, user: UserId, step: i64) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query(
        "UPDATE users SET totp_last_step = $1 WHERE id = $2 AND (totp_last_step IS NULL OR totp_last_step < $1)")
        .bind(step).bind(user.0).execute(&mut *c).await?.rows_affected());
    Ok(n > 0)
}

/// Uses a recovery code once.
pub async fn use_recovery_code(
    tx: &mut Tx,
    user: UserId,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query(
        "UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL")
        .bind(now).bind(user.0).bind(hash).execute(&mut *c).await?.rows_affected());
    Ok(n > 0)
}

/// Every state's policy: whether two-factor sign-in is required of everyone.
pub async fn mfa_policies(db: &Db) -> Result<Vec<(String, bool)>, StoreError> {
    on_read!(db, p => {
        let rows = sqlx::query("SELECT state, mfa_for_all FROM state_policies").fetch_all(p).await?;
        rows.iter().map(|r| Ok((r.text("state")?, r.boolean("mfa_for_all")?))).collect()
    })
}

pub async fn set_mfa_policy(
    tx: &mut Tx,
    state: CountryCode,
    all: bool,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO state_policies (state, mfa_for_all, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (state) DO UPDATE SET mfa_for_all = $2, updated_at = $3")
        .bind(state.as_str()).bind(all).bind(now).execute(&mut *c).await.map(|_| ())?);
    Ok(())
}

/// Records the user's interface language (`None`: follow the browser).
pub async fn set_locale(tx: &mut Tx, id: UserId, locale: Option<&str>) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query("UPDATE users SET locale = $1 WHERE id = $2")
        .bind(locale).bind(id.0).execute(&mut *c).await.map(|_| ())?);
    Ok(())
}
