//! Protection at rest: attachments sealed with the node key, the key outside the database
//! with owner-only permissions.

use crate::both_backends;
use crate::cli::{Node, cli_both};
use crate::harness::{TestApp, new_case};

both_backends!(attachments_are_sealed_with_the_node_key, security_headers_are_on_every_response);
cli_both!(the_node_key_is_a_private_file_beside_the_database);

async fn attachments_are_sealed_with_the_node_key(app: TestApp) {
    let t = app.token("supervisor.hn").await;
    let c = app.create_case(&t, &new_case(&["Ana"], &["Sellada"])).await;
    let secret = "Informe psicologico confidencial: la persona refiere violencia.";
    let r = app
        .client
        .post(
            app.url(&format!("/api/v1/cases/{}/attachments?filename=informe.txt", c["id"].as_str().unwrap())),
        )
        .bearer_auth(&t)
        .header("content-type", "text/plain")
        .body(secret)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let a: serde_json::Value = r.json().await.unwrap();
    let url =
        format!("/api/v1/cases/{}/attachments/{}", c["id"].as_str().unwrap(), a["id"].as_str().unwrap());
    let fetch = || async {
        let r = app.client.get(app.url(&url)).bearer_auth(&t).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    };
    assert_eq!(fetch().await, (200, secret.to_string()));

    // What the database holds is not the text, and not even its length.
    let stored: Vec<u8> = match app.app.db() {
        enlace_store::Db::Sqlite { read, .. } => {
            sqlx::query_scalar("SELECT content FROM attachments").fetch_one(read).await.unwrap()
        }
        enlace_store::Db::Postgres(p) => {
            sqlx::query_scalar("SELECT content FROM attachments").fetch_one(p).await.unwrap()
        }
    };
    assert!(!stored.windows(8).any(|w| w == b"Informe "), "plaintext in the database");
    assert_eq!(stored.len(), secret.len() + 24 + 16, "nonce + ciphertext + tag");

    // A changed byte is detected, not served.
    let flip = "UPDATE attachments SET content = $1";
    let mut tampered = stored.clone();
    tampered[30] ^= 0x55;
    match app.app.db() {
        enlace_store::Db::Sqlite { write, .. } => {
            sqlx::query(flip).bind(tampered).execute(write).await.unwrap();
        }
        enlace_store::Db::Postgres(p) => {
            sqlx::query(flip).bind(tampered).execute(p).await.unwrap();
        }
    }
    let (s, body) = fetch().await;
    assert_eq!(s, 503, "{body}");
    assert!(!body.contains("Informe"));
}

fn the_node_key_is_a_private_file_beside_the_database(node: Node) {
    node.run(&["migrate"]).assert_ok("migrate");
    let key = node.data_dir().join("node.key");
    let text = std::fs::read_to_string(&key).expect("node.key created");
    assert_eq!(text.trim().len(), 44, "32 bytes in base64");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(node.data_dir()).unwrap().permissions().mode() & 0o777, 0o700);
    }
    // The same key is used again, not replaced.
    node.run(&["migrate"]).assert_ok("migrate again");
    assert_eq!(std::fs::read_to_string(&key).unwrap(), text);
}

async fn security_headers_are_on_every_response(app: TestApp) {
    for (path, proxied) in
        [("/healthz", false), ("/api/v1/cases", false), ("/nowhere", true), ("/api/v1/me", true)]
    {
        let mut req = app.client.get(app.url(path));
        if proxied {
            req = req.header("X-Forwarded-Proto", "https");
        }
        let r = req.send().await.unwrap();
        let h = r.headers();
        assert!(h["content-security-policy"].to_str().unwrap().contains("default-src 'none'"), "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h.contains_key("strict-transport-security"), proxied, "{path}: HSTS only behind TLS");
    }
}

cli_both!(no_secret_reaches_the_log);

/// The server's log, at debug level, through sign-ins (right and wrong), sessions and token
/// use, holds no password, token, session secret or CSRF token.
fn no_secret_reaches_the_log(node: Node) {
    let node = node.with_importer();
    let server = node.serve(&[("ENLACE_LOG", "debug")]);
    let base = server.base.clone();
    let wrong = "una-clave-equivocada-77";
    let secrets: Vec<String> = node.run_async(async move {
        let c = reqwest::Client::new();
        let login = |pw: &str| {
            c.post(format!("{base}/api/v1/auth/token"))
                .json(&serde_json::json!({"username": "sup.hn", "password": pw}))
                .send()
        };
        assert_eq!(login(wrong).await.unwrap().status(), 401);
        let t: serde_json::Value = login(crate::cli::PW_FOR_TESTS).await.unwrap().json().await.unwrap();
        let token = t["token"].as_str().unwrap().to_string();
        let r = c
            .get(format!("{base}/api/v1/me"))
            .bearer_auth(&token)
            .header("x-request-id", "peticion-77")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-request-id"], "peticion-77");
        // A supervisor who has not enrolled in two-factor sign-in is refused (and logged as such).
        let r = c.get(format!("{base}/api/v1/cases")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), 403);
        let r =
            c.get(format!("{base}/api/v1/me")).bearer_auth("forged-token-value-123").send().await.unwrap();
        assert_eq!(r.status(), 401);
        let r = c
            .post(format!("{base}/api/v1/auth/session"))
            .json(&serde_json::json!({"username": "sup.hn", "password": crate::cli::PW_FOR_TESTS}))
            .send()
            .await
            .unwrap();
        let cookie = r.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .split_once('=')
            .unwrap()
            .1
            .to_string();
        let s: serde_json::Value = r.json().await.unwrap();
        vec![token, cookie, s["csrf_token"].as_str().unwrap().to_string()]
    });
    let log = server.stop();
    let text = log.join("\n");
    assert!(text.contains("serving"), "{text}");
    // JSON lines; each request answered in one line with its id, route template and status.
    let lines: Vec<serde_json::Value> = log
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let me = lines
        .iter()
        .find(|v| v["fields"]["message"] == "answered" && v["span"]["id"] == "peticion-77")
        .unwrap_or_else(|| panic!("no line for the request: {text}"));
    assert_eq!(
        (me["span"]["route"].as_str(), me["fields"]["status"].as_u64()),
        (Some("/api/v1/me"), Some(200))
    );
    let cases = lines.iter().find(|v| v["span"]["route"] == "/api/v1/cases" && v["fields"]["status"] == 403);
    assert!(cases.is_some(), "the refusal is logged with its route: {text}");
    for s in [crate::cli::PW_FOR_TESTS, wrong, "forged-token-value-123"]
        .iter()
        .map(|s| s.to_string())
        .chain(secrets)
    {
        assert!(!text.contains(&s), "a secret in the log: {s}");
    }
}
