//! Accent and case folding for comparison. The original text is never changed: callers keep it
//! and compare the folded form.

/// Folds one character to lower-case ASCII where it is a Latin letter with a diacritic
/// ("É" → 'e', "ñ" → 'n', "ª" → 'a'). Returns `None` for characters that separate words.
fn fold_char(c: char) -> Option<char> {
    if c.is_ascii_alphanumeric() {
        return Some(c.to_ascii_lowercase());
    }
    let lower = c.to_lowercase().next().unwrap_or(c);
    let f = match lower {
        'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' | 'ª' | 'æ' => 'a',
        'é' | 'è' | 'ê' | 'ë' => 'e',
        'í' | 'ì' | 'î' | 'ï' => 'i',
        'ó' | 'ò' | 'ô' | 'ö' | 'õ' | 'ø' | 'º' => 'o',
        'ú' | 'ù' | 'û' | 'ü' => 'u',
        'ñ' => 'n',
        'ç' => 'c',
        'ý' | 'ÿ' => 'y',
        'ß' => 's',
        c if c.is_alphanumeric() => c,
        _ => return None,
    };
    Some(f)
}

/// Folds accents and case and turns everything that is not a letter or digit into one space:
/// `"GUTIÉRREZ-Hernández"` → `"gutierrez hernandez"`. Apostrophes join (`"D'Ávila"` → `"davila"`).
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for c in s.chars() {
        if matches!(c, '\'' | '’' | '`' | '´') {
            continue;
        }
        match fold_char(c) {
            Some(f) => {
                if pending_space && !out.is_empty() {
                    out.push(' ');
                }
                pending_space = false;
                out.push(f);
            }
            None => pending_space = true,
        }
    }
    out
}

/// The folded words of a text.
pub fn words(s: &str) -> Vec<String> {
    fold(s).split(' ').filter(|w| !w.is_empty()).map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_accents_case_and_punctuation() {
        assert_eq!(fold("GUTIÉRREZ  Hernández"), "gutierrez hernandez");
        assert_eq!(fold("Peña-Nieto"), "pena nieto");
        assert_eq!(fold("  Mª. José "), "ma jose");
        assert_eq!(fold("D'Ávila"), "davila");
        assert_eq!(fold("Müller Çelik"), "muller celik");
        assert_eq!(fold(""), "");
        assert_eq!(fold("--"), "");
    }

    #[test]
    fn folding_is_idempotent_and_never_grows_words() {
        let mut rng = crate::rng::Rng::new(7);
        let alphabet: Vec<char> = "aáeéiíoóuúüñnÑÁ -.'bcdxyzLLQ".chars().collect();
        for _ in 0..2000 {
            let len = rng.below(20) as usize;
            let s: String = (0..len).map(|_| alphabet[rng.below(alphabet.len() as u64) as usize]).collect();
            let f = fold(&s);
            assert_eq!(fold(&f), f, "{s:?}");
            assert!(!f.starts_with(' ') && !f.ends_with(' ') && !f.contains("  "), "{s:?} → {f:?}");
            assert!(f.chars().all(|c| c == ' ' || c.is_ascii_lowercase()), "{s:?} → {f:?}");
        }
    }
}
