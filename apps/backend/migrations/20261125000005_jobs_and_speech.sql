-- Background jobs (text-to-speech first): a durable queue in the database for the
-- embedded deployment and for PostgreSQL; Redis holds its own when JOBS_BACKEND=redis.
-- Payloads hold references only (a session and a clip key), never what someone said.
CREATE TABLE jobs (
    id              TEXT PRIMARY KEY,
    queue           TEXT NOT NULL,
    -- Enqueueing the same key again is a no-op: one job per piece of work.
    idempotency_key TEXT NOT NULL UNIQUE,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'dead')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    max_attempts    BIGINT NOT NULL,
    run_at          BIGINT NOT NULL,
    locked_by       TEXT,
    locked_until    BIGINT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX jobs_ready_idx ON jobs (queue, status, run_at);

-- Spoken replies, one clip per sentence, cached by content hash (provider, voice and
-- text) within a conversation so replays are free. The text waits here until it is
-- spoken and is then cleared; deleting the conversation deletes its clips.
CREATE TABLE speech_clips (
    session_id   TEXT NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
    owner_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    clip_key     TEXT NOT NULL,
    provider     TEXT NOT NULL,
    voice        TEXT NOT NULL,
    text         TEXT,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'ready', 'failed')),
    content_type TEXT,
    -- Base64, so that SQLite and PostgreSQL share one column type.
    audio        TEXT,
    error        TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (session_id, clip_key)
);
CREATE INDEX speech_clips_owner_idx ON speech_clips (owner_id);
