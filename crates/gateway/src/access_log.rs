//! The operator's access log: one line per call (`gatehouse::access`), from the
//! event's own fields. A call that failed is a warning carrying its cause.
//!
//! Through `tracing` the line cost about 15 000 instructions a call (dispatch, the
//! value set's visitor, `core::fmt` for every field), 8 % of an HTTP call. So the
//! binary installs a [`Sink`] at start-up: the line is then written by hand
//! (`format.rs`) straight into a buffer and queued on the log's writer thread, byte for
//! byte what tracing-subscriber's `fmt` layer wrote (`tests.rs` proves it), and still
//! only when the operator's filter (`GATEHOUSE_LOG`) enables it. Without a sink (tests,
//! embedders, a terminal's coloured output) the line goes through `tracing` as before.
//!
//! The hand path assumes what the binary's subscriber does: the `fmt` layer's default
//! event format, no spans entered around the call (the gateway enters none), and no
//! other layer wanting the line.

mod format;
mod timestamp;

use std::sync::OnceLock;
use std::time::SystemTime;

use gatehouse_core::event::{Event, Outcome};
use gatehouse_core::ids::DecisionId;
use gatehouse_core::refusal::RefusalKind;

/// The target the operator filters the access log by (`GATEHOUSE_LOG`).
pub const TARGET: &str = "gatehouse::access";

/// How the binary's subscriber writes lines (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// tracing-subscriber's default full format, without colours.
    Text,
    /// Its JSON format with `flatten_event(true)`.
    Json,
}

/// Where hand-written lines go: the format, and what queues a finished line (ending
/// in `\n`) on the writer that the subscriber's lines go to, so both stay in order.
pub struct Sink {
    format: Format,
    queue: Box<dyn Fn(Vec<u8>) + Send + Sync>,
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sink")
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

/// A sink was installed already: the first one stays.
#[derive(Debug, thiserror::Error)]
#[error("the access log's sink is installed already")]
pub struct AlreadyInstalled;

static SINK: OnceLock<Sink> = OnceLock::new();

impl Sink {
    pub fn new(format: Format, queue: impl Fn(Vec<u8>) + Send + Sync + 'static) -> Self {
        Self {
            format,
            queue: Box::new(queue),
        }
    }

    /// Makes this the process's sink, for every access line from now on.
    pub fn install(self) -> Result<(), AlreadyInstalled> {
        SINK.set(self).map_err(|_| AlreadyInstalled)
    }

    /// Writes `event`'s line if the current subscriber's filter enables it.
    fn write(&self, event: &Event) {
        let fields = Fields::of(event);
        if !enabled(fields.warn) {
            return;
        }
        #[expect(
            clippy::disallowed_methods,
            reason = "the log line's timestamp is the wall clock, as tracing-subscriber's timer reads it"
        )]
        let now = SystemTime::now();
        let mut line = Vec::with_capacity(fields.capacity());
        format::write(&mut line, self.format, now, &fields);
        (self.queue)(line);
    }
}

/// Writes the access line of `event`: by hand when the binary installed a sink,
/// through `tracing` otherwise.
pub(crate) fn line(event: &Event) {
    match SINK.get() {
        Some(sink) => sink.write(event),
        None => traced(event),
    }
}

/// The line's fields, in the order they are written.
#[derive(Debug)]
struct Fields<'e> {
    /// A failed call is a warning; every other line is information.
    warn: bool,
    decision: DecisionId,
    kind: &'e str,
    agent: Option<&'e str>,
    workflow: Option<&'e str>,
    tool: Option<&'e str>,
    intent: Option<&'e str>,
    outcome: &'e str,
    status: u16,
    latency_us: u64,
    refusal: Option<&'e str>,
    /// The cause, on warnings only.
    reason: Option<&'e str>,
}

impl<'e> Fields<'e> {
    fn of(event: &'e Event) -> Self {
        let warn = event.outcome == Outcome::Error;
        Self {
            warn,
            decision: event.id,
            kind: event.kind.as_str(),
            agent: event.agent.as_deref(),
            workflow: event.workflow.as_deref(),
            tool: event.tool.as_deref(),
            intent: event.intent.as_deref(),
            outcome: event.outcome.as_str(),
            status: event.status,
            latency_us: event.latency_us,
            refusal: event.refusal.map(RefusalKind::as_str),
            reason: event.reason.as_deref().filter(|_| warn),
        }
    }

    /// Room for the line without growing the buffer, unless texts need escaping.
    fn capacity(&self) -> usize {
        let texts = [
            self.agent,
            self.workflow,
            self.tool,
            self.intent,
            self.reason,
        ];
        256 + texts.iter().flatten().map(|text| text.len()).sum::<usize>()
    }
}

/// Whether the current subscriber wants the line at its level: the same target and
/// field names as `traced`, so the operator's directives select both alike. Cheap
/// when the filter's answer is static (the callsite caches it).
fn enabled(warn: bool) -> bool {
    macro_rules! enabled {
        ($level:expr) => {
            tracing::enabled!(
                target: TARGET,
                $level,
                decision,
                kind,
                agent,
                workflow,
                tool,
                intent,
                outcome,
                status,
                latency_us,
                refusal,
                reason
            )
        };
    }
    if warn {
        enabled!(tracing::Level::WARN)
    } else {
        enabled!(tracing::Level::INFO)
    }
}

/// The line through `tracing` (nothing is formatted unless a subscriber wants it):
/// what the hand-written line must equal.
fn traced(event: &Event) {
    let fields = Fields::of(event);
    macro_rules! event {
        ($level:expr) => {
            tracing::event!(
                target: TARGET,
                $level,
                decision = %fields.decision,
                kind = fields.kind,
                agent = fields.agent,
                workflow = fields.workflow,
                tool = fields.tool,
                intent = fields.intent,
                outcome = fields.outcome,
                status = fields.status,
                latency_us = fields.latency_us,
                refusal = fields.refusal,
                reason = fields.reason,
            )
        };
    }
    if fields.warn {
        event!(tracing::Level::WARN);
    } else {
        event!(tracing::Level::INFO);
    }
}

#[cfg(test)]
mod tests;
