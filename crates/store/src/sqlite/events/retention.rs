//! Retention: deleting events older than a cutoff. A block goes whole, once its newest
//! event is older than the cutoff (a batch spans well under a second, so no event
//! outlives the cutoff by more than that). Headers' `reach_*` values of the blocks that
//! stay were maxima over earlier blocks too; deleting earlier blocks leaves them upper
//! bounds, which is all a query's walk needs.

use rusqlite::{Connection, TransactionBehavior, params};

use super::super::OrUnavailable;
use crate::error::StoreError;

/// Blocks deleted per call, so one call holds the write lock briefly; housekeeping calls
/// again until nothing is left.
const BLOCKS_PER_CALL: i64 = 500;

const DUE: &str = "SELECT block, first_id, last_id FROM event_blocks WHERE max_time_ms < ?1 \
     ORDER BY block LIMIT ?2";
const IDS: &str = "DELETE FROM event_ids WHERE id BETWEEN ?1 AND ?2 AND block = ?3";
/// One pass over `event_keys` (keyed by field and value, not block) for every due block.
const KEYS: &str = "DELETE FROM event_keys WHERE block IN (SELECT block FROM event_blocks \
     WHERE max_time_ms < ?1 ORDER BY block LIMIT ?2)";
const LINES: &str = "DELETE FROM event_lines WHERE block = ?1";
const HEADER: &str = "DELETE FROM event_blocks WHERE block = ?1";

/// Deletes up to [`BLOCKS_PER_CALL`] blocks whose every event is older than
/// `cutoff_ms`; returns how many events went.
pub(in crate::sqlite) fn delete_before(
    conn: &mut Connection,
    location: &str,
    cutoff_ms: i64,
) -> Result<u64, StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .or_unavailable(location)?;
    let due: Vec<(i64, String, String)> = tx
        .prepare_cached(DUE)
        .and_then(|mut statement| {
            statement
                .query_map(params![cutoff_ms, BLOCKS_PER_CALL], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })?
                .collect()
        })
        .or_unavailable(location)?;
    if due.is_empty() {
        return Ok(0);
    }
    tx.prepare_cached(KEYS)
        .and_then(|mut statement| statement.execute(params![cutoff_ms, BLOCKS_PER_CALL]))
        .or_unavailable(location)?;
    let mut deleted: u64 = 0;
    for (block, first, last) in &due {
        deleted += delete_block(&tx, *block, first, last).or_unavailable(location)?;
    }
    tx.commit().or_unavailable(location)?;
    Ok(deleted)
}

/// One block: its ids (by their range, which the primary key serves), its lines and its
/// header.
fn delete_block(conn: &Connection, block: i64, first: &str, last: &str) -> rusqlite::Result<u64> {
    let ids = conn
        .prepare_cached(IDS)?
        .execute(params![first, last, block])?;
    conn.prepare_cached(LINES)?.execute(params![block])?;
    conn.prepare_cached(HEADER)?.execute(params![block])?;
    Ok(u64::try_from(ids).unwrap_or(0))
}
