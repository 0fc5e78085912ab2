//! Group commit for SQLite: one task owns the writer connection and runs the write
//! transactions of many requests in one database transaction, then makes the batch durable
//! with one `fdatasync` of the write-ahead log before it tells anyone their write is done.
//!
//! A SQLite commit writes every page it touched to the WAL; the pages shared by concurrent
//! writes (index leaves where new rows land, the counters and audit head rows) are written
//! once per batch instead of once per request, and the fsync is shared too.
//!
//! A body that fails must undo only itself. The batch is first run without savepoints (most
//! batches have no failing body, and a savepoint costs a round trip and a journal of the pages
//! the body changes); if a body fails, that attempt is rolled back and the batch runs again
//! with a savepoint around each body, so the failing one is rolled back to its savepoint.
//! Bodies are repeatable by contract ([`crate::Db::write`] retries them too).
//!
//! The fsync of a batch runs while the next batch executes; its callers are answered when it
//! returns.
//!
//! The WAL is copied into the database file by a separate connection (and thread) in the
//! background (`wal_autocheckpoint` is off on the writer), so the copy and its fsyncs do not
//! stall commits. Under steady writes that checkpointer never catches up with the last frame,
//! and SQLite restarts the WAL from its start only once every frame is copied: so when the WAL
//! is past `WAL_RESTART_FRAMES` the writer itself checkpoints between two batches (copying the
//! little the background left), and the next batch restarts the WAL.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

use futures_util::FutureExt;
use sqlx::SqlitePool;
use tokio::sync::{mpsc, oneshot};

use crate::{BoxFuture, Held, SqliteTx, StoreError, Tx};

/// A request's transaction body. It returns whether its changes are to be kept; on `false`
/// they are undone and the rest of the batch goes on.
pub(crate) type JobFn = Box<dyn for<'t> FnMut(&'t mut Tx) -> BoxFuture<'t, bool> + Send>;

struct Job {
    run: JobFn,
    done: oneshot::Sender<Result<(), StoreError>>,
}

/// The most transactions folded into one.
const MAX_BATCH: usize = 64;

#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Writer")
    }
}

impl Writer {
    /// Starts the writer task on the current runtime. It stops when the last handle is dropped.
    pub(crate) fn start(pool: SqlitePool, checkpointer: SqlitePool, wal: PathBuf) -> Writer {
        let (jobs, rx) = mpsc::channel(4 * MAX_BATCH);
        let (committed, commits) = mpsc::channel(1);
        let frames = Arc::new(AtomicI64::new(0));
        let since = Arc::new(AtomicUsize::new(0));
        tokio::spawn(checkpoints(checkpointer, commits, frames.clone(), since.clone()));
        tokio::spawn(run(pool, wal, rx, Committed { notify: committed, since }, frames));
        Writer { jobs }
    }

    /// Runs `job` in the next batch; returns once the batch is committed and durable.
    pub(crate) async fn submit(&self, run: JobFn) -> Result<(), StoreError> {
        let (done, wait) = oneshot::channel();
        let stopped = || StoreError::Config("the database writer has stopped".into());
        self.jobs.send(Job { run, done }).await.map_err(|_| stopped())?;
        wait.await.map_err(|_| stopped())?
    }
}

/// Past this many frames (64 MiB of 4 KiB pages) in the WAL, as last counted by a checkpoint,
/// the writer checkpoints the WAL itself, so that it restarts.
const WAL_RESTART_FRAMES: i64 = 16384;

/// Runs `PRAGMA wal_checkpoint(PASSIVE)` and records the frames in the WAL that it reports.
async fn checkpoint(pool: &SqlitePool, frames: &AtomicI64) {
    match sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(pool).await {
        Ok((_busy, log, _copied)) => frames.store(log, Ordering::Relaxed),
        Err(e) => tracing::warn!("WAL checkpoint failed: {e}"),
    }
}

async fn run(
    pool: SqlitePool,
    wal: PathBuf,
    mut rx: mpsc::Receiver<Job>,
    committed: Committed,
    frames: Arc<AtomicI64>,
) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        let result = run_batch(&pool, &mut batch).await;
        committed.since.fetch_add(batch.len(), Ordering::Relaxed);
        // Full means the checkpointer already knows.
        let _ = committed.notify.try_send(());
        if frames.load(Ordering::Relaxed) > WAL_RESTART_FRAMES {
            // PASSIVE: it never waits; if the background checkpointer holds the checkpoint
            // lock, this is tried again after the next batch.
            checkpoint(&pool, &frames).await;
        }
        // The batch is committed; it is made durable while the next batch runs. Its callers
        // are answered only once their own fsync has returned (an fsync covers every commit
        // before it, so overlapping ones are fine).
        let wal = wal.clone();
        tokio::spawn(async move {
            let result = match result {
                Ok(()) => sync_wal(wal).await,
                Err(e) => Err(e),
            };
            for job in batch {
                let r = match &result {
                    Ok(()) => Ok(()),
                    Err(e) if e.is_retryable() => Err(StoreError::Contended(e.to_string())),
                    Err(e) => Err(StoreError::Batch(e.to_string())),
                };
                let _ = job.done.send(r);
            }
        });
    }
}

async fn exec(tx: &mut SqliteTx, sql: &'static str) -> Result<(), StoreError> {
    sqlx::raw_sql(sql).execute(&mut *tx.tx).await?;
    Ok(())
}

/// Runs the batch's bodies in one transaction and commits: first without savepoints, and if a
/// body fails, once more with a savepoint around each.
async fn run_batch(pool: &SqlitePool, batch: &mut [Job]) -> Result<(), StoreError> {
    if !run_once(pool, batch, false).await? {
        run_once(pool, batch, true).await?;
    }
    Ok(())
}

/// One attempt at a batch. Without savepoints, returns `false` (having rolled back) as soon as
/// a body fails.
async fn run_once(pool: &SqlitePool, batch: &mut [Job], savepoints: bool) -> Result<bool, StoreError> {
    let mut tx =
        Tx::Sqlite(SqliteTx { tx: pool.begin_with("BEGIN IMMEDIATE").await?, held: Held::default() });
    let n = batch.len();
    for (i, job) in batch.iter_mut().enumerate() {
        let Tx::Sqlite(t) = &mut tx else { unreachable!("the writer's transaction is SQLite") };
        let held = t.held.clone();
        if savepoints {
            // One round trip between two bodies: the previous body's savepoint is released
            // and the next one's taken in the same call.
            exec(t, if i == 0 { "SAVEPOINT job" } else { "RELEASE job; SAVEPOINT job" }).await?;
        }
        // A panicking body must not take the node's only writer down with it: the batch is
        // abandoned (rolled back when `tx` drops) and every caller in it gets an error.
        let keep = std::panic::AssertUnwindSafe((job.run)(&mut tx)).catch_unwind().await.map_err(|_| {
            tracing::error!("a write transaction panicked; its batch is rolled back");
            StoreError::Batch("the write failed unexpectedly and was rolled back".into())
        })?;
        let Tx::Sqlite(t) = &mut tx else { unreachable!("the writer's transaction is SQLite") };
        if !keep {
            if !savepoints {
                let Tx::Sqlite(t) = tx else { unreachable!("the writer's transaction is SQLite") };
                t.tx.rollback().await?;
                return Ok(false);
            }
            exec(t, "ROLLBACK TO job").await?;
            t.held = held;
        }
        if savepoints && i + 1 == n {
            exec(t, "RELEASE job").await?;
        }
    }
    tx.commit().await?;
    Ok(true)
}

/// How the writer tells the checkpointer that it committed, and how many writes.
struct Committed {
    notify: mpsc::Sender<()>,
    since: Arc<AtomicUsize>,
}

/// The background checkpointer copies the WAL into the database at most this often, unless
/// [`CHECKPOINT_AFTER_WRITES`] writes are waiting. Pages written again and again (the leaves of
/// the audit log's record index, under read load) are copied once per interval instead of once
/// per commit (BENCHMARKS.md, session 13). It does not bear on durability: every commit's WAL
/// frames are fsynced before it is acknowledged.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);
/// Writes (jobs; a batch of read events is one) after which the checkpointer copies at once:
/// under many small writes (case registrations) a second's WAL would pass
/// [`WAL_RESTART_FRAMES`] and leave the copy to the writer, in its commits' way.
const CHECKPOINT_AFTER_WRITES: usize = 256;

/// Copies the WAL into the database file after commits, on its own connection (and so its own
/// thread), at most every [`CHECKPOINT_EVERY`] unless many writes wait. PASSIVE: it never
/// waits for readers or the writer; what it cannot copy yet is copied by a later run.
async fn checkpoints(
    pool: SqlitePool,
    mut commits: mpsc::Receiver<()>,
    frames: Arc<AtomicI64>,
    since: Arc<AtomicUsize>,
) {
    let mut last: Option<tokio::time::Instant> = None;
    // Ends with the writer task (the sender is dropped).
    while commits.recv().await.is_some() {
        if let Some(last) = last {
            let deadline = last + CHECKPOINT_EVERY;
            while since.load(Ordering::Relaxed) < CHECKPOINT_AFTER_WRITES
                && tokio::time::Instant::now() < deadline
            {
                tokio::select! {
                    _ = tokio::time::sleep_until(deadline) => {}
                    more = commits.recv() => if more.is_none() { return },
                }
            }
        }
        if pool.is_closed() {
            return;
        }
        since.store(0, Ordering::Relaxed);
        checkpoint(&pool, &frames).await;
        last = Some(tokio::time::Instant::now());
    }
}

/// Makes everything committed so far durable: `synchronous=NORMAL` commits do not fsync.
async fn sync_wal(wal: PathBuf) -> Result<(), StoreError> {
    tokio::task::spawn_blocking(move || match std::fs::File::open(&wal) {
        Ok(f) => f.sync_data(),
        // No WAL file: its frames were checkpointed into the database, which SQLite synced.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    })
    .await
    .map_err(|e| StoreError::Config(format!("fsync task failed: {e}")))?
    .map_err(|e| StoreError::Config(format!("cannot sync the write-ahead log: {e}")))
}
