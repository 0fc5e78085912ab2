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
