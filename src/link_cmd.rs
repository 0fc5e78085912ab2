//! `enlace link`: deduplicates one CSV file or links two, with the person-linkage engine.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use enlace_linkage::link::{Dataset, LinkOptions, Progress, count_true_pairs, evaluate, run};
use enlace_linkage::{Attribute, AttributeKind, Birth, Date, Model, Person, Schema};
use indicatif::{ProgressBar, ProgressStyle};

/// Arguments of `enlace link`.
#[derive(clap::Args)]
pub struct LinkArgs {
    /// The CSV file to deduplicate, or the left side of a linkage.
    left: PathBuf,
    /// The right side of a linkage (without it, LEFT is deduplicated).
    right: Option<PathBuf>,
    /// The column holding each record's id.
    #[arg(long)]
    id_column: String,
    /// COLUMN=ROLE, once per column used. Roles: given_names, surnames, full_name, birth_date,
    /// birth_year, sex, nationality, birth_place, place, document, exact, text. Birth dates are
    /// read as YYYY-MM-DD, YYYYMMDD or DD/MM/YYYY (or a lone year); other values count as missing.
    #[arg(long = "map", value_name = "COLUMN=ROLE", required = true)]
    map: Vec<String>,
    /// Pairs below this match probability are not written.
    #[arg(long, default_value_t = 0.5)]
    min_probability: f64,
    /// Keep each record in at most one pair (most probable pairs first).
    #[arg(long)]
    one_to_one: bool,
    /// Where to write the pairs (default: standard output).
    #[arg(long)]
    output: Option<PathBuf>,
    /// A model (JSON) to score with, instead of training one on the input.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Write the model used (trained or given) as JSON to this file.
    #[arg(long)]
    save_model: Option<PathBuf>,
    /// A column holding the true entity of each record (for evaluation): the summary then
    /// gives blocking recall, precision, recall and F1.
    #[arg(long)]
    truth_column: Option<String>,
}

/// The roles a column can play: the vocabulary `enlace pprl` uses too.
use enlace_pprl::Role;

/// The column mapping: which column feeds which part of a person.
struct Mapping {
    columns: Vec<(String, Role)>,
    schema: Schema,
    /// For each mapped column that is an attribute, its index in the schema.
    attribute_of: Vec<Option<usize>>,
}

fn parse_mapping(maps: &[String]) -> Result<Mapping> {
    let mut columns: Vec<(String, Role)> = Vec::new();
    for m in maps {
        let Some((col, role)) = m.split_once('=') else {
            bail!("--map {m:?}: expected COLUMN=ROLE");
        };
        let (col, role) = (col.trim(), role.trim());
        if col.is_empty() {
            bail!("--map {m:?}: the column name is empty");
        }
        let Some(r) = Role::ALL.into_iter().find(|r| r.name() == role) else {
            let names: Vec<&str> = Role::ALL.iter().map(|r| r.name()).collect();
            bail!("--map {m:?}: unknown role {role:?} (roles: {})", names.join(", "));
        };
        if columns.iter().any(|(c, _)| c == col) {
            bail!("--map: column {col:?} is mapped twice");
        }
        columns.push((col.to_string(), r));
    }
    let mut attributes: Vec<Attribute> = Vec::new();
    let mut attribute_of = Vec::new();
    for (col, role) in &columns {
        let (name, kind) = match role {
            Role::Sex => ("sex".to_string(), AttributeKind::Exact),
            Role::Nationality => ("nationality".to_string(), AttributeKind::Exact),
            Role::BirthPlace => ("birth_place".to_string(), AttributeKind::Text),
            Role::Place => ("place".to_string(), AttributeKind::Text),
            Role::Document => ("document".to_string(), AttributeKind::Document),
            Role::Exact => (col.clone(), AttributeKind::Exact),
            Role::Text => (col.clone(), AttributeKind::Text),
            _ => {
                attribute_of.push(None);
                continue;
            }
        };
        if attributes.iter().any(|a| a.name == name) {
            bail!("--map: role {name} is given to two columns");
        }
        attribute_of.push(Some(attributes.len()));
        attributes.push(Attribute { name, kind });
    }
    if attributes.len() + 3 > enlace_linkage::compare::MAX_FIELDS {
        bail!("--map: at most {} attribute columns", enlace_linkage::compare::MAX_FIELDS - 3);
    }
    Ok(Mapping { columns, schema: Schema::new(attributes), attribute_of })
}

/// What reading one file gave.
struct Side {
    ids: Vec<String>,
    truth: Vec<u64>,
    bad_dates: u64,
}

/// Reads a CSV file into the dataset, checking its header and every row.
/// Entities (of `--truth-column`) are numbered by name across both files.
fn read_side(
    path: &Path,
    args: &LinkArgs,
    mapping: &Mapping,
    data: &mut Dataset,
    entities: &mut HashMap<String, u64>,
) -> Result<Side> {
    let file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let name = path.display().to_string();
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(std::io::BufReader::new(file));
    let headers = rdr.headers().map_err(|e| csv_error(&name, e))?.clone();
    if headers.is_empty() || (headers.len() == 1 && headers[0].is_empty()) {
        bail!("{name}: the file is empty (no header line)");
    }
    let col = |c: &str| -> Result<usize> {
        headers.iter().position(|h| h.trim() == c).with_context(|| {
            let have: Vec<&str> = headers.iter().collect();
            format!("{name}: no column {c:?} (the columns are: {})", have.join(", "))
        })
    };
    let id_col = col(&args.id_column)?;
    let truth_col = args.truth_column.as_deref().map(col).transpose()?;
    let cols: Vec<usize> = mapping.columns.iter().map(|(c, _)| col(c)).collect::<Result<_>>()?;
    let mut side = Side { ids: Vec::new(), truth: Vec::new(), bad_dates: 0 };
    let mut record = csv::StringRecord::new();
    let n_attrs = mapping.schema.attributes.len();
    loop {
        match rdr.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_error(&name, e)),
        }
        let mut p = Person { attributes: vec![None; n_attrs], ..Default::default() };
        let mut full_name: Option<&str> = None;
        let (mut date, mut year) = (None, None);
        for (k, &c) in cols.iter().enumerate() {
            let v = record.get(c).unwrap_or("").trim();
            if v.is_empty() {
                continue;
            }
            match mapping.columns[k].1 {
                Role::GivenNames => p.given_names.push(v.to_string()),
                Role::Surnames => p.surnames.push(v.to_string()),
                Role::FullName => full_name = Some(v),
                // A birth date column may hold only a year for some people.
                Role::BirthDate => match (Date::parse(v), Birth::parse_year(v)) {
                    (Some(d), _) => date = Some(d),
                    (None, Some(y)) => year = Some(y),
                    (None, None) => side.bad_dates += 1,
                },
                Role::BirthYear => match Birth::parse_year(v) {
                    Some(b) => year = Some(b),
                    None => side.bad_dates += 1,
                },
                _ => {
                    if let Some(a) = mapping.attribute_of[k] {
                        p.attributes[a] = Some(v.to_string());
                    }
                }
            }
        }
        if let Some(f) = full_name.filter(|_| p.given_names.is_empty() && p.surnames.is_empty()) {
            let s = enlace_linkage::names::split_full_name(f);
            p.given_names = s.given_names;
            p.surnames = s.surnames;
        }
        p.birth = match (date, year) {
            (Some(d), _) => Birth::Date { date: d },
            (None, Some(y)) => y,
            (None, None) => Birth::Unknown,
        };
        data.push(&p);
        side.ids.push(record.get(id_col).unwrap_or("").to_string());
        if let Some(t) = truth_col {
            let key = record.get(t).unwrap_or("").to_string();
            let next = entities.len() as u64;
            side.truth.push(*entities.entry(key).or_insert(next));
        }
    }
    if side.ids.is_empty() {
        bail!("{name}: the file has a header but no records");
    }
    Ok(side)
}

/// Turns a CSV error into a message that names the file and the line.
fn csv_error(name: &str, e: csv::Error) -> anyhow::Error {
    let line =
        |pos: &Option<csv::Position>| pos.as_ref().map_or(String::new(), |p| format!(" line {}", p.line()));
    match e.kind() {
        csv::ErrorKind::Utf8 { pos, .. } => anyhow::anyhow!("{name}:{}: not valid UTF-8 text", line(pos)),
        csv::ErrorKind::UnequalLengths { pos, expected_len, len } => anyhow::anyhow!(
            "{name}:{}: the row has {len} fields but the header has {expected_len}",
            line(pos)
        ),
        csv::ErrorKind::Io(io) => anyhow::anyhow!("{name}: cannot read: {io}"),
        _ => anyhow::anyhow!("{name}: {e}"),
    }
}

/// A progress bar on standard error (hidden when it is not a terminal).
struct Bar(ProgressBar);

impl Progress for Bar {
    fn stage(&self, name: &str, total: u64) {
        self.0.set_position(0);
        self.0.set_length(total);
        let template = if total > 0 {
            "{msg} {bar:40} {pos}/{len} ({per_sec}, {eta} left)"
        } else {
            "{spinner} {msg} ({elapsed})"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            self.0.set_style(style);
        }
        self.0.set_message(name.to_string());
        self.0.tick();
    }
    fn advance(&self, n: u64) {
        self.0.inc(n);
    }
}

/// Runs `enlace link`.
pub fn run_link(args: LinkArgs) -> Result<()> {
    let start = Instant::now();
    if !(0.0..=1.0).contains(&args.min_probability) {
        bail!("--min-probability must be between 0 and 1");
    }
    let mapping = parse_mapping(&args.map)?;
    let model = match &args.model {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            let m = Model::from_json(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            if m.schema != mapping.schema {
                bail!("{}: the model was trained with other roles than these --map options", path.display());
            }
            Some(m)
        }
        None => None,
    };
    let pb = ProgressBar::new_spinner();
    if !std::io::stderr().is_terminal() {
        pb.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let bar = Bar(pb);
    bar.stage("reading", 0);
    let mut data = Dataset::new(mapping.schema.clone());
    let mut entities = HashMap::new();
    let left = read_side(&args.left, &args, &mapping, &mut data, &mut entities)?;
    let right = match &args.right {
        Some(path) => {
            data.begin_right();
            Some(read_side(path, &args, &mapping, &mut data, &mut entities)?)
        }
        None => None,
    };
    let truth: Option<Vec<u64>> = args.truth_column.as_ref().map(|_| {
        left.truth.iter().chain(right.as_ref().map_or(&[][..], |r| &r.truth[..])).copied().collect()
    });
    let opts = LinkOptions {
        model,
        min_probability: args.min_probability,
        one_to_one: args.one_to_one,
        ..Default::default()
    };
    let result = run(&data, &opts, truth.as_deref(), &bar).map_err(|e| anyhow::anyhow!("{e}"))?;
    bar.0.finish_and_clear();
    if let Some(path) = &args.save_model {
        std::fs::write(path, result.model.to_json())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let right_ids = right.as_ref().map_or(&left.ids, |r| &r.ids);
    let write = |out: &mut dyn Write| -> std::io::Result<()> {
        let mut w = std::io::BufWriter::new(out);
        writeln!(w, "left_id,right_id,probability,band")?;
        for p in &result.pairs {
            writeln!(
                w,
                "{},{},{:.6},{}",
                csv_field(&left.ids[p.left]),
                csv_field(&right_ids[p.right]),
                p.probability,
                p.band.as_str()
            )?;
        }
        w.flush()
    };
    match &args.output {
        Some(path) => {
            let mut f =
                std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
            write(&mut f).with_context(|| format!("cannot write {}", path.display()))?;
        }
        None => write(&mut std::io::stdout().lock()).context("cannot write to standard output")?,
    }
    // The summary.
    let b = &result.blocking;
    let sides = match &right {
        Some(r) => format!("{} + {} records", left.ids.len(), r.ids.len()),
        None => format!("{} records", left.ids.len()),
    };
    let bad_dates = left.bad_dates + right.as_ref().map_or(0, |r| r.bad_dates);
    eprintln!("{sides}; unparseable birth dates or years (counted as missing): {bad_dates}");
    eprintln!(
        "pairs compared: {} of {} possible (reduction {:.6}){}",
        b.candidate_pairs,
        b.possible_pairs,
        b.reduction_ratio(),
        b.recall().map_or(String::new(), |r| format!("; blocking recall {r:.4}"))
    );
    for p in &b.passes {
        eprintln!(
            "  pass {:28} {:>12} pairs; {} blocks over the cap of {} skipped",
            p.pass.name(),
            p.pairs,
            p.oversized_blocks,
            opts.blocking.passes.iter().find(|c| c.pass == p.pass).map_or(0, |c| c.max_block)
        );
    }
    let likely = result.pairs.iter().filter(|p| p.band == enlace_linkage::Band::Likely).count();
    eprintln!(
        "pairs written: {} (likely {likely}, possible {}) at probability ≥ {}",
        result.pairs.len(),
        result.pairs.len() - likely,
        args.min_probability
    );
    if let Some(t) = &truth {
        let split = right.as_ref().map(|_| left.ids.len());
        let total = count_true_pairs(t, split);
        let (tl, tr) = match split {
            Some(s) => (&t[..s], &t[s..]),
            None => (&t[..], &t[..]),
        };
        let mut thresholds: Vec<f64> =
            [0.5, 0.8, 0.9, 0.95, 0.99].into_iter().filter(|x| *x >= args.min_probability).collect();
        if !thresholds.contains(&args.min_probability) {
            thresholds.insert(0, args.min_probability);
        }
        for m in evaluate(&result.pairs, tl, tr, total, &thresholds) {
            eprintln!(
                "  at {:.2}: precision {:.4} recall {:.4} F1 {:.4} ({} true pairs)",
                m.threshold, m.precision, m.recall, m.f1, total
            );
        }
    }
    eprintln!("time: {:.2} s", start.elapsed().as_secs_f64());
    Ok(())
}

/// Quotes a CSV field when needed.
fn csv_field(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\"")).into()
    } else {
        s.into()
    }
}
