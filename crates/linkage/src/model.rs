//! The Fellegi–Sunter model: for each field, the probability of each comparison level among
//! true matches (m) and among random pairs (u); a pair's match weight is the sum of
//! `log2(m / u)` over its fields plus the prior `log2(λ / (1 − λ))`, where λ is the probability
//! that two random records match. Common names weigh less (term-frequency adjustment).
//!
//! Training (unsupervised): u is counted on random pairs; λ comes from deterministic rules (same
//! document, or same names and date of birth) divided by their assumed recall; m is estimated by
//! expectation–maximisation on the candidate pairs, with u fixed.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::compare::{FieldKind, MAX_FIELDS, Pattern, field_kinds};
use crate::person::Schema;
use crate::prepare::Prepared;

/// The version of the JSON model format.
pub const FORMAT: u32 = 1;

/// One comparison level of a field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Level {
    /// Its name (see [`crate::compare`]).
    pub name: String,
    /// P(level | match).
    pub m: f64,
    /// P(level | non-match).
    pub u: f64,
}

impl Level {
    /// The level's weight, `log2(m / u)`.
    pub fn weight(&self) -> f64 {
        (self.m.max(1e-12) / self.u.max(1e-12)).log2()
    }
}

/// One field of the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Field {
    /// Its name: `given_names`, `surnames`, `birth`, or an attribute's name.
    pub name: String,
    /// What it compares.
    pub kind: FieldKind,
    /// Its levels, strongest agreement first.
    pub levels: Vec<Level>,
}

/// The thresholds of the bands, as match probabilities.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bands {
    /// At or above: likely the same person.
    pub likely: f64,
    /// At or above (and below `likely`): possibly the same person; a person should review.
    pub possible: f64,
}

impl Default for Bands {
    fn default() -> Self {
        Bands { likely: 0.95, possible: 0.5 }
    }
}

/// Where a pair falls. Nothing is merged automatically in any band.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Band {
    /// Likely the same person.
    Likely,
    /// Possibly the same person: for human review.
    Possible,
    /// Not linked.
    NoLink,
}

impl Band {
    /// The band's name as written in files.
    pub fn as_str(self) -> &'static str {
        match self {
            Band::Likely => "likely",
            Band::Possible => "possible",
            Band::NoLink => "no_link",
        }
    }
}

impl Bands {
    /// The band of a probability.
    pub fn band(&self, probability: f64) -> Band {
        if probability >= self.likely {
            Band::Likely
        } else if probability >= self.possible {
            Band::Possible
        } else {
            Band::NoLink
        }
    }
}

/// A Fellegi–Sunter model, saved and loaded as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// The format version ([`FORMAT`]).
    pub format: u32,
    /// The attributes the records carry.
    pub schema: Schema,
    /// λ: the probability that two records drawn at random are the same person.
    pub prior: f64,
    /// The fields, in the schema's order (given names, surnames, birth, attributes).
    pub fields: Vec<Field>,
    /// The band thresholds.
    pub bands: Bands,
    /// Whether exact agreement on names is weighed by how common the name is.
    pub term_frequency: bool,
}

/// Training settings.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// Random pairs to estimate u from.
    pub u_samples: usize,
    /// Candidate pairs (at most) that expectation–maximisation runs on.
    pub em_samples: usize,
    /// Iterations of expectation–maximisation (it stops earlier once stable).
    pub em_iterations: usize,
    /// The assumed share of true matches that the deterministic rules find.
    pub rule_recall: f64,
    /// Seed of the sampling.
    pub seed: u64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            u_samples: 1_000_000,
            em_samples: 500_000,
            em_iterations: 40,
            rule_recall: 0.6,
            seed: 42,
        }
    }
}

/// Errors of models.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelError {
    /// The JSON is not a model.
    Json(String),
    /// The model does not fit (format, fields or schema).
    Invalid(String),
}

impl std::fmt::Display for ModelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModelError::Json(e) => write!(f, "not a linkage model: {e}"),
            ModelError::Invalid(e) => write!(f, "invalid linkage model: {e}"),
        }
    }
}

impl std::error::Error for ModelError {}

/// How one field contributed to a score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldScore {
    /// The field's name.
    pub field: String,
    /// The comparison level, or `None` when the field is missing on either side (neutral).
    pub level: Option<String>,
    /// The level's weight, `log2(m / u)` (0 when missing).
    pub weight: f64,
    /// The term-frequency adjustment added to the weight (0 unless a name agrees exactly).
    pub term_frequency_adjustment: f64,
}

/// A score, explained field by field: `weight = prior_weight + Σ (weight + adjustment)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    /// `log2(λ / (1 − λ))`.
    pub prior_weight: f64,
    /// Each field's part.
    pub fields: Vec<FieldScore>,
    /// The total match weight.
    pub weight: f64,
    /// The match probability, `2^w / (1 + 2^w)`.
    pub probability: f64,
    /// The band of the probability.
    pub band: Band,
}

/// How often each full given name and each full surname list occurs (for term-frequency
/// adjustments).
#[derive(Debug, Clone, Default)]
pub(crate) struct TermFrequencies {
    given: HashMap<u64, u32>,
    surnames: HashMap<u64, u32>,
    total: u64,
}

impl TermFrequencies {
    pub(crate) fn add(&mut self, p: &Prepared) {
        self.total += 1;
        if let Some(h) = p.given.hash() {
            *self.given.entry(h).or_default() += 1;
        }
        if let Some(h) = p.surnames.hash() {
            *self.surnames.entry(h).or_default() += 1;
        }
    }

    pub(crate) fn from_records(records: &[Prepared]) -> Self {
        let mut t = TermFrequencies::default();
        for r in records {
            t.add(r);
        }
        t
    }

    fn frequency(&self, field: usize, p: &Prepared) -> Option<f64> {
        let (map, h) = match field {
            0 => (&self.given, p.given.hash()?),
            1 => (&self.surnames, p.surnames.hash()?),
            _ => return None,
        };
        let n = *map.get(&h)?;
        Some(n as f64 / self.total.max(1) as f64)
    }
}

pub(crate) fn prob(weight: f64) -> f64 {
    1.0 / (1.0 + (-weight).exp2())
}

impl Model {
    /// A model with starting values (before training): agreement strong, disagreement weak.
    pub fn untrained(schema: Schema) -> Model {
        let fields = field_kinds(&schema)
            .into_iter()
            .enumerate()
            .map(|(i, kind)| {
                let name = match i {
                    0 => "given_names".to_string(),
                    1 => "surnames".to_string(),
                    2 => "birth".to_string(),
                    _ => schema.attributes[i - 3].name.clone(),
                };
                let names = kind.levels();
                let n = names.len();
                let levels = names
                    .iter()
                    .enumerate()
                    .map(|(l, name)| {
                        // m falls and u rises towards disagreement.
                        let m = if l + 1 == n { 0.05 } else { 0.95 * 0.5f64.powi(l as i32 + 1) };
                        let u = if l + 1 == n { 0.9 } else { 0.1 * 0.5f64.powi((n - l) as i32) };
                        Level { name: name.to_string(), m, u }
                    })
                    .collect();
                Field { name, kind, levels }
            })
            .collect();
        let mut m = Model {
            format: FORMAT,
            schema,
            prior: 1e-4,
            fields,
            bands: Bands::default(),
            term_frequency: true,
        };
        m.normalise();
        m
    }

    /// Makes m and u sum to one per field.
    fn normalise(&mut self) {
        for f in &mut self.fields {
            let (sm, su): (f64, f64) =
                f.levels.iter().map(|l| (l.m, l.u)).fold((0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1));
            for l in &mut f.levels {
                l.m /= sm.max(1e-300);
                l.u /= su.max(1e-300);
            }
        }
    }

    /// The model a node scores with until it has one trained on its own records: the standard
    /// schema ([`Schema::standard`]), trained unsupervised on 100,000 generated records by
    /// `examples/linkage_train_node_model.rs`.
    pub fn node_default() -> Model {
        Model::from_json(include_str!("../models/node.json")).expect("the shipped model is checked by a test")
    }

    /// The model as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    /// Reads a model from JSON and checks it.
    pub fn from_json(s: &str) -> Result<Model, ModelError> {
        let m: Model = serde_json::from_str(s).map_err(|e| ModelError::Json(e.to_string()))?;
        m.validate()?;
        Ok(m)
    }

    /// Checks format, fields, levels, probabilities and bands.
    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |s: String| Err(ModelError::Invalid(s));
        if self.format != FORMAT {
            return bad(format!("format {} (this version reads {FORMAT})", self.format));
        }
        let kinds = field_kinds(&self.schema);
        if kinds.len() > MAX_FIELDS {
            return bad(format!("{} fields (at most {MAX_FIELDS})", kinds.len()));
        }
        if kinds.len() != self.fields.len() || kinds.iter().zip(&self.fields).any(|(k, f)| *k != f.kind) {
            return bad("the fields do not match the schema".into());
        }
        for f in &self.fields {
            let names = f.kind.levels();
            if f.levels.len() != names.len() || f.levels.iter().zip(names).any(|(l, n)| l.name != *n) {
                return bad(format!("field {}: the levels must be {names:?}", f.name));
            }
            if f.levels.iter().any(|l| !(l.m.is_finite() && l.u.is_finite() && l.m >= 0.0 && l.u > 0.0)) {
                return bad(format!("field {}: m must be ≥ 0 and u > 0", f.name));
            }
        }
        if !(self.prior > 0.0 && self.prior < 1.0) {
            return bad("the prior must be between 0 and 1".into());
        }
        if !(0.0..=1.0).contains(&self.bands.possible)
            || !(0.0..=1.0).contains(&self.bands.likely)
            || self.bands.possible > self.bands.likely
        {
            return bad("bands: need 0 ≤ possible ≤ likely ≤ 1".into());
        }
        Ok(())
    }

    pub(crate) fn kinds(&self) -> Vec<FieldKind> {
        self.fields.iter().map(|f| f.kind).collect()
    }

    pub(crate) fn compile(&self) -> Compiled {
        let mut table = vec![[0.0f64; 16]; self.fields.len()];
        for (f, field) in self.fields.iter().enumerate() {
            for (l, level) in field.levels.iter().enumerate() {
                table[f][l] = level.weight();
            }
        }
        let exact_u = [0usize, 1].map(|f| self.fields.get(f).map_or(1.0, |x| x.levels[0].u));
        Compiled {
            prior_weight: (self.prior / (1.0 - self.prior)).log2(),
            table,
            exact_u,
            term_frequency: self.term_frequency,
        }
    }
}

/// A model turned into lookup tables for scoring.
#[derive(Debug, Clone)]
pub(crate) struct Compiled {
    pub(crate) prior_weight: f64,
    table: Vec<[f64; 16]>,
    exact_u: [f64; 2],
    term_frequency: bool,
}

impl Compiled {
    fn tf_adjustment(&self, f: usize, level: u8, a: &Prepared, tf: Option<&TermFrequencies>) -> f64 {
        if !self.term_frequency || f > 1 || level != 0 {
            return 0.0;
        }
        let Some(freq) = tf.and_then(|t| t.frequency(f, a)) else { return 0.0 };
        (self.exact_u[f] / freq).log2()
    }

    /// The match weight of a compared pair.
    pub(crate) fn weight(&self, p: Pattern, a: &Prepared, tf: Option<&TermFrequencies>) -> f64 {
        let mut w = self.prior_weight;
        for (f, row) in self.table.iter().enumerate() {
            if let Some(l) = p.get(f) {
                w += row[l as usize] + self.tf_adjustment(f, l, a, tf);
            }
        }
        w
    }

    /// The explanation of a compared pair.
    pub(crate) fn explain(
        &self,
        model: &Model,
        p: Pattern,
        a: &Prepared,
        tf: Option<&TermFrequencies>,
    ) -> Explanation {
        let fields: Vec<FieldScore> = model
            .fields
            .iter()
            .enumerate()
            .map(|(f, field)| match p.get(f) {
                None => FieldScore {
                    field: field.name.clone(),
                    level: None,
                    weight: 0.0,
                    term_frequency_adjustment: 0.0,
                },
                Some(l) => FieldScore {
                    field: field.name.clone(),
                    level: Some(field.levels[l as usize].name.clone()),
                    weight: self.table[f][l as usize],
                    term_frequency_adjustment: self.tf_adjustment(f, l, a, tf),
                },
            })
            .collect();
        let weight =
            self.prior_weight + fields.iter().map(|s| s.weight + s.term_frequency_adjustment).sum::<f64>();
        let probability = prob(weight);
        Explanation {
            prior_weight: self.prior_weight,
            fields,
            weight,
            probability,
            band: model.bands.band(probability),
        }
    }
}

/// Counts of comparison vectors.
pub(crate) type PatternCounts = HashMap<u64, u64>;

/// Estimates u from the level counts of random pairs (`counts[field][level]`, missing not
/// counted), with a half-count added to every level so no u is zero.
pub(crate) fn set_u(model: &mut Model, counts: &[[u64; 16]]) {
    for (f, field) in model.fields.iter_mut().enumerate() {
        let n = field.levels.len();
        let total: f64 = counts[f][..n].iter().sum::<u64>() as f64 + 0.5 * n as f64;
        for (l, level) in field.levels.iter_mut().enumerate() {
            level.u = (counts[f][l] as f64 + 0.5) / total;
        }
    }
}

/// How many matches the starting m values weigh in expectation–maximisation.
const PRIOR_PAIRS: f64 = 20.0;

/// Expectation–maximisation of m (u fixed) on counted comparison vectors, over the `active`
/// fields only (the others were used to select the pairs, so they say nothing here). Returns the
/// new m of the active fields (`None` for the others) and the share of matches among the pairs.
fn em_session(
    model: &Model,
    patterns: &[(Pattern, f64)],
    active: &[bool],
    iterations: usize,
) -> (Vec<Option<Vec<f64>>>, f64) {
    let start: Vec<Vec<f64>> = model.fields.iter().map(|f| f.levels.iter().map(|l| l.m).collect()).collect();
    let mut m = start.clone();
    let u: Vec<Vec<f64>> = model.fields.iter().map(|f| f.levels.iter().map(|l| l.u).collect()).collect();
    let total: f64 = patterns.iter().map(|p| p.1).sum();
    let mut lambda = 0.3f64;
    if total == 0.0 {
        return (vec![None; m.len()], 0.0);
    }
    for _ in 0..iterations {
        let mut acc: Vec<Vec<f64>> = m.iter().map(|l| vec![0.0; l.len()]).collect();
        let mut matches = 0.0;
        for (p, c) in patterns {
            let (mut lm, mut lu) = (lambda, 1.0 - lambda);
            for f in (0..m.len()).filter(|f| active[*f]) {
                if let Some(l) = p.get(f) {
                    lm *= m[f][l as usize];
                    lu *= u[f][l as usize];
                }
            }
            let post = if lm + lu > 0.0 { lm / (lm + lu) } else { 0.0 };
            let w = post * c;
            matches += w;
            for (f, a) in acc.iter_mut().enumerate() {
                if let Some(l) = p.get(f) {
                    a[l as usize] += w;
                }
            }
        }
        let new_lambda = (matches / total).clamp(1e-9, 1.0 - 1e-9);
        let mut change = (new_lambda - lambda).abs();
        lambda = new_lambda;
        for f in (0..m.len()).filter(|f| active[*f]) {
            let n = m[f].len();
            let sum: f64 = acc[f].iter().sum();
            if sum <= 0.0 {
                continue;
            }
            for l in 0..n {
                // The starting values count as PRIOR_PAIRS matches (a Dirichlet prior): on
                // small files EM cannot drive a level to zero from a handful of pairs, on large
                // files the data decide.
                let new = (acc[f][l] + PRIOR_PAIRS * start[f][l]) / (sum + PRIOR_PAIRS);
                change = change.max((new - m[f][l]).abs());
                m[f][l] = new;
            }
        }
        if change < 1e-6 {
            break;
        }
    }
    (m.into_iter().enumerate().map(|(f, v)| active[f].then_some(v)).collect(), lambda)
}

/// Estimates m by expectation–maximisation in sessions, as Splink does with its training
/// blocking rules: each session runs on pairs drawn from a blocking that fixes some fields, and
/// estimates m of the other (`active`) fields. Each field's m is the mean of the sessions that
/// estimated it.
pub(crate) fn em(model: &mut Model, sessions: &[(PatternCounts, Vec<bool>)], iterations: usize) {
    let nf = model.fields.len();
    let mut sums: Vec<Option<(Vec<f64>, usize)>> = vec![None; nf];
    for (patterns, active) in sessions {
        let chosen: Vec<(Pattern, f64)> = patterns.iter().map(|(p, c)| (Pattern(*p), *c as f64)).collect();
        if chosen.is_empty() {
            continue;
        }
        let (ms, _) = em_session(model, &chosen, active, iterations);
        for (f, m) in ms.into_iter().enumerate() {
            if let Some(m) = m {
                match &mut sums[f] {
                    Some((acc, k)) => {
                        acc.iter_mut().zip(&m).for_each(|(a, b)| *a += b);
                        *k += 1;
                    }
                    slot => *slot = Some((m, 1)),
                }
            }
        }
    }
    for (field, sum) in model.fields.iter_mut().zip(sums) {
        if let Some((acc, k)) = sum {
            for (level, m) in field.levels.iter_mut().zip(acc) {
                level.m = m / k as f64;
            }
        }
    }
}

/// The deterministic rules that set λ: the same document, or the same given names, surnames and
/// full date of birth.
pub(crate) fn rule_match(p: Pattern, kinds: &[FieldKind]) -> bool {
    let document = kinds.iter().enumerate().any(|(f, k)| *k == FieldKind::Document && p.get(f) == Some(0));
    document || (p.get(0) == Some(0) && p.get(1) == Some(0) && p.get(2) == Some(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_node_model_is_valid_and_trained() {
        let m = Model::node_default();
        assert_eq!(m.schema, Schema::standard());
        assert!(m.prior > 0.0 && m.prior < 1e-3, "{}", m.prior);
        assert_ne!(m.fields, Model::untrained(Schema::standard()).fields, "trained, not the starting values");
    }

    #[test]
    fn json_round_trip_and_validation() {
        let m = Model::untrained(Schema::standard());
        let back = Model::from_json(&m.to_json()).unwrap();
        assert_eq!(back, m);
        let mut bad = m.clone();
        bad.fields[2].levels.pop();
        assert!(matches!(Model::from_json(&bad.to_json()), Err(ModelError::Invalid(_))));
        let mut bad = m.clone();
        bad.prior = 1.5;
        assert!(Model::from_json(&bad.to_json()).is_err());
        assert!(matches!(Model::from_json("{}"), Err(ModelError::Json(_))));
    }

    #[test]
    fn untrained_weights_fall_with_the_level() {
        let m = Model::untrained(Schema::standard());
        for f in &m.fields {
            let w: Vec<f64> = f.levels.iter().map(Level::weight).collect();
            assert!(w.windows(2).all(|p| p[0] > p[1]), "{}: {w:?}", f.name);
            assert!(w[0] > 0.0 && *w.last().unwrap() < 0.0);
        }
    }

    #[test]
    fn bands() {
        let b = Bands::default();
        assert_eq!(b.band(0.99), Band::Likely);
        assert_eq!(b.band(0.95), Band::Likely);
        assert_eq!(b.band(0.7), Band::Possible);
        assert_eq!(b.band(0.1), Band::NoLink);
    }
}
