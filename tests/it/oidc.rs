//! Sign-in with a state's identity provider (OpenID Connect), against a mock provider on
//! loopback that signs real RS256 ID tokens: PKCE, state and nonce are checked, tokens signed
//! by another key or for another nonce are refused, and accounts with a second factor need the
//! provider to assert one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use enlace_app::Settings;
use enlace_app::oidc::OidcSettings;
use openidconnect::core::{
    CoreIdToken, CoreIdTokenClaims, CoreJsonWebKeySet, CoreJwsSigningAlgorithm, CoreRsaPrivateSigningKey,
};
use openidconnect::{
    Audience, AuthenticationMethodReference, EmptyAdditionalClaims, EndUserUsername, IssuerUrl, Nonce,
    PrivateSigningKey, StandardClaims, SubjectIdentifier,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::harness::{Backend, TestApp, spawn_app, spawn_app_with};

const KEY: &str = include_str!("data/mock-idp-rsa.pem");
const CLIENT_ID: &str = "enlace-hn";

/// What the mock provider knows about a code it issued.
#[derive(Clone)]
struct Grant {
    user: String,
    nonce: String,
    challenge: String,
    amr: Option<String>,
    /// "nonce": sign for another nonce; "key": sign with a key not in the JWKS.
    evil: Option<String>,
}

#[derive(Clone)]
struct Idp {
    issuer: String,
    grants: Arc<Mutex<HashMap<String, Grant>>>,
}

fn key() -> CoreRsaPrivateSigningKey {
    CoreRsaPrivateSigningKey::from_pem(KEY, Some(openidconnect::JsonWebKeyId::new("k1".into()))).unwrap()
}

async fn discovery(State(idp): State<Idp>) -> Response {
    let i = &idp.issuer;
    axum::Json(json!({
        "issuer": i, "authorization_endpoint": format!("{i}/authorize"), "token_endpoint": format!("{i}/token"),
        "jwks_uri": format!("{i}/jwks"), "response_types_supported": ["code"],
        "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": ["RS256"]
    }))
    .into_response()
}

async fn jwks() -> Response {
    axum::Json(serde_json::to_value(CoreJsonWebKeySet::new(vec![key().as_verification_key()])).unwrap())
        .into_response()
}

/// The person "signs in" as `login_as`; the provider sends the browser back with a code.
async fn authorize(State(idp): State<Idp>, Query(q): Query<HashMap<String, String>>) -> Response {
    assert_eq!(q["client_id"], CLIENT_ID);
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["code_challenge_method"], "S256", "PKCE is used");
    let code = format!("code-{}", uuid::Uuid::now_v7().simple());
    idp.grants.lock().unwrap().insert(
        code.clone(),
        Grant {
            user: q["login_as"].clone(),
            nonce: q["nonce"].clone(),
            challenge: q["code_challenge"].clone(),
            amr: q.get("amr").cloned(),
            evil: q.get("evil").cloned(),
        },
    );
    let to = format!("{}?code={code}&state={}", q["redirect_uri"], q["state"]);
    (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response()
}

async fn token(State(idp): State<Idp>, headers: HeaderMap, body: String) -> Response {
    assert!(headers.contains_key(header::AUTHORIZATION), "the client authenticates");
    let form: HashMap<&str, &str> = body.split('&').filter_map(|kv| kv.split_once('=')).collect();
    let Some(g) = idp.grants.lock().unwrap().remove(form["code"]) else {
        return (StatusCode::BAD_REQUEST, axum::Json(json!({"error": "invalid_grant"}))).into_response();
    };
    // PKCE: the verifier must hash to the challenge sent at the start.
    let hashed = base64url(&Sha256::digest(form["code_verifier"].as_bytes()));
    if hashed != g.challenge {
        return (StatusCode::BAD_REQUEST, axum::Json(json!({"error": "invalid_grant"}))).into_response();
    }
    let now = chrono::Utc::now();
    let nonce = if g.evil.as_deref() == Some("nonce") { "another-nonce".to_string() } else { g.nonce };
    let mut claims = CoreIdTokenClaims::new(
        IssuerUrl::new(idp.issuer.clone()).unwrap(),
        vec![Audience::new(CLIENT_ID.into())],
        now + chrono::Duration::minutes(5),
        now,
        StandardClaims::new(SubjectIdentifier::new(format!("sub-{}", g.user)))
            .set_preferred_username(Some(EndUserUsername::new(g.user.clone()))),
        EmptyAdditionalClaims {},
    )
    .set_nonce(Some(Nonce::new(nonce)));
    if let Some(a) = g.amr {
        claims = claims.set_auth_method_refs(Some(vec![AuthenticationMethodReference::new(a)]));
    }
    let signer = if g.evil.as_deref() == Some("key") { other_key() } else { key() };
    let id_token =
        CoreIdToken::new(claims, &signer, CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256, None, None).unwrap();
    axum::Json(json!({"access_token": "at", "token_type": "bearer", "expires_in": 300,
        "id_token": serde_json::to_value(&id_token).unwrap()}))
    .into_response()
}

fn base64url(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// Another key under the same key id, as an attacker would use: not the one the provider
/// publishes.
fn other_key() -> CoreRsaPrivateSigningKey {
    CoreRsaPrivateSigningKey::from_pem(
        include_str!("data/other-rsa.pem"),
        Some(openidconnect::JsonWebKeyId::new("k1".into())),
    )
    .unwrap()
}

async fn start_idp() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let idp = Idp { issuer: issuer.clone(), grants: Arc::default() };
    let app = axum::Router::new()
        .route("/.well-known/openid-configuration", axum::routing::get(discovery))
        .route("/jwks", axum::routing::get(jwks))
        .route("/authorize", axum::routing::get(authorize))
        .route("/token", axum::routing::post(token))
        .with_state(idp);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    issuer
}

/// The browser: follows nothing by itself.
fn browser() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// Runs the whole dance for `user` with extra provider parameters; returns the callback's
/// status and, when signed in, the session cookie.
async fn sign_in(app: &TestApp, user: &str, extra: &str) -> (u16, Option<String>, String) {
    let b = browser();
    let r = b.get(app.url("/api/v1/auth/oidc/login")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let to_idp = r.headers()["location"].to_str().unwrap().to_string();
    let r = b.get(format!("{to_idp}&login_as={user}{extra}")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let back = r.headers()["location"].to_str().unwrap().to_string();
    let query = back.split_once('?').unwrap().1.to_string();
    let r = b.get(app.url(&format!("/api/v1/auth/oidc/callback?{query}"))).send().await.unwrap();
    let status = r.status().as_u16();
    let cookie =
        r.headers().get("set-cookie").map(|c| c.to_str().unwrap().split(';').next().unwrap().to_string());
    (status, cookie, query)
}

async fn identity_provider_sign_in(backend: Backend) {
    let issuer = start_idp().await;
    let settings = Settings {
        enforce_mfa: false,
        oidc: Some(OidcSettings {
            issuer,
            client_id: CLIENT_ID.into(),
            client_secret: "s3cret".into(),
            redirect_url: "http://enlace.test/api/v1/auth/oidc/callback".into(),
            username_claim: "preferred_username".into(),
        }),
        ..Settings::default()
    };
    let Some(app) = spawn_app_with(backend, settings).await else { return };

    let (s, cookie, query) = sign_in(&app, "officer.hn", "").await;
    assert_eq!(s, 303);
    let cookie = cookie.expect("a session cookie");
    assert!(cookie.starts_with("__Host-enlace-session="));
    let me: Value = app
        .client
        .get(app.url("/api/v1/me"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["username"], "officer.hn");
    // The answer cannot be replayed: its state was used.
    let r = browser().get(app.url(&format!("/api/v1/auth/oidc/callback?{query}"))).send().await.unwrap();
    assert_eq!(r.status(), 401);
    // Refusals: an account the node does not have, a token for another nonce, a token signed
    // by a key the provider does not publish.
    assert_eq!(sign_in(&app, "nobody.here", "").await.0, 401);
    assert_eq!(sign_in(&app, "officer.hn", "&evil=nonce").await.0, 401);
    assert_eq!(sign_in(&app, "officer.hn", "&evil=key").await.0, 401);
    // A provider error comes back as a clear 401.
    let r = browser()
        .get(app.url("/api/v1/auth/oidc/callback?error=access_denied&state=x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // An account with a second factor: only if the provider asserts one.
    let t = app.token("officer.gt").await;
    let (_, e) = app.post(&t, "/api/v1/auth/mfa/enrol", &json!({})).await;
    let secret = totp_rs::Secret::try_from_base32(e["secret"].as_str().unwrap()).unwrap();
    let code =
        totp_rs::Builder::new().with_secret(secret).build_noncompliant().generate_current().to_string();
    assert_eq!(app.post(&t, "/api/v1/auth/mfa/confirm", &json!({"code": code})).await.0, 200);
    assert_eq!(sign_in(&app, "officer.gt", "").await.0, 401);
    assert_eq!(sign_in(&app, "officer.gt", "&amr=pwd").await.0, 401);
    assert_eq!(sign_in(&app, "officer.gt", "&amr=mfa").await.0, 303);

    app.app.flush_audit().await.unwrap();

    let events = enlace_store::audit::events_after(app.app.db(), 0, 100_000).await.unwrap();
    let via = |action: &str| {
        events.iter().filter(|e| e.event.action == action && e.event.detail["via"] == "oidc").count()
    };
    assert_eq!(via("auth.login"), 2);
    assert_eq!(via("auth.login_failed"), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_provider_sign_in_sqlite() {
    identity_provider_sign_in(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_provider_sign_in_postgres() {
    identity_provider_sign_in(Backend::Postgres).await;
}

/// Without configuration there is no identity-provider sign-in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_provider_sign_in_is_off_unless_configured() {
    let Some(app) = spawn_app(Backend::Sqlite).await else { return };
    let r = browser().get(app.url("/api/v1/auth/oidc/login")).send().await.unwrap();
    assert_eq!(r.status(), 404);
}
