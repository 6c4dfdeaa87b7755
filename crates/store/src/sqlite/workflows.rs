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

/// Inserts a new workflow, or leaves the stored one as it is; either way one statement
/// returns the stored row, so no other writer can slip in between insert and read. (The
/// no-op update is what makes `RETURNING` answer for an existing row.)
const CREATE: &str = concat!(
    "INSERT INTO workflows (",
    columns!(),
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) \
     ON CONFLICT (id) DO UPDATE SET id = workflows.id RETURNING ",
    read_columns!()
);

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

pub(super) fn create(conn: &Connection, workflow: &Workflow) -> rusqlite::Result<Workflow> {
    let encoded = row::Encoded::new(workflow);
    conn.prepare_cached(CREATE)?
        .query_row(encoded.params(), row::decode)
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
    use gatehouse_core::workflow::Status;

    use super::*;

    /// Every shape of listing reads its rows in order from an index and stops at the
    /// limit, instead of sorting the whole table.
    #[test]
    fn listings_walk_an_index_in_order() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::migrate::run(&mut conn, "test").unwrap();
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
