//! `/api/v1/persons`: the data subject's rights.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use enlace_app::App;
use enlace_app::subject_access::{SubjectAccessExport, SubjectAccessRequest};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiQuery, Auth};
use crate::report::FileFormat;
use crate::report::exports::{self, Requested};
use crate::ui::i18n::{Locale, Tr};

/// The form a subject access export takes.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// Everything, as data (the default).
    #[default]
    Json,
    /// A document to hand to the person, a section per case.
    Pdf,
    /// The same document as a workbook, a sheet per case.
    Xlsx,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SubjectAccessParams {
    #[serde(default)]
    #[param(inline)]
    pub format: ExportFormat,
    /// The document's language (es, en or fr; English when not given). Ignored for JSON.
    pub lang: Option<String>,
}

/// Everything the node holds about a person, for their access request (protection
/// supervisors), as data or as a document (`format=pdf` or `xlsx`). Each case's release is
/// logged as a disclosure to the data subject.
#[utoipa::path(post, path = "/api/v1/persons/{id}/subject-access", tag = "persons",
    params(("id" = String, Path, description = "Person id"), SubjectAccessParams), request_body = SubjectAccessRequest,
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, description = "The export: JSON, or the document when a format is asked",
            content((SubjectAccessExport = "application/json"), (Vec<u8> = "application/pdf"),
                (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)))]
pub async fn subject_access(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<SubjectAccessParams>,
    ApiJson(r): ApiJson<SubjectAccessRequest>,
) -> Result<Response, ApiError> {
    let id = id.parse().map_err(|_| ApiError::from(enlace_app::AppError::NotFound("person")))?;
    let locale = match p.lang.as_deref() {
        None => Locale::En,
        Some(l) => Locale::parse(l).ok_or_else(|| {
            ApiError::from(enlace_app::AppError::invalid("lang", "a language this node speaks: es, en or fr"))
        })?,
    };
    let format = match p.format {
        ExportFormat::Json => None,
        ExportFormat::Pdf => Some(FileFormat::Pdf),
        ExportFormat::Xlsx => Some(FileFormat::Xlsx),
    };
    let x = app.subject_access(&actor, id, r.clone()).await?;
    match format {
        None => Ok(Json(x).into_response()),
        Some(f) => Ok(subject_access_file(&x, &r, Tr::new(locale), f)?),
    }
}

/// A subject access export as a document to download (the API's and the case page's).
pub fn subject_access_file(
    x: &SubjectAccessExport,
    r: &SubjectAccessRequest,
    tr: Tr,
    format: FileFormat,
) -> Result<Response, enlace_app::AppError> {
    let req = Requested { by: r.requested_by.as_str(), legal_instrument: r.legal_instrument.as_str() };
    let doc = exports::subject_access(tr, x, &req);
    let body = match format {
        FileFormat::Xlsx => doc.xlsx(),
        _ => doc.pdf(),
    }
    .map_err(enlace_app::AppError::Unavailable)?;
    let name = format!("subject-access-{}", x.generated_at.format("%Y%m%d-%H%M"));
    Ok(crate::report::attachment(body, format, &name))
}
