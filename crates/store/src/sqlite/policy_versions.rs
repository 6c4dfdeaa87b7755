//! Policy versions in SQLite: one row per load, in the order of loading.

use rusqlite::{Connection, Row};

use crate::policy_version::PolicyVersion;

const INSERT: &str = "INSERT INTO policy_versions (version, loaded_at_ms, loaded_by, message, \
     files) VALUES (?1, ?2, ?3, ?4, ?5)";

const NEWEST: &str = "SELECT version, loaded_at_ms, loaded_by, message, files \
     FROM policy_versions ORDER BY seq DESC LIMIT ?1";

pub(super) fn put(conn: &Connection, version: &PolicyVersion) -> rusqlite::Result<()> {
    conn.prepare_cached(INSERT)?.execute((
        &version.version,
        version.loaded_at_ms,
        &version.by,
        &version.message,
        version.files,
    ))?;
    Ok(())
}

pub(super) fn newest(conn: &Connection, limit: u32) -> rusqlite::Result<Vec<PolicyVersion>> {
    conn.prepare_cached(NEWEST)?
        .query_map([limit], decode)?
        .collect()
}

fn decode(row: &Row<'_>) -> rusqlite::Result<PolicyVersion> {
    Ok(PolicyVersion {
        version: row.get(0)?,
        loaded_at_ms: row.get(1)?,
        by: row.get(2)?,
        message: row.get(3)?,
        files: row.get(4)?,
    })
}
