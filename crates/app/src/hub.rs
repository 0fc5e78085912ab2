//! The regional hub's statistics (issue 7). A node submits the published (suppressed) tables
//! of one of its states for a period through the federation envelope; the hub checks them
//! (the sender serves the state, the period has started, no small count is shown) and keeps
//! the latest per state and period; regional analysts read the regional view by state, with
//! the previous period beside it.

use chrono::{DateTime, Utc};
use enlace_domain::country::CountryCode;
use enlace_domain::role::Role;
use enlace_fed::envelope::MessageType;
use enlace_fed::receive::VerifiedEnvelope;
use enlace_stats::{Published, THRESHOLD};
use enlace_store::Tx;
use enlace_store::fed::HubStatsRow;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use crate::fed::refused;
use crate::stats::{Art36Delays, Mark, NodeStats, Period, PeriodError, StatTable};
use crate::{Actor, App, AppError, access, audit, event};

/// One published table of a submission.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmittedTable {
    pub id: String,
    pub measure: String,
    pub row_dim: String,
    pub col_dim: String,
    pub published: Published,
}

fn published(t: &StatTable) -> Published {
    let (nr, nc) = (t.rows.len(), t.cols.len());
    Published {
        rows: t.rows.clone(),
        cols: t.cols.clone(),
        cells: (0..nr).map(|r| t.grid[r][..nc].to_vec()).collect(),
        row_totals: (0..nr).map(|r| t.grid[r][nc]).collect(),
        col_totals: t.grid[nr][..nc].to_vec(),
        total: t.grid[nr][nc],
    }
}

/// The payload of a `stats_submission` (also what benchmarks of the hub store).
pub fn submission_payload(s: &NodeStats) -> Result<Map<String, Value>, AppError> {
    let tables: Vec<SubmittedTable> = s
        .tables
        .iter()
        .map(|t| SubmittedTable {
            id: t.id.clone(),
            measure: t.measure.clone(),
            row_dim: t.row_dim.clone(),
            col_dim: t.col_dim.clone(),
            published: published(t),
        })
        .collect();
    let v = json!({"state": s.state, "period": s.period.label, "tables": tables, "art36": s.art36});
    match v {
        Value::Object(m) => Ok(m),
        _ => Err(AppError::Rule("a submission is an object".into())),
    }
}

/// The regional view of one period.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RegionalStats {
    pub period: String,
    pub previous_period: String,
    /// The categories of `opened_by_category`, in order.
    pub categories: Vec<String>,
    pub states: Vec<RegionalRow>,
    /// Sum over the states of what each published (a state's suppressed figure counts as
    /// unknown: the sum is then a lower bound, flagged by `complete`).
    pub opened_total: u64,
    pub complete: bool,
}

/// One state's line of the regional view.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RegionalRow {
    pub state: String,
    /// Cases opened in the period (`null`: suppressed).
    pub opened: Option<u64>,
    /// The same in the previous period, when the state submitted it.
    pub previous_opened: Option<u64>,
    /// Change from the previous period, in percent.
    pub change_percent: Option<f64>,
    /// Cases opened by category (`null`: suppressed).
    pub opened_by_category: Vec<Option<u64>>,
    pub art36: Art36Delays,
    pub received_at: DateTime<Utc>,
}

/// Who submits a state's statistics to the hub.
const SUBMITTERS: &[Role] = &[Role::ProtectionSupervisor, Role::CountryAdministrator];

impl App {
    /// Sends the published statistics of the actor's state for `period` to the hub (queued in
    /// the outbox with its audit event; the relay delivers it).
    pub async fn submit_stats(&self, actor: &Actor, period: &str) -> Result<Period, AppError> {
        self.guard(actor, access::require_role(actor, SUBMITTERS)).await?;
        let fed = self.fed()?;
        let now = Utc::now();
        let period =
            Period::parse(period.trim(), now).map_err(|e| AppError::invalid("period", e.to_string()))?;
        let dir = self.current_directory(now).await?;
        let hub = crate::fed::linkage::hub_of(&dir)?;
        if hub == fed.settings.node.as_str() {
            return Err(AppError::Rule("this node is the hub".into()));
        }
        let stats = self.published_stats(actor.user.state, &period, now).await?;
        let body = submission_payload(&stats)?;
        dir.check_payload(MessageType::StatsSubmission, &body)
            .map_err(|e| refused("field-not-allowed", e.to_string()))?;
        let actor_w = actor.clone();
        let label = period.label.clone();
        self.write_as(actor, move |tx| {
            let (actor, body, hub, label) = (actor_w.clone(), body.clone(), hub.clone(), label.clone());
            Box::pin(async move {
                let now = enlace_store::now();
                let id =
                    crate::fed::linkage::to_hub(tx, &hub, MessageType::StatsSubmission, body, now).await?;
                let detail = json!({"state": actor.user.state, "period": label, "hub": hub, "message": id});
                audit(tx, event(Some(&actor), "stats.submit", "stats", Some(label.clone()), detail)).await
            })
        })
        .await?;
        self.kick_relay();
        Ok(period)
    }

    /// The regional view of `period` (regional analysts, on the hub).
    pub async fn regional_stats(&self, actor: &Actor, period: &str) -> Result<RegionalStats, AppError> {
        self.guard(actor, access::require_role(actor, &[Role::RegionalAnalyst])).await?;
        let now = Utc::now();
        let period =
            Period::parse(period.trim(), now).map_err(|e| AppError::invalid("period", e.to_string()))?;
        let previous = period.previous();
        let rows = enlace_store::fed::hub_stats_of_period(self.db(), &period.label).await?;
        let before = enlace_store::fed::hub_stats_of_period(self.db(), &previous).await?;
        let opened_table = |body: &Value| -> Option<Published> {
            let tables: Vec<SubmittedTable> = serde_json::from_value(body["tables"].clone()).ok()?;
            tables.into_iter().find(|t| t.id == "opened_nationality_category").map(|t| t.published)
        };
        let mut categories: Vec<String> = Vec::new();
        let mut states = Vec::new();
        let mut opened_total = 0;
        let mut complete = true;
        for r in &rows {
            let Some(t) = opened_table(&r.body) else { continue };
            if categories.is_empty() {
                categories = t.cols.clone();
            }
            let by_category = categories
                .iter()
                .map(|c| t.cols.iter().position(|k| k == c).and_then(|i| t.col_totals[i]))
                .collect();
            let previous_opened =
                before.iter().find(|b| b.state == r.state).and_then(|b| opened_table(&b.body)?.total);
            let change_percent = match (t.total, previous_opened) {
                (Some(now), Some(then)) if then > 0 => Some((now as f64 - then as f64) * 100.0 / then as f64),
                _ => None,
            };
            match t.total {
                Some(n) => opened_total += n,
                None => complete = false,
            }
            states.push(RegionalRow {
                state: r.state.clone(),
                opened: t.total,
                previous_opened,
                change_percent,
                opened_by_category: by_category,
                art36: serde_json::from_value(r.body["art36"].clone()).unwrap_or(Art36Delays {
                    detentions: None,
                    median_hours: None,
                    within_24h: None,
                }),
                received_at: r.received_at,
            });
        }
        let detail = json!({"period": period.label, "states": states.len()});
        self.audit_read(actor, "stats.regional", "stats", period.label.clone(), detail).await?;
        Ok(RegionalStats {
            period: period.label,
            previous_period: previous,
            categories,
            states,
            opened_total,
            complete,
        })
    }
}

/// A submitted table as the report machinery takes it (a hidden cell is marked
/// complementary: the hub does not know why a node hid it).
fn stat_table(t: SubmittedTable) -> StatTable {
    let p = t.published;
    let nc = p.cols.len();
    let mut grid: Vec<Vec<Option<u64>>> = p
        .cells
        .iter()
        .zip(&p.row_totals)
        .map(|(row, total)| row.iter().copied().chain([*total]).collect())
        .collect();
    grid.push(p.col_totals.iter().copied().chain([p.total]).collect());
    let marks = grid
        .iter()
        .map(|row| row.iter().map(|v| if v.is_some() { Mark::Shown } else { Mark::Complementary }).collect())
        .collect();
    debug_assert!(grid.iter().all(|r| r.len() == nc + 1));
    StatTable {
        id: t.id,
        measure: t.measure,
        row_dim: t.row_dim,
        col_dim: t.col_dim,
        rows: p.rows,
        cols: p.cols,
        grid,
        marks,
    }
}

impl App {
    /// The regional GRCM report of `period` on the hub: every state's submission as it was
    /// received (already suppressed), for an operator (`enlace report grcm` without a state);
    /// audited.
    pub async fn regional_report(&self, period: &str) -> Result<Vec<NodeStats>, AppError> {
        let (period, out) = self.submissions_of(period).await?;
        let detail = json!({"period": period.label, "states": out.len(), "regional": true});
        let label = period.label.clone();
        self.db()
            .write(move |tx| {
                let (detail, label) = (detail.clone(), label.clone());
                Box::pin(
                    async move { audit(tx, event(None, "stats.report", "stats", Some(label), detail)).await },
                )
            })
            .await?;
        Ok(out)
    }

    /// The same for a regional analyst (the `/regional` page's downloads); audited as a read.
    pub async fn regional_report_for(&self, actor: &Actor, period: &str) -> Result<Vec<NodeStats>, AppError> {
        self.guard(actor, access::require_role(actor, &[Role::RegionalAnalyst])).await?;
        let (period, out) = self.submissions_of(period).await?;
        let detail = json!({"period": period.label, "states": out.len(), "regional": true});
        self.audit_read(actor, "stats.report", "stats", period.label.clone(), detail).await?;
        Ok(out)
    }

    /// Every state's submission of `period`, as the report machinery takes them.
    async fn submissions_of(&self, period: &str) -> Result<(Period, Vec<NodeStats>), AppError> {
        let now = Utc::now();
        let period =
            Period::parse(period.trim(), now).map_err(|e| AppError::invalid("period", e.to_string()))?;
        let rows = enlace_store::fed::hub_stats_of_period(self.db(), &period.label).await?;
        let mut out = Vec::new();
        for r in rows {
            let corrupt = |m: String| AppError::Store(enlace_store::StoreError::Corrupt(m));
            let tables: Vec<SubmittedTable> =
                serde_json::from_value(r.body["tables"].clone()).map_err(|e| corrupt(e.to_string()))?;
            let art36: Art36Delays =
                serde_json::from_value(r.body["art36"].clone()).map_err(|e| corrupt(e.to_string()))?;
            out.push(NodeStats {
                state: CountryCode::parse(&r.state).map_err(|e| corrupt(e.to_string()))?,
                period: period.clone(),
                suppressed: true,
                threshold: THRESHOLD,
                tables: tables.into_iter().map(stat_table).collect(),
                art36,
                computed_at: r.received_at,
            });
        }
        Ok((period, out))
    }
}

/// What a node sends the hub (`what`: statistics, linkage encodings) goes to the hub and
/// names a state its sender serves; returns that state. `sender_states`: the states the
/// directory says the sender serves; `hub`: whether this node is the network's hub.
pub(crate) fn submitting_state<'a>(
    v: &'a VerifiedEnvelope,
    sender_states: &[String],
    hub: bool,
    what: &str,
) -> Result<&'a str, AppError> {
    if !hub {
        return Err(refused("not-the-hub", format!("{what} go to the network's hub, not to this node")));
    }
    let state = v.payload.get("state").and_then(Value::as_str).unwrap_or("");
    if !sender_states.iter().any(|s| s == state) {
        return Err(refused(
            "wrong-state",
            format!("{} does not serve the state \"{state}\"", v.header.from),
        ));
    }
    Ok(state)
}

/// The hub receives a submission (in the inbox's transaction). `sender_states`: the states
/// the directory says the sender serves; `hub`: whether this node is the network's hub.
pub(crate) async fn receive_stats(
    tx: &mut Tx,
    v: &VerifiedEnvelope,
    sender_states: &[String],
    hub: bool,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let state = submitting_state(v, sender_states, hub, "statistics")?;
    let p = &v.payload;
    let label = p.get("period").and_then(Value::as_str).unwrap_or("");
    let period = Period::parse(label, now).map_err(|e| match e {
        PeriodError::Future(_) => refused("future-period", e.to_string()),
        PeriodError::Invalid(_) => refused("bad-period", e.to_string()),
    })?;
    let tables: Vec<SubmittedTable> = serde_json::from_value(p.get("tables").cloned().unwrap_or(Value::Null))
        .map_err(|e| refused("bad-submission", format!("the tables: {e}")))?;
    for t in &tables {
        t.published.check(THRESHOLD).map_err(|e| refused("small-cell", format!("table {}: {e}", t.id)))?;
    }
    let art36: Art36Delays = serde_json::from_value(p.get("art36").cloned().unwrap_or(Value::Null))
        .map_err(|e| refused("bad-submission", format!("the art. 36 delays: {e}")))?;
    if art36.detentions.is_some_and(|n| n > 0 && n < THRESHOLD) {
        return Err(refused("small-cell", "the art. 36 delays rest on fewer detentions than the threshold"));
    }
    let _ = CountryCode::parse(state).map_err(|e| refused("wrong-state", e.to_string()))?;
    let row = HubStatsRow {
        state: state.to_string(),
        period: period.label.clone(),
        period_from: period.from,
        from_node: v.header.from.to_string(),
        message_id: v.header.id.as_uuid(),
        received_at: enlace_store::now(),
        body: json!({"tables": tables, "art36": art36}),
    };
    enlace_store::fed::put_hub_stats(tx, &row).await?;
    let detail =
        json!({"state": state, "period": period.label, "from": row.from_node, "tables": tables.len()});
    audit(tx, event(None, "stats.receive", "stats", Some(period.label), detail)).await
}
