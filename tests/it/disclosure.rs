//! The disclosure gate: consent or a recorded exception, never a child to a migration
//! authority, and a log of every disclosure with purpose, recipient and legal instrument.

use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::{TestApp, new_case};

both_backends!(
    disclosures_need_a_covering_consent_or_an_exception_and_are_logged,
    subject_access_exports_everything_about_the_person_and_logs_it,
);

fn req(purpose: &str, recipient: &str, kind: &str) -> Value {
    json!({"purpose": purpose, "recipient": recipient, "recipient_kind": kind, "legal_instrument": "MoU CA-4 2016"})
}

async fn disclosures_need_a_covering_consent_or_an_exception_and_are_logged(app: TestApp) {
    let sup = app.token("supervisor.hn").await;
    let c = app.create_case(&sup, &new_case(&["Marta"], &["Díaz"])).await;
    let id = c["id"].as_str().unwrap();
    let path = format!("/api/v1/cases/{id}/disclosures");
    let consents = format!("/api/v1/cases/{id}/consents");

    // Nothing covers it yet: refused, and the refusal is recorded.
    let (s, v) = app.post(&sup, &path, &req("referral", "Casa del Migrante", "organisation")).await;
    assert_eq!(s, 403, "{v}");
    assert!(v["detail"].as_str().unwrap().contains("no consent"), "{v}");
    // A referral consent names its recipient: it covers that recipient only (accents and
    // case aside).
    let (s, consent) = app
        .post(
            &sup,
            &consents,
            &json!({"given_by": "person", "scope": "referral", "recipient": "Casa del Migrante",
            "given_at": "2026-01-05T10:00:00Z"}),
        )
        .await;
    assert_eq!(s, 201);
    let (s, d) = app.post(&sup, &path, &req("referral", "CASA DEL MIGRANTE", "organisation")).await;
    assert_eq!(s, 201, "{d}");
    assert_eq!(d["basis"], json!({"basis": "consent", "consent": consent["id"]}));
    assert_eq!(d["legal_instrument"], "MoU CA-4 2016");
    assert_eq!(app.post(&sup, &path, &req("referral", "Otro Albergue", "organisation")).await.0, 403);
    assert_eq!(app.post(&sup, &path, &req("cross_border_sharing", "GT", "state")).await.0, 403);
    // Withdrawn, it covers nothing more.
    let (s, _) =
        app.post(&sup, &format!("{consents}/{}/withdraw", consent["id"].as_str().unwrap()), &json!({})).await;
    assert_eq!(s, 204);
    assert_eq!(app.post(&sup, &path, &req("referral", "Casa del Migrante", "organisation")).await.0, 403);
    // A recorded exception, with a real reason.
    let mut vital = req("referral", "Hospital General", "organisation");
    vital["exception"] = json!({"kind": "vital_interest", "reason": "too short"});
    let (s, v) = app.post(&sup, &path, &vital).await;
    assert_eq!(s, 403, "{v}");
    assert!(v["detail"].as_str().unwrap().contains("20 characters"));
    vital["exception"]["reason"] = json!("Found unconscious; the hospital needs her identity.");
    let (s, d) = app.post(&sup, &path, &vital).await;
    assert_eq!(s, 201, "{d}");
    assert_eq!(d["basis"]["basis"], "exception");
    assert_eq!(d["basis"]["kind"], "vital_interest");
    // Subject access: to the person only.
    assert_eq!(app.post(&sup, &path, &req("subject_access", "Marta Díaz", "data_subject")).await.0, 201);
    assert_eq!(app.post(&sup, &path, &req("subject_access", "Abogado", "organisation")).await.0, 403);

    // A child's case never goes to the host state's migration authority, whatever else.
    let mut child = new_case(&["Niño"], &["Solo"]);
    child["vulnerabilities"] = json!(["unaccompanied_child"]);
    let ch = app.create_case(&sup, &child).await;
    let ch_id = ch["id"].as_str().unwrap();
    app.post(
        &sup,
        &format!("/api/v1/cases/{ch_id}/consents"),
        &json!({"given_by": "child_protection_authority",
        "scope": "cross_border_sharing", "given_at": "2026-01-05T10:00:00Z"}),
    )
    .await;
    let mut to_inm = req("cross_border_sharing", "Instituto Nacional de Migración", "migration_authority");
    to_inm["exception"] =
        json!({"kind": "mandatory_notification", "reason": "The authority asks for the file by law."});
    let (s, v) = app.post(&sup, &format!("/api/v1/cases/{ch_id}/disclosures"), &to_inm).await;
    assert_eq!(s, 403);
    assert!(v["detail"].as_str().unwrap().contains("child"), "{v}");
    // The same consent covers sharing with the state of origin's consulate.
    let (s, _) = app
        .post(
            &sup,
            &format!("/api/v1/cases/{ch_id}/disclosures"),
            &req("cross_border_sharing", "GT", "state"),
        )
        .await;
    assert_eq!(s, 201);

    // The log: per case for its readers, per state for the auditors, and in the audit chain.
    let (s, log) = app.get(&sup, &path).await;
    assert_eq!(s, 200);
    let purposes: Vec<&str> =
        log.as_array().unwrap().iter().map(|d| d["purpose"].as_str().unwrap()).collect();
    assert_eq!(purposes, ["referral", "referral", "subject_access"]);
    let auditor = app.token("auditor.hn").await;
    let (s, all) = app.get(&auditor, "/api/v1/audit/disclosures").await;
    assert_eq!(s, 200);
    assert_eq!(all.as_array().unwrap().len(), 4);
    let actions = app.audit_actions().await;
    assert_eq!(actions.iter().filter(|a| *a == "case.disclosure").count(), 4);
    assert!(actions.iter().filter(|a| *a == "access.denied").count() >= 7);
    // Out of scope: not found, nothing logged.
    let gt = app.token("supervisor.gt").await;
    assert_eq!(app.post(&gt, &path, &vital).await.0, 404);
    assert_eq!(app.get(&sup, &path).await.1.as_array().unwrap().len(), 3);
}

async fn subject_access_exports_everything_about_the_person_and_logs_it(app: TestApp) {
    let sup = app.token("supervisor.hn").await;
    let first = app.create_case(&sup, &new_case(&["Rosa"], &["Amaya"])).await;
    let person = first["person_id"].as_str().unwrap();
    // A second case about the same person, with a note and a consent.
    let mut second = new_case(&["x"], &["y"]);
    second.as_object_mut().unwrap().remove("person");
    second["person_id"] = json!(person);
    let second = app.create_case(&sup, &second).await;
    let sid = second["id"].as_str().unwrap();
    app.post(
        &sup,
        &format!("/api/v1/cases/{sid}/actions"),
        &json!({"kind": "note", "occurred_at": "2026-01-06T15:30:00Z", "text": "Entrevista"}),
    )
    .await;
    // Someone else's case is not part of it.
    app.create_case(&sup, &new_case(&["Otra"], &["Persona"])).await;

    let body = json!({"requested_by": "Rosa Amaya, en persona", "legal_instrument": "Ley de datos personales, art. 4"});
    let path = format!("/api/v1/persons/{person}/subject-access");
    let (s, export) = app.post(&sup, &path, &body).await;
    assert_eq!(s, 200, "{export}");
    assert_eq!(export["person"]["given_names"], json!(["Rosa"]));
    let cases = export["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 2);
    let notes: usize = cases.iter().map(|c| c["actions"].as_array().unwrap().len()).sum();
    assert_eq!(notes, 1);
    assert!(cases.iter().all(|c| c["transitions"].as_array().unwrap().len() == 1));
    // Each case's release is a disclosure to the data subject, and the request is audited.
    let (_, log) = app.get(&sup, &format!("/api/v1/cases/{sid}/disclosures")).await;
    assert_eq!(log[0]["purpose"], "subject_access");
    assert_eq!(log[0]["recipient"], "Rosa Amaya, en persona");
    assert_eq!(log[0]["basis"]["basis"], "data_subject_right");
    assert!(app.audit_actions().await.contains(&"person.subject_access".to_string()));
    // Other roles and states may not.
    assert_eq!(app.post(&app.token("officer.hn").await, &path, &body).await.0, 403);
    assert_eq!(app.post(&app.token("supervisor.gt").await, &path, &body).await.0, 404);
    let (s, v) = app.post(&sup, &path, &json!({"requested_by": "", "legal_instrument": "x"})).await;
    assert_eq!(s, 422, "{v}");

    // The same export as a document to hand over, in the language asked: a section per case.
    let numbers: Vec<String> =
        cases.iter().map(|c| c["case"]["number"].as_str().unwrap().to_string()).collect();
    let log_path = format!("/api/v1/cases/{sid}/disclosures");
    let released = app.get(&sup, &log_path).await.1.as_array().unwrap().len();
    let (s, h, pdf) = app.post_for_bytes(&sup, &format!("{path}?format=pdf&lang=es"), &body).await;
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&pdf));
    assert_eq!(h["content-type"], "application/pdf");
    let text = crate::harness::pdf_text(&pdf);
    let flat = crate::harness::squeeze(&text);
    for want in [
        "Exportación de acceso del titular",
        "Rosa Amaya, en persona",
        "Ley de datos personales, art. 4",
        "Entrevista",
        "Comunicaciones anteriores",
        "Solicitud de acceso de la propia persona",
    ] {
        assert!(flat.contains(want), "{want:?} in {text}");
    }
    for n in &numbers {
        assert!(flat.contains(&format!("Caso {n}")), "a section for {n}: {text}");
    }
    assert!(!flat.contains("Otra Persona"), "another person's case is not in it");
    let (s, h, book) = app.post_for_bytes(&sup, &format!("{path}?format=xlsx&lang=fr"), &body).await;
    assert_eq!(s, 200);
    assert!(h["content-type"].to_str().unwrap().contains("spreadsheetml"));
    let (sheets, strings) = crate::harness::xlsx_text(&book);
    assert_eq!(sheets.len(), 3, "{sheets:?}");
    // The title, cut to the 31 characters a sheet name may have.
    assert_eq!(sheets[0], "Export au titre du droit d'accè");
    assert!(numbers.iter().all(|n| sheets.contains(n)), "{sheets:?}");
    assert!(strings.contains("Communications antérieures") && strings.contains("Entrevista"), "{strings}");
    // Each document is a release like the JSON one.
    assert_eq!(app.get(&sup, &log_path).await.1.as_array().unwrap().len(), released + 2);
    // A format or language it does not make: refused before anything is released.
    let (s, _, said) = app.post_for_bytes(&sup, &format!("{path}?format=docx"), &body).await;
    assert_eq!(s, 400, "{}", String::from_utf8_lossy(&said));
    assert!(String::from_utf8_lossy(&said).contains("format"));
    let (s, _, said) = app.post_for_bytes(&sup, &format!("{path}?format=pdf&lang=de"), &body).await;
    assert_eq!(s, 422, "{}", String::from_utf8_lossy(&said));
    assert!(String::from_utf8_lossy(&said).contains("lang"));
    assert_eq!(app.get(&sup, &log_path).await.1.as_array().unwrap().len(), released + 2);
}
