//! Restricted cases (children, sensitive facts): the extra permission, redacted lists, and
//! break-glass access with a written reason that the state's auditors see.

use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::{TestApp, new_case};

both_backends!(restricted_cases_need_the_permission_or_a_break_glass_grant);

async fn restricted_cases_need_the_permission_or_a_break_glass_grant(app: TestApp) {
    // A supervisor without the sensitive-data permission.
    app.add_supervisor_without_sensitive_access().await;
    let officer = app.token("officer.hn").await;
    let sup = app.token("supervisor.hn").await; // has the permission
    let sup_b = app.token("supervisor.hn.b").await;
    let auditor = app.token("auditor.hn").await;

    let mut child = new_case(&["Niña"], &["Protegida"]);
    child["post"] = json!("HN-TAPACHULA");
    child["vulnerabilities"] = json!(["unaccompanied_child"]);
    let c = app.create_case(&officer, &child).await;
    let plain = app.create_case(&officer, &new_case(&["Adulto"], &["Común"])).await;
    let path = format!("/api/v1/cases/{}", c["id"].as_str().unwrap());

    // Without the permission: not found, and the list withholds the name.
    assert_eq!(app.get(&officer, &path).await.0, 404);
    assert_eq!(app.get(&officer, &format!("{path}/actions")).await.0, 404);
    let (s, v) = app.send("PATCH", &officer, &path, &json!({"version": 1, "narrative": "x"})).await;
    assert_eq!(s, 404, "{v}");
    let (_, list) = app.get(&officer, "/api/v1/cases").await;
    let row = list["items"].as_array().unwrap().iter().find(|r| r["id"] == c["id"]).unwrap().clone();
    assert_eq!(row["restricted"], true);
    assert_eq!(row["person_name"], "");
    let other = list["items"].as_array().unwrap().iter().find(|r| r["id"] == plain["id"]).unwrap().clone();
    assert_eq!(other["restricted"], false);
    assert_ne!(other["person_name"], "");
    // With it: the whole case.
    let (s, full) = app.get(&sup, &path).await;
    assert_eq!(s, 200);
    assert_eq!(full["person"]["given_names"], json!(["Niña"]));
    let (_, list) = app.get(&sup, "/api/v1/cases").await;
    assert!(list["items"].as_array().unwrap().iter().all(|r| r["restricted"] == false));

    // Breaking the glass: supervisors only, with a real reason.
    assert_eq!(app.get(&sup_b, &path).await.0, 404);
    let bg = format!("{path}/break-glass");
    let (s, v) = app.post(&officer, &bg, &json!({"reason": "I need to see it for a transfer today."})).await;
    assert_eq!(s, 403, "{v}");
    let (s, v) = app.post(&sup_b, &bg, &json!({"reason": "urgent"})).await;
    assert_eq!((s, v["errors"][0]["field"].as_str()), (422, Some("reason")), "{v}");
    let reason = "Child reported missing from the shelter; the assigned officer is on leave.";
    let (s, grant) = app.post(&sup_b, &bg, &json!({"reason": reason})).await;
    assert_eq!(s, 201, "{grant}");
    assert!(grant["expires_at"].is_string());
    let (s, opened) = app.get(&sup_b, &path).await;
    assert_eq!(s, 200);
    assert_eq!(opened["person"]["given_names"], json!(["Niña"]));
    // An unrestricted case needs no glass broken.
    let (s, _) = app
        .post(
            &sup_b,
            &format!("/api/v1/cases/{}/break-glass", plain["id"].as_str().unwrap()),
            &json!({"reason": reason}),
        )
        .await;
    assert_eq!(s, 409);

    // The auditors see who broke the glass, on what, and why; the denials were recorded.
    let (s, grants) = app.get(&auditor, "/api/v1/audit/break-glass").await;
    assert_eq!(s, 200);
    assert_eq!(grants.as_array().unwrap().len(), 1);
    assert_eq!(grants[0]["username"], "supervisor.hn.b");
    assert_eq!(grants[0]["reason"], reason);
    assert_eq!(grants[0]["case_number"], c["number"]);
    let (_, denials) = app
        .get(&auditor, &format!("/api/v1/audit?action=access.denied&record_id={}", c["id"].as_str().unwrap()))
        .await;
    let reasons: Vec<&str> = denials["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["detail"]["reason"].as_str().unwrap())
        .collect();
    assert!(reasons.len() >= 4, "{denials}");
    assert!(reasons.iter().all(|r| r.starts_with("restricted case")), "{reasons:?}");
    let (_, reads) = app
        .get(&auditor, &format!("/api/v1/audit?action=case.read&record_id={}", c["id"].as_str().unwrap()))
        .await;
    let by_glass: Vec<&Value> =
        reads["items"].as_array().unwrap().iter().filter(|e| e["detail"]["break_glass"] == true).collect();
    assert_eq!(by_glass.len(), 1);
    assert_eq!(by_glass[0]["actor_name"], "supervisor.hn.b");
}
