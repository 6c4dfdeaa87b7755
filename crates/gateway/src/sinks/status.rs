//! What each sink has done, for `/metrics`: its cursor (from which its lag is counted in
//! the store at scrape time), events delivered and failed deliveries.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use gatehouse_core::config::Sink;
use gatehouse_store::{Position, Store};

/// One sink's progress.
#[derive(Debug)]
pub struct SinkStatus {
    pub name: String,
    /// The last event delivered; `None` before the first.
    cursor: Mutex<Option<Position>>,
    delivered: AtomicU64,
    errors: AtomicU64,
}

impl SinkStatus {
    fn new(name: String) -> Self {
        Self {
            name,
            cursor: Mutex::new(None),
            delivered: AtomicU64::new(0),
            errors: AtomicU64::new(0),
        }
    }

    pub(super) fn start_at(&self, cursor: Option<Position>) {
        if let Ok(mut held) = self.cursor.lock() {
            *held = cursor;
        }
    }

    pub(super) fn delivered(&self, at: Position, events: usize) {
        self.start_at(Some(at));
        self.delivered
            .fetch_add(u64::try_from(events).unwrap_or(0), Ordering::Relaxed);
    }

    pub(super) fn failed(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    pub fn cursor(&self) -> Option<Position> {
        self.cursor.lock().ok().and_then(|held| *held)
    }

    pub fn delivered_total(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    pub fn errors_total(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }
}

/// Every configured sink's status, in configuration order.
#[derive(Debug, Default)]
pub struct SinkStatuses(Vec<Arc<SinkStatus>>);

impl SinkStatuses {
    pub fn new(sinks: &[Sink]) -> Self {
        Self(
            sinks
                .iter()
                .map(|sink| Arc::new(SinkStatus::new(sink.name.clone())))
                .collect(),
        )
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<SinkStatus>> {
        self.0.iter()
    }

    /// The sinks' metrics in the text exposition; lags are counted in `store` now (a
    /// blocking call: run it off the async workers). A lag the store cannot count is
    /// left out rather than reported as zero.
    pub fn render(&self, store: &dyn Store) -> String {
        let mut out = String::new();
        if self.0.is_empty() {
            return out;
        }
        let lag = "gatehouse_sink_lag_events";
        let _ = writeln!(
            out,
            "# HELP {lag} Stored events not yet delivered to the sink.\n# TYPE {lag} gauge"
        );
        for status in &self.0 {
            if let Ok(count) = store.count_after(status.cursor()) {
                let _ = writeln!(out, "{lag}{{sink=\"{}\"}} {count}", status.name);
            }
        }
        let delivered = "gatehouse_sink_delivered_events_total";
        let _ = writeln!(
            out,
            "# HELP {delivered} Events delivered to the sink (again after a failure counts again).\n# TYPE {delivered} counter"
        );
        for status in &self.0 {
            let _ = writeln!(
                out,
                "{delivered}{{sink=\"{}\"}} {}",
                status.name,
                status.delivered_total()
            );
        }
        let errors = "gatehouse_sink_errors_total";
        let _ = writeln!(
            out,
            "# HELP {errors} Failed deliveries to the sink, each retried with back-off.\n# TYPE {errors} counter"
        );
        for status in &self.0 {
            let _ = writeln!(
                out,
                "{errors}{{sink=\"{}\"}} {}",
                status.name,
                status.errors_total()
            );
        }
        out
    }
}
