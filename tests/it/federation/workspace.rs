//! The network's workspace in a network: the hub keeps it and publishes every change to the
//! nodes; a node's copy is read-only; a node that joins later gets all of it; only the hub's
//! records are kept, and an older copy of an agreement never replaces a newer one.

use enlace_fed::directory::NodeRole;
use enlace_fed::envelope::MessageType;
use enlace_fed::ids::NodeId;
use serde_json::{Value, json};

use super::{bare_network, code, entry, eventually, key_entry, node, unshared};
use crate::harness::{Backend, TestApp};

async fn meetings(t: &TestApp) -> Value {
    let tok = t.token("officer.hn").await;
    t.get(&tok, "/api/v1/meetings").await.1
}

/// The first meeting a node holds and its first agreement, once that agreement has its note
/// (version 2) and the event is there too.
async fn copy(t: &TestApp) -> Option<(Value, Value)> {
    let tok = t.token("officer.hn").await;
    let ms = meetings(t).await;
    let m = ms.as_array()?.first()?.clone();
    let (_, a) = t.get(&tok, &format!("/api/v1/meetings/{}/agreements", m["id"].as_str()?)).await;
    let (_, ev) = t.get(&tok, "/api/v1/events").await;
    let a = a.as_array()?.first()?.clone();
    (a["version"] == 2 && ev.as_array()?.len() == 1).then_some((m, a))
}

pub(super) async fn the_hub_keeps_the_workspace_and_the_nodes_hold_copies(backend: Backend) {
    let Some(net) = bare_network(backend).await else { return };
    let Some(hub) = node("hub", backend, &net.hub, &net.switch, None).await else { return };
    let mut d = net.directory(1, vec![key_entry(&net.hn.key)]);
    let mut h = entry("hub", "HN", vec![key_entry(&hub.key)], &net.tls);
    h.states = Default::default();
    h.roles = [NodeRole::Hub].into();
    d.nodes.push(h);
    let signed = d.sign(&net.hub).unwrap();
    *net.switch.signed_directory.lock().unwrap() = signed.as_str().to_string();
    // Honduras joins with the hub; Guatemala later.
    for app in [&net.hn.t.app, &hub.t.app] {
        app.install_directory(signed.as_str()).await.unwrap();
        app.start_federation().unwrap();
    }
    let (hn, gt, h) = (&net.hn.t, &net.gt.t, &hub.t);

    // The Secretariat records at the hub: a meeting, an agreement, a note on it, an event.
    let ts = h.token("analyst").await;
    let (s, m) = h
        .post(
            &ts,
            "/api/v1/meetings",
            &json!({"title": {"es": "Reunión de la Red"}, "starts_on": "2016-06-08",
            "place": "Tegucigalpa, Honduras", "states": ["HN", "GT"]}),
        )
        .await;
    assert_eq!(s, 201, "{m}");
    let mid = m["id"].as_str().unwrap();
    let (s, a) = h
        .post(
            &ts,
            &format!("/api/v1/meetings/{mid}/agreements"),
            &json!({"number": 6,
            "title": {"es": "Nota conceptual"}, "text": "Que Nicaragua se pronuncie.",
            "responsible": [{"state": "NI"}, {"state": "HN"}], "due_on": "2016-11-30", "status": "open"}),
        )
        .await;
    assert_eq!(s, 201, "{a}");
    let aid = a["id"].as_str().unwrap();
    let (s, v) = h
        .post(
            &ts,
            &format!("/api/v1/agreements/{aid}/notes"),
            &json!({"text": "Honduras la presentará.", "status": "in_progress"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, e) = h
        .post(
            &ts,
            "/api/v1/events",
            &json!({"title": {"es": "Tercer Foro Global Consular"}, "starts_on": "2016-10-25",
            "ends_on": "2016-10-27", "place": "República de Corea", "announced_by": {"state": "CA"}}),
        )
        .await;
    assert_eq!(s, 201, "{e}");

    // Honduras holds a copy, with the note (the agreement's second version).
    let (hm, ha) = eventually("HN's copy", || copy(hn)).await;
    assert_eq!(hm["id"], m["id"]);
    assert_eq!(ha["notes"][0]["text"], "Honduras la presentará.");
    assert_eq!(ha["status"], "in_progress");
    // It is read-only there: changes are made at the hub.
    let liaison = hn.token("liaison.hn").await;
    let (s, v) = hn
        .post(&liaison, &format!("/api/v1/agreements/{aid}/notes"), &json!({"text": "Desde el nodo."}))
        .await;
    assert_eq!(s, 409, "{v}");
    assert!(v["detail"].as_str().unwrap().contains("kept at the hub"), "{v}");
    let mut w = crate::ui::Web::new(hn).accept_language("en");
    w.sign_in("liaison.hn").await;
    w.get(&format!("/meetings/{mid}"))
        .await
        .has("kept at the regional hub")
        .has("Honduras la presentará.")
        .lacks("Add a follow-up note")
        .lacks("Record an agreement");

    // Guatemala joins: it asks the hub for the workspace and gets all of it.
    gt.app.install_directory(signed.as_str()).await.unwrap();
    gt.app.start_federation().unwrap();
    let (gm, ga) = eventually("GT's copy", || copy(gt)).await;
    assert_eq!((gm["id"].clone(), ga["id"].clone()), (m["id"].clone(), a["id"].clone()));
    assert!(h.audit_actions().await.iter().any(|x| x == "network.sync"));

    // Only the hub's records are kept; an older version never replaces a newer one.
    let hn_node = NodeId::parse("hn").unwrap();
    let hub_node = NodeId::parse("hub").unwrap();
    let old = json!({"kind": "agreement",
        "meeting": {"id": mid, "data": {"title": {"es": "Reunión de la Red"}, "starts_on": "2016-06-08",
            "place": "Tegucigalpa, Honduras", "states": ["HN", "GT"]},
            "created_at": m["created_at"], "updated_at": m["updated_at"]},
        "agreement": {"id": aid, "meeting_id": mid, "version": 1, "data": {"number": 6,
            "title": {"es": "Nota conceptual"}, "text": "Que Nicaragua se pronuncie.",
            "responsible": [{"state": "NI"}, {"state": "HN"}], "due_on": "2016-11-30", "status": "open"},
            "notes": [], "created_at": a["created_at"], "updated_at": a["updated_at"]}});
    let forged = unshared(&net.hn.key, "hn", "gt", MessageType::WorkspaceRecord, old.clone());
    assert_eq!(code(gt.app.receive_envelope(&forged, Some(&hn_node)).await), "not-from-the-hub");
    let stale = unshared(&hub.key, "hub", "gt", MessageType::WorkspaceRecord, old.clone());
    gt.app.receive_envelope(&stale, Some(&hub_node)).await.unwrap();
    let (_, again) = copy(gt).await.expect("still the newer copy");
    assert_eq!(again["status"], "in_progress");
    let mut wrong = old.clone();
    wrong["kind"] = json!("event");
    let m2 = unshared(&hub.key, "hub", "gt", MessageType::WorkspaceRecord, wrong);
    assert_eq!(code(gt.app.receive_envelope(&m2, Some(&hub_node)).await), "bad-record");
    let mut bad_dates = old;
    bad_dates["agreement"]["data"]["due_on"] = json!("2016-01-01");
    bad_dates["agreement"]["version"] = json!(9);
    let m3 = unshared(&hub.key, "hub", "gt", MessageType::WorkspaceRecord, bad_dates);
    assert_eq!(code(gt.app.receive_envelope(&m3, Some(&hub_node)).await), "bad-record");
    // A node asking a node that is not the hub for the workspace is refused.
    let ask = unshared(&net.gt.key, "gt", "hn", MessageType::WorkspaceSync, json!({}));
    assert_eq!(code(hn.app.receive_envelope(&ask, Some(&NodeId::parse("gt").unwrap())).await), "not-the-hub");
}
