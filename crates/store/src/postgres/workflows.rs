//! Workflows: the whole workflow as a JSON document, beside the columns listings filter
//! and sort on. Counters above `i64::MAX` are stored as `i64::MAX`, as in every backend.

use gatehouse_core::model::WorkflowId;
use gatehouse_core::workflow::{Budget, Status, Usage, Workflow};
use postgres::types::ToSql;
use postgres::{Client, GenericClient};

use super::listen::NOTIFY_WORKFLOW;
use super::{Failure, serde_name};
use crate::workflow::WorkflowFilter;

/// Writes the whole workflow, unless the stored one has ended: ending is final, and
/// another replica's write-behind of its older copy (still active in its memory) must
/// not bring an ended workflow back.
const UPSERT: &str = "INSERT INTO workflows (id, agent, status, created_at, doc) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET agent = excluded.agent, \
     status = excluded.status, created_at = excluded.created_at, doc = excluded.doc \
     WHERE workflows.status <> 'ended'";

/// Inserts, or leaves the stored row; the stored document comes back either way, so two
/// replicas creating one workflow at once agree on it.
const CREATE: &str = "INSERT INTO workflows (id, agent, status, created_at, doc) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET id = workflows.id \
     RETURNING doc, lease_calls, lease_writes, lease_bytes, \
     (SELECT ARRAY[limit_calls, limit_writes, limit_bytes, reserved_calls, \
     reserved_writes, reserved_bytes] FROM budget_pools WHERE workflow = workflows.id)";

/// What every read returns: the document, the lease, and the budget pool replicas
/// share, when one exists (its limits and reservations are the truth of the budget).
const READ: &str = "SELECT doc, lease_calls, lease_writes, lease_bytes, \
     CASE WHEN p.workflow IS NULL THEN NULL ELSE ARRAY[p.limit_calls, p.limit_writes, \
     p.limit_bytes, p.reserved_calls, p.reserved_writes, p.reserved_bytes] END \
     FROM workflows LEFT JOIN budget_pools p ON p.workflow = workflows.id";

/// Leases only grow: a slower writer of a smaller lease cannot shrink it.
const LEASE: &str = "UPDATE workflows SET lease_calls = GREATEST(lease_calls, $2), \
     lease_writes = GREATEST(lease_writes, $3), lease_bytes = GREATEST(lease_bytes, $4) \
     WHERE id = $1";

/// After a clean shutdown has written every workflow's usage, no lease is outstanding.
const RELEASE: &str = "UPDATE workflows SET lease_calls = 0, lease_writes = 0, lease_bytes = 0 \
     WHERE lease_calls > 0 OR lease_writes > 0 OR lease_bytes > 0";

/// Writes the workflow; an ended one is announced to every replica in the same
/// transaction, so their copies in memory stop serving it.
pub(super) fn put(client: &mut Client, workflow: &Workflow) -> Result<(), Failure> {
    let row = Encoded::new(workflow)?;
    if workflow.status != Status::Ended {
        client.execute(UPSERT, &row.params())?;
        return Ok(());
    }
    let mut tx = client.transaction()?;
    tx.execute(UPSERT, &row.params())?;
    tx.execute(NOTIFY_WORKFLOW, &[&row.id])?;
    tx.commit()?;
    Ok(())
}

pub(super) fn create(
    client: &mut impl GenericClient,
    workflow: &Workflow,
) -> Result<Workflow, Failure> {
    let row = Encoded::new(workflow)?;
    let stored = client.query_one(CREATE, &row.params())?;
    decode(&stored)
}

pub(super) fn one(
    client: &mut impl GenericClient,
    id: &WorkflowId,
) -> Result<Option<Workflow>, Failure> {
    client
        .query_opt(&format!("{READ} WHERE workflows.id = $1"), &[&id.as_str()])?
        .map(|row| decode(&row))
        .transpose()
}

pub(super) fn lease(client: &mut Client, id: &WorkflowId, lease: Usage) -> Result<(), Failure> {
    let [calls, writes, bytes] =
        [lease.calls, lease.writes, lease.bytes].map(|n| n.min(CAP) as i64);
    let changed = client.execute(LEASE, &[&id.as_str(), &calls, &writes, &bytes])?;
    // A lease of no stored workflow would be durable nowhere: never report it written.
    if changed == 0 {
        return Err(Failure::invalid(format!(
            "no stored workflow `{}` to lease budget for",
            id.as_str()
        )));
    }
    Ok(())
}

pub(super) fn release(client: &mut Client) -> Result<(), Failure> {
    client.execute(RELEASE, &[])?;
    Ok(())
}

pub(super) fn select(
    client: &mut Client,
    filter: &WorkflowFilter,
) -> Result<Vec<Workflow>, Failure> {
    let status = filter.status.as_ref().map(serde_name).transpose()?;
    let mut sql = format!("{READ} WHERE true");
    let mut params: Vec<&(dyn ToSql + Sync)> = Vec::new();
    if let Some(agent) = &filter.agent {
        params.push(agent);
        sql.push_str(&format!(" AND workflows.agent = ${}", params.len()));
    }
    if let Some(status) = &status {
        params.push(status);
        sql.push_str(&format!(" AND workflows.status = ${}", params.len()));
    }
    let limit = i64::from(filter.effective_limit());
    params.push(&limit);
    sql.push_str(&format!(
        " ORDER BY workflows.created_at DESC, workflows.id DESC LIMIT ${}",
        params.len()
    ));
    client.query(&sql, &params)?.iter().map(decode).collect()
}

/// One workflow's column values.
struct Encoded<'w> {
    workflow: &'w Workflow,
    id: &'w str,
    agent: &'w str,
    status: String,
    doc: String,
}

impl<'w> Encoded<'w> {
    fn new(workflow: &'w Workflow) -> Result<Self, Failure> {
        let stored = Workflow {
            budget: clamped_budget(workflow.budget),
            usage: clamped_usage(workflow.usage),
            ..workflow.clone()
        };
        Ok(Self {
            workflow,
            id: workflow.id.as_str(),
            agent: workflow.agent.as_str(),
            status: serde_name(&workflow.status)?,
            doc: serde_json::to_string(&stored).map_err(Failure::invalid)?,
        })
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 5] {
        [
            &self.id,
            &self.agent,
            &self.status,
            &self.workflow.created_at,
            &self.doc,
        ]
    }
}

/// The largest counter a backend keeps (`i64::MAX`, which SQL can compare).
const CAP: u64 = i64::MAX as u64;

fn clamped_budget(budget: Budget) -> Budget {
    Budget {
        calls: budget.calls.min(CAP),
        writes: budget.writes.min(CAP),
        bytes: budget.bytes.min(CAP),
    }
}

fn clamped_usage(usage: Usage) -> Usage {
    Usage {
        calls: usage.calls.min(CAP),
        writes: usage.writes.min(CAP),
        bytes: usage.bytes.min(CAP),
    }
}

/// A row of `doc`, the three lease columns and the pool: the workflow, its usage at
/// least its durable lease (what a crash leaves as spent) and, with a pool, its budget
/// the pool's limits and its usage at least what replicas reserved (unspent slices
/// count as spent until settled).
fn decode(row: &postgres::Row) -> Result<Workflow, Failure> {
    let doc: String = row.try_get(0)?;
    let mut workflow: Workflow = serde_json::from_str(&doc).map_err(|error| {
        Failure::invalid(format!("a stored workflow does not read back: {error}"))
    })?;
    let count = |index: usize| -> Result<u64, Failure> {
        let value: i64 = row.try_get(index)?;
        Ok(value.unsigned_abs())
    };
    workflow.recover(Usage {
        calls: count(1)?,
        writes: count(2)?,
        bytes: count(3)?,
    });
    let pool: Option<Vec<i64>> = row.try_get(4)?;
    if let Some(&[calls, writes, bytes, used_calls, used_writes, used_bytes]) = pool.as_deref() {
        workflow.budget = Budget {
            calls: calls.unsigned_abs(),
            writes: writes.unsigned_abs(),
            bytes: bytes.unsigned_abs(),
        };
        workflow.recover(Usage {
            calls: used_calls.unsigned_abs(),
            writes: used_writes.unsigned_abs(),
            bytes: used_bytes.unsigned_abs(),
        });
    }
    Ok(workflow)
}
