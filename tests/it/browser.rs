//! End to end in a real browser (Debian's Chromium, headless): an officer at Tapachula signs in
//! in Spanish, registers an unaccompanied child, records an action, finds the case with an
//! accent-free query, switches to French, reads the case page in French and signs out. Each
//! main page is checked with axe-core (no serious or critical violation) and saved as a
//! screenshot under `target/ui-artifacts/`.
//!
//! Skipped with a warning where Chromium is not installed, unless `ENLACE_REQUIRE_BROWSER=1`
//! (CI sets it and installs the browser).

use std::path::PathBuf;

use enlace_app::auth::NewUser;
use enlace_domain::country::CountryCode;
use enlace_domain::post::PostCode;
use enlace_domain::role::Role;
use serde_json::Value;

use crate::harness::{Backend, PASSWORD, spawn_app};
use crate::webdriver::{Browser, installed};

const AXE: &str = include_str!("data/axe-4.14.1.min.js");

fn artifacts() -> PathBuf {
    let dir = std::env::var("ENLACE_ARTIFACTS").map(PathBuf::from).unwrap_or_else(|_| {
        PathBuf::from(
            std::env::var("CARGO_TARGET_DIR")
                .unwrap_or_else(|_| format!("{}/target", env!("CARGO_MANIFEST_DIR"))),
        )
        .join("ui-artifacts")
    });
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn browser_available() -> bool {
    if installed().is_some() {
        return true;
    }
    if std::env::var("ENLACE_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
        panic!("ENLACE_REQUIRE_BROWSER=1 but chromium/chromedriver are not installed");
    }
    eprintln!("\n!!! browser tests SKIPPED: install Debian's chromium and chromium-driver to run them !!!\n");
    false
}

/// Runs axe-core on the page; fails on any serious or critical violation.
async fn accessible(b: &Browser, page: &str) {
    b.run(&format!("{AXE}\nreturn true;")).await;
    let r = b
        .run_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, {resultTypes: ['violations']})
               .then(r => done(JSON.stringify(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                    nodes: v.nodes.slice(0, 3).map(n => n.html)})))))
               .catch(e => done('error: ' + e));",
        )
        .await;
    let text = r.as_str().unwrap();
    assert!(!text.starts_with("error"), "axe on {page}: {text}");
    let violations: Vec<Value> = serde_json::from_str(text).unwrap();
    let bad: Vec<&Value> =
        violations.iter().filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical"))).collect();
    assert!(bad.is_empty(), "accessibility violations on {page}: {bad:#?}");
}

async fn shot(b: &Browser, name: &str) {
    b.screenshot(&artifacts().join(format!("{name}.png"))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn officer_registers_a_child_and_reads_the_case_in_french() {
    if !browser_available() {
        return;
    }
    let Some(app) = spawn_app(Backend::Sqlite).await else { return };
    app.app
        .create_user(
            None,
            NewUser {
                username: "oficial.nna".into(),
                display_name: Some("Marta Oficial".into()),
                role: Role::ConsularOfficer,
                state: CountryCode::parse("HN").unwrap(),
                post: Some(PostCode::parse("HN-TAPACHULA").unwrap()),
                password: PASSWORD.into(),
                sensitive_access: true,
            },
        )
        .await
        .unwrap();
    let b = Browser::start("es", 1280, 900).await;
    // Browsers keep `Secure` cookies from plain HTTP only for localhost.
    let url = |path: &str| app.url(path).replace("127.0.0.1", "localhost");

    // Sign in, in Spanish (the browser's language).
    b.goto(&url("/login")).await;
    b.wait_for_text("Iniciar sesión").await;
    accessible(&b, "login").await;
    shot(&b, "01-login").await;
    b.fill("#username", "oficial.nna").await;
    b.fill("#password", PASSWORD).await;
    b.click("button.primary").await;
    b.wait_for_text("Mis casos abiertos").await;
    accessible(&b, "worklist").await;
    // Keyboard: the first Tab reaches the skip link, which becomes visible.
    b.run("document.activeElement && document.activeElement.blur(); return true").await;
    b.keys("body", "\u{E004}").await;
    let focused = b.run("return document.activeElement.className + '|' + document.activeElement.getBoundingClientRect().left").await;
    let focused = focused.as_str().unwrap();
    assert!(focused.starts_with("skip|"), "{focused}");
    assert!(
        focused.split('|').nth(1).unwrap().parse::<f64>().unwrap() >= 0.0,
        "skip link off screen: {focused}"
    );
    shot(&b, "02-worklist").await;

    // Register an unaccompanied child found in Tapachula.
    b.click("a[href='/cases/new'].button").await;
    b.wait_for_text("¿Quién es la persona?").await;
    b.fill("[name='person.given_names']", "Kevin Josué").await;
    b.fill("[name='person.surnames']", "Hernández Ramos").await;
    b.select("person.sex", "male").await;
    b.fill("[name='person.birth.year']", "2014").await;
    b.fill("[name='person.nationalities']", "HN").await;
    b.fill("[name='person.birth_place']", "San Pedro Sula, Cortés").await;
    b.select("post", "HN-TAPACHULA").await;
    b.fill("[name='host_state']", "MX").await;
    b.select("category", "migration").await;
    // Choosing the type brings the child section in place (htmx).
    b.select("subtype", "unaccompanied_child").await;
    b.find("#section-child").await;
    b.click("#flag-unaccompanied_child").await;
    b.select("protection", "child").await;
    b.select("legal_basis", "vital_interest").await;
    b.fill(
        "[name='narrative']",
        "Niño localizado por el DIF en la central de autobuses de Tapachula; viajaba solo.",
    )
    .await;
    b.select("child.accompaniment", "unaccompanied").await;
    b.select("child.family_tracing", "in_progress").await;
    b.fill("[name='child.host_protection_authority']", "DIF Chiapas / PFPNNA").await;
    b.fill("[name='child.guardian.name']", "Rosa Ramos").await;
    b.fill("[name='child.guardian.relationship']", "madre").await;
    accessible(&b, "new case").await;
    shot(&b, "03-new-case").await;
    b.click("#new-case > button.primary").await;
    b.wait_for_text("Cronología").await;
    let case_url = b.current_url().await;
    assert!(case_url.contains("/cases/"), "{case_url}");
    let number = b.text(".case-number").await;
    assert!(number.starts_with("HN-"), "{number}");
    b.wait_for_text("DIF Chiapas / PFPNNA").await;

    // Record an action.
    b.select("kind", "visit").await;
    b.fill("#action-text", "Visita al albergue del DIF; el niño se encuentra bien de salud.").await;
    b.click("#timeline button.primary").await;
    b.wait_for_text("Visita al albergue del DIF").await;
    accessible(&b, "case").await;
    shot(&b, "04-case").await;

    // Registering him again under another spelling: the form shows him as he is typed (htmx).
    b.click("nav a[href='/cases/new']").await;
    b.wait_for_text("¿Quién es la persona?").await;
    b.fill("[name='person.given_names']", "Kevin").await;
    b.fill("[name='person.surnames']", "Hernandes").await;
    b.fill("[name='person.birth.year']", "2014").await;
    b.fill("[name='person.birth_place']", "San Pedro Sula").await;
    b.wait_for_text("Personas ya registradas que podrían ser esta").await;
    b.wait_for_text("Kevin Josué Hernández Ramos").await;
    b.click("#candidates details summary").await;
    b.wait_for_text("Suenan igual").await;
    accessible(&b, "new case with candidates").await;
    shot(&b, "04b-candidates").await;
    b.click("nav a[href='/matches']").await;
    b.wait_for_text("Personas desaparecidas: posibles coincidencias").await;
    accessible(&b, "matches").await;

    // Find it with an accent-free query (the list updates as one types).
    b.click("nav a[href='/cases']").await;
    b.wait_for_text("Buscar").await;
    b.fill("#q", "hernandez josue").await;
    b.wait_for_text(&number).await;
    let rows = b.run("return document.querySelectorAll('#results tbody tr').length").await;
    assert_eq!(rows.as_u64(), Some(1));
    accessible(&b, "case list").await;
    shot(&b, "05-list").await;

    // Switch to French and open the case page.
    b.select("lang", "fr").await;
    b.click("form.lang button").await;
    b.wait_for_text("Rechercher").await;
    b.click("#results tbody a").await;
    b.wait_for_text("Chronologie").await;
    let html = b.source().await;
    for fr in ["Enfant (NNA)", "Visite", "Changer le statut", "Documents", "Consentements", "Accueil"] {
        assert!(html.contains(fr), "French case page lacks {fr:?}");
    }
    assert!(html.contains("lang=\"fr\""));
    accessible(&b, "case (fr)").await;
    shot(&b, "06-case-fr").await;

    // On a tablet-sized screen, nothing needs horizontal scrolling.
    b.set_window(768, 1024).await;
    let fits = b.run("return document.documentElement.scrollWidth <= window.innerWidth + 1").await;
    assert_eq!(fits, Value::Bool(true), "the case page is wider than a tablet");
    shot(&b, "07-case-tablet").await;

    // Sign out.
    b.click("form.logout button").await;
    b.wait_for_text("Connexion").await;
    assert!(b.current_url().await.ends_with("/login"));
    b.goto(&case_url).await;
    b.wait_for_text("Connexion").await;
    b.quit().await;
}

/// The administration and audit pages: accessible, and in the language chosen before signing
/// in (the switcher on the sign-in page).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administration_and_audit_pages_are_accessible() {
    if !browser_available() {
        return;
    }
    let Some(app) = spawn_app(Backend::Sqlite).await else { return };
    let url = |path: &str| app.url(path).replace("127.0.0.1", "localhost");
    let b = Browser::start("es", 1280, 900).await;
    b.goto(&url("/login")).await;
    b.select("lang", "en").await;
    b.click("form.lang button").await;
    b.wait_for_text("User name").await;
    b.fill("#username", "admin.hn").await;
    b.fill("#password", PASSWORD).await;
    b.click("button.primary").await;
    b.wait_for_text("Users of your state").await;
    accessible(&b, "users").await;
    shot(&b, "08-admin-users").await;
    b.click("nav a[href='/admin/retention']").await;
    b.wait_for_text("Retention rules").await;
    b.select("category", "migration").await;
    b.fill("#years", "7").await;
    b.select("action", "anonymise").await;
    b.click("main button.primary").await;
    b.wait_for_text("<td>7</td><td>Anonymise</td>").await;
    accessible(&b, "retention").await;
    shot(&b, "09-admin-retention").await;
    b.click("nav a[href='/admin/posts']").await;
    b.wait_for_text("HN-TAPACHULA").await;
    accessible(&b, "posts").await;
    b.click("form.logout button").await;
    b.wait_for_text("Sign in").await;

    b.fill("#username", "auditor.hn").await;
    b.fill("#password", PASSWORD).await;
    b.click("button.primary").await;
    b.wait_for_text("Audit log").await;
    b.wait_for_text("retention.rule").await;
    accessible(&b, "audit").await;
    shot(&b, "10-audit").await;
    b.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_network_workspace_is_accessible_and_kept_in_the_browser() {
    if !browser_available() {
        return;
    }
    let Some(app) = spawn_app(Backend::Sqlite).await else { return };
    let ts = app.app.actor_for("analyst").await.unwrap();
    app.app.seed_network_demo(&ts).await.unwrap();
    let liaison = app.app.actor_for("liaison.hn").await.unwrap();
    let item = serde_json::from_value(serde_json::json!({"title": {"es": "Protocolo hondureño de retorno"},
        "kind": "protocol", "state": "HN", "language": "es", "date": "2016-05-20"}))
    .unwrap();
    app.app
        .edit_workspace(&liaison, enlace_app::network::Edit::Library { id: None, data: item })
        .await
        .unwrap();
    let url = |path: &str| app.url(path).replace("127.0.0.1", "localhost");
    let b = Browser::start("es", 1280, 900).await;
    b.goto(&url("/login")).await;
    b.fill("#username", "liaison.hn").await;
    b.fill("#password", PASSWORD).await;
    b.click("button.primary").await;
    b.wait_for_text("Cerrar sesión").await;
    b.click("nav a[href='/meetings']").await;
    b.wait_for_text("Tegucigalpa, Honduras").await;
    accessible(&b, "meetings").await;
    shot(&b, "11-meetings").await;
    b.click("main td a").await;
    b.wait_for_text("que Nicaragua se pronuncie").await;
    accessible(&b, "meeting").await;
    shot(&b, "12-meeting").await;
    // A follow-up note on item 6, which names Honduras, through its form.
    b.click("#agreement-6 + details summary").await;
    b.fill("#note-text-6", "Honduras presentará la nota conceptual en la Reunión Viceministerial.").await;
    b.click("#note-status-6 option[value='in_progress']").await;
    b.click("#agreement-6 + details button").await;
    b.wait_for_text("Honduras presentará la nota conceptual en la Reunión Viceministerial.").await;
    b.wait_for_text("→ En curso").await;
    b.goto(&url("/agreements")).await;
    b.wait_for_text("Acuerdos pendientes").await;
    accessible(&b, "pending agreements").await;
    shot(&b, "13-agreements").await;
    b.goto(&url("/events")).await;
    b.wait_for_text("Tercer Foro Global Consular").await;
    accessible(&b, "events").await;
    shot(&b, "14-events").await;
    b.goto(&url("/directory")).await;
    b.wait_for_text("Agregar una entrada de su Estado").await;
    accessible(&b, "directory").await;
    shot(&b, "15-directory").await;
    b.goto(&url("/library?q=ninez")).await;
    b.wait_for_text("Buenas prácticas de atención consular a niñas").await;
    accessible(&b, "library").await;
    shot(&b, "17-library").await;
    b.goto(&url("/groups")).await;
    b.wait_for_text("Grupo de la campaña regional").await;
    accessible(&b, "groups").await;
    b.click("main td a").await;
    b.wait_for_text("Compartir las campañas informativas existentes").await;
    accessible(&b, "group").await;
    shot(&b, "16-group").await;

    // Honduras' liaison officer adds a document to one of Honduras' items through its form;
    // its text is searched at once; the library then reads in French and in English.
    b.goto(&url("/library")).await;
    b.wait_for_text("Protocolo hondureño de retorno").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("protocolo.pdf");
    std::fs::write(&file, crate::harness::pdf_with_text(&["Entrevista en albergues fronterizos"])).unwrap();
    b.keys("form[action$='/files'] input[type=file]", file.to_str().unwrap()).await;
    b.click("form[action$='/files'] button").await;
    b.wait_for_text("protocolo.pdf").await;
    b.wait_for_text("texto incluido en la búsqueda").await;
    b.goto(&url("/library?q=albergue+fronterizo")).await;
    b.wait_for_text("Protocolo hondureño de retorno").await;
    accessible(&b, "library with a file").await;
    shot(&b, "18-library-file").await;
    for (lang, title, status) in
        [("fr", "Bibliothèque", "texte inclus dans la recherche"), ("en", "Library", "text searched")]
    {
        b.select("lang", lang).await;
        b.click("form.lang button").await;
        // The switch is a POST and a redirect: wait for the page it lands on before leaving,
        // or the next navigation may cancel it and the language stay as it was.
        b.wait_for_text(&format!("<html lang=\"{lang}\"")).await;
        b.goto(&url("/library")).await;
        b.wait_for_text(title).await;
        b.wait_for_text(status).await;
        accessible(&b, &format!("library ({lang})")).await;
    }
    b.quit().await;
}
