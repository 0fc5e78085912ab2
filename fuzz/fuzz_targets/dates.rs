//! The date parsers of files and forms: the linkage's `YYYY-MM-DD | YYYYMMDD | DD/MM/YYYY`
//! and the domain's birth (as JSON); any text, no panic, and what parses is a real date.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|s: &str| {
    if let Some(d) = enlace_linkage::person::Date::parse(s) {
        assert!((1..=12).contains(&d.month) && (1..=31).contains(&d.day), "{d:?} from {s:?}");
    }
    let _ = serde_json::from_str::<enlace_domain::person::Birth>(s);
    let _ = serde_json::from_value::<enlace_domain::person::Birth>(serde_json::json!({"kind": "date", "date": s}));
});
