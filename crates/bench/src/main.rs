//! `enlace-bench`: the performance benchmark of issue 2.
//!
//! Drives the real release binary `enlace` over HTTP on loopback: prepares (once) a dataset of
//! generated cases with `enlace demo-data`, copies it, starts `enlace serve` on the copy, and
//! measures case creation, opening a case, filtered and searched list pages, and the server's
//! memory, on SQLite and on PostgreSQL. See BENCHMARKS.md at the repository root.

mod bodies;
mod compare;
mod load;
mod pages;
mod report;
mod server;
mod stats;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use serde::Serialize;
use serde_json::{Value, json};

use load::{RunCtx, RunResult, drive, send};
use server::{Backend, Env};
use stats::Memory;

const PASSWORD: &str = "enlace-demo-2016";

#[derive(clap::Subcommand, Debug, Clone)]
enum Cmd {
    /// The GRCM report (issue 7): `enlace report grcm` run several times per format; the whole
    /// process, and apart the figures and the rendering of the file.
    Grcm {
        /// The node's data directory (its SQLite database), e.g. one made by
        /// `enlace demo-data --cases 1000000`.
        #[arg(long)]
        data_dir: PathBuf,
        #[arg(long, default_value = "HN")]
        state: String,
        #[arg(long, default_value = "2026-H2")]
        period: String,
        #[arg(long, default_value = "es")]
        lang: String,
        #[arg(long, value_delimiter = ',', default_value = "csv,pdf")]
        formats: Vec<String>,
        /// Measured runs per format (after one that warms the caches).
        #[arg(long, default_value_t = 5)]
        repeat: u32,
    },
    /// Diagnosis: the plan and timing of one SQL statement on a SQLite file, with the SQLite
    /// version bundled in the server (opened read-only, with the server's cache settings).
    SqlitePlan {
        #[arg(long)]
        db: PathBuf,
        /// One statement; or see --workload.
        #[arg(long)]
        sql: Option<String>,
        /// Text parameters of --sql, bound in order ($1, $2, …).
        #[arg(long = "param")]
        params: Vec<String>,
        /// A file of JSON lines {"label", "sql", "params"}: every statement is run twice (the
        /// first pass warms the caches) and the second pass is reported per label.
        #[arg(long)]
        workload: Option<PathBuf>,
        /// Statements run first (opens the file read-write), e.g. "ANALYZE".
        #[arg(long)]
        setup: Option<String>,
        #[arg(long, default_value_t = 5)]
        repeat: u32,
    },
}

#[derive(Parser, Debug, Clone)]
#[command(name = "enlace-bench", about = "Load benchmark of an Enlace node (issue 2)")]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    /// Backends to measure, in order.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "sqlite,postgres")]
    backend: Vec<Backend>,
    /// Cases in the dataset (generated once with `enlace demo-data`, then reused).
    #[arg(long, default_value_t = 1_000_000)]
    cases: u64,
    /// Where datasets, working copies, logs and results go.
    #[arg(long, default_value = "/work/bench-data")]
    data_root: PathBuf,
    /// PostgreSQL server URL, without a database name.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
    pg_url: String,
    /// Name prefix of the PostgreSQL databases (`<prefix>_1m`, and `<prefix>_1m_run` for the
    /// copy a run works on).
    #[arg(long, default_value = "enlace_bench")]
    pg_prefix: String,
    /// The `enlace` binary to run (default: the one next to this binary).
    #[arg(long)]
    enlace_bin: Option<PathBuf>,
    /// Loopback port of the server.
    #[arg(long, default_value_t = 18461)]
    port: u16,
    /// Seconds measured per run.
    #[arg(long, default_value_t = 20)]
    duration: u64,
    /// Seconds of unrecorded warm-up before each run.
    #[arg(long, default_value_t = 3)]
    warmup: u64,
    /// Most requests started per run.
    #[arg(long, default_value_t = 1_000_000)]
    max_requests: u64,
    /// Concurrent clients of the create run.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Concurrent clients of the open and list runs (one run each).
    #[arg(long, value_delimiter = ',', default_value = "1,32")]
    read_concurrency: Vec<usize>,
    /// Case ids sampled through the API for the open runs.
    #[arg(long, default_value_t = 5000)]
    open_ids: usize,
    /// Runs to do: open, list, pages, create (create last: it adds cases).
    #[arg(long, value_delimiter = ',', default_value = "open,list,create")]
    scenarios: Vec<String>,
    /// Accounts whose web pages are requested (signed in through the form: accounts that do
    /// not need a second factor). A liaison officer sees the whole state, an officer one post.
    #[arg(long, value_delimiter = ',', default_value = "liaison.hn,officer.mx.houston")]
    page_users: Vec<String>,
    /// Accounts that create (clients take them in turn); each owns its own state's cases.
    #[arg(long, value_delimiter = ',', default_value = "supervisor.hn")]
    create_users: Vec<String>,
    /// Account whose cases are opened (supervisor.mx: Mexico holds ~30 % of the cases).
    #[arg(long, default_value = "supervisor.mx")]
    open_user: String,
    /// Accounts that list (clients take them in turn).
    #[arg(long, value_delimiter = ',', default_value = "supervisor.mx,supervisor.gt,supervisor.hn")]
    list_users: Vec<String>,
    /// A run starts when the machine's busy CPU (server idle) is below this, in % of one core...
    #[arg(long, default_value_t = 25.0)]
    quiet_pct: f64,
    /// ...or after waiting this many seconds.
    #[arg(long, default_value_t = 300)]
    quiet_wait: u64,
    /// A run during which other work took more than this (in % of one core) is done again...
    #[arg(long, default_value_t = 30.0)]
    disturbed_pct: f64,
    /// ...at most this many more times; the least disturbed attempt is kept.
    #[arg(long, default_value_t = 2)]
    retries: u32,
    /// Run on the prepared dataset itself instead of a fresh copy (creations then accumulate).
    #[arg(long)]
    no_copy: bool,
    /// Run a full ANALYZE on the working copy after migrating it (for a dataset generated by an
    /// older `enlace` than the one under test, when the newer generator ends with ANALYZE).
    #[arg(long)]
    analyze: bool,
    /// Only prepare the datasets.
    #[arg(long)]
    prepare_only: bool,
    #[arg(long, default_value_t = 2016)]
    seed: u64,
    /// `chain` measures the node as it runs; `noop` writes no audit events (the anchor the
    /// audit's cost is compared with).
    #[arg(long, default_value = "chain", value_parser = ["chain", "noop"])]
    audit_sink: String,
    /// Issue 3's comparison: serve the audited node and its no-op anchor side by side (ports
    /// --port and --port + 1) and alternate the open and create runs between them in short
    /// slices, so that the machine's drift weighs on both alike.
    #[arg(long)]
    interleave: bool,
    /// Rounds of an interleaved comparison (each: one slice on each node, ABBA order).
    #[arg(long, default_value_t = 10)]
    rounds: usize,
    /// Seconds of one slice of an interleaved comparison.
    #[arg(long, default_value_t = 5)]
    slice: u64,
}

#[derive(Serialize)]
struct BackendReport {
    backend: String,
    dataset: String,
    cases: u64,
    runs: Vec<RunResult>,
    sampled_ids: usize,
    page_sizes: Vec<pages::PageSize>,
    server_memory_idle: Option<Memory>,
    server_memory_end: Option<Memory>,
}

struct Api {
    client: reqwest::Client,
    base: String,
    /// One sign-in per account for the whole run (a second one would need a fresh code).
    logins: tokio::sync::Mutex<std::collections::HashMap<String, (String, String)>>,
}

struct Login {
    token: String,
    state: String,
}

impl Api {
    async fn login(&self, user: &str) -> Result<Login> {
        let mut logins = self.logins.lock().await;
        if let Some((token, state)) = logins.get(user) {
            return Ok(Login { token: token.clone(), state: state.clone() });
        }
        let v = self.sign_in(user, None).await?;
        let token = v["token"].as_str().context("no token")?.to_string();
        let state = v["user"]["state"].as_str().unwrap_or("").to_string();
        // Supervisors must enrol in two-factor sign-in before anything else, as on a real node.
        let r =
            self.client.get(format!("{}/api/v1/cases?limit=1", self.base)).bearer_auth(&token).send().await?;
        let token = if r.status() == reqwest::StatusCode::FORBIDDEN {
            self.enrol(user, &token).await?
        } else {
            token
        };
        logins.insert(user.to_string(), (token.clone(), state.clone()));
        Ok(Login { token, state })
    }

    async fn sign_in(&self, user: &str, totp: Option<&str>) -> Result<Value> {
        let mut body = json!({"username": user, "password": PASSWORD});
        if let Some(t) = totp {
            body["totp"] = json!(t);
        }
        let r = self.client.post(format!("{}/api/v1/auth/token", self.base)).json(&body).send().await?;
        let status = r.status();
        let v: Value = r.json().await.context("token response is not JSON")?;
        if !status.is_success() {
            bail!("cannot sign in as {user}: {status} {v}");
        }
        Ok(v)
    }

    /// Enrols `user` in two-factor sign-in and signs in again with a code; the new token.
    async fn enrol(&self, user: &str, token: &str) -> Result<String> {
        let post = |path: &str, body: Value| {
            self.client.post(format!("{}{path}", self.base)).bearer_auth(token).json(&body).send()
        };
        let e: Value = post("/api/v1/auth/mfa/enrol", json!({})).await?.json().await?;
        let secret = totp_rs::Secret::try_from_base32(e["secret"].as_str().context("no secret")?)
            .map_err(|e| anyhow::anyhow!("bad secret: {e:?}"))?;
        let totp = totp_rs::Builder::new().with_secret(secret).build_noncompliant();
        let now = chrono::Utc::now().timestamp() as u64;
        let r = post("/api/v1/auth/mfa/confirm", json!({"code": totp.generate(now).to_string()})).await?;
        if !r.status().is_success() {
            bail!("cannot enrol {user}: {}", r.text().await?);
        }
        // The confirming code is spent; the next time step's code is accepted (clock skew).
        let v = self.sign_in(user, Some(&totp.generate(now + 30).to_string())).await?;
        Ok(v["token"].as_str().context("no token")?.to_string())
    }

    /// Case ids the user may open, from list pages starting at random dates and categories.
    async fn sample_ids(&self, token: &str, n: usize, seed: u64) -> Result<Vec<String>> {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut ids = BTreeSet::new();
        let now = chrono::Utc::now();
        let mut pages = 0;
        while ids.len() < n && pages < n {
            pages += 1;
            let from = (now - chrono::Duration::minutes(rng.i64(60..3 * 365 * 1440))).to_rfc3339();
            let mut q: Vec<(&str, String)> =
                vec![("limit", "200".into()), ("sort", "opened_at".into()), ("opened_from", from)];
            if rng.bool() {
                let c = ["migration", "human_rights", "criminal", "labour", "administrative", "civil_family"];
                q.push(("category", c[rng.usize(0..c.len())].into()));
            }
            let r = self
                .client
                .get(format!("{}/api/v1/cases", self.base))
                .bearer_auth(token)
                .query(&q)
                .send()
                .await?;
            let status = r.status();
            let v: Value = r.json().await?;
            if !status.is_success() {
                bail!("list for sampling failed: {status} {v}");
            }
            for it in v["items"].as_array().into_iter().flatten() {
                // Restricted cases (children, sensitive facts) are not the opener's to read
                // without the permission: leave them out rather than measure 404s.
                if let Some(id) = it["id"].as_str().filter(|_| it["restricted"] != true) {
                    ids.insert(id.to_string());
                }
            }
        }
        let mut ids: Vec<String> = ids.into_iter().collect();
        rng.shuffle(&mut ids);
        ids.truncate(n);
        Ok(ids)
    }
}

/// A client of the server at `base`.
fn api_for(base: &str) -> Result<Api> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(512)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(60))
        .build()?;
    Ok(Api { client, base: base.to_string(), logins: Default::default() })
}

fn rng_for(seed: u64, worker: usize, i: u64) -> fastrand::Rng {
    fastrand::Rng::with_seed(
        seed ^ (worker as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ i.wrapping_mul(0xD6E8_FEB8_6659_FD93),
    )
}

fn print_run(r: &RunResult) {
    let l = &r.latency;
    eprintln!(
        "  {:<8} c={:<3} {:>8} ok {:>6} err  {:>9.1}/s  p50 {:>7.2} ms  p90 {:>7.2}  p99 {:>7.2}  max {:>8.2}  cpu machine {:>3.0}% server {:>3.0}% db {:>3.0}% bench {:>3.0}% other {:>3.0}%",
        r.name,
        r.concurrency,
        r.ok,
        r.errors,
        r.ok_per_sec,
        l.p50_ms,
        l.p90_ms,
        l.p99_ms,
        l.max_ms,
        r.cpu.machine_pct,
        r.cpu.server_pct,
        r.cpu.db_pct,
        r.cpu.client_pct,
        r.cpu.other_pct
    );
    if r.by_tag.len() > 1 {
        for t in &r.by_tag {
            eprintln!(
                "      {:<55} n={:<6} p50 {:>7.2} ms  p99 {:>7.2}  max {:>8.2}  err {}",
                t.tag, t.ok, t.latency.p50_ms, t.latency.p99_ms, t.latency.max_ms, t.errors
            );
        }
    }
    for e in &r.error_samples {
        eprintln!("      error: {e}");
    }
}

async fn bench_backend(cli: &Cli, env: &Env, backend: Backend) -> Result<BackendReport> {
    eprintln!("== {} ==", backend.name());
    let prepared = env.prepare(backend, cli.cases).await?;
    if cli.prepare_only {
        return Ok(BackendReport {
            backend: backend.name().into(),
            dataset: prepared.describe(),
            cases: cli.cases,
            runs: Vec::new(),
            sampled_ids: 0,
            page_sizes: Vec::new(),
            server_memory_idle: None,
            server_memory_end: None,
        });
    }
    let loc = if cli.no_copy { prepared.clone() } else { env.working_copy(&prepared).await? };
    env.migrate(&loc, &format!("migrate-{}.log", backend.name().to_lowercase())).await?;
    if cli.analyze {
        env.analyze(&loc).await?;
    }
    let log = format!("serve-{}.log", backend.name().to_lowercase());
    let mut srv = env.serve(&loc, cli.port, &log).await?;
    let result = run_scenarios(cli, &srv, backend, &loc).await;
    srv.stop().await;
    result
}

async fn run_scenarios(
    cli: &Cli,
    srv: &server::Server,
    backend: Backend,
    loc: &server::Location,
) -> Result<BackendReport> {
    let api = Arc::new(api_for(&srv.base)?);
    let pid = srv.pid.clone();
    let idle = stats::memory(&pid);
    let db_needles = match loc {
        server::Location::SqliteDir(_) => Vec::new(),
        server::Location::Postgres { db, .. } => {
            // The backends of this database (and its autovacuum workers), their parallel query
            // workers, and the WAL writer, checkpointer and background writer they use.
            vec![
                db.clone(),
                ": parallel worker".into(),
                ": walwriter".into(),
                ": checkpointer".into(),
                ": background writer".into(),
                // The postmaster: the CPU of the parallel workers it has reaped.
                "reaped:bin/postgres ".into(),
            ]
        }
    };
    let ctx = RunCtx {
        server_pid: pid.clone(),
        db_needles,
        warmup: Duration::from_secs(cli.warmup),
        duration: Duration::from_secs(cli.duration),
        max: cli.max_requests,
        quiet_pct: cli.quiet_pct,
        quiet_wait: Duration::from_secs(cli.quiet_wait),
        disturbed_pct: cli.disturbed_pct,
        retries: cli.retries,
    };
    let mut runs = Vec::new();
    let mut sampled = 0;
    let want = |s: &str| cli.scenarios.iter().any(|x| x == s);

    if want("open") {
        let login = api.login(&cli.open_user).await?;
        let t = Instant::now();
        let ids = Arc::new(api.sample_ids(&login.token, cli.open_ids, cli.seed).await?);
        sampled = ids.len();
        eprintln!(
            "sampled {} case ids of {} in {:.1} s",
            ids.len(),
            cli.open_user,
            t.elapsed().as_secs_f64()
        );
        if ids.is_empty() {
            bail!("no case to open: is the dataset empty?");
        }
        for &c in &cli.read_concurrency {
            let (api, ids, token, seed) = (api.clone(), ids.clone(), Arc::new(login.token.clone()), cli.seed);
            let r = drive(&ctx, "open", &["GET /api/v1/cases/{id}"], c, move |w, i| {
                let id = &ids[rng_for(seed, w, i).usize(0..ids.len())];
                let rb =
                    api.client.get(format!("{}/api/v1/cases/{id}", api.base)).bearer_auth(token.as_str());
                send(rb, 200, 0)
            })
            .await;
            print_run(&r);
            runs.push(r);
        }
    }

    if want("list") {
        let mut tokens = Vec::new();
        for u in &cli.list_users {
            tokens.push(api.login(u).await?.token);
        }
        let tokens = Arc::new(tokens);
        for &c in &cli.read_concurrency {
            let (api, tokens, seed) = (api.clone(), tokens.clone(), cli.seed);
            let r = drive(&ctx, "list", bodies::LIST_SHAPES, c, move |w, i| {
                let (shape, q) = bodies::list_query(&mut rng_for(seed, w, i));
                let token = &tokens[(w + i as usize) % tokens.len()];
                let rb = api.client.get(format!("{}/api/v1/cases", api.base)).bearer_auth(token).query(&q);
                send(rb, 200, shape)
            })
            .await;
            print_run(&r);
            runs.push(r);
        }
    }

    let mut page_sizes = Vec::new();
    if want("pages") {
        let mut users = Vec::new();
        for u in &cli.page_users {
            let session = pages::sign_in(&api.client, &api.base, u, PASSWORD).await?;
            let token = api.login(u).await?.token;
            let ids = api.sample_ids(&token, 1000, cli.seed).await?;
            if ids.is_empty() {
                bail!("{u} sees no case to open");
            }
            users.push((session, ids));
        }
        let (s0, ids0) = &users[0];
        let size_pages: Vec<(&str, String)> = vec![
            ("sign-in", "/login".into()),
            ("worklist", "/".into()),
            ("case list", "/cases".into()),
            ("case list, searched", "/cases?q=hern%C3%A1ndez+maria".into()),
            ("case", format!("/cases/{}", ids0[0])),
            ("new case", "/cases/new".into()),
        ];
        page_sizes = pages::sizes(&api.client, &api.base, s0, &size_pages).await?;
        for p in &page_sizes {
            eprintln!(
                "  page {:<22} html {:>7} B  first load {:>7} B ({} requests)  later {:>7} B",
                p.page, p.html_bytes, p.first_load_bytes, p.first_load_requests, p.later_load_bytes
            );
        }
        let users = Arc::new(users);
        for &c in &cli.read_concurrency {
            let (api, users, seed) = (api.clone(), users.clone(), cli.seed);
            let r = drive(&ctx, "pages", PAGE_SHAPES, c, move |w, i| {
                let mut rng = rng_for(seed, w, i);
                let (session, ids) = &users[(w + i as usize) % users.len()];
                let shape = rng.usize(0..PAGE_SHAPES.len());
                let path = match shape {
                    0 => "/".to_string(),
                    1 => {
                        let (_, q) = bodies::list_query(&mut rng);
                        format!("/cases?{}", serde_urlencoded::to_string(&q).unwrap_or_default())
                    }
                    2 => format!("/cases/{}", ids[rng.usize(0..ids.len())]),
                    _ => "/cases/new".to_string(),
                };
                let rb = api.client.get(format!("{}{path}", api.base)).header("cookie", &session.cookie);
                send(rb, 200, shape)
            })
            .await;
            print_run(&r);
            runs.push(r);
        }
    }

    if want("create") {
        let mut logins = Vec::new();
        for u in &cli.create_users {
            let l = api.login(u).await?;
            logins.push((l.token, l.state));
        }
        let logins = Arc::new(logins);
        let (api2, seed) = (api.clone(), cli.seed);
        let r = drive(&ctx, "create", &["POST /api/v1/cases"], cli.concurrency, move |w, i| {
            let (token, state) = &logins[w % logins.len()];
            let body = bodies::new_case(&mut rng_for(seed, w, i), state);
            let rb = api2.client.post(format!("{}/api/v1/cases", api2.base)).bearer_auth(token).json(&body);
            send(rb, 201, 0)
        })
        .await;
        print_run(&r);
        runs.push(r);
    }

    let end = stats::memory(&pid);
    if let Some(m) = end {
        eprintln!(
            "  server memory: VmRSS {:.1} MiB, VmHWM (peak) {:.1} MiB",
            m.rss_kib as f64 / 1024.0,
            m.hwm_kib as f64 / 1024.0
        );
    }
    Ok(BackendReport {
        backend: backend.name().into(),
        dataset: loc.describe(),
        cases: cli.cases,
        runs,
        sampled_ids: sampled,
        page_sizes,
        server_memory_idle: idle,
        server_memory_end: end,
    })
}

/// The kinds of page the pages run requests, in equal shares.
const PAGE_SHAPES: &[&str] = &[
    "GET / (worklist: five lists)",
    "GET /cases?<list shapes of the list run>",
    "GET /cases/{id} (case page)",
    "GET /cases/new",
];

fn fmt_ms(x: f64) -> String {
    if x >= 100.0 { format!("{x:.0} ms") } else { format!("{x:.1} ms") }
}

fn yes(b: bool) -> &'static str {
    if b { "**yes**" } else { "**no**" }
}

/// The report as Markdown: targets first, then every run.
fn markdown(cli: &Cli, reports: &[BackendReport]) -> String {
    let mut s = String::new();
    for rep in reports {
        if rep.runs.is_empty() {
            continue;
        }
        s.push_str(&format!(
            "### {} — {} generated cases\n\n| Target | Measured | Met |\n|---|---|---|\n",
            rep.backend, rep.cases
        ));
        for r in rep.runs.iter().filter(|r| r.name == "create") {
            s.push_str(&format!(
                "| Create through the API ≥ 3,000/s with {} clients | {:.0}/s (p50 {}, p99 {}; {} errors) | {} |\n",
                r.concurrency,
                r.ok_per_sec,
                fmt_ms(r.latency.p50_ms),
                fmt_ms(r.latency.p99_ms),
                r.errors,
                yes(r.ok_per_sec >= 3000.0 && r.errors == 0)
            ));
        }
        for (name, label, limit_ms) in [
            ("open", "Open a case p99 ≤ 10 ms", 10.0),
            ("list", "Filtered, searched list page p99 ≤ 50 ms", 50.0),
        ] {
            for r in rep.runs.iter().filter(|r| r.name == name) {
                s.push_str(&format!(
                    "| {label} ({} client{}) | p99 {} (p50 {}, {:.0} req/s; {} errors) | {} |\n",
                    r.concurrency,
                    if r.concurrency == 1 { "" } else { "s" },
                    fmt_ms(r.latency.p99_ms),
                    fmt_ms(r.latency.p50_ms),
                    r.ok_per_sec,
                    r.errors,
                    yes(r.latency.p99_ms <= limit_ms && r.errors == 0)
                ));
            }
        }
        for r in rep.runs.iter().filter(|r| r.name == "pages") {
            s.push_str(&format!(
                "| Web page, server time p99 ≤ 50 ms (issue 4; {} client{}) | p99 {} (p50 {}, {:.0} pages/s; {} errors) | {} |\n",
                r.concurrency,
                if r.concurrency == 1 { "" } else { "s" },
                fmt_ms(r.latency.p99_ms),
                fmt_ms(r.latency.p50_ms),
                r.ok_per_sec,
                r.errors,
                yes(r.latency.p99_ms <= 50.0 && r.errors == 0)
            ));
        }
        for p in &rep.page_sizes {
            s.push_str(&format!(
                "| Page \"{}\" ≤ 100 KB on first load (issue 4) | {:.1} KB in {} requests; later loads {:.1} KB | {} |\n",
                p.page,
                p.first_load_bytes as f64 / 1000.0,
                p.first_load_requests,
                p.later_load_bytes as f64 / 1000.0,
                yes(p.first_load_bytes <= 100_000)
            ));
        }
        if let Some(m) = rep.server_memory_end {
            let peak_mb = m.hwm_kib as f64 * 1024.0 / 1e6;
            s.push_str(&format!(
                "| Server RSS ≤ 300 MB | peak (VmHWM) {:.0} MB ({:.0} MiB); at the end (VmRSS) {:.0} MB | {} |\n",
                peak_mb,
                m.hwm_kib as f64 / 1024.0,
                m.rss_kib as f64 * 1024.0 / 1e6,
                yes(peak_mb <= 300.0)
            ));
        }
        s.push_str(&format!(
            "\nAll runs ({} s each after a {} s warm-up; CPU in % of one core, the machine has {}):\n\n",
            cli.duration,
            cli.warmup,
            std::thread::available_parallelism().map_or(1, |n| n.get()) * 100
        ));
        s.push_str("| Run | Clients | OK | Errors | OK/s | p50 | p90 | p99 | p99.9 | max | CPU machine / server / db / bench / other | RSS after | Attempts |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        for r in &rep.runs {
            let l = &r.latency;
            s.push_str(&format!(
                "| {} | {} | {} | {} | {:.0} | {} | {} | {} | {} | {} | {:.0} / {:.0} / {:.0} / {:.0} / {:.0} % | {} | {} |\n",
                r.name,
                r.concurrency,
                r.ok,
                r.errors,
                r.ok_per_sec,
                fmt_ms(l.p50_ms),
                fmt_ms(l.p90_ms),
                fmt_ms(l.p99_ms),
                fmt_ms(l.p999_ms),
                fmt_ms(l.max_ms),
                r.cpu.machine_pct,
                r.cpu.server_pct,
                r.cpu.db_pct,
                r.cpu.client_pct,
                r.cpu.other_pct,
                r.server_memory_after.map_or("-".into(), |m| format!("{:.0} MiB", m.rss_kib as f64 / 1024.0)),
                r.attempts,
            ));
        }
        for r in rep.runs.iter().filter(|r| r.name == "list") {
            s.push_str(&format!(
                "\nList pages by query shape ({} client{}):\n\n| Query (`limit=50`) | Pages | p50 | p99 | max |\n|---|---|---|---|---|\n",
                r.concurrency,
                if r.concurrency == 1 { "" } else { "s" }
            ));
            for t in &r.by_tag {
                s.push_str(&format!(
                    "| `{}` | {} | {} | {} | {} |\n",
                    t.tag,
                    t.ok,
                    fmt_ms(t.latency.p50_ms),
                    fmt_ms(t.latency.p99_ms),
                    fmt_ms(t.latency.max_ms)
                ));
            }
        }
        for r in rep.runs.iter().filter(|r| !r.errors_by_status.is_empty()) {
            s.push_str(&format!(
                "\nErrors of {} ({} clients): {:?}\n",
                r.name, r.concurrency, r.errors_by_status
            ));
            for e in &r.error_samples {
                s.push_str(&format!("    {e}\n"));
            }
        }
        s.push('\n');
    }
    s
}

fn bind_json<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>,
    params: &[Value],
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments> {
    for p in params {
        q = match p {
            Value::Number(n) => q.bind(n.as_i64().unwrap_or(0)),
            Value::String(s) => q.bind(s.clone()),
            other => q.bind(other.to_string()),
        };
    }
    q
}

async fn sqlite_plan(
    db: &std::path::Path,
    sql: Option<&str>,
    params: &[String],
    workload: Option<&std::path::Path>,
    setup: Option<&str>,
    repeat: u32,
) -> Result<()> {
    use sqlx::{Connection, Executor, Row};
    let opts = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(db)
        .read_only(setup.is_none())
        .pragma("cache_size", "-65536")
        .pragma("temp_store", "memory");
    let mut c = sqlx::SqliteConnection::connect_with(&opts).await?;
    let v: String = sqlx::query_scalar("SELECT sqlite_version()").fetch_one(&mut c).await?;
    println!("SQLite {v}");
    if let Some(setup) = setup {
        let t = Instant::now();
        c.execute(sqlx::AssertSqlSafe(setup.to_string())).await?;
        println!("setup done in {:.1} s", t.elapsed().as_secs_f64());
    }
    if let Some(sql) = sql {
        let params: Vec<Value> = params.iter().map(|p| Value::String(p.clone())).collect();
        let plan = format!("EXPLAIN QUERY PLAN {sql}");
        for r in bind_json(sqlx::query(sqlx::AssertSqlSafe(plan)), &params).fetch_all(&mut c).await? {
            let (id, parent, detail): (i64, i64, String) = (r.try_get(0)?, r.try_get(1)?, r.try_get(3)?);
            println!("  {id:>3} {parent:>3} {detail}");
        }
        let mut times = Vec::new();
        let mut rows = 0;
        for _ in 0..repeat.max(1) {
            let t = Instant::now();
            rows = bind_json(sqlx::query(sqlx::AssertSqlSafe(sql.to_string())), &params)
                .fetch_all(&mut c)
                .await?
                .len();
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        println!(
            "{rows} rows; times (ms): {}",
            times.iter().map(|t| format!("{t:.1}")).collect::<Vec<_>>().join(" ")
        );
    }
    if let Some(path) = workload {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let items: Vec<Value> = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(serde_json::from_str)
            .collect::<Result<_, _>>()?;
        let mut by_label: Vec<(String, Vec<u64>)> = Vec::new();
        for pass in 0..2 {
            for it in &items {
                let label = it["label"].as_str().unwrap_or("?").to_string();
                let sql = it["sql"].as_str().context("workload line without sql")?.to_string();
                let params = it["params"].as_array().cloned().unwrap_or_default();
                let t = Instant::now();
                bind_json(sqlx::query(sqlx::AssertSqlSafe(sql)), &params).fetch_all(&mut c).await?;
                let us = t.elapsed().as_micros() as u64;
                if pass == 1 {
                    match by_label.iter_mut().find(|(l, _)| *l == label) {
                        Some((_, v)) => v.push(us),
                        None => by_label.push((label, vec![us])),
                    }
                }
            }
        }
        let mut all = Vec::new();
        for (label, mut v) in by_label {
            all.extend_from_slice(&v);
            let l = stats::Latency::of(&mut v);
            println!(
                "  {label:<58} n={:<4} p50 {:>8.1} ms  p99 {:>8.1}  max {:>8.1}",
                l.count, l.p50_ms, l.p99_ms, l.max_ms
            );
        }
        let l = stats::Latency::of(&mut all);
        println!(
            "  {:<58} n={:<4} p50 {:>8.1} ms  p99 {:>8.1}  max {:>8.1}",
            "all", l.count, l.p50_ms, l.p99_ms, l.max_ms
        );
    }
    Ok(())
}

async fn run(cli: Cli) -> Result<()> {
    if let Some(Cmd::SqlitePlan { db, sql, params, workload, setup, repeat }) = &cli.cmd {
        return sqlite_plan(db, sql.as_deref(), params, workload.as_deref(), setup.as_deref(), *repeat).await;
    }
    let enlace = cli.enlace_bin.clone().unwrap_or_else(server::default_enlace_bin);
    if !enlace.exists() {
        bail!(
            "{} not found: build it with `cargo build --release -p enlace` or pass --enlace-bin",
            enlace.display()
        );
    }
    if let Some(Cmd::Grcm { data_dir, state, period, lang, formats, repeat }) = &cli.cmd {
        return report::grcm(&enlace, data_dir, state, period, lang, formats, *repeat);
    }
    std::fs::create_dir_all(&cli.data_root)?;
    if !cli.pg_prefix.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
        bail!("--pg-prefix takes lower-case letters, digits and _ only");
    }
    let env = Env {
        enlace,
        data_root: cli.data_root.clone(),
        pg_base_url: cli.pg_url.clone(),
        pg_prefix: cli.pg_prefix.clone(),
        audit_sink: cli.audit_sink.clone(),
    };
    let started = chrono::Utc::now();
    if cli.interleave && !cli.prepare_only {
        let mut md = String::new();
        let mut all = Vec::new();
        for &b in &cli.backend {
            let cs = compare::run(&cli, &env, b).await?;
            md.push_str(&compare::markdown(b.name(), &cs));
            md.push('\n');
            all.push(json!({"backend": b.name(), "comparisons": cs}));
        }
        return write_results(&cli, &env, started, "compare", ("backends", json!(all)), &md);
    }
    let mut reports = Vec::new();
    for &b in &cli.backend {
        reports.push(bench_backend(&cli, &env, b).await?);
    }
    if cli.prepare_only {
        return Ok(());
    }
    let md = markdown(&cli, &reports);
    write_results(&cli, &env, started, "results", ("reports", json!(reports)), &md)
}

/// Prints the Markdown report and writes it, with the results as JSON, to
/// `<data root>/<prefix>-<start time>.{json,md}`.
fn write_results(
    cli: &Cli,
    env: &Env,
    started: chrono::DateTime<chrono::Utc>,
    prefix: &str,
    (key, results): (&str, Value),
    md: &str,
) -> Result<()> {
    println!("{md}");
    let out = cli.data_root.join(format!("{prefix}-{}.json", started.format("%Y%m%dT%H%M%SZ")));
    let mut doc = json!({
        "started_at": started.to_rfc3339(),
        "arguments": std::env::args().skip(1).collect::<Vec<_>>(),
        "enlace": env.enlace.display().to_string(),
    });
    doc[key] = results;
    std::fs::write(&out, serde_json::to_string_pretty(&doc)?)?;
    std::fs::write(out.with_extension("md"), md)?;
    eprintln!("results written to {} and {}", out.display(), out.with_extension("md").display());
    Ok(())
}

fn main() {
    let cli = Cli::parse();
    // One thread for the load generator, so it takes at most one core from the server.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    if let Err(e) = rt.block_on(run(cli)) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
