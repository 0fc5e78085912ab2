//! The Dice kernels: `|a ∧ b|` for one query against a tile of rows, with a conservative
//! threshold prefilter, in four variants chosen at run time.
//!
//! Every variant computes the same integer counts and applies the same integer prefilter, so
//! the candidates they return are identical; the exact similarity and threshold test happen
//! afterwards in common code ([`crate::dice`]).

/// A popcount implementation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// Portable Rust (`count_ones` compiled for the baseline target: a bit-twiddling popcount
    /// on x86-64 without POPCNT).
    Scalar,
    /// The POPCNT instruction, one 64-bit word at a time.
    Popcnt,
    /// AVX2 nibble-lookup popcount (`vpshufb`) with `vpsadbw` sums, 256 bits at a time.
    Avx2,
    /// AVX-512 VPOPCNTDQ on eight rows at once, one 64-bit word of each per lane (the other
    /// side is regrouped for it), tested against the threshold in one vector compare.
    Avx512,
}

impl Kernel {
    /// Every kernel, slowest first.
    pub const ALL: [Kernel; 4] = [Kernel::Scalar, Kernel::Popcnt, Kernel::Avx2, Kernel::Avx512];

    /// A short name (`scalar`, `popcnt`, `avx2`, `avx512-vpopcntdq`).
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Scalar => "scalar",
            Kernel::Popcnt => "popcnt",
            Kernel::Avx2 => "avx2",
            Kernel::Avx512 => "avx512-vpopcntdq",
        }
    }

    /// Whether this CPU can run the kernel.
    pub fn is_available(self) -> bool {
        match self {
            Kernel::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Kernel::Popcnt => std::is_x86_feature_detected!("popcnt"),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => std::is_x86_feature_detected!("avx2"),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => {
                std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512vpopcntdq")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// The kernels this CPU can run, slowest first.
    pub fn available() -> Vec<Kernel> {
        Kernel::ALL.into_iter().filter(|k| k.is_available()).collect()
    }

    /// The fastest kernel this CPU can run.
    pub fn best() -> Kernel {
        Kernel::available().pop().unwrap_or(Kernel::Scalar)
    }
}

impl std::fmt::Display for Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The prefilter scale: a row passes when `2·c·2^16 ≥ tq·(pa + pb)`, with `tq` a little below
/// `threshold·2^16` (see [`prefilter_factor`]).
pub(crate) const SCALE_SHIFT: u32 = 16;

/// `tq` for a threshold: `floor(t·2^16) − 1`, so that every pair whose exact Dice reaches `t`
/// passes (the prefilter errs on the side of letting pairs through; the exact test decides).
pub(crate) fn prefilter_factor(threshold: f64) -> u64 {
    let t = threshold.clamp(0.0, 1.0);
    ((t * f64::from(1u32 << SCALE_SHIFT)).floor() as u64).saturating_sub(1)
}

#[inline(always)]
fn passes(count: u32, pa: u32, pb: u32, tq: u64) -> bool {
    (u64::from(count) << (SCALE_SHIFT + 1)) >= tq * (u64::from(pa) + u64::from(pb))
}

/// How a kernel wants the other side's rows laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Layout {
    /// Row after row.
    Rows,
    /// By groups of 8 rows, word `w` of the 8 rows side by side (`FilterSet::grouped`).
    Grouped,
}

/// Rows of the other side: a multiple of 8 rows of `stride` words (`stride` a multiple of 8)
/// in the layout of the kernel, and each row's popcount.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tile<'a> {
    pub(crate) words: &'a [u64],
    pub(crate) pops: &'a [u32],
    pub(crate) stride: usize,
}

/// A kernel known to be available on this CPU: the only way to run one.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Dispatch(Kernel);

impl Dispatch {
    /// `None` when the CPU cannot run `kernel`.
    pub(crate) fn new(kernel: Kernel) -> Option<Self> {
        kernel.is_available().then_some(Dispatch(kernel))
    }

    /// The layout the kernel reads.
    pub(crate) fn layout(self) -> Layout {
        match self.0 {
            Kernel::Avx512 => Layout::Grouped,
            _ => Layout::Rows,
        }
    }

    /// For the query `a` (`stride` words, popcount `pa`) and each row `j` of `tile`, writes
    /// `(j, |a ∧ row_j|)` to `out` (at least as long as the tile has rows) when the pair passes
    /// the prefilter for `tq`, and returns how many were written.
    pub(crate) fn scan(self, a: &[u64], pa: u32, tile: Tile<'_>, tq: u64, out: &mut [(u32, u32)]) -> usize {
        let Tile { words, pops, stride } = tile;
        assert!(stride > 0 && stride.is_multiple_of(8) && a.len() == stride);
        assert!(words.len().is_multiple_of(8 * stride) && pops.len() == words.len() / stride);
        assert!(out.len() >= pops.len());
        match self.0 {
            Kernel::Scalar => scan_portable(a, pa, tile, tq, out),
            #[cfg(target_arch = "x86_64")]
            // SAFETY: a `Dispatch` holding this kernel exists only if the CPU has POPCNT.
            Kernel::Popcnt => unsafe { x86::scan_popcnt(a, pa, tile, tq, out) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: a `Dispatch` holding this kernel exists only if the CPU has AVX2; the
            // shapes were checked above.
            Kernel::Avx2 => unsafe { x86::scan_avx2(a, pa, tile, tq, out) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: a `Dispatch` holding this kernel exists only if the CPU has AVX-512F and
            // VPOPCNTDQ; the shapes were checked above.
            Kernel::Avx512 => unsafe {
                match tile.stride {
                    8 => x86::scan_avx512::<8>(a, pa, tile, tq, out),
                    16 => x86::scan_avx512::<16>(a, pa, tile, tq, out),
                    32 => x86::scan_avx512::<32>(a, pa, tile, tq, out),
                    _ => x86::scan_avx512::<0>(a, pa, tile, tq, out),
                }
            },
            #[cfg(not(target_arch = "x86_64"))]
            _ => unreachable!("only the scalar kernel is available off x86-64"),
        }
    }
}

#[inline(always)]
fn scan_portable(a: &[u64], pa: u32, tile: Tile<'_>, tq: u64, out: &mut [(u32, u32)]) -> usize {
    let mut n = 0;
    for (j, (row, &pb)) in tile.words.chunks_exact(tile.stride).zip(tile.pops).enumerate() {
        let c: u32 = a.iter().zip(row).map(|(x, y)| (x & y).count_ones()).sum();
        if passes(c, pa, pb, tq) {
            out[n] = (j as u32, c);
            n += 1;
        }
    }
    n
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::{SCALE_SHIFT, Tile, passes, scan_portable};

    /// The portable loop compiled with POPCNT enabled (`count_ones` becomes `popcnt`).
    #[target_feature(enable = "popcnt")]
    pub(super) fn scan_popcnt(a: &[u64], pa: u32, tile: Tile<'_>, tq: u64, out: &mut [(u32, u32)]) -> usize {
        scan_portable(a, pa, tile, tq, out)
    }

    /// Popcount of each byte of `v` by nibble lookup (each byte of the result is at most 8).
    #[target_feature(enable = "avx2")]
    fn popcnt_bytes(v: __m256i) -> __m256i {
        let lut = _mm256_setr_epi8(
            0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
        );
        let low = _mm256_set1_epi8(0x0f);
        let lo = _mm256_and_si256(v, low);
        let hi = _mm256_and_si256(_mm256_srli_epi16::<4>(v), low);
        _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi))
    }

    /// Byte counts of at most this many vectors are added before they are widened (8 · 31 <
    /// 256, so no byte overflows).
    const BYTE_BATCH: usize = 31;

    /// # Safety
    /// The CPU must have AVX2; `a` has `stride` words, `tile` whole rows of `stride` words
    /// (`stride` a multiple of 8) and `pops` one entry per row.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn scan_avx2(
        a: &[u64],
        pa: u32,
        tile: Tile<'_>,
        tq: u64,
        out: &mut [(u32, u32)],
    ) -> usize {
        let Tile { words, pops, stride } = tile;
        let vectors = stride / 4;
        let mut n = 0;
        for (j, (row, &pb)) in words.chunks_exact(stride).zip(pops).enumerate() {
            let zero = _mm256_setzero_si256();
            let mut acc = zero;
            let mut v = 0;
            while v < vectors {
                let end = (v + BYTE_BATCH).min(vectors);
                let mut bytes = zero;
                while v < end {
                    // SAFETY: `v * 4 + 4 <= stride`, the length of both `a` and `row`;
                    // unaligned loads accept any address.
                    let (x, y) = unsafe {
                        (
                            _mm256_loadu_si256(a.as_ptr().add(v * 4).cast()),
                            _mm256_loadu_si256(row.as_ptr().add(v * 4).cast()),
                        )
                    };
                    bytes = _mm256_add_epi8(bytes, popcnt_bytes(_mm256_and_si256(x, y)));
                    v += 1;
                }
                acc = _mm256_add_epi64(acc, _mm256_sad_epu8(bytes, zero));
            }
            let half = _mm_add_epi64(_mm256_castsi256_si128(acc), _mm256_extracti128_si256::<1>(acc));
            let sum = _mm_add_epi64(half, _mm_unpackhi_epi64(half, half));
            let c = _mm_cvtsi128_si64(sum) as u32;
            if passes(c, pa, pb, tq) {
                out[n] = (j as u32, c);
                n += 1;
            }
        }
        n
    }

    /// `C` is the row length in words when known at compile time (0: read it from `stride`),
    /// so that the broadcast query words stay in registers for the usual lengths.
    ///
    /// The tile is in the grouped layout: for each group of 8 rows, word `w` of the 8 rows is
    /// one 512-bit vector. Lane `i` of `popcnt(broadcast(a[w]) & group[w])` summed over `w` is
    /// then `|a ∧ row_i|`: no horizontal reduction, and one compare tests 8 rows at once.
    ///
    /// # Safety
    /// The CPU must have AVX-512F and VPOPCNTDQ; `a` has `stride` words, `tile` a multiple of
    /// 8 rows of `stride` words in the grouped layout (`stride` a multiple of 8, equal to `C`
    /// when `C > 0`) and `pops` one entry per row.
    #[target_feature(enable = "avx512f,avx512vpopcntdq")]
    pub(super) unsafe fn scan_avx512<const C: usize>(
        a: &[u64],
        pa: u32,
        tile: Tile<'_>,
        tq: u64,
        out: &mut [(u32, u32)],
    ) -> usize {
        let Tile { words, pops, stride } = tile;
        let n = if C == 0 { stride } else { C };
        // The loads below rely on it: as many groups of `8 * n` words as groups of 8 popcounts.
        assert!(n == stride && words.len() == pops.len() * n);
        let mut found = 0;
        let tqv = _mm512_set1_epi64(tq as i64);
        let pav = _mm512_set1_epi64(i64::from(pa));
        for (g, group) in words.chunks_exact(8 * n).enumerate() {
            // Four accumulators so that the adds do not form one long dependency chain
            // (`n` is a multiple of 8).
            let zero = _mm512_setzero_si512();
            let mut acc = [zero; 4];
            for (q, quad) in a[..n].chunks_exact(4).enumerate() {
                for (k, (acc, &word)) in acc.iter_mut().zip(quad).enumerate() {
                    let w = 4 * q + k;
                    // SAFETY: `group` holds `8 * n` words and `w < n`, so words `8w..8w + 8`
                    // are in it; unaligned loads accept any address.
                    let y = unsafe { _mm512_loadu_si512(group.as_ptr().add(8 * w).cast()) };
                    let x = _mm512_set1_epi64(word as i64);
                    *acc = _mm512_add_epi64(*acc, _mm512_popcnt_epi64(_mm512_and_si512(x, y)));
                }
            }
            let counts = _mm512_add_epi64(_mm512_add_epi64(acc[0], acc[1]), _mm512_add_epi64(acc[2], acc[3]));
            // SAFETY: `pops` has one entry per row of `words`, so `8g + 8 <= pops.len()`.
            let pb = _mm512_cvtepu32_epi64(unsafe { _mm256_loadu_si256(pops.as_ptr().add(8 * g).cast()) });
            let lhs = _mm512_slli_epi64::<{ SCALE_SHIFT + 1 }>(counts);
            let rhs = _mm512_mul_epu32(tqv, _mm512_add_epi64(pav, pb));
            let mut mask = _mm512_cmpge_epu64_mask(lhs, rhs);
            if mask != 0 {
                let mut lanes = [0u64; 8];
                // SAFETY: `lanes` is 64 bytes, the size of the store.
                unsafe { _mm512_storeu_si512(lanes.as_mut_ptr().cast(), counts) };
                while mask != 0 {
                    let i = mask.trailing_zeros() as usize;
                    out[found] = ((8 * g + i) as u32, lanes[i] as u32);
                    found += 1;
                    mask &= mask - 1;
                }
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random_tile(
        rng: &mut fastrand::Rng,
        rows: usize,
        stride: usize,
        density: u32,
    ) -> (Vec<u64>, Vec<u32>) {
        let tile: Vec<u64> = (0..rows * stride)
            .map(|_| (0..64).fold(0u64, |w, b| w | (u64::from(rng.u32(0..100) < density) << b)))
            .collect();
        let pops = tile.chunks(stride).map(|r| r.iter().map(|w| w.count_ones()).sum()).collect();
        (tile, pops)
    }

    #[test]
    fn prefilter_never_drops_a_pair_at_the_threshold() {
        for &t in &[0.0, 0.1, 0.5, 0.8, 0.8125, 0.9, 0.999, 1.0] {
            let tq = prefilter_factor(t);
            for s in 1..=700u32 {
                for c in 0..=s / 2 {
                    if crate::dice(c, s - s / 2, s / 2) >= t {
                        assert!(passes(c, s - s / 2, s / 2, tq), "t={t} c={c} s={s}");
                    }
                }
            }
        }
    }

    fn group(rows: &[u64], stride: usize) -> Vec<u64> {
        let mut out = vec![0; rows.len()];
        for (r, row) in rows.chunks(stride).enumerate() {
            for (w, &x) in row.iter().enumerate() {
                out[(r / 8) * 8 * stride + w * 8 + r % 8] = x;
            }
        }
        out
    }

    /// Every kernel this CPU has returns exactly the scalar kernel's candidates and counts.
    #[test]
    fn every_available_kernel_matches_scalar() {
        let mut rng = fastrand::Rng::with_seed(5);
        let kernels = Kernel::available();
        eprintln!("kernels exercised: {kernels:?}");
        for stride in [8, 16, 24, 32, 64] {
            for density in [0, 5, 30, 50, 95, 100] {
                let (tile, pops) = random_tile(&mut rng, 64, stride, density);
                let (a, pa) = {
                    let query_density = rng.u32(0..=100);
                    let (a, p) = random_tile(&mut rng, 1, stride, query_density);
                    (a, p[0])
                };
                for t in [0.0, 0.3, 0.5, 0.9] {
                    let tq = prefilter_factor(t);
                    let mut reference = vec![(0, 0); 64];
                    let view = Tile { words: &tile, pops: &pops, stride };
                    let n = Dispatch::new(Kernel::Scalar).unwrap().scan(&a, pa, view, tq, &mut reference);
                    reference.truncate(n);
                    if t == 0.0 {
                        assert_eq!(reference.len(), 64);
                        for (j, c) in &reference {
                            let row = &tile[*j as usize * stride..][..stride];
                            let direct: u32 = a.iter().zip(row).map(|(x, y)| (x & y).count_ones()).sum();
                            assert_eq!(*c, direct);
                        }
                    }
                    let grouped = group(&tile, stride);
                    for &k in &kernels {
                        let mut got = vec![(0, 0); 64];
                        let d = Dispatch::new(k).unwrap();
                        let view = match d.layout() {
                            Layout::Rows => view,
                            Layout::Grouped => Tile { words: &grouped, ..view },
                        };
                        let n = d.scan(&a, pa, view, tq, &mut got);
                        got.truncate(n);
                        assert_eq!(got, reference, "{k} stride={stride} density={density} t={t}");
                    }
                }
            }
        }
    }

    #[test]
    fn unavailable_kernels_cannot_be_dispatched() {
        for k in Kernel::ALL {
            assert_eq!(Dispatch::new(k).is_some(), k.is_available());
        }
        assert!(Kernel::Scalar.is_available());
        assert!(Kernel::best().is_available());
    }
}
