//! Users, passwords (argon2id) and API bearer tokens (stored as SHA-256 hashes only).

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use chrono::{DateTime, Utc};
use enlace_domain::ValidationErrors;
use enlace_domain::country::CountryCode;
use enlace_domain::ids::UserId;
use enlace_domain::post::PostCode;
use enlace_domain::role::Role;
use enlace_domain::user::{User, Username};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::{Actor, App, AppError, audit, event};

pub const MIN_PASSWORD_LEN: usize = 10;

/// How long a checked token is trusted without asking the database again. A token revoked by
/// sign-out in this process is dropped at once; a user disabled elsewhere loses access within
/// this time.
const TOKEN_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(30);
const TOKEN_CACHE_MAX: usize = 10_000;

pub(crate) struct CachedToken {
    user: User,
    expires_at: DateTime<Utc>,
    checked_at: std::time::Instant,
}

/// A new account, as given by an administrator.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub display_name: Option<String>,
    pub role: Role,
    pub state: CountryCode,
    pub post: Option<PostCode>,
    pub password: String,
}

/// Credentials for `POST /api/v1/auth/token`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"username": "ana.lopez", "password": "correct horse battery"}))]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

/// A bearer token. It is shown once; the node keeps only its hash.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IssuedToken {
    pub token: String,
    pub token_type: &'static str,
    pub expires_at: DateTime<Utc>,
    pub user: User,
}

fn hash_password(password: &str) -> Result<String, AppError> {
    let mut raw = [0u8; 16];
    getrandom::fill(&mut raw).map_err(|e| AppError::Unavailable(format!("no randomness: {e}")))?;
    let salt = SaltString::encode_b64(&raw).map_err(|e| AppError::Unavailable(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Unavailable(format!("password hashing failed: {e}")))
}

fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// A hash that no password matches, verified when the user does not exist so that a
/// wrong user name costs the same time as a wrong password.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Kk9rJd4bXy8qCjTr2N5yGqfGZ3mN7b0wq9rWd2m6y8I";

fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

impl App {
    /// Creates an account (CLI and administrators).
    pub async fn create_user(&self, actor: Option<&Actor>, n: NewUser) -> Result<User, AppError> {
        if let Some(a) = actor {
            crate::access::require_role(a, &[Role::CountryAdministrator])?;
            if a.user.state != n.state {
                return Err(AppError::Forbidden("administrators manage their own state's users".into()));
            }
        }
        let mut e = ValidationErrors::new();
        let username = e.check("username", Username::parse(&n.username));
        if n.password.chars().count() < MIN_PASSWORD_LEN {
            e.push("password", format!("must be at least {MIN_PASSWORD_LEN} characters"));
        }
        if n.password.len() > 1024 {
            e.push("password", "is longer than 1024 bytes");
        }
        if let Some(p) = &n.post {
            match enlace_store::users::get_post(self.db(), p).await? {
                None => e.push("post", format!("no post {p} on this node")),
                Some(post) if post.state != n.state => {
                    e.push("post", format!("post {p} belongs to {}, not {}", post.state, n.state))
                }
                Some(_) => {}
            }
        }
        if n.role == Role::ConsularOfficer && n.post.is_none() {
            e.push("post", "a consular officer belongs to a post");
        }
        e.into_result()?;
        let username = username.expect("checked");
        if enlace_store::users::find_user_credentials(self.db(), username.as_str()).await?.is_some() {
            return Err(AppError::Conflict(format!("user name {username} is taken")));
        }
        let pw = n.password.clone();
        let hash = tokio::task::spawn_blocking(move || hash_password(&pw))
            .await
            .map_err(|e| AppError::Unavailable(e.to_string()))??;
        let user = User {
            id: UserId::new_v7(),
            display_name: n.display_name.clone().unwrap_or_else(|| username.to_string()),
            username,
            role: n.role,
            state: n.state,
            post: n.post.clone(),
            disabled: false,
            created_at: enlace_store::now(),
        };
        let ev = event(
            actor,
            "user.create",
            "user",
            Some(user.id.to_string()),
            serde_json::json!({"username": user.username, "role": user.role, "state": user.state, "post": user.post}),
        );
        let new_user = user.clone();
        let result = self
            .db()
            .write(move |tx| {
                let (user, hash, ev) = (new_user.clone(), hash.clone(), ev.clone());
                Box::pin(async move {
                    enlace_store::users::insert_user(tx, &user, &hash).await?;
                    audit(tx, ev).await
                })
            })
            .await;
        match result {
            Err(AppError::Store(e)) if e.is_unique_violation() => {
                Err(AppError::Conflict(format!("user name {} is taken", user.username)))
            }
            other => other.map(|_| user),
        }
    }

    /// Exchanges a user name and password for a bearer token. Failures are audited and all
    /// look the same to the caller.
    pub async fn login(&self, c: Credentials, source: Option<String>) -> Result<IssuedToken, AppError> {
        let found = enlace_store::users::find_user_credentials(self.db(), c.username.trim()).await?;
        let stored = found.as_ref().map_or(DUMMY_HASH.to_string(), |(_, h)| h.clone());
        let pw = c.password.clone();
        let ok = tokio::task::spawn_blocking(move || verify_password(&pw, &stored))
            .await
            .map_err(|e| AppError::Unavailable(e.to_string()))?;
        let user = match found {
            Some((u, _)) if ok && !u.disabled => u,
            other => {
                let ev = event(
                    None,
                    "auth.login_failed",
                    "user",
                    other.map(|(u, _)| u.id.to_string()),
                    serde_json::json!({"username": c.username.chars().take(64).collect::<String>()}),
                );
                let ev = enlace_domain::audit::AuditEvent { source, ..ev };
                self.db()
                    .write(move |tx| {
                        let ev = ev.clone();
                        Box::pin(async move { audit(tx, ev).await })
                    })
                    .await?;
                return Err(AppError::Unauthorized("wrong user name or password".into()));
            }
        };
        let mut raw = [0u8; 32];
        getrandom::fill(&mut raw).map_err(|e| AppError::Unavailable(format!("no randomness: {e}")))?;
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
        let now = enlace_store::now();
        let expires_at = now + self.settings().token_ttl;
        let actor = Actor { user: user.clone(), source };
        let hash = token_hash(&token);
        let ev =
            event(Some(&actor), "auth.login", "user", Some(actor.user.id.to_string()), serde_json::json!({}));
        let uid = actor.user.id;
        self.db()
            .write(move |tx| {
                let (hash, ev) = (hash.clone(), ev.clone());
                Box::pin(async move {
                    enlace_store::users::insert_token(tx, &hash, uid, now, expires_at).await?;
                    audit(tx, ev).await
                })
            })
            .await?;
        Ok(IssuedToken { token, token_type: "Bearer", expires_at, user })
    }

    /// The actor holding a valid token.
    pub async fn authenticate(&self, token: &str, source: Option<String>) -> Result<Actor, AppError> {
        if token.is_empty() || token.len() > 256 {
            return Err(AppError::Unauthorized("invalid token".into()));
        }
        let hash = token_hash(token);
        let now = enlace_store::now();
        if let Some(c) = self.inner.tokens.lock().expect("token cache").get(&hash) {
            if c.checked_at.elapsed() < TOKEN_CACHE_TTL && c.expires_at > now {
                return Ok(Actor { user: c.user.clone(), source });
            }
        }
        let (user, expires_at) = enlace_store::users::user_by_token(self.db(), &hash, now)
            .await?
            .ok_or_else(|| AppError::Unauthorized("invalid or expired token".into()))?;
        let mut cache = self.inner.tokens.lock().expect("token cache");
        if cache.len() >= TOKEN_CACHE_MAX {
            cache.retain(|_, c| c.checked_at.elapsed() < TOKEN_CACHE_TTL);
            if cache.len() >= TOKEN_CACHE_MAX {
                cache.clear();
            }
        }
        cache.insert(
            hash,
            CachedToken { user: user.clone(), expires_at, checked_at: std::time::Instant::now() },
        );
        Ok(Actor { user, source })
    }

    /// Revokes a token (sign-out).
    pub async fn logout(&self, actor: &Actor, token: &str) -> Result<(), AppError> {
        let hash = token_hash(token);
        self.inner.tokens.lock().expect("token cache").remove(&hash);
        let ev =
            event(Some(actor), "auth.logout", "user", Some(actor.user.id.to_string()), serde_json::json!({}));
        self.db()
            .write(move |tx| {
                let (hash, ev) = (hash.clone(), ev.clone());
                Box::pin(async move {
                    enlace_store::users::delete_token(tx, &hash).await?;
                    audit(tx, ev).await
                })
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let h = hash_password("una clave larga").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("una clave larga", &h));
        assert!(!verify_password("otra clave", &h));
        assert!(!verify_password("x", DUMMY_HASH));
    }
}

impl App {
    /// The actor for a named account, for command-line jobs run on a user's behalf.
    pub async fn actor_for(&self, username: &str) -> Result<Actor, AppError> {
        let (user, _) = enlace_store::users::find_user_credentials(self.db(), username.trim())
            .await?
            .ok_or(AppError::NotFound("user"))?;
        if user.disabled {
            return Err(AppError::Forbidden(format!("user {username} is disabled")));
        }
        Ok(Actor { user, source: Some("cli".into()) })
    }
}
