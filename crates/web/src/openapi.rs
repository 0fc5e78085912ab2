//! The OpenAPI 3.1 document, generated from the handlers' annotations and the domain types.

use std::sync::OnceLock;

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::api::{admin, audit, auth, cases, linkage, matches, meta, network, persons, shares, stats};

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let c = openapi.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A token from POST /api/v1/auth/token, or an integration token"))
                    .build(),
            ),
        );
        c.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(utoipa::openapi::security::ApiKey::Cookie(
                utoipa::openapi::security::ApiKeyValue::with_description(
                    "__Host-enlace-session",
                    "The browser session from POST /api/v1/auth/session; state-changing requests also \
                     send its CSRF token as X-CSRF-Token",
                ),
            )),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Enlace node API", description = "Consular protection case records of one country node of the Regional Conference on Migration network."),
    paths(
        meta::healthz, meta::readyz, crate::metrics::metrics, meta::openapi, meta::states, meta::posts,
        auth::token, auth::logout, auth::me, auth::start_session, auth::current_session, auth::end_session,
        auth::sign_out_everywhere, admin::create_token, admin::tokens, admin::revoke_token,
        audit::list, audit::export, audit::break_glass, cases::break_glass,
        audit::disclosures, cases::disclose, cases::disclosures, cases::legal_hold, cases::set_legal_hold,
        admin::retention_rules, admin::set_retention_rule, persons::subject_access,
        auth::mfa_enrol, auth::mfa_confirm, admin::mfa_policy, admin::set_mfa_policy,
        admin::users, admin::create_user, admin::change_user, auth::oidc_login, auth::oidc_callback,
        cases::list, cases::create, cases::get, cases::by_number, cases::update, cases::update_person,
        cases::transitions, cases::transition, cases::actions, cases::add_action,
        cases::attachments, cases::upload, cases::attachment,
        cases::consents, cases::add_consent, cases::withdraw_consent,
        matches::candidates, matches::list, matches::decide, matches::for_case,
        shares::offer, shares::for_case, shares::list, shares::get, shares::accept, shares::reject,
        shares::revoke, shares::handover_offer, shares::handover_withdraw, shares::handover_accept,
        shares::handover_decline, shares::status, shares::retry, stats::get, stats::submit, stats::regional,
        linkage::for_case, linkage::enrol, linkage::withdraw, linkage::candidates, linkage::decide,
        linkage::regional,
        network::meetings, network::create_meeting, network::meeting, network::agreements,
        network::create_agreement, network::pending, network::add_note, network::events,
        network::create_event, network::calendar, network::directory, network::add_contact,
        network::change_contact, network::remove_contact, network::groups, network::group,
        network::create_group, network::change_group, network::add_task, network::change_task,
        network::library, network::add_library_item, network::change_library_item,
        network::add_library_file, network::library_file,
    ),
    modifiers(&Security),
    tags(
        (name = "cases", description = "Consular protection cases"),
        (name = "persons", description = "Persons: candidates while registering, the data subject's rights"),
        (name = "matches", description = "Missing-person reports matched against found persons, for review"),
        (name = "shares", description = "Cases shared with other states' nodes: referrals, mutual-assistance notices, handovers"),
        (name = "stats", description = "Statistics of the node: as they are for its supervisors, suppressed for what leaves it"),
        (name = "linkage", description = "The cross-border linkage service: encodings (never names) compared at the hub, candidates decided by both states"),
        (name = "network", description = "The network's workspace: meetings, their agreements and follow-up, events"),
        (name = "auth", description = "Sign-in and tokens"),
        (name = "audit", description = "The audit log (auditors)"),
        (name = "admin", description = "Administration of the node (country administrators)"),
        (name = "reference", description = "States and posts"),
        (name = "meta", description = "Health and this document"),
    )
)]
struct ApiDoc;

/// The document as JSON, built once.
pub fn openapi_json() -> String {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| ApiDoc::openapi().to_pretty_json().expect("the OpenAPI document serialises")).clone()
}
