//! Retention: each state's rules, legal holds, and the job that purges or anonymises closed
//! cases whose time is up. What it removes is audited without personal data.

use chrono::{DateTime, Utc};
use enlace_domain::case::search_terms;
use enlace_domain::country::CountryCode;
use enlace_domain::ids::CaseId;
use enlace_domain::retention::{RetentionAction, RetentionRule};
use enlace_domain::role::Role;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{Actor, App, AppError, access, audit, event};

/// Cases handled per transaction by the retention job.
const BATCH: i64 = 200;

/// A legal hold placed on, or lifted from, a case.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"hold": true, "reason": "Criminal proceedings pending in Tapachula (exp. 123/2026)."}))]
pub struct LegalHoldRequest {
    pub hold: bool,
    /// Why (10 to 2000 characters).
    pub reason: String,
}

/// What a retention run did (or, dry, would do), per state and rule.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RetentionReport {
    pub dry_run: bool,
    pub lines: Vec<RetentionLine>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RetentionLine {
    pub state: CountryCode,
    pub rule: RetentionRule,
    /// Case numbers handled.
    pub cases: Vec<String>,
}

impl RetentionReport {
    pub fn total(&self) -> usize {
        self.lines.iter().map(|l| l.cases.len()).sum()
    }
}

impl App {
    /// The retention rules of the actor's state (administrators and auditors).
    pub async fn retention_rules(&self, actor: &Actor) -> Result<Vec<RetentionRule>, AppError> {
        self.guard(actor, access::require_role(actor, &[Role::CountryAdministrator, Role::Auditor])).await?;
        let rules = enlace_store::retention::rules(self.db(), Some(actor.user.state)).await?;
        Ok(rules.into_iter().map(|(_, r)| r).collect())
    }

    /// Sets the retention rule of one category for the administrator's state.
    pub async fn set_retention_rule(
        &self,
        actor: &Actor,
        rule: RetentionRule,
    ) -> Result<RetentionRule, AppError> {
        self.guard(actor, access::require_role(actor, &[Role::CountryAdministrator])).await?;
        rule.validate().into_result()?;
        let (state, by, now) = (actor.user.state, actor.user.id, enlace_store::now());
        let actor_w = actor.clone();
        let r = rule.clone();
        self.db()
            .write(move |tx| {
                let (actor, r) = (actor_w.clone(), r.clone());
                Box::pin(async move {
                    enlace_store::retention::put_rule(tx, state, &r, by, now).await?;
                    let detail = serde_json::json!({"state": state, "category": r.category, "years": r.years, "action": r.action});
                    audit(tx, event(Some(&actor), "retention.rule", "retention_rule", Some(format!("{state}/{}", r.category)), detail))
                        .await
                })
            })
            .await?;
        Ok(rule)
    }

    /// Places or lifts a legal hold on a case (protection supervisors, in their scope).
    pub async fn set_legal_hold(
        &self,
        actor: &Actor,
        id: CaseId,
        r: LegalHoldRequest,
    ) -> Result<(), AppError> {
        self.guard(actor, access::require_role(actor, &[Role::ProtectionSupervisor])).await?;
        let reason =
            enlace_domain::text::clean_text(&r.reason, 2000).map_err(|m| AppError::invalid("reason", m))?;
        if reason.chars().count() < 10 {
            return Err(AppError::invalid("reason", "explain why in at least 10 characters"));
        }
        let actor_w = actor.clone();
        self.write_as(actor, move |tx| {
            let (actor, reason) = (actor_w.clone(), reason.clone());
            Box::pin(async move {
                let c = Self::load_for_change(tx, &actor, id).await?;
                enlace_store::retention::set_legal_hold(tx, c.id, r.hold).await?;
                let detail = serde_json::json!({"number": c.number, "hold": r.hold, "reason": reason});
                audit(tx, event(Some(&actor), "case.legal_hold", "case", Some(c.id.to_string()), detail))
                    .await
            })
        })
        .await
    }

    /// Whether a case is on legal hold (for those who may read it).
    pub async fn legal_hold(&self, actor: &Actor, id: CaseId) -> Result<bool, AppError> {
        self.read_case_for(actor, id, "legal_hold").await?;
        Ok(enlace_store::retention::legal_hold(self.db(), id).await?)
    }

    /// Applies every state's rules at `now`: closed cases past their time, not on legal hold,
    /// are purged or anonymised, each with an audit event naming only the case number. A dry
    /// run changes nothing and reports what would be done.
    pub async fn run_retention(
        &self,
        dry_run: bool,
        now: DateTime<Utc>,
    ) -> Result<RetentionReport, AppError> {
        let mut report = RetentionReport { dry_run, lines: Vec::new() };
        for (state, rule) in enlace_store::retention::rules(self.db(), None).await? {
            let before = rule.closed_before(now);
            let mut line = RetentionLine { state, rule: rule.clone(), cases: Vec::new() };
            let mut seen = std::collections::HashSet::new();
            loop {
                let due =
                    enlace_store::retention::due(self.db(), state, rule.category, before, BATCH).await?;
                // Never loop on cases a batch could not take out of the due set.
                if !due.iter().any(|d| seen.insert(d.id)) && !due.is_empty() {
                    break;
                }
                if dry_run {
                    line.cases.extend(due.iter().map(|d| d.number.to_string()));
                    break;
                }
                if due.is_empty() {
                    break;
                }
                line.cases.extend(due.iter().map(|d| d.number.to_string()));
                let rule_w = rule.clone();
                self.db()
                    .write(move |tx| {
                        let (due, rule) = (due.clone(), rule_w.clone());
                        Box::pin(async move {
                            for d in &due {
                                let action = match rule.action {
                                    RetentionAction::Purge => {
                                        let person =
                                            enlace_store::retention::purge(tx, d.id, d.person).await?;
                                        serde_json::json!({"person_removed": person})
                                    }
                                    RetentionAction::Anonymise => {
                                        let Some(p) =
                                            enlace_store::persons::get_person_tx(tx, d.person).await?
                                        else {
                                            continue;
                                        };
                                        let anon = p.data.anonymised();
                                        let done =
                                            enlace_store::retention::anonymise(tx, d, &anon, now).await?;
                                        let data = if done { &anon } else { &p.data };
                                        let terms = search_terms(&d.number, data);
                                        enlace_store::cases::set_terms(tx, d.id, d.number.state, &terms)
                                            .await?;
                                        serde_json::json!({"person_anonymised": done})
                                    }
                                };
                                let detail = serde_json::json!({"number": d.number, "category": rule.category,
                                    "closed_at": d.closed_at, "years": rule.years, "result": action});
                                let name = match rule.action {
                                    RetentionAction::Purge => "retention.purge",
                                    RetentionAction::Anonymise => "retention.anonymise",
                                };
                                audit(tx, event(None, name, "case", Some(d.id.to_string()), detail)).await?;
                            }
                            Ok::<_, AppError>(())
                        })
                    })
                    .await?;
            }
            if !line.cases.is_empty() {
                report.lines.push(line);
            }
        }
        Ok(report)
    }
}
