//! Comparison levels: how two records agree on one field.
//!
//! Each field has an ordered list of levels, from the strongest agreement to disagreement; a
//! pair gets the first level that holds. A field missing on either side has no level: it is
//! neutral (weight 0).

use serde::{Deserialize, Serialize};

use crate::jw::jaro_winkler;
use crate::person::{AttributeKind, Birth, Schema};
use crate::prepare::{NONE, Prepared, WordList, Words};

/// What a field compares, and so which levels it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// Given names (lists of words).
    GivenNames,
    /// Surnames (lists of words).
    Surnames,
    /// Birth date, year or estimated age.
    Birth,
    /// An attribute compared for equality.
    Exact,
    /// A free-text attribute (Jaro–Winkler bands).
    Text,
    /// An identity document number.
    Document,
}

impl From<AttributeKind> for FieldKind {
    fn from(k: AttributeKind) -> Self {
        match k {
            AttributeKind::Exact => FieldKind::Exact,
            AttributeKind::Text => FieldKind::Text,
            AttributeKind::Document => FieldKind::Document,
        }
    }
}

/// Levels of given names.
pub const GIVEN_LEVELS: &[&str] =
    &["exact", "subset", "phonetic", "first_name_jaro_winkler_0.9", "shared_word", "different"];
/// Levels of surnames.
pub const SURNAME_LEVELS: &[&str] = &[
    "exact",
    "swapped",
    "subset",
    "phonetic",
    "phonetic_subset",
    "first_surname_jaro_winkler_0.88",
    "shared_word",
    "different",
];
/// Levels of births.
pub const BIRTH_LEVELS: &[&str] = &[
    "exact",
    "day_month_swapped",
    "same_year_month",
    "year_plus_minus_1",
    "year_only",
    "estimated_age_overlap",
    "different",
];
/// Levels of exact attributes.
pub const EXACT_LEVELS: &[&str] = &["exact", "different"];
/// Levels of text attributes.
pub const TEXT_LEVELS: &[&str] = &["exact", "jaro_winkler_0.92", "jaro_winkler_0.8", "different"];
/// Levels of document numbers.
pub const DOCUMENT_LEVELS: &[&str] = &["exact", "one_typo", "different"];

impl FieldKind {
    /// The names of this kind's levels, strongest first.
    pub fn levels(self) -> &'static [&'static str] {
        match self {
            FieldKind::GivenNames => GIVEN_LEVELS,
            FieldKind::Surnames => SURNAME_LEVELS,
            FieldKind::Birth => BIRTH_LEVELS,
            FieldKind::Exact => EXACT_LEVELS,
            FieldKind::Text => TEXT_LEVELS,
            FieldKind::Document => DOCUMENT_LEVELS,
        }
    }
}

/// The fields of a schema: given names, surnames, birth, then the attributes.
pub(crate) fn field_kinds(schema: &Schema) -> Vec<FieldKind> {
    let mut v = vec![FieldKind::GivenNames, FieldKind::Surnames, FieldKind::Birth];
    v.extend(schema.attributes.iter().map(|a| FieldKind::from(a.kind)));
    v
}

/// At most this many fields (the comparison vector packs 4 bits per field in a `u64`).
pub const MAX_FIELDS: usize = 16;
/// The packed value of a missing field.
pub(crate) const MISSING: u8 = 15;

/// A comparison vector: one level per field, 4 bits each ([`MISSING`] = 15).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub(crate) struct Pattern(pub(crate) u64);

impl Pattern {
    pub(crate) fn get(self, field: usize) -> Option<u8> {
        let l = ((self.0 >> (4 * field)) & 0xF) as u8;
        (l != MISSING).then_some(l)
    }
}

fn same_sets(a: &[u32], b: &[u32]) -> bool {
    a.len() == b.len() && a.iter().all(|x| b.contains(x)) && b.iter().all(|x| a.contains(x))
}

/// Every word of the shorter list is in the other (both ways when equally long).
fn subset(a: &[u32], b: &[u32]) -> bool {
    let within = |s: &[u32], l: &[u32]| s.iter().all(|x| l.contains(x));
    (a.len() <= b.len() && within(a, b)) || (b.len() <= a.len() && within(b, a))
}

fn phons<W: Words>(l: &WordList, w: &W) -> ([u32; 4], usize) {
    let mut out = [0u32; 4];
    for (i, id) in l.as_slice().iter().enumerate() {
        out[i] = w.phon(*id);
    }
    (out, l.as_slice().len())
}

fn compare_given<W: Words>(a: &WordList, b: &WordList, w: &W) -> Option<u8> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let (x, y) = (a.as_slice(), b.as_slice());
    if x == y {
        return Some(0);
    }
    if subset(x, y) {
        return Some(1);
    }
    let (pa, na) = phons(a, w);
    let (pb, nb) = phons(b, w);
    if subset(&pa[..na], &pb[..nb]) {
        return Some(2);
    }
    if jaro_winkler(w.text(x[0]), w.text(y[0])) >= 0.9 {
        return Some(3);
    }
    if pa[..na].iter().any(|p| pb[..nb].contains(p)) {
        return Some(4);
    }
    Some(5)
}

fn compare_surnames<W: Words>(a: &WordList, b: &WordList, w: &W) -> Option<u8> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let (x, y) = (a.as_slice(), b.as_slice());
    if x == y {
        return Some(0);
    }
    if x.len() > 1 && same_sets(x, y) {
        return Some(1);
    }
    if subset(x, y) {
        return Some(2);
    }
    let (pa, na) = phons(a, w);
    let (pb, nb) = phons(b, w);
    let (pa, pb) = (&pa[..na], &pb[..nb]);
    if same_sets(pa, pb) {
        return Some(3);
    }
    if subset(pa, pb) {
        return Some(4);
    }
    if jaro_winkler(w.text(x[0]), w.text(y[0])) >= 0.88 {
        return Some(5);
    }
    if pa.iter().any(|p| pb.contains(p)) {
        return Some(6);
    }
    Some(7)
}

/// Compares births; the levels are those of [`BIRTH_LEVELS`].
pub(crate) fn compare_birth(a: &Birth, b: &Birth) -> Option<u8> {
    use Birth::*;
    match (a, b) {
        (Unknown, _) | (_, Unknown) => None,
        (Date { date: x }, Date { date: y }) => Some(if x == y {
            0
        } else if x.year == y.year && x.day == y.month && x.month == y.day {
            1
        } else if x.year == y.year && x.month == y.month {
            2
        } else if x.year.abs_diff(y.year) == 1 && x.month == y.month && x.day == y.day {
            3
        } else if x.year == y.year {
            4
        } else {
            6
        }),
        _ => {
            let (Some((a0, a1)), Some((b0, b1))) = (a.years(), b.years()) else { return None };
            let ranged = matches!(a, Range { .. }) || matches!(b, Range { .. });
            Some(if !ranged && a0 == b0 {
                4
            } else if a0 <= b1 && b0 <= a1 {
                5
            } else if !ranged && a0.abs_diff(b0) == 1 {
                3
            } else {
                6
            })
        }
    }
}

fn compare_attr<W: Words>(kind: FieldKind, a: u32, b: u32, w: &W) -> Option<u8> {
    if a == NONE || b == NONE {
        return None;
    }
    if a == b {
        return Some(0);
    }
    Some(match kind {
        FieldKind::Text => {
            let s = jaro_winkler(w.text(a), w.text(b));
            if s >= 0.92 {
                1
            } else if s >= 0.8 {
                2
            } else {
                3
            }
        }
        FieldKind::Document => {
            if one_typo(w.text(a), w.text(b)) {
                1
            } else {
                2
            }
        }
        _ => 1,
    })
}

/// One substitution, one insertion or deletion, or one transposition of neighbours apart.
fn one_typo(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (s, l) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if l.len() - s.len() > 1 || s.len() < 4 {
        return false;
    }
    let p = s.iter().zip(l).take_while(|(x, y)| x == y).count();
    if s.len() == l.len() {
        let rest = s.len() - p;
        let q = s.iter().rev().zip(l.iter().rev()).take_while(|(x, y)| x == y).count();
        // A substitution, or a transposition at p.
        p + q + 1 >= s.len() || (rest >= 2 && s[p] == l[p + 1] && s[p + 1] == l[p] && p + 2 + q >= s.len())
    } else {
        s[p..] == l[p + 1..]
    }
}

/// Compares two prepared records field by field.
pub(crate) fn compare<W: Words>(kinds: &[FieldKind], a: &Prepared, b: &Prepared, w: &W) -> Pattern {
    let mut packed = 0u64;
    for (f, kind) in kinds.iter().enumerate() {
        let level = match kind {
            FieldKind::GivenNames => compare_given(&a.given, &b.given, w),
            FieldKind::Surnames => compare_surnames(&a.surnames, &b.surnames, w),
            FieldKind::Birth => compare_birth(&a.birth, &b.birth),
            k => compare_attr(*k, a.attrs[f - 3], b.attrs[f - 3], w),
        };
        packed |= (level.unwrap_or(MISSING) as u64) << (4 * f);
    }
    Pattern(packed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::person::{Date, Person};
    use crate::prepare::{Vocab, prepare};

    fn person(given: &str, surnames: &str) -> Person {
        Person {
            given_names: vec![given.to_string()],
            surnames: vec![surnames.to_string()],
            birth: Birth::Unknown,
            attributes: vec![],
        }
    }

    fn levels(a: &Person, b: &Person) -> (Option<u8>, Option<u8>) {
        let mut v = Vocab::default();
        let s = Schema::default();
        let (pa, pb) = (prepare(a, &s, &mut v), prepare(b, &s, &mut v));
        let k = field_kinds(&s);
        let p = compare(&k, &pa, &pb, &v);
        (p.get(0), p.get(1))
    }

    fn name(level: Option<u8>, list: &'static [&'static str]) -> &'static str {
        level.map_or("missing", |l| list[l as usize])
    }

    #[test]
    fn name_levels() {
        let cases = [
            (("María José", "Gutiérrez Hernández"), ("MARIA JOSE", "GUTIERREZ HERNANDEZ"), "exact", "exact"),
            (("Ma. José", "Gutiérrez"), ("María", "Gutiérrez Hernández"), "subset", "subset"),
            (("María", "Hernández Gutiérrez"), ("Maria", "Gutiérrez Hernández"), "exact", "swapped"),
            (("Yolanda", "Jiménez"), ("Llolanda", "Ximénez"), "phonetic", "phonetic"),
            (("Jose", "Gutierres Ernandez"), ("José", "Gutiérrez"), "exact", "phonetic_subset"),
            (
                ("Marta", "Hernández"),
                ("Marla", "Fernández"),
                "first_name_jaro_winkler_0.9",
                "first_surname_jaro_winkler_0.88",
            ),
            (("Ana", "López Pérez"), ("Juan", "Pérez Gómez"), "different", "shared_word"),
            (("Ana", "López"), ("Juan", "Gómez"), "different", "different"),
            (("", "López"), ("Juan", ""), "missing", "missing"),
        ];
        for ((ga, sa), (gb, sb), lg, ls) in cases {
            let (g, s) = levels(&person(ga, sa), &person(gb, sb));
            assert_eq!((name(g, GIVEN_LEVELS), name(s, SURNAME_LEVELS)), (lg, ls), "{ga} {sa} / {gb} {sb}");
        }
    }

    #[test]
    fn name_comparison_is_symmetric_and_reflexive() {
        let pool = [
            "María",
            "José",
            "Ma.",
            "Jose",
            "Hernández",
            "Ernandez",
            "Fernández",
            "Gutiérrez",
            "Gutierres",
            "de la Cruz",
            "Cruz",
            "Yolanda",
            "Llolanda",
            "Ana",
            "",
        ];
        let mut rng = crate::rng::Rng::new(9);
        let mut pick = |n: u64| -> String {
            (0..rng.below(n))
                .map(|_| pool[rng.below(pool.len() as u64) as usize])
                .collect::<Vec<_>>()
                .join(" ")
        };
        for _ in 0..3000 {
            let a = person(&pick(3), &pick(3));
            let b = person(&pick(3), &pick(3));
            assert_eq!(levels(&a, &b), levels(&b, &a), "{a:?} {b:?}");
            let (g, s) = levels(&a, &a);
            assert!(g.is_none() || g == Some(0));
            assert!(s.is_none() || s == Some(0));
        }
    }

    fn d(y: u16, m: u8, day: u8) -> Birth {
        Birth::Date { date: Date::new(y, m, day).unwrap() }
    }

    #[test]
    fn birth_levels() {
        let cases = [
            (d(1990, 3, 7), d(1990, 3, 7), "exact"),
            (d(1990, 3, 7), d(1990, 7, 3), "day_month_swapped"),
            (d(1990, 3, 7), d(1990, 3, 17), "same_year_month"),
            (d(1990, 3, 7), d(1991, 3, 7), "year_plus_minus_1"),
            (d(1990, 3, 7), d(1990, 11, 1), "year_only"),
            (d(1990, 3, 7), Birth::Year { year: 1990 }, "year_only"),
            (Birth::Year { year: 1990 }, Birth::Year { year: 1991 }, "year_plus_minus_1"),
            (d(1990, 3, 7), Birth::Range { from: 1988, to: 1992 }, "estimated_age_overlap"),
            (
                Birth::Range { from: 1980, to: 1984 },
                Birth::Range { from: 1984, to: 1988 },
                "estimated_age_overlap",
            ),
            (d(1990, 3, 7), Birth::Range { from: 1970, to: 1974 }, "different"),
            (d(1990, 3, 7), d(1993, 3, 7), "different"),
        ];
        for (a, b, want) in cases {
            assert_eq!(name(compare_birth(&a, &b), BIRTH_LEVELS), want, "{a:?} {b:?}");
            assert_eq!(name(compare_birth(&b, &a), BIRTH_LEVELS), want, "{b:?} {a:?}");
        }
        assert_eq!(compare_birth(&Birth::Unknown, &d(1990, 1, 1)), None);
    }

    #[test]
    fn document_typos() {
        assert!(one_typo("0801199012345", "0801199012346"));
        assert!(one_typo("0801199012345", "0801199021345"));
        assert!(one_typo("0801199012345", "080119901234"));
        assert!(one_typo("0801199012345", "08011990123455"));
        assert!(!one_typo("0801199012345", "0801199054321"));
        assert!(!one_typo("123", "124"));
    }
}
