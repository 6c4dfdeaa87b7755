-- Workflows' two closed-set checks as chains of `=` rather than `IN` lists. SQLite tests
-- a constant `IN` list of more than two values through a temporary b-tree it builds on
-- every run of a statement, and every write of a workflow checks both: about 45,000
-- instructions a write, a third of a token exchange's admission. The accepted values
-- are the same (a NULL `paused_for` passes either way). SQLite cannot change a check in
-- place, so the table is rebuilt, rowids and all, with its indexes.
CREATE TABLE workflows_rebuilt (
    id            TEXT    NOT NULL PRIMARY KEY,
    agent         TEXT    NOT NULL,
    task_class    TEXT    NOT NULL,
    segment       TEXT    NOT NULL,
    status        TEXT    NOT NULL CHECK (status = 'active' OR status = 'paused'
                                          OR status = 'ended' OR status = 'expired'),
    budget_calls  INTEGER NOT NULL CHECK (budget_calls >= 0),
    budget_writes INTEGER NOT NULL CHECK (budget_writes >= 0),
    budget_bytes  INTEGER NOT NULL CHECK (budget_bytes >= 0),
    used_calls    INTEGER NOT NULL CHECK (used_calls >= 0),
    used_writes   INTEGER NOT NULL CHECK (used_writes >= 0),
    used_bytes    INTEGER NOT NULL CHECK (used_bytes >= 0),
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    paused_for    TEXT    CHECK (paused_for = 'calls' OR paused_for = 'writes'
                                 OR paused_for = 'bytes'),
    ended_by      TEXT,
    lease_calls   INTEGER NOT NULL DEFAULT 0 CHECK (lease_calls >= 0),
    lease_writes  INTEGER NOT NULL DEFAULT 0 CHECK (lease_writes >= 0),
    lease_bytes   INTEGER NOT NULL DEFAULT 0 CHECK (lease_bytes >= 0)
);
INSERT INTO workflows_rebuilt (rowid, id, agent, task_class, segment, status, budget_calls,
    budget_writes, budget_bytes, used_calls, used_writes, used_bytes, created_at,
    expires_at, paused_for, ended_by, lease_calls, lease_writes, lease_bytes)
SELECT rowid, id, agent, task_class, segment, status, budget_calls, budget_writes,
    budget_bytes, used_calls, used_writes, used_bytes, created_at, expires_at, paused_for,
    ended_by, lease_calls, lease_writes, lease_bytes
FROM workflows;
DROP TABLE workflows;
ALTER TABLE workflows_rebuilt RENAME TO workflows;
CREATE INDEX workflows_created ON workflows (created_at, id);
CREATE INDEX workflows_agent   ON workflows (agent, created_at, id);
CREATE INDEX workflows_status  ON workflows (status, created_at, id);
