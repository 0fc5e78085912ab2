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
