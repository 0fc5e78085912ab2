//! Enlace application layer: the use cases of a node.
//!
//! Every operation takes an [`Actor`], checks what that actor may do (authorisation lives
//! here, not in handlers or templates, so the API, the UI, exports and search obey one rule),
//! validates its input with the domain types, and performs its change and the change's audit
//! event in one store transaction. No SQL and no HTTP here.

pub mod access;
pub mod audit_log;
pub mod auth;
pub mod backup;
pub mod cases;
pub mod csv_io;
pub mod demo;
pub mod disclosure;
mod error;
mod extract;
pub mod fed;
pub mod hub;
pub mod keys;
pub mod matching;
pub mod mfa;
pub mod network;
pub mod oidc;
pub mod ops;
pub mod retention;
pub mod stats;
pub mod subject_access;
pub mod users;

use std::sync::Arc;

pub use enlace_store::Db;
pub use error::AppError;

use enlace_domain::audit::AuditEvent;
use enlace_domain::ids::AuditEventId;
use enlace_domain::post::Post;
use enlace_domain::user::User;
use enlace_store::Tx;

/// Who is acting, and from where.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user: User,
    /// The client address, for the audit log.
    pub source: Option<String>,
}

/// Node settings the use cases need.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long a person's API token lives.
    pub token_ttl: chrono::Duration,
    /// A web session ends after this long without a request.
    pub session_idle: chrono::Duration,
    /// A web session ends this long after sign-in, however active.
    pub session_absolute: chrono::Duration,
    /// The node's secret key (attachments are sealed with it). Kept outside the database.
    pub node_key: keys::NodeKey,
    /// Supervisors, administrators and auditors (everyone, where the state says so) must
    /// enrol in two-factor sign-in before doing anything else.
    pub enforce_mfa: bool,
    /// Sign-in with the state's identity provider, when configured.
    pub oidc: Option<oidc::OidcSettings>,
    /// This node's identity in a federation of nodes, when it is part of one.
    pub fed: Option<fed::FedSettings>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            token_ttl: chrono::Duration::hours(12),
            session_idle: chrono::Duration::minutes(30),
            session_absolute: chrono::Duration::hours(12),
            node_key: keys::NodeKey::generate(),
            enforce_mfa: true,
            oidc: None,
            fed: None,
        }
    }
}

/// The node's application: cheap to clone, shared by every request.
#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    settings: Settings,
    /// Recently checked tokens (by hash), so most requests need no token query.
    tokens: std::sync::Mutex<std::collections::HashMap<String, auth::CachedToken>>,
    /// The node's posts, read once; they change only through this process.
    posts: std::sync::RwLock<std::collections::HashMap<enlace_domain::post::PostCode, Post>>,
    /// States' two-factor policies, read on first use; dropped when one changes.
    mfa_policies:
        std::sync::RwLock<Option<std::collections::HashMap<enlace_domain::country::CountryCode, bool>>>,
    /// The task that writes read events in shared transactions.
    read_audit: audit_log::ReadAuditor,
    /// The number of persons (it scales the linkage model's prior), and when it was counted.
    person_count: std::sync::Mutex<Option<(std::time::Instant, usize)>>,
    /// The queue of newly registered cases for missing-person matching (the linkage worker
    /// drains it).
    matcher: std::sync::OnceLock<tokio::sync::mpsc::Sender<enlace_domain::case::Case>>,
    /// Held while blocking keys are written, so two catch-ups do not write the same ones.
    key_writer: tokio::sync::Mutex<()>,
    /// Federation state (directory, relay), when the node is federated.
    fed: Option<fed::Fed>,
    /// Failed sign-ins since start (for /metrics).
    login_failures: std::sync::atomic::AtomicU64,
}

/// The job mark of the statistical facts' catch-up.
const CASE_FACTS_JOB: &str = "case_facts";

impl App {
    pub fn new(db: Db, settings: Settings) -> App {
        App {
            inner: Arc::new(Inner {
                db,
                fed: settings.fed.clone().map(fed::Fed::new),
                settings,
                tokens: Default::default(),
                posts: Default::default(),
                mfa_policies: Default::default(),
                read_audit: Default::default(),
                person_count: Default::default(),
                matcher: Default::default(),
                key_writer: Default::default(),
                login_failures: Default::default(),
            }),
        }
    }
    pub fn db(&self) -> &Db {
        &self.inner.db
    }
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// Applies migrations and loads the seeded reference data (posts). Idempotent.
    pub async fn prepare(&self) -> Result<(), AppError> {
        self.db().migrate().await?;
        // Persons without blocking keys yet (stored by an earlier version, or while the node
        // was down mid-way) get theirs before the node serves.
        let n = self.catch_up_person_keys(true).await?;
        if n > 0 {
            tracing::info!(persons = n, "blocking keys written");
        }
        // Cases stored before statistics kept their facts get them, once: the mark says the
        // catch-up finished (every case written since writes its own).
        if enlace_store::matches::mark(self.db(), CASE_FACTS_JOB).await?.is_none() {
            let n = self.catch_up_case_facts().await?;
            if n > 0 {
                tracing::info!(cases = n, "statistical facts written");
            }
            self.db()
                .write(|tx| {
                    Box::pin(async move {
                        enlace_store::matches::set_mark(tx, CASE_FACTS_JOB, enlace_store::now(), None)
                            .await?;
                        Ok::<_, AppError>(())
                    })
                })
                .await?;
        }
        self.db().analyze(false).await?;
        let posts = Post::seeded();
        self.db()
            .write(move |tx| {
                let posts = posts.clone();
                Box::pin(async move {
                    enlace_store::users::insert_posts(tx, &posts).await?;
                    Ok::<_, AppError>(())
                })
            })
            .await
    }

    /// The consular posts on this node, optionally of one state.
    pub async fn posts(
        &self,
        state: Option<enlace_domain::country::CountryCode>,
    ) -> Result<Vec<Post>, AppError> {
        Ok(enlace_store::users::list_posts(self.db(), state).await?)
    }

    /// One post, from the in-memory copy (read from the database on a miss).
    pub async fn post(&self, code: &enlace_domain::post::PostCode) -> Result<Option<Post>, AppError> {
        if let Some(p) = self.inner.posts.read().expect("posts lock").get(code) {
            return Ok(Some(p.clone()));
        }
        let found = enlace_store::users::get_post(self.db(), code).await?;
        if let Some(p) = &found {
            self.inner.posts.write().expect("posts lock").insert(p.code.clone(), p.clone());
        }
        Ok(found)
    }

    /// A write transaction on the actor's behalf: a denial inside it (a record the actor may
    /// not see) is audited, in its own transaction, and answered as "not found".
    pub(crate) async fn write_as<T, F>(&self, actor: &Actor, f: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: for<'t> FnMut(&'t mut Tx) -> enlace_store::BoxFuture<'t, Result<T, AppError>> + Send + 'static,
    {
        let r = self.db().write(f).await;
        self.guard(actor, r).await
    }

    /// How many cases the node holds.
    pub async fn count_cases(&self) -> Result<i64, AppError> {
        Ok(enlace_store::cases::count_cases(self.db()).await?)
    }

    /// Ready to serve: the database answers and its schema is current.
    pub async fn ready(&self) -> Result<(), AppError> {
        self.db().ping().await?;
        if !self.db().migrations_current().await? {
            return Err(AppError::Unavailable("database migrations are not current".into()));
        }
        // A node of a network works only with a current directory (it refuses every message
        // without one).
        if self.federated() {
            let d = self.directory().await.map_err(|e| match e {
                AppError::Federation { message, .. } => AppError::Unavailable(message),
                other => other,
            })?;
            if let Err(e) = d.check_current(chrono::Utc::now()) {
                return Err(AppError::Unavailable(format!("the network directory: {e}")));
            }
        }
        Ok(())
    }
}

/// SHA-256 of `s`, in lower-case hex.
pub(crate) fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(s.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Builds an audit event for `actor` (or the system when `None`).
pub(crate) fn event(
    actor: Option<&Actor>,
    action: &str,
    record_type: &str,
    record_id: Option<String>,
    detail: serde_json::Value,
) -> AuditEvent {
    AuditEvent {
        id: AuditEventId::new_v7(),
        at: enlace_store::now(),
        actor: actor.map(|a| a.user.id),
        actor_name: actor.map_or_else(|| "system".to_string(), |a| a.user.username.to_string()),
        action: action.to_string(),
        record_type: record_type.to_string(),
        record_id,
        detail,
        source: actor.and_then(|a| a.source.clone()),
    }
}

impl App {
    /// Writes one audit event in a transaction of its own (reads, refusals, sign-in events:
    /// things that change nothing else).
    pub(crate) async fn audit_alone(&self, ev: AuditEvent) -> Result<(), AppError> {
        if audit_log::noop_sink() {
            return Ok(());
        }
        self.db()
            .write(move |tx| {
                let ev = ev.clone();
                Box::pin(async move { audit(tx, ev).await })
            })
            .await
    }
}

/// Appends an audit event in the caller's transaction.
pub(crate) async fn audit(tx: &mut Tx, e: AuditEvent) -> Result<(), AppError> {
    if audit_log::noop_sink() {
        return Ok(());
    }
    enlace_store::audit::append(tx, &e).await?;
    Ok(())
}
