//! Every endpoint × every role × in and out of scope. The matrix below is the authorisation
//! contract of the API; the test fails when the OpenAPI document has an endpoint the matrix
//! does not list (or the other way round), so a new endpoint cannot ship without its entry.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::{PASSWORD, TestApp, new_case};

both_backends!(every_endpoint_answers_every_role_as_the_matrix_says);

/// Everyone in the harness. The fixture case is HN's, worked at HN-TAPACHULA.
const USERS: [&str; 10] = [
    "officer.hn",    // HN-TAPACHULA: the case's post
    "officer.hn2",   // HN-HOUSTON: same state, other post
    "officer.gt",    // another state
    "supervisor.hn", // the owning state's supervisor
    "supervisor.gt", // another state's supervisor
    "admin.hn",
    "liaison.hn",
    "auditor.hn",
    "analyst",
    "partner",
];

/// Who sees the fixture case.
const SEES_CASE: [&str; 3] = ["officer.hn", "supervisor.hn", "liaison.hn"];
/// Roles that work cases but not this one.
const OTHER_WORKERS: [&str; 3] = ["officer.hn2", "officer.gt", "supervisor.gt"];

/// What each user gets from an endpoint: "ok" is any 2xx.
#[derive(Clone, Copy, Debug)]
enum Rule {
    /// Everyone, signed in or not.
    Public,
    /// Every signed-in user.
    Anyone,
    /// Needs no credentials and answers everyone the same (identity-provider sign-in, which
    /// this harness node does not configure).
    PublicAnswers(&'static str),
    /// Cookie-only endpoints: a bearer token is not a session.
    SessionOnly,
    /// Reads of the case: those who see it; for everyone else it does not exist.
    ReadCase,
    /// Changes to the case: those who see it; other case workers 404; other roles 403.
    ChangeCase,
    /// Lists: case workers; other roles 403.
    CaseWorkers,
    /// Registering an HN case at one's own post (mutual assistance included); a supervisor
    /// of another state has no post to assist through.
    Register,
    Only(&'static str),
    /// Any of these users.
    OnlyThese(&'static [&'static str]),
    /// These users get this status (a step this node cannot take); everyone else 403.
    TheseGet(&'static [&'static str], &'static str),
    AdminOrAuditor,
    /// The same status for every signed-in user.
    Everyone(&'static str),
    /// Supervisors' decisions on a case: its state's supervisor; another state's supervisor
    /// does not find it; everyone else may not.
    SupervisorChange,
    /// A record that is not there (a match id that names a case): case workers are told it is
    /// not found; other roles may not ask.
    NotFoundForWorkers,
    /// Breaking the glass on the (unrestricted) fixture: the owning state's supervisor is told
    /// there is no need (409); another state's supervisor does not find it; others may not.
    BreakGlass,
    /// Sharing the case with another state on a node that is not federated: those who see
    /// the case are told the step is not possible here (409); other case workers do not find
    /// it; other roles may not.
    ShareUnfederated,
    /// Deciding on a share offered to one's state (liaison officers, supervisors): the id is
    /// not a share, so not found; everyone else may not.
    DecideShare,
    /// An administrator's action on a record that is not there.
    AdminNotFound,
}

impl Rule {
    fn expect(self, user: &str) -> &'static str {
        let worker = SEES_CASE.contains(&user) || OTHER_WORKERS.contains(&user);
        match self {
            Rule::Public | Rule::Anyone => "ok",
            Rule::PublicAnswers(code) => code,
            Rule::SessionOnly => "401",
            Rule::ReadCase => {
                if SEES_CASE.contains(&user) {
                    "ok"
                } else {
                    "404"
                }
            }
            Rule::ChangeCase => match (SEES_CASE.contains(&user), worker) {
                (true, _) => "ok",
                (false, true) => "404",
                (false, false) => "403",
            },
            Rule::CaseWorkers => {
                if worker {
                    "ok"
                } else {
                    "403"
                }
            }
            Rule::Register => {
                if worker && user != "supervisor.gt" {
                    "ok"
                } else {
                    "403"
                }
            }
            Rule::Everyone(code) => code,
            Rule::AdminOrAuditor => {
                if ["admin.hn", "auditor.hn"].contains(&user) {
                    "ok"
                } else {
                    "403"
                }
            }
            Rule::SupervisorChange => match user {
                "supervisor.hn" => "ok",
                "supervisor.gt" => "404",
                _ => "403",
            },
            Rule::NotFoundForWorkers => {
                if worker {
                    "404"
                } else {
                    "403"
                }
            }
            Rule::BreakGlass => match user {
                "supervisor.hn" => "409",
                "supervisor.gt" => "404",
                _ => "403",
            },
            Rule::ShareUnfederated => match (SEES_CASE.contains(&user), worker) {
                (true, _) => "409",
                (false, true) => "404",
                (false, false) => "403",
            },
            Rule::TheseGet(users, code) => {
                if users.contains(&user) {
                    code
                } else {
                    "403"
                }
            }
            Rule::OnlyThese(users) => {
                if users.contains(&user) {
                    "ok"
                } else {
                    "403"
                }
            }
            Rule::DecideShare => {
                if ["liaison.hn", "supervisor.hn", "supervisor.gt"].contains(&user) {
                    "404"
                } else {
                    "403"
                }
            }
            Rule::AdminNotFound => {
                if user == "admin.hn" {
                    "404"
                } else {
                    "403"
                }
            }
            Rule::Only(who) => {
                if user == who {
                    "ok"
                } else {
                    "403"
                }
            }
        }
    }
}

/// The matrix: (method, path as in the OpenAPI document, rule).
const MATRIX: &[(&str, &str, Rule)] = &[
    ("get", "/healthz", Rule::Public),
    ("get", "/metrics", Rule::Public),
    ("get", "/readyz", Rule::Public),
    ("get", "/api/v1/openapi.json", Rule::Public),
    ("post", "/api/v1/auth/token", Rule::Public),
    ("delete", "/api/v1/auth/token", Rule::Anyone),
    ("post", "/api/v1/auth/session", Rule::Public),
    ("get", "/api/v1/auth/session", Rule::SessionOnly),
    ("delete", "/api/v1/auth/session", Rule::Anyone),
    ("post", "/api/v1/auth/sign-out-everywhere", Rule::Anyone),
    ("post", "/api/v1/auth/mfa/enrol", Rule::Anyone),
    ("get", "/api/v1/auth/oidc/login", Rule::PublicAnswers("404")),
    ("get", "/api/v1/auth/oidc/callback", Rule::PublicAnswers("401")),
    // The row above left everyone a pending enrolment; a code that is not the current one is
    // refused the same way for everyone.
    ("post", "/api/v1/auth/mfa/confirm", Rule::Everyone("422")),
    ("get", "/api/v1/admin/mfa-policy", Rule::AdminOrAuditor),
    ("get", "/api/v1/admin/users", Rule::Only("admin.hn")),
    ("post", "/api/v1/admin/users", Rule::Only("admin.hn")),
    ("patch", "/api/v1/admin/users/{id}", Rule::Only("admin.hn")),
    ("put", "/api/v1/admin/mfa-policy", Rule::Only("admin.hn")),
    ("get", "/api/v1/me", Rule::Anyone),
    ("get", "/api/v1/states", Rule::Anyone),
    ("get", "/api/v1/posts", Rule::Anyone),
    ("get", "/api/v1/audit", Rule::Only("auditor.hn")),
    ("get", "/api/v1/audit/export", Rule::Only("auditor.hn")),
    ("get", "/api/v1/audit/break-glass", Rule::Only("auditor.hn")),
    ("get", "/api/v1/audit/disclosures", Rule::Only("auditor.hn")),
    ("get", "/api/v1/admin/api-tokens", Rule::Only("admin.hn")),
    ("post", "/api/v1/admin/api-tokens", Rule::Only("admin.hn")),
    ("delete", "/api/v1/admin/api-tokens/{id}", Rule::Only("admin.hn")),
    ("get", "/api/v1/admin/retention-rules", Rule::AdminOrAuditor),
    ("put", "/api/v1/admin/retention-rules", Rule::Only("admin.hn")),
    ("post", "/api/v1/persons/{id}/subject-access", Rule::SupervisorChange),
    ("post", "/api/v1/persons/candidates", Rule::CaseWorkers),
    ("get", "/api/v1/matches", Rule::CaseWorkers),
    ("post", "/api/v1/matches/{id}/decision", Rule::NotFoundForWorkers),
    ("get", "/api/v1/cases/{id}/matches", Rule::ReadCase),
    ("get", "/api/v1/cases", Rule::CaseWorkers),
    ("post", "/api/v1/cases", Rule::Register),
    ("get", "/api/v1/cases/by-number/{number}", Rule::ReadCase),
    ("get", "/api/v1/cases/{id}", Rule::ReadCase),
    ("patch", "/api/v1/cases/{id}", Rule::ChangeCase),
    ("put", "/api/v1/cases/{id}/person", Rule::ChangeCase),
    ("post", "/api/v1/cases/{id}/break-glass", Rule::BreakGlass),
    ("get", "/api/v1/cases/{id}/disclosures", Rule::ReadCase),
    ("get", "/api/v1/cases/{id}/legal-hold", Rule::ReadCase),
    ("put", "/api/v1/cases/{id}/legal-hold", Rule::SupervisorChange),
    ("post", "/api/v1/cases/{id}/disclosures", Rule::ChangeCase),
    ("get", "/api/v1/cases/{id}/transitions", Rule::ReadCase),
    ("post", "/api/v1/cases/{id}/transitions", Rule::ChangeCase),
    ("get", "/api/v1/cases/{id}/actions", Rule::ReadCase),
    ("post", "/api/v1/cases/{id}/actions", Rule::ChangeCase),
    ("get", "/api/v1/cases/{id}/attachments", Rule::ReadCase),
    ("post", "/api/v1/cases/{id}/attachments", Rule::ChangeCase),
    ("get", "/api/v1/cases/{id}/attachments/{attachment}", Rule::ReadCase),
    ("get", "/api/v1/cases/{id}/consents", Rule::ReadCase),
    ("post", "/api/v1/cases/{id}/consents", Rule::ChangeCase),
    ("post", "/api/v1/cases/{id}/consents/{consent}/withdraw", Rule::ChangeCase),
    ("get", "/api/v1/cases/{id}/shares", Rule::ReadCase),
    ("post", "/api/v1/cases/{id}/shares", Rule::ShareUnfederated),
    ("get", "/api/v1/shares", Rule::CaseWorkers),
    ("get", "/api/v1/shares/{id}", Rule::NotFoundForWorkers),
    ("post", "/api/v1/shares/{id}/accept", Rule::DecideShare),
    ("post", "/api/v1/shares/{id}/reject", Rule::DecideShare),
    ("post", "/api/v1/shares/{id}/revoke", Rule::NotFoundForWorkers),
    ("post", "/api/v1/shares/{id}/handover", Rule::DecideShare),
    ("post", "/api/v1/shares/{id}/handover/withdraw", Rule::DecideShare),
    ("post", "/api/v1/shares/{id}/handover/accept", Rule::DecideShare),
    ("post", "/api/v1/shares/{id}/handover/decline", Rule::DecideShare),
    ("get", "/api/v1/admin/federation", Rule::Only("admin.hn")),
    (
        "get",
        "/api/v1/stats",
        Rule::OnlyThese(&["supervisor.hn", "supervisor.gt", "admin.hn", "liaison.hn", "analyst"]),
    ),
    (
        "post",
        "/api/v1/stats/submissions",
        Rule::TheseGet(&["supervisor.hn", "supervisor.gt", "admin.hn"], "409"),
    ),
    ("get", "/api/v1/regional/stats", Rule::OnlyThese(&["analyst"])),
    ("get", "/api/v1/regional/linkage", Rule::OnlyThese(&["analyst"])),
    // The network's workspace: read by everyone signed in; kept by the Technical Secretariat
    // (analysts) and liaison officers. The fixture's id is no meeting or agreement.
    ("get", "/api/v1/meetings", Rule::Anyone),
    ("post", "/api/v1/meetings", Rule::OnlyThese(&["liaison.hn", "analyst"])),
    ("get", "/api/v1/meetings/{id}", Rule::Everyone("404")),
    ("get", "/api/v1/meetings/{id}/agreements", Rule::Everyone("404")),
    ("post", "/api/v1/meetings/{id}/agreements", Rule::TheseGet(&["liaison.hn", "analyst"], "404")),
    ("get", "/api/v1/agreements/pending", Rule::Anyone),
    ("post", "/api/v1/agreements/{id}/notes", Rule::TheseGet(&["liaison.hn", "analyst"], "404")),
    ("get", "/api/v1/events", Rule::Anyone),
    ("post", "/api/v1/events", Rule::OnlyThese(&["liaison.hn", "analyst"])),
    ("get", "/api/v1/events.ics", Rule::Anyone),
    // The directory: each state's liaison officers and administrators keep its entries.
    ("get", "/api/v1/directory", Rule::Anyone),
    ("post", "/api/v1/directory", Rule::OnlyThese(&["liaison.hn", "admin.hn"])),
    ("put", "/api/v1/directory/{id}", Rule::TheseGet(&["liaison.hn", "admin.hn"], "404")),
    ("delete", "/api/v1/directory/{id}", Rule::TheseGet(&["liaison.hn", "admin.hn"], "404")),
    ("get", "/api/v1/library", Rule::Anyone),
    ("post", "/api/v1/library", Rule::OnlyThese(&["liaison.hn", "analyst"])),
    ("put", "/api/v1/library/{id}", Rule::TheseGet(&["liaison.hn", "analyst"], "404")),
    // The fixture's id is no library item; `{file}` is no file id.
    ("post", "/api/v1/library/{id}/files", Rule::TheseGet(&["liaison.hn", "analyst"], "404")),
    ("get", "/api/v1/library/{id}/files/{file}", Rule::Everyone("404")),
    ("get", "/api/v1/groups", Rule::Anyone),
    ("post", "/api/v1/groups", Rule::OnlyThese(&["liaison.hn", "analyst"])),
    ("get", "/api/v1/groups/{id}", Rule::Everyone("404")),
    ("put", "/api/v1/groups/{id}", Rule::TheseGet(&["liaison.hn", "analyst"], "404")),
    ("post", "/api/v1/groups/{id}/tasks", Rule::TheseGet(&["liaison.hn", "analyst"], "404")),
    ("put", "/api/v1/groups/{id}/tasks/{task}", Rule::TheseGet(&["liaison.hn", "analyst"], "404")),
    ("get", "/api/v1/cases/{id}/linkage", Rule::ReadCase),
    // A node outside any network takes no part in the linkage service.
    ("post", "/api/v1/cases/{id}/linkage", Rule::ShareUnfederated),
    ("delete", "/api/v1/cases/{id}/linkage", Rule::ShareUnfederated),
    ("get", "/api/v1/linkage/candidates", Rule::CaseWorkers),
    ("post", "/api/v1/linkage/candidates/{id}/decision", Rule::NotFoundForWorkers),
    ("post", "/api/v1/admin/federation/dead-letters/{id}/retry", Rule::AdminNotFound),
];

async fn fresh_token(app: &TestApp, user: &str) -> String {
    let r = app
        .client
        .post(app.url("/api/v1/auth/token"))
        .json(&json!({"username": user, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "sign-in of {user}");
    r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string()
}

/// Bearer tokens by user, signed in on first use.
#[derive(Default)]
struct Tokens(std::collections::HashMap<String, String>);

impl Tokens {
    async fn get(&mut self, app: &TestApp, user: &str) -> String {
        if !self.0.contains_key(user) {
            self.0.insert(user.to_string(), fresh_token(app, user).await);
        }
        self.0[user].clone()
    }
}

/// A fresh HN case at HN-TAPACHULA with one consent and one attachment.
async fn fixture(app: &TestApp, sup: &str) -> (Value, String, String) {
    let mut body = new_case(&["Matriz"], &["Acceso"]);
    body["post"] = json!("HN-TAPACHULA");
    let c = app.create_case(sup, &body).await;
    let id = c["id"].as_str().unwrap();
    let consent_body = json!({"given_by": "person", "scope": "services", "given_at": "2026-01-05T10:00:00Z"});
    let (_, consent) = app.post(sup, &format!("/api/v1/cases/{id}/consents"), &consent_body).await;
    let r = app
        .client
        .post(app.url(&format!("/api/v1/cases/{id}/attachments?filename=nota.txt")))
        .bearer_auth(sup)
        .header("content-type", "text/plain")
        .body("nota")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let att: Value = r.json().await.unwrap();
    (c, consent["id"].as_str().unwrap().to_string(), att["id"].as_str().unwrap().to_string())
}

async fn every_endpoint_answers_every_role_as_the_matrix_says(app: TestApp) {
    // The matrix covers exactly the documented endpoints.
    let doc: Value =
        app.client.get(app.url("/api/v1/openapi.json")).send().await.unwrap().json().await.unwrap();
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(p, ops)| ops.as_object().unwrap().keys().map(move |m| (m.clone(), p.clone())))
        .collect();
    let listed: BTreeSet<(String, String)> =
        MATRIX.iter().map(|(m, p, _)| (m.to_string(), p.to_string())).collect();
    let missing: Vec<_> = documented.difference(&listed).collect();
    let extra: Vec<_> = listed.difference(&documented).collect();
    assert!(missing.is_empty(), "endpoints without an entry in the access matrix: {missing:?}");
    assert!(extra.is_empty(), "matrix entries for endpoints that do not exist: {extra:?}");

    let mut tokens = Tokens::default();
    let mut failures = Vec::new();
    let mut n = 0;
    for (method, path, rule) in MATRIX {
        for user in USERS {
            let sup = tokens.get(&app, "supervisor.hn").await;
            let admin = tokens.get(&app, "admin.hn").await;
            let (case, consent, attachment) = fixture(&app, &sup).await;
            let id = case["id"].as_str().unwrap();
            let token = tokens.get(&app, user).await;
            // These cells end the token they use (or all of the user's): sign in again later.
            if *path == "/api/v1/auth/sign-out-everywhere"
                || (*path == "/api/v1/auth/token" && *method == "delete")
            {
                tokens.0.remove(user);
            }
            let subject =
                if path.starts_with("/api/v1/persons/") { case["person_id"].as_str().unwrap() } else { id };
            let mut url = path
                .replace("{id}", subject)
                .replace("{number}", case["number"].as_str().unwrap())
                .replace("{consent}", &consent)
                .replace("{attachment}", &attachment)
                .replace("{task}", &uuid::Uuid::now_v7().to_string());
            if *path == "/api/v1/admin/users/{id}" {
                let partner = app.get(&admin, "/api/v1/admin/users").await.1;
                let id =
                    partner.as_array().unwrap().iter().find(|u| u["username"] == "partner").unwrap()["id"]
                        .clone();
                url = format!("/api/v1/admin/users/{}", id.as_str().unwrap());
            }
            if *path == "/api/v1/admin/api-tokens/{id}" {
                let body = json!({"name": format!("t-{}", uuid::Uuid::now_v7().simple()), "role": "auditor", "expires_in_days": 1});
                let (_, t) = app.post(&admin, "/api/v1/admin/api-tokens", &body).await;
                url = format!("/api/v1/admin/api-tokens/{}", t["id"].as_str().unwrap());
            }
            let body = match (*method, *path) {
                ("post", "/api/v1/auth/token") | ("post", "/api/v1/auth/session") => {
                    json!({"username": user, "password": PASSWORD})
                }
                ("post", "/api/v1/admin/api-tokens") => {
                    json!({"name": format!("t-{}", uuid::Uuid::now_v7().simple()), "role": "auditor", "expires_in_days": 1})
                }
                ("post", "/api/v1/cases") => {
                    let mut b = new_case(&["Nuevo"], &["Caso"]);
                    b["owner_state"] = json!("HN");
                    b
                }
                ("post", "/api/v1/stats/submissions") => json!({"period": "2026-H1"}),
                ("post", "/api/v1/meetings") => json!({"title": {"es": "Reunión"}, "starts_on": "2026-06-08",
                    "place": "Tegucigalpa, Honduras", "states": ["HN", "GT"]}),
                ("post", "/api/v1/meetings/{id}/agreements") => {
                    json!({"number": 1, "title": {"es": "Acuerdo"},
                    "text": "Texto del acuerdo.", "responsible": [{"state": "HN"}], "status": "open"})
                }
                ("post", "/api/v1/agreements/{id}/notes") => {
                    json!({"text": "Avance.", "status": "in_progress"})
                }
                ("post", "/api/v1/library") | ("put", "/api/v1/library/{id}") => {
                    json!({"title": {"es": "Protocolo"}, "kind": "protocol", "state": "HN", "language": "es",
                        "date": "2016-05-20"})
                }
                ("post", "/api/v1/groups") | ("put", "/api/v1/groups/{id}") => {
                    json!({"title": {"es": "Grupo"}, "members": [{"state": "HN"}]})
                }
                ("post", "/api/v1/groups/{id}/tasks") | ("put", "/api/v1/groups/{id}/tasks/{task}") => {
                    json!({"title": {"es": "Tarea"}, "responsible": [], "status": "open"})
                }
                ("post", "/api/v1/directory") | ("put", "/api/v1/directory/{id}") => {
                    json!({"state": "HN", "function": "liaison", "name": "Punto focal"})
                }
                ("post", "/api/v1/events") => json!({"title": {"es": "Taller"}, "starts_on": "2026-10-25",
                    "ends_on": "2026-10-27", "place": "Tegucigalpa", "announced_by": {"state": "HN"}}),
                ("post", "/api/v1/persons/candidates") => json!({"person": case["person"].clone()}),
                ("post", "/api/v1/cases/{id}/shares") => json!({"to_state": "GT", "fields": ["status"],
                    "purpose": "Family reunification", "legal_instrument": "Consent of the person"}),
                ("post", "/api/v1/linkage/candidates/{id}/decision") => json!({"decision": "same_person"}),
                ("post", p) if p.ends_with("/decision") => json!({"decision": "same"}),
                ("post", p) if p.ends_with("/subject-access") => {
                    json!({"requested_by": "La persona, en el consulado", "legal_instrument": "Ley de datos"})
                }
                ("post", p) if p.ends_with("/break-glass") => {
                    json!({"reason": "The assigned officer is unreachable tonight."})
                }
                ("post", p) if p.ends_with("/disclosures") => json!({"purpose": "services",
                    "recipient": "Albergue Belén", "recipient_kind": "organisation",
                    "legal_instrument": "Consent of the person"}),
                ("post", "/api/v1/admin/users") => {
                    json!({"username": format!("u-{}", uuid::Uuid::now_v7().simple()),
                    "role": "auditor", "password": "una frase larga y propia"})
                }
                ("patch", "/api/v1/admin/users/{id}") => json!({"display_name": "Socia RROCM"}),
                ("patch", _) => json!({"version": 1, "narrative": "revisado"}),
                ("put", p) if p.ends_with("/legal-hold") => {
                    json!({"hold": true, "reason": "Proceedings pending."})
                }
                ("put", "/api/v1/admin/mfa-policy") => json!({"mfa_for_all": false}),
                ("post", "/api/v1/auth/mfa/confirm") => json!({"code": "123456"}),
                ("put", "/api/v1/admin/retention-rules") => {
                    json!({"category": "labour", "years": 7, "action": "purge"})
                }
                ("put", _) => json!({"version": 1, "person": case["person"].clone()}),
                ("post", p) if p.ends_with("/transitions") => {
                    json!({"to": "protection_accepted", "version": 1})
                }
                ("post", p) if p.ends_with("/actions") => {
                    json!({"kind": "note", "occurred_at": "2026-01-06T15:30:00Z", "text": "x"})
                }
                ("post", p) if p.ends_with("/consents") => {
                    json!({"given_by": "person", "scope": "statistics", "given_at": "2026-01-05T10:00:00Z"})
                }
                _ => json!({}),
            };
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let mut req = app.client.request(m, app.url(&url));
            if !matches!(rule, Rule::Public | Rule::PublicAnswers(_)) {
                req = req.bearer_auth(&token);
            }
            req = if path.ends_with("/attachments") && *method == "post" {
                req.query(&[("filename", "otra.txt")]).header("content-type", "text/plain").body("otra")
            } else if path.ends_with("/files") && *method == "post" {
                req.query(&[("filename", "afiche.png")])
                    .header("content-type", "image/png")
                    .body(crate::harness::PNG)
            } else if ["post", "patch", "put"].contains(method) {
                req.json(&body)
            } else {
                req
            };
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            let expected = rule.expect(user);
            let ok = match expected {
                "ok" => (200..300).contains(&status),
                code => status.to_string() == code,
            };
            if !ok {
                failures.push(format!("{method} {path} as {user}: expected {expected}, got {status}"));
            }
            n += 1;
        }
    }
    assert!(failures.is_empty(), "{} of {n} cells disagree:\n{}", failures.len(), failures.join("\n"));
    // Signed-out requests are refused everywhere but the public endpoints.
    for (method, path, rule) in MATRIX {
        if matches!(rule, Rule::Public | Rule::PublicAnswers(_)) {
            continue;
        }
        let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let r = app.client.request(m, app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 401, "{method} {path} without credentials");
    }
}
