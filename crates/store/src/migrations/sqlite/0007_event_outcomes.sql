-- Decisions may also hold a call for confirmation (`confirm`) or park it for approval
-- (`pending`). SQLite cannot alter a CHECK constraint, so the table is rebuilt with the
-- wider one and every row and index carried over.
CREATE TABLE events_new (
    id          TEXT    NOT NULL PRIMARY KEY,
    time_ms     INTEGER NOT NULL,
    kind        TEXT    NOT NULL,
    agent       TEXT,
    workflow    TEXT,
    task_class  TEXT,
    tool        TEXT,
    segment     TEXT,
    method      TEXT    NOT NULL,
    path        TEXT    NOT NULL,
    intent      TEXT,
    outcome     TEXT    NOT NULL
                CHECK (outcome IN ('allow', 'deny', 'error', 'confirm', 'pending')),
    refusal     TEXT,
    reason      TEXT,
    policies    TEXT    NOT NULL,
    tier        TEXT,
    data_class  TEXT,
    status      INTEGER NOT NULL,
    bytes_in    INTEGER NOT NULL,
    bytes_out   INTEGER NOT NULL,
    latency_us  INTEGER NOT NULL,
    upstream_us INTEGER,
    actor       TEXT
);

INSERT INTO events_new SELECT id, time_ms, kind, agent, workflow, task_class, tool, segment,
    method, path, intent, outcome, refusal, reason, policies, tier, data_class, status,
    bytes_in, bytes_out, latency_us, upstream_us, actor FROM events;
DROP TABLE events;
ALTER TABLE events_new RENAME TO events;

CREATE INDEX events_agent    ON events (agent, id);
CREATE INDEX events_workflow ON events (workflow, id);
CREATE INDEX events_tool     ON events (tool, id);
CREATE INDEX events_intent   ON events (intent, id);
CREATE INDEX events_outcome  ON events (outcome, id);
CREATE INDEX events_time     ON events (time_ms);
