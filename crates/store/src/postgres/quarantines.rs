//! Quarantines: one row each; ended ones are deleted whenever the live set is read. A
//! change is announced to every replica in the writing transaction, as revocations are.

use postgres::{Client, Row};

use super::Failure;
use super::listen::NOTIFY_QUARANTINES;
use crate::quarantine::{Quarantine, QuarantineKind};

const UPSERT: &str = "INSERT INTO quarantines (id, kind, subject, reason, quarantined_by, \
     at_ms, until_ms) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO UPDATE SET \
     kind = excluded.kind, subject = excluded.subject, reason = excluded.reason, \
     quarantined_by = excluded.quarantined_by, at_ms = excluded.at_ms, until_ms = excluded.until_ms";
const DELETE: &str = "DELETE FROM quarantines WHERE id = $1";
const SWEEP: &str = "DELETE FROM quarantines WHERE until_ms <= $1";
const ALL: &str = "SELECT id, kind, subject, reason, quarantined_by, at_ms, until_ms \
     FROM quarantines ORDER BY at_ms DESC, id DESC";

pub(super) fn put(client: &mut Client, quarantine: &Quarantine) -> Result<(), Failure> {
    let mut tx = client.transaction()?;
    tx.execute(
        UPSERT,
        &[
            &quarantine.id,
            &quarantine.kind.as_str(),
            &quarantine.subject,
            &quarantine.reason,
            &quarantine.by,
            &quarantine.at_ms,
            &quarantine.until_ms,
        ],
    )?;
    tx.execute(NOTIFY_QUARANTINES, &[])?;
    tx.commit()?;
    Ok(())
}

pub(super) fn delete(client: &mut Client, id: &str) -> Result<bool, Failure> {
    let mut tx = client.transaction()?;
    let deleted = tx.execute(DELETE, &[&id])? > 0;
    tx.execute(NOTIFY_QUARANTINES, &[])?;
    tx.commit()?;
    Ok(deleted)
}

/// Deletes the ended quarantines, then reads the rest, in one transaction.
pub(super) fn live(client: &mut Client, now_ms: i64) -> Result<Vec<Quarantine>, Failure> {
    let mut tx = client.transaction()?;
    tx.execute(SWEEP, &[&now_ms])?;
    let rows = tx.query(ALL, &[])?;
    tx.commit()?;
    rows.iter().map(decode).collect()
}

fn decode(row: &Row) -> Result<Quarantine, Failure> {
    let kind: String = row.try_get(1)?;
    Ok(Quarantine {
        id: row.try_get(0)?,
        kind: QuarantineKind::parse(&kind)
            .ok_or_else(|| Failure::invalid(format!("unknown quarantine kind `{kind}`")))?,
        subject: row.try_get(2)?,
        reason: row.try_get(3)?,
        by: row.try_get(4)?,
        at_ms: row.try_get(5)?,
        until_ms: row.try_get(6)?,
    })
}
