-- Forensic recordings: one row per recorded call, keyed by its event's decision id.
CREATE TABLE recordings (
    id TEXT PRIMARY KEY,
    time_ms INTEGER NOT NULL,
    agent TEXT NOT NULL,
    workflow TEXT NOT NULL,
    tool TEXT NOT NULL,
    request TEXT NOT NULL,
    response TEXT NOT NULL
);
CREATE INDEX recordings_newest ON recordings (time_ms DESC, id DESC);
CREATE INDEX recordings_agent ON recordings (agent, time_ms DESC, id DESC);
