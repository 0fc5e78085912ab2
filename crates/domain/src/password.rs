//! Password policy: long enough, not a common password, not the user name.
//!
//! The embedded list (`data/common-passwords.txt`) holds the entries of 10 characters or more of
//! the 20,000 most common passwords of public breach corpora (as published, BSD-licensed, with
//! the Django project), plus a few Spanish, French and regional ones; shorter ones are refused
//! by the length rule anyway.

use std::collections::HashSet;
use std::sync::OnceLock;

pub const MIN_PASSWORD_LEN: usize = 10;
pub const MAX_PASSWORD_BYTES: usize = 1024;

fn common() -> &'static HashSet<&'static str> {
    static LIST: OnceLock<HashSet<&'static str>> = OnceLock::new();
    LIST.get_or_init(|| {
        include_str!("../data/common-passwords.txt").lines().filter(|l| !l.is_empty()).collect()
    })
}

/// Why `password` may not be used by `username`, if it may not.
pub fn password_problem(password: &str, username: &str) -> Option<String> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_LEN {
        return Some(format!("must be at least {MIN_PASSWORD_LEN} characters"));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Some(format!("is longer than {MAX_PASSWORD_BYTES} bytes"));
    }
    let lower = password.to_lowercase();
    if common().contains(lower.as_str()) {
        return Some("is one of the most common passwords; choose another".into());
    }
    let distinct: HashSet<char> = lower.chars().collect();
    if distinct.len() < 4 {
        return Some("uses too few different characters".into());
    }
    let user = username.trim().to_lowercase();
    if user.len() >= 3 && lower.contains(&user) {
        return Some("must not contain the user name".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_passwords_are_refused_with_a_reason() {
        assert!(password_problem("corto", "ana").unwrap().contains("at least 10"));
        assert!(password_problem("1q2w3e4r5t", "ana").unwrap().contains("common"));
        assert!(password_problem("Basketball", "ana").unwrap().contains("common"), "case-insensitive");
        assert!(password_problem("contraseña123", "ana").unwrap().contains("common"));
        assert!(password_problem("aaaaaaaaaaaa", "ana").unwrap().contains("different"));
        assert!(password_problem("ana.lopez-2026!", "ana.lopez").unwrap().contains("user name"));
        assert!(password_problem(&"x".repeat(2000), "ana").is_some());
        assert_eq!(password_problem("una clave de prueba", "ana.lopez"), None);
        assert_eq!(password_problem("enlace-demo-2016", "sup.hn"), None);
        assert!(common().len() > 1500);
    }
}
