use serde::Serialize;
use utoipa::ToSchema;

/// One problem with one field of the input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// Path of the field at fault, e.g. `person.given_names[0]`.
    pub field: String,
    /// What is wrong with it, in plain words.
    pub message: String,
}

/// All problems found in one input. Validation collects every error it can
/// instead of stopping at the first, so a form can show them all at once.
#[derive(Debug, Clone, Default, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.summary())]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    pub fn new() -> Self {
        Self(Vec::new())
    }
    pub fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut e = Self::new();
        e.push(field, message);
        e
    }
    pub fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError { field: field.into(), message: message.into() });
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Runs a parse step, recording its error under `field` and returning `None` on failure.
    pub fn check<T, E: std::fmt::Display>(&mut self, field: impl Into<String>, r: Result<T, E>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.push(field, e.to_string());
                None
            }
        }
    }
    /// Prefixes every field path, for nested structures.
    pub fn nest(mut self, prefix: &str) -> Self {
        for e in &mut self.0 {
            e.field = if e.field.is_empty() {
                prefix.to_string()
            } else if e.field.starts_with('[') {
                format!("{prefix}{}", e.field)
            } else {
                format!("{prefix}.{}", e.field)
            };
        }
        self
    }
    pub fn extend(&mut self, other: ValidationErrors) {
        self.0.extend(other.0);
    }
    pub fn into_result(self) -> Result<(), ValidationErrors> {
        if self.is_empty() { Ok(()) } else { Err(self) }
    }
    fn summary(&self) -> String {
        self.0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ")
    }
}
