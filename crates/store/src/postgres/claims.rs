//! Single-use assertion ids. Two replicas claiming one `jti` at once meet at the
//! primary key: exactly one insert wins.

use postgres::{Client, GenericClient};

use super::{Failure, workflows};
use crate::admission::{Admission, Admitted};

/// Inserts the claim, or takes over a stored one that expired before `now`; the row
/// comes back only when the claim was fresh.
const CLAIM: &str = "INSERT INTO jti_claims (issuer, jti, expires_at) VALUES ($1, $2, $3) \
     ON CONFLICT (issuer, jti) DO UPDATE SET expires_at = excluded.expires_at \
     WHERE jti_claims.expires_at < $4 RETURNING 1";

const SWEEP: &str = "DELETE FROM jti_claims WHERE expires_at < $1";

/// One claim in this many sweeps expired ones.
const SWEEP_EVERY: u64 = 256;

pub(super) fn claim(
    client: &mut impl GenericClient,
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

/// Claims each `jti` and creates the workflows of the fresh ones, in one transaction:
/// one commit (and one flush of the write-ahead log) for the whole batch.
pub(super) fn admit(
    client: &mut Client,
    admissions: &[Admission],
    now: i64,
) -> Result<Vec<Admitted>, Failure> {
    let mut tx = client.transaction()?;
    let mut admitted = Vec::with_capacity(admissions.len());
    for admission in admissions {
        let (issuer, jti) = (&admission.issuer, &admission.jti);
        if !claim(&mut tx, issuer, jti, admission.expires_at, now)? {
            admitted.push(Admitted::Replayed);
            continue;
        }
        let workflow = admission.workflow.as_ref();
        let created = workflow
            .map(|workflow| workflows::create(&mut tx, workflow))
            .transpose()?;
        admitted.push(Admitted::Fresh(created));
    }
    tx.commit()?;
    Ok(admitted)
}
