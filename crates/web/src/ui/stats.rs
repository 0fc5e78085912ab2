//! The statistics page (issue 7): the node's tables for a period, as they are for the state's
//! supervisors and administrators (cells that publishing would hide are marked), suppressed
//! for regional analysts and liaison officers, or on request.

use askama::Template;
use axum::response::Response;
use enlace_app::stats::StatTable;
use enlace_app::stats::{Mark, chart};

use super::i18n::Tr;
use super::{Ctx, Page, html};

struct CellView {
    text: String,
    /// `hidden` (suppressed here), `would-hide` (shown here, hidden when published), or empty.
    class: &'static str,
}

struct RowView {
    label: String,
    cells: Vec<CellView>,
}

struct TableView {
    id: String,
    caption: String,
    /// The row totals as an SVG bar chart (markup made here, text escaped).
    chart: String,
    row_dim: String,
    cols: Vec<String>,
    rows: Vec<RowView>,
}

#[derive(Template)]
#[template(path = "stats.html")]
struct StatsPage {
    c: Ctx,
    period: String,
    /// The period, encoded for a query string.
    period_q: String,
    published: bool,
    error: String,
    tables: Vec<TableView>,
    art36: Vec<(String, String)>,
    state: String,
    any_marked: bool,
    /// A supervisor or administrator of a federated node may send the figures to the hub.
    may_submit: bool,
    sent: bool,
}

/// The query string, and the period it asks for (default: the current half-year).
fn asked(uri: &axum::http::Uri) -> (super::forms::FormData, String) {
    let q = super::forms::FormData::parse(uri.query().unwrap_or("").as_bytes()).unwrap_or_default();
    let period = q
        .get("period")
        .map(str::to_string)
        .filter(|p| !p.trim().is_empty())
        .unwrap_or_else(enlace_app::stats::current_half);
    (q, period)
}

/// Why a period was refused, in the reader's language.
fn period_refusal(tr: Tr, period: &str) -> String {
    match enlace_app::stats::Period::parse(period.trim(), chrono::Utc::now()) {
        Err(enlace_app::stats::PeriodError::Future(_)) => tr.t1("stats-period-future", "period", period),
        _ => tr.t1("stats-period-bad", "period", period),
    }
}

/// A dimension's value in words.
pub fn value_label(tr: Tr, dim: &str, key: &str) -> String {
    match dim {
        "category" | "subtype" | "sex" => tr.label(dim, key),
        "nationality" | "host_state" => match enlace_domain::country::CountryCode::parse(key) {
            Ok(c) => tr.country(&c),
            Err(_) => key.to_string(),
        },
        "unaccompanied" | "vulnerable" => tr.label("yesno", key),
        "outcome" => tr.label("outcome", key),
        "route" => tr.label("route", key),
        "post" if key == "none" => tr.t("stats-no-post"),
        "age_band" if key == "unknown" => tr.t("stats-unknown"),
        _ => key.to_string(),
    }
}

fn table_view(tr: Tr, t: &StatTable, published: bool) -> TableView {
    let total = tr.t("stats-total");
    let cell = |r: usize, c: usize| {
        let mark = t.marks[r][c];
        match t.grid[r][c] {
            None => CellView { text: "—".into(), class: "hidden" },
            Some(v) => CellView {
                text: tr.num(v as i64),
                class: if !published && mark != Mark::Shown { "would-hide" } else { "" },
            },
        }
    };
    let nr = t.rows.len();
    let nc = t.cols.len();
    let mut rows: Vec<RowView> = (0..nr)
        .map(|r| RowView {
            label: value_label(tr, &t.row_dim, &t.rows[r]),
            cells: (0..=nc).map(|c| cell(r, c)).collect(),
        })
        .collect();
    rows.push(RowView { label: total.clone(), cells: (0..=nc).map(|c| cell(nr, c)).collect() });
    let mut cols: Vec<String> = t.cols.iter().map(|k| value_label(tr, &t.col_dim, k)).collect();
    cols.push(total);
    let caption = format!(
        "{} — {} × {}",
        tr.label("measure", &t.measure),
        tr.label("dim", &t.row_dim),
        tr.label("dim", &t.col_dim)
    );
    let bars: Vec<chart::Bar> = (0..nr)
        .map(|r| chart::Bar { label: value_label(tr, &t.row_dim, &t.rows[r]), value: t.grid[r][nc] })
        .collect();
    let chart_title = format!("{} — {}", tr.label("measure", &t.measure), tr.label("dim", &t.row_dim));
    let chart = chart::bars_svg(&chart_title, &bars, &tr.t("report-suppressed"), &|v| tr.num(v as i64));
    TableView { id: t.id.clone(), chart, caption, row_dim: tr.label("dim", &t.row_dim), cols, rows }
}

/// `GET /stats?period=2026-H1&published=1`.
pub async fn show(page: Page, uri: axum::http::Uri) -> Response {
    let tr = page.tr();
    let (q, period) = asked(&uri);
    let asked_published = q.get("published") == Some("1");
    let found = page.app.node_stats(page.actor(), &period, asked_published).await;
    let (tables, art36, published, error, state) = match found {
        Ok(s) => {
            let a = &s.art36;
            let or_dash = |v: Option<String>| v.unwrap_or_else(|| "—".into());
            let art36 = vec![
                (tr.t("stats-art36-detentions"), or_dash(a.detentions.map(|n| tr.num(n as i64)))),
                (tr.t("stats-art36-median"), or_dash(a.median_hours.map(|h| format!("{h:.1} h")))),
                (tr.t("stats-art36-within"), or_dash(a.within_24h.map(|w| format!("{:.0} %", w * 100.0)))),
            ];
            let tables = s.tables.iter().map(|t| table_view(tr, t, s.suppressed)).collect();
            (tables, art36, s.suppressed, String::new(), tr.country(&s.state))
        }
        Err(enlace_app::AppError::Validation(_)) => {
            let msg = period_refusal(tr, &period);
            (Vec::new(), Vec::new(), asked_published, msg, String::new())
        }
        Err(e) => return page.fail(e),
    };
    let any_marked =
        tables.iter().any(|t: &TableView| t.rows.iter().any(|r| r.cells.iter().any(|c| !c.class.is_empty())));
    let period_q = super::enc(&period);
    let may_submit = page.app.federated()
        && matches!(
            page.actor().user.role,
            enlace_domain::role::Role::ProtectionSupervisor | enlace_domain::role::Role::CountryAdministrator
        );
    let sent = q.get("sent") == Some("1");
    html(&StatsPage {
        c: page.ctx,
        may_submit,
        sent,
        period,
        period_q,
        published,
        error,
        tables,
        art36,
        state,
        any_marked,
    })
}

/// `GET /stats/report.csv?period=2026-H1`: the published figures as CSV, in the reader's
/// language (audited like any read of statistics).
pub async fn report_csv(page: Page, uri: axum::http::Uri) -> Response {
    report(page, uri, "csv").await
}

/// `GET /stats/report.xlsx?period=2026-H1`: the same as a workbook, a sheet per table.
pub async fn report_xlsx(page: Page, uri: axum::http::Uri) -> Response {
    report(page, uri, "xlsx").await
}

/// `GET /stats/report.pdf?period=2026-H1`: the same to print, with a bar chart per table.
pub async fn report_pdf(page: Page, uri: axum::http::Uri) -> Response {
    report(page, uri, "pdf").await
}

async fn report(page: Page, uri: axum::http::Uri, format: &str) -> Response {
    let (_, period) = asked(&uri);
    match page.app.node_stats(page.actor(), &period, true).await {
        Ok(stats) => {
            let name = format!("grcm-{}-{}", stats.state, stats.period.label);
            download(&page, std::slice::from_ref(&stats), format, &name)
        }
        Err(e) => page.fail(e),
    }
}

/// `GET /regional/report.{csv,xlsx,pdf}?period=2026-H1`: the hub's regional report, every
/// state's submitted (suppressed) figures (regional analysts).
pub async fn regional_report_csv(page: Page, uri: axum::http::Uri) -> Response {
    regional_report(page, uri, "csv").await
}

pub async fn regional_report_xlsx(page: Page, uri: axum::http::Uri) -> Response {
    regional_report(page, uri, "xlsx").await
}

pub async fn regional_report_pdf(page: Page, uri: axum::http::Uri) -> Response {
    regional_report(page, uri, "pdf").await
}

async fn regional_report(page: Page, uri: axum::http::Uri, format: &str) -> Response {
    let (_, period) = asked(&uri);
    match page.app.regional_report_for(page.actor(), &period).await {
        Ok(all) => {
            let name = format!("grcm-regional-{}", period.trim());
            download(&page, &all, format, &name)
        }
        Err(e) => page.fail(e),
    }
}

/// The report of `all` (one state, or the regional one) as a file to download.
fn download(page: &Page, all: &[enlace_app::stats::NodeStats], format: &str, name: &str) -> Response {
    use crate::report::FileFormat;
    let locale = page.tr().locale;
    let format = FileFormat::parse(format).unwrap_or(FileFormat::Csv);
    let body = match format {
        FileFormat::Xlsx => crate::report::grcm_xlsx_of(all, locale),
        FileFormat::Pdf => crate::report::grcm_pdf_of(all, locale),
        FileFormat::Csv => crate::report::grcm_csv_of(all, locale),
    };
    match body {
        Ok(b) => crate::report::attachment(b, format, name),
        Err(e) => page.fail(enlace_app::AppError::Unavailable(e)),
    }
}

#[derive(Template)]
#[template(path = "regional.html")]
struct RegionalPage {
    c: Ctx,
    period: String,
    previous: String,
    error: String,
    categories: Vec<String>,
    rows: Vec<RegionalLine>,
    total: String,
    chart: String,
    /// The linkage service's figures (encodings per state, candidates by outcome).
    linkage: Option<LinkageFigures>,
}

struct LinkageFigures {
    states: Vec<(String, String, String)>,
    candidates: String,
    open: String,
    confirmed: String,
    rejected: String,
    expired: String,
}

struct RegionalLine {
    state: String,
    opened: String,
    previous: String,
    change: String,
    by_category: Vec<String>,
    art36_within: String,
}

/// `GET /regional?period=2026-H1`: the hub's regional view (regional analysts).
pub async fn regional(page: Page, uri: axum::http::Uri) -> Response {
    let tr = page.tr();
    let (_, period) = asked(&uri);
    let dash = || "—".to_string();
    let num = |v: Option<u64>| v.map(|n| tr.num(n as i64)).unwrap_or_else(dash);
    match page.app.regional_stats(page.actor(), &period).await {
        Ok(r) => {
            let country = |s: &str| match enlace_domain::country::CountryCode::parse(s) {
                Ok(c) => tr.country(&c),
                Err(_) => s.to_string(),
            };
            let rows = r
                .states
                .iter()
                .map(|s| RegionalLine {
                    state: country(&s.state),
                    opened: num(s.opened),
                    previous: num(s.previous_opened),
                    change: s.change_percent.map(|c| format!("{c:+.0} %")).unwrap_or_else(dash),
                    by_category: s.opened_by_category.iter().map(|v| num(*v)).collect(),
                    art36_within: s
                        .art36
                        .within_24h
                        .map(|w| format!("{:.0} %", w * 100.0))
                        .unwrap_or_else(dash),
                })
                .collect();
            let bars: Vec<chart::Bar> =
                r.states.iter().map(|s| chart::Bar { label: country(&s.state), value: s.opened }).collect();
            let chart = chart::bars_svg(&tr.t("regional-chart"), &bars, &tr.t("report-suppressed"), &|v| {
                tr.num(v as i64)
            });
            let total = if r.complete {
                tr.num(r.opened_total as i64)
            } else {
                format!("≥ {}", tr.num(r.opened_total as i64))
            };
            let n = |v: u64| tr.num(v as i64);
            let linkage = match page.app.regional_linkage(page.actor()).await {
                Ok(l) => Some(LinkageFigures {
                    states: l.states.iter().map(|s| (country(&s.state), n(s.missing), n(s.found))).collect(),
                    candidates: n(l.candidates),
                    open: n(l.open),
                    confirmed: n(l.confirmed),
                    rejected: n(l.rejected),
                    expired: n(l.expired),
                }),
                Err(e) => return page.fail(e),
            };
            html(&RegionalPage {
                c: page.ctx,
                period: r.period,
                previous: r.previous_period,
                error: String::new(),
                categories: r.categories.iter().map(|k| tr.label("category", k)).collect(),
                rows,
                total,
                chart,
                linkage,
            })
        }
        Err(enlace_app::AppError::Validation(_)) => {
            let msg = period_refusal(tr, &period);
            html(&RegionalPage {
                c: page.ctx,
                period,
                previous: String::new(),
                error: msg,
                categories: Vec::new(),
                rows: Vec::new(),
                total: String::new(),
                chart: String::new(),
                linkage: None,
            })
        }
        Err(e) => page.fail(e),
    }
}

/// `POST /stats/submit`: sends the published figures of a period to the hub.
pub async fn submit(p: super::PagePost) -> Response {
    let (page, f) = (p.page, p.form);
    let period = f.get("period").unwrap_or("").to_string();
    match page.app.submit_stats(page.actor(), &period).await {
        Ok(pd) => super::see_other(&format!("/stats?period={}&sent=1", super::enc(&pd.label))),
        Err(e) => page.fail(e),
    }
}
