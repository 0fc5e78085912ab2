//! `enlace bench-crash`: the crash-safety harness (issue 9). Round after round it starts the
//! node (`enlace serve`, a child process), drives concurrent writes through the HTTP API
//! (cases registered, updated, actions recorded), kills the node with SIGKILL at a random
//! moment, and then, with the node down, checks the database: its own integrity check, the
//! audit chain, and every write the clients saw acknowledged (a case, its version at least
//! the one acknowledged, at least its acknowledged actions). Any loss fails the run.

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

/// What the clients saw acknowledged, per case: its version and how many actions.
#[derive(Default)]
struct Acked {
    cases: HashMap<CaseId, (i64, usize)>,
    writes: u64,
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

/// One client: registers a case, then updates it and records actions on it, registering
/// another now and then, until the node stops answering.
async fn write(base: String, token: String, acked: Arc<Mutex<Acked>>, seed: u64) {
    let c = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("client");
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut mine: Vec<(CaseId, i64)> = Vec::new();
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
            0 | 1 | 2..=5 => {
                let (Some(id), Some(version)) = (v["id"].as_str(), v["version"].as_i64()) else { continue };
                let Ok(id) = id.parse::<CaseId>() else { continue };
                a.cases.entry(id).or_insert((0, 0)).0 = version;
                match mine.iter_mut().find(|m| m.0 == id) {
                    Some(m) => m.1 = version,
                    None => mine.push((id, version)),
                }
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
    app.db().close().await;
    Ok(())
}

async fn prepare(db: &DbArgs) -> Result<()> {
    let app: App = crate::open(db).await?;
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
        let snapshot = {
            let a = acked.lock().expect("acked");
            Acked { cases: a.cases.clone(), writes: a.writes }
        };
        check(&args.db, &snapshot).await.with_context(|| format!("after round {round}"))?;
        pb.set_position(u64::from(round));
    }
    pb.finish_and_clear();
    let a = acked.lock().expect("acked");
    println!(
        "{} kill/restart rounds in {:.0} s: {} writes acknowledged ({} cases), every one of them kept; \
         integrity check and audit chain sound after each round",
        args.rounds,
        started.elapsed().as_secs_f64(),
        a.writes,
        a.cases.len()
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
    }
}
