//! What operators watch (issue 9): the numbers `/metrics` publishes beside the web layer's
//! own (requests and their latencies). Nothing here is about a person.

use std::sync::atomic::Ordering;

use crate::{App, AppError};

/// The node's state in numbers, read when scraped.
#[derive(Debug, Clone, Default)]
pub struct OpsSnapshot {
    /// Federation messages by outbox state (`pending`, `sent`, `dead`, ...).
    pub outbox: Vec<(String, i64)>,
    /// Connection pools: name, open, idle.
    pub pools: Vec<enlace_store::PoolStat>,
    /// Failed sign-ins since the process started.
    pub login_failures: u64,
}

impl App {
    /// Counts a failed sign-in (the audit log has each; this is the rate operators watch).
    pub(crate) fn note_login_failure(&self) {
        self.inner.login_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// The numbers operators watch, read now.
    pub async fn ops_snapshot(&self) -> Result<OpsSnapshot, AppError> {
        Ok(OpsSnapshot {
            outbox: enlace_store::fed::outbox_counts(self.db()).await?,
            pools: self.db().pool_stats(),
            login_failures: self.inner.login_failures.load(Ordering::Relaxed),
        })
    }
}
