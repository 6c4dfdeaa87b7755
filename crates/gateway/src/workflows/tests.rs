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
