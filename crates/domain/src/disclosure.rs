//! The disclosure rule: may this case's data go to this recipient for this purpose?
//!
//! One pure function, [`decide`], answers for every kind of disclosure (referrals, cross-border
//! sharing, statistics, the data subject's own access request). The federation and export code
//! ask it through the application layer, which logs every disclosure it allows.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::case::Case;
use crate::ids::ConsentId;
use crate::parts::ConsentScope;
use crate::person::ShortText;
use crate::record::Consent;

crate::str_enum! {
    /// Why data leaves the node.
    pub enum Purpose {
        /// Services for the person (a shelter, a lawyer, a hospital).
        Services = "services",
        /// A referral to a named recipient.
        Referral = "referral",
        /// Sharing with another state (mutual assistance, handover).
        CrossBorderSharing = "cross_border_sharing",
        Statistics = "statistics",
        /// The data subject's own access request.
        SubjectAccess = "subject_access",
    }
}

crate::str_enum! {
    /// Who receives the data.
    pub enum RecipientKind {
        /// Another state's consular service.
        State = "state",
        /// An organisation (shelter, NGO, hospital, child-protection authority).
        Organisation = "organisation",
        /// The host state's migration authority.
        MigrationAuthority = "migration_authority",
        /// The person themself (or their legal representative).
        DataSubject = "data_subject",
    }
}

crate::str_enum! {
    /// The recorded exceptions that allow a disclosure without consent.
    pub enum ExceptionKind {
        /// To protect the person's life or physical integrity.
        VitalInterest = "vital_interest",
        /// A notification the law makes mandatory (e.g. art. 36 VCCR, mandatory notification).
        MandatoryNotification = "mandatory_notification",
    }
}

/// A recorded exception, with its justification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Exception {
    pub kind: ExceptionKind,
    /// Why the exception applies (at least 20 characters).
    pub reason: ShortText,
}

/// What is to be disclosed, to whom and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"purpose": "referral", "recipient": "Hospital General de Tapachula",
    "recipient_kind": "organisation", "legal_instrument": "Ley General de Protección de Datos Personales, art. 22",
    "exception": {"kind": "vital_interest", "reason": "Found unconscious; the hospital needs the identity and medical history."}}))]
pub struct DisclosureRequest {
    pub purpose: Purpose,
    /// The named recipient: a state code for states, else the organisation's name.
    pub recipient: ShortText,
    pub recipient_kind: RecipientKind,
    /// The legal instrument the disclosure rests on (MoU, bilateral agreement, consent, law).
    pub legal_instrument: ShortText,
    /// When there is no consent covering it: the exception that applies.
    #[serde(default)]
    pub exception: Option<Exception>,
}

/// On what a disclosure was allowed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "basis", rename_all = "snake_case")]
pub enum Basis {
    Consent {
        consent: ConsentId,
    },
    Exception {
        kind: ExceptionKind,
        reason: String,
    },
    /// The person's own right of access.
    DataSubjectRight,
}

/// A disclosure as logged: what left the node, to whom, why, and on what basis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DisclosureRecord {
    pub id: uuid::Uuid,
    pub case_id: crate::ids::CaseId,
    pub case_number: String,
    pub owner_state: crate::country::CountryCode,
    pub at: DateTime<Utc>,
    pub actor: Option<crate::ids::UserId>,
    pub actor_name: String,
    pub purpose: Purpose,
    pub recipient: String,
    pub recipient_kind: RecipientKind,
    pub legal_instrument: String,
    pub basis: Basis,
}

/// Why a disclosure is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Child cases never go to host-state migration authorities, whatever the consent.
    ChildToMigrationAuthority,
    /// No consent covers it and no exception was recorded.
    NoConsent,
    /// Subject access goes to the data subject only.
    SubjectAccessToOther,
    /// The exception's reason is too short to justify anything.
    WeakException,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Refusal::ChildToMigrationAuthority => {
                "a child's case is never disclosed to the host state's migration authorities"
            }
            Refusal::NoConsent => {
                "no consent in force covers this purpose and recipient; record one, or record the exception \
                 (vital interest, mandatory notification) that applies"
            }
            Refusal::SubjectAccessToOther => "a subject access export goes to the data subject only",
            Refusal::WeakException => "explain the exception in at least 20 characters",
        })
    }
}

/// Whether `consent` covers `req` at `now`: in force, for this purpose, and for a referral or
/// cross-border sharing naming this recipient (when it names one).
fn covers(c: &Consent, req: &DisclosureRequest, now: DateTime<Utc>) -> bool {
    let in_force = c.data.given_at <= now && c.withdrawn_at.is_none_or(|w| w > now);
    let scope = match req.purpose {
        Purpose::Services => ConsentScope::Services,
        Purpose::Referral => ConsentScope::Referral,
        Purpose::CrossBorderSharing => ConsentScope::CrossBorderSharing,
        Purpose::Statistics => ConsentScope::Statistics,
        Purpose::SubjectAccess => return false,
    };
    let recipient_ok = match &c.data.recipient {
        None => req.purpose != Purpose::Referral,
        Some(r) => crate::text::fold(r.as_str()) == crate::text::fold(req.recipient.as_str()),
    };
    in_force && c.data.scope == scope && recipient_ok
}

/// The one rule for every disclosure.
pub fn decide(
    case: &Case,
    consents: &[Consent],
    req: &DisclosureRequest,
    now: DateTime<Utc>,
) -> Result<Basis, Refusal> {
    let child = case.parts.child.is_some()
        || case.vulnerabilities.iter().any(|v| {
            matches!(
                v,
                crate::case::Vulnerability::UnaccompaniedChild | crate::case::Vulnerability::SeparatedChild
            )
        });
    if child && req.recipient_kind == RecipientKind::MigrationAuthority {
        return Err(Refusal::ChildToMigrationAuthority);
    }
    if req.purpose == Purpose::SubjectAccess {
        return if req.recipient_kind == RecipientKind::DataSubject {
            Ok(Basis::DataSubjectRight)
        } else {
            Err(Refusal::SubjectAccessToOther)
        };
    }
    if let Some(c) = consents.iter().find(|c| covers(c, req, now)) {
        return Ok(Basis::Consent { consent: c.id });
    }
    match &req.exception {
        Some(e) if e.reason.as_str().chars().count() >= 20 => {
            Ok(Basis::Exception { kind: e.kind, reason: e.reason.to_string() })
        }
        Some(_) => Err(Refusal::WeakException),
        None => Err(Refusal::NoConsent),
    }
}
