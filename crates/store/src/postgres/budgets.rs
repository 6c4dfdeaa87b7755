//! The budget pools replicas reserve slices from (`gatehouse_core::workflow::Pool`): one
//! row per workflow, locked (`SELECT … FOR UPDATE`) for the few statements of a claim, a
//! settlement or an extension, so concurrent replicas take turns and the limit holds.
//! The accounting itself is the core's, the same in every backend.

use gatehouse_core::model::WorkflowId;
use gatehouse_core::workflow::{Ask, Budget, Claim, Pool, Usage};
use postgres::{Client, Transaction};

use super::Failure;
use super::listen::NOTIFY_WORKFLOW;
use super::workflows;

const LOCK: &str = "SELECT limit_calls, limit_writes, limit_bytes, reserved_calls, \
     reserved_writes, reserved_bytes FROM budget_pools WHERE workflow = $1 FOR UPDATE";

const CREATE: &str = "INSERT INTO budget_pools (workflow, limit_calls, limit_writes, \
     limit_bytes, reserved_calls, reserved_writes, reserved_bytes) \
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (workflow) DO NOTHING";

const WRITE: &str = "UPDATE budget_pools SET limit_calls = $2, limit_writes = $3, \
     limit_bytes = $4, reserved_calls = $5, reserved_writes = $6, reserved_bytes = $7 \
     WHERE workflow = $1";

/// The largest counter stored (`i64::MAX`), as for workflows.
const CAP: u64 = i64::MAX as u64;

pub(super) fn claim(client: &mut Client, id: &WorkflowId, ask: Ask) -> Result<Claim, Failure> {
    let mut tx = client.transaction()?;
    let mut pool = match lock(&mut tx, id)? {
        Some(pool) => pool,
        None => create(&mut tx, id)?,
    };
    let claim = pool.claim(ask);
    if claim.granted.is_some() {
        write(&mut tx, id, &pool)?;
    }
    tx.commit()?;
    Ok(claim)
}

pub(super) fn settle(client: &mut Client, id: &WorkflowId, unspent: Usage) -> Result<(), Failure> {
    let mut tx = client.transaction()?;
    if let Some(mut pool) = lock(&mut tx, id)? {
        pool.settle(unspent);
        write(&mut tx, id, &pool)?;
    }
    tx.commit()?;
    Ok(())
}

/// Extends the pool (none yet: the first claim reads the stored budget, already
/// extended) and tells every replica the workflow changed, so a copy paused for this
/// budget resumes.
pub(super) fn extend(
    client: &mut Client,
    id: &WorkflowId,
    extension: Budget,
) -> Result<(), Failure> {
    let mut tx = client.transaction()?;
    if let Some(mut pool) = lock(&mut tx, id)? {
        pool.extend(extension);
        write(&mut tx, id, &pool)?;
    }
    tx.execute(NOTIFY_WORKFLOW, &[&id.as_str()])?;
    tx.commit()?;
    Ok(())
}

fn lock(tx: &mut Transaction<'_>, id: &WorkflowId) -> Result<Option<Pool>, Failure> {
    let Some(row) = tx.query_opt(LOCK, &[&id.as_str()])? else {
        return Ok(None);
    };
    let mut values = [0_u64; 6];
    for (index, value) in values.iter_mut().enumerate() {
        let stored: i64 = row.try_get(index)?;
        *value = stored.unsigned_abs();
    }
    let [calls, writes, bytes, used_calls, used_writes, used_bytes] = values;
    Ok(Some(Pool {
        limit: Budget {
            calls,
            writes,
            bytes,
        },
        reserved: Usage {
            calls: used_calls,
            writes: used_writes,
            bytes: used_bytes,
        },
    }))
}

/// The pool of a workflow's first claim: its stored budget, and its stored usage (at
/// least its lease) as already reserved.
fn create(tx: &mut Transaction<'_>, id: &WorkflowId) -> Result<Pool, Failure> {
    let stored = workflows::one(tx, id)?.ok_or_else(|| {
        Failure::invalid(format!(
            "no stored workflow `{}` to reserve budget for",
            id.as_str()
        ))
    })?;
    let pool = Pool::new(stored.budget, stored.usage);
    let [a, b, c, d, e, f] = columns(&pool);
    tx.execute(CREATE, &[&id.as_str(), &a, &b, &c, &d, &e, &f])?;
    // Another replica's first claim may have created it first: lock what is there.
    lock(tx, id)?.ok_or_else(|| Failure::invalid("a budget pool vanished as it was created"))
}

fn write(tx: &mut Transaction<'_>, id: &WorkflowId, pool: &Pool) -> Result<(), Failure> {
    let [a, b, c, d, e, f] = columns(pool);
    tx.execute(WRITE, &[&id.as_str(), &a, &b, &c, &d, &e, &f])?;
    Ok(())
}

fn columns(pool: &Pool) -> [i64; 6] {
    let (limit, reserved) = (pool.limit, pool.reserved);
    [
        limit.calls,
        limit.writes,
        limit.bytes,
        reserved.calls,
        reserved.writes,
        reserved.bytes,
    ]
    .map(|value| value.min(CAP) as i64)
}
