//! Body types for streaming both ways: a request body capped at a limit, and a response
//! body that counts what it passes, cuts at a limit and reports how it ended exactly once
//! (so the event of a streamed call carries its real byte count and fate).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Every response body the gateway produces.
pub type ResponseBody = BoxBody<Bytes, BoxError>;

pub fn full(bytes: impl Into<Bytes>) -> ResponseBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

pub fn empty() -> ResponseBody {
    Empty::new().map_err(|never| match never {}).boxed()
}

/// Bytes already in hand, then the rest of a body: a page's head before its stream, or
/// a response's held (already judged) prefix before the remainder.
#[derive(Debug)]
pub struct Prefixed<B> {
    first: Option<Bytes>,
    rest: B,
}

impl<B> Prefixed<B> {
    pub fn new(first: Bytes, rest: B) -> Self {
        Self {
            first: Some(first),
            rest,
        }
    }
}

impl<B> Body for Prefixed<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        if let Some(first) = self.first.take() {
            return Poll::Ready(Some(Ok(Frame::data(first))));
        }
        Pin::new(&mut self.rest).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.first.is_none() && self.rest.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let first = self.first.as_ref().map_or(0, |first| first.len() as u64);
        let rest = self.rest.size_hint();
        let mut hint = SizeHint::new();
        hint.set_lower(rest.lower().saturating_add(first));
        if let Some(upper) = rest.upper() {
            hint.set_upper(upper.saturating_add(first));
        }
        hint
    }
}

/// The error a capped body yields when its limit is crossed.
#[derive(Debug, thiserror::Error)]
#[error("body exceeds the limit of {limit} bytes")]
pub struct LimitExceeded {
    pub limit: u64,
}

/// Shared view of a capped request body: bytes seen, whether the cap was hit, and
/// whether the agent's own stream failed (bad chunking, a short body).
#[derive(Debug, Clone, Default)]
pub struct BodyMeter {
    shared: Arc<Metered>,
}

#[derive(Debug, Default)]
struct Metered {
    bytes: AtomicU64,
    tripped: AtomicBool,
    failed: AtomicBool,
}

impl BodyMeter {
    pub fn bytes(&self) -> u64 {
        self.shared.bytes.load(Ordering::Relaxed)
    }

    pub fn tripped(&self) -> bool {
        self.shared.tripped.load(Ordering::Relaxed)
    }

    /// The agent's body failed: the agent's fault, not the upstream's.
    pub fn failed(&self) -> bool {
        self.shared.failed.load(Ordering::Relaxed)
    }
}

/// A request body that fails once more than `limit` bytes pass, so an oversize upload
/// is cut mid-stream even without a `Content-Length`.
#[derive(Debug)]
pub struct CappedBody {
    inner: ResponseBody,
    limit: u64,
    meter: BodyMeter,
}

impl CappedBody {
    pub fn new(inner: ResponseBody, limit: u64) -> (Self, BodyMeter) {
        let meter = BodyMeter::default();
        let body = Self {
            inner,
            limit,
            meter: meter.clone(),
        };
        (body, meter)
    }
}

impl Body for CappedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        let Poll::Ready(Some(Ok(frame))) = polled else {
            if let Poll::Ready(Some(Err(_))) = &polled {
                self.meter.shared.failed.store(true, Ordering::Relaxed);
            }
            return polled;
        };
        let len = frame.data_ref().map_or(0, |data| data.len() as u64);
        let total = self.meter.shared.bytes.fetch_add(len, Ordering::Relaxed) + len;
        if total > self.limit {
            self.meter.shared.tripped.store(true, Ordering::Relaxed);
            let error = LimitExceeded { limit: self.limit };
            return Poll::Ready(Some(Err(Box::new(error))));
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// How a response body ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyEnd {
    /// Every byte reached the agent.
    Complete,
    /// The agent went away (or the connection dropped) before the end.
    Aborted,
    /// The upstream failed mid-stream.
    Failed(String),
    /// The response crossed the limit and was cut.
    Cut { limit: u64 },
    /// The credential or workflow was revoked mid-stream; the stream was cut.
    Revoked(String),
    /// The workflow's byte budget ran out mid-stream; the stream was cut there.
    BudgetCut,
}

type Finish = Box<dyn FnOnce(u64, BodyEnd) + Send + Sync>;

/// What may stop a response mid-stream besides its size limit.
pub struct StreamGuard {
    /// Resolves, with a reason, when the call is revoked.
    cancel: Mutex<Pin<Box<dyn Future<Output = String> + Send>>>,
    /// Counts bytes against a budget; `Err(n)` means only `n` of them fit.
    admit: Box<dyn Fn(u64) -> Result<(), u64> + Send + Sync>,
}

impl std::fmt::Debug for StreamGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamGuard").finish_non_exhaustive()
    }
}

impl StreamGuard {
    pub fn new(
        cancel: impl Future<Output = String> + Send + 'static,
        admit: impl Fn(u64) -> Result<(), u64> + Send + Sync + 'static,
    ) -> Self {
        Self::boxed(Box::pin(cancel), admit)
    }

    /// For a cancellation already on the heap (no second box).
    pub fn boxed(
        cancel: Pin<Box<dyn Future<Output = String> + Send>>,
        admit: impl Fn(u64) -> Result<(), u64> + Send + Sync + 'static,
    ) -> Self {
        Self {
            cancel: Mutex::new(cancel),
            admit: Box::new(admit),
        }
    }

    fn poll_cancel(&self, cx: &mut Context<'_>) -> Poll<String> {
        match self.cancel.lock() {
            Ok(mut cancel) => cancel.as_mut().poll(cx),
            Err(_) => Poll::Pending,
        }
    }
}

/// A response body that counts bytes, cuts at `limit`, and calls `finish` exactly once
/// with the byte count and how the stream ended.
pub struct MeteredBody {
    inner: ResponseBody,
    bytes: u64,
    limit: u64,
    finish: Option<Finish>,
    guard: Option<StreamGuard>,
    /// Set after a final, truncated chunk: the next poll ends the stream with it.
    pending_end: Option<BodyEnd>,
    /// Whether the stream already yielded once before ending with `pending_end`.
    yielded: bool,
    /// Longest wait for the upstream's next frame; the timer exists only once the
    /// upstream has made the stream wait (a response that arrives whole never sets one).
    idle: Option<Duration>,
    idle_timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl std::fmt::Debug for MeteredBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeteredBody")
            .field("bytes", &self.bytes)
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

impl MeteredBody {
    pub fn new(
        inner: ResponseBody,
        limit: u64,
        finish: impl FnOnce(u64, BodyEnd) + Send + Sync + 'static,
    ) -> Self {
        Self {
            inner,
            bytes: 0,
            limit,
            finish: Some(Box::new(finish)),
            guard: None,
            pending_end: None,
            yielded: false,
            idle: None,
            idle_timer: None,
        }
    }

    #[must_use]
    pub fn guarded(mut self, guard: StreamGuard) -> Self {
        self.guard = Some(guard);
        self
    }

    /// Cuts the stream when the upstream sends nothing for `idle` (a tool that stalls
    /// after its headers would otherwise hold the call, its connection and its budget).
    #[must_use]
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.idle = Some(idle);
        self
    }

    /// `Ready` once the upstream has been silent for the idle timeout.
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> Poll<Duration> {
        let Some(idle) = self.idle else {
            return Poll::Pending;
        };
        let timer = self
            .idle_timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
        timer.as_mut().poll(cx).map(|()| idle)
    }

    /// The upstream sent a frame: the idle clock starts again (reusing its timer).
    fn rearm_idle(&mut self) {
        if let (Some(idle), Some(timer)) = (self.idle, self.idle_timer.as_mut()) {
            timer.as_mut().reset(tokio::time::Instant::now() + idle);
        }
    }

    fn end(&mut self, end: BodyEnd) {
        if let Some(finish) = self.finish.take() {
            finish(self.bytes, end);
        }
    }

    fn on_data(&mut self, frame: Frame<Bytes>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let len = frame.data_ref().map_or(0, |data| data.len() as u64);
        if self.bytes + len > self.limit {
            self.end(BodyEnd::Cut { limit: self.limit });
            let error = LimitExceeded { limit: self.limit };
            return Poll::Ready(Some(Err(Box::new(error))));
        }
        let admitted = self
            .guard
            .as_ref()
            .map_or(Ok(()), |guard| (guard.admit)(len));
        match admitted {
            Ok(()) => {
                self.bytes += len;
                Poll::Ready(Some(Ok(frame)))
            }
            Err(allowed) => self.truncate(frame, allowed),
        }
    }

    /// Passes the `allowed` bytes of `frame` that fit the budget, then ends the stream.
    fn truncate(
        &mut self,
        frame: Frame<Bytes>,
        allowed: u64,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let Ok(mut data) = frame.into_data() else {
            return self.fail(BodyEnd::BudgetCut);
        };
        if allowed == 0 {
            self.pending_end = Some(BodyEnd::BudgetCut);
            return Poll::Ready(Some(Ok(Frame::data(Bytes::new()))));
        }
        data.truncate(usize::try_from(allowed).unwrap_or(usize::MAX));
        self.bytes += data.len() as u64;
        self.pending_end = Some(BodyEnd::BudgetCut);
        Poll::Ready(Some(Ok(Frame::data(data))))
    }

    /// Ends the stream with an error the client sees as a cut connection.
    fn fail(&mut self, end: BodyEnd) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let message = match &end {
            BodyEnd::Revoked(reason) => format!("stream cut: {reason}"),
            _ => "stream cut: the workflow's byte budget is spent".to_owned(),
        };
        self.end(end);
        Poll::Ready(Some(Err(message.into())))
    }
}

impl Body for MeteredBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.finish.is_none() {
            return Poll::Ready(None);
        }
        if let Some(end) = self.pending_end.take() {
            // Yield once before failing: the server flushes what it has buffered (the
            // status line, headers and the bytes that fit) when a body is pending, and
            // would drop it all if the failure came in the same write.
            if !self.yielded {
                self.yielded = true;
                self.pending_end = Some(end);
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            return self.fail(end);
        }
        let cancelled = match &self.guard {
            Some(guard) => guard.poll_cancel(cx),
            None => Poll::Pending,
        };
        if let Poll::Ready(reason) = cancelled {
            return self.fail(BodyEnd::Revoked(reason));
        }
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Pending => match self.poll_idle(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(idle) => {
                    let reason = format!("the tool sent nothing for {} ms", idle.as_millis());
                    self.end(BodyEnd::Failed(reason.clone()));
                    Poll::Ready(Some(Err(reason.into())))
                }
            },
            Poll::Ready(Some(Ok(frame))) => {
                self.rearm_idle();
                self.on_data(frame)
            }
            Poll::Ready(Some(Err(error))) => {
                self.end(BodyEnd::Failed(error.to_string()));
                Poll::Ready(Some(Err(error)))
            }
            Poll::Ready(None) => {
                self.end(BodyEnd::Complete);
                Poll::Ready(None)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.finish.is_none() || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for MeteredBody {
    fn drop(&mut self) {
        let end = if self.inner.is_end_stream() {
            BodyEnd::Complete
        } else {
            BodyEnd::Aborted
        };
        self.end(end);
    }
}
