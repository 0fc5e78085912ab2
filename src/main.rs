//! `enlace`: one binary for a country node (and, later, the hub and the demo network).

use std::io::{IsTerminal, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use enlace_app::audit_log::Verification;
use enlace_app::auth::NewUser;
use enlace_app::demo::{DEMO_PASSWORD, GenerateOptions};
use enlace_app::keys::NodeKey;
use enlace_app::oidc::OidcSettings;
use enlace_app::{App, AppError, Db, Settings};
use enlace_domain::country::CountryCode;
use enlace_domain::post::PostCode;
use enlace_domain::role::Role;
use indicatif::{ProgressBar, ProgressStyle};

/// mimalloc instead of glibc's malloc: ~8-10 % more case reads per second at 1M cases, with or
/// without audit (BENCHMARKS.md, session 13).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod crash_bench;
mod demo_net;
mod doctor;
mod fed_bench;
mod fed_cmd;
mod hub_bench;
mod library_bench;
mod link_bench;
mod link_cmd;
mod pprl_cmd;

#[derive(Parser)]
#[command(
    name = "enlace",
    version,
    about = "Enlace: consular protection case records for the Regional Conference on Migration network"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct DbArgs {
    /// Where the node keeps its files (the SQLite database by default).
    #[arg(long, env = "ENLACE_DATA_DIR", default_value = "./enlace-data")]
    data_dir: PathBuf,
    /// A postgres:// URL to use PostgreSQL instead of the SQLite file in the data directory.
    #[arg(long, env = "ENLACE_DATABASE_URL")]
    database_url: Option<String>,
    /// The node's secret key file (attachments are sealed with it; never in the database).
    /// Default: node.key in the data directory, created on first start. The environment
    /// variable ENLACE_NODE_KEY (base64) takes precedence.
    #[arg(long, env = "ENLACE_NODE_KEY_FILE")]
    key_file: Option<PathBuf>,
}

/// Sign-in with the state's identity provider (OpenID Connect); off unless the issuer is given.
#[derive(Args, Clone)]
struct OidcArgs {
    /// The provider's issuer URL (e.g. https://id.example.gob.hn/realms/consular).
    #[arg(long, env = "ENLACE_OIDC_ISSUER")]
    oidc_issuer: Option<String>,
    #[arg(long, env = "ENLACE_OIDC_CLIENT_ID", requires = "oidc_issuer")]
    oidc_client_id: Option<String>,
    /// Better given by the environment than on the command line.
    #[arg(long, env = "ENLACE_OIDC_CLIENT_SECRET", hide_env_values = true, requires = "oidc_issuer")]
    oidc_client_secret: Option<String>,
    /// This node's callback URL: https://HOST/api/v1/auth/oidc/callback.
    #[arg(long, env = "ENLACE_OIDC_REDIRECT_URL", requires = "oidc_issuer")]
    oidc_redirect_url: Option<String>,
    /// The claim naming the Enlace account: preferred_username or email.
    #[arg(long, env = "ENLACE_OIDC_USERNAME_CLAIM", default_value = "preferred_username",
        value_parser = ["preferred_username", "email"])]
    oidc_username_claim: String,
}

impl OidcArgs {
    fn settings(&self) -> Result<Option<OidcSettings>> {
        let Some(issuer) = self.oidc_issuer.clone() else { return Ok(None) };
        let need = |v: &Option<String>, flag: &str| {
            v.clone().ok_or_else(|| anyhow::anyhow!("--oidc-issuer needs {flag} too"))
        };
        let redirect_url = need(&self.oidc_redirect_url, "--oidc-redirect-url")?;
        web_url("--oidc-issuer (ENLACE_OIDC_ISSUER)", &issuer)?;
        web_url("--oidc-redirect-url (ENLACE_OIDC_REDIRECT_URL)", &redirect_url)?;
        Ok(Some(OidcSettings {
            issuer,
            client_id: need(&self.oidc_client_id, "--oidc-client-id")?,
            client_secret: need(&self.oidc_client_secret, "--oidc-client-secret")?,
            redirect_url,
            username_claim: self.oidc_username_claim.clone(),
        }))
    }
}

/// Checks that an option holds an absolute http(s) URL with a host, naming it when not.
fn web_url(option: &str, value: &str) -> Result<()> {
    match reqwest::Url::parse(value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
        Ok(u) => bail!("{option}: {value:?} is not an http(s) address (scheme {:?})", u.scheme()),
        Err(e) => bail!("{option}: {value:?} is not a URL ({e}); e.g. https://host:8443"),
    }
}

impl DbArgs {
    /// The node key, which must exist already (a restore must not make a new one).
    fn existing_node_key(&self) -> Result<NodeKey> {
        if let Ok(k) = std::env::var("ENLACE_NODE_KEY") {
            return NodeKey::from_base64(&k).map_err(|e| anyhow::anyhow!("ENLACE_NODE_KEY: {e}"));
        }
        let path = self.key_file.clone().unwrap_or_else(|| self.data_dir.join("node.key"));
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "the node key is needed ({} cannot be read): give --key-file or ENLACE_NODE_KEY, the key of \
                 the node the backup is of",
                path.display()
            )
        })?;
        NodeKey::from_base64(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }

    fn node_key(&self) -> Result<NodeKey> {
        if let Ok(k) = std::env::var("ENLACE_NODE_KEY") {
            return NodeKey::from_base64(&k).map_err(|e| anyhow::anyhow!("ENLACE_NODE_KEY: {e}"));
        }
        let path = self.key_file.clone().unwrap_or_else(|| self.data_dir.join("node.key"));
        NodeKey::load_or_create(&path).map_err(|e| anyhow::anyhow!(e))
    }
}

#[derive(Subcommand)]
enum Command {
    /// Runs the node's HTTP server.
    Serve {
        #[command(flatten)]
        db: DbArgs,
        /// Address and port to listen on.
        #[arg(long, env = "ENLACE_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Load demo accounts and demo cases (first start only) and print the logins.
        #[arg(long)]
        demo: bool,
        #[command(flatten)]
        oidc: OidcArgs,
        #[command(flatten)]
        fed: fed_cmd::FedArgs,
        /// Benchmarks only: `noop` writes no audit events, to measure what auditing costs.
        #[arg(long, hide = true, default_value = "chain")]
        audit_sink: AuditSink,
    },
    /// Runs a local demo network in one process: the hub and the nodes of Mexico, Guatemala,
    /// Honduras, El Salvador and the United States on consecutive ports, each with its own
    /// database, demo accounts and cases (first start), sharing cases over mutual TLS. Prints
    /// the URLs and logins. A second start reuses the data.
    Demo {
        /// Where the network keeps its files (a folder per node).
        #[arg(long, default_value = "./enlace-demo")]
        data_dir: PathBuf,
        /// The hub's port; the nodes take the next five.
        #[arg(long, default_value_t = 8080)]
        base_port: u16,
    },
    /// Applies database migrations and loads reference data, then exits.
    Migrate {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Writes an encrypted, checksummed backup of the node's database while it runs (a
    /// consistent snapshot: SQLite's VACUUM INTO, PostgreSQL's pg_dump), sealed with the node
    /// key. Keep the node key apart from the backup: without it the backup does not open.
    Backup {
        #[command(flatten)]
        db: DbArgs,
        /// The backup file to write (it must not exist).
        #[arg(long)]
        output: PathBuf,
    },
    /// Restores a backup into an empty data directory (--data-dir) or an empty PostgreSQL
    /// database (--database-url), after checking its checksum and every part of it with the
    /// node key; then brings the schema up to date and verifies the audit chain.
    Restore {
        #[command(flatten)]
        db: DbArgs,
        /// The backup file.
        file: PathBuf,
    },
    /// Checks the node's configuration, key, database, directory and peers, and says what is
    /// wrong in plain words (the same options as serve). Exits 1 when something must be fixed.
    Doctor(doctor::DoctorArgs),
    /// Administration tasks.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Generates synthetic demo cases (seeded: the same seed gives the same data).
    DemoData {
        #[command(flatten)]
        db: DbArgs,
        /// How many cases to generate.
        #[arg(long, default_value_t = 1000)]
        cases: u64,
        #[arg(long, default_value_t = 2016)]
        seed: u64,
        /// Cases written per transaction.
        #[arg(long, default_value_t = 2000)]
        batch: usize,
    },
    /// Retention: purge or anonymise closed cases whose time is up.
    Retention {
        #[command(subcommand)]
        command: RetentionCommand,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Finds the same person in one CSV file (deduplication) or across two (linkage).
    Link(link_cmd::LinkArgs),
    /// Imports records from a file.
    Import {
        #[command(subcommand)]
        what: ImportCommand,
    },
    /// Exports records.
    Export {
        #[command(subcommand)]
        what: ExportCommand,
    },
    /// Benchmark of federation: two nodes over mutual TLS on loopback, a steady load of shared
    /// case changes (and optionally a peer outage); prints rate and delays.
    #[command(hide = true)]
    BenchFederation(fed_bench::BenchArgs),
    /// Benchmark of the hub's cross-border linkage: N new missing-person encodings against M
    /// found-person encodings of other states (generated, encoded with the network's scheme).
    #[command(hide = true)]
    BenchLinkage(link_bench::BenchArgs),
    /// Benchmark of the hub's regional view: 11 states' submissions over five years.
    #[command(hide = true)]
    BenchRegional(hub_bench::BenchArgs),
    /// Benchmark of the network library's search: generated items, searches with and without
    /// accents.
    #[command(hide = true)]
    BenchLibrary(library_bench::BenchArgs),
    /// Crash safety: kills the node (SIGKILL) at random moments while clients write, restarts
    /// it, and checks after each round that every acknowledged write is kept, the database
    /// passes its integrity check and the audit chain verifies.
    BenchCrash(crash_bench::CrashArgs),
    /// Federation: a node's identity for the directory, the hub's key, signing and installing
    /// the directory.
    Fed {
        #[command(subcommand)]
        command: fed_cmd::FedCommand,
    },
    /// Reports of the node's statistics (suppressed, as they may leave the node).
    Report {
        #[command(subcommand)]
        what: ReportCommand,
    },
    /// Privacy-preserving record linkage: keyed Bloom filter encodings and their Dice matching.
    Pprl {
        #[command(subcommand)]
        command: pprl_cmd::PprlCommand,
    },
}

#[derive(Subcommand)]
enum ReportCommand {
    /// The GRCM report of one state's cases on this node for a period: every table of the
    /// node's statistics with small counts suppressed, in the chosen language.
    Grcm {
        #[command(flatten)]
        db: DbArgs,
        /// A year (2026), a half (2026-H1) or a quarter (2026-Q3).
        #[arg(long)]
        period: String,
        /// The state whose cases are reported (ISO code, e.g. HN). Without it, on the hub: the
        /// regional report of every state's submitted figures.
        #[arg(long)]
        state: Option<String>,
        /// csv (one row per cell), xlsx (a sheet per table) or pdf (to print: tables and bar
        /// charts).
        #[arg(long, default_value = "csv")]
        format: String,
        /// es, en or fr.
        #[arg(long, default_value = "es")]
        lang: String,
        /// Where to write the report.
        #[arg(long)]
        output: PathBuf,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Removes a user's second factor (lost phone and recovery codes): they enrol again at their
    /// next sign-in. Their sessions and tokens end. Audited.
    ResetMfa {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        username: String,
    },
    /// Creates a user account; the password is read from standard input.
    CreateUser {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        username: String,
        /// consular_officer, protection_supervisor, country_administrator, liaison_officer,
        /// regional_analyst, auditor or civil_society_partner.
        #[arg(long)]
        role: String,
        /// The state the user works for (ISO code, e.g. HN).
        #[arg(long)]
        state: String,
        /// The user's post (required for consular officers), e.g. HN-TAPACHULA.
        #[arg(long)]
        post: Option<String>,
        #[arg(long)]
        display_name: Option<String>,
        /// May read child (NNA) cases and sensitive fields (health, gender-based violence,
        /// trafficking details).
        #[arg(long)]
        sensitive_access: bool,
        /// Read the password from standard input (one line).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum AuditSink {
    Chain,
    Noop,
}

#[derive(Subcommand)]
enum RetentionCommand {
    /// Applies every state's retention rules now (the server also does it once a day).
    Run {
        #[command(flatten)]
        db: DbArgs,
        /// Only list what would be purged or anonymised.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Checks the hash chain of the audit log from the first event to the recorded head.
    /// Exits 0 when it is intact; otherwise names the first bad event and exits 3.
    Verify {
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Imports cases from CSV (columns in docs/csv.md). Every row is checked first: a file
    /// with a bad row imports nothing unless --skip-invalid.
    Cases {
        #[command(flatten)]
        db: DbArgs,
        file: PathBuf,
        /// The account the import is made by (its rights apply and it is audited).
        #[arg(long)]
        user: String,
        /// Import the valid rows and report the invalid ones.
        #[arg(long)]
        skip_invalid: bool,
        /// Write the report of invalid rows (line,column,reason) to this CSV file.
        #[arg(long)]
        report: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ExportCommand {
    /// Exports cases as CSV (the import format plus number, id, status and times).
    Cases {
        #[command(flatten)]
        db: DbArgs,
        /// Only this owning state's cases.
        #[arg(long)]
        state: Option<String>,
        /// Write here instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

async fn open(db: &DbArgs) -> Result<App> {
    open_node(db, false, None, None).await
}

/// Opens the node; a demo node does not force two-factor enrolment on its demo accounts.
async fn open_node(
    db: &DbArgs,
    demo: bool,
    oidc: Option<OidcSettings>,
    fed: Option<enlace_app::fed::FedSettings>,
) -> Result<App> {
    let database = Db::connect(db.database_url.as_deref(), &db.data_dir).await.with_context(|| match &db
        .database_url
    {
        Some(_) => "cannot connect to the database given by --database-url".to_string(),
        None => format!("cannot open the database in {}", db.data_dir.display()),
    })?;
    let settings =
        Settings { node_key: db.node_key()?, enforce_mfa: !demo, oidc, fed, ..Settings::default() };
    let app = App::new(database, settings);
    app.prepare().await.context("cannot prepare the database")?;
    Ok(app)
}

/// Verifies the audit chain with a progress bar and says how it is. Returns whether intact.
async fn verify_audit(app: &App) -> Result<bool> {
    let pb = bar(None, "verifying");
    let pb2 = pb.clone();
    let result = app
        .verify_audit_chain(&move |done, total| {
            pb2.set_length(total.max(0) as u64);
            pb2.set_position(done.max(0) as u64);
        })
        .await?;
    pb.finish_and_clear();
    match result {
        Verification::Intact { events, head } => {
            println!("audit chain intact: {events} events, head {head}");
            Ok(true)
        }
        Verification::Broken(b) => {
            eprintln!("audit chain BROKEN: {b}");
            Ok(false)
        }
    }
}

fn bar(len: Option<u64>, what: &str) -> ProgressBar {
    let pb = match len {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::new_spinner(),
    };
    if !std::io::stderr().is_terminal() {
        pb.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let style = ProgressStyle::with_template(&format!(
        "{what} {{bar:40}} {{pos}}/{{len}} ({{per_sec}}, {{eta}} left)"
    ))
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    pb.set_style(style);
    pb
}

async fn generate(app: &App, cases: u64, seed: u64, batch: usize, owners: Vec<CountryCode>) -> Result<u64> {
    let pb = bar(Some(cases), "generating cases");
    let pb2 = pb.clone();
    let n = enlace_app::demo::generate_cases(
        app,
        &GenerateOptions { cases, seed, batch: batch.max(1), owners },
        &move |n| pb2.set_position(n),
    )
    .await?;
    pb.finish_and_clear();
    Ok(n)
}

async fn serve(app: App, listen: SocketAddr, demo: bool, tls: Option<enlace_net::TlsIdentity>) -> Result<()> {
    if demo {
        let logins = app.seed_demo_users().await?;
        if app.count_cases().await? == 0 {
            let shown = app.seed_showcase().await?;
            generate(&app, 2000, 2016, 500, Vec::new()).await?;
            eprintln!(
                "Demo cases loaded: {} showcase cases ({}) and 2000 generated.",
                shown.len(),
                shown.join(", ")
            );
        }
        println!("\nEnlace demo node: http://{listen}   (API: http://{listen}/api/v1/openapi.json)");
        println!("Every demo account's password is: {DEMO_PASSWORD}");
        println!("(Demo node: two-factor enrolment is offered but not enforced.)\n");
        println!("{:<24} {:<24} {:<6} POST", "USER", "ROLE", "STATE");
        for l in logins {
            println!(
                "{:<24} {:<24} {:<6} {}",
                l.username,
                l.role.as_str(),
                l.state,
                l.post.map(|p| p.to_string()).unwrap_or_default()
            );
        }
        println!();
    }
    let listener =
        tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    // The daily jobs (retention, expired sessions): a few minutes after start, then every 24 hours.
    let job = app.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval_at(
            tokio::time::Instant::now() + std::time::Duration::from_secs(300),
            std::time::Duration::from_secs(24 * 3600),
        );
        loop {
            tick.tick().await;
            match job.run_retention(false, chrono::Utc::now()).await {
                Ok(r) => tracing::info!(cases = r.total(), "retention run"),
                Err(e) => tracing::error!(error = %e, "retention run failed"),
            }
            match job.remove_expired_sessions().await {
                Ok(n) => tracing::info!(sessions = n, "expired sessions removed"),
                Err(e) => tracing::error!(error = %e, "removing expired sessions failed"),
            }
        }
    });
    // Blocking keys of new persons, and matching of new registrations, in the background.
    app.start_linkage_worker();
    // Missing-person reports against found persons, for what registration did not match
    // (imports, other processes, a full queue, a crash): at start and every 10 minutes, the
    // persons changed since the last sweep (its mark is kept in the database).
    let job = app.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
        loop {
            tick.tick().await;
            match job.sweep_due().await {
                Ok(n) => tracing::info!(added = n, "missing-person matching sweep"),
                Err(e) => tracing::error!(error = %e, "missing-person matching sweep failed"),
            }
        }
    });
    tracing::info!(address = %listener.local_addr()?, "serving");
    match tls {
        // Federated: /fed/v1 over mutual TLS on the same port as the UI and API.
        Some(tls) => enlace_web::serve_federated(listener, app.clone(), tls, shutdown_signal()).await?,
        None => enlace_web::serve(listener, app.clone(), shutdown_signal()).await?,
    }
    // Requests in flight are answered; now the federation messages being delivered.
    if !app.stop_relay(std::time::Duration::from_secs(15)).await {
        tracing::warn!("some deliveries were still under way; they are sent again at the next start");
    }
    app.flush_audit().await?;
    app.db().close().await;
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: finishing requests in flight");
}

fn read_password() -> Result<String> {
    let mut s = String::new();
    std::io::stdin().read_to_string(&mut s).context("cannot read the password from standard input")?;
    let pw = s.lines().next().unwrap_or("").to_string();
    if pw.is_empty() {
        bail!("no password on standard input");
    }
    Ok(pw)
}

async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Link(args) => link_cmd::run_link(args),
        Command::Serve { db, listen, demo, oidc, fed, audit_sink } => {
            if let AuditSink::Noop = audit_sink {
                tracing::warn!("audit sink is a no-op: this node keeps NO audit trail (benchmark mode)");
                enlace_app::audit_log::use_noop_sink_for_benchmarks();
            }
            let (fed, tls) = fed.settings(&db.data_dir)?.unzip();
            let app = open_node(&db, demo, oidc.settings()?, fed).await?;
            if let Some(tls) = &tls {
                fed_cmd::start(&app, tls.clone())?;
            }
            serve(app, listen, demo, tls).await
        }
        Command::Fed { command } => fed_cmd::run(command).await,
        Command::Retention { command: RetentionCommand::Run { db, dry_run } } => {
            let app = open(&db).await?;
            let report = app.run_retention(dry_run, chrono::Utc::now()).await.map_err(explain)?;
            let verb = if dry_run { "would" } else { "did" };
            for l in &report.lines {
                println!(
                    "{} {} ({} years, {}): {verb} {} {} cases: {}",
                    l.state,
                    l.rule.category,
                    l.rule.years,
                    l.rule.action,
                    l.rule.action,
                    l.cases.len(),
                    l.cases.join(", ")
                );
            }
            println!(
                "{} cases {}{}",
                report.total(),
                if dry_run { "due" } else { "handled" },
                if dry_run { " (dry run: nothing changed)" } else { "" }
            );
            Ok(())
        }
        Command::Audit { command: AuditCommand::Verify { db } } => {
            let app = open(&db).await?;
            if !verify_audit(&app).await? {
                std::process::exit(3);
            }
            Ok(())
        }
        Command::Backup { db, output } => {
            let key = db.existing_node_key()?;
            let app = open(&db).await?;
            let dir = output.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            let tmp = tempfile::Builder::new()
                .prefix(".enlace-snapshot")
                .tempdir_in(dir)
                .with_context(|| format!("cannot write in {}", dir.display()))?;
            let snap = tmp.path().join("snapshot");
            eprintln!("taking a consistent snapshot of the database…");
            let backend = enlace_store::backup::snapshot(app.db(), db.database_url.as_deref(), &snap)
                .await
                .context("cannot take the snapshot")?;
            let name = match backend {
                enlace_store::Backend::Sqlite => "sqlite",
                enlace_store::Backend::Postgres => "postgres",
            };
            let pb = bar(Some(std::fs::metadata(&snap)?.len()), "sealing");
            let pb2 = pb.clone();
            let header = enlace_app::backup::seal_backup(&key, &snap, name, &output, &move |done, _| {
                pb2.set_position(done)
            })?;
            pb.finish_and_clear();
            println!(
                "backup written: {} ({name}, {} bytes of database, SHA-256 {})",
                output.display(),
                header.size,
                header.sha256
            );
            Ok(())
        }
        Command::Restore { db, file } => {
            let key = db.existing_node_key()?;
            let tmp = tempfile::tempdir().context("cannot make a temporary directory")?;
            let snap = tmp.path().join("snapshot");
            let pb = bar(
                Some(std::fs::metadata(&file).with_context(|| file.display().to_string())?.len()),
                "checking",
            );
            let pb2 = pb.clone();
            let header = enlace_app::backup::open_backup(&key, &file, &snap, &move |done, total| {
                pb2.set_length(total);
                pb2.set_position(done);
            })?;
            pb.finish_and_clear();
            let backend = match header.backend.as_str() {
                "sqlite" => enlace_store::Backend::Sqlite,
                "postgres" => enlace_store::Backend::Postgres,
                other => bail!("the backup is of an unknown database kind {other:?}"),
            };
            enlace_store::backup::restore(&snap, backend, db.database_url.as_deref(), &db.data_dir)
                .await
                .context("cannot restore")?;
            eprintln!("restored the backup of {}; checking it…", header.created_at);
            let app = open(&db).await?;
            if !verify_audit(&app).await? {
                std::process::exit(3);
            }
            println!("restored {} ({} bytes of database)", file.display(), header.size);
            Ok(())
        }
        Command::Demo { data_dir, base_port } => demo_net::run(data_dir, base_port).await,
        Command::Report { what: ReportCommand::Grcm { db, period, state, format, lang, output } } => {
            let locale = enlace_web::ui::i18n::Locale::parse(&lang)
                .with_context(|| format!("--lang {lang}: choose es, en or fr"))?;
            if !["csv", "xlsx", "pdf"].contains(&format.as_str()) {
                bail!("--format {format}: choose csv, xlsx or pdf");
            }
            let app = open(&db).await?;
            let (body, what) = match state {
                Some(state) => {
                    let state =
                        CountryCode::parse(&state).map_err(|e| anyhow::anyhow!("--state {state}: {e}"))?;
                    let figured = std::time::Instant::now();
                    let stats = app.report_stats(state, &period).await.map_err(explain)?;
                    let figured = figured.elapsed();
                    let rendered = std::time::Instant::now();
                    let body = match format.as_str() {
                        "xlsx" => enlace_web::report::grcm_xlsx(&stats, locale),
                        "pdf" => enlace_web::report::grcm_pdf(&stats, locale),
                        _ => enlace_web::report::grcm_csv(&stats, locale),
                    };
                    let rendered = rendered.elapsed();
                    (
                        body,
                        format!(
                            "GRCM report of {state} for {}: {} tables (figures {} ms, {format} {} ms)",
                            stats.period.label,
                            stats.tables.len(),
                            figured.as_millis(),
                            rendered.as_millis()
                        ),
                    )
                }
                None => {
                    let all = app.regional_report(&period).await.map_err(explain)?;
                    if all.is_empty() {
                        bail!("no state has submitted figures for {period} to this node (is it the hub?)");
                    }
                    let states: Vec<String> = all.iter().map(|s| s.state.to_string()).collect();
                    let body = match format.as_str() {
                        "pdf" => enlace_web::report::grcm_pdf_of(&all, locale),
                        "xlsx" => enlace_web::report::grcm_xlsx_of(&all, locale),
                        _ => enlace_web::report::grcm_csv_of(&all, locale),
                    };
                    (body, format!("regional GRCM report for {period}: {}", states.join(", ")))
                }
            };
            let body = body.map_err(anyhow::Error::msg)?;
            std::fs::write(&output, body).with_context(|| format!("cannot write {}", output.display()))?;
            app.flush_audit().await.map_err(explain)?;
            eprintln!("{what}, written to {}", output.display());
            Ok(())
        }
        Command::Migrate { db } => {
            open(&db).await?;
            eprintln!("database is up to date");
            Ok(())
        }
        Command::Admin { command: AdminCommand::ResetMfa { db, username } } => {
            let app = open(&db).await?;
            let u = app.reset_mfa_by_operator(&username).await.map_err(explain)?;
            println!("two-factor sign-in reset for {}: they enrol again at their next sign-in", u.username);
            Ok(())
        }
        Command::Admin {
            command:
                AdminCommand::CreateUser {
                    db,
                    username,
                    role,
                    state,
                    post,
                    display_name,
                    sensitive_access,
                    password_stdin: _,
                },
        } => {
            let role = Role::parse(&role).with_context(|| {
                format!("unknown role \"{role}\"; one of: {}", Role::ALL.map(|r| r.as_str()).join(", "))
            })?;
            let state = CountryCode::parse(&state)?;
            let post = post.map(|p| PostCode::parse(&p)).transpose()?;
            let password = read_password()?;
            let app = open(&db).await?;
            let user = app
                .create_user(
                    None,
                    NewUser { username, display_name, role, state, post, password, sensitive_access },
                )
                .await
                .map_err(explain)?;
            println!("created user {} ({}, {}) with id {}", user.username, user.role, user.state, user.id);
            Ok(())
        }
        Command::DemoData { db, cases, seed, batch } => {
            let app = open(&db).await?;
            app.seed_demo_users().await?;
            let t = std::time::Instant::now();
            let n = generate(&app, cases, seed, batch, Vec::new()).await?;
            eprintln!("generated {n} cases in {:.1} s", t.elapsed().as_secs_f64());
            Ok(())
        }
        Command::Import { what: ImportCommand::Cases { db, file, user, skip_invalid, report } } => {
            let app = open(&db).await?;
            let actor = app.actor_for(&user).await.map_err(explain)?;
            let f = std::fs::File::open(&file).with_context(|| format!("cannot open {}", file.display()))?;
            let pb = bar(None, "importing");
            let pb2 = pb.clone();
            let progress: enlace_app::csv_io::Progress = Arc::new(move |stage: &str, n: u64| {
                pb2.set_message(stage.to_string());
                pb2.set_position(n);
            });
            let result = app.import_cases(&actor, std::io::BufReader::new(f), skip_invalid, progress).await;
            pb.finish_and_clear();
            let write_report = |r: &enlace_app::csv_io::ImportReport| -> Result<()> {
                for e in r.errors.iter().take(50) {
                    eprintln!("{e}");
                }
                if r.errors.len() > 50 {
                    eprintln!("… and {} more", r.errors.len() - 50);
                }
                if let Some(path) = &report {
                    let out = std::fs::File::create(path)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    r.write_csv(out)?;
                    eprintln!("report written to {}", path.display());
                }
                Ok(())
            };
            match result {
                Ok(r) => {
                    write_report(&r)?;
                    eprintln!(
                        "imported {} of {} rows ({} invalid rows skipped)",
                        r.imported,
                        r.rows,
                        r.rows - r.imported
                    );
                    Ok(())
                }
                Err(enlace_app::csv_io::ImportError::Invalid(r)) => {
                    write_report(&r)?;
                    bail!(
                        "{} invalid row(s) in {} rows; nothing was imported (use --skip-invalid to import the valid rows)",
                        r.errors.iter().map(|e| e.line).collect::<std::collections::BTreeSet<_>>().len(),
                        r.rows
                    )
                }
                Err(e) => bail!("{e}"),
            }
        }
        Command::Export { what: ExportCommand::Cases { db, state, output } } => {
            let state = state.map(|s| CountryCode::parse(&s)).transpose()?;
            let app = open(&db).await?;
            let pb = bar(None, "exporting");
            let pb2 = pb.clone();
            let progress = move |n: u64| pb2.set_position(n);
            let n = match &output {
                Some(path) => {
                    let f = std::fs::File::create(path)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    app.export_cases(state, std::io::BufWriter::new(f), &progress).await?
                }
                None => app.export_cases(state, std::io::stdout().lock(), &progress).await?,
            };
            pb.finish_and_clear();
            eprintln!("exported {n} cases");
            Ok(())
        }
        Command::Pprl { command } => pprl_cmd::run(command),
        Command::BenchFederation(args) => fed_bench::run(args).await,
        Command::BenchLinkage(args) => link_bench::run(args),
        Command::BenchRegional(args) => hub_bench::run(args).await,
        Command::BenchLibrary(args) => library_bench::run(args).await,
        Command::BenchCrash(args) => crash_bench::run(args).await,
        Command::Doctor(args) => doctor::run(args).await,
    }
}

/// Turns a use-case error into a message for a person at a terminal.
fn explain(e: AppError) -> anyhow::Error {
    match e {
        AppError::Validation(v) => anyhow::anyhow!("invalid input: {v}"),
        other => anyhow::anyhow!("{other}"),
    }
}

/// The log filter (ENLACE_LOG) and whether lines are JSON (ENLACE_LOG_FORMAT), each refused
/// with a message naming it when it is set to something not understood.
fn log_settings() -> Result<(tracing_subscriber::EnvFilter, bool), String> {
    let filter = match std::env::var("ENLACE_LOG") {
        Ok(v) if !v.trim().is_empty() => tracing_subscriber::EnvFilter::try_new(&v).map_err(|e| {
            format!("ENLACE_LOG={v:?} is not a log filter ({e}); e.g. info, or warn,enlace=debug")
        })?,
        Ok(_) | Err(std::env::VarError::NotPresent) => tracing_subscriber::EnvFilter::new("info,sqlx=warn"),
        Err(std::env::VarError::NotUnicode(_)) => return Err("ENLACE_LOG is not valid UTF-8".into()),
    };
    // Logs are JSON lines (for the state's log collector) unless written to a terminal, or as
    // ENLACE_LOG_FORMAT says (json, text). Each request's lines carry its id and route.
    let json = match std::env::var("ENLACE_LOG_FORMAT").as_deref() {
        Ok("json") => true,
        Ok("text") => false,
        Ok("") | Err(std::env::VarError::NotPresent) => !std::io::stderr().is_terminal(),
        Ok(other) => return Err(format!("ENLACE_LOG_FORMAT={other:?}: use json or text")),
        Err(std::env::VarError::NotUnicode(_)) => return Err("ENLACE_LOG_FORMAT is not valid UTF-8".into()),
    };
    Ok((filter, json))
}

fn main() {
    let (filter, json) = log_settings().unwrap_or_else(|e| {
        eprintln!("error: {e}");
        std::process::exit(2);
    });
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if json {
        logs.json().with_current_span(true).with_span_list(false).init();
    } else {
        logs.with_ansi(std::io::stderr().is_terminal()).init();
    }
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    if let Err(e) = rt.block_on(run(cli)) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
