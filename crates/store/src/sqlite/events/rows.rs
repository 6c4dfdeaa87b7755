//! Multi-row `INSERT`s for a block's ids and keys: one statement execution (cursor
//! opening, parameter binding, statement end) for many rows instead of one each. Up to
//! `EXACT` rows take one statement of exactly their number, which covers the small
//! batches of a quiet gateway and a block's keys; more take chunks of `ROWS` and then
//! of 32, so that a handful of statement shapes, each prepared once and cached, serve
//! every batch.

use std::sync::OnceLock;

use gatehouse_core::ids::DecisionId;
use rusqlite::ToSql;
use rusqlite::types::{ToSqlOutput, ValueRef};

/// The most rows one statement inserts.
pub(super) const ROWS: usize = 64;

/// Up to this many rows take one statement of their own shape.
const EXACT: usize = 16;

/// The statement shapes: 1 to `EXACT` rows, then 2 × `EXACT` … `ROWS` rows.
const SHAPES: usize = EXACT + (ROWS / EXACT).trailing_zeros() as usize;

/// A single-row `INSERT … VALUES (?1, …)` and its multi-row forms, made on first use.
#[derive(Debug)]
pub(super) struct Rows {
    single: &'static str,
    columns: usize,
    shapes: [OnceLock<String>; SHAPES],
}

impl Rows {
    pub(super) const fn new(single: &'static str, columns: usize) -> Self {
        Self {
            single,
            columns,
            shapes: [const { OnceLock::new() }; SHAPES],
        }
    }

    /// The statement inserting `rows` rows, a number [`chunk`] gives, as `INSERT OR
    /// ROLLBACK`: a constraint failing in a multi-row statement must otherwise be undone
    /// on its own, so SQLite would keep a statement journal, a copy of every page the
    /// statement touches, for each one. The single row keeps the default `ABORT`, which
    /// needs no such journal for one row.
    pub(super) fn sql(&self, rows: usize) -> &str {
        match shape(rows).and_then(|shape| self.shapes.get(shape)) {
            Some(sql) if rows > 1 => sql.get_or_init(|| self.build(rows)),
            // INVARIANT: `chunk` gives no other number; one that were wrong would fail
            // on its parameter count, not write anything wrong.
            _ => self.single,
        }
    }

    fn build(&self, rows: usize) -> String {
        let mut sql = self.single.replacen("INSERT", "INSERT OR ROLLBACK", 1);
        for row in 1..rows {
            let first = row * self.columns + 1;
            let values: Vec<String> = (first..first + self.columns)
                .map(|n| format!("?{n}"))
                .collect();
            sql.push_str(&format!(", ({})", values.join(", ")));
        }
        sql
    }
}

/// How many of `left` rows the next statement inserts: all of them up to `EXACT`, else
/// `ROWS` or the greatest power of two not above `left`.
pub(super) fn chunk(left: usize) -> usize {
    match left {
        0..=EXACT => left,
        ROWS.. => ROWS,
        _ => 1 << left.ilog2(),
    }
}

/// Where the statement of `rows` rows is kept, for the numbers `chunk` gives.
fn shape(rows: usize) -> Option<usize> {
    match rows {
        0 => None,
        1..=EXACT => Some(rows - 1),
        _ if rows.is_power_of_two() && rows <= ROWS => {
            Some(EXACT - 1 + (rows / EXACT).trailing_zeros() as usize)
        }
        _ => None,
    }
}

/// An id's text form, bound without a `String` of its own.
#[derive(Debug)]
pub(super) struct IdText([u8; 26]);

impl IdText {
    pub(super) fn new(id: DecisionId) -> Self {
        Self(id.encode())
    }
}

impl ToSql for IdText {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(ValueRef::Text(&self.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static ID: Rows = Rows::new("INSERT INTO t (a, b) VALUES (?1, ?2)", 2);

    #[test]
    fn chunks_are_exact_when_small_else_rows_then_falling_powers_of_two() {
        let mut sizes = Vec::new();
        let mut left = 2 * ROWS + 45;
        while left > 0 {
            let size = chunk(left);
            sizes.push(size);
            left -= size;
        }
        assert_eq!(sizes, [ROWS, ROWS, 32, 13]);
        assert_eq!(chunk(0), 0);
        assert_eq!(chunk(1), 1);
        assert_eq!(chunk(EXACT + 1), EXACT);
    }

    #[test]
    fn every_chunk_has_a_shape_of_its_own() {
        let mut shapes: Vec<usize> = (1..=2 * ROWS)
            .map(|left| shape(chunk(left)).unwrap())
            .collect();
        shapes.sort_unstable();
        shapes.dedup();
        assert_eq!(shapes, (0..SHAPES).collect::<Vec<_>>());
        for left in 1..=2 * ROWS {
            let rows = chunk(left);
            assert_eq!(ID.sql(rows).matches('(').count(), rows + 1, "{rows}");
        }
    }

    #[test]
    fn each_shape_numbers_its_parameters_on() {
        assert_eq!(ID.sql(1), "INSERT INTO t (a, b) VALUES (?1, ?2)");
        assert_eq!(
            ID.sql(4),
            "INSERT OR ROLLBACK INTO t (a, b) VALUES (?1, ?2), (?3, ?4), (?5, ?6), (?7, ?8)"
        );
        let widest = ID.sql(ROWS);
        assert!(widest.ends_with(&format!("(?{}, ?{})", 2 * ROWS - 1, 2 * ROWS)));
        assert_eq!(widest.matches('(').count(), ROWS + 1);
    }

    #[test]
    fn an_id_binds_as_its_text() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let id = DecisionId::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        let text: String = conn
            .query_row("SELECT ?1", [IdText::new(id)], |row| row.get(0))
            .unwrap();
        assert_eq!(text, id.to_string());
    }
}
