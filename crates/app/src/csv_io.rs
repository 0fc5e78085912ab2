//! CSV import and export of cases. The columns are documented in `docs/csv.md`.
//!
//! Import checks every row before writing anything: a file with a bad row imports nothing
//! unless the caller asks to skip invalid rows. All good rows go in one transaction.

use std::io::{Read, Write};

use chrono::{DateTime, NaiveDate, Utc};
use enlace_domain::case::{
    Case, CaseParts, Category, LegalBasis, NotAcceptedReason, Protection, Subtype, Vulnerability,
};
use enlace_domain::country::CountryCode;
use enlace_domain::person::{
    Birth, DocumentKind, IdentityDocument, LanguageCode, LongText, Name, PersonData, Sex, ShortText,
};
use enlace_domain::post::PostCode;
use enlace_store::cases::Scope;

use crate::cases::NewCase;
use crate::{Actor, App, AppError, audit, event};

/// What an import reports as it goes: the stage and the rows done.
pub type Progress = std::sync::Arc<dyn Fn(&str, u64) + Send + Sync>;

/// The columns an import reads, in the order an export writes them.
pub const IMPORT_COLUMNS: &[&str] = &[
    "owner_state",
    "post",
    "host_state",
    "category",
    "subtype",
    "vulnerabilities",
    "protection",
    "protection_accepted_at",
    "legal_basis",
    "given_names",
    "surnames",
    "sex",
    "birth_date",
    "birth_year",
    "age_min",
    "age_max",
    "age_estimated_on",
    "birth_place",
    "birth_state",
    "nationalities",
    "document_kind",
    "document_number",
    "document_state",
    "languages",
    "interpreter_needed",
    "narrative",
    "parts",
];
/// Columns an export adds in front; an import accepts and ignores them (the node assigns them).
pub const EXPORT_ONLY_COLUMNS: &[&str] = &["number", "id", "status", "opened_at", "updated_at", "closed_at"];
const REQUIRED: &[&str] = &["host_state", "category", "subtype", "legal_basis", "sex"];

/// One problem in one cell (or row, when `column` is empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// 1-based line in the file (the header is line 1).
    pub line: u64,
    pub column: String,
    pub reason: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.column.is_empty() {
            write!(f, "line {}: {}", self.line, self.reason)
        } else {
            write!(f, "line {}, column {}: {}", self.line, self.column, self.reason)
        }
    }
}

#[derive(Debug)]
pub struct ImportReport {
    pub rows: u64,
    pub imported: u64,
    pub errors: Vec<RowError>,
}

impl ImportReport {
    /// The report as CSV: `line,column,reason`.
    pub fn write_csv(&self, w: impl Write) -> std::io::Result<()> {
        let mut out = csv::Writer::from_writer(w);
        out.write_record(["line", "column", "reason"])?;
        for e in &self.errors {
            out.write_record([e.line.to_string(), e.column.clone(), e.reason.clone()])?;
        }
        out.flush()
    }
}

/// Why a whole file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    File(String),
    #[error("{} invalid row(s); nothing was imported (use --skip-invalid to import the valid rows)", .0.errors.len())]
    Invalid(ImportReport),
    #[error(transparent)]
    App(#[from] AppError),
}

struct Row<'a> {
    rec: &'a csv::StringRecord,
    idx: &'a std::collections::HashMap<String, usize>,
    line: u64,
    errors: Vec<RowError>,
}

impl Row<'_> {
    fn get(&self, col: &str) -> Option<&str> {
        self.idx.get(col).and_then(|i| self.rec.get(*i)).map(str::trim).filter(|s| !s.is_empty())
    }
    fn err(&mut self, col: &str, reason: impl Into<String>) {
        self.errors.push(RowError { line: self.line, column: col.to_string(), reason: reason.into() });
    }
    fn parse<T, E: std::fmt::Display>(
        &mut self,
        col: &str,
        f: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        let v = self.get(col)?.to_string();
        match f(&v) {
            Ok(x) => Some(x),
            Err(e) => {
                self.err(col, e.to_string());
                None
            }
        }
    }
    fn required<T, E: std::fmt::Display>(
        &mut self,
        col: &str,
        f: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        if self.get(col).is_none() {
            self.err(col, "is required");
            return None;
        }
        self.parse(col, f)
    }
    fn list<T, E: std::fmt::Display>(&mut self, col: &str, f: impl Fn(&str) -> Result<T, E>) -> Vec<T> {
        let Some(v) = self.get(col).map(str::to_string) else { return Vec::new() };
        let mut out = Vec::new();
        for part in v.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            match f(part) {
                Ok(x) => out.push(x),
                Err(e) => self.err(col, format!("{part:?}: {e}")),
            }
        }
        out
    }
}

fn enum_parse<T>(
    what: &'static str,
    f: fn(&str) -> Option<T>,
    all: &[&str],
) -> impl Fn(&str) -> Result<T, String> {
    let allowed = all.join(", ");
    move |s: &str| f(s).ok_or_else(|| format!("\"{s}\" is not a {what} (one of: {allowed})"))
}

fn names<T: Copy>(all: &[T], f: fn(T) -> &'static str) -> Vec<&'static str> {
    all.iter().map(|x| f(*x)).collect()
}

fn ts(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("\"{s}\" is not a date and time like 2026-11-29T08:30:00Z"))
}

fn date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| format!("\"{s}\" is not a date like 2026-11-29"))
}

/// Turns one CSV row into a case request, collecting every problem in the row.
fn row_to_case(row: &mut Row, today: NaiveDate) -> Option<NewCase> {
    let cat_names = names(Category::ALL, Category::as_str);
    let sub_names = names(Subtype::ALL, Subtype::as_str);
    let vul_names = names(Vulnerability::ALL, Vulnerability::as_str);
    let lb_names = names(LegalBasis::ALL, LegalBasis::as_str);
    let owner_state = row.parse("owner_state", CountryCode::parse);
    let post = row.parse("post", PostCode::parse);
    let host_state = row.required("host_state", CountryCode::parse);
    let category = row.required("category", enum_parse("category", Category::parse, &cat_names));
    let subtype = row.required("subtype", enum_parse("subtype", Subtype::parse, &sub_names));
    let vulnerabilities =
        row.list("vulnerabilities", enum_parse("vulnerability", Vulnerability::parse, &vul_names));
    let accepted_at = row.parse("protection_accepted_at", ts);
    let protection = match row.get("protection") {
        None | Some("pending") => Some(Protection::Pending),
        Some("accepted") => match accepted_at {
            Some(at) => Some(Protection::Accepted { at }),
            None => {
                row.err("protection_accepted_at", "is required when protection is accepted");
                None
            }
        },
        Some(other) => match NotAcceptedReason::parse(other) {
            Some(reason) => Some(Protection::NotPossible { reason }),
            None => {
                row.err(
                    "protection",
                    format!("\"{other}\" is not one of: pending, accepted, child, unconscious, deceased"),
                );
                None
            }
        },
    };
    let legal_basis = row.required("legal_basis", enum_parse("legal basis", LegalBasis::parse, &lb_names));
    let given_names = row.list("given_names", Name::parse);
    let surnames = row.list("surnames", Name::parse);
    let sex = row.required("sex", |s: &str| {
        Sex::parse(&s.to_ascii_lowercase()).ok_or("is not one of: female, male, other, unknown")
    });
    let birth_date = row.parse("birth_date", date);
    let birth_year = row.parse("birth_year", |s: &str| s.parse::<i32>().map_err(|_| "is not a year"));
    let age_min =
        row.parse("age_min", |s: &str| s.parse::<u8>().map_err(|_| "is not an age in years (0-255)"));
    let age_max =
        row.parse("age_max", |s: &str| s.parse::<u8>().map_err(|_| "is not an age in years (0-255)"));
    let estimated_on = row.parse("age_estimated_on", date);
    let birth = match (birth_date, birth_year, age_min, age_max) {
        (Some(date), _, _, _) => Birth::Date { date },
        (None, Some(year), _, _) => Birth::Year { year },
        (None, None, Some(min_years), Some(max_years)) => {
            Birth::EstimatedAge { min_years, max_years, estimated_on: estimated_on.unwrap_or(today) }
        }
        (None, None, Some(_), None) | (None, None, None, Some(_)) => {
            row.err("age_max", "an estimated age needs both age_min and age_max");
            Birth::Unknown
        }
        _ => Birth::Unknown,
    };
    let birth_place = row.parse("birth_place", ShortText::parse);
    let birth_state = row.parse("birth_state", CountryCode::parse);
    let nationalities = row.list("nationalities", CountryCode::parse);
    let mut documents = Vec::new();
    if let Some(number) = row.parse("document_number", ShortText::parse) {
        let kind = row.parse("document_kind", |s: &str| {
            serde_json::from_value::<DocumentKind>(serde_json::Value::String(s.to_string()))
                .map_err(|_| "is not one of: passport, national_id, birth_certificate, consular_id, travel_document, residence_permit, other")
        });
        let issuing = row.parse("document_state", CountryCode::parse);
        match issuing {
            Some(issuing_state) => documents.push(IdentityDocument {
                kind: kind.unwrap_or(DocumentKind::Other),
                number,
                issuing_state,
            }),
            None if row.get("document_state").is_none() => {
                row.err("document_state", "is required with a document number")
            }
            None => {}
        }
    }
    let languages = row.list("languages", LanguageCode::parse);
    let interpreter_needed = match row.get("interpreter_needed").map(str::to_ascii_lowercase).as_deref() {
        None | Some("false") | Some("no") | Some("0") => false,
        Some("true") | Some("yes") | Some("1") => true,
        Some(other) => {
            row.err("interpreter_needed", format!("\"{other}\" is not true or false"));
            false
        }
    };
    let narrative = row.parse("narrative", LongText::parse);
    let parts: CaseParts = row
        .parse("parts", |s: &str| {
            serde_json::from_str::<CaseParts>(s).map_err(|e| format!("is not valid case parts JSON: {e}"))
        })
        .unwrap_or_default();
    if !row.errors.is_empty() {
        return None;
    }
    Some(NewCase {
        person: Some(PersonData {
            given_names,
            surnames,
            aliases: Vec::new(),
            sex: sex?,
            birth,
            birth_place,
            birth_state,
            nationalities,
            documents,
            languages,
            interpreter_needed,
            father_name: None,
            mother_name: None,
        }),
        person_id: None,
        owner_state,
        post,
        host_state: host_state?,
        category: category?,
        subtype: subtype?,
        vulnerabilities,
        protection: protection?,
        legal_basis: legal_basis?,
        narrative,
        assigned_officer: None,
        detention: parts.detention,
        child: parts.child,
        death: parts.death,
        missing: parts.missing,
        labour: parts.labour,
    })
}

/// The rows of a cases CSV file, each checked on its own (no database): what the import
/// reads, and what its fuzz target feeds with anything.
pub struct CaseRows<R: Read> {
    rdr: csv::Reader<CrlfAsLf<R>>,
    idx: std::collections::HashMap<String, usize>,
    rec: csv::StringRecord,
    rows: u64,
    today: NaiveDate,
}

impl<R: Read> CaseRows<R> {
    /// Reads and checks the header line: known columns, none twice, the required ones.
    pub fn open(input: R, today: NaiveDate) -> Result<Self, ImportError> {
        let input = CrlfAsLf { inner: std::io::BufReader::new(input) };
        let mut rdr = csv::ReaderBuilder::new().flexible(false).from_reader(input);
        let headers = rdr.headers().map_err(|e| ImportError::File(csv_error("header", &e)))?.clone();
        if headers.is_empty() {
            return Err(ImportError::File("the file is empty: it needs a header line and rows".into()));
        }
        let mut idx = std::collections::HashMap::new();
        for (i, h) in headers.iter().enumerate() {
            let h = h.trim().trim_start_matches('\u{feff}');
            if !IMPORT_COLUMNS.contains(&h) && !EXPORT_ONLY_COLUMNS.contains(&h) {
                return Err(ImportError::File(format!(
                    "line 1: unknown column \"{h}\" (columns are listed in docs/csv.md)"
                )));
            }
            if idx.insert(h.to_string(), i).is_some() {
                return Err(ImportError::File(format!("line 1: column \"{h}\" appears twice")));
            }
        }
        if let Some(missing) = REQUIRED.iter().find(|c| !idx.contains_key(**c)) {
            return Err(ImportError::File(format!("line 1: required column \"{missing}\" is missing")));
        }
        Ok(CaseRows { rdr, idx, rec: csv::StringRecord::new(), rows: 0, today })
    }

    /// The next row: its line, the case request when the row holds together, and every
    /// problem found in it. A broken file (invalid UTF-8, a ragged row) is an error: the rest
    /// of it cannot be trusted.
    #[allow(clippy::type_complexity)]
    pub fn next_row(&mut self) -> Result<Option<(u64, Option<NewCase>, Vec<RowError>)>, ImportError> {
        match self.rdr.read_record(&mut self.rec) {
            Ok(false) => return Ok(None),
            Ok(true) => {}
            Err(e) => return Err(ImportError::File(csv_error("row", &e))),
        }
        self.rows += 1;
        let line = self.rec.position().map_or(self.rows + 1, |p| p.line());
        let mut row = Row { rec: &self.rec, idx: &self.idx, line, errors: Vec::new() };
        let parsed = row_to_case(&mut row, self.today);
        Ok(Some((line, parsed, row.errors)))
    }
}

impl App {
    /// Imports cases from CSV on behalf of `actor`. `progress` is called with the number of rows
    /// checked, then written.
    pub async fn import_cases(
        &self,
        actor: &Actor,
        input: impl Read,
        skip_invalid: bool,
        progress: Progress,
    ) -> Result<ImportReport, ImportError> {
        let now = enlace_store::now();
        let mut rows = CaseRows::open(input, now.date_naive())?;
        let mut report = ImportReport { rows: 0, imported: 0, errors: Vec::new() };
        let mut good = Vec::new();
        while let Some((line, parsed, mut errors)) = rows.next_row()? {
            report.rows += 1;
            if let Some(n) = parsed {
                match self.prepare_case(actor, n, now).await {
                    Ok((case, new_person)) => good.push((case, new_person)),
                    Err(AppError::Validation(v)) => errors.extend(v.0.into_iter().map(|f| {
                        let (column, reason) = column_of(&f.field, f.message);
                        RowError { line, column, reason }
                    })),
                    Err(AppError::Forbidden(m)) => {
                        errors.push(RowError { line, column: "owner_state".into(), reason: m })
                    }
                    Err(other) => return Err(other.into()),
                }
            }
            report.errors.extend(errors);
            if report.rows.is_multiple_of(1000) {
                progress("checked", report.rows);
            }
        }
        progress("checked", report.rows);
        if report.rows == 0 {
            return Err(ImportError::File("the file has a header but no rows".into()));
        }
        if !report.errors.is_empty() && !skip_invalid {
            return Err(ImportError::Invalid(report));
        }
        let total = good.len() as u64;
        let good = std::sync::Arc::new(good);
        let actor_w = actor.clone();
        let progress_w = progress.clone();
        self.db()
            .write(move |tx| {
                let actor = actor_w.clone();
                let good = good.clone();
                let progress = progress_w.clone();
                Box::pin(async move {
                    let actor = &actor;
                    for (i, (case, new_person)) in good.iter().enumerate() {
                        let mut case = case.clone();
                        crate::cases::insert_case_tx(tx, actor, &mut case, *new_person).await?;
                        if (i + 1) % 1000 == 0 {
                            progress("written", i as u64 + 1);
                        }
                    }
                    audit(
                        tx,
                        event(Some(actor), "case.import", "case", None, serde_json::json!({"rows": total})),
                    )
                    .await
                })
            })
            .await?;
        progress("written", total);
        report.imported = total;
        Ok(report)
    }

    /// Writes every case of `state` (or of the whole node) as CSV; returns the number written.
    /// Command-line use by the node's operator; the export is audited.
    pub async fn export_cases(
        &self,
        state: Option<CountryCode>,
        out: impl Write,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<u64, AppError> {
        let scope = state.map_or(Scope::All, |s| Scope::States(vec![s]));
        let mut w = csv::Writer::from_writer(out);
        let header: Vec<&str> = EXPORT_ONLY_COLUMNS.iter().chain(IMPORT_COLUMNS).copied().collect();
        w.write_record(&header).map_err(io_err)?;
        let mut after = None;
        let mut n = 0u64;
        loop {
            let page = enlace_store::cases::export_page(self.db(), &scope, after, 1000).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            for c in &page {
                w.write_record(case_record(c)).map_err(io_err)?;
                n += 1;
            }
            progress(n);
        }
        w.flush().map_err(|e| AppError::Unavailable(format!("writing the export failed: {e}")))?;
        self.audit_alone(event(
            None,
            "case.export",
            "case",
            None,
            serde_json::json!({"rows": n, "state": state}),
        ))
        .await?;
        Ok(n)
    }
}

/// The CSV column a validation error of the case's field `field` belongs to, and the reason
/// (prefixed with the path inside the `parts` JSON when the error is in there).
fn column_of(field: &str, message: String) -> (String, String) {
    let f = field.strip_prefix("person.").unwrap_or(field);
    let head = f.split(['.', '[']).next().unwrap_or(f);
    let column = match f {
        "birth.year" => "birth_year",
        "birth.min_years" => "age_min",
        "birth.max_years" => "age_max",
        "birth.estimated_on" => "age_estimated_on",
        _ if head == "birth" => "birth_date",
        _ if f.starts_with("protection") => "protection_accepted_at",
        _ if head == "documents" => "document_number",
        _ if ["detention", "child", "death", "missing", "labour"].contains(&head) => {
            return ("parts".into(), format!("{f}: {message}"));
        }
        _ => head,
    };
    (column.to_string(), message)
}

/// Reads CRLF line endings as LF. The csv crate counts lines wrongly on CRLF files (it
/// reports one line too few per record), and line numbers are what a person fixes a file by.
struct CrlfAsLf<R> {
    inner: std::io::BufReader<R>,
}

impl<R: Read> Read for CrlfAsLf<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        use std::io::BufRead;
        let mut n = 0;
        while n < out.len() {
            let (first, second) = {
                let buf = self.inner.fill_buf()?;
                match buf.first() {
                    None => break,
                    Some(b) => (*b, buf.get(1).copied()),
                }
            };
            if first == b'\r' {
                self.inner.consume(1);
                // Drop the CR of a CRLF pair, even when the pair is split across buffers.
                let next = match second {
                    Some(b) => Some(b),
                    None => self.inner.fill_buf()?.first().copied(),
                };
                if next != Some(b'\n') {
                    out[n] = b'\r';
                    n += 1;
                }
                continue;
            }
            let take = {
                let buf = self.inner.fill_buf()?;
                let t = buf.iter().position(|b| *b == b'\r').unwrap_or(buf.len()).min(out.len() - n);
                out[n..n + t].copy_from_slice(&buf[..t]);
                t
            };
            self.inner.consume(take);
            n += take;
        }
        Ok(n)
    }
}

fn io_err(e: csv::Error) -> AppError {
    AppError::Unavailable(format!("writing the export failed: {e}"))
}

fn csv_error(what: &str, e: &csv::Error) -> String {
    let line = e.position().map(|p| p.line());
    let at = line.map_or_else(String::new, |l| format!("line {l}: "));
    match e.kind() {
        csv::ErrorKind::Utf8 { err, .. } => {
            format!("{at}the {what} is not valid UTF-8 (field {}); save the file as UTF-8", err.field() + 1)
        }
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("{at}the row has {len} fields, the header has {expected_len}")
        }
        _ => format!("{at}{e}"),
    }
}

fn join<T>(v: &[T], f: impl Fn(&T) -> String) -> String {
    v.iter().map(f).collect::<Vec<_>>().join(";")
}

fn case_record(c: &Case) -> Vec<String> {
    let p = &c.person;
    let (protection, accepted_at) = match &c.protection {
        Protection::Pending => ("pending".to_string(), String::new()),
        Protection::Accepted { at } => ("accepted".into(), at.to_rfc3339()),
        Protection::NotPossible { reason } => (reason.as_str().into(), String::new()),
    };
    let (bd, by, amin, amax, aon) = match &p.birth {
        Birth::Date { date } => {
            (date.to_string(), String::new(), String::new(), String::new(), String::new())
        }
        Birth::Year { year } => {
            (String::new(), year.to_string(), String::new(), String::new(), String::new())
        }
        Birth::EstimatedAge { min_years, max_years, estimated_on } => (
            String::new(),
            String::new(),
            min_years.to_string(),
            max_years.to_string(),
            estimated_on.to_string(),
        ),
        Birth::Unknown => Default::default(),
    };
    let doc = p.documents.first();
    let parts = if c.parts == CaseParts::default() {
        String::new()
    } else {
        serde_json::to_string(&c.parts).unwrap_or_default()
    };
    let opt = |o: Option<String>| o.unwrap_or_default();
    vec![
        c.number.to_string(),
        c.id.to_string(),
        c.status.to_string(),
        c.opened_at.to_rfc3339(),
        c.updated_at.to_rfc3339(),
        opt(c.closed_at.map(|t| t.to_rfc3339())),
        c.owner_state.to_string(),
        opt(c.post.as_ref().map(|p| p.to_string())),
        c.host_state.to_string(),
        c.category.to_string(),
        c.subtype.to_string(),
        join(&c.vulnerabilities, |v| v.to_string()),
        protection,
        accepted_at,
        c.legal_basis.to_string(),
        join(&p.given_names, |n| n.to_string()),
        join(&p.surnames, |n| n.to_string()),
        p.sex.as_str().into(),
        bd,
        by,
        amin,
        amax,
        aon,
        opt(p.birth_place.as_ref().map(|s| s.to_string())),
        opt(p.birth_state.map(|s| s.to_string())),
        join(&p.nationalities, |n| n.to_string()),
        opt(doc.map(|d| {
            serde_json::to_value(d.kind).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
        })),
        opt(doc.map(|d| d.number.to_string())),
        opt(doc.map(|d| d.issuing_state.to_string())),
        join(&p.languages, |l| l.as_str().to_string()),
        p.interpreter_needed.to_string(),
        opt(c.narrative.as_ref().map(|n| n.to_string())),
        parts,
    ]
}

/// A cell a spreadsheet must not run as a formula: text starting with `=`, `+`, `-`, `@`, a
/// tab or a carriage return gets a leading apostrophe.
pub fn defuse(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{s}") } else { s.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lf(input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        // A tiny buffer so that pairs split across reads are exercised.
        let mut r = CrlfAsLf { inner: std::io::BufReader::with_capacity(1, input) };
        r.read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn crlf_reads_as_lf_and_lone_cr_stays() {
        assert_eq!(lf(b"a,b\r\n1,2\r\n"), b"a,b\n1,2\n");
        assert_eq!(lf(b"a\rb\r"), b"a\rb\r");
        assert_eq!(lf(b"\r\r\n"), b"\r\n");
        assert_eq!(lf(b""), b"");
    }

    #[test]
    fn errors_name_the_csv_column() {
        assert_eq!(column_of("person.birth.date", "x".into()).0, "birth_date");
        assert_eq!(column_of("person.given_names[0]", "x".into()).0, "given_names");
        assert_eq!(column_of("protection.at", "x".into()).0, "protection_accepted_at");
        assert_eq!(column_of("owner_state", "x".into()).0, "owner_state");
        assert_eq!(
            column_of("detention.notice_received_at", "is before".into()),
            ("parts".to_string(), "detention.notice_received_at: is before".to_string())
        );
    }
}
