//! Delivery of stored events to the configured sinks (`[[sinks]]`, issue 14 item 2).
//!
//! The store is the outbox: a call's event is stored by the event writer
//! (`events.rs`) as before, and each sink is a task of its own that reads the events
//! after its cursor (`Store::events_after`), delivers them in store order, and only then
//! moves its cursor (`Store::put_sink_cursor`). A failed delivery is retried with the
//! project's back-off (`core::backoff`) from the same cursor, so a sink that was down gets
//! every event, in order, once it is back: at least once, since a batch delivered but
//! not yet acknowledged is sent again (consumers de-duplicate by event id). A slow or
//! dead sink delays nobody: it reads the store, never the request path, which only
//! pays for the writer's wake-up after each batch (one atomic add per batch).
//!
//! A sink new to a store starts with the oldest event kept there.

mod file;
mod http;
mod otlp;
mod status;

use std::sync::Arc;
use std::time::Duration;

use gatehouse_core::backoff::Backoff;
use gatehouse_core::config::{Sink, SinkKind};
use gatehouse_store::{Position, Store, StoredLine};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::blocking::store_call;
use crate::upstream::UpstreamClient;
pub use status::{SinkStatus, SinkStatuses};

/// A failed delivery waits this long before it is tried again, doubling up to
/// `LAST_RETRY`; the first again after a success.
const FIRST_RETRY: Duration = Duration::from_millis(100);
const LAST_RETRY: Duration = Duration::from_secs(10);
/// How often a caught-up sink looks at the store without being woken: only events
/// another replica stored (on a shared store) arrive without this replica's wake-up.
const LOOK_AGAIN: Duration = Duration::from_secs(1);

/// The running sink tasks.
#[derive(Debug)]
pub struct SinkTasks {
    tasks: Vec<JoinHandle<()>>,
    stop: watch::Sender<bool>,
}

impl SinkTasks {
    /// One task per configured sink, each reading `store` and woken by `stored` (the
    /// event writer's batch counter).
    pub fn spawn(
        sinks: &[Sink],
        statuses: &SinkStatuses,
        store: &Arc<dyn Store>,
        stored: &watch::Receiver<u64>,
        client: &UpstreamClient,
    ) -> Self {
        let (stop, stopping) = watch::channel(false);
        let tasks = sinks
            .iter()
            .zip(statuses.iter())
            .map(|(sink, status)| {
                let delivery = Delivery {
                    target: Target::new(sink, client),
                    batch: sink.batch,
                    status: Arc::clone(status),
                    store: Arc::clone(store),
                    stored: stored.clone(),
                    stopping: stopping.clone(),
                };
                tokio::spawn(delivery.run())
            })
            .collect();
        Self { tasks, stop }
    }

    /// Lets every sink deliver what is stored (the event writer has drained by now) for
    /// up to `grace`, then ends them; what they did not deliver waits in the store for
    /// the next start.
    pub async fn stop(self, grace: Duration) {
        let _ = self.stop.send(true);
        let deadline = Instant::now() + grace;
        for mut task in self.tasks {
            if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
                task.abort();
            }
        }
    }
}

/// Where a sink's events go.
#[derive(Debug)]
enum Target {
    File(file::Lines),
    Http(Box<http::Poster>),
}

impl Target {
    fn new(sink: &Sink, client: &UpstreamClient) -> Self {
        match &sink.kind {
            SinkKind::File {
                path,
                max_bytes,
                keep,
            } => Self::File(file::Lines::rotating(path.clone(), *max_bytes, *keep)),
            SinkKind::Stdout => Self::File(file::Lines::stdout()),
            SinkKind::Webhook { url, auth } => {
                Self::Http(Box::new(http::Poster::webhook(url, auth.clone(), client)))
            }
            SinkKind::Otlp {
                endpoint,
                auth,
                traces,
            } => Self::Http(Box::new(http::Poster::otlp(
                endpoint,
                auth.clone(),
                *traces,
                client,
            ))),
        }
    }

    async fn deliver(&mut self, lines: Arc<Vec<StoredLine>>) -> Result<(), String> {
        match self {
            Self::File(file) => file.deliver(lines).await,
            Self::Http(poster) => poster.deliver(&lines).await,
        }
    }
}

/// One sink's task.
struct Delivery {
    target: Target,
    batch: u32,
    status: Arc<SinkStatus>,
    store: Arc<dyn Store>,
    stored: watch::Receiver<u64>,
    stopping: watch::Receiver<bool>,
}

impl Delivery {
    async fn run(mut self) {
        let Some(mut cursor) = self.load_cursor().await else {
            return;
        };
        let mut backoff = Backoff::new(FIRST_RETRY, LAST_RETRY);
        loop {
            let store = Arc::clone(&self.store);
            let batch = self.batch;
            let page = store_call("sink read", move || store.events_after(cursor, batch)).await;
            let page = match page {
                Ok(page) => page,
                Err(error) => {
                    tracing::warn!(sink = %self.status.name, %error, "sink cannot read the store; retrying");
                    if !self.wait_after_failure(&mut backoff).await {
                        return;
                    }
                    continue;
                }
            };
            let Some(last) = page.last().map(|line| line.position) else {
                if !self.wait_for_news().await {
                    return;
                }
                continue;
            };
            let count = page.len();
            match self.target.deliver(Arc::new(page)).await {
                Ok(()) => {
                    backoff.reset();
                    cursor = Some(last);
                    self.status.delivered(last, count);
                    self.save_cursor(last).await;
                }
                Err(error) => {
                    self.status.failed();
                    tracing::warn!(sink = %self.status.name, %error, events = count, "sink delivery failed; retrying");
                    if !self.wait_after_failure(&mut backoff).await {
                        return;
                    }
                }
            }
        }
    }

    /// The stored cursor, retried until the store answers; `None` when stopped first.
    async fn load_cursor(&mut self) -> Option<Option<Position>> {
        let mut backoff = Backoff::new(FIRST_RETRY, LAST_RETRY);
        loop {
            let store = Arc::clone(&self.store);
            let name = self.status.name.clone();
            match store_call("sink cursor", move || store.sink_cursor(&name)).await {
                Ok(cursor) => {
                    self.status.start_at(cursor);
                    return Some(cursor);
                }
                Err(error) => {
                    tracing::warn!(sink = %self.status.name, %error, "cannot read the sink's cursor; retrying");
                    if !self.wait_after_failure(&mut backoff).await {
                        return None;
                    }
                }
            }
        }
    }

    /// A cursor not saved is not lost: the next delivery saves a later one, and a
    /// restart in between only delivers the batch again.
    async fn save_cursor(&self, at: Position) {
        let store = Arc::clone(&self.store);
        let name = self.status.name.clone();
        if let Err(error) =
            store_call("sink cursor", move || store.put_sink_cursor(&name, at)).await
        {
            tracing::warn!(sink = %self.status.name, %error, "cannot save the sink's cursor");
        }
    }

    /// Waits for the writer's next batch (or a while); false once the sink should end:
    /// stopping and caught up.
    async fn wait_for_news(&mut self) -> bool {
        if *self.stopping.borrow() {
            return false;
        }
        tokio::select! {
            changed = self.stored.changed() => {
                // The writer ended (shutdown): whatever it stored is read once more,
                // then the stop below ends the task.
                if changed.is_err() {
                    return self.stopping.changed().await.is_ok()
                        && !*self.stopping.borrow();
                }
            }
            stop = self.stopping.changed() => {
                // No sender left: the gateway is gone without a stop.
                if stop.is_err() {
                    return false;
                }
            }
            () = tokio::time::sleep(LOOK_AGAIN) => {}
        }
        true
    }

    /// Waits out the back-off after a failure; false when stopping (what is left stays
    /// in the store for the next start).
    async fn wait_after_failure(&mut self, backoff: &mut Backoff) -> bool {
        if *self.stopping.borrow() {
            return false;
        }
        tokio::select! {
            () = tokio::time::sleep(backoff.next_delay()) => true,
            _ = self.stopping.changed() => false,
        }
    }
}
