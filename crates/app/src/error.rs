use enlace_domain::ValidationErrors;
use enlace_store::{FromStore, StoreError};

/// What can go wrong in a use case. The web layer maps each to one HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The input is wrong; every field at fault is named.
    #[error("invalid input: {0}")]
    Validation(ValidationErrors),
    /// Missing, or not visible to this actor (the two are indistinguishable on purpose).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The record exists but the actor may not see it. Use cases turn this into an audited
    /// [`AppError::NotFound`] (see `App::guard`); it never reaches a client as such.
    #[error("{what} not found")]
    Hidden { what: &'static str, id: String, reason: &'static str },
    /// The actor's role does not allow this operation at all.
    #[error("not allowed: {0}")]
    Forbidden(String),
    #[error("authentication required: {0}")]
    Unauthorized(String),
    /// The password was right; the account signs in with a second factor too.
    #[error("this account signs in with a second factor: send the code of the authenticator app")]
    MfaRequired,
    /// Too many failed sign-ins for this account or from this address; try again later.
    #[error("too many failed sign-ins; try again in {retry_after_secs} s")]
    TooManyAttempts { retry_after_secs: u64 },
    /// The record changed since the caller read it (stale version).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The request is understood but breaks a rule of the workflow.
    #[error("{0}")]
    Rule(String),
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// A federation message or step was refused; `code` names why (stable, for peers and
    /// tests), `retryable` says whether the same message may pass later.
    #[error("{message}")]
    Federation { code: String, message: String, retryable: bool },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ValidationErrors> for AppError {
    fn from(e: ValidationErrors) -> Self {
        AppError::Validation(e)
    }
}

impl FromStore for AppError {
    fn retryable(&self) -> bool {
        matches!(self, AppError::Store(e) if e.is_retryable())
    }
}

impl AppError {
    pub fn invalid(field: &str, message: impl Into<String>) -> AppError {
        AppError::Validation(ValidationErrors::single(field, message))
    }
}
