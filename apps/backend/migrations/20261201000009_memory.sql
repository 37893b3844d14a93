-- Memory across conversations: each finished turn's pieces with their vectors, searched
-- exactly and only within one person's own items. Deleting the message, its
-- conversation or the person deletes what was remembered of it.
CREATE TABLE memory_items (
    id         TEXT PRIMARY KEY,
    owner_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id TEXT NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
    message_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    -- Which piece of the message (long turns are stored in pieces of ~600 characters).
    piece      BIGINT NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    text       TEXT NOT NULL,
    -- The embedding model that made the vector; another model's vectors are stale
    -- until `solace memory reindex` redoes them.
    model      TEXT NOT NULL,
    -- Little-endian f32s, unit length. (SQLite stores the bytes as a BLOB.)
    vector     BYTEA NOT NULL,
    -- When the message was said (Unix milliseconds).
    said_at    BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (message_id, piece)
);
CREATE INDEX memory_items_owner_idx ON memory_items (owner_id, model, created_at);
CREATE INDEX memory_items_session_idx ON memory_items (session_id);

-- The person's choices: memory paused (nothing new is kept or recalled), and whether
-- moments the safety layer flagged may be remembered (off unless they opt in).
ALTER TABLE users ADD COLUMN memory_paused_at BIGINT;
ALTER TABLE users ADD COLUMN memory_hard_moments_at BIGINT;
