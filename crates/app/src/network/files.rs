//! Files of the library's items: PDF and Word documents, PNG and JPEG images, at most
//! [`LIBRARY_FILE_MAX_BYTES`] each and [`LIBRARY_FILES_PER_ITEM`] an item. An upload is
//! refused when its type is not allowed or its bytes are not what it claims; a document whose
//! text cannot be read is kept and marked unparseable (it is not searched); the text of the
//! others joins the item's search terms.
//!
//! In a network the hub keeps them with the rest of the workspace and publishes each file to
//! the nodes that see its item: its description and text in one `workspace_record` ("file"),
//! its content in parts of [`LIBRARY_FILE_PART_BYTES`] ("part"), each a message of its own (a
//! message is at most 4 MiB). A node keeps whatever arrives in any order; a file is served
//! once every part is held and the whole matches its SHA-256.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, Utc};
use enlace_domain::network::{
    FileKind, LIBRARY_FILE_MAX_BYTES, LIBRARY_FILE_PART_BYTES, LIBRARY_FILES_PER_ITEM, LibraryFile,
    LibraryItemData, check_library_file, part_count,
};
use enlace_domain::record::clean_filename;
use enlace_domain::role::Role;
use enlace_store::Tx;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{
    Author, Peer, RECORDERS, Record, author_of, keep_terms, library_for_states, publish_to, remote_actor,
};
use crate::extract::{Extracted, check_docx, extract};
use crate::fed::linkage::{hub_of, to_hub};
use crate::{Actor, App, AppError, access, audit, event};
use enlace_domain::error::ValidationErrors;
use enlace_fed::envelope::MessageType;
use serde_json::{Map, Value};

/// A file's description and its text, as published.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WireFile {
    file: LibraryFile,
    text: String,
}

/// One part of a file's content, as published (base64).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WirePart {
    file: Uuid,
    index: i64,
    content: String,
}

fn file_record(f: &LibraryFile, text: &str) -> Record {
    Record {
        kind: "file".into(),
        file: Some(WireFile { file: f.clone(), text: text.into() }),
        ..Default::default()
    }
}

fn part_record(file: Uuid, index: usize, content: &[u8]) -> Record {
    Record {
        kind: "part".into(),
        part: Some(WirePart { file, index: index as i64, content: B64.encode(content) }),
        ..Default::default()
    }
}

/// A file's parts put together, when they make `size` bytes with the SHA-256 `sha256`.
fn joined(parts: Vec<(i64, Vec<u8>)>, size: i64, sha256: &str) -> Option<Vec<u8>> {
    let bytes: Vec<u8> = parts.into_iter().flat_map(|(_, c)| c).collect();
    (bytes.len() as i64 == size && sha256_hex(&bytes) == sha256).then_some(bytes)
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Queues a file (description, text and every part) to each peer that sees its item.
pub(super) async fn publish_file(
    tx: &mut Tx,
    peers: &[Peer],
    item: &LibraryItemData,
    f: &LibraryFile,
    text: &str,
    parts: &[(i64, Vec<u8>)],
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let to: Vec<Peer> = peers.iter().filter(|p| library_for_states(item, &p.states)).cloned().collect();
    if to.is_empty() {
        return Ok(());
    }
    publish_to(tx, &to, &file_record(f, text), now).await?;
    for (i, content) in parts {
        publish_to(tx, &to, &part_record(f.id, *i as usize, content), now).await?;
    }
    Ok(())
}

/// Who may add files to `item`: whoever may change it (the Secretariat; a liaison officer,
/// their own state's items). An item the actor does not see is missing.
fn may_change(actor: &Actor, item: &LibraryItemData) -> Result<(), AppError> {
    access::require_role(actor, RECORDERS)?;
    if !sees(actor, item) {
        return Err(AppError::NotFound("library item"));
    }
    if actor.user.role == Role::LiaisonOfficer && item.state != Some(actor.user.state) {
        return Err(AppError::Forbidden(format!("this item is not {}'s to change", actor.user.state)));
    }
    Ok(())
}

/// Whether the actor sees `item` (the Secretariat sees all).
pub(super) fn sees(actor: &Actor, item: &LibraryItemData) -> bool {
    actor.user.role == Role::RegionalAnalyst || item.visible(actor.user.state)
}

/// A checked upload, its text read, ready to be stored.
struct Upload {
    file: LibraryFile,
    text: String,
    bytes: Arc<Vec<u8>>,
}

/// Checks an upload's name and content: the name made safe, and the kind.
fn check(filename: &str, content_type: &str, bytes: &[u8]) -> Result<(String, FileKind), AppError> {
    let mut e = ValidationErrors::new();
    let filename = e.check("filename", clean_filename(filename));
    let kind = e.check("file", check_library_file(content_type, bytes));
    if kind == Some(FileKind::Docx) {
        e.check("file", check_docx(bytes));
    }
    e.into_result()?;
    Ok((filename.expect("checked"), kind.expect("checked")))
}

async fn prepare(item: Uuid, filename: &str, content_type: &str, bytes: Vec<u8>) -> Result<Upload, AppError> {
    let (filename, kind) = check(filename, content_type, &bytes)?;
    let bytes = Arc::new(bytes);
    let Extracted { status, note, text } = extract(kind, bytes.clone()).await;
    let file = LibraryFile {
        id: Uuid::now_v7(),
        item,
        filename,
        kind,
        content_type: kind.media_type().to_string(),
        size: bytes.len() as i64,
        sha256: sha256_hex(&bytes),
        parts: part_count(bytes.len()) as i64,
        text_status: status,
        text_note: note,
        created_at: enlace_store::now(),
    };
    Ok(Upload { file, text, bytes })
}

/// What became of a file added: kept here, or sent to the hub (it comes back with the hub's
/// publication, its text read there).
#[derive(Debug, Clone)]
pub enum FileAdded {
    Kept(LibraryFile),
    SentToHub { message: Uuid },
}

/// Stores a checked upload where the workspace is kept, publishes it and audits it, in the
/// caller's transaction. `None` when the file is held already (an upload finished twice).
async fn keep_upload(
    tx: &mut Tx,
    actor: &Actor,
    peers: &[Peer],
    up: &Upload,
    now: DateTime<Utc>,
) -> Result<Option<LibraryFile>, AppError> {
    let item = up.file.item;
    let l =
        enlace_store::network::library_item_tx(tx, item).await?.ok_or(AppError::NotFound("library item"))?;
    may_change(actor, &l.data)?;
    let mut files = enlace_store::network::library_files_tx(tx, item).await?;
    if files.iter().any(|(f, _)| f.id == up.file.id) {
        return Ok(None);
    }
    if files.len() >= LIBRARY_FILES_PER_ITEM {
        return Err(AppError::invalid(
            "file",
            format!("an item holds at most {LIBRARY_FILES_PER_ITEM} files"),
        ));
    }
    let f = &up.file;
    if !enlace_store::network::put_library_file(tx, f, &up.text).await? {
        return Ok(None);
    }
    let parts: Vec<(i64, Vec<u8>)> =
        up.bytes.chunks(LIBRARY_FILE_PART_BYTES).enumerate().map(|(i, c)| (i as i64, c.to_vec())).collect();
    for (i, c) in &parts {
        enlace_store::network::put_library_file_part(tx, f.id, *i, c).await?;
    }
    files.push((f.clone(), up.text.clone()));
    keep_terms(tx, &l.data, item, &files).await?;
    publish_file(tx, peers, &l.data, f, &up.text, &parts, now).await?;
    let detail = json!({"item": item, "file": f.id, "kind": f.kind, "size": f.size,
        "sha256": f.sha256, "text_status": f.text_status});
    audit(tx, event(Some(actor), "network.library_file", "library", Some(item.to_string()), detail)).await?;
    Ok(Some(f.clone()))
}

/// What a node's user's upload says of the file, in each of its parts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct UploadDesc {
    id: Uuid,
    item: Uuid,
    filename: String,
    content_type: String,
    size: i64,
    sha256: String,
    parts: i64,
}

impl App {
    /// Adds a file to a library item. Where the workspace is kept: checked (type, size, that
    /// the bytes are what they claim), its text read for the search (a document that cannot
    /// be read is kept, marked unparseable), stored, published to the nodes that see the item,
    /// audited, in one transaction. On another node of a network: checked the same way
    /// against the copy held here, then sent to the hub in parts (`workspace_edit`,
    /// "file_part"), which reads it and publishes it back.
    pub async fn add_library_file(
        &self,
        actor: &Actor,
        item: Uuid,
        filename: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> Result<FileAdded, AppError> {
        self.guard(actor, access::require_role(actor, RECORDERS)).await?;
        // Refuse what may be refused before reading a document's text or sending it.
        let l = enlace_store::network::library_item(self.db(), item)
            .await?
            .ok_or(AppError::NotFound("library item"))?;
        self.guard(actor, may_change(actor, &l.data)).await?;
        let peers = match self.keeper().await {
            Ok(peers) => peers,
            Err(AppError::Conflict(_)) => {
                return self.send_file(actor, item, filename, content_type, bytes).await;
            }
            Err(e) => return Err(e),
        };
        let up = Arc::new(prepare(item, filename, content_type, bytes).await?);
        let (actor_w, peers_w) = (actor.clone(), peers.clone());
        let r = self
            .db()
            .write(move |tx| {
                let (actor, peers, up) = (actor_w.clone(), peers_w.clone(), up.clone());
                Box::pin(async move {
                    keep_upload(tx, &actor, &peers, &up, enlace_store::now())
                        .await?
                        .ok_or_else(|| AppError::Conflict("this file is held already".into()))
                })
            })
            .await;
        let r = self.guard(actor, r).await?;
        self.published(&peers);
        Ok(FileAdded::Kept(r))
    }

    /// On a node of a network: checks an upload (its item, found and changeable by the actor)
    /// against the copy held here and queues it to the hub in parts, each saying what the
    /// whole is, in one transaction.
    async fn send_file(
        &self,
        actor: &Actor,
        item: Uuid,
        filename: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> Result<FileAdded, AppError> {
        let now = enlace_store::now();
        let (filename, kind) = check(filename, content_type, &bytes)?;
        let held = enlace_store::network::library_files_of(self.db(), &[item]).await?;
        if held.len() >= LIBRARY_FILES_PER_ITEM {
            return Err(AppError::invalid(
                "file",
                format!("an item holds at most {LIBRARY_FILES_PER_ITEM} files"),
            ));
        }
        let (dir, _) = self.my_entry(now).await?;
        let hub = hub_of(&dir)?;
        let desc = UploadDesc {
            id: Uuid::now_v7(),
            item,
            filename,
            content_type: kind.media_type().to_string(),
            size: bytes.len() as i64,
            sha256: sha256_hex(&bytes),
            parts: part_count(bytes.len()) as i64,
        };
        let (actor_w, bytes) = (actor.clone(), Arc::new(bytes));
        let r = self
            .db()
            .write(move |tx| {
                let (actor, desc, hub, bytes) = (actor_w.clone(), desc.clone(), hub.clone(), bytes.clone());
                Box::pin(async move {
                    let mut first = None;
                    for (i, c) in bytes.chunks(LIBRARY_FILE_PART_BYTES).enumerate() {
                        let mut p = Map::new();
                        p.insert("op".into(), json!("file_part"));
                        p.insert("author".into(), author_of(&actor));
                        p.insert("file".into(), json!(desc));
                        p.insert(
                            "part".into(),
                            json!(WirePart { file: desc.id, index: i as i64, content: B64.encode(c) }),
                        );
                        let id = to_hub(tx, &hub, MessageType::WorkspaceEdit, p, now).await?;
                        first.get_or_insert(id);
                    }
                    let message = first.expect("a file has a part");
                    let detail = json!({"op": "file", "hub": hub, "message": message, "item": desc.item,
                        "file": desc.id, "size": desc.size, "sha256": desc.sha256});
                    audit(tx, event(Some(&actor), "network.edit_sent", "workspace", None, detail)).await?;
                    Ok(FileAdded::SentToHub { message })
                })
            })
            .await;
        let r = self.guard(actor, r).await?;
        self.kick_relay();
        Ok(r)
    }

    /// At the hub: keeps every upload whose parts have all arrived from a node (its text read,
    /// published to the nodes that see its item, the sender's among them), or refuses it
    /// (audited, its parts dropped). Run after each part received, and once at start.
    pub(crate) async fn finish_uploads(&self) {
        let Ok(peers) = self.keeper().await else { return };
        let ups = match enlace_store::network::complete_uploads(self.db()).await {
            Ok(u) => u,
            Err(e) => return tracing::warn!(error = %e, "cannot read the uploads"),
        };
        for u in ups {
            if let Err(e) = self.finish_upload(&peers, u).await {
                tracing::warn!(error = %e, "an upload could not be finished; it is tried again later");
            }
        }
        self.published(&peers);
    }

    async fn finish_upload(
        &self,
        peers: &[Peer],
        u: enlace_store::network::UploadRow,
    ) -> Result<(), AppError> {
        let now = enlace_store::now();
        let desc: UploadDesc = serde_json::from_value(u.data["file"].clone())
            .map_err(|e| AppError::Rule(format!("a stored upload cannot be read: {e}")))?;
        let author: Author = serde_json::from_value(u.data["author"].clone())
            .map_err(|e| AppError::Rule(format!("a stored upload cannot be read: {e}")))?;
        let actor = remote_actor(&u.sender, &author, now)?;
        let parts = enlace_store::network::library_file_parts(self.db(), desc.id).await?;
        let checked: Result<Arc<Upload>, String> = match joined(parts, desc.size, &desc.sha256) {
            None => Err("its parts do not make the file announced (size or SHA-256)".into()),
            Some(bytes) => prepare(desc.item, &desc.filename, &desc.content_type, bytes)
                .await
                .map(|mut up| {
                    up.file.id = desc.id;
                    Arc::new(up)
                })
                .map_err(|e| e.to_string()),
        };
        let (peers, file) = (peers.to_vec(), desc.id);
        self.db()
            .write(move |tx| {
                let (actor, peers, checked, author) =
                    (actor.clone(), peers.clone(), checked.clone(), author.clone());
                Box::pin(async move {
                    let kept = match &checked {
                        Ok(up) => match keep_upload(tx, &actor, &peers, up, now).await {
                            Ok(_) => Ok(()),
                            Err(e @ (AppError::Store(_) | AppError::Unavailable(_))) => return Err(e),
                            Err(e) => Err(e.to_string()),
                        },
                        Err(m) => Err(m.clone()),
                    };
                    match kept {
                        Ok(()) => {
                            enlace_store::network::end_upload(tx, file, false).await?;
                            Ok(())
                        }
                        Err(reason) => {
                            // Refused: what the node's user sent breaks a rule here.
                            enlace_store::network::end_upload(tx, file, true).await?;
                            let detail = json!({"file": file, "reason": reason, "author": author});
                            audit(
                                tx,
                                event(Some(&actor), "network.library_file_refused", "library", None, detail),
                            )
                            .await?;
                            Ok(())
                        }
                    }
                })
            })
            .await
    }

    /// A file of the library and its content, for a user who sees its item. On a node, a file
    /// whose parts have not all arrived from the hub yet is unavailable for now.
    pub async fn library_file(&self, actor: &Actor, id: Uuid) -> Result<(LibraryFile, Vec<u8>), AppError> {
        super::may_read(actor)?;
        let f =
            enlace_store::network::library_file(self.db(), id).await?.ok_or(AppError::NotFound("file"))?;
        let item = enlace_store::network::library_item(self.db(), f.item)
            .await?
            .ok_or(AppError::NotFound("file"))?;
        if !sees(actor, &item.data) {
            return self
                .guard(
                    actor,
                    Err(AppError::Hidden {
                        what: "file",
                        id: id.to_string(),
                        reason: "not visible to the state",
                    }),
                )
                .await;
        }
        let parts = enlace_store::network::library_file_parts(self.db(), id).await?;
        if parts.len() as i64 != f.parts {
            return Err(AppError::Unavailable(format!(
                "the file is still arriving from the hub ({} of {} parts held): try again shortly",
                parts.len(),
                f.parts
            )));
        }
        let bytes = joined(parts, f.size, &f.sha256)
            .ok_or_else(|| AppError::Unavailable("the file held does not match its checksum".into()))?;
        Ok((f, bytes))
    }
}

/// A node keeps a file's description and text ("file") or one part of its content ("part")
/// as published by the hub, whatever order they arrive in; the text joins its item's search
/// terms (now if the item is held, else when it arrives).
pub(super) async fn receive(tx: &mut Tx, r: Record) -> Result<&'static str, AppError> {
    let bad = |m: String| crate::fed::refused("bad-record", m);
    let others = r.meeting.is_some()
        || r.agreement.is_some()
        || r.event.is_some()
        || r.contact.is_some()
        || r.group.is_some()
        || r.library.is_some();
    match (r.kind.as_str(), r.file, r.part) {
        ("file", Some(w), None) if !others => {
            w.file.check().map_err(|e| bad(format!("file: {e}")))?;
            if w.text.len() > enlace_domain::network::LIBRARY_TEXT_MAX_BYTES {
                return Err(bad("file: its text is longer than the library keeps".into()));
            }
            if !enlace_store::network::put_library_file(tx, &w.file, &w.text).await? {
                return Ok("void");
            }
            if let Some(l) = enlace_store::network::library_item_tx(tx, w.file.item).await? {
                let files = enlace_store::network::library_files_tx(tx, l.id).await?;
                keep_terms(tx, &l.data, l.id, &files).await?;
            }
            Ok("applied")
        }
        ("part", None, Some(p)) if !others => {
            let content = B64.decode(p.content.as_bytes()).map_err(|e| bad(format!("part: {e}")))?;
            let most = part_count(LIBRARY_FILE_MAX_BYTES) as i64;
            if !(0..most).contains(&p.index) || content.is_empty() || content.len() > LIBRARY_FILE_PART_BYTES
            {
                return Err(bad(format!(
                    "part: number {} of {} bytes (a file has at most {most} parts of at most {LIBRARY_FILE_PART_BYTES} bytes)",
                    p.index,
                    content.len()
                )));
            }
            let kept = enlace_store::network::put_library_file_part(tx, p.file, p.index, &content).await?;
            Ok(if kept { "applied" } else { "void" })
        }
        (kind, ..) => Err(bad(format!("\"{kind}\" with the wrong parts: a file alone; a part alone"))),
    }
}

/// Queues every file of the library (description, text, parts) to `to` (a node that asked for
/// the whole workspace). Returns how many.
pub(super) async fn sync_files(
    tx: &mut Tx,
    to: &[Peer],
    items: &[enlace_store::network::LibraryRow],
    now: DateTime<Utc>,
) -> Result<usize, AppError> {
    let files = enlace_store::network::all_library_files_tx(tx).await?;
    let mut n = 0;
    for (f, text) in &files {
        let Some(l) = items.iter().find(|l| l.id == f.item) else { continue };
        let parts = enlace_store::network::library_file_parts_tx(tx, f.id).await?;
        publish_file(tx, to, &l.data, f, text, &parts, now).await?;
        n += 1;
    }
    Ok(n)
}

/// At the hub: one part of a file a node's user sent (in the inbox's transaction). The item
/// must be one the author may change; the part is kept with what the whole is said to be.
/// When every part is held, [`App::finish_uploads`] reads and keeps the file.
pub(super) async fn receive_upload_part(
    tx: &mut Tx,
    sender: &str,
    author: &Author,
    actor: &Actor,
    p: Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct FilePart {
        #[allow(dead_code)]
        op: String,
        file: UploadDesc,
        part: WirePart,
    }
    let bad = |m: String| crate::fed::refused("bad-edit", m);
    let fp: FilePart =
        serde_json::from_value(Value::Object(p)).map_err(|e| bad(format!("file_part: {e}")))?;
    let (d, part) = (fp.file, fp.part);
    let size = usize::try_from(d.size).unwrap_or(0);
    if size == 0 || size > LIBRARY_FILE_MAX_BYTES || d.parts != part_count(size) as i64 {
        return Err(bad(format!("file_part: {} bytes in {} parts", d.size, d.parts)));
    }
    if part.file != d.id || !(0..d.parts).contains(&part.index) {
        return Err(bad(format!("file_part: part {} of a file of {} parts", part.index, d.parts)));
    }
    let content = B64.decode(part.content.as_bytes()).map_err(|e| bad(format!("file_part: {e}")))?;
    if content.is_empty() || content.len() > LIBRARY_FILE_PART_BYTES {
        return Err(bad(format!("file_part: a part of {} bytes", content.len())));
    }
    if FileKind::from_media_type(&d.content_type).is_none() {
        return Err(bad(format!("file_part: content type {:?} is not allowed", d.content_type)));
    }
    let l = enlace_store::network::library_item_tx(tx, d.item)
        .await?
        .ok_or(AppError::NotFound("library item"))?;
    may_change(actor, &l.data)?;
    let row = enlace_store::network::UploadRow {
        file_id: d.id,
        sender: sender.to_string(),
        parts: d.parts,
        data: json!({"file": d, "author": author}),
        received_at: now,
    };
    enlace_store::network::put_upload(tx, &row).await?;
    enlace_store::network::put_library_file_part(tx, d.id, part.index, &content).await?;
    Ok(())
}
