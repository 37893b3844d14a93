-- Administrators can ban an account: it is signed out everywhere and cannot sign in.
ALTER TABLE users ADD COLUMN banned_at BIGINT;
ALTER TABLE users ADD COLUMN banned_reason TEXT;

-- What an administrator did about a report (warned, removed, banned, dismissed).
ALTER TABLE reports ADD COLUMN action TEXT;

-- Every administrator action: who, what, to which kind of thing, when. Never content;
-- the target is an id, kept after the target is deleted.
CREATE TABLE admin_audit (
    id          TEXT PRIMARY KEY,
    actor_id    TEXT REFERENCES users (id) ON DELETE SET NULL,
    action      TEXT NOT NULL,
    target_kind TEXT NOT NULL,
    target_id   TEXT,
    detail      TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX admin_audit_created_idx ON admin_audit (created_at);

-- Counts by day for the admin overview (safety alarms by severity, seconds spoken in
-- rooms): numbers only, linked to no one.
CREATE TABLE daily_counts (
    day   BIGINT NOT NULL,
    name  TEXT NOT NULL,
    value BIGINT NOT NULL,
    PRIMARY KEY (day, name)
);
