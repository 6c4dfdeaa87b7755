-- Workflows (gatehouse_core::workflow::Workflow), one row each, replaced as their status,
-- usage and budget change. Budget and usage are one INTEGER column per part so they can
-- be queried; values beyond the signed 64-bit range are clamped on the way in. Times are
-- Unix seconds.
CREATE TABLE workflows (
    id            TEXT    NOT NULL PRIMARY KEY,
    agent         TEXT    NOT NULL,
    task_class    TEXT    NOT NULL,
    segment       TEXT    NOT NULL,
    status        TEXT    NOT NULL CHECK (status IN ('active', 'paused', 'ended', 'expired')),
    budget_calls  INTEGER NOT NULL CHECK (budget_calls >= 0),
    budget_writes INTEGER NOT NULL CHECK (budget_writes >= 0),
    budget_bytes  INTEGER NOT NULL CHECK (budget_bytes >= 0),
    used_calls    INTEGER NOT NULL CHECK (used_calls >= 0),
    used_writes   INTEGER NOT NULL CHECK (used_writes >= 0),
    used_bytes    INTEGER NOT NULL CHECK (used_bytes >= 0),
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    paused_for    TEXT    CHECK (paused_for IN ('calls', 'writes', 'bytes')),
    ended_by      TEXT
);

-- Listing is newest first, optionally by agent or status: each index walks in that order
-- and stops at the limit.
CREATE INDEX workflows_created ON workflows (created_at, id);
CREATE INDEX workflows_agent   ON workflows (agent, created_at, id);
CREATE INDEX workflows_status  ON workflows (status, created_at, id);
