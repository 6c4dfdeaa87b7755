//! Single-use identity assertion ids (`jti`), remembered until they expire.

use std::sync::atomic::{AtomicU32, Ordering};

use rusqlite::Connection;

/// Expired claims are deleted on every this many claims: often enough that the table
/// stays the size of the assertions alive at once, rarely enough to cost nothing.
pub(super) const SWEEP_EVERY: u32 = 256;

/// One claim of an assertion id.
#[derive(Debug)]
pub(super) struct Claim<'a> {
    pub(super) issuer: &'a str,
    pub(super) jti: &'a str,
    pub(super) expires_at: i64,
}

/// Records the claim; true if it is fresh. A stored claim that expired before `now`
/// no longer counts: it is replaced, so the answer does not depend on when the last
/// sweep ran.
const CLAIM: &str = "INSERT INTO jti_claims (issuer, jti, expires_at) VALUES (?1, ?2, ?3) \
     ON CONFLICT (issuer, jti) DO UPDATE SET expires_at = excluded.expires_at \
     WHERE jti_claims.expires_at < ?4";

const SWEEP: &str = "DELETE FROM jti_claims WHERE expires_at < ?1";

pub(super) fn claim(conn: &Connection, claim: &Claim<'_>, now: i64) -> rusqlite::Result<bool> {
    let mut statement = conn.prepare_cached(CLAIM)?;
    let changed = statement.execute((claim.issuer, claim.jti, claim.expires_at, now))?;
    Ok(changed == 1)
}

/// Deletes expired claims on the first call and then on every [`SWEEP_EVERY`]th.
pub(super) fn sweep_now_and_then(
    conn: &Connection,
    counter: &AtomicU32,
    now: i64,
) -> rusqlite::Result<()> {
    // Callers hold the writer lock, so a relaxed counter cannot skip or double a sweep
    // in a way that matters.
    let seen = counter.fetch_add(1, Ordering::Relaxed);
    if !seen.is_multiple_of(SWEEP_EVERY) {
        return Ok(());
    }
    conn.prepare_cached(SWEEP)?.execute([now])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::migrate::migrated_in_memory;
    use super::*;

    fn rows(conn: &Connection) -> i64 {
        conn.query_row("SELECT count(*) FROM jti_claims", [], |row| row.get(0))
            .unwrap()
    }

    fn claim_as_the_store_does(conn: &Connection, counter: &AtomicU32, jti: &str, now: i64) {
        sweep_now_and_then(conn, counter, now).unwrap();
        let claim = Claim {
            issuer: "issuer",
            jti,
            expires_at: now + 60,
        };
        assert!(super::claim(conn, &claim, now).unwrap());
    }

    #[test]
    fn expired_claims_are_swept_every_so_often() {
        let conn = migrated_in_memory();
        let counter = AtomicU32::new(0);
        for n in 0..SWEEP_EVERY {
            claim_as_the_store_does(&conn, &counter, &format!("old-{n}"), 1_000);
        }
        assert_eq!(rows(&conn), i64::from(SWEEP_EVERY));
        claim_as_the_store_does(&conn, &counter, "new", 2_000);
        assert_eq!(
            rows(&conn),
            1,
            "only the claim made after the sweep is left"
        );
    }

    #[test]
    fn claims_alive_at_sweep_time_are_kept() {
        let conn = migrated_in_memory();
        let counter = AtomicU32::new(0);
        claim_as_the_store_does(&conn, &counter, "alive", 1_000);
        counter.store(SWEEP_EVERY, Ordering::Relaxed);
        claim_as_the_store_does(&conn, &counter, "other", 1_030);
        assert_eq!(rows(&conn), 2);
    }
}
