//! `enlace bench-crash`: the crash-safety harness (issue 9). Round after round it starts the
//! node (`enlace serve`, a child process), drives concurrent writes through the HTTP API
//! (cases registered, updated, actions recorded, cases offered to another state's node),
//! kills the node with SIGKILL at a random moment, and then, with the node down, checks the
//! database: its own integrity check, the audit chain, and every write the clients saw
//! acknowledged (a case, its version at least the one acknowledged, at least its acknowledged
//! actions; a share, with its federation message in the outbox, numbered from 1 without a
//! gap). Any loss fails the run.
//!
//! The node is federated: a directory signed by a harness hub key names it (Honduras) and a
//! Guatemalan peer whose address answers nothing, so the offers' messages stay in the outbox,
//! retried by the relay across the kills, as a peer's outage would keep them.

use std::collections::HashMap;
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use enlace_app::App;
use enlace_app::audit_log::Verification;
use enlace_app::auth::NewUser;
use enlace_domain::country::CountryCode;
use enlace_domain::ids::CaseId;
use enlace_domain::post::PostCode;
use enlace_domain::role::Role;
use serde_json::{Value, json};

use crate::DbArgs;

#[derive(Args)]
pub struct CrashArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Kill/restart rounds.
    #[arg(long, default_value_t = 100)]
    rounds: u32,
    /// Concurrent clients writing.
    #[arg(long, default_value_t = 4)]
    writers: usize,
    /// Seed of the kill moments and the writes.
    #[arg(long, default_value_t = 2016)]
    seed: u64,
}

const USER: &str = "crash.officer";
const PASSWORD: &str = "una clave larga para el arnés de fallos";

/// This node's id in the harness's network, and its unreachable peer's.
const NODE: &str = "hn";
const PEER: &str = "gt";

/// What the clients saw acknowledged, per case: its version and how many actions; and the
/// shares offered.
#[derive(Default, Clone)]
struct Acked {
    cases: HashMap<CaseId, (i64, usize)>,
    shares: Vec<uuid::Uuid>,
    writes: u64,
}

/// The harness hub's directory key, made in the data directory on first use.
fn hub_key(db: &DbArgs) -> Result<enlace_fed::keys::SigningKey> {
    std::fs::create_dir_all(&db.data_dir)
        .with_context(|| format!("cannot create {}", db.data_dir.display()))?;
    enlace_app::fed::signing_key_file(&db.data_dir.join("crash-hub.key")).map_err(anyhow::Error::msg)
}

/// The node's federation options: its id and the harness hub's key.
fn fed_args(db: &DbArgs) -> Result<crate::fed_cmd::FedArgs> {
    Ok(crate::fed_cmd::FedArgs {
        node_id: Some(NODE.into()),
        hub_key: Some(hub_key(db)?.verifying_key().to_base64url()),
        hub_url: None,
        tls_hosts: vec!["127.0.0.1".into()],
        linkage_secret_file: None,
    })
}

/// Starts `enlace serve` on the node's database; returns it with its address.
fn start(db: &DbArgs) -> Result<(Child, String)> {
    let mut args: Vec<String> = vec!["serve".into(), "--listen".into(), "127.0.0.1:0".into()];
    args.push("--data-dir".into());
    args.push(db.data_dir.display().to_string());
    if let Some(u) = &db.database_url {
        args.push("--database-url".into());
        args.push(u.clone());
    }
    if let Some(k) = &db.key_file {
        args.push("--key-file".into());
        args.push(k.display().to_string());
    }
    let fed = fed_args(db)?;
    args.extend(["--node-id".into(), NODE.into(), "--hub-key".into(), fed.hub_key.unwrap_or_default()]);
    let mut child = Command::new(std::env::current_exe()?)
        .args(&args)
        .env("ENLACE_LOG_FORMAT", "json")
        .env("ENLACE_LOG", "info,sqlx=warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot start the node")?;
    let stderr = child.stderr.take().context("the node's log")?;
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            // Keep reading (the pipe must not fill), tell the address once.
            if !sent {
                let v: Value = serde_json::from_str(&line).unwrap_or_default();
                if let Some(a) = v["fields"]["address"].as_str() {
                    let _ = tx.send(a.to_string());
                    sent = true;
                }
            }
        }
    });
    let addr = rx.recv_timeout(Duration::from_secs(60)).context("the node did not start listening")?;
    Ok((child, format!("http://{addr}")))
}

/// One client: registers a case, then updates it, records actions on it and offers it to
/// Guatemala, registering another now and then, until the node stops answering.
async fn write(base: String, token: String, acked: Arc<Mutex<Acked>>, seed: u64) {
    let c = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("client");
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut mine: Vec<(CaseId, i64)> = Vec::new();
    let mut offered: Vec<CaseId> = Vec::new();
    for n in 0u64.. {
        let op = if mine.is_empty() { 0 } else { rng.u8(0..10) };
        let r = match op {
            0 | 1 => {
                let name: String = format!("{n:x}")
                    .chars()
                    .map(|d| (b'a' + d.to_digit(16).unwrap_or(0) as u8) as char)
                    .collect();
                let body = json!({
                    "person": {"given_names": ["Prueba", name], "surnames": ["Arnés"], "sex": "female",
                        "birth": {"kind": "year", "year": 1990}, "nationalities": ["HN"]},
                    "host_state": "MX", "category": "migration", "subtype": "documentation",
                    "narrative": "Registro del arnés de fallos.",
                    "protection": {"state": "accepted", "at": "2026-01-05T10:00:00Z"}, "legal_basis": "consent"});
                c.post(format!("{base}/api/v1/cases")).bearer_auth(&token).json(&body).send().await
            }
            2..=5 => {
                let i = rng.usize(..mine.len());
                let (id, v) = mine[i];
                let body = json!({"version": v, "narrative": format!("Actualización {n}.")});
                c.patch(format!("{base}/api/v1/cases/{id}")).bearer_auth(&token).json(&body).send().await
            }
            6 => {
                // One offer a case: the node refuses a second live share with the same state.
                let Some(i) = (0..mine.len()).find(|&i| !offered.contains(&mine[i].0)) else { continue };
                let (id, _) = mine[i];
                offered.push(id);
                let body = json!({"to_state": "GT", "fields": ["given_names", "surnames", "birth", "category"],
                    "purpose": "Búsqueda de familiares en Guatemala",
                    "legal_instrument": "Memorando de entendimiento CA-4",
                    "exception": {"kind": "vital_interest", "reason": "La familia debe ser localizada pronto."}});
                c.post(format!("{base}/api/v1/cases/{id}/shares"))
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await
            }
            _ => {
                let (id, _) = mine[rng.usize(..mine.len())];
                let body =
                    json!({"kind": "note", "occurred_at": "2026-01-06T15:30:00Z", "text": "Nota del arnés."});
                c.post(format!("{base}/api/v1/cases/{id}/actions"))
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await
            }
        };
        let Ok(r) = r else { return };
        let status = r.status().as_u16();
        let Ok(v) = r.json::<Value>().await else { return };
        if !(200..300).contains(&status) {
            continue;
        }
        let mut a = acked.lock().expect("acked");
        a.writes += 1;
        match op {
            0..=5 => {
                let (Some(id), Some(version)) = (v["id"].as_str(), v["version"].as_i64()) else { continue };
                let Ok(id) = id.parse::<CaseId>() else { continue };
                a.cases.entry(id).or_insert((0, 0)).0 = version;
                match mine.iter_mut().find(|m| m.0 == id) {
                    Some(m) => m.1 = version,
                    None => mine.push((id, version)),
                }
            }
            6 => {
                let Some(Ok(id)) = v["id"].as_str().map(str::parse::<uuid::Uuid>) else { continue };
                a.shares.push(id);
            }
            _ => {
                let Some(Ok(id)) = v["case_id"].as_str().map(str::parse::<CaseId>) else { continue };
                a.cases.entry(id).or_insert((0, 0)).1 += 1;
            }
        }
    }
}

/// With the node down: the database's integrity, the audit chain, every acknowledged write.
async fn check(db: &DbArgs, acked: &Acked) -> Result<()> {
    let app = crate::open(db).await?;
    if let Some(p) = app.db().integrity_problem().await? {
        bail!("the database fails its integrity check: {p}");
    }
    match app.verify_audit_chain(&|_, _| {}).await? {
        Verification::Intact { .. } => {}
        Verification::Broken(b) => bail!("the audit chain is broken: {b}"),
    }
    for (id, (version, actions)) in &acked.cases {
        let c = enlace_store::cases::get_case(app.db(), *id)
            .await?
            .with_context(|| format!("case {id} was acknowledged and is gone"))?;
        if c.version < *version {
            bail!("case {id}: version {} acknowledged, {} kept", version, c.version);
        }
        let held = enlace_store::records::list_actions(app.db(), *id).await?.len();
        if held < *actions {
            bail!("case {id}: {actions} actions acknowledged, {held} kept");
        }
    }
    for id in &acked.shares {
        let share = enlace_store::fed::share(app.db(), *id)
            .await?
            .with_context(|| format!("share {id} was acknowledged and is gone"))?;
        let mut seqs: Vec<i64> =
            enlace_store::fed::outbox_of_share(app.db(), *id).await?.iter().map(|m| m.seq).collect();
        seqs.sort_unstable();
        if seqs.is_empty() {
            bail!("share {id} (case {}): its offer is not in the outbox", share.case_number);
        }
        if seqs != (1..=seqs.len() as i64).collect::<Vec<_>>() {
            bail!("share {id}: its messages are numbered {seqs:?}, not 1 to {} without a gap", seqs.len());
        }
    }
    app.db().close().await;
    Ok(())
}

/// The node's account, and its place in a network: a directory (signed by the harness's hub
/// key) naming it and a Guatemalan peer at an address where nothing answers.
async fn prepare(db: &DbArgs) -> Result<()> {
    let fed = fed_args(db)?;
    let (settings, tls) = fed.settings(&db.data_dir)?.context("federation settings")?;
    let own_key = settings.signing_key.clone();
    let app: App = crate::open_node(db, false, None, Some(settings)).await?;
    let peer_key = enlace_fed::keys::SigningKey::generate()?;
    let peer_tls =
        enlace_net::TlsIdentity::self_signed(&enlace_fed::ids::NodeId::parse(PEER)?, &["127.0.0.1"])?;
    // Port 9 (discard) on loopback: nothing listens, every delivery fails and is retried.
    let now = chrono::Utc::now();
    let directory = enlace_fed::directory::Directory {
        serial: now.timestamp() as u64,
        issued_at: now,
        expires_at: now + chrono::TimeDelta::days(30),
        nodes: vec![
            crate::demo_net::entry(NODE, &["HN"], 9, &own_key, &tls, enlace_fed::directory::NodeRole::Node)?,
            crate::demo_net::entry(
                PEER,
                &["GT"],
                9,
                &peer_key,
                &peer_tls,
                enlace_fed::directory::NodeRole::Node,
            )?,
        ],
        field_subsets: enlace_app::fed::agreed_field_subsets(),
    };
    app.install_directory(directory.sign(&hub_key(db)?)?.as_str()).await.map_err(crate::explain)?;
    if app.actor_for(USER).await.is_err() {
        let user = NewUser {
            username: USER.into(),
            display_name: Some("Arnés de fallos".into()),
            role: Role::ConsularOfficer,
            state: CountryCode::parse("HN")?,
            post: Some(PostCode::parse("HN-TAPACHULA")?),
            password: PASSWORD.into(),
            sensitive_access: false,
        };
        app.create_user(None, user).await.map_err(crate::explain)?;
    }
    app.db().close().await;
    Ok(())
}

pub async fn run(args: CrashArgs) -> Result<()> {
    prepare(&args.db).await?;
    let mut rng = fastrand::Rng::with_seed(args.seed);
    let acked = Arc::new(Mutex::new(Acked::default()));
    let pb = crate::bar(Some(u64::from(args.rounds)), "kill/restart rounds");
    let started = Instant::now();
    for round in 1..=args.rounds {
        let (mut child, base) = start(&args.db)?;
        let login = reqwest::Client::new()
            .post(format!("{base}/api/v1/auth/token"))
            .json(&json!({"username": USER, "password": PASSWORD}))
            .send()
            .await?
            .json::<Value>()
            .await?;
        let token = login["token"].as_str().context("no token")?.to_string();
        let writers: Vec<_> = (0..args.writers)
            .map(|w| tokio::spawn(write(base.clone(), token.clone(), acked.clone(), rng.u64(..) ^ w as u64)))
            .collect();
        // Kill at a random moment, in the middle of the writes.
        tokio::time::sleep(Duration::from_millis(rng.u64(20..400))).await;
        child.kill().context("SIGKILL")?;
        child.wait()?;
        for w in writers {
            let _ = tokio::time::timeout(Duration::from_secs(15), w).await;
        }
        let snapshot = acked.lock().expect("acked").clone();
        check(&args.db, &snapshot).await.with_context(|| format!("after round {round}"))?;
        pb.set_position(u64::from(round));
    }
    pb.finish_and_clear();
    let a = acked.lock().expect("acked");
    println!(
        "{} kill/restart rounds in {:.0} s: {} writes acknowledged ({} cases, {} offered to another \
         node), every one of them kept, each offer's message in the outbox; integrity check and \
         audit chain sound after each round",
        args.rounds,
        started.elapsed().as_secs_f64(),
        a.writes,
        a.cases.len(),
        a.shares.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The check is not a formality: a write acknowledged and not kept fails it.
    #[tokio::test]
    async fn a_lost_write_fails_the_check() {
        let dir = tempfile::tempdir().unwrap();
        let db = DbArgs { data_dir: dir.path().join("data"), database_url: None, key_file: None };
        prepare(&db).await.unwrap();
        check(&db, &Acked::default()).await.unwrap();
        let mut lost = Acked::default();
        lost.cases.insert(CaseId::new_v7(), (1, 0));
        let e = check(&db, &lost).await.unwrap_err().to_string();
        assert!(e.contains("acknowledged and is gone"), "{e}");
        let mut lost = Acked::default();
        lost.shares.push(uuid::Uuid::now_v7());
        let e = check(&db, &lost).await.unwrap_err().to_string();
        assert!(e.contains("share") && e.contains("acknowledged and is gone"), "{e}");
    }
}
