//! Closed-loop load: N clients, each sending its next request when the previous one has been
//! answered in full, for a bounded time and a bounded number of requests.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::stats::{CpuMeter, CpuUse, Latency, Memory};

/// The result of one request.
pub struct Outcome {
    /// Which query shape (index into the scenario's tags).
    pub tag: usize,
    /// The HTTP status, or 0 when the request failed without one.
    pub status: u16,
    pub ok: bool,
    /// The body of a failed request, kept for the first few failures.
    pub error: Option<String>,
}

struct Sample {
    tag: usize,
    micros: u64,
    ok: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct TagResult {
    pub tag: String,
    pub ok: u64,
    pub errors: u64,
    pub latency: Latency,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunResult {
    pub name: String,
    pub concurrency: usize,
    pub seconds: f64,
    pub requests: u64,
    pub ok: u64,
    pub errors: u64,
    pub errors_by_status: BTreeMap<u16, u64>,
    pub error_samples: Vec<String>,
    /// Successful requests per second.
    pub ok_per_sec: f64,
    /// Latency of the successful requests.
    pub latency: Latency,
    pub by_tag: Vec<TagResult>,
    pub cpu: CpuUse,
    pub server_memory_after: Option<Memory>,
    /// Busy CPU of the machine just before the run (the server idle), in % of one core.
    pub busy_before_pct: f64,
    /// Seconds waited for the machine to become quiet before the run.
    pub waited_for_quiet_s: f64,
    /// Attempts made (a run disturbed by other work on the machine is done again).
    pub attempts: u32,
}

/// What every run needs besides its requests.
#[derive(Clone)]
pub struct RunCtx {
    pub server_pid: String,
    /// Command-line fragments of the database processes serving the run.
    pub db_needles: Vec<String>,
    pub warmup: Duration,
    pub duration: Duration,
    pub max: u64,
    /// A run starts once the machine is busy less than this (in % of one core)...
    pub quiet_pct: f64,
    /// ...or after this long.
    pub quiet_wait: Duration,
    /// A run during which other work took more than this (in % of one core) is done again...
    pub disturbed_pct: f64,
    /// ...at most this many more times; the least disturbed attempt is kept.
    pub retries: u32,
}

/// Waits until the machine is quiet (other work would distort the run). Returns the last
/// reading and the time waited.
async fn wait_quiet(ctx: &RunCtx) -> (f64, f64) {
    let t = Instant::now();
    let mut warned = false;
    loop {
        let busy = crate::stats::machine_busy(Duration::from_secs(2)).await;
        if busy <= ctx.quiet_pct || t.elapsed() >= ctx.quiet_wait {
            if busy > ctx.quiet_pct {
                eprintln!(
                    "  machine still {busy:.0} % busy after {:.0} s; running anyway",
                    t.elapsed().as_secs_f64()
                );
            }
            return (busy, t.elapsed().as_secs_f64());
        }
        if !warned {
            eprintln!("  waiting for the machine to be quiet (now {busy:.0} % of a core busy)…");
            warned = true;
        }
    }
}

/// Runs `f(worker, i)` from `concurrency` workers until `duration` has passed or `max`
/// requests have been started. A warm-up of `warmup` runs first and is not recorded.
pub async fn drive<F, Fut>(ctx: &RunCtx, name: &str, tags: &[&str], concurrency: usize, f: F) -> RunResult
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let f = Arc::new(f);
    let mut best: Option<RunResult> = None;
    for attempt in 1..=ctx.retries + 1 {
        let mut r = attempt_run(ctx, name, tags, concurrency, f.clone()).await;
        r.attempts = attempt;
        let disturbed = r.cpu.other_pct > ctx.disturbed_pct;
        if disturbed {
            eprintln!(
                "  {name} c={concurrency}: other work took {:.0} % of a core during attempt {attempt}",
                r.cpu.other_pct
            );
        }
        if best.as_ref().is_none_or(|b| r.cpu.other_pct < b.cpu.other_pct) {
            best = Some(r);
        }
        if !disturbed {
            break;
        }
    }
    best.expect("at least one attempt")
}

async fn attempt_run<F, Fut>(
    ctx: &RunCtx,
    name: &str,
    tags: &[&str],
    concurrency: usize,
    f: Arc<F>,
) -> RunResult
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let (busy_before_pct, waited_for_quiet_s) = wait_quiet(ctx).await;
    if !ctx.warmup.is_zero() {
        run_workers(f.clone(), concurrency, ctx.warmup, ctx.max).await;
    }
    let cpu = CpuMeter::start(&ctx.server_pid, &ctx.db_needles);
    let t0 = Instant::now();
    let (samples, statuses, error_samples) = run_workers(f, concurrency, ctx.duration, ctx.max).await;
    let seconds = t0.elapsed().as_secs_f64();
    let cpu = cpu.stop();

    let mut ok_micros: Vec<u64> = samples.iter().filter(|s| s.ok).map(|s| s.micros).collect();
    let ok = ok_micros.len() as u64;
    let requests = samples.len() as u64;
    let by_tag = tags
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mut m: Vec<u64> = samples.iter().filter(|s| s.tag == i && s.ok).map(|s| s.micros).collect();
            let errors = samples.iter().filter(|s| s.tag == i && !s.ok).count() as u64;
            TagResult { tag: t.to_string(), ok: m.len() as u64, errors, latency: Latency::of(&mut m) }
        })
        .collect();
    RunResult {
        name: name.to_string(),
        concurrency,
        seconds,
        requests,
        ok,
        errors: requests - ok,
        errors_by_status: statuses,
        error_samples,
        ok_per_sec: ok as f64 / seconds,
        latency: Latency::of(&mut ok_micros),
        by_tag,
        cpu,
        server_memory_after: crate::stats::memory(&ctx.server_pid),
        busy_before_pct,
        waited_for_quiet_s,
        attempts: 1,
    }
}

/// One slice of an interleaved comparison: `f` from `concurrency` workers for `duration`, no
/// warm-up; returns the successful and failed requests, the seconds taken and the first errors.
pub async fn slice<F, Fut>(f: Arc<F>, concurrency: usize, duration: Duration) -> (u64, u64, f64, Vec<String>)
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let t = Instant::now();
    let (samples, _, errors) = run_workers(f, concurrency, duration, u64::MAX).await;
    let ok = samples.iter().filter(|s| s.ok).count() as u64;
    (ok, samples.len() as u64 - ok, t.elapsed().as_secs_f64(), errors)
}

async fn run_workers<F, Fut>(
    f: Arc<F>,
    concurrency: usize,
    duration: Duration,
    max: u64,
) -> (Vec<Sample>, BTreeMap<u16, u64>, Vec<String>)
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let started = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + duration;
    let mut set = tokio::task::JoinSet::new();
    for w in 0..concurrency {
        let f = f.clone();
        let started = started.clone();
        set.spawn(async move {
            let mut samples = Vec::new();
            let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
            let mut errors = Vec::new();
            while Instant::now() < deadline {
                let i = started.fetch_add(1, Ordering::Relaxed);
                if i >= max {
                    break;
                }
                let t = Instant::now();
                let o = f(w, i).await;
                let micros = t.elapsed().as_micros() as u64;
                if !o.ok {
                    *statuses.entry(o.status).or_default() += 1;
                    if let Some(e) = o.error
                        && errors.len() < 3
                    {
                        errors.push(format!("{}: {}", o.status, e.chars().take(400).collect::<String>()));
                    }
                }
                samples.push(Sample { tag: o.tag, micros, ok: o.ok });
            }
            (samples, statuses, errors)
        });
    }
    let mut all = Vec::new();
    let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
    let mut errors = Vec::new();
    while let Some(r) = set.join_next().await {
        let (s, st, e) = r.expect("load worker panicked");
        all.extend(s);
        for (k, v) in st {
            *statuses.entry(k).or_default() += v;
        }
        for x in e {
            if errors.len() < 5 {
                errors.push(x);
            }
        }
    }
    (all, statuses, errors)
}

/// Sends a request and reads the whole body; `expect` is the status that counts as success.
pub async fn send(rb: reqwest::RequestBuilder, expect: u16, tag: usize) -> Outcome {
    match rb.send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            let body = r.bytes().await;
            let ok = status == expect && body.is_ok();
            let error = (!ok).then(|| match body {
                Ok(b) => String::from_utf8_lossy(&b).into_owned(),
                Err(e) => e.to_string(),
            });
            Outcome { tag, status, ok, error }
        }
        Err(e) => Outcome { tag, status: 0, ok: false, error: Some(e.to_string()) },
    }
}
