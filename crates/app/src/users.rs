//! Account administration by a country administrator, for their own state: list, create,
//! change role or post, disable, grant the sensitive-data permission, reset the second factor.

use enlace_domain::ids::UserId;
use enlace_domain::post::PostCode;
use enlace_domain::role::Role;
use enlace_domain::user::{User, UserKind};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::NewUser;
use crate::{Actor, App, AppError, access, audit, event};

/// A new account (`POST /api/v1/admin/users`), of the administrator's state.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"username": "rosa.mejia", "display_name": "Rosa Mejía", "role": "consular_officer",
    "post": "HN-TAPACHULA", "password": "una frase larga y propia", "sensitive_access": false}))]
pub struct NewAccount {
    pub username: String,
    #[serde(default)]
    pub display_name: Option<String>,
    pub role: Role,
    #[serde(default)]
    pub post: Option<PostCode>,
    /// The first password; the user should change it.
    pub password: String,
    #[serde(default)]
    pub sensitive_access: bool,
}

/// Changes to an account; what is absent stays as it is.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"disabled": true}))]
pub struct AccountChange {
    pub display_name: Option<String>,
    pub role: Option<Role>,
    /// A post code; `null` removes the post.
    #[serde(default, deserialize_with = "crate::cases::nullable")]
    pub post: Option<Option<PostCode>>,
    /// A disabled account cannot sign in; its sessions and tokens end at once.
    pub disabled: Option<bool>,
    pub sensitive_access: Option<bool>,
    /// Removes the second factor (a lost phone): the user enrols again at next sign-in.
    #[serde(default)]
    pub reset_mfa: bool,
}

impl App {
    /// The accounts of the administrator's state.
    pub async fn users(&self, actor: &Actor) -> Result<Vec<User>, AppError> {
        self.guard(actor, access::require_role(actor, &[Role::CountryAdministrator])).await?;
        Ok(enlace_store::users::list_users(self.db(), Some(actor.user.state)).await?)
    }

    /// Creates an account of the administrator's state.
    pub async fn create_account(&self, actor: &Actor, n: NewAccount) -> Result<User, AppError> {
        let new = NewUser {
            username: n.username,
            display_name: n.display_name,
            role: n.role,
            state: actor.user.state,
            post: n.post,
            password: n.password,
            sensitive_access: n.sensitive_access,
        };
        self.create_user(Some(actor), new).await
    }

    /// Changes an account of the administrator's state (not their own role or access).
    pub async fn change_account(
        &self,
        actor: &Actor,
        id: UserId,
        ch: AccountChange,
    ) -> Result<User, AppError> {
        self.guard(actor, access::require_role(actor, &[Role::CountryAdministrator])).await?;
        let found = enlace_store::users::get_user(self.db(), id).await?;
        let mut u = match found {
            Some(u) if u.state == actor.user.state && u.kind == UserKind::Person => u,
            Some(u) => {
                let hidden = AppError::Hidden {
                    what: "user",
                    id: u.id.to_string(),
                    reason: "another state's account",
                };
                return self.guard(actor, Err(hidden)).await;
            }
            None => return Err(AppError::NotFound("user")),
        };
        if u.id == actor.user.id && (ch.role.is_some() || ch.disabled == Some(true)) {
            return Err(AppError::Rule(
                "administrators do not change their own role or disable themselves".into(),
            ));
        }
        let mut e = enlace_domain::ValidationErrors::new();
        if let Some(name) = &ch.display_name {
            match enlace_domain::text::clean_text(name, 200) {
                Ok(n) if !n.is_empty() => u.display_name = n,
                Ok(_) => e.push("display_name", "must not be empty"),
                Err(m) => e.push("display_name", m),
            }
        }
        if let Some(r) = ch.role {
            u.role = r;
        }
        if let Some(p) = &ch.post {
            u.post = p.clone();
        }
        if let Some(p) = &u.post {
            match enlace_store::users::get_post(self.db(), p).await? {
                Some(post) if post.state == u.state => {}
                _ => e.push("post", format!("no post {p} of {}", u.state)),
            }
        }
        if u.role == Role::ConsularOfficer && u.post.is_none() {
            e.push("post", "a consular officer belongs to a post");
        }
        e.into_result()?;
        if let Some(d) = ch.disabled {
            u.disabled = d;
        }
        if let Some(s) = ch.sensitive_access {
            u.sensitive_access = s;
        }
        if ch.reset_mfa {
            u.mfa_enabled = false;
        }
        let ends_access = u.disabled || ch.reset_mfa;
        let detail = serde_json::json!({"username": u.username, "role": u.role, "post": u.post, "disabled": u.disabled,
            "sensitive_access": u.sensitive_access, "reset_mfa": ch.reset_mfa});
        let (actor_w, changed) = (actor.clone(), u.clone());
        self.db()
            .write(move |tx| {
                let (actor, u, detail) = (actor_w.clone(), changed.clone(), detail.clone());
                Box::pin(async move {
                    enlace_store::users::update_user(tx, &u).await?;
                    if ch.reset_mfa {
                        enlace_store::users::reset_totp(tx, u.id).await?;
                    }
                    if ends_access {
                        enlace_store::sessions::delete_for_user(tx, u.id).await?;
                        enlace_store::users::delete_user_tokens(tx, u.id).await?;
                    }
                    audit(tx, event(Some(&actor), "user.change", "user", Some(u.id.to_string()), detail))
                        .await
                })
            })
            .await?;
        self.forget_user_tokens(u.id);
        Ok(u)
    }
}

impl App {
    /// The operator's way back for a user who lost their second factor and recovery codes
    /// (the command line, with access to the node): the user enrols again at next sign-in.
    pub async fn reset_mfa_by_operator(&self, username: &str) -> Result<User, AppError> {
        let (user, _) = enlace_store::users::find_user_credentials(self.db(), username.trim())
            .await?
            .ok_or(AppError::NotFound("user"))?;
        let uid = user.id;
        let detail = serde_json::json!({"username": user.username, "by": "operator"});
        self.db()
            .write(move |tx| {
                let detail = detail.clone();
                Box::pin(async move {
                    enlace_store::users::reset_totp(tx, uid).await?;
                    enlace_store::sessions::delete_for_user(tx, uid).await?;
                    enlace_store::users::delete_user_tokens(tx, uid).await?;
                    audit(tx, event(None, "user.reset_mfa", "user", Some(uid.to_string()), detail)).await
                })
            })
            .await?;
        self.forget_user_tokens(uid);
        Ok(user)
    }
}

/// The languages of the web interface.
pub const LOCALES: &[&str] = &["es", "en", "fr"];

impl App {
    /// Remembers the actor's interface language (`None`: follow the browser's).
    pub async fn set_locale(&self, actor: &Actor, locale: Option<String>) -> Result<(), AppError> {
        if let Some(l) = &locale
            && !LOCALES.contains(&l.as_str())
        {
            return Err(AppError::invalid("locale", format!("\"{l}\" is not one of es, en, fr")));
        }
        let ev = event(
            Some(actor),
            "user.locale",
            "user",
            Some(actor.user.id.to_string()),
            serde_json::json!({ "locale": locale }),
        );
        let id = actor.user.id;
        self.db()
            .write(move |tx| {
                let (ev, locale) = (ev.clone(), locale.clone());
                Box::pin(async move {
                    enlace_store::users::set_locale(tx, id, locale.as_deref()).await?;
                    audit(tx, ev).await
                })
            })
            .await
    }
}
