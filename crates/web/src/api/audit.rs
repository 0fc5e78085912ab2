//! `/api/v1/audit`: the audit viewer for auditors (JSON pages and a CSV export).

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use enlace_app::App;
use enlace_app::audit_log::{AuditPage, AuditQuery};
use enlace_app::cases::BreakGlassGrant;
use enlace_app::disclosure::Disclosure;

use crate::error::{ApiError, Problem};
use crate::extract::{ApiQuery, Auth};

/// Audit events, newest first, filtered by user, record, action and time (auditors only).
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery), security(("bearer" = [])),
    responses((status = 200, body = AuditPage), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem)))]
pub async fn list(
    State(app): State<App>,
    Auth(actor): Auth,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    Ok(Json(app.audit_events(&actor, &q).await?))
}

/// The events matching the same filters as CSV (all pages; `cursor` and `limit` ignored).
#[utoipa::path(get, path = "/api/v1/audit/export", tag = "audit", params(AuditQuery),
    security(("bearer" = [])),
    responses((status = 200, content_type = "text/csv", body = String), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn export(
    State(app): State<App>,
    Auth(actor): Auth,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Response, ApiError> {
    let mut buf = Vec::new();
    app.export_audit_csv(&actor, &q, &mut buf).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"audit.csv\""),
        ],
        buf,
    )
        .into_response())
}

/// Break-glass grants on the auditor's state's cases, newest first, with their reasons.
#[utoipa::path(get, path = "/api/v1/audit/break-glass", tag = "audit", security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = [BreakGlassGrant]), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn break_glass(
    State(app): State<App>,
    Auth(actor): Auth,
) -> Result<Json<Vec<BreakGlassGrant>>, ApiError> {
    Ok(Json(app.break_glass_grants(&actor).await?))
}

/// The disclosure log of the auditor's state's cases, newest first.
#[utoipa::path(get, path = "/api/v1/audit/disclosures", tag = "audit", security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = [Disclosure]), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn disclosures(
    State(app): State<App>,
    Auth(actor): Auth,
) -> Result<Json<Vec<Disclosure>>, ApiError> {
    Ok(Json(app.state_disclosures(&actor).await?))
}
