//! Compact JWS (RFC 7515) signed with EdDSA over Ed25519 (RFC 8037).
//!
//! Written directly on `ed25519-dalek`, `base64` and `serde_json` rather than with a JOSE
//! library: the network uses exactly one algorithm and one serialisation, and about a hundred
//! lines that accept nothing else leave no room for the classic JOSE mistakes (`alg: none`,
//! algorithm confusion, a key taken from the message's own `jwk`/`jku` header). The test
//! against RFC 8037 appendix A.4 shows the output is what any conforming verifier expects.
//!
//! Refused: any `alg` but `EdDSA`, any `crit` parameter (we understand no extension, and
//! RFC 7515 §4.1.11 says to refuse what is not understood), not exactly three segments,
//! segments that are not canonical base64url without padding, a header that is not a UTF-8
//! JSON object or repeats a name, and a signature that does not verify (strict Ed25519).
//! (RFC 9864 later named the same algorithm `Ed25519`; `EdDSA` is what RFC 8037 specifies.)

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::keys::{SigningKey, VerifyingKey};

/// The only `alg` signed and accepted.
pub const ALG: &str = "EdDSA";

/// The largest compact JWS accepted (4 MiB): a bound on work before the signature is checked.
pub const MAX_COMPACT_LEN: usize = 4 * 1024 * 1024;

/// A JWS protected header: a JSON object.
pub type Header = Map<String, Value>;

/// One of the three parts of a compact JWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Header,
    Payload,
    Signature,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Part::Header => "protected header",
            Part::Payload => "payload",
            Part::Signature => "signature",
        })
    }
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum JwsError {
    #[error("the message is larger than {MAX_COMPACT_LEN} bytes")]
    TooLarge,
    #[error("a compact JWS has 3 parts separated by dots, this one has {0}")]
    Segments(usize),
    #[error("the {0} is not base64url without padding")]
    NotBase64Url(Part),
    #[error("the protected header is not a JSON object: {0}")]
    HeaderNotJson(String),
    #[error("the protected header has no \"alg\"")]
    MissingAlg,
    #[error("the algorithm {0} is not accepted: only \"EdDSA\" is")]
    UnsupportedAlg(String),
    #[error("the protected header has \"crit\": no JWS extension is understood here")]
    Crit,
    #[error("an Ed25519 signature is 64 bytes, this one is {0}")]
    SignatureLength(usize),
    #[error("the signature does not match the header and payload under the signer's key")]
    BadSignature,
}

/// Signs `payload` with `header_fields` as the protected header, to which `"alg":"EdDSA"` is
/// added (replacing any `alg` given). Returns `header.payload.signature`, each in base64url.
pub fn sign(header_fields: &Header, payload: &[u8], key: &SigningKey) -> String {
    let mut header = header_fields.clone();
    header.insert("alg".into(), Value::from(ALG));
    let header_json = serde_json::to_vec(&header).expect("a JSON map always serialises");
    let mut out = URL_SAFE_NO_PAD.encode(header_json);
    out.push('.');
    URL_SAFE_NO_PAD.encode_string(payload, &mut out);
    let signature = key.sign(out.as_bytes());
    out.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut out);
    out
}

/// A compact JWS whose structure and header were checked, but not yet its signature.
#[derive(Debug, Clone)]
pub struct Unverified<'a> {
    header: Header,
    payload: Vec<u8>,
    signature: [u8; 64],
    signing_input: &'a str,
}

impl<'a> Unverified<'a> {
    /// Decodes `compact` and checks everything but the signature.
    pub fn decode(compact: &'a str) -> Result<Self, JwsError> {
        if compact.len() > MAX_COMPACT_LEN {
            return Err(JwsError::TooLarge);
        }
        let parts: Vec<&str> = compact.split('.').collect();
        let &[h, p, s] = parts.as_slice() else {
            return Err(JwsError::Segments(parts.len()));
        };
        let b64 = |text: &str, part| URL_SAFE_NO_PAD.decode(text).map_err(|_| JwsError::NotBase64Url(part));
        let header_bytes = b64(h, Part::Header)?;
        let payload = b64(p, Part::Payload)?;
        let sig = b64(s, Part::Signature)?;
        let signature: [u8; 64] =
            sig.as_slice().try_into().map_err(|_| JwsError::SignatureLength(sig.len()))?;
        let header = crate::json::parse_object(&header_bytes).map_err(JwsError::HeaderNotJson)?;
        match header.get("alg") {
            None => return Err(JwsError::MissingAlg),
            Some(Value::String(a)) if a == ALG => {}
            Some(other) => return Err(JwsError::UnsupportedAlg(other.to_string())),
        }
        if header.contains_key("crit") {
            return Err(JwsError::Crit);
        }
        Ok(Unverified { header, payload, signature, signing_input: &compact[..h.len() + 1 + p.len()] })
    }

    /// The protected header, not yet authenticated: use it only to find the key.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The payload bytes, not yet authenticated.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// Checks the signature with `key`; on success gives the header and the payload.
    pub fn verify(self, key: &VerifyingKey) -> Result<(Header, Vec<u8>), JwsError> {
        if key.verify(self.signing_input.as_bytes(), &self.signature) {
            Ok((self.header, self.payload))
        } else {
            Err(JwsError::BadSignature)
        }
    }
}

/// Verifies `compact` with the key `resolve_key` picks from the (not yet authenticated)
/// header, e.g. by its `kid`. The resolver's own refusals keep their type.
pub fn verify<E: From<JwsError>>(
    compact: &str,
    resolve_key: impl FnOnce(&Header) -> Result<VerifyingKey, E>,
) -> Result<(Header, Vec<u8>), E> {
    let jws = Unverified::decode(compact)?;
    let key = resolve_key(jws.header())?;
    Ok(jws.verify(&key)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 8037 appendix A.1 (the key) and A.4 (the JWS).
    const D: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
    const X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
    const PAYLOAD: &[u8] = b"Example of Ed25519 signing";
    const COMPACT: &str = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.\
        hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

    fn rfc_key() -> SigningKey {
        SigningKey::from_secret_base64url(D).unwrap()
    }

    fn verify_with(compact: &str, key: VerifyingKey) -> Result<(Header, Vec<u8>), JwsError> {
        verify(compact, |_| Ok::<_, JwsError>(key))
    }

    /// A compact JWS with this exact header text, signed with the RFC key.
    fn with_header_text(header: &str, payload: &[u8]) -> String {
        let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(payload));
        let sig = rfc_key().sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    #[test]
    fn rfc_8037_a4_exactly() {
        let key = rfc_key();
        assert_eq!(key.verifying_key().to_base64url(), X);
        assert_eq!(sign(&Header::new(), PAYLOAD, &key), COMPACT);
        let public = VerifyingKey::from_base64url(X).unwrap();
        let (header, payload) = verify_with(COMPACT, public).unwrap();
        assert_eq!(payload, PAYLOAD);
        assert_eq!(Value::Object(header), serde_json::json!({"alg": "EdDSA"}));
    }

    #[test]
    fn round_trip_with_fields_and_resolver() {
        let key = SigningKey::generate().unwrap();
        let mut fields = Header::new();
        fields.insert("kid".into(), key.kid().as_str().into());
        fields.insert("alg".into(), "none".into()); // replaced, never trusted
        let compact = sign(&fields, b"{\"x\":1}", &key);
        let public = key.verifying_key();
        let (header, payload) = verify(&compact, |h| {
            assert_eq!(h["kid"], key.kid().as_str());
            Ok::<_, JwsError>(public)
        })
        .unwrap();
        assert_eq!(header["alg"], "EdDSA");
        assert_eq!(payload, b"{\"x\":1}");
        // The resolver's refusal is passed through unchanged.
        let refused = verify(&compact, |_| Err::<VerifyingKey, _>(JwsError::Crit));
        assert_eq!(refused.unwrap_err(), JwsError::Crit);
    }

    #[test]
    fn other_algorithms_are_refused() {
        let public = rfc_key().verifying_key();
        for (header, alg) in [
            (r#"{"alg":"none"}"#, "\"none\""),
            (r#"{"alg":"HS256"}"#, "\"HS256\""),
            (r#"{"alg":"Ed25519"}"#, "\"Ed25519\""),
            (r#"{"alg":"eddsa"}"#, "\"eddsa\""),
            (r#"{"alg":1}"#, "1"),
        ] {
            let compact = with_header_text(header, b"x");
            assert_eq!(verify_with(&compact, public).unwrap_err(), JwsError::UnsupportedAlg(alg.into()));
        }
        let compact = with_header_text(r#"{"kid":"k"}"#, b"x");
        assert_eq!(verify_with(&compact, public).unwrap_err(), JwsError::MissingAlg);
    }

    #[test]
    fn crit_is_refused() {
        let compact = with_header_text(r#"{"alg":"EdDSA","crit":["exp"],"exp":1}"#, b"x");
        assert_eq!(verify_with(&compact, rfc_key().verifying_key()).unwrap_err(), JwsError::Crit);
        // The same without crit verifies, so the refusal above is about crit.
        let compact = with_header_text(r#"{"alg":"EdDSA","exp":1}"#, b"x");
        assert!(verify_with(&compact, rfc_key().verifying_key()).is_ok());
    }

    #[test]
    fn wrong_number_of_segments() {
        let public = rfc_key().verifying_key();
        let (h, rest) = COMPACT.split_once('.').unwrap();
        let (p, s) = rest.split_once('.').unwrap();
        assert_eq!(verify_with(&format!("{h}.{p}"), public).unwrap_err(), JwsError::Segments(2));
        assert_eq!(verify_with(&format!("{h}.{p}.{s}.{s}"), public).unwrap_err(), JwsError::Segments(4));
        assert_eq!(verify_with(&format!("{h}.{p}.{s}."), public).unwrap_err(), JwsError::Segments(4));
        assert_eq!(verify_with("", public).unwrap_err(), JwsError::Segments(1));
        // JWS JSON serialisation is not accepted either.
        assert_eq!(verify_with("{\"payload\":\"\"}", public).unwrap_err(), JwsError::Segments(1));
    }

    #[test]
    fn non_base64url_segments() {
        let public = rfc_key().verifying_key();
        let (h, rest) = COMPACT.split_once('.').unwrap();
        let (p, s) = rest.split_once('.').unwrap();
        let std_b64 = base64::engine::general_purpose::STANDARD.encode(rfc_key().sign(b"x"));
        let cases = [
            (format!("{h}=.{p}.{s}"), Part::Header),
            (format!("{h}.{p}+.{s}"), Part::Payload),
            (format!("{h}.{p}.{std_b64}"), Part::Signature),
            (format!("{h}.{p} .{s}"), Part::Payload),
            (format!("{h}.{p}.{s}="), Part::Signature),
        ];
        for (compact, part) in cases {
            assert_eq!(verify_with(&compact, public).unwrap_err(), JwsError::NotBase64Url(part), "{compact}");
        }
        // A short signature.
        let compact = format!("{h}.{p}.{}", URL_SAFE_NO_PAD.encode([0u8; 63]));
        assert_eq!(verify_with(&compact, public).unwrap_err(), JwsError::SignatureLength(63));
    }

    #[test]
    fn header_must_be_a_utf8_json_object() {
        let public = rfc_key().verifying_key();
        for header in
            ["\u{0}not json", "[\"alg\",\"EdDSA\"]", "\"EdDSA\"", r#"{"alg":"EdDSA","alg":"EdDSA"}"#]
        {
            let compact = with_header_text(header, b"x");
            assert!(matches!(verify_with(&compact, public), Err(JwsError::HeaderNotJson(_))), "{header}");
        }
        let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(b"{\"alg\":\"EdDSA\xff\"}"), "eA");
        let compact = format!("{input}.{}", URL_SAFE_NO_PAD.encode(rfc_key().sign(input.as_bytes())));
        assert_eq!(verify_with(&compact, public).unwrap_err(), JwsError::HeaderNotJson("not UTF-8".into()));
    }

    #[test]
    fn signature_mismatch() {
        let public = VerifyingKey::from_base64url(X).unwrap();
        // Another payload under the original signature.
        let (h, rest) = COMPACT.split_once('.').unwrap();
        let (_, s) = rest.split_once('.').unwrap();
        let forged = format!("{h}.{}.{s}", URL_SAFE_NO_PAD.encode(b"Example of Ed25519 signinG"));
        assert_eq!(verify_with(&forged, public).unwrap_err(), JwsError::BadSignature);
        // The right message under another key.
        let other = SigningKey::from_seed(&[3; 32]).verifying_key();
        assert_eq!(verify_with(COMPACT, other).unwrap_err(), JwsError::BadSignature);
    }

    #[test]
    fn every_single_character_change_is_refused() {
        let public = VerifyingKey::from_base64url(X).unwrap();
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        for i in 0..COMPACT.len() {
            let mut bytes = COMPACT.as_bytes().to_vec();
            if bytes[i] == b'.' {
                continue;
            }
            for &c in [alphabet[(alphabet.iter().position(|&a| a == bytes[i]).unwrap() + 1) % 64], b'A']
                .iter()
                .filter(|&&c| c != COMPACT.as_bytes()[i])
            {
                bytes[i] = c;
                let changed = String::from_utf8(bytes.clone()).unwrap();
                assert!(verify_with(&changed, public).is_err(), "accepted with position {i} changed");
            }
        }
    }

    #[test]
    fn oversized_is_refused_before_decoding() {
        let huge = "a".repeat(MAX_COMPACT_LEN + 1);
        assert_eq!(verify_with(&huge, rfc_key().verifying_key()).unwrap_err(), JwsError::TooLarge);
    }
}
