//! Forensic recordings in SQLite: one row each, keyed by the call's decision id.

use rusqlite::{Connection, OptionalExtension, Row};

use crate::recording::Recording;

const INSERT: &str = "INSERT OR REPLACE INTO recordings (id, time_ms, agent, workflow, tool, \
     request, response) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
const COLUMNS: &str =
    "SELECT id, time_ms, agent, workflow, tool, request, response FROM recordings";

pub(super) fn put(conn: &Connection, recording: &Recording) -> rusqlite::Result<()> {
    conn.prepare_cached(INSERT)?.execute((
        &recording.id,
        recording.time_ms,
        &recording.agent,
        &recording.workflow,
        &recording.tool,
        &recording.request,
        &recording.response,
    ))?;
    Ok(())
}

pub(super) fn one(conn: &Connection, id: &str) -> rusqlite::Result<Option<Recording>> {
    conn.prepare_cached(&format!("{COLUMNS} WHERE id = ?1"))?
        .query_row([id], decode)
        .optional()
}

pub(super) fn list(
    conn: &Connection,
    agent: Option<&str>,
    limit: u32,
) -> rusqlite::Result<Vec<Recording>> {
    let order = "ORDER BY time_ms DESC, id DESC LIMIT";
    match agent {
        Some(agent) => conn
            .prepare_cached(&format!("{COLUMNS} WHERE agent = ?1 {order} ?2"))?
            .query_map((agent, limit), decode)?
            .collect(),
        None => conn
            .prepare_cached(&format!("{COLUMNS} {order} ?1"))?
            .query_map([limit], decode)?
            .collect(),
    }
}

fn decode(row: &Row<'_>) -> rusqlite::Result<Recording> {
    Ok(Recording {
        id: row.get(0)?,
        time_ms: row.get(1)?,
        agent: row.get(2)?,
        workflow: row.get(3)?,
        tool: row.get(4)?,
        request: row.get(5)?,
        response: row.get(6)?,
    })
}
