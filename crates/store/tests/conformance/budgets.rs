//! Conformance of the budget pools replicas share: the first claim creates the pool from
//! the stored workflow, claims never reserve past a limit however many race, settling
//! returns what was not spent, extending raises the limits.

use gatehouse_core::model::WorkflowId;
use gatehouse_core::workflow::{Ask, Budget, Share, Usage, Workflow};
use gatehouse_store::Store;

use crate::workflows::sample;

fn stored(store: &dyn Store, calls: u64, used: u64) -> Workflow {
    let mut workflow = sample(1);
    workflow.budget = Budget {
        calls,
        writes: 4,
        bytes: 1_000,
    };
    workflow.usage = Usage {
        calls: used,
        writes: 0,
        bytes: 0,
    };
    workflow.status = gatehouse_core::workflow::Status::Active;
    store.put_workflow(&workflow).unwrap();
    workflow
}

fn one_call() -> Ask {
    Ask {
        need: Share::cost(false, 1, 0),
        partial_bytes: false,
    }
}

pub(crate) fn a_first_claim_creates_the_pool_from_the_stored_workflow(store: &dyn Store) {
    let workflow = stored(store, 100, 10);
    let claim = store.claim_budget(&workflow.id, one_call()).unwrap();
    let granted = claim.granted.expect("90 calls are left");
    assert!(granted.calls >= 1);
    assert_eq!(claim.pool.limit, workflow.budget);
    assert_eq!(claim.pool.reserved.calls, 10 + granted.calls);
    let again = store.claim_budget(&workflow.id, one_call()).unwrap();
    let more = again.granted.unwrap();
    assert_eq!(
        again.pool.reserved.calls,
        10 + granted.calls + more.calls,
        "the second claim counts from the stored pool"
    );
}

pub(crate) fn claiming_for_an_unknown_workflow_is_an_error(store: &dyn Store) {
    let id = WorkflowId::new("never-stored");
    assert!(store.claim_budget(&id, one_call()).is_err());
    // Settling or extending nothing is harmless.
    store.settle_budget(&id, Usage::default()).unwrap();
    store.extend_budget(&id, Budget::default()).unwrap();
}

pub(crate) fn concurrent_claims_never_reserve_past_the_limit(store: &dyn Store) {
    let workflow = stored(store, 300, 7);
    let granted: u64 = std::thread::scope(|scope| {
        let claimers: Vec<_> = (0..8)
            .map(|_| {
                let id = workflow.id.clone();
                scope.spawn(move || {
                    let mut got = 0;
                    while let Some(grant) = store.claim_budget(&id, one_call()).unwrap().granted {
                        got += grant.calls;
                    }
                    got
                })
            })
            .collect();
        claimers
            .into_iter()
            .map(|claimer| claimer.join().unwrap())
            .sum()
    });
    assert_eq!(granted, 300 - 7, "every call left was granted, none twice");
    let last = store.claim_budget(&workflow.id, one_call()).unwrap();
    assert_eq!(last.granted, None);
    assert_eq!(last.pool.reserved.calls, 300);
}

pub(crate) fn settling_returns_what_was_not_spent_and_extending_raises_limits(store: &dyn Store) {
    let workflow = stored(store, 10, 0);
    let claim = store.claim_budget(&workflow.id, one_call()).unwrap();
    let reserved = claim.pool.reserved;
    store
        .settle_budget(
            &workflow.id,
            Usage {
                calls: 1,
                writes: 0,
                bytes: 0,
            },
        )
        .unwrap();
    let extension = Budget {
        calls: 5,
        writes: 0,
        bytes: 0,
    };
    store.extend_budget(&workflow.id, extension).unwrap();
    let after = store.claim_budget(&workflow.id, one_call()).unwrap();
    assert_eq!(after.pool.limit.calls, 15);
    let granted = after.granted.unwrap();
    assert_eq!(
        after.pool.reserved.calls,
        reserved.calls - 1 + granted.calls
    );
}

pub(crate) fn a_workflow_reads_its_pools_limits_and_reservations(store: &dyn Store) {
    let workflow = stored(store, 50, 5);
    assert_eq!(store.workflow(&workflow.id).unwrap().unwrap(), workflow);
    let claim = store.claim_budget(&workflow.id, one_call()).unwrap();
    let extension = Budget {
        calls: 10,
        writes: 1,
        bytes: 0,
    };
    store.extend_budget(&workflow.id, extension).unwrap();
    // A replica's write-behind of its older copy changes neither.
    store.put_workflow(&workflow).unwrap();
    let read = store.workflow(&workflow.id).unwrap().unwrap();
    assert_eq!(read.budget, workflow.budget.extended_by(extension));
    assert_eq!(
        read.usage.calls, claim.pool.reserved.calls,
        "reserved counts as spent"
    );
    let listed = store
        .list_workflows(&gatehouse_store::WorkflowFilter::default())
        .unwrap();
    assert_eq!(listed, vec![read]);
}
