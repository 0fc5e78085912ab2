//! Records attached to a case: status transitions, actions, attachments, consents.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ids::{ActionId, AttachmentId, CaseId, ConsentId, TransitionId, UserId};
use crate::parts::ConsentData;
use crate::person::LongText;
use crate::workflow::Status;

/// A recorded status change: who, when, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Transition {
    pub id: TransitionId,
    pub case_id: CaseId,
    /// None for the case's creation.
    pub from: Option<Status>,
    pub to: Status,
    pub reason: Option<String>,
    pub actor: UserId,
    pub at: DateTime<Utc>,
}

crate::str_enum! {
    pub enum ActionKind {
        Visit = "visit",
        Call = "call",
        LegalAid = "legal_aid",
        DocumentIssued = "document_issued",
        Payment = "payment",
        Note = "note",
    }
}

/// A new action, as entered by an officer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"kind": "visit", "occurred_at": "2026-11-20T15:30:00Z",
    "text": "Visita al albergue del DIF; el niño se encuentra en buen estado de salud."}))]
pub struct ActionData {
    pub kind: ActionKind,
    /// When it happened (may be earlier than when it is recorded).
    pub occurred_at: DateTime<Utc>,
    pub text: LongText,
    /// The day by which someone should follow this up (the worklist shows it when due).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_up_on: Option<chrono::NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Action {
    pub id: ActionId,
    pub case_id: CaseId,
    #[serde(flatten)]
    pub data: ActionData,
    pub author: UserId,
    pub created_at: DateTime<Utc>,
}

/// The content types an attachment may have; the bytes must match the declared type.
pub const ATTACHMENT_TYPES: &[&str] = &["application/pdf", "image/jpeg", "image/png", "text/plain"];
/// Largest attachment, in bytes.
pub const ATTACHMENT_MAX_BYTES: usize = 10 * 1024 * 1024;

/// Checks an upload: allowed type, size, and that the bytes are what the type says.
pub fn check_attachment(content_type: &str, bytes: &[u8]) -> Result<(), String> {
    let ct = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if !ATTACHMENT_TYPES.contains(&ct.as_str()) {
        return Err(format!(
            "content type \"{ct}\" is not allowed (allowed: {})",
            ATTACHMENT_TYPES.join(", ")
        ));
    }
    if bytes.is_empty() {
        return Err("the file is empty".into());
    }
    if bytes.len() > ATTACHMENT_MAX_BYTES {
        return Err(format!("the file is larger than {} bytes", ATTACHMENT_MAX_BYTES));
    }
    let ok = match ct.as_str() {
        "application/pdf" => bytes.starts_with(b"%PDF-"),
        "image/jpeg" => bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
        "image/png" => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "text/plain" => std::str::from_utf8(bytes).is_ok() && !bytes.contains(&0),
        _ => false,
    };
    if !ok {
        return Err(format!("the file's content is not {ct}"));
    }
    Ok(())
}

/// A file name as given, made safe: no path, no control characters, at most 200 characters.
pub fn clean_filename(name: &str) -> Result<String, String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("").trim();
    if base.is_empty() || base == "." || base == ".." {
        return Err("a file name is required".into());
    }
    if base.chars().any(char::is_control) {
        return Err("the file name contains control characters".into());
    }
    if base.chars().count() > 200 {
        return Err("the file name is longer than 200 characters".into());
    }
    Ok(base.to_string())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Attachment {
    pub id: AttachmentId,
    pub case_id: CaseId,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    /// SHA-256 of the content, lower-case hex.
    pub sha256: String,
    pub uploaded_by: UserId,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Consent {
    pub id: ConsentId,
    pub case_id: CaseId,
    #[serde(flatten)]
    pub data: ConsentData,
    pub withdrawn_at: Option<DateTime<Utc>>,
    pub recorded_by: UserId,
}

/// A break-glass grant: a supervisor's reasoned, time-limited access to a restricted case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct BreakGlassGrant {
    pub id: uuid::Uuid,
    pub user: UserId,
    pub username: String,
    pub case_id: CaseId,
    pub case_number: String,
    pub owner_state: crate::country::CountryCode,
    pub reason: String,
    pub at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachments_must_be_what_they_claim() {
        assert!(check_attachment("application/pdf", b"%PDF-1.7 ...").is_ok());
        assert!(check_attachment("application/pdf", b"MZ\x90\x00").is_err());
        assert!(check_attachment("image/png", b"%PDF-1.7").is_err());
        assert!(check_attachment("application/x-msdownload", b"MZ").is_err());
        assert!(check_attachment("text/plain", b"").is_err());
        assert!(check_attachment("text/plain; charset=utf-8", "hola".as_bytes()).is_ok());
        assert!(check_attachment("text/plain", b"\xff\xfe").is_err());
    }

    #[test]
    fn filenames_lose_their_path() {
        assert_eq!(clean_filename("C:\\x\\acta.pdf").unwrap(), "acta.pdf");
        assert_eq!(clean_filename("../../etc/passwd").unwrap(), "passwd");
        assert!(clean_filename("..").is_err());
        assert!(clean_filename("a\nb").is_err());
    }
}
