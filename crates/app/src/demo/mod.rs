//! Demo data: accounts for every role, a few hand-written cases from the network's own work,
//! and a seeded generator of realistic synthetic cases (Latin American names with their
//! particles, realistic mixes of categories, subtypes, ages and vulnerability flags).

mod generate;
pub mod names;
pub mod network;

use std::collections::HashMap;

use enlace_domain::country::CountryCode;
use enlace_domain::post::PostCode;
use enlace_domain::role::Role;
use enlace_domain::user::User;

pub use generate::{GenerateOptions, generate_cases};

use crate::auth::NewUser;
use crate::{App, AppError};

/// The password of every demo account. Demo nodes only: never use demo data in production.
pub const DEMO_PASSWORD: &str = "enlace-demo-2016";

/// One demo account to print.
#[derive(Debug, Clone)]
pub struct DemoLogin {
    pub username: String,
    pub role: Role,
    pub state: CountryCode,
    pub post: Option<PostCode>,
}

/// The demo accounts: a supervisor for every member state, and for Honduras every role.
fn demo_accounts() -> Vec<(String, Role, &'static str, Option<&'static str>)> {
    let officer = |name: &str, st, post| (name.to_string(), Role::ConsularOfficer, st, Some(post));
    let mut v = vec![
        officer("officer.hn.tapachula", "HN", "HN-TAPACHULA"),
        officer("officer.hn.houston", "HN", "HN-HOUSTON"),
        officer("officer.gt.tapachula", "GT", "GT-TAPACHULA"),
        officer("officer.sv.tapachula", "SV", "SV-TAPACHULA"),
        officer("officer.mx.houston", "MX", "MX-HOUSTON"),
    ];
    v.extend(
        ["BZ", "CA", "CR", "DO", "GT", "HN", "MX", "NI", "PA", "SV", "US"]
            .map(|st| (format!("supervisor.{}", st.to_lowercase()), Role::ProtectionSupervisor, st, None)),
    );
    v.extend([
        ("admin.hn".into(), Role::CountryAdministrator, "HN", None),
        ("liaison.hn".into(), Role::LiaisonOfficer, "HN", None),
        ("auditor.hn".into(), Role::Auditor, "HN", None),
        ("analyst.crm".into(), Role::RegionalAnalyst, "HN", None),
        ("partner.rrocm".into(), Role::CivilSocietyPartner, "HN", None),
    ]);
    v
}

impl App {
    /// Creates the demo accounts that do not exist yet; returns all of them.
    pub async fn seed_demo_users(&self) -> Result<Vec<DemoLogin>, AppError> {
        self.seed_demo_users_of(&[]).await
    }

    /// [`App::seed_demo_users`] for the accounts of `states` only (all when empty): a federated
    /// node has the staff of the states it serves.
    pub async fn seed_demo_users_of(&self, states: &[CountryCode]) -> Result<Vec<DemoLogin>, AppError> {
        let accounts = demo_accounts()
            .into_iter()
            .map(|(u, role, state, post)| {
                let post = post.map(|p| PostCode::parse(p).expect("demo post"));
                (u, role, CountryCode::parse(state).expect("demo state"), post)
            })
            .filter(|(_, _, state, _)| states.is_empty() || states.contains(state));
        self.seed_accounts(accounts.collect()).await
    }

    /// The hub's demo accounts (the Technical Secretariat, and a liaison officer of each of
    /// `states`, who keep the network's workspace) and, on first start, the workspace's demo
    /// data: the 2016 meeting, its agreements and events.
    pub async fn seed_hub_demo(&self, states: &[CountryCode]) -> Result<Vec<DemoLogin>, AppError> {
        let hn = CountryCode::parse("HN").expect("demo state");
        let mut accounts = vec![("secretariat.crm".to_string(), Role::RegionalAnalyst, hn, None)];
        for st in states {
            accounts.push((
                format!("liaison.{}", st.as_str().to_lowercase()),
                Role::LiaisonOfficer,
                *st,
                None,
            ));
        }
        let logins = self.seed_accounts(accounts).await?;
        let secretariat = self.actor_for("secretariat.crm").await?;
        if self.seed_network_demo(&secretariat).await? {
            // Each state's liaison officer puts its state's entry in the directory.
            for st in states {
                let liaison = self.actor_for(&format!("liaison.{}", st.as_str().to_lowercase())).await?;
                let data = network::demo_contact(*st);
                self.edit_workspace(&liaison, crate::network::Edit::Contact { id: None, data }).await?;
            }
        }
        Ok(logins)
    }

    async fn seed_accounts(
        &self,
        accounts: Vec<(String, Role, CountryCode, Option<PostCode>)>,
    ) -> Result<Vec<DemoLogin>, AppError> {
        let mut out = Vec::new();
        for (username, role, state, post) in accounts {
            if enlace_store::users::find_user_credentials(self.db(), &username).await?.is_none() {
                self.create_user(
                    None,
                    NewUser {
                        username: username.clone(),
                        display_name: None,
                        role,
                        state,
                        post: post.clone(),
                        password: DEMO_PASSWORD.into(),
                        // Supervisors, and the Honduran officer at Tapachula (who works
                        // the border's child cases), may read restricted cases.
                        sensitive_access: role == Role::ProtectionSupervisor
                            || username == "officer.hn.tapachula",
                    },
                )
                .await?;
            }
            out.push(DemoLogin { username, role, state, post });
        }
        Ok(out)
    }

    /// The users that demo cases are attributed to: per state, its supervisor; per post, its officer.
    pub(crate) async fn demo_staff(
        &self,
    ) -> Result<(HashMap<CountryCode, User>, HashMap<PostCode, User>), AppError> {
        let mut by_state = HashMap::new();
        let mut by_post = HashMap::new();
        for u in enlace_store::users::list_users(self.db(), None).await? {
            match (u.role, &u.post) {
                (Role::ProtectionSupervisor, _) => {
                    by_state.entry(u.state).or_insert(u);
                }
                (Role::ConsularOfficer, Some(p)) => {
                    by_post.entry(p.clone()).or_insert(u);
                }
                _ => {}
            }
        }
        Ok((by_state, by_post))
    }
}

impl App {
    /// A few hand-written cases that show what the network does: mutual assistance under the
    /// CA-4 + Dominican Republic MoU, an overdue art. 36 notification, a labour claim, a missing
    /// migrant. Registered through the normal use cases, so they obey every rule.
    pub async fn seed_showcase(&self) -> Result<Vec<String>, AppError> {
        let now = enlace_store::now();
        let iso = |h: i64| (now - chrono::Duration::hours(h)).to_rfc3339();
        let day = |d: i64| (now - chrono::Duration::days(d)).date_naive().to_string();
        let cases: Vec<(&str, serde_json::Value)> = vec![
            (
                "officer.gt.tapachula",
                serde_json::json!({
                    "person": {"given_names": ["Kevin", "Josué"], "surnames": ["Hernández", "Ramos"], "sex": "male",
                        "birth": {"kind": "estimated_age", "min_years": 14, "max_years": 15, "estimated_on": day(1)},
                        "birth_place": "Choloma, Cortés", "nationalities": ["HN"], "languages": ["es"]},
                    "owner_state": "HN", "post": "GT-TAPACHULA", "host_state": "MX",
                    "category": "migration", "subtype": "unaccompanied_child",
                    "vulnerabilities": ["unaccompanied_child"],
                    "protection": {"state": "not_possible", "reason": "child"}, "legal_basis": "mou_assistance",
                    "narrative": "Niño hondureño localizado solo en la central de autobuses de Tapachula. El consulado de Guatemala lo atiende bajo el Memorándum CA-4 + República Dominicana y notifica a Honduras.",
                    "child": {"accompaniment": "unaccompanied", "family_tracing": "in_progress",
                        "host_protection_authority": "Procuraduría de Protección de NNA, Chiapas", "home_protection_authority": "DINAF",
                        "child_views": "Quiere volver con su abuela en Choloma."}
                }),
            ),
            (
                "officer.mx.houston",
                serde_json::json!({
                    "person": {"given_names": ["José", "Guadalupe"], "surnames": ["Martínez", "de la Cruz"], "sex": "male",
                        "birth": {"kind": "date", "date": "1991-05-14"}, "birth_place": "Apatzingán, Michoacán",
                        "nationalities": ["MX"], "documents": [{"kind": "passport", "number": "G12345678", "issuing_state": "MX"}]},
                    "host_state": "US", "category": "migration", "subtype": "detention",
                    "protection": {"state": "pending"}, "legal_basis": "consular_function",
                    "detention": {"detained_at": iso(60), "place": "Houston Contract Detention Facility",
                        "authority": "Immigration and Customs Enforcement", "identified_as_foreign_at": iso(59),
                        "informed_of_right_at": iso(58), "notification_requested": true,
                        "notice_sent_at": iso(40), "notice_received_at": iso(39)}
                }),
            ),
            (
                "officer.sv.tapachula",
                serde_json::json!({
                    "person": {"given_names": ["Ana", "Gabriela"], "surnames": ["Orellana", "Portillo"], "sex": "female",
                        "birth": {"kind": "year", "year": 1996}, "birth_place": "Usulután, Usulután", "nationalities": ["SV"]},
                    "host_state": "MX", "category": "labour", "subtype": "unpaid_wages",
                    "protection": {"state": "accepted", "at": iso(20)}, "legal_basis": "consent",
                    "labour": {"employer": "Agrícola Los Pinos S.A. de C.V.", "sector": "agriculture", "claim_type": "unpaid_wages",
                        "permit_type": "Tarjeta de Visitante Trabajador Fronterizo", "amount_owed": {"minor_units": 1850000, "currency": "MXN"}}
                }),
            ),
            (
                "supervisor.gt",
                serde_json::json!({
                    "person": {"given_names": ["Marvin"], "surnames": ["Caal", "Xol"], "sex": "male",
                        "birth": {"kind": "year", "year": 2001}, "birth_place": "Cobán, Alta Verapaz", "nationalities": ["GT"],
                        "languages": ["kek", "es"], "interpreter_needed": true},
                    "host_state": "MX", "category": "human_rights", "subtype": "whereabouts",
                    "vulnerabilities": ["indigenous_language"],
                    "protection": {"state": "pending"}, "legal_basis": "vital_interest",
                    "missing": {"reported_by": "civil_society", "reporter_name": "Red Regional de Organizaciones Civiles para las Migraciones (RROCM)",
                        "last_seen_date": day(45), "last_seen_place": "Tenosique, Tabasco", "route": "La Bestia, ruta del Golfo"}
                }),
            ),
            (
                // The same man, written down by a hospital social worker: the missing-person
                // report above and this case meet in the review queue.
                "officer.gt.tapachula",
                serde_json::json!({
                    "person": {"given_names": ["Marbin"], "surnames": ["Cal"], "sex": "male",
                        "birth": {"kind": "estimated_age", "min_years": 23, "max_years": 27, "estimated_on": day(3)},
                        "nationalities": ["GT"], "languages": ["kek"], "interpreter_needed": true},
                    "post": "GT-TAPACHULA", "host_state": "MX", "category": "human_rights", "subtype": "medical_emergency",
                    "vulnerabilities": ["indigenous_language"],
                    "protection": {"state": "pending"}, "legal_basis": "vital_interest",
                    "narrative": "Hombre guatemalteco hospitalizado en Tapachula tras caer del tren; habla q'eqchi'. Dice llamarse Marbin Cal."
                }),
            ),
        ];
        let mut numbers = Vec::new();
        for (user, body) in cases {
            // On a federated demo node, the cases of staff this node does not have are another
            // node's to register.
            let actor = match self.actor_for(user).await {
                Ok(a) => a,
                Err(AppError::NotFound(_)) => continue,
                Err(e) => return Err(e),
            };
            let n: crate::cases::NewCase = serde_json::from_value(body)
                .map_err(|e| AppError::Rule(format!("showcase case is invalid: {e}")))?;
            numbers.push(self.create_case(&actor, n).await?.case.number.to_string());
        }
        Ok(numbers)
    }
}
