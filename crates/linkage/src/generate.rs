//! A seeded generator of Latin American person records with realistic errors and known links,
//! for tests and benchmarks.
//!
//! Each person (entity) has a clean first record and 0 to 3 more, each with errors drawn from
//! what happens at consular posts and on return lists: accents lost, capitals, b/v, s/z/c, ll/y,
//! a dropped h, x/j, typos, an abbreviated or dropped second given name, swapped or dropped
//! surnames, day and month swapped, year off by one, only the year, an estimated age, a missing
//! date. Some persons are siblings of others (same surnames and birth place), the hard
//! non-matches.

use crate::data::{FEMALE, MALE, NATIONALITIES, PLACES, SURNAMES};
use crate::person::{Birth, Date, Person, Schema};
use crate::rng::Rng;

/// Generator settings.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// The seed: the same seed gives the same records.
    pub seed: u64,
    /// How many records.
    pub records: usize,
    /// The share of persons who have more than one record.
    pub duplicate_share: f64,
    /// The share of persons created as a sibling of an earlier person.
    pub sibling_share: f64,
    /// The reference year of estimated ages.
    pub reference_year: u16,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            seed: 2026,
            records: 10_000,
            duplicate_share: 0.3,
            sibling_share: 0.1,
            reference_year: 2026,
        }
    }
}

/// A generated record: its id, the person it belongs to (the truth), and the data.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedRecord {
    /// The record's id (its position).
    pub id: u64,
    /// The person it belongs to: records with the same entity are true links.
    pub entity: u64,
    /// The record, with the attributes of [`Schema::standard`].
    pub person: Person,
}

/// Zipf-like weights: rank `k` (from 0) weighs `1 / (k + 1 + offset)`.
struct Weighted {
    cumulative: Vec<f64>,
}

impl Weighted {
    fn new(n: usize, offset: f64) -> Self {
        let mut acc = 0.0;
        let cumulative = (0..n)
            .map(|k| {
                acc += 1.0 / (k as f64 + 1.0 + offset);
                acc
            })
            .collect();
        Weighted { cumulative }
    }
    fn pick(&self, rng: &mut Rng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let x = rng.unit() * total;
        self.cumulative.partition_point(|c| *c < x).min(self.cumulative.len().saturating_sub(1))
    }
}

#[derive(Clone)]
struct Truth {
    female: bool,
    given: Vec<&'static str>,
    surnames: Vec<&'static str>,
    birth: Date,
    place: &'static str,
    nationality: &'static str,
    document: String,
}

/// Generates records.
pub fn generate(opts: &GenerateOptions) -> Vec<GeneratedRecord> {
    let mut rng = Rng::new(opts.seed);
    let female = Weighted::new(FEMALE.len(), 3.0);
    let male = Weighted::new(MALE.len(), 3.0);
    let surnames = Weighted::new(SURNAMES.len(), 5.0);
    let places = Weighted::new(PLACES.len(), 4.0);
    let nats = Weighted::new(NATIONALITIES.len(), 1.0);
    let mut out = Vec::with_capacity(opts.records);
    let mut previous: Vec<Truth> = Vec::new();
    let mut entity = 0u64;
    while out.len() < opts.records {
        let is_female = rng.chance(0.5);
        let names = |rng: &mut Rng| -> Vec<&'static str> {
            let k = if rng.chance(0.45) { 2 } else { 1 };
            let mut v: Vec<&'static str> = Vec::new();
            while v.len() < k {
                let n = if is_female { FEMALE[female.pick(rng)] } else { MALE[male.pick(rng)] };
                if !v.contains(&n) {
                    v.push(n);
                }
            }
            v
        };
        let given = names(&mut rng);
        let birth_year = 1950 + rng.below(60) as u16;
        let birth = Date::new(birth_year, 1 + rng.below(12) as u8, 1 + rng.below(28) as u8).unwrap_or(Date {
            year: birth_year,
            month: 1,
            day: 1,
        });
        let truth = match previous.last().filter(|_| rng.chance(opts.sibling_share)).cloned() {
            Some(sib) => {
                let y = (sib.birth.year as i32 + 1 + rng.below(8) as i32) as u16;
                Truth {
                    female: is_female,
                    given,
                    surnames: sib.surnames.clone(),
                    birth: Date::new(y, birth.month, birth.day).unwrap_or(birth),
                    place: sib.place,
                    nationality: sib.nationality,
                    document: document(&mut rng),
                }
            }
            None => {
                let k = if rng.chance(0.92) { 2 } else { 1 };
                let mut s: Vec<&'static str> = Vec::new();
                while s.len() < k {
                    s.push(SURNAMES[surnames.pick(&mut rng)]);
                }
                Truth {
                    female: is_female,
                    given,
                    surnames: s,
                    birth,
                    place: PLACES[places.pick(&mut rng)],
                    nationality: NATIONALITIES[nats.pick(&mut rng)],
                    document: document(&mut rng),
                }
            }
        };
        let copies = if rng.chance(opts.duplicate_share) {
            2 + rng.below(100).min(99) as usize / 60 + (rng.below(10) == 0) as usize
        } else {
            1
        };
        for c in 0..copies {
            if out.len() >= opts.records {
                break;
            }
            let person =
                if c == 0 { clean(&truth, &mut rng) } else { noisy(&truth, &mut rng, opts.reference_year) };
            out.push(GeneratedRecord { id: out.len() as u64, entity, person });
        }
        previous.push(truth);
        if previous.len() > 64 {
            previous.remove(0);
        }
        entity += 1;
    }
    // Shuffle so that duplicates are not neighbours (the ids stay the positions).
    for i in (1..out.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        out.swap(i, j);
    }
    for (i, r) in out.iter_mut().enumerate() {
        r.id = i as u64;
    }
    out
}

fn document(rng: &mut Rng) -> String {
    (0..13).map(|_| (b'0' + rng.below(10) as u8) as char).collect()
}

fn attributes(t: &Truth, rng: &mut Rng, noisy: bool) -> Vec<Option<String>> {
    let keep = |rng: &mut Rng, p: f64| !noisy || rng.chance(p);
    // Some values are simply wrong: a mistyped sex, another nationality (dual nationals), the
    // place of residence given as the birth place.
    let female = if noisy && rng.chance(0.01) { !t.female } else { t.female };
    let sex = keep(rng, 0.95).then(|| if female { "F" } else { "M" }.to_string());
    let nationality = keep(rng, 0.9).then(|| {
        if noisy && rng.chance(0.03) {
            NATIONALITIES[rng.below(NATIONALITIES.len() as u64) as usize]
        } else {
            t.nationality
        }
        .to_string()
    });
    let place = rng.chance(if noisy { 0.5 } else { 0.7 }).then(|| {
        let p =
            if noisy && rng.chance(0.05) { PLACES[rng.below(PLACES.len() as u64) as usize] } else { t.place }
                .to_string();
        if noisy && rng.chance(0.5) { strip_accents(&p) } else { p }
    });
    let doc = rng
        .chance(if noisy { 0.25 } else { 0.4 })
        .then(|| if noisy && rng.chance(0.05) { typo(&t.document, rng) } else { t.document.clone() });
    let _ = Schema::standard; // the order below is that of the standard schema
    vec![sex, nationality, place, doc]
}

fn clean(t: &Truth, rng: &mut Rng) -> Person {
    Person {
        given_names: vec![t.given.join(" ")],
        surnames: t.surnames.iter().map(|s| s.to_string()).collect(),
        birth: Birth::Date { date: t.birth },
        attributes: attributes(t, rng, false),
    }
}

fn noisy(t: &Truth, rng: &mut Rng, reference_year: u16) -> Person {
    let mut given: Vec<String> = t.given.iter().map(|s| s.to_string()).collect();
    let mut surnames: Vec<String> = t.surnames.iter().map(|s| s.to_string()).collect();
    if given.len() > 1 && rng.chance(0.3) {
        given.pop();
    }
    if rng.chance(0.25)
        && let Some(g) = given.first_mut()
    {
        let abbreviated = match g.as_str() {
            "María" => Some("Ma."),
            "Francisco" => Some("Fco."),
            "José" => Some("Jo."),
            "Guadalupe" => Some("Gpe."),
            _ => None,
        };
        if let Some(a) = abbreviated {
            *g = a.to_string();
        }
    }
    if surnames.len() > 1 && rng.chance(0.2) {
        surnames.pop();
    } else if surnames.len() > 1 && rng.chance(0.06) {
        surnames.swap(0, 1);
    }
    for w in given.iter_mut().chain(surnames.iter_mut()) {
        if rng.chance(0.12) {
            *w = spelling_variant(w, rng);
        }
        if rng.chance(0.03) {
            *w = typo(w, rng);
        }
    }
    let strip = rng.chance(0.5);
    let upper = rng.chance(0.3);
    let finish = |s: String| {
        let s = if strip { strip_accents(&s) } else { s };
        if upper { s.to_uppercase() } else { s }
    };
    let given = vec![finish(given.join(" "))];
    let surnames = surnames.into_iter().map(finish).collect();
    let d = t.birth;
    let x = rng.unit();
    let birth = if x < 0.62 {
        Birth::Date { date: d }
    } else if x < 0.67 && d.day <= 12 && d.day != d.month {
        Birth::Date { date: Date::new(d.year, d.day, d.month).unwrap_or(d) }
    } else if x < 0.72 {
        let y = if rng.chance(0.5) { d.year + 1 } else { d.year - 1 };
        Birth::Date { date: Date::new(y, d.month, d.day).unwrap_or(d) }
    } else if x < 0.76 {
        Birth::Date { date: Date::new(d.year, d.month, 1 + rng.below(28) as u8).unwrap_or(d) }
    } else if x < 0.86 {
        Birth::Year { year: d.year }
    } else if x < 0.94 {
        let age = reference_year.saturating_sub(d.year) as i32 + rng.below(7) as i32 - 3;
        Birth::from_estimated_age(age.max(0) as u16, reference_year, 3)
    } else {
        Birth::Unknown
    };
    Person { given_names: given, surnames, birth, attributes: attributes(t, rng, true) }
}

/// Replaces one spelling with a Spanish homophone (b/v, s/z/c, ll/y, h, x/j, g/j).
fn spelling_variant(w: &str, rng: &mut Rng) -> String {
    const SWAPS: &[(&str, &str)] = &[
        ("v", "b"),
        ("b", "v"),
        ("z", "s"),
        ("s", "z"),
        ("ce", "se"),
        ("ci", "si"),
        ("ll", "y"),
        ("y", "ll"),
        ("H", ""),
        ("h", ""),
        ("X", "J"),
        ("x", "j"),
        ("ge", "je"),
        ("gi", "ji"),
        ("Ge", "Je"),
        ("Gi", "Ji"),
        ("rr", "r"),
        ("qu", "k"),
    ];
    // A silent h only: the h of "ch" is not silent.
    let applicable: Vec<&(&str, &str)> = SWAPS
        .iter()
        .filter(|(a, _)| w.contains(a) && !(a.eq_ignore_ascii_case("h") && w.contains("ch")))
        .collect();
    if applicable.is_empty() {
        return w.to_string();
    }
    let (a, b) = applicable[rng.below(applicable.len() as u64) as usize];
    let mut out = w.replacen(a, b, 1);
    if out.is_empty() {
        out = w.to_string();
    }
    // A capital lost with its letter ("Hernández" → "ernández") comes back.
    let mut c = out.chars();
    match c.next() {
        Some(f) if w.chars().next().is_some_and(char::is_uppercase) => f.to_uppercase().chain(c).collect(),
        _ => out,
    }
}

fn typo(w: &str, rng: &mut Rng) -> String {
    let mut c: Vec<char> = w.chars().collect();
    if c.len() < 3 {
        return w.to_string();
    }
    let i = 1 + rng.below(c.len() as u64 - 2) as usize;
    match rng.below(3) {
        0 => c.swap(i, i + 1),
        1 => {
            c.remove(i);
        }
        _ => {
            let lower = c[i].is_lowercase();
            let n = (b'a' + rng.below(26) as u8) as char;
            c[i] = if lower { n } else { n.to_ascii_uppercase() };
        }
    }
    c.into_iter().collect()
}

fn strip_accents(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'á' => 'a',
            'é' => 'e',
            'í' => 'i',
            'ó' => 'o',
            'ú' | 'ü' => 'u',
            'ñ' => 'n',
            'Á' => 'A',
            'É' => 'E',
            'Í' => 'I',
            'Ó' => 'O',
            'Ú' => 'U',
            'Ñ' => 'N',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_and_sized() {
        let o = GenerateOptions { records: 2000, ..Default::default() };
        let a = generate(&o);
        assert_eq!(a.len(), 2000);
        assert_eq!(a, generate(&o));
        let b = generate(&GenerateOptions { seed: 1, ..o });
        assert_ne!(a, b);
        let entities: std::collections::HashSet<u64> = a.iter().map(|r| r.entity).collect();
        assert!(entities.len() < 1900 && entities.len() > 1200, "{}", entities.len());
        assert!(a.iter().all(|r| r.person.attributes.len() == Schema::standard().attributes.len()));
    }

    #[test]
    fn variants_are_homophones() {
        let mut rng = Rng::new(4);
        for w in ["Hernández", "Velásquez", "Yolanda", "Ximena", "Cecilia", "Guillermo"] {
            for _ in 0..20 {
                let v = spelling_variant(w, &mut rng);
                let k = |s: &str| crate::phonetic::phonetic_key(&crate::fold::fold(s));
                assert_eq!(k(&v), k(w), "{w} → {v}");
            }
        }
    }
}
