//! Datasets (generated once with `enlace demo-data`, then copied for every run) and the
//! `enlace serve` child process.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tokio::process::{Child, Command};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

/// Where a backend's data lives: the arguments `enlace` takes to use it.
#[derive(Debug, Clone)]
pub enum Location {
    SqliteDir(PathBuf),
    Postgres { base_url: String, db: String },
}

impl Location {
    pub fn args(&self) -> Vec<String> {
        match self {
            Location::SqliteDir(d) => vec!["--data-dir".into(), d.display().to_string()],
            Location::Postgres { base_url, db } => {
                vec!["--database-url".into(), format!("{}/{db}", base_url.trim_end_matches('/'))]
            }
        }
    }
    pub fn describe(&self) -> String {
        match self {
            Location::SqliteDir(d) => format!("{}/enlace.db", d.display()),
            Location::Postgres { db, .. } => format!("PostgreSQL database {db}"),
        }
    }
}

/// "1m" for 1,000,000, "10k" for 10,000, else the number.
pub fn label(cases: u64) -> String {
    if cases >= 1_000_000 && cases.is_multiple_of(1_000_000) {
        format!("{}m", cases / 1_000_000)
    } else if cases >= 1000 && cases.is_multiple_of(1000) {
        format!("{}k", cases / 1000)
    } else {
        cases.to_string()
    }
}

pub struct Env {
    pub enlace: PathBuf,
    pub data_root: PathBuf,
    pub pg_base_url: String,
    /// PostgreSQL databases are named `{pg_prefix}_{label}` (and `…_run` for the copy).
    pub pg_prefix: String,
    /// `chain` (the real audit log) or `noop` (no audit events: the anchor of issue 3's
    /// "auditing costs at most 20 %" comparison).
    pub audit_sink: String,
}

impl Env {
    fn log(&self, name: &str) -> Result<std::fs::File> {
        let dir = self.data_root.join("logs");
        std::fs::create_dir_all(&dir)?;
        Ok(std::fs::File::create(dir.join(name))?)
    }

    async fn psql(&self, db: &str, sql: &str) -> Result<String> {
        let url = format!("{}/{db}", self.pg_base_url.trim_end_matches('/'));
        let out = Command::new("psql")
            .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-d", &url, "-c", sql])
            .output()
            .await
            .context("cannot run psql (is the PostgreSQL client installed?)")?;
        if !out.status.success() {
            bail!("psql failed on {sql:?}: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// Runs `enlace ARGS` against `loc`, its stderr to `logs/LOG`, and fails if it fails.
    async fn run_enlace(&self, args: &[&str], loc: &Location, log: &str) -> Result<()> {
        let status = Command::new(&self.enlace)
            .args(args)
            .args(loc.args())
            .stdout(Stdio::null())
            .stderr(self.log(log)?)
            .status()
            .await
            .with_context(|| format!("cannot run {}", self.enlace.display()))?;
        if !status.success() {
            bail!("enlace {} failed ({status}); see {}/logs/{log}", args[0], self.data_root.display());
        }
        Ok(())
    }

    async fn demo_data(&self, loc: &Location, cases: u64, log: &str) -> Result<()> {
        eprintln!(
            "generating {cases} cases in {} (once; log: {}/logs/{log})",
            loc.describe(),
            self.data_root.display()
        );
        let t = Instant::now();
        self.run_enlace(&["demo-data", "--cases", &cases.to_string()], loc, log).await?;
        eprintln!("generated in {:.0} s", t.elapsed().as_secs_f64());
        Ok(())
    }

    /// The prepared dataset of `cases` cases, generated if missing. Returns its location.
    pub async fn prepare(&self, backend: Backend, cases: u64) -> Result<Location> {
        let tag = format!("enlace-bench dataset: {cases} cases");
        match backend {
            Backend::Sqlite => {
                let dir = self.data_root.join(format!("sqlite-{}", label(cases)));
                let marker = dir.join("BENCH-DATASET");
                if std::fs::read_to_string(&marker).is_ok_and(|s| s.trim() == tag) {
                    eprintln!("reusing {}", dir.display());
                    return Ok(Location::SqliteDir(dir));
                }
                if dir.exists() {
                    std::fs::remove_dir_all(&dir)?;
                }
                let loc = Location::SqliteDir(dir.clone());
                self.demo_data(&loc, cases, &format!("demo-data-sqlite-{}.log", label(cases))).await?;
                std::fs::write(&marker, format!("{tag}\n"))?;
                Ok(loc)
            }
            Backend::Postgres => {
                let db = format!("{}_{}", self.pg_prefix, label(cases));
                let comment = self
                    .psql(
                        "postgres",
                        &format!(
                            "SELECT coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database WHERE datname = '{db}'"
                        ),
                    )
                    .await?;
                let loc = Location::Postgres { base_url: self.pg_base_url.clone(), db: db.clone() };
                if comment == tag {
                    eprintln!("reusing PostgreSQL database {db}");
                    return Ok(loc);
                }
                self.psql("postgres", &format!("DROP DATABASE IF EXISTS {db}")).await?;
                self.psql("postgres", &format!("CREATE DATABASE {db}")).await?;
                self.demo_data(&loc, cases, &format!("demo-data-postgres-{}.log", label(cases))).await?;
                // What autovacuum would reach on its own after the bulk load: planner statistics
                // and a visibility map, so every run starts from the same state.
                eprintln!("VACUUM ANALYZE {db}");
                self.psql(&db, "VACUUM (ANALYZE)").await?;
                self.psql("postgres", &format!("COMMENT ON DATABASE {db} IS '{tag}'")).await?;
                Ok(loc)
            }
        }
    }

    /// A scratch copy of a prepared dataset, so a run's creations do not grow the dataset.
    pub async fn working_copy(&self, src: &Location) -> Result<Location> {
        self.working_copy_named(src, "run").await
    }

    /// [`Self::working_copy`] under its own name (`<dataset>-<suffix>`), so that several
    /// copies can be served at once.
    pub async fn working_copy_named(&self, src: &Location, suffix: &str) -> Result<Location> {
        let t = Instant::now();
        let loc = match src {
            Location::SqliteDir(dir) => {
                let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("sqlite");
                let dst = self.data_root.join(format!("{name}-{suffix}"));
                if dst.exists() {
                    std::fs::remove_dir_all(&dst)?;
                }
                std::fs::create_dir_all(&dst)?;
                for f in ["enlace.db", "enlace.db-wal"] {
                    let from = dir.join(f);
                    if from.exists() {
                        std::fs::copy(&from, dst.join(f))
                            .with_context(|| format!("cannot copy {}", from.display()))?;
                    }
                }
                Location::SqliteDir(dst)
            }
            Location::Postgres { base_url, db } => {
                let dst = format!("{db}_{suffix}");
                self.psql("postgres", &format!("DROP DATABASE IF EXISTS {dst}")).await?;
                self.psql("postgres", &format!("CREATE DATABASE {dst} TEMPLATE {db} STRATEGY FILE_COPY"))
                    .await?;
                Location::Postgres { base_url: base_url.clone(), db: dst }
            }
        };
        eprintln!("working copy {} made in {:.0} s", loc.describe(), t.elapsed().as_secs_f64());
        Ok(loc)
    }

    /// Runs `enlace migrate` on `loc`, so that the schema changes of the binary under test are
    /// applied (and timed) before the server starts, not during its first requests.
    pub async fn migrate(&self, loc: &Location, log: &str) -> Result<()> {
        let t = Instant::now();
        self.run_enlace(&["migrate"], loc, log).await?;
        eprintln!("enlace migrate took {:.0} s", t.elapsed().as_secs_f64());
        Ok(())
    }

    /// A full ANALYZE of the working copy: what `enlace demo-data` leaves behind in versions
    /// whose generator ends with one, for a dataset generated by an older version.
    pub async fn analyze(&self, loc: &Location) -> Result<()> {
        let t = Instant::now();
        match loc {
            Location::SqliteDir(dir) => {
                use sqlx::{Connection, Executor};
                let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(dir.join("enlace.db"));
                let mut c = sqlx::SqliteConnection::connect_with(&opts).await?;
                c.execute("ANALYZE").await?;
                c.close().await?;
            }
            Location::Postgres { db, .. } => {
                self.psql(db, "ANALYZE").await?;
            }
        }
        eprintln!("ANALYZE took {:.0} s", t.elapsed().as_secs_f64());
        Ok(())
    }

    /// Starts `enlace serve` on `port` and waits until /healthz answers.
    pub async fn serve(&self, loc: &Location, port: u16, log: &str) -> Result<Server> {
        self.serve_with_sink(loc, port, log, &self.audit_sink).await
    }

    /// [`Self::serve`] with the given audit sink (`chain` or `noop`).
    pub async fn serve_with_sink(&self, loc: &Location, port: u16, log: &str, sink: &str) -> Result<Server> {
        let child = Command::new(&self.enlace)
            .arg("serve")
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--audit-sink", sink])
            .args(loc.args())
            .stdout(self.log(log)?)
            .stderr(self.log(&format!("{log}.err"))?)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", self.enlace.display()))?;
        let pid = child.id().context("server exited at once")?.to_string();
        let base = format!("http://127.0.0.1:{port}");
        let mut server = Server { child, pid, base };
        let client = reqwest::Client::new();
        let t = Instant::now();
        loop {
            if let Some(status) = server.child.try_wait()? {
                bail!("enlace serve exited with {status}; see {}/logs/{log}.err", self.data_root.display());
            }
            if let Ok(r) = client.get(format!("{}/healthz", server.base)).send().await
                && r.status().is_success()
            {
                // Another process may hold the port (and answer); ours must still be running.
                tokio::time::sleep(Duration::from_millis(300)).await;
                if let Some(status) = server.child.try_wait()? {
                    bail!(
                        "enlace serve exited with {status} (port {port} taken by another server?); see {}/logs/{log}.err",
                        self.data_root.display()
                    );
                }
                break;
            }
            if t.elapsed() > Duration::from_secs(180) {
                server.stop().await;
                bail!("enlace serve did not answer /healthz within 180 s");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok(server)
    }
}

pub struct Server {
    child: Child,
    pub pid: String,
    pub base: String,
}

impl Server {
    /// Asks the server to finish (SIGTERM), then kills it if it has not within 15 s.
    pub async fn stop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.pid]).status().await;
        match tokio::time::timeout(Duration::from_secs(15), self.child.wait()).await {
            Ok(_) => {}
            Err(_) => {
                let _ = self.child.kill().await;
            }
        }
    }
}

pub fn default_enlace_bin() -> PathBuf {
    // Next to this binary (same target directory and profile), as `cargo build --release`
    // puts both there.
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("enlace")))
        .filter(|p| p.exists())
        .unwrap_or_else(|| Path::new("target/release/enlace").to_path_buf())
}
