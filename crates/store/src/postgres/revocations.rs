//! Revocations: one row per kind and subject.

use postgres::{Client, Row};

use super::Failure;
use super::listen::{NOTIFY_REVOCATIONS, revoked_body};
use crate::revocation::{Revocation, RevocationKind};

const DELETE: &str = "DELETE FROM revocations WHERE kind = $1 AND subject = $2";
const SWEEP: &str = "DELETE FROM revocations WHERE kind = 'token' AND expires_at < $1";
const LIVE: &str = "SELECT kind, subject, at_ms, revoked_by, reason, expires_at \
     FROM revocations ORDER BY at_ms DESC, kind, subject";

/// Stores the revocation and announces it, in one statement: its own transaction, and
/// one round trip to the database instead of four, which a loaded machine makes
/// expensive on the way from the control-plane call to the other replicas. The
/// announcement is the revocation itself (`listen.rs`, `revoked:<schema>:<body>`), or a
/// plain `revocations` when its body would not fit.
const PUT_AND_ANNOUNCE: &str = "WITH stored AS (INSERT INTO revocations (kind, subject, \
     at_ms, revoked_by, reason, expires_at) VALUES ($1, $2, $3, $4, $5, $6) \
     ON CONFLICT (kind, subject) DO UPDATE SET at_ms = excluded.at_ms, \
     revoked_by = excluded.revoked_by, reason = excluded.reason, \
     expires_at = excluded.expires_at RETURNING 1) \
     SELECT pg_notify('gatehouse_changes', CASE WHEN $7::text IS NULL THEN 'revocations' \
     ELSE 'revoked:' || coalesce(current_schema(), '') || ':' || $7::text END) FROM stored";

/// Stores the revocation and tells every replica, in one statement.
pub(super) fn put(client: &mut Client, revocation: &Revocation) -> Result<(), Failure> {
    client.execute(
        PUT_AND_ANNOUNCE,
        &[
            &revocation.kind.as_str(),
            &revocation.subject,
            &revocation.at_ms,
            &revocation.by,
            &revocation.reason,
            &revocation.expires_at,
            &revoked_body(revocation),
        ],
    )?;
    Ok(())
}

pub(super) fn delete(
    client: &mut Client,
    kind: RevocationKind,
    subject: &str,
) -> Result<bool, Failure> {
    let mut tx = client.transaction()?;
    let deleted = tx.execute(DELETE, &[&kind.as_str(), &subject])? > 0;
    tx.execute(NOTIFY_REVOCATIONS, &[])?;
    tx.commit()?;
    Ok(deleted)
}

/// Drops spent token revocations, then lists the rest, in one transaction.
pub(super) fn live(client: &mut Client, now: i64) -> Result<Vec<Revocation>, Failure> {
    let mut tx = client.transaction()?;
    tx.execute(SWEEP, &[&now])?;
    let rows = tx.query(LIVE, &[])?;
    tx.commit()?;
    rows.iter().map(decode).collect()
}

fn decode(row: &Row) -> Result<Revocation, Failure> {
    let kind: String = row.try_get(0)?;
    Ok(Revocation {
        kind: RevocationKind::parse(&kind)
            .ok_or_else(|| Failure::invalid(format!("unknown revocation kind `{kind}`")))?,
        subject: row.try_get(1)?,
        at_ms: row.try_get(2)?,
        by: row.try_get(3)?,
        reason: row.try_get(4)?,
        expires_at: row.try_get(5)?,
    })
}
