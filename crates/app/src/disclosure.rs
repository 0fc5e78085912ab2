//! Disclosures: every time a case's data leaves the node. [`App::disclose`] is the one door:
//! it asks the domain rule, and logs what it allows (purpose, recipient, legal instrument,
//! basis) and audits it, in one transaction. Federation and exports go through it.

use chrono::{DateTime, Utc};
use enlace_domain::case::Case;
use enlace_domain::disclosure::{DisclosureRequest, decide};
use enlace_domain::ids::CaseId;
use enlace_domain::role::Role;
use enlace_store::Tx;
use serde_json::json;
use uuid::Uuid;

use crate::{Actor, App, AppError, access, audit, event};

/// A logged disclosure (the domain's record).
pub use enlace_domain::disclosure::DisclosureRecord as Disclosure;

impl App {
    /// Decides and records a disclosure of case `id`. Refused (403, audited) when no consent
    /// in force covers it and no exception is recorded, or when the rule forbids it outright.
    pub async fn disclose(
        &self,
        actor: &Actor,
        id: CaseId,
        req: DisclosureRequest,
    ) -> Result<Disclosure, AppError> {
        self.guard(actor, access::require_case_worker(actor)).await?;
        let actor_w = actor.clone();
        let result = self
            .write_as(actor, move |tx| {
                let (actor, req) = (actor_w.clone(), req.clone());
                Box::pin(async move {
                    let c = Self::load_for_change(tx, &actor, id).await?;
                    let d = record_disclosure(tx, &actor, &c, &req, enlace_store::now()).await?;
                    Ok(d)
                })
            })
            .await;
        // A refusal by the rule is a denial, audited as one by `write_as`.
        result
    }

    /// The disclosures of a case (for those who may read it).
    pub async fn case_disclosures(&self, actor: &Actor, id: CaseId) -> Result<Vec<Disclosure>, AppError> {
        self.read_case_for(actor, id, "disclosures").await?;
        Ok(enlace_store::disclosures::for_case(self.db(), id).await?)
    }

    /// The disclosures of the auditor's state's cases, newest first.
    pub async fn state_disclosures(&self, actor: &Actor) -> Result<Vec<Disclosure>, AppError> {
        self.guard(actor, access::require_role(actor, &[Role::Auditor])).await?;
        Ok(enlace_store::disclosures::for_state(self.db(), actor.user.state, 1000).await?)
    }
}

/// Applies the consent gate and logs the disclosure, in the caller's transaction.
pub(crate) async fn record_disclosure(
    tx: &mut Tx,
    actor: &Actor,
    c: &Case,
    req: &DisclosureRequest,
    now: DateTime<Utc>,
) -> Result<Disclosure, AppError> {
    let consents = enlace_store::records::list_consents_tx(tx, c.id).await?;
    let basis = decide(c, &consents, req, now).map_err(|r| AppError::Forbidden(r.to_string()))?;
    let d = Disclosure {
        id: Uuid::now_v7(),
        case_id: c.id,
        case_number: c.number.to_string(),
        owner_state: c.owner_state,
        at: now,
        actor: Some(actor.user.id),
        actor_name: actor.user.username.to_string(),
        purpose: req.purpose,
        recipient: req.recipient.to_string(),
        recipient_kind: req.recipient_kind,
        legal_instrument: req.legal_instrument.to_string(),
        basis,
    };
    enlace_store::disclosures::insert(tx, &d).await?;
    let detail = json!({"number": c.number, "disclosure": d.id, "purpose": d.purpose,
        "recipient": d.recipient, "legal_instrument": d.legal_instrument, "basis": d.basis});
    audit(tx, event(Some(actor), "case.disclosure", "case", Some(c.id.to_string()), detail)).await?;
    Ok(d)
}
