//! Person linkage in the node: candidates while registering, and missing-person reports
//! matched against found persons into an audited review queue.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::TestApp;

fn person(given: &[&str], surnames: &[&str], sex: &str, birth: Value) -> Value {
    json!({"given_names": given, "surnames": surnames, "sex": sex, "birth": birth, "nationalities": ["HN"]})
}

fn year(y: i32) -> Value {
    json!({"kind": "year", "year": y})
}

fn case_of(p: Value, subtype: &str) -> Value {
    let mut c = json!({
        "person": p, "host_state": "MX", "category": "human_rights", "subtype": subtype,
        "protection": {"state": "pending"}, "legal_basis": "vital_interest"
    });
    if subtype == "whereabouts" {
        c["missing"] = json!({"reported_by": "family", "last_seen_place": "Tenosique, Tabasco"});
    }
    c
}

async fn candidates(app: &TestApp, token: &str, p: Value) -> (u16, Value) {
    app.post(token, "/api/v1/persons/candidates", &json!({"person": p})).await
}

fn ids(v: &Value) -> Vec<String> {
    v["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["person"]["id"].as_str().unwrap().to_string())
        .collect()
}

both_backends!(candidates_are_shown_while_registering, missing_reports_meet_found_persons);

async fn candidates_are_shown_while_registering(app: TestApp) {
    let officer = app.token("officer.hn").await;
    let date = json!({"kind": "date", "date": "1990-03-07"});
    let maria = app
        .create_case(
            &officer,
            &case_of(
                person(&["María", "José"], &["Gutiérrez", "Hernández"], "female", date),
                "documentation",
            ),
        )
        .await;
    for (g, s, y) in [("Pedro", "Fernández", 1960), ("Ana", "Orellana", 1996), ("Kevin", "Ramos", 2010)] {
        app.create_case(&officer, &case_of(person(&[g], &[s, "López"], "male", year(y)), "documentation"))
            .await;
    }
    let maria_person = maria["person_id"].as_str().unwrap().to_string();

    // The same woman as written in Houston: one given name, a misspelt surname, only the year.
    let houston = person(&["Maria"], &["Gutierres"], "female", year(1990));
    let (s, v) = candidates(&app, &officer, houston.clone()).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(ids(&v).first(), Some(&maria_person), "{v}");
    let first = &v["candidates"][0];
    assert!(["likely", "possible"].contains(&first["score"]["band"].as_str().unwrap()), "{first}");
    let level = |f: &str| {
        first["score"]["fields"].as_array().unwrap().iter().find(|x| x["field"] == f).unwrap()["level"]
            .clone()
    };
    assert_eq!(level("given_names"), "subset");
    assert_eq!(level("surnames"), "phonetic_subset");
    assert_eq!(level("birth"), "year_only");
    assert_eq!(level("document"), Value::Null, "missing on both sides: neutral");
    let sum = first["score"]["prior_weight"].as_f64().unwrap()
        + first["score"]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["weight"].as_f64().unwrap())
            .sum::<f64>();
    assert!((sum - first["score"]["weight"].as_f64().unwrap()).abs() < 1e-6, "the explanation adds up");
    assert_eq!(first["cases"][0]["number"], maria["number"]);
    assert_eq!(v["withheld"], 0);

    // Hernández is not Fernández.
    let (_, v) = candidates(&app, &officer, person(&["Pedro"], &["Hernández"], "male", year(1960))).await;
    assert!(
        v["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["person"]["given_names"][0] != "Pedro" || c["person"]["surnames"][0] != "Fernández"),
        "{v}"
    );

    // Another post of the same state does not see the person, only that someone exists.
    let other_post = app.token("officer.hn2").await;
    let (s, v) = candidates(&app, &other_post, houston.clone()).await;
    assert_eq!(s, 200);
    assert!(!ids(&v).contains(&maria_person), "{v}");
    assert_eq!(v["withheld"], 1, "{v}");
    // A supervisor of the state sees it.
    let supervisor = app.token("supervisor.hn").await;
    let (_, v) = candidates(&app, &supervisor, houston.clone()).await;
    assert_eq!(ids(&v).first(), Some(&maria_person));

    // The officer attaches the new case to the existing person instead of registering her twice;
    // someone who cannot see her cannot use her id.
    let mut body = case_of(Value::Null, "documentation");
    body.as_object_mut().unwrap().remove("person");
    body["person_id"] = json!(maria_person);
    let second = app.create_case(&officer, &body).await;
    assert_eq!(second["person_id"].as_str(), Some(maria_person.as_str()));
    let (s, v) = app.post(&other_post, "/api/v1/cases", &body).await;
    assert_eq!(s, 422, "{v}");
    let (_, v) = candidates(&app, &officer, houston.clone()).await;
    assert_eq!(v["candidates"][0]["cases"].as_array().unwrap().len(), 2, "both of her cases: {v}");

    // A rectification reaches the index: the old spelling no longer finds her, the new one does.
    let path = format!("/api/v1/cases/{}/person", maria["id"].as_str().unwrap());
    let fixed = person(
        &["María", "José"],
        &["Zelaya", "Hernández"],
        "female",
        json!({"kind": "date", "date": "1990-03-07"}),
    );
    let (s, v) = app.send("PUT", &officer, &path, &json!({"version": 1, "person": fixed})).await;
    assert_eq!(s, 200, "{v}");
    let (_, v) = candidates(&app, &officer, person(&["Maria"], &["Gutierres"], "female", year(1990))).await;
    assert!(!ids(&v).contains(&maria_person), "{v}");
    let (_, v) =
        candidates(&app, &officer, person(&["Maria", "Jose"], &["Zelaya"], "female", year(1990))).await;
    assert_eq!(ids(&v).first(), Some(&maria_person), "{v}");

    // A database from before blocking keys (or one whose keys were lost): the keys are
    // written again, and the candidates come back.
    for sql in ["DELETE FROM person_keys", "DELETE FROM job_marks"] {
        match app.app.db() {
            enlace_store::Db::Sqlite { write, .. } => {
                sqlx::query(sql).execute(write).await.unwrap();
            }
            enlace_store::Db::Postgres(p) => {
                sqlx::query(sql).execute(p).await.unwrap();
            }
        }
    }
    assert_eq!(app.app.catch_up_person_keys(false).await.unwrap(), 4);
    let zelaya = person(&["Maria", "Jose"], &["Zelaya"], "female", year(1990));
    let (_, v) = candidates(&app, &officer, zelaya).await;
    assert_eq!(ids(&v).first(), Some(&maria_person), "{v}");

    // Bad requests are refused clearly; roles that do not work cases are refused.
    let (s, v) =
        app.post(&officer, "/api/v1/persons/candidates", &json!({"person": houston, "extra": 1})).await;
    assert!(s == 400 || s == 422, "{s} {v}");
    assert!(v.to_string().contains("extra"), "{v}");
    let (s, v) =
        app.post(&officer, "/api/v1/persons/candidates", &json!({"person": houston, "limit": 0})).await;
    assert_eq!(s, 422, "{v}");
    let (s, _) = app.post(&officer, "/api/v1/persons/candidates", &json!({"person": {"sex": 3}})).await;
    assert!(s == 400 || s == 422);
    let analyst = app.token("analyst").await;
    let (s, _) = candidates(&app, &analyst, houston).await;
    assert_eq!(s, 403);

    // Each search is audited, with the persons shown (never the name searched for).
    app.app.flush_audit().await.unwrap();
    let events = enlace_store::audit::events_after(app.app.db(), 0, 1_000_000).await.unwrap();
    let searches: Vec<_> = events.iter().filter(|e| e.event.action == "person.candidates").collect();
    assert!(searches.len() >= 6, "{}", searches.len());
    assert!(searches.iter().all(|e| !e.event.detail.to_string().contains("Gutierres")));
    // Attaching a case to an existing person is recorded with the registration.
    let linked = events
        .iter()
        .find(|e| e.event.action == "case.create" && e.event.record_id.as_deref() == second["id"].as_str())
        .unwrap();
    assert_eq!(linked.event.detail["existing_person"], true);
    assert_eq!(linked.event.detail["person"].as_str(), Some(maria_person.as_str()));
}

/// Waits for the review queue (as `token` sees it) to hold `n` pending matches.
async fn pending(app: &TestApp, token: &str, n: usize) -> Value {
    let start = Instant::now();
    loop {
        let (s, v) = app.get(token, "/api/v1/matches").await;
        assert_eq!(s, 200, "{v}");
        if v["items"].as_array().unwrap().len() >= n || start.elapsed() > Duration::from_secs(20) {
            assert_eq!(v["items"].as_array().unwrap().len(), n, "{v}");
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn missing_reports_meet_found_persons(app: TestApp) {
    let supervisor = app.token("supervisor.hn").await;
    let officer = app.token("officer.hn").await;
    // A family reports Wilmer missing (the report is the supervisor's, at no post).
    let report = app
        .create_case(
            &supervisor,
            &case_of(person(&["Wilmer", "Josué"], &["Banegas", "Zelaya"], "male", year(1998)), "whereabouts"),
        )
        .await;
    // Someone else entirely, found the same day.
    app.create_case(
        &officer,
        &case_of(person(&["Dilcia"], &["Cárcamo"], "female", year(1975)), "medical_emergency"),
    )
    .await;
    // A man in hospital in Tapachula gives his name as "Wilmer Banegas", about 27.
    let est =
        json!({"kind": "estimated_age", "min_years": 25, "max_years": 30, "estimated_on": "2026-06-01"});
    let found = app
        .create_case(&officer, &case_of(person(&["Wilmer"], &["Banegas"], "male", est), "medical_emergency"))
        .await;

    let v = pending(&app, &supervisor, 1).await;
    let m = &v["items"][0];
    assert_eq!(m["missing"]["case"]["id"], report["id"]);
    assert_eq!(m["found"]["case"]["id"], found["id"]);
    assert_eq!(m["status"], "pending");
    assert_eq!(m["missing"]["person"]["surnames"][1], "Zelaya");
    assert!(["likely", "possible"].contains(&m["score"]["band"].as_str().unwrap()), "{m}");
    // Need to know: the Tapachula officer cannot read the report, so does not see the match.
    let (_, v) = app.get(&officer, "/api/v1/matches").await;
    assert_eq!(v["items"].as_array().unwrap().len(), 0, "{v}");
    // The match shows on the case.
    let (s, v) =
        app.get(&supervisor, &format!("/api/v1/cases/{}/matches", found["id"].as_str().unwrap())).await;
    assert_eq!((s, v.as_array().unwrap().len()), (200, 1), "{v}");

    // Not the same person: decided once, audited, never proposed again.
    let id = m["id"].as_str().unwrap().to_string();
    let decision = format!("/api/v1/matches/{id}/decision");
    let (s, v) = app.post(&officer, &decision, &json!({"decision": "not_same"})).await;
    assert_eq!(s, 404, "an officer who cannot read both cases cannot decide: {v}");
    let (s, v) = app.post(&supervisor, &decision, &json!({"decision": "maybe"})).await;
    assert!(s == 400 || s == 422, "{s} {v}");
    let (s, v) = app
        .post(&supervisor, &decision, &json!({"decision": "not_same", "note": "La familia confirma que Wilmer tiene un tatuaje que este señor no tiene."}))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "not_same");
    assert_eq!(v["decided_by"], "supervisor.hn");
    let (s, _) = app.post(&supervisor, &decision, &json!({"decision": "same"})).await;
    assert_eq!(s, 409, "already decided");
    assert_eq!(app.app.sweep_missing_matches().await.unwrap(), 0, "a decided pair is remembered");
    pending(&app, &supervisor, 0).await;
    let (_, v) = app.get(&supervisor, "/api/v1/matches?status=not_same").await;
    assert_eq!(v["items"].as_array().unwrap().len(), 1);
    assert!(v["items"][0]["note"].as_str().unwrap().contains("tatuaje"));

    // The node's first sweep only marks where later ones start.
    assert_eq!(app.app.sweep_due().await.unwrap(), 0);
    // A returned migrant imported from a list (no registration hook: the sweep finds him).
    let before_import = chrono::Utc::now();
    let actor = app.app.actor_for("supervisor.hn").await.unwrap();
    let csv = "host_state,category,subtype,legal_basis,sex,given_names,surnames,birth_year,nationalities\n\
               MX,migration,return_reception,consular_function,male,Wilmer;Josue,Banegas;Selaya,1998,HN\n";
    let r = app.app.import_cases(&actor, csv.as_bytes(), false, std::sync::Arc::new(|_: &str, _| {})).await;
    assert!(r.is_ok(), "{:?}", r.err());
    // The running node's sweep looks only at persons changed since its last look.
    let later = chrono::Utc::now() + chrono::Duration::seconds(1);
    assert_eq!(app.app.sweep_changed_since(later).await.unwrap(), 0);
    assert_eq!(app.app.sweep_due().await.unwrap(), 1, "the periodic sweep finds him");
    assert_eq!(app.app.sweep_due().await.unwrap(), 0, "and does not look at him again");
    assert_eq!(app.app.sweep_changed_since(before_import).await.unwrap(), 0, "already in the queue");
    assert_eq!(app.app.sweep_missing_matches().await.unwrap(), 0, "already in the queue");
    let v = pending(&app, &supervisor, 1).await;
    let m = &v["items"][0];
    assert_eq!(m["found"]["person"]["surnames"][1], "Selaya");
    let (s, v) = app
        .post(
            &supervisor,
            &format!("/api/v1/matches/{}/decision", m["id"].as_str().unwrap()),
            &json!({"decision": "same"}),
        )
        .await;
    assert_eq!((s, v["status"].as_str()), (200, Some("same")), "{v}");

    // Bad queries and ids.
    let (s, _) = app.get(&supervisor, "/api/v1/matches?cursor=junk").await;
    assert_eq!(s, 422);
    let (s, _) = app.get(&supervisor, "/api/v1/matches?status=all").await;
    assert_eq!(s, 400);
    let (s, _) =
        app.post(&supervisor, "/api/v1/matches/not-an-id/decision", &json!({"decision": "same"})).await;
    assert_eq!(s, 404);

    app.app.flush_audit().await.unwrap();
    let actions = app.audit_actions().await;
    assert_eq!(actions.iter().filter(|a| *a == "match.propose").count(), 2, "{actions:?}");
    assert_eq!(actions.iter().filter(|a| *a == "match.decide").count(), 2);
}

/// The demo's showcase (a missing man and, under another spelling, a man in hospital) followed
/// at once by 2,000 generated cases: the worker writes everyone's keys first, then matches, so
/// the pair still meets in the queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_pair_meets_in_the_queue_despite_a_bulk_load() {
    let Some(app) = crate::harness::spawn_app(crate::harness::Backend::Sqlite).await else { return };
    app.app.seed_demo_users().await.unwrap();
    app.app.seed_showcase().await.unwrap();
    let o = enlace_app::demo::GenerateOptions { cases: 2000, seed: 2016, batch: 500, owners: Vec::new() };
    enlace_app::demo::generate_cases(&app.app, &o, &|_| {}).await.unwrap();
    let t = app.token("supervisor.gt").await;
    let v = pending(&app, &t, 1).await;
    let m = &v["items"][0];
    assert_eq!(m["missing"]["person"]["given_names"][0], "Marvin");
    assert_eq!(m["found"]["person"]["given_names"][0], "Marbin");
    assert_eq!(m["score"]["band"], "likely");
}
