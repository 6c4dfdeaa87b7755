//! Quarantines in SQLite: one row each; ended ones are deleted whenever the live set is
//! read.

use rusqlite::{Connection, Row, TransactionBehavior};

use super::column::invalid;
use crate::quarantine::{Quarantine, QuarantineKind};

const INSERT: &str = "INSERT OR REPLACE INTO quarantines (id, kind, subject, reason, \
     quarantined_by, at_ms, until_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

const DELETE: &str = "DELETE FROM quarantines WHERE id = ?1";

const SWEEP: &str = "DELETE FROM quarantines WHERE until_ms <= ?1";

const ALL: &str = "SELECT id, kind, subject, reason, quarantined_by, at_ms, until_ms \
     FROM quarantines ORDER BY at_ms DESC, id DESC";

pub(super) fn put(conn: &Connection, quarantine: &Quarantine) -> rusqlite::Result<()> {
    conn.prepare_cached(INSERT)?.execute((
        &quarantine.id,
        quarantine.kind.as_str(),
        &quarantine.subject,
        &quarantine.reason,
        &quarantine.by,
        quarantine.at_ms,
        quarantine.until_ms,
    ))?;
    Ok(())
}

pub(super) fn delete(conn: &Connection, id: &str) -> rusqlite::Result<bool> {
    Ok(conn.prepare_cached(DELETE)?.execute([id])? > 0)
}

/// Deletes the ended quarantines, then reads the rest, in one transaction.
pub(super) fn live(conn: &mut Connection, now_ms: i64) -> rusqlite::Result<Vec<Quarantine>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.prepare_cached(SWEEP)?.execute([now_ms])?;
    let live = tx
        .prepare_cached(ALL)?
        .query_map([], decode)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    tx.commit()?;
    Ok(live)
}

fn decode(row: &Row<'_>) -> rusqlite::Result<Quarantine> {
    let kind: String = row.get(1)?;
    Ok(Quarantine {
        id: row.get(0)?,
        kind: QuarantineKind::parse(&kind)
            .ok_or_else(|| invalid(1, format!("unknown quarantine kind `{kind}`")))?,
        subject: row.get(2)?,
        reason: row.get(3)?,
        by: row.get(4)?,
        at_ms: row.get(5)?,
        until_ms: row.get(6)?,
    })
}
