//! Reports of a node's statistics (issue 7), in the reader's language: the GRCM report as
//! CSV, one row per cell (margins included), so that spreadsheets and the hub can add states
//! up, as XLSX, a sheet per table after a sheet of notes and methodology, or as PDF, to print
//! and send (`pdf`). Only published (suppressed) statistics go into a report.

pub mod document;
pub mod exports;
mod helvetica;
mod pdf;

use enlace_app::stats::NodeStats;

pub use pdf::{grcm_pdf, grcm_pdf_of};

use crate::ui::i18n::{Locale, Tr};
use crate::ui::stats::value_label;

/// A file format the exports come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Csv,
    Xlsx,
    Pdf,
}

impl FileFormat {
    pub fn parse(s: &str) -> Option<FileFormat> {
        match s {
            "csv" => Some(FileFormat::Csv),
            "xlsx" => Some(FileFormat::Xlsx),
            "pdf" => Some(FileFormat::Pdf),
            _ => None,
        }
    }

    pub fn ext(self) -> &'static str {
        match self {
            FileFormat::Csv => "csv",
            FileFormat::Xlsx => "xlsx",
            FileFormat::Pdf => "pdf",
        }
    }

    pub fn mime(self) -> &'static str {
        match self {
            FileFormat::Csv => "text/csv; charset=utf-8",
            FileFormat::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            FileFormat::Pdf => "application/pdf",
        }
    }
}

/// A made file as a download named `name` (ASCII, without extension).
pub fn attachment(body: Vec<u8>, format: FileFormat, name: &str) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    use axum::response::IntoResponse;
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(format.mime()));
    let disposition = format!("attachment; filename=\"{name}.{}\"", format.ext());
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    res
}

/// The report as CSV (UTF-8, with a header row in the reader's language). A suppressed cell
/// has an empty count and the note "suppressed".
pub fn grcm_csv(stats: &NodeStats, locale: Locale) -> Result<Vec<u8>, String> {
    grcm_csv_of(std::slice::from_ref(stats), locale)
}

/// The report of several states (the hub's regional report) in one CSV: the same columns,
/// the state in the first.
pub fn grcm_csv_of(all: &[NodeStats], locale: Locale) -> Result<Vec<u8>, String> {
    let tr = Tr::new(locale);
    let mut w = csv::Writer::from_writer(Vec::new());
    let err = |e: csv::Error| e.to_string();
    w.write_record([
        tr.t("report-col-state"),
        tr.t("report-col-period"),
        tr.t("report-col-table"),
        tr.t("report-col-measure"),
        tr.t("report-col-rows"),
        tr.t("report-col-row"),
        tr.t("report-col-row-label"),
        tr.t("report-col-cols"),
        tr.t("report-col-col"),
        tr.t("report-col-col-label"),
        tr.t("report-col-count"),
        tr.t("report-col-note"),
    ])
    .map_err(err)?;
    for stats in all {
        let total = tr.t("stats-total");
        let suppressed = tr.t("report-suppressed");
        for t in &stats.tables {
            let nr = t.rows.len();
            let nc = t.cols.len();
            for r in 0..=nr {
                for c in 0..=nc {
                    let (row, row_label) = if r == nr {
                        ("total".to_string(), total.clone())
                    } else {
                        (t.rows[r].clone(), value_label(tr, &t.row_dim, &t.rows[r]))
                    };
                    let (col, col_label) = if c == nc {
                        ("total".to_string(), total.clone())
                    } else {
                        (t.cols[c].clone(), value_label(tr, &t.col_dim, &t.cols[c]))
                    };
                    let (count, note) = match t.grid[r][c] {
                        Some(v) => (v.to_string(), String::new()),
                        None => (String::new(), suppressed.clone()),
                    };
                    w.write_record([
                        stats.state.as_str().to_string(),
                        stats.period.label.clone(),
                        t.id.clone(),
                        tr.label("measure", &t.measure),
                        tr.label("dim", &t.row_dim),
                        row,
                        row_label,
                        tr.label("dim", &t.col_dim),
                        col,
                        col_label,
                        count,
                        note,
                    ])
                    .map_err(err)?;
                }
            }
        }
        let a = &stats.art36;
        let value = |v: Option<String>| match v {
            Some(s) => (s, String::new()),
            None => (String::new(), suppressed.clone()),
        };
        for (key, v) in [
            ("detentions", a.detentions.map(|n| n.to_string())),
            ("median_hours", a.median_hours.map(|h| format!("{h:.1}"))),
            ("within_24h", a.within_24h.map(|s| format!("{s:.3}"))),
        ] {
            let (count, note) = value(v);
            let label = tr.t("stats-art36");
            w.write_record([
                stats.state.as_str().to_string(),
                stats.period.label.clone(),
                "art36".to_string(),
                label,
                String::new(),
                key.to_string(),
                tr.t(&format!("report-art36-{}", key.replace('_', "-"))),
                String::new(),
                String::new(),
                String::new(),
                count,
                note,
            ])
            .map_err(err)?;
        }
    }
    w.into_inner().map_err(|e| e.to_string())
}

/// Excel's limit on a sheet name.
pub(crate) const SHEET_NAME_MAX: usize = 31;

/// The report as an XLSX workbook: a first sheet with the state, period, art. 36 delays and
/// the methodology, then one sheet per table (title, header, rows, totals; a suppressed cell
/// shows "—").
pub fn grcm_xlsx(stats: &NodeStats, locale: Locale) -> Result<Vec<u8>, String> {
    grcm_xlsx_of(std::slice::from_ref(stats), locale)
}

/// The workbook of several states (the hub's regional report): the notes sheet lists each
/// state's art. 36 delays; each table's sheet holds one block per state, one under the other.
pub fn grcm_xlsx_of(all: &[NodeStats], locale: Locale) -> Result<Vec<u8>, String> {
    use rust_xlsxwriter::{Format, Workbook};
    let tr = Tr::new(locale);
    let err = |e: rust_xlsxwriter::XlsxError| e.to_string();
    let mut book = Workbook::new();
    let bold = Format::new().set_bold();
    let total = tr.t("stats-total");
    let notes = book.add_worksheet();
    let mut names = Vec::new();
    notes.set_name(document::unique_sheet_name(&mut names, &tr.t("report-sheet-notes"))).map_err(err)?;
    notes.write_string_with_format(0, 0, tr.t("report-title"), &bold).map_err(err)?;
    let mut row = 1u32;
    for stats in all {
        notes.write_string(row, 0, tr.t("report-col-state")).map_err(err)?;
        notes.write_string(row, 1, stats.state.as_str()).map_err(err)?;
        notes.write_string(row + 1, 0, tr.t("report-col-period")).map_err(err)?;
        notes.write_string(row + 1, 1, &stats.period.label).map_err(err)?;
        notes.write_string_with_format(row + 3, 0, tr.t("stats-art36"), &bold).map_err(err)?;
        let a = &stats.art36;
        let art36 = [
            ("report-art36-detentions", a.detentions.map(|n| n as f64)),
            ("report-art36-median-hours", a.median_hours),
            ("report-art36-within-24h", a.within_24h),
        ];
        for (i, (key, v)) in art36.iter().enumerate() {
            let r = row + 4 + i as u32;
            notes.write_string(r, 0, tr.t(key)).map_err(err)?;
            match v {
                Some(v) => notes.write_number(r, 1, *v).map_err(err)?,
                None => notes.write_string(r, 1, tr.t("report-suppressed")).map_err(err)?,
            };
        }
        row += 8;
    }
    notes.write_string_with_format(row, 0, tr.t("report-method-title"), &bold).map_err(err)?;
    notes.write_string(row + 1, 0, tr.t("stats-method")).map_err(err)?;
    notes.set_column_width(0, 40).map_err(err)?;
    // The tables, in the order of the first state that has them.
    let mut ids: Vec<&str> = Vec::new();
    for t in all.iter().flat_map(|s| &s.tables) {
        if !ids.contains(&t.id.as_str()) {
            ids.push(&t.id);
        }
    }
    for (i, id) in ids.iter().enumerate() {
        let sheet = book.add_worksheet();
        let name = document::unique_sheet_name(&mut names, &format!("{:02} {}", i + 1, id.replace('_', " ")));
        sheet.set_name(name).map_err(err)?;
        let mut top = 0u32;
        for stats in all {
            let Some(t) = stats.tables.iter().find(|t| t.id == *id) else { continue };
            let title = format!(
                "{} · {} — {} × {}",
                stats.state.as_str(),
                tr.label("measure", &t.measure),
                tr.label("dim", &t.row_dim),
                tr.label("dim", &t.col_dim)
            );
            sheet.write_string_with_format(top, 0, &title, &bold).map_err(err)?;
            sheet.write_string_with_format(top + 1, 0, tr.label("dim", &t.row_dim), &bold).map_err(err)?;
            let nr = t.rows.len();
            let nc = t.cols.len();
            for c in 0..=nc {
                let head = if c == nc { total.clone() } else { value_label(tr, &t.col_dim, &t.cols[c]) };
                sheet.write_string_with_format(top + 1, 1 + c as u16, head, &bold).map_err(err)?;
            }
            for r in 0..=nr {
                let at = top + 2 + r as u32;
                let label = if r == nr { total.clone() } else { value_label(tr, &t.row_dim, &t.rows[r]) };
                sheet.write_string_with_format(at, 0, label, &bold).map_err(err)?;
                for c in 0..=nc {
                    let col = 1 + c as u16;
                    match t.grid[r][c] {
                        Some(v) => sheet.write_number(at, col, v as f64).map_err(err)?,
                        None => sheet.write_string(at, col, "—").map_err(err)?,
                    };
                }
            }
            sheet.write_string(top + 4 + nr as u32, 0, tr.t("stats-note-published")).map_err(err)?;
            top += 6 + nr as u32;
        }
        sheet.set_column_width(0, 28).map_err(err)?;
    }
    book.save_to_buffer().map_err(err)
}
