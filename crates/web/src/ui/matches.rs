//! Person linkage in the pages: the candidates panel of the new-case form, and the review
//! queue of possible matches between missing-person reports and found persons.

use askama::Template;
use axum::extract::Path;
use axum::response::Response;
use enlace_app::matching::{
    CandidateQuery, Decision, MatchDecision, MatchStatus, MatchView, PersonCandidates, Score,
};
use enlace_domain::person::PersonData;

use super::i18n::Tr;
use super::{Ctx, Page, PagePost, html, localize, see_other};

/// One line of a score's explanation: field, level, weight (formatted).
pub struct ScoreRow {
    pub field: String,
    pub level: String,
    pub weight: String,
}

/// A score as the pages show it.
pub struct ScoreView {
    /// "87 %".
    pub percent: String,
    /// The band, in words.
    pub band: String,
    /// `likely` or `possible` (a CSS class).
    pub band_class: String,
    pub rows: Vec<ScoreRow>,
}

/// A message id from a level name (`first_name_jaro_winkler_0.9` → `level-first_name_jaro_winkler_0_9`).
pub fn level_id(level: &str) -> String {
    format!("level-{}", level.replace('.', "_"))
}

pub fn score_view(tr: Tr, s: &Score) -> ScoreView {
    ScoreView {
        percent: format!("{} %", (s.probability * 100.0).floor().min(99.0) as i64),
        band: tr.label("band", &s.band),
        band_class: s.band.clone(),
        rows: s
            .fields
            .iter()
            .map(|f| ScoreRow {
                field: tr.label("lfield", &f.field),
                level: tr.t(&level_id(f.level.as_deref().unwrap_or("missing"))),
                weight: format!("{:+.1}", f.weight),
            })
            .collect(),
    }
}

/// A person's name and what is known of the birth, for a line of a list.
pub fn describe(tr: Tr, p: &PersonData) -> (String, String) {
    (super::cases::person_name(p), super::cases::birth_text(tr, &p.birth))
}

/// A case as a link in a list.
pub struct CaseLink {
    pub id: String,
    pub number: String,
    /// Subtype and status, in words.
    pub what: String,
}

fn case_link(tr: Tr, c: &enlace_app::matching::CaseBrief) -> CaseLink {
    CaseLink {
        id: c.id.to_string(),
        number: c.number.clone(),
        what: format!("{} · {}", tr.label("subtype", c.subtype), tr.label("status", c.status)),
    }
}

// ---------------------------------------------------------------------------------------------
// The candidates panel.

pub struct CandidateRow {
    pub id: String,
    pub name: String,
    pub birth: String,
    pub score: ScoreView,
    pub chosen: bool,
    pub cases: Vec<CaseLink>,
}

pub struct CandidatesView {
    pub items: Vec<CandidateRow>,
    /// The "more outside your access" line, or empty.
    pub withheld: String,
    /// No candidate is chosen: a new person.
    pub new_person: bool,
}

/// The panel's content for what the form holds so far (`None` until a name is typed).
pub async fn candidates_for(page: &Page, person: Option<PersonData>, chosen: &str) -> Option<CandidatesView> {
    let tr = page.tr();
    let person = person?;
    let q = CandidateQuery { person, limit: Some(5) };
    let found: PersonCandidates = page.app.person_candidates(page.actor(), q).await.ok()?;
    let items: Vec<CandidateRow> = found
        .candidates
        .iter()
        .map(|c| {
            let (name, birth) = describe(tr, &c.person.data);
            CandidateRow {
                id: c.person.id.to_string(),
                name,
                birth,
                score: score_view(tr, &c.score),
                chosen: chosen == c.person.id.to_string(),
                cases: c.cases.iter().map(|k| case_link(tr, k)).collect(),
            }
        })
        .collect();
    let new_person = !items.iter().any(|r| r.chosen);
    let withheld = if found.withheld == 0 {
        String::new()
    } else {
        tr.tn("cand-withheld", "count", found.withheld as i64)
    };
    Some(CandidatesView { items, withheld, new_person })
}

// ---------------------------------------------------------------------------------------------
// The review queue.

pub struct SideView {
    pub case: CaseLink,
    pub name: String,
    pub birth: String,
    pub details: String,
}

pub struct MatchRowView {
    pub id: String,
    pub found_on: String,
    pub score: ScoreView,
    pub missing: SideView,
    pub found: SideView,
    pub pending: bool,
    /// Who decided what, when (decided matches).
    pub decision: String,
    pub note: String,
}

fn side_view(tr: Tr, s: &enlace_app::matching::MatchSideView) -> SideView {
    let (name, birth) = describe(tr, &s.person);
    let mut details: Vec<String> = s.person.nationalities.iter().map(|c| tr.country(c)).collect();
    if let Some(p) = &s.person.birth_place {
        details.push(p.as_str().to_string());
    }
    SideView { case: case_link(tr, &s.case), name, birth, details: details.join(" · ") }
}

pub fn match_view(tr: Tr, m: &MatchView) -> MatchRowView {
    let decision = match (&m.decided_by, &m.decided_at) {
        (Some(by), Some(at)) => {
            format!("{} — {} ({})", tr.label("match-status", &m.status), by, tr.datetime(at))
        }
        _ => String::new(),
    };
    MatchRowView {
        id: m.id.to_string(),
        found_on: tr.datetime(&m.found_at),
        score: score_view(tr, &m.score),
        missing: side_view(tr, &m.missing),
        found: side_view(tr, &m.found),
        pending: m.status == "pending",
        decision,
        note: m.note.clone().unwrap_or_default(),
    }
}

#[derive(Template)]
#[template(path = "matches.html")]
struct QueuePage {
    c: Ctx,
    rows: Vec<MatchRowView>,
    status: &'static str,
    statuses: Vec<(&'static str, String)>,
    next: Option<String>,
}

/// `GET /matches`: the review queue (pending by default; decided ones on request).
pub async fn queue(page: Page, uri: axum::http::Uri) -> Response {
    let tr = page.tr();
    let q = super::forms::FormData::parse(uri.query().unwrap_or("").as_bytes()).unwrap_or_default();
    let status = match q.get("status") {
        Some("same") => MatchStatus::Same,
        Some("not_same") => MatchStatus::NotSame,
        _ => MatchStatus::Pending,
    };
    let result = page.app.list_matches(page.actor(), status, q.get("cursor"), 25).await;
    let found = match result {
        Ok(p) => p,
        Err(e) => return page.fail(e),
    };
    let statuses = [MatchStatus::Pending, MatchStatus::Same, MatchStatus::NotSame]
        .iter()
        .map(|s| (s.as_str(), tr.label("match-status", s.as_str())))
        .collect();
    let next =
        found.next_cursor.map(|c| format!("/matches?status={}&cursor={}", status.as_str(), super::enc(&c)));
    let rows = found.items.iter().map(|m| match_view(tr, m)).collect();
    html(&QueuePage { c: page.ctx, rows, status: status.as_str(), statuses, next })
}

/// `POST /matches/{id}/decision`: the same person, or not.
pub async fn decide(Path(id): Path<String>, p: PagePost) -> Response {
    let (page, f) = (p.page, p.form);
    let tr = page.tr();
    let decision = match f.get("decision") {
        Some("same") => Decision::Same,
        Some("not_same") => Decision::NotSame,
        _ => return page.bad_form(tr.t("match-choose")),
    };
    let Ok(id) = id.parse() else { return page.fail(enlace_app::AppError::NotFound("match")) };
    let note = match f.get("note").map(enlace_domain::person::LongText::parse) {
        None => None,
        Some(Ok(n)) => Some(n),
        Some(Err(e)) => return page.bad_form(localize(tr, &e)),
    };
    match page.app.decide_match(page.actor(), id, MatchDecision { decision, note }).await {
        Ok(_) => see_other(
            f.get("back").filter(|b| b.starts_with('/') && !b.starts_with("//")).unwrap_or("/matches"),
        ),
        Err(e) => page.fail(e),
    }
}
