//! Trace context on the data plane (issue 14, item 10): a caller's valid `traceparent`
//! is recorded on its call's event (trace id and parent span, hex), and the tool
//! receives a child: the same trace, Gatehouse's span (from the decision id) as parent.
//! A missing or malformed one starts a fresh trace named by the decision id; the
//! agent's `traceparent` and `tracestate` are never forwarded as sent
//! (`core::headers::REPLACED`). Per call: one header lookup, and for a forwarded call
//! one small header value; two short strings on the event only when the caller sent a
//! valid `traceparent`.

use bytes::Bytes;
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
    // The text becomes the header's bytes without a copy.
    if let Ok(value) = HeaderValue::from_maybe_shared(Bytes::from(span.child_header())) {
        headers.insert(TRACEPARENT, value);
    }
    if let Some(state) = state {
        headers.insert(TRACESTATE, state);
    }
}

#[cfg(test)]
mod tests {
    use gatehouse_core::event::EventKind;
    use gatehouse_core::ids::DecisionId;
    use serde_json::json;

    use crate::mcp_upstream::Params;

    use super::*;

    fn event(headers: &[(&str, &str)]) -> Event {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        let mut event = Event {
            method: "POST".to_owned(),
            path: "/mcp/x".to_owned(),
            ..Event::blank(
                DecisionId::from_u128(0xabc0_0000_0000_0000_1234),
                1,
                EventKind::Mcp,
            )
        };
        record_incoming(&mut event, &map);
        event
    }

    const GOOD: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_valid_traceparent_is_recorded_and_two_are_none() {
        let one = event(&[("traceparent", GOOD)]);
        assert_eq!(
            one.trace_id.as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert_eq!(one.parent_span_id.as_deref(), Some("00f067aa0ba902b7"));
        let two = event(&[("traceparent", GOOD), ("traceparent", GOOD)]);
        assert_eq!(two.trace_id, None);
        let span = span_of(&one);
        assert_eq!(span.trace_id, 0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736);
        assert_eq!(span.parent_id, Some(0x00f0_67aa_0ba9_02b7));
        assert_eq!(span.span_id, 0x1234);
    }

    #[test]
    fn an_mcp_server_gets_the_child_in_meta() {
        // The call's params (`_meta` dropped when they were written) get Gatehouse's own.
        let span = span_of(&event(&[("traceparent", GOOD)]));
        let child = span.child_header();
        let params = Params::new(r#"{"name":"echo"}"#).traced(&child).tree();
        assert_eq!(
            params,
            json!({"name": "echo", "_meta": {
                "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000001234-01",
            }})
        );
        let fresh = span_of(&event(&[])).child_header();
        let fresh = Params::new("{}").traced(&fresh).tree();
        assert_eq!(
            fresh["_meta"]["traceparent"],
            "00-000000000000abc00000000000001234-0000000000001234-01"
        );
    }
}
