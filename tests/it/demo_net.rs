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

/// The shares one side of a node sees, as (kind, state, peer state).
async fn shares(c: &reqwest::Client, port: u16, tok: &str, side: &str) -> Vec<(String, String, String)> {
    let v: Value = c
        .get(format!("http://127.0.0.1:{port}/api/v1/shares?side={side}"))
        .bearer_auth(tok)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
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
