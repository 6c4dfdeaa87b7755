//! Workflows in SQLite: one row each, written whole, and listings built from fixed SQL
//! fragments with every filter value bound as a parameter.

mod row;

use gatehouse_core::model::WorkflowId;
use gatehouse_core::workflow::Workflow;
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, ToSql};

use crate::workflow::WorkflowFilter;

/// The columns of every statement, in the order [`row::Encoded::params`] binds them and
/// [`row::decode`] reads them.
macro_rules! columns {
    () => {
        "id, agent, task_class, segment, status, budget_calls, budget_writes, budget_bytes, \
         used_calls, used_writes, used_bytes, created_at, expires_at, paused_for, ended_by"
    };
}

const UPSERT: &str = concat!(
    "INSERT INTO workflows (",
    columns!(),
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) \
     ON CONFLICT (id) DO UPDATE SET agent = excluded.agent, task_class = \
     excluded.task_class, segment = excluded.segment, status = excluded.status, \
     budget_calls = excluded.budget_calls, budget_writes = excluded.budget_writes, \
     budget_bytes = excluded.budget_bytes, used_calls = excluded.used_calls, used_writes = \
     excluded.used_writes, used_bytes = excluded.used_bytes, created_at = \
     excluded.created_at, expires_at = excluded.expires_at, paused_for = \
     excluded.paused_for, ended_by = excluded.ended_by"
);

/// Inserts a new workflow, or leaves the stored one as it is; either way one statement
/// returns the stored row, so no other writer can slip in between insert and read. (The
/// no-op update is what makes `RETURNING` answer for an existing row.)
const CREATE: &str = concat!(
    "INSERT INTO workflows (",
    columns!(),
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) \
     ON CONFLICT (id) DO UPDATE SET id = workflows.id RETURNING ",
    columns!()
);

const BY_ID: &str = concat!("SELECT ", columns!(), " FROM workflows WHERE id = ?1");

/// The head of every listing.
const SELECT: &str = concat!("SELECT ", columns!(), " FROM workflows WHERE 1 = 1");

pub(super) fn put(conn: &Connection, workflow: &Workflow) -> rusqlite::Result<()> {
    let encoded = row::Encoded::new(workflow);
    conn.prepare_cached(UPSERT)?.execute(encoded.params())?;
    Ok(())
}

pub(super) fn create(conn: &Connection, workflow: &Workflow) -> rusqlite::Result<Workflow> {
    let encoded = row::Encoded::new(workflow);
    conn.prepare_cached(CREATE)?
        .query_row(encoded.params(), row::decode)
}

pub(super) fn one(conn: &Connection, id: &WorkflowId) -> rusqlite::Result<Option<Workflow>> {
    conn.prepare_cached(BY_ID)?
        .query_row([id.as_str()], row::decode)
        .optional()
}

pub(super) fn select(
    conn: &Connection,
    filter: &WorkflowFilter,
) -> rusqlite::Result<Vec<Workflow>> {
    let query = Query::from_filter(filter);
    conn.prepare_cached(&query.sql)?
        .query_map(query.bound().as_slice(), row::decode)?
        .collect()
}

/// A listing: SQL made only of the fixed fragments below (so each combination of
/// filters is one cached statement), and the values bound to its named parameters.
#[derive(Debug)]
struct Query {
    sql: String,
    params: Vec<(&'static str, Value)>,
}

impl Query {
    fn from_filter(filter: &WorkflowFilter) -> Self {
        let mut query = Self {
            sql: SELECT.to_owned(),
            params: Vec::new(),
        };
        let agent = filter.agent.clone().map(Value::Text);
        query.narrow(" AND agent = :agent", ":agent", agent);
        let status = filter
            .status
            .map(|status| Value::Text(row::status_text(status).to_owned()));
        query.narrow(" AND status = :status", ":status", status);
        query
            .sql
            .push_str(" ORDER BY created_at DESC, id DESC LIMIT :limit");
        let limit = i64::from(filter.effective_limit());
        query.params.push((":limit", Value::Integer(limit)));
        query
    }

    /// The parameters as `rusqlite` takes them.
    fn bound(&self) -> Vec<(&str, &dyn ToSql)> {
        self.params
            .iter()
            .map(|(name, value)| (*name, value as &dyn ToSql))
            .collect()
    }

    fn narrow(&mut self, clause: &'static str, name: &'static str, value: Option<Value>) {
        if let Some(value) = value {
            self.sql.push_str(clause);
            self.params.push((name, value));
        }
    }
}

#[cfg(test)]
mod tests {
    use gatehouse_core::workflow::Status;

    use super::*;

    /// Every shape of listing reads its rows in order from an index and stops at the
    /// limit, instead of sorting the whole table.
    #[test]
    fn listings_walk_an_index_in_order() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::migrate::run(&mut conn, "test").unwrap();
        for (agent, status) in [
            (None, None),
            (Some("a".to_owned()), None),
            (None, Some(Status::Paused)),
            (Some("a".to_owned()), Some(Status::Paused)),
        ] {
            let filter = WorkflowFilter {
                agent,
                status,
                limit: None,
            };
            let query = Query::from_filter(&filter);
            let plan: Vec<String> = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {}", query.sql))
                .unwrap()
                .query_map(query.bound().as_slice(), |row| row.get(3))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            let plan = plan.join("\n");
            assert!(
                plan.contains("USING INDEX workflows_"),
                "{filter:?}: {plan}"
            );
            assert!(!plan.contains("TEMP B-TREE"), "{filter:?}: {plan}");
        }
    }
}
