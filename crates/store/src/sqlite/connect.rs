//! Opening SQLite connections with the settings Gatehouse relies on.

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

/// How long a statement waits for another connection's lock before failing as busy.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Room for every shape of event, workflow and approval query (one per combination of
/// filters in use) plus the fixed statements, and the event log's multi-row inserts (up
/// to 18 shapes each for ids and keys, see `events::rows`).
const STATEMENT_CACHE: usize = 96 + 40;

/// Creates the directory the database file lives in.
pub(super) fn create_parent(path: &Path) -> Result<(), String> {
    let Some(parent) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    else {
        return Ok(());
    };
    std::fs::create_dir_all(parent)
        .map_err(|error| format!("cannot create directory `{}`: {error}", parent.display()))
}

/// The connection that writes and migrates. WAL lets readers run beside it; NORMAL
/// synchronous is durable across application crashes and, with WAL, loses at most the
/// last transactions on power loss, never consistency. It never checkpoints: a commit
/// that did would hold the one writer behind page copies and `fsync`s
/// (`checkpointer`).
pub(super) fn writer(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    configure(&conn)?;
    conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    Ok(conn)
}

/// The connection the checkpoint thread copies the log back through. `synchronous`
/// is the writer's, which decides how a checkpoint syncs.
pub(super) fn checkpointer(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(conn)
}

/// A connection for queries only; opened after migrations, so the schema is there.
pub(super) fn reader(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    configure(&conn)?;
    conn.pragma_update(None, "query_only", true)?;
    Ok(conn)
}

/// SQLite's `quick_check` (every page, index and constraint but not index contents):
/// `Err` with what it found unless the database is sound.
pub(super) fn quick_check(conn: &Connection) -> Result<(), String> {
    let mut statement = conn
        .prepare("PRAGMA quick_check(5)")
        .map_err(|error| error.to_string())?;
    let found: Vec<String> = statement
        .query_map([], |row| row.get::<_, String>(0))
        .and_then(|rows| rows.collect())
        .map_err(|error| error.to_string())?;
    if found.len() == 1 && found.first().is_some_and(|line| line == "ok") {
        return Ok(());
    }
    Err(format!("integrity check failed: {}", found.join("; ")))
}

pub(super) fn in_memory() -> rusqlite::Result<Connection> {
    let conn = Connection::open_in_memory()?;
    configure(&conn)?;
    Ok(conn)
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(())
}
