//! Shares with other states in the pages: the list of what other states shared with yours (and
//! what yours shared), and one share with what it carries, its history and the decisions
//! (accept, reject, revoke). The same `App` methods as the API, so the same rules.

use askama::Template;
use axum::extract::Path;
use axum::response::Response;
use enlace_app::fed::{Share, ShareEventView, ShareSide};
use serde_json::Value;

use super::i18n::Tr;
use super::{Ctx, Page, PagePost, html, localize, see_other};

/// A share as a line of a list.
pub struct ShareLine {
    pub id: String,
    pub case_number: String,
    pub peer: String,
    pub kind: String,
    pub state: String,
    pub updated: String,
}

pub fn share_line(tr: Tr, s: &Share) -> ShareLine {
    ShareLine {
        id: s.id.to_string(),
        case_number: s.case_number.clone(),
        peer: tr.country(&s.peer_state),
        kind: tr.label("share-kind", &s.kind),
        state: {
            let state = tr.label("share-state", enlace_app::fed::share_state_name(s.state));
            match s.handover.phase.as_str() {
                "offered" => format!("{state} · {}", tr.t("handover-offered-short")),
                "offering" => format!("{state} · {}", tr.t("handover-offering-short")),
                _ => state,
            }
        },
        updated: tr.datetime(&s.updated_at),
    }
}

#[derive(Template)]
#[template(path = "shares.html")]
struct ListPage {
    c: Ctx,
    incoming: bool,
    rows: Vec<ShareLine>,
    next: Option<String>,
}

/// `GET /shares`: what other states shared with yours (`?side=offerer`: what yours shared).
pub async fn list(page: Page, uri: axum::http::Uri) -> Response {
    let tr = page.tr();
    let q = super::forms::FormData::parse(uri.query().unwrap_or("").as_bytes()).unwrap_or_default();
    let side = if q.get("side") == Some("offerer") { ShareSide::Offerer } else { ShareSide::Recipient };
    let found = match page.app.list_shares(page.actor(), side, q.get("cursor"), 50).await {
        Ok(p) => p,
        Err(e) => return page.fail(e),
    };
    let next = found.next.map(|c| format!("/shares?side={}&cursor={}", side.as_str(), super::enc(&c)));
    let rows = found.items.iter().map(|s| share_line(tr, s)).collect();
    html(&ListPage { c: page.ctx, incoming: side == ShareSide::Recipient, rows, next })
}

/// One field received, in words.
struct FieldRow {
    name: String,
    value: String,
}

struct EventRow {
    when: String,
    what: String,
    by: String,
    note: String,
    delivery: String,
}

#[derive(Template)]
#[template(path = "share.html")]
struct SharePage {
    c: Ctx,
    id: String,
    line: ShareLine,
    incoming: bool,
    case_id: Option<String>,
    purpose: String,
    legal_instrument: String,
    fields: String,
    data: Vec<FieldRow>,
    events: Vec<EventRow>,
    may_decide: bool,
    may_revoke: bool,
    /// Where the case's ownership stands, in words.
    handover: String,
    may_hand_over: bool,
    may_withdraw: bool,
    may_take_over: bool,
}

/// A received value as text: lists joined, objects as their values.
fn value_text(v: &Value) -> String {
    match v {
        Value::Null => "—".into(),
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(value_text).collect::<Vec<_>>().join(", "),
        Value::Object(o) => o.values().map(value_text).collect::<Vec<_>>().join(" · "),
        other => other.to_string(),
    }
}

fn event_row(tr: Tr, e: &ShareEventView) -> EventRow {
    EventRow {
        when: tr.datetime(&e.at),
        what: format!("{} · {}", tr.label("sdir", &e.direction), tr.label("msg", &e.message_type)),
        by: e.actor.clone(),
        note: e.note.clone().unwrap_or_default(),
        delivery: e.delivery.as_deref().map(|d| tr.label("delivery", d)).unwrap_or_default(),
    }
}

/// `GET /shares/{id}`.
pub async fn show(page: Page, Path(id): Path<String>) -> Response {
    let tr = page.tr();
    let Ok(id) = id.parse() else { return page.fail(enlace_app::AppError::NotFound("share")) };
    let (s, events) = match page.app.get_share(page.actor(), id).await {
        Ok(x) => x,
        Err(e) => return page.fail(e),
    };
    let incoming = s.side == ShareSide::Recipient;
    let state = enlace_app::fed::share_state_name(s.state);
    let data = s
        .data
        .iter()
        .flatten()
        .map(|(k, v)| FieldRow { name: tr.label("sfield", k), value: value_text(v) })
        .collect();
    let h = &s.handover;
    let peer = tr.country(&s.peer_state);
    let open = state == "accepted" || (s.kind == "assistance" && state == "offered");
    let handover = match (h.phase.as_str(), h.owned_here, incoming) {
        ("offering", _, _) => tr.t1("handover-offering", "peer", &peer),
        ("offered", _, _) => tr.t1("handover-offered", "peer", &peer),
        ("accepting", _, _) => tr.t1("handover-accepting", "peer", &peer),
        (_, true, false) => tr.t("handover-owned-here"),
        (_, true, true) => tr.t1("handover-taken", "peer", &peer),
        (_, false, false) => tr.t1("handover-given", "peer", &peer),
        (_, false, true) => tr.t1("handover-owned-there", "peer", &peer),
    };
    let page_data = SharePage {
        may_hand_over: !incoming && open && h.owned_here && h.phase == "settled",
        may_withdraw: !incoming && h.phase == "offering",
        may_take_over: incoming && h.phase == "offered" && (state == "offered" || state == "accepted"),
        handover,
        id: s.id.to_string(),
        line: share_line(tr, &s),
        incoming,
        case_id: s.case_id.map(|c| c.to_string()),
        purpose: s.purpose.clone(),
        legal_instrument: s.legal_instrument.clone(),
        fields: s.fields.iter().map(|f| tr.label("sfield", f)).collect::<Vec<_>>().join(", "),
        data,
        events: events.iter().map(|e| event_row(tr, e)).collect(),
        may_decide: incoming && state == "offered",
        may_revoke: (incoming && state == "accepted")
            || (!incoming && ["offered", "accepted"].contains(&state)),
        c: page.ctx,
    };
    html(&page_data)
}

/// `POST /shares/{id}/decision`: accept, reject or revoke, with a note for the other state.
pub async fn decide(Path(id): Path<String>, p: PagePost) -> Response {
    let (page, f) = (p.page, p.form);
    let tr = page.tr();
    let Ok(share) = id.parse() else { return page.fail(enlace_app::AppError::NotFound("share")) };
    let note = match f.get("note").map(|n| enlace_domain::text::clean_text(n, 2000)) {
        Some(Err(e)) => return page.bad_form(localize(tr, &e)),
        Some(Ok(n)) if !n.is_empty() => Some(n),
        _ => None,
    };
    let (app, actor) = (&page.app, page.actor());
    let r = match f.get("action") {
        Some("accept") => app.decide_share(actor, share, true, note).await,
        Some("reject") => app.decide_share(actor, share, false, note).await,
        Some("revoke") => app.revoke_share(actor, share, note).await,
        Some("handover_offer") => {
            let req = enlace_app::fed::HandoverRequest { note, exception: None };
            app.offer_handover(actor, share, req).await
        }
        Some("handover_withdraw") => app.withdraw_handover(actor, share, note).await,
        Some("handover_accept") => app.decide_handover(actor, share, true, note).await,
        Some("handover_decline") => app.decide_handover(actor, share, false, note).await,
        _ => return page.bad_form(tr.t("v-choose-one")),
    };
    match r {
        Ok(_) => see_other(&format!("/shares/{share}")),
        Err(e) => page.fail(e),
    }
}
