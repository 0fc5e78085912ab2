//! `/api/v1/meetings`, `/api/v1/agreements`, `/api/v1/events`, `/api/v1/directory`: the
//! network's workspace (meetings and their agreements, follow-up notes, events and their
//! calendar file, the directory of liaison officers and post contact points).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use enlace_app::App;
use enlace_app::network::{
    AgreementView, ContactView, Edit, EventView, FileAdded, GroupView, LibraryView, MeetingDetail,
    MeetingView, PartyAgreements, Recorded,
};
use enlace_domain::country::CountryCode;
use enlace_domain::network::{
    AgreementData, ContactData, EventData, FollowUpData, GroupData, Lang, LibraryFile, LibraryItemData,
    MeetingData, TaskData,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiQuery, Auth};

fn id_of(s: &str, what: &'static str) -> Result<Uuid, ApiError> {
    s.parse().map_err(|_| ApiError::from(enlace_app::AppError::NotFound(what)))
}

/// On a node of a network (not the hub): the change was checked here and sent to the hub,
/// which records it and publishes it to every node, this one included.
#[derive(Debug, Serialize, ToSchema)]
pub struct SentToHub {
    /// The message that carries it (see the outbox if it does not arrive).
    pub sent_to_hub: Uuid,
}

/// A change's answer: 201 with the record where the workspace is kept, 202 when sent to the
/// hub; `ok` is the status of a change recorded here.
fn answer(r: Recorded, ok: StatusCode) -> Response {
    match r {
        Recorded::Meeting(m) => (ok, Json(m)).into_response(),
        Recorded::Agreement(a) => (ok, Json(a)).into_response(),
        Recorded::Event(e) => (ok, Json(e)).into_response(),
        Recorded::Contact(c) => (ok, Json(c)).into_response(),
        Recorded::Group(g) => (ok, Json(g)).into_response(),
        Recorded::Library(l) => (ok, Json(l)).into_response(),
        Recorded::Removed => StatusCode::NO_CONTENT.into_response(),
        Recorded::SentToHub { message } => {
            (StatusCode::ACCEPTED, Json(SentToHub { sent_to_hub: message })).into_response()
        }
    }
}

/// The network's meetings, the latest first, with how many agreements each took and how many
/// are still to be acted on.
#[utoipa::path(get, path = "/api/v1/meetings", tag = "network", security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = [MeetingView]), (status = 401, body = Problem)))]
pub async fn meetings(State(app): State<App>, Auth(actor): Auth) -> Result<Json<Vec<MeetingView>>, ApiError> {
    Ok(Json(app.meetings(&actor).await?))
}

/// Records a meeting (the Technical Secretariat, liaison officers).
#[utoipa::path(post, path = "/api/v1/meetings", tag = "network", request_body = MeetingData,
    security(("bearer" = []), ("session" = [])),
    responses((status = 201, body = MeetingView), (status = 202, body = SentToHub), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create_meeting(
    State(app): State<App>,
    Auth(actor): Auth,
    ApiJson(data): ApiJson<MeetingData>,
) -> Result<Response, ApiError> {
    Ok(answer(app.edit_workspace(&actor, Edit::Meeting { data }).await?, StatusCode::CREATED))
}

/// A meeting with its agreements.
#[utoipa::path(get, path = "/api/v1/meetings/{id}", tag = "network", params(("id" = String, Path, description = "Meeting id")),
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = MeetingDetail), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn meeting(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<Json<MeetingDetail>, ApiError> {
    Ok(Json(app.meeting(&actor, id_of(&id, "meeting")?).await?))
}

/// A meeting's agreements, by their number in its report.
#[utoipa::path(get, path = "/api/v1/meetings/{id}/agreements", tag = "network",
    params(("id" = String, Path, description = "Meeting id")), security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = [AgreementView]), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn agreements(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<Json<Vec<AgreementView>>, ApiError> {
    Ok(Json(app.meeting(&actor, id_of(&id, "meeting")?).await?.agreements))
}

/// Records an agreement of a meeting, numbered as in its report (the Technical Secretariat,
/// liaison officers). A number the meeting already has: 409.
#[utoipa::path(post, path = "/api/v1/meetings/{id}/agreements", tag = "network", request_body = AgreementData,
    params(("id" = String, Path, description = "Meeting id")), security(("bearer" = []), ("session" = [])),
    responses((status = 201, body = AgreementView), (status = 202, body = SentToHub), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn create_agreement(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    ApiJson(data): ApiJson<AgreementData>,
) -> Result<Response, ApiError> {
    let edit = Edit::Agreement { meeting: id_of(&id, "meeting")?, data };
    Ok(answer(app.edit_workspace(&actor, edit).await?, StatusCode::CREATED))
}

/// Every agreement still to be acted on, under each party it names as responsible, overdue
/// ones first.
#[utoipa::path(get, path = "/api/v1/agreements/pending", tag = "network", security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = [PartyAgreements]), (status = 401, body = Problem)))]
pub async fn pending(
    State(app): State<App>,
    Auth(actor): Auth,
) -> Result<Json<Vec<PartyAgreements>>, ApiError> {
    Ok(Json(app.pending_agreements(&actor).await?))
}

/// Adds a follow-up note to an agreement, moving its status when the note gives one (the
/// Technical Secretariat, or a liaison officer of a state the agreement names).
#[utoipa::path(post, path = "/api/v1/agreements/{id}/notes", tag = "network", request_body = FollowUpData,
    params(("id" = String, Path, description = "Agreement id")), security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = AgreementView), (status = 202, body = SentToHub), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn add_note(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    ApiJson(data): ApiJson<FollowUpData>,
) -> Result<Response, ApiError> {
    let edit = Edit::Note { agreement: id_of(&id, "agreement")?, data };
    Ok(answer(app.edit_workspace(&actor, edit).await?, StatusCode::OK))
}

/// The events the network's members announced, in date order.
#[utoipa::path(get, path = "/api/v1/events", tag = "network", security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = [EventView]), (status = 401, body = Problem)))]
pub async fn events(State(app): State<App>, Auth(actor): Auth) -> Result<Json<Vec<EventView>>, ApiError> {
    Ok(Json(app.events(&actor).await?))
}

/// Announces an event (a liaison officer in their state's name; the Technical Secretariat in
/// anyone's).
#[utoipa::path(post, path = "/api/v1/events", tag = "network", request_body = EventData,
    security(("bearer" = []), ("session" = [])),
    responses((status = 201, body = EventView), (status = 202, body = SentToHub), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create_event(
    State(app): State<App>,
    Auth(actor): Auth,
    ApiJson(data): ApiJson<EventData>,
) -> Result<Response, ApiError> {
    Ok(answer(app.edit_workspace(&actor, Edit::Event { data }).await?, StatusCode::CREATED))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CalendarParams {
    /// The titles' language (es, en or fr; Spanish when not given).
    #[param(value_type = Option<String>)]
    pub lang: Option<Lang>,
}

/// The events as an iCalendar file (all-day events), to add to a calendar.
#[utoipa::path(get, path = "/api/v1/events.ics", tag = "network", params(CalendarParams),
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, content_type = "text/calendar", body = String), (status = 400, body = Problem),
        (status = 401, body = Problem)))]
pub async fn calendar(
    State(app): State<App>,
    Auth(actor): Auth,
    ApiQuery(p): ApiQuery<CalendarParams>,
) -> Result<Response, ApiError> {
    Ok(calendar_file(&app.events(&actor).await?, p.lang.unwrap_or(Lang::Es)))
}

/// Events as a calendar file to download (the API's and the events page's).
pub fn calendar_file(events: &[EventView], lang: Lang) -> Response {
    let ics = enlace_domain::network::ical(events.iter().map(|e| (e.id, &e.data)), lang, enlace_store::now());
    (
        [
            (header::CONTENT_TYPE, "text/calendar; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"enlace-events.ics\""),
        ],
        ics,
    )
        .into_response()
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DirectoryParams {
    /// Only this state's entries.
    #[param(value_type = Option<String>)]
    pub state: Option<CountryCode>,
}

/// The network's directory: each state's liaison officer, alternates and post contact points.
#[utoipa::path(get, path = "/api/v1/directory", tag = "network", params(DirectoryParams),
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = [ContactView]), (status = 400, body = Problem), (status = 401, body = Problem)))]
pub async fn directory(
    State(app): State<App>,
    Auth(actor): Auth,
    ApiQuery(p): ApiQuery<DirectoryParams>,
) -> Result<Json<Vec<ContactView>>, ApiError> {
    Ok(Json(app.contacts(&actor, p.state).await?))
}

/// Adds an entry for the user's state (its liaison officers and administrators).
#[utoipa::path(post, path = "/api/v1/directory", tag = "network", request_body = ContactData,
    security(("bearer" = []), ("session" = [])),
    responses((status = 201, body = ContactView), (status = 202, body = SentToHub), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn add_contact(
    State(app): State<App>,
    Auth(actor): Auth,
    ApiJson(data): ApiJson<ContactData>,
) -> Result<Response, ApiError> {
    Ok(answer(app.edit_workspace(&actor, Edit::Contact { id: None, data }).await?, StatusCode::CREATED))
}

/// Replaces an entry of the user's state.
#[utoipa::path(put, path = "/api/v1/directory/{id}", tag = "network", request_body = ContactData,
    params(("id" = String, Path, description = "Entry id")), security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = ContactView), (status = 202, body = SentToHub), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn change_contact(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    ApiJson(data): ApiJson<ContactData>,
) -> Result<Response, ApiError> {
    let edit = Edit::Contact { id: Some(id_of(&id, "directory entry")?), data };
    Ok(answer(app.edit_workspace(&actor, edit).await?, StatusCode::OK))
}

/// Removes an entry of the user's state.
#[utoipa::path(delete, path = "/api/v1/directory/{id}", tag = "network",
    params(("id" = String, Path, description = "Entry id")), security(("bearer" = []), ("session" = [])),
    responses((status = 204, description = "Removed"), (status = 202, body = SentToHub), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn remove_contact(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let edit = Edit::ContactRemove { id: id_of(&id, "directory entry")? };
    Ok(answer(app.edit_workspace(&actor, edit).await?, StatusCode::NO_CONTENT))
}

/// The network's working groups, the newest first, with their members and tasks.
#[utoipa::path(get, path = "/api/v1/groups", tag = "network", security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = [GroupView]), (status = 401, body = Problem)))]
pub async fn groups(State(app): State<App>, Auth(actor): Auth) -> Result<Json<Vec<GroupView>>, ApiError> {
    Ok(Json(app.groups(&actor).await?))
}

/// One working group.
#[utoipa::path(get, path = "/api/v1/groups/{id}", tag = "network", params(("id" = String, Path, description = "Group id")),
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = GroupView), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn group(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<Json<GroupView>, ApiError> {
    Ok(Json(app.group(&actor, id_of(&id, "working group")?).await?))
}

/// Sets up a working group (the Technical Secretariat, liaison officers).
#[utoipa::path(post, path = "/api/v1/groups", tag = "network", request_body = GroupData,
    security(("bearer" = []), ("session" = [])),
    responses((status = 201, body = GroupView), (status = 202, body = SentToHub), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create_group(
    State(app): State<App>,
    Auth(actor): Auth,
    ApiJson(data): ApiJson<GroupData>,
) -> Result<Response, ApiError> {
    Ok(answer(app.edit_workspace(&actor, Edit::Group { id: None, data }).await?, StatusCode::CREATED))
}

/// Changes a working group (its title, purpose, members): the Secretariat, or a liaison
/// officer of a member state.
#[utoipa::path(put, path = "/api/v1/groups/{id}", tag = "network", request_body = GroupData,
    params(("id" = String, Path, description = "Group id")), security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = GroupView), (status = 202, body = SentToHub), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn change_group(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    ApiJson(data): ApiJson<GroupData>,
) -> Result<Response, ApiError> {
    let edit = Edit::Group { id: Some(id_of(&id, "working group")?), data };
    Ok(answer(app.edit_workspace(&actor, edit).await?, StatusCode::OK))
}

/// Adds a task to a working group (the Secretariat, or a liaison officer of a member state).
#[utoipa::path(post, path = "/api/v1/groups/{id}/tasks", tag = "network", request_body = TaskData,
    params(("id" = String, Path, description = "Group id")), security(("bearer" = []), ("session" = [])),
    responses((status = 201, body = GroupView), (status = 202, body = SentToHub), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn add_task(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    ApiJson(data): ApiJson<TaskData>,
) -> Result<Response, ApiError> {
    let edit = Edit::Task { group: id_of(&id, "working group")?, id: None, data };
    Ok(answer(app.edit_workspace(&actor, edit).await?, StatusCode::CREATED))
}

/// Changes a task of a working group (its status, due date, who is responsible).
#[utoipa::path(put, path = "/api/v1/groups/{id}/tasks/{task}", tag = "network", request_body = TaskData,
    params(("id" = String, Path, description = "Group id"), ("task" = String, Path, description = "Task id")),
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = GroupView), (status = 202, body = SentToHub), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn change_task(
    State(app): State<App>,
    Auth(actor): Auth,
    Path((id, task)): Path<(String, String)>,
    ApiJson(data): ApiJson<TaskData>,
) -> Result<Response, ApiError> {
    let edit = Edit::Task { group: id_of(&id, "working group")?, id: Some(id_of(&task, "task")?), data };
    Ok(answer(app.edit_workspace(&actor, edit).await?, StatusCode::OK))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LibraryParams {
    /// Words to find in titles, summaries, topics, audiences and the text of the items'
    /// documents (accents, capitals and word endings aside: "proteccion consular" finds
    /// "protección consular").
    pub q: Option<String>,
    /// Only the documents of this meeting (not with `q`).
    pub meeting: Option<Uuid>,
    /// Only the documents of this working group (not with `q`).
    pub group: Option<Uuid>,
}

/// The library items the user's state sees, the most recent first, or those a search finds,
/// or a meeting's or a working group's documents.
#[utoipa::path(get, path = "/api/v1/library", tag = "network", params(LibraryParams),
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = [LibraryView]), (status = 400, body = Problem), (status = 401, body = Problem)))]
pub async fn library(
    State(app): State<App>,
    Auth(actor): Auth,
    ApiQuery(p): ApiQuery<LibraryParams>,
) -> Result<Json<Vec<LibraryView>>, ApiError> {
    use enlace_store::network::LibraryLink;
    let link = match (p.meeting, p.group) {
        (None, None) => None,
        (Some(m), None) => Some(LibraryLink::Meeting(m)),
        (None, Some(g)) => Some(LibraryLink::Group(g)),
        (Some(_), Some(_)) => return Err(bad_query("group", "give a meeting or a group, not both")),
    };
    match (link, p.q) {
        (None, q) => Ok(Json(app.library(&actor, q.as_deref()).await?)),
        (Some(link), None) => Ok(Json(app.library_of(&actor, link).await?)),
        (Some(_), Some(_)) => {
            Err(bad_query("q", "a search covers the whole library: give it without a meeting or a group"))
        }
    }
}

/// Shares an item in the library (the Secretariat; a liaison officer in their state's name).
#[utoipa::path(post, path = "/api/v1/library", tag = "network", request_body = LibraryItemData,
    security(("bearer" = []), ("session" = [])),
    responses((status = 201, body = LibraryView), (status = 202, body = SentToHub), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn add_library_item(
    State(app): State<App>,
    Auth(actor): Auth,
    ApiJson(data): ApiJson<LibraryItemData>,
) -> Result<Response, ApiError> {
    Ok(answer(app.edit_workspace(&actor, Edit::Library { id: None, data }).await?, StatusCode::CREATED))
}

/// A new version of a library item (its metadata, its visibility).
#[utoipa::path(put, path = "/api/v1/library/{id}", tag = "network", request_body = LibraryItemData,
    params(("id" = String, Path, description = "Item id")), security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = LibraryView), (status = 202, body = SentToHub), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn change_library_item(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    ApiJson(data): ApiJson<LibraryItemData>,
) -> Result<Response, ApiError> {
    let edit = Edit::Library { id: Some(id_of(&id, "library item")?), data };
    Ok(answer(app.edit_workspace(&actor, edit).await?, StatusCode::OK))
}

/// Adds a file to a library item, as the raw body: a PDF or Word document (its text joins the
/// search; one that cannot be read is kept, marked `unparseable`), or a PNG or JPEG image, at
/// most 10 MiB and 10 files an item. The bytes must be what the `Content-Type` says. On a
/// node that is not the hub: checked here, sent to the hub (202), back with its publication.
#[utoipa::path(post, path = "/api/v1/library/{id}/files", tag = "network",
    request_body(content(
        (crate::api::FileBytes = "application/pdf"),
        (crate::api::FileBytes = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        (crate::api::FileBytes = "image/png"),
        (crate::api::FileBytes = "image/jpeg"))),
    params(("id" = String, Path, description = "Item id"), crate::api::cases::UploadParams),
    security(("bearer" = []), ("session" = [])),
    responses((status = 201, body = LibraryFile), (status = 202, body = SentToHub), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 413, body = Problem),
        (status = 422, body = Problem)))]
pub async fn add_library_file(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<crate::api::cases::UploadParams>,
    headers: axum::http::HeaderMap,
    crate::extract::RawBody(body): crate::extract::RawBody,
) -> Result<Response, ApiError> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let item = id_of(&id, "library item")?;
    Ok(match app.add_library_file(&actor, item, &p.filename, ct, body.to_vec()).await? {
        FileAdded::Kept(f) => (StatusCode::CREATED, Json(f)).into_response(),
        FileAdded::SentToHub { message } => {
            (StatusCode::ACCEPTED, Json(SentToHub { sent_to_hub: message })).into_response()
        }
    })
}

/// Downloads a file of a library item. On a node, 503 while its parts are still arriving
/// from the hub.
#[utoipa::path(get, path = "/api/v1/library/{id}/files/{file}", tag = "network",
    params(("id" = String, Path, description = "Item id"), ("file" = String, Path, description = "File id")),
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, description = "The file"), (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 503, body = Problem)))]
pub async fn library_file(
    State(app): State<App>,
    Auth(actor): Auth,
    Path((id, file)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (item, file) = (id_of(&id, "file")?, id_of(&file, "file")?);
    let (f, bytes) = app.library_file(&actor, file).await?;
    if f.item != item {
        return Err(enlace_app::AppError::NotFound("file").into());
    }
    Ok(file_response(&f, bytes))
}

/// A library file as a download: its own media type, never sniffed by the browser.
pub(crate) fn file_response(f: &LibraryFile, bytes: Vec<u8>) -> Response {
    let ct = axum::http::HeaderValue::from_static(f.kind.media_type());
    (
        [
            (header::CONTENT_TYPE, ct),
            (header::CONTENT_DISPOSITION, crate::api::cases::content_disposition(&f.filename)),
        ],
        bytes,
    )
        .into_response()
}

fn bad_query(field: &str, detail: &str) -> ApiError {
    ApiError::field(StatusCode::BAD_REQUEST, "bad-query", field, detail)
}
