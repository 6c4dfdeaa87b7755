//! Single-use assertion ids. Two replicas claiming one `jti` at once meet at the
//! primary key: exactly one insert wins.

use postgres::Client;

use super::Failure;

/// Inserts the claim, or takes over a stored one that expired before `now`; the row
/// comes back only when the claim was fresh.
const CLAIM: &str = "INSERT INTO jti_claims (issuer, jti, expires_at) VALUES ($1, $2, $3) \
     ON CONFLICT (issuer, jti) DO UPDATE SET expires_at = excluded.expires_at \
     WHERE jti_claims.expires_at < $4 RETURNING 1";

const SWEEP: &str = "DELETE FROM jti_claims WHERE expires_at < $1";

/// One claim in this many sweeps expired ones.
const SWEEP_EVERY: u64 = 256;

pub(super) fn claim(
    client: &mut Client,
    issuer: &str,
    jti: &str,
    expires_at: i64,
    now: i64,
) -> Result<bool, Failure> {
    let fresh = client
        .query_opt(CLAIM, &[&issuer, &jti, &expires_at, &now])?
        .is_some();
    if fresh && jti_hash(jti).is_multiple_of(SWEEP_EVERY) {
        client.execute(SWEEP, &[&now])?;
    }
    Ok(fresh)
}

/// A cheap spread over claims (ids are random), so about one claim in
/// [`SWEEP_EVERY`] sweeps without a counter shared between replicas.
fn jti_hash(jti: &str) -> u64 {
    jti.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}
