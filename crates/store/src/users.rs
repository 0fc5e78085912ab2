//! Posts, users and API tokens.

use chrono::{DateTime, Utc};
use enlace_domain::country::CountryCode;
use enlace_domain::ids::UserId;
use enlace_domain::post::{Post, PostCode, PostKind};
use enlace_domain::role::Role;
use enlace_domain::user::{User, Username};

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

fn user_from_row(r: &impl RowExt) -> Result<User, StoreError> {
    Ok(User {
        id: UserId(r.uuid("id")?),
        username: parse("username", &r.text("username")?, Username::parse)?,
        display_name: r.text("display_name")?,
        role: parse_opt("role", &r.text("role")?, Role::parse)?,
        state: parse("state", &r.text("state")?, CountryCode::parse)?,
        post: r.opt_text("post")?.map(|p| parse("post", &p, PostCode::parse)).transpose()?,
        disabled: r.boolean("disabled")?,
        created_at: r.ts("created_at")?,
    })
}

pub async fn insert_user(tx: &mut Tx, u: &User, password_hash: &str) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO users (id, username, password_hash, role, state, post, display_name, disabled, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
        .bind(u.id.0).bind(u.username.as_str()).bind(password_hash).bind(u.role.as_str())
        .bind(u.state.as_str()).bind(u.post.as_ref().map(|p| p.as_str().to_string()))
        .bind(&u.display_name).bind(u.disabled).bind(u.created_at)
        .execute(&mut *c).await.map(|_| ())?);
    Ok(())
}

/// A user and their password hash, by user name.
pub async fn find_user_credentials(db: &Db, username: &str) -> Result<Option<(User, String)>, StoreError> {
    on_read!(db, p => {
        let row = sqlx::query("SELECT id, username, role, state, post, display_name, disabled, created_at, password_hash FROM users WHERE username = $1").bind(username).fetch_optional(p).await?;
        match row {
            Some(r) => Ok(Some((user_from_row(&r)?, r.text("password_hash")?))),
            None => Ok(None),
        }
    })
}

pub async fn get_user(db: &Db, id: UserId) -> Result<Option<User>, StoreError> {
    on_read!(db, p => {
        let row = sqlx::query("SELECT id, username, role, state, post, display_name, disabled, created_at FROM users WHERE id = $1").bind(id.0).fetch_optional(p).await?;
        row.as_ref().map(user_from_row).transpose()
    })
}

pub async fn list_users(db: &Db) -> Result<Vec<User>, StoreError> {
    on_read!(db, p => {
        let rows = sqlx::query("SELECT id, username, role, state, post, display_name, disabled, created_at FROM users ORDER BY username").fetch_all(p).await?;
        rows.iter().map(user_from_row).collect()
    })
}

pub async fn insert_token(
    tx: &mut Tx,
    token_hash: &str,
    user: UserId,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query("INSERT INTO api_tokens (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(token_hash).bind(user.0).bind(created_at).bind(expires_at).execute(&mut *c).await.map(|_| ())?);
    Ok(())
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
            "SELECT u.id, u.username, u.role, u.state, u.post, u.display_name, u.disabled, u.created_at, t.expires_at AS token_expires_at FROM api_tokens t JOIN users u ON u.id = t.user_id
             WHERE t.token_hash = $1 AND t.expires_at > $2 AND u.disabled = $3")
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
