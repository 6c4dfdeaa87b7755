-- Quarantines (issue 14): a temporary deny on a segment, tool, intent or agent. `at_ms`
-- and `until_ms` are Unix milliseconds; a row past `until_ms` no longer holds and is
-- deleted when the live set is read.
CREATE TABLE quarantines (
    id             TEXT    NOT NULL PRIMARY KEY,
    kind           TEXT    NOT NULL CHECK (kind IN ('segment', 'tool', 'intent', 'agent')),
    subject        TEXT    NOT NULL,
    reason         TEXT    NOT NULL,
    quarantined_by TEXT    NOT NULL,
    at_ms          INTEGER NOT NULL,
    until_ms       INTEGER NOT NULL
) WITHOUT ROWID;
