//! The cross-border linkage service end to end with three nodes: Honduras reports a woman
//! missing, Guatemala holds her in detention under a slightly different spelling, the hub
//! (which holds no linkage secret) finds the pair from the encodings alone and both states
//! decide. Then what the hub and the nodes refuse, expiry, and a withdrawn consent taking the
//! encoding out.

use chrono::{TimeDelta, Utc};
use enlace_app::AppError;
use enlace_app::fed::LinkageSecret;
use enlace_fed::envelope::MessageType;
use enlace_fed::ids::NodeId;
use serde_json::{Value, json};

use super::{Net, add_hub, bare_network, code, eventually, node_with, unshared};
use crate::harness::Backend;

const SECRET: &[u8] = b"the states' shared linkage secret, never the hub's";

fn person(given: &[&str], surnames: &[&str], date: &str, nationality: &str) -> Value {
    json!({"given_names": given, "surnames": surnames, "sex": "female",
        "birth": {"kind": "date", "date": date}, "nationalities": [nationality]})
}

fn case(p: Value, subtype: &str) -> Value {
    let mut c = json!({"person": p, "host_state": "MX", "category": "human_rights", "subtype": subtype,
        "protection": {"state": "pending"}, "legal_basis": "vital_interest"});
    if subtype == "whereabouts" {
        c["missing"] = json!({"reported_by": "family", "last_seen_place": "Tenosique, Tabasco"});
    }
    c
}

fn exception() -> Value {
    json!({"exception": {"kind": "vital_interest",
        "reason": "Detained person who may be a missing migrant; family searching."}})
}

async fn linkage_network(backend: Backend) -> Option<(Net, super::Node)> {
    let with_secret = |f: &mut enlace_app::fed::FedSettings| {
        f.linkage_secret = Some(LinkageSecret::new(SECRET).unwrap());
    };
    let mut net = bare_network(backend).await?;
    // HN and GT again, now holding the states' secret.
    net.hn = node_with("hn", backend, &net.hub, &net.switch, None, with_secret).await?;
    net.gt = node_with("gt", backend, &net.hub, &net.switch, None, with_secret).await?;
    let hub = add_hub(&net, backend).await?;
    Some((net, hub))
}

pub(super) async fn missing_and_found_in_two_states_are_linked_without_names(backend: Backend) {
    let Some((net, hub)) = linkage_network(backend).await else { return };
    let (hn, gt) = (&net.hn.t, &net.gt.t);
    let hn_sup = hn.token("supervisor.hn").await;
    let gt_sup = gt.token("supervisor.gt").await;

    // Honduras: the family reports María José missing; she consented to cross-border search.
    let missing = hn
        .create_case(
            &hn_sup,
            &case(person(&["María", "José"], &["Gutiérrez", "Hernández"], "1990-05-14", "HN"), "whereabouts"),
        )
        .await;
    let missing_id = missing["id"].as_str().unwrap();
    let consent =
        json!({"given_by": "person", "scope": "cross_border_sharing", "given_at": "2026-01-05T10:00:00Z"});
    let (s, c) = hn.post(&hn_sup, &format!("/api/v1/cases/{missing_id}/consents"), &consent).await;
    assert_eq!(s, 201, "{c}");
    let consent_id = c["id"].as_str().unwrap().to_string();
    // Guatemala: a woman detained in Tapachula under a different spelling; two other cases.
    let found = gt
        .create_case(
            &gt_sup,
            &case(person(&["Maria"], &["Gutierres", "Hernandez"], "1990-05-14", "GT"), "detention"),
        )
        .await;
    let found_id = found["id"].as_str().unwrap();
    let other = gt
        .create_case(
            &gt_sup,
            &case(person(&["Wendy"], &["Alvarado"], "1979-11-02", "GT"), "medical_emergency"),
        )
        .await;
    let wages = gt
        .create_case(&gt_sup, &case(person(&["Rosa"], &["Pérez"], "1985-01-01", "GT"), "documentation"))
        .await;

    // Without consent or exception: refused by the consent gate; a subtype the service does not
    // compare: refused; twice: refused.
    let path = |id: &Value| format!("/api/v1/cases/{}/linkage", id.as_str().unwrap());
    let (s, v) = gt.post(&gt_sup, &path(&found["id"]), &json!({})).await;
    assert_eq!(s, 403, "{v}");
    let (s, v) = gt.post(&gt_sup, &path(&wages["id"]), &exception()).await;
    assert_eq!(s, 422, "{v}");
    let (s, v) = hn.post(&hn_sup, &path(&missing["id"]), &json!({})).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["side"], "missing");
    assert_eq!(v["basis"], "consent");
    let (s, _) = hn.post(&hn_sup, &path(&missing["id"]), &json!({})).await;
    assert_eq!(s, 409);
    let (s, v) = gt.post(&gt_sup, &path(&found["id"]), &exception()).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["side"], "found");
    // GT's other case goes in through the case page's form; a thin exception is refused first.
    let mut gt_web = crate::ui::Web::new(gt).accept_language("en");
    gt_web.sign_in("supervisor.gt").await;
    let other_page = format!("/cases/{}", other["id"].as_str().unwrap());
    let p = gt_web.get(&other_page).await;
    p.has("id=\"linkage\"").has("Search in other states").has("Person found");
    crate::ui::every_input_is_labelled(&p);
    let enrol = format!("{other_page}/linkage");
    let p =
        gt_web.post(&enrol, &[("exception_kind", "vital_interest"), ("exception_reason", "Urgent")]).await;
    assert_eq!(p.status, 400, "{}", p.body);
    p.has("20 characters");
    let p = gt_web.post(&enrol, &[("exception_kind", "")]).await;
    assert_eq!(p.status, 403, "{}", p.body);
    p.has("No consent in force covers cross-border sharing");
    let reason = "In hospital, unconscious; may be a missing migrant.";
    let p = gt_web.post(&enrol, &[("exception_kind", "vital_interest"), ("exception_reason", reason)]).await;
    assert_eq!((p.status, p.location()), (303, format!("{other_page}#linkage")), "{}", p.body);
    gt_web
        .get(&other_page)
        .await
        .has("In the search")
        .has("on a recorded exception")
        .has("Take out of the search");
    // The disclosure is logged like any other.
    let (_, d) = hn.get(&hn_sup, &format!("/api/v1/cases/{missing_id}/disclosures")).await;
    assert!(d.as_array().unwrap().iter().any(|d| d["purpose"] == "cross_border_sharing"), "{d}");

    // Both states get the candidate; the other woman matches nothing.
    let candidates = |t: &'static str| {
        let (app, token) = if t == "hn" { (hn, hn_sup.clone()) } else { (gt, gt_sup.clone()) };
        async move {
            let (s, v) = app.get(&token, "/api/v1/linkage/candidates").await;
            assert_eq!(s, 200, "{v}");
            v.as_array().unwrap().clone()
        }
    };
    let at_hn = eventually("the candidate at HN", || async {
        let v = candidates("hn").await;
        (!v.is_empty()).then_some(v)
    })
    .await;
    let at_gt = eventually("the candidate at GT", || async {
        let v = candidates("gt").await;
        (!v.is_empty()).then_some(v)
    })
    .await;
    assert_eq!(at_hn.len(), 1, "{at_hn:?}");
    assert_eq!(at_gt.len(), 1, "{at_gt:?}");
    let (k_hn, k_gt) = (&at_hn[0], &at_gt[0]);
    assert_eq!(k_hn["id"], k_gt["id"], "one candidate, told to both");
    assert_eq!(k_hn["case_id"], missing["id"]);
    assert_eq!(k_gt["case_id"], found["id"]);
    assert_eq!(k_hn["other_state"], "GT");
    assert_eq!(k_gt["other_state"], "HN");
    let sim = k_hn["similarity"].as_f64().unwrap();
    assert!((0.8..1.0).contains(&sim), "alike but not identical: {sim}");
    assert_eq!(k_hn["expired"], false);

    // The hub never saw a name: what it keeps is bits, and its log and inbox hold none.
    let want = vec![("GT".to_string(), "found".to_string(), 2), ("HN".to_string(), "missing".to_string(), 1)];
    let held = eventually("the three encodings at the hub", || async {
        let held = enlace_store::linkage::hub_encoding_counts(hub.t.app.db()).await.unwrap();
        (held == want).then_some(held)
    })
    .await;
    let audit = format!("{:?}", enlace_store::audit::events_after(hub.t.app.db(), 0, 100_000).await.unwrap());
    let inbox = format!("{:?}", enlace_store::fed::inbox_all(hub.t.app.db()).await.unwrap());
    assert!(audit.contains("linkage.submission") && inbox.contains("linkage_submission"));
    for needle in ["Guti", "GUTI", "guti", "Mar\u{ed}a", "Maria", "Wendy", "1990-05"] {
        assert!(!audit.contains(needle), "the hub's audit log holds {needle:?}");
        assert!(!inbox.contains(needle), "the hub's inbox holds {needle:?}");
    }
    // And what HN sent carried only ids, sides and bits.
    let sent = enlace_store::fed::outbox_of_type(hn.app.db(), "linkage_submission").await.unwrap();
    assert_eq!(sent.len(), 1);
    for m in sent.iter().map(|m| &m.payload) {
        let keys: Vec<&String> = m.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["add", "remove", "scheme", "state"]);
        for a in m["add"].as_array().unwrap() {
            let keys: Vec<&String> = a.as_object().unwrap().keys().collect();
            assert_eq!(keys, ["filter", "id", "side"]);
        }
    }

    // Decisions: GT says it is the same person; HN, looking again, says it is not. A second
    // decision is refused. The hub records both.
    let decide = |id: &Value| format!("/api/v1/linkage/candidates/{}/decision", id.as_str().unwrap());
    let (s, v) = gt
        .post(&gt_sup, &decide(&k_gt["id"]), &json!({"decision": "same_person", "note": "Same date."}))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["decision"], "same_person");
    let (s, _) = gt.post(&gt_sup, &decide(&k_gt["id"]), &json!({"decision": "not_same_person"})).await;
    assert_eq!(s, 409);
    // GT's next step, in the pages: the candidate links to the case's offer form, open, with
    // Honduras chosen; the offer goes through the consent gate, then to HN.
    let next = format!("/cases/{found_id}?share_to=HN#share");
    gt_web.get("/linkage").await.has(&next).has("Next step");
    let p = gt_web.get(&next).await;
    p.has("id=\"share\"").has("<details open>").has("<option value=\"HN\" selected>");
    crate::ui::every_input_is_labelled(&p);
    let offer = format!("/cases/{found_id}/shares");
    let fields = [("to_state", "HN"), ("fields", "given_names"), ("fields", "surnames"), ("fields", "birth")];
    let p = gt_web.post(&offer, &[("to_state", "HN"), ("purpose", ""), ("legal_instrument", "")]).await;
    assert_eq!(p.status, 422, "{}", p.body);
    p.has("id=\"share\"").has("<details open>");
    let mut form: Vec<(&str, &str)> = fields.to_vec();
    form.extend([("purpose", "Identify a missing migrant"), ("legal_instrument", "CA-4 + DR MoU")]);
    let p = gt_web.post(&offer, &form).await;
    assert_eq!(p.status, 422, "{}", p.body);
    p.has("No consent in force covers this purpose and recipient");
    form.extend([("exception_kind", "vital_interest"), ("exception_reason", reason)]);
    let p = gt_web.post(&offer, &form).await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert!(p.location().starts_with("/shares/"), "{}", p.location());
    gt_web.get(&p.location()).await.has("Honduras").has("Identify a missing migrant");
    let case_number = found["number"].as_str().unwrap().to_string();
    eventually("the offer at HN", || async {
        let (_, v) = hn.get(&hn_sup, "/api/v1/shares").await;
        let items = v["items"].as_array().cloned().unwrap_or_default();
        items
            .iter()
            .any(|s| s["case_number"] == case_number.as_str() && s["state"] == "offered")
            .then_some(())
    })
    .await;
    let (s, v) = hn.post(&hn_sup, &decide(&k_hn["id"]), &json!({"decision": "maybe"})).await;
    assert_eq!(s, 422, "{v}");
    // HN decides in the page.
    let mut hn_web = crate::ui::Web::new(hn).accept_language("en");
    hn_web.sign_in("supervisor.hn").await;
    let p = hn_web.get("/linkage").await;
    p.has("Cross-border search")
        .has("Guatemala")
        .has(k_hn["case_number"].as_str().unwrap())
        .has("Same person");
    crate::ui::every_input_is_labelled(&p);
    let form = format!("/linkage/{}/decision", k_hn["id"].as_str().unwrap());
    let p = hn_web.post(&form, &[("decision", "perhaps")]).await;
    assert_eq!(p.status, 400, "{}", p.body);
    let p =
        hn_web.post(&form, &[("decision", "not_same_person"), ("note", "Different mother's name.")]).await;
    assert_eq!((p.status, p.location().as_str()), (303, "/linkage"), "{}", p.body);
    hn_web.get("/linkage").await.has("Not the same person").has("Different mother");
    hn_web
        .get(&format!("/cases/{missing_id}"))
        .await
        .has("id=\"linkage\"")
        .has("In the search")
        .has("Not the same person");
    let fr = hn_web.post("/lang", &[("lang", "fr"), ("back", "/linkage")]).await;
    assert_eq!(fr.status, 303);
    hn_web.get("/linkage").await.has("Recherche transfrontalière").has("Pas la même personne");
    let analyst = hub.t.token("analyst").await;
    let regional = eventually("both decisions at the hub", || async {
        let (s, v) = hub.t.get(&analyst, "/api/v1/regional/linkage").await;
        assert_eq!(s, 200, "{v}");
        (v["rejected"] == 1).then_some(v)
    })
    .await;
    assert_eq!(regional["candidates"], 1);
    assert_eq!(regional["open"], 0);
    let mut hub_web = crate::ui::Web::new(&hub.t).accept_language("en");
    hub_web.sign_in("analyst").await;
    let p = hub_web.get("/regional").await;
    p.has("Cross-border search")
        .has("Encodings in the search, by state")
        .has("Honduras")
        .has("Not the same person");
    let hub_k = enlace_store::linkage::hub_candidates(hub.t.app.db(), 10).await.unwrap();
    assert_eq!(hub_k[0].found_decision.as_deref(), Some("same_person"));
    assert_eq!(hub_k[0].missing_decision.as_deref(), Some("not_same_person"));

    // What the hub refuses, keeping nothing.
    let hn_node = NodeId::parse("hn").unwrap();
    let filter = |fill: usize| {
        let mut f = enlace_pprl::BloomFilter::zeros(1024);
        for i in 0..fill {
            f.set(i);
        }
        f.to_base64()
    };
    let sub = |add: Value| json!({"state": "HN", "scheme": "enlace-clk-v1", "add": add, "remove": []});
    let id = uuid::Uuid::now_v7();
    let short = enlace_pprl::BloomFilter::zeros(512).to_base64();
    let refused = [
        (sub(json!([{"id": id, "side": "missing", "filter": short}])), "bad-encoding"),
        (sub(json!([{"id": id, "side": "missing", "filter": filter(900)}])), "bad-encoding"),
        (sub(json!([{"id": id, "side": "missing", "filter": filter(300), "name": "María"}])), "bad-encoding"),
        (sub(json!([{"id": id, "side": "lost", "filter": filter(300)}])), "bad-encoding"),
        (sub(json!([{"id": id, "side": "missing", "filter": "not base64!"}])), "bad-encoding"),
        (json!({"state": "HN", "scheme": "other-v9", "add": [], "remove": []}), "bad-scheme"),
        (json!({"state": "GT", "scheme": "enlace-clk-v1", "add": [], "remove": []}), "wrong-state"),
    ];
    for (payload, want) in refused {
        let m = unshared(&net.hn.key, "hn", "hub", MessageType::LinkageSubmission, payload.clone());
        assert_eq!(code(hub.t.app.receive_envelope(&m, Some(&hn_node)).await), want, "{payload}");
    }
    let good = sub(json!([{"id": id, "side": "missing", "filter": filter(300)}]));
    let forged = unshared(&net.sv_key, "hn", "hub", MessageType::LinkageSubmission, good.clone());
    assert!(matches!(
        hub.t.app.receive_envelope(&forged, Some(&hn_node)).await,
        Err(AppError::Federation { .. })
    ));
    let to_gt = unshared(&net.hn.key, "hn", "gt", MessageType::LinkageSubmission, good);
    assert_eq!(code(gt.app.receive_envelope(&to_gt, Some(&hn_node)).await), "not-the-hub");
    // A node posing as the hub to another node; a decision on a candidate HN is not part of.
    let k = json!({"candidate": uuid::Uuid::now_v7(), "encoding": uuid::Uuid::now_v7(), "side": "found",
        "other_state": "HN", "other_encoding": uuid::Uuid::now_v7(), "similarity": 0.9,
        "expires_at": Utc::now() + TimeDelta::days(1)});
    let fake = unshared(&net.hn.key, "hn", "gt", MessageType::LinkageCandidate, k);
    assert_eq!(code(gt.app.receive_envelope(&fake, Some(&hn_node)).await), "not-from-the-hub");
    let not_mine =
        json!({"candidate": hub_k[0].id, "encoding": hub_k[0].found_encoding, "decision": "same_person"});
    let m = unshared(&net.hn.key, "hn", "hub", MessageType::LinkageDecision, not_mine);
    assert_eq!(code(hub.t.app.receive_envelope(&m, Some(&hn_node)).await), "not-a-party");
    // A decision on a candidate the hub dropped meanwhile is acknowledged and changes nothing.
    let gone = json!({"candidate": uuid::Uuid::now_v7(), "encoding": uuid::Uuid::now_v7(), "decision": "same_person"});
    let m = unshared(&net.gt.key, "gt", "hub", MessageType::LinkageDecision, gone);
    hub.t.app.receive_envelope(&m, Some(&NodeId::parse("gt").unwrap())).await.unwrap();
    assert_eq!(enlace_store::linkage::hub_encoding_counts(hub.t.app.db()).await.unwrap(), held);

    // A candidate that expired before anyone decided: shown as expired, decisions refused.
    let gt_enc = enlace_store::linkage::encodings_of_case(
        gt.app.db(),
        uuid::Uuid::parse_str(other["id"].as_str().unwrap()).unwrap(),
    )
    .await
    .unwrap()[0]
        .id;
    let late = uuid::Uuid::now_v7();
    let k = json!({"candidate": late, "encoding": gt_enc, "side": "found", "other_state": "HN",
        "other_encoding": uuid::Uuid::now_v7(), "similarity": 0.83, "expires_at": Utc::now() - TimeDelta::minutes(1)});
    let m = unshared(&hub.key, "hub", "gt", MessageType::LinkageCandidate, k);
    gt.app.receive_envelope(&m, Some(&NodeId::parse("hub").unwrap())).await.unwrap();
    let list = candidates("gt").await;
    let expired = list.iter().find(|k| k["id"] == json!(late)).expect("the late candidate is listed");
    assert_eq!(expired["expired"], true);
    let (s, v) = gt.post(&gt_sup, &decide(&json!(late)), &json!({"decision": "same_person"})).await;
    assert_eq!(s, 409, "{v}");
    assert!(v["detail"].as_str().unwrap().contains("expired"), "{v}");
    // A candidate whose other encoding the hub says was withdrawn: kept, shown as such, no
    // decision taken. Only the hub says so.
    let fresh = uuid::Uuid::now_v7();
    let k = json!({"candidate": fresh, "encoding": gt_enc, "side": "found", "other_state": "HN",
        "other_encoding": uuid::Uuid::now_v7(), "similarity": 0.86, "expires_at": Utc::now() + TimeDelta::days(1)});
    let m = unshared(&hub.key, "hub", "gt", MessageType::LinkageCandidate, k);
    gt.app.receive_envelope(&m, Some(&NodeId::parse("hub").unwrap())).await.unwrap();
    let gone = json!({"candidate": fresh, "encoding": gt_enc});
    let fake = unshared(&net.hn.key, "hn", "gt", MessageType::LinkageWithdrawn, gone.clone());
    assert_eq!(code(gt.app.receive_envelope(&fake, Some(&hn_node)).await), "not-from-the-hub");
    let m = unshared(&hub.key, "hub", "gt", MessageType::LinkageWithdrawn, gone);
    gt.app.receive_envelope(&m, Some(&NodeId::parse("hub").unwrap())).await.unwrap();
    let list = candidates("gt").await;
    let void = list.iter().find(|k| k["id"] == json!(fresh)).expect("the withdrawn candidate is listed");
    assert!(!void["withdrawn_at"].is_null() && void["expired"] == false, "{void}");
    let (s, v) = gt.post(&gt_sup, &decide(&json!(fresh)), &json!({"decision": "same_person"})).await;
    assert_eq!(s, 409, "{v}");
    assert!(v["detail"].as_str().unwrap().contains("withdrew"), "{v}");
    gt_web.get("/linkage").await.has("Withdrawn by the other state");

    // HN's person withdraws her consent: the encoding leaves the service, at the hub too.
    let (s, v) = hn
        .post(&hn_sup, &format!("/api/v1/cases/{missing_id}/consents/{consent_id}/withdraw"), &json!({}))
        .await;
    assert!(s == 200 || s == 204, "{s} {v}");
    let (_, l) = hn.get(&hn_sup, &format!("/api/v1/cases/{missing_id}/linkage")).await;
    assert!(!l["encodings"][0]["withdrawn_at"].is_null(), "{l}");
    eventually("HN's encoding gone from the hub", || async {
        let counts = enlace_store::linkage::hub_encoding_counts(hub.t.app.db()).await.unwrap();
        (!counts.iter().any(|(s, _, _)| s == "HN")).then_some(())
    })
    .await;
    assert!(enlace_store::linkage::hub_candidates(hub.t.app.db(), 10).await.unwrap().is_empty());
    // And GT, which held the other side of the candidate, is told.
    eventually("GT told of the withdrawal", || async {
        let list = candidates("gt").await;
        let k = list.iter().find(|k| k["id"] == k_gt["id"]).cloned().expect("GT's candidate");
        (!k["withdrawn_at"].is_null()).then_some(())
    })
    .await;
    // GT takes its other case out by hand.
    let (s, v) = gt.send("DELETE", &gt_sup, &path(&other["id"]), &json!({})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["withdrawn"], 1);
    let _ = found_id;
    for app in [&hn.app, &gt.app, &hub.t.app] {
        app.kick_relay();
        eventually("the outbox to drain", || async { (super::undelivered(app).await == 0).then_some(()) })
            .await;
    }
}
