//! Retention: how long each state keeps closed cases of each category, and what anonymising
//! a person keeps (what statistics need, nothing that identifies).

use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::case::Category;
use crate::person::{Birth, Name, PersonData};

crate::str_enum! {
    /// What happens to a closed case whose time is up.
    pub enum RetentionAction {
        /// The case, its records and (when no other case refers to it) its person are deleted.
        Purge = "purge",
        /// Identifying data is removed; what statistics need stays.
        Anonymise = "anonymise",
    }
}

/// A state's rule for one category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"category": "migration", "years": 5, "action": "anonymise"}))]
pub struct RetentionRule {
    pub category: Category,
    /// Years after closing, 1 to 100.
    pub years: u32,
    pub action: RetentionAction,
}

impl RetentionRule {
    pub fn validate(&self) -> crate::ValidationErrors {
        let mut e = crate::ValidationErrors::new();
        if !(1..=100).contains(&self.years) {
            e.push("years", "must be between 1 and 100");
        }
        e
    }

    /// Cases closed before this time are due.
    pub fn closed_before(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let years = self.years as i32;
        now.with_year(now.year() - years).unwrap_or(now - chrono::Duration::days(366 * i64::from(self.years)))
    }
}

impl PersonData {
    /// The person with everything identifying removed: names, aliases, documents, birth place,
    /// parents; the birth date coarsened to its year. Sex, nationalities and languages stay.
    pub fn anonymised(&self) -> PersonData {
        let birth = match &self.birth {
            Birth::Date { date } => Birth::Year { year: date.year() },
            Birth::EstimatedAge { min_years, max_years, estimated_on } => Birth::EstimatedAge {
                min_years: *min_years,
                max_years: *max_years,
                estimated_on: estimated_on.with_day(1).unwrap_or(*estimated_on),
            },
            other => other.clone(),
        };
        PersonData {
            given_names: vec![Name::parse("Anonimizado").expect("a valid name")],
            surnames: Vec::new(),
            aliases: Vec::new(),
            sex: self.sex,
            birth,
            birth_place: None,
            birth_state: self.birth_state,
            nationalities: self.nationalities.clone(),
            documents: Vec::new(),
            languages: self.languages.clone(),
            interpreter_needed: self.interpreter_needed,
            father_name: None,
            mother_name: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn rules_count_years_from_closing() {
        let r = RetentionRule { category: Category::Migration, years: 5, action: RetentionAction::Purge };
        let now = Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 0).unwrap();
        assert_eq!(r.closed_before(now), Utc.with_ymd_and_hms(2021, 11, 29, 12, 0, 0).unwrap());
        assert!(r.validate().is_empty());
        assert!(!RetentionRule { years: 0, ..r.clone() }.validate().is_empty());
    }
}
