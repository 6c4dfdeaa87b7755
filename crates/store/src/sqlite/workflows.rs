//! Workflows in SQLite: one row each, written whole, and listed through [`Listing`].

mod row;

use gatehouse_core::model::WorkflowId;
use gatehouse_core::workflow::{Usage, Workflow};
use rusqlite::{Connection, OptionalExtension};

use super::column::clamp;
use super::listing::{Listing, text};
use crate::workflow::WorkflowFilter;

/// The columns of every statement, in the order [`row::Encoded::params`] binds them and
/// [`row::decode`] reads them.
macro_rules! columns {
    () => {
        "id, agent, task_class, segment, status, budget_calls, budget_writes, budget_bytes, \
         used_calls, used_writes, used_bytes, created_at, expires_at, paused_for, ended_by"
    };
}

/// The columns read back: usage is at least the durable lease, which is what a crash
/// leaves as spent (`gatehouse_core::workflow::Lease`); with a budget pool (gateways
/// sharing the store), the budget is the pool's limits and usage at least what was
/// reserved from it.
macro_rules! read_columns {
    () => {
        "id, agent, task_class, segment, status, \
         COALESCE((SELECT limit_calls FROM budget_pools WHERE workflow = id), budget_calls), \
         COALESCE((SELECT limit_writes FROM budget_pools WHERE workflow = id), budget_writes), \
         COALESCE((SELECT limit_bytes FROM budget_pools WHERE workflow = id), budget_bytes), \
         MAX(used_calls, lease_calls, \
             COALESCE((SELECT reserved_calls FROM budget_pools WHERE workflow = id), 0)), \
         MAX(used_writes, lease_writes, \
             COALESCE((SELECT reserved_writes FROM budget_pools WHERE workflow = id), 0)), \
         MAX(used_bytes, lease_bytes, \
             COALESCE((SELECT reserved_bytes FROM budget_pools WHERE workflow = id), 0)), \
         created_at, expires_at, paused_for, ended_by"
    };
}

/// Writes the whole workflow, unless the stored one has ended: ending is final, and a
/// write-behind of an older copy (taken before the end, landing after it) must not bring
/// it back.
const UPSERT: &str = concat!(
    "INSERT INTO workflows (",
    columns!(),
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) \
     ON CONFLICT (id) DO UPDATE SET agent = excluded.agent, task_class = \
     excluded.task_class, segment = excluded.segment, status = excluded.status, \
     budget_calls = excluded.budget_calls, budget_writes = excluded.budget_writes, \
     budget_bytes = excluded.budget_bytes, used_calls = excluded.used_calls, used_writes = \
     excluded.used_writes, used_bytes = excluded.used_bytes, created_at = \
     excluded.created_at, expires_at = excluded.expires_at, paused_for = \
     excluded.paused_for, ended_by = excluded.ended_by WHERE workflows.status <> 'ended'"
);

/// Inserts a new workflow, or leaves the stored one as it is; `create` reads the stored
/// one back only in the second case, since a fresh row reads back as what was written.
const CREATE: &str = concat!(
    "INSERT INTO workflows (",
    columns!(),
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) \
     ON CONFLICT (id) DO NOTHING"
);

/// Whether a budget pool is stored for a workflow: its limits and reservations are what
/// a read answers, not the row's own.
const POOLED: &str = "SELECT 1 FROM budget_pools WHERE workflow = ?1";

const BY_ID: &str = concat!("SELECT ", read_columns!(), " FROM workflows WHERE id = ?1");

/// The head of every listing.
const SELECT: &str = concat!("SELECT ", read_columns!(), " FROM workflows WHERE 1 = 1");

pub(super) fn put(conn: &Connection, workflow: &Workflow) -> rusqlite::Result<()> {
    let encoded = row::Encoded::new(workflow);
    conn.prepare_cached(UPSERT)?.execute(encoded.params())?;
    Ok(())
}

/// Leases only grow: a slower writer of a smaller lease cannot shrink it.
const LEASE: &str = "UPDATE workflows SET lease_calls = MAX(lease_calls, ?2), \
     lease_writes = MAX(lease_writes, ?3), lease_bytes = MAX(lease_bytes, ?4) WHERE id = ?1";

/// After a clean shutdown has written every workflow's usage, no lease is outstanding.
const RELEASE: &str = "UPDATE workflows SET lease_calls = 0, lease_writes = 0, lease_bytes = 0 \
     WHERE lease_calls > 0 OR lease_writes > 0 OR lease_bytes > 0";

pub(super) fn lease(conn: &Connection, id: &WorkflowId, lease: Usage) -> rusqlite::Result<()> {
    let [calls, writes, bytes] = [lease.calls, lease.writes, lease.bytes].map(clamp);
    let changed = conn.prepare_cached(LEASE)?.execute(rusqlite::params![
        id.as_str(),
        calls,
        writes,
        bytes
    ])?;
    // A lease of no stored workflow would be durable nowhere: never report it written.
    if changed == 0 {
        return Err(rusqlite::Error::QueryReturnedNoRows);
    }
    Ok(())
}

pub(super) fn release(conn: &Connection) -> rusqlite::Result<()> {
    conn.prepare_cached(RELEASE)?.execute([])?;
    Ok(())
}

/// Inserts `workflow` unless one with its id is stored, and returns the stored one as a
/// read would. A single `INSERT … RETURNING` with the read's pool subqueries cost a
/// token exchange about a tenth of its CPU; a fresh row, with no lease and no pool, reads
/// back as what was written, so only a conflict (or a pool left from before) reads it.
/// Callers hold the writer connection, so nothing comes between insert and read but
/// another process's write, which could as well have landed just after either.
pub(super) fn create(conn: &Connection, workflow: &Workflow) -> rusqlite::Result<Workflow> {
    let encoded = row::Encoded::new(workflow);
    let inserted = conn.prepare_cached(CREATE)?.execute(encoded.params())? == 1;
    if inserted && !pooled(conn, &workflow.id)? {
        return Ok(encoded.stored());
    }
    one(conn, &workflow.id)?.ok_or(rusqlite::Error::QueryReturnedNoRows)
}

fn pooled(conn: &Connection, id: &WorkflowId) -> rusqlite::Result<bool> {
    conn.prepare_cached(POOLED)?.exists([id.as_str()])
}

pub(super) fn one(conn: &Connection, id: &WorkflowId) -> rusqlite::Result<Option<Workflow>> {
    conn.prepare_cached(BY_ID)?
        .query_row([id.as_str()], row::decode)
        .optional()
}

pub(super) fn select(
    conn: &Connection,
    filter: &WorkflowFilter,
) -> rusqlite::Result<Vec<Workflow>> {
    listing(filter).rows(conn, row::decode)
}

fn listing(filter: &WorkflowFilter) -> Listing {
    let mut listing = Listing::new(SELECT);
    listing.narrow(
        " AND agent = :agent",
        ":agent",
        text(filter.agent.as_deref()),
    );
    let status = text(filter.status.map(row::status_text));
    listing.narrow(" AND status = :status", ":status", status);
    listing.newest_first(filter.effective_limit())
}

#[cfg(test)]
mod tests {
    use gatehouse_core::model::{AgentId, SegmentName, TaskClassName};
    use gatehouse_core::workflow::{Budget, Status};

    use super::super::migrate::migrated_in_memory;
    use super::*;

    fn workflow(id: &str) -> Workflow {
        let budget = Budget {
            calls: 10,
            writes: 2,
            bytes: 100,
        };
        Workflow::new(
            WorkflowId::new(id),
            AgentId::new("spiffe://acme/agent/bot"),
            TaskClassName::new("triage"),
            SegmentName::new("data"),
            budget,
            1_700_000_000,
            60,
        )
    }

    /// No pool can be stored before its workflow today (a pool starts from the stored
    /// workflow, and workflows are never deleted), but should one be, a fresh `create`
    /// still answers with the pool's numbers, as a read does.
    #[test]
    fn a_fresh_create_counts_a_pool_stored_before_it() {
        let conn = migrated_in_memory();
        conn.execute(
            "INSERT INTO budget_pools VALUES ('wf-1', 50, 5, 500, 7, 1, 0)",
            [],
        )
        .unwrap();
        let created = create(&conn, &workflow("wf-1")).unwrap();
        assert_eq!(
            Some(&created),
            one(&conn, &WorkflowId::new("wf-1")).unwrap().as_ref()
        );
        assert_eq!((created.budget.calls, created.usage.calls), (50, 7));
        let fresh = workflow("wf-2");
        assert_eq!(create(&conn, &fresh).unwrap(), fresh);
    }

    /// Every shape of listing reads its rows in order from an index and stops at the
    /// limit, instead of sorting the whole table.
    #[test]
    fn listings_walk_an_index_in_order() {
        let conn = migrated_in_memory();
        for (agent, status) in [
            (None, None),
            (Some("a".to_owned()), None),
            (None, Some(Status::Paused)),
            (Some("a".to_owned()), Some(Status::Paused)),
        ] {
            let filter = WorkflowFilter {
                agent,
                status,
                limit: None,
            };
            let plan = listing(&filter).plan(&conn).unwrap();
            assert!(
                plan.contains("USING INDEX workflows_"),
                "{filter:?}: {plan}"
            );
            assert!(!plan.contains("TEMP B-TREE"), "{filter:?}: {plan}");
        }
    }
}
