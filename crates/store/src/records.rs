//! Transitions, actions, attachments and consents of a case.

use chrono::{DateTime, Utc};
use enlace_domain::ids::{ActionId, AttachmentId, CaseId, ConsentId, TransitionId, UserId};
use enlace_domain::person::LongText;
use enlace_domain::record::{Action, ActionData, ActionKind, Attachment, Consent, Transition};
use enlace_domain::workflow::Status;

use crate::row::{RowExt, json, parse, parse_opt, to_json};
use crate::{Db, Inserts, StoreError, Tx, Val, on_read, on_tx};

pub async fn insert_transition(tx: &mut Tx, t: &Transition) -> Result<(), StoreError> {
    let mut ins = Inserts::default();
    push_transition(&mut ins, t);
    ins.execute(tx).await
}

pub(crate) fn push_transition(ins: &mut Inserts, t: &Transition) {
    let v = [
        Val::Uuid(t.id.0),
        Val::Uuid(t.case_id.0),
        Val::OptText(t.from.map(|s| s.as_str().to_string())),
        Val::Text(t.to.as_str().into()),
        Val::OptText(t.reason.clone()),
        Val::Uuid(t.actor.0),
        Val::Ts(t.at),
    ];
    let marks: Vec<String> = v.into_iter().map(|v| ins.arg(v)).collect();
    ins.push(format!(
        "INSERT INTO transitions (id, case_id, from_status, to_status, reason, actor, at) VALUES ({})",
        marks.join(", ")
    ));
}

fn transition_from_row(r: &impl RowExt) -> Result<Transition, StoreError> {
    Ok(Transition {
        id: TransitionId(r.uuid("id")?),
        case_id: CaseId(r.uuid("case_id")?),
        from: r.opt_text("from_status")?.map(|s| parse_opt("from_status", &s, Status::parse)).transpose()?,
        to: parse_opt("to_status", &r.text("to_status")?, Status::parse)?,
        reason: r.opt_text("reason")?,
        actor: UserId(r.uuid("actor")?),
        at: r.ts("at")?,
    })
}

pub async fn list_transitions(db: &Db, case: CaseId) -> Result<Vec<Transition>, StoreError> {
    on_read!(db, p => {
        let rows = sqlx::query("SELECT id, case_id, from_status, to_status, reason, actor, at FROM transitions WHERE case_id = $1 ORDER BY at, id")
            .bind(case.0).fetch_all(p).await?;
        rows.iter().map(transition_from_row).collect()
    })
}

pub async fn insert_action(tx: &mut Tx, a: &Action) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO actions (id, case_id, kind, occurred_at, text, author, created_at, follow_up_on)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(a.id.0).bind(a.case_id.0).bind(a.data.kind.as_str()).bind(a.data.occurred_at)
        .bind(a.data.text.as_str()).bind(a.author.0).bind(a.created_at).bind(a.data.follow_up_on).execute(&mut *c).await.map(|_| ())?);
    Ok(())
}

fn action_from_row(r: &impl RowExt) -> Result<Action, StoreError> {
    Ok(Action {
        id: ActionId(r.uuid("id")?),
        case_id: CaseId(r.uuid("case_id")?),
        data: ActionData {
            kind: parse_opt("kind", &r.text("kind")?, ActionKind::parse)?,
            occurred_at: r.ts("occurred_at")?,
            text: parse("text", &r.text("text")?, LongText::parse)?,
            follow_up_on: r.opt_date("follow_up_on")?,
        },
        author: UserId(r.uuid("author")?),
        created_at: r.ts("created_at")?,
    })
}

pub async fn list_actions(db: &Db, case: CaseId) -> Result<Vec<Action>, StoreError> {
    on_read!(db, p => {
        let rows = sqlx::query("SELECT id, case_id, kind, occurred_at, text, author, created_at, follow_up_on FROM actions WHERE case_id = $1 ORDER BY occurred_at, id")
            .bind(case.0).fetch_all(p).await?;
        rows.iter().map(action_from_row).collect()
    })
}

/// Stores an attachment; `sealed` says whether `content` is encrypted with the node key.
pub async fn insert_attachment(
    tx: &mut Tx,
    a: &Attachment,
    content: &[u8],
    sealed: bool,
) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO attachments (id, case_id, filename, content_type, size, sha256, content, uploaded_by, created_at,
                                  sealed)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
        .bind(a.id.0).bind(a.case_id.0).bind(&a.filename).bind(&a.content_type).bind(a.size)
        .bind(&a.sha256).bind(content.to_vec()).bind(a.uploaded_by.0).bind(a.created_at).bind(sealed)
        .execute(&mut *c).await.map(|_| ())?);
    Ok(())
}

const ATTACHMENT_COLS: &str = "id, case_id, filename, content_type, size, sha256, uploaded_by, created_at";

fn attachment_from_row(r: &impl RowExt) -> Result<Attachment, StoreError> {
    Ok(Attachment {
        id: AttachmentId(r.uuid("id")?),
        case_id: CaseId(r.uuid("case_id")?),
        filename: r.text("filename")?,
        content_type: r.text("content_type")?,
        size: r.int("size")?,
        sha256: r.text("sha256")?,
        uploaded_by: UserId(r.uuid("uploaded_by")?),
        created_at: r.ts("created_at")?,
    })
}

pub async fn list_attachments(db: &Db, case: CaseId) -> Result<Vec<Attachment>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {ATTACHMENT_COLS} FROM attachments WHERE case_id = $1 ORDER BY created_at, id"
    ));
    on_read!(db, p => {
        let rows = sqlx::query(sql).bind(case.0).fetch_all(p).await?;
        rows.iter().map(attachment_from_row).collect()
    })
}

/// An attachment's metadata and content.
pub async fn get_attachment(
    db: &Db,
    case: CaseId,
    id: AttachmentId,
) -> Result<Option<(Attachment, Vec<u8>, bool)>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {ATTACHMENT_COLS}, content, sealed FROM attachments WHERE case_id = $1 AND id = $2"
    ));
    on_read!(db, p => {
        let row = sqlx::query(sql).bind(case.0).bind(id.0).fetch_optional(p).await?;
        match row {
            Some(r) => Ok(Some((attachment_from_row(&r)?, r.bytes("content")?, r.boolean("sealed")?))),
            None => Ok(None),
        }
    })
}

pub async fn insert_consent(tx: &mut Tx, c: &Consent) -> Result<(), StoreError> {
    on_tx!(tx, conn => sqlx::query(
        "INSERT INTO consents (id, case_id, data, given_at, withdrawn_at, recorded_by) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(c.id.0).bind(c.case_id.0).bind(to_json(&c.data)).bind(c.data.given_at)
        .bind(c.withdrawn_at).bind(c.recorded_by.0).execute(&mut *conn).await.map(|_| ())?);
    Ok(())
}

fn consent_from_row(r: &impl RowExt) -> Result<Consent, StoreError> {
    Ok(Consent {
        id: ConsentId(r.uuid("id")?),
        case_id: CaseId(r.uuid("case_id")?),
        data: json("data", &r.text("data")?)?,
        withdrawn_at: r.opt_ts("withdrawn_at")?,
        recorded_by: UserId(r.uuid("recorded_by")?),
    })
}

pub async fn list_consents(db: &Db, case: CaseId) -> Result<Vec<Consent>, StoreError> {
    on_read!(db, p => {
        let rows = sqlx::query("SELECT id, case_id, data, given_at, withdrawn_at, recorded_by FROM consents WHERE case_id = $1 ORDER BY given_at, id")
            .bind(case.0).fetch_all(p).await?;
        rows.iter().map(consent_from_row).collect()
    })
}

/// [`list_consents`], inside a write transaction.
pub async fn list_consents_tx(tx: &mut Tx, case: CaseId) -> Result<Vec<Consent>, StoreError> {
    on_tx!(tx, c => {
        let rows = sqlx::query("SELECT id, case_id, data, given_at, withdrawn_at, recorded_by FROM consents WHERE case_id = $1 ORDER BY given_at, id")
            .bind(case.0).fetch_all(&mut *c).await?;
        rows.iter().map(consent_from_row).collect()
    })
}

/// Marks a consent withdrawn; false when it does not exist or was already withdrawn.
pub async fn withdraw_consent(
    tx: &mut Tx,
    case: CaseId,
    id: ConsentId,
    at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query(
        "UPDATE consents SET withdrawn_at = $1 WHERE id = $2 AND case_id = $3 AND withdrawn_at IS NULL")
        .bind(at).bind(id.0).bind(case.0).execute(&mut *c).await?.rows_affected());
    Ok(n == 1)
}
