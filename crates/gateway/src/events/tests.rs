use std::sync::atomic::{AtomicUsize, Ordering};

use gatehouse_core::approval::Approval;
use gatehouse_core::clock::UnixTime;
use gatehouse_core::event::EventFilter;
use gatehouse_core::ids::{ApprovalId, DecisionId, IdGenerator};
use gatehouse_core::model::WorkflowId;
use gatehouse_core::workflow::{Usage, Workflow};
use gatehouse_store::{
    ApprovalFilter, ChainCheck, PolicyVersion, Position, Quarantine, Revocation, RevocationKind,
    SqliteStore, StoreError, StoredLine, WorkflowFilter,
};

use super::*;

/// A real SQLite store whose first appends fail, as a full disk or a lock would; with
/// `committed`, after writing, as a database restarting between `COMMIT` and its
/// answer does.
#[derive(Debug)]
struct FailingFirst {
    inner: SqliteStore,
    failures_left: AtomicUsize,
    committed: bool,
}

impl Store for FailingFirst {
    fn append_lines(&self, lines: &[EventLine<'_>]) -> Result<(), StoreError> {
        let left = self.failures_left.load(Ordering::SeqCst);
        if left > 0 {
            self.failures_left.store(left - 1, Ordering::SeqCst);
            if self.committed {
                self.inner.append_lines(lines)?;
            }
            return Err(StoreError::Unavailable {
                location: "test".to_owned(),
                detail: "disk full".to_owned(),
            });
        }
        self.inner.append_lines(lines)
    }
    fn query_events(&self, filter: &EventFilter) -> Result<Vec<Event>, StoreError> {
        self.inner.query_events(filter)
    }
    fn event(&self, id: DecisionId) -> Result<Option<Event>, StoreError> {
        self.inner.event(id)
    }
    fn call_counts(
        &self,
        query: &gatehouse_store::RateQuery,
    ) -> Result<Vec<gatehouse_store::CallCount>, StoreError> {
        self.inner.call_counts(query)
    }
    fn verify_chain(&self, since_ms: Option<i64>) -> Result<ChainCheck, StoreError> {
        self.inner.verify_chain(since_ms)
    }
    fn put_quarantine(&self, quarantine: &Quarantine) -> Result<(), StoreError> {
        self.inner.put_quarantine(quarantine)
    }
    fn delete_quarantine(&self, id: &str) -> Result<bool, StoreError> {
        self.inner.delete_quarantine(id)
    }
    fn quarantines(&self, now_ms: i64) -> Result<Vec<Quarantine>, StoreError> {
        self.inner.quarantines(now_ms)
    }
    fn record_policy_version(&self, version: &PolicyVersion) -> Result<(), StoreError> {
        self.inner.record_policy_version(version)
    }
    fn policy_versions(&self, limit: u32) -> Result<Vec<PolicyVersion>, StoreError> {
        self.inner.policy_versions(limit)
    }
    fn add_hour_counts(
        &self,
        counts: &[gatehouse_core::baseline::HourCount],
    ) -> Result<(), StoreError> {
        self.inner.add_hour_counts(counts)
    }
    fn hour_counts(
        &self,
        agent: Option<&str>,
        window: gatehouse_core::baseline::Window,
    ) -> Result<Vec<gatehouse_core::baseline::HourCount>, StoreError> {
        self.inner.hour_counts(agent, window)
    }
    fn put_recording(&self, recording: &gatehouse_store::Recording) -> Result<(), StoreError> {
        self.inner.put_recording(recording)
    }
    fn recording(&self, id: &str) -> Result<Option<gatehouse_store::Recording>, StoreError> {
        self.inner.recording(id)
    }
    fn recordings(
        &self,
        agent: Option<&str>,
        limit: u32,
    ) -> Result<Vec<gatehouse_store::Recording>, StoreError> {
        self.inner.recordings(agent, limit)
    }
    fn delete_events_before(&self, cutoff_ms: i64) -> Result<u64, StoreError> {
        self.inner.delete_events_before(cutoff_ms)
    }
    fn claim_jti(
        &self,
        issuer: &str,
        jti: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.inner.claim_jti(issuer, jti, expires_at, now)
    }
    fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping()
    }
    fn put_workflow(&self, workflow: &Workflow) -> Result<(), StoreError> {
        self.inner.put_workflow(workflow)
    }
    fn create_workflow(&self, workflow: &Workflow) -> Result<Workflow, StoreError> {
        self.inner.create_workflow(workflow)
    }
    fn put_lease(&self, id: &WorkflowId, lease: Usage) -> Result<(), StoreError> {
        self.inner.put_lease(id, lease)
    }
    fn release_leases(&self) -> Result<(), StoreError> {
        self.inner.release_leases()
    }
    fn claim_budget(
        &self,
        id: &WorkflowId,
        ask: gatehouse_core::workflow::Ask,
    ) -> Result<gatehouse_core::workflow::Claim, StoreError> {
        self.inner.claim_budget(id, ask)
    }
    fn settle_budget(&self, id: &WorkflowId, unspent: Usage) -> Result<(), StoreError> {
        self.inner.settle_budget(id, unspent)
    }
    fn extend_budget(
        &self,
        id: &WorkflowId,
        extension: gatehouse_core::workflow::Budget,
    ) -> Result<(), StoreError> {
        self.inner.extend_budget(id, extension)
    }
    fn workflow(&self, id: &WorkflowId) -> Result<Option<Workflow>, StoreError> {
        self.inner.workflow(id)
    }
    fn list_workflows(&self, filter: &WorkflowFilter) -> Result<Vec<Workflow>, StoreError> {
        self.inner.list_workflows(filter)
    }
    fn put_revocation(&self, revocation: &Revocation) -> Result<(), StoreError> {
        self.inner.put_revocation(revocation)
    }
    fn delete_revocation(&self, kind: RevocationKind, subject: &str) -> Result<bool, StoreError> {
        self.inner.delete_revocation(kind, subject)
    }
    fn revocations(&self, now_secs: i64) -> Result<Vec<Revocation>, StoreError> {
        self.inner.revocations(now_secs)
    }
    fn put_approval(&self, approval: &Approval) -> Result<(), StoreError> {
        self.inner.put_approval(approval)
    }
    fn replace_approval(&self, current: &Approval, next: &Approval) -> Result<bool, StoreError> {
        self.inner.replace_approval(current, next)
    }
    fn approval(&self, id: &ApprovalId) -> Result<Option<Approval>, StoreError> {
        self.inner.approval(id)
    }
    fn list_approvals(&self, filter: &ApprovalFilter) -> Result<Vec<Approval>, StoreError> {
        self.inner.list_approvals(filter)
    }
    fn events_after(
        &self,
        after: Option<Position>,
        limit: u32,
    ) -> Result<Vec<StoredLine>, StoreError> {
        self.inner.events_after(after, limit)
    }
    fn count_after(&self, after: Option<Position>) -> Result<u64, StoreError> {
        self.inner.count_after(after)
    }
    fn head_position(&self) -> Result<Option<Position>, StoreError> {
        self.inner.head_position()
    }
    fn sink_cursor(&self, sink: &str) -> Result<Option<Position>, StoreError> {
        self.inner.sink_cursor(sink)
    }
    fn put_sink_cursor(&self, sink: &str, position: Position) -> Result<(), StoreError> {
        self.inner.put_sink_cursor(sink, position)
    }
}

/// A small tool event with `id`, for the writer's tests and the file's.
pub(super) fn event(id: DecisionId) -> Event {
    Event {
        status: 401,
        latency_us: 1,
        method: "GET".to_owned(),
        path: "/".to_owned(),
        ..Event::blank(id, 1, EventKind::Tool)
    }
}

/// Emits `batches` events (a pause between batches, so each is written on its own) to a
/// writer over a [`FailingFirst`] store and a file, waits until it has drained, and
/// answers how many events the store holds, the failures left and the file's lines.
async fn write_through(
    failures: usize,
    committed: bool,
    batches: &[usize],
) -> (usize, usize, usize) {
    let store = Arc::new(FailingFirst {
        inner: SqliteStore::open_in_memory().unwrap(),
        failures_left: AtomicUsize::new(failures),
        committed,
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.jsonl");
    let (sink, writer) = EventWriter::spawn(store.clone(), Some(file.clone()), None, 1_000);
    let ids = IdGenerator::default();
    for (n, &batch) in batches.iter().enumerate() {
        if n > 0 {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        for _ in 0..batch {
            sink.emit(event(ids.next(UnixTime::from_secs(1))));
        }
    }
    drop(sink);
    tokio::time::timeout(Duration::from_secs(20), writer.drained())
        .await
        .expect("the writer kept retrying a batch");
    let filter = EventFilter {
        limit: Some(1000),
        ..EventFilter::default()
    };
    (
        store.query_events(&filter).unwrap().len(),
        store.failures_left.load(Ordering::SeqCst),
        std::fs::read_to_string(file).unwrap().lines().count(),
    )
}

#[tokio::test]
async fn a_failing_store_delays_events_but_loses_none() {
    assert_eq!(write_through(3, false, &[50]).await, (50, 0, 50));
}

/// The first write of each of the first two batches is stored but answered with an
/// error; retried, the store refuses it as a conflict. The writer must go on (not
/// retry a stored batch for ever), store each event once and put each in the file once.
#[tokio::test]
async fn a_batch_stored_despite_an_error_is_not_retried_for_ever() {
    assert_eq!(write_through(2, true, &[20, 30]).await, (50, 0, 50));
}
