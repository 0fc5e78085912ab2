//! Normalisation of Latin American names for comparison.
//!
//! A person has given names and surnames, each a list. For comparison, every name is folded
//! (accents and case), particles are dropped ("de la Cruz" compares as "cruz", "Gutiérrez y
//! Hernández" as two surnames), compound and hyphenated names are split into words, and common
//! abbreviations of given names are expanded ("Ma." → "maria", "Fco." → "francisco"). The
//! original spelling is never changed: callers keep it for display.

use crate::fold::{fold, words};

/// Words that join names and are not names themselves.
pub const PARTICLES: &[&str] =
    &["de", "del", "la", "las", "los", "y", "e", "da", "do", "dos", "das", "di", "van", "von"];

/// Abbreviations of given names, folded, and what they stand for.
pub const ABBREVIATIONS: &[(&str, &str)] = &[
    ("ma", "maria"),
    ("mria", "maria"),
    ("fco", "francisco"),
    ("fcisco", "francisco"),
    ("franc", "francisco"),
    ("jo", "jose"),
    ("jse", "jose"),
    ("jos", "jose"),
    ("gpe", "guadalupe"),
    ("guad", "guadalupe"),
    ("jn", "juan"),
    ("ant", "antonio"),
    ("anto", "antonio"),
    ("fdo", "fernando"),
    ("ml", "manuel"),
    ("mnl", "manuel"),
    ("alej", "alejandro"),
    ("ricdo", "ricardo"),
    ("jsus", "jesus"),
    ("cmen", "carmen"),
    ("concep", "concepcion"),
    ("concha", "concepcion"),
    ("chelo", "consuelo"),
];

/// Is this folded word a particle?
pub fn is_particle(w: &str) -> bool {
    PARTICLES.contains(&w)
}

/// Expands a folded given-name word if it is a known abbreviation.
pub fn expand_abbreviation(w: &str) -> &str {
    ABBREVIATIONS.iter().find(|(a, _)| *a == w).map_or(w, |(_, full)| full)
}

/// The comparison words of given names: folded, particles dropped, abbreviations expanded.
/// `["María de los Ángeles"]` → `["maria", "angeles"]`; `["Ma. José"]` → `["maria", "jose"]`.
pub fn given_words<S: AsRef<str>>(given: &[S]) -> Vec<String> {
    given
        .iter()
        .flat_map(|g| words(g.as_ref()))
        .filter(|w| !is_particle(w))
        .map(|w| expand_abbreviation(&w).to_string())
        .collect()
}

/// The comparison words of surnames: folded, particles dropped, compounds split.
/// `["De la Cruz", "Pérez-Gómez"]` → `["cruz", "perez", "gomez"]`.
pub fn surname_words<S: AsRef<str>>(surnames: &[S]) -> Vec<String> {
    surnames.iter().flat_map(|s| words(s.as_ref())).filter(|w| !is_particle(w)).collect()
}

/// A name split into given names and surnames (original spelling, particles kept).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SplitName {
    /// Given names, in order.
    pub given_names: Vec<String>,
    /// Surnames, in order (a compound "de la Cruz" or "Pérez-Gómez" is one element).
    pub surnames: Vec<String>,
}

/// Splits a full name into given names and surnames.
///
/// - `"Gutiérrez Hernández, María José"` (a comma): surnames before it, given names after.
/// - Otherwise the words are grouped into units (a particle joins the word after it, so
///   "de la Cruz" is one unit; "Pérez-Gómez" is one unit); with three units or more the last
///   two are the surnames, with two the last one; one unit alone is taken as a surname.
/// - A unit that is a common given name and not a surname ("José" in "Ma. José Gutiérrez") stays
///   with the given names, even among the last two.
pub fn split_full_name(full: &str) -> SplitName {
    if let Some((before, after)) = full.split_once(',') {
        return SplitName { given_names: units(after), surnames: units(before) };
    }
    let u = units(full);
    let n = u.len();
    let mut cut = match n {
        0 => 0,
        1 => 0,
        2 => 1,
        _ => n - 2,
    };
    while cut < n.saturating_sub(1) && cut > 0 && is_given_only(&u[cut]) {
        cut += 1;
    }
    SplitName { given_names: u[..cut].to_vec(), surnames: u[cut..].to_vec() }
}

/// Groups the words of a name into units: particles join the next word.
fn units(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut pending: Vec<&str> = Vec::new();
    for w in s.split(|c: char| c.is_whitespace()).filter(|w| !w.is_empty()) {
        let f = fold(w);
        if f.is_empty() {
            continue;
        }
        pending.push(w);
        if !is_particle(&f) {
            out.push(pending.join(" "));
            pending.clear();
        }
    }
    if !pending.is_empty() {
        out.push(pending.join(" "));
    }
    out
}

/// A common given name that is not also a common surname.
fn is_given_only(unit: &str) -> bool {
    let f = fold(unit);
    let f = expand_abbreviation(&f);
    let known = |list: &[&str]| list.iter().any(|n| fold(n) == f);
    (known(crate::data::FEMALE) || known(crate::data::MALE)) && !known(crate::data::SURNAMES)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> (Vec<String>, Vec<String>) {
        let n = split_full_name(s);
        (n.given_names, n.surnames)
    }

    fn v(x: &[&str]) -> Vec<String> {
        x.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn splits_full_names() {
        assert_eq!(
            split("María José Gutiérrez Hernández"),
            (v(&["María", "José"]), v(&["Gutiérrez", "Hernández"]))
        );
        assert_eq!(split("Juan de la Cruz Pérez"), (v(&["Juan"]), v(&["de la Cruz", "Pérez"])));
        assert_eq!(split("Ana Pérez-Gómez López"), (v(&["Ana"]), v(&["Pérez-Gómez", "López"])));
        assert_eq!(split("Maria Gutierres"), (v(&["Maria"]), v(&["Gutierres"])));
        assert_eq!(split("MA. JOSE GUTIERREZ"), (v(&["MA.", "JOSE"]), v(&["GUTIERREZ"])));
        assert_eq!(
            split("Gutiérrez Hernández, María José"),
            (v(&["María", "José"]), v(&["Gutiérrez", "Hernández"]))
        );
        assert_eq!(split("Hernández"), (v(&[]), v(&["Hernández"])));
        assert_eq!(split("  "), (v(&[]), v(&[])));
        // "Cruz" is also a surname: the rule (last two are surnames) holds.
        assert_eq!(split("Pedro Cruz Flores"), (v(&["Pedro"]), v(&["Cruz", "Flores"])));
    }

    #[test]
    fn normalises_given_names_and_surnames() {
        assert_eq!(given_words(&["Ma. José"]), v(&["maria", "jose"]));
        assert_eq!(given_words(&["Fco.", "Javier"]), v(&["francisco", "javier"]));
        assert_eq!(given_words(&["Mª de los Ángeles"]), v(&["maria", "angeles"]));
        assert_eq!(given_words(&["GPE"]), v(&["guadalupe"]));
        assert_eq!(surname_words(&["De la Cruz", "Pérez-Gómez"]), v(&["cruz", "perez", "gomez"]));
        assert_eq!(surname_words(&["Gutiérrez y Hernández"]), v(&["gutierrez", "hernandez"]));
        assert_eq!(surname_words::<&str>(&[]), Vec::<String>::new());
    }

    #[test]
    fn split_never_loses_words() {
        let mut rng = crate::rng::Rng::new(5);
        let pool = ["María", "de", "la", "Cruz", "José", "Pérez-Gómez", "y", "López", "Ma.", ",", "Ana"];
        for _ in 0..2000 {
            let n = rng.below(7) as usize;
            let s: Vec<&str> = (0..n).map(|_| pool[rng.below(pool.len() as u64) as usize]).collect();
            let s = s.join(" ");
            let sp = split_full_name(&s);
            let mut got = given_words(&sp.given_names);
            got.extend(surname_words(&sp.surnames));
            let mut want = given_words(&[s.replace(',', " ")]);
            got.sort();
            want.sort();
            // Surnames are not abbreviation-expanded; compare after expanding both sides.
            let got: Vec<String> = got.iter().map(|w| expand_abbreviation(w).to_string()).collect();
            let mut got = got;
            got.sort();
            assert_eq!(got, want, "{s:?} → {sp:?}");
        }
    }
}
