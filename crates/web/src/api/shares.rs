//! `/api/v1/…/shares`: cases shared with other states' nodes (referrals, mutual-assistance
//! notices), their state and history; `/api/v1/admin/federation`: the outbox and dead letters.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use enlace_app::App;
use enlace_app::fed::{
    HandoverRequest, OutboxView, Share, ShareEventView, ShareRequest, ShareSide, SharesPage,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiQuery, Auth};

fn share_id(s: &str) -> Result<Uuid, ApiError> {
    s.parse().map_err(|_| ApiError::from(enlace_app::AppError::NotFound("share")))
}

pub(crate) fn case_id(s: &str) -> Result<enlace_domain::ids::CaseId, ApiError> {
    s.parse().map_err(|_| ApiError::from(enlace_app::AppError::NotFound("case")))
}

/// Offers the case to another state's node: the chosen fields, a purpose, a legal instrument.
/// Passes the consent gate (403 without a consent in force or a recorded exception); the
/// disclosure is logged and the offer queued for delivery in one transaction.
#[utoipa::path(post, path = "/api/v1/cases/{id}/shares", tag = "shares",
    params(("id" = String, Path, description = "Case id")), request_body = ShareRequest,
    security(("bearer" = []), ("session" = [])),
    responses((status = 201, body = Share), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem), (status = 503, body = Problem)))]
pub async fn offer(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    ApiJson(r): ApiJson<ShareRequest>,
) -> Result<(StatusCode, Json<Share>), ApiError> {
    Ok((StatusCode::CREATED, Json(app.offer_share(&actor, case_id(&id)?, r).await?)))
}

/// The shares of a case, oldest first.
#[utoipa::path(get, path = "/api/v1/cases/{id}/shares", tag = "shares",
    params(("id" = String, Path, description = "Case id")), security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = [Share]), (status = 404, body = Problem)))]
pub async fn for_case(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<Json<Vec<Share>>, ApiError> {
    Ok(Json(app.case_shares(&actor, case_id(&id)?).await?))
}

/// Filters of `GET /api/v1/shares`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ShareListParams {
    /// `recipient` (default: what other states shared with yours) or `offerer`.
    pub side: Option<ShareSide>,
    /// From the previous page's `next`.
    pub cursor: Option<String>,
    /// 1 to 200 (default 50).
    pub limit: Option<u32>,
}

/// Your state's shares, most recently changed first. Lists carry no received personal data;
/// a share's page does (and that read is audited).
#[utoipa::path(get, path = "/api/v1/shares", tag = "shares", params(ShareListParams),
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = SharesPage), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn list(
    State(app): State<App>,
    Auth(actor): Auth,
    ApiQuery(p): ApiQuery<ShareListParams>,
) -> Result<Json<SharesPage>, ApiError> {
    let side = p.side.unwrap_or(ShareSide::Recipient);
    Ok(Json(app.list_shares(&actor, side, p.cursor.as_deref(), p.limit.unwrap_or(50) as i64).await?))
}

/// A share with its history.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShareDetail {
    pub share: Share,
    pub events: Vec<ShareEventView>,
}

/// One share: what it carries and each message sent and received.
#[utoipa::path(get, path = "/api/v1/shares/{id}", tag = "shares",
    params(("id" = String, Path, description = "Share id")), security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = ShareDetail), (status = 404, body = Problem)))]
pub async fn get(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<Json<ShareDetail>, ApiError> {
    let (share, events) = app.get_share(&actor, share_id(&id)?).await?;
    Ok(Json(ShareDetail { share, events }))
}

/// A note with a decision on a share.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[schema(example = json!({"note": "Recibido; lo atiende el consulado en Tapachula"}))]
#[serde(deny_unknown_fields)]
pub struct ShareNote {
    /// Sent to the other state with the decision.
    #[serde(default)]
    pub note: Option<String>,
}

/// Accepts a share offered to your state (liaison officers and protection supervisors).
#[utoipa::path(post, path = "/api/v1/shares/{id}/accept", tag = "shares",
    params(("id" = String, Path, description = "Share id")), request_body = ShareNote,
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = Share), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn accept(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    ApiJson(n): ApiJson<ShareNote>,
) -> Result<Json<Share>, ApiError> {
    Ok(Json(app.decide_share(&actor, share_id(&id)?, true, n.note).await?))
}

/// Rejects a share offered to your state; what it carried is erased.
#[utoipa::path(post, path = "/api/v1/shares/{id}/reject", tag = "shares",
    params(("id" = String, Path, description = "Share id")), request_body = ShareNote,
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = Share), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn reject(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    ApiJson(n): ApiJson<ShareNote>,
) -> Result<Json<Share>, ApiError> {
    Ok(Json(app.decide_share(&actor, share_id(&id)?, false, n.note).await?))
}

/// Ends a share (either side). The receiving side erases what it received; a revoke racing
/// an accept ends revoked on both sides.
#[utoipa::path(post, path = "/api/v1/shares/{id}/revoke", tag = "shares",
    params(("id" = String, Path, description = "Share id")), request_body = ShareNote,
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = Share), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn revoke(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    ApiJson(n): ApiJson<ShareNote>,
) -> Result<Json<Share>, ApiError> {
    Ok(Json(app.revoke_share(&actor, share_id(&id)?, n.note).await?))
}

/// Offers the case of an accepted share to the other state: ownership moves when it accepts.
/// Passes the consent gate for the whole case (403 without a consent in force or an
/// exception); refused while the case is shared with a third state (409).
#[utoipa::path(post, path = "/api/v1/shares/{id}/handover", tag = "shares",
    params(("id" = String, Path, description = "Share id")), request_body = HandoverRequest,
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = Share), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn handover_offer(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    ApiJson(r): ApiJson<HandoverRequest>,
) -> Result<Json<Share>, ApiError> {
    Ok(Json(app.offer_handover(&actor, share_id(&id)?, r).await?))
}

/// Withdraws a handover offer the other state has not accepted yet.
#[utoipa::path(post, path = "/api/v1/shares/{id}/handover/withdraw", tag = "shares",
    params(("id" = String, Path, description = "Share id")), request_body = ShareNote,
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = Share), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn handover_withdraw(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    ApiJson(n): ApiJson<ShareNote>,
) -> Result<Json<Share>, ApiError> {
    Ok(Json(app.withdraw_handover(&actor, share_id(&id)?, n.note).await?))
}

/// Takes over a case offered to your state (a handover, or a mutual-assistance notice). Your
/// node owns the case, in its own series, once the other node's confirm arrives.
#[utoipa::path(post, path = "/api/v1/shares/{id}/handover/accept", tag = "shares",
    params(("id" = String, Path, description = "Share id")), request_body = ShareNote,
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = Share), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn handover_accept(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    ApiJson(n): ApiJson<ShareNote>,
) -> Result<Json<Share>, ApiError> {
    Ok(Json(app.decide_handover(&actor, share_id(&id)?, true, n.note).await?))
}

/// Declines a case offered to your state: the other state keeps it (for a mutual-assistance
/// notice, this asks the assisting state to continue).
#[utoipa::path(post, path = "/api/v1/shares/{id}/handover/decline", tag = "shares",
    params(("id" = String, Path, description = "Share id")), request_body = ShareNote,
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = Share), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn handover_decline(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    ApiJson(n): ApiJson<ShareNote>,
) -> Result<Json<Share>, ApiError> {
    Ok(Json(app.decide_handover(&actor, share_id(&id)?, false, n.note).await?))
}

/// The federation as this node's administrator sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct FederationStatus {
    /// This node's id; absent when the node is not federated.
    pub node: Option<String>,
    pub directory_serial: Option<u64>,
    pub directory_expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Outgoing messages per state (`pending`, `delivered`, `dead`).
    pub outbox: std::collections::BTreeMap<String, i64>,
    /// Peers the relay skips for now after repeated failures.
    pub open_circuits: Vec<String>,
    /// Messages the relay gave up on, oldest first.
    pub dead_letters: Vec<OutboxView>,
}

/// The node's federation: directory, outbox, open circuits, dead letters (administrators).
#[utoipa::path(get, path = "/api/v1/admin/federation", tag = "admin",
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = FederationStatus), (status = 403, body = Problem)))]
pub async fn status(State(app): State<App>, Auth(actor): Auth) -> Result<Json<FederationStatus>, ApiError> {
    let outbox = app.outbox_counts(&actor).await?.into_iter().collect();
    let dead_letters = app.dead_letters(&actor).await?;
    let dir = if app.federated() { app.directory().await.ok() } else { None };
    Ok(Json(FederationStatus {
        node: app.node_id().map(|n| n.to_string()),
        directory_serial: dir.as_ref().map(|d| d.serial),
        directory_expires_at: dir.as_ref().map(|d| d.expires_at),
        outbox,
        open_circuits: app.open_circuits(),
        dead_letters,
    }))
}

/// Puts a dead letter back in the queue (after what refused it was fixed).
#[utoipa::path(post, path = "/api/v1/admin/federation/dead-letters/{id}/retry", tag = "admin",
    params(("id" = String, Path, description = "Message id")), security(("bearer" = []), ("session" = [])),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn retry(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = id.parse().map_err(|_| ApiError::from(enlace_app::AppError::NotFound("dead letter")))?;
    app.retry_dead_letter(&actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
