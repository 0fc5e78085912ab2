//! A small migration runner: per-backend SQL files embedded in the binary, each applied once in
//! its own transaction and recorded in `schema_migrations`. It takes no advisory lock (so it runs
//! on distributed Postgres-compatible engines); two runners racing on the same version collide on
//! the primary key, and the loser rolls back and sees the migration applied. sqlx's migrator would
//! need its proc-macro crate, which builds both database drivers a second time.

use crate::{Db, StoreError, Tx, on_read, on_tx};

struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "core",
        sqlite: include_str!("../migrations/sqlite/0001_core.sql"),
        postgres: include_str!("../migrations/postgres/0001_core.sql"),
    },
    Migration {
        version: 2,
        name: "list_indexes",
        sqlite: include_str!("../migrations/sqlite/0002_list_indexes.sql"),
        postgres: include_str!("../migrations/postgres/0002_list_indexes.sql"),
    },
    Migration {
        version: 3,
        name: "case_search",
        sqlite: include_str!("../migrations/sqlite/0003_case_search.sql"),
        postgres: include_str!("../migrations/postgres/0003_case_search.sql"),
    },
    Migration {
        version: 4,
        name: "flag_category_indexes",
        sqlite: include_str!("../migrations/sqlite/0004_flag_category_indexes.sql"),
        postgres: include_str!("../migrations/postgres/0004_flag_category_indexes.sql"),
    },
    Migration {
        version: 5,
        name: "security",
        sqlite: include_str!("../migrations/sqlite/0005_security.sql"),
        postgres: include_str!("../migrations/postgres/0005_security.sql"),
    },
    Migration {
        version: 6,
        name: "ui",
        sqlite: include_str!("../migrations/sqlite/0006_ui.sql"),
        postgres: include_str!("../migrations/postgres/0006_ui.sql"),
    },
    Migration {
        version: 7,
        name: "matching",
        sqlite: include_str!("../migrations/sqlite/0007_matching.sql"),
        postgres: include_str!("../migrations/postgres/0007_matching.sql"),
    },
    Migration {
        version: 8,
        name: "job_marks",
        sqlite: include_str!("../migrations/sqlite/0008_job_marks.sql"),
        postgres: include_str!("../migrations/postgres/0008_job_marks.sql"),
    },
    Migration {
        version: 9,
        name: "person_keys",
        sqlite: include_str!("../migrations/sqlite/0009_person_keys.sql"),
        postgres: include_str!("../migrations/postgres/0009_person_keys.sql"),
    },
    Migration {
        version: 10,
        name: "worklist_indexes",
        sqlite: include_str!("../migrations/sqlite/0010_worklist_indexes.sql"),
        postgres: include_str!("../migrations/postgres/0010_worklist_indexes.sql"),
    },
    Migration {
        version: 11,
        name: "federation",
        sqlite: include_str!("../migrations/sqlite/0011_federation.sql"),
        postgres: include_str!("../migrations/postgres/0011_federation.sql"),
    },
    Migration {
        version: 12,
        name: "handover",
        sqlite: include_str!("../migrations/sqlite/0012_handover.sql"),
        postgres: include_str!("../migrations/postgres/0012_handover.sql"),
    },
    Migration {
        version: 13,
        name: "hub_stats",
        sqlite: include_str!("../migrations/sqlite/0013_hub_stats.sql"),
        postgres: include_str!("../migrations/postgres/0013_hub_stats.sql"),
    },
    Migration {
        version: 14,
        name: "linkage",
        sqlite: include_str!("../migrations/sqlite/0014_linkage.sql"),
        postgres: include_str!("../migrations/postgres/0014_linkage.sql"),
    },
    Migration {
        version: 15,
        name: "case_facts",
        sqlite: include_str!("../migrations/sqlite/0015_case_facts.sql"),
        postgres: include_str!("../migrations/postgres/0015_case_facts.sql"),
    },
    Migration {
        version: 16,
        name: "candidate_withdrawn",
        sqlite: include_str!("../migrations/sqlite/0016_candidate_withdrawn.sql"),
        postgres: include_str!("../migrations/postgres/0016_candidate_withdrawn.sql"),
    },
    Migration {
        version: 17,
        name: "network",
        sqlite: include_str!("../migrations/sqlite/0017_network.sql"),
        postgres: include_str!("../migrations/postgres/0017_network.sql"),
    },
    Migration {
        version: 18,
        name: "directory",
        sqlite: include_str!("../migrations/sqlite/0018_directory.sql"),
        postgres: include_str!("../migrations/postgres/0018_directory.sql"),
    },
    Migration {
        version: 19,
        name: "groups",
        sqlite: include_str!("../migrations/sqlite/0019_groups.sql"),
        postgres: include_str!("../migrations/postgres/0019_groups.sql"),
    },
    Migration {
        version: 20,
        name: "library",
        sqlite: include_str!("../migrations/sqlite/0020_library.sql"),
        postgres: include_str!("../migrations/postgres/0020_library.sql"),
    },
    Migration {
        version: 21,
        name: "library_files",
        sqlite: include_str!("../migrations/sqlite/0021_library_files.sql"),
        postgres: include_str!("../migrations/postgres/0021_library_files.sql"),
    },
    Migration {
        version: 22,
        name: "case_search_post",
        sqlite: include_str!("../migrations/sqlite/0022_case_search_post.sql"),
        postgres: include_str!("../migrations/postgres/0022_case_search_post.sql"),
    },
    Migration {
        version: 23,
        name: "audit_record_blocks",
        sqlite: include_str!("../migrations/sqlite/0023_audit_record_blocks.sql"),
        postgres: include_str!("../migrations/postgres/0023_audit_record_blocks.sql"),
    },
];

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)";

async fn applied(db: &Db) -> Result<Vec<i64>, StoreError> {
    let rows: Vec<i64> = on_read!(db, p => {
        sqlx::query_scalar("SELECT version FROM schema_migrations ORDER BY version").fetch_all(p).await?
    });
    Ok(rows)
}

pub(crate) async fn run(db: &Db) -> Result<(), StoreError> {
    db.write(|tx| {
        Box::pin(async move {
            on_tx!(tx, c => { sqlx::query(CREATE_TABLE).execute(&mut *c).await?; });
            Ok::<_, StoreError>(())
        })
    })
    .await?;
    for m in MIGRATIONS {
        if applied(db).await?.contains(&m.version) {
            continue;
        }
        let result = db
            .write(move |tx| Box::pin(async move {
                let done: Option<i64> = on_tx!(tx, c => {
                    sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = $1")
                        .bind(m.version).fetch_optional(&mut *c).await?
                });
                if done.is_some() {
                    return Ok(());
                }
                match tx {
                    Tx::Sqlite(t) => { sqlx::raw_sql(m.sqlite).execute(&mut *t.tx).await?; }
                    Tx::Postgres(t) => { sqlx::raw_sql(m.postgres).execute(&mut *t.tx).await?; }
                }
                on_tx!(tx, c => {
                    sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
                        .bind(m.version).bind(m.name).bind(crate::now().to_rfc3339())
                        .execute(&mut *c).await?;
                });
                Ok::<_, StoreError>(())
            }))
            .await;
        match result {
            Ok(()) => tracing::info!(version = m.version, name = m.name, "migration applied"),
            // Another process applied it between our check and our insert.
            Err(e) if e.is_unique_violation() => {}
            Err(e) => return Err(StoreError::Migration(format!("{} ({}): {e}", m.version, m.name))),
        }
    }
    Ok(())
}

pub(crate) async fn current(db: &Db) -> Result<bool, StoreError> {
    let done = match applied(db).await {
        Ok(v) => v,
        Err(_) => return Ok(false),
    };
    Ok(MIGRATIONS.iter().all(|m| done.contains(&m.version)))
}

#[cfg(test)]
mod tests {
    use enlace_domain::case::Vulnerability;

    /// The list query's flag conditions must be the partial indexes' predicates, bit for bit.
    #[test]
    fn every_flag_has_its_partial_index() {
        for m in [&super::MIGRATIONS[3].sqlite, &super::MIGRATIONS[3].postgres] {
            for v in Vulnerability::ALL {
                let line = format!(
                    "CREATE INDEX cases_vuln_{} ON cases(owner_state, opened_at, id) WHERE (vuln_mask & {}) <> 0;",
                    v.as_str(),
                    v.bit()
                );
                assert!(m.contains(&line), "missing: {line}");
            }
        }
    }

    /// Every migration file of both backends is in the list, under its number and name, and
    /// the list is dense: a file added without its entry would never be applied.
    #[test]
    fn every_migration_file_is_listed() {
        for backend in ["sqlite", "postgres"] {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(backend);
            let mut files: Vec<String> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .filter(|f| f.ends_with(".sql"))
                .collect();
            files.sort();
            let listed: Vec<String> =
                super::MIGRATIONS.iter().map(|m| format!("{:04}_{}.sql", m.version, m.name)).collect();
            assert_eq!(files, listed, "{backend}: migration files and MIGRATIONS differ");
            for (i, m) in super::MIGRATIONS.iter().enumerate() {
                assert_eq!(m.version, i as i64 + 1, "versions are dense");
            }
        }
    }
}
