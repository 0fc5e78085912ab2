//! The storage layer on its own.

use enlace_store::{Db, StoreError};

use crate::harness::{Backend, fresh_db};

/// SQLite has one writer task: a write body that panics must fail its callers, not stop the
/// task and with it every later write of the node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_write_does_not_stop_the_sqlite_writer() {
    let dir = fresh_db(Backend::Sqlite).await.expect("sqlite");
    let db = Db::connect(None, dir.dir.path()).await.expect("open");
    db.migrate().await.expect("migrate");
    let failed = db
        .write(|_tx| {
            Box::pin(async {
                if std::hint::black_box(true) {
                    panic!("a bug in a write body");
                }
                Ok::<(), StoreError>(())
            })
        })
        .await;
    assert!(failed.is_err(), "the panicking write reports an error");
    let posts = enlace_domain::post::Post::seeded();
    let n = db
        .write(move |tx| {
            let posts = posts.clone();
            Box::pin(async move { enlace_store::users::insert_posts(tx, &posts[..3]).await })
        })
        .await
        .expect("the writer still works");
    assert_eq!(n, 3);
}

/// Writes that fail after appending an audit event and taking a case number, among
/// concurrent ones that succeed: the chain stays dense and linked and the counter counts only
/// the kept writes (the SQLite writer holds both rows for a batch and restores them when a
/// write is rolled back to its savepoint).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_rolled_back_after_appending_leave_no_gap() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(dir) = fresh_db(backend).await else { continue };
        let db = Db::connect(dir.url.as_deref(), dir.dir.path()).await.expect("open");
        db.migrate().await.expect("migrate");
        let state = enlace_domain::country::CountryCode::parse("HN").unwrap();
        let mut tasks = Vec::new();
        for i in 0..48 {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                db.write(move |tx| {
                    Box::pin(async move {
                        let seq = enlace_store::cases::next_seq(tx, state, 2026).await?;
                        let e = enlace_domain::audit::AuditEvent {
                            id: enlace_domain::ids::AuditEventId::new_v7(),
                            at: enlace_store::now(),
                            actor: None,
                            actor_name: "test".into(),
                            action: format!("test.{}", if i % 3 == 0 { "undone" } else { "kept" }),
                            record_type: "test".into(),
                            record_id: Some(seq.to_string()),
                            detail: serde_json::json!({}),
                            source: None,
                        };
                        enlace_store::audit::append(tx, &e).await?;
                        if i % 3 == 0 {
                            return Err(StoreError::Corrupt("undone on purpose".into()));
                        }
                        Ok(seq)
                    })
                })
                .await
            }));
        }
        let mut seqs = Vec::new();
        for t in tasks {
            if let Ok(seq) = t.await.unwrap() {
                seqs.push(seq);
            }
        }
        seqs.sort();
        assert_eq!(seqs, (1..=32).collect::<Vec<i64>>(), "{backend:?}: numbers dense over kept writes");
        let next = db
            .write(move |tx| Box::pin(async move { enlace_store::cases::next_seq(tx, state, 2026).await }))
            .await
            .unwrap();
        assert_eq!(next, 33, "{backend:?}: the counter was written back");
        let events = enlace_store::audit::events_after(&db, 0, 1000).await.unwrap();
        assert_eq!(events.len(), 32, "{backend:?}");
        let mut prev = enlace_domain::audit::GENESIS.to_string();
        for (i, e) in events.iter().enumerate() {
            assert_eq!(e.pos, i as i64 + 1, "{backend:?}: dense positions");
            assert_eq!(e.event.action, "test.kept");
            assert_eq!(e.prev_hash, prev, "{backend:?}: event {} names its predecessor", e.pos);
            assert_eq!(e.hash, enlace_domain::audit::chain_hash(&prev, e.pos, &e.event));
            prev = e.hash.clone();
        }
        db.close().await;
    }
}
