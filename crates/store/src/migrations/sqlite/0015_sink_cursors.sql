-- Each configured sink's cursor: the store position (block, index in it) of the last
-- event it delivered. Sinks read the event log after it, so the log is their outbox.
CREATE TABLE sink_cursors (
    sink     TEXT    NOT NULL PRIMARY KEY,
    block    INTEGER NOT NULL,
    position INTEGER NOT NULL
);
