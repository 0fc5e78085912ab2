//! Persons (data subjects) and the validated text types they are made of.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use crate::country::CountryCode;
use crate::error::ValidationErrors;
use crate::ids::PersonId;
use crate::text::clean_text;

macro_rules! text_type {
    ($(#[$m:meta])* $name:ident, $max:expr, $example:expr) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, ToSchema)]
        #[serde(transparent)]
        #[schema(value_type = String, example = $example)]
        pub struct $name(String);

        impl $name {
            pub const MAX: usize = $max;
            pub fn parse(s: &str) -> Result<Self, String> {
                let t = clean_text(s, $max)?;
                if t.is_empty() {
                    return Err("must not be empty".into());
                }
                Ok(Self(t))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.pad(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $name::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

text_type!(/// A short free text: 1 to 200 characters, no control characters.
    ShortText, 200, "Estación migratoria Siglo XXI");
text_type!(/// A long free text (narratives, notes): 1 to 20,000 characters.
    LongText, 20_000, "Menor localizado por la policía municipal en la terminal de autobuses.");

/// One name (a given name or a surname, possibly with particles: "de la Cruz").
/// Letters, spaces, apostrophes, hyphens and dots; 1 to 80 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = String, example = "Gutiérrez")]
pub struct Name(String);

impl Name {
    pub fn parse(s: &str) -> Result<Self, String> {
        let t: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
        if t.is_empty() {
            return Err("must not be empty".into());
        }
        if t.chars().count() > 80 {
            return Err("is longer than 80 characters".into());
        }
        if let Some(c) = t.chars().find(|c| {
            !(c.is_alphabetic()
                || unicode_normalization::char::is_combining_mark(*c)
                || matches!(c, ' ' | '\'' | '’' | '-' | '.'))
        }) {
            return Err(format!("contains {c:?}, which is not allowed in a name"));
        }
        if !t.chars().any(char::is_alphabetic) {
            return Err("must contain a letter".into());
        }
        Ok(Name(t))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(&self.0)
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Name::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Female,
    Male,
    Other,
    Unknown,
}

impl Sex {
    pub fn as_str(self) -> &'static str {
        match self {
            Sex::Female => "female",
            Sex::Male => "male",
            Sex::Other => "other",
            Sex::Unknown => "unknown",
        }
    }
    pub fn parse(s: &str) -> Option<Sex> {
        [Sex::Female, Sex::Male, Sex::Other, Sex::Unknown].into_iter().find(|x| x.as_str() == s)
    }
}

/// What is known of a person's birth: a date, a year, an estimated age, or nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Birth {
    Date {
        date: NaiveDate,
    },
    Year {
        year: i32,
    },
    /// An age range estimated on a given day (e.g. by a doctor or the officer).
    EstimatedAge {
        min_years: u8,
        max_years: u8,
        estimated_on: NaiveDate,
    },
    Unknown,
}

impl Birth {
    /// The earliest and latest possible birth dates, when anything is known.
    pub fn range(&self) -> Option<(NaiveDate, NaiveDate)> {
        match self {
            Birth::Date { date } => Some((*date, *date)),
            Birth::Year { year } => {
                Some((NaiveDate::from_ymd_opt(*year, 1, 1)?, NaiveDate::from_ymd_opt(*year, 12, 31)?))
            }
            Birth::EstimatedAge { min_years, max_years, estimated_on } => {
                let latest = estimated_on.with_year(estimated_on.year() - *min_years as i32)?;
                let earliest =
                    estimated_on.with_year(estimated_on.year() - *max_years as i32 - 1)?.succ_opt()?;
                Some((earliest, latest))
            }
            Birth::Unknown => None,
        }
    }
    /// The birth year when known exactly, for statistics and blocking.
    pub fn year(&self) -> Option<i32> {
        match self {
            Birth::Date { date } => Some(date.year()),
            Birth::Year { year } => Some(*year),
            _ => None,
        }
    }
    /// Age in whole years on `on`, using the latest possible birth date (the youngest
    /// the person can be): a child stays a child when in doubt.
    pub fn age_on(&self, on: NaiveDate) -> Option<u32> {
        let (_, latest) = self.range()?;
        on.years_since(latest)
    }
    fn validate(&self, today: NaiveDate) -> ValidationErrors {
        let mut e = ValidationErrors::new();
        match self {
            Birth::Date { date } => {
                if *date > today {
                    e.push("date", "is in the future");
                } else if today.year() - date.year() > 130 {
                    e.push("date", "is more than 130 years ago");
                }
            }
            Birth::Year { year } => {
                if *year > today.year() {
                    e.push("year", "is in the future");
                } else if i64::from(today.year()) - i64::from(*year) > 130 {
                    e.push("year", "is more than 130 years ago");
                }
            }
            Birth::EstimatedAge { min_years, max_years, estimated_on } => {
                if min_years > max_years {
                    e.push("min_years", "is greater than max_years");
                }
                if *max_years > 130 {
                    e.push("max_years", "is over 130");
                }
                if *estimated_on > today {
                    e.push("estimated_on", "is in the future");
                }
            }
            Birth::Unknown => {}
        }
        e.nest("birth")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    Passport,
    NationalId,
    BirthCertificate,
    ConsularId,
    TravelDocument,
    ResidencePermit,
    Other,
}

/// An identity document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentityDocument {
    pub kind: DocumentKind,
    #[schema(value_type = String, example = "0801199912345")]
    pub number: ShortText,
    pub issuing_state: CountryCode,
}

/// A language the person speaks: an ISO 639 code (2 or 3 lower-case letters, e.g. `es`, `quc`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = String, example = "quc", pattern = "^[a-z]{2,3}$")]
pub struct LanguageCode(String);

impl LanguageCode {
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = s.trim().to_ascii_lowercase();
        if (2..=3).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_lowercase()) {
            Ok(LanguageCode(t))
        } else {
            Err(format!("\"{s}\" is not an ISO 639 language code (2 or 3 letters)"))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for LanguageCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        LanguageCode::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// What a person is, as registered. Given names and surnames are separate lists
/// ("María José" / "Gutiérrez Hernández"); particles stay with their surname ("de la Cruz").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonData {
    #[schema(example = json!(["María", "José"]))]
    pub given_names: Vec<Name>,
    #[schema(example = json!(["Gutiérrez", "Hernández"]))]
    #[serde(default)]
    pub surnames: Vec<Name>,
    /// Other names and aliases the person is known by.
    #[serde(default)]
    pub aliases: Vec<ShortText>,
    pub sex: Sex,
    pub birth: Birth,
    #[serde(default)]
    pub birth_place: Option<ShortText>,
    #[serde(default)]
    pub birth_state: Option<CountryCode>,
    /// Nationalities; empty for a stateless person.
    #[serde(default)]
    pub nationalities: Vec<CountryCode>,
    #[serde(default)]
    pub documents: Vec<IdentityDocument>,
    #[serde(default)]
    pub languages: Vec<LanguageCode>,
    #[serde(default)]
    pub interpreter_needed: bool,
    #[serde(default)]
    pub father_name: Option<ShortText>,
    #[serde(default)]
    pub mother_name: Option<ShortText>,
}

impl PersonData {
    /// Checks what the types alone cannot: list sizes, duplicates, dates against today.
    pub fn validate(&self, today: NaiveDate) -> ValidationErrors {
        let mut e = ValidationErrors::new();
        if self.given_names.is_empty() && self.surnames.is_empty() {
            e.push("given_names", "a person needs at least one given name or surname");
        }
        if self.given_names.len() > 6 {
            e.push("given_names", "has more than 6 names");
        }
        if self.surnames.len() > 6 {
            e.push("surnames", "has more than 6 names");
        }
        if self.aliases.len() > 20 {
            e.push("aliases", "has more than 20 entries");
        }
        if self.documents.len() > 20 {
            e.push("documents", "has more than 20 entries");
        }
        if self.languages.len() > 10 {
            e.push("languages", "has more than 10 entries");
        }
        let mut nats = self.nationalities.clone();
        nats.sort();
        nats.dedup();
        if nats.len() != self.nationalities.len() {
            e.push("nationalities", "lists a state twice");
        }
        if self.nationalities.len() > 5 {
            e.push("nationalities", "has more than 5 entries");
        }
        e.extend(self.birth.validate(today));
        e
    }

    /// "María José Gutiérrez Hernández".
    pub fn full_name(&self) -> String {
        self.given_names.iter().chain(self.surnames.iter()).map(Name::as_str).collect::<Vec<_>>().join(" ")
    }

    /// Everything a name search should find this person by.
    pub fn search_text(&self) -> String {
        let mut s = self.full_name();
        for a in &self.aliases {
            s.push(' ');
            s.push_str(a.as_str());
        }
        for d in &self.documents {
            s.push(' ');
            s.push_str(d.number.as_str());
        }
        s
    }
}

/// A stored person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Person {
    pub id: PersonId,
    pub version: i64,
    #[serde(flatten)]
    pub data: PersonData,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, dd: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, dd).unwrap()
    }

    #[test]
    fn names_accept_latin_american_forms() {
        for ok in ["María José", "de la Cruz", "O'Connor", "Núñez-Peña", "Ma.", "Ixcoy"] {
            assert!(Name::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "   ", "Juan3", "<script>", "-", &"a".repeat(81)] {
            assert!(Name::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Name::parse("  María   José ").unwrap().as_str(), "María José");
    }

    #[test]
    fn birth_ranges_and_ages() {
        let today = d(2026, 11, 29);
        let b = Birth::EstimatedAge { min_years: 14, max_years: 16, estimated_on: today };
        let (lo, hi) = b.range().unwrap();
        assert_eq!(hi, d(2012, 11, 29));
        assert_eq!(lo, d(2009, 11, 30));
        assert_eq!(b.age_on(today), Some(14));
        assert_eq!(Birth::Year { year: 2010 }.age_on(today), Some(15));
        assert!(!Birth::Date { date: d(2027, 1, 1) }.validate(today).is_empty());
        assert!(Birth::Date { date: d(2000, 1, 1) }.validate(today).is_empty());
        // Found by API fuzzing: the ends of the integer range are refused, not an overflow.
        for year in [i32::MIN, i32::MIN + 1, -1, 1895, 2027, i32::MAX] {
            let e = Birth::Year { year }.validate(today);
            assert_eq!(e.0.len(), 1, "{year}: {e:?}");
        }
        assert!(Birth::Year { year: 1896 }.validate(today).is_empty());
    }

    #[test]
    fn person_rejects_unknown_fields_and_duplicates() {
        let bad = serde_json::json!({"given_names": ["Ana"], "sex": "female", "birth": {"kind": "unknown"}, "nickname": "x"});
        let err = serde_json::from_value::<PersonData>(bad).unwrap_err().to_string();
        assert!(err.contains("nickname"), "{err}");
        let p: PersonData = serde_json::from_value(serde_json::json!({
            "given_names": ["Ana"], "sex": "female", "birth": {"kind": "unknown"},
            "nationalities": ["HN", "HN"]
        }))
        .unwrap();
        let e = p.validate(d(2026, 1, 1));
        assert_eq!(e.0[0].field, "nationalities");
    }
}
