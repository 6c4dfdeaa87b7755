//! Phase 7's look at a response whose route scans it (`scan`, `redact`; issue 14,
//! item 9). The first `[risk] hold_bytes` are held before the head is sent: a response
//! that ends within them is judged whole, so it can be redacted or refused with a
//! problem document and nothing of it charged. A longer one is refused where its route
//! redacts or the caller's ceiling is below what a detector could find (it cannot be
//! judged whole without buffering it whole); otherwise it streams on, scanned chunk by
//! chunk, and its event records what was found. Routes that scan nothing never get here.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use gatehouse_core::refusal::Refusal;
use gatehouse_core::risk::{self, Tally};
use http::Response;
use http::header::{self, HeaderValue};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;

use crate::body::{BoxError, Prefixed, ResponseBody, full};
use crate::pipeline::cancel::Cancellation;
use crate::pipeline::record::EventDraft;
use crate::pipeline::risk::Screen;
use crate::state::State;

/// Why a held response was not served.
#[derive(Debug)]
pub enum Stop {
    Refused(Refusal),
    /// Cut by revocation or quarantine while held (the reason).
    Cancelled(String),
}

impl From<Refusal> for Stop {
    fn from(refusal: Refusal) -> Self {
        Self::Refused(refusal)
    }
}

/// The response to serve, and the scan that follows the rest of a long one.
pub async fn screen(
    state: &State,
    screen: &Screen,
    response: Response<ResponseBody>,
    cancel: &mut Cancellation,
    draft: &mut EventDraft,
) -> Result<(Response<ResponseBody>, Option<StreamScan>), Stop> {
    let (mut parts, body) = response.into_parts();
    refuse_encoded(&parts.headers)?;
    let (held, rest) = hold(state, screen, body, cancel).await?;
    let Some(rest) = rest else {
        let body = whole(screen, held, &mut parts.headers, draft)?;
        return Ok((Response::from_parts(parts, full(body)), None));
    };
    if screen.route.must_hold_whole(screen.ceiling) {
        return Err(Stop::Refused(Refusal::ResponseUnscannable {
            reason: format!(
                "the response is longer than the {} bytes held for scanning, and its route redacts or the caller's `max_data_class` is below what its detectors may find",
                screen.settings.hold_bytes
            ),
        }));
    }
    let scan = StreamScan {
        tally: Arc::new(Mutex::new(Tally::default())),
        screen: screen.clone(),
    };
    scan.feed(&held);
    let body = Prefixed::new(
        held,
        ScanBody {
            inner: rest,
            scan: scan.clone(),
        },
    );
    Ok((Response::from_parts(parts, body.boxed()), Some(scan)))
}

/// A scan reads the bytes the tool meant: an encoded body cannot be judged.
fn refuse_encoded(headers: &http::HeaderMap) -> Result<(), Stop> {
    match headers
        .get(header::CONTENT_ENCODING)
        .filter(|encoding| !encoding.as_bytes().eq_ignore_ascii_case(b"identity"))
    {
        Some(encoding) => Err(Stop::Refused(Refusal::ResponseUnscannable {
            reason: format!(
                "the response is encoded (`{}`) despite `accept-encoding: identity`",
                String::from_utf8_lossy(encoding.as_bytes())
            ),
        })),
        None => Ok(()),
    }
}

/// Judges a response held whole: the body to serve (redacted, with its new length), or
/// the refusal.
fn whole(
    screen: &Screen,
    held: Bytes,
    headers: &mut http::HeaderMap,
    draft: &mut EventDraft,
) -> Result<Bytes, Stop> {
    let judged = risk::judge_whole(&screen.settings, &screen.route, &held).map_err(|error| {
        Refusal::ResponseUnscannable {
            reason: error.to_string(),
        }
    })?;
    Ok(match screen.settle(judged, draft)? {
        Some(replaced) => {
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(replaced.len()));
            Bytes::from(replaced)
        }
        None => held,
    })
}

/// Reads up to `hold_bytes` of the body: all of it (`None` left) or a prefix and the rest.
async fn hold(
    state: &State,
    screen: &Screen,
    mut body: ResponseBody,
    cancel: &mut Cancellation,
) -> Result<(Bytes, Option<ResponseBody>), Stop> {
    let hold = usize::try_from(screen.settings.hold_bytes).unwrap_or(usize::MAX);
    let idle = state.config.gateway.limits.response_idle_timeout;
    let mut held = BytesMut::new();
    while held.len() < hold {
        let frame = tokio::select! {
            frame = tokio::time::timeout(idle, body.frame()) => frame,
            reason = &mut *cancel => return Err(Stop::Cancelled(reason)),
        };
        match frame {
            Err(_) => return Err(Stop::Refused(Refusal::UpstreamTimeout)),
            Ok(None) => return Ok((held.freeze(), None)),
            Ok(Some(Err(error))) => {
                return Err(Stop::Refused(Refusal::UpstreamUnavailable {
                    reason: format!("the response failed while held for scanning: {error}"),
                }));
            }
            // Trailers of a scanned response are dropped: nothing reads them.
            Ok(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    held.extend_from_slice(&data);
                }
            }
        }
    }
    // A body that ended exactly at the hold is whole.
    let rest = (!body.is_end_stream()).then_some(body);
    Ok((held.freeze(), rest))
}

/// The scan of a streamed response, shared by its body and the event that ends it.
#[derive(Debug, Clone)]
pub struct StreamScan {
    tally: Arc<Mutex<Tally>>,
    screen: Screen,
}

impl StreamScan {
    fn feed(&self, chunk: &[u8]) {
        if let Ok(mut tally) = self.tally.lock() {
            tally.scan(&self.screen.settings, &self.screen.route, chunk);
        }
    }

    /// Puts what the whole stream was found to carry on the event.
    pub fn record(&self, draft: &mut EventDraft) {
        if let Ok(tally) = self.tally.lock() {
            let (risk, _) = tally.finish(&self.screen.settings, &self.screen.route);
            draft.risk(risk);
        }
    }
}

/// The rest of the upstream's body after the held prefix, scanned as it passes.
struct ScanBody {
    inner: ResponseBody,
    scan: StreamScan,
}

impl Body for ScanBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            self.scan.feed(data);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
