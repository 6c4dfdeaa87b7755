-- Revocations of a token (`jti`), a workflow or an agent; one per kind and subject.
-- `at_ms` is Unix milliseconds. `expires_at` (Unix seconds) matters for tokens only: once
-- past it the credential is refused anyway, so the row is deleted.
CREATE TABLE revocations (
    kind       TEXT    NOT NULL CHECK (kind IN ('token', 'workflow', 'agent')),
    subject    TEXT    NOT NULL,
    at_ms      INTEGER NOT NULL,
    revoked_by TEXT    NOT NULL,
    reason     TEXT    NOT NULL,
    expires_at INTEGER,
    PRIMARY KEY (kind, subject)
) WITHOUT ROWID;

-- Finds spent token revocations without reading the live ones.
CREATE INDEX revocations_expiry ON revocations (kind, expires_at);
