//! The event pipeline: requests hand finished events to an [`EventSink`] without waiting;
//! one writer task batches them into the store (one transaction per batch) and the
//! JSON-lines file. A failing store is retried with back-off, never dropped: events wait
//! in memory until it answers again.
//!
//! A forwarded call is journaled before it goes upstream (`journal.rs`), so a `kill -9`
//! with its event still queued here loses nothing: its journal segment stays until the
//! event is written, and the next start records it.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use gatehouse_core::backoff::Backoff;
use gatehouse_core::clock::{Clock, SystemClock};
use gatehouse_core::event::{Event, EventKind, EventLine, Outcome};
use gatehouse_core::ids::IdGenerator;
use gatehouse_store::{Store, StoreError};
use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::journal::{Journal, Ticket};

mod emitter;
mod json_lines;
#[cfg(test)]
mod tests;

pub use emitter::{Emitter, EmitterParts};
use json_lines::JsonLines;

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

/// Where the request path hands its events. Cheap to clone.
#[derive(Debug, Clone)]
pub struct EventSink {
    tx: mpsc::UnboundedSender<Queued>,
    journal: Option<Arc<Journal>>,
    /// Counts batches stored: sinks and live tails wake on it instead of polling.
    stored: watch::Receiver<u64>,
    backlog: Arc<Backlog>,
}

/// How many events wait to be stored, against the bound: memory stays bounded while the
/// store is slow or failing. Past `limit`, calls that must be recorded are refused before
/// they are forwarded (the data plane fails closed) and `/readyz` fails; events of calls
/// already forwarded and control-plane audit events are always queued (each such call
/// passed the check first). Other events (refusals: nothing reached a tool) are queued up
/// to twice the limit, and counted beyond it: the writer records how many once the store
/// has caught up.
#[derive(Debug)]
struct Backlog {
    queued: AtomicUsize,
    limit: usize,
    dropped: AtomicU64,
}

impl Backlog {
    fn full(&self) -> Option<usize> {
        let queued = self.queued.load(Ordering::Relaxed);
        (queued >= self.limit).then_some(queued)
    }
}

/// One event on its way to the store, and what to do once it is there.
#[derive(Debug)]
struct Queued {
    event: Event,
    after: After,
}

#[derive(Debug)]
enum After {
    Nothing,
    /// A journaled call: its segment may go once the event is stored.
    Release(
        #[expect(
            dead_code,
            reason = "held, never read: dropping it releases the segment"
        )]
        Ticket,
    ),
    /// Someone waits for the event to be durable (a control-plane answer).
    Notify(oneshot::Sender<()>),
}

impl EventSink {
    /// Queues `event` for writing. The queue only closes at shutdown, after every
    /// listener stopped, so a failure here means the event was emitted too late.
    pub fn emit(&self, event: Event) {
        self.queue(event, After::Nothing);
    }

    /// Journals a call about to be forwarded (its draft event, in one write); `None` when
    /// the gateway runs without a journal. The ticket goes with the final event.
    pub fn journal(&self, draft: &Event) -> std::io::Result<Option<Ticket>> {
        self.journal
            .as_ref()
            .map(|journal| journal.append(draft))
            .transpose()
    }

    /// Starts a new journal segment when the current one grew large or, with `any`, holds
    /// anything: old segments go once their calls' events are stored.
    pub fn rotate_journal(&self, any: bool) {
        if let Some(journal) = &self.journal {
            if any {
                journal.rotate(0);
            } else {
                journal.rotate_large();
            }
        }
    }

    /// The final event of a journaled call.
    pub fn emit_journaled(&self, event: Event, ticket: Ticket) {
        self.queue(event, After::Release(ticket));
    }

    /// Queues `event` and resolves once it is in the store (or after `wait`, logged): for
    /// answers that must not precede their audit event, like a revocation's.
    pub async fn emit_durable(&self, event: Event, wait: Duration) {
        let (done, written) = oneshot::channel();
        self.queue(event, After::Notify(done));
        if tokio::time::timeout(wait, written).await.is_err() {
            tracing::error!("an audit event is not in the store yet; answering anyway");
        }
    }

    /// Changes after every batch the writer stores, and closes when the writer ends: a
    /// reader of the store's positions waits on it for news.
    pub fn stored(&self) -> watch::Receiver<u64> {
        self.stored.clone()
    }

    /// `Some(queued)` while the queue is full: a call that must be recorded is refused.
    pub fn full(&self) -> Option<usize> {
        self.backlog.full()
    }

    fn queue(&self, event: Event, after: After) {
        let queued = self.backlog.queued.fetch_add(1, Ordering::Relaxed);
        if matches!(after, After::Nothing) && queued >= self.backlog.limit.saturating_mul(2) {
            self.backlog.queued.fetch_sub(1, Ordering::Relaxed);
            if self.backlog.dropped.fetch_add(1, Ordering::Relaxed) == 0 {
                tracing::error!(
                    queued,
                    "the event queue is full: refusals are counted, not queued"
                );
            }
            return;
        }
        if let Err(error) = self.tx.send(Queued { event, after }) {
            self.backlog.queued.fetch_sub(1, Ordering::Relaxed);
            tracing::error!(event = ?error.0.event, "event emitted after shutdown");
        }
    }
}

/// The writer task; await [`EventWriter::drained`] at shutdown after dropping every sink.
#[derive(Debug)]
pub struct EventWriter {
    task: JoinHandle<()>,
}

impl EventWriter {
    /// `limit`: events waiting to be stored before calls are refused (see `Backlog`).
    pub fn spawn(
        store: Arc<dyn Store>,
        file: Option<PathBuf>,
        journal: Option<Arc<Journal>>,
        limit: usize,
    ) -> (EventSink, Self) {
        let (tx, rx) = mpsc::unbounded_channel();
        let (stored_tx, stored) = watch::channel(0);
        let backlog = Arc::new(Backlog {
            queued: AtomicUsize::new(0),
            limit,
            dropped: AtomicU64::new(0),
        });
        let task = tokio::spawn(run(rx, store, file, Arc::clone(&backlog), stored_tx));
        (
            EventSink {
                tx,
                journal,
                stored,
                backlog,
            },
            Self { task },
        )
    }

    /// Waits until every queued event is written.
    pub async fn drained(self) {
        if let Err(error) = self.task.await {
            tracing::error!(%error, "event writer failed");
        }
    }
}

/// Events gathered for one write, and what follows each once written.
#[derive(Debug, Default)]
struct Batch {
    events: Vec<Event>,
    after: Vec<After>,
}

impl Batch {
    fn push(&mut self, queued: Queued) {
        self.events.push(queued.event);
        if !matches!(queued.after, After::Nothing) {
            self.after.push(queued.after);
        }
    }

    fn len(&self) -> usize {
        self.events.len()
    }
}

async fn run(
    mut rx: mpsc::UnboundedReceiver<Queued>,
    store: Arc<dyn Store>,
    file: Option<PathBuf>,
    backlog: Arc<Backlog>,
    stored: watch::Sender<u64>,
) {
    let mut lines = JsonLines::new(file);
    let mut window = BATCH_WINDOW;
    while let Some(first) = rx.recv().await {
        let mut batch = Batch {
            events: Vec::with_capacity(MAX_BATCH.min(256)),
            after: Vec::new(),
        };
        batch.push(first);
        let closed = gather(&mut rx, &mut batch, window).await;
        window = if batch.len() >= BUSY_BATCH {
            BUSY_WINDOW
        } else {
            BATCH_WINDOW
        };
        let written = batch.len();
        lines = write_batch(Arc::clone(&store), lines, batch.events).await;
        backlog.queued.fetch_sub(written, Ordering::Relaxed);
        lines = record_dropped(&store, lines, &backlog).await;
        stored.send_modify(|batches| *batches = batches.wrapping_add(1));
        // Written: journal segments may go, waiters may answer.
        for after in batch.after {
            if let After::Notify(done) = after {
                let _ = done.send(());
            }
        }
        if closed {
            break;
        }
    }
}

/// Once the queue is back under its limit, records how many refusals were counted rather
/// than queued while it was full.
async fn record_dropped(store: &Arc<dyn Store>, lines: JsonLines, backlog: &Backlog) -> JsonLines {
    if backlog.full().is_some() || backlog.dropped.load(Ordering::Relaxed) == 0 {
        return lines;
    }
    let dropped = backlog.dropped.swap(0, Ordering::Relaxed);
    let now = SystemClock.now();
    let mut event = Event::blank(
        IdGenerator::default().next(now),
        now.millis(),
        EventKind::Gatehouse,
    );
    event.outcome = Outcome::Error;
    event.reason = Some(format!(
        "the event queue was full: {dropped} events of refused calls (none reached a tool) \
         were counted, not recorded one by one"
    ));
    tracing::warn!(dropped, "the event queue has room again");
    write_batch(Arc::clone(store), lines, vec![event]).await
}

/// Adds what arrives within the batch window, up to a full batch; true once every sink
/// is gone (shutdown, when the queue is drained at once rather than waited on).
async fn gather(
    rx: &mut mpsc::UnboundedReceiver<Queued>,
    batch: &mut Batch,
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
                Some(queued) => batch.push(queued),
                None => return true,
            },
        }
    }
}

/// Adds what is queued, up to a full batch; true once every sink is gone.
fn drain(rx: &mut mpsc::UnboundedReceiver<Queued>, batch: &mut Batch) -> bool {
    while batch.len() < MAX_BATCH {
        match rx.try_recv() {
            Ok(queued) => batch.push(queued),
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
    let mut backoff = Backoff::new(Duration::from_millis(50), MAX_BACKOFF);
    let batch = Arc::new(batch);
    loop {
        let (store_ref, events) = (Arc::clone(&store), Arc::clone(&batch));
        let attempt = tokio::task::spawn_blocking(move || {
            let encoded = EventLine::all(&events);
            let written = gatehouse_store::off_async_workers(|| {
                store_ref
                    .append_lines(&encoded)
                    .or_else(|error| append_unstored(&*store_ref, &encoded, error))
            })
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
        tokio::time::sleep(backoff.next_delay()).await;
    }
}

/// After a batch was refused because one of its events is stored already: appends those
/// of `lines` the store does not hold. An earlier attempt may have committed with its
/// answer lost (the database restarting between `COMMIT` and the reply); a batch is one
/// transaction, so then every event of it is stored, nothing is left to append, and the
/// writer goes on instead of retrying a stored batch for ever. Any other error, or a
/// conflict none of the batch's events explains, stands.
fn append_unstored(
    store: &dyn Store,
    lines: &[EventLine<'_>],
    error: StoreError,
) -> Result<(), StoreError> {
    if !matches!(error, StoreError::Conflict { .. }) {
        return Err(error);
    }
    let mut unstored = Vec::new();
    for line in lines {
        if store.event(line.event.id)?.is_none() {
            unstored.push(line.clone());
        }
    }
    if unstored.len() == lines.len() {
        return Err(error);
    }
    if unstored.is_empty() {
        tracing::warn!(
            events = lines.len(),
            "an event batch whose write seemed to fail was stored after all; not written twice"
        );
        return Ok(());
    }
    store.append_lines(&unstored)
}
