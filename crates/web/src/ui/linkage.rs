//! The cross-border linkage service in the pages: the candidates the hub found for your cases,
//! with the decision forms (`/linkage`), and the case page's section that puts the case in the
//! service or takes it out. The same `App` methods as the API, so the same rules.

use askama::Template;
use axum::extract::Path;
use axum::response::Response;
use enlace_app::fed::linkage::{CandidateView, CaseLinkage, Decision, DecisionRequest, LinkageRequest};
use enlace_domain::country::CountryCode;
use enlace_domain::disclosure::{Exception, ExceptionKind};

use super::i18n::Tr;
use super::{Ctx, Page, PagePost, html, localize, see_other};

/// A candidate as a line of the page.
pub struct CandidateLine {
    pub id: String,
    pub case_id: String,
    pub case_number: String,
    pub side: String,
    pub other_state: String,
    /// The other state's code (for the offer the next step makes).
    pub other_code: String,
    pub similarity: String,
    pub received: String,
    pub expires: String,
    /// Open for a decision.
    pub open: bool,
    /// What became of it, in words (decided or expired).
    pub outcome: String,
    pub note: String,
    /// Decided "the same person": the next step is offering the case to the other state.
    pub same: bool,
}

pub fn candidate_line(tr: Tr, k: &CandidateView) -> CandidateLine {
    let other =
        CountryCode::parse(&k.other_state).map(|c| tr.country(&c)).unwrap_or_else(|_| k.other_state.clone());
    let outcome = match (k.decision, k.expired) {
        (None, _) if k.withdrawn_at.is_some() => tr.t1(
            "link-withdrawn",
            "when",
            k.withdrawn_at.as_ref().map(|t| tr.datetime(t)).unwrap_or_default(),
        ),
        (Some(d), _) => format!(
            "{} ({})",
            tr.label("link-decision", d.as_str()),
            k.decided_at.as_ref().map(|t| tr.datetime(t)).unwrap_or_default()
        ),
        (None, true) => tr.t("link-expired"),
        (None, false) => String::new(),
    };
    CandidateLine {
        id: k.id.to_string(),
        case_id: k.case_id.to_string(),
        case_number: k.case_number.clone(),
        side: tr.label("link-side", k.side.as_str()),
        other_state: other,
        other_code: k.other_state.clone(),
        similarity: format!("{} %", (k.similarity * 100.0).floor() as i64),
        received: tr.datetime(&k.received_at),
        expires: tr.datetime(&k.expires_at),
        open: k.decision.is_none() && !k.expired && k.withdrawn_at.is_none(),
        outcome,
        note: k.note.clone().unwrap_or_default(),
        same: k.decision == Some(Decision::SamePerson) && k.withdrawn_at.is_none(),
    }
}

#[derive(Template)]
#[template(path = "linkage.html")]
struct ListPage {
    c: Ctx,
    rows: Vec<CandidateLine>,
}

/// `GET /linkage`: the candidates of the cases you may read, undecided first.
pub async fn list(page: Page) -> Response {
    let tr = page.tr();
    match page.app.linkage_candidates(page.actor()).await {
        Ok(found) => {
            let rows = found.iter().map(|k| candidate_line(tr, k)).collect();
            html(&ListPage { c: page.ctx, rows })
        }
        Err(e) => page.fail(e),
    }
}

/// `POST /linkage/{id}/decision`: the same person, or not.
pub async fn decide(Path(id): Path<String>, p: PagePost) -> Response {
    let (page, f) = (p.page, p.form);
    let tr = page.tr();
    let decision = match f.get("decision") {
        Some("same_person") => Decision::SamePerson,
        Some("not_same_person") => Decision::NotSamePerson,
        _ => return page.bad_form(tr.t("link-choose")),
    };
    let Ok(id) = id.parse() else { return page.fail(enlace_app::AppError::NotFound("candidate")) };
    let note = f.get("note").map(str::to_string);
    match page.app.decide_candidate(page.actor(), id, DecisionRequest { decision, note }).await {
        Ok(_) => see_other(
            f.get("back").filter(|b| b.starts_with('/') && !b.starts_with("//")).unwrap_or("/linkage"),
        ),
        Err(e) => page.fail(e),
    }
}

/// The case page's section.
pub struct CaseSection {
    /// The case's side, in words.
    pub side: String,
    /// In the service now: since when, on what basis.
    pub live: Option<String>,
    /// Withdrawn encodings, in words.
    pub past: Vec<String>,
    pub candidates: Vec<CandidateLine>,
}

/// The section, when the case is one the service compares and this node takes part.
pub fn case_section(tr: Tr, l: &CaseLinkage) -> Option<CaseSection> {
    let side = l.side?;
    if !l.available && l.encodings.is_empty() {
        return None;
    }
    let basis = |b: &str| tr.label("link-basis", b);
    let live = l.encodings.iter().find(|e| e.withdrawn_at.is_none()).map(|e| {
        format!("{} · {}", tr.t1("link-since", "when", tr.datetime(&e.created_at)), basis(&e.basis))
    });
    let past = l
        .encodings
        .iter()
        .filter_map(|e| {
            e.withdrawn_at.map(|w| {
                format!(
                    "{} – {}",
                    tr.datetime(&e.created_at),
                    tr.t1("link-withdrawn-on", "when", tr.datetime(&w))
                )
            })
        })
        .collect();
    Some(CaseSection {
        side: tr.label("link-side", side.as_str()),
        live,
        past,
        candidates: l.candidates.iter().map(|k| candidate_line(tr, k)).collect(),
    })
}

/// The exception a form records when no consent covers a disclosure (`exception_kind`,
/// `exception_reason`; none when no kind is chosen), or what is wrong with it.
pub(super) fn exception_of(tr: Tr, f: &super::forms::FormData) -> Result<Option<Exception>, String> {
    let Some(kind) = f.get("exception_kind").filter(|k| !k.is_empty()) else { return Ok(None) };
    let kind = ExceptionKind::parse(kind).ok_or_else(|| tr.t("link-exception-kind"))?;
    let reason = f.get("exception_reason").unwrap_or("").trim();
    if reason.chars().count() < 20 {
        return Err(tr.t("link-exception-short"));
    }
    let reason = enlace_domain::person::ShortText::parse(reason).map_err(|e| localize(tr, &e))?;
    Ok(Some(Exception { kind, reason }))
}

/// `POST /cases/{id}/linkage`: puts the case in the service (with an exception when no consent
/// covers it).
pub async fn enrol(Path(id): Path<String>, p: PagePost) -> Response {
    let (page, f) = (p.page, p.form);
    let tr = page.tr();
    let Ok(case_id) = id.parse() else { return page.fail(enlace_app::AppError::NotFound("case")) };
    let exception = match exception_of(tr, &f) {
        Ok(e) => e,
        Err(m) => return page.bad_form(m),
    };
    match page.app.enrol_linkage(page.actor(), case_id, LinkageRequest { exception }).await {
        Ok(_) => see_other(&format!("/cases/{id}#linkage")),
        // The consent gate: say what is missing.
        Err(enlace_app::AppError::Forbidden(_)) => {
            super::render_error(&page.ctx, axum::http::StatusCode::FORBIDDEN, &tr.t("link-no-consent"))
        }
        Err(e) => page.fail(e),
    }
}

/// `POST /cases/{id}/linkage/withdraw`: takes the case out of the service.
pub async fn withdraw(Path(id): Path<String>, p: PagePost) -> Response {
    let page = p.page;
    let Ok(case_id) = id.parse() else { return page.fail(enlace_app::AppError::NotFound("case")) };
    match page.app.withdraw_linkage(page.actor(), case_id).await {
        Ok(_) => see_other(&format!("/cases/{id}#linkage")),
        Err(e) => page.fail(e),
    }
}
