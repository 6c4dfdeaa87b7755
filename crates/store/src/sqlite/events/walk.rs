//! Reading events back from blocks: one by id, the newest matching a filter, or the
//! oldest past a cursor.
//!
//! Blocks are numbered in the order they were written, and ids rise with time, but a
//! slow call's event is written after events with greater ids: blocks overlap in ids.
//! The newest-first walk goes down the block numbers and stops once a block's `reach_id`
//! (the greatest id it or any earlier block holds) cannot beat the events already kept.
//! Paging forward from a cursor with no field named follows the id index, exact in id
//! order. With a field named it goes up that value's blocks from the first block that
//! reaches past the cursor, to the last: a later block may hold a slow call's event
//! with a smaller id, but only a block whose `first_id` is below the greatest event kept
//! is read. Lines are only decoded when they contain every value the filter names.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use gatehouse_core::event::{Event, EventFilter};
use gatehouse_core::ids::DecisionId;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::block::{Field, LineTest, lines, matches};
use crate::sqlite::column::{decision_id, invalid};

const BLOCK_OF: &str = "SELECT block FROM event_ids WHERE id = ?1";
const TEXT_OF: &str = "SELECT lines FROM event_lines WHERE block = ?1";
const HAS_KEY: &str = "SELECT 1 FROM event_keys WHERE field = ?1 AND value = ?2 AND block = ?3";
const HEADER_OF: &str = "SELECT block, reach_id, min_time_ms, max_time_ms, reach_time_ms \
     FROM event_blocks WHERE block = ?1";
const HEADERS_DOWN: &str = "SELECT block, reach_id, min_time_ms, max_time_ms, reach_time_ms \
     FROM event_blocks ORDER BY block DESC";
const HEADERS_WITH_KEY_DOWN: &str = "SELECT b.block, b.reach_id, b.min_time_ms, \
     b.max_time_ms, b.reach_time_ms FROM event_keys k JOIN event_blocks b ON b.block = k.block \
     WHERE k.field = ?1 AND k.value = ?2 ORDER BY k.block DESC";
const IDS_UP: &str = "SELECT id, block FROM event_ids WHERE id > ?1 ORDER BY id ASC";
/// `reach_id` never falls from one block to the next, so the first in its order is the
/// first block that can hold an id greater than the cursor.
const FIRST_REACHING: &str =
    "SELECT block FROM event_blocks WHERE reach_id > ?1 ORDER BY reach_id, block LIMIT 1";
const FIRSTS_WITH_KEY_UP: &str = "SELECT b.block, b.first_id, b.min_time_ms, b.max_time_ms \
     FROM event_keys k JOIN event_blocks b ON b.block = k.block \
     WHERE k.field = ?1 AND k.value = ?2 AND k.block >= ?3 ORDER BY k.block ASC";

/// What a walk needs of a block before reading its lines.
struct Header {
    block: i64,
    reach_id: DecisionId,
    min_time_ms: i64,
    max_time_ms: i64,
    reach_time_ms: i64,
}

impl Header {
    fn read(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            block: row.get(0)?,
            reach_id: decision_id(row, 1)?,
            min_time_ms: row.get(2)?,
            max_time_ms: row.get(3)?,
            reach_time_ms: row.get(4)?,
        })
    }

    fn meets_window(&self, filter: &EventFilter) -> bool {
        meets_window(filter, self.min_time_ms, self.max_time_ms)
    }
}

/// Whether some event of a block with these time bounds could lie in the filter's window.
fn meets_window(filter: &EventFilter, min_time_ms: i64, max_time_ms: i64) -> bool {
    filter.since_ms.is_none_or(|since| max_time_ms >= since)
        && filter.until_ms.is_none_or(|until| min_time_ms < until)
}

/// The event with id `id`, if stored.
pub(super) fn one(conn: &Connection, id: DecisionId) -> rusqlite::Result<Option<Event>> {
    let block: Option<i64> = conn
        .prepare_cached(BLOCK_OF)?
        .query_row([id.to_string()], |row| row.get(0))
        .optional()?;
    let Some(block) = block else {
        return Ok(None);
    };
    let text = text_of(conn, block)?;
    for line in lines(&text) {
        if line_id(line)? == id {
            return decode(line).map(Some);
        }
    }
    Err(invalid(
        0,
        format!("event `{id}` is indexed in block {block}, which does not hold it"),
    ))
}

/// The `limit` events with the greatest ids matching `filter`, newest first.
pub(super) fn newest(
    conn: &Connection,
    filter: &EventFilter,
    limit: usize,
) -> rusqlite::Result<Vec<Event>> {
    let wanted = Field::wanted(filter);
    let test = LineTest::new(filter);
    let mut kept: BinaryHeap<Reverse<ById>> = BinaryHeap::with_capacity(limit + 1);
    let mut statement;
    let (driver, others) = match wanted.split_first() {
        Some((first, others)) => (Some(first), others),
        None => (None, [].as_slice()),
    };
    let mut headers = match driver {
        Some((field, value)) => {
            statement = conn.prepare_cached(HEADERS_WITH_KEY_DOWN)?;
            statement.query(params![field.as_str(), value])?
        }
        None => {
            statement = conn.prepare_cached(HEADERS_DOWN)?;
            statement.query([])?
        }
    };
    while let Some(row) = headers.next()? {
        let header = Header::read(row)?;
        let full = kept.len() >= limit;
        if full
            && kept
                .peek()
                .is_some_and(|worst| header.reach_id <= worst.0.0.id)
        {
            break;
        }
        if filter
            .since_ms
            .is_some_and(|since| header.reach_time_ms < since)
        {
            break;
        }
        if !header.meets_window(filter) || !has_keys(conn, header.block, others)? {
            continue;
        }
        for event in read_matching(conn, header.block, filter, &test)? {
            kept.push(Reverse(ById(event)));
            if kept.len() > limit {
                kept.pop();
            }
        }
    }
    let mut events: Vec<Event> = kept.into_iter().map(|kept| kept.0.0).collect();
    events.sort_by_key(|event| Reverse(event.id));
    Ok(events)
}

/// The `limit` events with the least ids greater than `after` matching `filter`,
/// returned newest first.
pub(super) fn oldest_after(
    conn: &Connection,
    filter: &EventFilter,
    after: DecisionId,
    limit: usize,
) -> rusqlite::Result<Vec<Event>> {
    let wanted = Field::wanted(filter);
    match wanted.split_first() {
        Some((driver, others)) => oldest_with_key(conn, filter, after, limit, *driver, others),
        None => oldest_by_id(conn, filter, after, limit),
    }
}

/// The forward walk up one value's blocks.
fn oldest_with_key(
    conn: &Connection,
    filter: &EventFilter,
    after: DecisionId,
    limit: usize,
    (field, value): (Field, &str),
    others: &[(Field, &str)],
) -> rusqlite::Result<Vec<Event>> {
    let start: Option<i64> = conn
        .prepare_cached(FIRST_REACHING)?
        .query_row([after.to_string()], |row| row.get(0))
        .optional()?;
    let Some(start) = start else {
        return Ok(Vec::new());
    };
    let test = LineTest::new(filter);
    // The least ids past the cursor; the greatest of them on top.
    let mut kept: BinaryHeap<ById> = BinaryHeap::with_capacity(limit + 1);
    let mut statement = conn.prepare_cached(FIRSTS_WITH_KEY_UP)?;
    let mut blocks = statement.query(params![field.as_str(), value, start])?;
    while let Some(row) = blocks.next()? {
        let block: i64 = row.get(0)?;
        let first_id = decision_id(row, 1)?;
        let (min_time_ms, max_time_ms): (i64, i64) = (row.get(2)?, row.get(3)?);
        let full = kept.len() >= limit;
        if full && kept.peek().is_some_and(|worst| first_id >= worst.0.id) {
            continue;
        }
        if !meets_window(filter, min_time_ms, max_time_ms) || !has_keys(conn, block, others)? {
            continue;
        }
        for event in read_matching(conn, block, filter, &test)? {
            if event.id > after {
                kept.push(ById(event));
                if kept.len() > limit {
                    kept.pop();
                }
            }
        }
    }
    let mut events: Vec<Event> = kept.into_iter().map(|kept| kept.0).collect();
    events.sort_by_key(|event| Reverse(event.id));
    Ok(events)
}

/// The forward walk along the id index, for filters naming no field.
fn oldest_by_id(
    conn: &Connection,
    filter: &EventFilter,
    after: DecisionId,
    limit: usize,
) -> rusqlite::Result<Vec<Event>> {
    // Per block met so far: its matching events not yet reached, or `None` when the
    // block cannot match at all (so its lines are never read).
    let mut blocks: HashMap<i64, Option<HashMap<DecisionId, Event>>> = HashMap::new();
    let mut found = Vec::new();
    let mut statement = conn.prepare_cached(IDS_UP)?;
    let mut ids = statement.query([after.to_string()])?;
    while found.len() < limit {
        let Some(row) = ids.next()? else {
            break;
        };
        let id = decision_id(row, 0)?;
        let block: i64 = row.get(1)?;
        let matching = match blocks.entry(block) {
            std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::hash_map::Entry::Vacant(entry) => {
                entry.insert(matching_in(conn, block, filter)?)
            }
        };
        if let Some(event) = matching.as_mut().and_then(|events| events.remove(&id)) {
            found.push(event);
        }
    }
    found.reverse();
    Ok(found)
}

/// The events of `block` matching `filter` (which names no field), by id; `None` when
/// the block's times rule it out.
fn matching_in(
    conn: &Connection,
    block: i64,
    filter: &EventFilter,
) -> rusqlite::Result<Option<HashMap<DecisionId, Event>>> {
    let header = conn
        .prepare_cached(HEADER_OF)?
        .query_row([block], Header::read)?;
    if !header.meets_window(filter) {
        return Ok(None);
    }
    let events = read_matching(conn, block, filter, &LineTest::new(filter))?
        .into_iter()
        .map(|event| (event.id, event))
        .collect();
    Ok(Some(events))
}

/// Whether `block` holds some event with each of these values.
fn has_keys(conn: &Connection, block: i64, wanted: &[(Field, &str)]) -> rusqlite::Result<bool> {
    let mut statement = conn.prepare_cached(HAS_KEY)?;
    for (field, value) in wanted {
        if !statement.exists(params![field.as_str(), value, block])? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The events of `block` matching `filter`, decoding only the lines `test` passes.
fn read_matching(
    conn: &Connection,
    block: i64,
    filter: &EventFilter,
    test: &LineTest,
) -> rusqlite::Result<Vec<Event>> {
    let mut events = Vec::new();
    let text = text_of(conn, block)?;
    for line in test.lines_in(&text) {
        let event = decode(line)?;
        if matches(&event, filter) {
            events.push(event);
        }
    }
    Ok(events)
}

fn text_of(conn: &Connection, block: i64) -> rusqlite::Result<String> {
    conn.prepare_cached(TEXT_OF)?
        .query_row([block], |row| row.get(0))
}

/// One line as its event.
fn decode(line: &str) -> rusqlite::Result<Event> {
    serde_json::from_str(line)
        .map_err(|error| invalid(0, format!("a stored event does not read back: {error}")))
}

/// The id of a line, read from its start where the event's JSON has it (`id` is the
/// first field), without decoding the rest.
fn line_id(line: &str) -> rusqlite::Result<DecisionId> {
    const HEAD: &str = r#"{"id":""#;
    line.strip_prefix(HEAD)
        .and_then(|rest| rest.get(..26))
        .and_then(DecisionId::parse)
        .map_or_else(|| decode(line).map(|event| event.id), Ok)
}

/// An event ordered by its id alone.
struct ById(Event);

impl PartialEq for ById {
    fn eq(&self, other: &Self) -> bool {
        self.0.id == other.0.id
    }
}

impl Eq for ById {}

impl PartialOrd for ById {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ById {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.id.cmp(&other.0.id)
    }
}
