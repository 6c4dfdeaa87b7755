//! Body types for streaming both ways: a request body capped at a limit, and a response
//! body that counts what it passes, cuts at a limit and reports how it ended exactly once
//! (so the event of a streamed call carries its real byte count and fate).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};

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

/// The error a capped body yields when its limit is crossed.
#[derive(Debug, thiserror::Error)]
#[error("body exceeds the limit of {limit} bytes")]
pub struct LimitExceeded {
    pub limit: u64,
}

/// Shared view of a capped request body: bytes seen and whether the cap was hit.
#[derive(Debug, Clone, Default)]
pub struct BodyMeter {
    bytes: Arc<AtomicU64>,
    tripped: Arc<AtomicBool>,
}

impl BodyMeter {
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    pub fn tripped(&self) -> bool {
        self.tripped.load(Ordering::Relaxed)
    }
}

/// A request body that fails once more than `limit` bytes pass, so an oversize upload
/// is cut mid-stream even without a `Content-Length`.
#[derive(Debug)]
pub struct CappedBody<B> {
    inner: B,
    limit: u64,
    meter: BodyMeter,
}

impl<B> CappedBody<B> {
    pub fn new(inner: B, limit: u64) -> (Self, BodyMeter) {
        let meter = BodyMeter::default();
        let body = Self {
            inner,
            limit,
            meter: meter.clone(),
        };
        (body, meter)
    }
}

impl<B> Body for CappedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        let Poll::Ready(Some(Ok(frame))) = polled else {
            return polled.map(|item| item.map(|result| result.map_err(Into::into)));
        };
        let len = frame.data_ref().map_or(0, |data| data.len() as u64);
        let total = self.meter.bytes.fetch_add(len, Ordering::Relaxed) + len;
        if total > self.limit {
            self.meter.tripped.store(true, Ordering::Relaxed);
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
}

type Finish = Box<dyn FnOnce(u64, BodyEnd) + Send + Sync>;

/// A response body that counts bytes, cuts at `limit`, and calls `finish` exactly once
/// with the byte count and how the stream ended.
pub struct MeteredBody {
    inner: ResponseBody,
    bytes: u64,
    limit: u64,
    finish: Option<Finish>,
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
        }
    }

    fn end(&mut self, end: BodyEnd) {
        if let Some(finish) = self.finish.take() {
            finish(self.bytes, end);
        }
    }

    fn on_data(&mut self, frame: Frame<Bytes>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let len = frame.data_ref().map_or(0, |data| data.len() as u64);
        self.bytes += len;
        if self.bytes > self.limit {
            self.bytes -= len;
            self.end(BodyEnd::Cut { limit: self.limit });
            let error = LimitExceeded { limit: self.limit };
            return Poll::Ready(Some(Err(Box::new(error))));
        }
        Poll::Ready(Some(Ok(frame)))
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
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(frame))) => self.on_data(frame),
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
