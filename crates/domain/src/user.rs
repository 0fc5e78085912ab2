use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::country::CountryCode;
use crate::ids::UserId;
use crate::post::PostCode;
use crate::role::Role;

/// A user name: 3 to 64 of a-z, 0-9, `.`, `_`, `-`, starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = String, example = "ana.lopez")]
pub struct Username(String);

impl Username {
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = s.trim().to_ascii_lowercase();
        let ok = (3..=64).contains(&t.len())
            && t.starts_with(|c: char| c.is_ascii_lowercase())
            && t.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
        if ok {
            Ok(Username(t))
        } else {
            Err(format!(
                "\"{s}\" is not a valid user name (3 to 64 of a-z, 0-9, '.', '_', '-', starting with a letter)"
            ))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Username {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(&self.0)
    }
}

/// A user account (without its credentials).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct User {
    pub id: UserId,
    pub username: Username,
    pub display_name: String,
    pub role: Role,
    /// The state the user works for.
    pub state: CountryCode,
    /// The post the user belongs to, for officers.
    pub post: Option<PostCode>,
    pub disabled: bool,
    /// May read child (NNA) cases and sensitive fields (health, gender-based violence,
    /// trafficking details).
    pub sensitive_access: bool,
    /// A person who signs in, or an integration that only holds API tokens.
    pub kind: UserKind,
    /// Signs in with a second factor (TOTP).
    pub mfa_enabled: bool,
    /// The language the user chose for the web interface (`es`, `en`, `fr`); none: the
    /// browser's.
    pub locale: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Who an account is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UserKind {
    Person,
    Integration,
}

impl UserKind {
    pub fn as_str(self) -> &'static str {
        match self {
            UserKind::Person => "person",
            UserKind::Integration => "integration",
        }
    }
    pub fn parse(s: &str) -> Option<UserKind> {
        [UserKind::Person, UserKind::Integration].into_iter().find(|k| k.as_str() == s)
    }
}
