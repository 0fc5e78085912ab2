//! Records prepared for comparison: names as interned word ids with their phonetic keys.
//!
//! Comparing two records then costs integer comparisons, plus a Jaro–Winkler on short words
//! only where the ids differ.

use std::collections::HashMap;

use crate::fold::fold;
use crate::names::{given_words, surname_words};
use crate::person::{AttributeKind, Birth, Person, Schema};
use crate::phonetic::phonetic_key;
use crate::rng::hash_bytes;

/// Marks a missing attribute value.
pub(crate) const NONE: u32 = u32::MAX;
/// At most this many given-name words and surname words are kept per person.
pub(crate) const MAX_WORDS: usize = 4;

/// Read access to interned words.
pub(crate) trait Words {
    /// The folded text of a word id.
    fn text(&self, id: u32) -> &str;
    /// The phonetic key id of a word id.
    fn phon(&self, id: u32) -> u32;
}

/// Interns words (folded names and attribute values) and their phonetic keys.
#[derive(Debug, Default, Clone)]
pub(crate) struct Vocab {
    ids: HashMap<Box<str>, u32>,
    texts: Vec<Box<str>>,
    phons: Vec<u32>,
    phon_ids: HashMap<Box<str>, u32>,
}

impl Vocab {
    /// The id of a word, adding it when new.
    pub(crate) fn intern(&mut self, w: &str) -> u32 {
        if let Some(&id) = self.ids.get(w) {
            return id;
        }
        let key = phonetic_key(w);
        let next = self.phon_ids.len() as u32;
        let phon = *self.phon_ids.entry(key.into_boxed_str()).or_insert(next);
        let id = self.texts.len() as u32;
        self.texts.push(w.into());
        self.phons.push(phon);
        self.ids.insert(w.into(), id);
        id
    }
}

impl Words for Vocab {
    fn text(&self, id: u32) -> &str {
        &self.texts[id as usize]
    }
    fn phon(&self, id: u32) -> u32 {
        self.phons[id as usize]
    }
}

/// A read-only view of a [`Vocab`] plus the words of one query that it does not hold: used to
/// look a new person up in an index without changing it.
pub(crate) struct Overlay<'a> {
    base: &'a Vocab,
    texts: Vec<Box<str>>,
    phons: Vec<u32>,
    new_phons: Vec<Box<str>>,
}

impl<'a> Overlay<'a> {
    pub(crate) fn new(base: &'a Vocab) -> Self {
        Overlay { base, texts: Vec::new(), phons: Vec::new(), new_phons: Vec::new() }
    }
}

impl Words for Overlay<'_> {
    fn text(&self, id: u32) -> &str {
        let n = self.base.texts.len();
        if (id as usize) < n { self.base.text(id) } else { &self.texts[id as usize - n] }
    }
    fn phon(&self, id: u32) -> u32 {
        let n = self.base.texts.len();
        if (id as usize) < n { self.base.phon(id) } else { self.phons[id as usize - n] }
    }
}

/// Something that gives ids to words.
pub(crate) trait Interner: Words {
    fn id(&mut self, w: &str) -> u32;
}

impl Interner for Vocab {
    fn id(&mut self, w: &str) -> u32 {
        self.intern(w)
    }
}

impl Interner for Overlay<'_> {
    fn id(&mut self, w: &str) -> u32 {
        if let Some(&id) = self.base.ids.get(w) {
            return id;
        }
        let n = self.base.texts.len();
        if let Some(i) = self.texts.iter().position(|t| &**t == w) {
            return (n + i) as u32;
        }
        let key = phonetic_key(w);
        let phon = match self.base.phon_ids.get(key.as_str()) {
            Some(&p) => p,
            None => {
                let i = match self.new_phons.iter().position(|p| **p == *key) {
                    Some(i) => i,
                    None => {
                        self.new_phons.push(key.into_boxed_str());
                        self.new_phons.len() - 1
                    }
                };
                (self.base.phon_ids.len() + i) as u32
            }
        };
        self.texts.push(w.into());
        self.phons.push(phon);
        (n + self.texts.len() - 1) as u32
    }
}

/// Up to [`MAX_WORDS`] word ids.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct WordList {
    ids: [u32; MAX_WORDS],
    len: u8,
}

impl WordList {
    fn from_words<I: Interner>(ws: &[String], interner: &mut I) -> Self {
        let mut l = WordList::default();
        for w in ws.iter().take(MAX_WORDS) {
            l.ids[l.len as usize] = interner.id(w);
            l.len += 1;
        }
        l
    }
    pub(crate) fn as_slice(&self) -> &[u32] {
        &self.ids[..self.len as usize]
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// A hash of the whole list (for term frequencies), or `None` when empty.
    pub(crate) fn hash(&self) -> Option<u64> {
        (!self.is_empty()).then(|| {
            let bytes: Vec<u8> = self.as_slice().iter().flat_map(|i| i.to_le_bytes()).collect();
            hash_bytes(7, &bytes)
        })
    }
}

/// A person ready for comparison.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub(crate) given: WordList,
    pub(crate) surnames: WordList,
    pub(crate) birth: Birth,
    /// One interned value per schema attribute ([`NONE`]: missing).
    pub(crate) attrs: Box<[u32]>,
}

/// Folds an attribute value for its kind; empty means missing.
pub(crate) fn attribute_text(kind: AttributeKind, v: &str) -> String {
    match kind {
        AttributeKind::Document => {
            v.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_uppercase()).collect()
        }
        AttributeKind::Exact | AttributeKind::Text => fold(v),
    }
}

/// Prepares a person for comparison under a schema (attributes beyond the schema's are ignored,
/// missing ones are missing).
pub(crate) fn prepare<I: Interner>(p: &Person, schema: &Schema, interner: &mut I) -> Prepared {
    let given = WordList::from_words(&given_words(&p.given_names), interner);
    let surnames = WordList::from_words(&surname_words(&p.surnames), interner);
    let attrs = schema
        .attributes
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let v = p.attributes.get(i).and_then(|v| v.as_deref()).unwrap_or("");
            let t = attribute_text(a.kind, v);
            if t.is_empty() { NONE } else { interner.id(&t) }
        })
        .collect();
    Prepared { given, surnames, birth: p.birth, attrs }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_matches_vocab_ids_and_phonetics() {
        let mut v = Vocab::default();
        let a = v.intern("hernandez");
        let b = v.intern("jimenez");
        let mut o = Overlay::new(&v);
        assert_eq!(o.id("hernandez"), a);
        let e = o.id("ernandez");
        assert!(e > b);
        assert_eq!(o.phon(e), v.phon(a), "same phonetic key id as the known word");
        let g = o.id("gomez");
        assert_ne!(o.phon(g), v.phon(a));
        assert_ne!(o.phon(g), v.phon(b));
        assert_eq!(o.id("gomez"), g);
        assert_eq!(o.text(g), "gomez");
    }
}
