//! Text normalisation for search: accent- and case-insensitive, the same on every backend.

use unicode_normalization::{UnicodeNormalization, char::is_combining_mark};

/// Folds accents and case: "GUTIÉRREZ" and "gutierrez" give "gutierrez"; "Ñ" gives "n".
/// Punctuation becomes a space; runs of spaces collapse.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut last_space = true;
    for c in s.nfd().filter(|c| !is_combining_mark(*c)) {
        let c = match c {
            'ß' => 's',
            'æ' | 'Æ' => 'a',
            'ø' | 'Ø' => 'o',
            'đ' | 'Đ' => 'd',
            'ł' | 'Ł' => 'l',
            c => c,
        };
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
            last_space = false;
        } else if !last_space {
            out.push(' ');
            last_space = true;
        }
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

/// The search tokens of a text: folded words, de-duplicated, in first-seen order.
pub fn tokens(s: &str) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for t in fold(s).split(' ').filter(|t| !t.is_empty()) {
        if !v.iter().any(|x| x == t) {
            v.push(t.to_string());
        }
    }
    v
}

/// Checks a free-text value: no control characters other than newline and tab,
/// at most `max` characters. Returns it trimmed.
pub fn clean_text(s: &str, max: usize) -> Result<String, String> {
    let t = s.trim();
    if t.chars().count() > max {
        return Err(format!("is longer than {max} characters"));
    }
    if t.chars().any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r') {
        return Err("contains control characters".into());
    }
    Ok(t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_accents_and_case() {
        assert_eq!(fold("GUTIÉRREZ"), "gutierrez");
        assert_eq!(fold("María José  Núñez-Peña"), "maria jose nunez pena");
        assert_eq!(fold("  Ça va? "), "ca va");
        assert_eq!(fold("K'iche'"), "k iche");
    }

    #[test]
    fn tokens_dedupe() {
        assert_eq!(tokens("de la Cruz de León"), ["de", "la", "cruz", "leon"]);
    }

    #[test]
    fn clean_text_limits() {
        assert_eq!(clean_text(" a ", 5).unwrap(), "a");
        assert!(clean_text("abcdef", 5).is_err());
        assert!(clean_text("a\u{0}b", 5).is_err());
        assert!(clean_text("a\nb", 5).is_ok());
    }
}
