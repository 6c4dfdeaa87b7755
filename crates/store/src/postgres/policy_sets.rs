//! Shared policy sets in PostgreSQL: one row per share, the files as a JSON array, and a
//! `NOTIFY` in the same transaction so every replica reads the newest and puts it in
//! force. Only the newest is ever read; older rows past [`KEPT`] are deleted as a share
//! lands (the history of what ran is `policy_versions`).

use postgres::{Client, Row};

use super::Failure;
use crate::policy_version::{PolicySet, PolicySetFile, SharedPolicySet};

/// How many shared sets are kept.
const KEPT: i64 = 8;

/// Stores the set, drops all but the newest [`KEPT`] and announces it, in one statement:
/// its own transaction, one round trip instead of five, on the way from `policy apply`
/// to every other replica.
const SHARE: &str = "WITH shared AS (INSERT INTO policy_sets (version, shared_at_ms, \
     shared_by, files) VALUES ($1, $2, $3, $4) RETURNING seq), \
     pruned AS (DELETE FROM policy_sets WHERE seq <= (SELECT seq FROM shared) - $5) \
     SELECT pg_notify('gatehouse_changes', 'policy') FROM shared";
const NEWEST: &str = "SELECT seq, version, shared_at_ms, shared_by, files FROM policy_sets \
     ORDER BY seq DESC LIMIT 1";

pub(super) fn share(client: &mut Client, set: &PolicySet) -> Result<(), Failure> {
    let files = serde_json::to_string(&set.files).map_err(Failure::invalid)?;
    client.execute(
        SHARE,
        &[&set.version, &set.shared_at_ms, &set.by, &files, &KEPT],
    )?;
    Ok(())
}

pub(super) fn newest(client: &mut Client) -> Result<Option<SharedPolicySet>, Failure> {
    client
        .query_opt(NEWEST, &[])?
        .map(|row| decode(&row))
        .transpose()
}

fn decode(row: &Row) -> Result<SharedPolicySet, Failure> {
    let files: String = row.try_get(4)?;
    let files: Vec<PolicySetFile> = serde_json::from_str(&files).map_err(Failure::invalid)?;
    Ok(SharedPolicySet {
        seq: row.try_get(0)?,
        set: PolicySet {
            version: row.try_get(1)?,
            shared_at_ms: row.try_get(2)?,
            by: row.try_get(3)?,
            files,
        },
    })
}
