use gatehouse_core::model::{AgentId, SegmentName, TaskClassName};
use gatehouse_core::workflow::{Usage, slice};
use gatehouse_store::SqliteStore;

use super::*;

const NOW: i64 = 1_000;

fn candidate(calls: u64) -> Workflow {
    Workflow::new(
        WorkflowId::new("wf-lease"),
        AgentId::new("spiffe://acme/agent/a"),
        TaskClassName::new("triage"),
        SegmentName::new("data"),
        Budget {
            calls,
            writes: 0,
            bytes: 1 << 20,
        },
        NOW,
        600,
    )
}

fn stored_usage(store: &Arc<dyn Store>) -> Usage {
    store
        .workflow(&WorkflowId::new("wf-lease"))
        .unwrap()
        .unwrap()
        .usage
}

#[tokio::test]
async fn a_call_past_the_lease_writes_the_next_slice_and_shutdown_releases_it() {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().unwrap());
    let workflows = Workflows::new(Arc::clone(&store));
    let live = workflows.open(candidate(160)).await.unwrap();
    assert_eq!(live.reserve(NOW, false, 0).unwrap(), Cover::NeedsLease);
    live.extend_lease(&*store).unwrap();
    // What a crash now would leave: the first call and the rest of its slice, spent.
    assert_eq!(stored_usage(&store).calls, 1 + slice(160));
    for _ in 1..=slice(160) {
        assert_eq!(live.reserve(NOW, false, 0).unwrap(), Cover::Durable);
    }
    assert_eq!(live.reserve(NOW, false, 0).unwrap(), Cover::NeedsLease);
    workflows.flush_and_release().await.unwrap();
    assert_eq!(
        stored_usage(&store).calls,
        slice(160) + 2,
        "released to what was spent"
    );
    assert_eq!(live.reserve(NOW, false, 0).unwrap(), Cover::Closing);
    assert!(
        live.add_bytes(10, &*store).is_err(),
        "nothing streams once closed"
    );
    assert_eq!(live.snapshot().usage.calls, slice(160) + 2);
}

#[tokio::test]
async fn a_restart_counts_the_unspent_lease_as_spent() {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().unwrap());
    let workflows = Workflows::new(Arc::clone(&store));
    let live = workflows.open(candidate(160)).await.unwrap();
    let _ = live.reserve(NOW, false, 0).unwrap();
    live.extend_lease(&*store).unwrap();
    workflows.flush().await.unwrap();
    // A `kill -9`: a new process reads the store.
    let restarted = Workflows::new(Arc::clone(&store));
    let again = restarted.get("wf-lease").await.unwrap().unwrap();
    assert_eq!(again.snapshot().usage.calls, 1 + slice(160));
    assert_eq!(again.reserve(NOW, false, 0).unwrap(), Cover::NeedsLease);
}

/// Three replicas' copies of one workflow on one store, each spending from its slices.
fn replicas(store: &Arc<dyn Store>, calls: u64, bytes: u64) -> Vec<Arc<LiveWorkflow>> {
    let mut workflow = candidate(calls);
    workflow.budget.bytes = bytes;
    store.create_workflow(&workflow).unwrap();
    (0..3)
        .map(|_| {
            let closed = Arc::new(AtomicBool::new(false));
            Arc::new(LiveWorkflow::new(workflow.clone(), closed, true))
        })
        .collect()
}

/// A call as the budget phase makes it: claim a slice when asked to, then reserve again.
fn call(live: &LiveWorkflow, store: &dyn Store, bytes: u64) -> bool {
    loop {
        match live.reserve(NOW, false, bytes) {
            Ok(Cover::NeedsSlice) => live.claim_slice(store, false, bytes).unwrap(),
            Ok(cover) => return cover == Cover::Durable,
            Err(_) => return false,
        }
    }
}

#[test]
fn replicas_sharing_a_budget_let_exactly_k_calls_through_however_they_race() {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().unwrap());
    let copies = replicas(&store, 137, 1 << 20);
    let through: u64 = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..12)
            .map(|n| {
                let (live, store) = (Arc::clone(&copies[n % 3]), Arc::clone(&store));
                scope.spawn(move || (0..40).filter(|_| call(&live, &*store, 0)).count() as u64)
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).sum()
    });
    assert_eq!(
        through, 137,
        "12 threads × 40 calls over 3 replicas, a budget of 137"
    );
    for live in &copies {
        let held = live.snapshot();
        assert_eq!(
            held.status,
            Status::Paused,
            "each replica found the pool spent"
        );
        assert_eq!(held.usage.calls, 137);
    }
    assert_eq!(stored_usage(&store).calls, 137);
}

#[test]
fn streamed_bytes_over_replicas_stop_exactly_at_the_byte_budget() {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().unwrap());
    let copies = replicas(&store, 1_000, 10_000);
    let (mut streamed, mut done) = (0, [false; 3]);
    // Round robin until every replica is cut: each spends what its slices hold.
    while done.contains(&false) {
        for at in 0..3 {
            if done[at] {
                continue;
            }
            let live = &copies[at];
            if !call(live, &*store, 0) {
                done[at] = true;
                continue;
            }
            match live.add_bytes(290, &*store) {
                Ok(()) => streamed += 290,
                Err(cut) => {
                    streamed += cut.allowed;
                    done[at] = true;
                }
            }
        }
    }
    assert_eq!(
        streamed, 10_000,
        "every byte of the budget and not one more"
    );
}

#[tokio::test]
async fn a_clean_shutdown_returns_unspent_slices_to_the_pool() {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().unwrap());
    let workflows = Workflows {
        shared: true,
        ..Workflows::new(Arc::clone(&store))
    };
    let live = workflows.open(candidate(1_600)).await.unwrap();
    assert!(call(&live, &*store, 0));
    assert!(
        stored_usage(&store).calls > 1,
        "a slice is reserved, and counts as spent while held"
    );
    workflows.flush_and_release().await.unwrap();
    assert_eq!(stored_usage(&store).calls, 1, "only the spent call stays");
}

#[tokio::test]
async fn a_slice_left_idle_goes_back_to_the_pool_for_the_other_replicas() {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().unwrap());
    let replica = || Workflows {
        shared: true,
        ..Workflows::new(Arc::clone(&store))
    };
    let (a, b) = (replica(), replica());
    let on_a = a.open(candidate(64)).await.unwrap();
    assert!(
        call(&on_a, &*store, 0),
        "A reserves a slice and spends one call of it"
    );
    for _ in 0..slices::IDLE_FLUSHES {
        a.flush().await.unwrap();
    }
    let on_b = b.get("wf-lease").await.unwrap().unwrap();
    let mut through = 0;
    while call(&on_b, &*store, 0) {
        through += 1;
    }
    assert_eq!(through, 63, "B spends everything A did not");
}

#[test]
fn an_expired_workflow_on_a_shared_store_claims_no_slice() {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().unwrap());
    let copies = replicas(&store, 100, 1 << 20);
    let expired = copies[0].reserve(NOW + 600, false, 0);
    assert!(
        matches!(expired, Err(BudgetRefusal::Expired)),
        "{expired:?}"
    );
    assert_eq!(
        stored_usage(&store).calls,
        0,
        "no slice was reserved for it"
    );
}
