//! The event pipeline: requests hand finished events to an [`EventSink`] without waiting;
//! one writer task batches them into the store (one transaction per batch) and the
//! JSON-lines file. A failing store is retried with back-off, never dropped: events wait
//! in memory until it answers again.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use gatehouse_core::event::{Event, EventLine};
use gatehouse_store::Store;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TryRecvError;
use tokio::task::JoinHandle;

/// Most events written in one transaction.
const MAX_BATCH: usize = 4096;
/// How long the writer gathers events before one write (group commit): under load a
/// write per event would cost a thread hop, a commit and a file write each.
const BATCH_WINDOW: Duration = Duration::from_millis(5);
/// The window once batches are large: SQLite's cost per event keeps falling up to a few
/// hundred events per transaction, so a busy gateway gathers longer. Not longer still:
/// the write of a batch runs on the serving core, and calls that arrive during it wait
/// (at 20 ms the p99 of one connection doubled against 5 ms).
const BUSY_WINDOW: Duration = Duration::from_millis(10);
/// A batch at least this large means the gateway is busy.
const BUSY_BATCH: usize = 64;
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// The JSON-lines buffer: a batch reaches the file in one write.
const LINES_BUFFER: usize = 256 * 1024;

/// Where the request path hands its events. Cheap to clone.
#[derive(Debug, Clone)]
pub struct EventSink {
    tx: mpsc::UnboundedSender<Event>,
}

impl EventSink {
    /// Queues `event` for writing. The queue only closes at shutdown, after every
    /// listener stopped, so a failure here means the event was emitted too late.
    pub fn emit(&self, event: Event) {
        if let Err(error) = self.tx.send(event) {
            tracing::error!(event = ?error.0, "event emitted after shutdown");
        }
    }
}

/// The writer task; await [`EventWriter::drained`] at shutdown after dropping every sink.
#[derive(Debug)]
pub struct EventWriter {
    task: JoinHandle<()>,
}

impl EventWriter {
    pub fn spawn(store: Arc<dyn Store>, file: Option<PathBuf>) -> (EventSink, Self) {
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(rx, store, file));
        (EventSink { tx }, Self { task })
    }

    /// Waits until every queued event is written.
    pub async fn drained(self) {
        if let Err(error) = self.task.await {
            tracing::error!(%error, "event writer failed");
        }
    }
}

async fn run(mut rx: mpsc::UnboundedReceiver<Event>, store: Arc<dyn Store>, file: Option<PathBuf>) {
    let mut lines = JsonLines::new(file);
    let mut window = BATCH_WINDOW;
    while let Some(first) = rx.recv().await {
        let mut batch = Vec::with_capacity(MAX_BATCH.min(256));
        batch.push(first);
        let closed = gather(&mut rx, &mut batch, window).await;
        window = if batch.len() >= BUSY_BATCH {
            BUSY_WINDOW
        } else {
            BATCH_WINDOW
        };
        lines = write_batch(Arc::clone(&store), lines, batch).await;
        if closed {
            break;
        }
    }
}

/// Adds what arrives within the batch window, up to a full batch; true once every sink
/// is gone (shutdown, when the queue is drained at once rather than waited on).
async fn gather(
    rx: &mut mpsc::UnboundedReceiver<Event>,
    batch: &mut Vec<Event>,
    window: Duration,
) -> bool {
    let window = tokio::time::sleep(window);
    tokio::pin!(window);
    loop {
        // Whatever is queued already, without a timer or a wake-up per event.
        if drain(rx, batch) {
            return true;
        }
        if batch.len() >= MAX_BATCH {
            return false;
        }
        tokio::select! {
            biased;
            () = &mut window => return false,
            received = rx.recv() => match received {
                Some(event) => batch.push(event),
                None => return true,
            },
        }
    }
}

/// Adds what is queued, up to a full batch; true once every sink is gone.
fn drain(rx: &mut mpsc::UnboundedReceiver<Event>, batch: &mut Vec<Event>) -> bool {
    while batch.len() < MAX_BATCH {
        match rx.try_recv() {
            Ok(event) => batch.push(event),
            Err(TryRecvError::Empty) => return false,
            Err(TryRecvError::Disconnected) => return true,
        }
    }
    false
}

/// Writes one batch to the store (retrying until it succeeds) and then to the file, in
/// one blocking call per attempt.
async fn write_batch(store: Arc<dyn Store>, mut lines: JsonLines, batch: Vec<Event>) -> JsonLines {
    let path = lines.path.clone();
    let mut backoff = Duration::from_millis(50);
    let batch = Arc::new(batch);
    loop {
        let (store_ref, events) = (Arc::clone(&store), Arc::clone(&batch));
        let attempt = tokio::task::spawn_blocking(move || {
            let encoded = EventLine::all(&events);
            let written = store_ref
                .append_lines(&encoded)
                .map(|()| lines.append(&encoded));
            (written, lines)
        })
        .await;
        match attempt {
            Ok((Ok(()), lines)) => return lines,
            Ok((Err(error), returned)) => {
                tracing::error!(%error, events = batch.len(), "event store write failed; retrying");
                lines = returned;
            }
            Err(error) => {
                tracing::error!(%error, "event store writer panicked; retrying");
                lines = JsonLines::new(path.clone());
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// The optional JSON-lines file, opened lazily in append mode.
struct JsonLines {
    path: Option<PathBuf>,
    file: Option<std::io::BufWriter<std::fs::File>>,
}

impl JsonLines {
    fn new(path: Option<PathBuf>) -> Self {
        Self { path, file: None }
    }

    fn append(&mut self, events: &[EventLine<'_>]) {
        let Some(path) = self.path.clone() else {
            return;
        };
        if let Err(error) = self.try_append(events) {
            tracing::error!(%error, path = %path.display(), "cannot append to the events file");
            self.file = None;
        }
    }

    fn try_append(&mut self, events: &[EventLine<'_>]) -> std::io::Result<()> {
        let file = match &mut self.file {
            Some(file) => file,
            None => self.file.insert(self.open()?),
        };
        for line in events {
            file.write_all(line.json.as_bytes())?;
            file.write_all(b"\n")?;
        }
        file.flush()
    }

    fn open(&self) -> std::io::Result<std::io::BufWriter<std::fs::File>> {
        let path = self
            .path
            .as_ref()
            .ok_or_else(|| std::io::Error::other("no path"))?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(std::io::BufWriter::with_capacity(LINES_BUFFER, file))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use gatehouse_core::approval::Approval;
    use gatehouse_core::clock::UnixTime;
    use gatehouse_core::event::EventFilter;
    use gatehouse_core::ids::{DecisionId, IdGenerator};
    use gatehouse_core::model::WorkflowId;
    use gatehouse_core::workflow::Workflow;
    use gatehouse_store::{
        ApprovalFilter, Revocation, RevocationKind, SqliteStore, StoreError, WorkflowFilter,
    };

    use super::*;

    /// A real SQLite store whose first appends fail, as a full disk or a lock would.
    #[derive(Debug)]
    struct FailingFirst {
        inner: SqliteStore,
        failures_left: AtomicUsize,
    }

    impl Store for FailingFirst {
        fn append_lines(&self, lines: &[EventLine<'_>]) -> Result<(), StoreError> {
            let left = self.failures_left.load(Ordering::SeqCst);
            if left > 0 {
                self.failures_left.store(left - 1, Ordering::SeqCst);
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
        fn workflow(&self, id: &WorkflowId) -> Result<Option<Workflow>, StoreError> {
            self.inner.workflow(id)
        }
        fn list_workflows(&self, filter: &WorkflowFilter) -> Result<Vec<Workflow>, StoreError> {
            self.inner.list_workflows(filter)
        }
        fn put_revocation(&self, revocation: &Revocation) -> Result<(), StoreError> {
            self.inner.put_revocation(revocation)
        }
        fn delete_revocation(
            &self,
            kind: RevocationKind,
            subject: &str,
        ) -> Result<bool, StoreError> {
            self.inner.delete_revocation(kind, subject)
        }
        fn revocations(&self, now_secs: i64) -> Result<Vec<Revocation>, StoreError> {
            self.inner.revocations(now_secs)
        }
        fn put_approval(&self, approval: &Approval) -> Result<(), StoreError> {
            self.inner.put_approval(approval)
        }
        fn approval(&self, id: &str) -> Result<Option<Approval>, StoreError> {
            self.inner.approval(id)
        }
        fn list_approvals(&self, filter: &ApprovalFilter) -> Result<Vec<Approval>, StoreError> {
            self.inner.list_approvals(filter)
        }
    }

    fn event(id: DecisionId) -> Event {
        Event {
            status: 401,
            latency_us: 1,
            ..Event::blank(id, 1, "tool".to_owned(), "GET".to_owned(), "/".to_owned())
        }
    }

    #[tokio::test]
    async fn a_failing_store_delays_events_but_loses_none() {
        let store = Arc::new(FailingFirst {
            inner: SqliteStore::open_in_memory().unwrap(),
            failures_left: AtomicUsize::new(3),
        });
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("events.jsonl");
        let (sink, writer) = EventWriter::spawn(store.clone(), Some(file.clone()));
        let ids = IdGenerator::default();
        for _ in 0..50 {
            sink.emit(event(ids.next(UnixTime::from_secs(1))));
        }
        drop(sink);
        writer.drained().await;
        let filter = EventFilter {
            limit: Some(1000),
            ..EventFilter::default()
        };
        assert_eq!(store.query_events(&filter).unwrap().len(), 50);
        assert_eq!(store.failures_left.load(Ordering::SeqCst), 0);
        assert_eq!(std::fs::read_to_string(file).unwrap().lines().count(), 50);
    }
}
