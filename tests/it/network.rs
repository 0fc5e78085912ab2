//! The network's workspace (issue 8): meetings, their agreements and follow-up notes, the
//! open agreements by responsible party, events and their calendar file; who may keep what;
//! bad input refused with nothing stored. And the demo's transcription of the 2016 meeting.

use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::TestApp;

both_backends!(meetings_agreements_and_follow_up);
both_backends!(events_and_their_calendar);
both_backends!(the_2016_meeting_as_demo_data);
both_backends!(each_state_keeps_its_own_directory_entries);
both_backends!(working_groups_and_their_tasks);
both_backends!(the_library_finds_with_or_without_accents);
both_backends!(library_files_are_checked_kept_and_searched);
both_backends!(items_a_state_does_not_see_do_not_fill_its_page);

fn meeting_body() -> Value {
    json!({"title": {"es": "Reunión de la Red", "en": "Network meeting"}, "starts_on": "2016-06-08",
        "place": "Tegucigalpa, Honduras", "states": ["HN", "GT", "MX"]})
}

fn agreement(number: u16, responsible: Value, due_on: Option<&str>) -> Value {
    let mut a = json!({"number": number, "title": {"es": format!("Acuerdo {number}")},
        "text": "Texto del acuerdo tal como consta en el informe.", "responsible": responsible, "status": "open"});
    if let Some(d) = due_on {
        a["due_on"] = json!(d);
    }
    a
}

async fn meetings_agreements_and_follow_up(app: TestApp) {
    let ts = app.token("analyst").await;
    let liaison = app.token("liaison.hn").await;
    let officer = app.token("officer.hn").await;
    let partner = app.token("partner").await;

    // Who records meetings; what a bad one is told.
    assert_eq!(app.post(&officer, "/api/v1/meetings", &meeting_body()).await.0, 403);
    let mut bad = meeting_body();
    bad["ends_on"] = json!("2016-06-07");
    bad["states"] = json!(["HN", "HN"]);
    let (s, v) = app.post(&ts, "/api/v1/meetings", &bad).await;
    assert_eq!(s, 422, "{v}");
    let fields: Vec<&str> =
        v["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["ends_on", "states"], "{v}");
    let mut unknown = meeting_body();
    unknown["venue"] = json!("x");
    let (s, v) = app.post(&ts, "/api/v1/meetings", &unknown).await;
    assert!((400..500).contains(&s) && v.to_string().contains("venue"), "{s} {v}");
    assert_eq!(app.get(&ts, "/api/v1/meetings").await.1, json!([]), "nothing stored");
    let (s, m) = app.post(&ts, "/api/v1/meetings", &meeting_body()).await;
    assert_eq!(s, 201, "{m}");
    let mid = m["id"].as_str().unwrap().to_string();
    let agreements = format!("/api/v1/meetings/{mid}/agreements");

    // Agreements, numbered as in the report.
    let (s, a6) = app
        .post(&ts, &agreements, &agreement(6, json!([{"state": "NI"}, {"body": "ST"}]), Some("2016-11-30")))
        .await;
    assert_eq!(s, 201, "{a6}");
    let (s, a2) =
        app.post(&liaison, &agreements, &agreement(2, json!([{"state": "HN"}]), Some("2099-01-31"))).await;
    assert_eq!(s, 201, "{a2}");
    let (s, a3) = app
        .post(&ts, &agreements, &agreement(3, json!([{"state": "HN"}, {"body": "OIM"}]), Some("2016-07-01")))
        .await;
    assert_eq!(s, 201, "{a3}");
    let (s, v) = app.post(&ts, &agreements, &agreement(6, json!([{"state": "HN"}]), None)).await;
    assert_eq!(s, 409, "{v}");
    assert!(v["detail"].as_str().unwrap().contains("number 6"), "{v}");
    let (s, v) =
        app.post(&ts, &agreements, &agreement(7, json!([{"state": "HN"}]), Some("2016-06-01"))).await;
    assert_eq!(s, 422, "{v}");
    assert!(v.to_string().contains("before the meeting"), "{v}");
    let (s, _) = app
        .post(
            &ts,
            "/api/v1/meetings/0190f1e2-0000-7000-8000-000000000000/agreements",
            &agreement(1, json!([]), None),
        )
        .await;
    assert_eq!(s, 404);
    let (s, list) = app.get(&partner, &agreements).await;
    assert_eq!(s, 200, "everyone signed in reads the workspace");
    let numbers: Vec<i64> = list.as_array().unwrap().iter().map(|a| a["number"].as_i64().unwrap()).collect();
    assert_eq!(numbers, [2, 3, 6]);
    assert_eq!(list[2]["overdue"], true);
    assert_eq!(list[0]["overdue"], false);
    let (_, detail) = app.get(&officer, &format!("/api/v1/meetings/{mid}")).await;
    assert_eq!(
        (detail["meeting"]["agreements"].as_i64(), detail["meeting"]["pending"].as_i64()),
        (Some(3), Some(3))
    );

    // Follow-up: a liaison officer only on what names their state; the Secretariat on all.
    let notes = |a: &Value| format!("/api/v1/agreements/{}/notes", a["id"].as_str().unwrap());
    let (s, v) = app.post(&liaison, &notes(&a6), &json!({"text": "Honduras presentará la nota."})).await;
    assert_eq!(s, 403, "{v}");
    assert!(v["detail"].as_str().unwrap().contains("does not name HN"), "{v}");
    let (s, v) = app.post(&officer, &notes(&a2), &json!({"text": "x"})).await;
    assert_eq!(s, 403, "{v}");
    let (s, v) = app
        .post(&liaison, &notes(&a2), &json!({"text": "Taller en preparación.", "status": "in_progress"}))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!((v["status"].as_str(), v["version"].as_i64()), (Some("in_progress"), Some(2)));
    assert_eq!(v["notes"][0]["state"], "HN");
    let (s, v) = app.post(&ts, &notes(&a3), &json!({"text": "Cumplido.", "status": "done"})).await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = app.post(&ts, &notes(&a3), &json!({"text": "", "status": "finished"})).await;
    assert_eq!(s, 422, "{v}");
    let (_, v) = app.get(&ts, &agreements).await;
    assert_eq!(v[1]["notes"].as_array().unwrap().len(), 1, "the refused note was not kept");

    // What is still to be acted on, by responsible party: states first, overdue first.
    let (s, pending) = app.get(&partner, "/api/v1/agreements/pending").await;
    assert_eq!(s, 200, "{pending}");
    let parties: Vec<String> = pending.as_array().unwrap().iter().map(|g| g["party"].to_string()).collect();
    assert_eq!(parties, [r#"{"state":"HN"}"#, r#"{"state":"NI"}"#, r#"{"body":"ST"}"#], "{pending}");
    let hn: Vec<i64> =
        pending[0]["agreements"].as_array().unwrap().iter().map(|a| a["number"].as_i64().unwrap()).collect();
    assert_eq!(hn, [2], "agreement 3 is done: {pending}");
    assert_eq!(pending[1]["agreements"][0]["overdue"], true);

    let actions = app.audit_actions().await;
    for a in ["network.meeting", "network.agreement", "network.follow_up"] {
        assert!(actions.iter().any(|x| x == a), "{a} audited");
    }
}

async fn events_and_their_calendar(app: TestApp) {
    let ts = app.token("analyst").await;
    let liaison = app.token("liaison.hn").await;
    let auditor = app.token("auditor.hn").await;
    let forum = json!({"title": {"es": "Tercer Foro Global Consular", "en": "Third Global Consular Forum"},
        "starts_on": "2016-10-25", "ends_on": "2016-10-27", "place": "República de Corea",
        "announced_by": {"state": "CA"}, "description": "Protección consular; servicios, buenas prácticas."});
    // A liaison officer announces in their own state's name only.
    let (s, v) = app.post(&liaison, "/api/v1/events", &forum).await;
    assert_eq!(s, 422, "{v}");
    assert!(v.to_string().contains("announced_by"), "{v}");
    let mut backwards = forum.clone();
    backwards["ends_on"] = json!("2016-10-24");
    let (s, v) = app.post(&ts, "/api/v1/events", &backwards).await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(app.get(&ts, "/api/v1/events").await.1, json!([]), "nothing stored");
    assert_eq!(app.post(&ts, "/api/v1/events", &forum).await.0, 201);
    let mut workshop = forum.clone();
    workshop["title"] = json!({"es": "Taller de la Red"});
    workshop["starts_on"] = json!("2016-09-01");
    workshop["ends_on"] = json!("2016-09-01");
    workshop["announced_by"] = json!({"state": "HN"});
    assert_eq!(app.post(&liaison, "/api/v1/events", &workshop).await.0, 201);
    let (_, list) = app.get(&auditor, "/api/v1/events").await;
    let dates: Vec<&str> =
        list.as_array().unwrap().iter().map(|e| e["starts_on"].as_str().unwrap()).collect();
    assert_eq!(dates, ["2016-09-01", "2016-10-25"], "in date order");

    let ics = |q: &'static str| {
        let url = app.url(&format!("/api/v1/events.ics{q}"));
        let c = app.client.clone();
        let t = ts.clone();
        async move {
            let r = c.get(url).bearer_auth(t).send().await.unwrap();
            let (s, ct) = (
                r.status().as_u16(),
                r.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()),
            );
            (s, ct, r.text().await.unwrap())
        }
    };
    let (s, ct, body) = ics("?lang=en").await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(ct.as_deref(), Some("text/calendar; charset=utf-8"));
    assert!(body.starts_with("BEGIN:VCALENDAR\r\n") && body.ends_with("END:VCALENDAR\r\n"));
    assert_eq!(body.matches("BEGIN:VEVENT").count(), 2);
    assert!(body.contains("SUMMARY:Third Global Consular Forum\r\n"));
    assert!(body.contains("SUMMARY:Taller de la Red\r\n"), "no English title: the original");
    assert!(body.contains("DTEND;VALUE=DATE:20161028\r\n"));
    assert!(
        body.replace("\r\n ", "")
            .contains("DESCRIPTION:Protección consular\\; servicios\\, buenas prácticas.")
    );
    let (_, _, es) = ics("").await;
    assert!(es.contains("SUMMARY:Tercer Foro Global Consular\r\n"));
    let (s, _, said) = ics("?lang=de").await;
    assert_eq!(s, 400, "{said}");
    assert!(said.contains("lang"), "{said}");
}

async fn the_2016_meeting_as_demo_data(app: TestApp) {
    let actor = app.app.actor_for("analyst").await.unwrap();
    assert!(app.app.seed_network_demo(&actor).await.unwrap());
    assert!(!app.app.seed_network_demo(&actor).await.unwrap(), "loaded once");
    let t = app.token("officer.hn").await;
    let (_, meetings) = app.get(&t, "/api/v1/meetings").await;
    assert_eq!(meetings.as_array().unwrap().len(), 1);
    let m = &meetings[0];
    assert_eq!(m["title"]["es"], "Reunión de la Red de Funcionarios de Enlace de Protección Consular");
    let states: Vec<&str> = m["states"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    assert_eq!(states, ["CA", "CR", "SV", "US", "GT", "HN", "MX", "PA", "DO"]);
    assert_eq!(m["agenda"].as_array().unwrap().len(), 11, "the report's eleven points");
    assert_eq!((m["agreements"].as_i64(), m["pending"].as_i64()), (Some(11), Some(5)));
    let (_, a) = app.get(&t, &format!("/api/v1/meetings/{}/agreements", m["id"].as_str().unwrap())).await;
    let a = a.as_array().unwrap();
    assert!(
        a.iter().all(|x| ["es", "en", "fr"].iter().all(|l| x["title"][l].is_string())),
        "three titles each"
    );
    assert_eq!(a[3]["status"], "withdrawn", "item 4: taken off the agenda");
    assert!(a[5]["text"].as_str().unwrap().contains("que Nicaragua se pronuncie"));
    assert!(a[5]["text"].as_str().unwrap().contains(
        "Honduras ofrece presentar la nota conceptual ante la Reunión Viceministerial en noviembre 2016"
    ));
    assert_eq!(
        a[5]["responsible"],
        json!([{"state": "NI"}, {"body": "Secretaría Técnica de la CRM"}, {"state": "HN"}])
    );
    assert!(a[9]["text"].as_str().unwrap().contains("el jueves 9 de junio"));
    assert_eq!(a[9]["due_on"], "2016-06-09");
    let (_, events) = app.get(&t, "/api/v1/events").await;
    let forum =
        events.as_array().unwrap().iter().find(|e| e["starts_on"] == "2016-10-25").expect("the forum");
    assert_eq!(
        (forum["ends_on"].as_str(), forum["announced_by"]["state"].as_str()),
        (Some("2016-10-27"), Some("CA"))
    );

    // The meeting's documents and the campaign group's, in the API and on their pages.
    let mid = m["id"].as_str().unwrap();
    let titles = |v: &Value| -> Vec<String> {
        v.as_array().unwrap().iter().map(|i| i["title"]["en"].as_str().unwrap().to_string()).collect()
    };
    let (_, docs) = app.get(&t, &format!("/api/v1/library?meeting={mid}")).await;
    assert_eq!(titles(&docs).len(), 3, "the workshop, the concept note, the campaigns: {docs}");
    let (_, groups) = app.get(&t, "/api/v1/groups").await;
    let gid = groups[0]["id"].as_str().unwrap();
    let (_, docs) = app.get(&t, &format!("/api/v1/library?group={gid}")).await;
    assert_eq!(titles(&docs), ["Existing information campaigns on child migration"]);
    let (s, v) = app.get(&t, &format!("/api/v1/library?group={gid}&meeting={mid}")).await;
    assert_eq!(s, 400, "{v}");
    let (s, v) = app.get(&t, &format!("/api/v1/library?group={gid}&q=campana")).await;
    assert_eq!(s, 400, "{v}");
    let mut w = crate::ui::Web::new(&app).accept_language("fr");
    w.sign_in("officer.hn").await;
    w.get(&format!("/meetings/{mid}")).await.has("<h2>Documents</h2>").has(
        "Note conceptuelle : lignes directrices pour la protection consulaire des travailleurs migrants",
    );
    w.get(&format!("/groups/{gid}"))
        .await
        .has("Campagnes d&#39;information existantes sur la migration des enfants")
        .lacks("Note conceptuelle");
}

both_backends!(the_workspace_in_the_pages);

async fn the_workspace_in_the_pages(app: TestApp) {
    use crate::ui::{Web, every_input_is_labelled};
    let ts = app.app.actor_for("analyst").await.unwrap();
    app.app.seed_network_demo(&ts).await.unwrap();

    // An officer, in Spanish: reads everything, records nothing.
    let mut w = Web::new(&app).accept_language("es");
    w.sign_in("officer.hn").await;
    let p = w.get("/meetings").await;
    p.has("href=\"/meetings\">Red</a>")
        .has("Reunión de la Red de Funcionarios de Enlace de Protección Consular")
        .has("Tegucigalpa, Honduras")
        .has("11 (pendientes: 5)")
        .lacks("Registrar una reunión");
    let href = p.body.split("href=\"/meetings/").nth(1).unwrap();
    let meeting = format!("/meetings/{}", &href[..href.find('"').unwrap()]);
    let p = w.get(&meeting).await;
    p.has("4. Propuesta de Acuerdo de Cooperación Regional")
        .has("Retirado")
        .has("que Nicaragua se pronuncie")
        .has("vencido")
        .lacks("Agregar una nota de seguimiento")
        .lacks("Registrar un acuerdo");
    assert_eq!(p.body.matches("class=\"box agreement").count(), 11);

    // A liaison officer, in English: notes on what names Honduras only.
    let mut l = Web::new(&app).accept_language("en");
    l.sign_in("liaison.hn").await;
    let p = l.get(&meeting).await;
    every_input_is_labelled(&p);
    assert_eq!(p.body.matches("Add a follow-up note").count(), 3, "items 1, 3 and 6 name Honduras");
    let item6 = p.body.split("id=\"agreement-6\"").nth(1).unwrap();
    let form = item6.split("action=\"").nth(1).unwrap();
    let notes = form[..form.find('"').unwrap()].to_string();
    let mid = meeting.trim_start_matches("/meetings/");
    let p = l.post(&notes, &[("meeting", mid), ("text", " "), ("status", "")]).await;
    assert_eq!(p.status, 422, "{}", p.body);
    p.has("<details class=\"note-form\" open>");
    let r = l
        .post(
            &notes,
            &[
                ("meeting", mid),
                ("text", "Honduras presentará la nota conceptual."),
                ("status", "in_progress"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(r.location().ends_with("#agreement-6"), "{}", r.location());
    l.get(&meeting).await.has("Honduras presentará la nota conceptual.").has("In progress");
    // Item 5 names Mexico only: no form, and a forged post is refused.
    let t = app.token("liaison.hn").await;
    let (_, list) = app.get(&t, &format!("/api/v1/meetings/{mid}/agreements")).await;
    let item5 = list[4]["id"].as_str().unwrap();
    let p =
        l.post(&format!("/agreements/{item5}/notes"), &[("meeting", mid), ("text", "No es nuestro.")]).await;
    assert_eq!(p.status, 403, "{}", p.body);
    let p = l.get("/agreements").await;
    p.has("Pending agreements").has("Honduras").has("Mexico").has("Nicaragua").has("overdue");
    let hn = p.body.find("<h2 id=\"party-1\">Honduras</h2>").expect("states first, by code");
    assert!(p.body[hn..].find("Mexico").is_some());

    // The Secretariat, in French: records a meeting; the form says what is wrong beside it.
    let mut s = Web::new(&app).accept_language("fr");
    s.sign_in("analyst").await;
    let p = s.get("/meetings").await;
    p.has("Enregistrer une réunion");
    every_input_is_labelled(&p);
    let bad = [
        ("title.es", "Reunión extraordinaria"),
        ("starts_on", "2026-11-20"),
        ("ends_on", "2026-11-19"),
        ("place", "San José, Costa Rica"),
        ("states", "CR"),
        ("states", "PA"),
    ];
    let p = s.post("/meetings", &bad).await;
    assert_eq!(p.status, 422, "{}", p.body);
    p.has("id=\"ends_on-error\"").has("value=\"San José, Costa Rica\"");
    let p = s
        .post(
            "/meetings",
            &[("title.es", "Reunión"), ("starts_on", "el lunes"), ("place", "x"), ("states", "CR")],
        )
        .await;
    assert_eq!(p.status, 422);
    p.has("id=\"starts_on-error\"");
    let mut good = bad.to_vec();
    good[2] = ("ends_on", "2026-11-21");
    good.push(("agenda", "Informes de los Estados\nCampaña regional\n"));
    let r = s.post("/meetings", &good).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let new = r.location();
    s.get(&new).await.has("Reunión extraordinaria").has("Costa Rica").has("<li>Campaña regional</li>");
    let r = s
        .post(
            &format!("{new}/agreements"),
            &[
                ("number", "1"),
                ("title.fr", "Accord"),
                ("text", "Texto."),
                ("responsible", "CR"),
                ("bodies", "OIM\n"),
                ("due_on", "2026-12-31"),
                ("status", "open"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let p = s
        .post(
            &format!("{new}/agreements"),
            &[
                ("number", "1"),
                ("title.fr", "Encore"),
                ("text", "Texto."),
                ("responsible", "CR"),
                ("status", "open"),
            ],
        )
        .await;
    assert_eq!(p.status, 422, "{}", p.body);
    p.has("id=\"number-error\"");
    s.get(&new).await.has("1. Accord").has("Costa Rica, OIM");

    // Events, in French, and their calendar file.
    let p = s.get("/events").await;
    p.has("Troisième Forum consulaire mondial").has("República de Corea").has("href=\"/events.ics\"");
    every_input_is_labelled(&p);
    let (status, headers, body) = s.get_bytes("/events.ics").await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "text/calendar; charset=utf-8");
    let ics = String::from_utf8(body).unwrap();
    assert!(ics.contains("SUMMARY:Troisième Forum consulaire mondial\r\n"), "{ics}");
    let p = l
        .post(
            "/events",
            &[
                ("title.es", ""),
                ("starts_on", "2026-12-01"),
                ("ends_on", "2026-12-01"),
                ("place", "Tegucigalpa"),
                ("announced_by", "HN"),
            ],
        )
        .await;
    assert_eq!(p.status, 422, "{}", p.body);
    p.has("id=\"title.es-error\"");
    let r = l
        .post(
            "/events",
            &[
                ("title.es", "Taller de la Red"),
                ("starts_on", "2026-12-01"),
                ("ends_on", "2026-12-02"),
                ("place", "Tegucigalpa"),
                ("announced_by", "HN"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    l.get("/events").await.has("Taller de la Red");
}

async fn each_state_keeps_its_own_directory_entries(app: TestApp) {
    let liaison = app.token("liaison.hn").await;
    let admin = app.token("admin.hn").await;
    let officer = app.token("officer.hn").await;
    let gt = app.token("supervisor.gt").await;
    let entry = |state: &str, function: &str| {
        json!({"state": state, "function": function, "name": "Punto focal",
        "email": "enlace@example.org", "languages": ["es", "en"]})
    };
    let (s, hn) = app.post(&liaison, "/api/v1/directory", &entry("HN", "liaison")).await;
    assert_eq!(s, 201, "{hn}");
    let (s, v) = app.post(&liaison, "/api/v1/directory", &entry("GT", "liaison")).await;
    assert_eq!(s, 403, "{v}");
    assert!(v["detail"].as_str().unwrap().contains("own entries"), "{v}");
    assert_eq!(app.post(&officer, "/api/v1/directory", &entry("HN", "liaison")).await.0, 403);
    let mut post = entry("HN", "post");
    let (s, v) = app.post(&admin, "/api/v1/directory", &post).await;
    assert_eq!(s, 422, "{v}");
    assert!(v.to_string().contains("names its post"), "{v}");
    post["post"] = json!("GT-TAPACHULA");
    let (s, v) = app.post(&admin, "/api/v1/directory", &post).await;
    assert_eq!(s, 422, "{v}");
    post["post"] = json!("HN-TAPACHULA");
    post["email"] = json!("consulado at tapachula");
    let (s, v) = app.post(&admin, "/api/v1/directory", &post).await;
    assert_eq!(s, 422, "{v}");
    assert!(v.to_string().contains("e-mail"), "{v}");
    post["email"] = json!("tapachula@example.org");
    let (s, p) = app.post(&admin, "/api/v1/directory", &post).await;
    assert_eq!(s, 201, "{p}");
    assert_eq!((p["post_city"].as_str(), p["post_district"].as_str()), (Some("Tapachula"), Some("Chiapas")));
    // Everyone reads it, by state.
    let (_, all) = app.get(&gt, "/api/v1/directory").await;
    assert_eq!(all.as_array().unwrap().len(), 2);
    let (_, only) = app.get(&gt, "/api/v1/directory?state=GT").await;
    assert_eq!(only, json!([]));
    assert_eq!(app.get(&gt, "/api/v1/directory?state=Atlantis").await.0, 400);
    // A new version of one's own entry; another state's: no.
    let id = hn["id"].as_str().unwrap();
    let mut changed = entry("HN", "liaison");
    changed["phone"] = json!("+504 2234-0000");
    let (s, v) = app.send("PUT", &liaison, &format!("/api/v1/directory/{id}"), &changed).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!((v["version"].as_i64(), v["phone"].as_str()), (Some(2), Some("+504 2234-0000")));
    let gt_liaison = {
        app.app
            .create_user(
                None,
                enlace_app::auth::NewUser {
                    username: "liaison.gt".into(),
                    display_name: None,
                    role: enlace_domain::role::Role::LiaisonOfficer,
                    state: enlace_domain::country::CountryCode::parse("GT").unwrap(),
                    post: None,
                    password: crate::harness::PASSWORD.into(),
                    sensitive_access: false,
                },
            )
            .await
            .unwrap();
        app.token("liaison.gt").await
    };
    let (s, v) =
        app.send("PUT", &gt_liaison, &format!("/api/v1/directory/{id}"), &entry("GT", "liaison")).await;
    assert_eq!(s, 403, "{v}");
    let (s, v) = app.send("DELETE", &gt_liaison, &format!("/api/v1/directory/{id}"), &json!({})).await;
    assert_eq!(s, 403, "{v}");
    // Removed: gone from the directory; a second removal finds nothing.
    let (s, _) = app.send("DELETE", &liaison, &format!("/api/v1/directory/{id}"), &json!({})).await;
    assert_eq!(s, 204);
    let (_, all) = app.get(&gt, "/api/v1/directory").await;
    assert_eq!(all.as_array().unwrap().len(), 1);
    assert_eq!(app.send("DELETE", &liaison, &format!("/api/v1/directory/{id}"), &json!({})).await.0, 404);
    let actions = app.audit_actions().await;
    assert!(
        actions.iter().any(|a| a == "network.contact")
            && actions.iter().any(|a| a == "network.contact_removed")
    );

    // In the pages, in Spanish: the form, an error beside its field, a removal confirmed.
    let mut w = crate::ui::Web::new(&app).accept_language("es");
    w.sign_in("liaison.hn").await;
    let p = w.get("/directory").await;
    p.has("Directorio")
        .has("Contacto de la representación")
        .has("HN-TAPACHULA (Tapachula; circunscripción consular: Chiapas)")
        .has("Agregar una entrada de su Estado (Honduras)");
    crate::ui::every_input_is_labelled(&p);
    let p = w
        .post("/directory", &[("function", "alternate"), ("name", "Suplente"), ("email", "no es correo")])
        .await;
    assert_eq!(p.status, 422, "{}", p.body);
    p.has("id=\"email-error\"");
    let r = w
        .post("/directory", &[("function", "alternate"), ("name", "Suplente de enlace"), ("languages", "es")])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let p = w.get("/directory").await;
    p.has("Suplente de enlace");
    let post_id = p
        .body
        .split("id=\"contact-")
        .skip(1)
        .filter_map(|x| x.split('"').next())
        .find(|i| !i.ends_with("-h"))
        .unwrap()
        .to_string();
    let r = w.post(&format!("/directory/{post_id}/remove"), &[]).await;
    assert_eq!(r.status, 400, "no confirmation: {}", r.body);
    let r = w.post(&format!("/directory/{post_id}/remove"), &[("confirm", "yes")]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let (_, all) = app.get(&gt, "/api/v1/directory").await;
    assert_eq!(all.as_array().unwrap().len(), 1);
}

async fn working_groups_and_their_tasks(app: TestApp) {
    let ts = app.token("analyst").await;
    let liaison = app.token("liaison.hn").await;
    let officer = app.token("officer.hn").await;
    let group = |members: Value| {
        json!({"title": {"es": "Campaña regional", "fr": "Campagne régionale"},
        "purpose": "Preparar la campaña.", "members": members})
    };
    let (s, v) = app.post(&ts, "/api/v1/groups", &group(json!([{"state": "HN"}, {"state": "HN"}]))).await;
    assert_eq!(s, 422, "{v}");
    assert!(v.to_string().contains("listed twice"), "{v}");
    assert_eq!(app.post(&officer, "/api/v1/groups", &group(json!([{"state": "HN"}]))).await.0, 403);
    let (s, g) = app.post(&ts, "/api/v1/groups", &group(json!([{"state": "HN"}, {"body": "OIM"}]))).await;
    assert_eq!(s, 201, "{g}");
    let (s, other) = app.post(&ts, "/api/v1/groups", &group(json!([{"state": "MX"}]))).await;
    assert_eq!(s, 201, "{other}");
    let tasks = |g: &Value| format!("/api/v1/groups/{}/tasks", g["id"].as_str().unwrap());
    let task = json!({"title": {"es": "Compartir campañas"}, "responsible": [{"state": "HN"}, {"body": "RROCM"}],
        "due_on": "2016-11-30", "status": "open"});
    // A member state's liaison officer works the group's tasks; others may not.
    let (s, v) = app.post(&liaison, &tasks(&g), &task).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!((v["version"].as_i64(), v["tasks"][0]["overdue"].as_bool()), (Some(2), Some(true)));
    let (s, v) = app.post(&liaison, &tasks(&other), &task).await;
    assert_eq!(s, 403, "{v}");
    assert!(v["detail"].as_str().unwrap().contains("not a member"), "{v}");
    assert_eq!(app.post(&officer, &tasks(&g), &task).await.0, 403);
    let mut done = task.clone();
    done["status"] = json!("done");
    let tid = v_task_id(&app, &ts, &g).await;
    let (s, v) = app.send("PUT", &liaison, &format!("{}/{tid}", tasks(&g)), &done).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["tasks"][0]["status"].as_str(), v["tasks"][0]["overdue"].as_bool()),
        (Some("done"), Some(false))
    );
    let (s, _) = app.send("PUT", &liaison, &format!("{}/{}", tasks(&g), uuid::Uuid::now_v7()), &done).await;
    assert_eq!(s, 404);
    let (_, list) = app.get(&officer, "/api/v1/groups").await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(app.get(&officer, &format!("/api/v1/groups/{}", uuid::Uuid::now_v7())).await.0, 404);

    // In the pages, in French: the group, its task; the status form keeps the rest of it.
    let mut w = crate::ui::Web::new(&app).accept_language("fr");
    w.sign_in("liaison.hn").await;
    w.get("/groups")
        .await
        .has("Groupes de travail")
        .has("Campagne régionale")
        .has("Constituer un groupe de travail");
    let page = format!("/groups/{}", g["id"].as_str().unwrap());
    let p = w.get(&page).await;
    p.has("Compartir campañas").has("Réalisé").has("Ajouter une tâche");
    crate::ui::every_input_is_labelled(&p);
    let r = w.post(&format!("{page}/tasks/{tid}"), &[("status_only", "1"), ("status", "in_progress")]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let (_, v) = app.get(&officer, &format!("/api/v1/groups/{}", g["id"].as_str().unwrap())).await;
    assert_eq!(v["tasks"][0]["status"], "in_progress");
    assert_eq!(v["tasks"][0]["responsible"], json!([{"state": "HN"}, {"body": "RROCM"}]), "the rest is kept");
    assert_eq!(v["tasks"][0]["due_on"], "2016-11-30");
    let r = w.post(&format!("{page}/tasks"), &[("title.es", ""), ("status", "open")]).await;
    assert_eq!(r.status, 422, "{}", r.body);
    let r = w
        .post(
            "/groups",
            &[
                ("title.fr", "Groupe sur les travailleurs migrants"),
                ("members", "HN"),
                ("bodies", "OIM\nRROCM"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    w.get(&r.location()).await.has("Groupe sur les travailleurs migrants").has("OIM, RROCM");
    let actions = app.audit_actions().await;
    assert!(actions.iter().any(|a| a == "network.group") && actions.iter().any(|a| a == "network.task"));
}

async fn v_task_id(app: &TestApp, t: &str, g: &Value) -> String {
    let (_, v) = app.get(t, &format!("/api/v1/groups/{}", g["id"].as_str().unwrap())).await;
    v["tasks"][0]["id"].as_str().unwrap().to_string()
}

async fn the_library_finds_with_or_without_accents(app: TestApp) {
    let ts = app.token("analyst").await;
    let liaison = app.token("liaison.hn").await;
    let officer = app.token("officer.hn").await;
    let item = |title: &str, visible: Value| {
        json!({"title": {"es": title},
        "summary": "Campañas informativas para la protección consular.", "kind": "campaign_material",
        "topic": "niñez migrante", "language": "es", "date": "2016-06-08", "visible_to": visible})
    };
    let (s, v) =
        app.post(&ts, "/api/v1/library", &item("Protección consular de la niñez migrante", json!([]))).await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = app.post(&ts, "/api/v1/library", &item("Guía de trabajo para México", json!(["MX"]))).await;
    assert_eq!(s, 201, "{v}");
    let mut future = item("Futuro", json!([]));
    future["date"] = json!("2999-01-01");
    let (s, v) = app.post(&ts, "/api/v1/library", &future).await;
    assert_eq!(s, 422, "{v}");
    assert!(v.to_string().contains("future"), "{v}");
    // A liaison officer shares in the name of their own state only.
    let mut theirs = item("Buenas prácticas de Honduras", json!([]));
    theirs["state"] = json!("GT");
    assert_eq!(app.post(&liaison, "/api/v1/library", &theirs).await.0, 422);
    theirs["state"] = json!("HN");
    assert_eq!(app.post(&liaison, "/api/v1/library", &theirs).await.0, 201);
    assert_eq!(app.post(&officer, "/api/v1/library", &theirs).await.0, 403);

    let titles = |v: &Value| -> Vec<String> {
        v.as_array().unwrap().iter().map(|i| i["title"]["es"].as_str().unwrap().to_string()).collect()
    };
    let find = |q: &'static str| {
        let officer = officer.clone();
        let app = &app;
        async move { app.get(&officer, &format!("/api/v1/library?q={q}")).await.1 }
    };
    assert_eq!(titles(&find("proteccion+consular").await).len(), 2, "every item's summary says it");
    assert_eq!(titles(&find("ninez+migrante").await).len(), 2, "the topic, without its accent");
    let hits = titles(&find("NIÑEZ").await);
    assert!(hits.contains(&"Protección consular de la niñez migrante".to_string()), "{hits:?}");
    assert!(!hits.contains(&"Guía de trabajo para México".to_string()), "visible to Mexico only: {hits:?}");
    let hits = titles(&find("campana").await);
    assert_eq!(hits.len(), 2, "the plural in the summary, found from the singular without accent: {hits:?}");
    assert!(titles(&find("trabajadores").await).is_empty());
    // The Secretariat sees every item, Mexico's too.
    let (_, all) = app.get(&ts, "/api/v1/library?q=guia").await;
    assert_eq!(titles(&all), ["Guía de trabajo para México"]);
    assert_eq!(app.get(&officer, "/api/v1/library?foo=1").await.0, 400);

    // In the pages, in English: the search, the form (the liaison officer's state is theirs).
    let mut w = crate::ui::Web::new(&app).accept_language("en");
    w.sign_in("liaison.hn").await;
    let p = w.get("/library?q=proteccion+consular").await;
    p.has("Library")
        .has("Protección consular de la niñez migrante")
        .has("Share an item")
        .lacks("Guía de trabajo");
    crate::ui::every_input_is_labelled(&p);
    w.get("/library?q=zzzz").await.has("Nothing matches.");
    let r = w
        .post(
            "/library",
            &[
                ("title.en", "Shelter referral protocol"),
                ("kind", "protocol"),
                ("language", "en"),
                ("date", "2016-07-01"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let (_, v) = app.get(&officer, "/api/v1/library?q=shelter").await;
    assert_eq!(v[0]["state"], "HN");
    let p = w
        .post(
            "/library",
            &[("title.en", "Bad"), ("kind", "protocol"), ("language", "en"), ("date", "mañana")],
        )
        .await;
    assert_eq!(p.status, 422);
    p.has("id=\"date-error\"");
}

/// Uploads `bytes` to an item's files through the API: the status and the answer.
pub async fn upload(
    app: &TestApp,
    token: &str,
    item: &str,
    name: &str,
    ct: &str,
    bytes: Vec<u8>,
) -> (u16, Value) {
    let r = app
        .client
        .post(app.url(&format!("/api/v1/library/{item}/files")))
        .query(&[("filename", name)])
        .bearer_auth(token)
        .header("content-type", ct)
        .body(bytes)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn library_files_are_checked_kept_and_searched(app: TestApp) {
    use crate::harness::{PNG, docx_with_text, pdf_with_text};
    const DOCX: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
    let ts = app.token("analyst").await;
    let liaison = app.token("liaison.hn").await;
    let officer = app.token("officer.hn").await;
    let item = |title: &str, state: Option<&str>, visible: Value| {
        json!({"title": {"es": title}, "kind": "good_practice", "state": state, "language": "es",
            "date": "2016-06-08", "visible_to": visible})
    };
    let id = |v: &Value| v["id"].as_str().unwrap().to_string();
    let (_, network) = app.post(&ts, "/api/v1/library", &item("Buenas prácticas", None, json!([]))).await;
    let (_, mx_only) =
        app.post(&ts, "/api/v1/library", &item("Guía de México", Some("MX"), json!(["MX"]))).await;
    let (s, honduras) =
        app.post(&liaison, "/api/v1/library", &item("Práctica de Honduras", Some("HN"), json!([]))).await;
    assert_eq!(s, 201, "{honduras}");
    let (network, mx_only, honduras) = (id(&network), id(&mx_only), id(&honduras));
    let files_of = |item: String| {
        let (app, ts) = (&app, ts.clone());
        async move {
            let (_, all) = app.get(&ts, "/api/v1/library").await;
            all.as_array().unwrap().iter().find(|i| i["id"] == item.as_str()).unwrap()["files"].clone()
        }
    };
    let audit_before = app.audit_len().await;

    // Refused, each naming the problem, nothing kept: a type that is not allowed, a file that
    // lies about its type, a ZIP that is no Word document, an empty file, one over the limit.
    let pdf = pdf_with_text(&["Protección consular en albergues fronterizos", "Atención a niñez migrante"]);
    let (s, v) = upload(&app, &ts, &network, "nota.txt", "text/plain", b"hola".to_vec()).await;
    assert_eq!(s, 422, "{v}");
    assert!(v.to_string().contains("not allowed") && v.to_string().contains("text/plain"), "{v}");
    let (s, v) = upload(&app, &ts, &network, "foto.pdf", "application/pdf", PNG.to_vec()).await;
    assert_eq!(s, 422, "{v}");
    assert!(v.to_string().contains("it says application/pdf, it is a PNG image"), "{v}");
    let (s, v) = upload(&app, &ts, &network, "informe.png", "image/png", pdf.clone()).await;
    assert_eq!(s, 422, "{v}");
    let mut zip = docx_with_text(&["x"]);
    zip.truncate(zip.len() / 2);
    let (s, v) = upload(&app, &ts, &network, "guia.docx", DOCX, zip).await;
    assert_eq!(s, 422, "{v}");
    assert!(v.to_string().contains("Word document"), "{v}");
    let (s, v) = upload(&app, &ts, &network, "vacio.pdf", "application/pdf", Vec::new()).await;
    assert_eq!(s, 422, "{v}");
    let mut big = b"%PDF-1.4\n".to_vec();
    big.resize(10 * 1024 * 1024 + 1, b' ');
    let (s, v) = upload(&app, &ts, &network, "grande.pdf", "application/pdf", big).await;
    assert_eq!(s, 413, "{v}");
    let (s, v) = upload(&app, &ts, &network, "../../etc/passwd", "application/pdf", b"".to_vec()).await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(files_of(network.clone()).await, json!([]));
    assert_eq!(app.audit_len().await, audit_before, "nothing refused is recorded as a change");

    // Who may add files: whoever may change the item.
    assert_eq!(upload(&app, &officer, &network, "a.png", "image/png", PNG.to_vec()).await.0, 403);
    assert_eq!(upload(&app, &liaison, &network, "a.png", "image/png", PNG.to_vec()).await.0, 403);
    assert_eq!(upload(&app, &liaison, &mx_only, "a.png", "image/png", PNG.to_vec()).await.0, 404);
    let nowhere = uuid::Uuid::now_v7().to_string();
    assert_eq!(upload(&app, &ts, &nowhere, "a.png", "image/png", PNG.to_vec()).await.0, 404);

    // Kept: a PDF and a Word document, their text searched; an image, with no text; a PDF
    // that cannot be read, kept but not searched.
    let (s, f) = upload(&app, &ts, &network, "protocolo.pdf", "application/pdf", pdf.clone()).await;
    assert_eq!(s, 201, "{f}");
    assert_eq!(f["text_status"], "indexed", "{f}");
    assert_eq!(f["kind"], "pdf");
    assert_eq!(f["size"], pdf.len());
    let docx = docx_with_text(&["Guía para la reunificación familiar", "Trabajadores agrícolas temporales"]);
    let (s, d) = upload(&app, &liaison, &honduras, "guía.docx", DOCX, docx.clone()).await;
    assert_eq!(s, 201, "{d}");
    assert_eq!(d["text_status"], "indexed", "{d}");
    let (s, p) = upload(&app, &ts, &network, "afiche.png", "image/png; name=x", PNG.to_vec()).await;
    assert_eq!(s, 201, "{p}");
    assert_eq!((p["text_status"].as_str(), p["content_type"].as_str()), (Some("no_text"), Some("image/png")));
    let broken =
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 9 0 R >> endobj\ntrailer << /Root 1 0 R >>\n".to_vec();
    let (s, b) = upload(&app, &ts, &network, "roto.pdf", "application/pdf", broken.clone()).await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["text_status"], "unparseable", "{b}");
    assert!(b["text_note"].is_string(), "{b}");
    let (_, mx_file) = upload(&app, &ts, &mx_only, "mexico.pdf", "application/pdf", pdf.clone()).await;
    let names: Vec<String> = files_of(network.clone())
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["filename"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["protocolo.pdf", "afiche.png", "roto.pdf"]);
    let actions = app.audit_actions().await;
    assert_eq!(actions.iter().filter(|a| *a == "network.library_file").count(), 5, "{actions:?}");

    // The search reads the documents' text, accents and endings aside.
    let titles = |v: Value| -> Vec<String> {
        v.as_array().unwrap().iter().map(|i| i["title"]["es"].as_str().unwrap().to_string()).collect()
    };
    let find = |q: &'static str| {
        let (app, officer) = (&app, officer.clone());
        async move { titles(app.get(&officer, &format!("/api/v1/library?q={q}")).await.1) }
    };
    assert_eq!(find("albergue+fronterizo").await, ["Buenas prácticas"], "from the PDF, not Mexico's copy");
    assert_eq!(find("reunificacion+familiar").await, ["Práctica de Honduras"], "from the Word document");
    assert_eq!(find("trabajador+agricola").await, ["Práctica de Honduras"]);
    assert!(find("catalog").await.is_empty(), "nothing of the broken PDF is searched");

    // Downloads: the same bytes, their own type, as an attachment; not for other states.
    let get = |path: String, token: String| {
        let app = &app;
        async move {
            let r = app.client.get(app.url(&path)).bearer_auth(token).send().await.unwrap();
            let (s, h) = (r.status().as_u16(), r.headers().clone());
            (s, h, r.bytes().await.unwrap().to_vec())
        }
    };
    let path = format!("/api/v1/library/{network}/files/{}", f["id"].as_str().unwrap());
    let (s, h, bytes) = get(path.clone(), officer.clone()).await;
    assert_eq!((s, bytes == pdf), (200, true));
    assert_eq!(h["content-type"], "application/pdf");
    assert!(h["content-disposition"].to_str().unwrap().starts_with("attachment; filename=\"protocolo.pdf\""));
    let path = format!("/api/v1/library/{honduras}/files/{}", d["id"].as_str().unwrap());
    let (s, h, bytes) = get(path, officer.clone()).await;
    assert_eq!((s, bytes == docx), (200, true));
    assert!(h["content-disposition"].to_str().unwrap().contains("filename*=UTF-8''gu%C3%ADa.docx"));
    let (s, _, bytes) =
        get(format!("/api/v1/library/{network}/files/{}", b["id"].as_str().unwrap()), officer.clone()).await;
    assert_eq!((s, bytes == broken), (200, true), "an unparseable file is still there to read");
    let mx_path = format!("/api/v1/library/{mx_only}/files/{}", mx_file["id"].as_str().unwrap());
    assert_eq!(get(mx_path.clone(), officer.clone()).await.0, 404, "Mexico's item is not Honduras'");
    assert_eq!(get(mx_path, ts.clone()).await.0, 200);
    let wrong_item = format!("/api/v1/library/{honduras}/files/{}", f["id"].as_str().unwrap());
    assert_eq!(get(wrong_item, officer.clone()).await.0, 404);

    // At most ten files an item.
    for i in 0..7 {
        let (s, v) = upload(&app, &ts, &network, &format!("imagen-{i}.png"), "image/png", PNG.to_vec()).await;
        assert_eq!(s, 201, "{v}");
    }
    let (s, v) = upload(&app, &ts, &network, "once.png", "image/png", PNG.to_vec()).await;
    assert_eq!(s, 422, "{v}");
    assert!(v.to_string().contains("at most 10 files"), "{v}");

    // In the pages, in Spanish: the files with what the search does with them, the form on
    // the items the user may change only; a refusal beside the form; an upload that works.
    let mut w = crate::ui::Web::new(&app).accept_language("es");
    w.sign_in("liaison.hn").await;
    let page = w.get("/library").await;
    page.has("protocolo.pdf")
        .has("texto incluido en la búsqueda")
        .has("no se pudo leer, fuera de la búsqueda")
        .has("sin texto para buscar")
        .has(&format!("action=\"/library/{honduras}/files\""))
        .lacks(&format!("action=\"/library/{network}/files\""))
        .lacks("mexico.pdf");
    crate::ui::every_input_is_labelled(&page);
    let form = format!("/library/{honduras}/files");
    let p = w.upload(&form, "foto.pdf", "application/pdf", PNG).await;
    assert_eq!(p.status, 422, "{}", p.body);
    p.has("El contenido del archivo no corresponde al tipo que declara.");
    let p = w.upload(&form, "afiche.png", "image/png", PNG).await;
    assert_eq!(p.status, 303, "{}", p.body);
    let (s, h, bytes) =
        w.get_bytes(&format!("/library/{honduras}/files/{}", d["id"].as_str().unwrap())).await;
    assert_eq!((s, bytes == docx), (200, true));
    assert_eq!(h["content-type"], DOCX);
    assert_eq!(files_of(honduras.clone()).await.as_array().unwrap().len(), 2);
}

/// The library shows at most 200 items; those the user's state does not see are skipped
/// rather than counted (200 newer items for Mexico only do not hide an older one for all).
async fn items_a_state_does_not_see_do_not_fill_its_page(app: TestApp) {
    use enlace_app::network::Edit;
    let ts = app.app.actor_for("analyst").await.unwrap();
    let item = |title: String, date: &str, visible: Value| {
        serde_json::from_value(json!({"title": {"es": title}, "kind": "report", "language": "es",
            "date": date, "visible_to": visible}))
        .unwrap()
    };
    let data = item("Informe para toda la red".into(), "2016-01-01", json!([]));
    app.app.edit_workspace(&ts, Edit::Library { id: None, data }).await.unwrap();
    for i in 0..enlace_app::network::LIBRARY_PAGE {
        let data = item(format!("Informe {i} para México"), "2016-06-01", json!(["MX"]));
        app.app.edit_workspace(&ts, Edit::Library { id: None, data }).await.unwrap();
    }
    let officer = app.token("officer.hn").await;
    let (_, v) = app.get(&officer, "/api/v1/library").await;
    let titles: Vec<&str> =
        v.as_array().unwrap().iter().map(|i| i["title"]["es"].as_str().unwrap()).collect();
    assert_eq!(titles, ["Informe para toda la red"]);
    let (_, v) = app.get(&app.token("analyst").await, "/api/v1/library").await;
    assert_eq!(v.as_array().unwrap().len() as i64, enlace_app::network::LIBRARY_PAGE);
}
