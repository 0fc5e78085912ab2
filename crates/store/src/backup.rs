//! A consistent copy of the database while the node runs, and putting one back.
//!
//! SQLite: `VACUUM INTO` writes a snapshot (one read transaction: what was committed when it
//! began, nothing after) as a compact database file. PostgreSQL: `pg_dump` in its custom
//! format (one repeatable-read snapshot), put back with `pg_restore`; both must be on the
//! `PATH` (Debian's `postgresql-client`). Encrypting the copy is the application's business.

use std::path::Path;
use std::process::Command;

use crate::{Backend, Db, StoreError, on_read};

/// The SQLite database file in a data directory.
pub const SQLITE_FILE: &str = "enlace.db";

/// Writes a consistent snapshot of `db` to `out` (which must not exist). `url` is the
/// PostgreSQL URL `db` was opened with (PostgreSQL only). Returns the backend copied.
pub async fn snapshot(db: &Db, url: Option<&str>, out: &Path) -> Result<Backend, StoreError> {
    if out.exists() {
        return Err(StoreError::Config(format!("{} exists already", out.display())));
    }
    match db {
        Db::Sqlite { .. } => {
            let target =
                out.to_str().ok_or_else(|| StoreError::Config("the snapshot's path is not UTF-8".into()))?;
            on_read!(db, p => {
                sqlx::query("VACUUM INTO $1").bind(target).execute(p).await?;
            });
            Ok(Backend::Sqlite)
        }
        Db::Postgres(_) => {
            let url =
                url.ok_or_else(|| StoreError::Config("a PostgreSQL snapshot needs the database URL".into()))?;
            run(
                Command::new("pg_dump")
                    .args(["--format=custom", "--no-owner", "--no-privileges", "--file"])
                    .arg(out)
                    .arg(url),
                "pg_dump",
            )?;
            Ok(Backend::Postgres)
        }
    }
}

/// Puts a snapshot back: as the SQLite file of `data_dir` (which must hold none), or into the
/// PostgreSQL database at `url` (which must hold no table).
pub async fn restore(
    snapshot: &Path,
    backend: Backend,
    url: Option<&str>,
    data_dir: &Path,
) -> Result<(), StoreError> {
    match (backend, url) {
        (Backend::Sqlite, None) => {
            let target = data_dir.join(SQLITE_FILE);
            if target.exists() {
                return Err(StoreError::Config(format!(
                    "{} holds a database already: restore into an empty data directory",
                    data_dir.display()
                )));
            }
            std::fs::create_dir_all(data_dir)
                .map_err(|e| StoreError::Config(format!("{}: {e}", data_dir.display())))?;
            std::fs::copy(snapshot, &target)
                .map_err(|e| StoreError::Config(format!("{}: {e}", target.display())))?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600));
            }
            Ok(())
        }
        (Backend::Postgres, Some(url)) => {
            let pool = sqlx::PgPool::connect(url).await?;
            let tables: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'",
            )
            .fetch_one(&pool)
            .await?;
            pool.close().await;
            if tables > 0 {
                return Err(StoreError::Config(format!(
                    "the database holds {tables} tables already: restore into an empty database"
                )));
            }
            run(
                Command::new("pg_restore")
                    .args([
                        "--no-owner",
                        "--no-privileges",
                        "--exit-on-error",
                        "--single-transaction",
                        "--dbname",
                    ])
                    .arg(url)
                    .arg(snapshot),
                "pg_restore",
            )
        }
        (Backend::Sqlite, Some(_)) => {
            Err(StoreError::Config("this backup is of a SQLite node: restore it with --data-dir".into()))
        }
        (Backend::Postgres, None) => Err(StoreError::Config(
            "this backup is of a PostgreSQL node: restore it with --database-url".into(),
        )),
    }
}

fn run(cmd: &mut Command, name: &str) -> Result<(), StoreError> {
    let out = cmd.output().map_err(|e| {
        StoreError::Config(format!("cannot run {name} (install PostgreSQL's client tools): {e}"))
    })?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(StoreError::Config(format!("{name} failed: {}", err.trim())));
    }
    Ok(())
}
