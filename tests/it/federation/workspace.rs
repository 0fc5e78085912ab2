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

/// The first meeting a node holds and its first agreement, once that agreement is at
/// `version` and the event is there too.
async fn copy_at(t: &TestApp, version: i64) -> Option<(Value, Value)> {
    let tok = t.token("officer.hn").await;
    let ms = meetings(t).await;
    let m = ms.as_array()?.first()?.clone();
    let (_, a) = t.get(&tok, &format!("/api/v1/meetings/{}/agreements", m["id"].as_str()?)).await;
    let (_, ev) = t.get(&tok, "/api/v1/events").await;
    let a = a.as_array()?.first()?.clone();
    (a["version"] == version && ev.as_array()?.len() == 1).then_some((m, a))
}

async fn group_version(t: &TestApp, id: &str, version: i64) -> Option<()> {
    let tok = t.token("officer.hn").await;
    let (_, g) = t.get(&tok, &format!("/api/v1/groups/{id}")).await;
    (g["version"] == version).then_some(())
}

async fn library_has(t: &TestApp, title: &str) -> Option<()> {
    let tok = t.token("analyst").await;
    let (_, d) = t.get(&tok, "/api/v1/library").await;
    d.as_array()?.iter().any(|c| c["title"]["es"] == title).then_some(())
}

async fn directory_has(t: &TestApp, name: &str) -> Option<()> {
    let tok = t.token("officer.hn").await;
    let (_, d) = t.get(&tok, "/api/v1/directory").await;
    d.as_array()?.iter().any(|c| c["name"] == name).then_some(())
}

/// The first file of the first item a search finds at a node, once its text is searched.
async fn found_file(t: &TestApp, q: &str) -> Option<Value> {
    let tok = t.token("analyst").await;
    let (_, v) = t.get(&tok, &format!("/api/v1/library?q={q}")).await;
    let f = v.as_array()?.first()?["files"].as_array()?.first()?.clone();
    (f["text_status"] == "indexed").then_some(f)
}

/// Whether a node serves a library file whole (all its parts arrived, the same bytes).
async fn whole(t: &TestApp, item: &str, file: &Value, want: &[u8]) -> Option<()> {
    let path = format!("/api/v1/library/{item}/files/{}", file["id"].as_str()?);
    let tok = t.token("analyst").await;
    let r = t.client.get(t.url(&path)).bearer_auth(tok).send().await.ok()?;
    let s = r.status().as_u16();
    (s == 200 && r.bytes().await.ok()? == want).then_some(())
}

async fn copy(t: &TestApp) -> Option<(Value, Value)> {
    copy_at(t, 2).await
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
    // A liaison officer on Honduras' node adds a note: checked there, sent to the hub, which
    // records it and publishes it back to every node.
    let liaison = hn.token("liaison.hn").await;
    let (s, v) = hn
        .post(
            &liaison,
            &format!("/api/v1/agreements/{aid}/notes"),
            &json!({"text": "Desde el nodo de Honduras."}),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    assert!(v["sent_to_hub"].is_string(), "{v}");
    let (_, at_hub) = eventually("the note at the hub", || copy_at(h, 3)).await;
    assert_eq!(at_hub["notes"][1]["text"], "Desde el nodo de Honduras.");
    assert_eq!(at_hub["notes"][1]["state"], "HN");
    eventually("the note back at HN", || copy_at(hn, 3)).await;
    // What the hub would refuse is refused on the node already, and nothing is sent.
    let (s, v) = hn
        .post(
            &liaison,
            "/api/v1/events",
            &json!({"title": {"es": "Taller"}, "starts_on": "2016-10-25",
            "ends_on": "2016-10-27", "place": "Tegucigalpa", "announced_by": {"state": "GT"}}),
        )
        .await;
    assert_eq!(s, 422, "{v}");
    let officer = hn.token("officer.hn").await;
    assert_eq!(
        hn.post(&officer, &format!("/api/v1/agreements/{aid}/notes"), &json!({"text": "x"})).await.0,
        403
    );
    let mut w = crate::ui::Web::new(hn).accept_language("en");
    w.sign_in("liaison.hn").await;
    let p = w.get(&format!("/meetings/{mid}")).await;
    p.has("kept at the regional hub").has("Desde el nodo de Honduras.").has("Add a follow-up note");
    let r = w
        .post(
            &format!("/agreements/{aid}/notes"),
            &[("meeting", mid), ("text", "Por el formulario."), ("status", "")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.location(), format!("/meetings/{mid}?sent=1"));
    w.get(&r.location()).await.has("Sent to the regional hub");
    eventually("the form's note at HN", || copy_at(hn, 4)).await;

    // Honduras' liaison officer puts Honduras' entry in the directory from its node.
    let (s, v) = hn
        .post(
            &liaison,
            "/api/v1/directory",
            &json!({"state": "HN", "function": "liaison",
            "name": "Punto focal de Honduras", "email": "enlace.hn@example.org"}),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    eventually("HN's entry at the hub", || directory_has(h, "Punto focal de Honduras")).await;
    // A working group set up at the hub; Honduras, a member, adds a task from its node.
    let (s, g) = h
        .post(
            &ts,
            "/api/v1/groups",
            &json!({"title": {"es": "Campaña regional"}, "members": [{"state": "HN"}, {"body": "OIM"}]}),
        )
        .await;
    assert_eq!(s, 201, "{g}");
    let gid = g["id"].as_str().unwrap().to_string();
    eventually("the group at HN", || group_version(hn, &gid, 1)).await;
    let (s, v) = hn
        .post(
            &liaison,
            &format!("/api/v1/groups/{gid}/tasks"),
            &json!({"title": {"es": "Compartir campañas"},
            "responsible": [{"state": "HN"}], "status": "open"}),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    eventually("the task back at HN", || group_version(hn, &gid, 2)).await;
    eventually("HN's entry back at HN", || directory_has(hn, "Punto focal de Honduras")).await;

    // Library items: one for the whole network, one for Guatemala only (never sent to Honduras).
    let item = |title: &str, visible: Value| {
        json!({"title": {"es": title}, "kind": "protocol", "language": "es",
        "date": "2016-06-08", "visible_to": visible})
    };
    assert_eq!(h.post(&ts, "/api/v1/library", &item("Protocolo regional de niñez", json!([]))).await.0, 201);
    assert_eq!(h.post(&ts, "/api/v1/library", &item("Nota para Guatemala", json!(["GT"]))).await.0, 201);
    eventually("the network's item at HN", || library_has(hn, "Protocolo regional de niñez")).await;

    // Files: a document of three parts for the whole network, one for Guatemala only. Nodes
    // keep the parts, serve the file once whole, and search its text.
    let lib = h.get(&ts, "/api/v1/library").await.1;
    let item_id = |title: &str| {
        lib.as_array().unwrap().iter().find(|i| i["title"]["es"] == title).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (regional, for_gt) = (item_id("Protocolo regional de niñez"), item_id("Nota para Guatemala"));
    let pdf = crate::harness::padded_pdf(&["Entrevista en albergues fronterizos"], 2 * 1024 * 1024 + 10);
    let (s, f) =
        crate::network::upload(h, &ts, &regional, "protocolo.pdf", "application/pdf", pdf.clone()).await;
    assert_eq!((s, f["parts"].as_i64(), f["text_status"].as_str()), (201, Some(3), Some("indexed")), "{f}");
    let gt_pdf = crate::harness::pdf_with_text(&["Solo para Guatemala"]);
    let (s, gf) = crate::network::upload(h, &ts, &for_gt, "gt.pdf", "application/pdf", gt_pdf.clone()).await;
    assert_eq!(s, 201, "{gf}");
    eventually("the document at HN", || whole(hn, &regional, &f, &pdf)).await;
    let tok = hn.token("officer.hn").await;
    let (_, found) = hn.get(&tok, "/api/v1/library?q=albergue+fronterizo").await;
    assert_eq!(found[0]["title"]["es"], "Protocolo regional de niñez", "{found}");
    assert_eq!(found[0]["files"][0]["sha256"], f["sha256"]);
    // Honduras' liaison officer adds a Word document to a Honduran item at their own node:
    // checked there, sent to the hub in parts, read and kept there, published back.
    let mut hn_item = item("Protocolo hondureño de retorno", json!([]));
    hn_item["state"] = json!("HN");
    let (s, v) = h.post(&ts, "/api/v1/library", &hn_item).await;
    assert_eq!(s, 201, "{v}");
    let hn_item = v["id"].as_str().unwrap().to_string();
    eventually("Honduras' item at HN", || library_has(hn, "Protocolo hondureño de retorno")).await;
    let liaison = hn.token("liaison.hn").await;
    let png = crate::harness::PNG.to_vec();
    let (s, v) = crate::network::upload(hn, &liaison, &regional, "x.png", "image/png", png.clone()).await;
    assert_eq!(s, 403, "not Honduras' item to change: {v}");
    let (s, v) = crate::network::upload(hn, &liaison, &hn_item, "foto.pdf", "application/pdf", png).await;
    assert_eq!(s, 422, "checked at the node before it is sent: {v}");
    let docx = crate::harness::docx_with_text(&["Retorno asistido de niñez acompañada"]);
    let docx_ct = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
    let (s, v) = crate::network::upload(hn, &liaison, &hn_item, "retorno.docx", docx_ct, docx.clone()).await;
    assert_eq!(s, 202, "{v}");
    assert!(v["sent_to_hub"].is_string(), "{v}");
    let at_hub = eventually("the document kept at the hub", || found_file(h, "retorno+asistido")).await;
    assert_eq!(at_hub["filename"], "retorno.docx");
    let back = eventually("the document back at HN", || found_file(hn, "retorno+asistido")).await;
    assert_eq!(back["sha256"], at_hub["sha256"]);
    eventually("its content at HN", || whole(hn, &hn_item, &back, &docx)).await;
    assert!(h.audit_actions().await.iter().any(|a| a == "network.library_file"));

    // Guatemala joins: it asks the hub for the workspace and gets all of it.
    gt.app.install_directory(signed.as_str()).await.unwrap();
    gt.app.start_federation().unwrap();
    let (gm, ga) = eventually("GT's copy", || copy_at(gt, 4)).await;
    assert_eq!((gm["id"].clone(), ga["id"].clone()), (m["id"].clone(), a["id"].clone()));
    assert!(h.audit_actions().await.iter().any(|x| x == "network.sync"));
    eventually("HN's entry at GT", || directory_has(gt, "Punto focal de Honduras")).await;
    eventually("the group at GT", || group_version(gt, &gid, 2)).await;
    eventually("Guatemala's item at GT", || library_has(gt, "Nota para Guatemala")).await;
    let held = enlace_store::network::library(hn.app.db(), None, 100, 0).await.unwrap();
    assert!(
        held.iter().all(|l| l.data.visible_to.is_empty()),
        "Honduras' node never received Guatemala's item: {held:?}"
    );
    eventually("the documents at GT", || whole(gt, &regional, &f, &pdf)).await;
    eventually("Guatemala's document at GT", || whole(gt, &for_gt, &gf, &gt_pdf)).await;
    let gid_file: uuid::Uuid = gf["id"].as_str().unwrap().parse().unwrap();
    assert!(enlace_store::network::library_file(hn.app.db(), gid_file).await.unwrap().is_none());
    assert!(enlace_store::network::library_file_parts(hn.app.db(), gid_file).await.unwrap().is_empty());
    // A part out of range, or a description that does not hold together, is refused.
    let hub_id = NodeId::parse("hub").unwrap();
    let part = json!({"kind": "part", "part": {"file": gf["id"], "index": 10, "content": "aGk="}});
    let msg = unshared(&hub.key, "hub", "gt", MessageType::WorkspaceRecord, part);
    assert_eq!(code(gt.app.receive_envelope(&msg, Some(&hub_id)).await), "bad-record");
    let mut desc = gf.clone();
    desc["parts"] = json!(2);
    let desc = json!({"kind": "file", "file": {"file": desc, "text": ""}});
    let msg = unshared(&hub.key, "hub", "gt", MessageType::WorkspaceRecord, desc);
    assert_eq!(code(gt.app.receive_envelope(&msg, Some(&hub_id)).await), "bad-record");

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
    let (_, again) = copy_at(gt, 4).await.expect("still the newer copy");
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
    // A node speaks for its own states only; edits and requests go to the hub only.
    let edit = json!({"op": "note", "agreement": aid, "data": {"text": "Suplantando a Guatemala."},
        "author": {"name": "x", "role": "liaison_officer", "state": "GT"}});
    let m4 = unshared(&net.hn.key, "hn", "hub", MessageType::WorkspaceEdit, edit.clone());
    assert_eq!(code(h.app.receive_envelope(&m4, Some(&hn_node)).await), "not-your-state");
    let m5 = unshared(&net.hn.key, "hn", "gt", MessageType::WorkspaceEdit, edit);
    assert_eq!(code(gt.app.receive_envelope(&m5, Some(&hn_node)).await), "not-the-hub");
    let other = json!({"op": "note", "agreement": aid, "data": {"text": "x"},
        "author": {"name": "x", "role": "consular_officer", "state": "HN"}});
    let m6 = unshared(&net.hn.key, "hn", "hub", MessageType::WorkspaceEdit, other);
    assert_eq!(code(h.app.receive_envelope(&m6, Some(&hn_node)).await), "edit-refused");
    // A file's parts from a node: only for an item its user may change, within the file, and
    // a whole that is not what was announced is refused when the last part arrives.
    let part_of = |item: &str, index: i64, sha: &str| {
        let id = uuid::Uuid::now_v7();
        json!({"op": "file_part", "author": {"name": "x", "role": "liaison_officer", "state": "HN"},
            "file": {"id": id, "item": item, "filename": "x.png", "content_type": "image/png", "size": 2,
                "sha256": sha, "parts": 1},
            "part": {"file": id, "index": index, "content": "aGk="}})
    };
    let zeros = "0".repeat(64);
    let m7 = unshared(&net.hn.key, "hn", "hub", MessageType::WorkspaceEdit, part_of(&regional, 0, &zeros));
    assert_eq!(code(h.app.receive_envelope(&m7, Some(&hn_node)).await), "edit-refused");
    let m8 = unshared(&net.hn.key, "hn", "hub", MessageType::WorkspaceEdit, part_of(&hn_item, 1, &zeros));
    assert_eq!(code(h.app.receive_envelope(&m8, Some(&hn_node)).await), "bad-edit");
    let m9 = unshared(&net.hn.key, "hn", "hub", MessageType::WorkspaceEdit, part_of(&hn_item, 0, &zeros));
    h.app.receive_envelope(&m9, Some(&hn_node)).await.unwrap();
    eventually("the refusal of a file that is not what it said", || async {
        h.audit_actions().await.iter().any(|a| a == "network.library_file_refused").then_some(())
    })
    .await;
    // A node asking a node that is not the hub for the workspace is refused.
    let ask = unshared(&net.gt.key, "gt", "hn", MessageType::WorkspaceSync, json!({}));
    assert_eq!(code(hn.app.receive_envelope(&ask, Some(&NodeId::parse("gt").unwrap())).await), "not-the-hub");
}
