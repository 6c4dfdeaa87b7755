//! The event log in SQLite: each appended batch is one block (its JSON lines in one
//! text), with an index from every event id to its block and one from every value a
//! query filters on to the blocks holding it. Writing an event costs one index entry
//! instead of a row and six index entries; queries read whole blocks (see `walk`).
//! Each block also keeps the hash-chain links of its lines (see `chain`).

mod block;
pub(super) mod chain;
mod rates;
mod retention;
mod rows;
mod walk;

pub(super) use retention::delete_before;

use gatehouse_core::event::{Event, EventFilter, EventLine};
use gatehouse_core::ids::DecisionId;
use rusqlite::{Connection, ErrorCode, OptionalExtension, ToSql, params};

use super::{OrUnavailable, unavailable};
use crate::chain::ChainCheck;
use crate::error::StoreError;
use crate::rates::{CallCount, RateQuery};
use crate::sqlite::column::decision_id;
use crate::sqlite::immediate::Immediate;
use crate::store::effective_limit;
use block::Block;
use rows::{IdText, Rows};

/// The last block's reaches, which the next block's extend.
const REACH: &str = "SELECT reach_id, reach_time_ms FROM event_blocks ORDER BY block DESC LIMIT 1";
const HEADER: &str = "INSERT INTO event_blocks (first_id, last_id, reach_id, min_time_ms, \
     max_time_ms, reach_time_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
const LINES: &str = "INSERT INTO event_lines (block, lines, chain) VALUES (?1, ?2, ?3)";
const KEY: &str = "INSERT INTO event_keys (field, value, block) VALUES (?1, ?2, ?3)";
const ID: &str = "INSERT INTO event_ids (id, block) VALUES (?1, ?2)";

/// Multi-row forms of `ID` and `KEY`.
static IDS: Rows = Rows::new(ID, 2);
static KEYS: Rows = Rows::new(KEY, 3);

/// Writes the whole batch in one transaction, or nothing of it.
pub(super) fn insert(
    conn: &mut Connection,
    location: &str,
    events: &[EventLine<'_>],
) -> Result<(), StoreError> {
    let Some(block) = Block::new(events) else {
        return Ok(());
    };
    match insert_block(conn, location, &block, Ids::Chunked)? {
        Written::All => Ok(()),
        // A multi-row statement's `OR ROLLBACK` undid the transaction: the same block
        // again, id by id, names the conflicting id and keeps nothing.
        Written::Nothing => match insert_block(conn, location, &block, Ids::OneByOne)? {
            Written::All => Ok(()),
            Written::Nothing => Err(unavailable(location, "a rolled back write")),
        },
    }
}

/// How the ids of a block are inserted.
#[derive(Clone, Copy)]
enum Ids {
    /// Many per statement (see `rows`); a duplicate rolls the transaction back unnamed,
    /// unless it is in the last single-row statement.
    Chunked,
    /// One per statement; a duplicate is named.
    OneByOne,
}

/// What an attempt left behind.
enum Written {
    All,
    /// A constraint failed and rolled the transaction back.
    Nothing,
}

fn insert_block(
    conn: &mut Connection,
    location: &str,
    block: &Block<'_>,
    ids: Ids,
) -> Result<Written, StoreError> {
    let tx = Immediate::begin(conn).or_unavailable(location)?;
    // The link before this block is read inside the write transaction, so no other
    // block can come between: the chain follows store order.
    let previous = chain::head(&tx).or_unavailable(location)?;
    let (links, _) = chain::links(previous, block.events.iter().map(|line| &*line.json));
    let number = insert_header(&tx, block).or_unavailable(location)?;
    tx.prepare_cached(LINES)
        .and_then(|mut statement| statement.execute(params![number, block.text, links]))
        .or_unavailable(location)?;
    let single = match ids {
        Ids::Chunked => match insert_id_chunks(&tx, location, &block.events, number)? {
            Some(last) => last,
            // Dropping `tx` finds the transaction already rolled back.
            None => return Ok(Written::Nothing),
        },
        Ids::OneByOne => &block.events,
    };
    insert_each_id(&tx, location, single, number)?;
    insert_keys(&tx, block, number).or_unavailable(location)?;
    tx.commit().or_unavailable(location)?;
    Ok(Written::All)
}

/// Stores the block's header and returns its number.
fn insert_header(conn: &Connection, block: &Block<'_>) -> rusqlite::Result<i64> {
    let previous = conn
        .prepare_cached(REACH)?
        .query_row([], |row| Ok((decision_id(row, 0)?, row.get::<_, i64>(1)?)))
        .optional()?;
    let (reach_id, reach_time_ms) = match previous {
        Some((id, time)) => (id.max(block.last_id), time.max(block.max_time_ms)),
        None => (block.last_id, block.max_time_ms),
    };
    conn.prepare_cached(HEADER)?.execute(params![
        IdText::new(block.first_id),
        IdText::new(block.last_id),
        IdText::new(reach_id),
        block.min_time_ms,
        block.max_time_ms,
        reach_time_ms,
    ])?;
    Ok(conn.last_insert_rowid())
}

/// Inserts all ids but a last single one in multi-row statements; returns that last one
/// (or none) for `insert_each_id`, which names it if it is a duplicate, or `None` when a
/// constraint failed, which rolled back the whole transaction.
fn insert_id_chunks<'b, 'l>(
    conn: &Connection,
    location: &str,
    events: &'b [&'l EventLine<'l>],
    block: i64,
) -> Result<Option<&'b [&'l EventLine<'l>]>, StoreError> {
    let mut left = events;
    while left.len() > 1 {
        let (chunk, rest) = left.split_at(rows::chunk(left.len()));
        if !insert_id_chunk(conn, location, chunk, block)? {
            return Ok(None);
        }
        left = rest;
    }
    Ok(Some(left))
}

/// The ids of `chunk` in one statement; false when a constraint failed.
fn insert_id_chunk(
    conn: &Connection,
    location: &str,
    chunk: &[&EventLine<'_>],
    block: i64,
) -> Result<bool, StoreError> {
    let ids: Vec<IdText> = chunk
        .iter()
        .map(|line| IdText::new(line.event.id))
        .collect();
    let params: Vec<&dyn ToSql> = ids
        .iter()
        .flat_map(|id| [id as &dyn ToSql, &block as &dyn ToSql])
        .collect();
    let mut statement = conn
        .prepare_cached(IDS.sql(chunk.len()))
        .or_unavailable(location)?;
    match statement.execute(params.as_slice()) {
        Ok(_) => Ok(true),
        Err(error) if error.sqlite_error_code() == Some(ErrorCode::ConstraintViolation) => {
            Ok(false)
        }
        Err(error) => Err(unavailable(location, error)),
    }
}

fn insert_each_id(
    conn: &Connection,
    location: &str,
    events: &[&EventLine<'_>],
    block: i64,
) -> Result<(), StoreError> {
    let mut statement = conn.prepare_cached(ID).or_unavailable(location)?;
    for line in events {
        let id = line.event.id;
        statement
            .execute(params![IdText::new(id), block])
            .map_err(|error| insert_error(location, id, error))?;
    }
    Ok(())
}

/// The block's keys, a chunk of rows per statement. They cannot collide: the block is
/// new and its keys distinct.
fn insert_keys(conn: &Connection, block: &Block<'_>, number: i64) -> rusqlite::Result<()> {
    let keys: Vec<(&str, &str)> = block
        .keys
        .iter()
        .map(|(field, value)| (field.as_str(), *value))
        .collect();
    let mut left = keys.as_slice();
    while !left.is_empty() {
        let (chunk, rest) = left.split_at(rows::chunk(left.len()));
        let params: Vec<&dyn ToSql> = chunk
            .iter()
            .flat_map(|(field, value)| [field as &dyn ToSql, value, &number])
            .collect();
        conn.prepare_cached(KEYS.sql(chunk.len()))?
            .execute(params.as_slice())?;
        left = rest;
    }
    Ok(())
}

pub(super) fn one(
    conn: &Connection,
    location: &str,
    id: DecisionId,
) -> Result<Option<Event>, StoreError> {
    walk::one(conn, id).or_unavailable(location)
}

/// Events matching `filter`, read in one transaction so that every block a walk visits
/// is from the same moment.
pub(super) fn select(
    conn: &Connection,
    location: &str,
    filter: &EventFilter,
) -> Result<Vec<Event>, StoreError> {
    let limit = usize::try_from(effective_limit(filter)).unwrap_or(usize::MAX);
    let tx = conn.unchecked_transaction().or_unavailable(location)?;
    let events = match filter.after {
        Some(after) => walk::oldest_after(&tx, filter, after, limit),
        None => walk::newest(&tx, filter, limit),
    }
    .or_unavailable(location)?;
    tx.finish().or_unavailable(location)?;
    Ok(events)
}

/// One agent's calls per intent and bucket, read in one transaction so that every block
/// counted is from the same moment.
pub(super) fn call_counts(
    conn: &Connection,
    location: &str,
    query: &RateQuery,
) -> Result<Vec<CallCount>, StoreError> {
    let tx = conn.unchecked_transaction().or_unavailable(location)?;
    let counts = rates::count(&tx, query).or_unavailable(location)?;
    tx.finish().or_unavailable(location)?;
    Ok(counts)
}

/// Checks the hash chain, in one read transaction so that every block is from the same
/// moment.
pub(super) fn verify(
    conn: &Connection,
    location: &str,
    since_ms: Option<i64>,
) -> Result<ChainCheck, StoreError> {
    let tx = conn.unchecked_transaction().or_unavailable(location)?;
    let check = chain::verify(&tx, since_ms).or_unavailable(location)?;
    tx.finish().or_unavailable(location)?;
    Ok(check)
}

/// A constraint violation while inserting an id can only be a duplicate id.
fn insert_error(location: &str, id: DecisionId, error: rusqlite::Error) -> StoreError {
    match error.sqlite_error_code() {
        Some(ErrorCode::ConstraintViolation) => StoreError::Conflict {
            location: location.to_owned(),
            id,
        },
        _ => unavailable(location, error),
    }
}

#[cfg(test)]
mod tests {
    use gatehouse_core::event::{EventKind, Outcome};
    use gatehouse_core::model::Tier;
    use gatehouse_core::refusal::RefusalKind;

    use super::rows::ROWS;
    use super::*;
    use crate::{SqliteStore, Store};

    fn event(n: u128) -> Event {
        Event {
            id: DecisionId::from_u128(n),
            time_ms: 1_700_000_000_000,
            kind: EventKind::Tool,
            agent: Some(format!("agent-{n}").into()),
            workflow: Some("wf".into()),
            task_class: None,
            tool: Some("tickets".into()),
            segment: Some("data".into()),
            method: "GET".to_owned(),
            path: format!("/tools/tickets/{n}"),
            intent: Some("ticket.read".into()),
            outcome: Outcome::Allow,
            refusal: None,
            reason: None,
            policies: vec!["p".into()],
            tier: Some(Tier::Low),
            data_class: None,
            status: 200,
            bytes_in: 0,
            bytes_out: u64::try_from(n).unwrap(),
            latency_us: 1,
            upstream_us: Some(1),
            actor: None,
            policy_version: None,
            observed: None,
            decide: None,
            trace_id: None,
            parent_span_id: None,
            mcp_session: None,
            risk: None,
            anomaly: Default::default(),
        }
    }

    fn stored(store: &SqliteStore) -> Vec<Event> {
        let filter = EventFilter {
            limit: Some(1000),
            ..EventFilter::default()
        };
        let mut events = store.query_events(&filter).unwrap();
        events.reverse();
        events
    }

    #[test]
    fn a_batch_of_several_multi_row_statements_and_a_remainder_is_stored_whole() {
        let store = SqliteStore::open_in_memory().unwrap();
        let batch: Vec<Event> = (1..=2 * ROWS as u128 + 5).map(event).collect();
        store.append_events(&batch).unwrap();
        assert_eq!(stored(&store), batch);
    }

    #[test]
    fn a_duplicate_inside_a_multi_row_statement_is_named_and_stores_nothing() {
        let store = SqliteStore::open_in_memory().unwrap();
        let mut batch: Vec<Event> = (1..=2 * ROWS as u128).map(event).collect();
        batch[ROWS + 3] = event(ROWS as u128 + 1);
        let error = store.append_events(&batch).unwrap_err();
        let StoreError::Conflict { id, .. } = error else {
            panic!("expected a conflict, got {error:?}");
        };
        assert_eq!(id, DecisionId::from_u128(ROWS as u128 + 1));
        assert!(stored(&store).is_empty());
        store.append_events(&batch[..ROWS]).unwrap();
        assert_eq!(stored(&store), batch[..ROWS]);
    }

    /// Every way a batch splits into statements (chunks of `ROWS`, then falling powers
    /// of two, then a single row) with a duplicate anywhere: the duplicate id is named
    /// and nothing of the batch is kept, and the batch without it is stored whole.
    #[test]
    fn a_duplicate_in_any_chunk_of_any_batch_is_named_and_stores_nothing() {
        for size in [2, 3, 7, 8, 63, ROWS + 6] {
            for at in 1..size {
                let store = SqliteStore::open_in_memory().unwrap();
                let mut batch: Vec<Event> = (1..=size as u128).map(event).collect();
                batch[at] = event(at as u128);
                let error = store.append_events(&batch).unwrap_err();
                let StoreError::Conflict { id, .. } = error else {
                    panic!("expected a conflict, got {error:?}");
                };
                assert_eq!(id, DecisionId::from_u128(at as u128), "{size} {at}");
                assert!(stored(&store).is_empty(), "{size} {at}");
                batch.remove(at);
                store.append_events(&batch).unwrap();
                assert_eq!(stored(&store), batch, "{size} {at}");
            }
        }
    }

    #[test]
    fn an_id_stored_by_an_earlier_batch_is_named_and_the_batch_stores_nothing() {
        let store = SqliteStore::open_in_memory().unwrap();
        let first: Vec<Event> = (1..=3).map(event).collect();
        store.append_events(&first).unwrap();
        for size in [2, 5, ROWS + 2] {
            let batch: Vec<Event> = (3..3 + size as u128).map(event).collect();
            let error = store.append_events(&batch).unwrap_err();
            let StoreError::Conflict { id, .. } = error else {
                panic!("expected a conflict, got {error:?}");
            };
            assert_eq!(id, DecisionId::from_u128(3));
            assert_eq!(stored(&store), first);
        }
    }

    /// Rows written as columns (schema 7) come back, after the steps to lines and to
    /// blocks, as the events they were: every field, text that JSON must escape, absent
    /// values.
    #[test]
    fn events_stored_as_columns_read_back_the_same_after_the_step_to_lines() {
        let mut full = event(7);
        full.task_class = Some("triage".into());
        full.refusal = Some(RefusalKind::PolicyDenied);
        full.reason = Some("quote \" backslash \\ newline \n ünïcode ✓".to_owned());
        full.policies = vec!["a\"b".into(), "c".into()];
        full.data_class = Some("internal".into());
        full.outcome = Outcome::Pending;
        full.actor = Some("ops".into());
        let mut bare = Event {
            method: "POST".to_owned(),
            path: "/v1/token".to_owned(),
            ..Event::blank(DecisionId::from_u128(8), -5, EventKind::Token)
        };
        bare.status = 401;
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::migrate::run_until(&conn, 7).unwrap();
        for old in [&full, &bare] {
            insert_as_columns(&conn, old);
        }
        super::super::migrate::run(&mut conn, "test").unwrap();
        for old in [&full, &bare] {
            assert_eq!(one(&conn, "test", old.id).unwrap().as_ref(), Some(old));
        }
        let filter = EventFilter {
            outcome: Some(Outcome::Pending),
            ..EventFilter::default()
        };
        assert_eq!(select(&conn, "test", &filter).unwrap(), vec![full.clone()]);
        // Blocks written after the step number on from the carried-over ones.
        let later = event(9);
        insert(
            &mut conn,
            "test",
            &EventLine::all(std::slice::from_ref(&later)),
        )
        .unwrap();
        let everything = EventFilter::default();
        assert_eq!(
            select(&conn, "test", &everything).unwrap(),
            vec![later, bare, full]
        );
    }

    /// The insert of schema 7, when events were columns.
    fn insert_as_columns(conn: &Connection, event: &Event) {
        let policies = serde_json::to_string(&event.policies).unwrap();
        let bytes = |n: u64| i64::try_from(n).unwrap();
        let sql = "INSERT INTO events (id, time_ms, kind, agent, workflow, task_class, tool, \
             segment, method, path, intent, outcome, refusal, reason, policies, tier, \
             data_class, status, bytes_in, bytes_out, latency_us, upstream_us, actor) VALUES \
             (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, \
             ?19, ?20, ?21, ?22, ?23)";
        let params: [&dyn ToSql; 23] = [
            &event.id.to_string(),
            &event.time_ms,
            &event.kind.as_str(),
            &event.agent.as_deref(),
            &event.workflow.as_deref(),
            &event.task_class.as_deref(),
            &event.tool.as_deref(),
            &event.segment.as_deref(),
            &event.method,
            &event.path,
            &event.intent.as_deref(),
            &event.outcome.as_str(),
            &event.refusal.map(RefusalKind::as_str),
            &event.reason,
            &policies,
            &event.tier.map(Tier::as_str),
            &event.data_class.as_deref(),
            &event.status,
            &bytes(event.bytes_in),
            &bytes(event.bytes_out),
            &bytes(event.latency_us),
            &event.upstream_us.map(bytes),
            &event.actor.as_deref(),
        ];
        conn.execute(sql, params.as_slice()).unwrap();
    }
}
