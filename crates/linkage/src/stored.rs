//! Linkage over persons kept in a database rather than in memory: blocking keys that are the
//! same in every process (to store beside each person and look up by equality), and the scoring
//! of one person against the candidates read back.
//!
//! [`crate::Index`] holds every person in memory, which is fastest but costs about a kilobyte per
//! person; a node with a million persons keeps their keys in an indexed table instead, and asks
//! it for the few blocks a new person falls in.

use crate::blocking::{Blocking, document_attribute};
use crate::compare::FieldKind;
use crate::index::Candidate;
use crate::model::{Compiled, Model, ModelError};
use crate::person::{Person, Schema};
use crate::phonetic::phonetic_key;
use crate::prepare::{Interner, Words, prepare};
use crate::rng::hash_bytes;

/// Words of one person, with phonetic ids that are hashes of the phonetic keys (the same in
/// every process), not positions in a vocabulary.
#[derive(Default)]
struct StableWords {
    texts: Vec<Box<str>>,
    phons: Vec<u32>,
}

impl Words for StableWords {
    fn text(&self, id: u32) -> &str {
        &self.texts[id as usize]
    }
    fn phon(&self, id: u32) -> u32 {
        self.phons[id as usize]
    }
}

impl Interner for StableWords {
    fn id(&mut self, w: &str) -> u32 {
        if let Some(i) = self.texts.iter().position(|t| &**t == w) {
            return i as u32;
        }
        self.texts.push(w.into());
        self.phons.push(hash_bytes(0x5eed, phonetic_key(w).as_bytes()) as u32);
        (self.texts.len() - 1) as u32
    }
}

/// Bits of a stored key that carry the pass's number (the top 6), so equal hashes of two passes
/// never meet.
const PASS_SHIFT: u32 = 57;

/// Makes the blocking keys of persons, for storing and for looking up.
#[derive(Debug, Clone)]
pub struct KeyMaker {
    schema: Schema,
    blocking: Blocking,
    document: Option<usize>,
}

impl KeyMaker {
    /// Keys for persons with these attributes, blocked with these passes.
    pub fn new(schema: Schema, blocking: Blocking) -> KeyMaker {
        let document = document_attribute(&schema);
        KeyMaker { schema, blocking, document }
    }

    /// The person's keys, each as `(pass, key)`: the pass's place in the blocking and a key
    /// that carries it (63 bits, so it fits a signed 64-bit column). Sorted, no duplicates.
    pub fn keys(&self, p: &Person) -> Vec<(usize, i64)> {
        let mut words = StableWords::default();
        let r = prepare(p, &self.schema, &mut words);
        let mut out = Vec::new();
        let mut keys = Vec::new();
        for (i, pc) in self.blocking.passes.iter().enumerate() {
            keys.clear();
            pc.pass.keys(&r, &words, self.document, &mut keys);
            for k in &keys {
                let key = ((i as u64) << PASS_SHIFT) | (k & ((1u64 << PASS_SHIFT) - 1));
                out.push((i, key as i64));
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Blocks of this pass with more persons than this are skipped.
    pub fn max_block(&self, pass: usize) -> usize {
        self.blocking.passes.get(pass).map_or(0, |p| p.max_block)
    }
}

/// Scores one person against candidates read back from storage.
#[derive(Debug, Clone)]
pub struct Scorer {
    model: Model,
    compiled: Compiled,
    kinds: Vec<FieldKind>,
}

impl Scorer {
    /// A scorer with this model (checked).
    pub fn new(model: Model) -> Result<Scorer, ModelError> {
        model.validate()?;
        Ok(Scorer { compiled: model.compile(), kinds: model.kinds(), model })
    }

    /// The model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The candidates that may be `q`, at or above `min_probability`, most probable first, at
    /// most `limit`, each explained. No term-frequency adjustment (it needs the whole set).
    pub fn rank<K: Clone>(
        &self,
        q: &Person,
        candidates: &[(K, Person)],
        min_probability: f64,
        limit: usize,
    ) -> Vec<Candidate<K>> {
        let mut words = crate::prepare::Vocab::default();
        let q = prepare(q, &self.model.schema, &mut words);
        let prepared: Vec<_> =
            candidates.iter().map(|(_, p)| prepare(p, &self.model.schema, &mut words)).collect();
        let ranked = crate::index::rank(
            &self.model,
            &self.compiled,
            &self.kinds,
            None,
            &q,
            &words,
            &prepared,
            0..prepared.len(),
            min_probability,
            limit,
        );
        ranked
            .into_iter()
            .map(|(i, explanation)| Candidate { id: candidates[i].0.clone(), explanation })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::person::{Birth, Date};

    fn person(given: &[&str], surnames: &[&str], birth: Birth) -> Person {
        Person {
            given_names: given.iter().map(|s| s.to_string()).collect(),
            surnames: surnames.iter().map(|s| s.to_string()).collect(),
            birth,
            attributes: vec![Some("F".into()), Some("HN".into()), None, None],
        }
    }

    fn date(y: u16, m: u8, d: u8) -> Birth {
        Birth::Date { date: Date::new(y, m, d).unwrap() }
    }

    #[test]
    fn keys_are_the_same_whatever_came_before() {
        let km = KeyMaker::new(Schema::standard(), Blocking::default());
        let a = person(&["María José"], &["Gutiérrez", "Hernández"], date(1990, 3, 7));
        let b = person(&["Pedro"], &["Fernández"], Birth::Year { year: 1960 });
        let first = km.keys(&a);
        let _ = km.keys(&b);
        assert_eq!(km.keys(&a), first);
        assert_eq!(KeyMaker::new(Schema::standard(), Blocking::default()).keys(&a), first);
        assert!(first.len() >= 5, "{first:?}");
        assert!(first.iter().all(|(_, k)| *k >= 0));
        // The pass is in the key: no two passes share a key.
        let passes: std::collections::HashSet<usize> = first.iter().map(|(p, _)| *p).collect();
        assert!(passes.len() > 3);
    }

    #[test]
    fn years_at_the_end_of_the_range_make_keys_without_overflow() {
        // Found by API fuzzing: a year near the top of the range made the "each year of an
        // estimated range" arithmetic overflow.
        let km = KeyMaker::new(Schema::standard(), Blocking::default());
        for birth in [
            Birth::Year { year: u16::MAX },
            Birth::Range { from: u16::MAX - 1, to: u16::MAX },
            Birth::Range { from: 0, to: u16::MAX },
        ] {
            let keys = km.keys(&person(&["María"], &["Gutiérrez"], birth));
            assert!(!keys.is_empty(), "{birth:?}");
        }
    }

    #[test]
    fn spelling_variants_share_a_block_and_rank_first() {
        let km = KeyMaker::new(Schema::standard(), Blocking::default());
        let stored = person(&["María José"], &["Gutiérrez", "Hernández"], date(1990, 3, 7));
        let query = person(&["Maria"], &["Gutierres"], Birth::Year { year: 1990 });
        let other = person(&["María"], &["Fernández", "Hernández"], date(1990, 3, 7));
        let (ks, kq) = (km.keys(&stored), km.keys(&query));
        assert!(ks.iter().any(|k| kq.contains(k)), "no shared block");
        let scorer = Scorer::new(Model::node_default()).unwrap();
        let ranked = scorer.rank(&query, &[(1, other), (2, stored)], 0.0, 10);
        assert_eq!(ranked.first().map(|c| c.id), Some(2), "{ranked:?}");
        let e = &ranked[0].explanation;
        let sum: f64 =
            e.prior_weight + e.fields.iter().map(|f| f.weight + f.term_frequency_adjustment).sum::<f64>();
        assert!((sum - e.weight).abs() < 1e-9);
        assert!(e.fields.iter().all(|f| f.term_frequency_adjustment == 0.0));
    }
}
