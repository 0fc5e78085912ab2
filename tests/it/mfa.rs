//! Two-factor sign-in: enrolment with a QR code, codes good once, recovery codes, and the
//! policy that makes supervisors, administrators and auditors (or everyone) use it.

use enlace_app::Settings;
use serde_json::{Value, json};

use crate::harness::{Backend, PASSWORD, TestApp, spawn_app_with};

fn code(secret_b32: &str, offset_secs: i64) -> String {
    let secret = totp_rs::Secret::try_from_base32(secret_b32).unwrap();
    let t = totp_rs::Builder::new().with_secret(secret).build_noncompliant();
    let now = chrono::Utc::now().timestamp() + offset_secs;
    t.generate(now as u64).to_string()
}

async fn sign_in(app: &TestApp, user: &str, totp: Option<&str>) -> (u16, Value) {
    let mut body = json!({"username": user, "password": PASSWORD});
    if let Some(t) = totp {
        body["totp"] = json!(t);
    }
    let r = app.client.post(app.url("/api/v1/auth/token")).json(&body).send().await.unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

/// Enrols `user` (signed in with `token`); returns the secret and the recovery codes.
async fn enrol(app: &TestApp, token: &str) -> (String, Vec<String>) {
    let (s, e) = app.post(token, "/api/v1/auth/mfa/enrol", &json!({})).await;
    assert_eq!(s, 200, "{e}");
    let secret = e["secret"].as_str().unwrap().to_string();
    assert!(e["otpauth_url"].as_str().unwrap().starts_with("otpauth://totp/Enlace%20HN:"), "{e}");
    assert!(e["qr_svg"].as_str().unwrap().contains("<svg"));
    let (s, v) = app.post(token, "/api/v1/auth/mfa/confirm", &json!({"code": "000000"})).await;
    assert!(s == 422 || code(&secret, 0) == "000000", "a wrong code: {s} {v}");
    let (s, r) = app.post(token, "/api/v1/auth/mfa/confirm", &json!({"code": code(&secret, 0)})).await;
    assert_eq!(s, 200, "{r}");
    let codes: Vec<String> =
        r["recovery_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().into()).collect();
    assert_eq!(codes.len(), 10);
    (secret, codes)
}

async fn two_factor_sign_in(backend: Backend) {
    let Some(app) = spawn_app_with(backend, Settings::default()).await else { return };
    // A supervisor signs in with a password, but may do nothing before enrolling.
    let (s, t) = sign_in(&app, "supervisor.hn", None).await;
    assert_eq!(s, 200, "{t}");
    let sup = t["token"].as_str().unwrap().to_string();
    let (s, v) = app.get(&sup, "/api/v1/cases").await;
    assert_eq!(s, 403, "{v}");
    assert!(v["detail"].as_str().unwrap().contains("enrol"));
    assert_eq!(app.get(&sup, "/api/v1/me").await.0, 200);
    // An officer is not required to.
    let officer = app.token("officer.hn").await;
    assert_eq!(app.get(&officer, "/api/v1/cases").await.0, 200);

    let (secret, recovery) = enrol(&app, &sup).await;
    assert_eq!(app.get(&sup, "/api/v1/cases").await.0, 200, "enrolled: the same token works now");
    assert_eq!(app.get(&sup, "/api/v1/me").await.1["mfa_enabled"], true);

    // From now on the password alone is not enough, and the problem says what is missing.
    let (s, v) = sign_in(&app, "supervisor.hn", None).await;
    assert_eq!(s, 401);
    assert_eq!(v["type"], "urn:enlace:problem:mfa-required");
    assert_eq!(v["errors"][0]["field"], "totp");
    // The code that confirmed enrolment was used: it is not good again.
    assert_eq!(sign_in(&app, "supervisor.hn", Some(&code(&secret, 0))).await.0, 401);
    // The next step's code (within the allowed clock skew) is good, once.
    let next = code(&secret, 30);
    assert_eq!(sign_in(&app, "supervisor.hn", Some(&next)).await.0, 200);
    assert_eq!(sign_in(&app, "supervisor.hn", Some(&next)).await.0, 401, "replayed");
    // A recovery code signs in once, in any case and with or without dashes.
    let rc = recovery[3].to_uppercase();
    assert_eq!(sign_in(&app, "supervisor.hn", Some(&rc)).await.0, 200);
    assert_eq!(sign_in(&app, "supervisor.hn", Some(&recovery[3].replace('-', ""))).await.0, 401);
    let actions = app.audit_actions().await;
    for a in ["auth.mfa_enrol", "auth.mfa_enabled", "auth.recovery_code_used"] {
        assert!(actions.contains(&a.to_string()), "{a}");
    }
    app.app.flush_audit().await.unwrap();
    let failed = enlace_store::audit::events_after(app.app.db(), 0, 100_000).await.unwrap();
    assert!(
        failed
            .iter()
            .any(|e| e.event.action == "auth.login_failed" && e.event.detail["factor"] == "second factor")
    );

    // Lost phone and codes: the operator resets it; the supervisor signs in with the password
    // and must enrol again before anything else.
    let u = app.app.reset_mfa_by_operator("supervisor.hn").await.unwrap();
    assert_eq!(u.username.as_str(), "supervisor.hn");
    let (s, t) = sign_in(&app, "supervisor.hn", None).await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(app.get(t["token"].as_str().unwrap(), "/api/v1/cases").await.0, 403);
    assert!(app.app.reset_mfa_by_operator("nobody.here").await.is_err());

    // A state may require it of everyone: the administrator enrols, then sets the policy.
    let (_, t) = sign_in(&app, "admin.hn", None).await;
    let admin = t["token"].as_str().unwrap().to_string();
    assert_eq!(
        app.send("PUT", &admin, "/api/v1/admin/mfa-policy", &json!({"mfa_for_all": true})).await.0,
        403
    );
    enrol(&app, &admin).await;
    let (s, v) = app.send("PUT", &admin, "/api/v1/admin/mfa-policy", &json!({"mfa_for_all": true})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(app.get(&admin, "/api/v1/admin/mfa-policy").await.1["mfa_for_all"], true);
    let officer = app.token("officer.hn").await;
    assert_eq!(app.get(&officer, "/api/v1/cases").await.0, 403, "now officers enrol too");
    // Another state's officers are not affected.
    let gt = app.token("officer.gt").await;
    assert_eq!(app.get(&gt, "/api/v1/cases").await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_factor_sign_in_sqlite() {
    two_factor_sign_in(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_factor_sign_in_postgres() {
    two_factor_sign_in(Backend::Postgres).await;
}
