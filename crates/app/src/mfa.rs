//! Two-factor sign-in (TOTP, RFC 6238): enrolment with a QR code, recovery codes, and the
//! policy of who must use it (supervisors, administrators and auditors; everyone when the
//! state says so).

use base64::Engine;
use enlace_domain::country::CountryCode;
use enlace_domain::role::Role;
use enlace_domain::user::{User, UserKind};
use serde::{Deserialize, Serialize};
use totp_rs::{Algorithm, Totp};
use utoipa::ToSchema;

use crate::auth::secret_hash;
use crate::{Actor, App, AppError, access, audit, event};

const PURPOSE: &str = "totp/v1";
const RECOVERY_CODES: usize = 10;

/// Roles that always sign in with a second factor.
pub const MFA_ROLES: [Role; 3] = [Role::ProtectionSupervisor, Role::CountryAdministrator, Role::Auditor];

/// What the user needs to add the account to an authenticator app.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MfaEnrolment {
    /// The shared secret, base32 (to type in by hand).
    pub secret: String,
    /// The `otpauth://` URL the QR code holds.
    pub otpauth_url: String,
    /// The QR code, as an SVG image.
    pub qr_svg: String,
}

/// A code from the authenticator app (`POST /api/v1/auth/mfa/confirm`).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"code": "492039"}))]
pub struct MfaCode {
    pub code: String,
}

/// Recovery codes: each signs in once in place of a code. Shown once.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecoveryCodes {
    pub recovery_codes: Vec<String>,
}

/// A state's sign-in policy.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"mfa_for_all": true}))]
pub struct MfaPolicy {
    /// Everyone of the state signs in with a second factor (not only supervisors,
    /// administrators and auditors).
    pub mfa_for_all: bool,
}

fn totp(secret: Vec<u8>, user: &User) -> Result<Totp, AppError> {
    totp_rs::Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_secret(secret)
        .with_account_name(user.username.as_str())
        .with_issuer(Some(format!("Enlace {}", user.state)))
        .build()
        .map_err(|e| AppError::Unavailable(format!("two-factor setup failed: {e}")))
}

fn unix_now() -> u64 {
    enlace_store::now().timestamp().max(0) as u64
}

/// Recovery codes are compared without case, spaces or dashes.
fn normalise_recovery(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_lowercase()
}

impl App {
    /// Starts (or restarts) enrolment: a new secret, kept pending until a code from it is
    /// confirmed. Person accounts only.
    pub async fn start_mfa_enrolment(&self, actor: &Actor) -> Result<MfaEnrolment, AppError> {
        if actor.user.kind != UserKind::Person {
            return self
                .guard(actor, Err(AppError::Forbidden("integration accounts do not sign in".into())))
                .await;
        }
        let mut secret = [0u8; 20];
        getrandom::fill(&mut secret).map_err(|e| AppError::Unavailable(format!("no randomness: {e}")))?;
        let t = totp(secret.to_vec(), &actor.user)?;
        let url = t.to_url().map_err(|e| AppError::Unavailable(e.to_string()))?;
        let qr = qrcode::QrCode::new(url.as_bytes()).map_err(|e| AppError::Unavailable(e.to_string()))?;
        let qr_svg = qr.render::<qrcode::render::svg::Color>().min_dimensions(200, 200).build();
        let sealed = self.settings().node_key.seal(PURPOSE, actor.user.id.0.as_bytes(), &secret)?;
        let sealed = base64::engine::general_purpose::STANDARD.encode(sealed);
        let (uid, actor_w) = (actor.user.id, actor.clone());
        self.db()
            .write(move |tx| {
                let (sealed, actor) = (sealed.clone(), actor_w.clone());
                Box::pin(async move {
                    enlace_store::users::set_totp_pending(tx, uid, &sealed).await?;
                    audit(
                        tx,
                        event(
                            Some(&actor),
                            "auth.mfa_enrol",
                            "user",
                            Some(uid.to_string()),
                            serde_json::json!({}),
                        ),
                    )
                    .await
                })
            })
            .await?;
        let secret_b32 = totp_rs::Secret::from(secret.to_vec()).to_base32();
        Ok(MfaEnrolment { secret: secret_b32, otpauth_url: url, qr_svg })
    }

    /// Confirms enrolment with a code from the app; returns the recovery codes (shown once).
    pub async fn confirm_mfa(&self, actor: &Actor, code: &str) -> Result<RecoveryCodes, AppError> {
        let state = enlace_store::users::totp_state(self.db(), actor.user.id).await?;
        let pending = state.pending.ok_or_else(|| AppError::Rule("start enrolment first".into()))?;
        let secret = self.open_secret(actor.user.id, &pending)?;
        let step = totp(secret, &actor.user)?
            .check(code.trim(), unix_now())
            .ok_or_else(|| AppError::invalid("code", "is not the current code of the authenticator app"))?;
        let mut codes = Vec::new();
        for _ in 0..RECOVERY_CODES {
            let mut raw = [0u8; 8];
            getrandom::fill(&mut raw).map_err(|e| AppError::Unavailable(format!("no randomness: {e}")))?;
            let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
            codes.push(format!("{}-{}-{}-{}", &hex[0..4], &hex[4..8], &hex[8..12], &hex[12..16]));
        }
        let hashes: Vec<String> = codes.iter().map(|c| secret_hash(&normalise_recovery(c))).collect();
        let (uid, actor_w) = (actor.user.id, actor.clone());
        let done = self
            .db()
            .write(move |tx| {
                let (hashes, actor) = (hashes.clone(), actor_w.clone());
                Box::pin(async move {
                    let done = enlace_store::users::confirm_totp(tx, uid, step as i64, &hashes).await?;
                    if done {
                        audit(
                            tx,
                            event(
                                Some(&actor),
                                "auth.mfa_enabled",
                                "user",
                                Some(uid.to_string()),
                                serde_json::json!({}),
                            ),
                        )
                        .await?;
                    }
                    Ok::<_, AppError>(done)
                })
            })
            .await?;
        if !done {
            return Err(AppError::Rule("start enrolment first".into()));
        }
        self.forget_user_tokens(uid);
        Ok(RecoveryCodes { recovery_codes: codes })
    }

    fn open_secret(&self, user: enlace_domain::ids::UserId, sealed_b64: &str) -> Result<Vec<u8>, AppError> {
        let sealed = base64::engine::general_purpose::STANDARD
            .decode(sealed_b64)
            .map_err(|_| AppError::Unavailable("a stored two-factor secret is damaged".into()))?;
        self.settings().node_key.open(PURPOSE, user.0.as_bytes(), &sealed)
    }

    /// Checks a second factor at sign-in: a current TOTP code not used before, or an unused
    /// recovery code (which is then spent).
    pub(crate) async fn check_second_factor(&self, user: &User, code: &str) -> Result<bool, AppError> {
        let uid = user.id;
        if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
            let state = enlace_store::users::totp_state(self.db(), uid).await?;
            let Some(sealed) = state.secret else { return Ok(false) };
            let Some(step) = totp(self.open_secret(uid, &sealed)?, user)?.check(code, unix_now()) else {
                return Ok(false);
            };
            // A code is good once: the step must be later than the last one accepted.
            return self
                .db()
                .write(move |tx| {
                    Box::pin(async move {
                        Ok::<_, AppError>(enlace_store::users::take_totp_step(tx, uid, step as i64).await?)
                    })
                })
                .await;
        }
        let hash = secret_hash(&normalise_recovery(code));
        let now = enlace_store::now();
        let used = self
            .db()
            .write(move |tx| {
                let hash = hash.clone();
                Box::pin(async move {
                    let used = enlace_store::users::use_recovery_code(tx, uid, &hash, now).await?;
                    if used {
                        audit(
                            tx,
                            event(
                                None,
                                "auth.recovery_code_used",
                                "user",
                                Some(uid.to_string()),
                                serde_json::json!({}),
                            ),
                        )
                        .await?;
                    }
                    Ok::<_, AppError>(used)
                })
            })
            .await?;
        Ok(used)
    }

    /// Whether the user must enrol in two-factor sign-in before doing anything else.
    pub async fn must_enrol_mfa(&self, user: &User) -> Result<bool, AppError> {
        if !self.settings().enforce_mfa || user.mfa_enabled || user.kind != UserKind::Person {
            return Ok(false);
        }
        Ok(MFA_ROLES.contains(&user.role) || self.mfa_for_all(user.state).await?)
    }

    /// Refuses (audited) an actor who must enrol first.
    pub async fn require_enrolled(&self, actor: &Actor) -> Result<(), AppError> {
        if self.must_enrol_mfa(&actor.user).await? {
            let denied = AppError::Forbidden(
                "enrol in two-factor sign-in first (POST /api/v1/auth/mfa/enrol, then /api/v1/auth/mfa/confirm)".into(),
            );
            return self.guard(actor, Err(denied)).await;
        }
        Ok(())
    }

    async fn mfa_for_all(&self, state: CountryCode) -> Result<bool, AppError> {
        if let Some(p) = self.inner.mfa_policies.read().expect("policy lock").as_ref() {
            return Ok(p.get(&state).copied().unwrap_or(false));
        }
        let all: std::collections::HashMap<CountryCode, bool> = enlace_store::users::mfa_policies(self.db())
            .await?
            .into_iter()
            .filter_map(|(s, v)| CountryCode::parse(&s).ok().map(|s| (s, v)))
            .collect();
        let v = all.get(&state).copied().unwrap_or(false);
        *self.inner.mfa_policies.write().expect("policy lock") = Some(all);
        Ok(v)
    }

    /// The administrator's state's policy.
    pub async fn mfa_policy(&self, actor: &Actor) -> Result<MfaPolicy, AppError> {
        self.guard(actor, access::require_role(actor, &[Role::CountryAdministrator, Role::Auditor])).await?;
        Ok(MfaPolicy { mfa_for_all: self.mfa_for_all(actor.user.state).await? })
    }

    /// Sets whether everyone of the administrator's state signs in with a second factor.
    pub async fn set_mfa_policy(&self, actor: &Actor, p: MfaPolicy) -> Result<MfaPolicy, AppError> {
        self.guard(actor, access::require_role(actor, &[Role::CountryAdministrator])).await?;
        let (state, now, actor_w, all) =
            (actor.user.state, enlace_store::now(), actor.clone(), p.mfa_for_all);
        self.db()
            .write(move |tx| {
                let actor = actor_w.clone();
                Box::pin(async move {
                    enlace_store::users::set_mfa_policy(tx, state, all, now).await?;
                    let detail = serde_json::json!({"state": state, "mfa_for_all": all});
                    audit(tx, event(Some(&actor), "policy.mfa", "state", Some(state.to_string()), detail))
                        .await
                })
            })
            .await?;
        *self.inner.mfa_policies.write().expect("policy lock") = None;
        Ok(p)
    }
}
