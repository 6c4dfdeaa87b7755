//! Live tails of the event log (issue 14, item 3): `GET /v1/events/stream` on the
//! control plane answers Server-Sent Events, one per stored event matching the query's
//! filters, each with its store position as its `id`. A tail reads the store after its
//! position, like a sink, and waits for the event writer's wake-up after each batch, so
//! an idle tail costs nothing and never polls; `Last-Event-ID` resumes after the
//! position a client last saw, missing nothing in between. Shutdown ends every tail
//! first, so the control listener's drain is not held by open streams.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use gatehouse_core::event::{Event, EventFilter};
use gatehouse_store::{Position, Store, StoredLine};
use http_body::{Body, Frame};
use tokio::sync::{mpsc, watch};

use crate::blocking::store_call;
use crate::body::BoxError;

/// Events read from the store at a time.
const PAGE: u32 = 500;
/// A comment line this often keeps proxies from closing an idle stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Frames buffered per tail before its reader waits for the client.
const FRAMES: usize = 64;

/// How a tail writes what it reads: Server-Sent Events for the API, rows of HTML for the
/// console's live tail page (`control/console/tail.rs`), which streams without a script.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Framing {
    /// The frame of one stored line that passes the filters.
    pub(crate) frame: fn(&StoredLine, &Event) -> Bytes,
    /// Sent after a quiet `KEEP_ALIVE`, and as the last frame when the store fails.
    pub(crate) keep_alive: &'static [u8],
    pub(crate) store_down: &'static [u8],
}

/// `GET /v1/events/stream`'s frames: the store position as the SSE `id`.
pub(crate) const SSE: Framing = Framing {
    frame: sse_frame,
    keep_alive: b": keep-alive\n\n",
    store_down: b": store unavailable\n\n",
};

fn sse_frame(line: &StoredLine, _: &Event) -> Bytes {
    Bytes::from(format!(
        "id: {}\nevent: decision\ndata: {}\n\n",
        line.position, line.line
    ))
}

/// Ends every open tail at shutdown.
#[derive(Debug)]
pub struct Tails {
    closing: watch::Sender<bool>,
}

impl Default for Tails {
    fn default() -> Self {
        Self {
            closing: watch::Sender::new(false),
        }
    }
}

impl Tails {
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Starts a tail after `start` (from the first event when `None`) and returns the
    /// body its events are written to.
    pub(crate) fn open(
        &self,
        store: Arc<dyn Store>,
        stored: watch::Receiver<u64>,
        filter: EventFilter,
        start: Option<Position>,
        framing: Framing,
    ) -> EventStream {
        let (frames, receiver) = mpsc::channel(FRAMES);
        let tail = Tail {
            store,
            stored,
            closing: self.closing.subscribe(),
            filter,
            frames,
            framing,
        };
        tokio::spawn(tail.run(start));
        EventStream { receiver }
    }
}

/// One open tail's reader.
struct Tail {
    store: Arc<dyn Store>,
    stored: watch::Receiver<u64>,
    closing: watch::Receiver<bool>,
    filter: EventFilter,
    frames: mpsc::Sender<Bytes>,
    framing: Framing,
}

impl Tail {
    async fn run(mut self, mut cursor: Option<Position>) {
        // Only batches stored from now on wake this tail; anything before is read below.
        self.stored.mark_unchanged();
        loop {
            if *self.closing.borrow() {
                return;
            }
            let store = Arc::clone(&self.store);
            let read = store_call("tail", move || store.events_after(cursor, PAGE)).await;
            let Ok(page) = read else {
                // The store is down: say so and end; the client resumes with its last id.
                let _ = self
                    .frames
                    .send(Bytes::from_static(self.framing.store_down))
                    .await;
                return;
            };
            let full = page.len() >= usize::try_from(PAGE).unwrap_or(usize::MAX);
            for line in page {
                cursor = Some(line.position);
                if let Some(frame) = self.frame(&line)
                    && self.frames.send(frame).await.is_err()
                {
                    return;
                }
            }
            if !full && !self.wait().await {
                return;
            }
        }
    }

    /// The frame of a stored line that passes the filters.
    fn frame(&self, line: &StoredLine) -> Option<Bytes> {
        let event: Event = serde_json::from_str(&line.line).ok()?;
        matches(&self.filter, &event).then(|| (self.framing.frame)(line, &event))
    }

    /// Waits for the next stored batch, sending keep-alives; false when the tail ends
    /// (the client left, shutdown, or the writer is gone).
    async fn wait(&mut self) -> bool {
        tokio::select! {
            changed = self.stored.changed() => changed.is_ok(),
            _ = self.closing.changed() => false,
            () = self.frames.closed() => false,
            // A keep-alive, and a look at the store: on a shared store, other replicas'
            // events arrive without this replica's wake-up.
            () = tokio::time::sleep(KEEP_ALIVE) => {
                self.frames.send(Bytes::from_static(self.framing.keep_alive)).await.is_ok()
            }
        }
    }
}

/// Whether `event` passes every filter the events query has (`limit` aside: a tail has
/// no end).
pub(crate) fn matches(filter: &EventFilter, event: &Event) -> bool {
    let same = |wanted: Option<&str>, value: Option<&str>| wanted.is_none() || wanted == value;
    same(filter.agent.as_deref(), event.agent.as_deref())
        && same(filter.workflow.as_deref(), event.workflow.as_deref())
        && same(filter.tool.as_deref(), event.tool.as_deref())
        && same(filter.intent.as_deref(), event.intent.as_deref())
        && filter
            .outcome
            .is_none_or(|outcome| outcome == event.outcome)
        && filter.since_ms.is_none_or(|since| event.time_ms >= since)
        && filter.until_ms.is_none_or(|until| event.time_ms < until)
        && filter.after.is_none_or(|after| event.id > after)
}

/// The response body of a tail: its frames as they come.
pub(crate) struct EventStream {
    receiver: mpsc::Receiver<Bytes>,
}

impl Body for EventStream {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.receiver
            .poll_recv(cx)
            .map(|frame| frame.map(|bytes| Ok(Frame::data(bytes))))
    }
}

#[cfg(test)]
mod tests {
    use gatehouse_core::event::{EventKind, Outcome};
    use gatehouse_core::ids::DecisionId;

    use super::*;

    #[test]
    fn every_filter_of_the_query_narrows_a_tail() {
        let mut event = Event::blank(DecisionId::from_u128(10), 1_000, EventKind::Tool);
        event.agent = Some("a".into());
        event.tool = Some("t".into());
        let pass = |filter: EventFilter| matches(&filter, &event);
        assert!(pass(EventFilter::default()));
        assert!(pass(EventFilter {
            agent: Some("a".into()),
            outcome: Some(Outcome::Deny),
            since_ms: Some(1_000),
            until_ms: Some(1_001),
            after: Some(DecisionId::from_u128(9)),
            ..EventFilter::default()
        }));
        for filter in [
            EventFilter {
                agent: Some("b".into()),
                ..EventFilter::default()
            },
            EventFilter {
                workflow: Some("w".into()),
                ..EventFilter::default()
            },
            EventFilter {
                outcome: Some(Outcome::Allow),
                ..EventFilter::default()
            },
            EventFilter {
                until_ms: Some(1_000),
                ..EventFilter::default()
            },
            EventFilter {
                after: Some(DecisionId::from_u128(10)),
                ..EventFilter::default()
            },
        ] {
            assert!(!pass(filter.clone()), "{filter:?}");
        }
    }
}
