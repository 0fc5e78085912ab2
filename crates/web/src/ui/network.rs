//! The network's workspace in the pages: meetings (`/meetings`), one meeting with its
//! agreements and their follow-up (`/meetings/{id}`), what is still to be acted on by
//! responsible party (`/agreements`), and events with their calendar file (`/events`). The
//! forms turn into the API's JSON, so a domain error lands beside its input; the same `App`
//! methods as the API, so the same rules.

use askama::Template;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use enlace_app::AppError;
use enlace_app::network::{
    AgreementView, ContactView, Edit, EventView, GroupView, LibraryView, MeetingView, Recorded,
};
use enlace_domain::country::{CountryCode, crm_members};
use enlace_domain::network::{AgreementStatus, ContactFunction, Lang, LibraryKind, Party, Titles};
use enlace_domain::role::Role;
use enlace_store::network::LibraryLink;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::cases::{Opt, parse_day};
use super::forms::{FieldErrors, FormData};
use super::i18n::{Locale, Tr};
use super::{Ctx, Page, PagePost, html_status, localize, see_other};

/// The body the Secretariat may announce events for.
const SECRETARIAT: &str = "Secretaría Técnica de la CRM";

fn lang(tr: Tr) -> Lang {
    match tr.locale {
        Locale::Es => Lang::Es,
        Locale::En => Lang::En,
        Locale::Fr => Lang::Fr,
    }
}

fn party(tr: Tr, p: &Party) -> String {
    match p {
        Party::State(c) => tr.country(c),
        Party::Body(b) => b.as_str().to_string(),
    }
}

fn title(tr: Tr, t: &Titles) -> String {
    t.get(lang(tr)).to_string()
}

fn role(page: &Page) -> Role {
    page.actor().user.role
}

/// Records meetings and agreements, announces events: the Secretariat and liaison officers
/// (on a node holding the hub's copy, their changes go to the hub).
fn keeps(page: &Page) -> bool {
    matches!(role(page), Role::RegionalAnalyst | Role::LiaisonOfficer)
}

/// The notice a page shows after a change was sent to the hub (`?sent=1`).
fn notice(tr: Tr, uri: &axum::http::Uri) -> String {
    let sent = uri.query().is_some_and(|q| q.split('&').any(|p| p == "sent=1"));
    if sent { tr.t("net-sent") } else { String::new() }
}

/// Where to go after a change: the record's page, or (sent to the hub) `back` with a notice.
fn after(r: Recorded, back: &str) -> Response {
    match r {
        Recorded::Meeting(m) => see_other(&format!("/meetings/{}", m.id)),
        Recorded::Agreement(a) => {
            see_other(&format!("/meetings/{}#agreement-{}", a.meeting.id, a.data.number))
        }
        Recorded::Event(_) => see_other("/events"),
        Recorded::Contact(c) => see_other(&format!("/directory#contact-{}", c.id)),
        Recorded::Group(g) => see_other(&format!("/groups/{}", g.id)),
        Recorded::Library(_) => see_other("/library"),
        Recorded::Removed => see_other("/directory"),
        Recorded::SentToHub { .. } => see_other(&format!("{back}?sent=1")),
    }
}

/// The member states as checkboxes or options, `chosen` checked.
/// The end of every form that makes a change: reads the form's JSON (`value`) into the
/// change's data, makes the change (`edit`), then goes on to the record (or `back` with a
/// notice when it went to the hub), or shows the form again (`again`) with each error beside
/// its input. `errs` holds what was found before (dates that are not dates).
async fn submit<T: DeserializeOwned>(
    page: &Page,
    mut errs: FieldErrors,
    value: Value,
    edit: impl FnOnce(T) -> Edit,
    back: &str,
    again: impl AsyncFnOnce(FieldErrors) -> Response,
) -> Response {
    let tr = page.tr();
    if !errs.is_empty() {
        return again(errs).await;
    }
    let Some(data) = read(tr, value, &mut errs) else { return again(errs).await };
    match page.app.edit_workspace(page.actor(), edit(data)).await {
        Ok(r) => after(r, back),
        Err(AppError::Validation(v)) => {
            validation(tr, &v, &mut errs);
            again(errs).await
        }
        Err(e) => page.fail(e),
    }
}

fn states(tr: Tr, chosen: &[&str]) -> Vec<Opt> {
    crm_members()
        .filter_map(|c| CountryCode::parse(c.code).ok())
        .map(|c| Opt { value: c.to_string(), label: tr.country(&c), selected: chosen.contains(&c.as_str()) })
        .collect()
}

/// Reads a form's JSON into `T`; what cannot be read is reported beside its input (the JSON
/// path's first part, or `title.es` for the titles).
fn read<T: DeserializeOwned>(tr: Tr, value: Value, errs: &mut FieldErrors) -> Option<T> {
    match serde_path_to_error::deserialize::<_, T>(value) {
        Ok(v) => Some(v),
        Err(e) => {
            let input = input_of(&e.path().to_string());
            if !errs.has(&input) {
                let msg = e.into_inner().to_string();
                errs.push(input, localize(tr, &msg));
            }
            None
        }
    }
}

/// The input a field of the JSON (or of a validation error) is shown beside.
fn input_of(path: &str) -> String {
    let first = path.split(['.', '[']).next().unwrap_or(path);
    match first {
        "title" if path.starts_with("title.") => path.to_string(),
        "title" => "title.es".into(),
        "" | "." => "form".into(),
        f => f.into(),
    }
}

/// The form's text inputs into JSON, leaving out the empty ones (absent = not given).
fn texts(f: &FormData, names: &[&str]) -> Map<String, Value> {
    let mut m = Map::new();
    for n in names {
        if let Some(v) = f.get(n).map(str::trim).filter(|v| !v.is_empty()) {
            m.insert(n.to_string(), json!(v));
        }
    }
    m
}

fn titles_json(f: &FormData) -> Value {
    let mut t = Map::new();
    for l in ["es", "en", "fr"] {
        if let Some(v) = f.get(&format!("title.{l}")).map(str::trim).filter(|v| !v.is_empty()) {
            t.insert(l.into(), json!(v));
        }
    }
    Value::Object(t)
}

/// Checks the date inputs (`YYYY-MM-DD`) before the rest, in the user's words.
fn dates(tr: Tr, f: &FormData, names: &[&str], errs: &mut FieldErrors) {
    for n in names {
        if let Some(v) = f.get(n).filter(|v| !v.trim().is_empty())
            && parse_day(v.trim()).is_none()
        {
            errs.push(*n, tr.t("v-not-a-date"));
        }
    }
}

fn validation(tr: Tr, e: &enlace_domain::ValidationErrors, errs: &mut FieldErrors) {
    for fe in &e.0 {
        errs.push(input_of(&fe.field), localize(tr, &fe.message));
    }
}

// ---------------------------------------------------------------------------------------------
// Meetings

struct MeetingLine {
    id: String,
    title: String,
    when: String,
    place: String,
    states: String,
    agreements: usize,
    pending: usize,
}

fn when(tr: Tr, from: &chrono::NaiveDate, to: Option<&chrono::NaiveDate>) -> String {
    match to {
        Some(to) if to != from => format!("{} – {}", tr.date(from), tr.date(to)),
        _ => tr.date(from),
    }
}

fn meeting_line(tr: Tr, m: &MeetingView) -> MeetingLine {
    MeetingLine {
        id: m.id.to_string(),
        title: title(tr, &m.data.title),
        when: when(tr, &m.data.starts_on, m.data.ends_on.as_ref()),
        place: m.data.place.to_string(),
        states: m.data.states.iter().map(|s| tr.country(s)).collect::<Vec<_>>().join(", "),
        agreements: m.agreements,
        pending: m.pending,
    }
}

#[derive(Template)]
#[template(path = "network_meetings.html")]
struct MeetingsPage {
    c: Ctx,
    rows: Vec<MeetingLine>,
    /// This node holds a read-only copy of the hub's workspace.
    mirror: bool,
    notice: String,
    keeps: bool,
    states: Vec<Opt>,
    form: FormData,
    errors: FieldErrors,
}

async fn render_meetings(page: &Page, form: FormData, errors: FieldErrors, notice: String) -> Response {
    let tr = page.tr();
    let list = match page.app.meetings(page.actor()).await {
        Ok(l) => l,
        Err(e) => return page.fail(e),
    };
    let here = page.app.keeps_workspace().await;
    let chosen = form.all("states");
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    html_status(
        status,
        &MeetingsPage {
            rows: list.iter().map(|m| meeting_line(tr, m)).collect(),
            mirror: !here,
            notice,
            keeps: keeps(page),
            states: states(tr, &chosen),
            c: page.ctx.clone(),
            form,
            errors,
        },
    )
}

/// `GET /meetings`.
pub async fn meetings(page: Page, uri: axum::http::Uri) -> Response {
    let n = notice(page.tr(), &uri);
    render_meetings(&page, FormData::default(), FieldErrors::default(), n).await
}

/// `POST /meetings`: records a meeting, then its page.
pub async fn create_meeting(p: PagePost) -> Response {
    let (page, f) = (p.page, p.form);
    let tr = page.tr();
    let mut errs = FieldErrors::default();
    dates(tr, &f, &["starts_on", "ends_on"], &mut errs);
    let mut m = texts(&f, &["starts_on", "ends_on", "place", "summary"]);
    m.insert("title".into(), titles_json(&f));
    m.insert("states".into(), json!(f.all("states")));
    let agenda: Vec<&str> =
        f.get("agenda").unwrap_or("").lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    m.insert("agenda".into(), json!(agenda));
    let again = async |errs| render_meetings(&page, f.clone(), errs, String::new()).await;
    submit(&page, errs, Value::Object(m), |data| Edit::Meeting { data }, "/meetings", again).await
}

// ---------------------------------------------------------------------------------------------
// One meeting, its agreements

struct NoteLine {
    when: String,
    author: String,
    text: String,
    status: String,
}

pub struct AgreementLine {
    id: String,
    number: u16,
    title: String,
    text: String,
    responsible: String,
    due: String,
    status: String,
    status_label: String,
    overdue: bool,
    notes: Vec<NoteLine>,
    /// The user may add a follow-up note.
    may_note: bool,
    meeting_id: String,
    meeting: String,
}

fn agreement_line(tr: Tr, a: &AgreementView, page: &Page) -> AgreementLine {
    let user = &page.actor().user;
    let may_note = match user.role {
        Role::RegionalAnalyst => true,
        Role::LiaisonOfficer => a.data.names(user.state),
        _ => false,
    };
    AgreementLine {
        id: a.id.to_string(),
        number: a.data.number,
        title: title(tr, &a.data.title),
        text: a.data.text.to_string(),
        responsible: a.data.responsible.iter().map(|p| party(tr, p)).collect::<Vec<_>>().join(", "),
        due: a.data.due_on.map(|d| tr.date(&d)).unwrap_or_default(),
        status: a.data.status.as_str().into(),
        status_label: tr.label("agreement-status", a.data.status),
        overdue: a.overdue,
        notes: a
            .notes
            .iter()
            .map(|n| NoteLine {
                when: tr.datetime(&n.at),
                author: match &n.state {
                    Some(s) => format!("{} ({})", n.author, tr.country(s)),
                    None => n.author.clone(),
                },
                text: n.data.text.to_string(),
                status: n.data.status.map(|s| tr.label("agreement-status", s)).unwrap_or_default(),
            })
            .collect(),
        may_note,
        meeting_id: a.meeting.id.to_string(),
        meeting: format!("{} ({})", title(tr, &a.meeting.title), tr.date(&a.meeting.starts_on)),
    }
}

fn statuses(tr: Tr, chosen: &str) -> Vec<Opt> {
    AgreementStatus::ALL
        .iter()
        .map(|s| Opt {
            value: s.as_str().into(),
            label: tr.label("agreement-status", s),
            selected: s.as_str() == chosen,
        })
        .collect()
}

#[derive(Template)]
#[template(path = "network_meeting.html")]
struct MeetingPage {
    c: Ctx,
    mirror: bool,
    notice: String,
    m: MeetingLine,
    docs: Vec<DocLine>,
    agenda: Vec<String>,
    summary: String,
    agreements: Vec<AgreementLine>,
    keeps: bool,
    states: Vec<Opt>,
    statuses: Vec<Opt>,
    note_statuses: Vec<Opt>,
    form: FormData,
    errors: FieldErrors,
    /// The agreement whose note form has the errors.
    noting: String,
}

async fn render_meeting(
    page: &Page,
    id: &str,
    form: FormData,
    errors: FieldErrors,
    noting: String,
    notice: String,
) -> Response {
    let tr = page.tr();
    let Ok(uuid) = id.parse() else { return page.fail(AppError::NotFound("meeting")) };
    let d = match page.app.meeting(page.actor(), uuid).await {
        Ok(d) => d,
        Err(e) => return page.fail(e),
    };
    let here = page.app.keeps_workspace().await;
    let chosen = form.all("responsible");
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    html_status(
        status,
        &MeetingPage {
            mirror: !here,
            notice,
            m: meeting_line(tr, &d.meeting),
            docs: documents(page, LibraryLink::Meeting(uuid)).await,
            agenda: d.meeting.data.agenda.iter().map(|a| a.to_string()).collect(),
            summary: d.meeting.data.summary.as_ref().map(|s| s.to_string()).unwrap_or_default(),
            agreements: d.agreements.iter().map(|a| agreement_line(tr, a, page)).collect(),
            keeps: keeps(page),
            states: states(tr, &chosen),
            statuses: statuses(tr, form.get("status").unwrap_or("open")),
            note_statuses: statuses(tr, ""),
            c: page.ctx.clone(),
            form,
            errors,
            noting,
        },
    )
}

/// `GET /meetings/{id}`.
pub async fn meeting(page: Page, Path(id): Path<String>, uri: axum::http::Uri) -> Response {
    let n = notice(page.tr(), &uri);
    render_meeting(&page, &id, FormData::default(), FieldErrors::default(), String::new(), n).await
}

/// The parties a form names: the checked member states, then the bodies typed one per line.
fn parties(f: &FormData) -> Value {
    let mut out: Vec<Value> = f.all("responsible").into_iter().map(|s| json!({"state": s})).collect();
    for b in f.get("bodies").unwrap_or("").lines().map(str::trim).filter(|b| !b.is_empty()) {
        out.push(json!({"body": b}));
    }
    Value::Array(out)
}

/// `POST /meetings/{id}/agreements`: records an agreement of the meeting.
pub async fn create_agreement(Path(id): Path<String>, p: PagePost) -> Response {
    let (page, f) = (p.page, p.form);
    let tr = page.tr();
    let mut errs = FieldErrors::default();
    dates(tr, &f, &["due_on"], &mut errs);
    let mut m = texts(&f, &["due_on", "text", "status"]);
    m.insert("title".into(), titles_json(&f));
    m.insert("responsible".into(), parties(&f));
    match f.get("number").map(str::trim).unwrap_or("").parse::<u16>() {
        Ok(n) => {
            m.insert("number".into(), json!(n));
        }
        Err(_) => errs.push("number", tr.t("v-not-a-number")),
    }
    if !errs.is_empty() {
        return render_meeting(&page, &id, f, errs, String::new(), String::new()).await;
    }
    let Some(data) = read(tr, Value::Object(m), &mut errs) else {
        return render_meeting(&page, &id, f, errs, String::new(), String::new()).await;
    };
    let Ok(meeting) = id.parse() else { return page.fail(AppError::NotFound("meeting")) };
    match page.app.edit_workspace(page.actor(), Edit::Agreement { meeting, data }).await {
        Ok(r) => after(r, &format!("/meetings/{id}")),
        Err(AppError::Validation(v)) => {
            validation(tr, &v, &mut errs);
            render_meeting(&page, &id, f, errs, String::new(), String::new()).await
        }
        Err(AppError::Conflict(m)) => {
            errs.push("number", localize(tr, &m));
            render_meeting(&page, &id, f, errs, String::new(), String::new()).await
        }
        Err(e) => page.fail(e),
    }
}

/// `POST /agreements/{id}/notes`: a follow-up note, back to the agreement on its meeting's
/// page (`meeting` says which).
pub async fn add_note(Path(id): Path<String>, p: PagePost) -> Response {
    let (page, f) = (p.page, p.form);
    let tr = page.tr();
    let meeting = f.get("meeting").unwrap_or("").to_string();
    let mut errs = FieldErrors::default();
    let m = texts(&f, &["text", "status"]);
    let Some(note) = read(tr, Value::Object(m), &mut errs) else {
        let errs = errs.renamed("note.");
        return render_meeting(&page, &meeting, f, errs, id, String::new()).await;
    };
    let Ok(uuid) = id.parse() else { return page.fail(AppError::NotFound("agreement")) };
    match page.app.edit_workspace(page.actor(), Edit::Note { agreement: uuid, data: note }).await {
        Ok(r) => after(r, &format!("/meetings/{}", super::enc(&meeting))),
        Err(AppError::Validation(v)) => {
            validation(tr, &v, &mut errs);
            render_meeting(&page, &meeting, f, errs.renamed("note."), id, String::new()).await
        }
        Err(e) => page.fail(e),
    }
}

// ---------------------------------------------------------------------------------------------
// Pending agreements by party

struct PartyGroup {
    name: String,
    agreements: Vec<AgreementLine>,
}

#[derive(Template)]
#[template(path = "network_agreements.html")]
struct AgreementsPage {
    c: Ctx,
    mirror: bool,
    notice: String,
    groups: Vec<PartyGroup>,
}

/// `GET /agreements`: every agreement still to be acted on, by responsible party, overdue
/// first.
pub async fn pending(page: Page) -> Response {
    let tr = page.tr();
    let groups = match page.app.pending_agreements(page.actor()).await {
        Ok(g) => g,
        Err(e) => return page.fail(e),
    };
    let here = page.app.keeps_workspace().await;
    let groups = groups
        .iter()
        .map(|g| PartyGroup {
            name: party(tr, &g.party),
            agreements: g.agreements.iter().map(|a| agreement_line(tr, a, &page)).collect(),
        })
        .collect();
    html_status(
        StatusCode::OK,
        &AgreementsPage { c: page.ctx.clone(), mirror: !here, notice: String::new(), groups },
    )
}

// ---------------------------------------------------------------------------------------------
// Events

struct EventLine {
    title: String,
    when: String,
    place: String,
    by: String,
    description: String,
}

fn event_line(tr: Tr, e: &EventView) -> EventLine {
    EventLine {
        title: title(tr, &e.data.title),
        when: when(tr, &e.data.starts_on, Some(&e.data.ends_on)),
        place: e.data.place.to_string(),
        by: party(tr, &e.data.announced_by),
        description: e.data.description.as_ref().map(|d| d.to_string()).unwrap_or_default(),
    }
}

#[derive(Template)]
#[template(path = "network_events.html")]
struct EventsPage {
    c: Ctx,
    mirror: bool,
    notice: String,
    rows: Vec<EventLine>,
    keeps: bool,
    /// Whom the user may announce for: their state (liaison officers), or any state and the
    /// Secretariat.
    announcers: Vec<Opt>,
    form: FormData,
    errors: FieldErrors,
}

async fn render_events(page: &Page, form: FormData, errors: FieldErrors, notice: String) -> Response {
    let tr = page.tr();
    let list = match page.app.events(page.actor()).await {
        Ok(l) => l,
        Err(e) => return page.fail(e),
    };
    let here = page.app.keeps_workspace().await;
    let user = &page.actor().user;
    let chosen = form.get("announced_by").unwrap_or("");
    let announcers = if user.role == Role::LiaisonOfficer {
        vec![Opt { value: user.state.to_string(), label: tr.country(&user.state), selected: true }]
    } else {
        let mut v = vec![Opt {
            value: SECRETARIAT.into(),
            label: SECRETARIAT.into(),
            selected: chosen == SECRETARIAT,
        }];
        v.extend(states(tr, &[chosen]));
        v
    };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    html_status(
        status,
        &EventsPage {
            rows: list.iter().map(|e| event_line(tr, e)).collect(),
            mirror: !here,
            notice,
            keeps: keeps(page),
            announcers,
            c: page.ctx.clone(),
            form,
            errors,
        },
    )
}

/// `GET /events`.
pub async fn events(page: Page, uri: axum::http::Uri) -> Response {
    let n = notice(page.tr(), &uri);
    render_events(&page, FormData::default(), FieldErrors::default(), n).await
}

/// `GET /events.ics`: the calendar file, titles in the user's language.
pub async fn calendar(page: Page) -> Response {
    match page.app.events(page.actor()).await {
        Ok(list) => crate::api::network::calendar_file(&list, lang(page.tr())),
        Err(e) => page.fail(e),
    }
}

/// `POST /events`: announces an event.
pub async fn create_event(p: PagePost) -> Response {
    let (page, f) = (p.page, p.form);
    let tr = page.tr();
    let mut errs = FieldErrors::default();
    dates(tr, &f, &["starts_on", "ends_on"], &mut errs);
    let mut m = texts(&f, &["starts_on", "ends_on", "place", "description"]);
    m.insert("title".into(), titles_json(&f));
    let by = f.get("announced_by").unwrap_or("");
    let announced = if CountryCode::parse(by).is_ok() { json!({"state": by}) } else { json!({"body": by}) };
    m.insert("announced_by".into(), announced);
    let again = async |errs| render_events(&page, f.clone(), errs, String::new()).await;
    submit(&page, errs, Value::Object(m), |data| Edit::Event { data }, "/events", again).await
}

// ---------------------------------------------------------------------------------------------
// The directory

struct ContactLine {
    id: String,
    function: String,
    name: String,
    position: String,
    post: String,
    email: String,
    phone: String,
    languages: String,
    /// The user's state keeps this entry: edit and remove forms.
    mine: bool,
    /// The entry's values, for its edit form.
    values: FormData,
    functions: Vec<Opt>,
    posts: Vec<Opt>,
    langs: Vec<Opt>,
}

struct StateGroup {
    name: String,
    contacts: Vec<ContactLine>,
}

#[derive(Template)]
#[template(path = "network_directory.html")]
struct DirectoryPage {
    c: Ctx,
    mirror: bool,
    notice: String,
    groups: Vec<StateGroup>,
    /// The user keeps their state's entries: the add form.
    keeps: bool,
    state_name: String,
    functions: Vec<Opt>,
    posts: Vec<Opt>,
    langs: Vec<Opt>,
    form: FormData,
    errors: FieldErrors,
    /// The entry whose edit form has the errors.
    editing: String,
}

fn functions(tr: Tr, chosen: &str) -> Vec<Opt> {
    ContactFunction::ALL
        .iter()
        .map(|f| Opt {
            value: f.as_str().into(),
            label: tr.label("contact-function", f),
            selected: f.as_str() == chosen,
        })
        .collect()
}

/// The posts of `state`, for the contact forms.
fn posts_of(state: CountryCode, chosen: &str) -> Vec<Opt> {
    enlace_domain::post::POSTS
        .iter()
        .filter(|p| p.state == state.as_str())
        .map(|p| Opt {
            value: p.code.into(),
            label: format!("{} — {}", p.code, p.city),
            selected: p.code == chosen,
        })
        .collect()
}

fn langs(tr: Tr, chosen: &[&str]) -> Vec<Opt> {
    Lang::ALL
        .iter()
        .map(|l| Opt {
            value: l.as_str().into(),
            label: tr.t(&format!("net-title-{l}")),
            selected: chosen.contains(&l.as_str()),
        })
        .collect()
}

fn contact_values(c: &ContactView) -> FormData {
    let mut f = vec![
        ("function".to_string(), c.data.function.as_str().to_string()),
        ("name".into(), c.data.name.to_string()),
    ];
    let opt =
        |v: &Option<enlace_domain::person::ShortText>| v.as_ref().map(|t| t.to_string()).unwrap_or_default();
    f.push(("position".into(), opt(&c.data.position)));
    f.push(("post".into(), c.data.post.as_ref().map(|p| p.to_string()).unwrap_or_default()));
    f.push(("email".into(), opt(&c.data.email)));
    f.push(("phone".into(), opt(&c.data.phone)));
    f.extend(c.data.languages.iter().map(|l| ("languages".to_string(), l.as_str().to_string())));
    FormData(f)
}

async fn render_directory(
    page: &Page,
    form: FormData,
    errors: FieldErrors,
    editing: String,
    notice: String,
) -> Response {
    let tr = page.tr();
    let list = match page.app.contacts(page.actor(), None).await {
        Ok(l) => l,
        Err(e) => return page.fail(e),
    };
    let here = page.app.keeps_workspace().await;
    let user = &page.actor().user;
    let keeps = matches!(user.role, Role::LiaisonOfficer | Role::CountryAdministrator);
    let mut groups: Vec<(String, StateGroup)> = Vec::new();
    for c in &list {
        let name = tr.country(&c.data.state);
        let mine = keeps && c.data.state == user.state;
        let id = c.id.to_string();
        // The edit form shows what was typed when it has the errors, else the entry.
        let values = if editing == id { form.clone() } else { contact_values(c) };
        let line = ContactLine {
            function: tr.label("contact-function", c.data.function),
            name: c.data.name.to_string(),
            position: c.data.position.as_ref().map(|p| p.to_string()).unwrap_or_default(),
            post: match (&c.data.post, &c.post_city, &c.post_district) {
                (Some(p), Some(city), Some(d)) => {
                    format!("{p} ({city}; {}: {d})", tr.t("net-contact-district"))
                }
                (Some(p), ..) => p.to_string(),
                _ => String::new(),
            },
            email: c.data.email.as_ref().map(|p| p.to_string()).unwrap_or_default(),
            phone: c.data.phone.as_ref().map(|p| p.to_string()).unwrap_or_default(),
            languages: c
                .data
                .languages
                .iter()
                .map(|l| tr.t(&format!("net-title-{l}")))
                .collect::<Vec<_>>()
                .join(", "),
            mine,
            functions: functions(tr, &values.value("function")),
            posts: posts_of(c.data.state, &values.value("post")),
            langs: langs(tr, &values.all("languages")),
            values,
            id,
        };
        match groups.iter_mut().find(|(code, _)| code == c.data.state.as_str()) {
            Some((_, g)) => g.contacts.push(line),
            None => groups.push((c.data.state.to_string(), StateGroup { name, contacts: vec![line] })),
        }
    }
    let mut groups: Vec<StateGroup> = groups.into_iter().map(|(_, g)| g).collect();
    groups.sort_by_cached_key(|g| enlace_domain::text::fold(&g.name));
    let adding = editing.is_empty();
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    html_status(
        status,
        &DirectoryPage {
            mirror: !here,
            notice,
            groups,
            keeps,
            state_name: tr.country(&user.state),
            functions: functions(
                tr,
                if adding { form.get("function").unwrap_or("liaison") } else { "liaison" },
            ),
            posts: posts_of(user.state, if adding { form.get("post").unwrap_or("") } else { "" }),
            langs: langs(tr, &if adding { form.all("languages") } else { vec!["es"] }),
            form: if adding { form } else { FormData::default() },
            errors,
            editing,
            c: page.ctx.clone(),
        },
    )
}

/// `GET /directory`.
pub async fn directory(page: Page, uri: axum::http::Uri) -> Response {
    let n = notice(page.tr(), &uri);
    render_directory(&page, FormData::default(), FieldErrors::default(), String::new(), n).await
}

/// The contact form into the API's JSON, the state being the user's.
fn contact_json(page: &Page, f: &FormData) -> Value {
    let mut m = texts(f, &["function", "name", "position", "post", "email", "phone"]);
    m.insert("state".into(), json!(page.actor().user.state));
    m.insert("languages".into(), json!(f.all("languages")));
    Value::Object(m)
}

async fn save_contact(page: Page, f: FormData, id: Option<String>) -> Response {
    let editing = id.clone().unwrap_or_default();
    let id = match id.map(|i| i.parse()) {
        None => None,
        Some(Ok(u)) => Some(u),
        Some(Err(_)) => return page.fail(AppError::NotFound("directory entry")),
    };
    let value = contact_json(&page, &f);
    let again = async |errs| render_directory(&page, f.clone(), errs, editing.clone(), String::new()).await;
    submit(&page, FieldErrors::default(), value, |data| Edit::Contact { id, data }, "/directory", again).await
}

/// `POST /directory`: adds an entry for the user's state.
pub async fn add_contact(p: PagePost) -> Response {
    save_contact(p.page, p.form, None).await
}

/// `POST /directory/{id}`: a new version of an entry of the user's state.
pub async fn change_contact(Path(id): Path<String>, p: PagePost) -> Response {
    save_contact(p.page, p.form, Some(id)).await
}

/// `POST /directory/{id}/remove`: removes an entry, once the user confirmed.
pub async fn remove_contact(Path(id): Path<String>, p: PagePost) -> Response {
    let (page, f) = (p.page, p.form);
    if f.get("confirm") != Some("yes") {
        return page.bad_form(page.tr().t("net-contact-confirm-needed"));
    }
    let Ok(uuid) = id.parse() else { return page.fail(AppError::NotFound("directory entry")) };
    match page.app.edit_workspace(page.actor(), Edit::ContactRemove { id: uuid }).await {
        Ok(r) => after(r, "/directory"),
        Err(e) => page.fail(e),
    }
}

// ---------------------------------------------------------------------------------------------
// Working groups

struct TaskLine {
    id: String,
    title: String,
    responsible: String,
    due: String,
    status: String,
    status_label: String,
    overdue: bool,
    /// The task's values, for its status form.
    statuses: Vec<Opt>,
}

struct GroupLine {
    id: String,
    title: String,
    purpose: String,
    members: String,
    tasks: Vec<TaskLine>,
    pending: usize,
    /// The user may change the group's tasks (the Secretariat, a member state's liaison).
    may_work: bool,
}

fn group_line(tr: Tr, g: &GroupView, page: &Page) -> GroupLine {
    let user = &page.actor().user;
    let may_work = match user.role {
        Role::RegionalAnalyst => true,
        Role::LiaisonOfficer => g.data.has_member(user.state),
        _ => false,
    };
    GroupLine {
        id: g.id.to_string(),
        title: title(tr, &g.data.title),
        purpose: g.data.purpose.as_ref().map(|p| p.to_string()).unwrap_or_default(),
        members: g.data.members.iter().map(|p| party(tr, p)).collect::<Vec<_>>().join(", "),
        pending: g.tasks.iter().filter(|t| t.data.status.is_pending()).count(),
        tasks: g
            .tasks
            .iter()
            .map(|t| TaskLine {
                id: t.id.to_string(),
                title: title(tr, &t.data.title),
                responsible: t.data.responsible.iter().map(|p| party(tr, p)).collect::<Vec<_>>().join(", "),
                due: t.data.due_on.map(|d| tr.date(&d)).unwrap_or_default(),
                status: t.data.status.as_str().into(),
                status_label: tr.label("agreement-status", t.data.status),
                overdue: t.overdue,
                statuses: statuses(tr, t.data.status.as_str()),
            })
            .collect(),
        may_work,
    }
}

#[derive(Template)]
#[template(path = "network_groups.html")]
struct GroupsPage {
    c: Ctx,
    mirror: bool,
    notice: String,
    rows: Vec<GroupLine>,
    keeps: bool,
    states: Vec<Opt>,
    form: FormData,
    errors: FieldErrors,
}

async fn render_groups(page: &Page, form: FormData, errors: FieldErrors, notice: String) -> Response {
    let tr = page.tr();
    let list = match page.app.groups(page.actor()).await {
        Ok(l) => l,
        Err(e) => return page.fail(e),
    };
    let here = page.app.keeps_workspace().await;
    let chosen = form.all("members");
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    html_status(
        status,
        &GroupsPage {
            mirror: !here,
            notice,
            rows: list.iter().map(|g| group_line(tr, g, page)).collect(),
            keeps: keeps(page),
            states: states(tr, &chosen),
            c: page.ctx.clone(),
            form,
            errors,
        },
    )
}

/// `GET /groups`.
pub async fn groups(page: Page, uri: axum::http::Uri) -> Response {
    let n = notice(page.tr(), &uri);
    render_groups(&page, FormData::default(), FieldErrors::default(), n).await
}

/// The members a form names: the checked states, then the organisations one per line.
fn members(f: &FormData) -> Value {
    let mut out: Vec<Value> = f.all("members").into_iter().map(|s| json!({"state": s})).collect();
    for b in f.get("bodies").unwrap_or("").lines().map(str::trim).filter(|b| !b.is_empty()) {
        out.push(json!({"body": b}));
    }
    Value::Array(out)
}

/// `POST /groups`: sets up a working group.
pub async fn create_group(p: PagePost) -> Response {
    let (page, f) = (p.page, p.form);
    let mut m = texts(&f, &["purpose"]);
    m.insert("title".into(), titles_json(&f));
    m.insert("members".into(), members(&f));
    let again = async |errs| render_groups(&page, f.clone(), errs, String::new()).await;
    let edit = |data| Edit::Group { id: None, data };
    submit(&page, FieldErrors::default(), Value::Object(m), edit, "/groups", again).await
}

#[derive(Template)]
#[template(path = "network_group.html")]
struct GroupPage {
    c: Ctx,
    mirror: bool,
    notice: String,
    g: GroupLine,
    docs: Vec<DocLine>,
    states: Vec<Opt>,
    statuses: Vec<Opt>,
    form: FormData,
    errors: FieldErrors,
}

async fn render_group(
    page: &Page,
    id: &str,
    form: FormData,
    errors: FieldErrors,
    notice: String,
) -> Response {
    let tr = page.tr();
    let Ok(uuid) = id.parse() else { return page.fail(AppError::NotFound("working group")) };
    let g = match page.app.group(page.actor(), uuid).await {
        Ok(g) => g,
        Err(e) => return page.fail(e),
    };
    let here = page.app.keeps_workspace().await;
    let chosen = form.all("responsible");
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    html_status(
        status,
        &GroupPage {
            mirror: !here,
            notice,
            g: group_line(tr, &g, page),
            docs: documents(page, LibraryLink::Group(uuid)).await,
            states: states(tr, &chosen),
            statuses: statuses(tr, form.get("status").unwrap_or("open")),
            c: page.ctx.clone(),
            form,
            errors,
        },
    )
}

/// `GET /groups/{id}`.
pub async fn group(page: Page, Path(id): Path<String>, uri: axum::http::Uri) -> Response {
    let n = notice(page.tr(), &uri);
    render_group(&page, &id, FormData::default(), FieldErrors::default(), n).await
}

/// `POST /groups/{id}/tasks`: adds a task; `POST /groups/{id}/tasks/{task}`: changes one.
async fn save_task(page: Page, f: FormData, group: String, task: Option<String>) -> Response {
    let tr = page.tr();
    let Ok(gid) = group.parse() else { return page.fail(AppError::NotFound("working group")) };
    let id = match task.map(|t| t.parse()) {
        None => None,
        Some(Ok(t)) => Some(t),
        Some(Err(_)) => return page.fail(AppError::NotFound("task")),
    };
    let mut errs = FieldErrors::default();
    dates(tr, &f, &["due_on"], &mut errs);
    let mut m = texts(&f, &["due_on", "status"]);
    m.insert("title".into(), titles_json(&f));
    m.insert("responsible".into(), parties(&f));
    let back = format!("/groups/{}", super::enc(&group));
    let again = async |errs| render_group(&page, &group, f.clone(), errs, String::new()).await;
    submit(&page, errs, Value::Object(m), |data| Edit::Task { group: gid, id, data }, &back, again).await
}

pub async fn add_task(Path(id): Path<String>, p: PagePost) -> Response {
    save_task(p.page, p.form, id, None).await
}

/// `POST /groups/{id}/tasks/{task}`: with `status_only`, moves the task's status and keeps
/// the rest as it is; else replaces the task with the form.
pub async fn change_task(Path((id, task)): Path<(String, String)>, p: PagePost) -> Response {
    let (page, f) = (p.page, p.form);
    if f.get("status_only") != Some("1") {
        return save_task(page, f, id, Some(task)).await;
    }
    let (Ok(gid), Ok(tid)) = (id.parse(), task.parse::<uuid::Uuid>()) else {
        return page.fail(AppError::NotFound("task"));
    };
    let Some(status) = f.get("status").and_then(AgreementStatus::parse) else {
        return page.bad_form(page.tr().t("v-choose-one"));
    };
    let g = match page.app.group(page.actor(), gid).await {
        Ok(g) => g,
        Err(e) => return page.fail(e),
    };
    let Some(t) = g.tasks.iter().find(|t| t.id == tid) else { return page.fail(AppError::NotFound("task")) };
    let mut data = t.data.clone();
    data.status = status;
    match page.app.edit_workspace(page.actor(), Edit::Task { group: gid, id: Some(tid), data }).await {
        Ok(r) => after(r, &format!("/groups/{}", super::enc(&id))),
        Err(e) => page.fail(e),
    }
}

// ---------------------------------------------------------------------------------------------
// The library

struct LibraryLine {
    id: String,
    title: String,
    files: Vec<FileLine>,
    /// Whether the user may add files to it here.
    may_add: bool,
    kind: String,
    summary: String,
    state: String,
    topic: String,
    language: String,
    date: String,
    restricted: String,
}

/// A library item as a meeting's or a group's document: its title (to the library) and files.
struct DocLine {
    title: String,
    href: String,
    files: Vec<FileLine>,
}

fn file_lines(tr: Tr, l: &LibraryView) -> Vec<FileLine> {
    l.files
        .iter()
        .map(|f| FileLine {
            name: f.filename.clone(),
            href: format!("/library/{}/files/{}", l.id, f.id),
            size: tr.t1("size-kb", "kb", tr.num((f.size + 1023) / 1024)),
            status: tr.label("library-text", f.text_status),
            note: f.text_note.clone().unwrap_or_default(),
        })
        .collect()
}

/// The documents of a meeting or a group (none when they cannot be read).
async fn documents(page: &Page, link: LibraryLink) -> Vec<DocLine> {
    let tr = page.tr();
    let items = page.app.library_of(page.actor(), link).await.unwrap_or_default();
    items
        .iter()
        .map(|l| DocLine {
            title: title(tr, &l.data.title),
            href: format!("/library#item-{}", l.id),
            files: file_lines(tr, l),
        })
        .collect()
}

struct FileLine {
    name: String,
    href: String,
    size: String,
    status: String,
    /// Why its text could not be read.
    note: String,
}

#[derive(Template)]
#[template(path = "network_library.html")]
struct LibraryPage {
    c: Ctx,
    mirror: bool,
    notice: String,
    q: String,
    rows: Vec<LibraryLine>,
    keeps: bool,
    kinds: Vec<Opt>,
    langs: Vec<Opt>,
    states: Vec<Opt>,
    meetings: Vec<Opt>,
    groups: Vec<Opt>,
    form: FormData,
    errors: FieldErrors,
}

async fn render_library(
    page: &Page,
    q: String,
    form: FormData,
    errors: FieldErrors,
    notice: String,
) -> Response {
    let tr = page.tr();
    let list = match page.app.library(page.actor(), Some(q.as_str()).filter(|q| !q.trim().is_empty())).await {
        Ok(l) => l,
        Err(e) => return page.fail(e),
    };
    let here = page.app.keeps_workspace().await;
    let user = &page.actor().user;
    let rows = list
        .iter()
        .map(|l| LibraryLine {
            id: l.id.to_string(),
            files: file_lines(tr, l),
            may_add: here
                && (user.role == Role::RegionalAnalyst
                    || (user.role == Role::LiaisonOfficer && l.data.state == Some(user.state))),
            title: title(tr, &l.data.title),
            kind: tr.label("library-kind", l.data.kind),
            summary: l.data.summary.as_ref().map(|s| s.to_string()).unwrap_or_default(),
            state: l.data.state.map(|s| tr.country(&s)).unwrap_or_default(),
            topic: l.data.topic.as_ref().map(|s| s.to_string()).unwrap_or_default(),
            language: tr.t(&format!("net-title-{}", l.data.language)),
            date: tr.date(&l.data.date),
            restricted: l.data.visible_to.iter().map(|s| tr.country(s)).collect::<Vec<_>>().join(", "),
        })
        .collect();
    let kinds = LibraryKind::ALL
        .iter()
        .map(|k| Opt {
            value: k.as_str().into(),
            label: tr.label("library-kind", k),
            selected: form.has("kind", k.as_str()),
        })
        .collect();
    let chosen_lang = form.get("language").unwrap_or("es").to_string();
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let (mut meetings, mut groups) = (Vec::new(), Vec::new());
    if keeps(page) {
        let none = |label: &str| Opt { value: String::new(), label: tr.t(label), selected: false };
        meetings.push(none("net-library-no-meeting"));
        for m in page.app.meetings(page.actor()).await.unwrap_or_default() {
            let value = m.id.to_string();
            let selected = form.has("meeting", &value);
            meetings.push(Opt {
                label: format!("{} ({})", title(tr, &m.data.title), tr.date(&m.data.starts_on)),
                value,
                selected,
            });
        }
        groups.push(none("net-library-no-group"));
        for g in page.app.groups(page.actor()).await.unwrap_or_default() {
            let value = g.id.to_string();
            let selected = form.has("group", &value);
            groups.push(Opt { label: title(tr, &g.data.title), value, selected });
        }
    }
    html_status(
        status,
        &LibraryPage {
            meetings,
            groups,
            mirror: !here,
            notice,
            q,
            rows,
            keeps: keeps(page),
            kinds,
            langs: langs(tr, &[chosen_lang.as_str()]),
            states: states(tr, &form.all("visible_to")),
            c: page.ctx.clone(),
            form,
            errors,
        },
    )
}

/// `GET /library` (`?q=` searches).
pub async fn library(page: Page, uri: axum::http::Uri) -> Response {
    let n = notice(page.tr(), &uri);
    let q = FormData::parse(uri.query().unwrap_or("").as_bytes()).unwrap_or_default().value("q");
    render_library(&page, q, FormData::default(), FieldErrors::default(), n).await
}

/// `POST /library/{id}/files`: adds a file to an item (multipart, as a case's documents).
pub async fn add_library_file(Path(id): Path<String>, page: Page, mp: axum::extract::Multipart) -> Response {
    let key = format!("file-{id}");
    let max = enlace_domain::network::LIBRARY_FILE_MAX_BYTES;
    let up = match super::read_upload(&page, mp, max, &key).await {
        Ok(up) => up,
        Err(r) => return r,
    };
    let again =
        async |errs| render_library(&page, String::new(), FormData::default(), errs, String::new()).await;
    let Some((name, ct, bytes)) = up.file else { return again(up.errs).await };
    let Ok(item) = id.parse::<uuid::Uuid>() else { return page.fail(AppError::NotFound("library item")) };
    match page.app.add_library_file(page.actor(), item, &name, &ct, bytes).await {
        Ok(enlace_app::network::FileAdded::Kept(_)) => see_other(&format!("/library#item-{item}")),
        Ok(enlace_app::network::FileAdded::SentToHub { .. }) => see_other("/library?sent=1"),
        Err(AppError::Validation(v)) => {
            let mut errs = FieldErrors::default();
            for f in &v.0 {
                errs.push(key.clone(), localize(page.tr(), &f.message));
            }
            again(errs).await
        }
        Err(AppError::Conflict(m)) => {
            let mut errs = FieldErrors::default();
            errs.push(key.clone(), localize(page.tr(), &m));
            again(errs).await
        }
        Err(e) => page.fail(e),
    }
}

/// `GET /library/{id}/files/{file}`: downloads a file.
pub async fn library_file(Path((id, file)): Path<(String, String)>, page: Page) -> Response {
    let (Ok(item), Ok(file)) = (id.parse::<uuid::Uuid>(), file.parse::<uuid::Uuid>()) else {
        return page.fail(AppError::NotFound("file"));
    };
    match page.app.library_file(page.actor(), file).await {
        Ok((f, bytes)) if f.item == item => crate::api::network::file_response(&f, bytes),
        Ok(_) => page.fail(AppError::NotFound("file")),
        Err(e) => page.fail(e),
    }
}

/// `POST /library`: shares an item (in the name of the user's state, for a liaison officer).
pub async fn add_library_item(p: PagePost) -> Response {
    let (page, f) = (p.page, p.form);
    let tr = page.tr();
    let mut errs = FieldErrors::default();
    dates(tr, &f, &["date"], &mut errs);
    let mut m = texts(&f, &["summary", "kind", "topic", "audience", "language", "date", "meeting", "group"]);
    m.insert("title".into(), titles_json(&f));
    m.insert("visible_to".into(), json!(f.all("visible_to")));
    let user = &page.actor().user;
    if user.role == Role::LiaisonOfficer {
        m.insert("state".into(), json!(user.state));
    }
    let again = async |errs| render_library(&page, String::new(), f.clone(), errs, String::new()).await;
    submit(&page, errs, Value::Object(m), |data| Edit::Library { id: None, data }, "/library", again).await
}
