//! `/api/v1/persons`: the data subject's rights.

use axum::Json;
use axum::extract::{Path, State};
use enlace_app::App;
use enlace_app::subject_access::{SubjectAccessExport, SubjectAccessRequest};

use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, Auth};

/// Everything the node holds about a person, for their access request (protection
/// supervisors). Each case's release is logged as a disclosure to the data subject.
#[utoipa::path(post, path = "/api/v1/persons/{id}/subject-access", tag = "persons",
    params(("id" = String, Path, description = "Person id")), request_body = SubjectAccessRequest,
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = SubjectAccessExport), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)))]
pub async fn subject_access(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    ApiJson(r): ApiJson<SubjectAccessRequest>,
) -> Result<Json<SubjectAccessExport>, ApiError> {
    let id = id.parse().map_err(|_| ApiError::from(enlace_app::AppError::NotFound("person")))?;
    Ok(Json(app.subject_access(&actor, id, r).await?))
}
