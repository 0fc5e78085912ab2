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
/// concurrent ones that succeed and concurrent batches of read events: the chain stays dense
/// and linked and the counter counts only the kept writes (the SQLite writer holds both rows
/// for a batch and restores them when a write is rolled back to its savepoint; a PostgreSQL
/// transaction that took the audit head with its case number appends from the head it holds).
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
                        // Half take the audit head with the number (PostgreSQL), half when appending.
                        let seq = enlace_store::cases::next_seq(tx, state, 2026, i % 2 == 0).await?;
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
                        if i % 4 == 1 {
                            // A second event appends after the first, from the held head.
                            let second = enlace_domain::audit::AuditEvent {
                                id: enlace_domain::ids::AuditEventId::new_v7(),
                                ..e.clone()
                            };
                            enlace_store::audit::append_many(tx, &[second]).await?;
                        }
                        if i % 3 == 0 {
                            return Err(StoreError::Corrupt("undone on purpose".into()));
                        }
                        Ok(seq)
                    })
                })
                .await
            }));
        }
        let mut readers = Vec::new();
        for i in 0..16 {
            let db = db.clone();
            readers.push(tokio::spawn(async move {
                let batch: Vec<_> = (0..3)
                    .map(|j| enlace_domain::audit::AuditEvent {
                        id: enlace_domain::ids::AuditEventId::new_v7(),
                        at: enlace_store::now(),
                        actor: None,
                        actor_name: "reader".into(),
                        action: "case.read".into(),
                        record_type: "case".into(),
                        record_id: Some(format!("{i}-{j}")),
                        detail: serde_json::json!({}),
                        source: None,
                    })
                    .collect();
                let b = std::sync::Arc::new(batch);
                db.write(move |tx| {
                    let b = b.clone();
                    Box::pin(async move { enlace_store::audit::append_many(tx, &b).await })
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
        for r in readers {
            r.await.unwrap().expect("a batch of read events is appended");
        }
        seqs.sort();
        assert_eq!(seqs, (1..=32).collect::<Vec<i64>>(), "{backend:?}: numbers dense over kept writes");
        let next = db
            .write(move |tx| {
                Box::pin(async move { enlace_store::cases::next_seq(tx, state, 2026, true).await })
            })
            .await
            .unwrap();
        assert_eq!(next, 33, "{backend:?}: the counter was written back");
        let events = enlace_store::audit::events_after(&db, 0, 1000).await.unwrap();
        // 32 kept writes, 8 of them with a second event (i % 4 == 1 and i % 3 != 0), 16 × 3 reads.
        assert_eq!(events.len(), 32 + 8 + 48, "{backend:?}");
        let kept: Vec<_> = events.iter().filter(|e| e.event.action != "case.read").collect();
        assert!(
            kept.iter().all(|e| e.event.action == "test.kept"),
            "{backend:?}: no undone write left an event"
        );
        let mut prev = enlace_domain::audit::GENESIS.to_string();
        for (i, e) in events.iter().enumerate() {
            assert_eq!(e.pos, i as i64 + 1, "{backend:?}: dense positions");
            assert_eq!(e.prev_hash, prev, "{backend:?}: event {} names its predecessor", e.pos);
            assert_eq!(e.hash, enlace_domain::audit::chain_hash(&prev, e.pos, &e.event));
            prev = e.hash.clone();
        }
        db.close().await;
    }
}

/// The audit log's index by record is keyed by block of 4,096 positions first: a record's
/// events are found in every block, at the blocks' edges, newest first page by page, and the
/// record type still tells two records with the same id apart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_records_events_are_found_in_every_block_of_the_log() {
    const WATCHED: [i64; 8] = [1, 2, 4095, 4096, 4097, 8191, 8192, 9000];
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(dir) = fresh_db(backend).await else { continue };
        let db = Db::connect(dir.url.as_deref(), dir.dir.path()).await.expect("open");
        db.migrate().await.expect("migrate");
        let events: Vec<_> = (1..=9000i64)
            .map(|pos| enlace_domain::audit::AuditEvent {
                id: enlace_domain::ids::AuditEventId::new_v7(),
                at: enlace_store::now(),
                actor: None,
                actor_name: "reader".into(),
                action: "case.read".into(),
                // Position 2 names the watched id as another kind of record.
                record_type: if pos == 2 { "person" } else { "case" }.into(),
                record_id: Some(if WATCHED.contains(&pos) {
                    "watched".to_string()
                } else {
                    format!("c{pos}")
                }),
                detail: serde_json::json!({}),
                source: None,
            })
            .collect();
        for chunk in events.chunks(1024) {
            let b = std::sync::Arc::new(chunk.to_vec());
            db.write(move |tx| {
                let b = b.clone();
                Box::pin(async move { enlace_store::audit::append_many(tx, &b).await })
            })
            .await
            .unwrap();
        }
        let cases: Vec<i64> = WATCHED.iter().copied().filter(|&p| p != 2).collect();
        let found = enlace_store::audit::events_for_record(&db, "case", "watched").await.unwrap();
        assert_eq!(found.iter().map(|e| e.pos).collect::<Vec<_>>(), cases, "{backend:?}: oldest first");
        let person = enlace_store::audit::events_for_record(&db, "person", "watched").await.unwrap();
        assert_eq!(person.iter().map(|e| e.pos).collect::<Vec<_>>(), [2], "{backend:?}");

        // The viewer's pages (any record type), three at a time, follow the cursor down.
        let mut filter = enlace_store::audit::EventFilter {
            record_id: Some("watched".into()),
            limit: 3,
            ..Default::default()
        };
        let mut seen = Vec::new();
        loop {
            let page = enlace_store::audit::list_events(&db, &filter).await.unwrap();
            assert!(page.len() <= 3);
            let Some(last) = page.last() else { break };
            filter.before = Some(last.pos);
            seen.extend(page.iter().map(|e| e.pos));
        }
        let mut newest_first = WATCHED.to_vec();
        newest_first.reverse();
        assert_eq!(seen, newest_first, "{backend:?}: every page, newest first");

        // A cursor on a block's first position leaves the block out.
        filter.before = Some(4096);
        filter.limit = 100;
        let below = enlace_store::audit::list_events(&db, &filter).await.unwrap();
        assert_eq!(below.iter().map(|e| e.pos).collect::<Vec<_>>(), [4095, 2, 1], "{backend:?}");
        filter.before = Some(1);
        assert!(enlace_store::audit::list_events(&db, &filter).await.unwrap().is_empty(), "{backend:?}");

        // A cursor is the caller's number: one far past the log's end probes only the log's
        // blocks (it once generated 2^51 of them, and the query never ended), and the
        // smallest one finds nothing.
        for (before, want) in
            [(i64::MAX, WATCHED.len()), (i64::MAX - 1, WATCHED.len()), (i64::MIN, 0), (-7, 0)]
        {
            filter.before = Some(before);
            let page = tokio::time::timeout(
                std::time::Duration::from_secs(60),
                enlace_store::audit::list_events(&db, &filter),
            )
            .await
            .unwrap_or_else(|_| panic!("{backend:?}: a cursor of {before} did not finish"))
            .unwrap();
            assert_eq!(page.len(), want, "{backend:?}: cursor {before}");
        }
        db.close().await;
    }
}

/// Batches of read events of every awkward size (cut into multi-row INSERTs of 128, 64, …, 1
/// rows) land whole, in order, each row with its own values, and chained.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_of_events_are_appended_in_order_and_chained() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(dir) = fresh_db(backend).await else { continue };
        let db = Db::connect(dir.url.as_deref(), dir.dir.path()).await.expect("open");
        db.migrate().await.expect("migrate");
        let mut sent = Vec::new();
        for size in [1usize, 7, 128, 300, 1024] {
            let batch: Vec<_> = (0..size)
                .map(|i| enlace_domain::audit::AuditEvent {
                    id: enlace_domain::ids::AuditEventId::new_v7(),
                    at: enlace_store::now(),
                    actor: None,
                    actor_name: format!("reader {size}"),
                    action: "case.read".into(),
                    record_type: "case".into(),
                    record_id: Some(format!("{size}-{i}")),
                    detail: serde_json::json!({"i": i, "note": "¿leída? \"sí\""}),
                    source: (i % 2 == 0).then(|| "127.0.0.1".to_string()),
                })
                .collect();
            let b = std::sync::Arc::new(batch.clone());
            let last = db
                .write(move |tx| {
                    let b = b.clone();
                    Box::pin(async move { enlace_store::audit::append_many(tx, &b).await })
                })
                .await
                .unwrap();
            sent.extend(batch);
            assert_eq!(last, sent.len() as i64, "{backend:?}: the last position of a batch of {size}");
        }
        let events = enlace_store::audit::events_after(&db, 0, 10_000).await.unwrap();
        assert_eq!(events.len(), sent.len(), "{backend:?}");
        let mut prev = enlace_domain::audit::GENESIS.to_string();
        for (i, (e, want)) in events.iter().zip(&sent).enumerate() {
            assert_eq!(e.pos, i as i64 + 1, "{backend:?}: dense positions");
            assert_eq!(e.event.id, want.id, "{backend:?}: event {} in its place", e.pos);
            assert_eq!(e.event.record_id, want.record_id);
            assert_eq!(e.event.detail, want.detail);
            assert_eq!(e.event.source, want.source);
            assert_eq!(e.prev_hash, prev, "{backend:?}: event {} names its predecessor", e.pos);
            assert_eq!(e.hash, enlace_domain::audit::chain_hash(&prev, e.pos, &e.event));
            prev = e.hash.clone();
        }
        assert_eq!(enlace_store::audit::head(&db).await.unwrap(), (sent.len() as i64, prev), "{backend:?}");
        db.close().await;
    }
}
