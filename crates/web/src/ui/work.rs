//! The worklist: what needs the officer's attention now.

use askama::Template;
use axum::response::Response;
use enlace_app::cases::CaseFilter;
use enlace_domain::workflow::Status;

use super::cases::Row;
use super::{Ctx, Page, html, see_other};

/// One box of the worklist.
pub struct Section {
    pub id: &'static str,
    pub title: String,
    pub empty: String,
    /// The full list behind this box.
    pub more: String,
    pub rows: Vec<Row>,
    pub has_more: bool,
}

#[derive(Template)]
#[template(path = "worklist.html")]
struct Worklist {
    c: Ctx,
    sections: Vec<Section>,
    /// What other states shared with the user's state, latest first (federated nodes).
    shares: Vec<super::shares::ShareLine>,
}

const BOX: u32 = 10;

const OPEN: [Status; 8] = [
    Status::Intake,
    Status::ProtectionAccepted,
    Status::Assessment,
    Status::ActionPlan,
    Status::InProgress,
    Status::AwaitingAuthority,
    Status::Referred,
    Status::Reopened,
];

pub async fn worklist(page: Page) -> Response {
    if !page.ctx.works_cases() {
        // Nothing to work: administrators and auditors start on their own pages.
        return see_other(if page.ctx.administers() {
            "/admin/users"
        } else if page.ctx.audits() {
            "/audit"
        } else {
            "/account"
        });
    }
    let tr = page.tr();
    let today = chrono::Utc::now().date_naive();
    let me = page.actor().user.id;
    let open_list = OPEN.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",");
    let specs: Vec<(&'static str, CaseFilter, String)> = vec![
        (
            "mine",
            CaseFilter { assigned_officer: Some(me), statuses: OPEN.to_vec(), ..Default::default() },
            format!("/cases?assigned_officer=me&status={open_list}"),
        ),
        (
            "overdue",
            CaseFilter { first_contact_overdue: true, statuses: OPEN.to_vec(), ..Default::default() },
            format!("/cases?overdue=true&status={open_list}"),
        ),
        (
            "referred",
            CaseFilter { statuses: vec![Status::Referred], ..Default::default() },
            "/cases?status=referred".to_string(),
        ),
        (
            "authority",
            CaseFilter { statuses: vec![Status::AwaitingAuthority], ..Default::default() },
            "/cases?status=awaiting_authority".to_string(),
        ),
        (
            "followup",
            CaseFilter { follow_up_due: Some(today), statuses: OPEN.to_vec(), ..Default::default() },
            format!("/cases?follow_up_due={today}"),
        ),
    ];
    // The boxes' queries are independent: they run at once (SQLite reads on their own
    // connections, PostgreSQL on the pool), so the page waits for the slowest, not the sum.
    let lists = futures_util::future::join_all(specs.iter().map(|(_, f, _)| {
        let f = CaseFilter { limit: BOX, descending: true, ..f.clone() };
        page.app.list_cases(page.actor(), f)
    }));
    let shares = async {
        if !page.app.federated() {
            return Ok(Vec::new());
        }
        let side = enlace_app::fed::ShareSide::Recipient;
        Ok(page.app.list_shares(page.actor(), side, None, 5).await?.items)
    };
    let (lists, shares): (_, Result<_, enlace_app::AppError>) = tokio::join!(lists, shares);
    let shares = match shares {
        Ok(s) => s.iter().map(|s| super::shares::share_line(tr, s)).collect(),
        Err(e) => return page.fail(e),
    };
    let mut sections = Vec::new();
    for ((id, _, more), list) in specs.into_iter().zip(lists) {
        let list = match list {
            Ok(l) => l,
            Err(e) => return page.fail(e),
        };
        sections.push(Section {
            id,
            title: tr.t(&format!("work-{id}")),
            empty: tr.t(&format!("work-{id}-empty")),
            more,
            rows: list.items.iter().map(|c| Row::new(tr, c)).collect(),
            has_more: list.next_cursor.is_some(),
        });
    }
    html(&Worklist { c: page.ctx, sections, shares })
}
