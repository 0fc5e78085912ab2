//! The guided new-case form: who the person is, what happened, then only the sections that
//! apply (detention and art. 36; unaccompanied child; death; missing person; labour).
//!
//! Input names are the JSON paths of [`NewCase`], so a field error from the domain lands
//! beside the input it is about. The form is read into the same JSON the API takes.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use enlace_app::AppError;
use enlace_app::cases::NewCase;
use enlace_domain::case::{Category, LegalBasis, NotAcceptedReason, Subtype, Vulnerability};
use enlace_domain::country::{COUNTRIES, CountryCode};
use enlace_domain::parts::{
    Accompaniment, ClaimType, FamilyTracing, RemainsStatus, Repatriation, Reporter, Route,
};
use serde_json::{Map, Value, json};

use super::cases::{Opt, options, parse_day, parse_local};
use super::forms::{FieldErrors, FormData};
use super::i18n::{Locale, Tr};
use super::{Ctx, Page, PagePost, html, html_status, localize, see_other};

/// Which optional sections a subtype (and its flags) calls for.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sections {
    pub detention: bool,
    pub child: bool,
    pub death: bool,
    pub missing: bool,
    pub labour: bool,
}

impl Sections {
    pub fn for_case(
        subtype: Option<Subtype>,
        category: Option<Category>,
        flags: &[Vulnerability],
    ) -> Sections {
        use Subtype::*;
        let child_flag = flags
            .iter()
            .any(|f| matches!(f, Vulnerability::UnaccompaniedChild | Vulnerability::SeparatedChild));
        Sections {
            detention: subtype == Some(Detention),
            child: matches!(subtype, Some(UnaccompaniedChild | ChildCustody)) || child_flag,
            death: subtype == Some(DeathRepatriation),
            missing: subtype == Some(Whereabouts),
            labour: matches!(subtype, Some(UnpaidWages | WorkInjury)) || category == Some(Category::Labour),
        }
    }
}

/// Everything the form's template shows.
pub struct FormView {
    pub f: FormData,
    pub errors: FieldErrors,
    pub s: Sections,
    pub sexes: Vec<Opt>,
    pub categories: Vec<Opt>,
    pub subtypes: Vec<Opt>,
    pub flags: Vec<Opt>,
    pub bases: Vec<Opt>,
    pub protections: Vec<Opt>,
    pub doc_kinds: Vec<Opt>,
    pub posts: Vec<Opt>,
    pub countries: Vec<(String, String)>,
    pub accompaniments: Vec<Opt>,
    pub tracings: Vec<Opt>,
    pub routes: Vec<Opt>,
    pub remains: Vec<Opt>,
    pub repatriations: Vec<Opt>,
    pub reporters: Vec<Opt>,
    pub claims: Vec<Opt>,
    /// Persons already registered who may be this one (once a name is typed).
    pub cands: Option<super::matches::CandidatesView>,
}

impl FormView {
    /// The value to show in an input.
    pub fn v(&self, name: &str) -> String {
        self.f.value(name)
    }
    pub fn err(&self, name: &str) -> String {
        self.errors.of(name)
    }
    pub fn bad(&self, name: &str) -> bool {
        self.errors.has(name)
    }
    pub fn on(&self, name: &str) -> bool {
        self.f.checked(name)
    }
}

fn sel(f: &FormData, name: &str) -> Vec<String> {
    f.all(name).into_iter().map(str::to_string).collect()
}

async fn view(page: &Page, f: FormData, errors: FieldErrors) -> FormView {
    let tr = page.tr();
    let one = |name: &str| sel(&f, name);
    let subtype = f.get("subtype").and_then(Subtype::parse);
    let category = f.get("category").and_then(Category::parse);
    let flags: Vec<Vulnerability> =
        f.all("vulnerabilities").into_iter().filter_map(Vulnerability::parse).collect();
    let s = Sections::for_case(subtype, category, &flags);
    let cands =
        super::matches::candidates_for(page, typed_person(tr, &f), f.get("person_id").unwrap_or("")).await;
    let user = &page.actor().user;
    let default_post =
        f.get("post").map(str::to_string).or_else(|| user.post.as_ref().map(|p| p.to_string()));
    let posts = page
        .app
        .posts(Some(user.state))
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|p| Opt {
            selected: default_post.as_deref() == Some(p.code.as_str()),
            label: format!("{} ({})", p.city, p.host_state),
            value: p.code.to_string(),
        })
        .collect();
    let countries = COUNTRIES
        .iter()
        .map(|c| {
            let name = match tr.locale {
                Locale::Es => c.name_es,
                Locale::En => c.name_en,
                Locale::Fr => c.name_fr,
            };
            (c.code.to_string(), name.to_string())
        })
        .collect();
    let o = |prefix: &str, all: &[&str], name: &str| {
        all.iter()
            .map(|v| Opt { value: v.to_string(), label: tr.label(prefix, v), selected: f.has(name, v) })
            .collect::<Vec<_>>()
    };
    FormView {
        sexes: o("sex", &["female", "male", "other", "unknown"], "person.sex"),
        categories: options(
            tr,
            "category",
            Category::ALL,
            &one("category").iter().map(String::as_str).collect::<Vec<_>>(),
        ),
        subtypes: options(
            tr,
            "subtype",
            Subtype::ALL,
            &one("subtype").iter().map(String::as_str).collect::<Vec<_>>(),
        ),
        flags: options(
            tr,
            "vuln",
            Vulnerability::ALL,
            &one("vulnerabilities").iter().map(String::as_str).collect::<Vec<_>>(),
        ),
        bases: options(
            tr,
            "basis",
            LegalBasis::ALL,
            &one("legal_basis").iter().map(String::as_str).collect::<Vec<_>>(),
        ),
        protections: o(
            "protection",
            &["pending", "accepted", "child", "unconscious", "deceased"],
            "protection",
        ),
        doc_kinds: o(
            "doc",
            &[
                "passport",
                "national_id",
                "birth_certificate",
                "consular_id",
                "travel_document",
                "residence_permit",
                "other",
            ],
            "doc.kind",
        ),
        posts,
        countries,
        accompaniments: options(
            tr,
            "accompaniment",
            Accompaniment::ALL,
            &one("child.accompaniment").iter().map(String::as_str).collect::<Vec<_>>(),
        ),
        tracings: options(
            tr,
            "tracing",
            FamilyTracing::ALL,
            &one("child.family_tracing").iter().map(String::as_str).collect::<Vec<_>>(),
        ),
        routes: options(
            tr,
            "route",
            Route::ALL,
            &one("child.return_plan.route").iter().map(String::as_str).collect::<Vec<_>>(),
        ),
        remains: options(
            tr,
            "remains",
            RemainsStatus::ALL,
            &one("death.remains_status").iter().map(String::as_str).collect::<Vec<_>>(),
        ),
        repatriations: options(
            tr,
            "repatriation",
            Repatriation::ALL,
            &one("death.repatriation").iter().map(String::as_str).collect::<Vec<_>>(),
        ),
        reporters: options(
            tr,
            "reporter",
            Reporter::ALL,
            &one("missing.reported_by").iter().map(String::as_str).collect::<Vec<_>>(),
        ),
        claims: options(
            tr,
            "claim",
            ClaimType::ALL,
            &one("labour.claim_type").iter().map(String::as_str).collect::<Vec<_>>(),
        ),
        s,
        f,
        errors,
        cands,
    }
}

/// The person as typed so far, when there is a name to look for.
fn typed_person(tr: Tr, f: &FormData) -> Option<enlace_domain::person::PersonData> {
    f.get("person.given_names").or(f.get("person.surnames"))?;
    let mut ignored = FieldErrors::default();
    let mut v = to_json(tr, f, &mut ignored);
    serde_json::from_value(v.get_mut("person")?.take()).ok()
}

#[derive(Template)]
#[template(path = "new_case.html")]
struct NewCasePage {
    c: Ctx,
    v: FormView,
}

#[derive(Template)]
#[template(path = "new_case_sections.html")]
struct SectionsPart {
    c: Ctx,
    v: FormView,
}

pub async fn form(page: Page, uri: axum::http::Uri) -> Response {
    // Query values pre-fill the form (the "show sections" button without JavaScript).
    let f = FormData::parse(uri.query().unwrap_or("").as_bytes()).unwrap_or_default();
    let v = view(&page, f, FieldErrors::default()).await;
    html(&NewCasePage { c: page.ctx, v })
}

#[derive(Template)]
#[template(path = "new_case_candidates.html")]
struct CandidatesPart {
    c: Ctx,
    v: FormView,
}

/// `POST /cases/new/candidates`: the persons already registered who may be the one typed.
/// htmx swaps the panel in as the person's fields change; without JavaScript, the whole form
/// comes back with the panel filled.
pub async fn candidates(p: PagePost) -> Response {
    let (page, f) = (p.page, p.form);
    let v = view(&page, f, FieldErrors::default()).await;
    if page.headers.contains_key("hx-request") {
        html(&CandidatesPart { c: page.ctx, v })
    } else {
        html(&NewCasePage { c: page.ctx, v })
    }
}

/// The sections for a subtype (htmx swaps them in as the subtype changes).
pub async fn sections(page: Page, uri: axum::http::Uri) -> Response {
    let f = FormData::parse(uri.query().unwrap_or("").as_bytes()).unwrap_or_default();
    let v = view(&page, f, FieldErrors::default()).await;
    html(&SectionsPart { c: page.ctx, v })
}

/// A country input: a code (`HN`) or a name in any of the three languages.
pub fn country(s: &str) -> Option<CountryCode> {
    if let Ok(c) = CountryCode::parse(s) {
        return Some(c);
    }
    let key = fold(s);
    COUNTRIES
        .iter()
        .find(|c| [c.name_es, c.name_en, c.name_fr].iter().any(|n| fold(n) == key))
        .and_then(|c| CountryCode::parse(c.code).ok())
}

fn fold(s: &str) -> String {
    enlace_domain::text::fold(s.trim())
}

/// Reads the form into the API's JSON for a new case; what cannot even be read (a date that
/// is not a date, an unknown country) is reported per input, in the user's language.
fn to_json(tr: Tr, f: &FormData, errs: &mut FieldErrors) -> Value {
    let mut person = Map::new();
    let words = |name: &str| -> Value {
        Value::Array(f.get(name).unwrap_or("").split_whitespace().map(|w| json!(w)).collect())
    };
    person.insert("given_names".into(), words("person.given_names"));
    person.insert("surnames".into(), words("person.surnames"));
    person.insert("sex".into(), json!(f.get("person.sex").unwrap_or("unknown")));
    let birth = if let Some(d) = f.get("person.birth.date") {
        match parse_day(d) {
            Some(d) => json!({"kind": "date", "date": d}),
            None => {
                errs.push("person.birth.date", tr.t("v-not-a-date"));
                json!({"kind": "unknown"})
            }
        }
    } else if let Some(y) = f.get("person.birth.year") {
        match y.parse::<i32>() {
            Ok(y) => json!({"kind": "year", "year": y}),
            Err(_) => {
                errs.push("person.birth.year", tr.t("v-not-a-number"));
                json!({"kind": "unknown"})
            }
        }
    } else if f.get("person.birth.min_years").is_some() || f.get("person.birth.max_years").is_some() {
        let n = |name: &str, errs: &mut FieldErrors| match f.get(name).map(|v| v.parse::<u8>()) {
            Some(Ok(v)) => Some(v),
            _ => {
                errs.push(name, tr.t("v-not-a-number"));
                None
            }
        };
        match (n("person.birth.min_years", errs), n("person.birth.max_years", errs)) {
            (Some(a), Some(b)) => json!({"kind": "estimated_age", "min_years": a, "max_years": b,
                "estimated_on": chrono::Utc::now().date_naive()}),
            _ => json!({"kind": "unknown"}),
        }
    } else {
        json!({"kind": "unknown"})
    };
    person.insert("birth".into(), birth);
    let put_text = |m: &mut Map<String, Value>, key: &str, name: &str| {
        if let Some(v) = f.get(name) {
            m.insert(key.into(), json!(v));
        }
    };
    put_text(&mut person, "birth_place", "person.birth_place");
    let mut nats = Vec::new();
    for (i, raw) in f
        .get("person.nationalities")
        .unwrap_or("")
        .split([',', ';'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .enumerate()
    {
        match country(raw) {
            Some(c) => nats.push(json!(c.as_str())),
            None => errs.push("person.nationalities", tr.t1("v-unknown-country", "value", raw)),
        }
        if i > 4 {
            break;
        }
    }
    person.insert("nationalities".into(), Value::Array(nats));
    if let Some(number) = f.get("doc.number") {
        let state = match f.get("doc.issuing_state").map(country) {
            Some(Some(c)) => Some(c),
            Some(None) => {
                errs.push(
                    "doc.issuing_state",
                    tr.t1("v-unknown-country", "value", f.value("doc.issuing_state")),
                );
                None
            }
            None => {
                errs.push("doc.issuing_state", tr.t("v-required"));
                None
            }
        };
        if let Some(state) = state {
            person.insert(
                "documents".into(),
                json!([{"kind": f.get("doc.kind").unwrap_or("other"), "number": number, "issuing_state": state.as_str()}]),
            );
        }
    }
    let langs: Vec<Value> = f
        .get("person.languages")
        .unwrap_or("")
        .split([',', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| json!(s.to_lowercase()))
        .collect();
    person.insert("languages".into(), Value::Array(langs));
    person.insert("interpreter_needed".into(), json!(f.checked("person.interpreter_needed")));

    let mut case = Map::new();
    // An existing person chosen among the candidates replaces what was typed.
    match f.get("person_id") {
        Some(id) => case.insert("person_id".into(), json!(id)),
        None => case.insert("person".into(), Value::Object(person)),
    };
    if let Some(p) = f.get("post") {
        case.insert("post".into(), json!(p));
    }
    match f.get("host_state").map(country) {
        Some(Some(c)) => {
            case.insert("host_state".into(), json!(c.as_str()));
        }
        Some(None) => errs.push("host_state", tr.t1("v-unknown-country", "value", f.value("host_state"))),
        None => errs.push("host_state", tr.t("v-required")),
    }
    for key in ["category", "subtype", "legal_basis"] {
        match f.get(key) {
            Some(v) => {
                case.insert(key.into(), json!(v));
            }
            None => errs.push(key, tr.t("v-choose-one")),
        }
    }
    case.insert("vulnerabilities".into(), json!(f.all("vulnerabilities")));
    let protection = match f.get("protection").unwrap_or("pending") {
        "accepted" => json!({"state": "accepted", "at": chrono::Utc::now()}),
        r if NotAcceptedReason::parse(r).is_some() => json!({"state": "not_possible", "reason": r}),
        _ => json!({"state": "pending"}),
    };
    case.insert("protection".into(), protection);
    put_text(&mut case, "narrative", "narrative");

    let subtype = f.get("subtype").and_then(Subtype::parse);
    let category = f.get("category").and_then(Category::parse);
    let flags: Vec<Vulnerability> =
        f.all("vulnerabilities").into_iter().filter_map(Vulnerability::parse).collect();
    let s = Sections::for_case(subtype, category, &flags);
    // Fields of a section: (input name = JSON path, kind); the part after the section's
    // name is the path inside the section.
    let section = |keys: &[(&str, &str)], errs: &mut FieldErrors| -> Map<String, Value> {
        let mut m = Map::new();
        for (key, kind) in keys {
            let rest = key.split_once('.').map_or(*key, |(_, r)| r);
            let name = key.to_string();
            let value = match *kind {
                "bool" => Some(json!(f.checked(&name))),
                _ => match f.get(&name) {
                    None => None,
                    Some(v) => match *kind {
                        "time" => match parse_local(v) {
                            Some(t) => Some(json!(t)),
                            None => {
                                errs.push(name.clone(), tr.t("v-not-a-time"));
                                None
                            }
                        },
                        "date" => match parse_day(v) {
                            Some(d) => Some(json!(d)),
                            None => {
                                errs.push(name.clone(), tr.t("v-not-a-date"));
                                None
                            }
                        },
                        _ => Some(json!(v)),
                    },
                },
            };
            if let Some(v) = value {
                insert_path(&mut m, rest, v);
            }
        }
        m
    };
    if s.detention {
        let m = section(
            &[
                ("detention.detained_at", "time"),
                ("detention.place", "text"),
                ("detention.authority", "text"),
                ("detention.informed_of_right_at", "time"),
                ("detention.notification_requested", "bool"),
                ("detention.notice_received_at", "time"),
                ("detention.first_contact_at", "time"),
                ("detention.first_visit_at", "time"),
            ],
            errs,
        );
        case.insert("detention".into(), Value::Object(m));
    }
    if s.child {
        let mut m = section(
            &[
                ("child.accompaniment", "text"),
                ("child.family_tracing", "text"),
                ("child.host_protection_authority", "text"),
                ("child.home_protection_authority", "text"),
                ("child.child_views", "text"),
            ],
            errs,
        );
        let g = section(
            &[
                ("child.guardian.name", "text"),
                ("child.guardian.relationship", "text"),
                ("child.guardian.phone", "text"),
            ],
            errs,
        );
        if let Some(Value::Object(g)) = g.get("guardian") {
            m.insert("guardian".into(), Value::Object(g.clone()));
        }
        let b = section(
            &[
                ("child.best_interest.date", "date"),
                ("child.best_interest.author", "text"),
                ("child.best_interest.conclusions", "text"),
            ],
            errs,
        );
        if let Some(b) = b.get("best_interest") {
            m.insert("best_interest".into(), b.clone());
        }
        let r = section(
            &[
                ("child.return_plan.date", "date"),
                ("child.return_plan.route", "text"),
                ("child.return_plan.receiving_authority", "text"),
            ],
            errs,
        );
        if let Some(r) = r.get("return_plan") {
            m.insert("return_plan".into(), r.clone());
        }
        case.insert("child".into(), Value::Object(m));
    }
    if s.death {
        let m = section(
            &[
                ("death.date_of_death", "date"),
                ("death.place", "text"),
                ("death.cause", "text"),
                ("death.remains_status", "text"),
                ("death.remains_location", "text"),
                ("death.repatriation", "text"),
            ],
            errs,
        );
        case.insert("death".into(), Value::Object(m));
    }
    if s.missing {
        let m = section(
            &[
                ("missing.reported_by", "text"),
                ("missing.reporter_name", "text"),
                ("missing.reporter_contact", "text"),
                ("missing.last_seen_date", "date"),
                ("missing.last_seen_place", "text"),
                ("missing.route", "text"),
                ("missing.physical_description", "text"),
            ],
            errs,
        );
        case.insert("missing".into(), Value::Object(m));
    }
    if s.labour {
        let m = section(
            &[
                ("labour.claim_type", "text"),
                ("labour.employer", "text"),
                ("labour.sector", "text"),
                ("labour.permit_type", "text"),
            ],
            errs,
        );
        case.insert("labour".into(), Value::Object(m));
    }
    Value::Object(case)
}

fn insert_path(m: &mut Map<String, Value>, path: &str, v: Value) {
    match path.split_once('.') {
        None => {
            m.insert(path.to_string(), v);
        }
        Some((head, rest)) => {
            let child = m.entry(head.to_string()).or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(c) = child {
                insert_path(c, rest, v);
            }
        }
    }
}

/// The input a JSON path belongs to: `person.documents[0].number` → `doc.number`.
fn input_of(path: &str) -> String {
    let mut p = String::new();
    let mut skip = false;
    for ch in path.chars() {
        match ch {
            '[' => skip = true,
            ']' => skip = false,
            c if !skip => p.push(c),
            _ => {}
        }
    }
    let p = p.replace("..", ".");
    if let Some(rest) = p.strip_prefix("person.documents.") {
        return format!("doc.{rest}");
    }
    if p.starts_with("person.birth") {
        return "person.birth.date".into();
    }
    if p.starts_with("protection") {
        return "protection".into();
    }
    p
}

/// Registers the case, or shows the form again with each error beside its input.
pub async fn create(p: PagePost) -> Response {
    let (page, f) = (p.page, p.form);
    let tr = page.tr();
    let mut errs = FieldErrors::default();
    let value = to_json(tr, &f, &mut errs);
    let parsed: Result<NewCase, _> = serde_path_to_error::deserialize(value);
    let n = match parsed {
        Ok(n) if errs.is_empty() => Some(n),
        Ok(_) => None,
        Err(e) => {
            let input = input_of(&e.path().to_string());
            if !errs.has(&input) {
                let msg = e.into_inner().to_string();
                let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
                errs.push(input, localize(tr, &msg));
            }
            None
        }
    };
    let Some(n) = n else {
        let v = view(&page, f, errs).await;
        return html_status(StatusCode::UNPROCESSABLE_ENTITY, &NewCasePage { c: page.ctx.clone(), v });
    };
    match page.app.create_case(page.actor(), n).await {
        // A restricted case the officer may not read (a child, without the permission): to
        // the list, where its row shows without the name.
        Ok(v) if v.case.is_restricted() && !page.actor().user.sensitive_access => {
            see_other(&format!("/cases?q={}", v.case.number))
        }
        Ok(v) => see_other(&format!("/cases/{}", v.case.id)),
        Err(AppError::Validation(ve)) => {
            for fe in &ve.0 {
                errs.push(input_of(&fe.field), localize(tr, &fe.message));
            }
            let v = view(&page, f, errs).await;
            html_status(StatusCode::UNPROCESSABLE_ENTITY, &NewCasePage { c: page.ctx.clone(), v })
        }
        Err(AppError::Forbidden(m)) => {
            errs.push("post", localize(tr, &m));
            let v = view(&page, f, errs).await;
            html_status(StatusCode::FORBIDDEN, &NewCasePage { c: page.ctx.clone(), v })
        }
        Err(e) => page.fail(e),
    }
}
