//! Statistics of a node (issue 7): cases opened, closed and open in a period, cut by
//! nationality, host state, post, category, subtype, sex, age band, the unaccompanied and
//! vulnerability flags, return route and outcome; art. 36 delays. A node's supervisors and
//! administrators see their own state's figures as they are; everything that may leave the
//! node (the regional analysts' view, reports, what goes to the hub) is suppressed
//! (`enlace_stats::protect`).

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use enlace_domain::country::CountryCode;
use enlace_domain::role::Role;
use enlace_domain::workflow::Status;
pub use enlace_stats::Mark;
pub use enlace_stats::chart;
use enlace_stats::{Protected, THRESHOLD, Table, protect};
use enlace_store::cases::StatsRow;
use serde::Serialize;
use utoipa::ToSchema;

use crate::{Actor, App, AppError, access};

/// A reporting period: a year (`2026`), a half (`2026-H1`) or a quarter (`2026-Q3`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Period {
    /// As written: `2026-H1`.
    pub label: String,
    pub from: DateTime<Utc>,
    /// The first moment after the period.
    pub to: DateTime<Utc>,
}

impl Period {
    /// Parses a period; one that has not started yet is refused.
    pub fn parse(s: &str, now: DateTime<Utc>) -> Result<Period, PeriodError> {
        let bad = || PeriodError::Invalid(s.to_string());
        let (year, part) = match s.split_once('-') {
            Some((y, p)) => (y, Some(p)),
            None => (s, None),
        };
        let year: i32 = year.parse().ok().filter(|y| (2000..=2100).contains(y)).ok_or_else(bad)?;
        let (first, months) = match part {
            None => (1, 12),
            Some("H1") => (1, 6),
            Some("H2") => (7, 6),
            Some(q) if q.len() == 2 && q.starts_with('Q') => match q[1..].parse::<u32>() {
                Ok(n @ 1..=4) => (3 * n - 2, 3),
                _ => return Err(bad()),
            },
            Some(_) => return Err(bad()),
        };
        let start = |y: i32, m: u32| Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).single();
        let from = start(year, first).ok_or_else(bad)?;
        let end_month = first + months;
        let to = if end_month > 12 { start(year + 1, end_month - 12) } else { start(year, end_month) }
            .ok_or_else(bad)?;
        if from > now {
            return Err(PeriodError::Future(s.to_string()));
        }
        Ok(Period { label: s.to_string(), from, to })
    }

    /// The label of the period before this one, of the same kind (`2026-H1` → `2025-H2`).
    pub fn previous(&self) -> String {
        let (year, part) = match self.label.split_once('-') {
            Some((y, p)) => (y.parse::<i32>().unwrap_or(0), Some(p)),
            None => (self.label.parse::<i32>().unwrap_or(0), None),
        };
        match part {
            None => format!("{}", year - 1),
            Some("H2") => format!("{year}-H1"),
            Some("H1") => format!("{}-H2", year - 1),
            Some("Q1") => format!("{}-Q4", year - 1),
            Some(q) => format!("{year}-Q{}", q[1..].parse::<u32>().unwrap_or(1) - 1),
        }
    }

    fn contains(&self, t: DateTime<Utc>) -> bool {
        self.from <= t && t < self.to
    }
}

/// The half-year now (`2026-H2`): the default period.
pub fn current_half() -> String {
    use chrono::Datelike;
    let now = Utc::now();
    format!("{}-H{}", now.year(), if now.month() <= 6 { 1 } else { 2 })
}

/// A period that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error("\"{0}\" is not a period: write a year (2026), a half (2026-H1) or a quarter (2026-Q3)")]
    Invalid(String),
    #[error("the period {0} has not started yet")]
    Future(String),
}

/// One table of a node's statistics.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatTable {
    /// A stable name (`opened_nationality_category`).
    pub id: String,
    /// What is counted: `opened`, `closed`, `open_at_end`, `returns`, `outcome`.
    pub measure: String,
    /// The dimensions of the rows and columns (`nationality`, `category`, …).
    pub row_dim: String,
    pub col_dim: String,
    pub rows: Vec<String>,
    pub cols: Vec<String>,
    /// Counts (`null` where suppressed in a published view), with the row totals last in
    /// each row and the column totals as the last row.
    #[schema(value_type = Vec<Vec<Option<u64>>>)]
    pub grid: Vec<Vec<Option<u64>>>,
    /// Per cell of `grid`: `shown`, `primary` (a small count) or `complementary`. In an
    /// unsuppressed view they say what publishing would hide.
    #[schema(value_type = Vec<Vec<String>>)]
    pub marks: Vec<Vec<Mark>>,
}

/// Art. 36 delays: from the moment the post learned of a detention (the notice, or the
/// detention itself when no notice was recorded) to the first consular contact, for the
/// detentions of the period with a first contact.
#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Art36Delays {
    /// Detentions counted (`null` when suppressed: fewer than the threshold).
    pub detentions: Option<u64>,
    pub median_hours: Option<f64>,
    /// Share of first contacts within 24 hours (0 to 1).
    pub within_24h: Option<f64>,
}

/// A node's statistics for one state and period.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NodeStats {
    #[schema(value_type = String)]
    pub state: CountryCode,
    pub period: Period,
    /// Whether small counts (and what would reveal them) are suppressed.
    pub suppressed: bool,
    /// Cells under this count are suppressed when published.
    pub threshold: u64,
    pub tables: Vec<StatTable>,
    pub art36: Art36Delays,
    pub computed_at: DateTime<Utc>,
}

/// What one case contributes: its dimension values.
struct Facts {
    nationality: Arc<str>,
    host_state: Arc<str>,
    post: Arc<str>,
    category: Arc<str>,
    subtype: Arc<str>,
    sex: Arc<str>,
    age_band: Arc<str>,
    unaccompanied: &'static str,
    vulnerable: &'static str,
    opened: bool,
    closed: bool,
    open_at_end: bool,
    outcome: &'static str,
    return_route: Option<Arc<str>>,
    /// Hours from the post learning of a detention in the period to the first contact.
    art36_hours: Option<f64>,
}

/// One shared copy of each dimension value (a period holds many cases and few values).
#[derive(Default)]
struct Interner(std::collections::HashMap<String, Arc<str>>);

impl Interner {
    fn get(&mut self, v: &str) -> Arc<str> {
        if let Some(a) = self.0.get(v) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(v);
        self.0.insert(v.to_string(), a.clone());
        a
    }
}

/// A case's dimension values for `p`, from its row of facts.
fn facts(c: &StatsRow<'_>, p: &Period, i: &mut Interner) -> Facts {
    let closed_at = c.closed_at.filter(|t| *t < p.to);
    let return_route = match (&c.return_date, c.return_route) {
        (Some(d), Some(r)) if p.from.date_naive() <= *d && *d < p.to.date_naive() => Some(i.get(r)),
        _ => None,
    };
    let art36_hours = c.art36_learned_at.and_then(|learned| {
        let contact = c.art36_contact_at?;
        p.contains(learned).then(|| (contact - learned).num_minutes().max(0) as f64 / 60.0)
    });
    let outcome = if closed_at.is_some() {
        "closed"
    } else if c.status == Status::Resolved.as_str() {
        "resolved"
    } else {
        "open"
    };
    Facts {
        nationality: i.get(c.nationality),
        host_state: i.get(c.host_state),
        post: i.get(c.post.unwrap_or("none")),
        category: i.get(c.category),
        subtype: i.get(c.subtype),
        sex: i.get(c.sex),
        age_band: i.get(c.age_band),
        unaccompanied: if c.unaccompanied { "yes" } else { "no" },
        vulnerable: if c.vuln_mask == 0 { "no" } else { "yes" },
        opened: p.contains(c.opened_at),
        closed: closed_at.is_some_and(|t| t >= p.from),
        open_at_end: c.opened_at < p.to && closed_at.is_none(),
        outcome,
        return_route,
        art36_hours,
    }
}

/// The cross-tabulations, in the order reports show them: (measure, rows, columns).
const CUTS: &[(&str, &str, &str)] = &[
    ("opened", "nationality", "category"),
    ("opened", "host_state", "category"),
    ("opened", "post", "category"),
    ("opened", "subtype", "sex"),
    ("opened", "age_band", "sex"),
    ("opened", "category", "unaccompanied"),
    ("opened", "category", "vulnerable"),
    ("closed", "nationality", "category"),
    ("closed", "post", "category"),
    ("open_at_end", "nationality", "category"),
    ("open_at_end", "post", "category"),
    ("outcome", "category", "outcome"),
    ("returns", "nationality", "route"),
];

fn dim<'a>(f: &'a Facts, name: &str) -> &'a str {
    match name {
        "nationality" => &f.nationality,
        "host_state" => &f.host_state,
        "post" => &f.post,
        "category" => &f.category,
        "subtype" => &f.subtype,
        "sex" => &f.sex,
        "age_band" => &f.age_band,
        "unaccompanied" => f.unaccompanied,
        "vulnerable" => f.vulnerable,
        "outcome" => f.outcome,
        "route" => f.return_route.as_deref().unwrap_or(""),
        _ => "",
    }
}

fn counted(f: &Facts, measure: &str) -> bool {
    match measure {
        "opened" | "outcome" => f.opened,
        "closed" => f.closed,
        "open_at_end" => f.open_at_end,
        "returns" => f.return_route.is_some(),
        _ => false,
    }
}

/// Keys a dimension always shows (so tables of different states and periods line up).
fn fixed_keys(name: &str) -> Option<Vec<String>> {
    let v = |s: &[&str]| Some(s.iter().map(|x| x.to_string()).collect());
    match name {
        "category" => {
            Some(enlace_domain::case::Category::ALL.iter().map(|c| c.as_str().to_string()).collect())
        }
        "sex" => v(&["female", "male", "other", "unknown"]),
        "age_band" => v(&["0-11", "12-17", "18+", "unknown"]),
        "unaccompanied" | "vulnerable" => v(&["yes", "no"]),
        "outcome" => v(&["open", "resolved", "closed"]),
        "route" => v(&["land", "air", "sea"]),
        _ => None,
    }
}

fn cross_tab(all: &[Facts], measure: &str, rd: &str, cd: &str) -> Table {
    let keys = |d: &str| -> Vec<String> {
        fixed_keys(d).unwrap_or_else(|| {
            let seen: std::collections::BTreeSet<&str> =
                all.iter().filter(|f| counted(f, measure)).map(|f| dim(f, d)).collect();
            seen.into_iter().map(str::to_string).collect()
        })
    };
    let mut t = Table::zeros(keys(rd), keys(cd));
    let index = |ks: &[String]| -> std::collections::HashMap<String, usize> {
        ks.iter().enumerate().map(|(i, k)| (k.clone(), i)).collect()
    };
    let (rows, cols) = (index(&t.rows), index(&t.cols));
    for f in all.iter().filter(|f| counted(f, measure)) {
        let (Some(&r), Some(&c)) = (rows.get(dim(f, rd)), cols.get(dim(f, cd))) else {
            continue;
        };
        t.cells[r][c] += 1;
    }
    t
}

fn stat_table(measure: &str, rd: &str, cd: &str, p: Protected, publish: bool) -> StatTable {
    let g = p.table.with_margins();
    let grid = g
        .iter()
        .enumerate()
        .map(|(r, row)| {
            row.iter()
                .enumerate()
                .map(|(c, v)| (!publish || p.marks[r][c] == Mark::Shown).then_some(*v))
                .collect()
        })
        .collect();
    StatTable {
        id: format!("{measure}_{rd}_{cd}"),
        measure: measure.into(),
        row_dim: rd.into(),
        col_dim: cd.into(),
        rows: p.table.rows.clone(),
        cols: p.table.cols.clone(),
        grid,
        marks: p.marks,
    }
}

fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
}

/// The statistics of the facts of one state's cases for `period`; `publish` suppresses.
fn from_facts(
    state: CountryCode,
    all: &[Facts],
    period: &Period,
    publish: bool,
    now: DateTime<Utc>,
) -> NodeStats {
    let tables = CUTS
        .iter()
        .map(|(m, r, c)| stat_table(m, r, c, protect(&cross_tab(all, m, r, c), THRESHOLD), publish))
        .collect();
    let mut hours: Vec<f64> = all.iter().filter_map(|f| f.art36_hours).collect();
    let n = hours.len() as u64;
    let within = hours.iter().filter(|h| **h <= 24.0).count() as f64;
    let hidden = publish && n < THRESHOLD;
    let art36 = Art36Delays {
        detentions: (!hidden).then_some(n),
        within_24h: (!hidden && n > 0).then(|| within / n as f64),
        median_hours: if hidden { None } else { median(&mut hours) },
    };
    NodeStats {
        state,
        period: period.clone(),
        suppressed: publish,
        threshold: THRESHOLD,
        tables,
        art36,
        computed_at: now,
    }
}

/// Roles that see their state's figures as they are.
const OWN_FIGURES: &[Role] = &[Role::ProtectionSupervisor, Role::CountryAdministrator];
/// Roles that see only what may be published.
const PUBLISHED_FIGURES: &[Role] = &[Role::RegionalAnalyst, Role::LiaisonOfficer];

impl App {
    /// The statistics of the actor's state for `period`. Supervisors and administrators see
    /// them as they are unless they ask for the published view; regional analysts and liaison
    /// officers see only the published (suppressed) view.
    pub async fn node_stats(
        &self,
        actor: &Actor,
        period: &str,
        published: bool,
    ) -> Result<NodeStats, AppError> {
        let roles: Vec<Role> = OWN_FIGURES.iter().chain(PUBLISHED_FIGURES).copied().collect();
        self.guard(actor, access::require_role(actor, &roles)).await?;
        let now = Utc::now();
        let period =
            Period::parse(period.trim(), now).map_err(|e| AppError::invalid("period", e.to_string()))?;
        let publish = published || PUBLISHED_FIGURES.contains(&actor.user.role);
        let state = actor.user.state;
        let facts = self.facts_of_period(state, &period).await?;
        let stats = from_facts(state, &facts, &period, publish, now);
        let detail = serde_json::json!({"state": state, "period": period.label, "suppressed": publish,
            "cases": facts.len()});
        self.audit_read(actor, "stats.read", "stats", period.label.clone(), detail).await?;
        Ok(stats)
    }

    /// The published statistics of `state` for `period`, for a report an operator makes on the
    /// node's machine (`enlace report grcm`); audited.
    pub async fn report_stats(&self, state: CountryCode, period: &str) -> Result<NodeStats, AppError> {
        let now = Utc::now();
        let period =
            Period::parse(period.trim(), now).map_err(|e| AppError::invalid("period", e.to_string()))?;
        let started = std::time::Instant::now();
        let facts = self.facts_of_period(state, &period).await?;
        let read_ms = started.elapsed().as_millis() as u64;
        let stats = from_facts(state, &facts, &period, true, now);
        tracing::info!(read_ms,state = %state, period = %period.label, cases = facts.len(),
            ms = started.elapsed().as_millis() as u64, "statistics computed");
        let detail = serde_json::json!({"state": state, "period": period.label, "suppressed": true,
            "cases": facts.len()});
        let label = period.label.clone();
        self.db()
            .write(move |tx| {
                let (detail, label) = (detail.clone(), label.clone());
                Box::pin(async move {
                    crate::audit(tx, crate::event(None, "stats.report", "stats", Some(label), detail)).await
                })
            })
            .await?;
        Ok(stats)
    }

    /// The published (suppressed) statistics of `state` for `period`.
    pub(crate) async fn published_stats(
        &self,
        state: CountryCode,
        period: &Period,
        now: DateTime<Utc>,
    ) -> Result<NodeStats, AppError> {
        let facts = self.facts_of_period(state, period).await?;
        Ok(from_facts(state, &facts, period, true, now))
    }

    /// Cases stored before their statistical facts were kept get them (at start, before the
    /// node serves; a derived row, like search terms, so not audited). Returns how many.
    pub async fn catch_up_case_facts(&self) -> Result<u64, AppError> {
        const PAGE: i64 = 1000;
        let mut after = None;
        let mut done = 0u64;
        loop {
            let ids = enlace_store::cases::cases_without_facts(self.db(), after, PAGE).await?;
            let Some(last) = ids.last().copied() else { break };
            after = Some(last);
            let n = ids.len() as u64;
            self.db()
                .write(move |tx| {
                    let ids = ids.clone();
                    Box::pin(async move {
                        for id in ids {
                            if let Some(c) = enlace_store::cases::get_case_tx(tx, id).await? {
                                enlace_store::cases::put_facts(tx, &c).await?;
                            }
                        }
                        Ok::<_, AppError>(())
                    })
                })
                .await?;
            done += n;
            if done % 100_000 < n {
                tracing::info!(cases = done, "statistical facts written");
            }
        }
        Ok(done)
    }

    /// What counts of every case of `state` open at some time in the period (read as a
    /// stream: only the facts are kept).
    async fn facts_of_period(&self, state: CountryCode, p: &Period) -> Result<Vec<Facts>, AppError> {
        let mut out = Vec::new();
        let mut interner = Interner::default();
        enlace_store::cases::for_each_active(self.db(), state, p.from, p.to, |c| {
            out.push(facts(&c, p, &mut interner))
        })
        .await?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Datelike;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 0).unwrap()
    }

    #[test]
    fn periods_parse_and_refuse() {
        let p = Period::parse("2026-H1", now()).unwrap();
        assert_eq!(p.from, Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap());
        assert_eq!(p.to, Utc.with_ymd_and_hms(2026, 7, 1, 0, 0, 0).unwrap());
        let q = Period::parse("2025-Q4", now()).unwrap();
        assert_eq!(q.to, Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap());
        assert_eq!(Period::parse("2026", now()).unwrap().to.year(), 2027);
        for (p, before) in [
            ("2026-H1", "2025-H2"),
            ("2026-H2", "2026-H1"),
            ("2026-Q1", "2025-Q4"),
            ("2026-Q3", "2026-Q2"),
            ("2026", "2025"),
        ] {
            assert_eq!(Period::parse(p, now()).unwrap().previous(), before);
        }
        assert_eq!(Period::parse("2027-H1", now()), Err(PeriodError::Future("2027-H1".into())));
        for bad in ["2026-H3", "26-H1", "2026-Q5", "H1", "2026-h1", ""] {
            assert_eq!(Period::parse(bad, now()), Err(PeriodError::Invalid(bad.into())), "{bad}");
        }
    }
}
