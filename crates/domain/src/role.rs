use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a user does in the network. Scope rules live in the application layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    ConsularOfficer,
    ProtectionSupervisor,
    CountryAdministrator,
    LiaisonOfficer,
    RegionalAnalyst,
    Auditor,
    CivilSocietyPartner,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::ConsularOfficer,
        Role::ProtectionSupervisor,
        Role::CountryAdministrator,
        Role::LiaisonOfficer,
        Role::RegionalAnalyst,
        Role::Auditor,
        Role::CivilSocietyPartner,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Role::ConsularOfficer => "consular_officer",
            Role::ProtectionSupervisor => "protection_supervisor",
            Role::CountryAdministrator => "country_administrator",
            Role::LiaisonOfficer => "liaison_officer",
            Role::RegionalAnalyst => "regional_analyst",
            Role::Auditor => "auditor",
            Role::CivilSocietyPartner => "civil_society_partner",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}
