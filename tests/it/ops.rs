//! What operators see (issue 9): `/metrics` in the OpenMetrics text format (requests by route
//! template, the outbox, the pools, failed sign-ins; nothing about a person) and request ids.

use serde_json::json;

use crate::both_backends;
use crate::harness::{TestApp, new_case};

both_backends!(metrics_count_requests_by_route_and_name_no_one);

async fn scrape(app: &TestApp) -> String {
    let r = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let ct = r.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("application/openmetrics-text"), "{ct}");
    r.text().await.unwrap()
}

/// The value of the sample whose name and labels start `prefix`.
fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines().find(|l| l.starts_with(prefix)).and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

async fn metrics_count_requests_by_route_and_name_no_one(app: TestApp) {
    let t = app.token("officer.hn").await;
    let c = app.create_case(&t, &new_case(&["Wendy", "Marisol"], &["Cárcamo"])).await;
    let id = c["id"].as_str().unwrap();
    for _ in 0..3 {
        assert_eq!(app.get(&t, &format!("/api/v1/cases/{id}")).await.0, 200);
    }
    assert_eq!(app.get(&t, "/api/v1/cases/no-such-case").await.0, 404);
    let r = app
        .client
        .post(app.url("/api/v1/auth/token"))
        .json(&json!({"username": "officer.hn", "password": "not the password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let text = scrape(&app).await;
    assert!(text.ends_with("# EOF\n"), "{text}");
    let route = r#"enlace_http_requests_total{method="GET",route="/api/v1/cases/{id}",status="#;
    assert_eq!(sample(&text, &format!("{route}\"200\"}}")), Some(3.0), "{text}");
    assert_eq!(sample(&text, &format!("{route}\"404\"}}")), Some(1.0), "{text}");
    let h = r#"enlace_http_request_duration_seconds_count{method="GET",route="/api/v1/cases/{id}"}"#;
    assert_eq!(sample(&text, h), Some(4.0), "{text}");
    assert_eq!(sample(&text, "enlace_login_failures "), Some(1.0), "{text}");
    assert!(sample(&text, r#"enlace_federation_outbox_messages{state="dead"}"#).is_some(), "{text}");
    assert!(text.lines().any(|l| l.starts_with("enlace_db_pool_connections{pool=")), "{text}");
    // Route templates only: no case id, no name, no query.
    for personal in [id, "Wendy", "Marisol", "no-such-case"] {
        assert!(!text.contains(personal), "{personal} in the metrics");
    }
    // A path no route serves is counted as "unmatched", not by its path.
    app.client.get(app.url("/wp-admin/Wendy")).send().await.unwrap();
    let text = scrape(&app).await;
    assert!(text.contains(r#"route="unmatched""#) && !text.contains("wp-admin"), "{text}");

    // Request ids: the client's when it is a plain token, else a new one.
    let id_of = |given: Option<&'static str>| {
        let app = &app;
        async move {
            let mut req = app.client.get(app.url("/healthz"));
            if let Some(g) = given {
                req = req.header("x-request-id", g);
            }
            let r = req.send().await.unwrap();
            r.headers()["x-request-id"].to_str().unwrap().to_string()
        }
    };
    assert_eq!(id_of(Some("lb-1234.abc")).await, "lb-1234.abc");
    for bad in [None, Some("dos palabras"), Some("<script>"), Some(&*"x".repeat(65).leak())] {
        let got = id_of(bad).await;
        assert!(got.parse::<uuid::Uuid>().is_ok(), "{bad:?} gave {got}");
    }
}
