//! The event log in SQLite: appending batches, and queries built from fixed SQL
//! fragments with every filter value bound as a parameter.

mod row;

use gatehouse_core::event::{Event, EventFilter};
use gatehouse_core::ids::DecisionId;
use rusqlite::types::Value;
use rusqlite::{Connection, ErrorCode, OptionalExtension, ToSql, TransactionBehavior};

use super::{OrUnavailable, unavailable};
use crate::error::StoreError;
use crate::store::effective_limit;

const INSERT: &str = "INSERT INTO events (id, time_ms, kind, agent, workflow, task_class, \
     tool, segment, method, path, intent, outcome, refusal, reason, policies, tier, \
     data_class, status, bytes_in, bytes_out, latency_us, upstream_us, actor) VALUES (?1, ?2, \
     ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, \
     ?22, ?23)";

const BY_ID: &str = "SELECT id, time_ms, kind, agent, workflow, task_class, tool, segment, \
     method, path, intent, outcome, refusal, reason, policies, tier, data_class, status, \
     bytes_in, bytes_out, latency_us, upstream_us, actor FROM events WHERE id = ?1";

/// The head of every query; [`row::decode`] reads the columns in this order.
const SELECT: &str = "SELECT id, time_ms, kind, agent, workflow, task_class, tool, segment, \
     method, path, intent, outcome, refusal, reason, policies, tier, data_class, status, \
     bytes_in, bytes_out, latency_us, upstream_us, actor FROM events WHERE 1 = 1";

/// Writes the whole batch in one transaction, or nothing of it.
pub(super) fn insert(
    conn: &mut Connection,
    location: &str,
    events: &[Event],
) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .or_unavailable(location)?;
    {
        let mut statement = tx.prepare_cached(INSERT).or_unavailable(location)?;
        for event in events {
            statement
                .execute(row::Encoded::new(event).params())
                .map_err(|error| insert_error(location, event.id, error))?;
        }
    }
    // Dropping `tx` on an early return above rolls the batch back.
    tx.commit().or_unavailable(location)
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
