//! The outbox in PostgreSQL: events read back in store order by `(block, position)`
//! (the `events_order` index), and the sinks' cursors, one row each.

use postgres::Client;

use super::Failure;
use crate::outbox::{Position, StoredLine};

const AFTER: &str = "SELECT block, position, line FROM events \
     WHERE (block, position) > ($1, $2) ORDER BY block, position LIMIT $3";
const COUNT: &str = "SELECT count(*) FROM events WHERE (block, position) > ($1, $2)";
const HEAD: &str = "SELECT block, position FROM events ORDER BY block DESC, position DESC LIMIT 1";
const CURSOR: &str = "SELECT block, position FROM sink_cursors WHERE sink = $1";
/// A cursor only moves forward, so a late writer (another replica delivering the same
/// sink) cannot send it back over events already delivered.
const PUT_CURSOR: &str = "INSERT INTO sink_cursors (sink, block, position) VALUES ($1, $2, $3) \
     ON CONFLICT (sink) DO UPDATE SET block = excluded.block, position = excluded.position \
     WHERE (excluded.block, excluded.position) > (sink_cursors.block, sink_cursors.position)";

/// `(block, position)` strictly before every stored event.
fn bound(after: Option<Position>) -> (i64, i32) {
    after.map_or((i64::MIN, -1), |at| {
        (at.block, i32::try_from(at.index).unwrap_or(i32::MAX))
    })
}

fn position(block: i64, index: i32) -> Position {
    Position {
        block,
        index: u32::try_from(index).unwrap_or(0),
    }
}

pub(super) fn after(
    client: &mut Client,
    after: Option<Position>,
    limit: u32,
) -> Result<Vec<StoredLine>, Failure> {
    let (block, index) = bound(after);
    let rows = client.query(AFTER, &[&block, &index, &i64::from(limit)])?;
    rows.iter()
        .map(|row| {
            Ok(StoredLine {
                position: position(row.try_get(0)?, row.try_get(1)?),
                line: row.try_get(2)?,
            })
        })
        .collect()
}

pub(super) fn count_after(client: &mut Client, after: Option<Position>) -> Result<u64, Failure> {
    let (block, index) = bound(after);
    let count: i64 = client.query_one(COUNT, &[&block, &index])?.try_get(0)?;
    Ok(u64::try_from(count).unwrap_or(0))
}

pub(super) fn head(client: &mut Client) -> Result<Option<Position>, Failure> {
    let row = client.query_opt(HEAD, &[])?;
    row.map(|row| Ok(position(row.try_get(0)?, row.try_get(1)?)))
        .transpose()
}

pub(super) fn cursor(client: &mut Client, sink: &str) -> Result<Option<Position>, Failure> {
    let row = client.query_opt(CURSOR, &[&sink])?;
    row.map(|row| Ok(position(row.try_get(0)?, row.try_get(1)?)))
        .transpose()
}

pub(super) fn put_cursor(client: &mut Client, sink: &str, at: Position) -> Result<(), Failure> {
    let (block, index) = bound(Some(at));
    client.execute(PUT_CURSOR, &[&sink, &block, &index])?;
    Ok(())
}
