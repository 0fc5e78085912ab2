//! `enlace doctor`: checks a node's configuration, key, database, directory and peers, and
//! says what is wrong in plain words (issue 9). Run it with the same options as `serve`.
//! Exits 1 when something must be fixed; warnings alone exit 0.

use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use enlace_app::{App, Db, Settings};

use crate::{DbArgs, fed_cmd};

#[derive(Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    db: DbArgs,
    #[command(flatten)]
    fed: fed_cmd::FedArgs,
}

#[derive(Default)]
struct Report {
    problems: usize,
    warnings: usize,
}

impl Report {
    fn ok(&self, what: &str, msg: impl std::fmt::Display) {
        println!("ok    {what}: {msg}");
    }
    fn warn(&mut self, what: &str, msg: impl std::fmt::Display) {
        self.warnings += 1;
        println!("WARN  {what}: {msg}");
    }
    fn bad(&mut self, what: &str, msg: impl std::fmt::Display) {
        self.problems += 1;
        println!("FAIL  {what}: {msg}");
    }
}

/// The node key: there, readable, 32 bytes of base64, for the owner's eyes only.
fn check_key(db: &DbArgs, r: &mut Report) -> Option<enlace_app::keys::NodeKey> {
    if let Ok(k) = std::env::var("ENLACE_NODE_KEY") {
        return match enlace_app::keys::NodeKey::from_base64(&k) {
            Ok(key) => {
                r.ok("node key", "given by ENLACE_NODE_KEY");
                Some(key)
            }
            Err(e) => {
                r.bad("node key", format!("ENLACE_NODE_KEY: {e}"));
                None
            }
        };
    }
    let path = db.key_file.clone().unwrap_or_else(|| db.data_dir.join("node.key"));
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            r.bad(
                "node key",
                format!(
                    "{} cannot be read ({e}). A new node makes it on first start; an existing node without \
                     its key cannot open its sealed attachments: restore the key from where it is kept",
                    path.display()
                ),
            );
            return None;
        }
    };
    let key = match enlace_app::keys::NodeKey::from_base64(&text) {
        Ok(k) => k,
        Err(e) => {
            r.bad("node key", format!("{}: {e}", path.display()));
            return None;
        }
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(m) = std::fs::metadata(&path)
            && m.permissions().mode() & 0o077 != 0
        {
            r.warn(
                "node key",
                format!("{} can be read by other users: chmod 600 {}", path.display(), path.display()),
            );
            return Some(key);
        }
    }
    r.ok("node key", format!("{} (owner only)", path.display()));
    Some(key)
}

/// Whether `dir` takes a new file.
fn writable(dir: &Path) -> Result<(), String> {
    tempfile::tempfile_in(dir).map(|_| ()).map_err(|e| e.to_string())
}

/// `host:port` of an `https://host[:port]/…` endpoint.
fn address(endpoint: &str) -> String {
    let rest =
        endpoint.strip_prefix("https://").or_else(|| endpoint.strip_prefix("http://")).unwrap_or(endpoint);
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let has_port = host.rsplit_once(':').is_some_and(|(_, p)| p.chars().all(|c| c.is_ascii_digit()));
    if has_port { host.to_string() } else { format!("{host}:443") }
}

async fn reachable(addr: &str) -> Result<(), String> {
    match tokio::time::timeout(Duration::from_secs(3), tokio::net::TcpStream::connect(addr)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("no answer within 3 s".into()),
    }
}

pub async fn run(args: DoctorArgs) -> Result<()> {
    let mut r = Report::default();
    let key = check_key(&args.db, &mut r);

    // The database.
    if args.db.database_url.is_none() {
        match std::fs::metadata(&args.db.data_dir) {
            Ok(m) if m.is_dir() => match writable(&args.db.data_dir) {
                Ok(()) => r.ok("data directory", args.db.data_dir.display()),
                Err(e) => {
                    r.bad("data directory", format!("{} is not writable: {e}", args.db.data_dir.display()))
                }
            },
            _ => r.bad(
                "data directory",
                format!(
                    "{} does not exist: run enlace migrate, or give --data-dir",
                    args.db.data_dir.display()
                ),
            ),
        }
    }
    let db = match Db::connect(args.db.database_url.as_deref(), &args.db.data_dir).await {
        Ok(db) => db,
        Err(e) => {
            r.bad("database", format!("cannot connect: {e}"));
            return finish(r);
        }
    };
    match db.migrations_current().await {
        Ok(true) => r.ok("database", format!("{:?}, reachable, schema up to date", db.backend())),
        Ok(false) => r.bad("database", "the schema is behind this version of Enlace: run enlace migrate"),
        Err(e) => r.bad("database", format!("cannot read its schema version: {e}")),
    }
    match db.integrity_problem().await {
        Ok(None) => r.ok("database integrity", "sound"),
        Ok(Some(p)) => r.bad("database integrity", format!("{p} (restore the last backup: enlace restore)")),
        Err(e) => r.bad("database integrity", e),
    }
    match enlace_store::fed::outbox_counts(&db).await {
        Ok(counts) => {
            let n = |s: &str| counts.iter().find(|(k, _)| k == s).map_or(0, |(_, n)| *n);
            match (n("dead"), n("pending")) {
                (0, p) if p < 1000 => r.ok("federation outbox", format!("{p} messages waiting")),
                (0, p) => r.warn("federation outbox", format!("{p} messages waiting: is a peer down?")),
                (d, _) => r.warn(
                    "federation outbox",
                    format!(
                        "{d} dead letters: see Administration → Federation, retry once the cause is fixed"
                    ),
                ),
            }
        }
        Err(e) => r.bad("federation outbox", e),
    }

    // The network.
    let fed = match args.fed.settings(&args.db.data_dir) {
        Ok(f) => f,
        Err(e) => {
            r.bad("federation settings", format!("{e:#}"));
            None
        }
    };
    let Some((fed, tls)) = fed else {
        if args.fed.node_id.is_none() {
            r.ok("federation", "not configured (--node-id): the node works alone");
        }
        db.close().await;
        return finish(r);
    };
    let (me, kid, pin, hub_url) =
        (fed.node.clone(), fed.signing_key.kid().clone(), tls.pin(), fed.hub_endpoint.clone());
    let settings = Settings {
        node_key: key.unwrap_or_else(enlace_app::keys::NodeKey::generate),
        fed: Some(fed),
        ..Settings::default()
    };
    let app = App::new(db, settings);
    match app.directory().await {
        Err(e) => r.bad(
            "directory",
            format!("{e}: install the hub's directory (enlace fed install-directory) or give --hub-url"),
        ),
        Ok(d) => {
            let now = chrono::Utc::now();
            match d.check_current(now) {
                Err(e) => {
                    r.bad("directory", format!("serial {}: {e}; the hub must publish a newer one", d.serial))
                }
                Ok(()) if d.expires_at - now < chrono::Duration::hours(24) => r.warn(
                    "directory",
                    format!(
                        "serial {} expires at {}: is the refresh from the hub working?",
                        d.serial, d.expires_at
                    ),
                ),
                Ok(()) => r.ok("directory", format!("serial {}, valid until {}", d.serial, d.expires_at)),
            }
            match d.node(&me) {
                None => r.bad("this node", format!("the directory has no node \"{me}\": check --node-id")),
                Some(n) if n.revoked_at.is_some() => r.bad("this node", "the directory revokes it"),
                Some(n) => {
                    if n.valid_keys(now).any(|k| k.kid == kid) {
                        r.ok("signing key", format!("{kid} is listed and valid"));
                    } else {
                        r.bad(
                            "signing key",
                            format!("{kid} is not a valid key of \"{me}\" in the directory: give the hub the output of enlace fed identity"),
                        );
                    }
                    if n.tls_pin == pin {
                        r.ok("TLS certificate", "its key is the one the directory pins");
                    } else {
                        r.bad(
                            "TLS certificate",
                            "its key is not the one the directory pins: peers will refuse it",
                        );
                    }
                }
            }
            for n in d.nodes.iter().filter(|n| n.id != me && n.revoked_at.is_none()) {
                let addr = address(n.endpoint.as_str());
                match reachable(&addr).await {
                    Ok(()) => r.ok(&format!("peer {}", n.id), format!("{addr} answers")),
                    Err(e) => r.warn(&format!("peer {}", n.id), format!("cannot reach {addr}: {e}")),
                }
            }
        }
    }
    if let Some(url) = hub_url {
        let addr = address(&url);
        match reachable(&addr).await {
            Ok(()) => r.ok("hub", format!("{addr} answers")),
            Err(e) => r.warn("hub", format!("cannot reach {addr} ({e}): the directory is not refreshed")),
        }
    }
    app.db().close().await;
    finish(r)
}

fn finish(r: Report) -> Result<()> {
    println!("{} problems, {} warnings", r.problems, r.warnings);
    if r.problems > 0 {
        std::process::exit(1);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn endpoints_become_addresses() {
        assert_eq!(super::address("https://gt.example.org/fed"), "gt.example.org:443");
        assert_eq!(super::address("https://127.0.0.1:8443"), "127.0.0.1:8443");
        assert_eq!(super::address("http://hub:9000/"), "hub:9000");
    }
}
