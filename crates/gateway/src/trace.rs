//! Trace context on the data plane (issue 14, item 10): a caller's valid `traceparent`
//! is recorded on its call's event (trace id and parent span, hex), and the tool
//! receives a child: the same trace, Gatehouse's span (from the decision id) as parent.
//! A missing or malformed one starts a fresh trace named by the decision id; the
//! agent's `traceparent` and `tracestate` are never forwarded as sent
//! (`core::headers::REPLACED`). Per call: one header lookup, and for a forwarded call
//! one small header value; two short strings on the event only when the caller sent a
//! valid `traceparent`.

use gatehouse_core::event::Event;
use gatehouse_core::trace::{CallSpan, TraceParent, tracestate_is_valid};
use http::{HeaderMap, HeaderName, HeaderValue};

const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");

/// Records the caller's trace on `event` when `headers` carry one valid `traceparent`.
pub(crate) fn record_incoming(event: &mut Event, headers: &HeaderMap) {
    let mut values = headers.get_all(TRACEPARENT).iter();
    // Two `traceparent` headers are as good as none: which one would be meant?
    let (Some(value), None) = (values.next(), values.next()) else {
        return;
    };
    if let Some(parent) = TraceParent::parse(value.as_bytes()) {
        event.trace_id = Some(format!("{:032x}", parent.trace_id));
        event.parent_span_id = Some(format!("{:016x}", parent.parent_id));
    }
}

/// The span Gatehouse's call is: under the caller's trace recorded on `event`, or the
/// root of a fresh one.
pub(crate) fn span_of(event: &Event) -> CallSpan {
    let parent = event
        .trace_id
        .as_deref()
        .zip(event.parent_span_id.as_deref())
        .and_then(|(trace, parent)| {
            u128::from_str_radix(trace, 16)
                .ok()
                .zip(u64::from_str_radix(parent, 16).ok())
        })
        .map(|(trace_id, parent_id)| TraceParent {
            trace_id,
            parent_id,
            // Sampled: the gateway records every call.
            flags: 1,
        });
    CallSpan::of(event.id, parent)
}

/// The caller's `tracestate`, passed on only with a valid `traceparent` and when it is
/// itself well formed (one header).
pub(crate) fn passed_state(headers: &HeaderMap, span: &CallSpan) -> Option<HeaderValue> {
    span.parent_id?;
    let mut values = headers.get_all(TRACESTATE).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return None;
    };
    tracestate_is_valid(value.as_bytes()).then(|| value.clone())
}

/// Sets the tool's `traceparent` (a child of `span`) and the passed-on `tracestate`.
pub(crate) fn inject(headers: &mut HeaderMap, span: &CallSpan, state: Option<HeaderValue>) {
    if let Ok(value) = HeaderValue::from_str(&span.child_header()) {
        headers.insert(TRACEPARENT, value);
    }
    if let Some(state) = state {
        headers.insert(TRACESTATE, state);
    }
}
