//! Accounts and sign-in: password policy, throttling and lockout, browser sessions with CSRF,
//! sign-out everywhere, and integration tokens.

use enlace_app::Settings;
use reqwest::header::{COOKIE, SET_COOKIE};
use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::{Backend, PASSWORD, TestApp, new_case, spawn_app_with};

both_backends!(
    weak_passwords_are_refused_with_the_reason,
    repeated_failures_lock_the_account_then_the_address,
    sessions_use_a_secure_cookie_and_a_csrf_token,
    bad_cookies_and_csrf_tokens_are_refused_and_audited,
    sign_out_everywhere_ends_sessions_and_tokens,
    integration_tokens_are_scoped_listed_and_revocable,
    administrators_manage_their_states_accounts,
);

/// A browser-like client: the session cookie kept by hand (reqwest's store will not send a
/// `Secure` cookie over plain HTTP).
struct Browser<'a> {
    app: &'a TestApp,
    cookie: Option<String>,
    csrf: Option<String>,
}

impl<'a> Browser<'a> {
    fn new(app: &'a TestApp) -> Self {
        Browser { app, cookie: None, csrf: None }
    }

    async fn sign_in(&mut self, username: &str, password: &str) -> (u16, Value, Option<String>) {
        let r = self
            .app
            .client
            .post(self.app.url("/api/v1/auth/session"))
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let set_cookie = r.headers().get(SET_COOKIE).map(|v| v.to_str().unwrap().to_string());
        let body: Value = r.json().await.unwrap_or(Value::Null);
        if status == 200 {
            let sc = set_cookie.clone().expect("a session cookie");
            self.cookie = Some(sc.split(';').next().unwrap().to_string());
            self.csrf = body["csrf_token"].as_str().map(String::from);
        }
        (status, body, set_cookie)
    }

    async fn request(
        &self,
        method: &str,
        path: &str,
        csrf: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.app.client.request(m, self.app.url(path));
        if let Some(c) = &self.cookie {
            req = req.header(COOKIE, c);
        }
        if let Some(t) = csrf {
            req = req.header("X-CSRF-Token", t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> u16 {
        self.request("GET", path, None, None).await.0
    }
}

async fn weak_passwords_are_refused_with_the_reason(app: TestApp) {
    for (pw, reason) in [
        ("corta", "at least 10"),
        ("1q2w3e4r5t", "common"),
        ("Password2026", "common"),
        ("zzzzzzzzzzzz", "different"),
        ("nuevo.usuario-77", "user name"),
    ] {
        let r = app
            .app
            .create_user(
                None,
                enlace_app::auth::NewUser {
                    username: "nuevo.usuario".into(),
                    display_name: None,
                    role: enlace_domain::role::Role::Auditor,
                    state: enlace_domain::country::CountryCode::parse("HN").unwrap(),
                    post: None,
                    password: pw.into(),
                    sensitive_access: false,
                },
            )
            .await;
        match r {
            Err(enlace_app::AppError::Validation(v)) => {
                assert_eq!(v.0[0].field, "password");
                assert!(v.0[0].message.contains(reason), "{pw}: {}", v.0[0].message);
            }
            other => panic!("{pw}: expected a refusal, got {other:?}"),
        }
    }
}

async fn repeated_failures_lock_the_account_then_the_address(app: TestApp) {
    let login = |user: &'static str, pw: &'static str| {
        let (client, url) = (app.client.clone(), app.url("/api/v1/auth/token"));
        async move {
            let r = client.post(url).json(&json!({"username": user, "password": pw})).send().await.unwrap();
            let retry = r.headers().get("retry-after").map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
            (r.status().as_u16(), retry)
        }
    };
    for _ in 0..5 {
        assert_eq!(login("officer.hn", "not the password").await.0, 401);
    }
    // Locked now, even with the right password; the wait is announced.
    let (s, retry) = login("officer.hn", PASSWORD).await;
    assert_eq!(s, 429);
    assert!(retry.is_some_and(|r| r > 0 && r <= 15 * 60), "{retry:?}");
    // Other accounts still sign in from this address.
    assert_eq!(login("officer.gt", PASSWORD).await.0, 200);
    // A name that does not exist locks the same way (no hint that it does not exist).
    for _ in 0..5 {
        assert_eq!(login("nobody.here", "x").await.0, 401);
    }
    assert_eq!(login("nobody.here", "x").await.0, 429);
    // Many failures across accounts lock the address (20 in the window; 10 so far).
    let names =
        ["a.one", "a.two", "a.three", "a.four", "a.five", "a.six", "a.seven", "a.eight", "a.nine", "a.ten"];
    for n in names {
        assert_eq!(login(n, "wrong").await.0, 401, "{n}");
    }
    assert_eq!(login("supervisor.hn", PASSWORD).await.0, 429, "the address is locked");
    let actions = app.audit_actions().await;
    assert_eq!(actions.iter().filter(|a| *a == "auth.login_failed").count(), 20);
    assert!(actions.iter().filter(|a| *a == "auth.locked_out").count() >= 3);
}

async fn sessions_use_a_secure_cookie_and_a_csrf_token(app: TestApp) {
    let mut b = Browser::new(&app);
    let (s, body, set_cookie) = b.sign_in("supervisor.hn", PASSWORD).await;
    assert_eq!(s, 200, "{body}");
    let sc = set_cookie.unwrap();
    for attr in ["__Host-enlace-session=", "HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(sc.contains(attr), "{attr} in {sc}");
    }
    assert_eq!(body["user"]["username"], "supervisor.hn");
    let csrf = b.csrf.clone().unwrap();
    assert!(csrf.len() >= 40);
    // The session's secret is not what the database keeps.
    let secret = b.cookie.as_ref().unwrap().split_once('=').unwrap().1.to_string();
    assert!(!secret.is_empty() && secret != csrf);

    // Reads need only the cookie.
    assert_eq!(b.get("/api/v1/me").await, 200);
    assert_eq!(b.request("GET", "/api/v1/auth/session", None, None).await.1["csrf_token"], csrf);
    // Changes need the CSRF token too.
    let (s, v) = b.request("POST", "/api/v1/cases", None, Some(&new_case(&["Ana"], &["Ruiz"]))).await;
    assert_eq!(s, 403, "no CSRF token: {v}");
    let (s, v) = b.request("POST", "/api/v1/cases", Some(&csrf), Some(&new_case(&["Ana"], &["Ruiz"]))).await;
    assert_eq!(s, 201, "{v}");
    // Sign-out ends the session; its cookie and CSRF token are worthless afterwards.
    let (s, _) = b.request("DELETE", "/api/v1/auth/session", Some(&csrf), None).await;
    assert_eq!(s, 204);
    assert_eq!(b.get("/api/v1/me").await, 401);
    let (s, _) = b.request("POST", "/api/v1/cases", Some(&csrf), Some(&new_case(&["Ana"], &["Ruiz"]))).await;
    assert_eq!(s, 401, "a replayed CSRF token with an ended session");
}

async fn bad_cookies_and_csrf_tokens_are_refused_and_audited(app: TestApp) {
    let mut b = Browser::new(&app);
    b.sign_in("supervisor.hn", PASSWORD).await;
    let before = app.audit_actions().await.len();
    // Another session's CSRF token.
    let mut other = Browser::new(&app);
    other.sign_in("supervisor.hn", PASSWORD).await;
    let foreign = other.csrf.clone().unwrap();
    let (s, _) = b.request("POST", "/api/v1/cases", Some(&foreign), Some(&new_case(&["A"], &["B"]))).await;
    assert_eq!(s, 403);
    // A cross-site request with the right token.
    let csrf = b.csrf.clone().unwrap();
    let r = app
        .client
        .post(app.url("/api/v1/cases"))
        .header(COOKIE, b.cookie.clone().unwrap())
        .header("X-CSRF-Token", &csrf)
        .header("Origin", "https://evil.example")
        .json(&new_case(&["A"], &["B"]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // A tampered cookie.
    let mut tampered = b.cookie.clone().unwrap();
    tampered.push('x');
    let r = app.client.get(app.url("/api/v1/me")).header(COOKIE, tampered).send().await.unwrap();
    assert_eq!(r.status(), 401);
    // A made-up bearer token.
    assert_eq!(app.get("made-up-token", "/api/v1/me").await.0, 401);
    let after = app.audit_actions().await;
    let new: Vec<&str> = after[before..].iter().map(String::as_str).filter(|a| *a != "auth.login").collect();
    assert_eq!(new, ["access.denied", "access.denied", "auth.rejected", "auth.rejected"]);
    // Nothing was created.
    assert!(
        app.get(&app.token("supervisor.hn").await, "/api/v1/cases").await.1["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

async fn sign_out_everywhere_ends_sessions_and_tokens(app: TestApp) {
    let mut b1 = Browser::new(&app);
    let mut b2 = Browser::new(&app);
    b1.sign_in("officer.hn", PASSWORD).await;
    b2.sign_in("officer.hn", PASSWORD).await;
    let t = app.token("officer.hn").await;
    let other = app.token("officer.gt").await;
    let (s, _) = b1.request("POST", "/api/v1/auth/sign-out-everywhere", b1.csrf.as_deref(), None).await;
    assert_eq!(s, 204);
    assert_eq!(b1.get("/api/v1/me").await, 401);
    assert_eq!(b2.get("/api/v1/me").await, 401);
    assert_eq!(app.get(&t, "/api/v1/me").await.0, 401, "tokens end too, at once");
    assert_eq!(app.get(&other, "/api/v1/me").await.0, 200, "other users are untouched");
}

async fn integration_tokens_are_scoped_listed_and_revocable(app: TestApp) {
    let admin = app.token("admin.hn").await;
    let sup_gt = app.token("supervisor.gt").await;
    let mut gt_body = new_case(&["Gua"], &["Temala"]);
    gt_body["person"]["nationalities"] = json!(["GT"]);
    let gt_case = app.create_case(&sup_gt, &gt_body).await;
    let body = json!({"name": "dif-referrals", "role": "liaison_officer", "expires_in_days": 30});
    let (s, issued) = app.post(&admin, "/api/v1/admin/api-tokens", &body).await;
    assert_eq!(s, 201, "{issued}");
    let token = issued["token"].as_str().unwrap().to_string();
    assert_eq!(issued["state"], "HN");
    assert_eq!(issued["role"], "liaison_officer");
    // The token acts as a HN liaison officer: HN cases yes, GT cases are not found.
    let (s, me) = app.get(&token, "/api/v1/me").await;
    assert_eq!((s, me["kind"].as_str()), (200, Some("integration")));
    let c = app.create_case(&token, &new_case(&["Por"], &["Integración"])).await;
    assert_eq!(c["owner_state"], "HN");
    assert_eq!(app.get(&token, &format!("/api/v1/cases/{}", gt_case["id"].as_str().unwrap())).await.0, 404);
    // An integration account cannot sign in with a password.
    let (s, _) = app
        .client
        .post(app.url("/api/v1/auth/token"))
        .json(&json!({"username": "dif-referrals", "password": "!integration"}))
        .send()
        .await
        .map(|r| (r.status().as_u16(), ()))
        .unwrap();
    assert_eq!(s, 401);
    // Listed without the secret.
    let (s, list) = app.get(&admin, "/api/v1/admin/api-tokens").await;
    assert_eq!(s, 200);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(list[0].get("token").is_none());
    assert!(!list.to_string().contains(&token));
    // Refusals: wrong role, bad input, duplicate name.
    for (b, field) in [
        (json!({"name": "x1x", "role": "country_administrator", "expires_in_days": 30}), "role"),
        (json!({"name": "x2x", "role": "auditor", "expires_in_days": 0}), "expires_in_days"),
        (json!({"name": "x3x", "role": "consular_officer", "expires_in_days": 5}), "post"),
        (
            json!({"name": "x4x", "role": "consular_officer", "post": "GT-TAPACHULA", "expires_in_days": 5}),
            "post",
        ),
        (json!({"name": "No Spaces", "role": "auditor", "expires_in_days": 5}), "name"),
    ] {
        let (s, v) = app.post(&admin, "/api/v1/admin/api-tokens", &b).await;
        assert_eq!(s, 422, "{b}: {v}");
        assert_eq!(v["errors"][0]["field"], field, "{b}: {v}");
    }
    assert_eq!(app.post(&admin, "/api/v1/admin/api-tokens", &body).await.0, 409);
    for who in ["supervisor.hn", "auditor.hn", "officer.hn"] {
        let t = app.token(who).await;
        assert_eq!(app.post(&t, "/api/v1/admin/api-tokens", &body).await.0, 403, "{who}");
        assert_eq!(app.get(&t, "/api/v1/admin/api-tokens").await.0, 403, "{who}");
    }
    // Revocation takes effect at once, and only for the administrator's own state.
    let id = issued["id"].as_str().unwrap();
    let (s, _) = app
        .send(
            "DELETE",
            &app.token("supervisor.gt").await,
            &format!("/api/v1/admin/api-tokens/{id}"),
            &json!({}),
        )
        .await;
    assert_eq!(s, 403);
    let (s, _) = app.send("DELETE", &admin, &format!("/api/v1/admin/api-tokens/{id}"), &json!({})).await;
    assert_eq!(s, 204);
    assert_eq!(app.get(&token, "/api/v1/me").await.0, 401);
    assert_eq!(
        app.send("DELETE", &admin, &format!("/api/v1/admin/api-tokens/{id}"), &json!({})).await.0,
        404
    );
    let (_, list) = app.get(&admin, "/api/v1/admin/api-tokens").await;
    assert!(list[0]["revoked_at"].is_string());
    let actions = app.audit_actions().await;
    assert!(actions.contains(&"token.create".to_string()) && actions.contains(&"token.revoke".to_string()));
}

/// Sessions end after the idle time without requests, and after the absolute time whatever
/// the activity.
async fn sessions_time_out(backend: Backend) {
    let idle = Settings { session_idle: chrono::Duration::seconds(2), ..Settings::default() };
    let Some(app) = spawn_app_with(backend, idle).await else { return };
    let mut b = Browser::new(&app);
    b.sign_in("officer.hn", PASSWORD).await;
    assert_eq!(b.get("/api/v1/me").await, 200);
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(b.get("/api/v1/me").await, 401, "idle");
    // Housekeeping removes the ended session's row.
    assert_eq!(app.app.remove_expired_sessions().await.unwrap(), 1);

    let absolute = Settings { session_absolute: chrono::Duration::seconds(2), ..Settings::default() };
    let Some(app) = spawn_app_with(backend, absolute).await else { return };
    let mut b = Browser::new(&app);
    b.sign_in("officer.hn", PASSWORD).await;
    for _ in 0..5 {
        assert_eq!(b.get("/api/v1/me").await, 200);
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    assert_eq!(b.get("/api/v1/me").await, 401, "absolute");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_time_out_sqlite() {
    sessions_time_out(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_time_out_postgres() {
    sessions_time_out(Backend::Postgres).await;
}

async fn administrators_manage_their_states_accounts(app: TestApp) {
    let admin = app.token("admin.hn").await;
    let (s, list) = app.get(&admin, "/api/v1/admin/users").await;
    assert_eq!(s, 200);
    assert!(list.as_array().unwrap().iter().all(|u| u["state"] == "HN"), "own state only");
    let by_name =
        |list: &Value, n: &str| list.as_array().unwrap().iter().find(|u| u["username"] == n).cloned();
    assert!(by_name(&list, "officer.gt").is_none());

    // Create: the password policy and the post rule apply.
    let (s, v) = app
        .post(
            &admin,
            "/api/v1/admin/users",
            &json!({"username": "rosa.mejia", "role": "consular_officer",
        "post": "HN-TAPACHULA", "password": "1q2w3e4r5t"}),
        )
        .await;
    assert_eq!((s, v["errors"][0]["field"].as_str()), (422, Some("password")), "{v}");
    let (s, v) = app
        .post(
            &admin,
            "/api/v1/admin/users",
            &json!({"username": "rosa.mejia", "role": "consular_officer",
        "post": "GT-TAPACHULA", "password": PASSWORD}),
        )
        .await;
    assert_eq!((s, v["errors"][0]["field"].as_str()), (422, Some("post")), "{v}");
    let (s, rosa) = app
        .post(
            &admin,
            "/api/v1/admin/users",
            &json!({"username": "rosa.mejia", "role": "consular_officer",
        "post": "HN-TAPACHULA", "password": PASSWORD}),
        )
        .await;
    assert_eq!(s, 201, "{rosa}");
    assert_eq!(rosa["state"], "HN");
    let rosa_path = format!("/api/v1/admin/users/{}", rosa["id"].as_str().unwrap());

    // Grant the sensitive-data permission: a child case becomes readable.
    let t = app.token("rosa.mejia").await;
    let mut child = new_case(&["Niño"], &["Protegido"]);
    child["vulnerabilities"] = json!(["separated_child"]);
    let c = app.create_case(&t, &child).await;
    let case_path = format!("/api/v1/cases/{}", c["id"].as_str().unwrap());
    assert_eq!(app.get(&t, &case_path).await.0, 404);
    let (s, v) = app.send("PATCH", &admin, &rosa_path, &json!({"sensitive_access": true})).await;
    assert_eq!((s, v["sensitive_access"].as_bool()), (200, Some(true)), "{v}");
    assert_eq!(app.get(&t, &case_path).await.0, 200);

    // Disable: sign-in and the existing token stop at once.
    let (s, _) = app.send("PATCH", &admin, &rosa_path, &json!({"disabled": true})).await;
    assert_eq!(s, 200);
    assert_eq!(app.get(&t, "/api/v1/me").await.0, 401);
    let r = app
        .client
        .post(app.url("/api/v1/auth/token"))
        .json(&json!({"username": "rosa.mejia", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    app.send("PATCH", &admin, &rosa_path, &json!({"disabled": false})).await;
    assert_eq!(app.get(&app.token("rosa.mejia").await, "/api/v1/me").await.0, 200);

    // Bad changes are named; another state's accounts are not found; no self-demotion.
    let (s, v) = app.send("PATCH", &admin, &rosa_path, &json!({"post": null})).await;
    assert_eq!((s, v["errors"][0]["field"].as_str()), (422, Some("post")), "{v}");
    let (s, v) = app.send("PATCH", &admin, &rosa_path, &json!({"colour": "red"})).await;
    assert_eq!(s, 422, "{v}");
    let gt = app.get(&app.token("supervisor.gt").await, "/api/v1/me").await.1;
    assert_eq!(
        app.send(
            "PATCH",
            &admin,
            &format!("/api/v1/admin/users/{}", gt["id"].as_str().unwrap()),
            &json!({"disabled": true})
        )
        .await
        .0,
        404
    );
    let me = app.get(&admin, "/api/v1/me").await.1;
    let (s, _) = app
        .send(
            "PATCH",
            &admin,
            &format!("/api/v1/admin/users/{}", me["id"].as_str().unwrap()),
            &json!({"disabled": true}),
        )
        .await;
    assert_eq!(s, 409);
    let changes = app.audit_actions().await.iter().filter(|a| *a == "user.change").count();
    assert_eq!(changes, 3);
}
