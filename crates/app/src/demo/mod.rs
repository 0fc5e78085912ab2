//! Demo data: accounts for every role, a few hand-written cases from the network's own work,
//! and a seeded generator of realistic synthetic cases (Latin American names with their
//! particles, realistic mixes of categories, subtypes, ages and vulnerability flags).

mod generate;
pub mod names;

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
    let mut v: Vec<(String, Role, &'static str, Option<&'static str>)> = Vec::new();
    v.push(("officer.hn.tapachula".into(), Role::ConsularOfficer, "HN", Some("HN-TAPACHULA")));
    v.push(("officer.hn.houston".into(), Role::ConsularOfficer, "HN", Some("HN-HOUSTON")));
    v.push(("officer.gt.tapachula".into(), Role::ConsularOfficer, "GT", Some("GT-TAPACHULA")));
    v.push(("officer.sv.tapachula".into(), Role::ConsularOfficer, "SV", Some("SV-TAPACHULA")));
    v.push(("officer.mx.houston".into(), Role::ConsularOfficer, "MX", Some("MX-HOUSTON")));
    for st in ["BZ", "CA", "CR", "DO", "GT", "HN", "MX", "NI", "PA", "SV", "US"] {
        v.push((format!("supervisor.{}", st.to_lowercase()), Role::ProtectionSupervisor, st, None));
    }
    v.push(("admin.hn".into(), Role::CountryAdministrator, "HN", None));
    v.push(("liaison.hn".into(), Role::LiaisonOfficer, "HN", None));
    v.push(("auditor.hn".into(), Role::Auditor, "HN", None));
    v.push(("analyst.crm".into(), Role::RegionalAnalyst, "HN", None));
    v.push(("partner.rrocm".into(), Role::CivilSocietyPartner, "HN", None));
    v
}

impl App {
    /// Creates the demo accounts that do not exist yet; returns all of them.
    pub async fn seed_demo_users(&self) -> Result<Vec<DemoLogin>, AppError> {
        let mut out = Vec::new();
        for (username, role, state, post) in demo_accounts() {
            let state = CountryCode::parse(state).expect("demo state");
            let post = post.map(|p| PostCode::parse(p).expect("demo post"));
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
                    },
                )
                .await?;
            }
            out.push(DemoLogin { username, role, state, post });
        }
        Ok(out)
    }

    /// The users that demo cases are attributed to: per state, its supervisor; per post, its officer.
    pub(crate) async fn demo_staff(&self) -> Result<(HashMap<CountryCode, User>, HashMap<PostCode, User>), AppError> {
        let mut by_state = HashMap::new();
        let mut by_post = HashMap::new();
        for u in enlace_store::users::list_users(self.db()).await? {
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
