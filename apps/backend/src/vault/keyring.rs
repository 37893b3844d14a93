//! Master keys: what wraps each person's data key. Kept in a file apart from the
//! database (`ENCRYPTION_KEY_FILE`), one key per line, the newest last; the newest wraps
//! new data keys and every key listed can unwrap. `solace keys rotate` appends a key and
//! re-wraps; once nothing refers to an old key, `--retire` drops it from the file.
//!
//! The [`MasterKeys`] trait is where a cloud KMS plugs in: wrapping and unwrapping a
//! 32-byte key is all the vault asks of it.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::SystemTime;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};

use super::{random_bytes, VaultError, KEY_LEN};

/// Wraps and unwraps data keys: with keys in a file (`Keyring`), or by a key
/// management service (`kms::AwsKms`), hence async.
#[async_trait::async_trait]
pub trait MasterKeys: Send + Sync {
    /// The id of the key new data keys are wrapped with.
    fn current_id(&self) -> Result<String, VaultError>;
    /// Wraps `key` (a data key, named `key_id`) with the current master key.
    async fn wrap(
        &self,
        key_id: &str,
        key: &[u8; KEY_LEN],
    ) -> Result<(String, Vec<u8>), VaultError>;
    /// Unwraps a data key wrapped by the master key `master_id`.
    async fn unwrap(
        &self,
        master_id: &str,
        key_id: &str,
        wrapped: &[u8],
    ) -> Result<[u8; KEY_LEN], VaultError>;
}

/// Master keys read from a file (`ENCRYPTION_KEY_FILE`), re-read when it changes, or
/// given whole in `ENCRYPTION_KEYS` (a secret injected by the platform).
pub struct Keyring {
    /// `None` for keys given inline: they change only with the process's environment.
    path: Option<PathBuf>,
    loaded: RwLock<Loaded>,
}

struct Loaded {
    modified: Option<SystemTime>,
    /// Keys by id, and the id of the newest.
    keys: BTreeMap<String, [u8; KEY_LEN]>,
    newest: String,
}

impl Keyring {
    /// Opens the file; when it does not exist and `create` is set, writes a new one
    /// holding one fresh key (readable by its owner only).
    pub fn open(path: &Path, create: bool) -> Result<Self, VaultError> {
        if create && !path.exists() {
            write_new_file(path)?;
        }
        let loaded = read_file(path)?;
        Ok(Self {
            path: Some(path.to_owned()),
            loaded: RwLock::new(loaded),
        })
    }

    /// Keys given as the text of a key file (`ENCRYPTION_KEYS`).
    pub fn inline(text: &str) -> Result<Self, VaultError> {
        let loaded = parse(text, None)
            .map_err(|why| VaultError::KeyFile(format!("(ENCRYPTION_KEYS) {why}")))?;
        Ok(Self {
            path: None,
            loaded: RwLock::new(loaded),
        })
    }

    /// A new key as a line of a key file, for keys kept in a platform's secret store.
    pub fn new_line() -> Result<String, VaultError> {
        Ok(format!(
            "{} {}",
            new_master_id(),
            STANDARD.encode(random_bytes::<KEY_LEN>()?)
        ))
    }

    /// Where the keys are read from, for messages.
    pub fn source(&self) -> String {
        self.path
            .as_ref()
            .map_or_else(|| "ENCRYPTION_KEYS".to_owned(), |p| p.display().to_string())
    }

    fn file(&self) -> Result<&Path, VaultError> {
        self.path.as_deref().ok_or_else(|| {
            VaultError::KeyFile(
                "is not used: the keys come from ENCRYPTION_KEYS; add `solace keys new`'s line \
                 to that secret (newest last) and restart"
                    .into(),
            )
        })
    }

    /// Every key id in the file, oldest first.
    pub fn ids(&self) -> Vec<String> {
        self.refresh();
        self.read(|loaded| {
            let mut ids: Vec<String> = loaded.keys.keys().cloned().collect();
            ids.sort();
            ids
        })
    }

    /// Adds a fresh key to the end of the file; it wraps every data key from now on.
    pub fn add_key(&self) -> Result<String, VaultError> {
        let path = self.file()?;
        let line = format!("{}\n", Self::new_line()?);
        let id = line
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned();
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|e| VaultError::KeyFile(format!("{}: {e}", path.display())))?;
        file.write_all(line.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| VaultError::KeyFile(format!("{}: {e}", path.display())))?;
        self.reload()?;
        Ok(id)
    }

    /// Removes the keys in `ids` from the file (never the newest).
    pub fn retire(&self, ids: &[String]) -> Result<usize, VaultError> {
        let path = self.file()?;
        let text = std::fs::read_to_string(path)
            .map_err(|e| VaultError::KeyFile(format!("{}: {e}", path.display())))?;
        let newest = self.current_id()?;
        let mut removed = 0;
        let kept: String = text
            .lines()
            .filter(|line| {
                let id = line.split_whitespace().next().unwrap_or_default();
                let drop = ids.iter().any(|r| r == id) && id != newest;
                removed += usize::from(drop);
                !drop
            })
            .map(|line| format!("{line}\n"))
            .collect();
        write_atomically(path, &kept)?;
        self.reload()?;
        Ok(removed)
    }

    fn read<T>(&self, f: impl FnOnce(&Loaded) -> T) -> T {
        let guard = self
            .loaded
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&guard)
    }

    fn reload(&self) -> Result<(), VaultError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let fresh = read_file(path)?;
        *self
            .loaded
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = fresh;
        Ok(())
    }

    /// Re-reads the file when it changed (a rotation on another machine or by the CLI),
    /// keeping the keys already loaded if it cannot be read.
    fn refresh(&self) {
        let Some(path) = &self.path else {
            return;
        };
        let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        if modified != self.read(|l| l.modified) {
            if let Err(error) = self.reload() {
                tracing::warn!(%error, "could not re-read ENCRYPTION_KEY_FILE; keeping the keys loaded");
            }
        }
    }
}

#[async_trait::async_trait]
impl MasterKeys for Keyring {
    fn current_id(&self) -> Result<String, VaultError> {
        self.refresh();
        Ok(self.read(|l| l.newest.clone()))
    }

    async fn wrap(
        &self,
        key_id: &str,
        key: &[u8; KEY_LEN],
    ) -> Result<(String, Vec<u8>), VaultError> {
        self.refresh();
        let (id, master) = self.read(|l| (l.newest.clone(), l.keys.get(&l.newest).copied()));
        let master = master.ok_or_else(|| VaultError::UnknownMasterKey(id.clone()))?;
        Ok((id, seal_key(&master, key_id, key)?))
    }

    async fn unwrap(
        &self,
        master_id: &str,
        key_id: &str,
        wrapped: &[u8],
    ) -> Result<[u8; KEY_LEN], VaultError> {
        let mut master = self.read(|l| l.keys.get(master_id).copied());
        if master.is_none() {
            self.refresh();
            master = self.read(|l| l.keys.get(master_id).copied());
        }
        let master = master.ok_or_else(|| VaultError::UnknownMasterKey(master_id.to_owned()))?;
        open_key(&master, key_id, wrapped)
    }
}

/// AES-256-GCM of a data key under a master key, bound to the data key's id.
fn seal_key(
    master: &[u8; KEY_LEN],
    key_id: &str,
    key: &[u8; KEY_LEN],
) -> Result<Vec<u8>, VaultError> {
    let sealing = aead_key(master)?;
    let nonce = random_bytes::<NONCE_LEN>()?;
    let mut out = key.to_vec();
    sealing
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(wrap_aad(key_id)),
            &mut out,
        )
        .map_err(|_| VaultError::Crypto)?;
    let mut wrapped = nonce.to_vec();
    wrapped.extend_from_slice(&out);
    Ok(wrapped)
}

fn open_key(
    master: &[u8; KEY_LEN],
    key_id: &str,
    wrapped: &[u8],
) -> Result<[u8; KEY_LEN], VaultError> {
    if wrapped.len() < NONCE_LEN {
        return Err(VaultError::Corrupt);
    }
    let (nonce, sealed) = wrapped.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| VaultError::Corrupt)?;
    let mut buf = sealed.to_vec();
    let plain = aead_key(master)?
        .open_in_place(nonce, Aad::from(wrap_aad(key_id)), &mut buf)
        .map_err(|_| VaultError::Crypto)?;
    plain.try_into().map_err(|_| VaultError::Corrupt)
}

fn wrap_aad(key_id: &str) -> Vec<u8> {
    format!("solace-data-key:{key_id}").into_bytes()
}

pub(super) fn aead_key(key: &[u8; KEY_LEN]) -> Result<LessSafeKey, VaultError> {
    Ok(LessSafeKey::new(
        UnboundKey::new(&AES_256_GCM, key).map_err(|_| VaultError::Crypto)?,
    ))
}

fn new_master_id() -> String {
    let at = time::OffsetDateTime::now_utc();
    format!(
        "mk-{:04}{:02}{:02}-{}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

const HEADER: &str = "# Solace master keys (ENCRYPTION_KEY_FILE): `id base64-key`, newest last.\n\
# They unlock every person's data key: keep this file secret, backed up apart from the\n\
# database, and never in the same backup. Without it the stored conversations cannot be read.\n";

fn write_new_file(path: &Path) -> Result<(), VaultError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| VaultError::KeyFile(format!("{}: {e}", dir.display())))?;
    }
    let text = format!(
        "{HEADER}{} {}\n",
        new_master_id(),
        STANDARD.encode(random_bytes::<KEY_LEN>()?)
    );
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(text.as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(|e| VaultError::KeyFile(format!("{}: {e}", path.display())))?;
            tracing::warn!(
                path = %path.display(),
                "created a new master key file; back it up apart from the database"
            );
            Ok(())
        }
        // Another process (a second replica starting) wrote it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(VaultError::KeyFile(format!("{}: {e}", path.display()))),
    }
}

fn write_atomically(path: &Path, text: &str) -> Result<(), VaultError> {
    let temp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let fail = |e: std::io::Error| VaultError::KeyFile(format!("{}: {e}", path.display()));
    let mut file = options.open(&temp).map_err(fail)?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(fail)?;
    std::fs::rename(&temp, path).map_err(fail)
}

fn read_file(path: &Path) -> Result<Loaded, VaultError> {
    let bad = |why: String| VaultError::KeyFile(format!("{}: {why}", path.display()));
    let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    parse(&text, modified).map_err(bad)
}

/// The keys of a key file's text: `id base64-key` lines, `#` comments, newest last.
fn parse(text: &str, modified: Option<SystemTime>) -> Result<Loaded, String> {
    let mut keys = BTreeMap::new();
    let mut newest = None;
    // Lines, or `;`-separated entries where a secret store keeps one line.
    for (n, line) in text.split(['\n', ';']).enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.split_whitespace();
        let (Some(id), Some(key), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!("line {}: expected `id base64-key`", n + 1));
        };
        let key: [u8; KEY_LEN] = STANDARD
            .decode(key)
            .ok()
            .and_then(|k| k.try_into().ok())
            .ok_or_else(|| format!("line {}: the key is not 32 bytes of base64", n + 1))?;
        if keys.insert(id.to_owned(), key).is_some() {
            return Err(format!("line {}: key id '{id}' appears twice", n + 1));
        }
        newest = Some(id.to_owned());
    }
    let newest = newest.ok_or_else(|| "holds no key".to_owned())?;
    Ok(Loaded {
        modified,
        keys,
        newest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_new_file_holds_one_key_that_wraps_and_unwraps() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("keys/master.keys");
        let ring = Keyring::open(&path, true).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ring.ids().len(), 1);
        let data_key = [7u8; KEY_LEN];
        let (master, wrapped) = ring
            .wrap("k1", &data_key)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(&wrapped[NONCE_LEN..NONCE_LEN + KEY_LEN], &data_key[..]);
        assert_eq!(
            ring.unwrap(&master, "k1", &wrapped).await.ok(),
            Some(data_key)
        );
        // Bound to the data key's id: another id cannot use the same wrapping.
        assert!(ring.unwrap(&master, "k2", &wrapped).await.is_err());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).map(|m| m.permissions().mode() & 0o777);
            assert_eq!(mode.ok(), Some(0o600));
        }
    }

    #[tokio::test]
    async fn an_added_key_becomes_current_and_old_wrappings_still_open() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("master.keys");
        let ring = Keyring::open(&path, true).unwrap_or_else(|e| panic!("{e}"));
        let data_key = [9u8; KEY_LEN];
        let (old, wrapped) = ring
            .wrap("k", &data_key)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let new = ring.add_key().unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(old, new);
        assert_eq!(ring.current_id().ok(), Some(new.clone()));
        assert_eq!(ring.unwrap(&old, "k", &wrapped).await.ok(), Some(data_key));
        // A second reader of the same file sees both.
        let other = Keyring::open(&path, false).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(other.ids(), ring.ids());
        // Retiring the old key makes its wrappings unreadable; the newest never goes.
        assert_eq!(ring.retire(&[old.clone(), new.clone()]).ok(), Some(1));
        assert!(matches!(
            ring.unwrap(&old, "k", &wrapped).await,
            Err(VaultError::UnknownMasterKey(_))
        ));
        assert_eq!(ring.ids(), vec![new]);
    }

    #[tokio::test]
    async fn inline_keys_unwrap_what_the_file_wrapped_and_cannot_be_rotated_in_place() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("master.keys");
        let ring = Keyring::open(&path, true).unwrap_or_else(|e| panic!("{e}"));
        let data_key = [3u8; KEY_LEN];
        let (master, wrapped) = ring
            .wrap("k", &data_key)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        // As a platform's secret keeps it: one line, entries separated by `;`.
        let one_line = format!(
            "{};{}",
            Keyring::new_line().unwrap_or_default(),
            text.lines()
                .filter(|l| !l.starts_with('#'))
                .collect::<String>()
        );
        let inline = Keyring::inline(&one_line).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            inline.unwrap(&master, "k", &wrapped).await.ok(),
            Some(data_key)
        );
        assert_eq!(inline.current_id().ok(), Some(master));
        assert_eq!(inline.source(), "ENCRYPTION_KEYS");
        let refused = inline.add_key().err().map(|e| e.to_string());
        assert!(refused.is_some_and(|e| e.contains("ENCRYPTION_KEYS")));
        assert!(Keyring::inline("mk-1 short").is_err());
    }

    #[test]
    fn a_bad_file_is_refused_with_its_line() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("master.keys");
        std::fs::write(&path, "# comment\nmk-1 not-base64!\n").unwrap_or_else(|e| panic!("{e}"));
        let error = Keyring::open(&path, false).err().map(|e| e.to_string());
        assert!(error.is_some_and(|e| e.contains("line 2")));
        std::fs::write(&path, "# only comments\n").unwrap_or_else(|e| panic!("{e}"));
        assert!(Keyring::open(&path, false).is_err());
        assert!(Keyring::open(&dir.path().join("missing"), false).is_err());
    }
}
