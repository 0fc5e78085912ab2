//! An index of persons held in memory that answers, for one new person, the candidates among
//! them with the explanation of each score (the lookup benchmark and tools; a node keeps its
//! persons' keys in its database instead, through [`crate::stored`]).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::blocking::{Blocking, document_attribute};
use crate::compare::{FieldKind, compare};
use crate::model::{Compiled, Explanation, Model, ModelError, TermFrequencies};
use crate::person::Person;
use crate::prepare::{Overlay, Prepared, Vocab, prepare};

/// Block keys are already mixed hashes: hashing them again is wasted work.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ *b as u64;
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type Blocks = HashMap<u64, Vec<u32>, BuildHasherDefault<KeyHasher>>;

/// A candidate for a person: who, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate<K> {
    /// The indexed person's id.
    pub id: K,
    /// The score, field by field.
    pub explanation: Explanation,
}

/// Persons indexed by their blocking keys, with the model that scores them. `K` is the caller's
/// id of a person (a UUID in a node).
#[derive(Debug, Clone)]
pub struct Index<K> {
    model: Model,
    compiled: Compiled,
    kinds: Vec<FieldKind>,
    blocking: Blocking,
    document: Option<usize>,
    vocab: Vocab,
    records: Vec<Prepared>,
    ids: Vec<K>,
    /// Slots whose person was removed or replaced (kept in the blocks, skipped when found).
    removed: Vec<bool>,
    live: usize,
    blocks: Vec<Blocks>,
    tf: TermFrequencies,
}

impl<K: Clone> Index<K> {
    /// An empty index scoring with a model (checked) and blocking with these passes.
    pub fn new(model: Model, blocking: Blocking) -> Result<Self, ModelError> {
        model.validate()?;
        let compiled = model.compile();
        let kinds = model.kinds();
        let document = document_attribute(&model.schema);
        let blocks = blocking.passes.iter().map(|_| Blocks::default()).collect();
        Ok(Index {
            model,
            compiled,
            kinds,
            blocking,
            document,
            vocab: Vocab::default(),
            records: Vec::new(),
            ids: Vec::new(),
            removed: Vec::new(),
            live: 0,
            blocks,
            tf: TermFrequencies::default(),
        })
    }

    /// The model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// How many persons are indexed (not counting removed ones).
    pub fn len(&self) -> usize {
        self.live
    }

    /// Is the index empty?
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Removes the person in `slot` (as returned by [`Index::insert`]): it is no longer a
    /// candidate. Its space is kept until the index is rebuilt.
    pub fn remove(&mut self, slot: u32) {
        if let Some(r) = self.removed.get_mut(slot as usize).filter(|r| !**r) {
            *r = true;
            self.live -= 1;
        }
    }

    /// Adds a person (its attributes in the order of the model's schema) and returns its slot.
    /// To change a person, [`Index::remove`] the old slot and insert it again.
    pub fn insert(&mut self, id: K, person: &Person) -> u32 {
        let r = prepare(person, &self.model.schema, &mut self.vocab);
        let n = self.records.len() as u32;
        let mut keys = Vec::new();
        for (pc, blocks) in self.blocking.passes.iter().zip(&mut self.blocks) {
            keys.clear();
            pc.pass.keys(&r, &self.vocab, self.document, &mut keys);
            for k in &keys {
                blocks.entry(*k).or_default().push(n);
            }
        }
        self.tf.add(&r);
        self.records.push(r);
        self.ids.push(id);
        self.removed.push(false);
        self.live += 1;
        n
    }

    /// The indexed persons that may be `person`, at or above `min_probability`, most probable
    /// first, at most `limit`, each with its explanation. The index is not changed.
    pub fn candidates(&self, person: &Person, min_probability: f64, limit: usize) -> Vec<Candidate<K>> {
        let mut words = Overlay::new(&self.vocab);
        let q = prepare(person, &self.model.schema, &mut words);
        let mut keys = Vec::new();
        let mut found: Vec<u32> = Vec::new();
        for (pc, blocks) in self.blocking.passes.iter().zip(&self.blocks) {
            keys.clear();
            pc.pass.keys(&q, &words, self.document, &mut keys);
            for k in &keys {
                if let Some(b) = blocks.get(k).filter(|b| b.len() <= pc.max_block) {
                    found.extend_from_slice(b);
                }
            }
        }
        found.sort_unstable();
        found.dedup();
        found.retain(|i| !self.removed[*i as usize]);
        let slots = found.into_iter().map(|i| i as usize);
        let ranked = rank(
            &self.model,
            &self.compiled,
            &self.kinds,
            Some(&self.tf),
            &q,
            &words,
            &self.records,
            slots,
            min_probability,
            limit,
        );
        ranked
            .into_iter()
            .map(|(i, explanation)| Candidate { id: self.ids[i].clone(), explanation })
            .collect()
    }
}

/// Scores `q` against `records[slot]` for each slot, keeps those at or above `min_probability`,
/// most probable first (ties by slot), at most `limit`, and explains each kept one.
#[allow(clippy::too_many_arguments)]
pub(crate) fn rank<W: crate::prepare::Words>(
    model: &Model,
    compiled: &Compiled,
    kinds: &[FieldKind],
    tf: Option<&TermFrequencies>,
    q: &Prepared,
    words: &W,
    records: &[Prepared],
    slots: impl IntoIterator<Item = usize>,
    min_probability: f64,
    limit: usize,
) -> Vec<(usize, Explanation)> {
    let mut scored: Vec<(f64, usize)> = slots
        .into_iter()
        .filter_map(|i| {
            let r = &records[i];
            let prob = crate::model::prob(compiled.weight(compare(kinds, q, r, words), r, tf));
            (prob >= min_probability).then_some((prob, i))
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    scored.truncate(limit);
    scored
        .into_iter()
        .map(|(_, i)| (i, compiled.explain(model, compare(kinds, q, &records[i], words), &records[i], tf)))
        .collect()
}
