//! `enlace bench-linkage`: the hub's cross-border linkage at scale (issue 7). Generates seeded
//! person records with realistic errors (the linkage generator), encodes them with the
//! network's scheme (`enlace_app::fed::linkage::encoder_config`), and runs the hub's own
//! matching function (`find_pairs`, threshold 0.8, top-k) for N new missing-person encodings of
//! one state against M found-person encodings of ten other states. Prints the times, the
//! comparison rate, the candidates and how many of them are true pairs, and peak memory.

use std::time::Instant;

use anyhow::Result;
use clap::Args;
use enlace_app::fed::linkage::{HubEncoding, MATCH_THRESHOLD, TOP_K, encoder_config, find_pairs};
use enlace_linkage::generate::{GenerateOptions, generate};
use enlace_linkage::person::Birth;
use enlace_pprl::{Encoder, Kernel};

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// New missing-person encodings (one state).
    #[arg(long, default_value_t = 100_000)]
    missing: usize,
    /// Found-person encodings already held (ten other states).
    #[arg(long, default_value_t = 1_000_000)]
    found: usize,
    #[arg(long, default_value_t = 2026)]
    seed: u64,
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map(|kib| kib / 1024.0)
        .unwrap_or(0.0)
}

pub fn run(args: BenchArgs) -> Result<()> {
    const STATES: [&str; 10] = ["MX", "GT", "SV", "CR", "NI", "PA", "BZ", "DO", "US", "CA"];
    let t = Instant::now();
    // Enough records that `missing` of them are later records of a person (a true partner
    // among the found ones, with errors) and the rest fill the found side.
    let records = generate(&GenerateOptions {
        seed: args.seed,
        records: args.found + args.missing,
        ..GenerateOptions::default()
    });
    let generated = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let encoder = Encoder::new(b"benchmark linkage secret of the states", &encoder_config())?;
    let mut missing = Vec::with_capacity(args.missing);
    let mut found = Vec::with_capacity(args.found);
    let mut missing_entity = Vec::with_capacity(args.missing);
    let mut found_entity = Vec::with_capacity(args.found);
    let mut seen = std::collections::HashSet::new();
    for r in &records {
        let p = &r.person;
        let birth = match &p.birth {
            Birth::Date { date } => format!("{:04}-{:02}-{:02}", date.year, date.month, date.day),
            _ => String::new(),
        };
        let sex = p.attributes.first().cloned().flatten().unwrap_or_default();
        let values = [p.given_names.join(" "), p.surnames.join(" "), birth, sex];
        let filter = encoder.encode(&values)?.filter;
        // A later record of a person already seen: its partner is on the found side.
        let repeat = !seen.insert(r.entity);
        if repeat && missing.len() < args.missing {
            missing.push(HubEncoding { state: "HN".into(), filter, new: true });
            missing_entity.push(r.entity);
        } else if found.len() < args.found {
            let state = STATES[found.len() % STATES.len()].to_string();
            found.push(HubEncoding { state, filter, new: false });
            found_entity.push(r.entity);
        } else if missing.len() < args.missing {
            missing.push(HubEncoding { state: "HN".into(), filter, new: true });
            missing_entity.push(r.entity);
        }
    }
    drop(records);
    let encoded = t.elapsed().as_secs_f64();
    let fill: f64 =
        found.iter().take(10_000).map(|e| e.filter.fill()).sum::<f64>() / found.len().min(10_000) as f64;
    eprintln!(
        "{} missing × {} found encodings ({} bits, mean fill {:.1} %); kernel {}; matching…",
        missing.len(),
        found.len(),
        encoder.bits(),
        fill * 100.0,
        Kernel::best().name()
    );
    let t = Instant::now();
    let pairs = find_pairs(&missing, &found, MATCH_THRESHOLD, TOP_K)?;
    let matched = t.elapsed().as_secs_f64();
    let comparisons = missing.len() as f64 * found.len() as f64;
    let true_pairs = pairs.iter().filter(|p| missing_entity[p.missing] == found_entity[p.found]).count();
    let with_partner = {
        let found_set: std::collections::HashSet<u64> = found_entity.iter().copied().collect();
        missing_entity.iter().filter(|e| found_set.contains(e)).count()
    };
    let recalled = {
        let mut hit = vec![false; missing.len()];
        for p in &pairs {
            if missing_entity[p.missing] == found_entity[p.found] {
                hit[p.missing] = true;
            }
        }
        hit.iter().filter(|h| **h).count()
    };
    println!("records generated            {:>10.1} s", generated);
    println!("encoded ({} records)   {:>10.1} s", missing.len() + found.len(), encoded);
    println!("hub matching (find_pairs)    {:>10.1} s", matched);
    println!("comparisons                  {:>10.3e}  ({:.0} M/s)", comparisons, comparisons / matched / 1e6);
    println!("candidates (≥ {MATCH_THRESHOLD}, top {TOP_K})  {:>10}", pairs.len());
    println!("  of them true pairs         {:>10}", true_pairs);
    println!("missing with a true partner  {:>10}; found among the candidates: {recalled}", with_partner);
    println!("peak memory (VmHWM)          {:>10.0} MiB", peak_rss_mib());
    Ok(())
}
