-- Policy versions (issue 15): one row per load of a policy set, oldest first by `seq`.
CREATE TABLE policy_versions (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    version      TEXT    NOT NULL,
    loaded_at_ms INTEGER NOT NULL,
    loaded_by    TEXT    NOT NULL,
    message      TEXT,
    files        INTEGER NOT NULL
);
