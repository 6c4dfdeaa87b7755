//! Listings of records newest first (workflows, approvals): SQL made only of fixed
//! fragments, so each combination of filters is one cached statement, with every filter
//! value bound to a named parameter.

use rusqlite::types::Value;
use rusqlite::{Connection, Row, ToSql};

/// One listing being built: its SQL and the values bound to its named parameters.
#[derive(Debug)]
pub(super) struct Listing {
    sql: String,
    params: Vec<(&'static str, Value)>,
}

impl Listing {
    /// Starts from `head`, a `SELECT … WHERE 1 = 1` that the filters extend.
    pub(super) fn new(head: &'static str) -> Self {
        Self {
            sql: head.to_owned(),
            params: Vec::new(),
        }
    }

    /// Adds `clause` (naming the parameter `name`) if there is a `value` to bind.
    pub(super) fn narrow(
        &mut self,
        clause: &'static str,
        name: &'static str,
        value: Option<Value>,
    ) {
        if let Some(value) = value {
            self.sql.push_str(clause);
            self.params.push((name, value));
        }
    }

    /// Ends the statement: newest first (by `created_at`, then `id`, both descending), at
    /// most `limit` rows.
    pub(super) fn newest_first(mut self, limit: u32) -> Self {
        self.sql
            .push_str(" ORDER BY created_at DESC, id DESC LIMIT :limit");
        self.params
            .push((":limit", Value::Integer(i64::from(limit))));
        self
    }

    /// Runs the listing, reading each row with `decode`.
    pub(super) fn rows<T>(
        &self,
        conn: &Connection,
        decode: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<Vec<T>> {
        conn.prepare_cached(&self.sql)?
            .query_map(self.bound().as_slice(), decode)?
            .collect()
    }

    /// The parameters as `rusqlite` takes them.
    fn bound(&self) -> Vec<(&str, &dyn ToSql)> {
        self.params
            .iter()
            .map(|(name, value)| (*name, value as &dyn ToSql))
            .collect()
    }
}

/// The text of a filter value, bound as it is.
pub(super) fn text(value: Option<&str>) -> Option<Value> {
    value.map(|text| Value::Text(text.to_owned()))
}

#[cfg(test)]
impl Listing {
    /// SQLite's plan for this listing, one step a line.
    pub(super) fn plan(&self, conn: &Connection) -> rusqlite::Result<String> {
        let steps: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {}", self.sql))?
            .query_map(self.bound().as_slice(), |row| row.get(3))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(steps.join("\n"))
    }
}
