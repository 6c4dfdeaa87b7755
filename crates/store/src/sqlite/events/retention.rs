//! Retention: deleting events older than a cutoff. A block goes whole, once its newest
//! event is older than the cutoff (a batch spans well under a second, so no event
//! outlives the cutoff by more than that), and only the oldest blocks go, in order: the
//! hash chain then starts after them, at the anchor this keeps (the newest deleted
//! block's number and last link), so a check of what remains still proves it unbroken. Headers' `reach_*` values of the blocks that
//! stay were maxima over earlier blocks too; deleting earlier blocks leaves them upper
//! bounds, which is all a query's walk needs.

use rusqlite::{Connection, TransactionBehavior, params};

use super::super::OrUnavailable;
use crate::error::StoreError;

/// Blocks deleted per call, so one call holds the write lock briefly; housekeeping calls
/// again until nothing is left.
const BLOCKS_PER_CALL: i64 = 500;

/// The oldest blocks, in order; those due are a prefix of them.
const OLDEST: &str = "SELECT block, first_id, last_id, max_time_ms FROM event_blocks \
     ORDER BY block LIMIT ?1";
const IDS: &str = "DELETE FROM event_ids WHERE id BETWEEN ?1 AND ?2 AND block = ?3";
/// One pass over `event_keys` (keyed by field and value, not block) for every due block.
const KEYS: &str = "DELETE FROM event_keys WHERE block <= ?1";
/// The last link of a block, which the chain's anchor keeps once the block is gone.
const LAST_LINK: &str = "SELECT substr(chain, -32) FROM event_lines WHERE block = ?1";
const ANCHOR: &str = "INSERT INTO event_chain_anchor (one, block, link) VALUES (1, ?1, ?2) \
     ON CONFLICT (one) DO UPDATE SET block = excluded.block, link = excluded.link";
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
    let oldest: Vec<(i64, String, String, i64)> = tx
        .prepare_cached(OLDEST)
        .and_then(|mut statement| {
            statement
                .query_map(params![BLOCKS_PER_CALL], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
                })?
                .collect()
        })
        .or_unavailable(location)?;
    let due: Vec<(i64, String, String)> = oldest
        .into_iter()
        .take_while(|(_, _, _, max_time_ms)| *max_time_ms < cutoff_ms)
        .map(|(block, first, last, _)| (block, first, last))
        .collect();
    let Some((last_due, _, _)) = due.last() else {
        return Ok(0);
    };
    anchor_at(&tx, *last_due).or_unavailable(location)?;
    tx.prepare_cached(KEYS)
        .and_then(|mut statement| statement.execute(params![last_due]))
        .or_unavailable(location)?;
    let mut deleted: u64 = 0;
    for (block, first, last) in &due {
        deleted += delete_block(&tx, *block, first, last).or_unavailable(location)?;
    }
    tx.commit().or_unavailable(location)?;
    Ok(deleted)
}

/// Moves the chain's anchor to the end of `block`, about to be deleted.
fn anchor_at(conn: &Connection, block: i64) -> rusqlite::Result<()> {
    let link: Option<Vec<u8>> = conn
        .prepare_cached(LAST_LINK)?
        .query_row([block], |row| row.get(0))?;
    if let Some(link) = link {
        conn.prepare_cached(ANCHOR)?.execute(params![block, link])?;
    }
    Ok(())
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
