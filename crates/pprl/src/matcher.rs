//! All-pairs Dice matching of two [`FilterSet`]s: tiled, on all cores, with a threshold, a
//! per-record top-k and optional greedy one-to-one solving.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};
use std::time::Instant;

use crate::bits::Grouped;
use crate::kernel::{Dispatch, Kernel, Layout, Tile, prefilter_factor};
use crate::{FilterSet, MAX_BITS, PprlError, dice};

/// Most queries handed to a thread at a time (they stay in L2 while every tile passes by);
/// fewer when that leaves a core idle.
const QUERY_BLOCK: usize = 64;
/// Bytes of the other side scanned per tile: sized to stay in a 48 KiB L1 data cache.
const TILE_BYTES: usize = 32 * 1024;

/// How to match.
#[derive(Clone, Debug, PartialEq)]
pub struct MatchOptions {
    /// Keep pairs whose Dice coefficient is at least this (in `[0, 1]`).
    pub threshold: f64,
    /// Keep at most this many candidates per record of the first set (the best ones; ties go
    /// to the earlier record of the second set).
    pub top_k: Option<usize>,
    /// Solve one-to-one greedily: take pairs from the most similar down, skipping any whose
    /// record on either side is already taken. Applied after `top_k`.
    pub one_to_one: bool,
    /// Worker threads; 0 uses every core.
    pub threads: usize,
    /// The kernel; `None` picks the fastest one the CPU has.
    pub kernel: Option<Kernel>,
}

impl Default for MatchOptions {
    fn default() -> Self {
        MatchOptions { threshold: 0.8, top_k: None, one_to_one: false, threads: 0, kernel: None }
    }
}

/// A candidate pair: indices into the two sets and their Dice coefficient.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Candidate {
    /// Index in the first set.
    pub a: usize,
    /// Index in the second set.
    pub b: usize,
    /// Dice coefficient, `2|a ∧ b| / (|a| + |b|)`.
    pub similarity: f64,
}

/// What a match did.
#[derive(Clone, Debug, PartialEq)]
pub struct MatchSummary {
    /// Pairs whose coefficient was computed (`|A| · |B|`).
    pub comparisons: u64,
    /// The kernel used.
    pub kernel: Kernel,
    /// Worker threads used.
    pub threads: usize,
    /// Wall time of the comparisons, in seconds.
    pub seconds: f64,
}

/// A heap entry ordered so that the *worst* candidate is the greatest (top of a max-heap).
#[derive(Clone, Copy, Debug)]
struct Worst {
    similarity: f64,
    b: u32,
}

impl PartialEq for Worst {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Worst {}
impl PartialOrd for Worst {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Worst {
    fn cmp(&self, other: &Self) -> Ordering {
        other.similarity.total_cmp(&self.similarity).then(self.b.cmp(&other.b))
    }
}

/// The candidates of one query while the tiles pass by.
enum Keep {
    All(Vec<Worst>),
    Top { k: usize, heap: BinaryHeap<Worst> },
}

impl Keep {
    fn new(top_k: Option<usize>) -> Self {
        match top_k {
            None => Keep::All(Vec::new()),
            Some(k) => Keep::Top { k, heap: BinaryHeap::with_capacity(k + 1) },
        }
    }

    /// The lowest similarity a new candidate needs to be kept (`b` only grows, so an equal
    /// one loses the tie), if higher than the threshold.
    fn floor(&self) -> Option<f64> {
        match self {
            Keep::Top { k, heap } if heap.len() == *k => heap.peek().map(|w| w.similarity),
            _ => None,
        }
    }

    fn offer(&mut self, w: Worst) {
        match self {
            Keep::All(v) => v.push(w),
            Keep::Top { k, heap } => {
                if heap.len() < *k {
                    heap.push(w);
                } else if heap.peek().is_some_and(|top| w < *top) {
                    heap.pop();
                    heap.push(w);
                }
            }
        }
    }

    fn into_sorted(self) -> Vec<Worst> {
        let mut v = match self {
            Keep::All(v) => v,
            Keep::Top { heap, .. } => heap.into_vec(),
        };
        v.sort_unstable();
        v
    }
}

/// Compares every record of `a` with every record of `b` and returns the candidate pairs,
/// sorted by record of `a`, then by decreasing similarity, then by record of `b`.
///
/// `progress` is called with the number of records of `a` finished, from worker threads.
pub fn match_sets(
    a: &FilterSet,
    b: &FilterSet,
    options: &MatchOptions,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<(Vec<Candidate>, MatchSummary), PprlError> {
    if !(0.0..=1.0).contains(&options.threshold) {
        return Err(PprlError::BadThreshold(options.threshold));
    }
    if options.top_k == Some(0) {
        return Err(PprlError::BadTopK);
    }
    let kernel = options.kernel.unwrap_or_else(Kernel::best);
    let dispatch = Dispatch::new(kernel).ok_or(PprlError::KernelUnavailable(kernel))?;
    if !a.is_empty() && !b.is_empty() && a.bits() != b.bits() {
        return Err(PprlError::SetLengthMismatch { a: a.bits(), b: b.bits() });
    }
    if a.bits() > MAX_BITS || b.bits() > MAX_BITS {
        return Err(PprlError::BadBits { bits: a.bits().max(b.bits()), unit: 8 });
    }
    let threads = match options.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let block_len = QUERY_BLOCK.min(a.len().div_ceil(threads)).max(1);
    let blocks = a.len().div_ceil(block_len);
    let threads = threads.clamp(1, blocks.max(1));
    let started = Instant::now();
    let grouped = (dispatch.layout() == Layout::Grouped).then(|| b.grouped());

    let mut found: Vec<Candidate> = if a.is_empty() || b.is_empty() {
        Vec::new()
    } else {
        let next = AtomicUsize::new(0);
        let worker = || {
            let mut mine = Vec::new();
            loop {
                let block = next.fetch_add(1, AtomicOrdering::Relaxed);
                if block >= blocks {
                    break;
                }
                let from = block * block_len;
                let to = (from + block_len).min(a.len());
                match_block(a, from..to, b, grouped.as_ref(), dispatch, options, &mut mine);
                progress(to - from);
            }
            mine
        };
        std::thread::scope(|s| {
            let handles: Vec<_> = (1..threads).map(|_| s.spawn(worker)).collect();
            let mut all = worker();
            for h in handles {
                all.extend(h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
            }
            all
        })
    };
    let seconds = started.elapsed().as_secs_f64();

    if options.one_to_one {
        found = one_to_one(found);
    }
    found.sort_unstable_by(|x, y| {
        x.a.cmp(&y.a).then(y.similarity.total_cmp(&x.similarity)).then(x.b.cmp(&y.b))
    });
    let summary = MatchSummary { comparisons: a.len() as u64 * b.len() as u64, kernel, threads, seconds };
    Ok((found, summary))
}

/// Matches the queries `range` of `a` against all of `b` (`grouped`: `b` in the grouped
/// layout, when the kernel wants it), tile by tile.
fn match_block(
    a: &FilterSet,
    range: std::ops::Range<usize>,
    b: &FilterSet,
    grouped: Option<&Grouped>,
    dispatch: Dispatch,
    options: &MatchOptions,
    out: &mut Vec<Candidate>,
) {
    let stride = b.stride();
    let tile_rows = (TILE_BYTES / (stride * 8)).max(1).div_ceil(8) * 8;
    let base_tq = prefilter_factor(options.threshold);
    let mut keeps: Vec<Keep> = range.clone().map(|_| Keep::new(options.top_k)).collect();
    let mut hits = vec![(0, 0); tile_rows];
    let padded = b.padded_len();
    let mut from = 0;
    while from < padded {
        let to = (from + tile_rows).min(padded);
        let (rows, pops) = b.rows(from, to);
        let words = grouped.map_or(rows, |g| g.words(from * stride, to * stride));
        let tile = Tile { words, pops, stride };
        for (q, keep) in range.clone().zip(keeps.iter_mut()) {
            let (row, pa) = (a.row(q), a.popcount(q));
            let floor = keep.floor();
            let tq = floor.map_or(base_tq, |f| prefilter_factor(f).max(base_tq));
            let n = dispatch.scan(row, pa, tile, tq, &mut hits);
            for &(j, c) in &hits[..n] {
                let bi = from + j as usize;
                if bi >= b.len() {
                    continue;
                }
                let similarity = dice(c, pa, b.popcount(bi));
                if similarity >= options.threshold && floor.is_none_or(|f| similarity > f) {
                    keep.offer(Worst { similarity, b: bi as u32 });
                }
            }
        }
        from = to;
    }
    for (q, keep) in range.zip(keeps) {
        out.extend(keep.into_sorted().into_iter().map(|w| Candidate {
            a: q,
            b: w.b as usize,
            similarity: w.similarity,
        }));
    }
}

/// Greedy one-to-one: most similar first (ties: lower `a`, then lower `b`).
fn one_to_one(mut pairs: Vec<Candidate>) -> Vec<Candidate> {
    pairs.sort_unstable_by(|x, y| {
        y.similarity.total_cmp(&x.similarity).then(x.a.cmp(&y.a)).then(x.b.cmp(&y.b))
    });
    let mut used_a = std::collections::HashSet::new();
    let mut used_b = std::collections::HashSet::new();
    pairs.retain(|p| {
        let free = !used_a.contains(&p.a) && !used_b.contains(&p.b);
        if free {
            used_a.insert(p.a);
            used_b.insert(p.b);
        }
        free
    });
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BloomFilter;

    fn random_filters(rng: &mut fastrand::Rng, n: usize, bytes: usize) -> Vec<BloomFilter> {
        (0..n)
            .map(|_| {
                let density = rng.u32(0..=100);
                let v: Vec<u8> = (0..bytes)
                    .map(|_| (0..8).fold(0u8, |x, bit| x | (u8::from(rng.u32(0..100) < density) << bit)))
                    .collect();
                BloomFilter::from_bytes(&v)
            })
            .collect()
    }

    /// The definition, pair by pair, with the documented ordering.
    fn naive(a: &[BloomFilter], b: &[BloomFilter], t: f64, top_k: Option<usize>) -> Vec<Candidate> {
        let mut out = Vec::new();
        for (i, x) in a.iter().enumerate() {
            let mut row: Vec<Candidate> = b
                .iter()
                .enumerate()
                .map(|(j, y)| Candidate { a: i, b: j, similarity: x.dice(y) })
                .filter(|c| c.similarity >= t)
                .collect();
            row.sort_by(|x, y| y.similarity.total_cmp(&x.similarity).then(x.b.cmp(&y.b)));
            if let Some(k) = top_k {
                row.truncate(k);
            }
            out.extend(row);
        }
        out
    }

    fn run(a: &[BloomFilter], b: &[BloomFilter], opts: &MatchOptions) -> Vec<Candidate> {
        let (sa, sb) = (FilterSet::new(a).unwrap(), FilterSet::new(b).unwrap());
        match_sets(&sa, &sb, opts, &|_| {}).unwrap().0
    }

    /// Property test on random vectors: every available kernel, any thread count, any sizes
    /// (not multiples of 8 or of a tile), thresholds and top-k give exactly the naive result.
    #[test]
    fn random_sets_match_the_naive_definition_on_every_kernel() {
        let mut rng = fastrand::Rng::with_seed(2026);
        eprintln!("kernels exercised: {:?}", Kernel::available());
        for round in 0..24 {
            let bytes = [8, 64, 128, 136, 256][round % 5];
            let (na, nb) = (rng.usize(0..150), rng.usize(0..700));
            let a = random_filters(&mut rng, na, bytes);
            let mut b = random_filters(&mut rng, nb, bytes);
            // Plant near-duplicates and exact duplicates so that high thresholds find pairs.
            for x in a.iter().take(nb / 3) {
                b[rng.usize(0..nb)] = x.clone();
            }
            let threshold = [0.0, 0.2, 0.5, 0.7, 0.95, 1.0][rng.usize(0..6)];
            let top_k = [None, Some(1), Some(3), Some(50)][rng.usize(0..4)];
            let expected = naive(&a, &b, threshold, top_k);
            for kernel in Kernel::available() {
                for threads in [1, 3] {
                    let opts =
                        MatchOptions { threshold, top_k, one_to_one: false, threads, kernel: Some(kernel) };
                    let got = run(&a, &b, &opts);
                    assert_eq!(got.len(), expected.len(), "round {round} {kernel} t={threshold} k={top_k:?}");
                    for (g, e) in got.iter().zip(&expected) {
                        assert_eq!((g.a, g.b), (e.a, e.b), "round {round} {kernel}");
                        assert_eq!(g.similarity.to_bits(), e.similarity.to_bits(), "round {round} {kernel}");
                    }
                }
            }
        }
    }

    #[test]
    fn one_to_one_is_greedy_by_similarity() {
        let f = |bits: &[usize]| {
            let mut x = BloomFilter::zeros(64);
            bits.iter().for_each(|&i| x.set(i));
            x
        };
        // a0 equals b0 (1.0); a1 is closer to b0 (0.73) than to b1 (0.67) but b0 is taken;
        // a0 and b1 are too far apart (0.36).
        let a = vec![f(&[0, 1, 2, 3, 4]), f(&[0, 1, 2, 3, 5, 6])];
        let b = vec![f(&[0, 1, 2, 3, 4]), f(&[0, 1, 5, 6, 9, 10])];
        let opts = MatchOptions { threshold: 0.5, one_to_one: true, ..MatchOptions::default() };
        let got: Vec<(usize, usize)> = run(&a, &b, &opts).iter().map(|c| (c.a, c.b)).collect();
        assert_eq!(got, vec![(0, 0), (1, 1)]);
        let opts = MatchOptions { threshold: 0.5, ..MatchOptions::default() };
        let got: Vec<(usize, usize)> = run(&a, &b, &opts).iter().map(|c| (c.a, c.b)).collect();
        assert_eq!(got, vec![(0, 0), (1, 0), (1, 1)]);
    }

    #[test]
    fn bad_options_and_shapes_are_refused() {
        let a = FilterSet::new(&[BloomFilter::zeros(64)]).unwrap();
        let b = FilterSet::new(&[BloomFilter::zeros(128)]).unwrap();
        let none = &|_| {};
        let opts = MatchOptions::default();
        assert!(matches!(
            match_sets(&a, &b, &opts, none),
            Err(PprlError::SetLengthMismatch { a: 64, b: 128 })
        ));
        let bad_t = MatchOptions { threshold: 1.5, ..opts.clone() };
        assert!(matches!(match_sets(&a, &a, &bad_t, none), Err(PprlError::BadThreshold(_))));
        let bad_t = MatchOptions { threshold: f64::NAN, ..opts.clone() };
        assert!(matches!(match_sets(&a, &a, &bad_t, none), Err(PprlError::BadThreshold(_))));
        let bad_k = MatchOptions { top_k: Some(0), ..opts.clone() };
        assert!(matches!(match_sets(&a, &a, &bad_k, none), Err(PprlError::BadTopK)));
        let empty = FilterSet::new(&[]).unwrap();
        let (found, summary) = match_sets(&empty, &a, &opts, none).unwrap();
        assert!(found.is_empty() && summary.comparisons == 0);
    }
}
