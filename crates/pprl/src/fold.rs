//! Minimal text folding applied before q-gramming: the same on both sides of a linkage.

use unicode_normalization::{UnicodeNormalization, char::is_combining_mark};

/// Folds case and accents, turns everything that is not a letter or digit into a space and
/// collapses runs of spaces: `"  María-José  GUTIÉRREZ "` gives `"maria jose gutierrez"`.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for c in s.nfd().filter(|c| !is_combining_mark(*c)) {
        if c.is_alphanumeric() {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.extend(c.to_lowercase());
        } else {
            pending_space = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::fold;

    #[test]
    fn folds_accents_case_and_spaces() {
        assert_eq!(fold("  María-José  GUTIÉRREZ "), "maria jose gutierrez");
        assert_eq!(fold("PEÑA"), "pena");
        assert_eq!(fold("Ma. José"), "ma jose");
        assert_eq!(fold(""), "");
        assert_eq!(fold(" -- "), "");
    }
}
