//! People who use Solace: guests under a pseudonym, and registered accounts.
//!
//! Sign-up, login and sessions live in the auth module; this module owns the rows.

use serde::Serialize;
use sqlx::any::AnyRow;

use crate::db::{col, new_id, now_ms, touched_a_row, Db};
use crate::error::{Error, Result};

/// Whether someone has an account or is visiting anonymously.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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

    fn parse(raw: &str) -> Result<Self> {
        match raw {
            "guest" => Ok(Self::Guest),
            "registered" => Ok(Self::Registered),
            other => Err(Error::Database(sqlx::Error::Decode(
                format!("unknown user kind '{other}'").into(),
            ))),
        }
    }
}

/// A user row. The password hash is never serialised.
#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: String,
    pub kind: UserKind,
    pub email: Option<String>,
    #[serde(skip)]
    pub password_hash: Option<String>,
    pub display_name: Option<String>,
    pub pseudonym: String,
    pub role: String,
    #[serde(with = "crate::db::rfc3339_ms")]
    pub created_at: i64,
    #[serde(with = "crate::db::rfc3339_ms")]
    pub updated_at: i64,
}

const COLUMNS: &str =
    "id, kind, email, password_hash, display_name, pseudonym, role, created_at, updated_at";

fn from_row(row: &AnyRow) -> Result<User> {
    Ok(User {
        id: col(row, "id")?,
        kind: UserKind::parse(&col::<String>(row, "kind")?)?,
        email: col(row, "email")?,
        password_hash: col(row, "password_hash")?,
        display_name: col(row, "display_name")?,
        pseudonym: col(row, "pseudonym")?,
        role: col(row, "role")?,
        created_at: col(row, "created_at")?,
        updated_at: col(row, "updated_at")?,
    })
}

/// What a new user row needs.
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    pub kind: UserKind,
    pub email: Option<&'a str>,
    pub password_hash: Option<&'a str>,
    pub display_name: Option<&'a str>,
    pub pseudonym: &'a str,
}

/// Inserts a user; a taken email is a 409 `email_taken`.
#[tracing::instrument(skip_all, fields(kind = ?new.kind))]
pub async fn create(db: &Db, new: NewUser<'_>) -> Result<User> {
    let now = now_ms();
    let sql = format!(
        "INSERT INTO users ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, 'user', $7, $7) RETURNING {COLUMNS}"
    );
    let row = sqlx::query(&sql)
        .bind(new_id())
        .bind(new.kind.as_str())
        .bind(new.email.map(str::to_lowercase))
        .bind(new.password_hash.map(str::to_owned))
        .bind(new.display_name.map(str::to_owned))
        .bind(new.pseudonym.to_owned())
        .bind(now)
        .fetch_one(db.pool())
        .await
        .map_err(|e| {
            Error::conflict_on_unique(
                e,
                "email_taken",
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

/// Deletes a user and, through the schema's cascades, everything they own.
#[tracing::instrument(skip_all)]
pub async fn delete(db: &Db, id: &str) -> Result<()> {
    let done = sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(id.to_owned())
        .execute(db.pool())
        .await?;
    touched_a_row(&done)
}
