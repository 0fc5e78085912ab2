//! Subject access: everything the node holds about one person, in one document, for their
//! access request. Each case's release is a logged disclosure to the data subject.

use chrono::{DateTime, Utc};
use enlace_domain::disclosure::{DisclosureRequest, Purpose, RecipientKind};
use enlace_domain::ids::PersonId;
use enlace_domain::person::{Person, ShortText};
use enlace_domain::record::{Action, Attachment, Consent, Transition};
use enlace_domain::role::Role;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::cases::CaseView;
use crate::disclosure::Disclosure;
use crate::{Actor, App, AppError, access, event};

/// Who asked, and on what legal ground.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"requested_by": "María José Gutiérrez Hernández, in person at the consulate",
    "legal_instrument": "Ley de Transparencia y Acceso a la Información Pública, art. 4"}))]
pub struct SubjectAccessRequest {
    /// The person, or their legal representative, who asked.
    pub requested_by: ShortText,
    pub legal_instrument: ShortText,
}

/// One case as released to the person.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SubjectCase {
    pub case: CaseView,
    pub transitions: Vec<Transition>,
    pub actions: Vec<Action>,
    pub consents: Vec<Consent>,
    /// Attachments are listed; their files are released separately on request.
    pub attachments: Vec<Attachment>,
    /// To whom the case's data was disclosed before this request.
    pub disclosures: Vec<Disclosure>,
}

/// Everything held about a person.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SubjectAccessExport {
    pub generated_at: DateTime<Utc>,
    pub person: Person,
    pub cases: Vec<SubjectCase>,
}

impl App {
    /// Gathers everything about person `id` held in the cases the supervisor may read, and
    /// logs its release to the data subject.
    pub async fn subject_access(
        &self,
        actor: &Actor,
        id: PersonId,
        r: SubjectAccessRequest,
    ) -> Result<SubjectAccessExport, AppError> {
        self.guard(actor, access::require_role(actor, &[Role::ProtectionSupervisor])).await?;
        let case_ids = enlace_store::persons::case_ids(self.db(), id).await?;
        let mut cases = Vec::new();
        for case_id in case_ids {
            let Some(c) = enlace_store::cases::get_case(self.db(), case_id).await? else { continue };
            // Cases out of scope, or restricted without the permission, are not this
            // supervisor's to release.
            if !access::can_read(actor, &c) || (c.is_restricted() && !access::may_read_restricted(actor)) {
                continue;
            }
            let req = DisclosureRequest {
                purpose: Purpose::SubjectAccess,
                recipient: r.requested_by.clone(),
                recipient_kind: RecipientKind::DataSubject,
                legal_instrument: r.legal_instrument.clone(),
                exception: None,
            };
            let earlier = enlace_store::disclosures::for_case(self.db(), case_id).await?;
            self.disclose(actor, case_id, req).await?;
            cases.push(SubjectCase {
                case: self.get_case(actor, case_id).await?,
                transitions: enlace_store::records::list_transitions(self.db(), case_id).await?,
                actions: enlace_store::records::list_actions(self.db(), case_id).await?,
                consents: enlace_store::records::list_consents(self.db(), case_id).await?,
                attachments: enlace_store::records::list_attachments(self.db(), case_id).await?,
                disclosures: earlier,
            });
        }
        if cases.is_empty() {
            let hidden = AppError::Hidden {
                what: "person",
                id: id.to_string(),
                reason: "no case of the person in scope",
            };
            return self.guard(actor, Err(hidden)).await;
        }
        let person =
            enlace_store::persons::get_person(self.db(), id).await?.ok_or(AppError::NotFound("person"))?;
        let detail = serde_json::json!({"cases": cases.iter().map(|c| c.case.case.number.to_string()).collect::<Vec<_>>()});
        let ev = event(Some(actor), "person.subject_access", "person", Some(id.to_string()), detail);
        self.audit_alone(ev).await?;
        Ok(SubjectAccessExport { generated_at: enlace_store::now(), person, cases })
    }
}
