//! A write transaction begun and ended through cached statements. rusqlite's
//! `Transaction` runs `BEGIN IMMEDIATE` and `COMMIT` with `execute_batch`, which parses
//! them anew each time: about 6,000 instructions a transaction that the event log's
//! writer, committing a block for every few events, pays on a proxied call's core.

use std::ops::Deref;

use rusqlite::Connection;

const BEGIN: &str = "BEGIN IMMEDIATE";
const COMMIT: &str = "COMMIT";
const ROLLBACK: &str = "ROLLBACK";

/// An open `BEGIN IMMEDIATE` transaction, rolled back when dropped uncommitted (unless a
/// statement's `OR ROLLBACK` already ended it).
#[derive(Debug)]
pub(super) struct Immediate<'c> {
    conn: &'c Connection,
}

impl<'c> Immediate<'c> {
    /// Takes the `&mut` that rusqlite's own transactions take, so that none can be open
    /// on the connection at the same time.
    pub(super) fn begin(conn: &'c mut Connection) -> rusqlite::Result<Self> {
        conn.prepare_cached(BEGIN)?.execute([])?;
        Ok(Self { conn })
    }

    /// Commits; a failed commit (busy, full disk) leaves the transaction open, and
    /// dropping `self` rolls it back.
    pub(super) fn commit(self) -> rusqlite::Result<()> {
        self.conn.prepare_cached(COMMIT)?.execute([])?;
        Ok(())
    }
}

impl Deref for Immediate<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.conn
    }
}

impl Drop for Immediate<'_> {
    fn drop(&mut self) {
        if self.conn.is_autocommit() {
            return;
        }
        // Nothing to tell anyone: the error that made the caller give up is on its way
        // out, and a connection whose rollback failed fails its next statement too.
        let _rolled_back = self
            .conn
            .prepare_cached(ROLLBACK)
            .and_then(|mut statement| statement.execute([]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(conn: &Connection) -> i64 {
        conn.query_row("SELECT count(*) FROM t", [], |row| row.get(0))
            .unwrap()
    }

    fn table() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (x INTEGER PRIMARY KEY)")
            .unwrap();
        conn
    }

    #[test]
    fn a_committed_transaction_keeps_its_writes_and_a_dropped_one_does_not() {
        let mut conn = table();
        let tx = Immediate::begin(&mut conn).unwrap();
        tx.execute("INSERT INTO t VALUES (1)", []).unwrap();
        tx.commit().unwrap();
        let tx = Immediate::begin(&mut conn).unwrap();
        tx.execute("INSERT INTO t VALUES (2)", []).unwrap();
        drop(tx);
        assert!(conn.is_autocommit());
        assert_eq!(count(&conn), 1);
        // Again, now that the statements are cached.
        let tx = Immediate::begin(&mut conn).unwrap();
        tx.execute("INSERT INTO t VALUES (3)", []).unwrap();
        tx.commit().unwrap();
        assert_eq!(count(&conn), 2);
    }

    #[test]
    fn a_transaction_an_or_rollback_statement_ended_is_dropped_quietly() {
        let mut conn = table();
        let tx = Immediate::begin(&mut conn).unwrap();
        tx.execute("INSERT INTO t VALUES (1)", []).unwrap();
        let error = tx
            .execute("INSERT OR ROLLBACK INTO t VALUES (1)", [])
            .unwrap_err();
        assert_eq!(
            error.sqlite_error_code(),
            Some(rusqlite::ErrorCode::ConstraintViolation)
        );
        assert!(tx.is_autocommit());
        drop(tx);
        assert_eq!(count(&conn), 0);
        let tx = Immediate::begin(&mut conn).unwrap();
        tx.execute("INSERT INTO t VALUES (1)", []).unwrap();
        tx.commit().unwrap();
        assert_eq!(count(&conn), 1);
    }
}
