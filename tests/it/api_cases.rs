//! The case API end to end: create, read, update, workflow, search, scope, bad input.

use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::{TestApp, is_read_or_denial, new_case};

both_backends!(
    health_needs_no_token_and_everything_else_does,
    creates_reads_and_numbers_cases,
    stale_updates_get_409_and_nothing_is_lost,
    workflow_refuses_illegal_moves_and_records_history,
    search_is_accent_and_case_insensitive,
    pagination_walks_every_case_once,
    officers_see_their_posts_and_states_see_only_their_own,
    bad_input_is_a_named_4xx_and_writes_nothing,
    attachments_are_checked_hashed_and_returned,
    detention_first_contact_overdue_is_flagged_and_filterable,
    concurrent_creations_get_unique_numbers,
    a_failing_write_among_concurrent_ones_undoes_only_itself,
    every_request_body_example_in_openapi_is_accepted,
);

async fn health_needs_no_token_and_everything_else_does(app: TestApp) {
    let r = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = app.client.get(app.url("/api/v1/cases")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    let r = app.client.get(app.url("/api/v1/cases")).bearer_auth("forged-token").send().await.unwrap();
    assert_eq!(r.status(), 401);
    // A wrong password is refused and audited.
    let before = app.audit_len().await;
    let r = app
        .client
        .post(app.url("/api/v1/auth/token"))
        .json(&json!({"username": "supervisor.hn", "password": "wrong password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(app.audit_len().await, before + 1);
    // Sign-out revokes the token.
    let t = app.token("supervisor.hn").await;
    assert_eq!(app.get(&t, "/api/v1/me").await.0, 200);
    let r = app.client.delete(app.url("/api/v1/auth/token")).bearer_auth(&t).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(app.get(&t, "/api/v1/me").await.0, 401);
}

async fn creates_reads_and_numbers_cases(app: TestApp) {
    let t = app.token("supervisor.hn").await;
    let year = chrono::Utc::now().format("%Y").to_string();
    let a = app.create_case(&t, &new_case(&["María", "José"], &["Gutiérrez", "Hernández"])).await;
    let b = app.create_case(&t, &new_case(&["Ana"], &["López"])).await;
    assert_eq!(a["number"], format!("HN-{year}-000001"));
    assert_eq!(b["number"], format!("HN-{year}-000002"));
    assert_eq!(a["status"], "intake");
    assert_eq!(a["version"], 1);
    assert_eq!(a["owner_state"], "HN");
    let id = a["id"].as_str().unwrap();
    let r = app.client.get(app.url(&format!("/api/v1/cases/{id}"))).bearer_auth(&t).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["etag"], "\"1\"");
    let got: Value = r.json().await.unwrap();
    assert_eq!(got["person"]["given_names"], json!(["María", "José"]));
    assert_eq!(got["person"]["surnames"], json!(["Gutiérrez", "Hernández"]));
    let (s, by_number) = app.get(&t, &format!("/api/v1/cases/by-number/HN-{year}-000002")).await;
    assert_eq!(s, 200);
    assert_eq!(by_number["id"], b["id"]);
    // The creation is in the history and in the audit log.
    let (_, hist) = app.get(&t, &format!("/api/v1/cases/{id}/transitions")).await;
    assert_eq!(hist.as_array().unwrap().len(), 1);
    assert_eq!(hist[0]["to"], "intake");
    app.app.flush_audit().await.unwrap();
    let events = enlace_store::audit::events_for_record(app.app.db(), "case", id).await.unwrap();
    let changes: Vec<&str> = events
        .iter()
        .map(|e| e.event.action.as_str())
        .filter(|a| !crate::harness::is_read_or_denial(a))
        .collect();
    assert_eq!(changes, ["case.create"]);
    // Every read of the person's data is recorded, with who read it and what.
    let reads: Vec<_> = events.iter().filter(|e| e.event.action == "case.read").collect();
    assert_eq!(reads.len(), 2, "GET by id and the history (by number read the other case)");
    assert!(reads.iter().all(|e| e.event.actor_name == "supervisor.hn"));
    assert_eq!(reads[1].event.detail["part"], "transitions");
    // Unknown ids and malformed ids are both plain 404s.
    assert_eq!(app.get(&t, "/api/v1/cases/01890000-0000-7000-8000-000000000000").await.0, 404);
    assert_eq!(app.get(&t, "/api/v1/cases/not-a-uuid").await.0, 404);
}

async fn stale_updates_get_409_and_nothing_is_lost(app: TestApp) {
    let t = app.token("supervisor.hn").await;
    let c = app.create_case(&t, &new_case(&["Rosa"], &["Mejía"])).await;
    let path = format!("/api/v1/cases/{}", c["id"].as_str().unwrap());
    // Without a version: refused, so nobody overwrites blindly.
    let (s, v) = app.send("PATCH", &t, &path, &json!({"narrative": "x"})).await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(v["errors"][0]["field"], "version");
    let (s, first) =
        app.send("PATCH", &t, &path, &json!({"version": 1, "narrative": "Primera versión"})).await;
    assert_eq!(s, 200, "{first}");
    assert_eq!(first["version"], 2);
    let (s, v) = app.send("PATCH", &t, &path, &json!({"version": 1, "narrative": "Segunda versión"})).await;
    assert_eq!(s, 409, "{v}");
    let r = app
        .client
        .patch(app.url(&path))
        .bearer_auth(&t)
        .header("If-Match", "\"2\"")
        .json(&json!({"category": "human_rights", "narrative": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["etag"], "\"3\"");
    let (_, now) = app.get(&t, &path).await;
    assert_eq!(now["category"], "human_rights");
    assert_eq!(now["narrative"], Value::Null);
    assert_eq!(now["version"], 3);
}

async fn workflow_refuses_illegal_moves_and_records_history(app: TestApp) {
    let sup = app.token("supervisor.hn").await;
    let off = app.token("officer.hn").await;
    let mut body = new_case(&["Luis"], &["Zelaya"]);
    body["post"] = json!("HN-TAPACHULA");
    body["protection"] = json!({"state": "pending"});
    let c = app.create_case(&off, &body).await;
    let path = format!("/api/v1/cases/{}/transitions", c["id"].as_str().unwrap());
    let (s, v) = app.post(&off, &path, &json!({"to": "resolved", "version": 1})).await;
    assert_eq!(s, 409);
    assert!(v["detail"].as_str().unwrap().contains("protection_accepted"), "{v}");
    let (s, v) = app.post(&off, &path, &json!({"to": "protection_accepted", "version": 1})).await;
    assert_eq!(s, 409, "protection is still pending: {v}");
    let case_path = format!("/api/v1/cases/{}", c["id"].as_str().unwrap());
    let (s, _) = app
        .send(
            "PATCH",
            &off,
            &case_path,
            &json!({"version": 1, "protection": {"state": "accepted", "at": "2026-02-01T09:00:00Z"}}),
        )
        .await;
    assert_eq!(s, 200);
    let mut version = 2;
    for to in ["protection_accepted", "assessment", "action_plan", "in_progress", "resolved"] {
        let (s, v) = app.post(&off, &path, &json!({"to": to, "version": version})).await;
        assert_eq!(s, 200, "{to}: {v}");
        version += 1;
    }
    // Only a supervisor closes, and with a reason.
    let (s, _) =
        app.post(&off, &path, &json!({"to": "closed", "reason": "Concluido", "version": version})).await;
    assert_eq!(s, 403);
    let (s, v) = app.post(&sup, &path, &json!({"to": "closed", "version": version})).await;
    assert_eq!(s, 409, "{v}");
    let (s, v) = app
        .post(&sup, &path, &json!({"to": "closed", "reason": "Documento entregado", "version": version}))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "closed");
    assert!(v["closed_at"].is_string());
    let (_, hist) = app.get(&sup, &path).await;
    let tos: Vec<&str> = hist.as_array().unwrap().iter().map(|t| t["to"].as_str().unwrap()).collect();
    assert_eq!(
        tos,
        ["intake", "protection_accepted", "assessment", "action_plan", "in_progress", "resolved", "closed"]
    );
    assert_eq!(hist[6]["reason"], "Documento entregado");
}

async fn search_is_accent_and_case_insensitive(app: TestApp) {
    let t = app.token("supervisor.hn").await;
    let a = app.create_case(&t, &new_case(&["MARÍA", "JOSÉ"], &["GUTIÉRREZ", "HERNÁNDEZ"])).await;
    app.create_case(&t, &new_case(&["Pedro"], &["Fernández"])).await;
    let mut with_doc = new_case(&["Juan"], &["Núñez"]);
    with_doc["person"]["documents"] =
        json!([{"kind": "passport", "number": "F1234567", "issuing_state": "HN"}]);
    app.create_case(&t, &with_doc).await;
    let names = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["person_name"].as_str().unwrap().to_string())
            .collect()
    };
    let (s, v) = app.get(&t, "/api/v1/cases?q=gutierrez").await;
    assert_eq!(s, 200);
    assert_eq!(names(&v), ["MARÍA JOSÉ GUTIÉRREZ HERNÁNDEZ"]);
    assert_eq!(names(&app.get(&t, "/api/v1/cases?q=maria%20hernan").await.1).len(), 1);
    assert_eq!(names(&app.get(&t, "/api/v1/cases?q=Hern%C3%A1ndez").await.1).len(), 1);
    assert_eq!(names(&app.get(&t, "/api/v1/cases?q=fernandez").await.1), ["Pedro Fernández"]);
    assert_eq!(names(&app.get(&t, "/api/v1/cases?q=nunez").await.1), ["Juan Núñez"]);
    assert_eq!(names(&app.get(&t, "/api/v1/cases?q=f1234567").await.1), ["Juan Núñez"]);
    assert!(names(&app.get(&t, "/api/v1/cases?q=zzzz").await.1).is_empty());
    // Several words: a case must have them all (the words are intersected or checked).
    assert!(names(&app.get(&t, "/api/v1/cases?q=maria%20fernandez").await.1).is_empty());
    assert!(names(&app.get(&t, "/api/v1/cases?q=pedro%20nunez%20juan").await.1).is_empty());
    assert_eq!(names(&app.get(&t, "/api/v1/cases?q=jose%20maria%20gutierrez").await.1).len(), 1);
    let number = a["number"].as_str().unwrap();
    assert_eq!(names(&app.get(&t, &format!("/api/v1/cases?q={number}")).await.1).len(), 1);
    // Filters combine with search.
    assert!(names(&app.get(&t, "/api/v1/cases?q=gutierrez&status=closed").await.1).is_empty());
    assert_eq!(names(&app.get(&t, "/api/v1/cases?category=migration&status=intake").await.1).len(), 3);
    let (s, v) = app.get(&t, "/api/v1/cases?status=bogus").await;
    assert_eq!(s, 400);
    assert_eq!(v["errors"][0]["field"], "status");
    let (s, v) = app.get(&t, "/api/v1/cases?colour=red").await;
    assert_eq!(s, 400, "unknown parameters are refused: {v}");
}

async fn pagination_walks_every_case_once(app: TestApp) {
    let t = app.token("supervisor.hn").await;
    for i in 0..23 {
        app.create_case(&t, &new_case(&["Persona"], &[&format!("Apellido{}", "x".repeat(i % 3 + 1))])).await;
    }
    for sort in ["-opened_at", "opened_at", "number", "-number", "-updated_at"] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/api/v1/cases?limit=5&sort={sort}");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let (s, v) = app.get(&t, &path).await;
            assert_eq!(s, 200, "{v}");
            for c in v["items"].as_array().unwrap() {
                seen.push(c["number"].as_str().unwrap().to_string());
            }
            match v["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
        }
        assert_eq!(seen.len(), 23, "{sort}");
        let mut sorted = seen.clone();
        sorted.sort();
        if sort.starts_with('-') {
            sorted.reverse();
        }
        assert_eq!(seen, sorted, "order of {sort}");
    }
    let (s, _) = app.get(&t, "/api/v1/cases?cursor=zz").await;
    assert_eq!(s, 422);
    let (s, _) = app.get(&t, "/api/v1/cases?limit=0").await;
    assert_eq!(s, 400);
}

async fn officers_see_their_posts_and_states_see_only_their_own(app: TestApp) {
    let off_hn = app.token("officer.hn").await;
    let off_hn2 = app.token("officer.hn2").await;
    let off_gt = app.token("officer.gt").await;
    let sup_hn = app.token("supervisor.hn").await;
    let sup_gt = app.token("supervisor.gt").await;
    let mut at_tap = new_case(&["Carlos"], &["Amaya"]);
    at_tap["post"] = json!("HN-TAPACHULA");
    let c = app.create_case(&off_hn, &at_tap).await;
    let path = format!("/api/v1/cases/{}", c["id"].as_str().unwrap());
    assert_eq!(app.get(&off_hn, &path).await.0, 200);
    assert_eq!(app.get(&sup_hn, &path).await.0, 200);
    assert_eq!(app.get(&off_hn2, &path).await.0, 404, "another post's officer");
    assert_eq!(app.get(&sup_gt, &path).await.0, 404, "another state");
    assert_eq!(app.get(&sup_gt, "/api/v1/cases").await.1["items"].as_array().unwrap().len(), 0);
    // Mutual consular assistance: Guatemala's post in Tapachula registers a Honduran child.
    let mut mou = new_case(&["Kevin"], &["Ramos"]);
    mou["owner_state"] = json!("HN");
    mou["legal_basis"] = json!("mou_assistance");
    let m = app.create_case(&off_gt, &mou).await;
    assert_eq!(m["owner_state"], "HN");
    assert_eq!(m["assisting_state"], "GT");
    assert_eq!(m["post"], "GT-TAPACHULA");
    let mpath = format!("/api/v1/cases/{}", m["id"].as_str().unwrap());
    assert_eq!(app.get(&off_gt, &mpath).await.0, 200);
    assert_eq!(app.get(&sup_hn, &mpath).await.0, 200);
    assert_eq!(app.get(&sup_gt, &mpath).await.0, 200);
    // An officer's search finds the cases at their post whoever owns them, and no others.
    let found = async |t: &str, q: &str| -> Vec<String> {
        let v = app.get(t, &format!("/api/v1/cases?q={q}")).await.1;
        v["items"].as_array().unwrap().iter().map(|c| c["number"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(found(&off_gt, "ramos").await, [m["number"].as_str().unwrap()], "assisted at the post");
    assert_eq!(found(&off_gt, "kevin%20ramos").await.len(), 1);
    assert!(found(&off_hn, "ramos").await.is_empty(), "another state's post");
    assert_eq!(found(&off_hn, "amaya").await, [c["number"].as_str().unwrap()]);
    assert!(found(&off_hn2, "amaya").await.is_empty(), "another post");
    assert!(found(&off_gt, "amaya").await.is_empty());
    // Moved to another post, the case is found there (the search index keeps each case's
    // post, which an officer's search reads) and no longer at the first.
    let (s, v) = app.send("PATCH", &sup_hn, &path, &json!({"version": 1, "post": "HN-HOUSTON"})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(found(&off_hn2, "amaya").await, [c["number"].as_str().unwrap()], "moved here");
    assert_eq!(found(&off_hn2, "carlos%20amaya").await.len(), 1);
    assert!(found(&off_hn, "amaya").await.is_empty(), "moved away");
    // A Guatemalan officer may not register a Honduran case at a Honduran post.
    let mut other = new_case(&["X"], &["Y"]);
    other["owner_state"] = json!("HN");
    other["post"] = json!("HN-TAPACHULA");
    assert_eq!(app.post(&off_gt, "/api/v1/cases", &other).await.0, 403);
    // Roles that do not work cases see none and change none.
    for who in ["admin.hn", "auditor.hn", "analyst", "partner"] {
        let t = app.token(who).await;
        assert_eq!(app.get(&t, &path).await.0, 404, "{who}");
        assert_eq!(app.get(&t, "/api/v1/cases").await.0, 403, "{who} may not list cases");
        assert_eq!(app.post(&t, "/api/v1/cases", &new_case(&["A"], &["B"])).await.0, 403, "{who}");
    }
}

async fn bad_input_is_a_named_4xx_and_writes_nothing(app: TestApp) {
    let t = app.token("supervisor.hn").await;
    let before = app.audit_len().await;
    let post_raw = |body: Vec<u8>, ct: &'static str| {
        let req =
            app.client.post(app.url("/api/v1/cases")).bearer_auth(&t).header("content-type", ct).body(body);
        async move {
            let r = req.send().await.unwrap();
            let s = r.status().as_u16();
            let ct = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_string());
            (s, ct, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (s, ct, v) = post_raw(b"{\"host_state\": ".to_vec(), "application/json").await;
    assert_eq!((s, ct.as_deref()), (400, Some("application/problem+json")), "{v}");
    let (s, _, _) = post_raw(b"\xff\xfe{}".to_vec(), "application/json").await;
    assert_eq!(s, 400);
    let (s, _, _) = post_raw(b"{}".to_vec(), "text/plain").await;
    assert_eq!(s, 415);
    let (s, _, v) = post_raw(vec![b' '; 2 * 1024 * 1024], "application/json").await;
    assert_eq!(s, 413, "{v}");

    let mut cases: Vec<(Value, &str)> = Vec::new();
    let mut unknown = new_case(&["A"], &["B"]);
    unknown["colour"] = json!("red");
    cases.push((unknown, "colour"));
    let mut nested_unknown = new_case(&["A"], &["B"]);
    nested_unknown["person"]["nickname"] = json!("x");
    cases.push((nested_unknown, "person.nickname"));
    let mut bad_enum = new_case(&["A"], &["B"]);
    bad_enum["subtype"] = json!("kidnapping");
    cases.push((bad_enum, "subtype"));
    let mut wrong_type = new_case(&["A"], &["B"]);
    wrong_type["vulnerabilities"] = json!("pregnant");
    cases.push((wrong_type, "vulnerabilities"));
    let mut future_birth = new_case(&["A"], &["B"]);
    future_birth["person"]["birth"] = json!({"kind": "date", "date": "2999-01-01"});
    cases.push((future_birth, "person.birth.date"));
    let mut impossible_date = new_case(&["A"], &["B"]);
    impossible_date["person"]["birth"] = json!({"kind": "date", "date": "2001-02-30"});
    cases.push((impossible_date, "person.birth"));
    let mut death_before_birth = new_case(&["A"], &["B"]);
    death_before_birth["person"]["birth"] = json!({"kind": "date", "date": "1990-05-01"});
    death_before_birth["subtype"] = json!("death_repatriation");
    death_before_birth["death"] = json!({"date_of_death": "1980-01-01", "place": "Tapachula",
        "remains_status": "identified", "repatriation": "requested"});
    cases.push((death_before_birth, "death.date_of_death"));
    let mut long = new_case(&["A"], &["B"]);
    long["narrative"] = json!("a".repeat(20_001));
    cases.push((long, "narrative"));
    let mut bad_name = new_case(&["A"], &["B"]);
    bad_name["person"]["given_names"] = json!(["<script>"]);
    cases.push((bad_name, "person.given_names[0]"));
    let mut bad_country = new_case(&["A"], &["B"]);
    bad_country["host_state"] = json!("XX");
    cases.push((bad_country, "host_state"));
    let mut not_national = new_case(&["A"], &["B"]);
    not_national["person"]["nationalities"] = json!(["GT"]);
    cases.push((not_national, "owner_state"));
    let mut plan_without_assessment = new_case(&["A"], &["B"]);
    plan_without_assessment["person"]["birth"] = json!({"kind": "year", "year": 2012});
    plan_without_assessment["child"] = json!({"accompaniment": "unaccompanied",
        "return_plan": {"date": "2026-01-10", "route": "land", "receiving_authority": "DINAF"}});
    cases.push((plan_without_assessment, "child.return_plan"));
    let mut no_post = new_case(&["A"], &["B"]);
    no_post["post"] = json!("HN-NOWHERE");
    cases.push((no_post, "post"));
    for (body, field) in cases {
        let (s, v) = app.post(&t, "/api/v1/cases", &body).await;
        assert_eq!(s, 422, "{field}: {v}");
        let fields: Vec<&str> =
            v["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert!(fields.contains(&field), "expected {field} in {fields:?}: {v}");
    }
    // Nothing was written: no case, no audit event.
    assert_eq!(app.get(&t, "/api/v1/cases").await.1["items"].as_array().unwrap().len(), 0);
    assert_eq!(app.audit_len().await, before);
}

async fn attachments_are_checked_hashed_and_returned(app: TestApp) {
    let t = app.token("supervisor.hn").await;
    let c = app.create_case(&t, &new_case(&["Elsa"], &["Funes"])).await;
    let base = format!("/api/v1/cases/{}/attachments", c["id"].as_str().unwrap());
    let pdf = b"%PDF-1.4\n% acta de nacimiento\n".to_vec();
    let upload = |name: &str, ct: &str, body: Vec<u8>| {
        app.client
            .post(app.url(&format!("{base}?filename={name}")))
            .bearer_auth(&t)
            .header("content-type", ct)
            .body(body)
            .send()
    };
    let r = upload("acta.pdf", "application/pdf", pdf.clone()).await.unwrap();
    assert_eq!(r.status(), 201);
    let a: Value = r.json().await.unwrap();
    use sha2::Digest;
    let expected: String = sha2::Sha256::digest(&pdf).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(a["sha256"], expected);
    assert_eq!(a["size"], pdf.len());
    let r = app
        .client
        .get(app.url(&format!("{base}/{}", a["id"].as_str().unwrap())))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    assert_eq!(r.bytes().await.unwrap().to_vec(), pdf);
    // An executable calling itself a PDF, a forbidden type, an oversized file.
    let r = upload("x.pdf", "application/pdf", b"MZ\x90\x00".to_vec()).await.unwrap();
    assert_eq!(r.status(), 422);
    let r = upload("x.exe", "application/x-msdownload", b"MZ".to_vec()).await.unwrap();
    assert_eq!(r.status(), 422);
    let mut big = b"%PDF-".to_vec();
    big.resize(11 * 1024 * 1024, b'a');
    let r = upload("big.pdf", "application/pdf", big).await.unwrap();
    assert_eq!(r.status(), 413);
    let (_, list) = app.get(&t, &base).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
}

async fn detention_first_contact_overdue_is_flagged_and_filterable(app: TestApp) {
    let t = app.token("supervisor.hn").await;
    let now = chrono::Utc::now();
    let iso = |h: i64| (now - chrono::Duration::hours(h)).to_rfc3339();
    let mut late = new_case(&["Mario"], &["Cerrato"]);
    late["subtype"] = json!("detention");
    late["detention"] =
        json!({"detained_at": iso(50), "place": "Estación migratoria", "notice_received_at": iso(30)});
    let mut fine = new_case(&["Julio"], &["Banegas"]);
    fine["subtype"] = json!("detention");
    fine["detention"] =
        json!({"detained_at": iso(10), "place": "Estación migratoria", "notice_received_at": iso(5)});
    let l = app.create_case(&t, &late).await;
    app.create_case(&t, &fine).await;
    assert_eq!(l["detention_delays"]["first_contact_overdue"], true);
    let (_, v) = app.get(&t, "/api/v1/cases?overdue=true").await;
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], l["id"]);
    assert_eq!(items[0]["first_contact_overdue"], true);
    // Recording the first contact clears it.
    let path = format!("/api/v1/cases/{}", l["id"].as_str().unwrap());
    let mut d = l["detention"].clone();
    d["first_contact_at"] = json!(iso(1));
    let (s, v) = app.send("PATCH", &t, &path, &json!({"version": 1, "detention": d})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["detention_delays"]["first_contact_overdue"], true, "contact came after 24 h");
    assert_eq!(app.get(&t, "/api/v1/cases?overdue=true").await.1["items"].as_array().unwrap().len(), 0);
}

async fn concurrent_creations_get_unique_numbers(app: TestApp) {
    let t = app.token("supervisor.hn").await;
    let mut handles = Vec::new();
    for i in 0..24 {
        let client = app.client.clone();
        let url = app.url("/api/v1/cases");
        let t = t.clone();
        handles.push(tokio::spawn(async move {
            let r = client
                .post(url)
                .bearer_auth(t)
                .json(&new_case(&["Uno"], &[&format!("Apellido{}", "a".repeat(i % 5 + 1))]))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 201);
            r.json::<Value>().await.unwrap()["number"].as_str().unwrap().to_string()
        }));
    }
    let mut numbers = Vec::new();
    for h in handles {
        numbers.push(h.await.unwrap());
    }
    numbers.sort();
    let seqs: Vec<i64> = numbers.iter().map(|n| n.rsplit('-').next().unwrap().parse().unwrap()).collect();
    assert_eq!(seqs, (1..=24).collect::<Vec<i64>>(), "dense and unique");
}

/// Every request body example of the OpenAPI document is accepted by the real server.
async fn every_request_body_example_in_openapi_is_accepted(app: TestApp) {
    let t = app.token("supervisor.hn").await;
    let admin = app.token("admin.hn").await;
    // Breaking the glass needs a restricted case and a supervisor without the permission.
    app.add_supervisor_without_sensitive_access().await;
    let sup_b = app.token("supervisor.hn.b").await;
    let doc: Value =
        app.client.get(app.url("/api/v1/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let schemas = &doc["components"]["schemas"];
    let mut checked = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let Some(content) = op["requestBody"]["content"].as_object() else { continue };
            for (ct, media) in content {
                // The example is on the media type or on the referenced schema.
                let example = if !media["example"].is_null() {
                    media["example"].clone()
                } else {
                    let r = media["schema"]["$ref"]
                        .as_str()
                        .unwrap_or_else(|| panic!("{method} {path}: no schema ref"));
                    let name = r.rsplit('/').next().unwrap();
                    if name == "FileBytes" {
                        // A file's bytes: the upload tests send real files of each type.
                        continue;
                    }
                    schemas[name]["example"].clone()
                };
                assert!(!example.is_null(), "{method} {path} ({ct}) has no example");
                // A fresh case for each call, so versions in examples (1) are current.
                let mut body = new_case(&["Ejemplo"], &["Prueba"]);
                let break_glass = path.ends_with("/break-glass");
                if break_glass {
                    body["vulnerabilities"] = json!(["separated_child"]);
                }
                let c = app.create_case(&t, &body).await;
                let id = if path.starts_with("/api/v1/persons/") {
                    c["person_id"].clone()
                } else if path.starts_with("/api/v1/admin/users/") {
                    let users = app.get(&admin, "/api/v1/admin/users").await.1;
                    users.as_array().unwrap().iter().find(|u| u["username"] == "partner").unwrap()["id"]
                        .clone()
                } else {
                    c["id"].clone()
                };
                let url = app.url(&path.replace("{id}", id.as_str().unwrap()));
                let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                // The network's workspace is kept by the Technical Secretariat.
                let workspace = [
                    "/api/v1/meetings",
                    "/api/v1/agreements",
                    "/api/v1/events",
                    "/api/v1/directory",
                    "/api/v1/groups",
                    "/api/v1/library",
                ]
                .iter()
                .any(|p| path.starts_with(p));
                // The directory is kept by each state's liaison officers.
                let secretariat = app
                    .token(if path.starts_with("/api/v1/directory") { "liaison.hn" } else { "analyst" })
                    .await;
                let who = if path.starts_with("/api/v1/admin/") {
                    &admin
                } else if workspace {
                    &secretariat
                } else if break_glass {
                    &sup_b
                } else {
                    &t
                };
                let req = app.client.request(m, url).bearer_auth(who);
                let req = if ct == "application/json" {
                    req.json(&example)
                } else {
                    req.query(&[("filename", "ejemplo.txt")])
                        .header("content-type", ct.as_str())
                        .body(example.as_str().unwrap().to_string())
                };
                if path == "/api/v1/auth/mfa/confirm" {
                    let (s, _) = app.post(who, "/api/v1/auth/mfa/enrol", &json!({})).await;
                    assert_eq!(s, 200);
                }
                let r = req.send().await.unwrap();
                let status = r.status().as_u16();
                let body = r.text().await.unwrap();
                // The sign-in examples name a user this node does not have.
                let sign_in = ["/api/v1/auth/token", "/api/v1/auth/session"].contains(&path.as_str());
                // The example's code is (almost surely) not the current one: parsed, then refused.
                let confirm = path == "/api/v1/auth/mfa/confirm";
                // A decision names a match; the case id in its place is parsed, then not found.
                let decision = path.ends_with("/decision");
                // This node is not federated: an offer (or a submission to the hub) is parsed,
                // then refused as impossible here; a decision on a share names a share, and the
                // case id is none.
                let share_offer = path.ends_with("/shares")
                    || path.ends_with("/linkage")
                    || path == "/api/v1/stats/submissions";
                let share_step = path.starts_with("/api/v1/shares/");
                // An agreement or a note names a meeting or an agreement: the case id is none.
                let workspace_child = workspace && path.contains("{id}");
                let ok = if sign_in {
                    status == 401
                } else if decision {
                    status == 404 && (body.contains("match") || body.contains("candidate"))
                } else if share_offer {
                    status == 409 && body.contains("federation")
                } else if share_step {
                    status == 404 && body.contains("share")
                } else if workspace_child {
                    status == 404
                        && ["meeting", "agreement", "directory", "group", "task", "library"]
                            .iter()
                            .any(|w| body.contains(w))
                } else if confirm {
                    status == 422 && body.contains("\"code\"")
                } else {
                    (200..300).contains(&status)
                };
                assert!(ok, "{method} {path}: example refused with {status}: {body}");
                checked += 1;
            }
        }
    }
    assert!(checked >= 8, "only {checked} request bodies found");
}

/// Concurrent writes share commits on SQLite (one transaction, a savepoint each): a write that
/// fails inside its transaction must undo its own changes and nobody else's.
async fn a_failing_write_among_concurrent_ones_undoes_only_itself(app: TestApp) {
    let t = app.token("supervisor.hn").await;
    let c = app.create_case(&t, &new_case(&["Base"], &["Caso"])).await;
    let path = format!("/api/v1/cases/{}", c["id"].as_str().unwrap());
    let before = app.change_events().await;
    let mut tasks = Vec::new();
    for i in 0..32 {
        let (client, t) = (app.client.clone(), t.clone());
        let (cases_url, case_url) = (app.url("/api/v1/cases"), app.url(&path));
        tasks.push(tokio::spawn(async move {
            let r = if i % 2 == 0 {
                client
                    .post(cases_url)
                    .bearer_auth(t)
                    .json(&new_case(&["Concurrente"], &["Prueba"]))
                    .send()
                    .await
            } else {
                // All but one of these are stale when they run.
                client
                    .patch(case_url)
                    .bearer_auth(t)
                    .json(&json!({"version": 1, "narrative": format!("intento {i}")}))
                    .send()
                    .await
            };
            (i % 2 == 0, r.unwrap().status().as_u16())
        }));
    }
    let (mut created, mut updated, mut stale) = (0, 0, 0);
    for task in tasks {
        match task.await.unwrap() {
            (true, 201) => created += 1,
            (false, 200) => updated += 1,
            (false, 409) => stale += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((created, updated, stale), (16, 1, 15));
    let (_, now) = app.get(&t, &path).await;
    assert_eq!(now["version"], 2, "exactly one update landed");
    assert_eq!(
        app.change_events().await,
        before + 17,
        "one audit event per successful write, none for the failed ones"
    );
    let (_, list) = app.get(&t, "/api/v1/cases?limit=100").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 17);
    // The audit head and the case counter (held by the SQLite writer for a whole batch and
    // written back once) go on from where the kept writes left them.
    let next = app.create_case(&t, &new_case(&["Despues"], &["Prueba"])).await;
    assert!(next["number"].as_str().unwrap().ends_with("-000018"), "{}", next["number"]);
    app.app.flush_audit().await.unwrap();
    let events = enlace_store::audit::events_after(app.app.db(), 0, 1_000_000).await.unwrap();
    let mut prev = enlace_domain::audit::GENESIS.to_string();
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.pos, i as i64 + 1, "dense positions");
        assert_eq!(e.prev_hash, prev, "event {} names its predecessor", e.pos);
        assert_eq!(e.hash, enlace_domain::audit::chain_hash(&prev, e.pos, &e.event), "event {}", e.pos);
        prev = e.hash.clone();
    }
    // Read events are queued and may commit after the last change; the last change is the
    // case created after the batch.
    let last_change = events.iter().rev().find(|e| !is_read_or_denial(&e.event.action)).unwrap();
    assert_eq!(last_change.event.action, "case.create");
    assert_eq!(last_change.event.record_id.as_deref(), next["id"].as_str());
}
