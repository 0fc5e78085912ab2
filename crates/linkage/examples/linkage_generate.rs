//! Writes generated person records as CSV (with the true entity of each record), for the
//! benchmarks of `enlace link` and the Splink comparison.
//!
//! cargo run --release -p enlace-linkage --example linkage_generate -- RECORDS SEED > records.csv

use std::io::Write;

use enlace_linkage::Birth;
use enlace_linkage::generate::{GenerateOptions, generate};

fn field(s: &str) -> String {
    if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let seed: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(2026);
    let recs = generate(&GenerateOptions { records: n, seed, ..Default::default() });
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    writeln!(
        out,
        "id,entity,given_names,surname_1,surname_2,birth_date,birth_year,sex,nationality,birth_place,document"
    )?;
    for r in &recs {
        let p = &r.person;
        // Dates in the three formats the command reads; estimated ages as a year.
        let (date, year) = match p.birth {
            Birth::Date { date } => {
                let d = match r.id % 10 {
                    0 | 1 => format!("{:02}/{:02}/{:04}", date.day, date.month, date.year),
                    2 => format!("{:04}{:02}{:02}", date.year, date.month, date.day),
                    _ => date.to_string(),
                };
                (d, String::new())
            }
            b @ (Birth::Year { .. } | Birth::Range { .. }) => {
                (String::new(), b.year().map_or(String::new(), |y| y.to_string()))
            }
            Birth::Unknown => (String::new(), String::new()),
        };
        let a = |i: usize| p.attributes.get(i).cloned().flatten().unwrap_or_default();
        writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{}",
            r.id,
            r.entity,
            field(&p.given_names.join(" ")),
            field(p.surnames.first().map_or("", String::as_str)),
            field(p.surnames.get(1).map_or("", String::as_str)),
            date,
            year,
            field(&a(0)),
            field(&a(1)),
            field(&a(2)),
            field(&a(3)),
        )?;
    }
    out.flush()
}
