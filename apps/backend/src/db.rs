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
    /// Seals and opens what people wrote (set by [`crate::state::open_database`]).
    vault: Option<std::sync::Arc<crate::vault::Vault>>,
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
        let probe = match probe(&raw).await {
            Err(ProbeError::Db(e)) if kind == DatabaseKind::Postgres && is_missing_database(&e) => {
                // A fresh server without the app's database: create it, as `make run` would
                // on SQLite, so the scale path also starts with one command.
                create_postgres_database(&raw)
                    .await
                    .map_err(connect_error)?;
                probe(&raw).await
            }
            other => other,
        }
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
                        // makes concurrent writers wait instead of failing with SQLITE_BUSY;
                        // secure_delete zeroes what a delete or an update frees, so a value
                        // replaced (sealed, or deleted) does not linger in the file.
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; \
                             PRAGMA secure_delete = ON;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect(&raw)
            .await
            .map_err(|e| connect_error(e.to_string()))?;
        Ok(Self {
            pool,
            kind,
            vault: None,
        })
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

    /// This database with the vault that seals people's words in it.
    pub fn with_vault(mut self, vault: std::sync::Arc<crate::vault::Vault>) -> Self {
        self.vault = Some(vault);
        self
    }

    /// The vault; every pool that stores people's words has one.
    pub fn vault(&self) -> Result<&crate::vault::Vault> {
        self.vault.as_deref().ok_or_else(|| {
            crate::Error::Startup("this database was opened without its encryption keys".into())
        })
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[derive(Debug, thiserror::Error)]
enum ProbeError {
    #[error("timed out after 10 s")]
    Timeout,
    #[error(transparent)]
    Db(sqlx::Error),
}

async fn probe(url: &str) -> Result<AnyConnection, ProbeError> {
    tokio::time::timeout(Duration::from_secs(10), AnyConnection::connect(url))
        .await
        .map_err(|_| ProbeError::Timeout)?
        .map_err(ProbeError::Db)
}

/// PostgreSQL's "invalid_catalog_name": the database in the URL does not exist.
fn is_missing_database(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.code().as_deref() == Some("3D000"))
}

/// Creates the database named in `url` through the server's `postgres` maintenance database.
async fn create_postgres_database(url: &str) -> Result<(), String> {
    let mut maintenance = url::Url::parse(url).map_err(|e| e.to_string())?;
    let name = maintenance.path().trim_start_matches('/').to_owned();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(format!(
            "database '{name}' does not exist and its name is not one Solace creates"
        ));
    }
    maintenance.set_path("/postgres");
    let cannot =
        |e: sqlx::Error| format!("database '{name}' does not exist and cannot be created: {e}");
    let mut conn = AnyConnection::connect(maintenance.as_str())
        .await
        .map_err(cannot)?;
    conn.execute(format!(r#"CREATE DATABASE "{name}""#).as_str())
        .await
        .map_err(cannot)?;
    tracing::info!(database = %name, "created the PostgreSQL database");
    conn.close().await.map_err(|e| e.to_string())
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

/// `NotFound` unless the statement touched a row: how owner-scoped updates and deletes
/// report "not yours or not there" without saying which.
pub fn touched_a_row(done: &sqlx::any::AnyQueryResult) -> Result<()> {
    if done.rows_affected() == 0 {
        return Err(crate::Error::NotFound);
    }
    Ok(())
}

/// Milliseconds since the Unix epoch: the one timestamp format in the schema.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// `count` numbered placeholders from `$first` on, for an `IN (…)` list:
/// `placeholders(3, 2)` is `$3, $4`.
pub fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A new time-ordered id, so ids sort in creation order.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Reads one column, turning decode failures into the crate error. Rows whose columns map
/// straight onto a struct derive `sqlx::FromRow` and are fetched with `query_as` (rooms,
/// participants, reports, people, the audit log, dead jobs); `col` is for single values
/// and for rows holding sealed text, which the vault opens field by field.
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
    fn placeholders_are_numbered_from_the_first() {
        assert_eq!(placeholders(3, 2), "$3, $4");
        assert_eq!(placeholders(1, 1), "$1");
        assert_eq!(placeholders(2, 0), "");
    }

    #[test]
    fn in_memory_sqlite_needs_no_folder() {
        assert!(prepare_sqlite_file("sqlite::memory:").is_ok());
    }
}
