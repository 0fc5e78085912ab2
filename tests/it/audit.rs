//! The audit log: `enlace audit verify` against seeded tampering of each kind, and the
//! auditors' viewer (filters, pages, CSV, who may see it).

use serde_json::Value;

use crate::both_backends;
use crate::cli::{Node, cli_both};
use crate::harness::{TestApp, new_case};

cli_both!(audit_verify_names_the_first_bad_event_for_each_kind_of_tampering);

both_backends!(
    auditors_filter_and_page_the_log_and_export_it_as_csv,
    only_auditors_read_the_log_and_refusals_are_recorded,
    read_events_reach_the_log_on_their_own_and_a_flush_writes_them,
);

impl Node {
    /// Runs raw SQL on the node's database (the tamperer's view: no application in between).
    fn sql(&self, sqlite: &str, postgres: &str) {
        let (sqlite, postgres) = (sqlite.to_string(), postgres.to_string());
        self.inspect(async move |app| match app.db() {
            enlace_store::Db::Sqlite { write, .. } => {
                sqlx::raw_sql(sqlx::AssertSqlSafe(sqlite)).execute(write).await.expect("tamper (sqlite)");
            }
            enlace_store::Db::Postgres(pool) => {
                sqlx::raw_sql(sqlx::AssertSqlSafe(postgres)).execute(pool).await.expect("tamper (postgres)");
            }
        })
    }

    fn both_sql(&self, sql: &str) {
        self.sql(sql, sql)
    }
}

fn audit_verify_names_the_first_bad_event_for_each_kind_of_tampering(node: Node) {
    let node = node.with_importer();
    node.run(&["demo-data", "--cases", "6", "--batch", "1"]).assert_ok("demo data");
    let ok = node.run(&["audit", "verify"]);
    ok.assert_ok("verify an intact chain");
    assert!(ok.stdout.contains("audit chain intact"), "{}", ok.stdout);
    let events: i64 = node.inspect(async |app| enlace_store::audit::head(app.db()).await.unwrap().0);
    assert!(events >= 7, "a user and six cases: {events} events");
    node.both_sql("CREATE TABLE audit_backup AS SELECT * FROM audit_events");
    let restore = "DELETE FROM audit_events; INSERT INTO audit_events SELECT * FROM audit_backup";

    // Positions shifted by a constant through negative numbers, so no step collides with the
    // primary key on either engine.
    let shift_from = |from: i64, by: i64| {
        format!(
            "UPDATE audit_events SET pos = -(pos + {by}) WHERE pos >= {from}; \
             UPDATE audit_events SET pos = -pos WHERE pos < 0"
        )
    };
    let last = events;
    let cases: Vec<(&str, String, String, &str)> = vec![
        (
            "modified",
            "UPDATE audit_events SET actor_name = 'somebody else' WHERE pos = 3".into(),
            String::new(),
            "event 3 was modified",
        ),
        ("deleted", "DELETE FROM audit_events WHERE pos = 3".into(), String::new(), "event 3 is missing"),
        (
            "deleted and renumbered",
            format!("DELETE FROM audit_events WHERE pos = 3; {}", shift_from(4, -1)),
            String::new(),
            "event 3 does not follow event 2",
        ),
        (
            "inserted",
            format!(
                "{}; INSERT INTO audit_events (pos, id, at, actor, actor_name, action, record_type, record_id, \
                 detail, source, prev_hash, hash) SELECT 3, randomblob(16), at, actor, actor_name, action, \
                 record_type, record_id, detail, source, prev_hash, hash FROM audit_backup WHERE pos = 2",
                shift_from(3, 1)
            ),
            format!(
                "{}; INSERT INTO audit_events (pos, id, at, actor, actor_name, action, record_type, record_id, \
                 detail, source, prev_hash, hash) SELECT 3, gen_random_uuid(), at, actor, actor_name, action, \
                 record_type, record_id, detail, source, prev_hash, hash FROM audit_backup WHERE pos = 2",
                shift_from(3, 1)
            ),
            "event 3 does not follow event 2",
        ),
        (
            "reordered",
            "UPDATE audit_events SET pos = -1 WHERE pos = 3; UPDATE audit_events SET pos = 3 WHERE pos = 4; \
             UPDATE audit_events SET pos = 4 WHERE pos = -1"
                .into(),
            String::new(),
            "event 3 does not follow event 2",
        ),
        (
            "cut at the end",
            format!("DELETE FROM audit_events WHERE pos = {last}"),
            String::new(),
            "the chain ends at event",
        ),
    ];
    for (kind, sqlite, postgres, expected) in cases {
        let postgres = if postgres.is_empty() { sqlite.clone() } else { postgres };
        node.sql(&sqlite, &postgres);
        let out = node.run(&["audit", "verify"]);
        assert_eq!(out.code, Some(3), "{kind}: exit {:?}\n{}\n{}", out.code, out.stdout, out.stderr);
        assert!(out.stderr.contains(expected), "{kind}: expected «{expected}» in:\n{}", out.stderr);
        node.both_sql(restore);
        node.run(&["audit", "verify"]).assert_ok(&format!("verify after undoing «{kind}»"));
    }
}

async fn auditors_filter_and_page_the_log_and_export_it_as_csv(app: TestApp) {
    let sup = app.token("supervisor.hn").await;
    let a = app.create_case(&sup, &new_case(&["Rosa"], &["Mejía"])).await;
    let b = app.create_case(&sup, &new_case(&["Luis"], &["Mejía"])).await;
    let a_id = a["id"].as_str().unwrap();
    assert_eq!(app.get(&sup, &format!("/api/v1/cases/{a_id}")).await.0, 200);
    let sup_id = app.get(&sup, "/api/v1/me").await.1["id"].as_str().unwrap().to_string();

    let aud = app.token("auditor.hn").await;
    // By record: the creation and the read of case a, newest first.
    let (s, page) = app.get(&aud, &format!("/api/v1/audit?record_type=case&record_id={a_id}")).await;
    assert_eq!(s, 200, "{page}");
    let actions: Vec<&str> =
        page["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["case.read", "case.create"]);
    assert_eq!(page["items"][0]["actor_name"], "supervisor.hn");
    assert!(page["items"][0]["hash"].as_str().unwrap().len() == 64);
    // By user and action family.
    let (_, page) = app.get(&aud, &format!("/api/v1/audit?actor={sup_id}&action=case.create")).await;
    let ids: Vec<&str> =
        page["items"].as_array().unwrap().iter().map(|e| e["record_id"].as_str().unwrap()).collect();
    assert_eq!(ids, [b["id"].as_str().unwrap(), a_id]);
    let (_, page) = app.get(&aud, "/api/v1/audit?action=auth.").await;
    assert!(
        page["items"].as_array().unwrap().iter().all(|e| e["action"].as_str().unwrap().starts_with("auth."))
    );
    assert!(page["items"].as_array().unwrap().len() >= 2, "two sign-ins at least: {page}");
    // By time: nothing before the node existed, everything in a window around now.
    let (_, page) = app.get(&aud, "/api/v1/audit?to=2000-01-01T00:00:00Z").await;
    assert!(page["items"].as_array().unwrap().is_empty());
    assert_eq!(page["next_cursor"], Value::Null);

    // Pages of 2 walk the whole log without overlap.
    let total = app.audit_len().await;
    let mut seen = Vec::new();
    let mut cursor: Option<i64> = None;
    loop {
        let path = match cursor {
            Some(c) => format!("/api/v1/audit?limit=2&cursor={c}"),
            None => "/api/v1/audit?limit=2".to_string(),
        };
        let (s, page) = app.get(&aud, &path).await;
        assert_eq!(s, 200, "{page}");
        seen.extend(page["items"].as_array().unwrap().iter().map(|e| e["pos"].as_i64().unwrap()));
        match page["next_cursor"].as_i64() {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let mut sorted = seen.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    sorted.dedup();
    assert_eq!(seen, sorted, "newest first, no repeats");
    assert!(seen.len() >= total, "every event that existed when paging began: {} < {total}", seen.len());

    // Bad filters are named.
    for (q, field) in
        [("limit=0", "limit"), ("from=yesterday", "from"), ("colour=red", "query"), ("actor=x", "actor")]
    {
        let (s, v) = app.get(&aud, &format!("/api/v1/audit?{q}")).await;
        assert!(s == 400 || s == 422, "{q}: {s} {v}");
        assert!(v.to_string().contains(field), "{q}: {v}");
    }
    let (s, v) = app.get(&aud, "/api/v1/audit?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z").await;
    assert_eq!(s, 422, "{v}");

    // CSV export: a header and one row per matching event.
    let r = app
        .client
        .get(app.url(&format!("/api/v1/audit/export?record_id={a_id}")))
        .bearer_auth(&aud)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let body = r.text().await.unwrap();
    let mut rows = csv::Reader::from_reader(body.as_bytes());
    let header: Vec<String> = rows.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header, enlace_app::audit_log::AUDIT_CSV_COLUMNS);
    let actions: Vec<String> = rows.records().map(|r| r.unwrap()[5].to_string()).collect();
    assert_eq!(actions, ["case.read", "case.create"]);
    // Looking at the log is itself recorded.
    let all = app.audit_actions().await;
    assert!(all.contains(&"audit.view".to_string()) && all.contains(&"audit.export".to_string()));
}

async fn only_auditors_read_the_log_and_refusals_are_recorded(app: TestApp) {
    for who in ["officer.hn", "supervisor.hn", "admin.hn", "liaison.hn", "analyst", "partner"] {
        let t = app.token(who).await;
        let before = app.audit_actions().await.len();
        let (s, v) = app.get(&t, "/api/v1/audit").await;
        assert_eq!(s, 403, "{who}: {v}");
        let (s, _) = app.get(&t, "/api/v1/audit/export").await;
        assert_eq!(s, 403, "{who} export");
        let after = app.audit_actions().await;
        assert_eq!(&after[before..], ["access.denied", "access.denied"], "{who}");
    }
    let (s, _) = app.get("not-a-token", "/api/v1/audit").await;
    assert_eq!(s, 401);
}

/// Read events are gathered for a short while before they are written: one reaches the log
/// by itself (nobody flushing), and a flush asked for meanwhile returns with it written.
async fn read_events_reach_the_log_on_their_own_and_a_flush_writes_them(app: TestApp) {
    let t = app.token("supervisor.hn").await;
    let c = app.create_case(&t, &new_case(&["Rosa"], &["Aguilar"])).await;
    let id = c["id"].as_str().expect("id").to_string();
    let reads = |app: &TestApp| {
        let (db, id) = (app.app.db().clone(), id.clone());
        async move {
            let events = enlace_store::audit::events_for_record(&db, "case", &id).await.unwrap();
            events.iter().filter(|e| e.event.action == "case.read").count()
        }
    };
    assert_eq!(app.get(&t, &format!("/api/v1/cases/{id}")).await.0, 200);
    // Not flushed: the task writes it once its gathering window ends.
    let start = std::time::Instant::now();
    while reads(&app).await == 0 {
        assert!(start.elapsed() < std::time::Duration::from_secs(10), "the read event was never written");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(reads(&app).await, 1);

    // A flush right after a read returns with the event written.
    assert_eq!(app.get(&t, &format!("/api/v1/cases/{id}")).await.0, 200);
    app.app.flush_audit().await.unwrap();
    assert_eq!(reads(&app).await, 2);
}
