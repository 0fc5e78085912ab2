//! Privacy-preserving record linkage (PPRL) for Enlace: two states find the persons they both
//! hold without showing each other names.
//!
//! Each party encodes its records with [`Encoder`] under a secret they share (and nobody else
//! has): CLK-style keyed Bloom filters ([`BloomFilter`]), exchanged as CSV `id,encoding` with
//! the bits in standard base64. Whoever links the encodings packs both sides into
//! [`FilterSet`]s and calls [`match_sets`], which computes the Dice coefficient of every pair
//! with the CPU's popcount instructions (chosen at run time, see [`Kernel`]), tiled for the
//! caches and spread over all cores.
//!
//! Pure code: no I/O. The `enlace pprl` command reads and writes the files.
//!
//! ```
//! use enlace_pprl::*;
//!
//! let config = EncoderConfig {
//!     bits: DEFAULT_BITS,
//!     fields: vec![
//!         FieldSpec { role: Role::GivenNames, hashes: None },
//!         FieldSpec { role: Role::Surnames, hashes: None },
//!         FieldSpec { role: Role::BirthDate, hashes: None },
//!     ],
//!     hardening: Hardening::None,
//! };
//! let encoder = Encoder::new(b"the secret both parties share", &config)?;
//! let a = encoder.encode(&["María José", "Gutiérrez Hernández", "1990-05-14"])?.filter;
//! let b = encoder.encode(&["Maria", "Gutierres Hernandez", "1990-05-14"])?.filter;
//! let (pairs, _) = match_sets(&FilterSet::new([&a])?, &FilterSet::new([&b])?, &MatchOptions::default(), &|_| {})?;
//! assert_eq!(pairs.len(), 1);
//! assert!(pairs[0].similarity > 0.8);
//! # Ok::<(), PprlError>(())
//! ```

mod bits;
mod encode;
mod fold;
mod kernel;
mod matcher;

pub use bits::{BloomFilter, FilterSet};
pub use encode::{
    DEFAULT_BITS, Encoded, Encoder, EncoderConfig, FieldSpec, Hardening, MAX_BITS, MIN_SECRET_LEN, Role,
};
pub use fold::fold;
pub use kernel::Kernel;
pub use matcher::{Candidate, MatchOptions, MatchSummary, match_sets};

/// What can go wrong; every message names the problem (and never shows the secret).
#[derive(Debug, thiserror::Error)]
pub enum PprlError {
    #[error("the secret is empty")]
    EmptySecret,
    #[error("the secret is too short ({len} bytes; at least {MIN_SECRET_LEN} are needed)")]
    ShortSecret { len: usize },
    #[error("no field to encode: map at least one column to a role")]
    NoFields,
    #[error(
        "unknown role `{0}` (roles: given_names, surnames, full_name, birth_date, birth_year, sex, nationality, birth_place, place, document, exact, text)"
    )]
    UnknownRole(String),
    #[error("unknown hardening `{0}` (none, balance, xor-fold)")]
    UnknownHardening(String),
    #[error("invalid length {bits} bits: it must be a positive multiple of {unit}, at most {MAX_BITS}")]
    BadBits { bits: usize, unit: usize },
    #[error("invalid number of hashes {hashes} for a {role} field: at least 1, at most the filter length")]
    BadHashes { role: Role, hashes: u32 },
    #[error("{found} values given for {expected} fields")]
    FieldCount { expected: usize, found: usize },
    #[error("invalid base64 encoding: {0}")]
    Base64(String),
    #[error("encoding {index} has {found} bits where the others have {expected}")]
    LengthMismatch { expected: usize, found: usize, index: usize },
    #[error("the two sides have encodings of different lengths ({a} and {b} bits)")]
    SetLengthMismatch { a: usize, b: usize },
    #[error("invalid threshold {0}: it must be between 0 and 1")]
    BadThreshold(f64),
    #[error("top-k must be at least 1")]
    BadTopK,
    #[error("this CPU cannot run the {0} kernel")]
    KernelUnavailable(Kernel),
}

/// The Dice coefficient `2c / (pa + pb)` from the common bit count `c` and both popcounts; two
/// empty filters have similarity 0. The one formula every kernel's result goes through.
pub fn dice(common: u32, pa: u32, pb: u32) -> f64 {
    let s = u64::from(pa) + u64::from(pb);
    if s == 0 { 0.0 } else { 2.0 * f64::from(common) / s as f64 }
}
