//! `enlace bench-federation`: two nodes (Honduras, Guatemala) in one process, each its own
//! SQLite file in a temporary folder, talking over real HTTPS with mutual TLS on loopback.
//! Honduras shares cases with Guatemala, Guatemala accepts them, then Honduras changes the
//! cases at a target rate: every change queues one signed `share_update` in the change's own
//! transaction, which the relay delivers. Reports the rate delivered and the delay from queue
//! to receipt (p50 / p99 / max), and, with `--outage-secs`, how a backlog queued while
//! Guatemala was unreachable drains, checking that every message arrived once, in order.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::{TimeDelta, Utc};
use clap::Args;
use enlace_app::fed::{Delivery, Transport, agreed_field_subsets};
use enlace_app::{Actor, App};
use enlace_domain::country::CountryCode;
use enlace_domain::ids::CaseId;
use enlace_fed::directory::{Directory, NodeEntry, NodeRole};
use enlace_fed::ids::NodeId;
use enlace_fed::keys::SigningKey;
use enlace_net::DemoCa;
use enlace_store::BoxFuture;
use enlace_web::fed::HttpsTransport;
use serde_json::json;

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Changes (= messages) per second Honduras makes.
    #[arg(long, default_value_t = 1000)]
    rate: u64,
    /// How long the steady load lasts, in seconds.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Shared cases (messages of one share are delivered one at a time, shares in parallel).
    #[arg(long, default_value_t = 256)]
    shares: usize,
    /// Make Guatemala unreachable for this many seconds at the start of the load, then bring
    /// it back and measure the drain.
    #[arg(long, default_value_t = 0)]
    outage_secs: u64,
    /// Where the two nodes keep their files (default: a new folder in the temporary directory).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

/// The HTTPS transport with a switch: while `down`, the peer does not answer.
struct Switchable {
    inner: HttpsTransport,
    down: Arc<AtomicBool>,
}

impl Transport for Switchable {
    fn deliver(&self, peer: &NodeEntry, envelope: String) -> BoxFuture<'static, Result<Delivery, String>> {
        if self.down.load(Ordering::Relaxed) {
            return Box::pin(async { Err("connection refused (outage)".to_string()) });
        }
        self.inner.deliver(peer, envelope)
    }
    fn fetch_directory(&self, endpoint: &str) -> BoxFuture<'static, Result<String, String>> {
        self.inner.fetch_directory(endpoint)
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

pub async fn run(args: BenchArgs) -> Result<()> {
    let dir = args.data_dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("enlace-fed-bench-{}", uuid::Uuid::now_v7().simple()))
    });
    let hub = SigningKey::generate()?;
    let ca = DemoCa::generate("Enlace bench CA")?;
    let (hn, hn_key) = crate::demo_net::open(&dir.join("hn"), "hn", &hub, None, None).await?;
    let (gt, gt_key) = crate::demo_net::open(&dir.join("gt"), "gt", &hub, None, None).await?;
    let hosts = ["127.0.0.1"];
    let (hn_tls, gt_tls) =
        (ca.issue(&NodeId::parse("hn")?, &hosts)?, ca.issue(&NodeId::parse("gt")?, &hosts)?);
    let hn_l = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let gt_l = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let (hn_port, gt_port) = (hn_l.local_addr()?.port(), gt_l.local_addr()?.port());
    let now = Utc::now();
    let directory = Directory {
        serial: 1,
        issued_at: now,
        expires_at: now + TimeDelta::days(1),
        nodes: vec![
            crate::demo_net::entry("hn", &["HN"], hn_port, &hn_key, &hn_tls, NodeRole::Node)?,
            crate::demo_net::entry("gt", &["GT"], gt_port, &gt_key, &gt_tls, NodeRole::Node)?,
        ],
        field_subsets: agreed_field_subsets(),
    };
    let signed = directory.sign(&hub)?;
    for app in [&hn, &gt] {
        app.install_directory(signed.as_str()).await.map_err(crate::explain)?;
    }
    let down = Arc::new(AtomicBool::new(false));
    hn.set_transport(Arc::new(Switchable {
        inner: HttpsTransport::new(&hn, hn_tls.clone())?,
        down: down.clone(),
    }))
    .map_err(crate::explain)?;
    gt.set_transport(Arc::new(HttpsTransport::new(&gt, gt_tls.clone())?)).map_err(crate::explain)?;
    for app in [&hn, &gt] {
        app.start_federation().map_err(crate::explain)?;
    }
    let never = || std::future::pending::<()>();
    tokio::spawn(enlace_web::serve_federated(hn_l, hn.clone(), hn_tls, never()));
    tokio::spawn(enlace_web::serve_federated(gt_l, gt.clone(), gt_tls, never()));
    hn.seed_demo_users_of(&[CountryCode::parse("HN")?]).await.map_err(crate::explain)?;
    gt.seed_demo_users_of(&[CountryCode::parse("GT")?]).await.map_err(crate::explain)?;
    let hn_sup = hn.actor_for("supervisor.hn").await.map_err(crate::explain)?;
    let gt_sup = gt.actor_for("supervisor.gt").await.map_err(crate::explain)?;

    // Shares, accepted.
    eprintln!("setting up {} shared cases…", args.shares);
    let mut cases = Vec::new();
    for i in 0..args.shares {
        // Names take no digits: the case's index in letters.
        let letters: String =
            format!("{i:x}").chars().map(|c| (b'a' + c.to_digit(16).unwrap_or(0) as u8) as char).collect();
        let body = json!({
            "person": {"given_names": ["Bench"], "surnames": [format!("Caso {letters}")], "sex": "female",
                       "birth": {"kind": "year", "year": 1990}, "nationalities": ["HN"]},
            "host_state": "MX", "category": "migration", "subtype": "documentation",
            "protection": {"state": "accepted", "at": "2026-01-05T10:00:00Z"}, "legal_basis": "consent"});
        let c = hn.create_case(&hn_sup, serde_json::from_value(body)?).await.map_err(crate::explain)?;
        let req = serde_json::from_value(
            json!({"to_state": "GT", "fields": ["status", "host_state", "given_names"],
            "purpose": "Benchmark", "legal_instrument": "Benchmark",
            "exception": {"kind": "vital_interest", "reason": "Benchmark of the federation relay only."}}),
        )?;
        let s = hn.offer_share(&hn_sup, c.case.id, req).await.map_err(crate::explain)?;
        cases.push((c.case.id, s.id));
    }
    wait_until("the offers to arrive", Duration::from_secs(120), || async {
        (count_all(&gt, &gt_sup).await? >= args.shares).then_some(())
    })
    .await?;
    for (_, share) in &cases {
        gt.decide_share(&gt_sup, *share, true, None).await.map_err(crate::explain)?;
    }
    wait_until("the acceptances to arrive", Duration::from_secs(120), || async {
        for (_, share) in &cases {
            let row = enlace_store::fed::share(hn.db(), *share).await.ok()??;
            if row.state != "accepted" {
                return None;
            }
        }
        Some(())
    })
    .await?;

    // The load: every case changes at rate/shares per second, one change at a time per case.
    let start = Utc::now();
    let t0 = Instant::now();
    if args.outage_secs > 0 {
        down.store(true, Ordering::Relaxed);
        eprintln!("Guatemala unreachable for {} s…", args.outage_secs);
    }
    let made = Arc::new(AtomicU64::new(0));
    let per_case = Duration::from_secs_f64(args.shares as f64 / args.rate as f64);
    let deadline = t0 + Duration::from_secs(args.seconds);
    let mut tasks = tokio::task::JoinSet::new();
    for (case, _) in cases.clone() {
        let (hn, actor, made) = (hn.clone(), hn_sup.clone(), made.clone());
        tasks.spawn(async move { load(hn, actor, case, per_case, deadline, made).await });
    }
    if args.outage_secs > 0 {
        tokio::time::sleep(Duration::from_secs(args.outage_secs)).await;
        down.store(false, Ordering::Relaxed);
        hn.kick_relay();
        eprintln!(
            "Guatemala back after {:.1} s; {} messages queued",
            t0.elapsed().as_secs_f64(),
            made.load(Ordering::Relaxed)
        );
    }
    while let Some(r) = tasks.join_next().await {
        r??;
    }
    let load_secs = t0.elapsed().as_secs_f64();
    let made = made.load(Ordering::Relaxed);
    wait_until("the outbox to drain", Duration::from_secs(600), || async {
        let counts = enlace_store::fed::outbox_counts(hn.db()).await.ok()?;
        counts.iter().all(|(s, n)| s == "delivered" || *n == 0).then_some(())
    })
    .await?;
    let drained_secs = t0.elapsed().as_secs_f64();

    // What was delivered, from the outbox: queue → receipt delays, and the delivery rate.
    let mut delays = Vec::new();
    let mut last = start;
    for (_, share) in &cases {
        let sent = enlace_store::fed::outbox_of_share(hn.db(), *share).await?;
        for m in sent.iter().filter(|m| m.message_type == "share_update" && m.queued_at >= start) {
            let at = m.delivered_at.context("a delivered message without its time")?;
            last = last.max(at);
            delays.push((at - m.queued_at).num_microseconds().unwrap_or(0) as f64 / 1000.0);
        }
        // Nothing lost, nothing twice, in order: Guatemala applied exactly what was sent.
        let row = enlace_store::fed::share(gt.db(), *share).await?.context("share missing at GT")?;
        let sent_seq = sent.iter().filter(|m| m.seq > 0).count() as i64;
        if row.seq_in != sent_seq {
            bail!(
                "share {share}: Honduras sent {sent_seq} sequenced messages, Guatemala applied {}",
                row.seq_in
            );
        }
    }
    delays.sort_by(f64::total_cmp);
    let span = (last - start).num_milliseconds() as f64 / 1000.0;
    println!(
        "messages made:      {made} in {load_secs:.1} s ({:.0}/s asked {} /s)",
        made as f64 / load_secs,
        args.rate
    );
    println!("messages delivered: {} (all applied once, in order, at Guatemala)", delays.len());
    println!(
        "delivery rate:      {:.0} messages/s (first queued → last receipt, {span:.1} s)",
        delays.len() as f64 / span
    );
    println!(
        "queue → receipt:    p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&delays, 0.5),
        percentile(&delays, 0.99),
        percentile(&delays, 1.0)
    );
    if args.outage_secs > 0 {
        println!(
            "outage:             {} s; backlog drained {:.1} s after Guatemala came back",
            args.outage_secs,
            drained_secs - args.outage_secs as f64
        );
    }
    for app in [&hn, &gt] {
        app.flush_audit().await.map_err(crate::explain)?;
    }
    if args.data_dir.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}

async fn count_all(app: &App, actor: &Actor) -> Option<usize> {
    let mut n = 0;
    let mut cursor: Option<String> = None;
    loop {
        let page = app
            .list_shares(actor, enlace_app::fed::ShareSide::Recipient, cursor.as_deref(), 200)
            .await
            .ok()?;
        n += page.items.len();
        match page.next {
            Some(c) => cursor = Some(c),
            None => return Some(n),
        }
    }
}

/// One case's changes: one at a time, spaced `every`, until `deadline`.
async fn load(
    app: App,
    actor: Actor,
    case: CaseId,
    every: Duration,
    deadline: Instant,
    made: Arc<AtomicU64>,
) -> Result<()> {
    let mut version = app.get_case(&actor, case).await.map_err(crate::explain)?.case.version;
    let hosts = ["US", "MX"];
    let mut next = Instant::now() + every.mul_f64(fastrand::f64());
    let mut i = 0;
    while next < deadline {
        tokio::time::sleep_until(next.into()).await;
        let u = serde_json::from_value(json!({"version": version, "host_state": hosts[i % 2]}))?;
        let c = app.update_case(&actor, case, None, u).await.map_err(crate::explain)?;
        version = c.case.version;
        made.fetch_add(1, Ordering::Relaxed);
        i += 1;
        next += every;
    }
    Ok(())
}

async fn wait_until<T, F, Fut>(what: &str, limit: Duration, mut f: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let end = Instant::now() + limit;
    loop {
        if let Some(v) = f().await {
            return Ok(v);
        }
        if Instant::now() > end {
            bail!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
