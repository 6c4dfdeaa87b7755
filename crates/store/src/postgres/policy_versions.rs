//! Policy versions in PostgreSQL: one row per load, in the order of loading (every
//! replica records its own loads).

use postgres::{Client, Row};

use super::Failure;
use crate::policy_version::PolicyVersion;

const INSERT: &str = "INSERT INTO policy_versions (version, loaded_at_ms, loaded_by, message, \
     files) VALUES ($1, $2, $3, $4, $5)";

const NEWEST: &str = "SELECT version, loaded_at_ms, loaded_by, message, files \
     FROM policy_versions ORDER BY seq DESC LIMIT $1";

pub(super) fn put(client: &mut Client, version: &PolicyVersion) -> Result<(), Failure> {
    client.execute(
        INSERT,
        &[
            &version.version,
            &version.loaded_at_ms,
            &version.by,
            &version.message,
            &i64::from(version.files),
        ],
    )?;
    Ok(())
}

pub(super) fn newest(client: &mut Client, limit: u32) -> Result<Vec<PolicyVersion>, Failure> {
    let rows = client.query(NEWEST, &[&i64::from(limit)])?;
    rows.iter().map(decode).collect()
}

fn decode(row: &Row) -> Result<PolicyVersion, Failure> {
    let files: i64 = row.try_get(4)?;
    Ok(PolicyVersion {
        version: row.try_get(0)?,
        loaded_at_ms: row.try_get(1)?,
        by: row.try_get(2)?,
        message: row.try_get(3)?,
        files: u32::try_from(files).unwrap_or(u32::MAX),
    })
}
