//! Sign-in (password, then the authenticator's code when enrolled), two-factor enrolment,
//! language, account, sign-out.

use askama::Template;
use axum::extract::{FromRequestParts, Query, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;
use enlace_app::auth::Credentials;
use enlace_app::{App, AppError};
use serde::Deserialize;

use super::forms::{FieldErrors, FormData};
use super::i18n::Locale;
use super::{
    Ctx, LANG_COOKIE, PRE_COOKIE, Page, PagePost, anonymous_ctx, clear_session, cookie, html, html_status,
    local_path, render_error, same_origin, see_other, set_cookie,
};
use crate::extract::{SESSION_COOKIE, client_addr, session_cookie};

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    c: Ctx,
    username: String,
    next: String,
    /// Ask for the authenticator's code (the password was right, or a code was wrong).
    need_code: bool,
    error: String,
    oidc: bool,
}

#[derive(Debug, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// The sign-in form. Sets the anti-forgery cookie the form is checked against.
pub async fn login_page(State(app): State<App>, req: Request) -> Response {
    let (mut parts, _) = req.into_parts();
    let next = Query::<NextQuery>::from_request_parts(&mut parts, &())
        .await
        .ok()
        .and_then(|q| q.0.next)
        .unwrap_or_default();
    let token = match cookie(&parts.headers, PRE_COOKIE) {
        Some(t) if t.len() >= 32 && t.len() <= 64 => t,
        _ => match enlace_app::auth::new_secret() {
            Ok(t) => t,
            Err(e) => return super::error_page(&anonymous_ctx(&parts, String::new()), e),
        },
    };
    let c = anonymous_ctx(&parts, token.clone());
    let page = LoginPage {
        c,
        username: String::new(),
        next: local_path(Some(&next)),
        need_code: false,
        error: String::new(),
        oidc: app.settings().oidc.is_some(),
    };
    let mut res = html(&page);
    set_cookie(&mut res, PRE_COOKIE, &token, 3600);
    res
}

/// Checks the sign-in form: the anti-forgery token, then the credentials.
pub async fn login(State(app): State<App>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let token = cookie(&parts.headers, PRE_COOKIE).unwrap_or_default();
    let c = anonymous_ctx(&parts, token.clone());
    let form = match FormData::from_request(Request::from_parts(parts.clone(), body)).await {
        Ok(f) => f,
        Err(e) => return render_error(&c, StatusCode::BAD_REQUEST, &e),
    };
    let given = form.get("_csrf").unwrap_or("");
    if token.is_empty() || !enlace_app::auth::constant_time_eq(given, &token) || !same_origin(&parts) {
        return render_error(&c, StatusCode::FORBIDDEN, &c.t("error-form-expired"));
    }
    let next = local_path(form.get("next"));
    let username = form.value("username");
    let creds = Credentials {
        username: username.trim().to_string(),
        password: form.value("password"),
        totp: form.get("code").map(str::to_string),
    };
    let page = |need_code: bool, error: String| LoginPage {
        c: c.clone(),
        username: username.clone(),
        next: next.clone(),
        need_code,
        error,
        oidc: app.settings().oidc.is_some(),
    };
    match app.start_session(creds, client_addr(&parts)).await {
        Ok(s) => {
            let max_age = (s.expires_at - Utc::now()).num_seconds().max(0);
            let mut res = see_other(&next);
            set_cookie(&mut res, SESSION_COOKIE, &s.secret, max_age);
            set_cookie(&mut res, PRE_COOKIE, "", 0);
            if let Some(l) = s.user.locale.as_deref() {
                set_cookie(&mut res, LANG_COOKIE, l, 31_536_000);
            }
            res
        }
        Err(AppError::MfaRequired) => {
            let msg = if form.get("code").is_some() { c.t("login-code-wrong") } else { String::new() };
            html_status(StatusCode::UNAUTHORIZED, &page(true, msg))
        }
        Err(AppError::TooManyAttempts { retry_after_secs }) => {
            let mut res = html_status(
                StatusCode::TOO_MANY_REQUESTS,
                &page(
                    false,
                    c.tr.tn("login-locked-minutes", "minutes", retry_after_secs.div_ceil(60) as i64),
                ),
            );
            res.headers_mut().insert(axum::http::header::RETRY_AFTER, retry_after_secs.into());
            res
        }
        Err(AppError::Unauthorized(_) | AppError::Validation(_)) => {
            // A wrong code for an enrolled account is refused like a wrong password: keep
            // asking for the code when one was given.
            let need_code = form.get("code").is_some();
            html_status(StatusCode::UNAUTHORIZED, &page(need_code, c.t("login-failed")))
        }
        Err(e) => super::error_page(&c, e),
    }
}

/// Signs out of this browser.
pub async fn logout(p: PagePost) -> Response {
    let page = p.page;
    if let Some(secret) = session_cookie(&page.headers)
        && let Err(e) = page.app.end_session(page.actor(), &secret).await
    {
        return page.fail(e);
    }
    let mut res = see_other("/login");
    clear_session(&mut res);
    res
}

/// Ends every session and token of the user.
pub async fn sign_out_everywhere(p: PagePost) -> Response {
    let page = p.page;
    if let Err(e) = page.app.sign_out_everywhere(page.actor()).await {
        return page.fail(e);
    }
    let mut res = see_other("/login");
    clear_session(&mut res);
    res
}

/// Switches the interface language: remembered for the user when signed in, and in a cookie
/// for the sign-in page.
pub async fn switch_language(State(app): State<App>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let c = anonymous_ctx(&parts, String::new());
    let form = match FormData::from_request(Request::from_parts(parts.clone(), body)).await {
        Ok(f) => f,
        Err(e) => return render_error(&c, StatusCode::BAD_REQUEST, &e),
    };
    let Some(locale) = form.get("lang").and_then(Locale::parse) else {
        return render_error(&c, StatusCode::BAD_REQUEST, &c.t("error-unknown-language"));
    };
    let given = form.get("_csrf");
    let same = same_origin(&parts);
    match session_cookie(&parts.headers) {
        Some(secret) => {
            let s = match app.session(&secret, client_addr(&parts)).await {
                Ok(s) => s,
                Err(_) => return see_other("/login"),
            };
            if let Err(e) = app.check_csrf(&s, given, same).await {
                return super::error_page(&c, e);
            }
            if let Err(e) = app.set_locale(&s.actor, Some(locale.code().to_string())).await {
                return super::error_page(&c, e);
            }
        }
        None => {
            let token = cookie(&parts.headers, PRE_COOKIE).unwrap_or_default();
            if token.is_empty() || !enlace_app::auth::constant_time_eq(given.unwrap_or(""), &token) || !same {
                return render_error(&c, StatusCode::FORBIDDEN, &c.t("error-form-expired"));
            }
        }
    }
    let mut res = see_other(&local_path(form.get("back")));
    set_cookie(&mut res, LANG_COOKIE, locale.code(), 31_536_000);
    res
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    c: Ctx,
    mfa_enabled: bool,
    expires: String,
}

pub async fn account(page: Page) -> Response {
    let expires = page.tr().datetime(&page.session.expires_at);
    html(&AccountPage { mfa_enabled: page.actor().user.mfa_enabled, expires, c: page.ctx })
}

#[derive(Template)]
#[template(path = "mfa.html")]
struct MfaPage {
    c: Ctx,
    qr_svg: String,
    secret: String,
    error: String,
    recovery_codes: Vec<String>,
    already: bool,
}

/// Two-factor enrolment: a new secret with its QR code, and the form for the first code.
pub async fn mfa_page(page: Page) -> Response {
    if page.actor().user.mfa_enabled {
        let c = page.ctx;
        return html(&MfaPage {
            c,
            qr_svg: String::new(),
            secret: String::new(),
            error: String::new(),
            recovery_codes: vec![],
            already: true,
        });
    }
    match page.app.start_mfa_enrolment(page.actor()).await {
        Ok(e) => html(&MfaPage {
            c: page.ctx,
            qr_svg: e.qr_svg,
            secret: e.secret,
            error: String::new(),
            recovery_codes: vec![],
            already: false,
        }),
        Err(e) => page.fail(e),
    }
}

/// Confirms enrolment with the first code and shows the recovery codes once.
pub async fn mfa_confirm(p: PagePost) -> Response {
    let (page, form) = (p.page, p.form);
    let code = form.get("code").unwrap_or("");
    match page.app.confirm_mfa(page.actor(), code).await {
        Ok(r) => html(&MfaPage {
            c: page.ctx,
            qr_svg: String::new(),
            secret: String::new(),
            error: String::new(),
            recovery_codes: r.recovery_codes,
            already: false,
        }),
        Err(AppError::Validation(_)) => {
            // A wrong first code: a fresh secret would confuse the app already scanned, so
            // the same pending secret stays; show the form again without a new QR code.
            let mut errs = FieldErrors::default();
            errs.push("code", page.tr().t("mfa-code-wrong"));
            let c = page.ctx.clone();
            html_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                &MfaPage {
                    c,
                    qr_svg: String::new(),
                    secret: String::new(),
                    error: errs.of("code"),
                    recovery_codes: vec![],
                    already: false,
                },
            )
        }
        Err(e) => page.fail(e),
    }
}
