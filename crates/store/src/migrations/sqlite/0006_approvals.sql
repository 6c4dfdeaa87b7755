-- Confirmations and approvals (gatehouse_core::approval::Approval), one row each, replaced
-- as their status, verdicts and response change. Every field has its own column; the
-- parked call is `call_*`, the upstream's kept answer `response_*` (all three NULL when
-- there is none yet). Bodies are BLOBs, stored byte for byte: they need not be UTF-8 and
-- may be large. `policies` is a JSON array of policy ids, `verdicts` a JSON array of
-- {by, approve, reason, at}. `decision` is the decision id's 26-character text. Times are
-- Unix seconds.
CREATE TABLE approvals (
    id                    TEXT    NOT NULL PRIMARY KEY,
    checkpoint            TEXT    NOT NULL CHECK (checkpoint IN ('confirmation', 'approval')),
    status                TEXT    NOT NULL CHECK (status IN ('pending', 'approved',
                              'executing', 'done', 'denied', 'expired', 'cancelled')),
    decision              TEXT    NOT NULL,
    agent                 TEXT    NOT NULL,
    workflow              TEXT    NOT NULL,
    task_class            TEXT    NOT NULL,
    segment               TEXT    NOT NULL,
    tier                  TEXT    NOT NULL,
    policies              TEXT    NOT NULL,
    policy_version        TEXT    NOT NULL,
    call_method           TEXT    NOT NULL,
    call_tool             TEXT    NOT NULL,
    call_intent           TEXT    NOT NULL,
    call_path             TEXT    NOT NULL,
    call_query            TEXT,
    call_content_type     TEXT,
    call_body             BLOB    NOT NULL,
    call_digest           TEXT    NOT NULL,
    required              INTEGER NOT NULL CHECK (required BETWEEN 0 AND 255),
    verdicts              TEXT    NOT NULL,
    created_at            INTEGER NOT NULL,
    expires_at            INTEGER NOT NULL,
    response_status       INTEGER CHECK (response_status BETWEEN 0 AND 65535),
    response_content_type TEXT,
    response_body         BLOB,
    CHECK ((response_status IS NULL) = (response_body IS NULL))
);

-- Listing is newest first, optionally by status, workflow, agent or checkpoint: each index
-- walks in that order and stops at the limit.
CREATE INDEX approvals_created    ON approvals (created_at, id);
CREATE INDEX approvals_status     ON approvals (status, created_at, id);
CREATE INDEX approvals_workflow   ON approvals (workflow, created_at, id);
CREATE INDEX approvals_agent      ON approvals (agent, created_at, id);
CREATE INDEX approvals_checkpoint ON approvals (checkpoint, created_at, id);
