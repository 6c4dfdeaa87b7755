//! Token exchanges' admissions ([`crate::Admission`]), a batch in one transaction.

use std::sync::atomic::AtomicU32;

use rusqlite::Connection;

use super::immediate::Immediate;
use super::{claims, workflows};
use crate::admission::{Admission, Admitted};

/// Claims each `jti` and creates the workflows of the fresh ones; all or nothing: an
/// error returns before the commit, and dropping the transaction rolls it back.
pub(super) fn admit(
    conn: &mut Connection,
    claims_since_sweep: &AtomicU32,
    admissions: &[Admission],
    now: i64,
) -> rusqlite::Result<Vec<Admitted>> {
    // Cached `BEGIN`/`COMMIT` statements: a batch is often a single exchange, so parsing
    // them each time was a visible part of an exchange's cost.
    let tx = Immediate::begin(conn)?;
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

#[cfg(test)]
mod tests {
    use gatehouse_core::model::{AgentId, SegmentName, TaskClassName, WorkflowId};
    use gatehouse_core::workflow::{Budget, Workflow};

    use super::super::migrate::migrated_in_memory;
    use super::*;

    const NOW: i64 = 1_700_000_000;

    fn admission(jti: &str, workflow: &str) -> Admission {
        let workflow = Workflow::new(
            WorkflowId::new(workflow),
            AgentId::new("spiffe://acme/agent/bot"),
            TaskClassName::new("triage"),
            SegmentName::new("data"),
            Budget::default(),
            NOW,
            60,
        );
        Admission {
            issuer: "spiffe://acme/agent/bot".to_owned(),
            jti: jti.to_owned(),
            expires_at: NOW + 60,
            workflow: Some(workflow),
        }
    }

    fn count(conn: &Connection, table: &str) -> i64 {
        conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |row| {
            row.get(0)
        })
        .unwrap()
    }

    #[test]
    fn a_batch_that_fails_part_way_keeps_nothing() {
        let mut conn = migrated_in_memory();
        // A failure in the second admission, after the first has claimed and created.
        conn.execute_batch(
            "CREATE TRIGGER refuse BEFORE INSERT ON workflows WHEN NEW.id = 'wf-bad' \
             BEGIN SELECT RAISE(ABORT, 'refused'); END",
        )
        .unwrap();
        let counter = AtomicU32::new(0);
        let batch = [admission("j1", "wf-good"), admission("j2", "wf-bad")];
        assert!(admit(&mut conn, &counter, &batch, NOW).is_err());
        assert!(conn.is_autocommit(), "the transaction ended");
        assert_eq!(count(&conn, "jti_claims"), 0);
        assert_eq!(count(&conn, "workflows"), 0);
        // The connection is usable, and the same first admission is fresh.
        let admitted = admit(&mut conn, &counter, &batch[..1], NOW).unwrap();
        assert!(matches!(admitted.as_slice(), [Admitted::Fresh(Some(_))]));
    }
}
