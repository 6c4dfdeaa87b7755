-- The event log: one row per decision (gatehouse_core::event::Event).
-- `id` is the 26-character Crockford text of the decision id, so `ORDER BY id` is time
-- order. `policies` is a JSON array of policy ids. Unsigned counters are stored as
-- INTEGER (signed 64-bit) and clamped on the way in.
CREATE TABLE events (
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
    outcome     TEXT    NOT NULL CHECK (outcome IN ('allow', 'deny', 'error')),
    refusal     TEXT,
    reason      TEXT,
    policies    TEXT    NOT NULL,
    tier        TEXT,
    data_class  TEXT,
    status      INTEGER NOT NULL,
    bytes_in    INTEGER NOT NULL,
    bytes_out   INTEGER NOT NULL,
    latency_us  INTEGER NOT NULL,
    upstream_us INTEGER
);

-- Each filter column is paired with `id` so a filtered, newest-first query walks one
-- index in order and stops at its limit.
CREATE INDEX events_agent    ON events (agent, id);
CREATE INDEX events_workflow ON events (workflow, id);
CREATE INDEX events_tool     ON events (tool, id);
CREATE INDEX events_intent   ON events (intent, id);
CREATE INDEX events_outcome  ON events (outcome, id);
CREATE INDEX events_time     ON events (time_ms);
