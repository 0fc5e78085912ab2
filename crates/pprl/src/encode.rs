//! CLK-style keyed Bloom filter encodings.
//!
//! Every mapped field is folded ([`crate::fold`]) and cut into tokens (padded bigrams of each
//! word for names and free text; year, month and day for dates; the whole value for codes).
//! Each token is hashed with HMAC-SHA256 under a key of its own field, derived from the shared
//! secret, and sets `k` bits of one filter by double hashing: bit `(h1 + j·h2) mod m` for
//! `j < k`, where `h1` and `h2` are the first two 64-bit words of the MAC (`h2` made odd).
//! Without the secret nobody can tell which bits a given name sets, so a dictionary attack
//! needs the key; the per-field keys mean the same bigram in a surname and in a place of birth
//! set unrelated bits.

use std::fmt;
use std::str::FromStr;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::{BloomFilter, PprlError, fold};

type HmacSha256 = Hmac<Sha256>;

/// Shortest secret accepted, in bytes.
pub const MIN_SECRET_LEN: usize = 16;
/// Default length of an encoding in bits.
pub const DEFAULT_BITS: usize = 1024;
/// Largest length of an encoding in bits.
pub const MAX_BITS: usize = 1 << 20;

/// What a column holds (the same vocabulary as `enlace link`). The role decides how the value
/// is cut into tokens and how many bits each token sets by default.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    GivenNames,
    Surnames,
    FullName,
    BirthDate,
    BirthYear,
    Sex,
    Nationality,
    BirthPlace,
    Place,
    Document,
    Exact,
    Text,
}

impl Role {
    /// Every role, in documentation order.
    pub const ALL: [Role; 12] = [
        Role::GivenNames,
        Role::Surnames,
        Role::FullName,
        Role::BirthDate,
        Role::BirthYear,
        Role::Sex,
        Role::Nationality,
        Role::BirthPlace,
        Role::Place,
        Role::Document,
        Role::Exact,
        Role::Text,
    ];

    /// The role's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Role::GivenNames => "given_names",
            Role::Surnames => "surnames",
            Role::FullName => "full_name",
            Role::BirthDate => "birth_date",
            Role::BirthYear => "birth_year",
            Role::Sex => "sex",
            Role::Nationality => "nationality",
            Role::BirthPlace => "birth_place",
            Role::Place => "place",
            Role::Document => "document",
            Role::Exact => "exact",
            Role::Text => "text",
        }
    }

    /// Bits set per token for a 1024-bit filter. Chosen so that a typical record (two given
    /// names, two surnames, a date of birth, sex and nationality: about 40 tokens) fills a
    /// little over a third of the filter, below the half that keeps Dice discriminating.
    fn hashes_per_1024(self) -> u32 {
        match self {
            Role::GivenNames | Role::Surnames => 12,
            Role::FullName => 10,
            Role::BirthDate | Role::BirthYear | Role::Exact => 20,
            Role::Sex | Role::Nationality => 10,
            Role::Document => 12,
            Role::BirthPlace | Role::Place | Role::Text => 8,
        }
    }

    /// The default number of bits each token sets in a filter of `bits` bits (scaled with the
    /// length so that the fill stays the same).
    pub fn default_hashes(self, bits: usize) -> u32 {
        let k = (f64::from(self.hashes_per_1024()) * bits as f64 / 1024.0).round();
        (k as u32).max(1)
    }

    /// The tokens of `value`, or `None` when the value is present but unreadable (a date that
    /// does not parse). A blank value gives no token.
    pub fn tokens(self, value: &str) -> Option<Vec<String>> {
        let folded = fold(value);
        if folded.is_empty() {
            return Some(Vec::new());
        }
        Some(match self {
            Role::GivenNames
            | Role::Surnames
            | Role::FullName
            | Role::BirthPlace
            | Role::Place
            | Role::Text => folded.split(' ').flat_map(padded_bigrams).collect(),
            Role::Document => padded_bigrams(&folded.replace(' ', "")),
            Role::Nationality | Role::Exact => vec![folded],
            Role::Sex => vec![sex(&folded)],
            Role::BirthDate => {
                let (y, m, d) = parse_date(value.trim())?;
                vec![format!("y{y:04}"), format!("m{m:02}"), format!("d{d:02}")]
            }
            Role::BirthYear => {
                let y = parse_year(value.trim())?;
                vec![format!("y{y:04}")]
            }
        })
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Role {
    type Err = PprlError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL.into_iter().find(|r| r.name() == s).ok_or_else(|| PprlError::UnknownRole(s.to_string()))
    }
}

/// Bigrams of `_word_`: "ana" gives "_a", "an", "na", "a_".
fn padded_bigrams(word: &str) -> Vec<String> {
    let chars: Vec<char> = std::iter::once('_').chain(word.chars()).chain(std::iter::once('_')).collect();
    chars.windows(2).map(|w| w.iter().collect()).collect()
}

fn sex(folded: &str) -> String {
    match folded {
        "m" | "male" | "masculino" | "hombre" | "h" | "man" => "m".into(),
        "f" | "female" | "femenino" | "mujer" | "woman" => "f".into(),
        other => other.into(),
    }
}

/// `YYYY-MM-DD`, `YYYYMMDD` or `DD/MM/YYYY`, with a plausible month and day.
fn parse_date(s: &str) -> Option<(u32, u32, u32)> {
    let num = |t: &str, len: usize| -> Option<u32> {
        (t.len() == len && t.bytes().all(|b| b.is_ascii_digit())).then(|| t.parse().ok()).flatten()
    };
    let (y, m, d) = if let [y, m, d] = s.split('-').collect::<Vec<_>>()[..] {
        (num(y, 4)?, num(m, 2)?, num(d, 2)?)
    } else if let [d, m, y] = s.split('/').collect::<Vec<_>>()[..] {
        (num(y, 4)?, num(m, 2).or_else(|| num(m, 1))?, num(d, 2).or_else(|| num(d, 1))?)
    } else if s.len() == 8 && s.is_ascii() {
        (num(&s[..4], 4)?, num(&s[4..6], 2)?, num(&s[6..], 2)?)
    } else {
        return None;
    };
    ((1..=12).contains(&m) && (1..=31).contains(&d) && (1000..=2999).contains(&y)).then_some((y, m, d))
}

/// A four-digit year, or the year of a full date.
fn parse_year(s: &str) -> Option<u32> {
    if s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit()) {
        let y: u32 = s.parse().ok()?;
        return (1000..=2999).contains(&y).then_some(y);
    }
    parse_date(s).map(|(y, _, _)| y)
}

/// Optional hardening of the filters against frequency and pattern attacks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Hardening {
    /// Plain CLK.
    #[default]
    None,
    /// Balancing: a filter of half the length is followed by its complement and the bits are
    /// permuted with a permutation derived from the secret. Every encoding has exactly half its
    /// bits set, so the popcount no longer tells how long the name is.
    Balance,
    /// XOR-folding: a filter of twice the length is folded in two (`x[i] ^ x[i + m]`), so that
    /// no single bit reveals one q-gram.
    XorFold,
}

impl Hardening {
    /// Every hardening, as named on the command line.
    pub const NAMES: [&'static str; 3] = ["none", "balance", "xor-fold"];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Hardening::None => "none",
            Hardening::Balance => "balance",
            Hardening::XorFold => "xor-fold",
        }
    }
}

impl FromStr for Hardening {
    type Err = PprlError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" => Ok(Hardening::None),
            "balance" => Ok(Hardening::Balance),
            "xor-fold" => Ok(Hardening::XorFold),
            other => Err(PprlError::UnknownHardening(other.to_string())),
        }
    }
}

/// One field of the encoding schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldSpec {
    /// What the field holds.
    pub role: Role,
    /// Bits set per token; `None` takes the role's default for the filter length.
    pub hashes: Option<u32>,
}

/// The encoding schema: both parties must use the same one (and the same secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncoderConfig {
    /// Length of the output encodings in bits: a multiple of 64 (128 with balancing).
    pub bits: usize,
    /// The fields, in the order of the values given to [`Encoder::encode`].
    pub fields: Vec<FieldSpec>,
    /// Optional hardening.
    pub hardening: Hardening,
}

/// One record's encoding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encoded {
    /// The encoding.
    pub filter: BloomFilter,
    /// How many non-blank values could not be read (dates that do not parse); they count as
    /// missing.
    pub unreadable: usize,
}

struct Field {
    role: Role,
    hashes: u32,
    mac: HmacSha256,
}

/// Encodes records under one secret and schema. Holds the derived keys; never prints them.
pub struct Encoder {
    fields: Vec<Field>,
    /// Length of the filter the tokens are hashed into (before any hardening).
    inner_bits: usize,
    bits: usize,
    hardening: Hardening,
    /// Balancing only: where each bit of the doubled filter goes.
    permutation: Vec<u32>,
}

impl fmt::Debug for Encoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Encoder")
            .field("bits", &self.bits)
            .field("hardening", &self.hardening)
            .field("fields", &self.fields.iter().map(|x| (x.role, x.hashes)).collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn derive(secret: &[u8], label: &[u8]) -> HmacSha256 {
    let mut m = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    m.update(b"enlace-pprl/v1\0");
    m.update(label);
    let key = m.finalize().into_bytes();
    HmacSha256::new_from_slice(&key).expect("HMAC takes keys of any length")
}

impl Encoder {
    /// An encoder for `config` under `secret` (at least [`MIN_SECRET_LEN`] bytes).
    pub fn new(secret: &[u8], config: &EncoderConfig) -> Result<Self, PprlError> {
        if secret.is_empty() {
            return Err(PprlError::EmptySecret);
        }
        if secret.len() < MIN_SECRET_LEN {
            return Err(PprlError::ShortSecret { len: secret.len() });
        }
        if config.fields.is_empty() {
            return Err(PprlError::NoFields);
        }
        let bits = config.bits;
        let unit = if config.hardening == Hardening::Balance { 128 } else { 64 };
        if bits == 0 || !bits.is_multiple_of(unit) || bits > MAX_BITS {
            return Err(PprlError::BadBits { bits, unit });
        }
        let inner_bits = match config.hardening {
            Hardening::None => bits,
            Hardening::Balance => bits / 2,
            Hardening::XorFold => bits * 2,
        };
        let mut seen = std::collections::HashMap::<Role, usize>::new();
        let mut fields = Vec::with_capacity(config.fields.len());
        for spec in &config.fields {
            let hashes = spec.hashes.unwrap_or_else(|| spec.role.default_hashes(inner_bits));
            if hashes == 0 || hashes as usize > inner_bits {
                return Err(PprlError::BadHashes { role: spec.role, hashes });
            }
            // Two fields of the same role (two `text` columns) get keys of their own too.
            let nth = seen.entry(spec.role).or_default();
            let label = format!("field\0{}\0{}", spec.role.name(), *nth);
            *nth += 1;
            fields.push(Field { role: spec.role, hashes, mac: derive(secret, label.as_bytes()) });
        }
        let permutation = if config.hardening == Hardening::Balance {
            keyed_permutation(&derive(secret, format!("balance\0{bits}").as_bytes()), bits)
        } else {
            Vec::new()
        };
        Ok(Encoder { fields, inner_bits, bits, hardening: config.hardening, permutation })
    }

    /// Length of the encodings in bits.
    pub fn bits(&self) -> usize {
        self.bits
    }

    /// Bits set per token for each field, in schema order.
    pub fn hashes(&self) -> Vec<u32> {
        self.fields.iter().map(|f| f.hashes).collect()
    }

    /// Encodes one record: `values[i]` is the value of field `i` (blank means missing).
    pub fn encode<S: AsRef<str>>(&self, values: &[S]) -> Result<Encoded, PprlError> {
        if values.len() != self.fields.len() {
            return Err(PprlError::FieldCount { expected: self.fields.len(), found: values.len() });
        }
        let mut inner = BloomFilter::zeros(self.inner_bits);
        let m = self.inner_bits as u64;
        let mut unreadable = 0;
        for (field, value) in self.fields.iter().zip(values) {
            let Some(tokens) = field.role.tokens(value.as_ref()) else {
                unreadable += 1;
                continue;
            };
            for token in tokens {
                let mut mac = field.mac.clone();
                mac.update(token.as_bytes());
                let h = mac.finalize().into_bytes();
                let h1 = u64::from_le_bytes(h[..8].try_into().expect("32-byte MAC"));
                let h2 = u64::from_le_bytes(h[8..16].try_into().expect("32-byte MAC")) | 1;
                for j in 0..u64::from(field.hashes) {
                    inner.set((h1.wrapping_add(j.wrapping_mul(h2)) % m) as usize);
                }
            }
        }
        let filter = match self.hardening {
            Hardening::None => inner,
            Hardening::XorFold => {
                let mut out = BloomFilter::zeros(self.bits);
                for i in 0..self.bits {
                    if inner.get(i) ^ inner.get(i + self.bits) {
                        out.set(i);
                    }
                }
                out
            }
            Hardening::Balance => {
                let mut out = BloomFilter::zeros(self.bits);
                for i in 0..self.inner_bits {
                    let (set, unset) = (i, i + self.inner_bits);
                    let target = if inner.get(i) { set } else { unset };
                    out.set(self.permutation[target] as usize);
                }
                out
            }
        };
        Ok(Encoded { filter, unreadable })
    }
}

/// A permutation of `0..n` (Fisher–Yates) driven by HMAC blocks under `key`.
fn keyed_permutation(key: &HmacSha256, n: usize) -> Vec<u32> {
    let mut perm: Vec<u32> = (0..n as u32).collect();
    let mut block = 0u64;
    let mut pool: Vec<u64> = Vec::new();
    let mut next = || {
        if pool.is_empty() {
            let mut m = key.clone();
            m.update(&block.to_le_bytes());
            block += 1;
            let h = m.finalize().into_bytes();
            pool = h.chunks(8).map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes"))).collect();
        }
        pool.pop().expect("refilled above")
    };
    for i in (1..n).rev() {
        // n ≤ 2^20, so the modulo bias of a 64-bit draw is negligible (< 2^-44).
        let j = (next() % (i as u64 + 1)) as usize;
        perm.swap(i, j);
    }
    perm
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"a shared secret of some length";

    fn schema(hardening: Hardening) -> EncoderConfig {
        EncoderConfig {
            bits: 1024,
            fields: [Role::GivenNames, Role::Surnames, Role::BirthDate, Role::Sex, Role::Nationality]
                .into_iter()
                .map(|role| FieldSpec { role, hashes: None })
                .collect(),
            hardening,
        }
    }

    fn enc(e: &Encoder, v: [&str; 5]) -> BloomFilter {
        e.encode(&v).unwrap().filter
    }

    #[test]
    fn roles_parse_and_tokenise() {
        for r in Role::ALL {
            assert_eq!(r.name().parse::<Role>().unwrap(), r);
        }
        assert!(matches!("surname".parse::<Role>(), Err(PprlError::UnknownRole(_))));
        assert_eq!(Role::GivenNames.tokens("Ana").unwrap(), ["_a", "an", "na", "a_"]);
        assert_eq!(Role::Surnames.tokens("  ").unwrap(), Vec::<String>::new());
        let ymd = ["y1990", "m05", "d14"];
        assert_eq!(Role::BirthDate.tokens("1990-05-14").unwrap(), ymd);
        assert_eq!(Role::BirthDate.tokens("19900514").unwrap(), ymd);
        assert_eq!(Role::BirthDate.tokens("14/05/1990").unwrap(), ymd);
        assert_eq!(Role::BirthDate.tokens("14/5/1990").unwrap(), ymd);
        assert_eq!(Role::BirthDate.tokens("1990-13-14"), None);
        assert_eq!(Role::BirthDate.tokens("mayo"), None);
        assert_eq!(Role::BirthYear.tokens("1990").unwrap(), ["y1990"]);
        assert_eq!(Role::BirthYear.tokens("1990-05-14").unwrap(), ["y1990"]);
        assert_eq!(Role::Sex.tokens("Mujer").unwrap(), ["f"]);
        assert_eq!(Role::Document.tokens("AB 12-34").unwrap(), ["_a", "ab", "b1", "12", "23", "34", "4_"]);
    }

    #[test]
    fn same_secret_same_encoding_other_secret_unrelated() {
        let cfg = schema(Hardening::None);
        let a = Encoder::new(SECRET, &cfg).unwrap();
        let b = Encoder::new(SECRET, &cfg).unwrap();
        let c = Encoder::new(b"another secret, just as long", &cfg).unwrap();
        let rec = ["María José", "Gutiérrez Hernández", "1990-05-14", "F", "HN"];
        assert_eq!(enc(&a, rec), enc(&b, rec));
        assert!(enc(&a, rec).dice(&enc(&c, rec)) < 0.6);
        // Accents and case are folded.
        let plain = ["MARIA JOSE", "GUTIERREZ HERNANDEZ", "14/05/1990", "mujer", "hn"];
        assert_eq!(enc(&a, rec), enc(&a, plain));
    }

    #[test]
    fn similar_names_score_higher_than_different_ones() {
        for h in [Hardening::None, Hardening::Balance, Hardening::XorFold] {
            let e = Encoder::new(SECRET, &schema(h)).unwrap();
            let x = enc(&e, ["María José", "Gutiérrez Hernández", "1990-05-14", "F", "HN"]);
            let typo = enc(&e, ["Maria", "Gutierres Hernandez", "1990-05-14", "F", "HN"]);
            let other = enc(&e, ["Pedro", "Ramírez Soto", "1984-11-02", "M", "GT"]);
            assert!(x.dice(&typo) > 0.75, "{h:?}: {}", x.dice(&typo));
            assert!(x.dice(&other) < x.dice(&typo) - 0.2, "{h:?}: {} {}", x.dice(&other), x.dice(&typo));
            assert_eq!(x.len_bits(), 1024);
        }
    }

    #[test]
    fn fill_stays_below_half_and_balancing_is_exact() {
        let e = Encoder::new(SECRET, &schema(Hardening::None)).unwrap();
        let long = enc(&e, ["María Guadalupe", "Gutiérrez Hernández", "1990-05-14", "F", "HN"]);
        assert!(long.fill() > 0.25 && long.fill() < 0.5, "fill {}", long.fill());
        let e = Encoder::new(SECRET, &schema(Hardening::Balance)).unwrap();
        let f = enc(&e, ["Ana", "Paz", "", "", ""]);
        assert_eq!(f.count_ones(), 512);
        let e = Encoder::new(SECRET, &schema(Hardening::XorFold)).unwrap();
        let f = enc(&e, ["María Guadalupe", "Gutiérrez Hernández", "1990-05-14", "F", "HN"]);
        assert!(f.fill() < 0.5, "xor-fold fill {}", f.fill());
    }

    #[test]
    fn fields_have_separate_keys() {
        let cfg = EncoderConfig {
            bits: 1024,
            fields: vec![
                FieldSpec { role: Role::Text, hashes: None },
                FieldSpec { role: Role::Text, hashes: None },
            ],
            hardening: Hardening::None,
        };
        let e = Encoder::new(SECRET, &cfg).unwrap();
        let first = enc2(&e, ["lima", ""]);
        let second = enc2(&e, ["", "lima"]);
        assert!(first.count_ones() > 0 && second.count_ones() > 0);
        assert!(first.dice(&second) < 0.5, "{}", first.dice(&second));
    }

    fn enc2(e: &Encoder, v: [&str; 2]) -> BloomFilter {
        e.encode(&v).unwrap().filter
    }

    #[test]
    fn bad_configurations_are_refused() {
        let mut cfg = schema(Hardening::None);
        assert!(matches!(Encoder::new(b"", &cfg), Err(PprlError::EmptySecret)));
        assert!(matches!(Encoder::new(b"short", &cfg), Err(PprlError::ShortSecret { len: 5 })));
        cfg.bits = 1000;
        assert!(matches!(Encoder::new(SECRET, &cfg), Err(PprlError::BadBits { bits: 1000, .. })));
        cfg.bits = 64;
        cfg.hardening = Hardening::Balance;
        assert!(matches!(Encoder::new(SECRET, &cfg), Err(PprlError::BadBits { bits: 64, unit: 128 })));
        cfg.hardening = Hardening::None;
        cfg.fields[0].hashes = Some(0);
        assert!(matches!(Encoder::new(SECRET, &cfg), Err(PprlError::BadHashes { .. })));
        cfg.fields.clear();
        assert!(matches!(Encoder::new(SECRET, &cfg), Err(PprlError::NoFields)));
        let e = Encoder::new(SECRET, &schema(Hardening::None)).unwrap();
        assert!(matches!(e.encode(&["x"]), Err(PprlError::FieldCount { expected: 5, found: 1 })));
        let out = e.encode(&["Ana", "Paz", "someday", "", ""]).unwrap();
        assert_eq!(out.unreadable, 1);
        assert!(!format!("{e:?}").contains("secret"));
    }
}
