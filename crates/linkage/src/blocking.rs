//! Blocking: which pairs are compared at all.
//!
//! Comparing every pair of a million records is 5·10¹¹ comparisons; blocking compares only pairs
//! that share a key in at least one *pass* (a union of passes). Each pass has its own key, and a
//! block larger than the cap is skipped (counted in the report), so one very common key (María
//! Hernández born in 1990) cannot blow the number of pairs up: the other passes still find its
//! true pairs through their narrower keys.

use serde::{Deserialize, Serialize};

use crate::par::map_chunks;
use crate::person::Birth;
use crate::phonetic::phonetic_key;
use crate::prepare::{NONE, Prepared, Words};
use crate::rng::combine;

/// One blocking pass: which records share a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pass {
    /// Phonetic first and second surname, and birth year.
    SurnamesYear,
    /// Phonetic first given name, phonetic first surname, and birth year.
    GivenSurnameYear,
    /// Phonetic first given name and any phonetic surname (no birth: catches wrong years).
    GivenAnySurname,
    /// The first two given names (phonetic) and any phonetic surname, for persons with two
    /// given names: narrower blocks than the pass above, so common names are not skipped.
    GivenNamesAnySurname,
    /// Exact date of birth (day and month in either order) and the initial sound of the first
    /// given name.
    BirthDateGivenInitial,
    /// Exact date of birth (day and month in either order) and the initial sound of the first
    /// surname.
    BirthDateSurnameInitial,
    /// Both phonetic surnames in either order, and phonetic first given name.
    SwappedSurnames,
    /// Phonetic first given name, phonetic first surname, and the day and month of birth in
    /// either order (no year: catches a year off by one).
    GivenSurnameBirthday,
    /// The identity document number.
    Document,
}

impl Pass {
    /// Every pass, in the default order.
    pub const ALL: [Pass; 9] = [
        Pass::SurnamesYear,
        Pass::GivenSurnameYear,
        Pass::GivenAnySurname,
        Pass::GivenNamesAnySurname,
        Pass::BirthDateGivenInitial,
        Pass::BirthDateSurnameInitial,
        Pass::SwappedSurnames,
        Pass::GivenSurnameBirthday,
        Pass::Document,
    ];

    /// The pass's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Pass::SurnamesYear => "surnames+year",
            Pass::GivenSurnameYear => "given+surname+year",
            Pass::GivenAnySurname => "given+any_surname",
            Pass::GivenNamesAnySurname => "given_names+any_surname",
            Pass::BirthDateGivenInitial => "birth_date+given_initial",
            Pass::BirthDateSurnameInitial => "birth_date+surname_initial",
            Pass::SwappedSurnames => "swapped_surnames+given",
            Pass::GivenSurnameBirthday => "given+surname+birthday",
            Pass::Document => "document",
        }
    }

    /// Appends this pass's keys for a record (none when a part is missing).
    pub(crate) fn keys<W: Words>(self, r: &Prepared, w: &W, document: Option<usize>, out: &mut Vec<u64>) {
        let tag = self as u64 + 1;
        let g = r.given.as_slice().first().map(|&id| w.phon(id) as u64);
        let s = r.surnames.as_slice();
        let s1 = s.first().map(|&id| w.phon(id) as u64);
        let s2 = s.get(1).map(|&id| w.phon(id) as u64);
        // An estimated age stands for each year of its range (at most 11).
        let years = r.birth.years().map(|(from, to)| from as u64..=to.min(from.saturating_add(10)) as u64);
        let date = match r.birth {
            Birth::Date { date } => {
                let (a, b) = (date.month.min(date.day) as u64, date.month.max(date.day) as u64);
                Some(combine(date.year as u64, a << 8 | b))
            }
            _ => None,
        };
        let birthday = match r.birth {
            Birth::Date { date } => {
                Some((date.month.min(date.day) as u64) << 8 | date.month.max(date.day) as u64)
            }
            _ => None,
        };
        let initial = |id: u32| phonetic_key(w.text(id)).bytes().next().unwrap_or(0) as u64;
        let start = out.len();
        match self {
            Pass::SurnamesYear => {
                if let (Some(a), Some(b), Some(ys)) = (s1, s2, years) {
                    out.extend(ys.map(|y| combine(combine(tag, a), combine(b, y))));
                }
            }
            Pass::GivenSurnameYear => {
                if let (Some(g), Some(a), Some(ys)) = (g, s1, years) {
                    out.extend(ys.map(|y| combine(combine(tag, g), combine(a, y))));
                }
            }
            Pass::GivenNamesAnySurname => {
                if let [g1, g2, ..] = r.given.as_slice() {
                    let g = combine(w.phon(*g1) as u64, w.phon(*g2) as u64);
                    for &id in s.iter().take(2) {
                        out.push(combine(combine(tag, g), w.phon(id) as u64));
                    }
                }
            }
            Pass::GivenAnySurname => {
                if let Some(g) = g {
                    for &id in s.iter().take(2) {
                        out.push(combine(combine(tag, g), w.phon(id) as u64));
                    }
                }
            }
            Pass::BirthDateGivenInitial => {
                if let (Some(d), Some(&id)) = (date, r.given.as_slice().first()) {
                    out.push(combine(combine(tag, d), initial(id)));
                }
            }
            Pass::BirthDateSurnameInitial => {
                if let (Some(d), Some(&id)) = (date, s.first()) {
                    out.push(combine(combine(tag, d), initial(id)));
                }
            }
            Pass::SwappedSurnames => {
                if let (Some(g), Some(a), Some(b)) = (g, s1, s2) {
                    out.push(combine(combine(tag, g), combine(a.min(b), a.max(b))));
                }
            }
            Pass::GivenSurnameBirthday => {
                if let (Some(g), Some(a), Some(d)) = (g, s1, birthday) {
                    out.push(combine(combine(tag, g), combine(a, d)));
                }
            }
            Pass::Document => {
                if let Some(v) = document.map(|d| r.attrs[d]).filter(|v| *v != NONE) {
                    out.push(combine(tag, v as u64));
                }
            }
        }
        // A record is in a block once, even when two of its keys are equal.
        if out.len() - start > 1 {
            out[start..].sort_unstable();
            let mut n = start + 1;
            for i in start + 1..out.len() {
                if out[i] != out[n - 1] {
                    out[n] = out[i];
                    n += 1;
                }
            }
            out.truncate(n);
        }
    }
}

/// One pass and its cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PassConfig {
    /// The pass.
    pub pass: Pass,
    /// Blocks of this pass with more records than this are skipped.
    pub max_block: usize,
}

/// The blocking configuration: the passes whose pairs are united, each with its cap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Blocking {
    /// The passes.
    pub passes: Vec<PassConfig>,
}

impl Default for Blocking {
    /// Every pass with a cap of 400 records, except the broad given name + any surname pass
    /// (no birth in its key), capped at 50.
    fn default() -> Self {
        let cap = |pass| if pass == Pass::GivenAnySurname { 50 } else { 400 };
        Blocking { passes: Pass::ALL.iter().map(|&pass| PassConfig { pass, max_block: cap(pass) }).collect() }
    }
}

impl Blocking {
    /// The same passes with every cap multiplied by `factor` (at least 2).
    pub fn scale_caps(mut self, factor: f64) -> Self {
        for p in &mut self.passes {
            p.max_block = ((p.max_block as f64 * factor) as usize).max(2);
        }
        self
    }
}

/// What one pass did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PassReport {
    /// The pass.
    pub pass: Pass,
    /// Pairs it proposed (before the union with the other passes).
    pub pairs: u64,
    /// Blocks over the cap, skipped.
    pub oversized_blocks: u64,
    /// Pairs in those skipped blocks.
    pub skipped_pairs: u64,
}

/// What blocking did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct BlockingReport {
    /// Per pass.
    pub passes: Vec<PassReport>,
    /// Distinct candidate pairs (the union).
    pub candidate_pairs: u64,
    /// All pairs there are (n(n−1)/2 for deduplication, n·m for linkage).
    pub possible_pairs: u64,
    /// Of the true pairs (when known), how many are candidates.
    pub true_pairs_found: Option<u64>,
    /// The number of true pairs (when known).
    pub true_pairs: Option<u64>,
}

impl BlockingReport {
    /// The share of all pairs that blocking spared: `1 − candidates / possible`.
    pub fn reduction_ratio(&self) -> f64 {
        if self.possible_pairs == 0 {
            0.0
        } else {
            1.0 - self.candidate_pairs as f64 / self.possible_pairs as f64
        }
    }

    /// The share of true pairs that are candidates (pairs completeness), when the truth is known.
    pub fn recall(&self) -> Option<f64> {
        match (self.true_pairs_found, self.true_pairs) {
            (Some(f), Some(t)) if t > 0 => Some(f as f64 / t as f64),
            _ => None,
        }
    }
}

/// Packs a pair of record indices (`i < j`).
pub(crate) fn pack(i: u32, j: u32) -> u64 {
    (i as u64) << 32 | j as u64
}

/// Unpacks a pair.
pub(crate) fn unpack(p: u64) -> (u32, u32) {
    ((p >> 32) as u32, p as u32)
}

/// The index of the first document attribute, if any.
pub(crate) fn document_attribute(schema: &crate::person::Schema) -> Option<usize> {
    schema.attributes.iter().position(|a| a.kind == crate::person::AttributeKind::Document)
}

/// The candidate pairs of a set of records, sorted and distinct. With `right_start`, records
/// before it are the left side and the others the right side, and only pairs across are made.
pub(crate) fn candidate_pairs<W: Words + Sync>(
    records: &[Prepared],
    right_start: Option<usize>,
    blocking: &Blocking,
    words: &W,
    document: Option<usize>,
) -> (Vec<u64>, BlockingReport) {
    let n = records.len();
    let mut all: Vec<u64> = Vec::new();
    let mut report = BlockingReport {
        possible_pairs: match right_start {
            None => (n as u64) * (n as u64).saturating_sub(1) / 2,
            Some(r) => (r as u64) * (n - r) as u64,
        },
        ..Default::default()
    };
    for &PassConfig { pass, max_block } in &blocking.passes {
        let parts = map_chunks(n, 65_536, |range| {
            let mut keys = Vec::new();
            let mut out = Vec::with_capacity(range.len() * 2);
            for i in range {
                keys.clear();
                pass.keys(&records[i], words, document, &mut keys);
                out.extend(keys.iter().map(|k| (*k, i as u32)));
            }
            out
        });
        let mut keyed: Vec<(u64, u32)> = parts.into_iter().flatten().collect();
        keyed.sort_unstable();
        let mut pr = PassReport { pass, pairs: 0, oversized_blocks: 0, skipped_pairs: 0 };
        let mut start = 0;
        while start < keyed.len() {
            let key = keyed[start].0;
            let mut end = start + 1;
            while end < keyed.len() && keyed[end].0 == key {
                end += 1;
            }
            let block = &keyed[start..end];
            start = end;
            if block.len() < 2 {
                continue;
            }
            let pairs_in = |b: &[(u64, u32)]| -> u64 {
                match right_start {
                    None => (b.len() as u64) * (b.len() as u64 - 1) / 2,
                    Some(r) => {
                        let left = b.iter().filter(|x| (x.1 as usize) < r).count() as u64;
                        left * (b.len() as u64 - left)
                    }
                }
            };
            if block.len() > max_block {
                pr.oversized_blocks += 1;
                pr.skipped_pairs += pairs_in(block);
                continue;
            }
            for (x, &(_, i)) in block.iter().enumerate() {
                for &(_, j) in &block[x + 1..] {
                    let cross = match right_start {
                        None => true,
                        Some(r) => ((i as usize) < r) != ((j as usize) < r),
                    };
                    if cross {
                        all.push(pack(i.min(j), i.max(j)));
                        pr.pairs += 1;
                    }
                }
            }
        }
        report.passes.push(pr);
    }
    all.sort_unstable();
    all.dedup();
    report.candidate_pairs = all.len() as u64;
    (all, report)
}

/// Keys of the training blocking rules (Splink's idea: estimate m of some fields among pairs
/// that agree on others).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TrainingKey {
    /// Phonetic first given name and first surname.
    Names,
    /// The exact date of birth.
    BirthDate,
}

impl TrainingKey {
    fn key<W: Words>(self, r: &Prepared, w: &W) -> Option<u64> {
        match self {
            TrainingKey::Names => {
                let g = *r.given.as_slice().first()?;
                let s = *r.surnames.as_slice().first()?;
                Some(combine(w.phon(g) as u64, w.phon(s) as u64))
            }
            TrainingKey::BirthDate => match r.birth {
                Birth::Date { date } => {
                    Some(combine(date.year as u64, (date.month as u64) << 8 | date.day as u64))
                }
                _ => None,
            },
        }
    }
}

/// Draws up to `samples` pairs uniformly among all pairs that share a training key (for
/// linkage, pairs across sides only), without any cap. Pairs may repeat.
pub(crate) fn training_pairs<W: Words>(
    records: &[Prepared],
    right_start: Option<usize>,
    key: TrainingKey,
    words: &W,
    samples: usize,
    seed: u64,
) -> Vec<u64> {
    let mut keyed: Vec<(u64, u32)> =
        records.iter().enumerate().filter_map(|(i, r)| key.key(r, words).map(|k| (k, i as u32))).collect();
    keyed.sort_unstable();
    // Blocks as ranges, with cumulative pair counts.
    let mut blocks: Vec<(usize, usize, usize)> = Vec::new(); // (start, end, left count)
    let mut cumulative: Vec<u64> = Vec::new();
    let mut total = 0u64;
    let mut start = 0;
    while start < keyed.len() {
        let mut end = start + 1;
        while end < keyed.len() && keyed[end].0 == keyed[start].0 {
            end += 1;
        }
        let size = (end - start) as u64;
        let (pairs, left) = match right_start {
            None => (size * (size - 1) / 2, 0),
            Some(r) => {
                // Sorted by index within a block: the left side comes first.
                let left = keyed[start..end].iter().filter(|x| (x.1 as usize) < r).count();
                ((left as u64) * (size - left as u64), left)
            }
        };
        if pairs > 0 {
            total += pairs;
            blocks.push((start, end, left));
            cumulative.push(total);
        }
        start = end;
    }
    if total == 0 {
        return Vec::new();
    }
    let mut rng = crate::rng::Rng::new(seed);
    let n = samples.min(total as usize);
    (0..n)
        .map(|_| {
            let x = rng.below(total);
            let b = cumulative.partition_point(|c| *c <= x);
            let (s, e, left) = blocks[b];
            let (i, j) = match right_start {
                None => {
                    let size = (e - s) as u64;
                    let a = rng.below(size);
                    let mut c = rng.below(size - 1);
                    if c >= a {
                        c += 1;
                    }
                    (keyed[s + a as usize].1, keyed[s + c as usize].1)
                }
                Some(_) => {
                    let a = rng.below(left as u64) as usize;
                    let c = rng.below((e - s - left) as u64) as usize;
                    (keyed[s + a].1, keyed[s + left + c].1)
                }
            };
            pack(i.min(j), i.max(j))
        })
        .collect()
}
