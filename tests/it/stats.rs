//! Statistics of a node (issue 7): counts as they are for the state's supervisors, suppressed
//! for regional analysts and liaison officers and on request; periods checked; the page.

use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::{TestApp, new_case, pdf_text, rows_with_suppression, squeeze};

/// The cells of one table as (row, col) → count, `None` where suppressed.
fn cell(stats: &Value, table: &str, row: &str, col: &str) -> Option<u64> {
    let t = stats["tables"].as_array().unwrap().iter().find(|t| t["id"] == table).expect(table);
    let r = t["rows"].as_array().unwrap().iter().position(|k| k == row).expect(row);
    let c = t["cols"].as_array().unwrap().iter().position(|k| k == col).expect(col);
    t["grid"][r][c].as_u64()
}

fn total(stats: &Value, table: &str) -> Option<u64> {
    let t = stats["tables"].as_array().unwrap().iter().find(|t| t["id"] == table).expect(table);
    t["grid"].as_array().unwrap().last().unwrap().as_array().unwrap().last().unwrap().as_u64()
}

async fn node_statistics_are_suppressed_when_they_may_leave_the_node(app: TestApp) {
    let sup = app.token("supervisor.hn").await;
    let period = {
        use chrono::Datelike;
        let now = chrono::Utc::now();
        format!("{}-H{}", now.year(), if now.month() <= 6 { 1 } else { 2 })
    };
    let mut first = None;
    for i in 0..7 {
        let c = app.create_case(&sup, &new_case(&["Ana"], &[&format!("Mig{}", "a".repeat(i + 1))])).await;
        first.get_or_insert(c);
    }
    for _ in 0..2 {
        let mut b = new_case(&["Luis"], &["Obrero"]);
        b["category"] = json!("labour");
        b["subtype"] = json!("unpaid_wages");
        b["person"]["sex"] = json!("male");
        app.create_case(&sup, &b).await;
    }
    // Another state's case is not counted in Honduras' figures.
    let gt = app.token("supervisor.gt").await;
    let mut b = new_case(&["Otra"], &["Persona"]);
    b["person"]["nationalities"] = json!(["GT"]);
    b["owner_state"] = json!("GT");
    app.create_case(&gt, &b).await;
    // One case closes (a person may refuse protection at intake).
    let id = first.unwrap()["id"].as_str().unwrap().to_string();
    let (s, v) = app
        .post(
            &sup,
            &format!("/api/v1/cases/{id}/transitions"),
            &json!({"to": "closed", "version": 1, "reason": "La persona no desea protección"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");

    // The supervisor: Honduras' own figures, as they are; the small ones marked.
    let (s, own) = app.get(&sup, &format!("/api/v1/stats?period={period}")).await;
    assert_eq!(s, 200, "{own}");
    assert_eq!(own["state"], "HN");
    assert_eq!(own["suppressed"], false);
    assert_eq!(cell(&own, "opened_nationality_category", "HN", "migration"), Some(7));
    assert_eq!(cell(&own, "opened_nationality_category", "HN", "labour"), Some(2));
    assert_eq!(total(&own, "opened_nationality_category"), Some(9));
    assert_eq!(cell(&own, "opened_age_band_sex", "18+", "male"), Some(2));
    assert_eq!(cell(&own, "closed_nationality_category", "HN", "migration"), Some(1));
    assert_eq!(cell(&own, "open_at_end_nationality_category", "HN", "migration"), Some(6));
    assert_eq!(cell(&own, "outcome_category_outcome", "migration", "closed"), Some(1));
    let t =
        own["tables"].as_array().unwrap().iter().find(|t| t["id"] == "opened_nationality_category").unwrap();
    let labour = t["cols"].as_array().unwrap().iter().position(|k| k == "labour").unwrap();
    assert_eq!(t["marks"][0][labour], "primary");

    // The analyst (and the supervisor asking for the published view): nothing under 5 shown,
    // nor what would give it away.
    let analyst = app.token("analyst").await;
    let (s, published) = app.get(&analyst, &format!("/api/v1/stats?period={period}")).await;
    assert_eq!(s, 200, "{published}");
    assert_eq!(published["suppressed"], true);
    assert_eq!(cell(&published, "opened_nationality_category", "HN", "labour"), None);
    assert_eq!(
        cell(&published, "opened_nationality_category", "HN", "migration"),
        None,
        "alone beside the total it would give the 2 away"
    );
    assert_eq!(total(&published, "opened_nationality_category"), Some(9));
    for t in published["tables"].as_array().unwrap() {
        for v in t["grid"].as_array().unwrap().iter().flat_map(|r| r.as_array().unwrap()) {
            if let Some(n) = v.as_u64() {
                assert!(n == 0 || n >= 5, "a small count left the node in {}: {n}", t["id"]);
            }
        }
    }
    let (_, asked) = app.get(&sup, &format!("/api/v1/stats?period={period}&published=true")).await;
    assert_eq!(asked["tables"], published["tables"]);
    // Fewer than 5 detentions: no delays published.
    assert!(published["art36"]["detentions"].is_null());

    // Periods: one not started yet, one that is none; other roles may not ask.
    let (s, e) = app.get(&sup, "/api/v1/stats?period=2099-H1").await;
    assert_eq!(s, 422, "{e}");
    assert!(e["errors"][0]["message"].as_str().unwrap().contains("not started"), "{e}");
    let (s, e) = app.get(&sup, "/api/v1/stats?period=2026-S1").await;
    assert_eq!(s, 422, "{e}");
    assert_eq!(e["errors"][0]["field"], "period");
    let (s, _) = app.get(&sup, "/api/v1/stats?period=2026&color=red").await;
    assert_eq!(s, 400);
    let officer = app.token("officer.hn").await;
    let (s, _) = app.get(&officer, &format!("/api/v1/stats?period={period}")).await;
    assert_eq!(s, 403);

    // The page, in Spanish: the supervisor's marks, the analyst's dashes.
    let mut web = crate::ui::Web::new(&app).accept_language("es");
    web.sign_in("supervisor.hn").await.has("href=\"/stats\"");
    web.get(&format!("/stats?period={period}"))
        .await
        .has("Estadísticas")
        .has("Casos abiertos")
        .has("would-hide")
        .has("Migratorio");
    web.get("/stats?period=2099").await.has("no ha comenzado").lacks("<caption>");
    // The report downloads: published figures only, in the reader's language.
    let csv = web.get(&format!("/stats/report.csv?period={period}")).await;
    assert_eq!(csv.status, 200);
    assert!(csv.body.starts_with("Estado,Periodo,Tabla"), "{}", &csv.body[..80.min(csv.body.len())]);
    assert!(csv.body.contains(",suprimido"), "the small counts are suppressed in the report");
    assert!(!csv.body.contains(",2,"), "no small count in the report");
    let xlsx = web.get(&format!("/stats/report.xlsx?period={period}")).await;
    assert_eq!(xlsx.status, 200);
    // And to print: a valid PDF with the tables, in Spanish; the small counts as "—".
    web.get(&format!("/stats?period={period}")).await.has("/stats/report.pdf?period=").has("(PDF)");
    let (status, headers, pdf) = web.get_bytes(&format!("/stats/report.pdf?period={period}")).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/pdf");
    let disposition = headers["content-disposition"].to_str().unwrap();
    assert!(disposition.starts_with("attachment;") && disposition.ends_with(".pdf\""), "{disposition}");
    let text = pdf_text(&pdf);
    let flat = squeeze(&text);
    assert!(flat.contains("Informe para el GRCM: casos de protección consular"), "{text}");
    assert!(flat.contains("Casos abiertos — Nacionalidad × Categoría"), "{text}");
    assert!(flat.contains("Casos cerrados — Nacionalidad × Categoría"), "{text}");
    assert!(
        rows_with_suppression(&text, "Honduras") > 0,
        "Honduras' 7 migration and 2 labour cases are suppressed: {text}"
    );
    let mut web = crate::ui::Web::new(&app).accept_language("en");
    web.sign_in("analyst").await;
    web.get(&format!("/stats?period={period}"))
        .await
        .has("class=\"num hidden\"")
        .lacks("would-hide")
        .has("<svg")
        .has("stroke-dasharray");
    // The analyst's PDF in English, the supervisor's in French: the same figures.
    for (who, lang, title, table) in [
        ("analyst", "en", "GRCM report: consular protection cases", "Cases opened — Nationality × Category"),
        (
            "supervisor.hn",
            "fr",
            "Rapport pour le GRCM : dossiers de protection consulaire",
            "Dossiers ouverts — Nationalité × Catégorie",
        ),
    ] {
        let mut web = crate::ui::Web::new(&app).accept_language(lang);
        web.sign_in(who).await;
        let (status, _, pdf) = web.get_bytes(&format!("/stats/report.pdf?period={period}")).await;
        assert_eq!(status, 200, "{who}");
        let text = pdf_text(&pdf);
        let flat = squeeze(&text);
        assert!(flat.contains(title) && flat.contains(table), "{lang}: {text}");
        assert!(rows_with_suppression(&text, "Honduras") > 0, "{lang}: {text}");
    }
    // Officers may not download it.
    let mut web = crate::ui::Web::new(&app).accept_language("en");
    web.sign_in("officer.hn").await;
    let (status, _, _) = web.get_bytes(&format!("/stats/report.pdf?period={period}")).await;
    assert_eq!(status, 403);
}

both_backends!(node_statistics_are_suppressed_when_they_may_leave_the_node);

async fn own_stats(app: &TestApp, token: &str, period: &str) -> Value {
    let (s, v) = app.get(token, &format!("/api/v1/stats?period={period}")).await;
    assert_eq!(s, 200, "{v}");
    v
}

/// The figures follow a case's changes and its person's rectification (each writes the case's
/// row of facts again), and a database whose facts are missing gets them back at start.
async fn statistics_follow_changes_and_the_catch_up(app: TestApp) {
    use chrono::Datelike;
    let sup = app.token("supervisor.hn").await;
    let now = chrono::Utc::now();
    let period = format!("{}-H{}", now.year(), if now.month() <= 6 { 1 } else { 2 });
    let iso = |h: i64| (now - chrono::Duration::hours(h)).to_rfc3339();
    let mut detained = new_case(&["Mario"], &["Cerrato"]);
    detained["subtype"] = json!("detention");
    detained["person"]["sex"] = json!("male");
    detained["detention"] = json!({"detained_at": iso(50), "place": "Estación migratoria",
        "notice_received_at": iso(30), "first_contact_at": iso(24)});
    let mut child = new_case(&["Nayeli"], &["Ramos"]);
    child["person"]["birth"] = json!({"kind": "year", "year": now.year() - 14});
    child["vulnerabilities"] = json!(["unaccompanied_child"]);
    let d = app.create_case(&sup, &detained).await;
    app.create_case(&sup, &child).await;
    let plain = app.create_case(&sup, &new_case(&["Rosa"], &["Guzmán"])).await;
    let own = own_stats(&app, &sup, &period).await;
    assert_eq!(cell(&own, "opened_category_unaccompanied", "migration", "yes"), Some(1));
    assert_eq!(cell(&own, "opened_age_band_sex", "12-17", "female"), Some(1));
    assert_eq!(cell(&own, "opened_age_band_sex", "18+", "female"), Some(1));
    assert_eq!(cell(&own, "opened_subtype_sex", "detention", "male"), Some(1));
    assert_eq!(own["art36"]["detentions"], 1);
    assert_eq!(own["art36"]["median_hours"], 6.0);

    // Rosa's record said female by mistake: corrected, the figures follow.
    let person = {
        let mut p = plain["person"].clone();
        p["sex"] = json!("male");
        for k in ["id", "version"] {
            p.as_object_mut().unwrap().remove(k);
        }
        p
    };
    let path = format!("/api/v1/cases/{}/person", plain["id"].as_str().unwrap());
    let (s, v) = app.send("PUT", &sup, &path, &json!({"version": 1, "person": person})).await;
    assert_eq!(s, 200, "{v}");
    // The detention case closes.
    let (s, v) = app
        .post(
            &sup,
            &format!("/api/v1/cases/{}/transitions", d["id"].as_str().unwrap()),
            &json!({"to": "closed", "version": 1, "reason": "Liberado y retornado"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let after = own_stats(&app, &sup, &period).await;
    assert_eq!(cell(&after, "opened_age_band_sex", "18+", "female"), Some(0));
    assert_eq!(cell(&after, "opened_age_band_sex", "18+", "male"), Some(2));
    assert_eq!(cell(&after, "outcome_category_outcome", "migration", "closed"), Some(1));

    // A database from before the facts (or one that lost them): written again at start, and
    // the figures are the same.
    match app.app.db() {
        enlace_store::Db::Sqlite { write, .. } => {
            sqlx::query("DELETE FROM case_facts").execute(write).await.unwrap();
        }
        enlace_store::Db::Postgres(p) => {
            sqlx::query("DELETE FROM case_facts").execute(p).await.unwrap();
        }
    }
    let empty = own_stats(&app, &sup, &period).await;
    assert_eq!(total(&empty, "opened_nationality_category"), Some(0));
    assert_eq!(app.app.catch_up_case_facts().await.unwrap(), 3);
    let again = own_stats(&app, &sup, &period).await;
    assert_eq!(again["tables"], after["tables"]);
    assert_eq!(again["art36"], after["art36"]);
    assert_eq!(app.app.catch_up_case_facts().await.unwrap(), 0, "nothing left to do");
}

both_backends!(statistics_follow_changes_and_the_catch_up);
