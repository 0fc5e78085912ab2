//! States (ISO 3166-1 alpha-2). Nationality can be any state, not only CRM members.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::ToSchema;

pub use crate::country_data::{COUNTRIES, CountryInfo};

/// An officially assigned ISO 3166-1 alpha-2 code, upper case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, ToSchema)]
#[schema(value_type = String, example = "HN", pattern = "^[A-Z]{2}$")]
pub struct CountryCode([u8; 2]);

impl Serialize for CountryCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("\"{0}\" is not an ISO 3166-1 alpha-2 country code")]
pub struct UnknownCountry(pub String);

impl CountryCode {
    pub fn parse(s: &str) -> Result<Self, UnknownCountry> {
        let up = s.trim().to_ascii_uppercase();
        lookup(&up)
            .map(|c| CountryCode([c.code.as_bytes()[0], c.code.as_bytes()[1]]))
            .ok_or_else(|| UnknownCountry(s.to_string()))
    }
    pub fn as_str(&self) -> &str {
        // Always two ASCII upper-case letters by construction.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
    pub fn info(&self) -> &'static CountryInfo {
        lookup(self.as_str()).expect("a parsed code is in the table")
    }
    pub fn is_crm_member(&self) -> bool {
        self.info().crm_member
    }
}

fn lookup(code: &str) -> Option<&'static CountryInfo> {
    COUNTRIES.binary_search_by(|c| c.code.cmp(code)).ok().map(|i| &COUNTRIES[i])
}

/// The eleven member states of the Regional Conference on Migration.
pub fn crm_members() -> impl Iterator<Item = &'static CountryInfo> {
    COUNTRIES.iter().filter(|c| c.crm_member)
}

impl std::fmt::Display for CountryCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

impl std::str::FromStr for CountryCode {
    type Err = UnknownCountry;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl<'de> Deserialize<'de> for CountryCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        CountryCode::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_unique_and_complete() {
        assert!(COUNTRIES.windows(2).all(|w| w[0].code < w[1].code));
        assert_eq!(COUNTRIES.len(), 249);
        let members: Vec<_> = crm_members().map(|c| c.code).collect();
        assert_eq!(members, ["BZ", "CA", "CR", "DO", "GT", "HN", "MX", "NI", "PA", "SV", "US"]);
    }

    #[test]
    fn serialises_as_a_string() {
        let hn = CountryCode::parse("HN").unwrap();
        assert_eq!(serde_json::to_string(&hn).unwrap(), "\"HN\"");
        assert_eq!(serde_json::from_str::<CountryCode>("\"hn\"").unwrap(), hn);
        assert_eq!(format!("{hn:<4}|"), "HN  |");
    }

    #[test]
    fn parses_any_iso_state_and_refuses_others() {
        assert_eq!(CountryCode::parse("cu").unwrap().as_str(), "CU");
        assert!(!CountryCode::parse("CU").unwrap().is_crm_member());
        assert!(CountryCode::parse("HN").unwrap().is_crm_member());
        assert!(CountryCode::parse("XX").is_err());
        assert!(CountryCode::parse("HND").is_err());
        assert!(CountryCode::parse("").is_err());
    }
}
