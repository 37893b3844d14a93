//! People who use Solace: guests under a pseudonym, and registered accounts.
//!
//! Sign-up, login and sessions live in the auth module; this module owns the rows.

use serde::Serialize;
use sqlx::any::AnyRow;

use crate::db::{col, new_id, now_ms, touched_a_row, Db};
use crate::error::{Error, ErrorCode, Result};

/// Whether someone has an account or is visiting anonymously.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UserKind {
    Guest,
    Registered,
}

impl UserKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Guest => "guest",
            Self::Registered => "registered",
        }
    }

    pub(crate) fn parse(raw: &str) -> Result<Self> {
        Self::try_from(raw.to_owned()).map_err(damaged)
    }
}

/// A kind as stored (how rows map with `sqlx::FromRow`).
impl TryFrom<String> for UserKind {
    type Error = String;

    fn try_from(raw: String) -> std::result::Result<Self, String> {
        match raw.as_str() {
            "guest" => Ok(Self::Guest),
            "registered" => Ok(Self::Registered),
            other => Err(format!("unknown user kind '{other}'")),
        }
    }
}

/// A stored value that none of ours can be: a damaged row, reported as a decode error.
fn damaged(reason: String) -> Error {
    Error::Database(sqlx::Error::Decode(reason.into()))
}

/// What an account may do beyond its own data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = AccountRole)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    User,
    /// Handles reports and dead jobs; closes any room.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Admin => "admin",
        }
    }

    pub(crate) fn parse(raw: &str) -> Result<Self> {
        Self::try_from(raw.to_owned()).map_err(damaged)
    }
}

/// A role as stored (how rows map with `sqlx::FromRow`).
impl TryFrom<String> for Role {
    type Error = String;

    fn try_from(raw: String) -> std::result::Result<Self, String> {
        match raw.as_str() {
            "user" => Ok(Self::User),
            "admin" => Ok(Self::Admin),
            other => Err(format!("unknown role '{other}'")),
        }
    }
}

/// A user row. The password hash is never serialised.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct User {
    pub id: String,
    pub kind: UserKind,
    #[schema(required = true)]
    pub email: Option<String>,
    /// Whether an identity provider proved the address; a typed address grants nothing.
    pub email_verified: bool,
    #[serde(skip)]
    pub password_hash: Option<String>,
    /// Whether the user can sign in with a password (single-sign-on accounts cannot).
    pub has_password: bool,
    #[schema(required = true)]
    pub display_name: Option<String>,
    pub pseudonym: String,
    pub role: Role,
    #[serde(with = "crate::db::rfc3339_ms")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
    #[serde(with = "crate::db::rfc3339_ms")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: i64,
}

const COLUMNS: &str = "id, kind, email, password_hash, display_name, pseudonym, role, \
     created_at, updated_at, email_verified_at";

fn from_row(row: &AnyRow) -> Result<User> {
    let password_hash: Option<String> = col(row, "password_hash")?;
    Ok(User {
        has_password: password_hash.is_some(),
        id: col(row, "id")?,
        kind: UserKind::parse(&col::<String>(row, "kind")?)?,
        email: col(row, "email")?,
        email_verified: col::<Option<i64>>(row, "email_verified_at")?.is_some(),
        password_hash,
        display_name: col(row, "display_name")?,
        pseudonym: col(row, "pseudonym")?,
        role: Role::parse(&col::<String>(row, "role")?)?,
        created_at: col(row, "created_at")?,
        updated_at: col(row, "updated_at")?,
    })
}

/// What a new user row needs.
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    pub kind: UserKind,
    pub email: Option<&'a str>,
    /// The address was proven by an identity provider.
    pub email_verified: bool,
    pub password_hash: Option<&'a str>,
    pub display_name: Option<&'a str>,
    pub pseudonym: &'a str,
}

/// Inserts a user; a taken email is a 409 `email_taken`.
#[tracing::instrument(skip_all, fields(kind = ?new.kind))]
pub async fn create(db: &Db, new: NewUser<'_>) -> Result<User> {
    let now = now_ms();
    let sql = format!(
        "INSERT INTO users ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, 'user', $7, $7, $8) RETURNING {COLUMNS}"
    );
    let row = sqlx::query(&sql)
        .bind(new_id())
        .bind(new.kind.as_str())
        .bind(new.email.map(str::to_lowercase))
        .bind(new.password_hash.map(str::to_owned))
        .bind(new.display_name.map(str::to_owned))
        .bind(new.pseudonym.to_owned())
        .bind(now)
        .bind(new.email_verified.then_some(now))
        .fetch_one(db.pool())
        .await
        .map_err(|e| {
            Error::conflict_on_unique(
                e,
                ErrorCode::EmailTaken,
                "An account with this email already exists.",
            )
        })?;
    from_row(&row)
}

/// The user with this id, if any.
pub async fn find(db: &Db, id: &str) -> Result<Option<User>> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1");
    let row = sqlx::query(&sql)
        .bind(id.to_owned())
        .fetch_optional(db.pool())
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// The registered user with this email, if any. Emails are stored lower-cased.
pub async fn find_by_email(db: &Db, email: &str) -> Result<Option<User>> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE email = $1");
    let row = sqlx::query(&sql)
        .bind(email.to_lowercase())
        .fetch_optional(db.pool())
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Deletes a user and, through the schema's cascades, everything they own; then
/// destroys their data keys, so any copy of their rows (a backup, a replica) stays
/// sealed for good. Keys left behind by a crash in between are swept later
/// ([`crate::vault::Vault::sweep`]).
#[tracing::instrument(skip_all)]
pub async fn delete(db: &Db, id: &str) -> Result<()> {
    db.vault()?.doom(&[id.to_owned()]).await?;
    let done = sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(id.to_owned())
        .execute(db.pool())
        .await?;
    touched_a_row(&done)?;
    db.vault()?.shred(id).await?;
    Ok(())
}

/// Turns a guest into a registered account in place, keeping its pseudonym and content.
#[tracing::instrument(skip_all)]
pub async fn upgrade_guest(
    db: &Db,
    guest_id: &str,
    email: &str,
    password_hash: &str,
    display_name: Option<&str>,
) -> Result<User> {
    let sql = format!(
        "UPDATE users SET kind = 'registered', email = $1, password_hash = $2, display_name = $3, updated_at = $4 \
         WHERE id = $5 AND kind = 'guest' RETURNING {COLUMNS}"
    );
    let row = sqlx::query(&sql)
        .bind(email.to_lowercase())
        .bind(password_hash.to_owned())
        .bind(display_name.map(str::to_owned))
        .bind(now_ms())
        .bind(guest_id.to_owned())
        .fetch_optional(db.pool())
        .await
        .map_err(|e| {
            Error::conflict_on_unique(
                e,
                ErrorCode::EmailTaken,
                "An account with this email already exists.",
            )
        })?
        .ok_or(Error::NotFound)?;
    from_row(&row)
}

/// Moves everything a guest owns to an existing account, then removes the guest.
///
/// Runs in one transaction: either all of the guest's conversations and room history
/// arrive in the account, or nothing changes.
#[tracing::instrument(skip_all)]
pub async fn merge_guest_into(db: &Db, guest_id: &str, account_id: &str) -> Result<()> {
    // The guest's data keys go first (they may live in another database): what the guest
    // wrote stays readable by key id wherever it ends up, and deleting the account
    // destroys those keys too.
    db.vault()?.move_keys(guest_id, account_id).await?;
    let mut tx = db.pool().begin().await?;
    let guest = guest_id.to_owned();
    let account = account_id.to_owned();
    // A room both identities were in keeps the account's own participation row.
    sqlx::query(
        "DELETE FROM room_participants WHERE user_id = $1 \
         AND room_id IN (SELECT room_id FROM room_participants WHERE user_id = $2)",
    )
    .bind(guest.clone())
    .bind(account.clone())
    .execute(&mut *tx)
    .await?;
    for statement in [
        "UPDATE chat_sessions SET owner_id = $1 WHERE owner_id = $2",
        "UPDATE messages SET owner_id = $1 WHERE owner_id = $2",
        "UPDATE speech_clips SET owner_id = $1 WHERE owner_id = $2",
        "UPDATE memory_items SET owner_id = $1 WHERE owner_id = $2",
        "UPDATE rooms SET host_id = $1 WHERE host_id = $2",
        "UPDATE room_participants SET user_id = $1 WHERE user_id = $2",
        "UPDATE room_events SET actor_id = $1 WHERE actor_id = $2",
        "UPDATE room_events SET subject_id = $1 WHERE subject_id = $2",
        "UPDATE analytics_events SET user_id = $1 WHERE user_id = $2",
        // The account's own safety plan wins; a guest's plan moves only into an account
        // that has none.
        "UPDATE safety_plans SET user_id = $1 WHERE user_id = $2 \
         AND NOT EXISTS (SELECT 1 FROM safety_plans WHERE user_id = $1)",
        // Blocks either way; a pair the account already has stays once.
        "INSERT INTO room_blocks (blocker_id, blocked_id, created_at, updated_at) \
         SELECT $1, blocked_id, created_at, updated_at FROM room_blocks \
         WHERE blocker_id = $2 AND blocked_id <> $1 ON CONFLICT DO NOTHING",
        "INSERT INTO room_blocks (blocker_id, blocked_id, created_at, updated_at) \
         SELECT blocker_id, $1, created_at, updated_at FROM room_blocks \
         WHERE blocked_id = $2 AND blocker_id <> $1 ON CONFLICT DO NOTHING",
        "UPDATE reports SET reporter_id = $1 WHERE reporter_id = $2",
        "UPDATE reports SET subject_id = $1 WHERE subject_id = $2",
    ] {
        sqlx::query(statement)
            .bind(account.clone())
            .bind(guest.clone())
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("DELETE FROM users WHERE id = $1 AND kind = 'guest'")
        .bind(guest)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes guests, with everything they own, unless a live session of theirs has been
/// used since `guests_unused_since` (a guest has no password: once their sessions are
/// gone nobody can be them again), then every login session and token expired at `now`.
/// Returns how many guests and tokens went.
pub async fn purge(db: &Db, now: i64, guests_unused_since: i64) -> Result<(u64, u64)> {
    const ABANDONED: &str = "kind = 'guest' AND created_at < $1 AND NOT EXISTS \
         (SELECT 1 FROM tokens WHERE tokens.user_id = users.id \
          AND expires_at > $2 AND COALESCE(last_used_at, created_at) >= $1)";
    let vault = db.vault()?;
    let doomed: Vec<String> = sqlx::query(&format!("SELECT id FROM users WHERE {ABANDONED}"))
        .bind(guests_unused_since)
        .bind(now)
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(|row| crate::db::col(row, "id"))
        .collect::<Result<_>>()?;
    vault.doom(&doomed).await?;
    let gone = sqlx::query(&format!("DELETE FROM users WHERE {ABANDONED} RETURNING id"))
        .bind(guests_unused_since)
        .bind(now)
        .fetch_all(db.pool())
        .await?;
    for row in &gone {
        vault.shred(&crate::db::col::<String>(row, "id")?).await?;
    }
    let guests = gone.len() as u64;
    let tokens = sqlx::query("DELETE FROM tokens WHERE expires_at <= $1")
        .bind(now)
        .execute(db.pool())
        .await?
        .rows_affected();
    Ok((guests, tokens))
}

/// Sets a user's role.
pub async fn set_role(db: &Db, id: &str, role: Role) -> Result<()> {
    let done = sqlx::query("UPDATE users SET role = $1, updated_at = $2 WHERE id = $3")
        .bind(role.as_str().to_owned())
        .bind(now_ms())
        .bind(id.to_owned())
        .execute(db.pool())
        .await?;
    touched_a_row(&done)
}

/// Records that an identity provider proved the account's address. A password set while
/// the address was unproven may have been set by someone else who typed that address
/// first (to read what its owner later writes), so it is removed; returns whether one was.
pub async fn prove_email(db: &Db, id: &str) -> Result<bool> {
    let now = now_ms();
    let mut tx = db.pool().begin().await?;
    let removed = sqlx::query(
        "UPDATE users SET password_hash = NULL, updated_at = $1 \
         WHERE id = $2 AND email_verified_at IS NULL AND password_hash IS NOT NULL",
    )
    .bind(now)
    .bind(id.to_owned())
    .execute(&mut *tx)
    .await?
    .rows_affected()
        > 0;
    sqlx::query(
        "UPDATE users SET email_verified_at = $1, updated_at = $1 \
         WHERE id = $2 AND email_verified_at IS NULL",
    )
    .bind(now)
    .bind(id.to_owned())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(removed)
}

/// Replaces a registered user's password hash.
pub async fn set_password_hash(db: &Db, id: &str, password_hash: &str) -> Result<()> {
    let done = sqlx::query(
        "UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3 AND kind = 'registered'",
    )
    .bind(password_hash.to_owned())
    .bind(now_ms())
    .bind(id.to_owned())
    .execute(db.pool())
    .await?;
    touched_a_row(&done)
}

/// Sets or clears the name a registered user may choose to show instead of a pseudonym.
pub async fn set_display_name(db: &Db, id: &str, display_name: Option<&str>) -> Result<User> {
    let sql = format!(
        "UPDATE users SET display_name = $1, updated_at = $2 WHERE id = $3 RETURNING {COLUMNS}"
    );
    let row = sqlx::query(&sql)
        .bind(display_name.map(str::to_owned))
        .bind(now_ms())
        .bind(id.to_owned())
        .fetch_optional(db.pool())
        .await?
        .ok_or(Error::NotFound)?;
    from_row(&row)
}
