//! `/api/v1/cases`: register, read, update, workflow, search, actions, attachments, consents.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use enlace_app::App;
use enlace_app::cases::{BreakGlassGrant, BreakGlassRequest};
use enlace_app::cases::{CaseFilter, CaseSort};
use enlace_app::cases::{CasePage, CaseUpdate, CaseView, NewCase, PersonUpdate, TransitionRequest};
use enlace_app::disclosure::Disclosure;
use enlace_app::retention::LegalHoldRequest;
use enlace_domain::case::{CaseNumber, Category, Subtype, Vulnerability};
use enlace_domain::country::CountryCode;
use enlace_domain::disclosure::DisclosureRequest;
use enlace_domain::ids::{AttachmentId, CaseId, ConsentId, UserId};
use enlace_domain::parts::ConsentData;
use enlace_domain::person::Person;
use enlace_domain::post::PostCode;
use enlace_domain::record::{Action, ActionData, Attachment, Consent, Transition};
use enlace_domain::workflow::Status;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiQuery, Auth, IfMatch, RawBody};

fn case_id(s: &str) -> Result<CaseId, ApiError> {
    s.parse().map_err(|_| ApiError::from(enlace_app::AppError::NotFound("case")))
}

fn with_etag(status: StatusCode, v: CaseView) -> Response {
    let etag = HeaderValue::from_str(&format!("\"{}\"", v.case.version)).expect("digits");
    let location = HeaderValue::from_str(&format!("/api/v1/cases/{}", v.case.id)).expect("uuid");
    let mut res = (status, Json(v)).into_response();
    res.headers_mut().insert(header::ETAG, etag);
    if status == StatusCode::CREATED {
        res.headers_mut().insert(header::LOCATION, location);
    }
    res
}

/// Filters of `GET /api/v1/cases`. Lists are comma-separated.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CaseListParams {
    /// Owning state (ISO code).
    pub state: Option<String>,
    /// Post code, e.g. `HN-TAPACHULA`.
    pub post: Option<String>,
    pub category: Option<String>,
    pub subtype: Option<String>,
    /// Statuses, comma-separated.
    pub status: Option<String>,
    /// Vulnerability flags the case must all carry, comma-separated.
    pub vulnerabilities: Option<String>,
    /// Opened at or after (RFC 3339 time, or a date).
    pub opened_from: Option<String>,
    /// Opened before (RFC 3339 time, or a date: the whole day included).
    pub opened_to: Option<String>,
    pub updated_from: Option<String>,
    pub updated_to: Option<String>,
    /// A user id, or `me`.
    pub assigned_officer: Option<String>,
    /// Only detentions whose first consular contact is overdue (art. 36, 24 hours).
    pub overdue: Option<bool>,
    /// Only cases whose latest action asks for a follow-up on or before this day
    /// (`YYYY-MM-DD`).
    pub follow_up_due: Option<String>,
    /// Search: a case number, or words of the person's names, aliases or document numbers
    /// (accent- and case-insensitive; each word matches as a prefix).
    pub q: Option<String>,
    /// `opened_at`, `updated_at` or `number`; prefix `-` for descending. Default `-opened_at`.
    pub sort: Option<String>,
    /// From `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<u32>,
}

fn bad(field: &str, msg: impl Into<String>) -> ApiError {
    ApiError::field(StatusCode::BAD_REQUEST, "bad-query", field, msg)
}

fn time_param(field: &str, v: Option<&str>, end: bool) -> Result<Option<DateTime<Utc>>, ApiError> {
    let Some(v) = v else { return Ok(None) };
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    let d = NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| {
        bad(field, format!("\"{v}\" is not a date (2026-11-29) or time (2026-11-29T08:00:00Z)"))
    })?;
    let d = if end { d.succ_opt().unwrap_or(d) } else { d };
    Ok(Some(d.and_hms_opt(0, 0, 0).expect("midnight").and_utc()))
}

fn list_param<T>(field: &str, v: Option<&str>, parse: fn(&str) -> Option<T>) -> Result<Vec<T>, ApiError> {
    let Some(v) = v else { return Ok(Vec::new()) };
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| parse(s).ok_or_else(|| bad(field, format!("\"{s}\" is not a known value"))))
        .collect()
}

fn one<T>(field: &str, v: Option<&str>, parse: fn(&str) -> Option<T>) -> Result<Option<T>, ApiError> {
    v.map(|s| parse(s).ok_or_else(|| bad(field, format!("\"{s}\" is not a known value")))).transpose()
}

pub(crate) fn filter_from(p: CaseListParams, me: UserId) -> Result<CaseFilter, ApiError> {
    let (sort, descending) = match p.sort.as_deref().unwrap_or("-opened_at") {
        "opened_at" => (CaseSort::Opened, false),
        "-opened_at" => (CaseSort::Opened, true),
        "updated_at" => (CaseSort::Updated, false),
        "-updated_at" => (CaseSort::Updated, true),
        "number" => (CaseSort::Number, false),
        "-number" => (CaseSort::Number, true),
        other => {
            return Err(bad(
                "sort",
                format!("\"{other}\" is not one of opened_at, updated_at, number (prefix - for descending)"),
            ));
        }
    };
    let limit = p.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(bad("limit", "must be between 1 and 200"));
    }
    if p.q.as_ref().is_some_and(|q| q.chars().count() > 200) {
        return Err(bad("q", "is longer than 200 characters"));
    }
    let assigned_officer = match p.assigned_officer.as_deref() {
        None => None,
        Some("me") => Some(me),
        Some(s) => {
            Some(s.parse::<UserId>().map_err(|_| bad("assigned_officer", "is not a user id or \"me\""))?)
        }
    };
    Ok(CaseFilter {
        owner_state: p
            .state
            .as_deref()
            .map(CountryCode::parse)
            .transpose()
            .map_err(|e| bad("state", e.to_string()))?,
        post: p.post.as_deref().map(PostCode::parse).transpose().map_err(|e| bad("post", e.to_string()))?,
        category: one("category", p.category.as_deref(), Category::parse)?,
        subtype: one("subtype", p.subtype.as_deref(), Subtype::parse)?,
        statuses: list_param("status", p.status.as_deref(), Status::parse)?,
        vulnerabilities: list_param("vulnerabilities", p.vulnerabilities.as_deref(), Vulnerability::parse)?,
        opened_from: time_param("opened_from", p.opened_from.as_deref(), false)?,
        opened_to: time_param("opened_to", p.opened_to.as_deref(), true)?,
        updated_from: time_param("updated_from", p.updated_from.as_deref(), false)?,
        updated_to: time_param("updated_to", p.updated_to.as_deref(), true)?,
        assigned_officer,
        first_contact_overdue: p.overdue.unwrap_or(false),
        follow_up_due: p
            .follow_up_due
            .as_deref()
            .map(|d| {
                NaiveDate::parse_from_str(d, "%Y-%m-%d")
                    .map_err(|_| bad("follow_up_due", format!("\"{d}\" is not a date (2026-11-29)")))
            })
            .transpose()?,
        q: p.q,
        sort,
        descending,
        cursor: p.cursor.as_deref().map(App::parse_cursor).transpose()?,
        limit,
    })
}

/// Lists the cases you may see: filtered, searched, sorted, one page at a time.
#[utoipa::path(get, path = "/api/v1/cases", tag = "cases", params(CaseListParams), security(("bearer" = [])),
    responses((status = 200, body = CasePage), (status = 400, body = Problem), (status = 401, body = Problem)))]
pub async fn list(
    State(app): State<App>,
    Auth(actor): Auth,
    ApiQuery(p): ApiQuery<CaseListParams>,
) -> Result<Json<CasePage>, ApiError> {
    let f = filter_from(p, actor.user.id)?;
    if f.cursor.is_some() {
        // A cursor from another sort order is a client error, not a server one.
        let ok = matches!(
            (&f.cursor, f.sort),
            (Some(enlace_app::cases::Cursor::Number(_)), CaseSort::Number)
                | (Some(enlace_app::cases::Cursor::Time(..)), CaseSort::Opened | CaseSort::Updated)
        );
        if !ok {
            return Err(bad("cursor", "belongs to another sort order"));
        }
    }
    Ok(Json(app.list_cases(&actor, f).await?))
}

/// Registers a case. The person is new (`person`) or already registered (`person_id`).
#[utoipa::path(post, path = "/api/v1/cases", tag = "cases", request_body = NewCase, security(("bearer" = [])),
    responses((status = 201, body = CaseView, description = "Created; `Location` and `ETag` set"),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 413, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(app): State<App>,
    Auth(actor): Auth,
    ApiJson(n): ApiJson<NewCase>,
) -> Result<Response, ApiError> {
    let v = app.create_case(&actor, n).await?;
    Ok(with_etag(StatusCode::CREATED, v))
}

/// Reads a case. `ETag` carries its version.
#[utoipa::path(get, path = "/api/v1/cases/{id}", tag = "cases", params(("id" = String, Path, description = "Case id")),
    security(("bearer" = [])), responses((status = 200, body = CaseView), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn get(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let v = app.get_case(&actor, case_id(&id)?).await?;
    Ok(with_etag(StatusCode::OK, v))
}

/// Reads a case by its number, e.g. `HN-2026-000123`.
#[utoipa::path(get, path = "/api/v1/cases/by-number/{number}", tag = "cases", params(("number" = String, Path, description = "Case number")),
    security(("bearer" = [])), responses((status = 200, body = CaseView), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn by_number(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(number): Path<String>,
) -> Result<Response, ApiError> {
    let n = CaseNumber::parse(&number).map_err(|_| ApiError::from(enlace_app::AppError::NotFound("case")))?;
    let v = app.get_case_by_number(&actor, &n).await?;
    Ok(with_etag(StatusCode::OK, v))
}

/// Changes a case. Send the version you read (`If-Match` or `version`); a stale one gets 409.
#[utoipa::path(patch, path = "/api/v1/cases/{id}", tag = "cases", request_body = CaseUpdate,
    params(("id" = String, Path, description = "Case id"), ("If-Match" = Option<String>, Header, description = "The version you read, e.g. \"3\"")),
    security(("bearer" = [])), responses((status = 200, body = CaseView), (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    IfMatch(v): IfMatch,
    ApiJson(u): ApiJson<CaseUpdate>,
) -> Result<Response, ApiError> {
    let view = app.update_case(&actor, case_id(&id)?, v, u).await?;
    Ok(with_etag(StatusCode::OK, view))
}

/// Corrects the person of a case (rectification). Versioned by the person's version.
#[utoipa::path(put, path = "/api/v1/cases/{id}/person", tag = "cases", request_body = PersonUpdate,
    params(("id" = String, Path, description = "Case id"), ("If-Match" = Option<String>, Header, description = "The person's version")),
    security(("bearer" = [])), responses((status = 200, body = Person), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn update_person(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    IfMatch(v): IfMatch,
    ApiJson(u): ApiJson<PersonUpdate>,
) -> Result<Json<Person>, ApiError> {
    Ok(Json(app.update_person(&actor, case_id(&id)?, v, u).await?))
}

/// The case's status history: who, when, why.
#[utoipa::path(get, path = "/api/v1/cases/{id}/transitions", tag = "cases", params(("id" = String, Path, description = "Case id")),
    security(("bearer" = [])), responses((status = 200, body = [Transition]), (status = 404, body = Problem)))]
pub async fn transitions(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<Json<Vec<Transition>>, ApiError> {
    Ok(Json(app.transitions(&actor, case_id(&id)?).await?))
}

/// Moves the case to another status; illegal moves are refused with the allowed ones.
#[utoipa::path(post, path = "/api/v1/cases/{id}/transitions", tag = "cases", request_body = TransitionRequest,
    params(("id" = String, Path, description = "Case id"), ("If-Match" = Option<String>, Header, description = "The version you read")),
    security(("bearer" = [])), responses((status = 200, body = CaseView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn transition(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    IfMatch(v): IfMatch,
    ApiJson(r): ApiJson<TransitionRequest>,
) -> Result<Response, ApiError> {
    let view = app.transition(&actor, case_id(&id)?, v, r).await?;
    Ok(with_etag(StatusCode::OK, view))
}

#[utoipa::path(get, path = "/api/v1/cases/{id}/actions", tag = "cases", params(("id" = String, Path, description = "Case id")),
    security(("bearer" = [])), responses((status = 200, body = [Action]), (status = 404, body = Problem)))]
pub async fn actions(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<Json<Vec<Action>>, ApiError> {
    Ok(Json(app.actions(&actor, case_id(&id)?).await?))
}

/// Records an action (visit, call, legal aid, document issued, payment, note).
#[utoipa::path(post, path = "/api/v1/cases/{id}/actions", tag = "cases", request_body = ActionData,
    params(("id" = String, Path, description = "Case id")), security(("bearer" = [])),
    responses((status = 201, body = Action), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn add_action(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    ApiJson(a): ApiJson<ActionData>,
) -> Result<(StatusCode, Json<Action>), ApiError> {
    Ok((StatusCode::CREATED, Json(app.add_action(&actor, case_id(&id)?, a).await?)))
}

#[utoipa::path(get, path = "/api/v1/cases/{id}/attachments", tag = "cases", params(("id" = String, Path, description = "Case id")),
    security(("bearer" = [])), responses((status = 200, body = [Attachment]), (status = 404, body = Problem)))]
pub async fn attachments(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<Json<Vec<Attachment>>, ApiError> {
    Ok(Json(app.attachments(&actor, case_id(&id)?).await?))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UploadParams {
    /// The file's name, e.g. `acta.pdf`.
    pub filename: String,
}

/// Uploads a file (PDF, JPEG, PNG or plain text, at most 10 MiB) as the raw body. The bytes
/// must match the `Content-Type`; the SHA-256 is stored.
#[utoipa::path(post, path = "/api/v1/cases/{id}/attachments", tag = "cases",
    request_body(content(
        (crate::api::FileBytes = "application/pdf"),
        (crate::api::FileBytes = "image/jpeg"),
        (crate::api::FileBytes = "image/png"),
        (crate::api::FileBytes = "text/plain", example = "Constancia de visita consular."))),
    params(("id" = String, Path, description = "Case id"), UploadParams), security(("bearer" = [])),
    responses((status = 201, body = Attachment), (status = 404, body = Problem), (status = 413, body = Problem), (status = 422, body = Problem)))]
pub async fn upload(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<UploadParams>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<(StatusCode, Json<Attachment>), ApiError> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let a = app.add_attachment(&actor, case_id(&id)?, &p.filename, ct, body.to_vec()).await?;
    Ok((StatusCode::CREATED, Json(a)))
}

pub(crate) fn content_disposition(name: &str) -> HeaderValue {
    let ascii: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || ".-_".contains(c) { c } else { '_' }).collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b".-_".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    HeaderValue::from_str(&format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"))
        .unwrap_or(HeaderValue::from_static("attachment"))
}

/// Downloads an attachment.
#[utoipa::path(get, path = "/api/v1/cases/{id}/attachments/{attachment}", tag = "cases",
    params(("id" = String, Path, description = "Case id"), ("attachment" = String, Path, description = "Attachment id")),
    security(("bearer" = [])), responses((status = 200, description = "The file"), (status = 404, body = Problem)))]
pub async fn attachment(
    State(app): State<App>,
    Auth(actor): Auth,
    Path((id, att)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let att: AttachmentId =
        att.parse().map_err(|_| ApiError::from(enlace_app::AppError::NotFound("attachment")))?;
    let (meta, bytes) = app.attachment(&actor, case_id(&id)?, att).await?;
    let ct = HeaderValue::from_str(&meta.content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    Ok((
        [(header::CONTENT_TYPE, ct), (header::CONTENT_DISPOSITION, content_disposition(&meta.filename))],
        bytes,
    )
        .into_response())
}

#[utoipa::path(get, path = "/api/v1/cases/{id}/consents", tag = "cases", params(("id" = String, Path, description = "Case id")),
    security(("bearer" = [])), responses((status = 200, body = [Consent]), (status = 404, body = Problem)))]
pub async fn consents(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<Json<Vec<Consent>>, ApiError> {
    Ok(Json(app.consents(&actor, case_id(&id)?).await?))
}

/// Records a consent (who gave it, its scope, when).
#[utoipa::path(post, path = "/api/v1/cases/{id}/consents", tag = "cases", request_body = ConsentData,
    params(("id" = String, Path, description = "Case id")), security(("bearer" = [])),
    responses((status = 201, body = Consent), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn add_consent(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    ApiJson(c): ApiJson<ConsentData>,
) -> Result<(StatusCode, Json<Consent>), ApiError> {
    Ok((StatusCode::CREATED, Json(app.add_consent(&actor, case_id(&id)?, c).await?)))
}

/// Records the withdrawal of a consent.
#[utoipa::path(post, path = "/api/v1/cases/{id}/consents/{consent}/withdraw", tag = "cases",
    params(("id" = String, Path, description = "Case id"), ("consent" = String, Path, description = "Consent id")),
    security(("bearer" = [])), responses((status = 204), (status = 404, body = Problem)))]
pub async fn withdraw_consent(
    State(app): State<App>,
    Auth(actor): Auth,
    Path((id, consent)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let consent: ConsentId =
        consent.parse().map_err(|_| ApiError::from(enlace_app::AppError::NotFound("consent")))?;
    app.withdraw_consent(&actor, case_id(&id)?, consent).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Breaks the glass: a protection supervisor opens a restricted case (child, sensitive facts)
/// of their state for an hour, with a written reason shown to the state's auditors.
#[utoipa::path(post, path = "/api/v1/cases/{id}/break-glass", tag = "cases",
    params(("id" = String, Path, description = "Case id")), request_body = BreakGlassRequest,
    security(("bearer" = []), ("session" = [])),
    responses((status = 201, body = BreakGlassGrant), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn break_glass(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    ApiJson(r): ApiJson<BreakGlassRequest>,
) -> Result<(StatusCode, Json<BreakGlassGrant>), ApiError> {
    Ok((StatusCode::CREATED, Json(app.break_glass(&actor, case_id(&id)?, r).await?)))
}

/// Discloses the case's data for a purpose to a recipient, if a consent in force covers it
/// or a recorded exception applies; logs the disclosure (purpose, recipient, legal instrument,
/// basis). Refused with 403 otherwise.
#[utoipa::path(post, path = "/api/v1/cases/{id}/disclosures", tag = "cases",
    params(("id" = String, Path, description = "Case id")), request_body = DisclosureRequest,
    security(("bearer" = []), ("session" = [])),
    responses((status = 201, body = Disclosure), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)))]
pub async fn disclose(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    ApiJson(r): ApiJson<DisclosureRequest>,
) -> Result<(StatusCode, Json<Disclosure>), ApiError> {
    Ok((StatusCode::CREATED, Json(app.disclose(&actor, case_id(&id)?, r).await?)))
}

/// The disclosures of a case, oldest first.
#[utoipa::path(get, path = "/api/v1/cases/{id}/disclosures", tag = "cases",
    params(("id" = String, Path, description = "Case id")), security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = [Disclosure]), (status = 404, body = Problem)))]
pub async fn disclosures(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<Json<Vec<Disclosure>>, ApiError> {
    Ok(Json(app.case_disclosures(&actor, case_id(&id)?).await?))
}

/// Places or lifts a legal hold: a case on hold is never purged or anonymised.
#[utoipa::path(put, path = "/api/v1/cases/{id}/legal-hold", tag = "cases",
    params(("id" = String, Path, description = "Case id")), request_body = LegalHoldRequest,
    security(("bearer" = []), ("session" = [])),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn set_legal_hold(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    ApiJson(r): ApiJson<LegalHoldRequest>,
) -> Result<StatusCode, ApiError> {
    app.set_legal_hold(&actor, case_id(&id)?, r).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Whether the case is on legal hold.
#[utoipa::path(get, path = "/api/v1/cases/{id}/legal-hold", tag = "cases",
    params(("id" = String, Path, description = "Case id")), security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = LegalHold), (status = 404, body = Problem)))]
pub async fn legal_hold(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<Json<LegalHold>, ApiError> {
    Ok(Json(LegalHold { hold: app.legal_hold(&actor, case_id(&id)?).await? }))
}

/// A case's legal hold.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct LegalHold {
    pub hold: bool,
}
