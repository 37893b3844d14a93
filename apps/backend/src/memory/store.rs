//! Where remembered items live: rows in the app's database (SQLite or PostgreSQL), each
//! with its vector, and an exact search over one person's vectors at a time.
//!
//! A person's memory is thousands of items, so an exact scan of that person's vectors
//! alone is both correct (no approximate index to miss the right item) and fast: their
//! vectors are read once into one contiguous block per person, kept in this process
//! (bounded by `MEMORY_CACHE_MB`) and scanned in a few milliseconds. Items stored on
//! this replica join the end of the person's block, and a deletion drops the block at
//! once; on other replicas a block lives at most `BLOCK_TTL`, and what it finds is read
//! back from the database by id, so an item deleted anywhere is never recalled. A dedicated vector engine would pay off only for
//! searches across people, which memory never does (docs/memory.md).

use std::sync::{Arc, PoisonError, RwLock};

use async_trait::async_trait;
use serde::Serialize;
use solace_ai::memory::similarity;

use crate::db::{col, new_id, now_ms, placeholders, Db};
use crate::error::Result;
use crate::vault::{is_sealed_vector, Slot};

/// Where an item's text and vector are sealed (see [`crate::vault`]).
pub const TEXT_SLOT: &str = "memory_items.text";
pub const VECTOR_SLOT: &str = "memory_items.vector";

/// A piece of a turn to remember.
#[derive(Debug, Clone)]
pub struct NewItem {
    pub owner_id: String,
    pub session_id: String,
    pub message_id: String,
    pub piece: usize,
    pub role: &'static str,
    pub text: String,
    pub vector: Vec<f32>,
    pub said_at: i64,
}

/// A remembered item as the person sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Item {
    pub id: String,
    pub session_id: String,
    /// The conversation's title.
    pub session_title: String,
    /// `user` (the person said it) or `assistant` (Solace said it).
    pub role: String,
    pub text: String,
    /// When it was said.
    #[serde(with = "crate::db::rfc3339_ms")]
    #[schema(value_type = String, format = DateTime)]
    pub said_at: i64,
}

/// A search result: an item and how close it is to the query (cosine, −1 … 1).
#[derive(Debug, Clone)]
pub struct Hit {
    pub item: Item,
    pub score: f32,
}

/// One person's vectors, searched exactly and never across people.
#[async_trait]
pub trait VectorStore: Send + Sync {
    /// Stores items, replacing those of the same message and piece.
    async fn put(&self, model: &str, items: &[NewItem]) -> Result<()>;
    /// The `limit` items of `owner_id` closest to `query` among those made by `model`,
    /// at least `min_score` close, best first.
    async fn search(
        &self,
        owner_id: &str,
        model: &str,
        query: &[f32],
        limit: usize,
        min_score: f32,
    ) -> Result<Vec<Hit>>;
}

/// How long a person's block is used before it is read again (for items another replica
/// added; this replica's own changes drop it at once).
const BLOCK_TTL: std::time::Duration = std::time::Duration::from_secs(30);

/// A person's vectors in one block: `ids[i]` owns `vectors[i * dim .. (i + 1) * dim]`.
struct Block {
    dim: usize,
    ids: Vec<String>,
    vectors: Vec<f32>,
}

/// The database as the vector store, with each person's block cached in this process.
pub struct DbVectors {
    db: Db,
    blocks: moka::future::Cache<(String, String), Arc<RwLock<Block>>>,
}

impl DbVectors {
    pub fn new(db: Db, cache_bytes: u64) -> Self {
        let blocks = moka::future::Cache::builder()
            .max_capacity(cache_bytes.max(1))
            .weigher(|_, block: &Arc<RwLock<Block>>| {
                let block = block.read().unwrap_or_else(PoisonError::into_inner);
                let bytes = block.vectors.len() * 4 + block.ids.len() * 40;
                u32::try_from(bytes).unwrap_or(u32::MAX)
            })
            .time_to_live(BLOCK_TTL)
            .build();
        Self { db, blocks }
    }

    async fn block(&self, owner_id: &str, model: &str) -> Result<Arc<RwLock<Block>>> {
        let key = (owner_id.to_owned(), model.to_owned());
        if let Some(block) = self.blocks.get(&key).await {
            return Ok(block);
        }
        let rows = sqlx::query(
            "SELECT id, vector FROM memory_items WHERE owner_id = $1 AND model = $2 \
             ORDER BY created_at, id",
        )
        .bind(owner_id.to_owned())
        .bind(model.to_owned())
        .fetch_all(self.db.pool())
        .await?;
        let mut block = Block {
            dim: 0,
            ids: Vec::with_capacity(rows.len()),
            vectors: Vec::new(),
        };
        let vault = self.db.vault()?;
        for row in &rows {
            let id: String = col(row, "id")?;
            let vector = open_vector(vault, &id, col(row, "vector")?).await?;
            if block.dim == 0 {
                block.dim = vector.len();
                block.vectors.reserve(rows.len() * block.dim);
            }
            // A vector of another length cannot be compared; reindexing fixes it.
            if vector.len() != block.dim {
                continue;
            }
            block.ids.push(id);
            block.vectors.extend(vector);
        }
        let block = Arc::new(RwLock::new(block));
        self.blocks.insert(key, block.clone()).await;
        Ok(block)
    }

    /// Forgets every cached block (after vectors were redone).
    pub async fn blocks_changed(&self) {
        self.blocks.invalidate_all();
    }

    /// Forgets the cached block of a person's vectors by `model` (after they changed here).
    pub async fn invalidate(&self, owner_id: &str, model: &str) {
        self.blocks
            .invalidate(&(owner_id.to_owned(), model.to_owned()))
            .await;
    }
}

#[async_trait]
impl VectorStore for DbVectors {
    async fn put(&self, model: &str, items: &[NewItem]) -> Result<()> {
        let Some(first) = items.first() else {
            return Ok(());
        };
        let now = now_ms();
        let vault = self.db.vault()?;
        let ids: Vec<String> = items.iter().map(|_| new_id()).collect();
        let mut sealed = Vec::with_capacity(items.len());
        for (item, id) in items.iter().zip(&ids) {
            let sealer = vault.sealer(&item.owner_id).await?;
            let text = sealer.seal_text(Slot::new(TEXT_SLOT, id), &item.text)?;
            let vector = sealer.seal_bytes(Slot::new(VECTOR_SLOT, id), &to_bytes(&item.vector))?;
            sealed.push((id.clone(), text, vector));
        }
        let mut tx = self.db.pool().begin().await?;
        for (item, (id, text, vector)) in items.iter().zip(sealed) {
            // A redone item takes the new id its values are sealed for.
            sqlx::query(
                "INSERT INTO memory_items (id, owner_id, session_id, message_id, piece, role, \
                   text, model, vector, said_at, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) \
                 ON CONFLICT (message_id, piece) DO UPDATE SET id = excluded.id, \
                   text = excluded.text, model = excluded.model, vector = excluded.vector, \
                   created_at = excluded.created_at, updated_at = excluded.updated_at",
            )
            .bind(id)
            .bind(item.owner_id.clone())
            .bind(item.session_id.clone())
            .bind(item.message_id.clone())
            .bind(i64::try_from(item.piece).unwrap_or(i64::MAX))
            .bind(item.role)
            .bind(text)
            .bind(model.to_owned())
            .bind(vector)
            .bind(item.said_at)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        // The person's cached block takes the new vectors at its end (a turn is stored
        // after every reply: reading the whole block again each time would make every
        // recall a cold one). Items of several people in one call drop the blocks instead.
        let key = (first.owner_id.clone(), model.to_owned());
        let one_owner = items.iter().all(|item| item.owner_id == first.owner_id);
        match self.blocks.get(&key).await {
            Some(block) if one_owner => {
                {
                    let mut block = block.write().unwrap_or_else(PoisonError::into_inner);
                    for (item, id) in items.iter().zip(&ids) {
                        if block.dim == 0 {
                            block.dim = item.vector.len();
                        }
                        if item.vector.len() == block.dim {
                            block.ids.push(id.clone());
                            block.vectors.extend_from_slice(&item.vector);
                        }
                    }
                }
                // Inserted again so the cache weighs it anew.
                self.blocks.insert(key, block).await;
            }
            _ => {
                for item in items {
                    self.invalidate(&item.owner_id, model).await;
                }
            }
        }
        Ok(())
    }

    async fn search(
        &self,
        owner_id: &str,
        model: &str,
        query: &[f32],
        limit: usize,
        min_score: f32,
    ) -> Result<Vec<Hit>> {
        let block = self.block(owner_id, model).await?;
        let best: Vec<(String, f32)> = {
            let block = block.read().unwrap_or_else(PoisonError::into_inner);
            if block.dim != query.len() || limit == 0 {
                return Ok(Vec::new());
            }
            top(&block, query, limit, min_score)
                .into_iter()
                .map(|(i, score)| (block.ids[i].clone(), score))
                .collect()
        };
        if best.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = best.iter().map(|(id, _)| id.as_str()).collect();
        let mut items = items_by_id(&self.db, owner_id, &ids).await?;
        Ok(best
            .into_iter()
            .filter_map(|(id, score)| {
                let at = items.iter().position(|item| item.id == id)?;
                Some(Hit {
                    item: items.swap_remove(at),
                    score,
                })
            })
            .collect())
    }
}

/// The `limit` rows of the block closest to `query`, best first: (row, score).
fn top(block: &Block, query: &[f32], limit: usize, min_score: f32) -> Vec<(usize, f32)> {
    if limit == 0 || block.dim == 0 {
        return Vec::new();
    }
    let mut best: Vec<(usize, f32)> = Vec::with_capacity(limit + 1);
    for (row, vector) in block.vectors.chunks_exact(block.dim).enumerate() {
        let score = similarity(vector, query);
        if score < min_score || (best.len() == limit && score <= best[limit - 1].1) {
            continue;
        }
        let at = best.partition_point(|(_, s)| *s >= score);
        best.insert(at, (row, score));
        best.truncate(limit);
    }
    best
}

const ITEM_COLUMNS: &str =
    "m.id, m.session_id, s.title AS session_title, m.role, m.text, m.said_at";

async fn item(db: &Db, row: &sqlx::any::AnyRow) -> Result<Item> {
    let vault = db.vault()?;
    let id: String = col(row, "id")?;
    let session_id: String = col(row, "session_id")?;
    Ok(Item {
        text: vault
            .open_text(Slot::new(TEXT_SLOT, &id), col(row, "text")?)
            .await?,
        session_title: vault
            .open_text(
                Slot::new(crate::chat::TITLE_SLOT, &session_id),
                col(row, "session_title")?,
            )
            .await?,
        role: col(row, "role")?,
        said_at: col(row, "said_at")?,
        id,
        session_id,
    })
}

async fn items(db: &Db, rows: &[sqlx::any::AnyRow]) -> Result<Vec<Item>> {
    let mut items = Vec::with_capacity(rows.len());
    for row in rows {
        items.push(item(db, row).await?);
    }
    Ok(items)
}

/// A stored vector as numbers: opened when sealed, read as it is when it predates
/// encryption (a whole number of f32s).
async fn open_vector(vault: &crate::vault::Vault, id: &str, stored: Vec<u8>) -> Result<Vec<f32>> {
    if !is_sealed_vector(&stored) {
        return Ok(from_bytes(&stored));
    }
    let plain = vault.open_bytes(Slot::new(VECTOR_SLOT, id), stored).await?;
    Ok(from_bytes(&plain))
}

async fn items_by_id(db: &Db, owner_id: &str, ids: &[&str]) -> Result<Vec<Item>> {
    // `|| ''` keeps SQLite's planner on the primary key for the few ids asked for: on
    // the owner's index it would walk all their items (20 ms for 10,000). The owner is
    // still checked for every row.
    let sql = format!(
        "SELECT {ITEM_COLUMNS} FROM memory_items m JOIN chat_sessions s ON s.id = m.session_id \
         WHERE m.id IN ({}) AND m.owner_id || '' = $1",
        placeholders(2, ids.len())
    );
    let mut query = sqlx::query(&sql).bind(owner_id.to_owned());
    for id in ids {
        query = query.bind((*id).to_owned());
    }
    items(db, &query.fetch_all(db.pool()).await?).await
}

/// A page of a person's items, newest first, and how many there are in all — counted in
/// the same statement, so a turn remembered meanwhile is in both or in neither.
pub async fn list(db: &Db, owner_id: &str, page: crate::chat::Page) -> Result<(Vec<Item>, i64)> {
    let sql = format!(
        "SELECT {ITEM_COLUMNS}, COUNT(*) OVER () AS total FROM memory_items m \
         JOIN chat_sessions s ON s.id = m.session_id \
         WHERE m.owner_id = $1 ORDER BY m.said_at DESC, m.piece DESC LIMIT $2 OFFSET $3"
    );
    let rows = sqlx::query(&sql)
        .bind(owner_id.to_owned())
        .bind(page.limit)
        .bind(page.offset)
        .fetch_all(db.pool())
        .await?;
    let total = match rows.first() {
        Some(row) => col(row, "total")?,
        // A page past the end has no row to carry the count.
        None => col(
            &sqlx::query(
                "SELECT COUNT(*) AS n FROM memory_items m \
                 JOIN chat_sessions s ON s.id = m.session_id WHERE m.owner_id = $1",
            )
            .bind(owner_id.to_owned())
            .fetch_one(db.pool())
            .await?,
            "n",
        )?,
    };
    Ok((items(db, &rows).await?, total))
}

/// Every item of a person, oldest first (the data export).
pub async fn all(db: &Db, owner_id: &str) -> Result<Vec<Item>> {
    let sql = format!(
        "SELECT {ITEM_COLUMNS} FROM memory_items m JOIN chat_sessions s ON s.id = m.session_id \
         WHERE m.owner_id = $1 ORDER BY m.said_at, m.piece"
    );
    let rows = sqlx::query(&sql)
        .bind(owner_id.to_owned())
        .fetch_all(db.pool())
        .await?;
    items(db, &rows).await
}

/// Deletes one of the person's items; `NotFound` when it is not theirs or not there.
pub async fn delete(db: &Db, owner_id: &str, id: &str) -> Result<()> {
    let done = sqlx::query("DELETE FROM memory_items WHERE id = $1 AND owner_id = $2")
        .bind(id.to_owned())
        .bind(owner_id.to_owned())
        .execute(db.pool())
        .await?;
    crate::db::touched_a_row(&done)
}

/// Deletes everything remembered of a person; returns how many items went.
pub async fn forget(db: &Db, owner_id: &str) -> Result<u64> {
    let done = sqlx::query("DELETE FROM memory_items WHERE owner_id = $1")
        .bind(owner_id.to_owned())
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected())
}

/// The items made by another model than `model`, oldest first, up to `limit`, with
/// their text (for `solace memory reindex`): (id, owner, text).
pub async fn stale(db: &Db, model: &str, limit: usize) -> Result<Vec<(String, String, String)>> {
    let rows = sqlx::query(
        "SELECT id, owner_id, text FROM memory_items WHERE model <> $1 ORDER BY created_at, id LIMIT $2",
    )
    .bind(model.to_owned())
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(db.pool())
    .await?;
    let vault = db.vault()?;
    let mut stale = Vec::with_capacity(rows.len());
    for row in &rows {
        let id: String = col(row, "id")?;
        let text = vault
            .open_text(Slot::new(TEXT_SLOT, &id), col(row, "text")?)
            .await?;
        stale.push((id, col(row, "owner_id")?, text));
    }
    Ok(stale)
}

/// How many items another model made.
pub async fn count_stale(db: &Db, model: &str) -> Result<i64> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM memory_items WHERE model <> $1")
        .bind(model.to_owned())
        .fetch_one(db.pool())
        .await?;
    col(&row, "n")
}

/// Replaces an item's vector with one made by `model`.
pub async fn revector(
    db: &Db,
    id: &str,
    owner_id: &str,
    model: &str,
    vector: &[f32],
) -> Result<()> {
    let sealed = db
        .vault()?
        .sealer(owner_id)
        .await?
        .seal_bytes(Slot::new(VECTOR_SLOT, id), &to_bytes(vector))?;
    sqlx::query("UPDATE memory_items SET model = $1, vector = $2, updated_at = $3 WHERE id = $4")
        .bind(model.to_owned())
        .bind(sealed)
        .bind(now_ms())
        .bind(id.to_owned())
        .execute(db.pool())
        .await?;
    Ok(())
}

fn to_bytes(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn from_bytes(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_survive_the_round_trip_through_bytes() {
        let v = vec![0.5, -1.25, f32::MIN_POSITIVE, 3.0e8];
        assert_eq!(from_bytes(&to_bytes(&v)), v);
        assert!(from_bytes(&[1, 2, 3]).is_empty());
    }

    #[test]
    fn the_scan_keeps_the_closest_rows_in_order_above_the_floor() {
        let rows: [[f32; 2]; 5] = [[1.0, 0.0], [0.0, 1.0], [0.8, 0.6], [-1.0, 0.0], [0.6, 0.8]];
        let block = Block {
            dim: 2,
            ids: (0..5).map(|i| i.to_string()).collect(),
            vectors: rows.iter().flatten().copied().collect(),
        };
        let found = top(&block, &[1.0, 0.0], 3, 0.0);
        let rows: Vec<usize> = found.iter().map(|(r, _)| *r).collect();
        assert_eq!(rows, vec![0, 2, 4]);
        assert!(found.windows(2).all(|w| w[0].1 >= w[1].1));
        // Nothing below the floor, however few are left.
        assert_eq!(top(&block, &[1.0, 0.0], 5, 0.7).len(), 2);
        assert!(top(&block, &[1.0, 0.0], 0, -1.0).is_empty());
    }
}
