//! Retention rules per state and category, legal holds, and the job that purges or
//! anonymises closed cases whose time is up (audited without personal data).

use serde_json::{Value, json};

use crate::both_backends;
use crate::cli::{Node, cli_both};
use crate::harness::{TestApp, new_case};

both_backends!(closed_cases_past_their_time_are_purged_or_anonymised_unless_on_hold);
cli_both!(retention_run_dry_run_lists_and_changes_nothing);

async fn closed(app: &TestApp, t: &str, category: &str, given: &str) -> Value {
    let mut body = new_case(&[given], &["Retenido"]);
    body["category"] = json!(category);
    body["subtype"] = json!(if category == "criminal" { "detention" } else { "documentation" });
    body["narrative"] = json!("Relato con datos personales.");
    let c = app.create_case(t, &body).await;
    let id = c["id"].as_str().unwrap();
    app.post(
        t,
        &format!("/api/v1/cases/{id}/actions"),
        &json!({"kind": "note", "occurred_at": "2026-01-06T15:30:00Z", "text": "Llamada a la familia"}),
    )
    .await;
    let (s, v) = app
        .post(
            t,
            &format!("/api/v1/cases/{id}/transitions"),
            &json!({"to": "closed", "reason": "Atendido", "version": 1}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    c
}

async fn closed_cases_past_their_time_are_purged_or_anonymised_unless_on_hold(app: TestApp) {
    let admin = app.token("admin.hn").await;
    let sup = app.token("supervisor.hn").await;
    for rule in [
        json!({"category": "migration", "years": 5, "action": "anonymise"}),
        json!({"category": "criminal", "years": 2, "action": "purge"}),
    ] {
        let (s, v) = app.send("PUT", &admin, "/api/v1/admin/retention-rules", &rule).await;
        assert_eq!(s, 200, "{v}");
    }
    let (s, v) = app
        .send(
            "PUT",
            &admin,
            "/api/v1/admin/retention-rules",
            &json!({"category": "labour", "years": 0, "action": "purge"}),
        )
        .await;
    assert_eq!((s, v["errors"][0]["field"].as_str()), (422, Some("years")));
    assert_eq!(
        app.send(
            "PUT",
            &sup,
            "/api/v1/admin/retention-rules",
            &json!({"category": "labour", "years": 3, "action": "purge"})
        )
        .await
        .0,
        403
    );
    let (_, rules) = app.get(&admin, "/api/v1/admin/retention-rules").await;
    assert_eq!(rules.as_array().unwrap().len(), 2);

    let migrant = closed(&app, &sup, "migration", "Mirta").await;
    let detained = closed(&app, &sup, "criminal", "Dario").await;
    let held = closed(&app, &sup, "criminal", "Hilda").await;
    let open = app
        .create_case(&sup, &{
            let mut b = new_case(&["Abierto"], &["Sigue"]);
            b["category"] = json!("criminal");
            b["subtype"] = json!("detention");
            b
        })
        .await;
    let held_path = format!("/api/v1/cases/{}/legal-hold", held["id"].as_str().unwrap());
    let (s, v) = app.send("PUT", &sup, &held_path, &json!({"hold": true, "reason": "short"})).await;
    assert_eq!(s, 422, "{v}");
    let (s, _) = app
        .send("PUT", &sup, &held_path, &json!({"hold": true, "reason": "Proceedings pending, exp. 123/2026"}))
        .await;
    assert_eq!(s, 204);
    assert_eq!(app.get(&sup, &held_path).await.1["hold"], true);
    let officer = app.token("officer.hn").await;
    assert_eq!(
        app.send("PUT", &officer, &held_path, &json!({"hold": false, "reason": "I would like it gone"}))
            .await
            .0,
        403
    );

    // A disclosure of the case that will be purged: its log must outlive the case.
    let mut vital = json!({"purpose": "referral", "recipient": "Hospital General", "recipient_kind": "organisation",
        "legal_instrument": "Ley de salud"});
    vital["exception"] =
        json!({"kind": "vital_interest", "reason": "Hospitalised; the hospital needs his identity."});
    let (s, v) = app
        .post(&sup, &format!("/api/v1/cases/{}/disclosures", detained["id"].as_str().unwrap()), &vital)
        .await;
    assert_eq!(s, 201, "{v}");

    // Not yet: nothing is due today.
    let now = chrono::Utc::now();
    assert_eq!(app.app.run_retention(false, now).await.unwrap().total(), 0);
    // Three years on: the criminal case without a hold is due; a dry run only reports it.
    let later = now + chrono::Duration::days(3 * 366);
    let dry = app.app.run_retention(true, later).await.unwrap();
    assert_eq!(dry.total(), 1);
    assert_eq!(dry.lines[0].cases, [detained["number"].as_str().unwrap()]);
    assert_eq!(app.get(&sup, &format!("/api/v1/cases/{}", detained["id"].as_str().unwrap())).await.0, 200);
    let done = app.app.run_retention(false, later).await.unwrap();
    assert_eq!(done.total(), 1);
    assert_eq!(app.get(&sup, &format!("/api/v1/cases/{}", detained["id"].as_str().unwrap())).await.0, 404);
    let auditor = app.token("auditor.hn").await;
    let (_, log) = app.get(&auditor, "/api/v1/audit/disclosures").await;
    assert_eq!(log[0]["case_number"], detained["number"], "the disclosure log outlives the purge");
    assert_eq!(
        app.get(&sup, &format!("/api/v1/cases/{}", held["id"].as_str().unwrap())).await.0,
        200,
        "on hold"
    );
    assert_eq!(
        app.get(&sup, &format!("/api/v1/cases/{}", open["id"].as_str().unwrap())).await.0,
        200,
        "open"
    );
    // Six years on: the migration case is anonymised: no names, no narrative, no notes.
    let much_later = now + chrono::Duration::days(6 * 366);
    assert_eq!(app.app.run_retention(false, much_later).await.unwrap().total(), 1);
    let mid = migrant["id"].as_str().unwrap();
    let (s, anon) = app.get(&sup, &format!("/api/v1/cases/{mid}")).await;
    assert_eq!(s, 200);
    assert_eq!(anon["person"]["given_names"], json!(["Anonimizado"]));
    assert_eq!(anon["person"]["surnames"], json!([]));
    assert_eq!(anon["person"]["birth"], json!({"kind": "year", "year": 1990}));
    assert_eq!(anon["narrative"], Value::Null);
    assert_eq!(anon["category"], "migration", "what statistics need stays");
    assert!(app.get(&sup, &format!("/api/v1/cases/{mid}/actions")).await.1.as_array().unwrap().is_empty());
    let (_, found) = app.get(&sup, "/api/v1/cases?q=mirta").await;
    assert!(found["items"].as_array().unwrap().is_empty(), "the name is no longer searchable");
    // A second run finds nothing more to do.
    assert_eq!(app.app.run_retention(false, much_later).await.unwrap().total(), 0);

    // The audit says what was removed, by number, without personal data.
    app.app.flush_audit().await.unwrap();
    let events = enlace_store::audit::events_after(app.app.db(), 0, 100_000).await.unwrap();
    let removal: Vec<_> = events
        .iter()
        .filter(|e| e.event.action.starts_with("retention.") && e.event.action != "retention.rule")
        .collect();
    assert_eq!(removal.len(), 2);
    for e in &removal {
        let text = e.event.detail.to_string();
        assert!(!text.contains("Dario") && !text.contains("Mirta") && !text.contains("Retenido"), "{text}");
        assert!(e.event.detail["number"].is_string());
    }
}

fn retention_run_dry_run_lists_and_changes_nothing(node: Node) {
    let node = node.with_importer();
    node.create_user("admin.hn", "country_administrator", "HN", None).assert_ok("admin");
    node.run(&["demo-data", "--cases", "300"]).assert_ok("demo data");
    let out = node.run(&["retention", "run", "--dry-run"]);
    out.assert_ok("dry run without rules");
    assert!(out.stdout.contains("0 cases due"), "{}", out.stdout);
    // Every category of HN kept one year, then purged.
    node.inspect(async |app| {
        let admin = app.actor_for("admin.hn").await.unwrap();
        for c in enlace_domain::case::Category::ALL {
            let rule = enlace_domain::retention::RetentionRule {
                category: *c,
                years: 1,
                action: enlace_domain::retention::RetentionAction::Purge,
            };
            app.set_retention_rule(&admin, rule).await.unwrap();
        }
    });
    let before = node.count_cases();
    let out = node.run(&["retention", "run", "--dry-run"]);
    out.assert_ok("dry run");
    let due: usize = out.stdout.lines().last().unwrap().split_whitespace().next().unwrap().parse().unwrap();
    assert!(due > 0, "the demo data has HN cases closed years ago:\n{}", out.stdout);
    assert!(out.stdout.contains("nothing changed"));
    assert_eq!(node.count_cases(), before, "a dry run changes nothing");
    let out = node.run(&["retention", "run"]);
    out.assert_ok("run");
    assert_eq!(node.count_cases(), before - due as i64);
    node.run(&["audit", "verify"]).assert_ok("the chain is intact after the purge");
}
