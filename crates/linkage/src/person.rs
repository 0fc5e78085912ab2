//! What the engine compares: a person's names, birth and other attributes, as given.

use serde::{Deserialize, Serialize};

/// A calendar date (proleptic Gregorian), checked on construction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Date {
    /// Year (1 to 9999).
    pub year: u16,
    /// Month (1 to 12).
    pub month: u8,
    /// Day of the month.
    pub day: u8,
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => 29,
        2 => 28,
        _ => 0,
    }
}

impl Date {
    /// A date, if it exists.
    pub fn new(year: u16, month: u8, day: u8) -> Option<Date> {
        ((1..=9999).contains(&year) && day >= 1 && day <= days_in_month(year, month)).then_some(Date {
            year,
            month,
            day,
        })
    }

    /// Parses `YYYY-MM-DD`, `YYYYMMDD` or `DD/MM/YYYY` (surrounding spaces ignored).
    pub fn parse(s: &str) -> Option<Date> {
        let s = s.trim();
        let num = |t: &str| -> Option<u32> {
            (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit())).then(|| t.parse().ok()).flatten()
        };
        let (y, m, d) = if s.len() == 10 && s.as_bytes()[4] == b'-' && s.as_bytes()[7] == b'-' {
            (num(&s[0..4])?, num(&s[5..7])?, num(&s[8..10])?)
        } else if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
            (num(&s[0..4])?, num(&s[4..6])?, num(&s[6..8])?)
        } else {
            let mut it = s.split('/');
            let (d, m, y) = (it.next()?, it.next()?, it.next()?);
            if it.next().is_some() || y.len() != 4 || d.len() > 2 || m.len() > 2 {
                return None;
            }
            (num(y)?, num(m)?, num(d)?)
        };
        Date::new(u16::try_from(y).ok()?, u8::try_from(m).ok()?, u8::try_from(d).ok()?)
    }
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// What is known of a birth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Birth {
    /// Nothing.
    #[default]
    Unknown,
    /// The full date.
    Date {
        /// The date.
        date: Date,
    },
    /// Only the year.
    Year {
        /// The year.
        year: u16,
    },
    /// An estimated age: a range of possible birth years (for example, from "about 30 in 2024":
    /// 1992 to 1996).
    Range {
        /// First possible year.
        from: u16,
        /// Last possible year (≥ `from`).
        to: u16,
    },
}

impl Birth {
    /// A birth year range from an estimated age at a reference year, with a margin of years on
    /// each side.
    pub fn from_estimated_age(age: u16, at_year: u16, margin: u16) -> Birth {
        let mid = at_year.saturating_sub(age);
        Birth::Range { from: mid.saturating_sub(margin), to: mid + margin }
    }

    /// Parses a year (4 digits, 1800 to 2200).
    pub fn parse_year(s: &str) -> Option<Birth> {
        let s = s.trim();
        let y: u16 =
            (s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()?;
        (1800..=2200).contains(&y).then_some(Birth::Year { year: y })
    }

    /// The most likely birth year (the middle of a range).
    pub fn year(&self) -> Option<u16> {
        match *self {
            Birth::Unknown => None,
            Birth::Date { date } => Some(date.year),
            Birth::Year { year } => Some(year),
            Birth::Range { from, to } => Some(from + (to.saturating_sub(from)) / 2),
        }
    }

    /// The possible birth years, inclusive.
    pub fn years(&self) -> Option<(u16, u16)> {
        match *self {
            Birth::Unknown => None,
            Birth::Date { date } => Some((date.year, date.year)),
            Birth::Year { year } => Some((year, year)),
            Birth::Range { from, to } => Some((from, to.max(from))),
        }
    }
}

/// How an extra attribute is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttributeKind {
    /// Equal or not, after folding (sex, nationality, any code).
    Exact,
    /// Free text compared with Jaro–Winkler bands (places).
    Text,
    /// An identity document number: equal after removing spaces and punctuation, or one typo
    /// apart. Also used for blocking.
    Document,
}

/// An attribute beyond names and birth: its name (a role or column) and how it compares.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Attribute {
    /// The name (for example `sex`, `nationality`, `birth_place`, a column name).
    pub name: String,
    /// How it is compared.
    pub kind: AttributeKind,
}

/// Which attributes the records carry besides names and birth. The model has one field for the
/// given names, one for the surnames, one for the birth, then one per attribute, in this order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Schema {
    /// The extra attributes, in the order of [`Person::attributes`].
    pub attributes: Vec<Attribute>,
}

impl Schema {
    /// A schema with these attributes.
    pub fn new(attributes: Vec<Attribute>) -> Self {
        Schema { attributes }
    }

    /// The schema of the usual person attributes: sex, nationality, birth place, document.
    pub fn standard() -> Self {
        let a = |name: &str, kind| Attribute { name: name.to_string(), kind };
        Schema::new(vec![
            a("sex", AttributeKind::Exact),
            a("nationality", AttributeKind::Exact),
            a("birth_place", AttributeKind::Text),
            a("document", AttributeKind::Document),
        ])
    }
}

/// A person as recorded, in the original spelling. Empty strings count as missing.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Person {
    /// Given names (each element may hold several words: "María José").
    pub given_names: Vec<String>,
    /// Surnames (each element may hold several words: "de la Cruz").
    pub surnames: Vec<String>,
    /// What is known of the birth.
    pub birth: Birth,
    /// One value per attribute of the [`Schema`], in its order (`None` or empty: missing).
    pub attributes: Vec<Option<String>>,
}

impl Person {
    /// A person from a full name, split with [`crate::names::split_full_name`].
    pub fn from_full_name(full: &str, birth: Birth, attributes: Vec<Option<String>>) -> Person {
        let s = crate::names::split_full_name(full);
        Person { given_names: s.given_names, surnames: s.surnames, birth, attributes }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_date_formats() {
        let d = Date::new(1990, 3, 7).unwrap();
        assert_eq!(Date::parse("1990-03-07"), Some(d));
        assert_eq!(Date::parse("19900307"), Some(d));
        assert_eq!(Date::parse("07/03/1990"), Some(d));
        assert_eq!(Date::parse("7/3/1990"), Some(d));
        assert_eq!(Date::parse(" 1990-03-07 "), Some(d));
        assert_eq!(Date::parse("2000-02-29").map(|d| d.day), Some(29));
        for bad in [
            "1990-02-30",
            "1900-02-29",
            "31/04/1990",
            "1990-13-01",
            "19900",
            "",
            "abc",
            "1990/03/07",
            "1990-3-7",
            "0000-01-01",
            "12/12/90",
        ] {
            assert_eq!(Date::parse(bad), None, "{bad}");
        }
        assert_eq!(d.to_string(), "1990-03-07");
    }

    #[test]
    fn parsed_dates_round_trip() {
        let mut rng = crate::rng::Rng::new(1);
        for _ in 0..5000 {
            let (y, m, d) = (1 + rng.below(9999) as u16, rng.below(14) as u8, rng.below(33) as u8);
            if let Some(date) = Date::new(y, m, d) {
                assert_eq!(Date::parse(&date.to_string()), Some(date));
                assert_eq!(Date::parse(&format!("{:02}/{:02}/{:04}", d, m, y)), Some(date));
            }
        }
    }

    #[test]
    fn birth_years() {
        assert_eq!(Birth::parse_year("1985"), Some(Birth::Year { year: 1985 }));
        assert_eq!(Birth::parse_year("85"), None);
        assert_eq!(Birth::from_estimated_age(30, 2024, 2), Birth::Range { from: 1992, to: 1996 });
        assert_eq!(Birth::from_estimated_age(30, 2024, 2).year(), Some(1994));
    }
}
