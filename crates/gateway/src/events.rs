//! The event pipeline: requests hand finished events to an [`EventSink`] without waiting;
//! one writer task batches them into the store (one transaction per batch) and the
//! JSON-lines file. A failing store is retried with back-off, never dropped: events wait
//! in memory until it answers again.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use gatehouse_core::event::Event;
use gatehouse_store::Store;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Most events written in one transaction.
const MAX_BATCH: usize = 2048;
const MAX_BACKOFF: Duration = Duration::from_secs(5);

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
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(event) => batch.push(event),
                Err(_) => break,
            }
        }
        lines = write_batch(Arc::clone(&store), lines, batch).await;
    }
}

/// Writes one batch to the store (retrying until it succeeds) and to the file.
async fn write_batch(store: Arc<dyn Store>, lines: JsonLines, batch: Vec<Event>) -> JsonLines {
    let mut backoff = Duration::from_millis(50);
    let batch = Arc::new(batch);
    loop {
        let (store_ref, events) = (Arc::clone(&store), Arc::clone(&batch));
        let attempt = tokio::task::spawn_blocking(move || store_ref.append_events(&events)).await;
        match attempt {
            Ok(Ok(())) => break,
            Ok(Err(error)) => {
                tracing::error!(%error, events = batch.len(), "event store write failed; retrying")
            }
            Err(error) => tracing::error!(%error, "event store writer panicked; retrying"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
    let events = Arc::clone(&batch);
    tokio::task::spawn_blocking(move || {
        let mut lines = lines;
        lines.append(&events);
        lines
    })
    .await
    .unwrap_or_else(|_| JsonLines::new(None))
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

    fn append(&mut self, events: &[Event]) {
        let Some(path) = self.path.clone() else {
            return;
        };
        if let Err(error) = self.try_append(events) {
            tracing::error!(%error, path = %path.display(), "cannot append to the events file");
            self.file = None;
        }
    }

    fn try_append(&mut self, events: &[Event]) -> std::io::Result<()> {
        let file = match &mut self.file {
            Some(file) => file,
            None => self.file.insert(self.open()?),
        };
        for event in events {
            serde_json::to_writer(&mut *file, event)?;
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
        Ok(std::io::BufWriter::new(file))
    }
}
