-- A personal safety plan (Stanley & Brown): what the person writes to get through a
-- crisis. One per identity, stored as a JSON document in a TEXT column so that SQLite
-- and PostgreSQL share the definition.
CREATE TABLE safety_plans (
    user_id    TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    plan       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
