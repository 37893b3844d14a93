//! Encryption at rest: what people say to Solace is stored sealed with AES-256-GCM under
//! a data key of their own, and that key is stored wrapped by a master key kept outside
//! the database (envelope encryption).
//!
//! - **Sealed values** (AES-256-GCM from ring, measured beside aws-lc-rs and RustCrypto in
//!   `benches/sealing.rs`) carry the id of the data key that sealed them and are bound to
//!   their column and row (the AEAD's associated data), so a value copied into another
//!   row does not open. Text columns hold `sealed:v1:` and base64; byte columns a
//!   3-byte marker. A value without the marker is a row written before encryption
//!   existed: it is read as it is, and [`plain`] seals such rows in the background.
//! - **Data keys** live in a key store ([`ENCRYPTION_KEYSTORE_URL`], by default a
//!   database beside the app's own), so a backup of the app's database holds no key.
//! - **Crypto-shredding**: deleting an account deletes its data keys; every copy of its
//!   rows — backups, replicas, the write-ahead log — is then ciphertext nobody can open.
//!
//! [`ENCRYPTION_KEYSTORE_URL`]: crate::config::EncryptionSettings

pub mod keyring;
pub mod kms;
pub mod plain;

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, NONCE_LEN};
use sqlx::any::AnyRow;

use crate::db::{col, now_ms, Db};
pub use keyring::{Keyring, MasterKeys};
pub use kms::{AwsKms, Credentials, KmsWithKeyFile};

/// AES-256: 32-byte keys.
pub const KEY_LEN: usize = 32;
const KEY_ID_LEN: usize = 16;
const TAG_LEN: usize = 16;
/// How a sealed text column starts.
pub const TEXT_PREFIX: &str = "sealed:v1:";
/// How a sealed byte value starts. With 16 + 12 + 16 bytes after it, a sealed vector's
/// length is 3 modulo 4, where a plain one's (f32s) is 0: that, not the marker, tells
/// the memory's vectors apart ([`is_sealed_vector`]).
const BYTES_MAGIC: &[u8; 3] = b"SV1";
/// Unwrapped keys stay in memory this long after their last use.
const KEY_IDLE: Duration = Duration::from_secs(10 * 60);

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("ENCRYPTION_KEY_FILE {0}")]
    KeyFile(String),
    #[error("a data key is wrapped by master key '{0}', which ENCRYPTION_KEY_FILE does not hold")]
    UnknownMasterKey(String),
    #[error("KMS (ENCRYPTION_KMS_KEY_ID): {0}")]
    Kms(String),
    #[error("the data key that sealed this value is gone (its owner was deleted)")]
    Shredded,
    #[error("a sealed value is malformed")]
    Corrupt,
    #[error("decryption failed: the key is wrong or the value was altered")]
    Crypto,
    #[error("no random numbers available")]
    Random,
    #[error("key store: {0}")]
    Store(#[from] sqlx::Error),
}

/// Which column and row a sealed value belongs to; it does not open anywhere else.
#[derive(Debug, Clone, Copy)]
pub struct Slot<'a> {
    pub column: &'static str,
    pub row: &'a str,
}

impl<'a> Slot<'a> {
    pub fn new(column: &'static str, row: &'a str) -> Self {
        Self { column, row }
    }

    fn aad(&self) -> Vec<u8> {
        let mut aad = Vec::with_capacity(self.column.len() + 1 + self.row.len());
        aad.extend_from_slice(self.column.as_bytes());
        aad.push(0);
        aad.extend_from_slice(self.row.as_bytes());
        aad
    }
}

/// A data key, unwrapped.
pub struct DataKey {
    id: [u8; KEY_ID_LEN],
    key: LessSafeKey,
}

/// Seals values with one person's current data key.
#[derive(Clone)]
pub struct Sealer(Arc<DataKey>);

impl Sealer {
    /// The value as stored in a text column.
    pub fn seal_text(&self, slot: Slot<'_>, plain: &str) -> crate::Result<String> {
        let sealed = self.seal(slot, plain.as_bytes())?;
        let mut out = String::with_capacity(TEXT_PREFIX.len() + sealed.len() * 4 / 3 + 4);
        out.push_str(TEXT_PREFIX);
        STANDARD_NO_PAD.encode_string(&sealed, &mut out);
        Ok(out)
    }

    /// The value as stored in a byte column.
    pub fn seal_bytes(&self, slot: Slot<'_>, plain: &[u8]) -> crate::Result<Vec<u8>> {
        let sealed = self.seal(slot, plain)?;
        let mut out = Vec::with_capacity(BYTES_MAGIC.len() + sealed.len());
        out.extend_from_slice(BYTES_MAGIC);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// `key id ‖ nonce ‖ ciphertext ‖ tag`.
    fn seal(&self, slot: Slot<'_>, plain: &[u8]) -> Result<Vec<u8>, VaultError> {
        let nonce = random_bytes::<NONCE_LEN>()?;
        let mut out = Vec::with_capacity(KEY_ID_LEN + NONCE_LEN + plain.len() + TAG_LEN);
        out.extend_from_slice(&self.0.id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plain);
        let mut body = out.split_off(KEY_ID_LEN + NONCE_LEN);
        self.0
            .key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(slot.aad()),
                &mut body,
            )
            .map_err(|_| VaultError::Crypto)?;
        out.append(&mut body);
        Ok(out)
    }
}

/// A sealed value taken apart.
struct Parts<'a> {
    key_id: [u8; KEY_ID_LEN],
    nonce: [u8; NONCE_LEN],
    body: &'a [u8],
}

fn parts(sealed: &[u8]) -> Option<Parts<'_>> {
    if sealed.len() < KEY_ID_LEN + NONCE_LEN + TAG_LEN {
        return None;
    }
    let (key_id, rest) = sealed.split_at(KEY_ID_LEN);
    let (nonce, body) = rest.split_at(NONCE_LEN);
    Some(Parts {
        key_id: key_id.try_into().ok()?,
        nonce: nonce.try_into().ok()?,
        body,
    })
}

/// Whether a text column's value is sealed (else it predates encryption).
pub fn is_sealed_text(stored: &str) -> bool {
    stored.starts_with(TEXT_PREFIX)
}

/// Whether a byte value is sealed.
pub fn is_sealed_bytes(stored: &[u8]) -> bool {
    stored.starts_with(BYTES_MAGIC)
}

/// Whether a stored vector is sealed (a plain one is a whole number of f32s).
pub fn is_sealed_vector(stored: &[u8]) -> bool {
    is_sealed_bytes(stored) && stored.len() % 4 == 3
}

/// The people's data keys: made, wrapped, stored, cached, re-wrapped and destroyed here.
pub struct Vault {
    master: Arc<dyn MasterKeys>,
    /// Where the wrapped data keys live (`ENCRYPTION_KEYSTORE_URL`).
    store: Db,
    /// Each person's newest key, by owner id.
    sealing: moka::future::Cache<String, Arc<DataKey>>,
    /// Every key in use, by key id.
    opening: moka::future::Cache<[u8; KEY_ID_LEN], Arc<DataKey>>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault").finish_non_exhaustive()
    }
}

const KEY_COLUMNS: &str = "id, owner_id, master_id, wrapped";

impl Vault {
    /// Opens the key store (creating its tables) and checks that the master keys can
    /// unwrap the data keys of the people in `db`, the app's database.
    pub async fn open(master: Arc<dyn MasterKeys>, store: Db, db: &Db) -> crate::Result<Self> {
        for statement in [
            "CREATE TABLE IF NOT EXISTS data_keys (\
                 id TEXT PRIMARY KEY, owner_id TEXT NOT NULL, master_id TEXT NOT NULL, \
                 wrapped TEXT NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)",
            "CREATE INDEX IF NOT EXISTS data_keys_owner_idx ON data_keys (owner_id, created_at)",
            "CREATE INDEX IF NOT EXISTS data_keys_master_idx ON data_keys (master_id)",
            // People being deleted: their keys go once their rows have (see `sweep`).
            "CREATE TABLE IF NOT EXISTS doomed_owners (owner_id TEXT PRIMARY KEY, at BIGINT NOT NULL)",
            // Facts about the vault itself, e.g. that no plain value is left.
            "CREATE TABLE IF NOT EXISTS vault_marks (name TEXT PRIMARY KEY, at BIGINT NOT NULL)",
        ] {
            sqlx::query(statement).execute(store.pool()).await?;
        }
        let vault = Self {
            master,
            store,
            sealing: moka::future::Cache::builder()
                .max_capacity(100_000)
                .time_to_idle(KEY_IDLE)
                .build(),
            opening: moka::future::Cache::builder()
                .max_capacity(200_000)
                .time_to_idle(KEY_IDLE)
                .build(),
        };
        vault.check_master_keys(db).await?;
        Ok(vault)
    }

    /// Fails when the data key of someone in `db` is wrapped by a master key the key
    /// file lacks: a replica started with another deployment's (or a fresh) key file
    /// would otherwise run and fail every read. Keys of nobody in `db` (a key store
    /// shared with a database since wiped) are not the deployment's concern.
    async fn check_master_keys(&self, db: &Db) -> crate::Result<()> {
        let masters = sqlx::query("SELECT DISTINCT master_id FROM data_keys ORDER BY master_id")
            .fetch_all(self.store.pool())
            .await?;
        for row in masters {
            let master_id: String = col(&row, "master_id")?;
            let sample = sqlx::query(&format!(
                "SELECT {KEY_COLUMNS} FROM data_keys WHERE master_id = $1 \
                 ORDER BY created_at DESC LIMIT 50"
            ))
            .bind(master_id.clone())
            .fetch_all(self.store.pool())
            .await?;
            let owners: Vec<String> = sample
                .iter()
                .map(|row| col(row, "owner_id"))
                .collect::<crate::Result<_>>()?;
            let living = existing_users(db, &owners).await?;
            let Some(probe) = sample.iter().find(|row| {
                col::<String>(row, "owner_id").is_ok_and(|owner| living.contains(&owner))
            }) else {
                continue;
            };
            let (id, master, wrapped) = stored_key(probe)?;
            if let Err(error) = self.master.unwrap(&master, &id, &wrapped).await {
                return Err(crate::Error::Startup(format!(
                    "{error}; point ENCRYPTION_KEY_FILE (or ENCRYPTION_KEYS) at the deployment's \
                     master keys, or give ENCRYPTION_KMS_KEY_ID credentials that may use them"
                )));
            }
        }
        Ok(())
    }

    pub fn master(&self) -> &Arc<dyn MasterKeys> {
        &self.master
    }

    /// Seals with `owner`'s newest data key, making their first one when they have none.
    pub async fn sealer(&self, owner: &str) -> crate::Result<Sealer> {
        let key = self
            .sealing
            .try_get_with(owner.to_owned(), self.newest_or_new(owner))
            .await
            .map_err(|e| crate::Error::Vault(Arc::unwrap_or_clone(e)))?;
        Ok(Sealer(key))
    }

    async fn newest_or_new(&self, owner: &str) -> Result<Arc<DataKey>, VaultError> {
        let row = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM data_keys WHERE owner_id = $1 \
             ORDER BY created_at DESC, id DESC LIMIT 1"
        ))
        .bind(owner.to_owned())
        .fetch_optional(self.store.pool())
        .await?;
        let key = match row {
            Some(row) => {
                let (id, master, wrapped) = stored_key(&row).map_err(|_| VaultError::Corrupt)?;
                self.unwrapped(&id, &master, &wrapped).await?
            }
            None => self.create(owner).await?,
        };
        self.opening.insert(key.id, key.clone()).await;
        Ok(key)
    }

    async fn create(&self, owner: &str) -> Result<Arc<DataKey>, VaultError> {
        let id = random_bytes::<KEY_ID_LEN>()?;
        let key = random_bytes::<KEY_LEN>()?;
        let id_text = key_id_text(&id);
        let (master_id, wrapped) = self.master.wrap(&id_text, &key).await?;
        let now = now_ms();
        sqlx::query(
            "INSERT INTO data_keys (id, owner_id, master_id, wrapped, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(id_text)
        .bind(owner.to_owned())
        .bind(master_id)
        .bind(STANDARD.encode(wrapped))
        .bind(now)
        .execute(self.store.pool())
        .await?;
        Ok(Arc::new(DataKey {
            id,
            key: keyring::aead_key(&key)?,
        }))
    }

    async fn unwrapped(
        &self,
        id: &str,
        master: &str,
        wrapped: &[u8],
    ) -> Result<Arc<DataKey>, VaultError> {
        let key = self.master.unwrap(master, id, wrapped).await?;
        Ok(Arc::new(DataKey {
            id: parse_key_id(id).ok_or(VaultError::Corrupt)?,
            key: keyring::aead_key(&key)?,
        }))
    }

    async fn key_by_id(&self, id: [u8; KEY_ID_LEN]) -> crate::Result<Arc<DataKey>> {
        self.opening
            .try_get_with(id, async move {
                let row = sqlx::query(&format!(
                    "SELECT {KEY_COLUMNS} FROM data_keys WHERE id = $1"
                ))
                .bind(key_id_text(&id))
                .fetch_optional(self.store.pool())
                .await?
                .ok_or(VaultError::Shredded)?;
                let (id, master, wrapped) = stored_key(&row).map_err(|_| VaultError::Corrupt)?;
                self.unwrapped(&id, &master, &wrapped).await
            })
            .await
            .map_err(|e| crate::Error::Vault(Arc::unwrap_or_clone(e)))
    }

    /// A text column's value in the clear. A value without the sealed marker (a row
    /// from before encryption, or one whose marker is followed by no valid sealing)
    /// is returned as it is.
    pub async fn open_text(&self, slot: Slot<'_>, stored: String) -> crate::Result<String> {
        let Some(sealed) = stored
            .strip_prefix(TEXT_PREFIX)
            .and_then(|b64| STANDARD_NO_PAD.decode(b64).ok())
        else {
            return Ok(stored);
        };
        let Some(parts) = parts(&sealed) else {
            return Ok(stored);
        };
        let plain = self.open_parts(slot, &parts).await?;
        String::from_utf8(plain).map_err(|_| crate::Error::Vault(VaultError::Corrupt))
    }

    pub async fn open_text_opt(
        &self,
        slot: Slot<'_>,
        stored: Option<String>,
    ) -> crate::Result<Option<String>> {
        match stored {
            Some(stored) => Ok(Some(self.open_text(slot, stored).await?)),
            None => Ok(None),
        }
    }

    /// A byte column's value in the clear (as stored when it predates encryption).
    pub async fn open_bytes(&self, slot: Slot<'_>, stored: Vec<u8>) -> crate::Result<Vec<u8>> {
        if !is_sealed_bytes(&stored) {
            return Ok(stored);
        }
        let parts = parts(&stored[BYTES_MAGIC.len()..]).ok_or(VaultError::Corrupt)?;
        self.open_parts(slot, &parts).await
    }

    async fn open_parts(&self, slot: Slot<'_>, parts: &Parts<'_>) -> crate::Result<Vec<u8>> {
        let key = self.key_by_id(parts.key_id).await?;
        let mut buf = parts.body.to_vec();
        let plain = key
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(parts.nonce),
                Aad::from(slot.aad()),
                &mut buf,
            )
            .map_err(|_| VaultError::Crypto)?;
        let len = plain.len();
        buf.truncate(len);
        Ok(buf)
    }

    /// Marks `owner` as being deleted, before their rows go: if the process stops
    /// between the rows and the keys, [`Vault::sweep`] finishes the job.
    pub async fn doom(&self, owners: &[String]) -> crate::Result<()> {
        for owner in owners {
            sqlx::query(
                "INSERT INTO doomed_owners (owner_id, at) VALUES ($1, $2) ON CONFLICT (owner_id) DO NOTHING",
            )
            .bind(owner.clone())
            .bind(now_ms())
            .execute(self.store.pool())
            .await?;
        }
        Ok(())
    }

    /// Destroys every data key of `owner`: what they stored can no longer be read
    /// anywhere. Returns how many keys went.
    #[tracing::instrument(skip_all)]
    pub async fn shred(&self, owner: &str) -> crate::Result<u64> {
        let ids = sqlx::query("DELETE FROM data_keys WHERE owner_id = $1 RETURNING id")
            .bind(owner.to_owned())
            .fetch_all(self.store.pool())
            .await?;
        sqlx::query("DELETE FROM doomed_owners WHERE owner_id = $1")
            .bind(owner.to_owned())
            .execute(self.store.pool())
            .await?;
        self.sealing.invalidate(owner).await;
        for row in &ids {
            if let Some(id) = parse_key_id(&col::<String>(row, "id")?) {
                self.opening.invalidate(&id).await;
            }
        }
        Ok(ids.len() as u64)
    }

    /// Gives `from`'s data keys to `to` (a guest merged into an account), so deleting
    /// the account shreds what the guest wrote too.
    pub async fn move_keys(&self, from: &str, to: &str) -> crate::Result<()> {
        sqlx::query("UPDATE data_keys SET owner_id = $1, updated_at = $2 WHERE owner_id = $3")
            .bind(to.to_owned())
            .bind(now_ms())
            .bind(from.to_owned())
            .execute(self.store.pool())
            .await?;
        self.sealing.invalidate(from).await;
        Ok(())
    }

    /// Finishes deletions a stopped process left half done: the keys of people marked
    /// [`Vault::doom`] who are gone from `db` are destroyed; marks of people still there
    /// (a deletion that did not happen) are dropped. Keys never marked are never touched,
    /// so a server pointed at the wrong database destroys nothing. Returns how many keys
    /// went.
    pub async fn sweep(&self, db: &Db) -> crate::Result<u64> {
        let mut shredded = 0;
        loop {
            let doomed: Vec<String> =
                sqlx::query("SELECT owner_id FROM doomed_owners ORDER BY owner_id LIMIT 500")
                    .fetch_all(self.store.pool())
                    .await?
                    .iter()
                    .map(|row| col(row, "owner_id"))
                    .collect::<crate::Result<_>>()?;
            if doomed.is_empty() {
                return Ok(shredded);
            }
            let living = existing_users(db, &doomed).await?;
            for owner in &doomed {
                if living.contains(owner) {
                    sqlx::query("DELETE FROM doomed_owners WHERE owner_id = $1")
                        .bind(owner.clone())
                        .execute(self.store.pool())
                        .await?;
                } else {
                    shredded += self.shred(owner).await?;
                }
            }
        }
    }

    /// Re-wraps, with the current master key, every data key wrapped by another one.
    /// Safe while servers run: each key is swapped only if no one changed it meanwhile,
    /// and the data keys themselves (so every sealed value) stay the same.
    pub async fn rewrap(&self, mut progress: impl FnMut(u64, u64)) -> crate::Result<u64> {
        let current = self.master.current_id()?;
        let total: i64 = col(
            &sqlx::query("SELECT COUNT(*) AS n FROM data_keys WHERE master_id <> $1")
                .bind(current.clone())
                .fetch_one(self.store.pool())
                .await?,
            "n",
        )?;
        let total = u64::try_from(total).unwrap_or_default();
        let mut done = 0;
        loop {
            let rows = sqlx::query(&format!(
                "SELECT {KEY_COLUMNS} FROM data_keys WHERE master_id <> $1 ORDER BY id LIMIT 200"
            ))
            .bind(current.clone())
            .fetch_all(self.store.pool())
            .await?;
            if rows.is_empty() {
                return Ok(done);
            }
            for row in &rows {
                let (id, master, wrapped) = stored_key(row)?;
                let key = self.master.unwrap(&master, &id, &wrapped).await?;
                let (new_master, new_wrapped) = self.master.wrap(&id, &key).await?;
                sqlx::query(
                    "UPDATE data_keys SET master_id = $1, wrapped = $2, updated_at = $3 \
                     WHERE id = $4 AND master_id = $5",
                )
                .bind(new_master)
                .bind(STANDARD.encode(new_wrapped))
                .bind(now_ms())
                .bind(id)
                .bind(master)
                .execute(self.store.pool())
                .await?;
                done += 1;
                progress(done, total.max(done));
            }
        }
    }

    /// How many data keys each master key wraps.
    pub async fn master_key_use(&self) -> crate::Result<Vec<(String, i64)>> {
        sqlx::query(
            "SELECT master_id, COUNT(*) AS n FROM data_keys GROUP BY master_id ORDER BY master_id",
        )
        .fetch_all(self.store.pool())
        .await?
        .iter()
        .map(|row| Ok((col(row, "master_id")?, col(row, "n")?)))
        .collect()
    }

    /// When `name` was marked, if it was.
    pub async fn marked(&self, name: &str) -> crate::Result<Option<i64>> {
        let row = sqlx::query("SELECT at FROM vault_marks WHERE name = $1")
            .bind(name.to_owned())
            .fetch_optional(self.store.pool())
            .await?;
        row.map(|row| col(&row, "at")).transpose()
    }

    /// Records `name` as done now.
    pub async fn mark(&self, name: &str) -> crate::Result<()> {
        sqlx::query(
            "INSERT INTO vault_marks (name, at) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET at = excluded.at",
        )
        .bind(name.to_owned())
        .bind(now_ms())
        .execute(self.store.pool())
        .await?;
        Ok(())
    }

    /// Whether the key store answers (for readiness).
    pub async fn ping(&self) -> crate::Result<()> {
        self.store.ping().await
    }
}

/// Which of `ids` are users in `db`.
async fn existing_users(
    db: &Db,
    ids: &[String],
) -> crate::Result<std::collections::HashSet<String>> {
    if ids.is_empty() {
        return Ok(std::collections::HashSet::new());
    }
    let marks: Vec<String> = (1..=ids.len()).map(|n| format!("${n}")).collect();
    let sql = format!("SELECT id FROM users WHERE id IN ({})", marks.join(", "));
    let mut query = sqlx::query(&sql);
    for id in ids {
        query = query.bind(id.clone());
    }
    query
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(|row| col(row, "id"))
        .collect()
}

fn stored_key(row: &AnyRow) -> crate::Result<(String, String, Vec<u8>)> {
    let wrapped: String = col(row, "wrapped")?;
    let wrapped = STANDARD
        .decode(wrapped)
        .map_err(|_| crate::Error::Vault(VaultError::Corrupt))?;
    Ok((col(row, "id")?, col(row, "master_id")?, wrapped))
}

fn key_id_text(id: &[u8; KEY_ID_LEN]) -> String {
    uuid::Uuid::from_bytes(*id).simple().to_string()
}

fn parse_key_id(text: &str) -> Option<[u8; KEY_ID_LEN]> {
    uuid::Uuid::try_parse(text).ok().map(|u| *u.as_bytes())
}

/// Fresh random bytes from the operating system's generator (through ring).
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], VaultError> {
    use ring::rand::SecureRandom;
    let mut out = [0u8; N];
    ring::rand::SystemRandom::new()
        .fill(&mut out)
        .map_err(|_| VaultError::Random)?;
    Ok(out)
}

impl Clone for VaultError {
    fn clone(&self) -> Self {
        match self {
            Self::KeyFile(s) => Self::KeyFile(s.clone()),
            Self::UnknownMasterKey(s) => Self::UnknownMasterKey(s.clone()),
            Self::Kms(s) => Self::Kms(s.clone()),
            Self::Shredded => Self::Shredded,
            Self::Corrupt => Self::Corrupt,
            Self::Crypto => Self::Crypto,
            Self::Random => Self::Random,
            // sqlx errors are not Clone; keep the words.
            Self::Store(e) => Self::Store(sqlx::Error::Protocol(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer() -> Sealer {
        let key = random_bytes::<KEY_LEN>().unwrap_or_else(|e| panic!("{e}"));
        Sealer(Arc::new(DataKey {
            id: [1; KEY_ID_LEN],
            key: keyring::aead_key(&key).unwrap_or_else(|e| panic!("{e}")),
        }))
    }

    #[test]
    fn sealed_text_and_bytes_are_marked_and_hide_the_content() {
        let sealer = sealer();
        let slot = Slot::new("messages.content", "m1");
        let text = sealer
            .seal_text(slot, "my sister's name is Ana")
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(is_sealed_text(&text));
        assert!(!text.contains("Ana"));
        // Two sealings of the same text differ (a fresh nonce each time).
        assert_ne!(
            text,
            sealer
                .seal_text(slot, "my sister's name is Ana")
                .unwrap_or_default()
        );
        for n in [0usize, 1, 512] {
            let plain: Vec<u8> = (0..n * 4).map(|i| (i % 251) as u8).collect();
            let sealed = sealer.seal_bytes(slot, &plain).unwrap_or_default();
            assert!(is_sealed_vector(&sealed), "{n} floats");
            assert!(!is_sealed_vector(&plain), "{n} plain floats are not sealed");
        }
    }

    #[test]
    fn a_sealed_value_parts_back_into_key_id_nonce_and_body() {
        let sealer = sealer();
        let sealed = sealer
            .seal(Slot::new("c", "r"), b"hello")
            .unwrap_or_default();
        let parts = parts(&sealed).unwrap_or_else(|| panic!("parts"));
        assert_eq!(parts.key_id, [1; KEY_ID_LEN]);
        assert_eq!(parts.body.len(), 5 + TAG_LEN);
        let mut body = parts.body.to_vec();
        let opened = sealer
            .0
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(parts.nonce),
                Aad::from(Slot::new("c", "r").aad()),
                &mut body,
            )
            .map(|p| p.to_vec());
        assert_eq!(opened.ok(), Some(b"hello".to_vec()));
        // Bound to its slot: the same bytes do not open as another row's.
        let mut body = parts.body.to_vec();
        assert!(sealer
            .0
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(parts.nonce),
                Aad::from(Slot::new("c", "other").aad()),
                &mut body,
            )
            .is_err());
    }

    #[test]
    fn key_ids_round_trip_through_text() {
        let id = [0xab; KEY_ID_LEN];
        assert_eq!(parse_key_id(&key_id_text(&id)), Some(id));
        assert_eq!(parse_key_id("not a key id"), None);
    }
}
