//! Rooms, participants, room events, blocks and reports in the database.

use serde::Serialize;
use sqlx::{FromRow, Row};

use super::policy::RoomRole;
use crate::chat::Page;
use crate::db::{new_id, now_ms, placeholders, touched_a_row, Db};
use crate::error::{Error, ErrorCode, Result};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct Room {
    pub id: String,
    #[serde(skip)]
    pub host_id: String,
    pub title: String,
    #[schema(required = true)]
    pub topic: Option<String>,
    /// `public` or `private`.
    pub visibility: String,
    pub capacity: i64,
    /// `live` or `closed`.
    pub status: String,
    #[serde(with = "crate::db::rfc3339_ms::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    #[schema(required = true)]
    pub closed_at: Option<i64>,
    #[serde(with = "crate::db::rfc3339_ms")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

impl Room {
    pub fn is_live(&self) -> bool {
        self.status == "live"
    }
}

const ROOM_COLUMNS: &str =
    "id, host_id, title, topic, visibility, capacity, status, closed_at, created_at";

/// A person in a room, as the server knows them.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Participant {
    pub user_id: String,
    pub handle: String,
    #[sqlx(try_from = "String")]
    pub role: RoomRole,
    pub shown_name: String,
    pub joined_at: i64,
    pub left_at: Option<i64>,
    pub muted_at: Option<i64>,
    pub hand_raised_at: Option<i64>,
    pub invited_at: Option<i64>,
    pub removed_at: Option<i64>,
}

impl Participant {
    pub fn is_present(&self) -> bool {
        self.left_at.is_none() && self.removed_at.is_none()
    }

    /// What everyone else in the room sees: no user id, ever.
    pub fn view(&self) -> ParticipantView {
        ParticipantView {
            handle: self.handle.clone(),
            name: self.shown_name.clone(),
            role: self.role,
            muted: self.muted_at.is_some() || !self.role.can_speak(),
            hand_raised: self.hand_raised_at.is_some(),
            invited_to_speak: self.invited_at.is_some(),
            connected: false,
            joined_at: self.joined_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ParticipantView {
    pub handle: String,
    pub name: String,
    pub role: RoomRole,
    pub muted: bool,
    pub hand_raised: bool,
    pub invited_to_speak: bool,
    /// Their audio is connected right now (presence); false while they reconnect.
    pub connected: bool,
    #[serde(with = "crate::db::rfc3339_ms")]
    #[schema(value_type = String, format = DateTime)]
    pub joined_at: i64,
}

const PARTICIPANT_COLUMNS: &str = "user_id, handle, role, shown_name, joined_at, left_at, \
     muted_at, hand_raised_at, invited_at, removed_at";

/// A new room's settings, already validated.
pub struct NewRoom<'a> {
    pub title: &'a str,
    pub topic: Option<&'a str>,
    pub visibility: &'a str,
    pub capacity: i64,
}

pub async fn create_room(db: &Db, host_id: &str, new: NewRoom<'_>) -> Result<Room> {
    let sql = format!(
        "INSERT INTO rooms (id, host_id, title, topic, visibility, capacity, status, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'live', $7, $7) RETURNING {ROOM_COLUMNS}"
    );
    Ok(sqlx::query_as(&sql)
        .bind(new_id())
        .bind(host_id.to_owned())
        .bind(new.title.to_owned())
        .bind(new.topic.map(str::to_owned))
        .bind(new.visibility.to_owned())
        .bind(new.capacity)
        .bind(now_ms())
        .fetch_one(db.pool())
        .await?)
}

pub async fn get_room(db: &Db, id: &str) -> Result<Room> {
    let sql = format!("SELECT {ROOM_COLUMNS} FROM rooms WHERE id = $1");
    sqlx::query_as(&sql)
        .bind(id.to_owned())
        .fetch_optional(db.pool())
        .await?
        .ok_or(Error::NotFound)
}

/// Live rooms (public ones only, unless `private_too`), newest first, with how many
/// people are in each.
pub async fn list_live(db: &Db, page: Page, private_too: bool) -> Result<Vec<(Room, i64)>> {
    let visibility = if private_too {
        ""
    } else {
        "AND visibility = 'public'"
    };
    let sql = format!(
        "SELECT {ROOM_COLUMNS}, (SELECT COUNT(*) FROM room_participants p \
           WHERE p.room_id = rooms.id AND p.left_at IS NULL AND p.removed_at IS NULL) AS present \
         FROM rooms WHERE status = 'live' {visibility} \
         ORDER BY created_at DESC, id DESC LIMIT $1 OFFSET $2"
    );
    let rows = sqlx::query(&sql)
        .bind(page.limit)
        .bind(page.offset)
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|row| Ok((Room::from_row(row)?, row.try_get("present")?)))
        .collect()
}

/// Everyone present, hosts and speakers first, then by arrival.
pub async fn present(db: &Db, room_id: &str) -> Result<Vec<Participant>> {
    let sql = format!(
        "SELECT {PARTICIPANT_COLUMNS} FROM room_participants \
         WHERE room_id = $1 AND left_at IS NULL AND removed_at IS NULL \
         ORDER BY CASE role WHEN 'host' THEN 0 WHEN 'moderator' THEN 1 WHEN 'speaker' THEN 2 ELSE 3 END, joined_at"
    );
    Ok(sqlx::query_as(&sql)
        .bind(room_id.to_owned())
        .fetch_all(db.pool())
        .await?)
}

pub async fn participant(db: &Db, room_id: &str, user_id: &str) -> Result<Option<Participant>> {
    let sql = format!(
        "SELECT {PARTICIPANT_COLUMNS} FROM room_participants WHERE room_id = $1 AND user_id = $2"
    );
    Ok(sqlx::query_as(&sql)
        .bind(room_id.to_owned())
        .bind(user_id.to_owned())
        .fetch_optional(db.pool())
        .await?)
}

/// A present participant by handle; anyone else is not found.
pub async fn by_handle(db: &Db, room_id: &str, handle: &str) -> Result<Participant> {
    let sql = format!(
        "SELECT {PARTICIPANT_COLUMNS} FROM room_participants \
         WHERE room_id = $1 AND handle = $2 AND left_at IS NULL AND removed_at IS NULL"
    );
    sqlx::query_as(&sql)
        .bind(room_id.to_owned())
        .bind(handle.to_owned())
        .fetch_optional(db.pool())
        .await?
        .ok_or(Error::NotFound)
}

/// Everyone present in a live room, with their room.
pub async fn everyone_present(db: &Db) -> Result<Vec<(Room, Participant)>> {
    present_in_live_rooms(db, None).await
}

/// Live rooms where someone is present now, with their seat.
pub async fn present_rooms_of(db: &Db, user_id: &str) -> Result<Vec<(Room, Participant)>> {
    present_in_live_rooms(db, Some(user_id)).await
}

async fn present_in_live_rooms(db: &Db, user_id: Option<&str>) -> Result<Vec<(Room, Participant)>> {
    let room_columns = ROOM_COLUMNS
        .split(", ")
        .map(|c| format!("r.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let participant_columns = PARTICIPANT_COLUMNS
        .split(", ")
        .map(|c| format!("p.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT {room_columns}, {participant_columns} FROM room_participants p \
         JOIN rooms r ON r.id = p.room_id \
         WHERE r.status = 'live' AND p.left_at IS NULL AND p.removed_at IS NULL{}",
        if user_id.is_some() {
            " AND p.user_id = $1"
        } else {
            ""
        }
    );
    let mut query = sqlx::query(&sql);
    if let Some(user_id) = user_id {
        query = query.bind(user_id.to_owned());
    }
    let rows = query.fetch_all(db.pool()).await?;
    rows.iter()
        .map(|row| Ok((Room::from_row(row)?, Participant::from_row(row)?)))
        .collect()
}

/// Live rooms with nobody in them and nothing happening since `before` (ms).
pub async fn idle_rooms(db: &Db, before: i64) -> Result<Vec<Room>> {
    let sql = format!(
        "SELECT {ROOM_COLUMNS} FROM rooms WHERE status = 'live' AND updated_at < $1 \
         AND NOT EXISTS (SELECT 1 FROM room_participants p WHERE p.room_id = rooms.id \
           AND p.left_at IS NULL AND p.removed_at IS NULL) \
         AND NOT EXISTS (SELECT 1 FROM room_events e WHERE e.room_id = rooms.id AND e.created_at >= $1)"
    );
    Ok(sqlx::query_as(&sql)
        .bind(before)
        .fetch_all(db.pool())
        .await?)
}

/// Deletes room history older than `before` (ms); returns how many rows went.
pub async fn delete_events_before(db: &Db, before: i64) -> Result<u64> {
    let done = sqlx::query("DELETE FROM room_events WHERE created_at < $1")
        .bind(before)
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected())
}

/// Puts someone in the room (again): present, with `role`, muted, hand down, no invitation.
/// A returning participant keeps their handle.
pub async fn enter(
    db: &Db,
    room: &Room,
    user_id: &str,
    role: RoomRole,
    shown_name: &str,
) -> Result<Participant> {
    let now = now_ms();
    let mut tx = db.pool().begin().await?;
    let present: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM room_participants \
         WHERE room_id = $1 AND left_at IS NULL AND removed_at IS NULL AND user_id <> $2",
    )
    .bind(room.id.clone())
    .bind(user_id.to_owned())
    .fetch_one(&mut *tx)
    .await?;
    if present >= room.capacity {
        return Err(Error::Conflict {
            code: ErrorCode::RoomFull,
            message: "This room is full. Try another one, or come back a little later.".into(),
        });
    }
    let updated = sqlx::query(
        "UPDATE room_participants SET role = $1, shown_name = $2, joined_at = $3, left_at = NULL, \
           muted_at = $3, hand_raised_at = NULL, invited_at = NULL, updated_at = $3 \
         WHERE room_id = $4 AND user_id = $5",
    )
    .bind(role.as_str())
    .bind(shown_name.to_owned())
    .bind(now)
    .bind(room.id.clone())
    .bind(user_id.to_owned())
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() == 0 {
        let handle: String = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
        sqlx::query(
            "INSERT INTO room_participants (room_id, user_id, handle, role, shown_name, joined_at, \
               muted_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6, $6, $6)",
        )
        .bind(room.id.clone())
        .bind(user_id.to_owned())
        .bind(handle)
        .bind(role.as_str())
        .bind(shown_name.to_owned())
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    participant(db, &room.id, user_id)
        .await?
        .ok_or(Error::NotFound)
}

/// One timestamp state of a participant.
#[derive(Debug, Clone, Copy)]
pub enum State {
    Left,
    Muted,
    HandRaised,
    Invited,
    Removed,
}

impl State {
    fn column(self) -> &'static str {
        match self {
            Self::Left => "left_at",
            Self::Muted => "muted_at",
            Self::HandRaised => "hand_raised_at",
            Self::Invited => "invited_at",
            Self::Removed => "removed_at",
        }
    }
}

/// Sets (`on`) or clears a state of one participant.
pub async fn set_state(
    db: &Db,
    room_id: &str,
    user_id: &str,
    state: State,
    on: bool,
) -> Result<()> {
    let now = now_ms();
    let sql = format!(
        "UPDATE room_participants SET {column} = $1, updated_at = $2 WHERE room_id = $3 AND user_id = $4",
        column = state.column()
    );
    let done = sqlx::query(&sql)
        .bind(on.then_some(now))
        .bind(now)
        .bind(room_id.to_owned())
        .bind(user_id.to_owned())
        .execute(db.pool())
        .await?;
    touched_a_row(&done)
}

/// Gives a participant a new role; a new listener loses hand, invitation and microphone,
/// and a new speaker starts muted, so nobody is on air before they choose to be.
pub async fn set_role(db: &Db, room_id: &str, user_id: &str, role: RoomRole) -> Result<()> {
    let now = now_ms();
    let done = sqlx::query(
        "UPDATE room_participants SET hand_raised_at = NULL, invited_at = NULL, \
           muted_at = CASE WHEN $1 = 'listener' THEN NULL WHEN role = 'listener' THEN $2 ELSE muted_at END, \
           role = $1, updated_at = $2 \
         WHERE room_id = $3 AND user_id = $4",
    )
    .bind(role.as_str())
    .bind(now)
    .bind(room_id.to_owned())
    .bind(user_id.to_owned())
    .execute(db.pool())
    .await?;
    touched_a_row(&done)
}

/// Mutes everyone present who may speak, except the given people; returns the handles
/// of those it muted.
pub async fn mute_all(db: &Db, room_id: &str, except: &[&str]) -> Result<Vec<String>> {
    let now = now_ms();
    // One statement: everyone present who may speak and is not muted yet, except the
    // spared (placeholders $3, $4, … for them).
    let spared = placeholders(3, except.len());
    let sql = format!(
        "UPDATE room_participants SET muted_at = $1, updated_at = $1 \
         WHERE room_id = $2 AND left_at IS NULL AND removed_at IS NULL AND muted_at IS NULL \
           AND role <> 'listener'{spared} RETURNING handle",
        spared = if except.is_empty() {
            String::new()
        } else {
            format!(" AND user_id NOT IN ({spared})")
        }
    );
    let mut query = sqlx::query(&sql).bind(now).bind(room_id.to_owned());
    for user_id in except {
        query = query.bind(user_id.to_string());
    }
    query
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(|row| Ok(row.try_get("handle")?))
        .collect()
}

/// Ends the room: everyone present leaves.
pub async fn close_room(db: &Db, room_id: &str) -> Result<Room> {
    let now = now_ms();
    let mut tx = db.pool().begin().await?;
    sqlx::query(
        "UPDATE room_participants SET left_at = $1, updated_at = $1 WHERE room_id = $2 AND left_at IS NULL",
    )
    .bind(now)
    .bind(room_id.to_owned())
    .execute(&mut *tx)
    .await?;
    let sql = format!(
        "UPDATE rooms SET status = 'closed', closed_at = $1, updated_at = $1 WHERE id = $2 RETURNING {ROOM_COLUMNS}"
    );
    let room = sqlx::query_as(&sql)
        .bind(now)
        .bind(room_id.to_owned())
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(room)
}

/// Appends to the room's history.
pub async fn record(
    db: &Db,
    room_id: &str,
    actor_id: Option<&str>,
    subject_id: Option<&str>,
    kind: &str,
    detail: Option<&str>,
) -> Result<()> {
    let now = now_ms();
    sqlx::query(
        "INSERT INTO room_events (id, room_id, actor_id, subject_id, kind, detail, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(new_id())
    .bind(room_id.to_owned())
    .bind(actor_id.map(str::to_owned))
    .bind(subject_id.map(str::to_owned))
    .bind(kind.to_owned())
    .bind(detail.map(str::to_owned))
    .bind(now)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// One line of a room's history, with names as the room saw them.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct HistoryEntry {
    pub kind: String,
    #[schema(required = true)]
    pub actor: Option<String>,
    #[schema(required = true)]
    pub subject: Option<String>,
    #[schema(required = true)]
    pub detail: Option<String>,
    #[serde(with = "crate::db::rfc3339_ms")]
    #[schema(value_type = String, format = DateTime)]
    #[sqlx(rename = "created_at")]
    pub at: i64,
}

pub async fn history(db: &Db, room_id: &str, limit: i64) -> Result<Vec<HistoryEntry>> {
    Ok(sqlx::query_as(
        "SELECT e.kind, e.detail, e.created_at, a.shown_name AS actor, s.shown_name AS subject \
         FROM room_events e \
         LEFT JOIN room_participants a ON a.room_id = e.room_id AND a.user_id = e.actor_id \
         LEFT JOIN room_participants s ON s.room_id = e.room_id AND s.user_id = e.subject_id \
         WHERE e.room_id = $1 ORDER BY e.created_at DESC, e.id DESC LIMIT $2",
    )
    .bind(room_id.to_owned())
    .bind(limit)
    .fetch_all(db.pool())
    .await?)
}

pub async fn block(db: &Db, blocker_id: &str, blocked_id: &str, on: bool) -> Result<()> {
    let query = if on {
        sqlx::query(
            "INSERT INTO room_blocks (blocker_id, blocked_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $3) ON CONFLICT (blocker_id, blocked_id) DO NOTHING",
        )
        .bind(blocker_id.to_owned())
        .bind(blocked_id.to_owned())
        .bind(now_ms())
    } else {
        sqlx::query("DELETE FROM room_blocks WHERE blocker_id = $1 AND blocked_id = $2")
            .bind(blocker_id.to_owned())
            .bind(blocked_id.to_owned())
    };
    query.execute(db.pool()).await?;
    Ok(())
}

/// The user ids this person blocked.
pub async fn blocked_by(db: &Db, blocker_id: &str) -> Result<Vec<String>> {
    Ok(
        sqlx::query_scalar("SELECT blocked_id FROM room_blocks WHERE blocker_id = $1")
            .bind(blocker_id.to_owned())
            .fetch_all(db.pool())
            .await?,
    )
}

pub async fn report(
    db: &Db,
    reporter_id: &str,
    subject_id: &str,
    room_id: &str,
    reason: &str,
) -> Result<String> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO reports (id, reporter_id, subject_id, room_id, reason, status, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 'open', $6, $6)",
    )
    .bind(id.clone())
    .bind(reporter_id.to_owned())
    .bind(subject_id.to_owned())
    .bind(room_id.to_owned())
    .bind(reason.to_owned())
    .bind(now_ms())
    .execute(db.pool())
    .await?;
    Ok(id)
}

/// A report as administrators see it: who was reported under which name, why, where.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct ReportView {
    pub id: String,
    #[schema(required = true)]
    pub room_id: Option<String>,
    #[schema(required = true)]
    pub room_title: Option<String>,
    pub subject_id: String,
    #[schema(required = true)]
    pub subject_name: Option<String>,
    pub reason: String,
    pub status: String,
    /// What an administrator did: `warned`, `removed`, `banned` or `dismissed`.
    #[schema(required = true)]
    pub action: Option<String>,
    #[serde(with = "crate::db::rfc3339_ms")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

const REPORT_SELECT: &str = "SELECT r.id, r.room_id, rooms.title AS room_title, r.subject_id, \
       p.shown_name AS subject_name, r.reason, r.status, r.action, r.created_at \
     FROM reports r \
     LEFT JOIN rooms ON rooms.id = r.room_id \
     LEFT JOIN room_participants p ON p.room_id = r.room_id AND p.user_id = r.subject_id";

pub async fn reports(db: &Db, status: &str, page: Page) -> Result<Vec<ReportView>> {
    let sql = format!(
        "{REPORT_SELECT} WHERE r.status = $1 ORDER BY r.created_at, r.id LIMIT $2 OFFSET $3"
    );
    Ok(sqlx::query_as(&sql)
        .bind(status.to_owned())
        .bind(page.limit)
        .bind(page.offset)
        .fetch_all(db.pool())
        .await?)
}

/// One report; 404 `not_found` when there is none.
pub async fn report_by_id(db: &Db, id: &str) -> Result<ReportView> {
    let sql = format!("{REPORT_SELECT} WHERE r.id = $1");
    sqlx::query_as(&sql)
        .bind(id.to_owned())
        .fetch_optional(db.pool())
        .await?
        .ok_or(Error::NotFound)
}

/// Opens a report again (what was to be done about it failed).
pub async fn reopen_report(db: &Db, id: &str) -> Result<()> {
    sqlx::query(
        "UPDATE reports SET status = 'open', resolved_by = NULL, action = NULL, updated_at = $1 WHERE id = $2",
    )
    .bind(now_ms())
    .bind(id.to_owned())
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Marks an open report resolved, saying what was done; 409 when it already was.
pub async fn resolve_report(db: &Db, id: &str, admin_id: &str, action: &str) -> Result<()> {
    let now = now_ms();
    let done = sqlx::query(
        "UPDATE reports SET status = 'resolved', resolved_by = $1, action = $2, updated_at = $3 \
         WHERE id = $4 AND status = 'open'",
    )
    .bind(admin_id.to_owned())
    .bind(action.to_owned())
    .bind(now)
    .bind(id.to_owned())
    .execute(db.pool())
    .await?;
    if done.rows_affected() == 0 {
        report_by_id(db, id).await?;
        return Err(Error::Conflict {
            code: ErrorCode::AlreadyResolved,
            message: "This report has already been handled.".into(),
        });
    }
    Ok(())
}
