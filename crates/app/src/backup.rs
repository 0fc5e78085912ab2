//! Encrypted, checksummed backups of a node (issue 9): the store's consistent snapshot of
//! the database, sealed in 1 MiB chunks with the node key (XChaCha20-Poly1305, subkey
//! `backup/v1`), each bound to the header, its position and whether it is the last (no chunk
//! can be moved, dropped or added unseen), and a SHA-256 of the whole file at its end (damage
//! is named before any key is tried). The node key is not in the backup: keep it apart.
//!
//! File: `ENLACEBK` · header length (u32, big-endian) · header (JSON) · chunks (length u32,
//! sealed bytes) · SHA-256 of everything before it.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::AppError;
use crate::keys::NodeKey;

const MAGIC: &[u8; 8] = b"ENLACEBK";
const CHUNK: usize = 1024 * 1024;
const PURPOSE: &str = "backup/v1";
/// Largest sealed chunk: the chunk, the nonce and the tag.
const SEALED_MAX: usize = CHUNK + 24 + 16;

/// What a backup says of itself (readable without the key; nothing in it is personal).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupHeader {
    pub format: String,
    /// `sqlite` or `postgres`.
    pub backend: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// The snapshot's size and SHA-256, before encryption.
    pub size: u64,
    pub sha256: String,
}

fn bad(m: impl Into<String>) -> AppError {
    AppError::Rule(m.into())
}

fn io(what: &Path) -> impl Fn(std::io::Error) -> AppError + '_ {
    move |e| AppError::Rule(format!("{}: {e}", what.display()))
}

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

fn context(header: &[u8], index: u64, last: bool) -> Vec<u8> {
    let mut c = Sha256::digest(header).to_vec();
    c.extend_from_slice(&index.to_be_bytes());
    c.push(u8::from(last));
    c
}

/// Seals the snapshot at `plain` into the backup `out` (created; it must not exist).
/// `progress` is told the bytes done.
pub fn seal_backup(
    key: &NodeKey,
    plain: &Path,
    backend: &str,
    out: &Path,
    progress: &dyn Fn(u64, u64),
) -> Result<BackupHeader, AppError> {
    let size = std::fs::metadata(plain).map_err(io(plain))?.len();
    let mut sha = Sha256::new();
    let mut f = std::fs::File::open(plain).map_err(io(plain))?;
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = f.read(&mut buf).map_err(io(plain))?;
        if n == 0 {
            break;
        }
        sha.update(&buf[..n]);
    }
    let header = BackupHeader {
        format: "enlace-backup/1".into(),
        backend: backend.into(),
        created_at: chrono::Utc::now(),
        size,
        sha256: hex(&sha.finalize()),
    };
    let head = serde_json::to_vec(&header).map_err(|e| bad(e.to_string()))?;
    let file = std::fs::OpenOptions::new().write(true).create_new(true).open(out).map_err(io(out))?;
    let mut w = std::io::BufWriter::new(file);
    let mut whole = Sha256::new();
    let mut put = |w: &mut std::io::BufWriter<std::fs::File>, bytes: &[u8]| -> Result<(), AppError> {
        whole.update(bytes);
        w.write_all(bytes).map_err(io(out))
    };
    put(&mut w, MAGIC)?;
    put(&mut w, &(head.len() as u32).to_be_bytes())?;
    put(&mut w, &head)?;
    f.seek(SeekFrom::Start(0)).map_err(io(plain))?;
    let (mut done, mut index) = (0u64, 0u64);
    loop {
        let n = read_full(&mut f, &mut buf).map_err(io(plain))?;
        let last = done + n as u64 >= size;
        let sealed = key.seal(PURPOSE, &context(&head, index, last), &buf[..n])?;
        put(&mut w, &(sealed.len() as u32).to_be_bytes())?;
        put(&mut w, &sealed)?;
        done += n as u64;
        index += 1;
        progress(done, size);
        if last {
            break;
        }
    }
    let digest = whole.finalize();
    w.write_all(&digest).map_err(io(out))?;
    w.into_inner().map_err(|e| bad(format!("{}: {e}", out.display())))?.sync_all().map_err(io(out))?;
    Ok(header)
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Checks the backup `input` (its checksum, then every chunk with the key, then the
/// snapshot's size and SHA-256) and writes the snapshot to `plain` (created). Nothing is
/// left at `plain` when any check fails.
pub fn open_backup(
    key: &NodeKey,
    input: &Path,
    plain: &Path,
    progress: &dyn Fn(u64, u64),
) -> Result<BackupHeader, AppError> {
    let r = open_checked(key, input, plain, progress);
    if r.is_err() {
        let _ = std::fs::remove_file(plain);
    }
    r
}

fn open_checked(
    key: &NodeKey,
    input: &Path,
    plain: &Path,
    progress: &dyn Fn(u64, u64),
) -> Result<BackupHeader, AppError> {
    let len = std::fs::metadata(input).map_err(io(input))?.len();
    if len < (MAGIC.len() + 4 + 32) as u64 {
        return Err(bad(format!("{} is not an Enlace backup (too short)", input.display())));
    }
    // The checksum first: damage is named as such, not as a wrong key.
    let mut f = std::io::BufReader::new(std::fs::File::open(input).map_err(io(input))?);
    let mut whole = Sha256::new();
    let mut left = len - 32;
    let mut buf = vec![0u8; CHUNK];
    while left > 0 {
        let n = f.read(&mut buf[..(left.min(CHUNK as u64) as usize)]).map_err(io(input))?;
        if n == 0 {
            return Err(bad(format!("{} ended early", input.display())));
        }
        whole.update(&buf[..n]);
        left -= n as u64;
    }
    let mut stored = [0u8; 32];
    f.read_exact(&mut stored).map_err(io(input))?;
    if whole.finalize().as_slice() != stored {
        return Err(bad(format!(
            "{} is damaged: its checksum does not match (copied badly, or changed)",
            input.display()
        )));
    }
    f.seek(SeekFrom::Start(0)).map_err(io(input))?;
    let mut magic = [0u8; 8];
    f.read_exact(&mut magic).map_err(io(input))?;
    if &magic != MAGIC {
        return Err(bad(format!("{} is not an Enlace backup", input.display())));
    }
    let mut n4 = [0u8; 4];
    f.read_exact(&mut n4).map_err(io(input))?;
    let hlen = u32::from_be_bytes(n4) as usize;
    if hlen > 64 * 1024 {
        return Err(bad("the backup's header is too long"));
    }
    let mut head = vec![0u8; hlen];
    f.read_exact(&mut head).map_err(io(input))?;
    let header: BackupHeader =
        serde_json::from_slice(&head).map_err(|e| bad(format!("the backup's header: {e}")))?;
    if header.format != "enlace-backup/1" {
        return Err(bad(format!("unknown backup format {:?}", header.format)));
    }
    let out = std::fs::OpenOptions::new().write(true).create_new(true).open(plain).map_err(io(plain))?;
    let mut w = std::io::BufWriter::new(out);
    let mut sha = Sha256::new();
    let (mut done, mut index) = (0u64, 0u64);
    let end = len - 32;
    loop {
        let pos = f.stream_position().map_err(io(input))?;
        if pos >= end {
            return Err(bad("the backup ends before its last chunk"));
        }
        f.read_exact(&mut n4).map_err(io(input))?;
        let clen = u32::from_be_bytes(n4) as usize;
        if clen > SEALED_MAX {
            return Err(bad("a chunk of the backup is too long"));
        }
        let mut sealed = vec![0u8; clen];
        f.read_exact(&mut sealed).map_err(io(input))?;
        let last = f.stream_position().map_err(io(input))? >= end;
        let chunk = key.open(PURPOSE, &context(&head, index, last), &sealed).map_err(|_| {
            bad("the backup does not open with this node key (another node's backup, or the wrong key)")
        })?;
        sha.update(&chunk);
        w.write_all(&chunk).map_err(io(plain))?;
        done += chunk.len() as u64;
        index += 1;
        progress(done, header.size);
        if last {
            break;
        }
    }
    if done != header.size || hex(&sha.finalize()) != header.sha256 {
        return Err(bad("the backup's content does not match its header (size or SHA-256)"));
    }
    w.into_inner().map_err(|e| bad(format!("{}: {e}", plain.display())))?.sync_all().map_err(io(plain))?;
    Ok(header)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(size: usize) {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("snap");
        let data: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&plain, &data).unwrap();
        let key = NodeKey::generate();
        let out = dir.path().join("b.enlace");
        let h = seal_backup(&key, &plain, "sqlite", &out, &|_, _| {}).unwrap();
        assert_eq!(h.size, size as u64);
        let back = dir.path().join("back");
        assert_eq!(open_backup(&key, &out, &back, &|_, _| {}).unwrap(), h);
        assert_eq!(std::fs::read(&back).unwrap(), data);
    }

    #[test]
    fn a_backup_opens_to_what_was_sealed() {
        for size in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17] {
            roundtrip(size);
        }
    }

    #[test]
    fn damage_a_wrong_key_and_a_moved_chunk_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("snap");
        std::fs::write(&plain, vec![5u8; 2 * CHUNK + 10]).unwrap();
        let key = NodeKey::generate();
        let out = dir.path().join("b.enlace");
        seal_backup(&key, &plain, "postgres", &out, &|_, _| {}).unwrap();
        let back = dir.path().join("back");
        // Another key.
        let e = open_backup(&NodeKey::generate(), &out, &back, &|_, _| {}).unwrap_err().to_string();
        assert!(e.contains("does not open with this node key"), "{e}");
        assert!(!back.exists(), "nothing left behind");
        // A flipped byte: the checksum says so.
        let mut bytes = std::fs::read(&out).unwrap();
        bytes[200] ^= 1;
        std::fs::write(dir.path().join("flip"), &bytes).unwrap();
        let e = open_backup(&key, &dir.path().join("flip"), &back, &|_, _| {}).unwrap_err().to_string();
        assert!(e.contains("damaged"), "{e}");
        // Truncated, with the checksum made good again: the chunk that claims to be last is not.
        let bytes = std::fs::read(&out).unwrap();
        let hlen = u32::from_be_bytes(bytes[8..12].try_into().unwrap()) as usize;
        let first = 12 + hlen;
        let clen = u32::from_be_bytes(bytes[first..first + 4].try_into().unwrap()) as usize;
        let mut cut = bytes[..first + 4 + clen].to_vec();
        let d = Sha256::digest(&cut);
        cut.extend_from_slice(&d);
        std::fs::write(dir.path().join("cut"), &cut).unwrap();
        let e = open_backup(&key, &dir.path().join("cut"), &back, &|_, _| {}).unwrap_err().to_string();
        assert!(e.contains("does not open"), "{e}");
        assert!(!back.exists());
        // Not a backup at all.
        std::fs::write(dir.path().join("junk"), vec![0u8; 100]).unwrap();
        let e = open_backup(&key, &dir.path().join("junk"), &back, &|_, _| {}).unwrap_err().to_string();
        assert!(e.contains("damaged") || e.contains("not an Enlace backup"), "{e}");
    }
}
