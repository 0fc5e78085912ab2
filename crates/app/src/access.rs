//! Need-to-know: what each role may see and do. Every use case asks here.

use enlace_domain::case::Case;
use enlace_domain::country::CountryCode;
use enlace_domain::role::Role;
use enlace_domain::workflow::Status;
use enlace_store::cases::Scope;

use crate::{Actor, AppError};

/// The cases an actor may read.
pub fn case_scope(a: &Actor) -> Scope {
    let u = &a.user;
    match u.role {
        Role::ConsularOfficer => Scope::Posts { posts: u.post.iter().cloned().collect(), user: u.id },
        Role::ProtectionSupervisor | Role::LiaisonOfficer => Scope::States(vec![u.state]),
        Role::CountryAdministrator | Role::RegionalAnalyst | Role::Auditor | Role::CivilSocietyPartner => {
            Scope::Nothing
        }
    }
}

/// Whether the actor may read this case (the same rule as [`case_scope`], for one record).
pub fn can_read(a: &Actor, c: &Case) -> bool {
    match case_scope(a) {
        Scope::All => true,
        Scope::Nothing => false,
        Scope::States(states) => {
            states.contains(&c.owner_state) || c.assisting_state.is_some_and(|s| states.contains(&s))
        }
        Scope::Posts { posts, user } => {
            c.post.as_ref().is_some_and(|p| posts.contains(p)) || c.assigned_officer == Some(user)
        }
    }
}

/// May read restricted cases (children, sensitive facts) without breaking the glass.
pub fn may_read_restricted(a: &Actor) -> bool {
    a.user.sensitive_access
}

/// Only a protection supervisor breaks the glass.
pub fn can_break_glass(a: &Actor) -> Result<(), AppError> {
    require_role(a, &[Role::ProtectionSupervisor])
}

/// Roles that work cases.
pub fn require_case_worker(a: &Actor) -> Result<(), AppError> {
    match a.user.role {
        Role::ConsularOfficer | Role::ProtectionSupervisor | Role::LiaisonOfficer => Ok(()),
        r => Err(AppError::Forbidden(format!("a {r} does not work cases"))),
    }
}

/// May the actor register a case owned by `owner`, worked by a post of `post_state`?
/// Own nationals, or another member state's nationals assisted by one of the actor's own
/// posts (mutual consular assistance).
pub fn can_register(a: &Actor, owner: CountryCode, post_state: Option<CountryCode>) -> Result<(), AppError> {
    require_case_worker(a)?;
    if owner == a.user.state || post_state == Some(a.user.state) {
        Ok(())
    } else {
        Err(AppError::Forbidden(format!(
            "a user of {} may register cases of its own nationals, or assist others through its own posts",
            a.user.state
        )))
    }
}

/// Closing a case is the supervisor's decision.
pub fn can_transition(a: &Actor, to: Status) -> Result<(), AppError> {
    require_case_worker(a)?;
    if to == Status::Closed && a.user.role != Role::ProtectionSupervisor {
        return Err(AppError::Forbidden("only a protection supervisor closes a case".into()));
    }
    Ok(())
}

pub fn require_role(a: &Actor, roles: &[Role]) -> Result<(), AppError> {
    if roles.contains(&a.user.role) {
        Ok(())
    } else {
        Err(AppError::Forbidden(format!("a {} may not do this", a.user.role)))
    }
}
