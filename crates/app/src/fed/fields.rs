//! The fields of a case a share can carry, by name, and their values (the case's API JSON).
//! Pure code.

use enlace_domain::case::Case;
use serde_json::{Map, Value};

/// Case fields a share may carry.
pub const CASE_FIELDS: &[&str] =
    &["category", "subtype", "status", "host_state", "post", "vulnerabilities", "narrative", "opened_at"];

/// Person fields a share may carry (a rectification sends those of them the share carries).
pub const PERSON_FIELDS: &[&str] =
    &["given_names", "surnames", "sex", "birth", "nationalities", "documents", "languages"];

/// What a mutual-assistance notice carries unless the officer chooses otherwise: who the
/// person is and what happened, not the narrative.
pub const ASSISTANCE_FIELDS: &[&str] = &[
    "given_names",
    "surnames",
    "sex",
    "birth",
    "nationalities",
    "category",
    "subtype",
    "status",
    "host_state",
    "post",
    "vulnerabilities",
    "opened_at",
];

pub fn is_field(name: &str) -> bool {
    CASE_FIELDS.contains(&name) || PERSON_FIELDS.contains(&name)
}

pub fn is_person_field(name: &str) -> bool {
    PERSON_FIELDS.contains(&name)
}

/// Checks a list of field names: known, no duplicates, not empty. Returns them in the
/// canonical order (case fields, then person fields).
pub fn normalise(names: &[String]) -> Result<Vec<String>, String> {
    if names.is_empty() {
        return Err("choose at least one field to share".into());
    }
    if let Some(bad) = names.iter().find(|n| !is_field(n)) {
        return Err(format!("\"{bad}\" is not a field a share can carry"));
    }
    Ok(CASE_FIELDS
        .iter()
        .chain(PERSON_FIELDS)
        .filter(|f| names.iter().any(|n| n == *f))
        .map(|f| f.to_string())
        .collect())
}

/// The values of `names` in `case` (absent values are sent as `null`, so a cleared field is
/// cleared on the other side too).
pub fn values(case: &Case, names: &[String]) -> Map<String, Value> {
    let Ok(Value::Object(all)) = serde_json::to_value(case) else { return Map::new() };
    let person = all.get("person").and_then(Value::as_object);
    names
        .iter()
        .map(|n| {
            let v = if is_person_field(n) { person.and_then(|p| p.get(n)) } else { all.get(n) };
            (n.clone(), v.cloned().unwrap_or(Value::Null))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_orders_and_refuses_unknown_names() {
        let got = normalise(&["surnames".into(), "status".into(), "given_names".into()]).unwrap();
        assert_eq!(got, ["status", "given_names", "surnames"]);
        assert!(normalise(&["password".into()]).unwrap_err().contains("password"));
        assert!(normalise(&[]).is_err());
    }

    #[test]
    fn agreed_subsets_cover_every_share_field() {
        let subsets = super::super::agreed_field_subsets();
        let offer = &subsets[&enlace_fed::envelope::MessageType::ReferralOffer];
        for f in CASE_FIELDS.iter().chain(PERSON_FIELDS) {
            assert!(offer.contains(*f), "{f}");
        }
        let rect = &subsets[&enlace_fed::envelope::MessageType::Rectification];
        assert!(CASE_FIELDS.iter().all(|f| !rect.contains(*f)));
    }
}
