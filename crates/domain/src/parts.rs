//! The typed parts of a case: detention (art. 36), child (NNA), death, missing person, labour,
//! and consent. Each knows its own consistency rules.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ValidationErrors;
use crate::person::{LongText, ShortText};

/// Reference delay for the first consular contact after the post learns of a detention.
pub const FIRST_CONTACT_LIMIT: Duration = Duration::hours(24);

/// Detention notification under art. 36 of the Vienna Convention on Consular Relations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Detention {
    pub detained_at: DateTime<Utc>,
    /// Where the person is held (facility, city).
    pub place: ShortText,
    #[serde(default)]
    pub authority: Option<ShortText>,
    #[serde(default)]
    pub identified_as_foreign_at: Option<DateTime<Utc>>,
    /// When the detainee was told of the right to consular notification.
    #[serde(default)]
    pub informed_of_right_at: Option<DateTime<Utc>>,
    /// The detainee asked for the consulate to be notified.
    #[serde(default)]
    pub notification_requested: bool,
    /// Notification is mandatory under a bilateral agreement, whatever the detainee says.
    #[serde(default)]
    pub notification_mandatory: bool,
    #[serde(default)]
    pub notice_sent_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub notice_received_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub first_contact_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub first_visit_at: Option<DateTime<Utc>>,
    /// The detainee expressly opposes consular action (art. 36(1)(c)).
    #[serde(default)]
    pub detainee_opposes_action: bool,
}

/// Delays computed from a detention's timeline, in whole minutes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DetentionDelays {
    pub detention_to_notice_minutes: Option<i64>,
    pub notice_to_first_contact_minutes: Option<i64>,
    pub detention_to_first_visit_minutes: Option<i64>,
    /// When the first contact is due (24 hours after the post learned of the detention).
    pub first_contact_due_at: DateTime<Utc>,
    pub first_contact_overdue: bool,
}

impl Detention {
    /// The clock for the first contact starts when the post was notified, or at detention
    /// when no notice was recorded (a missing notice is itself a failure to flag).
    pub fn first_contact_due_at(&self) -> DateTime<Utc> {
        self.notice_received_at.unwrap_or(self.detained_at) + FIRST_CONTACT_LIMIT
    }

    pub fn delays(&self, now: DateTime<Utc>) -> DetentionDelays {
        let mins = |a: DateTime<Utc>, b: Option<DateTime<Utc>>| b.map(|b| (b - a).num_minutes());
        let due = self.first_contact_due_at();
        let overdue = match self.first_contact_at {
            Some(c) => c > due,
            None => now > due && !self.detainee_opposes_action,
        };
        DetentionDelays {
            detention_to_notice_minutes: mins(self.detained_at, self.notice_received_at),
            notice_to_first_contact_minutes: self
                .notice_received_at
                .and_then(|n| mins(n, self.first_contact_at)),
            detention_to_first_visit_minutes: mins(self.detained_at, self.first_visit_at),
            first_contact_due_at: due,
            first_contact_overdue: overdue,
        }
    }

    pub fn validate(&self, now: DateTime<Utc>) -> ValidationErrors {
        let mut e = ValidationErrors::new();
        let slack = Duration::minutes(5); // clocks of the officer's device and the server
        let after = |e: &mut ValidationErrors, field: &str, t: Option<DateTime<Utc>>| {
            if let Some(t) = t {
                if t < self.detained_at {
                    e.push(field, "is before the detention");
                }
                if t > now + slack {
                    e.push(field, "is in the future");
                }
            }
        };
        if self.detained_at > now + slack {
            e.push("detained_at", "is in the future");
        }
        after(&mut e, "identified_as_foreign_at", self.identified_as_foreign_at);
        after(&mut e, "informed_of_right_at", self.informed_of_right_at);
        after(&mut e, "notice_sent_at", self.notice_sent_at);
        after(&mut e, "notice_received_at", self.notice_received_at);
        after(&mut e, "first_contact_at", self.first_contact_at);
        after(&mut e, "first_visit_at", self.first_visit_at);
        if let (Some(s), Some(r)) = (self.notice_sent_at, self.notice_received_at)
            && r < s
        {
            e.push("notice_received_at", "is before the notice was sent");
        }
        e
    }
}

crate::str_enum! {
    pub enum Accompaniment {
        Unaccompanied = "unaccompanied",
        Separated = "separated",
        Accompanied = "accompanied",
    }
}

crate::str_enum! {
    pub enum FamilyTracing {
        NotStarted = "not_started",
        InProgress = "in_progress",
        Located = "located",
        NotFound = "not_found",
    }
}

crate::str_enum! {
    pub enum Route {
        Land = "land",
        Air = "air",
        Sea = "sea",
    }
}

/// A guardian, caregiver or family contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    pub name: ShortText,
    pub relationship: ShortText,
    #[serde(default)]
    pub phone: Option<ShortText>,
    #[serde(default)]
    pub address: Option<ShortText>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BestInterestAssessment {
    pub date: NaiveDate,
    pub author: ShortText,
    pub conclusions: LongText,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnPlan {
    pub date: NaiveDate,
    pub route: Route,
    pub receiving_authority: ShortText,
}

/// Child (NNA: niña, niño o adolescente) record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChildRecord {
    pub accompaniment: Accompaniment,
    #[serde(default)]
    pub guardian: Option<Contact>,
    #[serde(default)]
    pub best_interest: Option<BestInterestAssessment>,
    #[serde(default = "default_tracing")]
    pub family_tracing: FamilyTracing,
    /// Child-protection authority of the host state (e.g. DIF / PFPNNA in Mexico).
    #[serde(default)]
    pub host_protection_authority: Option<ShortText>,
    /// Child-protection authority of the home state (e.g. DINAF in Honduras).
    #[serde(default)]
    pub home_protection_authority: Option<ShortText>,
    #[serde(default)]
    pub return_plan: Option<ReturnPlan>,
    /// The child's own views, in the child's words where possible.
    #[serde(default)]
    pub child_views: Option<LongText>,
}

fn default_tracing() -> FamilyTracing {
    FamilyTracing::NotStarted
}

impl ChildRecord {
    /// Rule: a best-interest assessment comes before any return plan.
    pub fn validate(&self, now: DateTime<Utc>) -> ValidationErrors {
        let mut e = ValidationErrors::new();
        let today = now.date_naive();
        if let Some(b) = &self.best_interest
            && b.date > today
        {
            e.push("best_interest.date", "is in the future");
        }
        if let Some(plan) = &self.return_plan {
            match &self.best_interest {
                None => e.push("return_plan", "a best-interest assessment is required before a return plan"),
                Some(b) if plan.date < b.date => {
                    e.push("return_plan.date", "is before the best-interest assessment")
                }
                Some(_) => {}
            }
        }
        e
    }
}

crate::str_enum! {
    pub enum RemainsStatus {
        Identified = "identified",
        Unidentified = "unidentified",
    }
}

crate::str_enum! {
    pub enum Repatriation {
        NotRequested = "not_requested",
        Requested = "requested",
        InProgress = "in_progress",
        Completed = "completed",
        LocalBurial = "local_burial",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeathRecord {
    pub date_of_death: NaiveDate,
    pub place: ShortText,
    #[serde(default)]
    pub cause: Option<ShortText>,
    pub remains_status: RemainsStatus,
    #[serde(default)]
    pub remains_location: Option<ShortText>,
    pub repatriation: Repatriation,
    #[serde(default)]
    pub family_notified_at: Option<DateTime<Utc>>,
}

impl DeathRecord {
    pub fn validate(&self, now: DateTime<Utc>) -> ValidationErrors {
        let mut e = ValidationErrors::new();
        if self.date_of_death > now.date_naive() {
            e.push("date_of_death", "is in the future");
        }
        if let Some(n) = self.family_notified_at
            && n.date_naive() < self.date_of_death
        {
            e.push("family_notified_at", "is before the death");
        }
        e
    }
}

crate::str_enum! {
    pub enum Reporter {
        Family = "family",
        CivilSociety = "civil_society",
        Authority = "authority",
        Other = "other",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MissingReport {
    pub reported_by: Reporter,
    #[serde(default)]
    pub reporter_name: Option<ShortText>,
    #[serde(default)]
    pub reporter_contact: Option<ShortText>,
    #[serde(default)]
    pub last_seen_date: Option<NaiveDate>,
    #[serde(default)]
    pub last_seen_place: Option<ShortText>,
    /// The route the person was travelling.
    #[serde(default)]
    pub route: Option<ShortText>,
    #[serde(default)]
    pub physical_description: Option<LongText>,
}

impl MissingReport {
    pub fn validate(&self, now: DateTime<Utc>) -> ValidationErrors {
        let mut e = ValidationErrors::new();
        if self.last_seen_date.is_some_and(|d| d > now.date_naive()) {
            e.push("last_seen_date", "is in the future");
        }
        e
    }
}

crate::str_enum! {
    pub enum ClaimType {
        UnpaidWages = "unpaid_wages",
        WorkInjury = "work_injury",
        Abuse = "abuse",
        ContractBreach = "contract_breach",
        RecruitmentFees = "recruitment_fees",
        Other = "other",
    }
}

/// An amount of money in minor units (cents) and an ISO 4217 currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Money {
    #[schema(example = 125000)]
    pub minor_units: i64,
    #[schema(example = "USD")]
    pub currency: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LabourRecord {
    #[serde(default)]
    pub employer: Option<ShortText>,
    #[serde(default)]
    pub recruiter: Option<ShortText>,
    /// Work permit or visa type (e.g. H-2A, TVR).
    #[serde(default)]
    pub permit_type: Option<ShortText>,
    #[serde(default)]
    pub sector: Option<ShortText>,
    pub claim_type: ClaimType,
    #[serde(default)]
    pub amount_owed: Option<Money>,
    /// The labour authority or court the claim is before.
    #[serde(default)]
    pub authority_seized: Option<ShortText>,
}

impl LabourRecord {
    pub fn validate(&self) -> ValidationErrors {
        let mut e = ValidationErrors::new();
        if let Some(m) = &self.amount_owed {
            if m.minor_units < 0 {
                e.push("amount_owed.minor_units", "must not be negative");
            }
            if m.currency.len() != 3 || !m.currency.bytes().all(|b| b.is_ascii_uppercase()) {
                e.push("amount_owed.currency", "must be an ISO 4217 code like USD or MXN");
            }
        }
        e
    }
}

crate::str_enum! {
    pub enum ConsentGiver {
        Person = "person",
        Guardian = "guardian",
        ChildProtectionAuthority = "child_protection_authority",
    }
}

crate::str_enum! {
    pub enum ConsentScope {
        Services = "services",
        /// Referral to a named recipient (`recipient`).
        Referral = "referral",
        CrossBorderSharing = "cross_border_sharing",
        Statistics = "statistics",
    }
}

/// Consent as given (the input).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"given_by": "child_protection_authority", "giver_name": "Procuraduría de Protección de NNA, Chiapas",
    "scope": "cross_border_sharing", "recipient": "GT", "given_at": "2026-11-20T16:00:00Z"}))]
pub struct ConsentData {
    pub given_by: ConsentGiver,
    #[serde(default)]
    pub giver_name: Option<ShortText>,
    pub scope: ConsentScope,
    /// The named recipient, for a referral or cross-border sharing (a state code or an organisation).
    #[serde(default)]
    pub recipient: Option<ShortText>,
    pub given_at: DateTime<Utc>,
}

impl ConsentData {
    pub fn validate(&self, now: DateTime<Utc>) -> ValidationErrors {
        let mut e = ValidationErrors::new();
        if self.given_at > now + Duration::minutes(5) {
            e.push("given_at", "is in the future");
        }
        if self.scope == ConsentScope::Referral && self.recipient.is_none() {
            e.push("recipient", "a referral consent names its recipient");
        }
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap() + Duration::hours(h as i64)
    }

    fn detention() -> Detention {
        Detention {
            detained_at: t(0),
            place: ShortText::parse("Estación migratoria, Tapachula").unwrap(),
            authority: None,
            identified_as_foreign_at: Some(t(1)),
            informed_of_right_at: Some(t(2)),
            notification_requested: true,
            notification_mandatory: false,
            notice_sent_at: Some(t(3)),
            notice_received_at: Some(t(4)),
            first_contact_at: None,
            first_visit_at: None,
            detainee_opposes_action: false,
        }
    }

    #[test]
    fn first_contact_overdue_after_24h_from_notice() {
        let d = detention();
        assert!(!d.delays(t(27)).first_contact_overdue);
        assert!(d.delays(t(29)).first_contact_overdue);
        let mut done = d.clone();
        done.first_contact_at = Some(t(10));
        let delays = done.delays(t(100));
        assert!(!delays.first_contact_overdue);
        assert_eq!(delays.notice_to_first_contact_minutes, Some(6 * 60));
        done.first_contact_at = Some(t(30));
        assert!(done.delays(t(100)).first_contact_overdue);
    }

    #[test]
    fn detention_chronology_is_checked() {
        let mut d = detention();
        d.notice_received_at = Some(t(2));
        d.first_contact_at = Some(t(200));
        let e = d.validate(t(5));
        let fields: Vec<_> = e.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["first_contact_at", "notice_received_at"]);
    }

    #[test]
    fn return_plan_needs_best_interest_assessment() {
        let c = ChildRecord {
            accompaniment: Accompaniment::Unaccompanied,
            guardian: None,
            best_interest: None,
            family_tracing: FamilyTracing::InProgress,
            host_protection_authority: None,
            home_protection_authority: None,
            return_plan: Some(ReturnPlan {
                date: t(0).date_naive(),
                route: Route::Land,
                receiving_authority: ShortText::parse("DINAF").unwrap(),
            }),
            child_views: None,
        };
        assert_eq!(c.validate(t(0)).0[0].field, "return_plan");
    }
}
