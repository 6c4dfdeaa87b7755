//! The schema, as numbered steps applied in order at start-up. Replicas that start
//! together take a transaction-scoped advisory lock first, so exactly one of them
//! applies each missing step and the others then find it applied.

use postgres::Client;

use super::Failure;

/// Any fixed number shared by every Gatehouse: the advisory lock migrations hold.
const MIGRATION_LOCK: i64 = 0x6761_7465_686f_7573; // "gatehous"

/// One step: its version and the statements that take the schema there.
struct Migration {
    version: i64,
    sql: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sql: r#"
CREATE TABLE events (
    id TEXT COLLATE "C" PRIMARY KEY,
    -- Store order, which the hash chain follows: the appended batch, then the line in it.
    block BIGINT NOT NULL,
    position INTEGER NOT NULL,
    time_ms BIGINT NOT NULL,
    agent TEXT,
    workflow TEXT,
    tool TEXT,
    intent TEXT,
    outcome TEXT NOT NULL,
    line TEXT NOT NULL,
    -- SHA-256 of the previous event's link and this line (crate::chain).
    link BYTEA NOT NULL
);
CREATE UNIQUE INDEX events_order ON events (block, position);
-- The chain's head: the last block written and its last link. Appends lock it.
CREATE TABLE event_chain (
    one BOOLEAN PRIMARY KEY DEFAULT true CHECK (one),
    block BIGINT NOT NULL,
    link BYTEA NOT NULL
);
INSERT INTO event_chain (block, link) VALUES (0, decode(repeat('00', 32), 'hex'));
-- Where retention left the chain's start: the newest deleted block and its last link.
CREATE TABLE event_chain_anchor (
    one BOOLEAN PRIMARY KEY DEFAULT true CHECK (one),
    block BIGINT NOT NULL,
    link BYTEA NOT NULL
);
CREATE INDEX events_time ON events (time_ms);
CREATE INDEX events_agent ON events (agent, id);
CREATE INDEX events_workflow ON events (workflow, id);
CREATE INDEX events_tool ON events (tool, id);
CREATE INDEX events_intent ON events (intent, id);
CREATE INDEX events_outcome ON events (outcome, id);

CREATE TABLE jti_claims (
    issuer TEXT NOT NULL,
    jti TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (issuer, jti)
);
CREATE INDEX jti_claims_expiry ON jti_claims (expires_at);

CREATE TABLE workflows (
    id TEXT COLLATE "C" PRIMARY KEY,
    agent TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    doc TEXT NOT NULL,
    -- Durable leases of budget slices (gatehouse_core::workflow::Lease): reads count
    -- usage as at least the lease. A clean shutdown releases them (0).
    lease_calls BIGINT NOT NULL DEFAULT 0 CHECK (lease_calls >= 0),
    lease_writes BIGINT NOT NULL DEFAULT 0 CHECK (lease_writes >= 0),
    lease_bytes BIGINT NOT NULL DEFAULT 0 CHECK (lease_bytes >= 0)
);
CREATE INDEX workflows_newest ON workflows (created_at DESC, id DESC);
CREATE INDEX workflows_agent ON workflows (agent, created_at DESC, id DESC);
CREATE INDEX workflows_status ON workflows (status, created_at DESC, id DESC);

CREATE TABLE revocations (
    kind TEXT COLLATE "C" NOT NULL,
    subject TEXT COLLATE "C" NOT NULL,
    at_ms BIGINT NOT NULL,
    revoked_by TEXT NOT NULL,
    reason TEXT NOT NULL,
    expires_at BIGINT,
    PRIMARY KEY (kind, subject)
);

CREATE TABLE approvals (
    id TEXT COLLATE "C" PRIMARY KEY,
    checkpoint TEXT NOT NULL,
    status TEXT NOT NULL,
    agent TEXT NOT NULL,
    workflow TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    call_body BYTEA NOT NULL,
    response_body BYTEA,
    doc TEXT NOT NULL
);
CREATE INDEX approvals_newest ON approvals (created_at DESC, id DESC);
CREATE INDEX approvals_status ON approvals (status, created_at DESC, id DESC);
CREATE INDEX approvals_workflow ON approvals (workflow, created_at DESC, id DESC);
CREATE INDEX approvals_agent ON approvals (agent, created_at DESC, id DESC);

CREATE TABLE quarantines (
    id TEXT COLLATE "C" PRIMARY KEY,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    reason TEXT NOT NULL,
    quarantined_by TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    until_ms BIGINT NOT NULL
);
"#,
    },
    Migration {
        version: 2,
        sql: r#"
CREATE TABLE recordings (
    id TEXT COLLATE "C" PRIMARY KEY,
    time_ms BIGINT NOT NULL,
    agent TEXT NOT NULL,
    workflow TEXT NOT NULL,
    tool TEXT NOT NULL,
    request TEXT NOT NULL,
    response TEXT NOT NULL
);
CREATE INDEX recordings_newest ON recordings (time_ms DESC, id DESC);
CREATE INDEX recordings_agent ON recordings (agent, time_ms DESC, id DESC);
"#,
    },
    Migration {
        version: 3,
        sql: r#"
-- Each configured sink's cursor: the store position of the last event it delivered.
CREATE TABLE sink_cursors (
    sink TEXT COLLATE "C" PRIMARY KEY,
    block BIGINT NOT NULL,
    position INTEGER NOT NULL
);
"#,
    },
    // Policy versions (issue 15): one row per load of a policy set, oldest first by `seq`.
    Migration {
        version: 4,
        sql: r#"
CREATE TABLE policy_versions (
    seq BIGSERIAL PRIMARY KEY,
    version TEXT NOT NULL,
    loaded_at_ms BIGINT NOT NULL,
    loaded_by TEXT NOT NULL,
    message TEXT,
    files BIGINT NOT NULL
);
"#,
    },
    Migration {
        version: 5,
        sql: r#"
-- The budget each workflow's replicas share (gatehouse_core::workflow::Pool): its limits
-- and what the replicas together reserved in slices, spent or not. Created by a
-- workflow's first claim from its stored budget and usage.
CREATE TABLE budget_pools (
    workflow TEXT COLLATE "C" PRIMARY KEY,
    limit_calls BIGINT NOT NULL CHECK (limit_calls >= 0),
    limit_writes BIGINT NOT NULL CHECK (limit_writes >= 0),
    limit_bytes BIGINT NOT NULL CHECK (limit_bytes >= 0),
    reserved_calls BIGINT NOT NULL CHECK (reserved_calls >= 0),
    reserved_writes BIGINT NOT NULL CHECK (reserved_writes >= 0),
    reserved_bytes BIGINT NOT NULL CHECK (reserved_bytes >= 0)
);
"#,
    },
    Migration {
        version: 6,
        sql: r#"
-- Policy sets put in force by `policy apply` or a watcher on one replica, whole, so every
-- replica puts the same set in force (crate::policy_version::PolicySet). Only the newest
-- is read; a share keeps the last few.
CREATE TABLE policy_sets (
    seq BIGSERIAL PRIMARY KEY,
    version TEXT NOT NULL,
    shared_at_ms BIGINT NOT NULL,
    shared_by TEXT NOT NULL,
    files TEXT NOT NULL
);
"#,
    },
    Migration {
        version: 7,
        sql: r#"
-- Baselines (issue 15): calls and bytes of each agent's intents per Unix hour (UTC),
-- added to by every replica's flush of its in-memory tallies.
CREATE TABLE baseline_hours (
    agent TEXT COLLATE "C" NOT NULL,
    intent TEXT COLLATE "C" NOT NULL,
    hour BIGINT NOT NULL,
    calls BIGINT NOT NULL CHECK (calls >= 0),
    bytes BIGINT NOT NULL CHECK (bytes >= 0),
    PRIMARY KEY (agent, intent, hour)
);
CREATE INDEX baseline_hours_by_hour ON baseline_hours (hour);
"#,
    },
];

/// Applies every step the database has not seen, in one transaction.
pub(super) fn run(client: &mut Client) -> Result<(), Failure> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT PRIMARY KEY)")?;
    let found: i64 = tx
        .query_one("SELECT COALESCE(max(version), 0) FROM schema_version", &[])?
        .get(0);
    let known = known_version();
    if found > known {
        return Err(Failure::NewerSchema { found, known });
    }
    for migration in MIGRATIONS.iter().filter(|step| step.version > found) {
        tx.batch_execute(migration.sql)?;
        tx.execute(
            "INSERT INTO schema_version (version) VALUES ($1)",
            &[&migration.version],
        )?;
    }
    tx.commit()?;
    Ok(())
}

fn known_version() -> i64 {
    MIGRATIONS.last().map_or(0, |step| step.version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_count_up_from_one() {
        for (index, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(migration.version, index as i64 + 1);
        }
    }
}
