//! The hash chain in PostgreSQL (see `crate::chain` for what is hashed). Each appended
//! batch is one block; every event row keeps its block, its position in the block and
//! its link. The chain's head (the last block's number and last link) is one row that
//! every append locks (`FOR UPDATE`), so appends from several replicas take turns and
//! the chain follows store order exactly. A check walks the rows in order, recomputes
//! every link and compares the end with the head, so events removed from the end of
//! the newest block are found too.

use postgres::{Client, GenericClient};

use super::Failure;
use crate::chain::{BreakKind, ChainBreak, ChainCheck, hex};
pub(super) use crate::chain::{GENESIS, Link, next};

/// Rows read per page of a check.
const PAGE: i64 = 2048;

const HEAD_FOR_APPEND: &str = "SELECT block, link FROM event_chain FOR UPDATE";
const HEAD: &str = "SELECT block, link FROM event_chain";
const MOVE_HEAD: &str = "UPDATE event_chain SET block = $1, link = $2";
const FIRST: &str = "SELECT min(block) FROM events";
const FIRST_SINCE: &str = "SELECT min(block) FROM events WHERE time_ms >= $1";
const ANCHOR: &str = "SELECT block, link FROM event_chain_anchor";
/// Retention: the oldest blocks with their newest time (those due are a prefix).
const OLDEST: &str =
    "SELECT block, max(time_ms) FROM events GROUP BY block ORDER BY block LIMIT $1";
const LAST_OF: &str = "SELECT link FROM events WHERE block = $1 ORDER BY position DESC LIMIT 1";
const MOVE_ANCHOR: &str = "INSERT INTO event_chain_anchor (block, link) VALUES ($1, $2) \
     ON CONFLICT (one) DO UPDATE SET block = excluded.block, link = excluded.link";
const DELETE_UPTO: &str = "DELETE FROM events WHERE block <= $1";

/// Blocks deleted per call of [`delete_before`].
const BLOCKS_PER_CALL: i64 = 500;

const BEFORE: &str = "SELECT block, link FROM events WHERE block < $1 \
     ORDER BY block DESC, position DESC LIMIT 1";
const WALK: &str = "SELECT block, position, id, line, link FROM events \
     WHERE (block, position) > ($1, $2) ORDER BY block, position LIMIT $3";

/// The head, locked until the appending transaction ends: the next block's number and
/// the link its first line follows.
pub(super) fn lock_head(tx: &mut impl GenericClient) -> Result<(i64, Link), Failure> {
    let row = tx.query_one(HEAD_FOR_APPEND, &[])?;
    let block: i64 = row.try_get(0)?;
    Ok((block + 1, as_link(row.try_get(1)?)?))
}

pub(super) fn move_head(
    tx: &mut impl GenericClient,
    block: i64,
    link: &Link,
) -> Result<(), Failure> {
    tx.execute(MOVE_HEAD, &[&block, &link.as_slice()])?;
    Ok(())
}

fn as_link(bytes: Vec<u8>) -> Result<Link, Failure> {
    Link::try_from(bytes.as_slice())
        .map_err(|_| Failure::invalid(format!("a stored link is {} bytes, not 32", bytes.len())))
}

/// Walks the chain from its first block, or from the first block holding an event at
/// or after `since_ms` (trusting the link before it), and stops at the first break.
pub(super) fn verify(client: &mut Client, since_ms: Option<i64>) -> Result<ChainCheck, Failure> {
    let start: Option<i64> = match since_ms {
        Some(since) => client.query_one(FIRST_SINCE, &[&since])?.try_get(0)?,
        None => client.query_one(FIRST, &[])?.try_get(0)?,
    };
    let mut walk = Walk {
        check: ChainCheck::starting_at(start),
        previous: GENESIS,
        block: 0,
        position: -1,
    };
    let Some(start) = start else {
        // No events: right only if none was ever written (or none since `since_ms`).
        if since_ms.is_none() {
            walk.end_at_head(client)?;
        }
        return Ok(walk.check);
    };
    walk.start_at(client, start)?;
    let mut cursor = (start, -1_i32);
    while walk.check.first_break.is_none() {
        let rows = client.query(WALK, &[&cursor.0, &cursor.1, &PAGE])?;
        for row in &rows {
            let (block, position): (i64, i32) = (row.try_get(0)?, row.try_get(1)?);
            let id: String = row.try_get(2)?;
            let line: String = row.try_get(3)?;
            let link = as_link(row.try_get(4)?)?;
            walk.line(block, position, id, &line, &link);
            cursor = (block, position);
            if walk.check.first_break.is_some() {
                break;
            }
        }
        if i64::try_from(rows.len()).unwrap_or(0) < PAGE {
            break;
        }
    }
    if walk.check.first_break.is_none() {
        walk.end_at_head(client)?;
    }
    Ok(walk.check)
}

/// A check in progress.
struct Walk {
    check: ChainCheck,
    /// The link the next line must follow.
    previous: Link,
    /// The block and position of the last line read.
    block: i64,
    position: i32,
}

impl Walk {
    /// Takes the link before `start` from the last line of the block before it, which
    /// must be its immediate predecessor (or none, when `start` is the first block).
    fn start_at(&mut self, client: &mut Client, start: i64) -> Result<(), Failure> {
        let before = client.query_opt(BEFORE, &[&start])?;
        self.block = start - 1;
        self.position = i32::MAX;
        match before {
            Some(row) => {
                let number: i64 = row.try_get(0)?;
                if number != start - 1 {
                    self.broken(start, 0, None, BreakKind::Gap);
                }
                self.previous = as_link(row.try_get(1)?)?;
            }
            None if start == 1 => {}
            // Nothing before `start`: retention deleted the blocks before it, and the
            // anchor must say so (its block is the one just before, its link the last).
            None => {
                let anchor = client.query_opt(ANCHOR, &[])?;
                match anchor {
                    Some(row) if row.try_get::<_, i64>(0)? == start - 1 => {
                        self.previous = as_link(row.try_get(1)?)?;
                    }
                    _ => self.broken(start, 0, None, BreakKind::Gap),
                }
            }
        }
        Ok(())
    }

    fn line(&mut self, block: i64, position: i32, id: String, line: &str, link: &Link) {
        if block != self.block {
            if block != self.block + 1 {
                return self.broken(block, 0, Some(id), BreakKind::Gap);
            }
            self.block = block;
            self.position = -1;
            self.check.blocks += 1;
        }
        if position != self.position + 1 {
            return self.broken(
                block,
                u64::try_from(self.position + 1).unwrap_or(0),
                Some(id),
                BreakKind::Missing,
            );
        }
        self.position = position;
        if next(&self.previous, line) != *link {
            return self.broken(
                block,
                u64::try_from(position).unwrap_or(0),
                Some(id),
                BreakKind::Mismatch,
            );
        }
        self.previous = *link;
        self.check.events += 1;
        self.check.head = Some(hex(link));
    }

    /// The last line read must be the head's: lines removed from the end of the newest
    /// block leave every remaining link intact, but not the head.
    fn end_at_head(&mut self, client: &mut Client) -> Result<(), Failure> {
        let row = client.query_one(HEAD, &[])?;
        let (block, link): (i64, Link) = (row.try_get(0)?, as_link(row.try_get(1)?)?);
        if link != self.previous || block != self.block {
            let position = u64::try_from(self.position + 1).unwrap_or(0);
            self.broken(block.max(self.block), position, None, BreakKind::Missing);
        }
        Ok(())
    }

    fn broken(&mut self, block: i64, position: u64, event: Option<String>, kind: BreakKind) {
        self.check.first_break = Some(ChainBreak {
            block,
            position,
            event,
            kind,
        });
    }
}

/// Retention: deletes the oldest blocks whose every event is older than `cutoff_ms`, in
/// order (at most [`BLOCKS_PER_CALL`]), and moves the chain's anchor to the end of the
/// newest one deleted, so what remains still verifies. Returns how many events went.
pub(super) fn delete_before(client: &mut Client, cutoff_ms: i64) -> Result<u64, Failure> {
    let mut tx = client.transaction()?;
    let mut last_due = None;
    for row in tx.query(OLDEST, &[&BLOCKS_PER_CALL])? {
        let (block, newest): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
        if newest >= cutoff_ms {
            break;
        }
        last_due = Some(block);
    }
    let Some(last_due) = last_due else {
        return Ok(0);
    };
    let link: Vec<u8> = tx.query_one(LAST_OF, &[&last_due])?.try_get(0)?;
    tx.execute(MOVE_ANCHOR, &[&last_due, &link])?;
    let deleted = tx.execute(DELETE_UPTO, &[&last_due])?;
    tx.commit()?;
    Ok(deleted)
}
