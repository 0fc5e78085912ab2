//! Operations (issue 9): backup and restore, crash safety, the doctor. A backup taken while the node takes writes restores, into
//! an empty data directory or database, every write acknowledged before it began, with an
//! intact audit chain; a damaged backup, the wrong key or a target that is not empty are
//! refused, naming the problem, and leave the target as it was.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::json;

use crate::cli::{Node, cli_both};
use crate::harness::new_case;

cli_both!(a_backup_under_load_restores_every_acknowledged_write);

fn a_backup_under_load_restores_every_acknowledged_write(node: Node) {
    node.create_user("off.hn", "consular_officer", "HN", Some("HN-TAPACHULA")).assert_ok("an officer");
    let server = node.serve(&[]);
    // A client registering cases as fast as the node acknowledges them.
    let (stop, acked) = (Arc::new(AtomicBool::new(false)), Arc::new(Mutex::new(Vec::<String>::new())));
    let writer = {
        let (stop, acked, base) = (stop.clone(), acked.clone(), server.base.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let c = reqwest::Client::new();
                let t: serde_json::Value = c
                    .post(format!("{base}/api/v1/auth/token"))
                    .json(&json!({"username": "off.hn", "password": crate::cli::PW_FOR_TESTS}))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                let token = t["token"].as_str().unwrap().to_string();
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    // Names take no digits: the count in letters.
                    let name: String = format!("{i:x}")
                        .chars()
                        .map(|c| (b'a' + c.to_digit(16).unwrap() as u8) as char)
                        .collect();
                    let body = new_case(&["Carga", &name], &["Respaldo"]);
                    let r =
                        c.post(format!("{base}/api/v1/cases")).bearer_auth(&token).json(&body).send().await;
                    match r {
                        Ok(r) if r.status() == 201 => {
                            let v: serde_json::Value = r.json().await.unwrap();
                            acked.lock().unwrap().push(v["id"].as_str().unwrap().to_string());
                        }
                        // Refused: a bug, shown (the wait below fails).
                        Ok(r) => eprintln!("refused: {} {}", r.status(), r.text().await.unwrap_or_default()),
                        // The connection dropped: not acknowledged, so not counted.
                        Err(_) => {}
                    }
                }
            })
        })
    };
    let wait_for = |n: usize| {
        let t = std::time::Instant::now();
        while acked.lock().unwrap().len() < n {
            assert!(t.elapsed().as_secs() < 60, "the writer is stuck");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    };
    wait_for(10);
    let before: Vec<String> = acked.lock().unwrap().clone();
    let file = node.data_dir().parent().unwrap().join("node.backup");
    let out = node.run(&["backup", "--output", file.to_str().unwrap()]);
    out.assert_ok("backup under load");
    assert!(out.stdout.contains("backup written"), "{}", out.stdout);
    let n = acked.lock().unwrap().len();
    wait_for(n + 3);
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    let total = acked.lock().unwrap().len();
    server.stop();
    assert!(node.run(&["backup", "--output", file.to_str().unwrap()]).code != Some(0), "never overwrites");
    let key = node.data_dir().join("node.key");
    let key = key.to_str().unwrap();
    let path = file.to_str().unwrap();

    // Refused, the target left empty: a damaged copy; another node's key.
    let target = Node::new(node.backend()).expect("a second database");
    let mut bytes = std::fs::read(&file).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    let damaged = node.data_dir().parent().unwrap().join("damaged.backup");
    std::fs::write(&damaged, &bytes).unwrap();
    let out = target.run(&["restore", damaged.to_str().unwrap(), "--key-file", key]);
    out.assert_failed("a damaged backup");
    assert!(out.stderr.contains("damaged"), "{}", out.stderr);
    let other_key = node.data_dir().parent().unwrap().join("other.key");
    std::fs::write(&other_key, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").unwrap();
    let out = target.run(&["restore", path, "--key-file", other_key.to_str().unwrap()]);
    out.assert_failed("another key");
    assert!(out.stderr.contains("does not open with this node key"), "{}", out.stderr);
    assert!(!target.data_dir().join("enlace.db").exists());
    let out = target.run(&["restore", path, "--key-file", key]);
    out.assert_ok("restore into the empty target");
    assert!(out.stdout.contains("audit chain intact"), "{}", out.stdout);

    // Restored: every case acknowledged before the backup began, and no more than were
    // acknowledged at all; the audit chain verified by the restore and again now.
    let restored = target.count_cases();
    assert!(
        restored >= before.len() as i64 && restored <= total as i64,
        "{restored} of {} / {total}",
        before.len()
    );
    let missing: Vec<String> = target.inspect(async |app| {
        let mut missing = Vec::new();
        for id in &before {
            let cid = id.parse().unwrap();
            if enlace_store::cases::get_case(app.db(), cid).await.unwrap().is_none() {
                missing.push(id.clone());
            }
        }
        missing
    });
    assert!(missing.is_empty(), "acknowledged before the backup, missing after the restore: {missing:?}");
    let out = target.run(&["audit", "verify", "--key-file", key]);
    out.assert_ok("the restored audit chain");
    assert!(out.stdout.contains("audit chain intact"), "{}", out.stdout);
    // A second restore into it is refused: it is not empty any more.
    let out = target.run(&["restore", path, "--key-file", key]);
    out.assert_failed("a target that is not empty");
    assert!(out.stderr.contains("already"), "{}", out.stderr);
}

cli_both!(the_node_keeps_every_acknowledged_write_through_kills);

/// The crash harness's short version (the benchmark runs 100 rounds): SIGKILL at random
/// moments under concurrent writes; after each round every acknowledged write is there.
fn the_node_keeps_every_acknowledged_write_through_kills(node: Node) {
    let out = node.run(&["bench-crash", "--rounds", "3", "--writers", "3"]);
    out.assert_ok("three kill/restart rounds");
    assert!(out.stdout.contains("every one of them kept"), "{}", out.stdout);
}

cli_both!(bad_configuration_stops_the_node_at_start_naming_the_value);

/// Every setting a node reads at start is checked then: a bad value stops `serve` before it
/// listens, with a message naming the option and what is wrong with it.
fn bad_configuration_stops_the_node_at_start_naming_the_value(node: Node) {
    let listen = ["serve", "--listen", "127.0.0.1:0"];
    let with = |extra: &[&str]| -> Vec<String> {
        listen.iter().chain(extra.iter()).map(|s| s.to_string()).collect()
    };
    // (arguments, environment, what the message must name)
    type Bad<'a> = (Vec<String>, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Bad> = vec![
        (vec!["serve".into(), "--listen".into(), "nowhere".into()], vec![], "--listen"),
        (with(&[]), vec![("ENLACE_LOG_FORMAT", "xml")], "ENLACE_LOG_FORMAT"),
        (with(&[]), vec![("ENLACE_LOG", "info,[[")], "ENLACE_LOG"),
        (with(&[]), vec![("ENLACE_NODE_KEY", "not a key")], "ENLACE_NODE_KEY"),
        (with(&["--node-id", "hn"]), vec![], "--hub-key"),
        (with(&["--node-id", "Honduras!", "--hub-key", "x"]), vec![], "node id"),
        (with(&["--node-id", "hn", "--hub-key", "abc"]), vec![], "--hub-key"),
        (
            with(&["--node-id", "hn", "--hub-key", &enlace_test_hub_key(), "--hub-url", "ftp://hub"]),
            vec![],
            "--hub-url",
        ),
        (
            with(&[
                "--oidc-issuer",
                "id.example.gob.hn",
                "--oidc-client-id",
                "enlace",
                "--oidc-client-secret",
                "s",
                "--oidc-redirect-url",
                "https://enlace.example/cb",
            ]),
            vec![],
            "--oidc-issuer",
        ),
        (
            with(&[
                "--oidc-issuer",
                "https://id.example.gob.hn",
                "--oidc-client-id",
                "enlace",
                "--oidc-client-secret",
                "s",
                "--oidc-redirect-url",
                "/callback",
            ]),
            vec![],
            "--oidc-redirect-url",
        ),
    ];
    for (args, env, named) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = node.run_env(&args, &env);
        out.assert_failed(named);
        assert!(out.stderr.contains(named), "{args:?} {env:?}: the message names {named}: {}", out.stderr);
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    }
}

/// A well-formed hub key (the tests' nodes never reach a hub).
fn enlace_test_hub_key() -> String {
    enlace_fed::keys::SigningKey::generate().unwrap().verifying_key().to_base64url()
}

cli_both!(the_doctor_says_what_is_wrong_in_plain_words);

fn the_doctor_says_what_is_wrong_in_plain_words(node: Node) {
    node.run(&["migrate"]).assert_ok("migrate");
    let out = node.run(&["doctor"]);
    out.assert_ok("a sound node");
    for line in
        ["ok    node key", "ok    database:", "ok    database integrity: sound", "0 problems, 0 warnings"]
    {
        assert!(out.stdout.contains(line), "{line} not in:\n{}", out.stdout);
    }
    // A key others can read: a warning, with the fix.
    let key = node.data_dir().join("node.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let out = node.run(&["doctor"]);
        out.assert_ok("a warning alone");
        assert!(out.stdout.contains("can be read by other users: chmod 600"), "{}", out.stdout);
    }
    // A broken key, and federation options that do not hold: problems, exit 1.
    std::fs::write(&key, "not a key").unwrap();
    let out = node.run(&["doctor", "--node-id", "hn", "--hub-key", "AAAA"]);
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(
        out.stdout.contains("FAIL  node key") && out.stdout.contains("FAIL  federation settings"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("2 problems"), "{}", out.stdout);
}
