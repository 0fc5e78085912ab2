//! The officers' web interface: server-rendered pages (askama), every form a plain POST that
//! works without JavaScript; vendored htmx makes the case list and the new-case form update in
//! place where JavaScript runs. Texts come from Fluent files in es, en and fr.
//!
//! Handlers here translate forms to use-case calls on [`App`] and render the answer; what a user
//! may see or do is decided by the application layer, never by these pages (they only hide links
//! a role has no use for).

mod admin;
mod auth;
pub(crate) mod cases;
mod forms;
pub mod i18n;
mod linkage;
mod matches;
mod network;
mod new_case;
mod shares;
pub mod stats;
mod work;

use askama::Template;
use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use enlace_app::auth::SessionActor;
use enlace_app::{Actor, App, AppError};
use enlace_domain::role::Role;
use enlace_domain::user::User;

use crate::error::ApiError;
use crate::extract::{SESSION_COOKIE, client_addr, session_cookie};
pub use crate::extract::{cookie, same_origin, same_origin_headers};
use forms::FieldErrors;
pub use forms::FormData;
use i18n::{Locale, Tr};

/// The cookie that remembers the language before sign-in.
pub const LANG_COOKIE: &str = "__Host-enlace-lang";
/// The cookie holding the sign-in form's anti-forgery token (double submit: there is no
/// session yet to hold it).
pub const PRE_COOKIE: &str = "__Host-enlace-pre";

/// The pages' Content-Security-Policy: only this node's scripts, styles and images; inline
/// SVG (charts, the QR code) needs nothing more.
const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                        connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Versioned asset paths: the files are cached for a year, and a new version gets a new name.
pub const HTMX_PATH: &str = "/static/htmx-2.0.11.min.js";
pub const CSS_PATH: &str = concat!("/static/enlace-", env!("CARGO_PKG_VERSION"), ".css");

pub fn routes() -> Router<App> {
    Router::new()
        .route("/", get(work::worklist))
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/lang", post(auth::switch_language))
        .route("/account", get(auth::account))
        .route("/account/sign-out-everywhere", post(auth::sign_out_everywhere))
        .route("/account/mfa", get(auth::mfa_page).post(auth::mfa_confirm))
        .route("/cases", get(cases::list))
        .route("/cases/export.csv", get(cases::export_csv))
        .route("/cases/export.xlsx", get(cases::export_xlsx))
        .route("/cases/export.pdf", get(cases::export_pdf))
        .route("/cases/new", get(new_case::form).post(new_case::create))
        .route("/cases/new/sections", get(new_case::sections))
        .route("/cases/new/candidates", post(new_case::candidates))
        .route("/linkage", get(linkage::list))
        .route("/linkage/{id}/decision", post(linkage::decide))
        .route("/cases/{id}/linkage", post(linkage::enrol))
        .route("/cases/{id}/linkage/withdraw", post(linkage::withdraw))
        .route("/matches", get(matches::queue))
        .route("/matches/{id}/decision", post(matches::decide))
        .route("/stats", get(stats::show))
        .route("/stats/report.csv", get(stats::report_csv))
        .route("/stats/report.xlsx", get(stats::report_xlsx))
        .route("/stats/report.pdf", get(stats::report_pdf))
        .route("/stats/submit", post(stats::submit))
        .route("/regional", get(stats::regional))
        .route("/regional/report.csv", get(stats::regional_report_csv))
        .route("/regional/report.xlsx", get(stats::regional_report_xlsx))
        .route("/regional/report.pdf", get(stats::regional_report_pdf))
        .route("/shares", get(shares::list))
        .route("/shares/{id}", get(shares::show))
        .route("/shares/{id}/decision", post(shares::decide))
        .route("/cases/{id}", get(cases::show))
        .route("/cases/{id}/actions", post(cases::add_action))
        .route("/cases/{id}/transition", post(cases::transition))
        .route("/cases/{id}/assign", post(cases::assign))
        .route("/cases/{id}/consents", post(cases::add_consent))
        .route("/cases/{id}/attachments", post(cases::upload))
        .route("/cases/{id}/subject-access", post(cases::subject_access))
        .route("/cases/{id}/shares", post(cases::offer_share))
        .route("/meetings", get(network::meetings).post(network::create_meeting))
        .route("/meetings/{id}", get(network::meeting))
        .route("/meetings/{id}/agreements", post(network::create_agreement))
        .route("/agreements", get(network::pending))
        .route("/agreements/{id}/notes", post(network::add_note))
        .route("/events", get(network::events).post(network::create_event))
        .route("/events.ics", get(network::calendar))
        .route("/directory", get(network::directory).post(network::add_contact))
        .route("/groups", get(network::groups).post(network::create_group))
        .route("/library", get(network::library).post(network::add_library_item))
        .route("/library/{id}/files", post(network::add_library_file))
        .route("/library/{id}/files/{file}", get(network::library_file))
        .route("/groups/{id}", get(network::group))
        .route("/groups/{id}/tasks", post(network::add_task))
        .route("/groups/{id}/tasks/{task}", post(network::change_task))
        .route("/directory/{id}", post(network::change_contact))
        .route("/directory/{id}/remove", post(network::remove_contact))
        .route("/admin/users", get(admin::users).post(admin::create_user))
        .route("/admin/users/{id}", post(admin::change_user))
        .route("/admin/posts", get(admin::posts))
        .route("/admin/retention", get(admin::retention).post(admin::set_retention))
        .route("/audit", get(admin::audit))
        .route(HTMX_PATH, get(htmx))
        .route(CSS_PATH, get(css))
        .layer(axum::middleware::from_fn(page_headers))
}

/// Pages get their own CSP (scripts and styles from this node) and vary on htmx requests.
async fn page_headers(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(PAGE_CSP));
    h.insert(header::VARY, HeaderValue::from_static("HX-Request, Accept-Language, Cookie"));
    res
}

async fn htmx() -> Response {
    asset(include_bytes!("../../static/htmx-2.0.11.min.js"), "text/javascript; charset=utf-8")
}

async fn css() -> Response {
    asset(include_bytes!("../../static/enlace.css"), "text/css; charset=utf-8")
}

fn asset(body: &'static [u8], content_type: &'static str) -> Response {
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    res
}

/// What every page needs: the language, the user, the anti-forgery token, where we are.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub tr: Tr,
    pub user: Option<User>,
    pub csrf: String,
    /// This page's path and query (the language switcher comes back here).
    pub here: String,
    pub htmx: &'static str,
    pub css: &'static str,
}

impl Ctx {
    pub fn t(&self, id: &str) -> String {
        self.tr.t(id)
    }
    pub fn lang(&self) -> &'static str {
        self.tr.locale.code()
    }
    pub fn locales(&self) -> &'static [Locale] {
        &Locale::ALL
    }
    fn role(&self) -> Option<Role> {
        self.user.as_ref().map(|u| u.role)
    }
    /// The links a role has a use for (the application layer decides what it may do).
    pub fn works_cases(&self) -> bool {
        matches!(self.role(), Some(Role::ConsularOfficer | Role::ProtectionSupervisor | Role::LiaisonOfficer))
    }
    /// Protection supervisors answer the people's access requests.
    pub fn supervises(&self) -> bool {
        self.role() == Some(Role::ProtectionSupervisor)
    }
    pub fn administers(&self) -> bool {
        self.role() == Some(Role::CountryAdministrator)
    }
    /// Supervisors, administrators, liaison officers and regional analysts read statistics.
    /// Regional analysts read the hub's regional view.
    pub fn reads_regional(&self) -> bool {
        self.role() == Some(Role::RegionalAnalyst)
    }
    pub fn reads_stats(&self) -> bool {
        matches!(
            self.role(),
            Some(
                Role::ProtectionSupervisor
                    | Role::CountryAdministrator
                    | Role::LiaisonOfficer
                    | Role::RegionalAnalyst
            )
        )
    }
    pub fn audits(&self) -> bool {
        self.role() == Some(Role::Auditor)
    }
    pub fn user_name(&self) -> String {
        self.user.as_ref().map(|u| u.display_name.clone()).unwrap_or_default()
    }
}

/// The language for a request: the user's choice, else the language cookie, else the
/// browser's, else Spanish.
fn negotiate(user: Option<&User>, headers: &HeaderMap) -> Locale {
    user.and_then(|u| u.locale.as_deref())
        .and_then(Locale::parse)
        .or_else(|| cookie(headers, LANG_COOKIE).as_deref().and_then(Locale::parse))
        .or_else(|| {
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(Locale::from_accept_language)
        })
        .unwrap_or(Locale::DEFAULT)
}

fn here(parts: &Parts) -> String {
    parts.uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/".into())
}

/// A signed-in page request. Without a valid session the browser is sent to the sign-in page;
/// a user who must enrol in two-factor sign-in is sent to enrolment first.
pub struct Page {
    pub app: App,
    pub session: SessionActor,
    pub ctx: Ctx,
    pub headers: HeaderMap,
}

impl Page {
    pub fn actor(&self) -> &Actor {
        &self.session.actor
    }
    pub fn tr(&self) -> Tr {
        self.ctx.tr
    }
    /// An error page for a use case's refusal.
    pub fn fail(&self, e: AppError) -> Response {
        error_page(&self.ctx, e)
    }
}

impl FromRequestParts<App> for Page {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let to_login = || {
            let next = here(parts);
            let target =
                if next == "/" { "/login".to_string() } else { format!("/login?next={}", enc(&next)) };
            Redirect::to(&target).into_response()
        };
        let Some(secret) = session_cookie(&parts.headers) else { return Err(to_login()) };
        let session = match app.session(&secret, client_addr(parts)).await {
            Ok(s) => s,
            Err(AppError::Unauthorized(_)) => return Err(to_login()),
            Err(e) => {
                let ctx = anonymous_ctx(parts, String::new());
                return Err(error_page(&ctx, e));
            }
        };
        let locale = negotiate(Some(&session.actor.user), &parts.headers);
        let ctx = Ctx {
            tr: Tr::new(locale),
            user: Some(session.actor.user.clone()),
            csrf: session.csrf_token.clone(),
            here: here(parts),
            htmx: HTMX_PATH,
            css: CSS_PATH,
        };
        let path = parts.uri.path();
        if path != "/account/mfa" && path != "/logout" && path != "/lang" {
            match app.must_enrol_mfa(&session.actor.user).await {
                Ok(true) => return Err(Redirect::to("/account/mfa").into_response()),
                Ok(false) => {}
                Err(e) => return Err(error_page(&ctx, e)),
            }
        }
        Ok(Page { app: app.clone(), session, ctx, headers: parts.headers.clone() })
    }
}

/// The context of a page shown before sign-in.
pub fn anonymous_ctx(parts: &Parts, csrf: String) -> Ctx {
    Ctx {
        tr: Tr::new(negotiate(None, &parts.headers)),
        user: None,
        csrf,
        here: here(parts),
        htmx: HTMX_PATH,
        css: CSS_PATH,
    }
}

/// A signed-in form submission: the session, and the form after its anti-forgery check.
pub struct PagePost {
    pub page: Page,
    pub form: FormData,
}

impl axum::extract::FromRequest<App> for PagePost {
    type Rejection = Response;

    async fn from_request(req: axum::extract::Request, app: &App) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let page = Page::from_request_parts(&mut parts, app).await?;
        let req = axum::extract::Request::from_parts(parts.clone(), body);
        let form = FormData::from_request(req).await.map_err(|e| page.bad_form(e))?;
        let same = same_origin(&parts);
        if let Err(e) = app.check_csrf(&page.session, form.get("_csrf"), same).await {
            return Err(page.fail(e));
        }
        Ok(PagePost { page, form })
    }
}

impl Page {
    /// A form the server could not read at all (not the user's mistake to fix field by field).
    pub fn bad_form(&self, detail: String) -> Response {
        render_error(&self.ctx, StatusCode::BAD_REQUEST, &detail)
    }
}

/// Percent-encodes a query value.
pub fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A local path to come back to, or `/` (never another site).
pub fn local_path(s: Option<&str>) -> String {
    match s {
        Some(p) if p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') && p.len() < 2000 => {
            p.to_string()
        }
        _ => "/".to_string(),
    }
}

/// Renders a template as an HTML response.
pub fn html(t: &impl Template) -> Response {
    html_status(StatusCode::OK, t)
}

pub fn html_status(status: StatusCode, t: &impl Template) -> Response {
    match t.render() {
        Ok(body) => {
            let mut res = (status, body).into_response();
            res.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
            res
        }
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// See other: the answer to a successful form (POST, redirect, GET).
pub fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    c: &'a Ctx,
    title: String,
    detail: String,
}

pub fn render_error(ctx: &Ctx, status: StatusCode, detail: &str) -> Response {
    let title = ctx.tr.t(&format!("error-{}", status.as_u16()));
    let mut res = html_status(status, &ErrorPage { c: ctx, title, detail: detail.to_string() });
    if status == StatusCode::TOO_MANY_REQUESTS {
        res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("900"));
    }
    res
}

/// The page for a use case's refusal: the same status the API would give.
pub fn error_page(ctx: &Ctx, e: AppError) -> Response {
    if matches!(e, AppError::Unauthorized(_)) {
        return see_other("/login");
    }
    let detail = match &e {
        AppError::NotFound(_) | AppError::Hidden { .. } => ctx.t("error-not-found-detail"),
        AppError::Validation(v) => {
            v.0.iter()
                .map(|f| format!("{}: {}", f.field, localize(ctx.tr, &f.message)))
                .collect::<Vec<_>>()
                .join("; ")
        }
        AppError::Forbidden(_) => ctx.t("error-forbidden-detail"),
        AppError::Conflict(_) => ctx.t("error-conflict-detail"),
        AppError::Rule(m) => localize(ctx.tr, m),
        AppError::TooManyAttempts { .. } => ctx.t("login-locked"),
        _ => ctx.t("error-unavailable-detail"),
    };
    let api = ApiError::from(e);
    render_error(ctx, api.status, &detail)
}

/// A validation message from the domain (English) in the user's language, when the Fluent
/// files carry it (message `v-` + the text's words joined by hyphens); else as it is.
pub fn localize(tr: Tr, message: &str) -> String {
    let slug: String = message
        .to_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(8)
        .collect::<Vec<_>>()
        .join("-");
    let id = format!("v-{slug}");
    let t = tr.t(&id);
    if t == id { message.to_string() } else { t }
}

/// Sets a cookie (always `Secure`, `HttpOnly` and `SameSite=Strict`, path `/`).
pub fn set_cookie(res: &mut Response, name: &str, value: &str, max_age: i64) {
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; Secure; SameSite=Strict"
    )) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// Clears the session cookie.
pub fn clear_session(res: &mut Response) {
    set_cookie(res, SESSION_COOKIE, "", 0);
}

/// A file sent by a page's form: its name, claimed type and bytes, or the errors to show
/// beside the form under `key`.
pub struct Upload {
    pub file: Option<(String, String, Vec<u8>)>,
    pub errs: FieldErrors,
}

/// Reads a multipart form's file (the anti-forgery token a field before it), at most `max`
/// bytes of it, and checks the token. A broken form is a 400 page; a forged one is refused.
pub async fn read_upload(
    page: &Page,
    mut mp: axum::extract::Multipart,
    max: usize,
    key: &str,
) -> Result<Upload, Response> {
    let tr = page.tr();
    let mut csrf = None;
    let mut file = None;
    let mut errs = FieldErrors::default();
    let broken = |e: axum::extract::multipart::MultipartError| {
        render_error(&page.ctx, StatusCode::BAD_REQUEST, &e.to_string())
    };
    while let Some(mut field) = mp.next_field().await.map_err(broken)? {
        match field.name().unwrap_or("") {
            "_csrf" => csrf = field.text().await.ok(),
            "file" => {
                let name = field.file_name().unwrap_or("").to_string();
                let ct = field.content_type().unwrap_or("application/octet-stream").to_string();
                let mut bytes = Vec::new();
                let mut too_big = false;
                while let Some(chunk) = field.chunk().await.map_err(broken)? {
                    if bytes.len() + chunk.len() > max {
                        too_big = true;
                    } else {
                        bytes.extend_from_slice(&chunk);
                    }
                }
                if too_big {
                    errs.push(key, tr.tn("v-file-too-large", "mb", (max / 1024 / 1024) as i64));
                } else if name.is_empty() || bytes.is_empty() {
                    errs.push(key, tr.t("v-choose-file"));
                } else {
                    file = Some((name, ct, bytes));
                }
            }
            _ => {}
        }
    }
    let same = same_origin_headers(&page.headers);
    if let Err(e) = page.app.check_csrf(&page.session, csrf.as_deref(), same).await {
        return Err(page.fail(e));
    }
    if file.is_none() && errs.is_empty() {
        errs.push(key, tr.t("v-choose-file"));
    }
    Ok(Upload { file, errs })
}
