//! What one case contributes to statistics, whatever the period: the values it is counted
//! by. Kept beside each case (`case_facts`, written with every change of the case or of its
//! person) so that a period's statistics read one narrow row per case instead of the case, its
//! person and their JSON. Pure.

use chrono::{DateTime, NaiveDate, Utc};

use crate::case::{Case, Vulnerability};
use crate::country::CountryCode;
use crate::parts::Accompaniment;
use crate::person::{Birth, Sex};

/// A case's statistical values that do not depend on the period.
#[derive(Debug, Clone, PartialEq)]
pub struct StatFacts {
    /// The person's first nationality, else the owner state.
    pub nationality: CountryCode,
    /// `female`, `male`, `other` or `unknown`.
    pub sex: &'static str,
    /// On the day the case was opened: `0-11`, `12-17`, `18+` or `unknown`.
    pub age_band: &'static str,
    /// Flagged, or a child record saying so.
    pub unaccompanied: bool,
    /// A child's planned return: its date and route.
    pub return_date: Option<NaiveDate>,
    pub return_route: Option<String>,
    /// A detention: when the post learned of it, and when the first consular contact was.
    pub art36_learned_at: Option<DateTime<Utc>>,
    pub art36_contact_at: Option<DateTime<Utc>>,
}

/// The age band on the day `opened`.
pub fn age_band(birth: &Birth, opened: DateTime<Utc>) -> &'static str {
    match birth.age_on(opened.date_naive()) {
        None => "unknown",
        Some(0..=11) => "0-11",
        Some(12..=17) => "12-17",
        Some(_) => "18+",
    }
}

/// The name of a sex as statistics count it.
pub fn sex_name(s: Sex) -> &'static str {
    s.as_str()
}

impl StatFacts {
    pub fn of(c: &Case) -> StatFacts {
        let child = c.parts.child.as_ref();
        let unaccompanied = c.vulnerabilities.contains(&Vulnerability::UnaccompaniedChild)
            || child.is_some_and(|k| k.accompaniment == Accompaniment::Unaccompanied);
        let plan = child.and_then(|k| k.return_plan.as_ref());
        let detention = c.parts.detention.as_ref();
        StatFacts {
            nationality: c.person.nationalities.first().copied().unwrap_or(c.owner_state),
            sex: sex_name(c.person.sex),
            age_band: age_band(&c.person.birth, c.opened_at),
            unaccompanied,
            return_date: plan.map(|r| r.date),
            return_route: plan.map(|r| r.route.as_str().to_string()),
            art36_learned_at: detention.map(|d| d.notice_received_at.unwrap_or(d.detained_at)),
            art36_contact_at: detention.and_then(|d| d.first_contact_at),
        }
    }
}
