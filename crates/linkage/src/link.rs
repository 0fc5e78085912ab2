//! Deduplication and linkage of whole sets of records, and their evaluation against a known
//! truth.

use std::collections::HashMap;

use crate::blocking::{
    Blocking, BlockingReport, TrainingKey, candidate_pairs, document_attribute, training_pairs, unpack,
};
use crate::compare::{Pattern, compare};
use crate::model::{
    Band, Model, ModelError, PatternCounts, TermFrequencies, TrainOptions, em, prob, rule_match, set_u,
};
use crate::par::map_chunks;
use crate::person::{Person, Schema};
use crate::prepare::{Prepared, Vocab, prepare};
use crate::rng::Rng;

/// A set of records prepared for comparison: one side (deduplication) or two (linkage: the
/// records pushed after [`Dataset::begin_right`] are the right side).
#[derive(Debug, Clone)]
pub struct Dataset {
    schema: Schema,
    vocab: Vocab,
    records: Vec<Prepared>,
    right_start: Option<usize>,
}

impl Dataset {
    /// An empty dataset whose records carry the schema's attributes.
    pub fn new(schema: Schema) -> Self {
        Dataset { schema, vocab: Vocab::default(), records: Vec::new(), right_start: None }
    }

    /// The schema.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// Adds a record and returns its index (indices count from 0 on each side).
    pub fn push(&mut self, p: &Person) -> usize {
        let r = prepare(p, &self.schema, &mut self.vocab);
        self.records.push(r);
        self.records.len() - 1 - self.right_start.unwrap_or(0)
    }

    /// Starts the right side: the dataset becomes a linkage of two sides.
    pub fn begin_right(&mut self) {
        self.right_start = Some(self.records.len());
    }

    /// The number of records on the left side (all of them for deduplication).
    pub fn left_len(&self) -> usize {
        self.right_start.unwrap_or(self.records.len())
    }

    /// The number of records on the right side (0 for deduplication).
    pub fn right_len(&self) -> usize {
        self.right_start.map_or(0, |r| self.records.len() - r)
    }

    /// Is this a linkage of two sides?
    pub fn is_linkage(&self) -> bool {
        self.right_start.is_some()
    }
}

/// Settings of a run.
#[derive(Debug, Clone)]
pub struct LinkOptions {
    /// Which pairs are compared.
    pub blocking: Blocking,
    /// How the model is trained when none is given.
    pub train: TrainOptions,
    /// A trained model to use instead of training one on the data.
    pub model: Option<Model>,
    /// Pairs below this probability are not returned.
    pub min_probability: f64,
    /// Keep each record in at most one pair (greedily, most probable pairs first).
    pub one_to_one: bool,
}

impl Default for LinkOptions {
    fn default() -> Self {
        LinkOptions {
            blocking: Blocking::default(),
            train: TrainOptions::default(),
            model: None,
            min_probability: 0.5,
            one_to_one: false,
        }
    }
}

/// Progress of a run, for a progress bar. All methods have empty defaults.
pub trait Progress: Sync {
    /// A stage starts; `total` items will be counted with [`Progress::advance`] (0: unknown).
    fn stage(&self, _name: &str, _total: u64) {}
    /// `n` more items of the stage are done.
    fn advance(&self, _n: u64) {}
}

/// No progress reporting.
impl Progress for () {}

/// A pair at or above the minimum probability. `left` and `right` index the sides (for
/// deduplication both index the one side, `left < right`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoredPair {
    /// Index on the left side.
    pub left: usize,
    /// Index on the right side.
    pub right: usize,
    /// Match probability.
    pub probability: f64,
    /// Band of the probability.
    pub band: Band,
}

/// What a run found.
#[derive(Debug, Clone)]
pub struct LinkResult {
    /// Pairs at or above the minimum probability, most probable first.
    pub pairs: Vec<ScoredPair>,
    /// The model used (trained on the data unless one was given).
    pub model: Model,
    /// What blocking did.
    pub blocking: BlockingReport,
}

/// Errors of a run.
#[derive(Debug, Clone, PartialEq)]
pub enum LinkError {
    /// The given model does not fit the data's schema.
    Model(ModelError),
    /// There is nothing to compare.
    Empty,
}

impl std::fmt::Display for LinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkError::Model(e) => e.fmt(f),
            LinkError::Empty => write!(f, "no records to compare"),
        }
    }
}

impl std::error::Error for LinkError {}

/// Estimates u on random pairs.
fn count_random_pairs(
    data: &Dataset,
    kinds: &[crate::compare::FieldKind],
    samples: usize,
    seed: u64,
) -> Vec<[u64; 16]> {
    let n = data.records.len();
    let (l, r) = match data.right_start {
        None => (0..n, 0..n),
        Some(s) => (0..s, s..n),
    };
    if l.is_empty() || r.is_empty() || (data.right_start.is_none() && n < 2) {
        return vec![[0; 16]; kinds.len()];
    }
    let parts = map_chunks(samples, 50_000, |range| {
        let mut rng = Rng::new(seed ^ (range.start as u64).wrapping_mul(0x9E37_79B9));
        let mut counts = vec![[0u64; 16]; kinds.len()];
        for _ in range {
            let i = l.start + rng.below(l.len() as u64) as usize;
            let mut j = r.start + rng.below(r.len() as u64) as usize;
            if i == j {
                j = if j + 1 < r.end { j + 1 } else { r.start };
                if i == j {
                    continue;
                }
            }
            let p = compare(kinds, &data.records[i], &data.records[j], &data.vocab);
            for (f, c) in counts.iter_mut().enumerate() {
                if let Some(level) = p.get(f) {
                    c[level as usize] += 1;
                }
            }
        }
        counts
    });
    let mut total = vec![[0u64; 16]; kinds.len()];
    for part in parts {
        for (t, c) in total.iter_mut().zip(part) {
            for (a, b) in t.iter_mut().zip(c) {
                *a += b;
            }
        }
    }
    total
}

/// Trains a model on a dataset and its candidate pairs: u from random pairs, λ from the
/// deterministic rules, m by expectation–maximisation.
fn train(
    data: &Dataset,
    pairs: &[u64],
    possible_pairs: u64,
    opts: &TrainOptions,
    progress: &dyn Progress,
) -> Model {
    let mut model = Model::untrained(data.schema.clone());
    let kinds = model.kinds();
    progress.stage("estimating u on random pairs", 0);
    let counts = count_random_pairs(data, &kinds, opts.u_samples, opts.seed);
    set_u(&mut model, &counts);
    progress.stage("estimating m (expectation-maximisation)", 0);
    let count = |sample: &[u64]| -> (PatternCounts, u64) {
        let parts = map_chunks(sample.len(), 50_000, |range| {
            let mut counts = PatternCounts::new();
            let mut rules = 0u64;
            for &pair in &sample[range] {
                let (i, j) = unpack(pair);
                let p = compare(&kinds, &data.records[i as usize], &data.records[j as usize], &data.vocab);
                *counts.entry(p.0).or_default() += 1;
                rules += rule_match(p, &kinds) as u64;
            }
            (counts, rules)
        });
        let mut patterns = PatternCounts::new();
        let mut rule_hits = 0u64;
        for (c, r) in parts {
            rule_hits += r;
            for (k, v) in c {
                *patterns.entry(k).or_default() += v;
            }
        }
        (patterns, rule_hits)
    };
    // λ: the deterministic rules on a sample of the candidate pairs.
    let step = pairs.len().div_ceil(opts.em_samples.max(1)).max(1);
    let sample: Vec<u64> = pairs.iter().step_by(step).copied().collect();
    let (_, rule_hits) = count(&sample);
    // m: two sessions. Sex follows the given name, so among pairs that share names it agrees
    // for non-matches too: it is only estimated among pairs born the same day.
    let nf = kinds.len();
    let sex = model.fields.iter().position(|f| f.name == "sex");
    let mut sessions = Vec::new();
    for (key, active) in [
        (TrainingKey::Names, (0..nf).map(|f| f >= 2 && Some(f) != sex).collect::<Vec<bool>>()),
        (TrainingKey::BirthDate, (0..nf).map(|f| f != 2).collect()),
    ] {
        let tp =
            training_pairs(&data.records, data.right_start, key, &data.vocab, opts.em_samples, opts.seed);
        sessions.push((count(&tp).0, active));
    }
    em(&mut model, &sessions, opts.em_iterations);
    let scale = pairs.len() as f64 / sample.len().max(1) as f64;
    let possible = possible_pairs.max(1) as f64;
    let from_rules = rule_hits as f64 * scale / opts.rule_recall.clamp(0.01, 1.0) / possible;
    // Without any rule match, one match per record is the fallback guess.
    let prior = if rule_hits > 0 { from_rules } else { data.left_len() as f64 / possible };
    model.prior = prior.clamp(1e-12, 0.5);
    model
}

/// Deduplicates (one side) or links (two sides) a dataset: blocking, training unless a model is
/// given, then scoring every candidate pair on all cores.
pub fn run(
    data: &Dataset,
    opts: &LinkOptions,
    truth: Option<&[u64]>,
    progress: &dyn Progress,
) -> Result<LinkResult, LinkError> {
    if data.left_len() == 0 || (data.is_linkage() && data.right_len() == 0) {
        return Err(LinkError::Empty);
    }
    progress.stage("blocking", 0);
    let document = document_attribute(&data.schema);
    let (pairs, mut report) =
        candidate_pairs(&data.records, data.right_start, &opts.blocking, &data.vocab, document);
    if let Some(t) = truth {
        let (found, total) = true_pairs(data, &pairs, t);
        report.true_pairs_found = Some(found);
        report.true_pairs = Some(total);
    }
    let model = match &opts.model {
        Some(m) => {
            m.validate().map_err(LinkError::Model)?;
            if m.schema != data.schema {
                return Err(LinkError::Model(ModelError::Invalid(
                    "the model was trained on other columns or roles than these".into(),
                )));
            }
            m.clone()
        }
        None => train(data, &pairs, report.possible_pairs, &opts.train, progress),
    };
    let compiled = model.compile();
    let kinds = model.kinds();
    let tf = model.term_frequency.then(|| TermFrequencies::from_records(&data.records));
    progress.stage("scoring", pairs.len() as u64);
    let min = opts.min_probability;
    let offset = data.right_start.unwrap_or(0);
    let parts = map_chunks(pairs.len(), 100_000, |range| {
        let mut out = Vec::new();
        let len = range.len() as u64;
        for &pair in &pairs[range] {
            let (i, j) = unpack(pair);
            let (a, b) = (&data.records[i as usize], &data.records[j as usize]);
            let p: Pattern = compare(&kinds, a, b, &data.vocab);
            let probability = prob(compiled.weight(p, a, tf.as_ref()));
            if probability >= min {
                out.push((i, j, probability));
            }
        }
        progress.advance(len);
        out
    });
    let mut scored: Vec<(u32, u32, f64)> = parts.into_iter().flatten().collect();
    scored.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.0.cmp(&b.0)).then(a.1.cmp(&b.1)));
    if opts.one_to_one {
        scored = one_to_one(scored);
    }
    let pairs = scored
        .into_iter()
        .map(|(i, j, probability)| ScoredPair {
            left: i as usize,
            right: j as usize - if data.is_linkage() { offset } else { 0 },
            probability,
            band: model.bands.band(probability),
        })
        .collect();
    Ok(LinkResult { pairs, model, blocking: report })
}

/// Keeps each record in at most one pair, taking the most probable pairs first (input sorted by
/// probability, highest first).
fn one_to_one(sorted: Vec<(u32, u32, f64)>) -> Vec<(u32, u32, f64)> {
    let mut used = std::collections::HashSet::new();
    sorted
        .into_iter()
        .filter(|(i, j, _)| {
            if used.contains(i) || used.contains(j) {
                return false;
            }
            used.insert(*i);
            used.insert(*j);
            true
        })
        .collect()
}

/// Counts the true pairs among candidates, and all true pairs (`truth`: an entity per record,
/// left side then right side).
fn true_pairs(data: &Dataset, pairs: &[u64], truth: &[u64]) -> (u64, u64) {
    let found = pairs
        .iter()
        .filter(|&&p| {
            let (i, j) = unpack(p);
            truth.get(i as usize).is_some_and(|e| truth.get(j as usize) == Some(e))
        })
        .count() as u64;
    (found, count_true_pairs(truth, data.right_start))
}

/// The number of true pairs given an entity per record (for linkage, pairs across sides only).
pub fn count_true_pairs(truth: &[u64], right_start: Option<usize>) -> u64 {
    let mut left: HashMap<u64, u64> = HashMap::new();
    let mut right: HashMap<u64, u64> = HashMap::new();
    for (i, e) in truth.iter().enumerate() {
        if right_start.is_some_and(|r| i >= r) {
            *right.entry(*e).or_default() += 1;
        } else {
            *left.entry(*e).or_default() += 1;
        }
    }
    match right_start {
        None => left.values().map(|k| k * k.saturating_sub(1) / 2).sum(),
        Some(_) => left.iter().map(|(e, k)| k * right.get(e).copied().unwrap_or(0)).sum(),
    }
}

/// Precision, recall and F1 at one threshold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metrics {
    /// The threshold (pairs at or above count as links).
    pub threshold: f64,
    /// True links found.
    pub true_positives: u64,
    /// Links that are not true.
    pub false_positives: u64,
    /// True links missed.
    pub false_negatives: u64,
    /// TP / (TP + FP).
    pub precision: f64,
    /// TP / (TP + FN).
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
}

/// Evaluates pairs against the truth at several thresholds. `truth_left` and `truth_right` give
/// each record's entity (for deduplication, the same slice twice).
pub fn evaluate(
    pairs: &[ScoredPair],
    truth_left: &[u64],
    truth_right: &[u64],
    true_total: u64,
    thresholds: &[f64],
) -> Vec<Metrics> {
    thresholds
        .iter()
        .map(|&t| {
            let (mut tp, mut fp) = (0u64, 0u64);
            for p in pairs.iter().filter(|p| p.probability >= t) {
                if truth_left.get(p.left).is_some_and(|e| truth_right.get(p.right) == Some(e)) {
                    tp += 1;
                } else {
                    fp += 1;
                }
            }
            let fn_ = true_total.saturating_sub(tp);
            let precision = if tp + fp == 0 { 0.0 } else { tp as f64 / (tp + fp) as f64 };
            let recall = if true_total == 0 { 0.0 } else { tp as f64 / true_total as f64 };
            let f1 =
                if precision + recall == 0.0 { 0.0 } else { 2.0 * precision * recall / (precision + recall) };
            Metrics {
                threshold: t,
                true_positives: tp,
                false_positives: fp,
                false_negatives: fn_,
                precision,
                recall,
                f1,
            }
        })
        .collect()
}
