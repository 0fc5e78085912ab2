//! Ed25519 signing keys of nodes and of the hub, and their key ids.
//!
//! Public keys travel as base64url without padding (32 bytes → 43 characters), like the `x` of
//! an RFC 8037 JWK. A key id ([`Kid`]) is derived from the public key, so it cannot be chosen
//! to collide with another key's.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::Signer as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("the key is not base64url without padding")]
    NotBase64Url,
    #[error("an Ed25519 key is 32 bytes, this one is {0}")]
    WrongLength(usize),
    #[error("the public key is not a valid Ed25519 point, or is of small order")]
    InvalidPoint,
    #[error("the operating system's random generator failed: {0}")]
    Random(String),
    #[error("\"{0}\" is not a key id (expected 22 base64url characters)")]
    BadKid(String),
}

/// Key id: base64url of the first 16 bytes of SHA-256 of the 32-byte public key (22 characters).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Kid(String);

impl Kid {
    pub fn of(key: &VerifyingKey) -> Kid {
        let digest = Sha256::digest(key.0.as_bytes());
        Kid(URL_SAFE_NO_PAD.encode(&digest[..16]))
    }
    pub fn parse(s: &str) -> Result<Kid, KeyError> {
        match URL_SAFE_NO_PAD.decode(s) {
            Ok(b) if b.len() == 16 => Ok(Kid(s.to_string())),
            _ => Err(KeyError::BadKid(s.to_string())),
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Kid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl<'de> Deserialize<'de> for Kid {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Kid::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A public key that verifies signatures.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct VerifyingKey(ed25519_dalek::VerifyingKey);

impl VerifyingKey {
    /// Parses 32 bytes; refuses points that are not on the curve and weak (small-order) keys,
    /// for which a signature could verify for many messages.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        let arr: &[u8; 32] = bytes.try_into().map_err(|_| KeyError::WrongLength(bytes.len()))?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(arr).map_err(|_| KeyError::InvalidPoint)?;
        if key.is_weak() {
            return Err(KeyError::InvalidPoint);
        }
        Ok(VerifyingKey(key))
    }
    pub fn from_base64url(s: &str) -> Result<Self, KeyError> {
        let bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| KeyError::NotBase64Url)?;
        Self::from_bytes(&bytes)
    }
    pub fn to_base64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0.as_bytes())
    }
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }
    pub fn kid(&self) -> Kid {
        Kid::of(self)
    }
    /// Strict verification (RFC 8032 with the canonical-encoding checks of `verify_strict`):
    /// a signature cannot be altered into another valid one for the same message.
    pub fn verify(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        let sig = ed25519_dalek::Signature::from_bytes(signature);
        self.0.verify_strict(message, &sig).is_ok()
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifyingKey({})", self.to_base64url())
    }
}

impl Serialize for VerifyingKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_base64url())
    }
}

impl<'de> Deserialize<'de> for VerifyingKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        VerifyingKey::from_base64url(&s).map_err(serde::de::Error::custom)
    }
}

/// A private signing key. Wiped from memory when dropped; its `Debug` shows only the key id.
/// Deliberately neither `Clone` nor `Serialize`: export it with [`SigningKey::to_secret_base64url`].
pub struct SigningKey {
    key: ed25519_dalek::SigningKey,
    kid: Kid,
}

impl SigningKey {
    /// A new key from the operating system's random generator.
    pub fn generate() -> Result<Self, KeyError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
        let key = Self::from_seed(&seed);
        seed.fill(0);
        Ok(key)
    }
    /// The key whose RFC 8032 secret (the JWK's `d`) is `seed`.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        let key = ed25519_dalek::SigningKey::from_bytes(seed);
        let kid = Kid::of(&VerifyingKey(key.verifying_key()));
        SigningKey { key, kid }
    }
    /// Reads the secret as written by [`SigningKey::to_secret_base64url`] (an RFC 8037 `d`).
    pub fn from_secret_base64url(s: &str) -> Result<Self, KeyError> {
        let bytes = URL_SAFE_NO_PAD.decode(s.trim()).map_err(|_| KeyError::NotBase64Url)?;
        let seed: [u8; 32] = bytes.as_slice().try_into().map_err(|_| KeyError::WrongLength(bytes.len()))?;
        Ok(Self::from_seed(&seed))
    }
    /// The secret as base64url: for the node's key file only, never a log or the database.
    pub fn to_secret_base64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.key.as_bytes())
    }
    pub fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey(self.key.verifying_key())
    }
    pub fn kid(&self) -> &Kid {
        &self.kid
    }
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey(kid {})", self.kid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kid_is_stable_and_short() {
        let k = SigningKey::from_seed(&[7; 32]);
        let kid = k.verifying_key().kid();
        assert_eq!(kid.as_str().len(), 22);
        assert_eq!(&kid, k.kid());
        assert_eq!(SigningKey::from_seed(&[7; 32]).kid(), k.kid());
        assert_ne!(SigningKey::from_seed(&[8; 32]).kid(), k.kid());
        assert_eq!(Kid::parse(kid.as_str()).unwrap(), kid);
        assert!(Kid::parse("short").is_err());
    }

    #[test]
    fn keys_round_trip_as_base64url() {
        let k = SigningKey::generate().unwrap();
        let again = SigningKey::from_secret_base64url(&k.to_secret_base64url()).unwrap();
        assert_eq!(again.verifying_key(), k.verifying_key());
        let public = k.verifying_key().to_base64url();
        assert_eq!(public.len(), 43);
        assert_eq!(VerifyingKey::from_base64url(&public).unwrap(), k.verifying_key());
        let json = serde_json::to_string(&k.verifying_key()).unwrap();
        assert_eq!(serde_json::from_str::<VerifyingKey>(&json).unwrap(), k.verifying_key());
        assert_ne!(SigningKey::generate().unwrap().kid(), k.kid());
    }

    #[test]
    fn bad_public_keys_are_refused() {
        assert_eq!(VerifyingKey::from_base64url("AAAA"), Err(KeyError::WrongLength(3)));
        assert_eq!(VerifyingKey::from_base64url("not base64!"), Err(KeyError::NotBase64Url));
        // The identity point (small order): a "signature" with it verifies too much.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(VerifyingKey::from_bytes(&identity), Err(KeyError::InvalidPoint));
    }

    #[test]
    fn debug_does_not_show_the_secret() {
        let k = SigningKey::from_seed(&[9; 32]);
        let shown = format!("{k:?}");
        assert!(!shown.contains(&k.to_secret_base64url()));
        assert!(shown.contains(k.kid().as_str()));
    }

    #[test]
    fn signatures_verify_only_for_their_message() {
        let k = SigningKey::from_seed(&[1; 32]);
        let sig = k.sign(b"hello");
        assert!(k.verifying_key().verify(b"hello", &sig));
        assert!(!k.verifying_key().verify(b"hellp", &sig));
        assert!(!SigningKey::from_seed(&[2; 32]).verifying_key().verify(b"hello", &sig));
    }
}
