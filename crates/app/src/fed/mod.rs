//! Federation in the node (issue 6): this node's identity, the hub's directory it holds, the
//! shares of cases with other states' nodes, the outbox its relay delivers, and the inbox that
//! applies what peers send. The protocol rules themselves are `enlace-fed`'s (pure); the
//! transport (HTTPS with mutual TLS) is given to the app as a [`Transport`], so this layer
//! knows no HTTP and tests can put a fault-injecting transport in between.

pub mod fields;
mod handover;
mod inbox;
pub mod linkage;
mod relay;
mod shares;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use enlace_domain::country::CountryCode;
use enlace_fed::directory::{Directory, NodeEntry, SignedDirectory};
use enlace_fed::envelope::MessageType;
use enlace_fed::ids::{NodeId, StateCode};
use enlace_fed::keys::{SigningKey, VerifyingKey};
use enlace_store::BoxFuture;

pub(crate) use handover::check_owned_here;
pub use handover::{HandoverRequest, HandoverView};
pub use inbox::Received;
pub use relay::RelayReport;
pub use shares::{OutboxView, Share, ShareEventView, ShareRequest, ShareSide, SharesPage, share_state_name};
pub(crate) use shares::{assistance_tx, end_shares_of_consent};

use crate::{App, AppError, audit, event};

/// This node's place in the network.
#[derive(Clone)]
pub struct FedSettings {
    /// This node's id in the directory.
    pub node: NodeId,
    /// The node's message-signing key (kept in the data directory, never in the database).
    pub signing_key: Arc<SigningKey>,
    /// The hub's directory-signing key, given at set-up: the trust anchor.
    pub hub_key: VerifyingKey,
    /// Where the hub serves the directory (`https://…`); `None` on the hub itself.
    pub hub_endpoint: Option<String>,
    /// How far an envelope's `created` may be from this node's clock.
    pub max_skew: TimeDelta,
    /// The first retry waits about this long, doubling up to `retry_max`.
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// After this many failed attempts a message becomes a dead letter.
    pub max_attempts: i64,
    /// How often the directory is fetched again from the hub.
    pub directory_refresh: Duration,
    /// The secret the states' nodes share for the cross-border linkage service's encodings
    /// (never the hub's: it cannot read or make encodings). `None`: this node takes no part.
    pub linkage_secret: Option<LinkageSecret>,
    /// On the hub: how long a linkage candidate stays open for the states to decide.
    pub candidate_ttl: TimeDelta,
}

/// The network's linkage secret (never printed).
#[derive(Clone)]
pub struct LinkageSecret(pub Arc<Vec<u8>>);

impl LinkageSecret {
    /// The secret in a file the states agreed on (surrounding whitespace ignored; at least 16
    /// bytes). The file must exist: a secret made up by one node alone would match nothing.
    pub fn from_file(path: &std::path::Path) -> Result<LinkageSecret, String> {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        LinkageSecret::new(text.trim().as_bytes())
    }

    /// Checks the length.
    pub fn new(bytes: &[u8]) -> Result<LinkageSecret, String> {
        if bytes.len() < enlace_pprl::MIN_SECRET_LEN {
            return Err(format!(
                "the linkage secret has {} bytes; at least {} are needed",
                bytes.len(),
                enlace_pprl::MIN_SECRET_LEN
            ));
        }
        Ok(LinkageSecret(Arc::new(bytes.to_vec())))
    }

    /// A new random secret as text (64 hex digits), for a network being set up.
    pub fn generate_text() -> Result<String, String> {
        let mut b = [0u8; 32];
        getrandom::fill(&mut b).map_err(|e| e.to_string())?;
        Ok(b.iter().map(|x| format!("{x:02x}")).collect())
    }
}

impl std::fmt::Debug for LinkageSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkageSecret(..)")
    }
}

impl FedSettings {
    pub fn new(node: NodeId, signing_key: SigningKey, hub_key: VerifyingKey) -> FedSettings {
        FedSettings {
            node,
            signing_key: Arc::new(signing_key),
            hub_key,
            hub_endpoint: None,
            max_skew: TimeDelta::minutes(5),
            retry_base: Duration::from_secs(1),
            retry_max: Duration::from_secs(60),
            max_attempts: 200,
            directory_refresh: Duration::from_secs(300),
            linkage_secret: None,
            candidate_ttl: TimeDelta::days(30),
        }
    }
}

/// A node's (or the hub's) message-signing key, from its file (base64url, owner-only),
/// made on first use.
pub fn signing_key_file(path: &std::path::Path) -> Result<SigningKey, String> {
    let text = crate::keys::secret_file(path, || {
        SigningKey::generate().map(|k| k.to_secret_base64url()).map_err(|e| e.to_string())
    })?;
    SigningKey::from_secret_base64url(&text).map_err(|e| format!("{}: {e}", path.display()))
}

impl std::fmt::Debug for FedSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FedSettings")
            .field("node", &self.node)
            .field("kid", self.signing_key.kid())
            .field("hub_endpoint", &self.hub_endpoint)
            .finish_non_exhaustive()
    }
}

/// How a delivery attempt ended, as the transport saw it.
#[derive(Debug, Clone)]
pub enum Delivery {
    /// The peer answered with its signed receipt (a compact JWS).
    Receipt(String),
    /// The peer refused the message: `code` is the refusal's stable name
    /// (`enlace_fed::receive::EnvelopeError::code` or an application refusal).
    Refused { status: u16, code: String, detail: String },
}

/// The network, as the node uses it. The web layer provides the real one (HTTPS with mutual
/// TLS pinned to the directory); tests wrap it to drop, delay or duplicate messages.
pub trait Transport: Send + Sync + 'static {
    /// Posts `envelope` to `peer`'s inbox. `Err` means the outcome is unknown (connection
    /// refused, timeout, 5xx): the relay tries again later with the same message id.
    fn deliver(&self, peer: &NodeEntry, envelope: String) -> BoxFuture<'static, Result<Delivery, String>>;
    /// Fetches the signed directory from the hub at `endpoint`.
    fn fetch_directory(&self, endpoint: &str) -> BoxFuture<'static, Result<String, String>>;
}

/// The federation state of a running node.
pub(crate) struct Fed {
    pub(crate) settings: FedSettings,
    directory: RwLock<Option<Arc<Directory>>>,
    transport: RwLock<Option<Arc<dyn Transport>>>,
    /// Wakes the relay when a change queued a message.
    pub(crate) kick: tokio::sync::Notify,
    /// Wakes the hub's linkage matcher when encodings arrived.
    pub(crate) link_kick: tokio::sync::Notify,
    /// Per-peer circuit breakers.
    pub(crate) breakers: std::sync::Mutex<std::collections::HashMap<String, relay::Breaker>>,
    /// Whether the relay runs (set by `start_federation`).
    pub(crate) started: std::sync::atomic::AtomicBool,
    /// Set when the node shuts down: the relay starts no new delivery and ends once those
    /// under way are done (`relay_done` then turns true).
    pub(crate) stopping: std::sync::atomic::AtomicBool,
    pub(crate) relay_done: tokio::sync::watch::Sender<bool>,
    /// Last directory refresh asked by a refusal (rate-limited: the serial that asked for it
    /// was not yet authenticated).
    last_forced_refresh: std::sync::Mutex<Option<std::time::Instant>>,
}

impl Fed {
    pub(crate) fn new(settings: FedSettings) -> Fed {
        Fed {
            settings,
            directory: RwLock::new(None),
            transport: RwLock::new(None),
            kick: tokio::sync::Notify::new(),
            link_kick: tokio::sync::Notify::new(),
            breakers: Default::default(),
            started: Default::default(),
            stopping: Default::default(),
            relay_done: tokio::sync::watch::Sender::new(false),
            last_forced_refresh: Default::default(),
        }
    }
}

/// How often the node looks for mutual-assistance notices it could not address (no usable
/// directory when the case was registered).
const NOTICE_SWEEP: Duration = Duration::from_secs(300);

/// The fields the network agrees on per message type (the directory's ceiling): every share
/// field where data flows, the meta fields of each type.
pub fn agreed_field_subsets() -> std::collections::BTreeMap<MessageType, std::collections::BTreeSet<String>> {
    let set = |names: &[&[&str]]| names.iter().flat_map(|n| n.iter()).map(|s| s.to_string()).collect();
    let offer: &[&str] = &[
        "case_number",
        "owner_state",
        "from_state",
        "to_state",
        "kind",
        "purpose",
        "legal_instrument",
        "fields",
    ];
    [
        (MessageType::ReferralOffer, set(&[offer, fields::CASE_FIELDS, fields::PERSON_FIELDS])),
        (MessageType::AssistanceNotice, set(&[offer, fields::CASE_FIELDS, fields::PERSON_FIELDS])),
        (MessageType::ReferralAccept, set(&[&["note"]])),
        (MessageType::ReferralReject, set(&[&["note"]])),
        (MessageType::ShareRevoke, set(&[&["reason"]])),
        (MessageType::ShareUpdate, set(&[&["case_number"], fields::CASE_FIELDS, fields::PERSON_FIELDS])),
        (MessageType::Rectification, set(&[&["case_number"], fields::PERSON_FIELDS])),
        (MessageType::HandoverOffer, set(&[&["note"]])),
        (MessageType::HandoverCancel, set(&[&["note"]])),
        (MessageType::HandoverAccept, set(&[&["note"]])),
        (MessageType::HandoverReject, set(&[&["note"]])),
        (MessageType::HandoverConfirm, set(&[&["case_number", "case"]])),
        (MessageType::Pull, set(&[&["from_seq", "to_seq"]])),
        (MessageType::StatsSubmission, set(&[&["state", "period", "tables", "art36"]])),
        (MessageType::LinkageSubmission, set(&[&["state", "scheme", "add", "remove"]])),
        (
            MessageType::LinkageCandidate,
            set(&[&[
                "candidate",
                "encoding",
                "side",
                "other_state",
                "other_encoding",
                "similarity",
                "expires_at",
            ]]),
        ),
        (MessageType::LinkageDecision, set(&[&["candidate", "encoding", "decision"]])),
        (MessageType::LinkageWithdrawn, set(&[&["candidate", "encoding"]])),
        (
            MessageType::WorkspaceRecord,
            set(&[&["kind", "meeting", "agreement", "event", "contact", "group", "library", "file", "part"]]),
        ),
        (MessageType::WorkspaceSync, set(&[&["since"]])),
        (
            MessageType::WorkspaceEdit,
            set(&[&["op", "meeting", "agreement", "data", "author", "id", "group", "file", "part"]]),
        ),
        (MessageType::Receipt, set(&[&["status"]])),
    ]
    .into_iter()
    .collect()
}

/// A federation refusal, for the web layer: a stable code and whether retrying may help.
pub(crate) fn refused(code: &str, message: impl Into<String>) -> AppError {
    AppError::Federation { code: code.to_string(), message: message.into(), retryable: false }
}

pub(crate) fn state_code(c: CountryCode) -> StateCode {
    StateCode::parse(c.as_str()).expect("a country code is two upper-case letters")
}

impl App {
    pub(crate) fn fed(&self) -> Result<&Fed, AppError> {
        self.inner.fed.as_ref().ok_or_else(|| AppError::Rule("this node is not part of a federation".into()))
    }

    /// Whether this node takes part in a federation.
    pub fn federated(&self) -> bool {
        self.inner.fed.is_some()
    }

    /// This node's id, when federated.
    pub fn node_id(&self) -> Option<&NodeId> {
        self.inner.fed.as_ref().map(|f| &f.settings.node)
    }

    /// Gives the node its network. Done once at start, before [`App::start_federation`].
    pub fn set_transport(&self, t: Arc<dyn Transport>) -> Result<(), AppError> {
        *self.fed()?.transport.write().expect("transport lock") = Some(t);
        Ok(())
    }

    pub(crate) fn transport(&self) -> Result<Arc<dyn Transport>, AppError> {
        self.fed()?
            .transport
            .read()
            .expect("transport lock")
            .clone()
            .ok_or_else(|| AppError::Unavailable("the federation transport is not set up".into()))
    }

    /// The directory in memory, if loaded (for the TLS layer, which cannot wait on the
    /// database during a handshake; [`App::directory`] loads it).
    pub fn directory_cached(&self) -> Option<Arc<Directory>> {
        self.inner.fed.as_ref()?.directory.read().expect("directory lock").clone()
    }

    /// The directory this node holds, loading the stored copy on first use.
    pub async fn directory(&self) -> Result<Arc<Directory>, AppError> {
        let fed = self.fed()?;
        if let Some(d) = fed.directory.read().expect("directory lock").clone() {
            return Ok(d);
        }
        let Some((_, signed)) = enlace_store::fed::directory(self.db()).await? else {
            return Err(refused_retry("no-directory", "this node holds no network directory yet"));
        };
        // A stored copy was checked when installed; it is checked again (signature, expiry).
        let d = SignedDirectory(signed)
            .verify(&fed.settings.hub_key, Utc::now(), None)
            .map_err(|e| refused_retry("directory-invalid", e.to_string()))?;
        let d = Arc::new(d);
        *fed.directory.write().expect("directory lock") = Some(d.clone());
        Ok(d)
    }

    /// The directory, refused when it has expired: a node with an expired copy sends and
    /// accepts nothing (fail closed).
    pub(crate) async fn current_directory(&self, now: DateTime<Utc>) -> Result<Arc<Directory>, AppError> {
        let d = self.directory().await?;
        d.check_current(now).map_err(|e| refused_retry("directory-expired", e.to_string()))?;
        Ok(d)
    }

    /// Installs a hub-signed directory: checked against the hub's key, refused when older than
    /// the one held. Audited. Returns its serial.
    pub async fn install_directory(&self, signed: &str) -> Result<u64, AppError> {
        let fed = self.fed()?;
        let held = match self.directory().await {
            Ok(d) => Some(d.serial),
            Err(_) => enlace_store::fed::directory(self.db()).await?.map(|(s, _)| s as u64),
        };
        let now = Utc::now();
        let d = SignedDirectory(signed.to_string())
            .verify(&fed.settings.hub_key, now, held)
            .map_err(|e| refused("directory-refused", e.to_string()))?;
        let serial = d.serial;
        if held == Some(serial) {
            return Ok(serial);
        }
        let signed = signed.to_string();
        let stored = self
            .db()
            .write(move |tx| {
                let signed = signed.clone();
                Box::pin(async move {
                    let stored =
                        enlace_store::fed::put_directory(tx, serial as i64, &signed, enlace_store::now())
                            .await?;
                    if stored {
                        let detail = serde_json::json!({"serial": serial,
                            "digest": SignedDirectory(signed.clone()).digest()});
                        audit(
                            tx,
                            event(None, "fed.directory", "directory", Some(serial.to_string()), detail),
                        )
                        .await?;
                    }
                    Ok::<_, AppError>(stored)
                })
            })
            .await?;
        if stored {
            *fed.directory.write().expect("directory lock") = Some(Arc::new(d));
            tracing::info!(serial, "network directory installed");
            if fed.started.load(std::sync::atomic::Ordering::Relaxed) {
                // Notices held back while there was no usable directory can go now.
                let app = self.clone();
                tokio::spawn(async move { app.sweep_notices().await });
            }
        }
        Ok(serial)
    }

    /// The signed directory as stored (what a hub serves).
    pub async fn signed_directory(&self) -> Result<Option<String>, AppError> {
        Ok(enlace_store::fed::directory(self.db()).await?.map(|(_, s)| s))
    }

    /// Fetches the directory from the hub and installs it if newer.
    pub async fn refresh_directory(&self) -> Result<u64, AppError> {
        let fed = self.fed()?;
        let Some(endpoint) = fed.settings.hub_endpoint.clone() else {
            return Err(AppError::Rule("this node has no hub to refresh its directory from".into()));
        };
        let signed = self
            .transport()?
            .fetch_directory(&endpoint)
            .await
            .map_err(|e| AppError::Unavailable(format!("cannot fetch the directory: {e}")))?;
        self.install_directory(&signed).await
    }

    /// A refresh asked for by a peer's refusal (its serial is newer), at most every 10 s.
    pub(crate) fn refresh_soon(&self) {
        let Ok(fed) = self.fed() else { return };
        {
            let mut last = fed.last_forced_refresh.lock().expect("refresh lock");
            if last.is_some_and(|t| t.elapsed() < Duration::from_secs(10)) {
                return;
            }
            *last = Some(std::time::Instant::now());
        }
        let app = self.clone();
        tokio::spawn(async move {
            if let Err(e) = app.refresh_directory().await {
                tracing::warn!(error = %e, "directory refresh failed");
            }
        });
    }

    /// The states this node holds, from the directory.
    pub(crate) async fn my_entry(&self, now: DateTime<Utc>) -> Result<(Arc<Directory>, NodeEntry), AppError> {
        let d = self.current_directory(now).await?;
        let me = &self.fed()?.settings.node;
        let entry = d.node(me).cloned().ok_or_else(|| {
            refused_retry("not-in-directory", format!("this node ({me}) is not in the directory"))
        })?;
        Ok((d, entry))
    }

    /// Starts the federation's background work: the relay and the directory refresh.
    pub fn start_federation(&self) -> Result<(), AppError> {
        let fed = self.fed()?;
        self.transport()?;
        let app = self.clone();
        tokio::spawn(async move { app.relay_loop().await });
        let app = self.clone();
        tokio::spawn(async move { app.matcher_loop().await });
        // Uploads from nodes whose parts all arrived before a restart.
        let app = self.clone();
        tokio::spawn(async move { app.finish_uploads().await });
        fed.started.store(true, std::sync::atomic::Ordering::Relaxed);
        let app = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(NOTICE_SWEEP);
            loop {
                tick.tick().await;
                app.sweep_notices().await;
            }
        });
        // A node joining the network asks the hub for its workspace, once (retried until
        // it could ask: the directory may come later).
        let app = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(30));
            loop {
                tick.tick().await;
                match app.request_workspace_sync().await {
                    // Asked, asked before, or this is the hub.
                    Ok(_) => break,
                    Err(e) => tracing::debug!(error = %e, "cannot ask the hub for the workspace yet"),
                }
            }
        });
        if fed.settings.hub_endpoint.is_some() {
            let app = self.clone();
            let every = fed.settings.directory_refresh;
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                loop {
                    tick.tick().await;
                    if let Err(e) = app.refresh_directory().await {
                        tracing::warn!(error = %e, "directory refresh failed");
                    }
                }
            });
        }
        Ok(())
    }
}

pub(crate) fn refused_retry(code: &str, message: impl Into<String>) -> AppError {
    AppError::Federation { code: code.to_string(), message: message.into(), retryable: true }
}
