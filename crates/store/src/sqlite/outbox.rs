//! The outbox in SQLite: events read back block by block in store order, and the sinks'
//! cursors, one row each. A block's line count is its chain's length over 32 (one link
//! per line), so counting a backlog reads no line.

use rusqlite::{Connection, OptionalExtension};

use crate::chain::LINK_LEN;
use crate::outbox::{Position, StoredLine};

const FROM: &str = "SELECT block, lines FROM event_lines WHERE block >= ?1 ORDER BY block";
const COUNT: &str = "SELECT coalesce(sum(length(chain) / ?2), 0) FROM event_lines WHERE block > ?1";
const LINES_IN: &str = "SELECT length(chain) / ?2 FROM event_lines WHERE block = ?1";
const HEAD: &str = "SELECT block, length(chain) / ?1 FROM event_lines ORDER BY block DESC LIMIT 1";
const CURSOR: &str = "SELECT block, position FROM sink_cursors WHERE sink = ?1";
/// A cursor only moves forward, so a late writer (another process delivering the same
/// sink) cannot send it back over events already delivered.
const PUT_CURSOR: &str = "INSERT INTO sink_cursors (sink, block, position) VALUES (?1, ?2, ?3) \
     ON CONFLICT (sink) DO UPDATE SET block = excluded.block, position = excluded.position \
     WHERE (excluded.block, excluded.position) > (sink_cursors.block, sink_cursors.position)";

pub(super) fn after(
    conn: &Connection,
    after: Option<Position>,
    limit: u32,
) -> rusqlite::Result<Vec<StoredLine>> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut found = Vec::new();
    let mut statement = conn.prepare_cached(FROM)?;
    let mut rows = statement.query([after.map_or(0, |at| at.block)])?;
    while found.len() < limit {
        let Some(row) = rows.next()? else {
            break;
        };
        let block: i64 = row.get(0)?;
        let lines: String = row.get(1)?;
        let skip = match after {
            Some(at) if at.block == block => at.index.saturating_add(1),
            _ => 0,
        };
        for (index, line) in (0u32..).zip(lines.lines()) {
            if index >= skip && found.len() < limit {
                let position = Position { block, index };
                found.push(StoredLine {
                    position,
                    line: line.to_owned(),
                });
            }
        }
    }
    Ok(found)
}

pub(super) fn count_after(conn: &Connection, after: Option<Position>) -> rusqlite::Result<u64> {
    let link = i64::try_from(LINK_LEN).unwrap_or(32);
    let Some(at) = after else {
        return count_from(conn, -1, link);
    };
    let later = count_from(conn, at.block, link)?;
    let in_block: Option<i64> = conn
        .prepare_cached(LINES_IN)?
        .query_row((at.block, link), |row| row.get(0))
        .optional()?;
    let rest = in_block
        .map_or(0, |lines| lines - i64::from(at.index) - 1)
        .max(0);
    Ok(later + u64::try_from(rest).unwrap_or(0))
}

fn count_from(conn: &Connection, block: i64, link: i64) -> rusqlite::Result<u64> {
    let count: i64 = conn
        .prepare_cached(COUNT)?
        .query_row((block, link), |row| row.get(0))?;
    Ok(u64::try_from(count).unwrap_or(0))
}

pub(super) fn head(conn: &Connection) -> rusqlite::Result<Option<Position>> {
    let link = i64::try_from(LINK_LEN).unwrap_or(32);
    let last: Option<(i64, i64)> = conn
        .prepare_cached(HEAD)?
        .query_row([link], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    Ok(last.and_then(|(block, lines)| {
        let index = u32::try_from(lines - 1).ok()?;
        Some(Position { block, index })
    }))
}

pub(super) fn cursor(conn: &Connection, sink: &str) -> rusqlite::Result<Option<Position>> {
    let found: Option<(i64, i64)> = conn
        .prepare_cached(CURSOR)?
        .query_row([sink], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    Ok(found.map(|(block, index)| Position {
        block,
        index: u32::try_from(index).unwrap_or(0),
    }))
}

pub(super) fn put_cursor(conn: &Connection, sink: &str, at: Position) -> rusqlite::Result<()> {
    conn.prepare_cached(PUT_CURSOR)?
        .execute((sink, at.block, i64::from(at.index)))?;
    Ok(())
}
