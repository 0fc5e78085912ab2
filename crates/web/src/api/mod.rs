//! `/api/v1` routes, one module per resource.

pub mod admin;
pub mod audit;
pub mod auth;
pub mod cases;
pub mod linkage;
pub mod matches;
pub mod meta;
pub mod network;
pub mod persons;
pub mod shares;
pub mod stats;

use axum::Router;
use axum::routing::{get, post};
use enlace_app::App;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/healthz", get(meta::healthz))
        .route("/readyz", get(meta::readyz))
        .route("/api/v1/openapi.json", get(meta::openapi))
        .route("/api/v1/auth/token", post(auth::token).delete(auth::logout))
        .route(
            "/api/v1/auth/session",
            post(auth::start_session).get(auth::current_session).delete(auth::end_session),
        )
        .route("/api/v1/auth/sign-out-everywhere", post(auth::sign_out_everywhere))
        .route("/api/v1/auth/mfa/enrol", post(auth::mfa_enrol))
        .route("/api/v1/auth/oidc/login", get(auth::oidc_login))
        .route("/api/v1/auth/oidc/callback", get(auth::oidc_callback))
        .route("/api/v1/auth/mfa/confirm", post(auth::mfa_confirm))
        .route("/api/v1/admin/users", get(admin::users).post(admin::create_user))
        .route("/api/v1/admin/users/{id}", axum::routing::patch(admin::change_user))
        .route("/api/v1/admin/mfa-policy", get(admin::mfa_policy).put(admin::set_mfa_policy))
        .route("/api/v1/me", get(auth::me))
        .route("/api/v1/admin/api-tokens", get(admin::tokens).post(admin::create_token))
        .route("/api/v1/admin/retention-rules", get(admin::retention_rules).put(admin::set_retention_rule))
        .route("/api/v1/admin/api-tokens/{id}", axum::routing::delete(admin::revoke_token))
        .route("/api/v1/audit", get(audit::list))
        .route("/api/v1/audit/export", get(audit::export))
        .route("/api/v1/audit/break-glass", get(audit::break_glass))
        .route("/api/v1/audit/disclosures", get(audit::disclosures))
        .route("/api/v1/states", get(meta::states))
        .route("/api/v1/stats", get(stats::get))
        .route("/api/v1/stats/submissions", post(stats::submit))
        .route("/api/v1/regional/stats", get(stats::regional))
        .route("/api/v1/regional/linkage", get(linkage::regional))
        .route("/api/v1/meetings", get(network::meetings).post(network::create_meeting))
        .route("/api/v1/meetings/{id}", get(network::meeting))
        .route("/api/v1/meetings/{id}/agreements", get(network::agreements).post(network::create_agreement))
        .route("/api/v1/agreements/pending", get(network::pending))
        .route("/api/v1/agreements/{id}/notes", post(network::add_note))
        .route("/api/v1/events", get(network::events).post(network::create_event))
        .route("/api/v1/events.ics", get(network::calendar))
        .route("/api/v1/directory", get(network::directory).post(network::add_contact))
        .route("/api/v1/groups", get(network::groups).post(network::create_group))
        .route("/api/v1/library", get(network::library).post(network::add_library_item))
        .route("/api/v1/library/{id}", axum::routing::put(network::change_library_item))
        .route("/api/v1/library/{id}/files", post(network::add_library_file))
        .route("/api/v1/library/{id}/files/{file}", get(network::library_file))
        .route("/api/v1/groups/{id}", get(network::group).put(network::change_group))
        .route("/api/v1/groups/{id}/tasks", post(network::add_task))
        .route("/api/v1/groups/{id}/tasks/{task}", axum::routing::put(network::change_task))
        .route(
            "/api/v1/directory/{id}",
            axum::routing::put(network::change_contact).delete(network::remove_contact),
        )
        .route("/api/v1/linkage/candidates", get(linkage::candidates))
        .route("/api/v1/linkage/candidates/{id}/decision", post(linkage::decide))
        .route(
            "/api/v1/cases/{id}/linkage",
            get(linkage::for_case).post(linkage::enrol).delete(linkage::withdraw),
        )
        .route("/api/v1/posts", get(meta::posts))
        .route("/api/v1/persons/candidates", post(matches::candidates))
        .route("/api/v1/persons/{id}/subject-access", post(persons::subject_access))
        .route("/api/v1/matches", get(matches::list))
        .route("/api/v1/matches/{id}/decision", post(matches::decide))
        .route("/api/v1/cases/{id}/matches", get(matches::for_case))
        .route("/api/v1/cases", get(cases::list).post(cases::create))
        .route("/api/v1/cases/by-number/{number}", get(cases::by_number))
        .route("/api/v1/cases/{id}", get(cases::get).patch(cases::update))
        .route("/api/v1/cases/{id}/break-glass", post(cases::break_glass))
        .route("/api/v1/cases/{id}/legal-hold", get(cases::legal_hold).put(cases::set_legal_hold))
        .route("/api/v1/cases/{id}/disclosures", get(cases::disclosures).post(cases::disclose))
        .route("/api/v1/cases/{id}/person", axum::routing::put(cases::update_person))
        .route("/api/v1/cases/{id}/transitions", get(cases::transitions).post(cases::transition))
        .route("/api/v1/cases/{id}/actions", get(cases::actions).post(cases::add_action))
        .route("/api/v1/cases/{id}/attachments", get(cases::attachments).post(cases::upload))
        .route("/api/v1/cases/{id}/attachments/{attachment}", get(cases::attachment))
        .route("/api/v1/cases/{id}/consents", get(cases::consents).post(cases::add_consent))
        .route("/api/v1/cases/{id}/consents/{consent}/withdraw", post(cases::withdraw_consent))
        .route("/api/v1/cases/{id}/shares", get(shares::for_case).post(shares::offer))
        .route("/api/v1/shares", get(shares::list))
        .route("/api/v1/shares/{id}", get(shares::get))
        .route("/api/v1/shares/{id}/accept", post(shares::accept))
        .route("/api/v1/shares/{id}/reject", post(shares::reject))
        .route("/api/v1/shares/{id}/revoke", post(shares::revoke))
        .route("/api/v1/shares/{id}/handover", post(shares::handover_offer))
        .route("/api/v1/shares/{id}/handover/withdraw", post(shares::handover_withdraw))
        .route("/api/v1/shares/{id}/handover/accept", post(shares::handover_accept))
        .route("/api/v1/shares/{id}/handover/decline", post(shares::handover_decline))
        .route("/api/v1/admin/federation", get(shares::status))
        .route("/api/v1/admin/federation/dead-letters/{id}/retry", post(shares::retry))
}

/// A file sent as the request body itself (not JSON, not a form): its bytes, with the
/// `Content-Type` saying what they are.
pub struct FileBytes;

impl utoipa::PartialSchema for FileBytes {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .description(Some("The file's bytes"))
            .into()
    }
}

impl utoipa::ToSchema for FileBytes {}
