//! Cases: classification, vulnerability, protection acceptance, case numbers.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::country::CountryCode;
use crate::ids::{CaseId, PersonId, UserId};
use crate::parts::{ChildRecord, DeathRecord, Detention, LabourRecord, MissingReport};
use crate::person::{LongText, PersonData};
use crate::post::PostCode;
use crate::workflow::Status;

/// Declares a closed set of snake_case values with `as_str`, `parse` and `ALL`.
#[macro_export]
macro_rules! str_enum {
    ($(#[$m:meta])* pub enum $name:ident { $($(#[$vm:meta])* $v:ident = $s:tt),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
                 serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        pub enum $name { $($(#[$vm])* #[serde(rename = $s)] $v),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$v),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$v => $s),+ }
            }
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some($name::$v),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.pad(self.as_str())
            }
        }
    };
}

str_enum! {
    /// The six headings of Mexico's SRE consular protection classification.
    pub enum Category {
        HumanRights = "human_rights",
        Migration = "migration",
        Criminal = "criminal",
        CivilFamily = "civil_family",
        Labour = "labour",
        Administrative = "administrative",
    }
}

str_enum! {
    /// What happened.
    pub enum Subtype {
        Detention = "detention",
        DeathRepatriation = "death_repatriation",
        MedicalEmergency = "medical_emergency",
        Whereabouts = "whereabouts",
        ChildCustody = "child_custody",
        UnaccompaniedChild = "unaccompanied_child",
        TraffickingVictim = "trafficking_victim",
        CrimeVictim = "crime_victim",
        UnpaidWages = "unpaid_wages",
        WorkInjury = "work_injury",
        Documentation = "documentation",
        Destitution = "destitution",
        CrisisEvacuation = "crisis_evacuation",
        ReturnReception = "return_reception",
    }
}

str_enum! {
    /// Vulnerability profiles (CRM profiles and common practice).
    pub enum Vulnerability {
        UnaccompaniedChild = "unaccompanied_child",
        SeparatedChild = "separated_child",
        TraffickingVictim = "trafficking_victim",
        CrimeVictimOnRoute = "crime_victim_on_route",
        AsylumSeeker = "asylum_seeker",
        ExtraContinental = "extra_continental",
        Pregnant = "pregnant",
        Disability = "disability",
        SeriousIllness = "serious_illness",
        GenderBasedViolence = "gender_based_violence",
        Stateless = "stateless",
        OlderPerson = "older_person",
        IndigenousLanguage = "indigenous_language",
    }
}

impl Vulnerability {
    /// The bit of this flag in a stored mask (position in `ALL`; never reorder `ALL`).
    pub fn bit(self) -> i64 {
        1 << Self::ALL.iter().position(|v| *v == self).expect("in ALL")
    }
    pub fn mask(flags: &[Vulnerability]) -> i64 {
        flags.iter().fold(0, |m, f| m | f.bit())
    }
    pub fn from_mask(mask: i64) -> Vec<Vulnerability> {
        Self::ALL.iter().copied().filter(|v| mask & v.bit() != 0).collect()
    }
    /// Flags that make a case restricted: a child (NNA), or sensitive facts (trafficking,
    /// gender-based violence, health). Reading such a case needs the extra permission.
    pub fn is_restricted(self) -> bool {
        matches!(
            self,
            Vulnerability::UnaccompaniedChild
                | Vulnerability::SeparatedChild
                | Vulnerability::TraffickingVictim
                | Vulnerability::GenderBasedViolence
                | Vulnerability::SeriousIllness
        )
    }
}

str_enum! {
    /// Why protection could not be accepted by the person themself.
    pub enum NotAcceptedReason {
        Child = "child",
        Unconscious = "unconscious",
        Deceased = "deceased",
    }
}

/// Whether the person accepted consular protection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "state", rename_all = "snake_case", deny_unknown_fields)]
pub enum Protection {
    Pending,
    Accepted {
        at: DateTime<Utc>,
    },
    /// The person could not accept (a child, unconscious, deceased): the officer acts anyway.
    NotPossible {
        reason: NotAcceptedReason,
    },
}

impl Protection {
    pub fn is_settled(&self) -> bool {
        !matches!(self, Protection::Pending)
    }
}

str_enum! {
    /// The legal basis for processing the person's data.
    pub enum LegalBasis {
        Consent = "consent",
        VitalInterest = "vital_interest",
        /// Consular functions under the Vienna Convention on Consular Relations (art. 5, 36).
        ConsularFunction = "consular_function",
        LegalObligation = "legal_obligation",
        /// Mutual consular assistance under the CA-4 + Dominican Republic MoU.
        MouAssistance = "mou_assistance",
    }
}

/// A human case number: owning state, year, sequence (`HN-2026-000123`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CaseNumber {
    pub state: CountryCode,
    pub year: i32,
    pub seq: i64,
}

impl CaseNumber {
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || format!("\"{s}\" is not a case number like HN-2026-000123");
        let mut it = s.trim().split('-');
        let (Some(st), Some(y), Some(n), None) = (it.next(), it.next(), it.next(), it.next()) else {
            return Err(bad());
        };
        if st.len() != 2 || y.len() != 4 || n.len() < 6 || !n.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        Ok(CaseNumber {
            state: CountryCode::parse(st).map_err(|_| bad())?,
            year: y.parse().map_err(|_| bad())?,
            seq: n.parse().map_err(|_| bad())?,
        })
    }
}

impl utoipa::PartialSchema for CaseNumber {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some("^[A-Z]{2}-[0-9]{4}-[0-9]{6,}$"))
            .examples([serde_json::json!("HN-2026-000123")])
            .into()
    }
}

impl ToSchema for CaseNumber {}

impl std::fmt::Display for CaseNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{:04}-{:06}", self.state, self.year, self.seq)
    }
}

impl TryFrom<String> for CaseNumber {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        CaseNumber::parse(&s)
    }
}

impl From<CaseNumber> for String {
    fn from(c: CaseNumber) -> String {
        c.to_string()
    }
}

/// The typed parts a case may carry, depending on what happened.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseParts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detention: Option<Detention>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub child: Option<ChildRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub death: Option<DeathRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing: Option<MissingReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labour: Option<LabourRecord>,
}

impl CaseParts {
    /// When the first consular contact of a detention is due, while it is still pending
    /// (none recorded and the detainee does not oppose consular action).
    pub fn first_contact_pending_due(&self) -> Option<DateTime<Utc>> {
        self.detention
            .as_ref()
            .filter(|d| d.first_contact_at.is_none() && !d.detainee_opposes_action)
            .map(|d| d.first_contact_due_at())
    }
}

/// The search terms of a case: folded words of the person's names, aliases and document
/// numbers, and the case number in compact forms (`hn2026000123`, `2026000123`, `000123`).
pub fn search_terms(number: &CaseNumber, person: &PersonData) -> Vec<String> {
    let mut terms = crate::text::tokens(&person.search_text());
    let seq = format!("{:06}", number.seq);
    for t in [
        format!("{}{}{}", number.state.as_str().to_ascii_lowercase(), number.year, seq),
        format!("{}{}", number.year, seq),
        seq,
    ] {
        if !terms.contains(&t) {
            terms.push(t);
        }
    }
    terms.retain(|t| t.len() <= 100);
    terms
}

/// A stored case, as read back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Case {
    pub id: CaseId,
    pub number: CaseNumber,
    /// Optimistic-concurrency version: send it back with an update.
    pub version: i64,
    /// The nationality state that owns the case.
    pub owner_state: CountryCode,
    /// The post working the case. It may belong to another state (MoU assistance).
    pub post: Option<PostCode>,
    /// The state of `post` when it is not the owner (mutual consular assistance).
    pub assisting_state: Option<CountryCode>,
    /// Where the person is.
    pub host_state: CountryCode,
    pub category: Category,
    pub subtype: Subtype,
    pub vulnerabilities: Vec<Vulnerability>,
    pub status: Status,
    pub assigned_officer: Option<UserId>,
    pub protection: Protection,
    pub legal_basis: LegalBasis,
    pub narrative: Option<LongText>,
    pub person_id: PersonId,
    pub person: PersonData,
    /// The person's own version, for corrections (`PUT /cases/{id}/person`).
    pub person_version: i64,
    #[serde(flatten)]
    pub parts: CaseParts,
    pub opened_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub created_by: UserId,
}

impl Case {
    /// A child case or a case with sensitive facts: reading it needs the extra permission.
    pub fn is_restricted(&self) -> bool {
        self.parts.child.is_some() || self.vulnerabilities.iter().any(|v| v.is_restricted())
    }
}

/// A case in a list: what a worklist row shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CaseSummary {
    pub id: CaseId,
    pub number: CaseNumber,
    pub owner_state: CountryCode,
    pub post: Option<PostCode>,
    pub host_state: CountryCode,
    pub category: Category,
    pub subtype: Subtype,
    pub vulnerabilities: Vec<Vulnerability>,
    pub status: Status,
    pub person_name: String,
    pub assigned_officer: Option<UserId>,
    pub opened_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Art. 36: first consular contact is overdue (over 24 hours).
    pub first_contact_overdue: bool,
    /// A restricted case (child, sensitive facts) shown to someone without the permission:
    /// the person's name is withheld.
    pub restricted: bool,
}

/// Checks a case's parts against each other and against the person.
pub fn validate_parts(parts: &CaseParts, person: &PersonData, now: DateTime<Utc>) -> crate::ValidationErrors {
    let mut e = crate::ValidationErrors::new();
    if let Some(d) = &parts.detention {
        e.extend(d.validate(now).nest("detention"));
    }
    if let Some(c) = &parts.child {
        e.extend(c.validate(now).nest("child"));
        if let Some(age) = person.birth.age_on(now.date_naive())
            && age >= 18
        {
            e.push("child", "the person is 18 or older by their recorded birth");
        }
    }
    if let Some(d) = &parts.death {
        e.extend(d.validate(now).nest("death"));
        if let Some((earliest, _)) = person.birth.range()
            && d.date_of_death < earliest
        {
            e.push("death.date_of_death", "is before the person's birth");
        }
    }
    if let Some(m) = &parts.missing {
        e.extend(m.validate(now).nest("missing"));
    }
    if let Some(l) = &parts.labour {
        e.extend(l.validate().nest("labour"));
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_numbers_round_trip() {
        let n = CaseNumber::parse("HN-2026-000123").unwrap();
        assert_eq!(n.seq, 123);
        assert_eq!(n.to_string(), "HN-2026-000123");
        let big = CaseNumber { seq: 1_234_567, ..n.clone() };
        assert_eq!(CaseNumber::parse(&big.to_string()).unwrap(), big);
        for bad in ["HN-2026-123", "XX-2026-000001", "HN-26-000001", "HN2026000001", "HN-2026-00012a"] {
            assert!(CaseNumber::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn vulnerability_masks_round_trip() {
        let flags = vec![Vulnerability::UnaccompaniedChild, Vulnerability::IndigenousLanguage];
        assert_eq!(Vulnerability::from_mask(Vulnerability::mask(&flags)), flags);
        assert_eq!(Vulnerability::ALL.len(), 13);
    }

    #[test]
    fn enums_use_snake_case_on_the_wire() {
        assert_eq!(serde_json::to_string(&Category::CivilFamily).unwrap(), "\"civil_family\"");
        assert!(serde_json::from_str::<Subtype>("\"kidnapping\"").is_err());
        for s in Subtype::ALL {
            assert_eq!(Subtype::parse(s.as_str()), Some(*s));
        }
    }
}
