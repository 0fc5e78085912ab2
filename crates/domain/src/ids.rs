//! Identifiers. All keys are UUIDv7 made by the application (time-ordered, no sequence).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
        #[serde(transparent)]
        #[schema(value_type = String, format = Uuid)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new time-ordered identifier (UUIDv7).
            pub fn new_v7() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(/// A case.
    CaseId);
id_type!(/// A person (data subject).
    PersonId);
id_type!(/// A user account.
    UserId);
id_type!(/// An action recorded on a case.
    ActionId);
id_type!(/// An attachment of a case.
    AttachmentId);
id_type!(/// A status transition of a case.
    TransitionId);
id_type!(/// A consent record.
    ConsentId);
id_type!(/// An audit event.
    AuditEventId);
