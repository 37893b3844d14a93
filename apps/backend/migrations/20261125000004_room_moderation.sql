-- Live room state and moderation. States are timestamps (NULL = not so), which both
-- engines store alike and which say when something happened.
ALTER TABLE room_participants ADD COLUMN handle TEXT;
ALTER TABLE room_participants ADD COLUMN muted_at BIGINT;
ALTER TABLE room_participants ADD COLUMN hand_raised_at BIGINT;
ALTER TABLE room_participants ADD COLUMN invited_at BIGINT;
ALTER TABLE room_participants ADD COLUMN removed_at BIGINT;
-- Other people see a participant by this per-room handle, never by their user id.
CREATE UNIQUE INDEX room_participants_handle_idx ON room_participants (room_id, handle);

-- Who chose not to hear whom, across rooms.
CREATE TABLE room_blocks (
    blocker_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    blocked_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (blocker_id, blocked_id)
);

-- Reports of a participant, for administrators to review.
CREATE TABLE reports (
    id          TEXT PRIMARY KEY,
    reporter_id TEXT REFERENCES users (id) ON DELETE SET NULL,
    subject_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    room_id     TEXT REFERENCES rooms (id) ON DELETE SET NULL,
    reason      TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
    resolved_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX reports_status_idx ON reports (status, created_at);
