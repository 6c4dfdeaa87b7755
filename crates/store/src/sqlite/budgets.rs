//! The budget pools of `gatehouse_core::workflow::Pool` in SQLite: each claim, settlement
//! or extension reads, changes and writes one row in an immediate transaction, so it is
//! atomic against every other writer of the file. The accounting is the core's.

use gatehouse_core::model::WorkflowId;
use gatehouse_core::workflow::{Ask, Budget, Claim, Pool, Usage};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};

use super::column::clamp;
use super::workflows;

const READ: &str = "SELECT limit_calls, limit_writes, limit_bytes, reserved_calls, \
     reserved_writes, reserved_bytes FROM budget_pools WHERE workflow = ?1";

const WRITE: &str = "INSERT INTO budget_pools (workflow, limit_calls, limit_writes, \
     limit_bytes, reserved_calls, reserved_writes, reserved_bytes) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (workflow) DO UPDATE SET \
     limit_calls = excluded.limit_calls, limit_writes = excluded.limit_writes, \
     limit_bytes = excluded.limit_bytes, reserved_calls = excluded.reserved_calls, \
     reserved_writes = excluded.reserved_writes, reserved_bytes = excluded.reserved_bytes";

/// Claims from the pool, creating it from the stored workflow on first use; `None` when
/// no such workflow is stored.
pub(super) fn claim(
    conn: &mut Connection,
    id: &WorkflowId,
    ask: Ask,
) -> rusqlite::Result<Option<Claim>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let pool = match read(&tx, id)? {
        Some(pool) => Some(pool),
        None => workflows::one(&tx, id)?.map(|stored| Pool::new(stored.budget, stored.usage)),
    };
    let Some(mut pool) = pool else {
        return Ok(None);
    };
    let claim = pool.claim(ask);
    if claim.granted.is_some() {
        write(&tx, id, &pool)?;
    }
    tx.commit()?;
    Ok(Some(claim))
}

/// Changes an existing pool; nothing happens when there is none.
pub(super) fn change(
    conn: &mut Connection,
    id: &WorkflowId,
    how: impl FnOnce(&mut Pool),
) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if let Some(mut pool) = read(&tx, id)? {
        how(&mut pool);
        write(&tx, id, &pool)?;
    }
    tx.commit()
}

/// Returns the unspent part of a slice.
pub(super) fn settle(
    conn: &mut Connection,
    id: &WorkflowId,
    unspent: Usage,
) -> rusqlite::Result<()> {
    change(conn, id, |pool| pool.settle(unspent))
}

/// Extends the limits.
pub(super) fn extend(
    conn: &mut Connection,
    id: &WorkflowId,
    extension: Budget,
) -> rusqlite::Result<()> {
    change(conn, id, |pool| pool.extend(extension))
}

fn read(tx: &Transaction<'_>, id: &WorkflowId) -> rusqlite::Result<Option<Pool>> {
    tx.prepare_cached(READ)?
        .query_row([id.as_str()], |row| {
            let count = |index: usize| -> rusqlite::Result<u64> {
                Ok(row.get::<_, i64>(index)?.unsigned_abs())
            };
            Ok(Pool {
                limit: Budget {
                    calls: count(0)?,
                    writes: count(1)?,
                    bytes: count(2)?,
                },
                reserved: Usage {
                    calls: count(3)?,
                    writes: count(4)?,
                    bytes: count(5)?,
                },
            })
        })
        .optional()
}

fn write(tx: &Transaction<'_>, id: &WorkflowId, pool: &Pool) -> rusqlite::Result<()> {
    let (limit, reserved) = (pool.limit, pool.reserved);
    tx.prepare_cached(WRITE)?.execute(rusqlite::params![
        id.as_str(),
        clamp(limit.calls),
        clamp(limit.writes),
        clamp(limit.bytes),
        clamp(reserved.calls),
        clamp(reserved.writes),
        clamp(reserved.bytes),
    ])?;
    Ok(())
}
