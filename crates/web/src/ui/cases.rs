//! The case list (filters, search, sorting, pages, CSV export) and the case page (summary,
//! timeline, documents, consents, status changes, assignment).

use askama::Template;
use axum::extract::{Multipart, Path};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use enlace_app::AppError;
use enlace_app::cases::{CaseFilter, CaseUpdate, CaseView, TransitionRequest};
use enlace_domain::case::{Case, CaseSummary, Category, Protection, Subtype, Vulnerability};
use enlace_domain::ids::CaseId;
use enlace_domain::parts::{ConsentData, ConsentGiver, ConsentScope};
use enlace_domain::person::{Birth, LongText, PersonData, ShortText};
use enlace_domain::record::{ATTACHMENT_MAX_BYTES, Action, ActionData, ActionKind, Consent, Transition};
use enlace_domain::workflow::Status;

use super::forms::{FieldErrors, FormData};
use super::i18n::Tr;
use super::{Ctx, Page, PagePost, enc, html, html_status, localize, see_other};
use crate::api::cases::{CaseListParams, filter_from};
use crate::report::{FileFormat, attachment, exports};

/// A case as a list row shows it.
pub struct Row {
    pub id: String,
    pub number: String,
    pub name: String,
    pub restricted: bool,
    pub status: String,
    pub status_label: String,
    pub category: String,
    pub subtype: String,
    pub post: String,
    pub opened: String,
    pub overdue: bool,
    pub flags: Vec<String>,
}

impl Row {
    pub fn new(tr: Tr, c: &CaseSummary) -> Row {
        Row {
            id: c.id.to_string(),
            number: c.number.to_string(),
            name: c.person_name.clone(),
            restricted: c.restricted,
            status: c.status.as_str().to_string(),
            status_label: tr.label("status", c.status),
            category: tr.label("category", c.category),
            subtype: tr.label("subtype", c.subtype),
            post: c.post.as_ref().map(|p| p.to_string()).unwrap_or_default(),
            opened: tr.date(&c.opened_at.date_naive()),
            overdue: c.first_contact_overdue,
            flags: c.vulnerabilities.iter().map(|v| tr.label("vuln", v)).collect(),
        }
    }
}

/// An option of a `<select>`.
pub struct Opt {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

pub fn options<T: Copy + std::fmt::Display>(tr: Tr, prefix: &str, all: &[T], selected: &[&str]) -> Vec<Opt> {
    all.iter()
        .map(|v| {
            let value = v.to_string();
            Opt { selected: selected.contains(&value.as_str()), label: tr.label(prefix, v), value }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "cases.html")]
struct ListPage {
    c: Ctx,
    r: Results,
    q: String,
    statuses: Vec<Opt>,
    categories: Vec<Opt>,
    subtypes: Vec<Opt>,
    flags: Vec<Opt>,
    sorts: Vec<Opt>,
    mine: bool,
    overdue: bool,
    error: String,
}

/// The part of the list page that htmx replaces as the filters change.
#[derive(Template)]
#[template(path = "cases_results.html")]
struct ResultsPart {
    c: Ctx,
    r: Results,
}

struct Results {
    rows: Vec<Row>,
    /// Links: this list's query without cursor, the next page, the CSV export.
    base: String,
    next: String,
    export: String,
    export_xlsx: String,
    export_pdf: String,
    first_page: bool,
    sort_links: Vec<(String, String, String)>,
}

/// The query pairs of a list URL, without blanks (an empty filter input means "any").
fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.trim().to_string()))
        .filter(|(_, v)| !v.is_empty())
        .collect()
}

fn encode_pairs(pairs: &[(String, String)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// Reads list filters the way the API does (the same names and rules).
fn parse_filter(page: &Page, pairs: &[(String, String)]) -> Result<CaseFilter, String> {
    let encoded = encode_pairs(pairs);
    let params: CaseListParams = serde_urlencoded::from_str(&encoded).map_err(|e| e.to_string())?;
    filter_from(params, page.actor().user.id)
        .map_err(|e| e.errors.first().map(|f| format!("{}: {}", f.field, f.message)).unwrap_or(e.detail))
}

pub async fn list(page: Page, uri: axum::http::Uri) -> Response {
    let pairs = query_pairs(uri.query());
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let tr = page.tr();
    let (filter, error) = match parse_filter(&page, &pairs) {
        Ok(f) => (f, String::new()),
        Err(e) => (CaseFilter { limit: 50, descending: true, ..Default::default() }, e),
    };
    let result = if error.is_empty() {
        page.app.list_cases(page.actor(), filter).await
    } else {
        Ok(enlace_app::cases::CasePage { items: vec![], next_cursor: None })
    };
    let list = match result {
        Ok(l) => l,
        Err(AppError::Validation(v)) => {
            let msg =
                v.0.iter().map(|f| format!("{}: {}", f.field, localize(tr, &f.message))).collect::<Vec<_>>();
            return super::render_error(&page.ctx, StatusCode::BAD_REQUEST, &msg.join("; "));
        }
        Err(e) => return page.fail(e),
    };
    let without = |names: &[&str]| -> Vec<(String, String)> {
        pairs.iter().filter(|(k, _)| !names.contains(&k.as_str())).cloned().collect()
    };
    let base_pairs = without(&["cursor"]);
    let base = encode_pairs(&base_pairs);
    let next = list
        .next_cursor
        .as_ref()
        .map(|cur| {
            let mut p = base_pairs.clone();
            p.push(("cursor".into(), cur.clone()));
            format!("/cases?{}", encode_pairs(&p))
        })
        .unwrap_or_default();
    let sort_now = get("sort").unwrap_or("-opened_at");
    let sort_links = [("number", "list-number"), ("opened_at", "list-opened")]
        .iter()
        .map(|(key, label)| {
            let target = if sort_now == *key { format!("-{key}") } else { key.to_string() };
            let mut p = without(&["cursor", "sort"]);
            p.push(("sort".into(), target));
            let aria = if sort_now == *key {
                "ascending"
            } else if sort_now == format!("-{key}") {
                "descending"
            } else {
                "none"
            };
            (tr.t(label), format!("/cases?{}", encode_pairs(&p)), aria.to_string())
        })
        .collect();
    let r = Results {
        rows: list.items.iter().map(|c| Row::new(tr, c)).collect(),
        export: format!("/cases/export.csv?{base}"),
        export_xlsx: format!("/cases/export.xlsx?{base}"),
        export_pdf: format!("/cases/export.pdf?{base}"),
        base: format!("/cases?{base}"),
        next,
        first_page: get("cursor").is_none(),
        sort_links,
    };
    let mut res = if page.headers.contains_key("hx-request") {
        html(&ResultsPart { c: page.ctx.clone(), r })
    } else {
        let sel = |k: &str| -> Vec<&str> { get(k).map(|v| v.split(',').collect()).unwrap_or_default() };
        let sorts = ["-opened_at", "opened_at", "-updated_at", "number"]
            .iter()
            .map(|s| Opt {
                value: s.to_string(),
                label: tr.t(&format!(
                    "sort-{}",
                    s.trim_start_matches('-').to_string() + if s.starts_with('-') { "-desc" } else { "" }
                )),
                selected: *s == sort_now,
            })
            .collect();
        let status = if error.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
        html_status(
            status,
            &ListPage {
                q: get("q").unwrap_or("").to_string(),
                statuses: options(tr, "status", Status::ALL, &sel("status")),
                categories: options(tr, "category", Category::ALL, &sel("category")),
                subtypes: options(tr, "subtype", Subtype::ALL, &sel("subtype")),
                flags: options(tr, "vuln", Vulnerability::ALL, &sel("vulnerabilities")),
                sorts,
                mine: get("assigned_officer") == Some("me"),
                overdue: get("overdue") == Some("true"),
                error,
                c: page.ctx.clone(),
                r,
            },
        )
    };
    res.headers_mut().insert(header::VARY, HeaderValue::from_static("HX-Request"));
    res
}

pub async fn export_csv(page: Page, uri: axum::http::Uri) -> Response {
    export(page, FileFormat::Csv, uri).await
}

pub async fn export_xlsx(page: Page, uri: axum::http::Uri) -> Response {
    export(page, FileFormat::Xlsx, uri).await
}

pub async fn export_pdf(page: Page, uri: axum::http::Uri) -> Response {
    export(page, FileFormat::Pdf, uri).await
}

/// The cases the list shows, as CSV (codes, for other programs), XLSX or PDF (in the
/// reader's language); at most 10,000 rows, audited.
async fn export(page: Page, format: FileFormat, uri: axum::http::Uri) -> Response {
    let pairs = query_pairs(uri.query());
    let filter = match parse_filter(&page, &pairs) {
        Ok(f) => f,
        Err(e) => return super::render_error(&page.ctx, StatusCode::BAD_REQUEST, &e),
    };
    let rows = match page.app.export_case_list(page.actor(), filter.clone(), format.ext()).await {
        Ok(rows) => rows,
        Err(e) => return page.fail(e),
    };
    let body = match format {
        FileFormat::Csv => enlace_app::cases::case_list_csv(&rows),
        FileFormat::Xlsx | FileFormat::Pdf => {
            let doc = exports::case_list(page.tr(), &filter, &rows, Utc::now());
            let made = if format == FileFormat::Pdf { doc.pdf() } else { doc.xlsx() };
            made.map_err(AppError::Unavailable)
        }
    };
    match body {
        Ok(b) => attachment(b, format, "cases"),
        Err(e) => page.fail(e),
    }
}

/// One entry of the case's timeline.
pub struct Entry {
    pub at: DateTime<Utc>,
    /// When it was recorded: orders entries of the same minute.
    pub recorded: DateTime<Utc>,
    pub when: String,
    pub kind: String,
    pub text: String,
    pub follow_up: String,
}

pub struct DocRow {
    pub href: String,
    pub filename: String,
    pub size: String,
    pub when: String,
}

pub struct ConsentRow {
    pub giver: String,
    pub scope: String,
    pub recipient: String,
    pub given: String,
    pub withdrawn: String,
}

/// Label and value lines of a section of the summary.
pub struct Facts {
    pub title: String,
    pub lines: Vec<(String, String)>,
}

/// A share of the case with another state, as the case page lists it.
struct ShareRow {
    id: String,
    state: String,
    kind: String,
    status: String,
    fields: String,
    purpose: String,
    since: String,
    updated: String,
}

#[derive(Template)]
#[template(path = "case.html")]
struct CasePage {
    c: Ctx,
    id: String,
    number: String,
    version: i64,
    name: String,
    status_label: String,
    status: String,
    restricted: bool,
    overdue: bool,
    facts: Vec<Facts>,
    timeline: Vec<Entry>,
    docs: Vec<DocRow>,
    consents: Vec<ConsentRow>,
    matches: Vec<super::matches::MatchRowView>,
    shares: Vec<ShareRow>,
    /// The cross-border linkage service, when the case is one it compares.
    linkage: Option<super::linkage::CaseSection>,
    /// The case was handed over to another state's node (read-only here).
    handed_over: Option<String>,
    next_statuses: Vec<Opt>,
    /// The states the case can be offered to (none: no offer form).
    share_states: Vec<Opt>,
    share_fields: Vec<Opt>,
    share_open: bool,
    action_kinds: Vec<Opt>,
    givers: Vec<Opt>,
    scopes: Vec<Opt>,
    assigned_to_me: bool,
    assigned: bool,
    now_local: String,
    today: String,
    errors: FieldErrors,
    form: FormData,
    notice: String,
}

fn case_id(s: &str) -> Result<CaseId, AppError> {
    s.parse().map_err(|_| AppError::NotFound("case"))
}

pub fn person_name(p: &PersonData) -> String {
    p.given_names
        .iter()
        .map(|n| n.as_str())
        .chain(p.surnames.iter().map(|n| n.as_str()))
        .collect::<Vec<_>>()
        .join(" ")
}

pub(super) fn birth_text(tr: Tr, b: &Birth) -> String {
    match b {
        Birth::Date { date } => tr.date(date),
        Birth::Year { year } => year.to_string(),
        Birth::EstimatedAge { min_years, max_years, estimated_on } => {
            format!(
                "{} ({})",
                tr.t1("case-age-range", "range", format!("{min_years}–{max_years}")),
                tr.date(estimated_on)
            )
        }
        Birth::Unknown => tr.t("unknown"),
    }
}

fn short(t: &Option<ShortText>) -> String {
    t.as_ref().map(|t| t.as_str().to_string()).unwrap_or_default()
}

fn long(t: &Option<LongText>) -> String {
    t.as_ref().map(|t| t.as_str().to_string()).unwrap_or_default()
}

/// The summary of a case, section by section, skipping empty lines.
pub(crate) fn facts(tr: Tr, c: &Case, v: &CaseView) -> Vec<Facts> {
    let mut out = Vec::new();
    let mut push = |title: &str, lines: Vec<(&str, String)>| {
        let lines: Vec<(String, String)> =
            lines.into_iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| (tr.t(k), v)).collect();
        if !lines.is_empty() {
            out.push(Facts { title: tr.t(title), lines });
        }
    };
    let p = &c.person;
    push(
        "case-person",
        vec![
            ("person-given-names", p.given_names.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(" ")),
            ("person-surnames", p.surnames.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(" ")),
            ("person-sex", tr.label("sex", p.sex.as_str())),
            ("person-birth", birth_text(tr, &p.birth)),
            ("person-birth-place", short(&p.birth_place)),
            (
                "person-nationalities",
                p.nationalities.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", "),
            ),
            (
                "person-documents",
                p.documents
                    .iter()
                    .map(|d| format!("{} {}", d.issuing_state, d.number.as_str()))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            (
                "person-languages",
                p.languages.iter().map(|l| l.as_str().to_string()).collect::<Vec<_>>().join(", "),
            ),
        ],
    );
    let protection = match &c.protection {
        Protection::Pending => tr.t("protection-pending"),
        Protection::Accepted { at } => tr.t1("protection-accepted-at", "when", tr.datetime(at)),
        Protection::NotPossible { reason } => tr.label("protection-not-possible", reason.as_str()),
    };
    push(
        "case-summary",
        vec![
            ("case-category", tr.label("category", c.category)),
            ("case-subtype", tr.label("subtype", c.subtype)),
            ("case-post", c.post.as_ref().map(|p| p.to_string()).unwrap_or_default()),
            ("case-host-state", tr.country(&c.host_state)),
            ("case-owner-state", tr.country(&c.owner_state)),
            ("case-protection", protection),
            ("case-legal-basis", tr.label("basis", c.legal_basis.as_str())),
            (
                "case-flags",
                c.vulnerabilities.iter().map(|f| tr.label("vuln", f)).collect::<Vec<_>>().join(", "),
            ),
            ("case-opened", tr.datetime(&c.opened_at)),
            ("case-narrative", long(&c.narrative)),
        ],
    );
    if let Some(d) = &c.parts.detention {
        let delays = v.detention_delays.as_ref();
        push(
            "section-detention",
            vec![
                ("detention-detained-at", tr.datetime(&d.detained_at)),
                ("detention-place", d.place.as_str().to_string()),
                ("detention-authority", short(&d.authority)),
                ("detention-notice-received-at", tr.opt_datetime(&d.notice_received_at)),
                ("detention-first-contact-at", tr.opt_datetime(&d.first_contact_at)),
                (
                    "detention-first-contact-due",
                    delays.map(|x| tr.datetime(&x.first_contact_due_at)).unwrap_or_default(),
                ),
                ("detention-first-visit-at", tr.opt_datetime(&d.first_visit_at)),
            ],
        );
    }
    if let Some(ch) = &c.parts.child {
        push(
            "section-child",
            vec![
                ("child-accompaniment", tr.label("accompaniment", ch.accompaniment.as_str())),
                (
                    "child-guardian",
                    ch.guardian
                        .as_ref()
                        .map(|g| format!("{} ({})", g.name.as_str(), g.relationship.as_str()))
                        .unwrap_or_default(),
                ),
                ("child-family-tracing", tr.label("tracing", ch.family_tracing.as_str())),
                ("child-host-authority", short(&ch.host_protection_authority)),
                ("child-home-authority", short(&ch.home_protection_authority)),
                (
                    "child-best-interest",
                    ch.best_interest
                        .as_ref()
                        .map(|b| {
                            format!(
                                "{} — {}: {}",
                                tr.date(&b.date),
                                b.author.as_str(),
                                b.conclusions.as_str()
                            )
                        })
                        .unwrap_or_default(),
                ),
                (
                    "child-return-plan",
                    ch.return_plan
                        .as_ref()
                        .map(|r| {
                            format!(
                                "{} — {} — {}",
                                tr.date(&r.date),
                                tr.label("route", r.route.as_str()),
                                r.receiving_authority.as_str()
                            )
                        })
                        .unwrap_or_default(),
                ),
                ("child-views", long(&ch.child_views)),
            ],
        );
    }
    if let Some(d) = &c.parts.death {
        push(
            "section-death",
            vec![
                ("death-date", tr.date(&d.date_of_death)),
                ("death-place", d.place.as_str().to_string()),
                ("death-cause", short(&d.cause)),
                ("death-remains-status", tr.label("remains", d.remains_status.as_str())),
                ("death-remains-location", short(&d.remains_location)),
                ("death-repatriation", tr.label("repatriation", d.repatriation.as_str())),
            ],
        );
    }
    if let Some(m) = &c.parts.missing {
        push(
            "section-missing",
            vec![
                ("missing-reported-by", tr.label("reporter", m.reported_by.as_str())),
                ("missing-reporter-name", short(&m.reporter_name)),
                ("missing-last-seen-date", tr.opt_date(&m.last_seen_date)),
                ("missing-last-seen-place", short(&m.last_seen_place)),
                ("missing-route", short(&m.route)),
                ("missing-description", long(&m.physical_description)),
            ],
        );
    }
    if let Some(l) = &c.parts.labour {
        push(
            "section-labour",
            vec![
                ("labour-claim-type", tr.label("claim", l.claim_type.as_str())),
                ("labour-employer", short(&l.employer)),
                ("labour-sector", short(&l.sector)),
                (
                    "labour-amount",
                    l.amount_owed
                        .as_ref()
                        .map(|m| format!("{} {}", tr.num(m.minor_units / 100), m.currency))
                        .unwrap_or_default(),
                ),
            ],
        );
    }
    out
}

fn local_input(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M").to_string()
}

/// A `datetime-local` input's value (read as UTC, as the form says).
pub fn parse_local(s: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S"))
        .ok()
        .map(|n| n.and_utc())
}

pub fn parse_day(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

/// A case's timeline: its transitions and actions, newest first.
pub(crate) fn timeline(tr: Tr, transitions: &[Transition], actions: &[Action]) -> Vec<Entry> {
    let mut timeline: Vec<Entry> = transitions
        .iter()
        .map(|t| Entry {
            at: t.at,
            recorded: t.at,
            when: tr.datetime(&t.at),
            kind: match t.from {
                None => tr.t("timeline-opened"),
                Some(_) => tr.t1("timeline-status", "status", tr.label("status", t.to)),
            },
            text: t.reason.clone().unwrap_or_default(),
            follow_up: String::new(),
        })
        .chain(actions.iter().map(|x| {
            Entry {
                at: x.data.occurred_at,
                recorded: x.created_at,
                when: tr.datetime(&x.data.occurred_at),
                kind: tr.label("action", x.data.kind),
                text: x.data.text.as_str().to_string(),
                follow_up: x
                    .data
                    .follow_up_on
                    .map(|d| tr.t1("timeline-follow-up", "date", tr.date(&d)))
                    .unwrap_or_default(),
            }
        }))
        .collect();
    // Newest first; times are entered to the minute, so within a minute, the order recorded.
    let minute = |t: &DateTime<Utc>| t.timestamp().div_euclid(60);
    timeline.sort_by_key(|x| std::cmp::Reverse((minute(&x.at), x.recorded)));
    timeline
}

/// A case's consents as the case page and the subject access export list them.
pub(crate) fn consent_rows(tr: Tr, consents: &[Consent]) -> Vec<ConsentRow> {
    consents
        .iter()
        .map(|k| ConsentRow {
            giver: format!(
                "{}{}",
                tr.label("giver", k.data.given_by.as_str()),
                k.data.giver_name.as_ref().map(|n| format!(" — {}", n.as_str())).unwrap_or_default()
            ),
            scope: tr.label("scope", k.data.scope.as_str()),
            recipient: short(&k.data.recipient),
            given: tr.datetime(&k.data.given_at),
            withdrawn: tr.opt_datetime(&k.withdrawn_at),
        })
        .collect()
}

async fn render_case(page: &Page, id: &str, errors: FieldErrors, form: FormData, notice: String) -> Response {
    let tr = page.tr();
    let app = &page.app;
    let a = page.actor();
    let id = match case_id(id) {
        Ok(id) => id,
        Err(e) => return page.fail(e),
    };
    let v = match app.get_case(a, id).await {
        Ok(v) => v,
        Err(e) => return page.fail(e),
    };
    let (actions, transitions, docs, consents, matches, shares, linkage, targets) = match tokio::try_join!(
        app.actions(a, id),
        app.transitions(a, id),
        app.attachments(a, id),
        app.consents(a, id),
        app.matches_of(a, id),
        app.case_shares(a, id),
        app.case_linkage(a, id),
        async { Ok(app.share_targets().await) }
    ) {
        Ok(x) => x,
        Err(e) => return page.fail(e),
    };
    let c = &v.case;
    let timeline = timeline(tr, &transitions, &actions);
    let given =
        shares.iter().find(|s| s.side == enlace_app::fed::ShareSide::Offerer && !s.handover.owned_here);
    let now = Utc::now();
    let page_data = CasePage {
        id: c.id.to_string(),
        number: c.number.to_string(),
        version: c.version,
        name: person_name(&c.person),
        status_label: tr.label("status", c.status),
        status: c.status.as_str().to_string(),
        restricted: c.is_restricted(),
        overdue: v.detention_delays.as_ref().is_some_and(|d| d.first_contact_overdue),
        facts: facts(tr, c, &v),
        timeline,
        docs: docs
            .iter()
            .map(|d| DocRow {
                href: format!("/api/v1/cases/{}/attachments/{}", c.id, d.id),
                filename: d.filename.clone(),
                size: tr.t1("size-kb", "kb", tr.num((d.size + 1023) / 1024)),
                when: tr.datetime(&d.created_at),
            })
            .collect(),
        consents: consent_rows(tr, &consents),
        matches: matches.iter().map(|m| super::matches::match_view(tr, m)).collect(),
        linkage: super::linkage::case_section(tr, &linkage),
        handed_over: given.map(|s| tr.t1("handover-given", "peer", tr.country(&s.peer_state))),
        shares: shares
            .iter()
            .map(|s| ShareRow {
                id: s.id.to_string(),
                state: tr.country(&s.peer_state),
                kind: tr.label("share-kind", &s.kind),
                status: tr.label("share-state", enlace_app::fed::share_state_name(s.state)),
                fields: s.fields.join(", "),
                purpose: s.purpose.clone(),
                since: tr.datetime(&s.created_at),
                updated: tr.datetime(&s.updated_at),
            })
            .collect(),
        share_open: form.get("to_state").is_some(),
        // Offered by those who work cases, while the case is held here.
        share_states: if page.ctx.works_cases() && given.is_none() {
            targets
                .iter()
                .map(|t| Opt {
                    value: t.to_string(),
                    label: tr.country(t),
                    selected: form.has("to_state", t.as_str()),
                })
                .collect()
        } else {
            Vec::new()
        },
        share_fields: {
            use enlace_app::fed::fields::{ASSISTANCE_FIELDS, CASE_FIELDS, PERSON_FIELDS};
            let chosen = form.all("fields");
            CASE_FIELDS
                .iter()
                .chain(PERSON_FIELDS)
                .map(|f| Opt {
                    value: f.to_string(),
                    label: tr.label("sfield", f),
                    selected: if chosen.is_empty() {
                        ASSISTANCE_FIELDS.contains(f)
                    } else {
                        chosen.contains(f)
                    },
                })
                .collect()
        },
        next_statuses: c
            .status
            .next()
            .iter()
            .map(|s| Opt {
                value: s.as_str().into(),
                label: tr.label("status", s),
                selected: form.has("to", s.as_str()),
            })
            .collect(),
        action_kinds: options(tr, "action", ActionKind::ALL, &[form.value("kind").as_str()]),
        givers: options(tr, "giver", ConsentGiver::ALL, &[form.value("given_by").as_str()]),
        scopes: options(tr, "scope", ConsentScope::ALL, &[form.value("scope").as_str()]),
        assigned_to_me: c.assigned_officer == Some(a.user.id),
        assigned: c.assigned_officer.is_some(),
        now_local: local_input(now),
        today: now.date_naive().to_string(),
        errors,
        form,
        notice,
        c: page.ctx.clone(),
    };
    let status = if page_data.errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    html_status(status, &page_data)
}

/// `GET /cases/{id}` (`?share_to=GT`: with the offer form open, that state chosen, as the
/// linkage candidates' next step links it).
pub async fn show(page: Page, Path(id): Path<String>, uri: axum::http::Uri) -> Response {
    let mut form = FormData::default();
    if let Some(to) = query_pairs(uri.query()).into_iter().find(|(k, _)| k == "share_to").map(|(_, v)| v) {
        form.0.push(("to_state".into(), to));
    }
    render_case(&page, &id, FieldErrors::default(), form, String::new()).await
}

/// After a change: back to the case (POST-redirect-GET), at the part that changed.
fn back_to(id: &str, anchor: &str) -> Response {
    see_other(&format!("/cases/{}#{anchor}", enc(id)))
}

/// Field errors from the domain, moved onto the form's inputs (`prefix` + field).
fn field_errors(tr: Tr, e: &enlace_domain::ValidationErrors, prefix: &str) -> FieldErrors {
    let mut out = FieldErrors::default();
    for f in &e.0 {
        out.push(format!("{prefix}{}", f.field), localize(tr, &f.message));
    }
    out
}

/// Shows the case again with the form's errors, or the error page for anything else.
async fn refused(page: &Page, id: &str, form: FormData, e: AppError, prefix: &str) -> Response {
    match e {
        AppError::Validation(v) => {
            render_case(page, id, field_errors(page.tr(), &v, prefix), form, String::new()).await
        }
        AppError::Rule(m) | AppError::Conflict(m) => {
            let mut errs = FieldErrors::default();
            errs.push(format!("{prefix}form"), localize(page.tr(), &m));
            render_case(page, id, errs, form, String::new()).await
        }
        e => page.fail(e),
    }
}

pub async fn add_action(Path(id): Path<String>, p: PagePost) -> Response {
    let (page, form) = (p.page, p.form);
    let tr = page.tr();
    let mut errs = FieldErrors::default();
    let kind = form.get("kind").and_then(ActionKind::parse);
    if kind.is_none() {
        errs.push("action.kind", tr.t("v-choose-one"));
    }
    let occurred = match form.get("occurred_at") {
        None => Some(Utc::now()),
        Some(s) => parse_local(s),
    };
    if occurred.is_none() {
        errs.push("action.occurred_at", tr.t("v-not-a-time"));
    }
    let text = match form.get("text").map(LongText::parse) {
        Some(Ok(t)) => Some(t),
        Some(Err(m)) => {
            errs.push("action.text", localize(tr, &m));
            None
        }
        None => {
            errs.push("action.text", tr.t("v-required"));
            None
        }
    };
    let follow_up_on = match form.get("follow_up_on") {
        None => None,
        Some(s) => match parse_day(s) {
            Some(d) => Some(d),
            None => {
                errs.push("action.follow_up_on", tr.t("v-not-a-date"));
                None
            }
        },
    };
    let (Some(kind), Some(occurred_at), Some(text), true) = (kind, occurred, text, errs.is_empty()) else {
        return render_case(&page, &id, errs, form, String::new()).await;
    };
    let Ok(cid) = case_id(&id) else { return page.fail(AppError::NotFound("case")) };
    match page.app.add_action(page.actor(), cid, ActionData { kind, occurred_at, text, follow_up_on }).await {
        Ok(_) => back_to(&id, "timeline"),
        Err(e) => refused(&page, &id, form, e, "action.").await,
    }
}

pub async fn transition(Path(id): Path<String>, p: PagePost) -> Response {
    let (page, form) = (p.page, p.form);
    let tr = page.tr();
    let Some(to) = form.get("to").and_then(Status::parse) else {
        let mut errs = FieldErrors::default();
        errs.push("transition.to", tr.t("v-choose-one"));
        return render_case(&page, &id, errs, form, String::new()).await;
    };
    let version = form.get("version").and_then(|v| v.parse::<i64>().ok());
    let Ok(cid) = case_id(&id) else { return page.fail(AppError::NotFound("case")) };
    let req = TransitionRequest { to, reason: form.get("reason").map(str::to_string), version };
    match page.app.transition(page.actor(), cid, None, req).await {
        Ok(_) => back_to(&id, "status"),
        Err(e) => refused(&page, &id, form, e, "transition.").await,
    }
}

pub async fn assign(Path(id): Path<String>, p: PagePost) -> Response {
    let (page, form) = (p.page, p.form);
    let Ok(cid) = case_id(&id) else { return page.fail(AppError::NotFound("case")) };
    let me = page.actor().user.id;
    let to = match form.get("to") {
        Some("me") => Some(me),
        _ => None,
    };
    let u = CaseUpdate {
        version: form.get("version").and_then(|v| v.parse().ok()),
        assigned_officer: Some(to),
        ..Default::default()
    };
    match page.app.update_case(page.actor(), cid, None, u).await {
        Ok(_) => back_to(&id, "assignment"),
        Err(e) => refused(&page, &id, form, e, "assign.").await,
    }
}

/// `POST /cases/{id}/shares`: offers the case to another state (a referral: the chosen
/// fields, a purpose, a legal instrument; through the consent gate). Then the share's page.
pub async fn offer_share(Path(id): Path<String>, p: PagePost) -> Response {
    let (page, form) = (p.page, p.form);
    let tr = page.tr();
    let mut errs = FieldErrors::default();
    let to_state = match enlace_domain::country::CountryCode::parse(form.get("to_state").unwrap_or("")) {
        Ok(c) => Some(c),
        Err(_) => {
            errs.push("share.to_state", tr.t("v-choose-one"));
            None
        }
    };
    let mut text = |name: &str| match ShortText::parse(form.get(name).unwrap_or("")) {
        Ok(t) => Some(t),
        Err(m) => {
            errs.push(format!("share.{name}"), localize(tr, &m));
            None
        }
    };
    let (purpose, legal_instrument) = (text("purpose"), text("legal_instrument"));
    let fields: Vec<String> = form.all("fields").into_iter().map(str::to_string).collect();
    if fields.is_empty() {
        errs.push("share.fields", tr.t("v-choose-one"));
    }
    let exception = match super::linkage::exception_of(tr, &form) {
        Ok(e) => e,
        Err(m) => {
            errs.push("share.form", m);
            None
        }
    };
    let (Some(to_state), Some(purpose), Some(legal_instrument), true) =
        (to_state, purpose, legal_instrument, errs.is_empty())
    else {
        return render_case(&page, &id, errs, form, String::new()).await;
    };
    let Ok(cid) = case_id(&id) else { return page.fail(AppError::NotFound("case")) };
    let req = enlace_app::fed::ShareRequest { to_state, fields, purpose, legal_instrument, exception };
    match page.app.offer_share(page.actor(), cid, req).await {
        Ok(share) => see_other(&format!("/shares/{}", share.id)),
        // The consent gate's refusal says what is missing, beside the form.
        Err(AppError::Forbidden(m)) => {
            let mut errs = FieldErrors::default();
            errs.push("share.form", localize(tr, &m));
            render_case(&page, &id, errs, form, String::new()).await
        }
        Err(e) => refused(&page, &id, form, e, "share.").await,
    }
}

/// The subject access export of the case's person (supervisors): everything the node holds
/// about them, as a PDF or workbook in the officer's language; each case released is logged
/// as a disclosure to the person.
pub async fn subject_access(Path(id): Path<String>, p: PagePost) -> Response {
    let (page, form) = (p.page, p.form);
    let tr = page.tr();
    let mut errs = FieldErrors::default();
    let mut text = |name: &str| match ShortText::parse(form.get(name).unwrap_or("")) {
        Ok(t) => Some(t),
        Err(m) => {
            errs.push(format!("sa.{name}"), localize(tr, &m));
            None
        }
    };
    let (requested_by, legal_instrument) = (text("requested_by"), text("legal_instrument"));
    let (Some(requested_by), Some(legal_instrument)) = (requested_by, legal_instrument) else {
        return render_case(&page, &id, errs, form, String::new()).await;
    };
    let format = if form.get("format") == Some("xlsx") { FileFormat::Xlsx } else { FileFormat::Pdf };
    let Ok(cid) = case_id(&id) else { return page.fail(AppError::NotFound("case")) };
    let a = page.actor();
    let person = match page.app.get_case(a, cid).await {
        Ok(v) => v.case.person_id,
        Err(e) => return page.fail(e),
    };
    let r = enlace_app::subject_access::SubjectAccessRequest { requested_by, legal_instrument };
    let made = match page.app.subject_access(a, person, r.clone()).await {
        Ok(x) => crate::api::persons::subject_access_file(&x, &r, tr, format),
        Err(e) => Err(e),
    };
    match made {
        Ok(res) => res,
        Err(e) => refused(&page, &id, form, e, "sa.").await,
    }
}

pub async fn add_consent(Path(id): Path<String>, p: PagePost) -> Response {
    let (page, form) = (p.page, p.form);
    let tr = page.tr();
    let mut errs = FieldErrors::default();
    let given_by = form.get("given_by").and_then(ConsentGiver::parse);
    if given_by.is_none() {
        errs.push("consent.given_by", tr.t("v-choose-one"));
    }
    let scope = form.get("scope").and_then(ConsentScope::parse);
    if scope.is_none() {
        errs.push("consent.scope", tr.t("v-choose-one"));
    }
    let given_at = match form.get("given_at") {
        None => Some(Utc::now()),
        Some(s) => parse_local(s),
    };
    if given_at.is_none() {
        errs.push("consent.given_at", tr.t("v-not-a-time"));
    }
    let text = |name: &str, errs: &mut FieldErrors| match form.get(name).map(ShortText::parse) {
        None => None,
        Some(Ok(t)) => Some(t),
        Some(Err(m)) => {
            errs.push(format!("consent.{name}"), localize(tr, &m));
            None
        }
    };
    let giver_name = text("giver_name", &mut errs);
    let recipient = text("recipient", &mut errs);
    let (Some(given_by), Some(scope), Some(given_at), true) = (given_by, scope, given_at, errs.is_empty())
    else {
        return render_case(&page, &id, errs, form, String::new()).await;
    };
    let Ok(cid) = case_id(&id) else { return page.fail(AppError::NotFound("case")) };
    let data = ConsentData { given_by, giver_name, scope, recipient, given_at };
    match page.app.add_consent(page.actor(), cid, data).await {
        Ok(_) => back_to(&id, "consents"),
        Err(e) => refused(&page, &id, form, e, "consent.").await,
    }
}

/// A document upload (multipart form, with the anti-forgery token as a field before the file).
pub async fn upload(Path(id): Path<String>, page: Page, mp: Multipart) -> Response {
    let up = match super::read_upload(&page, mp, ATTACHMENT_MAX_BYTES, "upload.file").await {
        Ok(up) => up,
        Err(r) => return r,
    };
    let Some((name, ct, bytes)) = up.file else {
        return render_case(&page, &id, up.errs, FormData::default(), String::new()).await;
    };
    let Ok(cid) = case_id(&id) else { return page.fail(AppError::NotFound("case")) };
    match page.app.add_attachment(page.actor(), cid, &name, &ct, bytes).await {
        Ok(_) => back_to(&id, "documents"),
        Err(e) => refused(&page, &id, FormData::default(), e, "upload.").await,
    }
}
