//! Deduplicates generated records and prints blocking and accuracy figures.
//!
//! cargo run --release -p enlace-linkage --example linkage_eval -- 100000 [SEED]

use std::time::Instant;

use enlace_linkage::generate::{GenerateOptions, generate};
use enlace_linkage::link::{Dataset, LinkOptions, count_true_pairs, evaluate, run};
use enlace_linkage::person::Schema;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let seed: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(2026);
    let t0 = Instant::now();
    let recs = generate(&GenerateOptions { records: n, seed, ..Default::default() });
    let t1 = Instant::now();
    let mut data = Dataset::new(Schema::standard());
    for r in &recs {
        data.push(&r.person);
    }
    let truth: Vec<u64> = recs.iter().map(|r| r.entity).collect();
    let t2 = Instant::now();
    let res = run(&data, &LinkOptions { min_probability: 0.1, ..Default::default() }, Some(&truth), &())
        .expect("run");
    let t3 = Instant::now();
    println!("generate {:?}  prepare {:?}  link {:?}", t1 - t0, t2 - t1, t3 - t2);
    let b = &res.blocking;
    for p in &b.passes {
        println!(
            "  {:28} pairs {:>10}  oversized {:>5} ({} pairs)",
            p.pass.name(),
            p.pairs,
            p.oversized_blocks,
            p.skipped_pairs
        );
    }
    println!(
        "candidates {}  reduction {:.6}  blocking recall {:.4}",
        b.candidate_pairs,
        b.reduction_ratio(),
        b.recall().unwrap_or(f64::NAN)
    );
    println!("prior {:.3e}", res.model.prior);
    for f in &res.model.fields {
        let w: Vec<String> = f.levels.iter().map(|l| format!("{}={:.1}", l.name, l.weight())).collect();
        println!("  {}: {}", f.name, w.join(" "));
    }
    let total = count_true_pairs(&truth, None);
    for m in evaluate(&res.pairs, &truth, &truth, total, &[0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99]) {
        println!(
            "  t={:.2}  P={:.4} R={:.4} F1={:.4}  (tp {} fp {} fn {})",
            m.threshold, m.precision, m.recall, m.f1, m.true_positives, m.false_positives, m.false_negatives
        );
    }
}
