//! The audit log as a use case: reads and denials recorded, the chain verified, the viewer.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Utc};
use enlace_domain::audit::{AuditEvent, ChainBreak, ChainVerifier, ChainedEvent};
use enlace_domain::ids::UserId;
use enlace_domain::role::Role;
pub use enlace_store::audit::EventFilter;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{Actor, App, AppError, access, event};

/// Benchmark switch: when set, audit events are not written (a no-op sink). Only the
/// `enlace serve --audit-sink noop` benchmark mode sets it, to measure what auditing costs.
static NOOP_SINK: AtomicBool = AtomicBool::new(false);

/// Turns audit writing off for this process. For benchmarks only: a node running like this
/// keeps no audit trail.
pub fn use_noop_sink_for_benchmarks() {
    NOOP_SINK.store(true, Ordering::SeqCst);
}

pub(crate) fn noop_sink() -> bool {
    NOOP_SINK.load(Ordering::Relaxed)
}

/// What `enlace audit verify` found.
#[derive(Debug)]
pub enum Verification {
    Intact { events: i64, head: String },
    Broken(ChainBreak),
}

/// Audit viewer filters (`GET /api/v1/audit`).
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only events by this user (id).
    pub actor: Option<UserId>,
    /// Only events about this kind of record (`case`, `user`, `session`, …).
    pub record_type: Option<String>,
    /// Only events about this record (its id).
    pub record_id: Option<String>,
    /// One action (`case.read`) or a family ending in a dot (`auth.`).
    pub action: Option<String>,
    /// From this time (inclusive).
    pub from: Option<DateTime<Utc>>,
    /// Until this time (exclusive).
    pub to: Option<DateTime<Utc>>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<i64>,
    /// Page size, 1 to 1000 (default 100).
    pub limit: Option<u32>,
}

/// A page of audit events, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<ChainedEvent>,
    pub next_cursor: Option<i64>,
}

impl AuditQuery {
    fn filter(&self) -> Result<EventFilter, AppError> {
        let mut e = enlace_domain::ValidationErrors::new();
        for (field, v) in
            [("record_type", &self.record_type), ("record_id", &self.record_id), ("action", &self.action)]
        {
            if v.as_ref().is_some_and(|s| s.is_empty() || s.len() > 200) {
                e.push(field, "must be 1 to 200 characters");
            }
        }
        if let (Some(a), Some(b)) = (self.from, self.to)
            && b <= a
        {
            e.push("to", "must be after from");
        }
        if self.limit.is_some_and(|l| !(1..=1000).contains(&l)) {
            e.push("limit", "must be between 1 and 1000");
        }
        e.into_result()?;
        Ok(EventFilter {
            actor: self.actor,
            record_type: self.record_type.clone(),
            record_id: self.record_id.clone(),
            action: self.action.clone(),
            from: self.from,
            to: self.to,
            before: self.cursor,
            limit: self.limit.unwrap_or(100),
        })
    }
}

/// Columns of the audit CSV export.
pub const AUDIT_CSV_COLUMNS: [&str; 11] = [
    "pos",
    "id",
    "at",
    "actor",
    "actor_name",
    "action",
    "record_type",
    "record_id",
    "detail",
    "source",
    "hash",
];

/// Read events waiting for the read-audit task (bounded: a full queue slows readers down).
const READ_QUEUE: usize = 8192;
/// Most read events the task writes in one transaction.
const READ_BATCH: usize = 1024;
/// How long the task gathers read events before writing them: a crash can lose the read
/// events of about this long (changes are never at risk: their events commit with them).
/// Each commit empties every reader connection's page cache, so fewer, larger batches cost the
/// readers less (200 ms rather than 50 ms: BENCHMARKS.md, session 15).
const READ_LINGER: std::time::Duration = std::time::Duration::from_millis(200);

pub(crate) enum ReadAudit {
    Event(AuditEvent),
    /// Answered once every event queued before it is committed.
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// The queue of read events and the health of the task that writes them.
#[derive(Default)]
pub(crate) struct ReadAuditor {
    queue: std::sync::OnceLock<tokio::sync::mpsc::Sender<ReadAudit>>,
    /// Set while the task cannot write: reads are then refused, not left unrecorded.
    failing: Arc<AtomicBool>,
    /// Wakes the task early when a flush is asked for (events alone do not wake it while it
    /// gathers a batch: a wake-up per read cost more than the read's event).
    flush: Arc<tokio::sync::Notify>,
}

impl App {
    /// Records that `actor` read personal data in `record` (one event per request).
    ///
    /// Read events are grouped by a task of their own into shared transactions, and the read
    /// is answered once its event is queued, not once it is on disk: a read does not wait for
    /// an fsync. The queue is bounded (readers wait when it is full), flushed at shutdown, and
    /// when events cannot be written, reads are refused (503) until they can: no read goes
    /// unrecorded while the node keeps serving. A crash can lose the read events of the last
    /// [`READ_LINGER`] and their commit; changes are never in that window (their events commit with them).
    pub(crate) async fn audit_read(
        &self,
        actor: &Actor,
        action: &'static str,
        record_type: &'static str,
        record_id: String,
        detail: serde_json::Value,
    ) -> Result<(), AppError> {
        if noop_sink() {
            return Ok(());
        }
        let r = &self.inner.read_audit;
        if r.failing.load(Ordering::Relaxed) {
            return Err(AppError::Unavailable("the audit log cannot be written; reads are suspended".into()));
        }
        let ev = event(Some(actor), action, record_type, Some(record_id), detail);
        self.read_queue()
            .send(ReadAudit::Event(ev))
            .await
            .map_err(|_| AppError::Unavailable("the read-audit task has stopped".into()))
    }

    fn read_queue(&self) -> &tokio::sync::mpsc::Sender<ReadAudit> {
        self.inner.read_audit.queue.get_or_init(|| {
            let (tx, rx) = tokio::sync::mpsc::channel(READ_QUEUE);
            let r = &self.inner.read_audit;
            tokio::spawn(read_audit_task(self.db().clone(), rx, r.failing.clone(), r.flush.clone()));
            tx
        })
    }

    /// Waits until every read event queued so far is committed (shutdown, tests, the viewer).
    pub async fn flush_audit(&self) -> Result<(), AppError> {
        if self.inner.read_audit.queue.get().is_none() {
            return Ok(());
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.read_queue()
            .send(ReadAudit::Flush(tx))
            .await
            .map_err(|_| AppError::Unavailable("the read-audit task has stopped".into()))?;
        self.inner.read_audit.flush.notify_one();
        rx.await.map_err(|_| AppError::Unavailable("the read-audit task has stopped".into()))
    }

    /// Passes `r` through; a denial (a forbidden operation, or a record the actor may not
    /// see) is audited first, and a hidden record becomes "not found".
    pub(crate) async fn guard<T>(&self, actor: &Actor, r: Result<T, AppError>) -> Result<T, AppError> {
        let (what, id, reason) = match &r {
            Err(AppError::Hidden { what, id, reason }) => (*what, Some(id.clone()), reason.to_string()),
            Err(AppError::Forbidden(m)) => ("operation", None, m.clone()),
            _ => return r,
        };
        let ev = event(Some(actor), "access.denied", what, id, serde_json::json!({"reason": reason}));
        self.audit_alone(ev).await?;
        match r {
            Err(AppError::Hidden { what, .. }) => Err(AppError::NotFound(what)),
            other => other,
        }
    }

    /// A page of the audit log, for auditors. The viewing itself is audited.
    pub async fn audit_events(&self, actor: &Actor, q: &AuditQuery) -> Result<AuditPage, AppError> {
        self.guard(actor, access::require_role(actor, &[Role::Auditor])).await?;
        self.flush_audit().await?;
        let f = q.filter()?;
        let items = enlace_store::audit::list_events(self.db(), &f).await?;
        let next_cursor = if items.len() as u32 == f.limit { items.last().map(|e| e.pos) } else { None };
        self.audit_read(
            actor,
            "audit.view",
            "audit",
            "log".into(),
            serde_json::json!({"events": items.len()}),
        )
        .await?;
        Ok(AuditPage { items, next_cursor })
    }

    /// Writes the events matching `q` (all pages) as CSV, newest first; returns how many.
    pub async fn export_audit_csv<W: std::io::Write>(
        &self,
        actor: &Actor,
        q: &AuditQuery,
        out: W,
    ) -> Result<u64, AppError> {
        self.guard(actor, access::require_role(actor, &[Role::Auditor])).await?;
        self.flush_audit().await?;
        let mut f = q.filter()?;
        f.limit = 1000;
        let mut w = csv::Writer::from_writer(out);
        let io = |e: csv::Error| AppError::Unavailable(format!("cannot write the export: {e}"));
        w.write_record(AUDIT_CSV_COLUMNS).map_err(io)?;
        let mut n = 0u64;
        loop {
            let page = enlace_store::audit::list_events(self.db(), &f).await?;
            for e in &page {
                let ev = &e.event;
                w.write_record([
                    e.pos.to_string(),
                    ev.id.to_string(),
                    ev.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                    ev.actor.map(|a| a.to_string()).unwrap_or_default(),
                    ev.actor_name.clone(),
                    ev.action.clone(),
                    ev.record_type.clone(),
                    ev.record_id.clone().unwrap_or_default(),
                    ev.detail.to_string(),
                    ev.source.clone().unwrap_or_default(),
                    e.hash.clone(),
                ])
                .map_err(io)?;
            }
            n += page.len() as u64;
            match page.last() {
                Some(last) if page.len() as u32 == f.limit => f.before = Some(last.pos),
                _ => break,
            }
        }
        w.flush().map_err(|e| AppError::Unavailable(format!("cannot write the export: {e}")))?;
        self.audit_read(actor, "audit.export", "audit", "log".into(), serde_json::json!({"events": n}))
            .await?;
        Ok(n)
    }

    /// Checks the whole chain from its first event to the recorded head, reporting progress.
    pub async fn verify_audit_chain(&self, progress: &dyn Fn(i64, i64)) -> Result<Verification, AppError> {
        self.flush_audit().await?;
        let (head_pos, head_hash) = enlace_store::audit::head(self.db()).await?;
        let mut v = ChainVerifier::default();
        let mut after = i64::MIN;
        loop {
            let page = enlace_store::audit::events_after(self.db(), after, 5000).await?;
            for e in &page {
                if let Err(b) = v.check(e) {
                    return Ok(Verification::Broken(b));
                }
            }
            progress(v.count(), head_pos);
            match page.last() {
                Some(last) => after = last.pos,
                None => break,
            }
        }
        Ok(match v.finish(head_pos, &head_hash) {
            Ok(()) => Verification::Intact { events: v.count(), head: head_hash },
            Err(b) => Verification::Broken(b),
        })
    }
}

/// Writes queued read events, up to [`READ_BATCH`] per transaction. On failure it keeps the
/// batch, marks the sink failing (reads are refused) and tries again.
async fn read_audit_task(
    db: enlace_store::Db,
    mut rx: tokio::sync::mpsc::Receiver<ReadAudit>,
    failing: Arc<AtomicBool>,
    flush: Arc<tokio::sync::Notify>,
) {
    let mut events: Vec<AuditEvent> = Vec::new();
    let mut flushes = Vec::new();
    while let Some(first) = rx.recv().await {
        // Gather for up to READ_LINGER after the first event, unless a flush is asked for or
        // the batch is full: at a low read rate that turns one commit (and fsync) per read into
        // one per few dozen, and no reader waits for it. The task sleeps meanwhile and takes
        // what has queued when it wakes, so queuing an event wakes nobody.
        let deadline = tokio::time::Instant::now() + READ_LINGER;
        let mut next = Some(first);
        loop {
            while let Some(m) = next.take() {
                match m {
                    ReadAudit::Event(e) => events.push(e),
                    ReadAudit::Flush(f) => flushes.push(f),
                }
                if events.len() < READ_BATCH {
                    next = rx.try_recv().ok();
                }
            }
            if !flushes.is_empty() || events.len() >= READ_BATCH || tokio::time::Instant::now() >= deadline {
                break;
            }
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => {}
                _ = flush.notified() => {}
            }
            next = rx.try_recv().ok();
        }
        loop {
            let batch = Arc::new(std::mem::take(&mut events));
            let b = batch.clone();
            let r = db
                .write(move |tx| {
                    let b = b.clone();
                    Box::pin(async move {
                        if !b.is_empty() {
                            enlace_store::audit::append_many(tx, &b).await?;
                        }
                        Ok::<_, enlace_store::StoreError>(())
                    })
                })
                .await;
            match r {
                Ok(()) => {
                    failing.store(false, Ordering::Relaxed);
                    break;
                }
                Err(e) => {
                    tracing::error!(error = %e, events = batch.len(), "read audit events not written; reads suspended");
                    failing.store(true, Ordering::Relaxed);
                    events = Arc::try_unwrap(batch).unwrap_or_else(|b| (*b).clone());
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
            }
        }
        for f in flushes.drain(..) {
            let _ = f.send(());
        }
    }
}
