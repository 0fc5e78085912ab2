//! `enlace bench-regional`: the hub's regional view over 11 states × 5 years (issue 7). Makes a
//! node database with generated cases of the 11 states, computes each state's published
//! statistics for every half-year of five years, stores them as the hub keeps submissions,
//! then times the regional analysts' view (`App::regional_stats`, what `/regional` and
//! `/api/v1/regional/stats` call) of every period, and the regional CSV report.

use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use enlace_app::{App, Db, Settings};
use enlace_domain::country::CountryCode;
use enlace_store::fed::HubStatsRow;

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Generated cases per state.
    #[arg(long, default_value_t = 2000)]
    cases_per_state: u64,
    /// Timed reads of each period's view.
    #[arg(long, default_value_t = 20)]
    repeat: usize,
}

const STATES: [&str; 11] = ["BZ", "CA", "CR", "DO", "GT", "HN", "MX", "NI", "PA", "SV", "US"];

pub async fn run(args: BenchArgs) -> Result<()> {
    let dir = tempfile_dir()?;
    let db = Db::connect(None, &dir).await.context("cannot open the benchmark database")?;
    let app = App::new(db, Settings { enforce_mfa: false, ..Settings::default() });
    app.prepare().await.map_err(crate::explain)?;
    app.seed_demo_users().await.map_err(crate::explain)?;
    let owners: Vec<CountryCode> = STATES.iter().map(|s| CountryCode::parse(s)).collect::<Result<_, _>>()?;
    let t = Instant::now();
    crate::generate(&app, args.cases_per_state * STATES.len() as u64, 2016, 400, owners.clone()).await?;
    eprintln!(
        "generated {} cases in {:.1} s",
        args.cases_per_state * STATES.len() as u64,
        t.elapsed().as_secs_f64()
    );
    let year = chrono::Utc::now().format("%Y").to_string().parse::<i32>()?;
    let periods: Vec<String> =
        (year - 4..=year).flat_map(|y| [format!("{y}-H1"), format!("{y}-H2")]).collect();
    let now = chrono::Utc::now();
    let t = Instant::now();
    let mut stored = 0;
    for state in &owners {
        for label in &periods {
            let Ok(stats) = app.report_stats(*state, label).await else { continue };
            let p = enlace_app::hub::submission_payload(&stats).map_err(crate::explain)?;
            let row = HubStatsRow {
                state: state.as_str().to_string(),
                period: stats.period.label.clone(),
                period_from: stats.period.from,
                from_node: state.as_str().to_lowercase(),
                message_id: uuid::Uuid::now_v7(),
                received_at: now,
                body: serde_json::json!({"tables": p["tables"], "art36": p["art36"]}),
            };
            app.db()
                .write(move |tx| {
                    let row = row.clone();
                    Box::pin(async move { enlace_store::fed::put_hub_stats(tx, &row).await })
                })
                .await?;
            stored += 1;
        }
    }
    eprintln!("{stored} submissions stored in {:.1} s", t.elapsed().as_secs_f64());
    let analyst = app.actor_for("analyst.crm").await.map_err(crate::explain)?;
    let mut all = Vec::new();
    println!("| period | states | p50 ms | max ms |");
    println!("|---|---:|---:|---:|");
    for label in &periods {
        let mut ms = Vec::new();
        let mut states = 0;
        for _ in 0..args.repeat {
            let t = Instant::now();
            let v = app.regional_stats(&analyst, label).await.map_err(crate::explain)?;
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
            states = v.states.len();
        }
        ms.sort_by(f64::total_cmp);
        println!("| {label} | {states} | {:.2} | {:.2} |", ms[ms.len() / 2], ms[ms.len() - 1]);
        all.extend(ms);
    }
    all.sort_by(f64::total_cmp);
    println!(
        "all views: {} reads, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        all.len(),
        all[all.len() / 2],
        all[(all.len() * 99 / 100).min(all.len() - 1)],
        all[all.len() - 1]
    );
    let t = Instant::now();
    let report = app.regional_report(periods.last().expect("periods")).await.map_err(crate::explain)?;
    let csv = enlace_web::report::grcm_csv_of(&report, enlace_web::ui::i18n::Locale::Es)
        .map_err(anyhow::Error::msg)?;
    println!(
        "regional CSV report of {}: {} states, {} bytes in {:.1} ms",
        periods.last().expect("periods"),
        report.len(),
        csv.len(),
        t.elapsed().as_secs_f64() * 1000.0
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn tempfile_dir() -> Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("enlace-bench-regional-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}
