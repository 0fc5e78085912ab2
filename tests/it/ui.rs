//! The web interface at the HTML level (no browser): every page, every form's error path, the
//! anti-forgery checks, languages, and the headers pages are served with. Both backends.

use std::collections::HashMap;

use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::json;

use crate::both_backends;
use crate::harness::{PASSWORD, TestApp, new_case};

/// A browser without JavaScript: keeps cookies, follows nothing by itself, and reads the
/// anti-forgery token from the last page.
pub struct Web {
    base: String,
    client: reqwest::Client,
    cookies: HashMap<String, String>,
    pub csrf: String,
    lang: Option<String>,
}

pub struct Page {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> String {
        self.headers.get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_string()
    }
    #[track_caller]
    pub fn has(&self, text: &str) -> &Self {
        assert!(self.body.contains(text), "page ({}) lacks {text:?}:\n{}", self.status, self.body);
        self
    }
    #[track_caller]
    pub fn lacks(&self, text: &str) -> &Self {
        assert!(!self.body.contains(text), "page has {text:?}:\n{}", self.body);
        self
    }
}

impl Web {
    pub fn new(app: &TestApp) -> Web {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Web { base: app.base.clone(), client, cookies: HashMap::new(), csrf: String::new(), lang: None }
    }

    pub fn accept_language(mut self, l: &str) -> Web {
        self.lang = Some(l.to_string());
        self
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    async fn finish(&mut self, res: reqwest::Response) -> Page {
        for v in res.headers().get_all("set-cookie") {
            let s = v.to_str().unwrap();
            let first = s.split(';').next().unwrap();
            let (k, val) = first.split_once('=').unwrap();
            assert!(s.contains("Secure") && s.contains("HttpOnly") && s.contains("SameSite=Strict"), "{s}");
            if s.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), val.to_string());
            }
        }
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let body = res.text().await.unwrap();
        if let Some(i) = body.find("name=\"_csrf\" value=\"") {
            let rest = &body[i + 20..];
            let token = &rest[..rest.find('"').unwrap()];
            if !token.is_empty() {
                self.csrf = token.to_string();
            }
        }
        Page { status, headers, body }
    }

    fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let mut r = self.client.request(method, format!("{}{path}", self.base));
        if !self.cookies.is_empty() {
            r = r.header("cookie", self.cookie_header());
        }
        if let Some(l) = &self.lang {
            r = r.header("accept-language", l.as_str());
        }
        r
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let res = self.req(reqwest::Method::GET, path).send().await.unwrap();
        self.finish(res).await
    }

    /// A download as it came: status, headers and the bytes of the body.
    pub async fn get_bytes(&mut self, path: &str) -> (u16, HeaderMap, Vec<u8>) {
        let res = self.req(reqwest::Method::GET, path).send().await.unwrap();
        let (status, headers) = (res.status().as_u16(), res.headers().clone());
        (status, headers, res.bytes().await.unwrap().to_vec())
    }

    pub async fn get_with(&mut self, path: &str, name: &str, value: &str) -> Page {
        let res = self.req(reqwest::Method::GET, path).header(name, value).send().await.unwrap();
        self.finish(res).await
    }

    /// Posts a form with the current anti-forgery token (unless the form sets its own).
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut pairs: Vec<(String, String)> =
            fields.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        if !fields.iter().any(|(k, _)| *k == "_csrf") {
            pairs.push(("_csrf".into(), self.csrf.clone()));
        }
        let body = serde_urlencoded::to_string(&pairs).unwrap();
        self.post_raw(path, "application/x-www-form-urlencoded", body.into_bytes()).await
    }

    /// A form whose answer is a download: status, headers and the bytes of the body.
    pub async fn post_for_bytes(&mut self, path: &str, fields: &[(&str, &str)]) -> (u16, HeaderMap, Vec<u8>) {
        let mut pairs: Vec<(String, String)> =
            fields.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        pairs.push(("_csrf".into(), self.csrf.clone()));
        let res = self
            .req(reqwest::Method::POST, path)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", &self.base)
            .body(serde_urlencoded::to_string(&pairs).unwrap())
            .send()
            .await
            .unwrap();
        let (status, headers) = (res.status().as_u16(), res.headers().clone());
        (status, headers, res.bytes().await.unwrap().to_vec())
    }

    pub async fn post_raw(&mut self, path: &str, content_type: &str, body: Vec<u8>) -> Page {
        let res = self
            .req(reqwest::Method::POST, path)
            .header("content-type", content_type)
            .header("origin", &self.base)
            .body(body)
            .send()
            .await
            .unwrap();
        self.finish(res).await
    }

    /// Sends a file through a page's upload form (multipart, with the anti-forgery token).
    pub async fn upload(&mut self, path: &str, name: &str, ct: &str, bytes: &[u8]) -> Page {
        let (content_type, body) = multipart(name, ct, bytes, &self.csrf.clone());
        self.post_raw(path, &content_type, body).await
    }

    /// Signs in through the sign-in form; returns the page after the redirect.
    pub async fn sign_in(&mut self, username: &str) -> Page {
        self.get("/login").await.has("name=\"password\"");
        let p = self.post("/login", &[("username", username), ("password", PASSWORD), ("next", "/")]).await;
        assert_eq!(p.status, 303, "{}", p.body);
        let mut page = self.get(&p.location()).await;
        // Roles without a worklist are sent on to their own start page.
        while page.status == 303 {
            page = self.get(&page.location()).await;
        }
        page
    }

    pub fn session(&self) -> Option<&String> {
        self.cookies.get("__Host-enlace-session")
    }
}

fn id_from_location(loc: &str) -> String {
    loc.trim_start_matches("/cases/").split(['#', '?']).next().unwrap().to_string()
}

/// Every visible input of a page has a label pointing at it.
#[track_caller]
/// A multipart form with the anti-forgery token and one file: its content type and body.
pub fn multipart(name: &str, ct: &str, bytes: &[u8], csrf: &str) -> (String, Vec<u8>) {
    let b = "XyZboundary";
    let mut body = format!(
        "--{b}\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\n{csrf}\r\n--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: {ct}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{b}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={b}"), body)
}

pub fn every_input_is_labelled(p: &Page) {
    let body = &p.body;
    let mut rest = body.as_str();
    while let Some(i) = rest.find("<input") {
        let tag = &rest[i..i + rest[i..].find('>').unwrap()];
        rest = &rest[i + 6..];
        if tag.contains("type=\"hidden\"") {
            continue;
        }
        let id = tag.split("id=\"").nth(1).map(|s| &s[..s.find('"').unwrap()]);
        let id = id.unwrap_or_else(|| panic!("input without id: {tag}"));
        assert!(body.contains(&format!("for=\"{id}\"")), "no label for input {id}");
    }
    for tag in ["<select", "<textarea"] {
        let mut rest = body.as_str();
        while let Some(i) = rest.find(tag) {
            let t = &rest[i..i + rest[i..].find('>').unwrap()];
            rest = &rest[i + 5..];
            let id = t.split("id=\"").nth(1).map(|s| &s[..s.find('"').unwrap()]).unwrap();
            assert!(body.contains(&format!("for=\"{id}\"")), "no label for {id}");
        }
    }
}

both_backends!(
    sign_in_languages_and_session,
    sign_in_refuses_forged_and_wrong_submissions,
    register_a_child_case_and_work_it,
    new_case_form_reports_errors_beside_the_fields,
    case_list_search_filters_pages_and_export,
    case_page_forms_report_errors,
    subject_access_from_the_case_page,
    administration_and_audit_pages,
    pages_refuse_broken_forms,
    linkage_in_the_pages,
);

async fn sign_in_languages_and_session(app: TestApp) {
    // Not signed in: every page sends the browser to the sign-in page, keeping the target.
    let mut w = Web::new(&app);
    let p = w.get("/cases?q=x").await;
    assert_eq!(p.status, 303);
    assert_eq!(p.location(), "/login?next=%2Fcases%3Fq%3Dx");

    // The browser's language is the default; Spanish when it asks for none of ours.
    let p = Web::new(&app).accept_language("fr-CA,fr;q=0.9").get("/login").await;
    p.has("<html lang=\"fr\"").has("Connexion");
    let p = Web::new(&app).accept_language("de").get("/login").await;
    p.has("<html lang=\"es\"").has("Iniciar sesión");
    every_input_is_labelled(&p);
    // Strict CSP (no inline script or style) and no caching of pages.
    let csp = p.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe"), "{csp}");
    assert_eq!(p.headers["cache-control"], "no-store");

    let mut w = Web::new(&app).accept_language("en");
    let home = w.sign_in("officer.hn").await;
    home.has("<html lang=\"en\"").has("My open cases").has("Follow-ups due").has("Waiting for an authority");
    assert!(w.session().is_some());

    // Switching language is remembered for the user: a new browser session in another
    // browser language still shows French.
    let p = w.post("/lang", &[("lang", "fr"), ("back", "/cases")]).await;
    assert_eq!((p.status, p.location().as_str()), (303, "/cases"));
    w.get("/cases").await.has("<html lang=\"fr\"").has("Dossiers");
    let mut w2 = Web::new(&app).accept_language("es");
    w2.sign_in("officer.hn").await.has("<html lang=\"fr\"").has("Mes dossiers ouverts");
    // A language switch to an open redirect goes home instead.
    let p = w.post("/lang", &[("lang", "es"), ("back", "//evil.example/")]).await;
    assert_eq!(p.location(), "/");
    assert_eq!(w.post("/lang", &[("lang", "de"), ("back", "/")]).await.status, 400);

    // Sign out: the session ends on the server, and the old cookie no longer works.
    let old = w.session().cloned().unwrap();
    let p = w.post("/logout", &[]).await;
    assert_eq!((p.status, p.location().as_str()), (303, "/login"));
    let mut stale = Web::new(&app);
    stale.cookies.insert("__Host-enlace-session".into(), old);
    assert_eq!(stale.get("/").await.status, 303);
    // Sign out everywhere ends the other session too.
    w2.get("/account").await.has("Cerrar sesión en todas partes");
    assert_eq!(w2.post("/account/sign-out-everywhere", &[]).await.status, 303);
    assert_eq!(w2.get("/").await.status, 303);
}

async fn sign_in_refuses_forged_and_wrong_submissions(app: TestApp) {
    let mut w = Web::new(&app).accept_language("en");
    w.get("/login").await;
    // A wrong password: the form again, with the message, and no session.
    let p = w.post("/login", &[("username", "officer.hn"), ("password", "wrong one"), ("next", "/")]).await;
    assert_eq!(p.status, 401);
    p.has("Wrong user name or password").has("value=\"officer.hn\"");
    assert!(w.session().is_none());
    // Without the token of the form (a forged cross-site post): refused.
    let p =
        w.post("/login", &[("_csrf", "forged"), ("username", "officer.hn"), ("password", PASSWORD)]).await;
    assert_eq!(p.status, 403);
    let mut fresh = Web::new(&app);
    let p = fresh.post("/login", &[("username", "officer.hn"), ("password", PASSWORD)]).await;
    assert_eq!(p.status, 403, "no token cookie at all");
    // From another site: refused even with the right token.
    let body = format!("_csrf={}&username=officer.hn&password={}", w.csrf, PASSWORD.replace(' ', "+"));
    let res = w
        .req(reqwest::Method::POST, "/login")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", "https://evil.example")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 403);
    // Signed in, a form without the session's token is refused and changes nothing.
    w.sign_in("officer.hn").await;
    let p = w.post("/lang", &[("_csrf", "nope"), ("lang", "fr"), ("back", "/")]).await;
    assert_eq!(p.status, 403);
    w.get("/").await.has("<html lang=\"en\"");
    // Lockout after repeated failures shows when to retry.
    let mut l = Web::new(&app).accept_language("en");
    l.get("/login").await;
    let mut last = 0;
    for _ in 0..6 {
        last = l.post("/login", &[("username", "officer.hn2"), ("password", "bad password")]).await.status;
    }
    assert_eq!(last, 429);
    let p = l.post("/login", &[("username", "officer.hn2"), ("password", PASSWORD)]).await;
    assert_eq!(p.status, 429);
    p.has("Try again in");
    assert!(p.headers.contains_key("retry-after"));
}

/// An officer of Tapachula registers an unaccompanied Honduran child, records a visit with a
/// follow-up, finds the case without accents, assigns it and moves it on.
async fn register_a_child_case_and_work_it(app: TestApp) {
    let mut w = Web::new(&app).accept_language("es");
    // A supervisor holds the permission to read restricted (child) cases.
    w.sign_in("supervisor.hn").await;
    let form = w.get("/cases/new").await;
    form.has("¿Quién es la persona?").lacks("id=\"section-child\"");
    every_input_is_labelled(&form);
    // The sections a subtype calls for (what htmx swaps in).
    let s = w.get("/cases/new/sections?subtype=unaccompanied_child").await;
    s.has("id=\"section-child\"").lacks("id=\"section-detention\"");
    let s = w.get("/cases/new/sections?subtype=detention").await;
    s.has("id=\"section-detention\"").lacks("id=\"section-child\"");
    // Without JavaScript, the same through the form's GET button.
    w.get("/cases/new?subtype=death_repatriation").await.has("id=\"section-death\"");

    let p = w
        .post(
            "/cases/new",
            &[
                ("person.given_names", "Kevin Josué"),
                ("person.surnames", "Hernández Ramos"),
                ("person.sex", "male"),
                ("person.birth.year", "2014"),
                ("person.nationalities", "Honduras"),
                ("person.birth_place", "San Pedro Sula"),
                ("post", "HN-TAPACHULA"),
                ("host_state", "México"),
                ("category", "migration"),
                ("subtype", "unaccompanied_child"),
                ("vulnerabilities", "unaccompanied_child"),
                ("protection", "child"),
                ("legal_basis", "vital_interest"),
                ("narrative", "Localizado por el DIF en la central de autobuses de Tapachula."),
                ("child.accompaniment", "unaccompanied"),
                ("child.family_tracing", "in_progress"),
                ("child.host_protection_authority", "DIF Chiapas"),
                ("child.guardian.name", "Rosa Ramos"),
                ("child.guardian.relationship", "madre"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let id = id_from_location(&p.location());
    let case = w.get(&p.location()).await;
    case.has("Kevin Josué Hernández Ramos")
        .has("Niña, niño o adolescente (NNA)")
        .has("DIF Chiapas")
        .has("Rosa Ramos (madre)")
        .has("Reservado")
        .has("Recepción");
    every_input_is_labelled(&case);

    // A visit with a follow-up due today: on the worklist.
    let today = chrono::Utc::now().date_naive().to_string();
    let p = w
        .post(
            &format!("/cases/{id}/actions"),
            &[
                ("kind", "visit"),
                ("occurred_at", "2026-11-01T10:30"),
                ("text", "Visita al albergue."),
                ("follow_up_on", &today),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    w.get(&format!("/cases/{id}")).await.has("Visita al albergue.").has("Seguimiento a más tardar");
    let work = w.get("/").await;
    let follow = &work.body[work.body.find("id=\"work-followup\"").unwrap()..];
    assert!(follow[..follow.find("</section>").unwrap()].contains(&id), "follow-up not on the worklist");

    // Found without accents, by a part of a name; the list shows it.
    let list = w.get("/cases?q=hernandez+josue").await;
    list.has(&format!("/cases/{id}"));
    // htmx asks for the results only.
    let part = w.get_with("/cases?q=hernandez", "hx-request", "true").await;
    part.has("id=\"results\"").lacks("<html");
    assert_eq!(part.headers["vary"], "HX-Request, Accept-Language, Cookie");

    // Assign to me, then move the case on.
    let version = |p: &Page| -> String {
        let i = p.body.find("name=\"version\" value=\"").unwrap() + 22;
        p.body[i..i + p.body[i..].find('"').unwrap()].to_string()
    };
    let case = w.get(&format!("/cases/{id}")).await;
    let p = w.post(&format!("/cases/{id}/assign"), &[("to", "me"), ("version", &version(&case))]).await;
    assert_eq!(p.status, 303, "{}", p.body);
    let case = w.get(&format!("/cases/{id}")).await;
    case.has("Asignado a usted.");
    // On the worklist's "my open cases", and the only case the list of mine shows.
    let work = w.get("/").await;
    let mine = &work.body[work.body.find("id=\"work-mine\"").unwrap()..];
    assert!(mine[..mine.find("</section>").unwrap()].contains(&id), "assigned case not on the worklist");
    let list = w.get("/cases?assigned_officer=me").await;
    assert_eq!(list.body.matches("<tr").count(), 2, "header + the one assigned case");
    list.has(&id);
    let p = w
        .post(
            &format!("/cases/{id}/transition"),
            &[("to", "protection_accepted"), ("version", &version(&case))],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    w.get(&format!("/cases/{id}")).await.has("Protección aceptada");
    // A stale version (someone changed the case meanwhile) is reported on the form.
    let p = w.post(&format!("/cases/{id}/transition"), &[("to", "assessment"), ("version", "1")]).await;
    assert_eq!(p.status, 422, "{}", p.body);

    // The officer without the permission sees neither the case nor its name in lists.
    let mut o = Web::new(&app).accept_language("es");
    o.sign_in("officer.hn").await;
    assert_eq!(o.get(&format!("/cases/{id}")).await.status, 404);
    o.get("/cases").await.has("(reservado)").lacks("Kevin");
}

async fn new_case_form_reports_errors_beside_the_fields(app: TestApp) {
    let mut w = Web::new(&app).accept_language("fr");
    w.sign_in("officer.hn").await;
    w.get("/cases/new").await;
    let p = w
        .post(
            "/cases/new",
            &[
                ("person.given_names", "Ana"),
                ("person.birth.date", "29/02/2001"),
                ("host_state", "Atlantis"),
                ("subtype", "detention"),
                ("detention.detained_at", "yesterday"),
            ],
        )
        .await;
    assert_eq!(p.status, 422);
    p.has("Certains champs sont à corriger")
        .has("id=\"person.birth.date-error\"")
        .has("Ce n&#39;est pas une date.")
        .has("« Atlantis » n&#39;est pas un pays connu.")
        .has("id=\"category-error\"")
        .has("id=\"detention.detained_at-error\"")
        // What was typed stays in the form.
        .has("value=\"Ana\"");
    // A domain rule (a date in the future), in the user's language, beside its field.
    let p = w
        .post(
            "/cases/new",
            &[
                ("person.given_names", "Ana"),
                ("person.surnames", "Reyes"),
                ("person.nationalities", "HN"),
                ("post", "HN-TAPACHULA"),
                ("host_state", "MX"),
                ("category", "criminal"),
                ("subtype", "detention"),
                ("legal_basis", "consular_function"),
                ("detention.detained_at", "2099-01-01T10:00"),
                ("detention.place", "Estación migratoria Siglo XXI"),
            ],
        )
        .await;
    assert_eq!(p.status, 422, "{}", p.body);
    p.has("id=\"detention.detained_at-error\"").has("Est dans le futur.");
    // Nothing was registered.
    assert_eq!(app.app.count_cases().await.unwrap(), 0);
}

async fn case_list_search_filters_pages_and_export(app: TestApp) {
    let officer = app.token("officer.hn").await;
    for i in 0..55 {
        let tag: String = [b'a' + (i / 26) as u8, b'a' + (i % 26) as u8].iter().map(|b| *b as char).collect();
        let mut body = new_case(&["María", "José"], &["Gutiérrez", &format!("Núñez{tag}")]);
        body["post"] = json!("HN-TAPACHULA");
        app.create_case(&officer, &body).await;
    }
    let mut body = new_case(&["Pedro"], &["Sánchez"]);
    body["post"] = json!("HN-TAPACHULA");
    body["category"] = json!("criminal");
    app.create_case(&officer, &body).await;

    let mut w = Web::new(&app).accept_language("en");
    w.sign_in("officer.hn").await;
    let p = w.get("/cases").await;
    every_input_is_labelled(&p);
    assert_eq!(p.body.matches("<tr").count(), 51, "header + 50 rows");
    let next = p.body.split("rel=\"next\"").next().unwrap();
    let href = next.rsplit("href=\"").next().unwrap();
    let href = href[..href.find('"').unwrap()].replace("&amp;", "&");
    let p2 = w.get(&href).await;
    assert_eq!(p2.body.matches("<tr").count(), 7, "header + 6 rows");
    p2.has("First page").lacks("rel=\"next\"");

    let p = w.get("/cases?q=gutierrez+nunezah&sort=number").await;
    p.has("Gutiérrez Núñezah");
    assert!(!p.body.contains("Sánchez"));
    let p = w.get("/cases?category=criminal&status=&subtype=").await;
    p.has("Pedro Sánchez").lacks("Gutiérrez");
    let p = w.get("/cases?q=zzzz").await;
    p.has("No case matches.");
    // A bad filter names the parameter.
    let p = w.get("/cases?status=sleeping").await;
    assert_eq!(p.status, 400);
    p.has("status: &#34;sleeping&#34; is not a known value");
    let p = w.get("/cases?sort=-opened_at&cursor=garbage").await;
    assert_eq!(p.status, 400);

    // Export what is shown: CSV, audited.
    let before = app.audit_actions().await.iter().filter(|a| *a == "case.list_export").count();
    let p = w.get("/cases/export.csv?category=migration").await;
    assert_eq!(p.status, 200);
    assert_eq!(p.headers["content-type"], "text/csv; charset=utf-8");
    let lines: Vec<&str> = p.body.lines().collect();
    assert_eq!(lines.len(), 56, "header + 55 cases");
    assert!(lines[0].starts_with("number,status,owner_state"));
    assert!(!p.body.contains("Sánchez"));
    let after = app.audit_actions().await.iter().filter(|a| *a == "case.list_export").count();
    assert_eq!(after, before + 1);
    // The same list as a workbook and as a document to print, in the reader's language,
    // with the filter it was made with; each export audited.
    let p = w.get("/cases?category=migration").await;
    p.has("/cases/export.xlsx?").has("/cases/export.pdf?");
    let (s, h, book) = w.get_bytes("/cases/export.xlsx?category=migration&sort=number").await;
    assert_eq!(s, 200);
    assert!(h["content-type"].to_str().unwrap().contains("spreadsheetml"), "{h:?}");
    let (sheets, strings) = crate::harness::xlsx_text(&book);
    assert_eq!(sheets, ["Case list", "Results"]);
    assert_eq!(strings.matches("María José Gutiérrez Núñez").count(), 55, "{strings}");
    assert!(strings.contains("Cases in this export") && strings.contains("Migration"), "{strings}");
    assert!(!strings.contains("Sánchez"));
    let (s, h, pdf) = w.get_bytes("/cases/export.pdf?category=migration&sort=number").await;
    assert_eq!(s, 200);
    assert_eq!(h["content-type"], "application/pdf");
    assert!(h["content-disposition"].to_str().unwrap().ends_with("cases.pdf\""));
    let text = crate::harness::pdf_text(&pdf);
    let flat = crate::harness::squeeze(&text);
    assert!(flat.contains("Case list") && flat.contains("Cases in this export 55"), "{text}");
    assert!(flat.contains("Category Migration"), "the filter is stated: {text}");
    let rows: Vec<&str> = text.lines().filter(|l| l.trim_start().starts_with("HN-20")).collect();
    assert_eq!(rows.len(), 55, "a row per case: {text}");
    assert!(rows.iter().all(|r| r.contains("Migration") && r.contains("HN-TAPACHULA")), "{rows:?}");
    let at = |s: &str| flat.find(s).unwrap_or_else(|| panic!("{s} not in {text}"));
    assert!(at("Núñezaa") < at("Núñezbz") && at("Núñezbz") < at("Núñezcc"), "sorted as asked");
    assert!(!flat.contains("Sánchez"));
    let exports: Vec<String> =
        app.audit_actions().await.into_iter().filter(|a| a == "case.list_export").collect();
    assert_eq!(exports.len(), before + 3);
    // An auditor does not work cases: no export.
    let mut a = Web::new(&app);
    a.sign_in("auditor.hn").await;
    assert_eq!(a.get("/cases/export.csv").await.status, 403);
    assert_eq!(a.get("/cases/export.pdf").await.status, 403);
    assert_eq!(a.get("/cases/export.xlsx").await.status, 403);
}

async fn case_page_forms_report_errors(app: TestApp) {
    let officer = app.token("officer.hn").await;
    let mut body = new_case(&["Luis"], &["Pérez"]);
    body["post"] = json!("HN-TAPACHULA");
    let c = app.create_case(&officer, &body).await;
    let id = c["id"].as_str().unwrap().to_string();
    let mut w = Web::new(&app).accept_language("es");
    w.sign_in("officer.hn").await;
    w.get(&format!("/cases/{id}")).await.has("Luis Pérez");

    // An action without text or kind: messages beside the fields, nothing recorded.
    let p = w
        .post(&format!("/cases/{id}/actions"), &[("kind", ""), ("text", " "), ("occurred_at", "mañana")])
        .await;
    assert_eq!(p.status, 422);
    p.has("Elija una opción.").has("Obligatorio.").has("No es una fecha y hora.");
    assert_eq!(
        app.get(&officer, &format!("/api/v1/cases/{id}/actions")).await.1.as_array().unwrap().len(),
        0
    );
    // Closing is a supervisor's decision; going to a status that does not follow: refused.
    let p = w.post(&format!("/cases/{id}/transition"), &[("to", "resolved"), ("version", "1")]).await;
    assert_eq!(p.status, 422, "{}", p.body);
    // A referral consent without recipient: the domain's rule, translated.
    let p = w.post(&format!("/cases/{id}/consents"), &[("given_by", "person"), ("scope", "referral")]).await;
    assert_eq!(p.status, 422);
    p.has("Un consentimiento para canalizar indica su destinatario.");
    let p = w
        .post(
            &format!("/cases/{id}/consents"),
            &[
                ("given_by", "person"),
                ("scope", "referral"),
                ("recipient", "Casa del Migrante"),
                ("given_at", "2026-11-02T09:00"),
            ],
        )
        .await;
    assert_eq!(p.status, 303);
    w.get(&format!("/cases/{id}")).await.has("Casa del Migrante");

    // Documents: a file that lies about its type is refused; a real PDF is kept.
    let path = format!("/cases/{id}/attachments");
    let p = w.upload(&path, "informe.pdf", "application/pdf", b"MZ not a pdf").await;
    assert_eq!(p.status, 422, "{}", p.body);
    let (ct, b) = multipart("informe.pdf", "application/pdf", b"%PDF-1.4\n%test\n", "wrong-token");
    assert_eq!(w.post_raw(&path, &ct, b).await.status, 403);
    let p = w.upload(&path, "informe.pdf", "application/pdf", b"%PDF-1.4\n%test\n").await;
    assert_eq!(p.status, 303, "{}", p.body);
    w.get(&format!("/cases/{id}")).await.has("informe.pdf");

    // Someone else's case (another post): not found, like a missing one.
    let mut g = Web::new(&app);
    g.sign_in("officer.gt").await;
    assert_eq!(g.get(&format!("/cases/{id}")).await.status, 404);
    let p = g.post(&format!("/cases/{id}/actions"), &[("kind", "note"), ("text", "x")]).await;
    assert_eq!(p.status, 404);
    assert_eq!(g.get("/cases/not-a-uuid").await.status, 404);
}

async fn subject_access_from_the_case_page(app: TestApp) {
    let officer = app.token("officer.hn").await;
    let c = app.create_case(&officer, &new_case(&["Rosa"], &["Amaya"])).await;
    let id = c["id"].as_str().unwrap().to_string();
    let path = format!("/cases/{id}/subject-access");
    // Officers do not answer access requests: no form, and the post is refused.
    let mut w = Web::new(&app).accept_language("en");
    w.sign_in("officer.hn").await;
    w.get(&format!("/cases/{id}")).await.lacks("Answer an access request");
    let (s, _, _) = w.post_for_bytes(&path, &[("requested_by", "Rosa"), ("legal_instrument", "Ley")]).await;
    assert_eq!(s, 403);
    // A supervisor: the form, its errors beside the fields, then the document.
    let mut w = Web::new(&app).accept_language("en");
    w.sign_in("supervisor.hn").await;
    let p = w.get(&format!("/cases/{id}")).await;
    p.has("Answer an access request")
        .has("action=\"/cases/{id}/subject-access\"".replace("{id}", &id).as_str());
    every_input_is_labelled(&p);
    let p = w.post(&path, &[("requested_by", " "), ("legal_instrument", "Ley 1")]).await;
    assert_eq!(p.status, 422, "{}", p.body);
    p.has("id=\"sa-requested-by-error\"").has("value=\"Ley 1\"");
    let sup = app.token("supervisor.hn").await;
    let log = format!("/api/v1/cases/{id}/disclosures");
    assert_eq!(app.get(&sup, &log).await.1.as_array().unwrap().len(), 0, "nothing released on an error");
    let form =
        [("requested_by", "Rosa Amaya, by letter"), ("legal_instrument", "Data protection act, art. 4")];
    let (s, h, pdf) = w.post_for_bytes(&path, &form).await;
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&pdf));
    assert_eq!(h["content-type"], "application/pdf");
    let flat = crate::harness::squeeze(&crate::harness::pdf_text(&pdf));
    assert!(flat.contains("Subject access export") && flat.contains("Rosa Amaya, by letter"), "{flat}");
    assert!(flat.contains(&format!("Case {}", c["number"].as_str().unwrap())), "{flat}");
    let mut xlsx = form.to_vec();
    xlsx.push(("format", "xlsx"));
    let (s, h, book) = w.post_for_bytes(&path, &xlsx).await;
    assert_eq!(s, 200);
    assert!(h["content-type"].to_str().unwrap().contains("spreadsheetml"));
    assert_eq!(crate::harness::xlsx_text(&book).0[0], "Subject access export");
    let released = app.get(&sup, &log).await.1;
    assert_eq!(released.as_array().unwrap().len(), 2, "{released}");
    assert_eq!(released[0]["recipient"], "Rosa Amaya, by letter");
}

async fn administration_and_audit_pages(app: TestApp) {
    let mut a = Web::new(&app).accept_language("en");
    let p = a.sign_in("admin.hn").await;
    // Administrators start on their own page.
    p.has("Users of your state").has("officer.hn");
    every_input_is_labelled(&p);
    let p = a
        .post(
            "/admin/users",
            &[("username", "nuevo.oficial"), ("role", "consular_officer"), ("password", "123456")],
        )
        .await;
    assert_eq!(p.status, 422);
    p.has("field-error");
    let p = a
        .post(
            "/admin/users",
            &[
                ("username", "nuevo.oficial"),
                ("role", "consular_officer"),
                ("post", "HN-TAPACHULA"),
                ("password", "una frase larga y propia"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let p = a.get("/admin/users").await;
    p.has("nuevo.oficial");
    let id_at = p.body.find("nuevo.oficial").unwrap();
    let form = &p.body[id_at..];
    let action = form.split("action=\"/admin/users/").nth(1).unwrap();
    let uid = &action[..action.find('"').unwrap()];
    assert_eq!(a.post(&format!("/admin/users/{uid}"), &[("change", "disable")]).await.status, 303);
    a.get("/admin/users").await.has("disabled");
    assert_eq!(a.post(&format!("/admin/users/{uid}"), &[("change", "explode")]).await.status, 400);
    a.get("/admin/posts").await.has("HN-TAPACHULA");
    let p =
        a.post("/admin/retention", &[("category", "migration"), ("years", "0"), ("action", "purge")]).await;
    assert_eq!(p.status, 422);
    p.has("Must be between 1 and 100.");
    assert_eq!(
        a.post("/admin/retention", &[("category", "migration"), ("years", "5"), ("action", "purge")])
            .await
            .status,
        303
    );
    a.get("/admin/retention").await.has("<td>5</td>");
    assert_eq!(a.get("/audit").await.status, 403);
    assert_eq!(a.get("/cases").await.status, 403);

    let mut au = Web::new(&app).accept_language("en");
    let p = au.sign_in("auditor.hn").await;
    p.has("Audit log").has("auth.login").has("retention.rule");
    let p = au.get("/audit?action=user.").await;
    p.has("user.create").lacks("auth.login");
    au.get("/audit?from=yesterday").await.has("Not a date.");
    assert_eq!(au.get("/admin/users").await.status, 403);
    // An officer sees neither.
    let mut o = Web::new(&app);
    o.sign_in("officer.hn").await;
    assert_eq!(o.get("/admin/users").await.status, 403);
    assert_eq!(o.get("/audit").await.status, 403);
}

async fn pages_refuse_broken_forms(app: TestApp) {
    let mut w = Web::new(&app).accept_language("en");
    w.sign_in("officer.hn").await;
    let csrf = w.csrf.clone();
    // Not UTF-8.
    let mut body = format!("_csrf={csrf}&kind=note&text=").into_bytes();
    body.extend_from_slice(b"%FF%FE");
    let p = w.post_raw("/cases/new", "application/x-www-form-urlencoded", body).await;
    assert_eq!(p.status, 400);
    p.has("not valid UTF-8");
    // Too large.
    let big = format!("_csrf={csrf}&narrative={}", "a".repeat(300 * 1024));
    let p = w.post_raw("/cases/new", "application/x-www-form-urlencoded", big.into_bytes()).await;
    assert_eq!(p.status, 400);
    p.has("larger than");
    // Not a form.
    let p = w.post_raw("/cases/new", "application/json", b"{}".to_vec()).await;
    assert_eq!(p.status, 400);
    assert_eq!(app.app.count_cases().await.unwrap(), 0);
    // Static assets are served with long caching; unknown paths are still a 404 problem.
    let mut h = HeaderMap::new();
    h.insert("accept", HeaderValue::from_static("*/*"));
    let css = app.client.get(app.url(enlace_web::ui::CSS_PATH)).send().await.unwrap();
    assert_eq!(css.status(), 200);
    assert!(css.headers()["cache-control"].to_str().unwrap().contains("immutable"));
    let js = app.client.get(app.url(enlace_web::ui::HTMX_PATH)).send().await.unwrap();
    assert!(js.text().await.unwrap().contains("htmx"));
    assert_eq!(app.client.get(app.url("/no/such/page")).send().await.unwrap().status(), 404);
}

fn totp_code(secret_b32: &str, offset_secs: i64) -> String {
    let secret = totp_rs::Secret::try_from_base32(secret_b32).unwrap();
    let t = totp_rs::Builder::new().with_secret(secret).build_noncompliant();
    (t.generate((chrono::Utc::now().timestamp() + offset_secs) as u64)).to_string()
}

mod two_factor_through_the_pages {
    use enlace_app::Settings;

    use crate::harness::{Backend, spawn_app_with};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        if let Some(app) =
            spawn_app_with(Backend::Sqlite, Settings { enforce_mfa: true, ..Settings::default() }).await
        {
            super::two_factor_through_the_pages(app).await;
        }
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        if let Some(app) =
            spawn_app_with(Backend::Postgres, Settings { enforce_mfa: true, ..Settings::default() }).await
        {
            super::two_factor_through_the_pages(app).await;
        }
    }
}

/// A supervisor must enrol before anything else: QR code, first code, recovery codes once;
/// then sign-in asks for the code after the password.
async fn two_factor_through_the_pages(app: TestApp) {
    let mut w = Web::new(&app).accept_language("en");
    w.get("/login").await;
    let p =
        w.post("/login", &[("username", "supervisor.hn"), ("password", PASSWORD), ("next", "/cases")]).await;
    assert_eq!(p.status, 303);
    // Every page sends the user to enrolment first.
    let p = w.get("/cases").await;
    assert_eq!((p.status, p.location().as_str()), (303, "/account/mfa"));
    let p = w.get("/account/mfa").await;
    p.has("<svg").has("id=\"totp-secret\"");
    every_input_is_labelled(&p);
    let i = p.body.find("id=\"totp-secret\">").unwrap() + 17;
    let secret = p.body[i..i + p.body[i..].find('<').unwrap()].to_string();
    // A wrong code: the message beside the field, still not enrolled.
    let p = w.post("/account/mfa", &[("code", "000000")]).await;
    assert_eq!(p.status, 422);
    p.has("id=\"code-error\"").has("not the current code");
    let p = w.post("/account/mfa", &[("code", &totp_code(&secret, 0))]).await;
    assert_eq!(p.status, 200);
    p.has("Two-factor sign-in is on.").has("id=\"recovery-codes\"");
    assert_eq!(p.body.matches("<li><code>").count(), 10);
    w.get("/cases").await.has("Cases");
    assert_eq!(w.post("/logout", &[]).await.status, 303);

    // Sign-in now asks for the code after the password; a wrong code is refused.
    w.get("/login").await;
    let p = w.post("/login", &[("username", "supervisor.hn"), ("password", PASSWORD)]).await;
    assert_eq!(p.status, 401);
    p.has("id=\"code\"").lacks("Wrong user name");
    let p =
        w.post("/login", &[("username", "supervisor.hn"), ("password", PASSWORD), ("code", "123456")]).await;
    assert_eq!(p.status, 401);
    p.has("id=\"code\"");
    let p = w
        .post(
            "/login",
            &[("username", "supervisor.hn"), ("password", PASSWORD), ("code", &totp_code(&secret, 30))],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    w.get("/").await.has("My open cases");
}

/// The candidates panel of the new-case form (with htmx and without), registering against an
/// existing person, and deciding a match in the review queue.
async fn linkage_in_the_pages(app: TestApp) {
    let t = app.token("supervisor.hn").await;
    let mut report = new_case(&["Wilmer", "Josué"], &["Banegas", "Zelaya"]);
    report["subtype"] = json!("whereabouts");
    report["category"] = json!("human_rights");
    report["missing"] = json!({"reported_by": "family", "last_seen_place": "Tenosique"});
    report["person"]["sex"] = json!("male");
    let report = app.create_case(&t, &report).await;

    let mut w = Web::new(&app).accept_language("es");
    w.sign_in("supervisor.hn").await;
    w.get("/cases/new").await.has("Buscar personas ya registradas").lacks("id=\"person-new\"");
    let typed = [
        ("person.given_names", "Wilmer"),
        ("person.surnames", "Banegas"),
        ("person.sex", "male"),
        ("person.birth.year", "1990"),
        ("person.nationalities", "HN"),
    ];
    // htmx asks for the panel alone as the fields change.
    let csrf = w.csrf.clone();
    let mut fields = typed.to_vec();
    fields.push(("_csrf", csrf.as_str()));
    let body = serde_urlencoded::to_string(&fields).unwrap();
    let res = reqwest::Client::new()
        .post(format!("{}/cases/new/candidates", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", &app.base)
        .header("hx-request", "true")
        .header("cookie", w.cookie_header())
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let part = res.text().await.unwrap();
    assert!(
        part.starts_with("<section id=\"candidates\"") || part.contains("<section id=\"candidates\""),
        "{part}"
    );
    assert!(!part.contains("<html"), "only the panel: {part}");
    let person_id = report["person_id"].as_str().unwrap();
    assert!(part.contains(&format!("value=\"{person_id}\"")), "{part}");
    assert!(part.contains("Wilmer Josué Banegas Zelaya") && part.contains("Por qué se propone"), "{part}");
    // Without JavaScript: the button posts the whole form and the page comes back filled.
    let page = w.post("/cases/new/candidates", &typed).await;
    page.has("Personas ya registradas que podrían ser esta")
        .has("Wilmer Josué Banegas Zelaya")
        .has("Ninguna: es una persona nueva")
        .has("value=\"Banegas\"");
    every_input_is_labelled(&page);
    // Choosing the candidate registers the new case for the same person.
    let mut chosen = typed.to_vec();
    chosen.extend([
        ("person_id", person_id),
        ("host_state", "MX"),
        ("category", "migration"),
        ("subtype", "return_reception"),
        ("legal_basis", "consular_function"),
    ]);
    let p = w.post("/cases/new", &chosen).await;
    assert_eq!(p.status, 303, "{}", p.body);
    let case = w.get(&p.location()).await;
    case.has("Wilmer Josué Banegas Zelaya");

    // The same person record is never proposed against itself; a man found in hospital under
    // another spelling is.
    let mut found = new_case(&["Wilmer"], &["Vanegas"]);
    found["subtype"] = json!("medical_emergency");
    found["category"] = json!("human_rights");
    found["person"]["sex"] = json!("male");
    found["person"]["birth"] = json!({"kind": "year", "year": 1990});
    app.create_case(&t, &found).await;
    let start = std::time::Instant::now();
    let queue = loop {
        let q = w.get("/matches").await;
        if q.body.contains("Es la misma persona") || start.elapsed() > std::time::Duration::from_secs(20) {
            break q;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    queue
        .has("Personas desaparecidas: posibles coincidencias")
        .has("Wilmer Vanegas")
        .has("Reportada como desaparecida");
    every_input_is_labelled(&queue);
    let action = queue.body.split("action=\"/matches/").nth(1).unwrap();
    let id = &action[..action.find('/').unwrap()];
    let p = w.post(&format!("/matches/{id}/decision"), &[("decision", "perhaps")]).await;
    assert_eq!(p.status, 400);
    let p = w
        .post(
            &format!("/matches/{id}/decision"),
            &[("decision", "same"), ("note", "Confirmado por la familia")],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    w.get("/matches").await.has("No hay coincidencias en esta lista.");
    w.get("/matches?status=same").await.has("Confirmado por la familia").has("supervisor.hn");
    let report_page = w.get(&format!("/cases/{}", report["id"].as_str().unwrap())).await;
    report_page.has("Posibles coincidencias con personas desaparecidas").has("Wilmer Vanegas");
}
