//! Revocations in SQLite: one row per kind and subject; spent token revocations are
//! deleted whenever the whole set is read.

use rusqlite::{Connection, Row, TransactionBehavior};

use super::column::invalid;
use crate::revocation::{Revocation, RevocationKind};

const UPSERT: &str = "INSERT INTO revocations (kind, subject, at_ms, revoked_by, reason, \
     expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (kind, subject) DO UPDATE SET \
     at_ms = excluded.at_ms, revoked_by = excluded.revoked_by, reason = excluded.reason, \
     expires_at = excluded.expires_at";

const DELETE: &str = "DELETE FROM revocations WHERE kind = ?1 AND subject = ?2";

/// Walks the index `revocations_expiry`, so it reads only spent rows.
const SWEEP: &str = "DELETE FROM revocations WHERE kind = 'token' AND expires_at < ?1";

const ALL: &str = "SELECT kind, subject, at_ms, revoked_by, reason, expires_at \
     FROM revocations ORDER BY at_ms DESC, kind, subject";

pub(super) fn put(conn: &Connection, revocation: &Revocation) -> rusqlite::Result<()> {
    conn.prepare_cached(UPSERT)?.execute((
        revocation.kind.as_str(),
        &revocation.subject,
        revocation.at_ms,
        &revocation.by,
        &revocation.reason,
        revocation.expires_at,
    ))?;
    Ok(())
}

pub(super) fn delete(
    conn: &Connection,
    kind: RevocationKind,
    subject: &str,
) -> rusqlite::Result<bool> {
    let deleted = conn
        .prepare_cached(DELETE)?
        .execute((kind.as_str(), subject))?;
    Ok(deleted > 0)
}

/// Deletes the spent token revocations, then reads the rest, in one transaction so a
/// revocation put meanwhile is either read or not, never half-swept.
pub(super) fn live(conn: &mut Connection, now_secs: i64) -> rusqlite::Result<Vec<Revocation>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.prepare_cached(SWEEP)?.execute([now_secs])?;
    let live = tx
        .prepare_cached(ALL)?
        .query_map([], decode)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    tx.commit()?;
    Ok(live)
}

fn decode(row: &Row<'_>) -> rusqlite::Result<Revocation> {
    Ok(Revocation {
        kind: kind(row, 0)?,
        subject: row.get(1)?,
        at_ms: row.get(2)?,
        by: row.get(3)?,
        reason: row.get(4)?,
        expires_at: row.get(5)?,
    })
}

fn kind(row: &Row<'_>, index: usize) -> rusqlite::Result<RevocationKind> {
    let text: String = row.get(index)?;
    RevocationKind::parse(&text)
        .ok_or_else(|| invalid(index, format!("unknown revocation kind `{text}`")))
}

#[cfg(test)]
mod tests {
    use super::super::migrate::migrated_in_memory;
    use super::*;

    #[test]
    fn the_sweep_uses_the_expiry_index() {
        let conn = migrated_in_memory();
        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {SWEEP}"))
            .unwrap()
            .query_map([0], |row| row.get::<_, String>(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let plan = plan.join("\n");
        assert!(plan.contains("revocations_expiry"), "{plan}");
    }
}
