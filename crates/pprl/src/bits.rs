//! Bit vectors: one encoding ([`BloomFilter`]) and a packed, aligned set of them ([`FilterSet`])
//! laid out for the Dice kernels.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::PprlError;

/// Words (of 64 bits) per cache line: rows of a [`FilterSet`] are padded to a multiple of this.
pub(crate) const LINE_WORDS: usize = 8;
/// Rows of a [`FilterSet`] are padded (with zero rows) to a multiple of this.
pub(crate) const ROW_GROUP: usize = 8;

/// One encoding: a fixed-length bit vector.
///
/// Bit `i` is bit `7 - i % 8` of byte `i / 8` (most significant bit first, the usual order of
/// CLK files), so the byte form is what other PPRL tools read. Internally the bytes are packed
/// little-endian into 64-bit words; popcounts and intersections do not depend on that order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BloomFilter {
    words: Vec<u64>,
    bits: usize,
}

impl BloomFilter {
    /// An all-zero filter of `bits` bits.
    ///
    /// # Panics
    /// If `bits` is not a multiple of 8 (the byte form could not hold it).
    pub fn zeros(bits: usize) -> Self {
        assert!(bits.is_multiple_of(8), "a filter length must be a whole number of bytes");
        BloomFilter { words: vec![0; bits.div_ceil(64)], bits }
    }

    /// The filter whose byte form is `bytes`.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        let mut words = vec![0u64; bytes.len().div_ceil(8)];
        for (w, chunk) in words.iter_mut().zip(bytes.chunks(8)) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            *w = u64::from_le_bytes(b);
        }
        BloomFilter { words, bits: bytes.len() * 8 }
    }

    /// The byte form (`bits / 8` bytes).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out: Vec<u8> = self.words.iter().flat_map(|w| w.to_le_bytes()).collect();
        out.truncate(self.bits / 8);
        out
    }

    /// Reads the standard base64 (with padding) of the byte form. Surrounding spaces are ignored.
    pub fn from_base64(s: &str) -> Result<Self, PprlError> {
        let bytes = STANDARD.decode(s.trim()).map_err(|e| PprlError::Base64(e.to_string()))?;
        if bytes.is_empty() {
            return Err(PprlError::Base64("the encoding is empty".into()));
        }
        Ok(Self::from_bytes(&bytes))
    }

    /// The standard base64 (with padding) of the byte form.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.to_bytes())
    }

    /// Length in bits.
    pub fn len_bits(&self) -> usize {
        self.bits
    }

    /// Number of bits set.
    pub fn count_ones(&self) -> u32 {
        self.words.iter().map(|w| w.count_ones()).sum()
    }

    /// Share of the bits that are set, in `[0, 1]`.
    pub fn fill(&self) -> f64 {
        if self.bits == 0 { 0.0 } else { f64::from(self.count_ones()) / self.bits as f64 }
    }

    /// Whether bit `i` is set.
    ///
    /// # Panics
    /// If `i >= len_bits()`.
    pub fn get(&self, i: usize) -> bool {
        assert!(i < self.bits, "bit {i} of a {}-bit filter", self.bits);
        let (w, mask) = Self::locate(i);
        self.words[w] & mask != 0
    }

    /// Sets bit `i`.
    ///
    /// # Panics
    /// If `i >= len_bits()`.
    pub fn set(&mut self, i: usize) {
        assert!(i < self.bits, "bit {i} of a {}-bit filter", self.bits);
        let (w, mask) = Self::locate(i);
        self.words[w] |= mask;
    }

    fn locate(i: usize) -> (usize, u64) {
        let byte = i / 8;
        let bit_in_byte = 7 - (i % 8);
        (byte / 8, 1u64 << ((byte % 8) * 8 + bit_in_byte))
    }

    /// The 64-bit words (little-endian packing of the byte form, zero past the end).
    pub fn words(&self) -> &[u64] {
        &self.words
    }

    /// Dice coefficient with `other` computed the plain way (reference for the kernels).
    /// Two empty filters have similarity 0.
    pub fn dice(&self, other: &BloomFilter) -> f64 {
        let common: u32 = self.words.iter().zip(&other.words).map(|(a, b)| (a & b).count_ones()).sum();
        crate::dice(common, self.count_ones(), other.count_ones())
    }
}

/// Encodings of one side packed for the kernels: every row padded to a whole number of 64-byte
/// lines, the start aligned on 64 bytes, the number of rows padded with zero rows to a multiple
/// of 8, and each row's popcount kept beside it.
#[derive(Clone, Debug)]
pub struct FilterSet {
    storage: Vec<u64>,
    offset: usize,
    stride: usize,
    rows: usize,
    bits: usize,
    pops: Vec<u32>,
}

impl FilterSet {
    /// Packs `filters`, which must all have the same length. An empty input gives an empty set
    /// of `bits` = 0.
    pub fn new<'a, I>(filters: I) -> Result<Self, PprlError>
    where
        I: IntoIterator<Item = &'a BloomFilter>,
        I::IntoIter: ExactSizeIterator,
    {
        let filters = filters.into_iter();
        let n = filters.len();
        let mut set: Option<FilterSet> = None;
        for (i, f) in filters.enumerate() {
            let s = set.get_or_insert_with(|| Self::with_capacity(f.len_bits(), n));
            s.push(f).map_err(|e| match e {
                PprlError::LengthMismatch { expected, found, .. } => {
                    PprlError::LengthMismatch { expected, found, index: i }
                }
                other => other,
            })?;
        }
        Ok(set.unwrap_or_else(|| Self::with_capacity(0, 0)))
    }

    /// An empty set for filters of `bits` bits with room for `n` of them.
    pub fn with_capacity(bits: usize, n: usize) -> Self {
        let stride = bits.div_ceil(64).div_ceil(LINE_WORDS) * LINE_WORDS;
        let padded_rows = n.div_ceil(ROW_GROUP) * ROW_GROUP;
        let storage = Vec::with_capacity(padded_rows * stride + LINE_WORDS);
        FilterSet { storage, offset: 0, stride, rows: 0, bits, pops: Vec::with_capacity(padded_rows) }
    }

    /// Appends one filter (of this set's length).
    pub fn push(&mut self, f: &BloomFilter) -> Result<(), PprlError> {
        if f.len_bits() != self.bits {
            return Err(PprlError::LengthMismatch {
                expected: self.bits,
                found: f.len_bits(),
                index: self.rows,
            });
        }
        // Pad to 8 rows once up front so that the data never moves once aligned.
        let padded_rows = (self.rows + 1).div_ceil(ROW_GROUP) * ROW_GROUP;
        if self.storage.is_empty() || self.offset + padded_rows * self.stride > self.storage.len() {
            self.grow(padded_rows.max(self.pops.capacity()));
        }
        let start = self.offset + self.rows * self.stride;
        self.storage[start..start + f.words().len()].copy_from_slice(f.words());
        self.pops[self.rows] = f.count_ones();
        self.rows += 1;
        Ok(())
    }

    fn grow(&mut self, rows: usize) {
        let rows = rows.div_ceil(ROW_GROUP).max(1) * ROW_GROUP;
        let rows = rows.max(self.rows * 2);
        let mut storage = vec![0u64; rows * self.stride + LINE_WORDS];
        let offset = storage.as_ptr().align_offset(64).min(LINE_WORDS - 1);
        let used = self.rows * self.stride;
        storage[offset..offset + used].copy_from_slice(&self.storage[self.offset..self.offset + used]);
        self.storage = storage;
        self.offset = offset;
        self.pops.resize(rows, 0);
    }

    /// Number of filters.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether the set holds no filter.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Length of each filter in bits.
    pub fn bits(&self) -> usize {
        self.bits
    }

    /// Popcount of filter `i`.
    pub fn popcount(&self, i: usize) -> u32 {
        self.pops[i]
    }

    /// Words per row (a multiple of 8).
    pub(crate) fn stride(&self) -> usize {
        self.stride
    }

    /// Row `i` (padded to `stride` words).
    pub(crate) fn row(&self, i: usize) -> &[u64] {
        let start = self.offset + i * self.stride;
        &self.storage[start..start + self.stride]
    }

    /// Rows `from..to` (`to` may reach into the zero padding up to a multiple of 8) and their
    /// popcounts.
    pub(crate) fn rows(&self, from: usize, to: usize) -> (&[u64], &[u32]) {
        let data = &self.storage[self.offset + from * self.stride..self.offset + to * self.stride];
        (data, &self.pops[from..to])
    }

    /// The rows (with their padding) in the grouped layout of the AVX-512 kernel: for each group
    /// of 8 rows, word `w` of its 8 rows side by side (`8 * stride` words per group, so a tile
    /// of whole groups sits at the same offsets as in the row layout), aligned on 64 bytes.
    pub(crate) fn grouped(&self) -> Grouped {
        let len = self.padded_len() * self.stride;
        let mut storage = vec![0u64; len + LINE_WORDS];
        let offset = storage.as_ptr().align_offset(64).min(LINE_WORDS - 1);
        let (rows, _) = self.rows(0, self.padded_len());
        let out = &mut storage[offset..offset + len];
        for (group_in, group_out) in
            rows.chunks_exact(8 * self.stride).zip(out.chunks_exact_mut(8 * self.stride))
        {
            for (i, row) in group_in.chunks_exact(self.stride).enumerate() {
                for (w, &word) in row.iter().enumerate() {
                    group_out[w * 8 + i] = word;
                }
            }
        }
        Grouped { storage, offset, len }
    }

    /// Number of rows including the zero padding (a multiple of 8).
    pub(crate) fn padded_len(&self) -> usize {
        self.rows.div_ceil(ROW_GROUP) * ROW_GROUP
    }
}

/// A [`FilterSet`]'s rows in the grouped layout (see [`FilterSet::grouped`]).
pub(crate) struct Grouped {
    storage: Vec<u64>,
    offset: usize,
    len: usize,
}

impl Grouped {
    /// Words `from..to` (multiples of `8 * stride`).
    pub(crate) fn words(&self, from: usize, to: usize) -> &[u64] {
        &self.storage[self.offset..self.offset + self.len][from..to]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_order_is_msb_first() {
        let mut f = BloomFilter::zeros(16);
        f.set(0);
        f.set(15);
        assert_eq!(f.to_bytes(), vec![0x80, 0x01]);
        assert!(f.get(0) && f.get(15) && !f.get(1));
        assert_eq!(f.count_ones(), 2);
    }

    #[test]
    fn base64_round_trip() {
        let bytes: Vec<u8> = (0..128u8).map(|i| i.wrapping_mul(37)).collect();
        let f = BloomFilter::from_bytes(&bytes);
        let s = f.to_base64();
        assert_eq!(BloomFilter::from_base64(&s).unwrap(), f);
        assert_eq!(f.to_bytes(), bytes);
        assert!(matches!(BloomFilter::from_base64("not base64!"), Err(PprlError::Base64(_))));
        assert!(matches!(BloomFilter::from_base64(""), Err(PprlError::Base64(_))));
    }

    #[test]
    fn set_is_aligned_padded_and_checks_lengths() {
        let fs: Vec<BloomFilter> = (0..11u8).map(|i| BloomFilter::from_bytes(&[i; 24])).collect();
        let set = FilterSet::new(&fs).unwrap();
        assert_eq!(set.len(), 11);
        assert_eq!(set.stride(), 8);
        assert_eq!(set.padded_len(), 16);
        assert_eq!(set.row(0).as_ptr().align_offset(64), 0);
        for (i, f) in fs.iter().enumerate() {
            assert_eq!(&set.row(i)[..3], f.words());
            assert!(set.row(i)[3..].iter().all(|&w| w == 0));
            assert_eq!(set.popcount(i), f.count_ones());
        }
        let (rows, pops) = set.rows(8, 16);
        assert!(rows[3 * 8..].iter().all(|&w| w == 0) && pops[3..].iter().all(|&p| p == 0));

        let g = set.grouped();
        assert_eq!(g.words(0, 8).as_ptr().align_offset(64), 0);
        for i in 0..16 {
            for w in 0..8 {
                assert_eq!(g.words(0, 128)[(i / 8) * 64 + w * 8 + i % 8], set.row(i)[w]);
            }
        }

        let mut bad = fs.clone();
        bad.push(BloomFilter::from_bytes(&[0; 16]));
        let err = FilterSet::new(&bad).unwrap_err();
        assert!(matches!(err, PprlError::LengthMismatch { expected: 192, found: 128, index: 11 }), "{err}");
    }
}
