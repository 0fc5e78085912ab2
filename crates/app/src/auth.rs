//! Accounts, sign-in and credentials: argon2id passwords checked against a policy, throttling
//! and lockout of failed sign-ins, server-side sessions (with their CSRF token), bearer tokens
//! for people and for integrations. Only hashes of secrets are stored.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use chrono::{DateTime, Utc};
use enlace_domain::ValidationErrors;
use enlace_domain::country::CountryCode;
use enlace_domain::ids::UserId;
use enlace_domain::password::{MAX_PASSWORD_BYTES, password_problem};
use enlace_domain::post::PostCode;
use enlace_domain::role::Role;
use enlace_domain::user::{User, UserKind, Username};
use enlace_store::users::TokenRow;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{Actor, App, AppError, audit, event};

pub use enlace_domain::password::MIN_PASSWORD_LEN;

/// How long a checked token is trusted without asking the database again. A token revoked in
/// this process is dropped at once; a user disabled elsewhere loses access within this time.
const TOKEN_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(30);
const TOKEN_CACHE_MAX: usize = 10_000;

/// Failed sign-ins: counted per account and per source address within this window.
const FAILURE_WINDOW: chrono::Duration = chrono::Duration::minutes(15);
/// Failures of one account (by the name tried) that lock it for [`LOCKOUT`].
const ACCOUNT_FAILURES: i64 = 5;
/// Failures from one address that lock that address for [`LOCKOUT`] (any account).
const ADDRESS_FAILURES: i64 = 20;
const LOCKOUT: chrono::Duration = chrono::Duration::minutes(15);

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
    /// May read child cases and sensitive fields.
    pub sensitive_access: bool,
}

/// Credentials for `POST /api/v1/auth/token` and `POST /api/v1/auth/session`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"username": "ana.lopez", "password": "correct horse battery"}))]
pub struct Credentials {
    pub username: String,
    pub password: String,
    /// The 6-digit code of the authenticator app, or an unused recovery code, for accounts
    /// with two-factor sign-in.
    #[serde(default)]
    pub totp: Option<String>,
}

/// A bearer token. It is shown once; the node keeps only its hash.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IssuedToken {
    pub token: String,
    pub token_type: &'static str,
    pub expires_at: DateTime<Utc>,
    pub user: User,
}

/// A new integration token (`POST /api/v1/admin/api-tokens`), for the administrator's state.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "dif-referrals", "role": "liaison_officer", "expires_in_days": 90}))]
pub struct NewApiToken {
    /// The integration's account name (a user name: a-z, 0-9, `.`, `_`, `-`).
    pub name: String,
    /// The role the token acts with. Not `country_administrator`.
    pub role: Role,
    /// For `consular_officer` tokens: the post.
    pub post: Option<PostCode>,
    /// 1 to 365 days.
    pub expires_in_days: u32,
}

/// An integration token as listed (never its secret).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApiTokenInfo {
    pub id: uuid::Uuid,
    pub name: String,
    pub role: Role,
    pub state: CountryCode,
    pub post: Option<PostCode>,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// An integration token just made: its secret is shown this once.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IssuedApiToken {
    pub token: String,
    #[serde(flatten)]
    pub info: ApiTokenInfo,
}

/// A signed-in web session. `secret` goes in the cookie; `csrf_token` must accompany every
/// state-changing request made with the cookie.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub secret: String,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
    pub user: User,
}

/// The session behind a cookie.
#[derive(Debug, Clone)]
pub struct SessionActor {
    pub actor: Actor,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

fn hash_password(password: &str) -> Result<String, AppError> {
    let raw = random_bytes::<16>()?;
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

/// The stored form of a secret (token, session): its SHA-256, hex.
pub(crate) fn secret_hash(secret: &str) -> String {
    crate::sha256_hex(secret)
}

fn random_bytes<const N: usize>() -> Result<[u8; N], AppError> {
    let mut raw = [0u8; N];
    getrandom::fill(&mut raw).map_err(|e| AppError::Unavailable(format!("no randomness: {e}")))?;
    Ok(raw)
}

/// A new random secret, 256 bits, URL-safe.
pub fn new_secret() -> Result<String, AppError> {
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>()?))
}

/// Equality that takes the same time wherever the inputs differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, AppError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| AppError::Unavailable(e.to_string()))
}

impl App {
    /// Creates an account (CLI and administrators).
    pub async fn create_user(&self, actor: Option<&Actor>, n: NewUser) -> Result<User, AppError> {
        if let Some(a) = actor {
            self.guard(a, crate::access::require_role(a, &[Role::CountryAdministrator])).await?;
            if a.user.state != n.state {
                let denied = AppError::Forbidden("administrators manage their own state's users".into());
                return self.guard(a, Err(denied)).await;
            }
        }
        let mut e = ValidationErrors::new();
        let username = e.check("username", Username::parse(&n.username));
        if let Some(problem) = password_problem(&n.password, &n.username) {
            e.push("password", problem);
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
        let pw = n.password.clone();
        let hash = blocking(move || hash_password(&pw)).await??;
        let user = User {
            id: UserId::new_v7(),
            display_name: n.display_name.clone().unwrap_or_else(|| username.to_string()),
            username,
            role: n.role,
            state: n.state,
            post: n.post.clone(),
            disabled: false,
            sensitive_access: n.sensitive_access,
            kind: UserKind::Person,
            mfa_enabled: false,
            locale: None,
            created_at: enlace_store::now(),
        };
        self.insert_user(actor, user, hash).await
    }

    async fn insert_user(&self, actor: Option<&Actor>, user: User, hash: String) -> Result<User, AppError> {
        if enlace_store::users::find_user_credentials(self.db(), user.username.as_str()).await?.is_some() {
            return Err(AppError::Conflict(format!("user name {} is taken", user.username)));
        }
        let ev = event(
            actor,
            "user.create",
            "user",
            Some(user.id.to_string()),
            serde_json::json!({"username": user.username, "role": user.role, "state": user.state,
                "post": user.post, "kind": user.kind, "sensitive_access": user.sensitive_access}),
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

    /// Checks a user name and password, with throttling: after repeated failures for an
    /// account, or from an address, sign-in is refused for a while. Every failure and refusal
    /// is audited; all failures look the same to the caller.
    async fn check_credentials(&self, c: &Credentials, source: &Option<String>) -> Result<User, AppError> {
        let tried: String = c.username.trim().to_lowercase().chars().take(64).collect();
        let mut keys = vec![format!("user:{tried}")];
        if let Some(addr) = source {
            keys.push(format!("addr:{addr}"));
        }
        let now = enlace_store::now();
        if let Some(until) = enlace_store::throttle::locked_until(self.db(), &keys, now).await? {
            let ev = event(None, "auth.locked_out", "user", None, serde_json::json!({"username": tried}));
            let ev = enlace_domain::audit::AuditEvent { source: source.clone(), ..ev };
            self.audit_alone(ev).await?;
            let secs = (until - now).num_seconds().max(1) as u64;
            return Err(AppError::TooManyAttempts { retry_after_secs: secs });
        }
        let found = if c.password.len() > MAX_PASSWORD_BYTES {
            None
        } else {
            enlace_store::users::find_user_credentials(self.db(), &tried).await?
        };
        let stored = found.as_ref().map_or(DUMMY_HASH.to_string(), |(_, h)| h.clone());
        let pw = c.password.clone();
        let ok = blocking(move || verify_password(&pw, &stored)).await?;
        match found {
            Some((u, _)) if ok && !u.disabled && u.kind == UserKind::Person => {
                if u.mfa_enabled {
                    match c.totp.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
                        None => return Err(AppError::MfaRequired),
                        Some(code) => {
                            if !self.check_second_factor(&u, code).await? {
                                self.record_failed_sign_in(
                                    keys,
                                    Some(u.id.to_string()),
                                    tried,
                                    source.clone(),
                                    now,
                                    "second factor",
                                )
                                .await?;
                                return Err(AppError::Unauthorized(
                                    "wrong user name, password or code".into(),
                                ));
                            }
                        }
                    }
                }
                let key = keys[0].clone();
                self.db()
                    .write(move |tx| {
                        let key = key.clone();
                        Box::pin(
                            async move { Ok::<_, AppError>(enlace_store::throttle::clear(tx, &key).await?) },
                        )
                    })
                    .await?;
                Ok(u)
            }
            other => {
                let user_id = other.map(|(u, _)| u.id.to_string());
                self.record_failed_sign_in(keys, user_id, tried, source.clone(), now, "password").await?;
                Err(AppError::Unauthorized("wrong user name or password".into()))
            }
        }
    }

    /// Counts a failed sign-in against the account and the address (locking them past their
    /// limits) and audits it, in one transaction.
    async fn record_failed_sign_in(
        &self,
        keys: Vec<String>,
        user_id: Option<String>,
        tried: String,
        source: Option<String>,
        now: DateTime<Utc>,
        factor: &'static str,
    ) -> Result<(), AppError> {
        self.note_login_failure();
        self.db()
            .write(move |tx| {
                let (keys, user_id, tried, source) =
                    (keys.clone(), user_id.clone(), tried.clone(), source.clone());
                Box::pin(async move {
                    let mut locked = Vec::new();
                    for k in &keys {
                        let limit = if k.starts_with("user:") { ACCOUNT_FAILURES } else { ADDRESS_FAILURES };
                        if enlace_store::throttle::record_failure(tx, k, now, FAILURE_WINDOW, limit, LOCKOUT)
                            .await?
                        {
                            locked.push(k.split(':').next().unwrap_or("").to_string());
                        }
                    }
                    let detail = serde_json::json!({"username": tried, "locked": locked, "factor": factor});
                    let ev = event(None, "auth.login_failed", "user", user_id, detail);
                    audit(tx, enlace_domain::audit::AuditEvent { source, ..ev }).await
                })
            })
            .await
    }

    /// Exchanges a user name and password for a bearer token.
    pub async fn login(&self, c: Credentials, source: Option<String>) -> Result<IssuedToken, AppError> {
        let user = self.check_credentials(&c, &source).await?;
        let token = new_secret()?;
        let now = enlace_store::now();
        let row = TokenRow {
            id: uuid::Uuid::now_v7(),
            user: user.id,
            name: None,
            created_by: Some(user.id),
            created_at: now,
            expires_at: now + self.settings().token_ttl,
            revoked_at: None,
        };
        let actor = Actor { user: user.clone(), source };
        let hash = secret_hash(&token);
        let ev = event(
            Some(&actor),
            "auth.login",
            "user",
            Some(user.id.to_string()),
            serde_json::json!({"via": "token"}),
        );
        let expires_at = row.expires_at;
        self.db()
            .write(move |tx| {
                let (hash, ev, row) = (hash.clone(), ev.clone(), row.clone());
                Box::pin(async move {
                    enlace_store::users::insert_token(tx, &hash, &row).await?;
                    audit(tx, ev).await
                })
            })
            .await?;
        Ok(IssuedToken { token, token_type: "Bearer", expires_at, user })
    }

    /// The actor holding a valid bearer token.
    pub async fn authenticate(&self, token: &str, source: Option<String>) -> Result<Actor, AppError> {
        if token.is_empty() || token.len() > 256 {
            return Err(AppError::Unauthorized("invalid token".into()));
        }
        let hash = secret_hash(token);
        let now = enlace_store::now();
        if let Some(c) = self.inner.tokens.lock().expect("token cache").get(&hash)
            && c.checked_at.elapsed() < TOKEN_CACHE_TTL
            && c.expires_at > now
        {
            return Ok(Actor { user: c.user.clone(), source });
        }
        let Some((user, expires_at)) = enlace_store::users::user_by_token(self.db(), &hash, now).await?
        else {
            self.audit_rejected("token", source).await?;
            return Err(AppError::Unauthorized("invalid, expired or revoked token".into()));
        };
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

    /// Drops every cached token of a user (their account changed).
    pub(crate) fn forget_user_tokens(&self, user: UserId) {
        self.inner.tokens.lock().expect("token cache").retain(|_, c| c.user.id != user);
    }

    fn forget_tokens(&self, hashes: &[String]) {
        let mut cache = self.inner.tokens.lock().expect("token cache");
        for h in hashes {
            cache.remove(h);
        }
    }

    /// Revokes a bearer token (sign-out).
    pub async fn logout(&self, actor: &Actor, token: &str) -> Result<(), AppError> {
        let hash = secret_hash(token);
        self.forget_tokens(std::slice::from_ref(&hash));
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

    /// Signs in for the web interface: a server-side session with an idle and an absolute
    /// timeout, and its CSRF token.
    pub async fn start_session(
        &self,
        c: Credentials,
        source: Option<String>,
    ) -> Result<NewSession, AppError> {
        let user = self.check_credentials(&c, &source).await?;
        self.create_session(user, source, "session").await
    }

    /// A new session for a user already authenticated (by password, or by the state's identity
    /// provider: `via`), with its audit event.
    pub(crate) async fn create_session(
        &self,
        user: User,
        source: Option<String>,
        via: &'static str,
    ) -> Result<NewSession, AppError> {
        let secret = new_secret()?;
        let csrf_token = new_secret()?;
        let now = enlace_store::now();
        let row = enlace_store::sessions::SessionRow {
            id_hash: secret_hash(&secret),
            user: user.id,
            csrf_token: csrf_token.clone(),
            created_at: now,
            last_seen_at: now,
            expires_at: now + self.settings().session_absolute,
            source: source.clone(),
        };
        let actor = Actor { user: user.clone(), source };
        let ev = event(
            Some(&actor),
            "auth.login",
            "user",
            Some(user.id.to_string()),
            serde_json::json!({"via": via}),
        );
        let expires_at = row.expires_at;
        self.db()
            .write(move |tx| {
                let (row, ev) = (row.clone(), ev.clone());
                Box::pin(async move {
                    enlace_store::sessions::insert(tx, &row).await?;
                    audit(tx, ev).await
                })
            })
            .await?;
        Ok(NewSession { secret, csrf_token, expires_at, user })
    }

    /// The session behind a cookie's secret, if it is live. Its idle clock restarts (written at
    /// most once a minute).
    pub async fn session(&self, secret: &str, source: Option<String>) -> Result<SessionActor, AppError> {
        if secret.is_empty() || secret.len() > 256 {
            return Err(AppError::Unauthorized("invalid session".into()));
        }
        let now = enlace_store::now();
        let hash = secret_hash(secret);
        let idle_since = now - self.settings().session_idle;
        let Some((row, user)) = enlace_store::sessions::find(self.db(), &hash, now, idle_since).await? else {
            self.audit_rejected("session", source).await?;
            return Err(AppError::Unauthorized(
                "the session has ended or is not valid; sign in again".into(),
            ));
        };
        if now - row.last_seen_at > chrono::Duration::minutes(1) {
            self.db()
                .write(move |tx| {
                    let hash = hash.clone();
                    Box::pin(async move {
                        Ok::<_, AppError>(enlace_store::sessions::touch(tx, &hash, now).await?)
                    })
                })
                .await?;
        }
        Ok(SessionActor {
            actor: Actor { user, source },
            csrf_token: row.csrf_token,
            expires_at: row.expires_at,
        })
    }

    /// Records a credential that was refused (unknown, expired, revoked or tampered with).
    /// Nothing of the credential itself is kept.
    async fn audit_rejected(&self, kind: &'static str, source: Option<String>) -> Result<(), AppError> {
        let ev = event(None, "auth.rejected", kind, None, serde_json::json!({"credential": kind}));
        let ev = enlace_domain::audit::AuditEvent { source, ..ev };
        self.audit_alone(ev).await
    }

    /// Checks the CSRF token sent with a state-changing request made with a session cookie
    /// (and that the request came from this site, when the browser says where it came from).
    /// A mismatch is refused and audited.
    pub async fn check_csrf(
        &self,
        s: &SessionActor,
        given: Option<&str>,
        same_origin: bool,
    ) -> Result<(), AppError> {
        let ok = same_origin && given.is_some_and(|g| constant_time_eq(g, &s.csrf_token));
        if ok {
            return Ok(());
        }
        let reason = if same_origin { "missing or wrong CSRF token" } else { "request from another site" };
        self.guard(&s.actor, Err(AppError::Forbidden(format!("{reason}; reload the page and try again"))))
            .await
    }

    /// Removes sessions past their idle or absolute end (daily housekeeping); returns how many.
    pub async fn remove_expired_sessions(&self) -> Result<u64, AppError> {
        let now = enlace_store::now();
        let idle_since = now - self.settings().session_idle;
        self.db()
            .write(move |tx| {
                Box::pin(async move {
                    Ok::<_, AppError>(enlace_store::sessions::delete_expired(tx, now, idle_since).await?)
                })
            })
            .await
    }

    /// Ends one session (sign-out).
    pub async fn end_session(&self, actor: &Actor, secret: &str) -> Result<(), AppError> {
        let hash = secret_hash(secret);
        let ev = event(
            Some(actor),
            "auth.logout",
            "user",
            Some(actor.user.id.to_string()),
            serde_json::json!({"via": "session"}),
        );
        self.db()
            .write(move |tx| {
                let (hash, ev) = (hash.clone(), ev.clone());
                Box::pin(async move {
                    enlace_store::sessions::delete(tx, &hash).await?;
                    audit(tx, ev).await
                })
            })
            .await
    }

    /// Signs the actor out everywhere: every session and every personal token ends.
    pub async fn sign_out_everywhere(&self, actor: &Actor) -> Result<(), AppError> {
        let uid = actor.user.id;
        let actor_w = actor.clone();
        let hashes = self
            .db()
            .write(move |tx| {
                let actor = actor_w.clone();
                Box::pin(async move {
                    let sessions = enlace_store::sessions::delete_for_user(tx, uid).await?;
                    let hashes = enlace_store::users::delete_user_tokens(tx, uid).await?;
                    let detail = serde_json::json!({"sessions": sessions, "tokens": hashes.len()});
                    audit(
                        tx,
                        event(Some(&actor), "auth.logout_everywhere", "user", Some(uid.to_string()), detail),
                    )
                    .await?;
                    Ok::<_, AppError>(hashes)
                })
            })
            .await?;
        self.forget_tokens(&hashes);
        Ok(())
    }

    /// Creates an integration account and its token (administrators, for their own state).
    pub async fn create_api_token(&self, actor: &Actor, n: NewApiToken) -> Result<IssuedApiToken, AppError> {
        self.guard(actor, crate::access::require_role(actor, &[Role::CountryAdministrator])).await?;
        let mut e = ValidationErrors::new();
        let name = e.check("name", Username::parse(&n.name));
        if n.role == Role::CountryAdministrator {
            e.push("role", "an integration token may not administer the node");
        }
        if !(1..=365).contains(&n.expires_in_days) {
            e.push("expires_in_days", "must be between 1 and 365");
        }
        match (&n.post, n.role) {
            (None, Role::ConsularOfficer) => e.push("post", "a consular officer token belongs to a post"),
            (Some(p), _) => match enlace_store::users::get_post(self.db(), p).await? {
                Some(post) if post.state == actor.user.state => {}
                _ => e.push("post", format!("no post {p} of {}", actor.user.state)),
            },
            _ => {}
        }
        e.into_result()?;
        let name = name.expect("checked");
        let now = enlace_store::now();
        let user = User {
            id: UserId::new_v7(),
            display_name: name.to_string(),
            username: name.clone(),
            role: n.role,
            state: actor.user.state,
            post: n.post.clone(),
            disabled: false,
            sensitive_access: false,
            kind: UserKind::Integration,
            mfa_enabled: false,
            locale: None,
            created_at: now,
        };
        // No password can match this hash: integration accounts never sign in.
        let user = self.insert_user(Some(actor), user, "!integration".into()).await?;
        let token = new_secret()?;
        let row = TokenRow {
            id: uuid::Uuid::now_v7(),
            user: user.id,
            name: Some(name.to_string()),
            created_by: Some(actor.user.id),
            created_at: now,
            expires_at: now + chrono::Duration::days(i64::from(n.expires_in_days)),
            revoked_at: None,
        };
        let hash = secret_hash(&token);
        let detail = serde_json::json!({"name": name, "role": user.role, "expires_at": row.expires_at});
        let ev = event(Some(actor), "token.create", "api_token", Some(row.id.to_string()), detail);
        let stored = row.clone();
        self.db()
            .write(move |tx| {
                let (hash, ev, row) = (hash.clone(), ev.clone(), stored.clone());
                Box::pin(async move {
                    enlace_store::users::insert_token(tx, &hash, &row).await?;
                    audit(tx, ev).await
                })
            })
            .await?;
        Ok(IssuedApiToken { token, info: token_info(&row, &user) })
    }

    /// The integration tokens of the administrator's state.
    pub async fn api_tokens(&self, actor: &Actor) -> Result<Vec<ApiTokenInfo>, AppError> {
        self.guard(actor, crate::access::require_role(actor, &[Role::CountryAdministrator])).await?;
        let rows = enlace_store::users::list_integration_tokens(self.db(), actor.user.state).await?;
        Ok(rows.iter().map(|(t, u)| token_info(t, u)).collect())
    }

    /// Revokes an integration token of the administrator's state, at once.
    pub async fn revoke_api_token(&self, actor: &Actor, id: uuid::Uuid) -> Result<(), AppError> {
        self.guard(actor, crate::access::require_role(actor, &[Role::CountryAdministrator])).await?;
        let state = actor.user.state;
        let now = enlace_store::now();
        let actor_w = actor.clone();
        let hash = self
            .db()
            .write(move |tx| {
                let actor = actor_w.clone();
                Box::pin(async move {
                    let Some(hash) =
                        enlace_store::users::revoke_integration_token(tx, id, state, now).await?
                    else {
                        return Err(AppError::NotFound("API token"));
                    };
                    audit(
                        tx,
                        event(
                            Some(&actor),
                            "token.revoke",
                            "api_token",
                            Some(id.to_string()),
                            serde_json::json!({}),
                        ),
                    )
                    .await?;
                    Ok(hash)
                })
            })
            .await?;
        self.forget_tokens(&[hash]);
        Ok(())
    }

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

fn token_info(t: &TokenRow, u: &User) -> ApiTokenInfo {
    ApiTokenInfo {
        id: t.id,
        name: t.name.clone().unwrap_or_else(|| u.username.to_string()),
        role: u.role,
        state: u.state,
        post: u.post.clone(),
        created_by: t.created_by,
        created_at: t.created_at,
        expires_at: t.expires_at,
        revoked_at: t.revoked_at,
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
        assert!(!verify_password("", "!integration"));
    }

    #[test]
    fn constant_time_eq_compares_whole_strings() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "abcd"));
    }
}
