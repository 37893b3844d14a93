//! Rows written before encryption existed are sealed in the background: in batches, each
//! row swapped only if nobody changed it meanwhile, so it runs beside live traffic and on
//! several replicas at once. `solace keys seal` runs it to the end in the foreground.

use std::time::Duration;

use sqlx::any::AnyRow;

use super::{is_sealed_vector, Slot, Vault, TEXT_PREFIX};
use crate::db::{col, Db};
use crate::error::Result;

/// A column that holds a person's words.
pub struct Target {
    pub table: &'static str,
    /// The column as named in the sealed value's slot (`table.column`).
    pub slot: &'static str,
    pub column: &'static str,
    /// The row's key: one column, or two joined by `/` in the slot.
    pub key: &'static [&'static str],
    pub owner: &'static str,
    /// A BLOB/BYTEA column (else TEXT).
    pub bytes: bool,
}

/// Every sealed column. Reading and writing code names the same slots.
pub const TARGETS: &[Target] = &[
    Target {
        table: "messages",
        slot: "messages.content",
        column: "content",
        key: &["id"],
        owner: "owner_id",
        bytes: false,
    },
    Target {
        table: "chat_sessions",
        slot: "chat_sessions.title",
        column: "title",
        key: &["id"],
        owner: "owner_id",
        bytes: false,
    },
    Target {
        table: "chat_sessions",
        slot: "chat_sessions.summary",
        column: "summary",
        key: &["id"],
        owner: "owner_id",
        bytes: false,
    },
    Target {
        table: "memory_items",
        slot: "memory_items.text",
        column: "text",
        key: &["id"],
        owner: "owner_id",
        bytes: false,
    },
    Target {
        table: "memory_items",
        slot: "memory_items.vector",
        column: "vector",
        key: &["id"],
        owner: "owner_id",
        bytes: true,
    },
    Target {
        table: "safety_plans",
        slot: "safety_plans.plan",
        column: "plan",
        key: &["user_id"],
        owner: "user_id",
        bytes: false,
    },
    Target {
        table: "speech_clips",
        slot: "speech_clips.text",
        column: "text",
        key: &["session_id", "clip_key"],
        owner: "owner_id",
        bytes: false,
    },
    Target {
        table: "speech_clips",
        slot: "speech_clips.audio",
        column: "audio",
        key: &["session_id", "clip_key"],
        owner: "owner_id",
        bytes: false,
    },
];

/// The safety plan's slot: one per person, so bound to the column only (the row's key
/// is its owner, which changes when a guest's plan moves into their account).
pub const SAFETY_PLAN_ROW: &str = "plan";

impl Target {
    fn plain_filter(&self) -> String {
        if self.bytes {
            // Plain vectors are f32s (a multiple of 4 bytes); sealed ones are not.
            format!("length({}) % 4 = 0", self.column)
        } else {
            format!("{} NOT LIKE '{TEXT_PREFIX}%'", self.column)
        }
    }

    fn row_slot(&self, row: &AnyRow) -> Result<String> {
        if self.table == "safety_plans" {
            return Ok(SAFETY_PLAN_ROW.to_owned());
        }
        let parts: Vec<String> = self
            .key
            .iter()
            .map(|k| col::<String>(row, k))
            .collect::<Result<_>>()?;
        Ok(parts.join("/"))
    }

    /// How many of its values are still plain.
    pub async fn count_plain(&self, db: &Db) -> Result<i64> {
        let sql = format!(
            "SELECT COUNT(*) AS n FROM {} WHERE {} IS NOT NULL AND {}",
            self.table,
            self.column,
            self.plain_filter()
        );
        col(&sqlx::query(&sql).fetch_one(db.pool()).await?, "n")
    }

    /// Seals up to `batch` plain values; returns how many it sealed.
    async fn seal_batch(&self, db: &Db, vault: &Vault, batch: i64) -> Result<u64> {
        let keys = self.key.join(", ");
        let sql = format!(
            "SELECT {keys}, {owner} AS owner, {column} AS value FROM {table} \
             WHERE {column} IS NOT NULL AND {filter} LIMIT $1",
            owner = self.owner,
            column = self.column,
            table = self.table,
            filter = self.plain_filter(),
        );
        let rows = sqlx::query(&sql).bind(batch).fetch_all(db.pool()).await?;
        let matches: Vec<String> = self
            .key
            .iter()
            .enumerate()
            .map(|(n, k)| format!("{k} = ${}", n + 2))
            .collect();
        let update = format!(
            "UPDATE {} SET {col} = $1 WHERE {} AND {col} = ${}",
            self.table,
            matches.join(" AND "),
            self.key.len() + 2,
            col = self.column,
        );
        let mut sealed = 0;
        for row in &rows {
            let owner: String = col(row, "owner")?;
            let slot_row = self.row_slot(row)?;
            let slot = Slot::new(self.slot, &slot_row);
            let sealer = vault.sealer(&owner).await?;
            let mut query = sqlx::query(&update);
            if self.bytes {
                let value: Vec<u8> = col(row, "value")?;
                if is_sealed_vector(&value) {
                    continue;
                }
                query = query.bind(sealer.seal_bytes(slot, &value)?);
                for k in self.key {
                    query = query.bind(col::<String>(row, k)?);
                }
                query = query.bind(value);
            } else {
                let value: String = col(row, "value")?;
                query = query.bind(sealer.seal_text(slot, &value)?);
                for k in self.key {
                    query = query.bind(col::<String>(row, k)?);
                }
                query = query.bind(value);
            }
            sealed += query.execute(db.pool()).await?.rows_affected();
        }
        Ok(sealed)
    }
}

/// How many values of every target are still plain.
pub async fn count_plain(db: &Db) -> Result<i64> {
    let mut total = 0;
    for target in TARGETS {
        total += target.count_plain(db).await?;
    }
    Ok(total)
}

/// Seals every plain value, `batch` rows at a time with `pause` between batches so live
/// traffic keeps the database. Returns how many values it sealed.
pub async fn seal_all(
    db: &Db,
    vault: &Vault,
    batch: i64,
    pause: Duration,
    mut progress: impl FnMut(u64),
) -> Result<u64> {
    let mut total = 0;
    for target in TARGETS {
        loop {
            let sealed = target.seal_batch(db, vault, batch).await?;
            total += sealed;
            progress(total);
            // A batch that sealed nothing found only rows changed under it (or none):
            // what is left is someone else's to finish.
            if sealed == 0 {
                break;
            }
            tokio::time::sleep(pause).await;
        }
    }
    if total > 0 && db.kind() == crate::config::DatabaseKind::Sqlite {
        // The plain versions also sit in the write-ahead log until a checkpoint: copy
        // the log into the file (where secure_delete has zeroed them) and empty it.
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(db.pool())
            .await?;
    }
    Ok(total)
}

/// The mark left once no plain value is found: later starts skip the scan (every
/// write since is sealed; after restoring a backup from before encryption, run
/// `solace keys seal`).
pub const ALL_SEALED: &str = "all_sealed";

/// What a server does at start: destroys the keys of people who are gone, then seals
/// the rows written before encryption, a small batch at a time.
pub async fn in_background(db: &Db) -> Result<()> {
    let vault = db.vault()?;
    let swept = vault.sweep(db).await?;
    if swept > 0 {
        tracing::info!(keys = swept, "destroyed the data keys of deleted accounts");
    }
    if vault.marked(ALL_SEALED).await?.is_some() {
        return Ok(());
    }
    let sealed = seal_all(db, vault, 100, Duration::from_millis(50), |_| {}).await?;
    if sealed > 0 {
        tracing::info!(
            values = sealed,
            "sealed the values stored before encryption"
        );
    }
    if count_plain(db).await? == 0 {
        vault.mark(ALL_SEALED).await?;
    }
    Ok(())
}
