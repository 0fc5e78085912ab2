//! A phonetic key for Spanish names.
//!
//! Soundex keeps the first letter, so Jiménez / Giménez / Ximénez and Hernández / Ernandez end up
//! apart; Double Metaphone misses Hernández / Ernandez. This key follows Spanish spelling instead:
//!
//! - `x` → `j`, `g` before `e`/`i` → `j` (Ximénez, Giménez, Jiménez);
//! - `h` is silent (Hernández, Ernandez) except in `ch`, which stays its own sound;
//! - `ll` → `y` (Yolanda, Llolanda), and `y` not before a vowel is the vowel `i`;
//! - `qu`, `k` and hard `c` → `k`; `c` before `e`/`i` and `z` → `s` (Vázquez, Vásquez);
//! - `v` and `w` → `b` (Basquez); `ph` → `f`; the silent `u` of `gue`/`gui` is dropped;
//! - repeated sounds collapse (`rr`, `ss`, `nn`), and vowels after the first sound are dropped.
//!
//! `f` is never folded into anything, so Hernández (`ernds`) and Fernández (`frnds`) stay apart.

/// The phonetic key of one folded word (lower-case ASCII, as [`crate::fold::fold`] gives).
/// Characters other than ASCII letters are ignored. An empty word gives an empty key.
pub fn phonetic_key(word: &str) -> String {
    let b: Vec<u8> = word.bytes().filter(u8::is_ascii_alphabetic).map(|c| c.to_ascii_lowercase()).collect();
    let is_vowel = |c: Option<&u8>| matches!(c, Some(b'a' | b'e' | b'i' | b'o' | b'u'));
    let front = |c: Option<&u8>| matches!(c, Some(b'e' | b'i' | b'y'));
    let mut sounds: Vec<u8> = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let next = b.get(i + 1);
        let sound = match b[i] {
            b'h' => None,
            b'c' if next == Some(&b'h') => {
                i += 1;
                Some(b'C')
            }
            b'c' if front(next) => Some(b's'),
            b'c' | b'k' => Some(b'k'),
            b'q' => {
                if next == Some(&b'u') {
                    i += 1;
                }
                Some(b'k')
            }
            b'z' | b's' => Some(b's'),
            b'x' | b'j' => Some(b'j'),
            b'g' if front(next) => Some(b'j'),
            b'g' if next == Some(&b'u') && front(b.get(i + 2)) => {
                i += 1;
                Some(b'g')
            }
            b'v' | b'w' | b'b' => Some(b'b'),
            b'l' if next == Some(&b'l') => {
                i += 1;
                Some(b'y')
            }
            b'y' if is_vowel(next) => Some(b'y'),
            b'y' => Some(b'i'),
            b'p' if next == Some(&b'h') => {
                i += 1;
                Some(b'f')
            }
            c => Some(c),
        };
        if let Some(s) = sound {
            sounds.push(s);
        }
        i += 1;
    }
    let mut key = String::with_capacity(sounds.len());
    let mut last: Option<u8> = None;
    for (n, s) in sounds.into_iter().enumerate() {
        let vowel = matches!(s, b'a' | b'e' | b'i' | b'o' | b'u');
        if n > 0 && vowel {
            continue;
        }
        if last == Some(s) {
            continue;
        }
        key.push(s as char);
        last = Some(s);
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fold::fold;

    fn key(s: &str) -> String {
        phonetic_key(&fold(s))
    }

    fn same(group: &[&str]) {
        let k = key(group[0]);
        for w in group {
            assert_eq!(key(w), k, "{w} vs {}", group[0]);
        }
    }

    #[test]
    fn groups_real_variants() {
        same(&["Jiménez", "Giménez", "Ximénez", "Jimenes", "JIMENEZ"]);
        same(&["Hernández", "Ernandez", "Hernandes", "HERNANDEZ"]);
        same(&["Gutiérrez", "Gutierres", "Gutierez"]);
        same(&["Vásquez", "Vázquez", "Basquez", "Vasques"]);
        same(&["Velásquez", "Velázquez", "Belasquez"]);
        same(&["Yolanda", "Llolanda"]);
        same(&["Cecilia", "Sesilia", "Cesilia"]);
        same(&["Enrique", "Enrrique", "Henrique"]);
        same(&["Xóchitl", "Jochitl"]);
        same(&["Guillermo", "Guiyermo"]);
        same(&["Isabel", "Ysabel", "Izabel", "Isavel"]);
        same(&["Sánchez", "Sanches", "Zanchez"]);
        same(&["Villalobos", "Villalovos", "Biyalobos"]);
        same(&["Kevin", "Kebin", "Quevin"]);
        same(&["Jorge", "Jorje"]);
        same(&["Rodríguez", "Rodrigues", "Rodriguez"]);
    }

    #[test]
    fn keeps_different_names_apart() {
        let apart = [
            ("Hernández", "Fernández"),
            ("Gómez", "López"),
            ("Pérez", "Ramírez"),
            ("Martínez", "Martín"),
            ("Ana", "Anabel"),
            ("Mario", "Marcos"),
            ("Carlos", "Marcos"),
            ("Chávez", "Sánchez"),
        ];
        for (a, b) in apart {
            assert_ne!(key(a), key(b), "{a} and {b} must differ");
        }
        assert_eq!(key("Hernández"), "ernds");
        assert_eq!(key("Fernández"), "frnds");
    }

    #[test]
    fn is_short_and_stable() {
        let mut rng = crate::rng::Rng::new(11);
        for _ in 0..3000 {
            let n = rng.below(15) as usize;
            let w: String = (0..n).map(|_| (b'a' + rng.below(26) as u8) as char).collect();
            let k = phonetic_key(&w);
            assert!(k.len() <= w.len(), "{w} → {k}");
            assert_eq!(k.is_empty(), w.is_empty() || w.chars().all(|c| c == 'h'), "{w} → {k}");
            assert!(!k.as_bytes().windows(2).any(|p| p[0] == p[1]), "repeat in {w} → {k}");
            assert_eq!(phonetic_key(&w.to_uppercase()), k);
        }
    }
}
