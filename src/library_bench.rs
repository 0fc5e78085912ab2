//! `enlace bench-library`: the network library's search (issue 8). Fills a fresh SQLite
//! workspace with generated library items (titles in es/en/fr, summaries, topics, a fifth of
//! them visible to some states only) through the same use case the pages and the API call,
//! then times searches of one to three words, typed with or without accents, as an officer
//! (`App::library`, what `/library?q=` and `/api/v1/library?q=` call).

use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use enlace_app::network::Edit;
use enlace_app::{App, Db, Settings};
use enlace_domain::country::CountryCode;
use enlace_domain::network::{Lang, LibraryItemData, LibraryKind, Titles};
use enlace_domain::person::{LongText, ShortText};

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Library items to generate.
    #[arg(long, default_value_t = 10_000)]
    items: usize,
    /// Timed searches.
    #[arg(long, default_value_t = 1_000)]
    searches: usize,
    /// Seed of the generator.
    #[arg(long, default_value_t = 2016)]
    seed: u64,
}

const STATES: [&str; 11] = ["BZ", "CA", "CR", "DO", "GT", "HN", "MX", "NI", "PA", "SV", "US"];

/// Words of the network's documents (with their accents), in the three languages; the
/// searches are made of the Spanish ones.
const ES: [&str; 24] = [
    "protección",
    "consular",
    "niñez",
    "migrante",
    "acompañada",
    "retorno",
    "asistencia",
    "trabajadores",
    "campaña",
    "regional",
    "detención",
    "notificación",
    "familias",
    "desaparecidos",
    "albergue",
    "derechos",
    "humanos",
    "lineamientos",
    "buenas",
    "prácticas",
    "taller",
    "memorándum",
    "cooperación",
    "víctimas",
];
const EN: [&str; 12] = [
    "consular",
    "protection",
    "children",
    "migrant",
    "workers",
    "return",
    "detention",
    "shelter",
    "campaign",
    "guidelines",
    "missing",
    "families",
];
const FR: [&str; 10] = [
    "protection",
    "consulaire",
    "enfants",
    "migrants",
    "travailleurs",
    "retour",
    "détention",
    "campagne",
    "familles",
    "disparus",
];

fn pick<'a>(rng: &mut fastrand::Rng, words: &[&'a str], n: usize) -> Vec<&'a str> {
    (0..n).map(|_| words[rng.usize(..words.len())]).collect()
}

/// A text of `n` words: each a domain word one time in six, else one of `filler` words of a
/// larger vocabulary (so that a domain word is in a few percent of the items, as in a real
/// library, not in all of them).
fn sentence(rng: &mut fastrand::Rng, domain: &[&str], filler: &[String], n: usize) -> String {
    (0..n)
        .map(|_| {
            if rng.u8(..6) == 0 {
                domain[rng.usize(..domain.len())].to_string()
            } else {
                filler[rng.usize(..filler.len())].clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn text(s: &str) -> Result<ShortText> {
    ShortText::parse(s).map_err(anyhow::Error::msg)
}

pub async fn run(args: BenchArgs) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("enlace-bench-library-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let db = Db::connect(None, &dir).await.context("cannot open the benchmark database")?;
    let app = App::new(db, Settings { enforce_mfa: false, ..Settings::default() });
    app.prepare().await.map_err(crate::explain)?;
    app.seed_demo_users().await.map_err(crate::explain)?;
    let secretariat = app.actor_for("analyst.crm").await.map_err(crate::explain)?;
    let officer = app.actor_for("officer.hn.tapachula").await.map_err(crate::explain)?;
    let mut rng = fastrand::Rng::with_seed(args.seed);
    let kinds = LibraryKind::ALL;
    // 3,000 made-up words (syllables of Spanish shape) for the rest of each text.
    let syllables =
        ["ra", "to", "men", "ción", "de", "li", "sa", "vo", "ta", "ne", "co", "mu", "pé", "gar", "bi"];
    let filler: Vec<String> = (0..3000)
        .map(|_| (0..2 + rng.usize(..3)).map(|_| syllables[rng.usize(..syllables.len())]).collect::<String>())
        .collect();
    let t = Instant::now();
    for i in 0..args.items {
        let es = sentence(&mut rng, &ES, &filler, 6);
        let en = sentence(&mut rng, &EN, &filler, 5);
        let fr = sentence(&mut rng, &FR, &filler, 5);
        let summary = sentence(&mut rng, &ES, &filler, 40);
        let visible_to = if rng.u8(..5) == 0 {
            vec![CountryCode::parse(STATES[rng.usize(..STATES.len())])?]
        } else {
            Vec::new()
        };
        let data = LibraryItemData {
            title: Titles { es: Some(text(&es)?), en: Some(text(&en)?), fr: Some(text(&fr)?) },
            summary: Some(LongText::parse(&summary).map_err(anyhow::Error::msg)?),
            kind: kinds[i % kinds.len()],
            state: Some(CountryCode::parse(STATES[rng.usize(..STATES.len())])?),
            topic: Some(text(&sentence(&mut rng, &ES, &filler, 2))?),
            audience: None,
            language: [Lang::Es, Lang::En, Lang::Fr][rng.usize(..3)],
            date: chrono::NaiveDate::from_ymd_opt(
                2010 + rng.i32(0..16),
                1 + rng.u32(..12),
                1 + rng.u32(..28),
            )
            .context("a date")?,
            meeting: None,
            agreement: None,
            group: None,
            visible_to,
        };
        app.edit_workspace(&secretariat, Edit::Library { id: None, data }).await.map_err(crate::explain)?;
    }
    eprintln!("{} items shared in {:.1} s", args.items, t.elapsed().as_secs_f64());
    // Queries of one to three words, half of them typed without accents.
    let mut ms = Vec::with_capacity(args.searches);
    let mut found = 0usize;
    let mut empty = 0usize;
    for _ in 0..args.searches {
        let n = 1 + rng.usize(..3);
        let mut q = pick(&mut rng, &ES, n).join(" ");
        if rng.bool() {
            q = enlace_domain::text::fold(&q);
        }
        let t = Instant::now();
        let hits = app.library(&officer, Some(&q)).await.map_err(crate::explain)?;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        found += hits.len();
        if hits.is_empty() {
            empty += 1;
        }
    }
    ms.sort_by(f64::total_cmp);
    let at = |p: f64| ms[((ms.len() as f64 * p).ceil() as usize).clamp(1, ms.len()) - 1];
    println!("| items | searches | p50 ms | p95 ms | p99 ms | max ms | mean hits | no hit |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.0} | {} |",
        args.items,
        args.searches,
        at(0.50),
        at(0.95),
        at(0.99),
        ms[ms.len() - 1],
        found as f64 / args.searches as f64,
        empty
    );
    app.db().close().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
