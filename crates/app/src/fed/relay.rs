//! The relay: delivers the outbox. Messages of one share go one at a time, in sequence order;
//! different shares go in parallel. Each attempt signs the stored header anew (`created` is the
//! signing time) under the same message id, so a retry is a duplicate to the receiver, which
//! answers it with the receipt it stored. A failure waits (exponential backoff with jitter); a
//! peer failing again and again is skipped for a while (circuit breaker); a refusal that
//! retrying cannot fix, or too many attempts, makes a dead letter for administrators. Nothing
//! is dropped: a message leaves the queue only with the peer's signed receipt, or as a dead
//! letter.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use enlace_fed::directory::Directory;
use enlace_fed::envelope::{EnvelopeHeader, MessageType, sign_envelope};
use enlace_fed::ids::{MessageId, NodeId, ShareId};
use enlace_fed::receive::verify_envelope;
use enlace_store::fed::{OutboxHead, OutboxRow};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Delivery, Transport};
use crate::{App, AppError, audit, event};

/// Consecutive failures after which a peer is skipped for a while.
const BREAKER_THRESHOLD: u32 = 5;
/// Messages in flight at once (across shares and peers).
const IN_FLIGHT: usize = 256;
/// The relay reads the outbox at most this often when woken again and again.
const DISPATCH_COALESCE: Duration = Duration::from_millis(10);

/// A (peer, share) queue.
type QueueKey = (String, Option<Uuid>);
/// The queues a worker is delivering.
type Busy = Arc<std::sync::Mutex<std::collections::HashSet<QueueKey>>>;

/// A peer's circuit breaker.
#[derive(Debug, Default, Clone)]
pub(crate) struct Breaker {
    /// Failures since the last success or trip.
    failures: u32,
    open_until: Option<Instant>,
    /// How long the last trip opened it (doubles at each trip, reset by a success).
    open_for: Duration,
}

/// What one relay round did (tests and the CLI read it).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RelayReport {
    pub delivered: usize,
    pub failed: usize,
    pub dead: usize,
}

impl RelayReport {
    /// Counts one recorded attempt.
    fn add(&mut self, (recorded, m): (Result<Option<bool>, AppError>, OutboxRow)) {
        match recorded {
            Ok(Some(true)) => self.delivered += 1,
            Ok(Some(false)) => self.dead += 1,
            Ok(None) => self.failed += 1,
            Err(e) => {
                tracing::warn!(error = %e, message = %m.id, "cannot record a delivery attempt");
                self.failed += 1;
            }
        }
    }
}

enum Outcome {
    Delivered(String),
    Retry(String),
    Dead(String),
}

impl App {
    /// Delivers the outbox for as long as the node runs. Each (peer, share) queue with a due
    /// head gets a worker that delivers it in order; a queue already being worked is left to
    /// its worker, and a worker that ends wakes the loop, so a message queued meanwhile waits
    /// for its own share only, not for every other share (no round barrier).
    pub(crate) async fn relay_loop(&self) {
        let Ok(fed) = self.fed() else { return };
        let busy: Busy = Default::default();
        let sem = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
        let mut workers = tokio::task::JoinSet::new();
        loop {
            while workers.try_join_next().is_some() {}
            if fed.stopping.load(std::sync::atomic::Ordering::Relaxed) {
                // Shutting down: let the deliveries under way finish (each is bounded by the
                // transport's timeout), start no other.
                while workers.join_next().await.is_some() {}
                fed.relay_done.send_replace(true);
                return;
            }
            let wait = match self.dispatch(&busy, &sem, &mut workers).await {
                Ok(w) => w,
                Err(e) => {
                    tracing::warn!(error = %e, "relay dispatch failed");
                    Duration::from_secs(1)
                }
            };
            let _ = tokio::time::timeout(wait, fed.kick.notified()).await;
            // Wake-ups that come together are served by one read of the outbox.
            tokio::time::sleep(DISPATCH_COALESCE).await;
        }
    }

    /// At shutdown: stops the relay once the deliveries under way are done, waiting at most
    /// `limit`. Returns whether they finished in time (what did not is sent again at the next
    /// start: receivers know a message by its id).
    pub async fn stop_relay(&self, limit: Duration) -> bool {
        let Ok(fed) = self.fed() else { return true };
        if !fed.started.load(std::sync::atomic::Ordering::Relaxed) {
            return true;
        }
        fed.stopping.store(true, std::sync::atomic::Ordering::Relaxed);
        fed.kick.notify_one();
        let mut done = fed.relay_done.subscribe();
        tokio::time::timeout(limit, done.wait_for(|d| *d)).await.is_ok_and(|r| r.is_ok())
    }

    /// Starts a worker for every (peer, share) queue whose head is due and that no worker has;
    /// returns how long until the next head is due (at most 5 s).
    async fn dispatch(
        &self,
        busy: &Busy,
        sem: &Arc<tokio::sync::Semaphore>,
        workers: &mut tokio::task::JoinSet<RelayReport>,
    ) -> Result<Duration, AppError> {
        let now = Utc::now();
        // Only where each message queues and when it is due: under a backlog this read comes
        // many times a second, and reading (and parsing) every payload of it each time took a
        // core away from the deliveries. A worker reads its own queue's messages.
        let pending = enlace_store::fed::pending(self.db(), 2000).await?;
        // Queues per (peer, share) in queue order; a share's head not yet due holds its queue.
        let mut queues: BTreeMap<QueueKey, Vec<OutboxHead>> = BTreeMap::new();
        let mut next_due: Option<chrono::DateTime<Utc>> = None;
        {
            let taken = busy.lock().expect("relay busy set");
            for m in pending {
                let key = (m.peer_node.clone(), m.share_id);
                if taken.contains(&key) {
                    continue;
                }
                let q = queues.entry(key).or_default();
                if q.is_empty() && m.next_at > now {
                    next_due = Some(next_due.map_or(m.next_at, |d| d.min(m.next_at)));
                    q.push(m);
                    continue;
                }
                if q.first().is_some_and(|h| h.next_at > now) {
                    continue;
                }
                q.push(m);
            }
        }
        queues.retain(|_, q| q.first().is_some_and(|h| h.next_at <= now));
        let wait = next_due
            .map(|d| (d - now).to_std().unwrap_or(Duration::ZERO))
            .unwrap_or(Duration::from_secs(5))
            .min(Duration::from_secs(5));
        if queues.is_empty() {
            return Ok(wait);
        }
        let dir = self.current_directory(now).await?;
        let transport = self.transport()?;
        for (key, queue) in queues {
            if !self.breaker_allows(&key.0) {
                continue;
            }
            busy.lock().expect("relay busy set").insert(key.clone());
            let (app, dir, transport, sem, busy) =
                (self.clone(), dir.clone(), transport.clone(), sem.clone(), busy.clone());
            workers.spawn(async move {
                let report = app.work_queue(&key.0, queue, &dir, transport.as_ref(), &sem).await;
                busy.lock().expect("relay busy set").remove(&key);
                app.kick_relay();
                report
            });
        }
        Ok(wait)
    }

    /// Delivers one share's queue in order, until it is empty or its head fails.
    async fn work_queue(
        &self,
        peer: &str,
        queue: Vec<OutboxHead>,
        dir: &Arc<Directory>,
        transport: &dyn Transport,
        sem: &tokio::sync::Semaphore,
    ) -> RelayReport {
        let mut report = RelayReport::default();
        let ids: Vec<Uuid> = queue.iter().map(|h| h.id).collect();
        let queue = match enlace_store::fed::pending_by_ids(self.db(), &ids).await {
            Ok(q) => q,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read a delivery queue");
                report.failed += ids.len();
                return report;
            }
        };
        // A delivery is recorded while the share's next message is already on its way (the
        // receipt, not the record, orders them); the worker ends when every record is written,
        // so no later worker sends the same message again.
        let mut records = tokio::task::JoinSet::new();
        for m in queue {
            let Ok(permit) = sem.acquire().await else { break };
            let outcome = self.attempt(dir, transport, &m).await;
            drop(permit);
            let ok = matches!(outcome, Outcome::Delivered(_));
            let back = self.breaker_note(peer, ok);
            let recording = {
                let app = self.clone();
                async move { (app.record(&m, outcome).await, m) }
            };
            if ok {
                records.spawn(recording);
            } else {
                report.add(recording.await);
            }
            if back {
                // The peer is back: what waits for it need not wait out its backoff.
                match self.reschedule_peer(peer).await {
                    Ok(n) if n > 0 => self.kick_relay(),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "cannot reschedule a peer's messages"),
                }
            }
            if !ok {
                break;
            }
        }
        while let Some(r) = records.join_next().await {
            if let Ok(r) = r {
                report.add(r);
            }
        }
        report
    }

    /// Signs and delivers one message, and checks the receipt.
    async fn attempt(&self, dir: &Directory, transport: &dyn Transport, m: &OutboxRow) -> Outcome {
        let Ok(fed) = self.fed() else { return Outcome::Retry("not federated".into()) };
        let to = match NodeId::parse(&m.peer_node) {
            Ok(n) => n,
            Err(e) => return Outcome::Dead(e.to_string()),
        };
        let Some(peer) = dir.node(&to).filter(|n| n.revoked_at.is_none()).cloned() else {
            return Outcome::Retry(format!("{to} is not (or no longer) in the directory"));
        };
        let message_type: MessageType = match serde_json::from_value(Value::String(m.message_type.clone())) {
            Ok(t) => t,
            Err(e) => return Outcome::Dead(format!("unknown message type: {e}")),
        };
        let Value::Object(payload) = &m.payload else {
            return Outcome::Dead("payload is not an object".into());
        };
        let (Ok(id), reply_to) =
            (MessageId::from_uuid(m.id), m.reply_to.map(MessageId::from_uuid).transpose())
        else {
            return Outcome::Dead("message id is not a UUIDv7".into());
        };
        let Ok(reply_to) = reply_to else { return Outcome::Dead("reply_to is not a UUIDv7".into()) };
        let header = EnvelopeHeader {
            id,
            message_type,
            from: fed.settings.node.clone(),
            to: to.clone(),
            created: Utc::now(),
            share: m.share_id.map(ShareId),
            seq: m.seq as u64,
            epoch: m.epoch as u64,
            reply_to,
            dir_serial: dir.serial,
            kid: fed.settings.signing_key.kid().clone(),
        };
        let compact = match sign_envelope(&header, payload, &fed.settings.signing_key) {
            Ok(c) => c,
            Err(e) => return Outcome::Dead(format!("cannot sign: {e}")),
        };
        match transport.deliver(&peer, compact).await {
            Err(e) => Outcome::Retry(e),
            Ok(Delivery::Refused { code, detail, status }) => {
                if matches!(code.as_str(), "directory-behind" | "directory-expired" | "no-directory") {
                    self.refresh_soon();
                    Outcome::Retry(format!("{status} {code}: {detail}"))
                } else if status >= 500 || status == 429 || status == 409 && code == "conflict" {
                    Outcome::Retry(format!("{status} {code}: {detail}"))
                } else {
                    Outcome::Dead(format!("{status} {code}: {detail}"))
                }
            }
            Ok(Delivery::Receipt(receipt)) => {
                // The receipt is the peer's signed word: checked like any envelope (a stored
                // receipt of an earlier attempt may be old, hence the wide window).
                match verify_envelope(
                    &receipt,
                    dir,
                    &fed.settings.node,
                    None,
                    Utc::now(),
                    TimeDelta::days(3650),
                ) {
                    Ok(r)
                        if r.header.message_type == MessageType::Receipt
                            && r.header.from == to
                            && r.header.reply_to == Some(id) =>
                    {
                        Outcome::Delivered(receipt)
                    }
                    Ok(_) => Outcome::Retry("the receipt answers another message".into()),
                    Err(e) => Outcome::Retry(format!("the receipt does not verify: {e}")),
                }
            }
        }
    }

    /// Records an attempt with its audit event. `Some(true)` delivered, `Some(false)` dead,
    /// `None` will be retried.
    async fn record(&self, m: &OutboxRow, outcome: Outcome) -> Result<Option<bool>, AppError> {
        let fed = self.fed()?;
        let now = enlace_store::now();
        let (id, peer, mtype) = (m.id, m.peer_node.clone(), m.message_type.clone());
        let (result, next_at, error, receipt) = match outcome {
            Outcome::Delivered(r) => (Some(true), now, None, Some(r)),
            Outcome::Dead(e) => (Some(false), now, Some(e), None),
            Outcome::Retry(e) if m.attempts + 1 >= fed.settings.max_attempts => {
                (Some(false), now, Some(format!("gave up after {} attempts: {e}", m.attempts + 1)), None)
            }
            Outcome::Retry(e) => {
                let base = fed.settings.retry_base.as_millis() as f64;
                let max = fed.settings.retry_max.as_millis() as f64;
                let delay = (base * 2f64.powi(m.attempts.min(30) as i32)).min(max) * (0.5 + fastrand::f64());
                (None, now + TimeDelta::milliseconds(delay as i64), Some(e), None)
            }
        };
        // A retry is routine (the breaker warns once per trip); a dead letter needs someone.
        match (&error, result) {
            (Some(e), Some(false)) => tracing::warn!(message = %id, peer = %peer, error = %e, "dead letter"),
            (Some(e), _) => {
                tracing::debug!(message = %id, peer = %peer, error = %e, "delivery failed; will retry")
            }
            _ => {}
        }
        self.db()
            .write(move |tx| {
                let (error, receipt, peer, mtype) =
                    (error.clone(), receipt.clone(), peer.clone(), mtype.clone());
                Box::pin(async move {
                    let changed = match &receipt {
                        Some(r) => enlace_store::fed::mark_delivered(tx, id, r, now).await?,
                        None => {
                            let e = error.as_deref().unwrap_or("");
                            enlace_store::fed::mark_failed(tx, id, e, next_at, result == Some(false)).await?
                        }
                    };
                    // Retries are logged by the relay, not the audit log (a peer down for a
                    // day would fill it); deliveries and dead letters are audited.
                    if changed && result.is_some() {
                        let action = if receipt.is_some() { "fed.deliver" } else { "fed.dead_letter" };
                        let detail = json!({"to": peer, "type": mtype, "error": error,
                            "receipt_sha256": receipt.as_deref().map(crate::sha256_hex)});
                        audit(tx, event(None, action, "message", Some(id.to_string()), detail)).await?;
                    }
                    Ok::<_, AppError>(())
                })
            })
            .await?;
        Ok(result)
    }

    fn breaker_allows(&self, peer: &str) -> bool {
        let Ok(fed) = self.fed() else { return false };
        let mut b = fed.breakers.lock().expect("breakers lock");
        let b = b.entry(peer.to_string()).or_default();
        !matches!(b.open_until, Some(t) if Instant::now() < t)
    }

    /// Counts an attempt's outcome. The circuit opens after [`BREAKER_THRESHOLD`] failures,
    /// for the base delay, doubling at each new trip up to the maximum; failures of attempts
    /// already in flight when it opened do not count again. Returns true when a success ends
    /// a run of failures (the peer is back).
    fn breaker_note(&self, peer: &str, ok: bool) -> bool {
        let Ok(fed) = self.fed() else { return false };
        let mut all = fed.breakers.lock().expect("breakers lock");
        let b = all.entry(peer.to_string()).or_default();
        let now = Instant::now();
        if ok {
            let was_failing = b.failures > 0 || !b.open_for.is_zero();
            *b = Breaker::default();
            return was_failing;
        }
        if b.open_until.is_some_and(|t| now < t) {
            return false;
        }
        b.failures += 1;
        if b.failures >= BREAKER_THRESHOLD {
            b.open_for = if b.open_for.is_zero() { fed.settings.retry_base } else { b.open_for * 2 }
                .min(fed.settings.retry_max);
            b.open_until = Some(now + b.open_for);
            b.failures = 0;
            tracing::warn!(peer, open_secs = b.open_for.as_secs_f64(), "peer circuit open");
        }
        false
    }

    /// Makes a peer's pending messages due now (it answers again).
    async fn reschedule_peer(&self, peer: &str) -> Result<u64, AppError> {
        let peer = peer.to_string();
        self.db()
            .write(move |tx| {
                let peer = peer.clone();
                Box::pin(async move {
                    Ok::<_, AppError>(
                        enlace_store::fed::retry_peer_now(tx, &peer, enlace_store::now()).await?,
                    )
                })
            })
            .await
    }

    /// Peers whose circuit is open now (diagnostics).
    pub fn open_circuits(&self) -> Vec<String> {
        let Ok(fed) = self.fed() else { return Vec::new() };
        let all: HashMap<String, Breaker> = fed.breakers.lock().expect("breakers lock").clone();
        let now = Instant::now();
        all.into_iter().filter(|(_, b)| b.open_until.is_some_and(|t| t > now)).map(|(p, _)| p).collect()
    }
}
