//! The node's secret key, and sealing attachments with it (XChaCha20-Poly1305).
//!
//! The key lives outside the database: a file (created with owner-only permissions) or an
//! environment variable. Someone holding a copy of the database alone reads no attachment.

use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};

use crate::AppError;

const NONCE_LEN: usize = 24;

/// The node's 256-bit secret key. Debug output never shows it.
#[derive(Clone)]
pub struct NodeKey(Arc<[u8; 32]>);

impl std::fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NodeKey(..)")
    }
}

impl NodeKey {
    /// A new random key (for tests and for a node's first start).
    pub fn generate() -> NodeKey {
        let mut k = [0u8; 32];
        getrandom::fill(&mut k).expect("the operating system's random source");
        NodeKey(Arc::new(k))
    }

    /// A key given as base64 (e.g. `ENLACE_NODE_KEY`).
    pub fn from_base64(s: &str) -> Result<NodeKey, String> {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(s.trim())
            .map_err(|e| format!("the node key is not base64: {e}"))?;
        let k: [u8; 32] = raw.try_into().map_err(|_| "the node key must be 32 bytes".to_string())?;
        Ok(NodeKey(Arc::new(k)))
    }

    /// Reads the key file, or creates it (owner-only) with a new random key when absent.
    pub fn load_or_create(path: &Path) -> Result<NodeKey, String> {
        let text = secret_file(path, || {
            Ok(base64::engine::general_purpose::STANDARD.encode(*NodeKey::generate().0))
        })?;
        NodeKey::from_base64(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    fn cipher(&self, purpose: &str) -> XChaCha20Poly1305 {
        // One subkey per purpose, so the node key can serve several without reuse.
        let sub =
            Sha256::new().chain_update(b"enlace/").chain_update(purpose).chain_update(*self.0).finalize();
        XChaCha20Poly1305::new(&sub)
    }

    /// Encrypts and authenticates `plain` for `purpose` (`attachments/v1`, `totp/v1`), bound
    /// to `context` (e.g. the record's ids): a sealed blob moved to another record, or used for
    /// another purpose, does not open. Output: nonce, then ciphertext.
    pub fn seal(&self, purpose: &str, context: &[u8], plain: &[u8]) -> Result<Vec<u8>, AppError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| AppError::Unavailable(format!("no randomness: {e}")))?;
        let ct = self
            .cipher(purpose)
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: plain, aad: context })
            .map_err(|_| AppError::Unavailable("encryption failed".into()))?;
        let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Opens what [`NodeKey::seal`] made for the same `context`; fails if anything changed.
    pub fn open(&self, purpose: &str, context: &[u8], sealed: &[u8]) -> Result<Vec<u8>, AppError> {
        let failed = || {
            AppError::Unavailable(format!(
                "a sealed record ({purpose}) failed its integrity check (damaged, tampered with, or sealed with \
                 another node key)"
            ))
        };
        if sealed.len() < NONCE_LEN {
            return Err(failed());
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        self.cipher(purpose)
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad: context })
            .map_err(|_| failed())
    }
}

/// Writes a file readable by its owner only (mode 0600 on Unix), refusing to overwrite.
fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            b.mode(0o700);
        }
        b.create(dir)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(content.as_bytes())?;
    f.sync_all()
}

/// The text of a secret file, made by `make` (and written owner-only) when it does not exist.
pub fn secret_file(path: &Path, make: impl FnOnce() -> Result<String, String>) -> Result<String, String> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(s.trim().to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let text = make()?;
            write_private(path, &format!("{text}\n"))
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            Ok(text)
        }
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_data_opens_only_with_the_same_key_and_context() {
        let k = NodeKey::generate();
        let p = "attachments/v1";
        let sealed = k.seal(p, b"case-1/att-1", b"informe medico").unwrap();
        assert!(!sealed.windows(7).any(|w| w == b"informe"));
        assert_eq!(k.open(p, b"case-1/att-1", &sealed).unwrap(), b"informe medico");
        assert!(k.open(p, b"case-1/att-2", &sealed).is_err(), "other context");
        assert!(k.open("totp/v1", b"case-1/att-1", &sealed).is_err(), "other purpose");
        assert!(NodeKey::generate().open(p, b"case-1/att-1", &sealed).is_err(), "other key");
        let mut flipped = sealed.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(k.open(p, b"case-1/att-1", &flipped).is_err(), "tampered");
        assert!(k.open(p, b"x", b"short").is_err());
    }

    #[test]
    fn the_key_file_is_created_once_with_owner_only_permissions() {
        let dir = std::env::temp_dir().join(format!("enlace-key-{}", uuid::Uuid::now_v7()));
        let path = dir.join("node.key");
        let a = NodeKey::load_or_create(&path).unwrap();
        let b = NodeKey::load_or_create(&path).unwrap();
        assert_eq!(*a.0, *b.0);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        std::fs::write(&path, "not base64!").unwrap();
        assert!(NodeKey::load_or_create(&path).unwrap_err().contains("base64"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
