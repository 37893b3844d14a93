//! The database: one connection pool over SQLite or PostgreSQL, chosen by `DATABASE_URL`.
//!
//! Queries are written once in the SQL both engines share and run through sqlx's `Any`
//! driver, so nothing above this module knows which engine it has.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyConnection, AnyPool, Connection, Executor};

use crate::config::{DatabaseKind, DatabaseUrl};
use crate::error::Result;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A pool of connections to the app's database.
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    kind: DatabaseKind,
}

/// Why the database could not be opened at start-up, worded for an operator.
#[derive(Debug, thiserror::Error)]
#[error("cannot open the database at {url}: {cause}")]
pub struct ConnectError {
    pub url: String,
    pub cause: String,
}

impl Db {
    /// Opens the pool; for SQLite it creates the file (and its folder) when missing.
    pub async fn connect(url: &DatabaseUrl, max_connections: u32) -> Result<Self, ConnectError> {
        sqlx::any::install_default_drivers();
        let connect_error = |cause: String| ConnectError {
            url: url.redacted(),
            cause,
        };
        let kind = url.kind();
        let mut raw = url.expose().to_owned();
        if kind == DatabaseKind::Sqlite {
            prepare_sqlite_file(&raw).map_err(|e| connect_error(e.to_string()))?;
            if !raw.contains("mode=") {
                raw.push_str(if raw.contains('?') {
                    "&mode=rwc"
                } else {
                    "?mode=rwc"
                });
            }
        }

        // One direct connection first: its error says why (refused, bad password, no such
        // database), where a pool would only report that it timed out.
        let probe = tokio::time::timeout(Duration::from_secs(10), AnyConnection::connect(&raw))
            .await
            .map_err(|_| connect_error("timed out after 10 s".into()))?
            .map_err(|e| connect_error(e.to_string()))?;
        probe
            .close()
            .await
            .map_err(|e| connect_error(e.to_string()))?;

        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(5))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if kind == DatabaseKind::Sqlite {
                        // WAL lets readers continue while a writer commits; the busy timeout
                        // makes concurrent writers wait instead of failing with SQLITE_BUSY.
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect(&raw)
            .await
            .map_err(|e| connect_error(e.to_string()))?;
        Ok(Self { pool, kind })
    }

    /// Applies every migration that has not run yet.
    #[tracing::instrument(skip_all)]
    pub async fn migrate(&self) -> Result<()> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    /// A cheap round trip, for readiness checks.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn kind(&self) -> DatabaseKind {
        self.kind
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn prepare_sqlite_file(url: &str) -> std::io::Result<()> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .split('?')
        .next()
        .unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    match Path::new(path).parent() {
        Some(dir) if !dir.as_os_str().is_empty() => std::fs::create_dir_all(dir),
        _ => Ok(()),
    }
}

/// Milliseconds since the Unix epoch: the one timestamp format in the schema.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// A new time-ordered id, so ids sort in creation order.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Reads a column, turning decode failures into the crate error.
pub fn col<T>(row: &AnyRow, name: &str) -> Result<T>
where
    T: for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    use sqlx::Row;
    Ok(row.try_get(name)?)
}

/// Serialises a millisecond timestamp as RFC 3339 in API responses.
pub mod rfc3339_ms {
    use serde::Serializer;
    use time::format_description::well_known::Rfc3339;
    use time::OffsetDateTime;

    pub fn serialize<S: Serializer>(ms: &i64, serializer: S) -> Result<S::Ok, S::Error> {
        let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(*ms) * 1_000_000)
            .map_err(serde::ser::Error::custom)?;
        let text = at.format(&Rfc3339).map_err(serde::ser::Error::custom)?;
        serializer.serialize_str(&text)
    }

    pub mod option {
        use serde::Serializer;

        pub fn serialize<S: Serializer>(
            ms: &Option<i64>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            match ms {
                Some(ms) => super::serialize(ms, serializer),
                None => serializer.serialize_none(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_in_creation_order() {
        let first = new_id();
        std::thread::sleep(Duration::from_millis(2));
        let second = new_id();
        assert!(first < second);
    }

    #[test]
    fn sqlite_folder_is_created_for_a_nested_file() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let file = dir.path().join("a/b/solace.db");
        prepare_sqlite_file(&format!("sqlite://{}", file.display()))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(dir.path().join("a/b").is_dir());
    }

    #[test]
    fn in_memory_sqlite_needs_no_folder() {
        assert!(prepare_sqlite_file("sqlite::memory:").is_ok());
    }
}
