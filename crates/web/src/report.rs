//! Reports of a node's statistics (issue 7), in the reader's language: the GRCM report as
//! CSV, one row per cell (margins included), so that spreadsheets and the hub can add states
//! up. Only published (suppressed) statistics go into a report.

use enlace_app::stats::NodeStats;

use crate::ui::i18n::{Locale, Tr};
use crate::ui::stats::value_label;

/// The report as CSV (UTF-8, with a header row in the reader's language). A suppressed cell
/// has an empty count and the note "suppressed".
pub fn grcm_csv(stats: &NodeStats, locale: Locale) -> Result<Vec<u8>, String> {
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
    w.into_inner().map_err(|e| e.to_string())
}
