//! Dice comparisons per second of each kernel this CPU has (not a test; see BENCHMARKS.md).
//!
//!     cargo run --release -p enlace-pprl --example dice_bench -- [A.csv B.csv] [options]
//!
//! With two files of `id,encoding` rows (a header line is skipped), both sides are read from
//! them; otherwise `--n N` random 1024-bit encodings about 40 % full are made for each side.
//! Options: `--threshold T` (0.8), `--top-k K`, `--repeat R` (3: the best run is reported),
//! `--kernel NAME` (only that one), `--threads N` (also run on N threads; default: all cores),
//! `--write-pairs FILE` (the pairs found, as `a,b,similarity` with row indices).
//!
//! Rates are given per second of wall time and, on one thread, per second of that thread's CPU
//! time (from `/proc/thread-self/schedstat` on Linux): what one core delivers when the machine is
//! shared with other work.

use std::time::Instant;

use enlace_pprl::{BloomFilter, FilterSet, Kernel, MatchOptions, match_sets};

fn read(path: &str) -> Vec<BloomFilter> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (_, enc) = l.split_once(',').unwrap_or_else(|| panic!("{path}: no comma in {l:?}"));
            BloomFilter::from_base64(enc).unwrap_or_else(|e| panic!("{path}: {e}"))
        })
        .collect()
}

/// CPU time of the calling thread in seconds (nanosecond precision), where
/// `/proc/thread-self/schedstat` exists. With one worker, `match_sets` runs on the caller.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    Some(stat.split(' ').next()?.parse::<f64>().ok()? / 1e9)
}

fn random(n: usize, seed: u64) -> Vec<BloomFilter> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..n)
        .map(|_| {
            let mut f = BloomFilter::zeros(1024);
            for _ in 0..520 {
                f.set(rng.usize(0..1024));
            }
            f
        })
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let files: Vec<&String> = args
        .iter()
        .enumerate()
        .filter(|(i, a)| !a.starts_with("--") && (*i == 0 || !args[i - 1].starts_with("--")))
        .map(|(_, a)| a)
        .collect();
    let n: usize = flag("--n").map_or(20_000, |v| v.parse().expect("--n"));
    let threshold: f64 = flag("--threshold").map_or(0.8, |v| v.parse().expect("--threshold"));
    let top_k: Option<usize> = flag("--top-k").map(|v| v.parse().expect("--top-k"));
    let repeat: usize = flag("--repeat").map_or(3, |v| v.parse().expect("--repeat"));
    let threads: usize = flag("--threads").map_or(0, |v| v.parse().expect("--threads"));
    let only = flag("--kernel");
    let write_pairs = flag("--write-pairs");

    let (a, b) = match files.as_slice() {
        [fa, fb] => (read(fa), read(fb)),
        [] => (random(n, 1), random(n, 2)),
        _ => panic!("give two files or none"),
    };
    let (sa, sb) = (FilterSet::new(&a).expect("side A"), FilterSet::new(&b).expect("side B"));
    let fill = |s: &FilterSet| {
        (0..s.len()).map(|i| f64::from(s.popcount(i))).sum::<f64>() / (s.len() * s.bits()).max(1) as f64
    };
    println!(
        "A: {} x {} bits (fill {:.1} %), B: {} (fill {:.1} %), threshold {threshold}, top-k {top_k:?}",
        sa.len(),
        sa.bits(),
        100.0 * fill(&sa),
        sb.len(),
        100.0 * fill(&sb)
    );
    let mut kernels = Kernel::available();
    if let Some(name) = &only {
        kernels.retain(|k| k.name() == name);
    }
    let mut runs: Vec<(Kernel, usize)> = kernels.iter().map(|&k| (k, 1)).collect();
    if let Some(&best) = kernels.last() {
        runs.push((best, threads));
    }
    for (kernel, threads) in runs {
        let opts = MatchOptions { threshold, top_k, one_to_one: false, threads, kernel: Some(kernel) };
        let (mut best, mut best_cpu) = (f64::INFINITY, f64::INFINITY);
        let mut summary = None;
        let mut found = Vec::new();
        for _ in 0..repeat.max(1) {
            let (t, c) = (Instant::now(), cpu_seconds());
            let (pairs, s) = match_sets(&sa, &sb, &opts, &|_| {}).expect("match");
            best = best.min(t.elapsed().as_secs_f64());
            if let (Some(c0), Some(c1)) = (c, cpu_seconds()) {
                best_cpu = best_cpu.min(c1 - c0);
            }
            found = pairs;
            summary = Some(s);
        }
        let s = summary.expect("ran at least once");
        let rate = s.comparisons as f64 / best;
        let per_cpu = if s.threads == 1 && best_cpu.is_finite() && best_cpu > 0.0 {
            format!(", {:>7.1} M/s per CPU-second", s.comparisons as f64 / best_cpu / 1e6)
        } else {
            String::new()
        };
        println!(
            "{:<17} threads {}: {:>7.3} s, {:>8.1} M comparisons/s ({:>7.1} M/s per thread){per_cpu}, {} pairs",
            kernel.name(),
            s.threads,
            best,
            rate / 1e6,
            rate / 1e6 / s.threads as f64,
            found.len()
        );
        if let (Some(path), 1) = (&write_pairs, threads) {
            let mut text = String::from("a,b,similarity\n");
            for p in &found {
                text.push_str(&format!("{},{},{}\n", p.a, p.b, p.similarity));
            }
            std::fs::write(path, text).unwrap_or_else(|e| panic!("{path}: {e}"));
        }
    }
}
