-- Solace's initial schema. One file serves SQLite and PostgreSQL, so it keeps to the
-- SQL both understand: TEXT ids (UUIDv7, time-ordered), BIGINT Unix-millisecond
-- timestamps, TEXT enums guarded by CHECK constraints, and no booleans.
-- Every row that holds a person's content carries its owner and goes when they go.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('guest', 'registered')),
    email         TEXT UNIQUE,
    password_hash TEXT,
    display_name  TEXT,
    pseudonym     TEXT NOT NULL,
    role          TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX users_pseudonym_idx ON users (pseudonym);

-- Login sessions, password resets and API tokens; only a hash of the secret is kept.
CREATE TABLE tokens (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('login', 'password_reset', 'api')),
    token_hash   TEXT NOT NULL UNIQUE,
    expires_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX tokens_user_idx ON tokens (user_id, kind);

-- Conversations with the AI supporter.
CREATE TABLE chat_sessions (
    id         TEXT PRIMARY KEY,
    owner_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title      TEXT NOT NULL,
    -- Set when the safety layer saw a crisis in this conversation.
    flagged_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX chat_sessions_owner_idx ON chat_sessions (owner_id, updated_at);

CREATE TABLE messages (
    id         TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
    owner_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
    content    TEXT NOT NULL,
    -- 'incomplete' marks a reply cut short by an error or a closed connection.
    status     TEXT NOT NULL DEFAULT 'complete' CHECK (status IN ('complete', 'incomplete')),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX messages_session_idx ON messages (session_id, created_at, id);
CREATE INDEX messages_owner_idx ON messages (owner_id);

CREATE TABLE rooms (
    id         TEXT PRIMARY KEY,
    host_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title      TEXT NOT NULL,
    topic      TEXT,
    visibility TEXT NOT NULL DEFAULT 'public' CHECK (visibility IN ('public', 'private')),
    capacity   BIGINT NOT NULL DEFAULT 50,
    status     TEXT NOT NULL DEFAULT 'live' CHECK (status IN ('live', 'closed')),
    closed_at  BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX rooms_status_idx ON rooms (status, created_at);

CREATE TABLE room_participants (
    room_id    TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('host', 'moderator', 'speaker', 'listener')),
    -- The name other people see: the pseudonym unless the user chose their display name.
    shown_name TEXT NOT NULL,
    joined_at  BIGINT NOT NULL,
    left_at    BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX room_participants_user_idx ON room_participants (user_id);

-- Join, leave, mute, remove and the rest, kept per the retention setting.
CREATE TABLE room_events (
    id         TEXT PRIMARY KEY,
    room_id    TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    actor_id   TEXT REFERENCES users (id) ON DELETE CASCADE,
    subject_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    detail     TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX room_events_room_idx ON room_events (room_id, created_at);

-- First-party product analytics: what was used, never what was said.
CREATE TABLE analytics_events (
    id         TEXT PRIMARY KEY,
    user_id    TEXT REFERENCES users (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    path       TEXT,
    properties TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX analytics_events_name_idx ON analytics_events (name, created_at);
