//! Records attached to a case through the API: actions, consents, person rectification,
//! and the version checks (`If-Match` or `version`) of every kind of update.

use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::{TestApp, new_case};

both_backends!(
    actions_are_recorded_listed_and_checked,
    consents_are_recorded_and_withdrawn_once,
    person_rectification_reindexes_search_and_checks_its_version,
    if_match_header_and_body_version_must_agree,
    malformed_if_match_is_a_400,
    updates_by_a_user_of_another_state_are_404_and_change_nothing,
    transitions_use_the_if_match_header,
);

/// A request with an optional `If-Match`; returns status, ETag and body.
async fn send_if_match(
    app: &TestApp,
    method: &str,
    token: &str,
    path: &str,
    if_match: Option<&str>,
    body: &Value,
) -> (u16, Option<String>, Value) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = app.client.request(m, app.url(path)).bearer_auth(token).json(body);
    if let Some(v) = if_match {
        req = req.header("If-Match", v);
    }
    let r = req.send().await.expect("send");
    let status = r.status().as_u16();
    let etag = r.headers().get("etag").map(|v| v.to_str().unwrap().to_string());
    (status, etag, r.json::<Value>().await.unwrap_or(Value::Null))
}

fn id(v: &Value) -> &str {
    v["id"].as_str().expect("id")
}

fn fields(v: &Value) -> Vec<String> {
    v["errors"]
        .as_array()
        .map(|a| a.iter().map(|e| e["field"].as_str().unwrap_or("").to_string()).collect())
        .unwrap_or_default()
}

fn ts(v: &Value) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(v.as_str().expect("a time")).expect("RFC 3339").to_utc()
}

async fn case_events(app: &TestApp, case_id: &str) -> Vec<String> {
    app.app.flush_audit().await.unwrap();
    enlace_store::audit::events_for_record(app.app.db(), "case", case_id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event.action)
        .collect()
}

async fn actions_are_recorded_listed_and_checked(app: TestApp) {
    let t = app.token("supervisor.hn").await;
    let me = app.get(&t, "/api/v1/me").await.1;
    let c = app.create_case(&t, &new_case(&["Elsa"], &["Funes"])).await;
    let path = format!("/api/v1/cases/{}/actions", id(&c));

    let (s, visit) = app
        .post(
            &t,
            &path,
            &json!({"kind": "visit", "occurred_at": "2026-01-06T15:30:00Z",
                    "text": "Visita al albergue; la persona se encuentra bien."}),
        )
        .await;
    assert_eq!(s, 201, "{visit}");
    assert_eq!(visit["kind"], "visit");
    assert_eq!(visit["case_id"], c["id"]);
    assert_eq!(visit["author"], me["id"]);
    assert_eq!(visit["text"], "Visita al albergue; la persona se encuentra bien.");
    assert_eq!(ts(&visit["occurred_at"]), ts(&json!("2026-01-06T15:30:00Z")));
    let recorded = ts(&visit["created_at"]);
    assert!((chrono::Utc::now() - recorded).num_seconds().abs() < 60, "recorded now: {recorded}");
    // An action may be recorded after the fact, and be of any kind.
    let (s, call) = app
        .post(
            &t,
            &path,
            &json!({"kind": "call", "occurred_at": "2026-01-05T09:00:00Z", "text": "Llamada a la familia."}),
        )
        .await;
    assert_eq!(s, 201, "{call}");
    for kind in ["legal_aid", "document_issued", "payment", "note"] {
        let (s, v) = app
            .post(&t, &path, &json!({"kind": kind, "occurred_at": "2026-01-07T09:00:00Z", "text": kind}))
            .await;
        assert_eq!(s, 201, "{kind}: {v}");
    }

    let (s, list) = app.get(&t, &path).await;
    assert_eq!(s, 200);
    let list = list.as_array().unwrap().clone();
    assert_eq!(list.len(), 6);
    let got_visit = list.iter().find(|a| a["id"] == visit["id"]).expect("the visit is listed");
    assert_eq!(got_visit, &visit, "listed as created");
    assert!(list.iter().any(|a| a["id"] == call["id"]));

    let before_audit = app.change_events().await;
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    let (s, v) = app
        .post(&t, &path, &json!({"kind": "visit", "occurred_at": tomorrow, "text": "Visita futura"}))
        .await;
    assert_eq!(s, 422, "future occurred_at: {v}");
    assert!(fields(&v).contains(&"occurred_at".to_string()), "{v}");
    let (s, v) = app
        .post(&t, &path, &json!({"kind": "telepathy", "occurred_at": "2026-01-06T15:30:00Z", "text": "x"}))
        .await;
    assert_eq!(s, 422, "unknown kind: {v}");
    assert_eq!(fields(&v), ["kind"], "{v}");
    let (s, v) = app.post(&t, &path, &json!({"kind": "visit", "occurred_at": "ayer", "text": "x"})).await;
    assert_eq!(s, 422, "bad time: {v}");
    assert_eq!(fields(&v), ["occurred_at"], "{v}");
    let (s, v) = app
        .post(
            &t,
            &path,
            &json!({"kind": "visit", "occurred_at": "2026-01-06T15:30:00Z", "text": "x", "secret": 1}),
        )
        .await;
    assert_eq!(s, 422, "unknown field: {v}");
    // None of them was written.
    assert_eq!(app.get(&t, &path).await.1.as_array().unwrap().len(), 6);
    assert_eq!(app.change_events().await, before_audit);
    let events = case_events(&app, id(&c)).await;
    assert_eq!(events.iter().filter(|e| *e == "case.action").count(), 6, "{events:?}");

    // Roles that do not work cases record nothing; unknown cases are 404.
    let auditor = app.token("auditor.hn").await;
    let body = json!({"kind": "note", "occurred_at": "2026-01-06T15:30:00Z", "text": "x"});
    assert_eq!(app.post(&auditor, &path, &body).await.0, 403);
    assert_eq!(app.get(&auditor, &path).await.0, 404);
    let nowhere = "/api/v1/cases/01890000-0000-7000-8000-000000000000/actions";
    assert_eq!(app.post(&t, nowhere, &body).await.0, 404);
    assert_eq!(app.get(&t, nowhere).await.0, 404);
    assert_eq!(app.get(&t, &path).await.1.as_array().unwrap().len(), 6);
}

async fn consents_are_recorded_and_withdrawn_once(app: TestApp) {
    let t = app.token("supervisor.hn").await;
    let me = app.get(&t, "/api/v1/me").await.1;
    let c = app.create_case(&t, &new_case(&["Rosa"], &["Mejía"])).await;
    let other = app.create_case(&t, &new_case(&["Otra"], &["Persona"])).await;
    let path = format!("/api/v1/cases/{}/consents", id(&c));

    let (s, services) = app
        .post(
            &t,
            &path,
            &json!({"given_by": "person", "scope": "services", "given_at": "2026-01-05T10:00:00Z"}),
        )
        .await;
    assert_eq!(s, 201, "{services}");
    assert_eq!(services["case_id"], c["id"]);
    assert_eq!(services["scope"], "services");
    assert_eq!(services["given_by"], "person");
    assert_eq!(services["withdrawn_at"], Value::Null);
    assert_eq!(services["recorded_by"], me["id"]);

    let before_audit = app.change_events().await;
    let (s, v) = app
        .post(
            &t,
            &path,
            &json!({"given_by": "person", "scope": "referral", "given_at": "2026-01-05T10:00:00Z"}),
        )
        .await;
    assert_eq!(s, 422, "a referral names its recipient: {v}");
    assert_eq!(fields(&v), ["recipient"], "{v}");
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    let (s, v) =
        app.post(&t, &path, &json!({"given_by": "person", "scope": "services", "given_at": tomorrow})).await;
    assert_eq!(s, 422, "future given_at: {v}");
    assert_eq!(fields(&v), ["given_at"], "{v}");
    let (s, v) = app
        .post(
            &t,
            &path,
            &json!({"given_by": "person", "scope": "everything", "given_at": "2026-01-05T10:00:00Z"}),
        )
        .await;
    assert_eq!(s, 422, "unknown scope: {v}");
    assert_eq!(fields(&v), ["scope"], "{v}");
    assert_eq!(app.change_events().await, before_audit, "refused consents write nothing");

    let (s, referral) = app
        .post(
            &t,
            &path,
            &json!({"given_by": "guardian", "giver_name": "Marta Mejía", "scope": "referral",
                    "recipient": "DIF Chiapas", "given_at": "2026-01-05T11:00:00Z"}),
        )
        .await;
    assert_eq!(s, 201, "{referral}");
    assert_eq!(referral["recipient"], "DIF Chiapas");
    assert_eq!(referral["giver_name"], "Marta Mejía");

    let (s, list) = app.get(&t, &path).await;
    assert_eq!(s, 200);
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");

    // Withdraw: 204, then the consent shows when; a second withdrawal is 404.
    let withdraw = format!("{path}/{}/withdraw", id(&services));
    let (s, _) = app.post(&t, &withdraw, &json!({})).await;
    assert_eq!(s, 204);
    let (_, list) = app.get(&t, &path).await;
    let got = |cid: &Value| list.as_array().unwrap().iter().find(|x| x["id"] == *cid).unwrap().clone();
    let w = got(&services["id"]);
    let when = ts(&w["withdrawn_at"]);
    assert!((chrono::Utc::now() - when).num_seconds().abs() < 60, "{w}");
    assert_eq!(got(&referral["id"])["withdrawn_at"], Value::Null, "the other consent stands");
    let (s, v) = app.post(&t, &withdraw, &json!({})).await;
    assert_eq!(s, 404, "withdrawn twice: {v}");
    let (_, again) = app.get(&t, &path).await;
    let w2 = again.as_array().unwrap().iter().find(|x| x["id"] == services["id"]).unwrap().clone();
    assert_eq!(ts(&w2["withdrawn_at"]), when, "the first withdrawal time is kept");

    // Unknown, malformed, and another case's consent ids.
    let (s, _) =
        app.post(&t, &format!("{path}/01890000-0000-7000-8000-000000000000/withdraw"), &json!({})).await;
    assert_eq!(s, 404);
    let (s, _) = app.post(&t, &format!("{path}/not-a-uuid/withdraw"), &json!({})).await;
    assert_eq!(s, 404);
    let via_other = format!("/api/v1/cases/{}/consents/{}/withdraw", id(&other), id(&referral));
    let (s, _) = app.post(&t, &via_other, &json!({})).await;
    assert_eq!(s, 404, "a consent is withdrawn through its own case");
    // Roles that do not work cases withdraw nothing.
    let auditor = app.token("auditor.hn").await;
    let referral_withdraw = format!("{path}/{}/withdraw", id(&referral));
    assert_eq!(app.post(&auditor, &referral_withdraw, &json!({})).await.0, 403);
    let (_, list) = app.get(&t, &path).await;
    let r = list.as_array().unwrap().iter().find(|x| x["id"] == referral["id"]).unwrap().clone();
    assert_eq!(r["withdrawn_at"], Value::Null);

    let events = case_events(&app, id(&c)).await;
    assert_eq!(events.iter().filter(|e| *e == "case.consent").count(), 2, "{events:?}");
    assert_eq!(events.iter().filter(|e| *e == "case.consent_withdrawn").count(), 1, "{events:?}");
}

fn person(given: &[&str], surnames: &[&str]) -> Value {
    json!({"given_names": given, "surnames": surnames, "sex": "female",
           "birth": {"kind": "year", "year": 1990}, "nationalities": ["HN"]})
}

async fn person_rectification_reindexes_search_and_checks_its_version(app: TestApp) {
    let t = app.token("supervisor.hn").await;
    let names = |v: &Value| -> Vec<String> {
        v["items"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_string()).collect()
    };
    let c1 = app.create_case(&t, &new_case(&["Rosa"], &["Gutiérrez"])).await;
    // A second case of the same person.
    let mut again = new_case(&["x"], &["y"]);
    again.as_object_mut().unwrap().remove("person");
    again["person_id"] = c1["person_id"].clone();
    let c2 = app.create_case(&t, &again).await;
    assert_eq!(c2["person_id"], c1["person_id"]);
    let unrelated = app.create_case(&t, &new_case(&["Pedro"], &["Gutiérrez"])).await;
    let mut found = names(&app.get(&t, "/api/v1/cases?q=rosa%20gutierrez").await.1);
    found.sort();
    let mut both = vec![id(&c1).to_string(), id(&c2).to_string()];
    both.sort();
    assert_eq!(found, both);

    let p1 = format!("/api/v1/cases/{}", id(&c1));
    let person_path = format!("{p1}/person");
    let (s, got) = app.get(&t, &p1).await;
    assert_eq!(s, 200);
    assert_eq!(got["person_version"], 1);

    // The surname was misspelt: correct it.
    let (s, p) = app
        .send("PUT", &t, &person_path, &json!({"version": 1, "person": person(&["Rosa"], &["Guzmán"])}))
        .await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["version"], 2);
    assert_eq!(p["id"], c1["person_id"]);
    assert_eq!(p["surnames"], json!(["Guzmán"]));

    // Search finds the new surname on both of the person's cases, and the old one no more.
    let mut found = names(&app.get(&t, "/api/v1/cases?q=guzman").await.1);
    found.sort();
    assert_eq!(found, both, "both cases of the person are found by the new surname");
    let old = names(&app.get(&t, "/api/v1/cases?q=gutierrez").await.1);
    assert_eq!(old, [id(&unrelated).to_string()], "only the unrelated Gutiérrez is left");
    assert!(names(&app.get(&t, "/api/v1/cases?q=rosa%20gutierrez").await.1).is_empty());
    // The list shows the corrected name too.
    let (_, list) = app.get(&t, "/api/v1/cases?q=guzman").await;
    for item in list["items"].as_array().unwrap() {
        assert_eq!(item["person_name"], "Rosa Guzmán", "{item}");
    }
    // Both cases read back the corrected person and its new version.
    for c in [&c1, &c2] {
        let (_, v) = app.get(&t, &format!("/api/v1/cases/{}", id(c))).await;
        assert_eq!(v["person"]["surnames"], json!(["Guzmán"]), "{v}");
        assert_eq!(v["person_version"], 2, "{v}");
    }

    // A stale person version is a conflict and changes nothing.
    let (s, v) = app
        .send("PUT", &t, &person_path, &json!({"version": 1, "person": person(&["Rosa"], &["Gómez"])}))
        .await;
    assert_eq!(s, 409, "{v}");
    assert!(names(&app.get(&t, "/api/v1/cases?q=gomez").await.1).is_empty());
    assert_eq!(app.get(&t, &p1).await.1["person"]["surnames"], json!(["Guzmán"]));
    // The case's version is not the person's version.
    let (s, v) = app
        .send("PUT", &t, &person_path, &json!({"version": 99, "person": person(&["Rosa"], &["Gómez"])}))
        .await;
    assert_eq!(s, 409, "{v}");
    // Without a version: refused.
    let (s, v) = app.send("PUT", &t, &person_path, &json!({"person": person(&["Rosa"], &["Gómez"])})).await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(fields(&v), ["version"]);
    // The version may come as If-Match.
    let (s, _, p) = send_if_match(
        &app,
        "PUT",
        &t,
        &person_path,
        Some("\"2\""),
        &json!({"person": person(&["Rosa", "María"], &["Guzmán"])}),
    )
    .await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["version"], 3);
    assert_eq!(names(&app.get(&t, "/api/v1/cases?q=maria%20guzman").await.1).len(), 2);
    // The corrected person is checked like a new one, against the case too.
    let mut bad = person(&["Rosa"], &["Guzmán"]);
    bad["nationalities"] = json!(["GT"]);
    let (s, v) = app.send("PUT", &t, &person_path, &json!({"version": 3, "person": bad})).await;
    assert_eq!(s, 422, "the owner state must stay among the nationalities: {v}");
    assert!(fields(&v).contains(&"owner_state".to_string()), "{v}");
    let mut bad = person(&["Rosa"], &["Guzmán"]);
    bad["birth"] = json!({"kind": "date", "date": "2999-01-01"});
    let (s, v) = app.send("PUT", &t, &person_path, &json!({"version": 3, "person": bad})).await;
    assert_eq!(s, 422, "{v}");
    assert!(fields(&v).contains(&"person.birth.date".to_string()), "{v}");
    let (s, v) = app.send("PUT", &t, &person_path, &json!({"version": 3, "person": person(&[], &[])})).await;
    assert_eq!(s, 422, "a person needs a name: {v}");
    assert_eq!(app.get(&t, &p1).await.1["person_version"], 3, "refused corrections change nothing");

    app.app.flush_audit().await.unwrap();
    let events =
        enlace_store::audit::events_for_record(app.app.db(), "person", c1["person_id"].as_str().unwrap())
            .await
            .unwrap();
    assert_eq!(events.iter().filter(|e| e.event.action == "person.rectify").count(), 2);
}

async fn if_match_header_and_body_version_must_agree(app: TestApp) {
    let t = app.token("supervisor.hn").await;
    let c = app.create_case(&t, &new_case(&["Ana"], &["López"])).await;
    let path = format!("/api/v1/cases/{}", id(&c));

    // PATCH: header says 1, body says 2.
    let (s, _, v) =
        send_if_match(&app, "PATCH", &t, &path, Some("\"1\""), &json!({"version": 2, "narrative": "x"}))
            .await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(fields(&v), ["version"], "{v}");
    // ... the other way round too, even though the header is the current version.
    let (s, _, v) =
        send_if_match(&app, "PATCH", &t, &path, Some("\"2\""), &json!({"version": 1, "narrative": "x"}))
            .await;
    assert_eq!(s, 422, "{v}");
    // Transitions.
    let (s, _, v) = send_if_match(
        &app,
        "POST",
        &t,
        &format!("{path}/transitions"),
        Some("\"1\""),
        &json!({"to": "protection_accepted", "version": 2}),
    )
    .await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(fields(&v), ["version"], "{v}");
    // Person corrections.
    let (s, _, v) = send_if_match(
        &app,
        "PUT",
        &t,
        &format!("{path}/person"),
        Some("\"1\""),
        &json!({"version": 2, "person": person(&["Ana"], &["Lopes"])}),
    )
    .await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(fields(&v), ["version"], "{v}");
    // Nothing changed.
    let (_, now) = app.get(&t, &path).await;
    assert_eq!(now["version"], 1);
    assert_eq!(now["status"], "intake");
    assert_eq!(now["narrative"], Value::Null);
    assert_eq!(now["person_version"], 1);
    assert_eq!(now["person"]["surnames"], json!(["López"]));
    // When they agree, it goes through.
    let (s, etag, v) =
        send_if_match(&app, "PATCH", &t, &path, Some("\"1\""), &json!({"version": 1, "narrative": "x"}))
            .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(etag.as_deref(), Some("\"2\""));
}

async fn malformed_if_match_is_a_400(app: TestApp) {
    let t = app.token("supervisor.hn").await;
    let c = app.create_case(&t, &new_case(&["Ana"], &["López"])).await;
    let path = format!("/api/v1/cases/{}", id(&c));
    let requests: [(&str, String, Value); 3] = [
        ("PATCH", path.clone(), json!({"narrative": "x"})),
        ("POST", format!("{path}/transitions"), json!({"to": "protection_accepted"})),
        ("PUT", format!("{path}/person"), json!({"person": person(&["Ana"], &["Lopes"])})),
    ];
    for (method, p, body) in &requests {
        for bad in ["abc", "\"one\"", "", "*", "\"1\", \"2\"", "1.5", "W/"] {
            let (s, _, v) = send_if_match(&app, method, &t, p, Some(bad), body).await;
            assert_eq!(s, 400, "{method} {p} If-Match {bad:?}: {v}");
            assert_eq!(fields(&v), ["If-Match"], "{v}");
        }
    }
    let (_, now) = app.get(&t, &path).await;
    assert_eq!(now["version"], 1);
    assert_eq!(now["narrative"], Value::Null);
    assert_eq!(now["person_version"], 1);
    // The forms the API documents are accepted: "1", W/"1" and a bare 1.
    let (s, etag, v) =
        send_if_match(&app, "PATCH", &t, &path, Some("W/\"1\""), &json!({"narrative": "a"})).await;
    assert_eq!((s, etag.as_deref()), (200, Some("\"2\"")), "{v}");
    let (s, etag, v) = send_if_match(&app, "PATCH", &t, &path, Some("2"), &json!({"narrative": "b"})).await;
    assert_eq!((s, etag.as_deref()), (200, Some("\"3\"")), "{v}");
}

async fn updates_by_a_user_of_another_state_are_404_and_change_nothing(app: TestApp) {
    let hn = app.token("supervisor.hn").await;
    let c = app.create_case(&hn, &new_case(&["Ana"], &["López"])).await;
    let path = format!("/api/v1/cases/{}", id(&c));
    let (_, consent) = app
        .post(
            &hn,
            &format!("{path}/consents"),
            &json!({"given_by": "person", "scope": "services", "given_at": "2026-01-05T10:00:00Z"}),
        )
        .await;
    let events_before = case_events(&app, id(&c)).await;

    for who in ["supervisor.gt", "officer.gt", "officer.hn2"] {
        let t = app.token(who).await;
        let (s, _, v) =
            send_if_match(&app, "PATCH", &t, &path, None, &json!({"version": 1, "narrative": "x"})).await;
        assert_eq!(s, 404, "{who} PATCH: {v}");
        let (s, _, v) =
            send_if_match(&app, "PATCH", &t, &path, Some("\"1\""), &json!({"narrative": "x"})).await;
        assert_eq!(s, 404, "{who} PATCH with If-Match: {v}");
        let (s, v) = app
            .post(&t, &format!("{path}/transitions"), &json!({"to": "protection_accepted", "version": 1}))
            .await;
        assert_eq!(s, 404, "{who} transition: {v}");
        let (s, v) = app
            .send(
                "PUT",
                &t,
                &format!("{path}/person"),
                &json!({"version": 1, "person": person(&["Ana"], &["Lopes"])}),
            )
            .await;
        assert_eq!(s, 404, "{who} person: {v}");
        let (s, v) = app
            .post(
                &t,
                &format!("{path}/actions"),
                &json!({"kind": "note", "occurred_at": "2026-01-06T15:30:00Z", "text": "x"}),
            )
            .await;
        assert_eq!(s, 404, "{who} action: {v}");
        let (s, v) = app
            .post(
                &t,
                &format!("{path}/consents"),
                &json!({"given_by": "person", "scope": "statistics", "given_at": "2026-01-05T10:00:00Z"}),
            )
            .await;
        assert_eq!(s, 404, "{who} consent: {v}");
        let (s, v) = app.post(&t, &format!("{path}/consents/{}/withdraw", id(&consent)), &json!({})).await;
        assert_eq!(s, 404, "{who} withdraw: {v}");
        for read in ["", "/actions", "/consents", "/transitions"] {
            assert_eq!(app.get(&t, &format!("{path}{read}")).await.0, 404, "{who} GET {read}");
        }
    }

    let (_, now) = app.get(&hn, &path).await;
    assert_eq!(now["version"], 1);
    assert_eq!(now["status"], "intake");
    assert_eq!(now["narrative"], Value::Null);
    assert_eq!(now["person_version"], 1);
    assert_eq!(now["person"]["surnames"], json!(["López"]));
    assert!(app.get(&hn, &format!("{path}/actions")).await.1.as_array().unwrap().is_empty());
    let consents = app.get(&hn, &format!("{path}/consents")).await.1;
    assert_eq!(consents.as_array().unwrap().len(), 1);
    assert_eq!(consents[0]["withdrawn_at"], Value::Null);
    // Nothing changed; each refused attempt (11 per user) was recorded as a denial.
    let events = case_events(&app, id(&c)).await;
    let (old, new) = events.split_at(events_before.len());
    assert_eq!(old, events_before);
    let changes: Vec<_> = new.iter().filter(|a| !crate::harness::is_read_or_denial(a)).collect();
    assert!(changes.is_empty(), "{changes:?}");
    assert_eq!(new.iter().filter(|a| *a == "access.denied").count(), 33, "{new:?}");
}

async fn transitions_use_the_if_match_header(app: TestApp) {
    let t = app.token("supervisor.hn").await;
    let c = app.create_case(&t, &new_case(&["Luis"], &["Zelaya"])).await;
    let path = format!("/api/v1/cases/{}/transitions", id(&c));

    let (s, etag, v) =
        send_if_match(&app, "POST", &t, &path, Some("\"1\""), &json!({"to": "protection_accepted"})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "protection_accepted");
    assert_eq!(v["version"], 2);
    assert_eq!(etag.as_deref(), Some("\"2\""));
    // A stale header is a conflict, and the status stays.
    let (s, _, v) = send_if_match(&app, "POST", &t, &path, Some("\"1\""), &json!({"to": "assessment"})).await;
    assert_eq!(s, 409, "{v}");
    let case_path = format!("/api/v1/cases/{}", id(&c));
    assert_eq!(app.get(&t, &case_path).await.1["status"], "protection_accepted");
    // Neither header nor body version: refused.
    let (s, _, v) = send_if_match(&app, "POST", &t, &path, None, &json!({"to": "assessment"})).await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(fields(&v), ["version"]);
    // The ETag just returned is what the next request sends (weak form too).
    let (s, etag, v) =
        send_if_match(&app, "POST", &t, &path, Some("W/\"2\""), &json!({"to": "assessment"})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(etag.as_deref(), Some("\"3\""));
    let (s, etag, v) =
        send_if_match(&app, "POST", &t, &path, etag.as_deref(), &json!({"to": "action_plan"})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(etag.as_deref(), Some("\"4\""));
    // Going back needs a reason; the header does not dispense with it.
    let (s, _, v) = send_if_match(&app, "POST", &t, &path, Some("\"4\""), &json!({"to": "assessment"})).await;
    assert_eq!(s, 409, "{v}");
    let (s, etag, v) = send_if_match(
        &app,
        "POST",
        &t,
        &path,
        Some("\"4\""),
        &json!({"to": "assessment", "reason": "Falta la evaluación médica"}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(etag.as_deref(), Some("\"5\""));
    // GET's ETag matches the version.
    let r = app.client.get(app.url(&case_path)).bearer_auth(&t).send().await.unwrap();
    assert_eq!(r.headers()["etag"], "\"5\"");
    let (_, hist) = app.get(&t, &path).await;
    let tos: Vec<&str> = hist.as_array().unwrap().iter().map(|x| x["to"].as_str().unwrap()).collect();
    assert_eq!(tos, ["intake", "protection_accepted", "assessment", "action_plan", "assessment"]);
    assert_eq!(hist[4]["reason"], "Falta la evaluación médica");
}
