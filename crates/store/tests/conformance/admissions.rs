//! Conformance of token exchanges' admissions: a batch claims each `jti` once, creates
//! workflows only for fresh claims, answers in order, and concurrent batches never let
//! one `jti` be fresh twice.

use std::sync::Barrier;

use gatehouse_core::model::WorkflowId;
use gatehouse_store::{Admission, Admitted, Store};

use crate::workflows::sample;

const NOW: i64 = 1_700_000_000;

fn admission(jti: &str, workflow: Option<u64>) -> Admission {
    Admission {
        issuer: "spiffe://acme/agent/bot".to_owned(),
        jti: jti.to_owned(),
        expires_at: NOW + 60,
        workflow: workflow.map(sample),
    }
}

pub(crate) fn a_batch_claims_each_jti_once_and_creates_only_fresh_workflows(store: &dyn Store) {
    let existing = sample(1);
    store.put_workflow(&existing).unwrap();
    assert!(
        store
            .claim_jti("spiffe://acme/agent/bot", "old", NOW + 60, NOW)
            .unwrap()
    );
    let batch = [
        admission("j1", Some(2)),
        admission("j1", Some(3)),
        admission("j2", None),
        admission("j3", Some(1)),
        admission("old", Some(4)),
    ];
    let admitted = store.admit(&batch, NOW).unwrap();
    assert_eq!(
        admitted,
        [
            Admitted::Fresh(Some(sample(2))),
            Admitted::Replayed,
            Admitted::Fresh(None),
            Admitted::Fresh(Some(existing)),
            Admitted::Replayed,
        ]
    );
    for replayed in [3, 4] {
        let id = WorkflowId::new(sample(replayed).id.as_str());
        assert_eq!(store.workflow(&id).unwrap(), None, "workflow {replayed}");
    }
    assert_eq!(
        store.workflow(&sample(2).id).unwrap(),
        Some(sample(2)),
        "the fresh exchange's workflow is stored"
    );
    for jti in ["j1", "j2", "j3"] {
        let again = store.claim_jti("spiffe://acme/agent/bot", jti, NOW + 60, NOW + 1);
        assert!(!again.unwrap(), "{jti} stays claimed");
    }
}

pub(crate) fn an_empty_batch_admits_nothing(store: &dyn Store) {
    assert_eq!(store.admit(&[], NOW).unwrap(), []);
}

pub(crate) fn concurrent_batches_never_admit_one_jti_twice(store: &dyn Store) {
    const THREADS: usize = 8;
    const JTIS: usize = 40;
    let barrier = Barrier::new(THREADS);
    let fresh: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|thread| {
                let barrier = &barrier;
                scope.spawn(move || {
                    // Each thread sends every jti, in batches of 5, from its own start.
                    let batch: Vec<Admission> = (0..JTIS)
                        .map(|n| admission(&format!("race-{}", (n + thread * 7) % JTIS), None))
                        .collect();
                    barrier.wait();
                    batch
                        .chunks(5)
                        .flat_map(|chunk| admit_retrying(store, chunk))
                        .filter(|admitted| *admitted == Admitted::Fresh(None))
                        .count()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().unwrap())
            .sum()
    });
    assert_eq!(fresh, JTIS, "every jti admitted exactly once");
}

/// A batch that lost a deadlock to another replica's is refused whole (nothing of it
/// written); the gateway sends its admissions again, as this does.
fn admit_retrying(store: &dyn Store, chunk: &[Admission]) -> Vec<Admitted> {
    for _ in 0..20 {
        if let Ok(admitted) = store.admit(chunk, NOW) {
            return admitted;
        }
    }
    store.admit(chunk, NOW).unwrap()
}
