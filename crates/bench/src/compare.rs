//! Issue 3's comparison, interleaved: the audited node (`--audit-sink chain`) and its no-op
//! anchor (`--audit-sink noop`) run side by side on two copies of the dataset, and the load
//! alternates between them in short slices (ABBA order), so that a drift of the machine's speed
//! (seen at up to 30 % within minutes on these shared guests) weighs on both alike instead of
//! deciding the ratio. Each round's ratio is reported with the whole run's.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, bail};
use serde::Serialize;

use crate::load::{send, slice};
use crate::server::{Backend, Env, Location, Server};
use crate::stats::CpuMeter;
use crate::{Api, Cli, bodies, rng_for};

/// The pause after each slice: longer than the audited node's deferred work (read events
/// gathered for up to 200 ms, a checkpoint at most a second after a commit).
const SETTLE: Duration = Duration::from_millis(1500);

/// The two sinks, in the order of a round's first half.
const SINKS: [&str; 2] = ["chain", "noop"];

/// One scenario at one concurrency, interleaved.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub scenario: String,
    pub concurrency: usize,
    pub rounds: usize,
    pub slice_s: f64,
    /// Successful requests per second over all slices, audited and no-op.
    pub chain_per_sec: f64,
    pub noop_per_sec: f64,
    /// `chain_per_sec / noop_per_sec`.
    pub ratio: f64,
    /// Each round's ratio (its audited slice against its no-op slice).
    pub round_ratios: Vec<f64>,
    /// Server CPU per successful request (with its PostgreSQL backends'), in µs of one core.
    pub chain_cpu_us: f64,
    pub noop_cpu_us: f64,
    pub errors: u64,
}

impl Comparison {
    /// The middle round ratio.
    pub fn median(&self) -> f64 {
        let mut r = self.round_ratios.clone();
        r.sort_by(f64::total_cmp);
        match r.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => r[n / 2],
            n => (r[n / 2 - 1] + r[n / 2]) / 2.0,
        }
    }
}

struct Side {
    srv: Server,
    api: Arc<Api>,
    /// The node's own database backends (PostgreSQL), whose CPU is counted with the node's.
    db_needles: Vec<String>,
}

/// Runs the comparison on `backend`: both servers up, then each scenario of `--scenarios`
/// that can be interleaved (open, create) at each concurrency.
pub async fn run(cli: &Cli, env: &Env, backend: Backend) -> Result<Vec<Comparison>> {
    eprintln!("== {} (audited and no-op, interleaved) ==", backend.name());
    let prepared = env.prepare(backend, cli.cases).await?;
    let mut sides = Vec::new();
    for (i, sink) in SINKS.iter().enumerate() {
        let loc = env.working_copy_named(&prepared, &format!("run_{sink}")).await?;
        env.migrate(&loc, &format!("migrate-{sink}.log")).await?;
        if cli.analyze {
            env.analyze(&loc).await?;
        }
        let srv = env.serve_with_sink(&loc, cli.port + i as u16, &format!("serve-{sink}.log"), sink).await?;
        let api = Arc::new(crate::api_for(&srv.base)?);
        let db_needles = match &loc {
            Location::Postgres { db, .. } => vec![db.clone()],
            Location::SqliteDir(_) => Vec::new(),
        };
        sides.push(Side { srv, api, db_needles });
    }
    let result = compare(cli, &sides).await;
    for s in &mut sides {
        s.srv.stop().await;
    }
    result
}

async fn compare(cli: &Cli, sides: &[Side]) -> Result<Vec<Comparison>> {
    let rounds = cli.rounds.max(1);
    let slice_len = Duration::from_secs(cli.slice.max(1));
    let mut out = Vec::new();
    let want = |s: &str| cli.scenarios.iter().any(|x| x == s);
    if want("open") {
        let mut tokens = Vec::new();
        for s in sides {
            tokens.push(Arc::new(s.api.login(&cli.open_user).await?.token));
        }
        // The copies hold the same cases: ids sampled on one are valid on the other.
        let ids = Arc::new(sides[0].api.sample_ids(&tokens[0], cli.open_ids, cli.seed).await?);
        if ids.is_empty() {
            bail!("no case to open: is the dataset empty?");
        }
        for &c in &cli.read_concurrency {
            let mut fs = Vec::new();
            for (s, token) in sides.iter().zip(&tokens) {
                let (api, ids, token, seed) = (s.api.clone(), ids.clone(), token.clone(), cli.seed);
                fs.push(Arc::new(move |w: usize, i: u64| {
                    let id = &ids[rng_for(seed, w, i).usize(0..ids.len())];
                    let rb =
                        api.client.get(format!("{}/api/v1/cases/{id}", api.base)).bearer_auth(token.as_str());
                    send(rb, 200, 0)
                }));
            }
            out.push(interleave(cli, sides, "open", c, rounds, slice_len, &fs).await);
        }
    }
    if want("create") {
        let mut fs = Vec::new();
        for s in sides {
            let mut logins = Vec::new();
            for u in &cli.create_users {
                let l = s.api.login(u).await?;
                logins.push((l.token, l.state));
            }
            let (api, logins, seed) = (s.api.clone(), Arc::new(logins), cli.seed);
            fs.push(Arc::new(move |w: usize, i: u64| {
                let (token, state) = &logins[w % logins.len()];
                let body = bodies::new_case(&mut rng_for(seed, w, i), state);
                let rb = api.client.post(format!("{}/api/v1/cases", api.base)).bearer_auth(token).json(&body);
                send(rb, 201, 0)
            }));
        }
        out.push(interleave(cli, sides, "create", cli.concurrency, rounds, slice_len, &fs).await);
    }
    Ok(out)
}

async fn interleave<F, Fut>(
    cli: &Cli,
    sides: &[Side],
    scenario: &str,
    concurrency: usize,
    rounds: usize,
    slice_len: Duration,
    fs: &[Arc<F>],
) -> Comparison
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = crate::load::Outcome> + Send + 'static,
{
    // Warm both (caches, connections), unrecorded.
    for f in fs {
        slice(f.clone(), concurrency, Duration::from_secs(cli.warmup)).await;
    }
    let mut ok = [0u64; 2];
    let mut secs = [0f64; 2];
    let mut cpu_s = [0f64; 2];
    let mut errors = 0;
    let mut round_ratios = Vec::new();
    for r in 0..rounds {
        let order: [usize; 2] = if r % 2 == 0 { [0, 1] } else { [1, 0] };
        let mut rate = [0f64; 2];
        for &k in &order {
            let meter = CpuMeter::start(&sides[k].srv.pid, &sides[k].db_needles);
            let (n, e, s, samples) = slice(fs[k].clone(), concurrency, slice_len).await;
            // What the audited node defers (its last batch of read events, a checkpoint) is
            // done before the other's slice starts, not during it, and its CPU is counted.
            tokio::time::sleep(SETTLE).await;
            let cpu = meter.stop();
            let cpu_secs = (cpu.server_pct + cpu.db_pct) / 100.0 * (s + SETTLE.as_secs_f64());
            for x in samples.iter().take(2) {
                eprintln!("      {} error: {x}", SINKS[k]);
            }
            ok[k] += n;
            secs[k] += s;
            cpu_s[k] += cpu_secs;
            errors += e;
            rate[k] = n as f64 / s;
        }
        round_ratios.push(rate[0] / rate[1]);
        eprintln!(
            "  {scenario} c={concurrency} round {:>2}: audited {:>8.1}/s  no-op {:>8.1}/s  ratio {:>5.1} %",
            r + 1,
            rate[0],
            rate[1],
            rate[0] / rate[1] * 100.0
        );
    }
    let per_sec = [ok[0] as f64 / secs[0], ok[1] as f64 / secs[1]];
    let c = Comparison {
        scenario: scenario.to_string(),
        concurrency,
        rounds,
        slice_s: slice_len.as_secs_f64(),
        chain_per_sec: per_sec[0],
        noop_per_sec: per_sec[1],
        ratio: per_sec[0] / per_sec[1],
        round_ratios,
        chain_cpu_us: cpu_s[0] / ok[0].max(1) as f64 * 1e6,
        noop_cpu_us: cpu_s[1] / ok[1].max(1) as f64 * 1e6,
        errors,
    };
    eprintln!(
        "  {scenario} c={concurrency}: audited {:.1}/s, no-op {:.1}/s: {:.1} % (median round {:.1} %, rounds {:.1}–{:.1} %); server CPU per request {:.0} µs vs {:.0} µs; {} errors",
        c.chain_per_sec,
        c.noop_per_sec,
        c.ratio * 100.0,
        c.median() * 100.0,
        c.round_ratios.iter().copied().fold(f64::INFINITY, f64::min) * 100.0,
        c.round_ratios.iter().copied().fold(0.0, f64::max) * 100.0,
        c.chain_cpu_us,
        c.noop_cpu_us,
        c.errors
    );
    c
}

/// The comparison as Markdown.
pub fn markdown(backend: &str, cs: &[Comparison]) -> String {
    let mut s = format!(
        "### {backend}: audited against no-op, interleaved\n\n| Run | Clients | Rounds × slice | Audited /s | No-op /s | Ratio (≥ 80 %) | Median round | Rounds | Server CPU per request, audited / no-op | Errors |\n|---|---|---|---|---|---|---|---|---|---|\n"
    );
    for c in cs {
        s.push_str(&format!(
            "| {} | {} | {} × {:.0} s | {:.0} | {:.0} | **{:.1} %** | {:.1} % | {} | {:.0} / {:.0} µs | {} |\n",
            c.scenario,
            c.concurrency,
            c.rounds,
            c.slice_s,
            c.chain_per_sec,
            c.noop_per_sec,
            c.ratio * 100.0,
            c.median() * 100.0,
            c.round_ratios.iter().map(|r| format!("{:.0}", r * 100.0)).collect::<Vec<_>>().join(", "),
            c.chain_cpu_us,
            c.noop_cpu_us,
            c.errors
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(round_ratios: Vec<f64>) -> Comparison {
        Comparison {
            scenario: "open".into(),
            concurrency: 1,
            rounds: round_ratios.len(),
            slice_s: 1.0,
            chain_per_sec: 1.0,
            noop_per_sec: 1.0,
            ratio: 1.0,
            round_ratios,
            chain_cpu_us: 0.0,
            noop_cpu_us: 0.0,
            errors: 0,
        }
    }

    #[test]
    fn median_of_odd_and_even_rounds() {
        assert_eq!(with(vec![0.75, 0.25, 0.5]).median(), 0.5);
        assert_eq!(with(vec![0.75, 0.25, 0.5, 1.0]).median(), 0.625);
        assert!(with(vec![]).median().is_nan());
    }
}
