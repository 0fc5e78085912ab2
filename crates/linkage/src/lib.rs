//! Person linkage for Enlace: finding the same person under different spellings.
//!
//! Pure code: no I/O, no clock, no database. The pieces, in the order data flows through them:
//!
//! - [`fold`], [`names`]: accent folding and the normalisation of Latin American names
//!   (particles, compound surnames, abbreviations, full-name splitting);
//! - [`phonetic`]: a Spanish phonetic key;
//! - [`person`]: the input ([`Person`], [`Birth`], [`Schema`]);
//! - [`compare`]: comparison levels per field;
//! - [`blocking`]: candidate pairs from a union of blocking passes, each with a block size cap;
//! - [`model`]: the Fellegi–Sunter model (training, JSON, scores explained field by field,
//!   bands);
//! - [`link`]: deduplication and linkage of whole sets, and evaluation against a known truth;
//! - [`index`]: an index of persons that answers candidates for one new person;
//! - [`stored`]: the same for persons kept in a database: stable blocking keys, and scoring;
//! - [`generate`]: a seeded generator of person records with realistic errors and known links.
//!
//! Nothing here merges records: the engine proposes pairs in bands and people decide.

pub mod blocking;
pub mod compare;
pub mod data;
pub mod fold;
pub mod generate;
pub mod index;
pub mod jw;
pub mod link;
pub mod model;
pub mod names;
mod par;
pub mod person;
pub mod phonetic;
mod prepare;
pub mod rng;
pub mod stored;

pub use index::{Candidate, Index};
pub use model::{Band, Bands, Explanation, FieldScore, Model, TrainOptions};
pub use person::{Attribute, AttributeKind, Birth, Date, Person, Schema};
pub use stored::{KeyMaker, Scorer};
