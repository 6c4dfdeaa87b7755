//! W3C trace context: an agent's valid `traceparent` is recorded on the event and the
//! tool receives a child of it (Gatehouse's span as parent); a malformed one is never
//! forwarded, and the call starts a fresh trace instead.

use gatehouse_kit::client::{Reply, send};
use http::Method;

use crate::harness::{Harness, decision_id};

const AGENT_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const AGENT_SPAN: &str = "00f067aa0ba902b7";

async fn call_with(harness: &Harness, token: &str, extra: &[(&str, &str)]) -> Reply {
    let auth = format!("Bearer {token}");
    let mut headers = vec![("authorization", auth.as_str())];
    headers.extend_from_slice(extra);
    let url = harness.data_url("/tools/tickets/tickets/1");
    let reply = send(Method::GET, &url, &headers, "").await.unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply
}

/// The decision id's low 64 bits: Gatehouse's span for the call.
fn gateway_span(decision: &str) -> String {
    let id = gatehouse_core::ids::DecisionId::parse(decision).unwrap();
    format!("{:016x}", id.as_u128() & u128::from(u64::MAX))
}

/// What the upstream received for the call with this decision id.
fn upstream_header(harness: &Harness, decision: &str, name: &str) -> Option<String> {
    let seen = harness.upstream.seen();
    let request = seen
        .iter()
        .find(|seen| seen.headers["gatehouse-decision-id"] == decision)
        .unwrap();
    let mut values = request.headers.get_all(name).iter();
    let value = values
        .next()
        .map(|value| value.to_str().unwrap().to_owned());
    assert!(values.next().is_none(), "two `{name}` headers");
    value
}

#[tokio::test]
async fn the_tool_gets_a_child_of_the_agents_trace_and_the_event_records_it() {
    let harness = Harness::start().await;
    let token = harness.token().await;
    let traceparent = format!("00-{AGENT_TRACE}-{AGENT_SPAN}-01");
    let reply = call_with(
        &harness,
        &token,
        &[
            ("traceparent", traceparent.as_str()),
            ("tracestate", "congo=t61rcWkgMzE"),
        ],
    )
    .await;
    let decision = decision_id(&reply);
    let child = upstream_header(&harness, &decision, "traceparent").unwrap();
    assert_eq!(
        child,
        format!("00-{AGENT_TRACE}-{}-01", gateway_span(&decision))
    );
    assert_ne!(
        child, traceparent,
        "the agent's own header is not forwarded"
    );
    assert_eq!(
        upstream_header(&harness, &decision, "tracestate").as_deref(),
        Some("congo=t61rcWkgMzE")
    );
    let event = harness.event(&decision).await;
    assert_eq!(event.trace_id.as_deref(), Some(AGENT_TRACE));
    assert_eq!(event.parent_span_id.as_deref(), Some(AGENT_SPAN));
}

#[tokio::test]
async fn a_malformed_traceparent_is_not_forwarded_and_a_fresh_trace_starts() {
    let harness = Harness::start().await;
    let token = harness.token().await;
    for bad in [
        format!("00-{}-{AGENT_SPAN}-01", AGENT_TRACE.to_uppercase()),
        format!("00-{AGENT_TRACE}-0000000000000000-01"),
        format!("01-{AGENT_TRACE}-{AGENT_SPAN}-01"),
        "not a traceparent".to_owned(),
    ] {
        let reply = call_with(
            &harness,
            &token,
            &[("traceparent", bad.as_str()), ("tracestate", "congo=1")],
        )
        .await;
        let decision = decision_id(&reply);
        let id = gatehouse_core::ids::DecisionId::parse(&decision).unwrap();
        let child = upstream_header(&harness, &decision, "traceparent").unwrap();
        assert_eq!(
            child,
            format!("00-{:032x}-{}-01", id.as_u128(), gateway_span(&decision)),
            "{bad}"
        );
        assert_eq!(upstream_header(&harness, &decision, "tracestate"), None);
        let event = harness.event(&decision).await;
        assert_eq!(event.trace_id, None);
        assert_eq!(event.parent_span_id, None);
    }
}

#[tokio::test]
async fn a_call_without_a_traceparent_starts_a_trace_the_tool_sees() {
    let harness = Harness::start().await;
    let token = harness.token().await;
    let reply = call_with(&harness, &token, &[("tracestate", "congo=1")]).await;
    let decision = decision_id(&reply);
    let child = upstream_header(&harness, &decision, "traceparent").unwrap();
    assert!(
        child.starts_with("00-") && child.ends_with(&format!("-{}-01", gateway_span(&decision)))
    );
    assert_eq!(upstream_header(&harness, &decision, "tracestate"), None);
}
