//! Administration for country administrators (accounts, posts, retention rules) and the audit
//! viewer for auditors.

use askama::Template;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use enlace_app::AppError;
use enlace_app::audit_log::AuditQuery;
use enlace_app::users::{AccountChange, NewAccount};
use enlace_domain::case::Category;
use enlace_domain::ids::UserId;
use enlace_domain::post::PostCode;
use enlace_domain::retention::{RetentionAction, RetentionRule};
use enlace_domain::role::Role;

use super::cases::{Opt, parse_day};
use super::forms::{FieldErrors, FormData};
use super::i18n::Tr;
use super::{Ctx, Page, PagePost, html, html_status, localize, see_other};

pub struct UserRow {
    pub id: String,
    pub username: String,
    pub name: String,
    pub role: String,
    pub post: String,
    pub disabled: bool,
    pub sensitive: bool,
    pub mfa: bool,
    pub is_me: bool,
}

#[derive(Template)]
#[template(path = "admin_users.html")]
struct UsersPage {
    c: Ctx,
    users: Vec<UserRow>,
    roles: Vec<Opt>,
    posts: Vec<Opt>,
    f: FormData,
    errors: FieldErrors,
}

fn role_options(tr: Tr, selected: &str) -> Vec<Opt> {
    Role::ALL
        .iter()
        .map(|r| Opt {
            value: r.as_str().into(),
            label: tr.label("role", r.as_str()),
            selected: r.as_str() == selected,
        })
        .collect()
}

async fn users_page(page: &Page, f: FormData, errors: FieldErrors) -> Response {
    let tr = page.tr();
    let users = match page.app.users(page.actor()).await {
        Ok(u) => u,
        Err(e) => return page.fail(e),
    };
    let posts = page
        .app
        .posts(Some(page.actor().user.state))
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|p| Opt {
            selected: f.has("post", p.code.as_str()),
            label: format!("{} ({})", p.city, p.host_state),
            value: p.code.to_string(),
        })
        .collect();
    let me = page.actor().user.id;
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    html_status(
        status,
        &UsersPage {
            users: users
                .iter()
                .map(|u| UserRow {
                    id: u.id.to_string(),
                    username: u.username.to_string(),
                    name: u.display_name.clone(),
                    role: tr.label("role", u.role.as_str()),
                    post: u.post.as_ref().map(|p| p.to_string()).unwrap_or_default(),
                    disabled: u.disabled,
                    sensitive: u.sensitive_access,
                    mfa: u.mfa_enabled,
                    is_me: u.id == me,
                })
                .collect(),
            roles: role_options(tr, &f.value("role")),
            posts,
            f,
            errors,
            c: page.ctx.clone(),
        },
    )
}

pub async fn users(page: Page) -> Response {
    users_page(&page, FormData::default(), FieldErrors::default()).await
}

pub async fn create_user(p: PagePost) -> Response {
    let (page, f) = (p.page, p.form);
    let tr = page.tr();
    let mut errs = FieldErrors::default();
    let role = f.get("role").and_then(Role::parse);
    if role.is_none() {
        errs.push("role", tr.t("v-choose-one"));
    }
    let post = match f.get("post").map(PostCode::parse) {
        None => None,
        Some(Ok(p)) => Some(p),
        Some(Err(m)) => {
            errs.push("post", localize(tr, &m.to_string()));
            None
        }
    };
    for k in ["username", "password"] {
        if f.get(k).is_none() {
            errs.push(k, tr.t("v-required"));
        }
    }
    let (Some(role), true) = (role, errs.is_empty()) else {
        return users_page(&page, f, errs).await;
    };
    let n = NewAccount {
        username: f.value("username").trim().to_string(),
        display_name: f.get("display_name").map(str::to_string),
        role,
        post,
        password: f.value("password"),
        sensitive_access: f.checked("sensitive_access"),
    };
    match page.app.create_account(page.actor(), n).await {
        Ok(_) => see_other("/admin/users"),
        Err(AppError::Validation(v)) => {
            for fe in v.0 {
                errs.push(fe.field, localize(tr, &fe.message));
            }
            users_page(&page, f, errs).await
        }
        Err(AppError::Conflict(m)) => {
            errs.push("username", localize(tr, &m));
            users_page(&page, f, errs).await
        }
        Err(e) => page.fail(e),
    }
}

/// One change to an account, from the buttons of its row.
pub async fn change_user(Path(id): Path<String>, p: PagePost) -> Response {
    let (page, f) = (p.page, p.form);
    let Ok(id) = id.parse::<uuid::Uuid>().map(UserId) else {
        return page.fail(AppError::NotFound("user"));
    };
    let mut ch = AccountChange::default();
    match f.get("change") {
        Some("disable") => ch.disabled = Some(true),
        Some("enable") => ch.disabled = Some(false),
        Some("grant-sensitive") => ch.sensitive_access = Some(true),
        Some("revoke-sensitive") => ch.sensitive_access = Some(false),
        Some("reset-mfa") => ch.reset_mfa = true,
        _ => return super::render_error(&page.ctx, StatusCode::BAD_REQUEST, &page.tr().t("v-choose-one")),
    }
    match page.app.change_account(page.actor(), id, ch).await {
        Ok(_) => see_other("/admin/users"),
        Err(e) => page.fail(e),
    }
}

pub struct PostRow {
    pub code: String,
    pub city: String,
    pub host: String,
    pub district: String,
}

#[derive(Template)]
#[template(path = "admin_posts.html")]
struct PostsPage {
    c: Ctx,
    posts: Vec<PostRow>,
}

pub async fn posts(page: Page) -> Response {
    if !page.ctx.administers() && !page.ctx.works_cases() {
        return page.fail(AppError::Forbidden("posts".into()));
    }
    let posts = match page.app.posts(Some(page.actor().user.state)).await {
        Ok(p) => p,
        Err(e) => return page.fail(e),
    };
    let posts = posts
        .into_iter()
        .map(|p| PostRow {
            code: p.code.to_string(),
            city: p.city,
            host: p.host_state.to_string(),
            district: p.district,
        })
        .collect();
    html(&PostsPage { c: page.ctx, posts })
}

pub struct RuleRow {
    pub label: String,
    pub years: String,
    pub action: String,
}

#[derive(Template)]
#[template(path = "admin_retention.html")]
struct RetentionPage {
    c: Ctx,
    rules: Vec<RuleRow>,
    categories: Vec<Opt>,
    actions: Vec<Opt>,
    f: FormData,
    errors: FieldErrors,
}

async fn retention_page(page: &Page, f: FormData, errors: FieldErrors) -> Response {
    let tr = page.tr();
    let rules = match page.app.retention_rules(page.actor()).await {
        Ok(r) => r,
        Err(e) => return page.fail(e),
    };
    let rows = Category::ALL
        .iter()
        .map(|cat| {
            let r = rules.iter().find(|r| r.category == *cat);
            RuleRow {
                label: tr.label("category", cat),
                years: r.map(|r| r.years.to_string()).unwrap_or_default(),
                action: r
                    .map(|r| tr.label("retention", r.action.as_str()))
                    .unwrap_or_else(|| tr.t("retention-none")),
            }
        })
        .collect();
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    html_status(
        status,
        &RetentionPage {
            rules: rows,
            categories: super::cases::options(tr, "category", Category::ALL, &[f.value("category").as_str()]),
            actions: super::cases::options(
                tr,
                "retention",
                RetentionAction::ALL,
                &[f.value("action").as_str()],
            ),
            f,
            errors,
            c: page.ctx.clone(),
        },
    )
}

pub async fn retention(page: Page) -> Response {
    retention_page(&page, FormData::default(), FieldErrors::default()).await
}

pub async fn set_retention(p: PagePost) -> Response {
    let (page, f) = (p.page, p.form);
    let tr = page.tr();
    let mut errs = FieldErrors::default();
    let category = f.get("category").and_then(Category::parse);
    if category.is_none() {
        errs.push("category", tr.t("v-choose-one"));
    }
    let action = f.get("action").and_then(RetentionAction::parse);
    if action.is_none() {
        errs.push("action", tr.t("v-choose-one"));
    }
    let years = f.get("years").and_then(|y| y.parse::<u32>().ok());
    if years.is_none() {
        errs.push("years", tr.t("v-not-a-number"));
    }
    let (Some(category), Some(action), Some(years), true) = (category, action, years, errs.is_empty()) else {
        return retention_page(&page, f, errs).await;
    };
    match page.app.set_retention_rule(page.actor(), RetentionRule { category, years, action }).await {
        Ok(_) => see_other("/admin/retention"),
        Err(AppError::Validation(v)) => {
            for fe in v.0 {
                errs.push(fe.field, localize(tr, &fe.message));
            }
            retention_page(&page, f, errs).await
        }
        Err(e) => page.fail(e),
    }
}

pub struct EventRow {
    pub pos: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub record: String,
    pub source: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    c: Ctx,
    rows: Vec<EventRow>,
    action: String,
    record_id: String,
    from: String,
    to: String,
    next: String,
    export: String,
    error: String,
}

/// The audit log of the auditor's node, newest first, with filters and CSV export.
pub async fn audit(page: Page, uri: axum::http::Uri) -> Response {
    let tr = page.tr();
    let f = FormData::parse(uri.query().unwrap_or("").as_bytes()).unwrap_or_default();
    let mut error = String::new();
    let day = |name: &str, error: &mut String| -> Option<chrono::DateTime<chrono::Utc>> {
        let v = f.get(name)?;
        match parse_day(v) {
            Some(d) => Some(d.and_hms_opt(0, 0, 0).expect("midnight").and_utc()),
            None => {
                *error = format!("{}: {}", tr.t(&format!("audit-{name}")), tr.t("v-not-a-date"));
                None
            }
        }
    };
    let from = day("from", &mut error);
    let to = day("to", &mut error).map(|t| t + chrono::Duration::days(1));
    let q = AuditQuery {
        action: f.get("action").map(str::to_string),
        record_id: f.get("record_id").map(str::to_string),
        from,
        to,
        cursor: f.get("cursor").and_then(|c| c.parse().ok()),
        limit: Some(100),
        ..Default::default()
    };
    let p = match page.app.audit_events(page.actor(), &q).await {
        Ok(p) => p,
        Err(AppError::Validation(v)) => {
            error =
                v.0.iter()
                    .map(|x| format!("{}: {}", x.field, localize(tr, &x.message)))
                    .collect::<Vec<_>>()
                    .join("; ");
            enlace_app::audit_log::AuditPage { items: vec![], next_cursor: None }
        }
        Err(e) => return page.fail(e),
    };
    let keep: Vec<(String, String)> = ["action", "record_id", "from", "to"]
        .iter()
        .filter_map(|k| f.get(k).map(|v| (k.to_string(), v.to_string())))
        .collect();
    let query = |extra: Option<(String, String)>| {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in keep.iter().chain(extra.iter()) {
            s.append_pair(k, v);
        }
        s.finish()
    };
    let next = p
        .next_cursor
        .map(|c| format!("/audit?{}", query(Some(("cursor".into(), c.to_string())))))
        .unwrap_or_default();
    let export = {
        let mut s = form_urlencoded::Serializer::new(String::new());
        if let Some(a) = f.get("action") {
            s.append_pair("action", a);
        }
        if let Some(r) = f.get("record_id") {
            s.append_pair("record_id", r);
        }
        if let Some(t) = from {
            s.append_pair("from", &t.to_rfc3339());
        }
        if let Some(t) = to {
            s.append_pair("to", &t.to_rfc3339());
        }
        format!("/api/v1/audit/export?{}", s.finish())
    };
    let rows = p
        .items
        .iter()
        .map(|e| EventRow {
            pos: e.pos,
            at: tr.datetime(&e.event.at),
            actor: e.event.actor_name.clone(),
            action: e.event.action.clone(),
            record: format!("{} {}", e.event.record_type, e.event.record_id.clone().unwrap_or_default()),
            source: e.event.source.clone().unwrap_or_default(),
        })
        .collect();
    html(&AuditPage {
        rows,
        action: f.value("action"),
        record_id: f.value("record_id"),
        from: f.value("from"),
        to: f.value("to"),
        next,
        export,
        error,
        c: page.ctx,
    })
}
