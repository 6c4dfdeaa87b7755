-- Events are kept as their JSON line (the text the events file gets, `serde_json` of
-- gatehouse_core::event::Event) beside the columns queries filter and sort on. Binding
-- and packing 23 columns per row cost SQLite more than its six indexes together; eight
-- columns halve the cost of writing an event. Every row is carried over, its line built
-- from its columns with the field names and types the event's JSON has.
CREATE TABLE events_new (
    id          TEXT    NOT NULL PRIMARY KEY,
    time_ms     INTEGER NOT NULL,
    agent       TEXT,
    workflow    TEXT,
    tool        TEXT,
    intent      TEXT,
    outcome     TEXT    NOT NULL
                CHECK (outcome IN ('allow', 'deny', 'error', 'confirm', 'pending')),
    line        TEXT    NOT NULL
);

INSERT INTO events_new SELECT id, time_ms, agent, workflow, tool, intent, outcome,
    json_object('id', id, 'time_ms', time_ms, 'kind', kind, 'agent', agent,
        'workflow', workflow, 'task_class', task_class, 'tool', tool, 'segment', segment,
        'method', method, 'path', path, 'intent', intent, 'outcome', outcome,
        'refusal', refusal, 'reason', reason, 'policies', json(policies), 'tier', tier,
        'data_class', data_class, 'status', status, 'bytes_in', bytes_in,
        'bytes_out', bytes_out, 'latency_us', latency_us, 'upstream_us', upstream_us,
        'actor', actor)
    FROM events;
DROP TABLE events;
ALTER TABLE events_new RENAME TO events;

CREATE INDEX events_agent    ON events (agent, id);
CREATE INDEX events_workflow ON events (workflow, id);
CREATE INDEX events_tool     ON events (tool, id);
CREATE INDEX events_intent   ON events (intent, id);
CREATE INDEX events_outcome  ON events (outcome, id);
CREATE INDEX events_time     ON events (time_ms);
