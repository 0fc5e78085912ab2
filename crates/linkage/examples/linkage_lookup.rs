//! Candidate lookup for one new person against an index of N generated persons: the latency a
//! registration form sees. Prints p50, p99 and max over 2,000 queries.
//!
//! cargo run --release -p enlace-linkage --example linkage_lookup -- 1000000

use std::time::{Duration, Instant};

use enlace_linkage::Index;
use enlace_linkage::blocking::Blocking;
use enlace_linkage::generate::{GenerateOptions, generate};
use enlace_linkage::link::{Dataset, LinkOptions, run};
use enlace_linkage::person::Schema;

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let queries = 2_000;
    let recs = generate(&GenerateOptions { records: n + queries, seed: 7, ..Default::default() });
    let (indexed, asked) = recs.split_at(n);
    // The model, trained on a 100,000-record sample (as a node would train once).
    let t = Instant::now();
    let mut sample = Dataset::new(Schema::standard());
    for r in indexed.iter().take(100_000) {
        sample.push(&r.person);
    }
    let model = run(&sample, &LinkOptions::default(), None, &()).expect("train").model;
    println!("model trained on {} records in {:.2?}", sample.left_len(), t.elapsed());
    let t = Instant::now();
    let mut index: Index<u64> = Index::new(model, Blocking::default()).expect("model");
    for r in indexed {
        index.insert(r.id, &r.person);
    }
    println!("indexed {} persons in {:.2?}", index.len(), t.elapsed());
    let entities: std::collections::HashSet<u64> = indexed.iter().map(|r| r.entity).collect();
    let mut times: Vec<Duration> = Vec::with_capacity(queries);
    let (mut found, mut with_truth, mut returned) = (0usize, 0usize, 0usize);
    for q in asked {
        let t = Instant::now();
        let c = index.candidates(&q.person, 0.5, 20);
        times.push(t.elapsed());
        returned += c.len();
        if entities.contains(&q.entity) {
            with_truth += 1;
            if c.iter().any(|c| indexed[c.id as usize].entity == q.entity) {
                found += 1;
            }
        }
    }
    times.sort();
    let pct = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    println!(
        "{} queries: p50 {:.2?}  p99 {:.2?}  max {:.2?}; {:.1} candidates per query; true match among candidates for {found} of {with_truth}",
        times.len(),
        pct(0.5),
        pct(0.99),
        times[times.len() - 1],
        returned as f64 / times.len() as f64
    );
}
