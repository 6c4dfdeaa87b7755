//! Token exchanges' admissions ([`crate::Admission`]), a batch in one transaction.

use std::sync::atomic::AtomicU32;

use rusqlite::{Connection, TransactionBehavior};

use super::{claims, workflows};
use crate::admission::{Admission, Admitted};

/// Claims each `jti` and creates the workflows of the fresh ones; all or nothing.
pub(super) fn admit(
    conn: &mut Connection,
    claims_since_sweep: &AtomicU32,
    admissions: &[Admission],
    now: i64,
) -> rusqlite::Result<Vec<Admitted>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut admitted = Vec::with_capacity(admissions.len());
    for admission in admissions {
        claims::sweep_now_and_then(&tx, claims_since_sweep, now)?;
        let claim = claims::Claim {
            issuer: &admission.issuer,
            jti: &admission.jti,
            expires_at: admission.expires_at,
        };
        if !claims::claim(&tx, &claim, now)? {
            admitted.push(Admitted::Replayed);
            continue;
        }
        let workflow = admission.workflow.as_ref();
        let created = workflow.map(|w| workflows::create(&tx, w)).transpose()?;
        admitted.push(Admitted::Fresh(created));
    }
    tx.commit()?;
    Ok(admitted)
}
