//! Optional sign-in with the state's own identity provider (OpenID Connect, authorization code
//! flow with PKCE). The provider proves who the person is; the account, its role and its scope
//! stay Enlace's: the user must already exist here, found by the provider's
//! `preferred_username` (or `email`) claim.
//!
//! Two-factor sign-in: an account that signs in here with a second factor may use the provider
//! only if the provider says it used one too (`amr` containing `mfa`, `otp`, `hwk` or `swk`).

use enlace_domain::user::UserKind;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};

use crate::auth::{NewSession, secret_hash};
use crate::{App, AppError, event};

/// How the node talks to the state's identity provider.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// The provider's issuer URL (its discovery document is under it).
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// This node's callback: `https://…/api/v1/auth/oidc/callback`.
    pub redirect_url: String,
    /// The claim that names the Enlace account: `preferred_username` or `email`.
    pub username_claim: String,
}

/// A sign-in under way stays valid this long.
const PENDING_FOR: chrono::Duration = chrono::Duration::minutes(10);
/// `amr` values that mean the provider used a second factor.
const SECOND_FACTORS: [&str; 4] = ["mfa", "otp", "hwk", "swk"];

fn unavailable(what: &str, e: impl std::fmt::Display) -> AppError {
    AppError::Unavailable(format!("identity provider: {what}: {e}"))
}

impl App {
    fn oidc_settings(&self) -> Result<&OidcSettings, AppError> {
        self.settings().oidc.as_ref().ok_or(AppError::NotFound("identity provider sign-in (not configured)"))
    }

    fn http(&self) -> Result<openidconnect::reqwest::Client, AppError> {
        // No redirects: a provider answer that redirects could be used to reach internal hosts.
        openidconnect::reqwest::ClientBuilder::new()
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| unavailable("HTTP client", e))
    }

    async fn oidc_client(
        &self,
        http: &openidconnect::reqwest::Client,
    ) -> Result<
        CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        AppError,
    > {
        let s = self.oidc_settings()?;
        let issuer = IssuerUrl::new(s.issuer.clone()).map_err(|e| unavailable("issuer URL", e))?;
        let meta = CoreProviderMetadata::discover_async(issuer, http)
            .await
            .map_err(|e| unavailable("discovery", e))?;
        let redirect =
            RedirectUrl::new(s.redirect_url.clone()).map_err(|e| unavailable("redirect URL", e))?;
        Ok(CoreClient::from_provider_metadata(
            meta,
            ClientId::new(s.client_id.clone()),
            Some(ClientSecret::new(s.client_secret.clone())),
        )
        .set_redirect_uri(redirect))
    }

    /// Begins a sign-in: the provider's authorization URL to send the browser to.
    pub async fn start_oidc(&self) -> Result<String, AppError> {
        let http = self.http()?;
        let client = self.oidc_client(&http).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("profile".into()))
            .add_scope(Scope::new("email".into()))
            .set_pkce_challenge(challenge)
            .url();
        let (state_hash, nonce, verifier) =
            (secret_hash(state.secret()), nonce.secret().clone(), verifier.secret().clone());
        let now = enlace_store::now();
        self.db()
            .write(move |tx| {
                let (h, n, v) = (state_hash.clone(), nonce.clone(), verifier.clone());
                Box::pin(async move {
                    Ok::<_, AppError>(enlace_store::sessions::insert_oidc_pending(tx, &h, &n, &v, now).await?)
                })
            })
            .await?;
        Ok(url.to_string())
    }

    /// Completes a sign-in from the provider's answer (`code`, `state`): checks the ID token
    /// (signature, issuer, audience, expiry, nonce), finds the account, opens a session.
    /// Every refusal is audited.
    pub async fn finish_oidc(
        &self,
        code: &str,
        state: &str,
        source: Option<String>,
    ) -> Result<NewSession, AppError> {
        let settings = self.oidc_settings()?.clone();
        let now = enlace_store::now();
        let state_hash = secret_hash(state);
        let pending = self
            .db()
            .write(move |tx| {
                let h = state_hash.clone();
                Box::pin(async move {
                    Ok::<_, AppError>(
                        enlace_store::sessions::take_oidc_pending(tx, &h, now - PENDING_FOR).await?,
                    )
                })
            })
            .await?;
        let refuse = async |reason: String, username: Option<String>| -> AppError {
            self.note_login_failure();
            let detail = serde_json::json!({"via": "oidc", "reason": reason, "username": username});
            let ev = event(None, "auth.login_failed", "user", None, detail);
            let ev = enlace_domain::audit::AuditEvent { source: source.clone(), ..ev };
            match self.audit_alone(ev).await {
                Ok(()) => {
                    AppError::Unauthorized(format!("sign-in with the identity provider failed: {reason}"))
                }
                Err(e) => e,
            }
        };
        let Some((nonce, verifier)) = pending else {
            return Err(refuse("unknown, used or expired sign-in state".into(), None).await);
        };
        let http = self.http()?;
        let client = self.oidc_client(&http).await?;
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| unavailable("token endpoint", e))?
            .set_pkce_verifier(PkceCodeVerifier::new(verifier))
            .request_async(&http)
            .await;
        let token = match token {
            Ok(t) => t,
            Err(e) => return Err(refuse(format!("the code was not accepted ({e})"), None).await),
        };
        let Some(id_token) = token.id_token() else {
            return Err(refuse("no ID token in the answer".into(), None).await);
        };
        let claims = match id_token.claims(&client.id_token_verifier(), &Nonce::new(nonce)) {
            Ok(c) => c,
            Err(e) => return Err(refuse(format!("the ID token is not valid ({e})"), None).await),
        };
        let name = match settings.username_claim.as_str() {
            "email" => claims.email().map(|e| e.as_str().to_string()),
            _ => claims.preferred_username().map(|u| u.as_str().to_string()),
        };
        let Some(name) = name.map(|n| n.trim().to_lowercase()) else {
            return Err(refuse(format!("the ID token has no {} claim", settings.username_claim), None).await);
        };
        let user = match enlace_store::users::find_user_credentials(self.db(), &name).await? {
            Some((u, _)) if !u.disabled && u.kind == UserKind::Person => u,
            _ => return Err(refuse("no such active account here".into(), Some(name)).await),
        };
        let provider_mfa = claims
            .auth_method_refs()
            .is_some_and(|amr| amr.iter().any(|m| SECOND_FACTORS.contains(&m.as_str())));
        if user.mfa_enabled && !provider_mfa {
            let reason =
                "this account uses a second factor and the identity provider did not assert one".into();
            return Err(refuse(reason, Some(name)).await);
        }
        self.create_session(user, source, "oidc").await
    }
}
