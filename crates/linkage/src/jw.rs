//! Jaro–Winkler similarity on bytes (names are folded to ASCII before comparing).

/// The Jaro–Winkler similarity of two strings, in `0.0..=1.0` (1.0: equal). Two empty strings
/// are equal; an empty and a non-empty one are not similar at all.
pub fn jaro_winkler(a: &str, b: &str) -> f64 {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let j = jaro(a, b);
    let prefix = a.iter().zip(b).take(4).take_while(|(x, y)| x == y).count();
    j + prefix as f64 * 0.1 * (1.0 - j)
}

fn jaro(a: &[u8], b: &[u8]) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    if a == b {
        return 1.0;
    }
    // A fixed order (shorter first, then bytewise) makes the greedy matching symmetric.
    let (a, b) = if (a.len(), a) <= (b.len(), b) { (a, b) } else { (b, a) };
    let window = (b.len() / 2).saturating_sub(1);
    // Short strings (all names) use the stack; longer texts fall back to the heap.
    let mut a_small = [false; 64];
    let mut b_small = [false; 64];
    let mut a_big;
    let mut b_big;
    let (a_flags, b_flags): (&mut [bool], &mut [bool]) = if b.len() <= 64 {
        (&mut a_small[..a.len()], &mut b_small[..b.len()])
    } else {
        a_big = vec![false; a.len()];
        b_big = vec![false; b.len()];
        (&mut a_big[..], &mut b_big[..])
    };
    let mut matches = 0usize;
    for (i, &ca) in a.iter().enumerate() {
        let lo = i.saturating_sub(window);
        let hi = (i + window + 1).min(b.len());
        for j in lo..hi {
            if !b_flags[j] && b[j] == ca {
                a_flags[i] = true;
                b_flags[j] = true;
                matches += 1;
                break;
            }
        }
    }
    if matches == 0 {
        return 0.0;
    }
    let mut transpositions = 0usize;
    let mut k = 0usize;
    for (i, &ca) in a.iter().enumerate() {
        if a_flags[i] {
            while !b_flags[k] {
                k += 1;
            }
            if ca != b[k] {
                transpositions += 1;
            }
            k += 1;
        }
    }
    let m = matches as f64;
    (m / a.len() as f64 + m / b.len() as f64 + (m - (transpositions / 2) as f64) / m) / 3.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert!((jaro_winkler("martha", "marhta") - 0.9611).abs() < 1e-3);
        assert!((jaro_winkler("dixon", "dicksonx") - 0.8133).abs() < 1e-3);
        assert_eq!(jaro_winkler("gutierrez", "gutierrez"), 1.0);
        assert_eq!(jaro_winkler("", "abc"), 0.0);
        assert_eq!(jaro_winkler("abc", "xyz"), 0.0);
    }

    #[test]
    fn symmetric_and_bounded() {
        let mut rng = crate::rng::Rng::new(3);
        for _ in 0..3000 {
            let mk = |rng: &mut crate::rng::Rng| -> String {
                let n = rng.below(90) as usize;
                (0..n).map(|_| (b'a' + rng.below(6) as u8) as char).collect()
            };
            let (a, b) = (mk(&mut rng), mk(&mut rng));
            let x = jaro_winkler(&a, &b);
            assert!((0.0..=1.0 + 1e-12).contains(&x), "{a} {b} {x}");
            assert!((x - jaro_winkler(&b, &a)).abs() < 1e-9, "{a} {b}");
            assert_eq!(jaro_winkler(&a, &a), 1.0);
        }
    }
}
