//! The event log in SQLite: appending batches, and queries built from fixed SQL
//! fragments with every filter value bound as a parameter.

mod row;

use std::sync::OnceLock;

use gatehouse_core::event::{Event, EventFilter, EventLine};
use gatehouse_core::ids::DecisionId;
use rusqlite::types::Value;
use rusqlite::{Connection, ErrorCode, OptionalExtension, ToSql, TransactionBehavior};

use super::{OrUnavailable, unavailable};
use crate::error::StoreError;
use crate::store::effective_limit;

const INSERT: &str = "INSERT INTO events (id, time_ms, agent, workflow, tool, intent, \
     outcome, line) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

/// Columns of one event row, the parameters of `INSERT`.
const COLUMNS: usize = 8;

const BY_ID: &str = "SELECT id, line FROM events WHERE id = ?1";

/// The head of every query; [`row::decode`] reads the columns in this order.
const SELECT: &str = "SELECT id, line FROM events WHERE 1 = 1";

/// Rows per multi-row `INSERT`: one statement execution (cursor opening, parameter
/// binding, statement end) for this many events instead of one each.
const ROWS: usize = 16;

/// Writes the whole batch in one transaction, or nothing of it.
pub(super) fn insert(
    conn: &mut Connection,
    location: &str,
    events: &[EventLine<'_>],
) -> Result<(), StoreError> {
    match insert_in_chunks(conn, location, events)? {
        Written::All => Ok(()),
        // A multi-row statement's `OR ROLLBACK` undid the transaction: the same batch
        // again, row by row, names the conflicting id and keeps nothing.
        Written::Nothing => {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .or_unavailable(location)?;
            insert_each(&tx, location, events)?;
            tx.commit().or_unavailable(location)
        }
    }
}

/// What a pass of multi-row statements left behind.
enum Written {
    All,
    /// A constraint failed and rolled the transaction back.
    Nothing,
}

fn insert_in_chunks(
    conn: &mut Connection,
    location: &str,
    events: &[EventLine<'_>],
) -> Result<Written, StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .or_unavailable(location)?;
    let mut chunks = events.chunks_exact(ROWS);
    for chunk in chunks.by_ref() {
        if !insert_chunk(&tx, location, chunk)? {
            return Ok(Written::Nothing);
        }
    }
    insert_each(&tx, location, chunks.remainder())?;
    // Dropping `tx` on an early return above rolls the batch back.
    tx.commit().or_unavailable(location)?;
    Ok(Written::All)
}

/// `ROWS` events in one statement; false when a constraint failed, which rolled back the
/// whole transaction. `OR ROLLBACK` rather than the default `ABORT` because an aborting
/// multi-row statement must be undoable on its own, so SQLite keeps a statement journal
/// for it: a copy of every page it touches, about a fifth of the cost of an event.
fn insert_chunk(
    conn: &Connection,
    location: &str,
    chunk: &[EventLine<'_>],
) -> Result<bool, StoreError> {
    let encoded: Vec<row::Encoded<'_>> = chunk.iter().map(row::Encoded::new).collect();
    let params: Vec<&dyn ToSql> = encoded.iter().flat_map(row::Encoded::params).collect();
    let mut statement = conn
        .prepare_cached(insert_rows())
        .or_unavailable(location)?;
    match statement.execute(params.as_slice()) {
        Ok(_) => Ok(true),
        Err(error) if error.sqlite_error_code() == Some(ErrorCode::ConstraintViolation) => {
            Ok(false)
        }
        Err(error) => Err(unavailable(location, error)),
    }
}

fn insert_each(
    conn: &Connection,
    location: &str,
    events: &[EventLine<'_>],
) -> Result<(), StoreError> {
    let mut statement = conn.prepare_cached(INSERT).or_unavailable(location)?;
    for line in events {
        statement
            .execute(row::Encoded::new(line).params())
            .map_err(|error| insert_error(location, line.event.id, error))?;
    }
    Ok(())
}

/// `INSERT OR ROLLBACK` with `ROWS` rows of values, numbered on from `INSERT`'s own.
fn insert_rows() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| {
        let mut sql = INSERT.replacen("INSERT", "INSERT OR ROLLBACK", 1);
        for row in 1..ROWS {
            let first = row * COLUMNS + 1;
            let values: Vec<String> = (first..first + COLUMNS).map(|n| format!("?{n}")).collect();
            sql.push_str(&format!(", ({})", values.join(", ")));
        }
        sql
    })
}

pub(super) fn one(
    conn: &Connection,
    location: &str,
    id: DecisionId,
) -> Result<Option<Event>, StoreError> {
    conn.prepare_cached(BY_ID)
        .and_then(|mut statement| {
            statement
                .query_row([id.to_string()], row::decode)
                .optional()
        })
        .or_unavailable(location)
}

pub(super) fn select(
    conn: &Connection,
    location: &str,
    filter: &EventFilter,
) -> Result<Vec<Event>, StoreError> {
    let query = Query::from_filter(filter);
    let params: Vec<(&str, &dyn ToSql)> = query
        .params
        .iter()
        .map(|(name, value)| (*name, value as &dyn ToSql))
        .collect();
    conn.prepare_cached(&query.sql)
        .and_then(|mut statement| {
            statement
                .query_map(params.as_slice(), row::decode)?
                .collect::<rusqlite::Result<Vec<Event>>>()
        })
        .or_unavailable(location)
}

/// An event query: SQL made only of the fixed fragments below (so each combination of
/// filters is one cached statement), and the values bound to its named parameters.
#[derive(Debug)]
struct Query {
    sql: String,
    params: Vec<(&'static str, Value)>,
}

impl Query {
    fn from_filter(filter: &EventFilter) -> Self {
        let mut query = Self {
            sql: SELECT.to_owned(),
            params: Vec::new(),
        };
        query.narrow(" AND agent = :agent", ":agent", text(&filter.agent));
        query.narrow(
            " AND workflow = :workflow",
            ":workflow",
            text(&filter.workflow),
        );
        query.narrow(" AND tool = :tool", ":tool", text(&filter.tool));
        query.narrow(" AND intent = :intent", ":intent", text(&filter.intent));
        let outcome = filter.outcome.map(|o| Value::Text(o.as_str().to_owned()));
        query.narrow(" AND outcome = :outcome", ":outcome", outcome);
        let since = filter.since_ms.map(Value::Integer);
        query.narrow(" AND time_ms >= :since", ":since", since);
        let until = filter.until_ms.map(Value::Integer);
        query.narrow(" AND time_ms < :until", ":until", until);
        let after = filter.after.map(|id| Value::Text(id.to_string()));
        let forward = after.is_some();
        query.narrow(" AND id > :after", ":after", after);
        query.order_and_limit(forward, effective_limit(filter));
        query
    }

    fn narrow(&mut self, clause: &'static str, name: &'static str, value: Option<Value>) {
        if let Some(value) = value {
            self.sql.push_str(clause);
            self.params.push((name, value));
        }
    }

    /// Newest first. Paging forward (`after`) takes the oldest events past the cursor,
    /// then turns them newest first, so consecutive pages leave no gap.
    fn order_and_limit(&mut self, forward: bool, limit: u32) {
        self.params
            .push((":limit", Value::Integer(i64::from(limit))));
        if forward {
            self.sql = format!(
                "SELECT * FROM ({} ORDER BY id ASC LIMIT :limit) ORDER BY id DESC",
                self.sql
            );
        } else {
            self.sql.push_str(" ORDER BY id DESC LIMIT :limit");
        }
    }
}

fn text(value: &Option<String>) -> Option<Value> {
    value.clone().map(Value::Text)
}

/// A constraint violation while inserting can only be a duplicate id: the one other
/// constraint (`outcome`) holds for every [`Event`].
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
    use gatehouse_core::event::Outcome;

    use super::*;
    use crate::{SqliteStore, Store};

    fn event(n: u128) -> Event {
        Event {
            id: DecisionId::from_u128(n),
            time_ms: 1_700_000_000_000,
            kind: "tool".to_owned(),
            agent: Some(format!("agent-{n}")),
            workflow: Some("wf".to_owned()),
            task_class: None,
            tool: Some("tickets".to_owned()),
            segment: Some("data".to_owned()),
            method: "GET".to_owned(),
            path: format!("/tools/tickets/{n}"),
            intent: Some("ticket.read".to_owned()),
            outcome: Outcome::Allow,
            refusal: None,
            reason: None,
            policies: vec!["p".to_owned()],
            tier: Some("low".to_owned()),
            data_class: None,
            status: 200,
            bytes_in: 0,
            bytes_out: u64::try_from(n).unwrap(),
            latency_us: 1,
            upstream_us: Some(1),
            actor: None,
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

    /// Rows written as columns (schema 7) come back, after the step to lines, as the
    /// events they were: every field, text that JSON must escape, absent values.
    #[test]
    fn events_stored_as_columns_read_back_the_same_after_the_step_to_lines() {
        let mut full = event(7);
        full.task_class = Some("triage".to_owned());
        full.refusal = Some("policy-denied".to_owned());
        full.reason = Some("quote \" backslash \\ newline \n ünïcode ✓".to_owned());
        full.policies = vec!["a\"b".to_owned(), "c".to_owned()];
        full.data_class = Some("internal".to_owned());
        full.outcome = Outcome::Pending;
        full.actor = Some("ops".to_owned());
        let mut bare = Event::blank(
            DecisionId::from_u128(8),
            -5,
            "token".to_owned(),
            "POST".to_owned(),
            "/v1/token".to_owned(),
        );
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
        assert_eq!(select(&conn, "test", &filter).unwrap(), vec![full]);
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
            &event.kind,
            &event.agent,
            &event.workflow,
            &event.task_class,
            &event.tool,
            &event.segment,
            &event.method,
            &event.path,
            &event.intent,
            &event.outcome.as_str(),
            &event.refusal,
            &event.reason,
            &policies,
            &event.tier,
            &event.data_class,
            &event.status,
            &bytes(event.bytes_in),
            &bytes(event.bytes_out),
            &bytes(event.latency_us),
            &event.upstream_us.map(bytes),
            &event.actor,
        ];
        conn.execute(sql, params.as_slice()).unwrap();
    }
}
