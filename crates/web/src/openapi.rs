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

/// What the API's shared layers answer on any operation, written into every operation's
/// responses so that the document is true of every status the node can give: errors are
/// RFC 9457 problem details (`application/problem+json`), a signed-in operation may answer 401
/// and 403, one taking parameters or a body 400 and 422, one taking a body 413 and 415.
/// Operation ids are the handler's name after its tag (`cases_get`, `stats_get`): handlers of
/// different modules share names, and an id must be unique in the document.
struct Operations;

impl Operations {
    fn describe(status: &str) -> &'static str {
        match status {
            "400" => "A parameter or the body could not be read (the problem names which)",
            "401" => "Not signed in, or the token or session has expired",
            "403" => {
                "Signed in, but not allowed to do this (the role, or a missing CSRF token with the session cookie)"
            }
            "404" => "Not found, or not visible to this user (the two are not told apart)",
            "409" => "In conflict with the record's current state",
            "413" => "The body is larger than this operation accepts",
            "415" => "The body's Content-Type is not one this operation accepts",
            "422" => "A parameter or a field of the body is not valid (each one is named)",
            "429" => "Too many attempts: wait before trying again",
            "503" => "Not available yet: try again later",
            _ => "The problem, described",
        }
    }

    fn fix(op: &mut utoipa::openapi::path::Operation) {
        use utoipa::openapi::path::ParameterIn;
        use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response};

        if let (Some(id), Some(tag)) = (&op.operation_id, op.tags.as_ref().and_then(|t| t.first()))
            && !id.starts_with(&format!("{tag}_"))
        {
            op.operation_id = Some(format!("{tag}_{id}"));
        }
        let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
        let has_params = op.parameters.as_ref().is_some_and(|ps| {
            ps.iter().any(|p| matches!(p.parameter_in, ParameterIn::Query | ParameterIn::Path))
        });
        let has_body = op.request_body.is_some();
        let mut statuses: Vec<&str> = Vec::new();
        if secured {
            statuses.extend(["401", "403"]);
        }
        if has_params || has_body {
            statuses.extend(["400", "422"]);
        }
        if has_body {
            statuses.extend(["413", "415"]);
        }
        let problem = || ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build();
        for status in statuses {
            op.responses
                .responses
                .entry(status.to_string())
                .or_insert_with(|| RefOr::T(Response::new(Self::describe(status))));
        }
        for (status, response) in op.responses.responses.iter_mut() {
            let RefOr::T(response) = response else { continue };
            if !status.starts_with('4') && !status.starts_with('5') {
                continue;
            }
            if response.description.is_empty() {
                response.description = Self::describe(status).to_string();
            }
            let content = response.content.shift_remove("application/json").unwrap_or_else(problem);
            response.content.clear();
            response.content.insert("application/problem+json".to_string(), content);
        }
    }
}

impl Modify for Operations {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
                &mut item.head,
                &mut item.options,
                &mut item.trace,
            ]
            .into_iter()
            .flatten()
            {
                Self::fix(op);
            }
        }
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
    components(schemas(enlace_app::matching::MatchStatus)),
    modifiers(&Security, &Operations),
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
    DOC.get_or_init(|| {
        let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("the OpenAPI document serialises");
        let schemas = doc.pointer("/components/schemas").cloned().unwrap_or_default();
        open_flattened(&mut doc, &schemas);
        serde_json::to_string_pretty(&doc).expect("the OpenAPI document serialises")
    })
    .clone()
}

/// A struct flattened into another (`#[serde(flatten)]`) becomes a member of an `allOf`; when
/// that struct refuses unknown fields (`additionalProperties: false`, right for the request
/// bodies it is read from), the `allOf` could not match anything, as each member would refuse
/// its siblings' fields. Members of an `allOf` are therefore given open copies of such schemas.
fn open_flattened(v: &mut serde_json::Value, schemas: &serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            if let Some(Value::Array(members)) = map.get_mut("allOf") {
                for m in members.iter_mut() {
                    let target = m
                        .get("$ref")
                        .and_then(Value::as_str)
                        .and_then(|r| r.strip_prefix("#/components/schemas/"))
                        .and_then(|name| schemas.get(name));
                    let closed = |o: &serde_json::Map<String, Value>| {
                        o.get("additionalProperties") == Some(&Value::Bool(false))
                    };
                    match (target, &mut *m) {
                        (Some(Value::Object(target)), _) if closed(target) => {
                            let mut open = target.clone();
                            open.remove("additionalProperties");
                            *m = Value::Object(open);
                        }
                        (None, Value::Object(inline)) if closed(inline) => {
                            inline.remove("additionalProperties");
                        }
                        _ => {}
                    }
                }
            }
            for (_, child) in map.iter_mut() {
                open_flattened(child, schemas);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|c| open_flattened(c, schemas)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    fn doc() -> Value {
        serde_json::from_str(&super::openapi_json()).unwrap()
    }

    fn operations(doc: &Value) -> Vec<(String, String, Value)> {
        let mut out = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                out.push((method.to_uppercase(), path.clone(), op.clone()));
            }
        }
        out
    }

    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r.clone());
                }
                m.values().for_each(|c| refs(c, out));
            }
            Value::Array(a) => a.iter().for_each(|c| refs(c, out)),
            _ => {}
        }
    }

    #[test]
    fn operation_ids_are_unique_and_every_reference_resolves() {
        let doc = doc();
        let mut seen = std::collections::HashMap::new();
        for (method, path, op) in operations(&doc) {
            let id =
                op["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path}: no id")).to_string();
            if let Some(other) = seen.insert(id.clone(), format!("{method} {path}")) {
                panic!("{id} names both {other} and {method} {path}");
            }
        }
        let mut all = Vec::new();
        refs(&doc, &mut all);
        assert!(all.len() > 100);
        for r in all {
            let name = r.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("{r}"));
            assert!(doc["components"]["schemas"].get(name).is_some(), "{r} does not resolve");
        }
    }

    #[test]
    fn errors_are_problem_documents_and_shared_statuses_are_documented() {
        let doc = doc();
        for (method, path, op) in operations(&doc) {
            let responses = op["responses"].as_object().unwrap();
            for (status, r) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    let types: Vec<&String> = r["content"].as_object().unwrap().keys().collect();
                    assert_eq!(types, ["application/problem+json"], "{method} {path} {status}");
                    assert!(!r["description"].as_str().unwrap().is_empty(), "{method} {path} {status}");
                }
            }
            let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
            if secured {
                assert!(responses.contains_key("401") && responses.contains_key("403"), "{method} {path}");
            }
            if op.get("requestBody").is_some() {
                for s in ["400", "413", "415", "422"] {
                    assert!(responses.contains_key(s), "{method} {path} lacks {s}");
                }
            }
        }
    }

    #[test]
    fn enumerations_list_the_values_the_api_sends() {
        let doc = doc();
        let values = |name: &str| -> Vec<String> {
            doc["components"]["schemas"][name]["enum"]
                .as_array()
                .unwrap_or_else(|| panic!("{name} is not an enumeration"))
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect()
        };
        use enlace_domain::case::{Category, Subtype, Vulnerability};
        use enlace_domain::workflow::Status;
        assert_eq!(values("Status"), Status::ALL.iter().map(|s| s.as_str().to_string()).collect::<Vec<_>>());
        assert_eq!(
            values("Category"),
            Category::ALL.iter().map(|s| s.as_str().to_string()).collect::<Vec<_>>()
        );
        assert_eq!(
            values("Subtype"),
            Subtype::ALL.iter().map(|s| s.as_str().to_string()).collect::<Vec<_>>()
        );
        assert_eq!(
            values("Vulnerability"),
            Vulnerability::ALL.iter().map(|s| s.as_str().to_string()).collect::<Vec<_>>()
        );
        // And what serde writes is what the document says.
        assert_eq!(serde_json::to_value(Status::ALL[0]).unwrap(), Value::String(values("Status")[0].clone()));
    }

    #[test]
    fn types_of_the_same_name_keep_their_own_schemas() {
        // Found by API fuzzing: two `Decision` enums (a match's, a linkage candidate's) shared
        // one schema name, and the document showed one's values for the other's body.
        let doc = doc();
        let s = &doc["components"]["schemas"];
        let values = |body: &str| -> Value {
            let r = s[body]["properties"]["decision"]["$ref"].as_str().unwrap();
            s[r.rsplit('/').next().unwrap()]["enum"].clone()
        };
        assert_eq!(values("MatchDecision"), serde_json::json!(["same", "not_same"]));
        assert_eq!(values("DecisionRequest"), serde_json::json!(["same_person", "not_same_person"]));
    }

    #[test]
    fn flattened_closed_structs_do_not_close_the_whole() {
        let doc = doc();
        // A case view is a case (whose parts refuse unknown fields when read) with more fields.
        let text = doc["components"]["schemas"]["CaseView"].to_string();
        assert!(text.contains("allOf"), "{text}");
        assert!(!text.contains("\"additionalProperties\":false"), "{text}");
        // The request body still refuses unknown fields.
        assert_eq!(doc["components"]["schemas"]["CaseParts"]["additionalProperties"], Value::Bool(false));
    }
}
