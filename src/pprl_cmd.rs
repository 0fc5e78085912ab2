//! `enlace pprl`: privacy-preserving record linkage from the command line. The encodings and
//! the matcher are in `enlace-pprl`; this module reads and writes the files.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};
use enlace_pprl::{
    BloomFilter, Encoder, EncoderConfig, FieldSpec, FilterSet, Hardening, MatchOptions, Role, match_sets,
};

#[derive(Subcommand)]
pub(crate) enum PprlCommand {
    /// Encodes the records of a CSV file as keyed Bloom filters (CLK), written as CSV
    /// `id,encoding` with the bits in standard base64. Both parties must use the same secret,
    /// roles, --bits, --hashes and --hardening.
    Encode(EncodeArgs),
    /// Compares every encoding of A with every encoding of B (Dice coefficient) and writes the
    /// pairs at or above the threshold as CSV `a_id,b_id,similarity`, ordered by A's records,
    /// then by decreasing similarity.
    Match(MatchArgs),
}

#[derive(Args)]
pub(crate) struct EncodeArgs {
    /// The CSV file of records (with a header line).
    input: PathBuf,
    /// The column holding each record's identifier (copied to the output).
    #[arg(long)]
    id_column: String,
    /// A column to encode and its role: given_names, surnames, full_name, birth_date,
    /// birth_year, sex, nationality, birth_place, place, document, exact or text. Repeat for
    /// each column.
    #[arg(long = "map", value_name = "COLUMN=ROLE", required = true)]
    map: Vec<String>,
    /// The file holding the shared secret (at least 16 bytes; surrounding whitespace is
    /// ignored). It is never printed.
    #[arg(long)]
    secret_file: PathBuf,
    /// Length of each encoding in bits (a multiple of 64).
    #[arg(long, default_value_t = enlace_pprl::DEFAULT_BITS)]
    bits: usize,
    /// Bits each token of a column sets, instead of its role's default. Repeatable.
    #[arg(long = "hashes", value_name = "COLUMN=K")]
    hashes: Vec<String>,
    /// Hardening: none, balance (every encoding exactly half full) or xor-fold.
    #[arg(long, default_value = "none", value_parser = Hardening::NAMES)]
    hardening: String,
    /// Write here instead of standard output.
    #[arg(long)]
    output: Option<PathBuf>,
}

#[derive(Args)]
pub(crate) struct MatchArgs {
    /// The first file of encodings (CSV `id,encoding`).
    a: PathBuf,
    /// The second file of encodings.
    b: PathBuf,
    /// Keep pairs whose Dice coefficient is at least this.
    #[arg(long, default_value_t = 0.8)]
    threshold: f64,
    /// Keep only the K most similar records of B for each record of A.
    #[arg(long, value_name = "K")]
    top_k: Option<usize>,
    /// Pair each record at most once (greedily, most similar pairs first).
    #[arg(long)]
    one_to_one: bool,
    /// Worker threads (default: every core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Write here instead of standard output.
    #[arg(long)]
    output: Option<PathBuf>,
}

pub(crate) fn run(command: PprlCommand) -> Result<()> {
    match command {
        PprlCommand::Encode(args) => encode(args),
        PprlCommand::Match(args) => match_files(args),
    }
}

/// The output: a file or standard output.
fn sink(output: &Option<PathBuf>) -> Result<Box<dyn Write>> {
    Ok(match output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    })
}

/// A CSV file read whole: its header and its rows with their line numbers.
struct Table {
    header: Vec<String>,
    rows: Vec<(u64, csv::StringRecord)>,
}

/// Reads a CSV file whole; every row must be as long as the header.
fn read_csv(path: &Path) -> Result<Table> {
    let name = path.display();
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {name}"))?;
    // Spreadsheets often start UTF-8 files with a byte order mark; it is not part of a name.
    let text = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&bytes);
    if text.iter().all(|b| b.is_ascii_whitespace()) {
        bail!("{name} is empty");
    }
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(text);
    let header: Vec<String> =
        reader.headers().map_err(|e| csv_error(&name, e))?.iter().map(str::to_string).collect();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(&name, e))?;
        let line = record.position().map_or(0, |p| p.line());
        rows.push((line, record));
    }
    if rows.is_empty() {
        bail!("{name} has a header line but no records");
    }
    Ok(Table { header, rows })
}

fn csv_error(name: &impl std::fmt::Display, e: csv::Error) -> anyhow::Error {
    let line = e.position().map(|p| p.line());
    let at = line.map_or(String::new(), |l| format!(" line {l}"));
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => anyhow!("{name}{at}: not valid UTF-8"),
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            anyhow!("{name}{at}: ragged row: {len} fields where the header has {expected_len}")
        }
        _ => anyhow!("{name}{at}: {e}"),
    }
}

fn column(header: &[String], name: &str, file: &Path) -> Result<usize> {
    header.iter().position(|h| h == name).ok_or_else(|| {
        anyhow!("column `{name}` not found in {} (columns: {})", file.display(), header.join(", "))
    })
}

fn read_secret(path: &Path) -> Result<Vec<u8>> {
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read the secret file {}", path.display()))?;
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(start, |i| i + 1);
    if start >= end {
        bail!("the secret file {} is empty", path.display());
    }
    Ok(bytes[start..end].to_vec())
}

fn encode(args: EncodeArgs) -> Result<()> {
    let Table { header, rows } = read_csv(&args.input)?;
    let id_col = column(&header, &args.id_column, &args.input)?;
    let mut columns = Vec::new();
    let mut fields = Vec::new();
    for m in &args.map {
        let (col, role) = m.rsplit_once('=').ok_or_else(|| anyhow!("--map {m}: expected COLUMN=ROLE"))?;
        let role: Role = role.parse().with_context(|| format!("--map {m}"))?;
        columns.push(column(&header, col, &args.input)?);
        fields.push(FieldSpec { role, hashes: None });
    }
    for h in &args.hashes {
        let (col, k) = h.rsplit_once('=').ok_or_else(|| anyhow!("--hashes {h}: expected COLUMN=K"))?;
        let k: u32 = k.parse().map_err(|_| anyhow!("--hashes {h}: `{k}` is not a whole number"))?;
        let idx = column(&header, col, &args.input)?;
        let mut any = false;
        for (field, &c) in fields.iter_mut().zip(&columns) {
            if c == idx {
                field.hashes = Some(k);
                any = true;
            }
        }
        if !any {
            bail!("--hashes {h}: column `{col}` is not given to --map");
        }
    }
    let hardening: Hardening = args.hardening.parse()?;
    let secret = read_secret(&args.secret_file)?;
    let encoder =
        Encoder::new(&secret, &EncoderConfig { bits: args.bits, fields: fields.clone(), hardening })?;
    drop(secret);

    // Every id is checked before the output is created, so a bad file leaves no partial one.
    let mut seen = HashSet::new();
    for (line, record) in &rows {
        let id = record.get(id_col).unwrap_or("").trim();
        if id.is_empty() {
            bail!("{} line {line}: empty id", args.input.display());
        }
        if !seen.insert(id) {
            bail!("{} line {line}: duplicate id `{id}`", args.input.display());
        }
    }
    drop(seen);

    let pb = crate::bar(Some(rows.len() as u64), "encoding");
    let mut out = csv::Writer::from_writer(sink(&args.output)?);
    out.write_record(["id", "encoding"])?;
    let (mut fill_sum, mut fill_max, mut unreadable, mut over_half) = (0.0, 0.0f64, 0usize, 0usize);
    for (i, (_, record)) in rows.iter().enumerate() {
        let id = record.get(id_col).unwrap_or("").trim();
        let values: Vec<&str> = columns.iter().map(|&c| record.get(c).unwrap_or("")).collect();
        let encoded = encoder.encode(&values)?;
        let fill = encoded.filter.fill();
        fill_sum += fill;
        fill_max = fill_max.max(fill);
        over_half += usize::from(fill > 0.5);
        unreadable += encoded.unreadable;
        out.write_record([id, encoded.filter.to_base64().as_str()])?;
        if i % 1024 == 0 {
            pb.set_position(i as u64);
        }
    }
    out.flush().context("cannot write the encodings")?;
    pb.finish_and_clear();

    let n = rows.len();
    let hashes: Vec<String> =
        fields.iter().zip(encoder.hashes()).map(|(f, k)| format!("{}={k}", f.role)).collect();
    eprintln!(
        "encoded {n} records as {}-bit filters (hardening {}; bits per token: {}); fill: mean {:.1} %, max {:.1} %",
        encoder.bits(),
        hardening.name(),
        hashes.join(", "),
        100.0 * fill_sum / n as f64,
        100.0 * fill_max
    );
    if unreadable > 0 {
        eprintln!(
            "{unreadable} values could not be read (dates in none of YYYY-MM-DD, YYYYMMDD, DD/MM/YYYY) and count as missing"
        );
    }
    if over_half > 0 && hardening != Hardening::Balance {
        eprintln!(
            "warning: {over_half} of {n} filters are more than half full, which blurs the similarities: use more --bits or fewer --hashes"
        );
    }
    Ok(())
}

/// Reads a file of encodings: ids and filters, all of one length.
fn read_encodings(path: &Path) -> Result<(Vec<String>, Vec<BloomFilter>)> {
    let name = path.display();
    let Table { header, rows } = read_csv(path)?;
    if header.len() != 2 || header[0].trim() != "id" || header[1].trim() != "encoding" {
        bail!("{name}: expected the header `id,encoding`, found `{}`", header.join(","));
    }
    let mut ids = Vec::with_capacity(rows.len());
    let mut filters: Vec<BloomFilter> = Vec::with_capacity(rows.len());
    let mut seen = HashSet::new();
    for (line, record) in &rows {
        let id = record.get(0).unwrap_or("").trim();
        if id.is_empty() {
            bail!("{name} line {line}: empty id");
        }
        if !seen.insert(id.to_string()) {
            bail!("{name} line {line}: duplicate id `{id}`");
        }
        let filter = BloomFilter::from_base64(record.get(1).unwrap_or(""))
            .with_context(|| format!("{name} line {line}"))?;
        if let Some(first) = filters.first()
            && first.len_bits() != filter.len_bits()
        {
            bail!(
                "{name} line {line}: the encoding has {} bits where the first one has {}",
                filter.len_bits(),
                first.len_bits()
            );
        }
        ids.push(id.to_string());
        filters.push(filter);
    }
    Ok((ids, filters))
}

fn match_files(args: MatchArgs) -> Result<()> {
    let (a_ids, a) = read_encodings(&args.a)?;
    let (b_ids, b) = read_encodings(&args.b)?;
    if a[0].len_bits() != b[0].len_bits() {
        bail!(
            "the encodings differ in length: {} has {}-bit encodings, {} has {}-bit ones",
            args.a.display(),
            a[0].len_bits(),
            args.b.display(),
            b[0].len_bits()
        );
    }
    let (sa, sb) = (FilterSet::new(&a)?, FilterSet::new(&b)?);
    drop((a, b));
    let options = MatchOptions {
        threshold: args.threshold,
        top_k: args.top_k,
        one_to_one: args.one_to_one,
        threads: args.threads,
        kernel: None,
    };
    let pb = crate::bar(Some(sa.len() as u64), "matching");
    let (pairs, summary) = match_sets(&sa, &sb, &options, &|n| pb.inc(n as u64))?;
    pb.finish_and_clear();

    let mut out = csv::Writer::from_writer(sink(&args.output)?);
    out.write_record(["a_id", "b_id", "similarity"])?;
    for p in &pairs {
        out.write_record([a_ids[p.a].as_str(), b_ids[p.b].as_str(), &format!("{:.4}", p.similarity)])?;
    }
    out.flush().context("cannot write the pairs")?;

    let rate = summary.comparisons as f64 / summary.seconds.max(1e-9);
    eprintln!(
        "compared {} x {} = {} pairs in {:.3} s ({:.0} M comparisons/s; {} kernel, {} thread(s)); {} pairs at or above {}{}{}",
        sa.len(),
        sb.len(),
        summary.comparisons,
        summary.seconds,
        rate / 1e6,
        summary.kernel,
        summary.threads,
        pairs.len(),
        args.threshold,
        args.top_k.map_or(String::new(), |k| format!(", top {k} per record")),
        if args.one_to_one { ", one-to-one" } else { "" }
    );
    Ok(())
}
