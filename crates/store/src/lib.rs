//! Enlace storage: the only crate that knows SQL.
//!
//! One [`Db`] value over SQLite (default, a file) or PostgreSQL. Queries are written once in the
//! SQL both engines accept and run on either through the `on_tx!`/`on_read!` macros, which expand
//! the same code for each backend. Keys are UUIDv7 made by the application; no sequences, no
//! advisory locks, no extensions: Postgres-compatible distributed engines stay possible.
//! Writes go through [`Db::write`], which retries on `SQLITE_BUSY` and SQLSTATE 40001/40P01.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

pub mod audit;
pub mod backup;
pub mod break_glass;
pub mod cases;
pub mod disclosures;
pub mod fed;
pub mod linkage;
pub mod matches;
mod migrate;
pub mod network;
pub mod persons;
pub mod records;
pub mod retention;
mod row;
pub mod sessions;
pub mod throttle;
pub mod users;
mod writer;

pub use sqlx::Error as SqlxError;

/// A boxed future, for the body of a write transaction.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("stored data could not be read: {0}")]
    Corrupt(String),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("bad database configuration: {0}")]
    Config(String),
    /// A batch of writes met transient contention; the write may be run again.
    #[error("database busy: {0}")]
    Contended(String),
    /// The batch this write was part of failed as a whole.
    #[error("write failed: {0}")]
    Batch(String),
}

impl StoreError {
    /// Transient contention: the whole transaction may be run again.
    pub fn is_retryable(&self) -> bool {
        if matches!(self, StoreError::Contended(_)) {
            return true;
        }
        let StoreError::Db(sqlx::Error::Database(e)) = self else { return false };
        match e.code().as_deref() {
            // PostgreSQL / CockroachDB: serialization failure, deadlock.
            Some("40001") | Some("40P01") => true,
            // SQLite: BUSY (5) and LOCKED (6), with their extended codes.
            Some(c) => c.parse::<i64>().is_ok_and(|n| n % 256 == 5 || n % 256 == 6),
            None => false,
        }
    }
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Db(sqlx::Error::Database(e)) if e.is_unique_violation())
    }
}

/// Lets the caller's error type carry a store error, so [`Db::write`] can retry on contention.
pub trait FromStore: From<StoreError> {
    fn retryable(&self) -> bool;
}

impl FromStore for StoreError {
    fn retryable(&self) -> bool {
        self.is_retryable()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The database: SQLite (one writer connection, several readers) or a PostgreSQL pool.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite { write: SqlitePool, read: SqlitePool, checkpointer: SqlitePool, writer: writer::Writer },
    Postgres(PgPool),
}

/// One connection pool's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStat {
    pub name: &'static str,
    /// Connections open.
    pub size: u32,
    /// Of which idle.
    pub idle: u32,
}

/// An open write transaction.
pub enum Tx {
    Sqlite(SqliteTx),
    Postgres(PgTx),
}

/// A PostgreSQL transaction, and the audit head once it has locked it: the head row stays
/// locked until the commit, so the transaction keeps the position and hash its appends left
/// there instead of reading the row again.
pub struct PgTx {
    pub(crate) tx: sqlx::Transaction<'static, sqlx::Postgres>,
    /// `audit_head` (pos, hash) as this transaction last wrote (or locked and read) it.
    pub(crate) audit_head: Option<(i64, String)>,
}

/// A SQLite write transaction of the writer task, which owns the only write connection and
/// holds the write lock for the whole batch. The rows every write updates (the audit head and
/// the case counters) are therefore read once per batch, kept here while the batch's bodies
/// run, and written back once before the commit (`flush`): one statement per audit event
/// instead of three, none per case number after the first.
pub struct SqliteTx {
    pub(crate) tx: sqlx::Transaction<'static, sqlx::Sqlite>,
    pub(crate) held: Held,
}

/// The batch's pending values of the shared rows. Cloned before each body, restored when the
/// body is rolled back to its savepoint.
#[derive(Clone, Debug, Default)]
pub(crate) struct Held {
    /// `audit_head` (pos, hash) as the batch left it, and whether it differs from the row.
    pub(crate) audit: Option<(i64, String, bool)>,
    /// `case_counters` rows (state, year) → (last_seq, differs from the row).
    pub(crate) counters: Vec<((String, i32), i64, bool)>,
}

impl SqliteTx {
    /// Writes the held rows back. Called by the writer before it commits.
    pub(crate) async fn flush(&mut self) -> Result<(), StoreError> {
        if let Some((pos, hash, true)) = &self.held.audit {
            sqlx::query("UPDATE audit_head SET pos = $1, hash = $2 WHERE id = 1")
                .bind(*pos)
                .bind(hash)
                .execute(&mut *self.tx)
                .await?;
        }
        for ((state, year), last, dirty) in &self.held.counters {
            if *dirty {
                sqlx::query("UPDATE case_counters SET last_seq = $1 WHERE owner_state = $2 AND year = $3")
                    .bind(*last)
                    .bind(state)
                    .bind(*year as i64)
                    .execute(&mut *self.tx)
                    .await?;
            }
        }
        self.held = Held::default();
        Ok(())
    }
}

/// Runs `$body` with `$c` bound to the transaction's connection, for either backend.
macro_rules! on_tx {
    ($tx:expr, $c:ident => $body:expr) => {
        match $tx {
            $crate::Tx::Sqlite(t) => {
                let $c: &mut sqlx::SqliteConnection = &mut *t.tx;
                $body
            }
            $crate::Tx::Postgres(t) => {
                let $c: &mut sqlx::PgConnection = &mut *t.tx;
                $body
            }
        }
    };
}

/// Runs `$body` with `$p` bound to a read pool, for either backend.
macro_rules! on_read {
    ($db:expr, $p:ident => $body:expr) => {
        match $db {
            $crate::Db::Sqlite { read, .. } => {
                let $p: &sqlx::SqlitePool = read;
                $body
            }
            $crate::Db::Postgres(pool) => {
                let $p: &sqlx::PgPool = pool;
                $body
            }
        }
    };
}
pub(crate) use {on_read, on_tx};

/// Timestamps are kept to the microsecond, PostgreSQL's precision, so values read back equal
/// the values written on both backends.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// Truncates a timestamp to the stored precision (microseconds).
pub fn truncate(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(6)
}

impl Db {
    /// Opens the database: a `postgres://` URL, a `sqlite:` URL, or else the SQLite file
    /// `enlace.db` in `data_dir` (created with owner-only permissions).
    pub async fn connect(database_url: Option<&str>, data_dir: &Path) -> Result<Db, StoreError> {
        match database_url {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                let opts = PgConnectOptions::from_str(url)
                    .map_err(|e| StoreError::Config(format!("database URL: {e}")))?;
                let pool = PgPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(opts)
                    .await?;
                Ok(Db::Postgres(pool))
            }
            Some(url) if url.starts_with("sqlite:") => {
                let opts = SqliteConnectOptions::from_str(url)
                    .map_err(|e| StoreError::Config(format!("database URL: {e}")))?;
                Self::open_sqlite(opts).await
            }
            Some(other) => Err(StoreError::Config(format!(
                "unsupported database URL \"{}\": use postgres://… or sqlite:…",
                other.split(':').next().unwrap_or("")
            ))),
            None => {
                std::fs::create_dir_all(data_dir).map_err(|e| {
                    StoreError::Config(format!("cannot create data directory {}: {e}", data_dir.display()))
                })?;
                restrict_permissions(data_dir, 0o700);
                let file = data_dir.join("enlace.db");
                let opts = SqliteConnectOptions::new().filename(&file);
                let db = Self::open_sqlite(opts).await?;
                for f in ["enlace.db", "enlace.db-wal", "enlace.db-shm"] {
                    restrict_permissions(&data_dir.join(f), 0o600);
                }
                Ok(db)
            }
        }
    }

    async fn open_sqlite(opts: SqliteConnectOptions) -> Result<Db, StoreError> {
        let mut wal = opts.get_filename().as_os_str().to_owned();
        wal.push("-wal");
        let opts = opts
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL: commits do not fsync; the writer task fsyncs the WAL once per batch
            // before it acknowledges, so an acknowledged write still survives power loss.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            .pragma("cache_size", "-16384")
            // Bounds SQLite's memory across all connections (the page caches give way first).
            .pragma("soft_heap_limit", "134217728")
            // ANALYZE reads a sample of each index, so start-up stays fast on big databases.
            .pragma("analysis_limit", "2000");
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            // The writer task's checkpointer connection copies the WAL (writer.rs).
            .connect_with(opts.clone().pragma("wal_autocheckpoint", "0"))
            .await?;
        let checkpointer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts.clone().pragma("cache_size", "-256"))
            .await?;
        let readers = std::thread::available_parallelism().map_or(4, |n| n.get() * 2).max(4);
        let read = SqlitePoolOptions::new()
            .max_connections(readers as u32)
            .connect_with(opts.read_only(true))
            .await?;
        let writer = writer::Writer::start(write.clone(), checkpointer.clone(), wal.into());
        Ok(Db::Sqlite { write, read, checkpointer, writer })
    }

    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite { .. } => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies pending migrations. Safe to run from several processes at once.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        migrate::run(self).await
    }

    /// Whether migrations are all applied.
    pub async fn migrations_current(&self) -> Result<bool, StoreError> {
        migrate::current(self).await
    }

    /// Refreshes the query planner's statistics (after bulk loads, and at start-up on SQLite,
    /// where `PRAGMA optimize` only re-analyses what changed enough).
    pub async fn analyze(&self, full: bool) -> Result<(), StoreError> {
        self.write(move |tx| {
            Box::pin(async move {
                match tx {
                    Tx::Sqlite(SqliteTx { tx: t, .. }) => {
                        // 0x10002: consider every table, not only those this connection queried.
                        let sql = if full { "ANALYZE" } else { "PRAGMA optimize=0x10002" };
                        sqlx::query(sql).execute(&mut **t).await?;
                    }
                    Tx::Postgres(t) => {
                        if full {
                            sqlx::query("ANALYZE").execute(&mut *t.tx).await?;
                        }
                    }
                }
                Ok::<_, StoreError>(())
            })
        })
        .await
    }

    /// The connection pools: name, connections open, of which idle (for /metrics).
    pub fn pool_stats(&self) -> Vec<PoolStat> {
        let stat = |name, size: u32, idle: usize| PoolStat { name, size, idle: idle as u32 };
        match self {
            Db::Sqlite { write, read, .. } => {
                vec![
                    stat("write", write.size(), write.num_idle()),
                    stat("read", read.size(), read.num_idle()),
                ]
            }
            Db::Postgres(p) => vec![stat("main", p.size(), p.num_idle())],
        }
    }

    /// The database's own consistency check: SQLite's `PRAGMA integrity_check` (every page,
    /// index and constraint); PostgreSQL has none short of its extensions (its write-ahead log
    /// is what keeps it whole), so there a round trip. `None` when sound, else what is wrong.
    pub async fn integrity_problem(&self) -> Result<Option<String>, StoreError> {
        match self {
            Db::Sqlite { read, .. } => {
                let rows: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check").fetch_all(read).await?;
                Ok((rows != ["ok"]).then(|| rows.join("; ")))
            }
            Db::Postgres(p) => {
                sqlx::query("SELECT 1").execute(p).await?;
                Ok(None)
            }
        }
    }

    /// A cheap round trip, for health checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_read!(self, p => { sqlx::query("SELECT 1").execute(p).await?; });
        Ok(())
    }

    /// Runs `f` in one write transaction and commits; runs it again (up to 8 times, with
    /// backoff) when the database reports transient contention. `f` must be repeatable, and
    /// it owns what it uses: on SQLite it runs on the writer task, folded with other requests'
    /// transactions into one commit (each in its own savepoint, so one failing undoes only
    /// itself). It returns once the commit is durable.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: FromStore + Send + 'static,
        F: for<'t> FnMut(&'t mut Tx) -> BoxFuture<'t, Result<T, E>> + Send + 'static,
    {
        let f = Arc::new(tokio::sync::Mutex::new(f));
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let result: Result<T, E> = match self {
                Db::Sqlite { writer, .. } => {
                    let slot: Arc<std::sync::Mutex<Option<Result<T, E>>>> = Arc::default();
                    let (job_f, job_slot) = (f.clone(), slot.clone());
                    let job: writer::JobFn = Box::new(move |tx| {
                        let (f, slot) = (job_f.clone(), job_slot.clone());
                        Box::pin(async move {
                            let mut f = f.lock_owned().await;
                            let r = (*f)(tx).await;
                            let keep = r.is_ok();
                            *slot.lock().expect("result slot") = Some(r);
                            keep
                        })
                    });
                    let committed = writer.submit(job).await;
                    let outcome = slot.lock().expect("result slot").take();
                    match (committed, outcome) {
                        (Ok(()), Some(r)) => r,
                        (Err(e), _) => Err(E::from(e)),
                        (Ok(()), None) => Err(E::from(StoreError::Batch("the write did not run".into()))),
                    }
                }
                Db::Postgres(pool) => {
                    let mut f = f.lock().await;
                    async {
                        let mut tx = Tx::Postgres(PgTx {
                            tx: pool.begin().await.map_err(StoreError::from)?,
                            audit_head: None,
                        });
                        let v = (*f)(&mut tx).await?;
                        tx.commit().await?;
                        Ok(v)
                    }
                    .await
                }
            };
            match result {
                Err(e) if e.retryable() && attempt < 8 => {
                    let base = 5u64 << attempt.min(6);
                    let jitter = (uuid::Uuid::now_v7().as_u128() % base as u128) as u64;
                    tracing::debug!(attempt, "write transaction contended; retrying");
                    tokio::time::sleep(Duration::from_millis(base + jitter)).await;
                }
                other => return other,
            }
        }
    }

    pub async fn close(&self) {
        match self {
            Db::Sqlite { write, read, checkpointer, .. } => {
                read.close().await;
                checkpointer.close().await;
                write.close().await;
            }
            Db::Postgres(p) => p.close().await,
        }
    }
}

impl Tx {
    pub async fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(mut t) => {
                t.flush().await?;
                t.tx.commit().await?
            }
            Tx::Postgres(t) => t.tx.commit().await?,
        }
        Ok(())
    }
}

#[cfg(unix)]
fn restrict_permissions(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    if path.exists() {
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
    }
}

#[cfg(not(unix))]
fn restrict_permissions(_: &Path, _: u32) {}

/// A value to bind in a query assembled at run time (typed also when NULL: PostgreSQL checks
/// the type of every parameter).
#[derive(Debug, Clone)]
pub(crate) enum Val {
    Text(String),
    Int(i64),
    Ts(DateTime<Utc>),
    Date(chrono::NaiveDate),
    Uuid(uuid::Uuid),
    OptText(Option<String>),
    OptTs(Option<DateTime<Utc>>),
    OptUuid(Option<uuid::Uuid>),
}

/// The placeholders `$first, …, $(first + n - 1)`, comma-separated (an `IN (…)` list).
pub(crate) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// INSERTs into several tables sent as one round trip: on SQLite one query of several
/// statements (sqlx runs them in turn, each binding its own `$n` from the shared values); on
/// PostgreSQL one statement whose first INSERTs are data-modifying CTEs (the foreign keys are
/// checked at its end, when every row is there). On SQLite each round trip is a hand-off to
/// the connection's worker thread and back, which is what limits the writer task.
#[derive(Default)]
pub(crate) struct Inserts {
    parts: Vec<String>,
    vals: Vec<Val>,
}

impl Inserts {
    /// The placeholder of `v`.
    pub(crate) fn arg(&mut self, v: Val) -> String {
        self.vals.push(v);
        format!("${}", self.vals.len())
    }

    /// Adds one `INSERT` (without a trailing `;` and without `RETURNING`).
    pub(crate) fn push(&mut self, insert: String) {
        self.parts.push(insert);
    }

    pub(crate) async fn execute(self, tx: &mut Tx) -> Result<(), StoreError> {
        let Inserts { parts, vals } = self;
        if parts.is_empty() {
            return Ok(());
        }
        let sql = match tx {
            Tx::Sqlite(_) => parts.join(";\n"),
            Tx::Postgres(_) => {
                let (last, ctes) = parts.split_last().expect("not empty");
                let ctes: Vec<String> =
                    ctes.iter().enumerate().map(|(i, p)| format!("w{i} AS ({p})")).collect();
                if ctes.is_empty() { last.clone() } else { format!("WITH {} {last}", ctes.join(", ")) }
            }
        };
        on_tx!(tx, c => {
            bind_owned_vals!(sqlx::query(sqlx::AssertSqlSafe(sql)), vals).execute(&mut *c).await?;
        });
        Ok(())
    }
}

/// Binds copies of borrowed `Val`s: `$vals` yields `&Val`s.
macro_rules! bind_vals {
    ($q:expr, $vals:expr) => {
        $crate::bind_owned_vals!($q, ($vals).into_iter().cloned())
    };
}
pub(crate) use bind_vals;

/// Binds `Val`s the query may take (no copies): `$vals` yields `Val`s.
macro_rules! bind_owned_vals {
    ($q:expr, $vals:expr) => {{
        let mut q = $q;
        for v in $vals {
            q = match v {
                $crate::Val::Text(s) => q.bind(s),
                $crate::Val::Int(i) => q.bind(i),
                $crate::Val::Ts(t) => q.bind(t),
                $crate::Val::Date(d) => q.bind(d),
                $crate::Val::Uuid(u) => q.bind(u),
                $crate::Val::OptText(s) => q.bind(s),
                $crate::Val::OptTs(t) => q.bind(t),
                $crate::Val::OptUuid(u) => q.bind(u),
            };
        }
        q
    }};
}
pub(crate) use bind_owned_vals;
