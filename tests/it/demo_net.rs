//! `enlace demo`: the demo network as a separate process — the hub and five nodes on
//! consecutive ports, the assistance notice and the referral of the first start delivered over
//! mutual TLS between nodes, and a second start that reuses the data.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_enlace");

/// A running demo; killed on drop.
struct Demo {
    child: Child,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the demo and waits until it serves (its stderr says so), or gives up after 240 s.
fn start(dir: &std::path::Path, base: u16) -> Option<Demo> {
    let mut child = Command::new(BIN)
        .args(["demo", "--data-dir", dir.to_str().unwrap(), "--base-port", &base.to_string()])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn enlace demo");
    let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let err = child.stderr.take().unwrap();
    let log = stderr.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            log.lock().unwrap().push_str(&line);
            log.lock().unwrap().push('\n');
            if line.contains("demo network serving") || line.contains("cannot listen") {
                let _ = tx.send(line.contains("serving"));
            }
        }
    });
    let demo = Demo { child, stderr };
    match rx.recv_timeout(Duration::from_secs(240)) {
        Ok(true) => Some(demo),
        Ok(false) => None, // a port was taken: the caller tries other ports
        Err(_) => panic!("the demo did not start: {}", demo.stderr.lock().unwrap()),
    }
}

async fn token(c: &reqwest::Client, port: u16, user: &str) -> String {
    let r = c
        .post(format!("http://127.0.0.1:{port}/api/v1/auth/token"))
        .json(&json!({"username": user, "password": "enlace-demo-2016"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{user} signs in on port {port}");
    r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string()
}

/// What a node's API answers to `path`, as JSON.
async fn get_json(c: &reqwest::Client, port: u16, tok: &str, path: &str) -> Value {
    c.get(format!("http://127.0.0.1:{port}{path}"))
        .bearer_auth(tok)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The shares one side of a node sees, as (kind, state, peer state).
async fn shares(c: &reqwest::Client, port: u16, tok: &str, side: &str) -> Vec<(String, String, String)> {
    let v = get_json(c, port, tok, &format!("/api/v1/shares?side={side}")).await;
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let s = |k: &str| i[k].as_str().unwrap_or("").to_string();
            (s("kind"), s("state"), s("peer_state"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_network_shares_cases_between_nodes_and_restarts_on_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let (demo, base) = loop {
        // Below the ephemeral range (32768 and up on Linux), where client sockets take their ports.
        let base = 10000 + fastrand::u16(0..20000);
        if let Some(d) = start(dir.path(), base) {
            break (d, base);
        }
    };
    let (gt, hn) = (base + 2, base + 3);
    let c = reqwest::Client::new();
    let hn_tok = token(&c, hn, "supervisor.hn").await;
    let gt_tok = token(&c, gt, "supervisor.gt").await;
    // Guatemala's consulate assisted a Honduran child: Honduras was notified; Honduras
    // referred a case to Guatemala. Both crossed between the nodes' processes over mutual TLS.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let at_hn = shares(&c, hn, &hn_tok, "recipient").await;
        let at_gt = shares(&c, gt, &gt_tok, "recipient").await;
        let notice = at_hn.iter().any(|(k, _, from)| k == "assistance" && from == "GT");
        let referral = at_gt.iter().any(|(k, _, from)| k == "referral" && from == "HN");
        if notice && referral {
            break;
        }
        if Instant::now() > deadline {
            let log = demo.stderr.lock().unwrap().clone();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            panic!("not delivered: HN {at_hn:?}, GT {at_gt:?}; the demo's last lines:\n{}", tail.join("\n"));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // El Salvador took over a case Guatemala's consulate had assisted (a handover): its node
    // owns it now, in its own series.
    let sv = base + 4;
    let sv_tok = token(&c, sv, "supervisor.sv").await;
    loop {
        let r = get_json(&c, sv, &sv_tok, "/api/v1/shares").await;
        let taken = r["items"].as_array().unwrap().iter().any(|s| {
            s["kind"] == "assistance" && s["handover"]["owned_here"] == true && s["case_id"].is_string()
        });
        if taken {
            break;
        }
        assert!(Instant::now() < deadline, "no case taken over at El Salvador's node: {r}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The cross-border search proposed Honduras' missing woman and Guatemala's detainee to both
    // states (from encodings only: the hub holds no linkage secret).
    for (port, tok, other) in [(hn, &hn_tok, "GT"), (gt, &gt_tok, "HN")] {
        loop {
            let r = get_json(&c, port, tok, "/api/v1/linkage/candidates").await;
            if r.as_array().is_some_and(|a| a.iter().any(|k| k["other_state"] == other)) {
                break;
            }
            if Instant::now() > deadline {
                let log = demo.stderr.lock().unwrap().clone();
                let tail: Vec<&str> = log.lines().rev().take(40).collect();
                panic!(
                    "no linkage candidate at port {port}: {r}; the demo's last lines:\n{}",
                    tail.join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    // The hub keeps the network's workspace: the 2016 Tegucigalpa meeting, its nine states and
    // its eleven agreements (item 4 withdrawn, item 6 waiting for Nicaragua), and its events.
    let ts = token(&c, base, "secretariat.crm").await;
    let meetings = get_json(&c, base, &ts, "/api/v1/meetings").await;
    let m = &meetings[0];
    assert_eq!(
        (m["starts_on"].as_str(), m["place"].as_str()),
        (Some("2016-06-08"), Some("Tegucigalpa, Honduras"))
    );
    assert_eq!(m["states"].as_array().unwrap().len(), 9);
    let agreements =
        get_json(&c, base, &ts, &format!("/api/v1/meetings/{}/agreements", m["id"].as_str().unwrap())).await;
    let agreements = agreements.as_array().unwrap();
    assert_eq!(agreements.len(), 11);
    assert_eq!(agreements[3]["status"], "withdrawn");
    assert!(agreements[5]["responsible"].as_array().unwrap().contains(&serde_json::json!({"state": "NI"})));
    let events = get_json(&c, base, &ts, "/api/v1/events").await;
    assert!(events.as_array().unwrap().iter().any(|e| e["title"]["en"] == "Third Global Consular Forum"));
    // Every node holds the hub's copy: Honduras' officers see the meeting too.
    loop {
        let r = get_json(&c, hn, &hn_tok, "/api/v1/meetings").await;
        let d = get_json(&c, hn, &hn_tok, "/api/v1/directory").await;
        // And the directory: each demo state's liaison entry.
        if r.as_array().is_some_and(|a| a.len() == 1 && a[0]["agreements"] == 11)
            && d.as_array().is_some_and(|a| a.len() == 5)
        {
            break;
        }
        assert!(Instant::now() < deadline, "the workspace did not reach Honduras' node: {r}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Each node holds only its state's staff: Honduras' supervisor is not on Guatemala's node.
    let r = c
        .post(format!("http://127.0.0.1:{gt}/api/v1/auth/token"))
        .json(&json!({"username": "supervisor.hn", "password": "enlace-demo-2016"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let first_log = demo.stderr.lock().unwrap().clone();
    assert!(first_log.contains("Demo cases loaded"), "{first_log}");
    drop(demo);

    // A second start reuses the data: no new demo cases, the shares are still there.
    let again = start(dir.path(), base).expect("the same ports are free again");
    let log = again.stderr.lock().unwrap().clone();
    assert!(!log.contains("Demo cases loaded"), "{log}");
    let hn_tok = token(&c, hn, "supervisor.hn").await;
    assert_eq!(shares(&c, hn, &hn_tok, "offerer").await.len(), 1, "Honduras' referral, once");
}

/// Runs `enlace` to completion; panics with its output when it fails and `ok` is asked.
fn enlace(args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    use std::io::Write;
    let mut child = Command::new(BIN)
        .args(args)
        .env_remove("ENLACE_DATA_DIR")
        .env_remove("ENLACE_DATABASE_URL")
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn enlace");
    if let Some(s) = stdin {
        child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn ok(args: &[&str], stdin: Option<&str>) -> String {
    let (success, out, err) = enlace(args, stdin);
    assert!(success, "enlace {args:?} failed:\n{out}\n{err}");
    out
}

/// A node served by `enlace serve` with its federation options; killed on drop.
fn serve_node(dir: &str, port: u16, id: &str, hub_key: &str) -> Demo {
    let child = Command::new(BIN)
        .args(["serve", "--data-dir", dir, "--listen", &format!("127.0.0.1:{port}"), "--node-id", id])
        .args(["--hub-key", hub_key])
        .env_remove("ENLACE_DATA_DIR")
        .env_remove("ENLACE_DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn enlace serve");
    Demo { child, stderr: Default::default() }
}

async fn wait_ready(c: &reqwest::Client, port: u16) {
    let end = Instant::now() + Duration::from_secs(60);
    while c
        .get(format!("http://127.0.0.1:{port}/readyz"))
        .send()
        .await
        .map(|r| r.status() != 200)
        .unwrap_or(true)
    {
        assert!(Instant::now() < end, "node on {port} not ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Two nodes as separate `enlace serve` processes, set up with `enlace fed` (identities, the
/// hub's key, a signed directory installed on each). A referral crosses; then Guatemala's
/// process is killed, Honduras changes the case (queued), Guatemala starts again and the
/// change arrives, once. A tampered or foreign-signed directory is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn separate_node_processes_share_a_case_and_survive_a_killed_peer() {
    let tmp = tempfile::tempdir().unwrap();
    let path = |p: &str| tmp.path().join(p).to_str().unwrap().to_string();
    let (hn_dir, gt_dir, hub_file) = (path("hn"), path("gt"), path("hub.key"));
    let hub_key = ok(&["fed", "hub-key", "--key-file", &hub_file], None).trim().to_string();
    assert_eq!(ok(&["fed", "hub-key", "--key-file", &hub_file], None).trim(), hub_key, "the key is kept");
    let ident = |dir: &str, id: &str| -> Value {
        serde_json::from_str(&ok(&["fed", "identity", "--data-dir", dir, "--node-id", id], None)).unwrap()
    };
    let (hn_id, gt_id) = (ident(&hn_dir, "hn"), ident(&gt_dir, "gt"));
    assert_eq!(ident(&hn_dir, "hn"), hn_id, "a node's identity is kept");
    let base = 10000 + fastrand::u16(0..20000);
    let (hn_port, gt_port) = (base, base + 1);
    let now = chrono::Utc::now();
    let node = |id: &Value, state: &str, port: u16| {
        json!({"id": id["id"], "states": [state], "endpoint": format!("https://127.0.0.1:{port}"),
               "tls_pin": id["tls_pin"], "roles": ["node"],
               "keys": [{"kid": id["kid"], "public_key": id["key"],
                         "not_before": (now - chrono::TimeDelta::days(1)).to_rfc3339(),
                         "not_after": (now + chrono::TimeDelta::days(30)).to_rfc3339()}]})
    };
    let dir_json = json!({"serial": 1, "issued_at": now.to_rfc3339(),
        "expires_at": (now + chrono::TimeDelta::days(2)).to_rfc3339(),
        "nodes": [node(&hn_id, "HN", hn_port), node(&gt_id, "GT", gt_port)],
        "field_subsets": enlace_app::fed::agreed_field_subsets()});
    std::fs::write(path("dir.json"), dir_json.to_string()).unwrap();
    ok(
        &[
            "fed",
            "sign-directory",
            "--key-file",
            &hub_file,
            "--input",
            &path("dir.json"),
            "--output",
            &path("dir.jws"),
        ],
        None,
    );
    // Refused: a tampered copy, and a directory signed by another key.
    let signed = std::fs::read_to_string(path("dir.jws")).unwrap();
    std::fs::write(path("bad.jws"), signed.replacen('.', ".e", 1)).unwrap();
    let other = path("other.key");
    ok(&["fed", "hub-key", "--key-file", &other], None);
    ok(
        &[
            "fed",
            "sign-directory",
            "--key-file",
            &other,
            "--input",
            &path("dir.json"),
            "--output",
            &path("rogue.jws"),
        ],
        None,
    );
    for bad in ["bad.jws", "rogue.jws"] {
        let (success, _, err) = enlace(
            &[
                "fed",
                "install-directory",
                "--data-dir",
                &hn_dir,
                "--node-id",
                "hn",
                "--hub-key",
                &hub_key,
                "--file",
                &path(bad),
            ],
            None,
        );
        assert!(!success && err.contains("directory"), "{bad}: {err}");
    }
    // A base64url key may start with '-': it is read as the key, not as an option.
    let (success, _, err) = enlace(
        &[
            "fed",
            "install-directory",
            "--data-dir",
            &hn_dir,
            "--node-id",
            "hn",
            "--hub-key",
            "-x",
            "--file",
            &path("dir.jws"),
        ],
        None,
    );
    assert!(!success && err.contains("--hub-key: the key is not"), "{err}");
    for (dir, id, state) in [(&hn_dir, "hn", "HN"), (&gt_dir, "gt", "GT")] {
        let out = enlace(
            &[
                "fed",
                "install-directory",
                "--data-dir",
                dir,
                "--node-id",
                id,
                "--hub-key",
                &hub_key,
                "--file",
                &path("dir.jws"),
            ],
            None,
        );
        assert!(out.0, "{}", out.2);
        // Liaison officers work cases and decide on shares, and sign in without a second
        // factor (which this production-mode node enforces for supervisors).
        let user = format!("liaison.{id}");
        ok(
            &[
                "admin",
                "create-user",
                "--data-dir",
                dir,
                "--username",
                &user,
                "--role",
                "liaison_officer",
                "--state",
                state,
                "--password-stdin",
            ],
            Some("una clave de prueba larga\n"),
        );
    }
    let c = reqwest::Client::new();
    let hn = serve_node(&hn_dir, hn_port, "hn", &hub_key);
    let mut gt = serve_node(&gt_dir, gt_port, "gt", &hub_key);
    wait_ready(&c, hn_port).await;
    wait_ready(&c, gt_port).await;
    // The doctor finds nothing wrong with Honduras' node: directory, keys, its peer answers.
    let doctor = |hub_key: &str| {
        enlace(&["doctor", "--data-dir", &hn_dir, "--node-id", "hn", "--hub-key", hub_key], None)
    };
    let (fine, said, _) = doctor(&hub_key);
    assert!(fine, "{said}");
    for line in [
        "ok    directory: serial 1",
        "ok    signing key",
        "ok    TLS certificate",
        "ok    peer gt",
        "0 problems",
    ] {
        assert!(said.contains(line), "{line} not in:\n{said}");
    }
    let login = |port: u16, user: &'static str| {
        let c = c.clone();
        async move {
            let r = c
                .post(format!("http://127.0.0.1:{port}/api/v1/auth/token"))
                .json(&json!({"username": user, "password": "una clave de prueba larga"}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string()
        }
    };
    let hn_tok = login(hn_port, "liaison.hn").await;
    let body = json!({
        "person": {"given_names": ["Nora"], "surnames": ["Paz"], "sex": "female",
                   "birth": {"kind": "year", "year": 1990}, "nationalities": ["HN"]},
        "host_state": "MX", "category": "migration", "subtype": "documentation",
        "protection": {"state": "accepted", "at": "2026-01-05T10:00:00Z"}, "legal_basis": "consent"});
    let r = c
        .post(format!("http://127.0.0.1:{hn_port}/api/v1/cases"))
        .bearer_auth(&hn_tok)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let case: Value = r.json().await.unwrap();
    let case_id = case["id"].as_str().unwrap().to_string();
    let offer = json!({"to_state": "GT", "fields": ["given_names", "host_state"], "purpose": "Support",
        "legal_instrument": "Bilateral agreement",
        "exception": {"kind": "vital_interest", "reason": "The person is in danger and needs help now."}});
    let r = c
        .post(format!("http://127.0.0.1:{hn_port}/api/v1/cases/{case_id}/shares"))
        .bearer_auth(&hn_tok)
        .json(&offer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let share: Value = r.json().await.unwrap();
    let share_id = share["id"].as_str().unwrap().to_string();

    let gt_share = |tok: String| {
        let (c, id) = (c.clone(), share_id.clone());
        async move {
            let r = c
                .get(format!("http://127.0.0.1:{gt_port}/api/v1/shares/{id}"))
                .bearer_auth(&tok)
                .send()
                .await
                .ok()?;
            if r.status() != 200 {
                return None;
            }
            r.json::<Value>().await.ok()
        }
    };
    let gt_tok = login(gt_port, "liaison.gt").await;
    let end = Instant::now() + Duration::from_secs(60);
    while gt_share(gt_tok.clone()).await.is_none() {
        assert!(Instant::now() < end, "the offer did not reach Guatemala's process");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let r = c
        .post(format!("http://127.0.0.1:{gt_port}/api/v1/shares/{share_id}/accept"))
        .bearer_auth(&gt_tok)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        let v: Value = c
            .get(format!("http://127.0.0.1:{hn_port}/api/v1/shares/{share_id}"))
            .bearer_auth(&hn_tok)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if v["share"]["state"] == "accepted" {
            break;
        }
        assert!(Instant::now() < end, "the acceptance did not reach Honduras: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Guatemala's process dies; Honduras changes the case meanwhile; Guatemala comes back.
    let _ = gt.child.kill();
    let _ = gt.child.wait();
    let (fine, said, _) = doctor(&hub_key);
    assert!(fine && said.contains("WARN  peer gt: cannot reach"), "a peer down is a warning:\n{said}");
    let _ = gt.child.wait();
    let r = c
        .patch(format!("http://127.0.0.1:{hn_port}/api/v1/cases/{case_id}"))
        .bearer_auth(&hn_tok)
        .json(&json!({"version": 1, "host_state": "US"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    gt = serve_node(&gt_dir, gt_port, "gt", &hub_key);
    wait_ready(&c, gt_port).await;
    let gt_tok = login(gt_port, "liaison.gt").await;
    let end = Instant::now() + Duration::from_secs(90);
    let v = loop {
        if let Some(v) = gt_share(gt_tok.clone()).await
            && v["share"]["data"]["host_state"] == "US"
        {
            break v;
        }
        assert!(Instant::now() < end, "the change queued while Guatemala was down did not arrive");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let received = v["events"].as_array().unwrap().iter().filter(|e| e["direction"] == "received").count();
    assert_eq!(received, 2, "the offer and the one update, once each: {v}");
    drop((hn, gt));
}
