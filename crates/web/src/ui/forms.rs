//! Submitted forms (`application/x-www-form-urlencoded`), read whole and checked before any
//! field is looked at, and the field errors shown beside the inputs.

use axum::extract::Request;
use axum::http::header;
use http_body_util::BodyExt;

/// Largest form accepted (a case's narrative is at most a few thousand characters).
pub const FORM_LIMIT: usize = 256 * 1024;

/// The fields of a submitted form, in order (a name may repeat: checkboxes, multi-selects).
#[derive(Debug, Clone, Default)]
pub struct FormData(pub Vec<(String, String)>);

impl FormData {
    /// Reads a form body; the error names what is wrong with it.
    pub async fn from_request(req: Request) -> Result<FormData, String> {
        let ct = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let mime = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        if mime != "application/x-www-form-urlencoded" {
            return Err(format!("expected a form (application/x-www-form-urlencoded), got \"{mime}\""));
        }
        let limited = http_body_util::Limited::new(req.into_body(), FORM_LIMIT);
        let bytes = match limited.collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => return Err(format!("the form is larger than {FORM_LIMIT} bytes")),
        };
        Self::parse(&bytes)
    }

    /// Parses a urlencoded body, refusing bytes that are not UTF-8 once decoded.
    pub fn parse(bytes: &[u8]) -> Result<FormData, String> {
        let mut out = Vec::new();
        for pair in bytes.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
            let (k, v) = match pair.iter().position(|b| *b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &b""[..]),
            };
            let k = decode(k)?;
            let v = decode(v)?;
            out.push((k, v));
        }
        Ok(FormData(out))
    }

    /// The first value of a field, trimmed; `None` when absent or blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim()).filter(|v| !v.is_empty())
    }

    /// Every non-blank value of a field.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.trim()).filter(|v| !v.is_empty()).collect()
    }

    /// A checkbox: present and not "false".
    pub fn checked(&self, name: &str) -> bool {
        self.get(name).is_some_and(|v| v != "false" && v != "0")
    }

    /// The value to show again in an input after a failed submission.
    pub fn value(&self, name: &str) -> String {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default()
    }

    pub fn has(&self, name: &str, value: &str) -> bool {
        self.0.iter().any(|(k, v)| k == name && v == value)
    }
}

fn decode(raw: &[u8]) -> Result<String, String> {
    let mut bytes = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => bytes.push(b' '),
            b'%' if i + 2 < raw.len() => {
                let hex =
                    std::str::from_utf8(&raw[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        bytes.push(b);
                        i += 2;
                    }
                    None => bytes.push(b'%'),
                }
            }
            b => bytes.push(b),
        }
        i += 1;
    }
    String::from_utf8(bytes)
        .map_err(|e| format!("the form is not valid UTF-8 (at byte {})", e.utf8_error().valid_up_to()))
}

/// Errors of a form, by field name (the input's `name`), each already in the user's language.
#[derive(Debug, Clone, Default)]
pub struct FieldErrors(pub Vec<(String, String)>);

impl FieldErrors {
    pub fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push((field.into(), message.into()));
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// The message for one input, or empty.
    pub fn of(&self, field: &str) -> String {
        self.0.iter().filter(|(f, _)| f == field).map(|(_, m)| m.as_str()).collect::<Vec<_>>().join("; ")
    }
    pub fn has(&self, field: &str) -> bool {
        self.0.iter().any(|(f, _)| f == field)
    }
    /// The same errors under `prefix` + field (one of several forms on a page).
    pub fn renamed(self, prefix: &str) -> FieldErrors {
        FieldErrors(self.0.into_iter().map(|(f, m)| (format!("{prefix}{f}"), m)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_repeated_fields_and_escapes() {
        let f = FormData::parse(b"a=1&v=x&v=y&name=Mar%C3%ADa+Jos%C3%A9&empty=&bad=%zz").unwrap();
        assert_eq!(f.get("a"), Some("1"));
        assert_eq!(f.all("v"), vec!["x", "y"]);
        assert_eq!(f.get("name"), Some("María José"));
        assert_eq!(f.get("empty"), None);
        assert_eq!(f.get("bad"), Some("%zz"));
    }

    #[test]
    fn refuses_invalid_utf8() {
        assert!(FormData::parse(b"name=%FF%FE").unwrap_err().contains("UTF-8"));
        assert!(FormData::parse(b"x=%C3").is_err());
    }
}
