-- Baselines (issue 15): calls and bytes of each agent's intents per Unix hour (UTC),
-- added to by each gateway's flush of its in-memory tallies.
CREATE TABLE baseline_hours (
    agent  TEXT    NOT NULL,
    intent TEXT    NOT NULL,
    hour   INTEGER NOT NULL,
    calls  INTEGER NOT NULL CHECK (calls >= 0),
    bytes  INTEGER NOT NULL CHECK (bytes >= 0),
    PRIMARY KEY (agent, intent, hour)
) WITHOUT ROWID;
CREATE INDEX baseline_hours_by_hour ON baseline_hours (hour);
