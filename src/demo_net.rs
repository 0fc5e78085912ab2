//! `enlace demo`: a local network in one process — the regional hub and the nodes of Mexico,
//! Guatemala, Honduras, El Salvador and the United States on consecutive ports, each with its
//! own SQLite file in its own folder, its own signing key, and a TLS certificate from a test
//! certificate authority made at start (so the directory the hub signs at each start pins the
//! new certificates). Demo accounts per state and demo cases (first start only), among them a
//! Guatemalan consulate assisting a Honduran child (the assistance notice reaches Honduras) and
//! a referral from Honduras to Guatemala.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use chrono::{TimeDelta, Utc};
use enlace_app::demo::DEMO_PASSWORD;
use enlace_app::fed::{
    FedSettings, LinkageSecret, ShareRequest, ShareSide, agreed_field_subsets, signing_key_file,
};
use enlace_app::keys::NodeKey;
use enlace_app::{App, Db, Settings};
use enlace_domain::country::CountryCode;
use enlace_fed::directory::{Directory, Endpoint, KeyEntry, NodeEntry, NodeRole};
use enlace_fed::ids::{NodeId, StateCode};
use enlace_fed::keys::SigningKey;
use enlace_net::{DemoCa, TlsIdentity};
use enlace_web::fed::HttpsTransport;

/// The demo's nodes, in port order after the hub.
const NODES: [(&str, &str, &str); 5] = [
    ("mx", "MX", "Mexico"),
    ("gt", "GT", "Guatemala"),
    ("hn", "HN", "Honduras"),
    ("sv", "SV", "El Salvador"),
    ("us", "US", "United States"),
];

/// Generated cases per node, first start only.
const GENERATED: u64 = 400;

struct DemoNode {
    id: &'static str,
    state: &'static str,
    name: &'static str,
    port: u16,
    app: App,
    key: SigningKey,
    tls: TlsIdentity,
}

pub(crate) async fn open(
    dir: &Path,
    id: &str,
    hub: &SigningKey,
    hub_endpoint: Option<String>,
    linkage_secret: Option<LinkageSecret>,
) -> Result<(App, SigningKey)> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let key = signing_key_file(&dir.join("fed-signing.key")).map_err(anyhow::Error::msg)?;
    let mut fed = FedSettings::new(
        NodeId::parse(id)?,
        SigningKey::from_secret_base64url(&key.to_secret_base64url())?,
        hub.verifying_key(),
    );
    fed.hub_endpoint = hub_endpoint;
    fed.linkage_secret = linkage_secret;
    let settings = Settings {
        node_key: NodeKey::load_or_create(&dir.join("node.key")).map_err(anyhow::Error::msg)?,
        enforce_mfa: false,
        fed: Some(fed),
        ..Settings::default()
    };
    let db = Db::connect(None, dir)
        .await
        .with_context(|| format!("cannot open the database in {}", dir.display()))?;
    let app = App::new(db, settings);
    app.prepare().await.context("cannot prepare the database")?;
    Ok((app, key))
}

pub(crate) fn entry(
    id: &str,
    states: &[&str],
    port: u16,
    key: &SigningKey,
    tls: &TlsIdentity,
    role: NodeRole,
) -> Result<NodeEntry> {
    let now = Utc::now();
    Ok(NodeEntry {
        id: NodeId::parse(id)?,
        states: states.iter().map(|s| StateCode::parse(s)).collect::<Result<_, _>>()?,
        endpoint: Endpoint::parse(&format!("https://127.0.0.1:{port}"))?,
        tls_pin: tls.pin(),
        keys: vec![KeyEntry::new(key.verifying_key(), now - TimeDelta::days(1), now + TimeDelta::days(365))],
        roles: [role].into(),
        revoked_at: None,
    })
}

pub async fn run(data_dir: PathBuf, base_port: u16) -> Result<()> {
    let last = base_port.checked_add(NODES.len() as u16).context("--base-port is too high")?;
    let hub_dir = data_dir.join("hub");
    std::fs::create_dir_all(&hub_dir).with_context(|| format!("cannot create {}", hub_dir.display()))?;
    // The hub's directory key is the network's trust anchor: kept across starts.
    let hub_key = signing_key_file(&hub_dir.join("hub-directory.key")).map_err(anyhow::Error::msg)?;
    // Nodes fetch the directory over plain HTTP: it is signed by the hub's key, which they
    // hold, so the channel adds nothing (and a TLS connection to a node's port must present
    // a pinned client certificate).
    let hub_url = format!("http://127.0.0.1:{base_port}");
    let ca = DemoCa::generate("Enlace demo CA").context("cannot make the demo certificate authority")?;
    let hosts = ["127.0.0.1", "localhost"];

    // The states' linkage secret, kept beside (not in) the hub's folder: in a real network the
    // states agree on it among themselves and the hub never holds it.
    let secret =
        enlace_app::keys::secret_file(&data_dir.join("network-linkage.secret"), LinkageSecret::generate_text)
            .map_err(anyhow::Error::msg)?;
    let secret = LinkageSecret::new(secret.as_bytes()).map_err(anyhow::Error::msg)?;
    let (hub_app, hub_node_key) = open(&hub_dir, "hub", &hub_key, None, None).await?;
    let hub_tls = ca.issue(&NodeId::parse("hub")?, &hosts)?;
    let mut nodes = Vec::new();
    for (i, (id, state, name)) in NODES.into_iter().enumerate() {
        let (app, key) =
            open(&data_dir.join(id), id, &hub_key, Some(hub_url.clone()), Some(secret.clone())).await?;
        let tls = ca.issue(&NodeId::parse(id)?, &hosts)?;
        nodes.push(DemoNode { id, state, name, port: base_port + 1 + i as u16, app, key, tls });
    }

    // The directory of this start: a serial that grows with time, the certificates of today.
    let now = Utc::now();
    let mut entries = vec![entry("hub", &[], base_port, &hub_node_key, &hub_tls, NodeRole::Hub)?];
    for n in &nodes {
        entries.push(entry(n.id, &[n.state], n.port, &n.key, &n.tls, NodeRole::Node)?);
    }
    let directory = Directory {
        serial: now.timestamp() as u64,
        issued_at: now,
        expires_at: now + TimeDelta::days(7),
        nodes: entries,
        field_subsets: agreed_field_subsets(),
    };
    let signed = directory.sign(&hub_key).context("cannot sign the directory")?;
    for app in std::iter::once(&hub_app).chain(nodes.iter().map(|n| &n.app)) {
        app.install_directory(signed.as_str()).await.map_err(crate::explain)?;
    }

    // Listen on every port before anything else, so a port in use stops the demo at once.
    let mut listeners = Vec::new();
    for port in base_port..=last {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        listeners.push(
            tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?,
        );
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    let mut servers = tokio::task::JoinSet::new();
    let mut listeners = listeners.into_iter();
    let hub_listener = listeners.next().expect("the hub's port");
    // The hub sends linkage candidates to the nodes: it needs its relay too.
    hub_app
        .set_transport(Arc::new(HttpsTransport::new(&hub_app, hub_tls.clone())?))
        .map_err(crate::explain)?;
    hub_app.start_federation().map_err(crate::explain)?;
    servers.spawn(enlace_web::serve_federated(hub_listener, hub_app.clone(), hub_tls.clone(), stopped()));
    for (n, listener) in nodes.iter().zip(listeners) {
        n.app.set_transport(Arc::new(HttpsTransport::new(&n.app, n.tls.clone())?)).map_err(crate::explain)?;
        n.app.start_federation().map_err(crate::explain)?;
        n.app.start_linkage_worker();
        servers.spawn(enlace_web::serve_federated(listener, n.app.clone(), n.tls.clone(), stopped()));
    }

    // Demo accounts and, on first start, demo cases; the hub's workspace.
    let mut logins = Vec::new();
    let states: Vec<CountryCode> =
        nodes.iter().map(|n| CountryCode::parse(n.state)).collect::<Result<_, _>>()?;
    let hub_users = hub_app.seed_hub_demo(&states).await.map_err(crate::explain)?;
    logins.extend(hub_users.into_iter().map(|u| ("hub", base_port, u)));
    let mut loaded = Vec::new();
    for n in &nodes {
        let state = CountryCode::parse(n.state)?;
        let users = n.app.seed_demo_users_of(&[state]).await.map_err(crate::explain)?;
        logins.extend(users.into_iter().map(|u| (n.id, n.port, u)));
        if n.app.count_cases().await.map_err(crate::explain)? == 0 {
            let shown = n.app.seed_showcase().await.map_err(crate::explain)?;
            let generated =
                crate::generate(&n.app, GENERATED, 2016 + n.port as u64, 400, vec![state]).await?;
            loaded.push(format!("{}: {} showcase, {generated} generated", n.name, shown.len()));
        }
    }
    if !loaded.is_empty() {
        refer_first_case(&nodes).await?;
        hand_over_assisted_case(&nodes).await?;
        link_missing_and_found(&nodes).await?;
        eprintln!("Demo cases loaded (first start): {}.", loaded.join("; "));
    }

    println!(
        "\nEnlace demo network ({}; UI + API over HTTP, /fed/v1 over mutual TLS on every node's port)",
        data_dir.display()
    );
    println!("  hub            http://127.0.0.1:{base_port}   (directory: /fed/v1/directory)");
    for n in &nodes {
        println!("  {:<2} {:<11} http://127.0.0.1:{}", n.id, n.name, n.port);
    }
    println!("\nEvery demo account's password is: {DEMO_PASSWORD}\n");
    println!("{:<24} {:<24} {:<6} {:<14} URL", "USER", "ROLE", "STATE", "POST");
    for (_, port, l) in &logins {
        println!(
            "{:<24} {:<24} {:<6} {:<14} http://127.0.0.1:{port}",
            l.username,
            l.role.as_str(),
            l.state,
            l.post.as_ref().map(|p| p.to_string()).unwrap_or_default(),
        );
    }
    println!();
    tracing::info!(hub = %hub_url, nodes = nodes.len(), "demo network serving");

    crate::shutdown_signal().await;
    let _ = stop_tx.send(true);
    while let Some(r) = servers.join_next().await {
        if let Ok(Err(e)) = r {
            tracing::warn!(error = %e, "a demo server stopped with an error");
        }
    }
    for app in std::iter::once(&hub_app).chain(nodes.iter().map(|n| &n.app)) {
        app.flush_audit().await.map_err(crate::explain)?;
        app.db().close().await;
    }
    Ok(())
}

/// Honduras refers one of its cases to Guatemala (a recorded vital-interest exception stands
/// in for the person's consent), so the demo shows a share in both worklists.
async fn refer_first_case(nodes: &[DemoNode]) -> Result<()> {
    let Some(hn) = nodes.iter().find(|n| n.id == "hn") else { return Ok(()) };
    let actor = hn.app.actor_for("supervisor.hn").await.map_err(crate::explain)?;
    let filter = enlace_store::cases::CaseFilter { limit: 1, ..Default::default() };
    let page = hn.app.list_cases(&actor, filter).await.map_err(crate::explain)?;
    let Some(case) = page.items.first() else { return Ok(()) };
    let req: ShareRequest = serde_json::from_value(serde_json::json!({
        "to_state": "GT",
        "fields": ["given_names", "surnames", "birth", "nationalities", "category", "subtype", "status", "host_state"],
        "purpose": "Family tracing and reunification support in Guatemala",
        "legal_instrument": "Bilateral agreement on consular cooperation HN-GT",
        "exception": {"kind": "vital_interest", "reason": "The person's relatives in Guatemala must be found quickly."}
    }))?;
    hn.app.offer_share(&actor, case.id, req).await.map_err(crate::explain)?;
    Ok(())
}

/// The cross-border search: Honduras registers a family's report of a missing woman, Guatemala
/// a woman detained in Tapachula who gave a Guatemalan identity, her first name spelt otherwise;
/// both put their case in the search and the hub, from the encodings alone, proposes the pair
/// to both states (on the linkage pages).
async fn link_missing_and_found(nodes: &[DemoNode]) -> Result<()> {
    let (Some(hn), Some(gt)) = (nodes.iter().find(|n| n.id == "hn"), nodes.iter().find(|n| n.id == "gt"))
    else {
        return Ok(());
    };
    let reason = "Vital interest: a migrant woman whose family fears for her life.";
    for (node, user, person, subtype, extra) in [
        (
            hn,
            "supervisor.hn",
            serde_json::json!({"given_names": ["Keyla", "Yamileth"], "surnames": ["Banegas", "Zelaya"],
                "sex": "female", "birth": {"kind": "date", "date": "1997-03-08"}, "nationalities": ["HN"]}),
            "whereabouts",
            serde_json::json!({"missing": {"reported_by": "family", "last_seen_place": "Tenosique, Tabasco"},
                "narrative": "Su madre la reporta desaparecida desde que cruzó por Tenosique en marzo."}),
        ),
        (
            gt,
            "supervisor.gt",
            serde_json::json!({"given_names": ["Keila", "Yamileth"], "surnames": ["Banegas", "Zelaya"],
                "sex": "female", "birth": {"kind": "date", "date": "1997-03-08"}, "nationalities": ["GT"]}),
            "detention",
            serde_json::json!({"narrative": "Detenida en la estación migratoria de Tapachula; dice ser guatemalteca."}),
        ),
    ] {
        let actor = node.app.actor_for(user).await.map_err(crate::explain)?;
        let mut body = serde_json::json!({"person": person, "host_state": "MX", "category": "human_rights",
            "subtype": subtype, "protection": {"state": "pending"}, "legal_basis": "vital_interest"});
        for (k, v) in extra.as_object().into_iter().flatten() {
            body[k] = v.clone();
        }
        let new: enlace_app::cases::NewCase = serde_json::from_value(body)?;
        let id = node.app.create_case(&actor, new).await.map_err(crate::explain)?.case.id;
        let req: enlace_app::fed::linkage::LinkageRequest = serde_json::from_value(serde_json::json!({
            "exception": {"kind": "vital_interest", "reason": reason}}))?;
        node.app.enrol_linkage(&actor, id, req).await.map_err(crate::explain)?;
    }
    Ok(())
}

/// Guatemala's consulate in Tapachula assists a Salvadoran woman under the CA-4 + Dominican
/// Republic MoU; El Salvador, notified, takes the case over (a handover): the demo shows a case
/// owned by El Salvador's node from epoch 1 and read-only at Guatemala's.
async fn hand_over_assisted_case(nodes: &[DemoNode]) -> Result<()> {
    let (Some(gt), Some(sv)) = (nodes.iter().find(|n| n.id == "gt"), nodes.iter().find(|n| n.id == "sv"))
    else {
        return Ok(());
    };
    let officer = gt.app.actor_for("officer.gt.tapachula").await.map_err(crate::explain)?;
    let accepted_at = (Utc::now() - TimeDelta::hours(30)).to_rfc3339();
    let body: enlace_app::cases::NewCase = serde_json::from_value(serde_json::json!({
        "person": {"given_names": ["Marta", "Elena"], "surnames": ["Rivas", "Alvarado"], "sex": "female",
            "birth": {"kind": "year", "year": 1988}, "birth_place": "San Miguel, San Miguel", "nationalities": ["SV"]},
        "owner_state": "SV", "post": "GT-TAPACHULA", "host_state": "MX",
        "category": "migration", "subtype": "documentation",
        "protection": {"state": "accepted", "at": accepted_at}, "legal_basis": "mou_assistance",
        "narrative": "Mujer salvadoreña sin documentos tras un asalto en Huixtla. El consulado de Guatemala la atendió bajo el Memorándum CA-4 + República Dominicana; El Salvador asume el caso."
    }))?;
    let number = gt.app.create_case(&officer, body).await.map_err(crate::explain)?.case.number.to_string();
    let sup = sv.app.actor_for("supervisor.sv").await.map_err(crate::explain)?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let page = sv.app.list_shares(&sup, ShareSide::Recipient, None, 50).await.map_err(crate::explain)?;
        if let Some(share) = page.items.iter().find(|s| s.case_number == number) {
            let note = Some("El Salvador asume el caso desde su consulado en Tapachula.".to_string());
            sv.app.decide_handover(&sup, share.id, true, note).await.map_err(crate::explain)?;
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            tracing::warn!(case = %number, "the assistance notice did not reach El Salvador's node in time: no demo handover");
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
