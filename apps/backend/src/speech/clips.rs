//! Stored speech clips.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Serialize;

use crate::db::{col, now_ms, Db};
use crate::error::Result;
use crate::vault::Slot;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Ready,
    Failed,
}

impl Status {
    fn parse(raw: &str) -> Self {
        match raw {
            "ready" => Self::Ready,
            "failed" => Self::Failed,
            _ => Self::Pending,
        }
    }
}

/// A clip as the API names it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Clip {
    pub key: String,
    /// Where its audio is fetched (it waits until the clip is ready).
    pub url: String,
    #[serde(skip)]
    #[schema(ignore)]
    pub status: Status,
}

fn clip(session_id: &str, key: &str, status: Status) -> Clip {
    Clip {
        key: key.to_owned(),
        url: format!("/api/ai/speech/{session_id}/{key}"),
        status,
    }
}

/// Adds a pending clip unless this one exists; returns it either way.
pub async fn add(
    db: &Db,
    owner_id: &str,
    session_id: &str,
    key: &str,
    provider: &str,
    voice: &str,
    text: &str,
) -> Result<Clip> {
    let now = now_ms();
    let row_key = format!("{session_id}/{key}");
    let text = db
        .vault()?
        .sealer(owner_id)
        .await?
        .seal_text(Slot::new(TEXT_SLOT, &row_key), text)?;
    sqlx::query(
        "INSERT INTO speech_clips (session_id, owner_id, clip_key, provider, voice, text, status, \
           created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $7) \
         ON CONFLICT (session_id, clip_key) DO NOTHING",
    )
    .bind(session_id.to_owned())
    .bind(owner_id.to_owned())
    .bind(key.to_owned())
    .bind(provider.to_owned())
    .bind(voice.to_owned())
    .bind(text.clone())
    .bind(now)
    .execute(db.pool())
    .await?;
    // A clip that failed before is tried again.
    sqlx::query(
        "UPDATE speech_clips SET status = 'pending', text = $1, error = NULL, updated_at = $2 \
         WHERE session_id = $3 AND clip_key = $4 AND status = 'failed'",
    )
    .bind(text)
    .bind(now)
    .bind(session_id.to_owned())
    .bind(key.to_owned())
    .execute(db.pool())
    .await?;
    let row =
        sqlx::query("SELECT status FROM speech_clips WHERE session_id = $1 AND clip_key = $2")
            .bind(session_id.to_owned())
            .bind(key.to_owned())
            .fetch_one(db.pool())
            .await?;
    Ok(clip(
        session_id,
        key,
        Status::parse(&col::<String>(&row, "status")?),
    ))
}

/// Where a clip's text and audio are sealed; the row is `session/clip key`.
const TEXT_SLOT: &str = "speech_clips.text";
const AUDIO_SLOT: &str = "speech_clips.audio";

/// A clip still to be spoken (or failed before: an operator may have retried its job).
pub struct PendingClip {
    pub owner_id: String,
    pub voice: String,
    pub text: String,
}

pub async fn pending(db: &Db, session_id: &str, key: &str) -> Result<Option<PendingClip>> {
    let row = sqlx::query(
        "SELECT owner_id, voice, text FROM speech_clips WHERE session_id = $1 AND clip_key = $2 \
           AND status IN ('pending', 'failed') AND text IS NOT NULL",
    )
    .bind(session_id.to_owned())
    .bind(key.to_owned())
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let row_key = format!("{session_id}/{key}");
    Ok(Some(PendingClip {
        owner_id: col(&row, "owner_id")?,
        voice: col(&row, "voice")?,
        text: db
            .vault()?
            .open_text(Slot::new(TEXT_SLOT, &row_key), col(&row, "text")?)
            .await?,
    }))
}

/// Stores the audio, sealed; the text is no longer needed here.
pub async fn ready(
    db: &Db,
    owner_id: &str,
    session_id: &str,
    key: &str,
    content_type: &str,
    audio: &[u8],
) -> Result<()> {
    let audio = db.vault()?.sealer(owner_id).await?.seal_text(
        Slot::new(AUDIO_SLOT, &format!("{session_id}/{key}")),
        &STANDARD.encode(audio),
    )?;
    sqlx::query(
        "UPDATE speech_clips SET status = 'ready', content_type = $1, audio = $2, text = NULL, \
           error = NULL, updated_at = $3 WHERE session_id = $4 AND clip_key = $5",
    )
    .bind(content_type.to_owned())
    .bind(audio)
    .bind(now_ms())
    .bind(session_id.to_owned())
    .bind(key.to_owned())
    .execute(db.pool())
    .await?;
    Ok(())
}

pub async fn failed(db: &Db, session_id: &str, key: &str, error: &str) -> Result<()> {
    sqlx::query(
        "UPDATE speech_clips SET status = 'failed', error = $1, updated_at = $2 \
         WHERE session_id = $3 AND clip_key = $4",
    )
    .bind(error.chars().take(300).collect::<String>())
    .bind(now_ms())
    .bind(session_id.to_owned())
    .bind(key.to_owned())
    .execute(db.pool())
    .await?;
    Ok(())
}

/// A clip as its owner fetches it.
pub enum Fetched {
    Pending,
    Ready {
        content_type: String,
        audio: Vec<u8>,
    },
    Failed,
}

/// The clip, if it is the owner's.
pub async fn fetch(
    db: &Db,
    owner_id: &str,
    session_id: &str,
    key: &str,
) -> Result<Option<Fetched>> {
    let row = sqlx::query(
        "SELECT status, content_type, audio FROM speech_clips \
         WHERE owner_id = $1 AND session_id = $2 AND clip_key = $3",
    )
    .bind(owner_id.to_owned())
    .bind(session_id.to_owned())
    .bind(key.to_owned())
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(match Status::parse(&col::<String>(&row, "status")?) {
        Status::Pending => Fetched::Pending,
        Status::Failed => Fetched::Failed,
        Status::Ready => {
            let audio = db
                .vault()?
                .open_text_opt(
                    Slot::new(AUDIO_SLOT, &format!("{session_id}/{key}")),
                    col(&row, "audio")?,
                )
                .await?;
            Fetched::Ready {
                content_type: col::<Option<String>>(&row, "content_type")?
                    .unwrap_or_else(|| "application/octet-stream".into()),
                audio: STANDARD
                    .decode(audio.unwrap_or_default())
                    .map_err(|e| crate::error::Error::Cache(format!("stored audio: {e}")))?,
            }
        }
    }))
}
