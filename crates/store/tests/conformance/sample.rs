//! Events made up for tests: deterministic, with every field varied so each filter has
//! something to separate.

use std::collections::BTreeMap;

use gatehouse_core::event::{DecideInput, Event, EventKind, Outcome};
use gatehouse_core::ids::DecisionId;
use gatehouse_core::model::{AttrValue, Tier};
use gatehouse_core::refusal::RefusalKind;

/// 2023-11-14T22:13:20Z, the time of event number 0.
pub(crate) const BASE_MS: i64 = 1_700_000_000_000;

/// Event number `seq`: ten milliseconds after number `seq - 1`, its id in the same
/// order.
pub(crate) fn event(seq: u64) -> Event {
    let time_ms = BASE_MS + i64::try_from(seq).unwrap() * 10;
    Event {
        id: id_at(time_ms, seq),
        time_ms,
        kind: EventKind::Tool,
        agent: Some(format!("spiffe://acme/agent/bot-{}", seq % 3).into()),
        workflow: Some(format!("wf-{}", seq % 4).into()),
        task_class: Some("triage".into()),
        tool: Some(["tickets", "warehouse"][(seq % 2) as usize].into()),
        segment: Some("data".into()),
        method: "POST".to_owned(),
        path: format!("/tools/tickets/api/{seq}"),
        intent: Some(format!("ticket.op{}", seq % 5).into()),
        outcome: [Outcome::Allow, Outcome::Deny, Outcome::Error][(seq / 2 % 3) as usize],
        refusal: None,
        reason: None,
        policies: vec![format!("policy{}", seq % 7).into()],
        tier: Some(Tier::Low),
        data_class: Some("internal".into()),
        status: 200,
        bytes_in: seq,
        bytes_out: seq * 2,
        latency_us: 1_500,
        upstream_us: Some(1_000),
        actor: Some("alice".into()),
        policy_version: None,
        observed: None,
        decide: None,
        trace_id: None,
        parent_span_id: None,
        mcp_session: None,
        risk: None,
        anomaly: Default::default(),
    }
}

/// Events number `range`, in order.
pub(crate) fn events(range: std::ops::Range<u64>) -> Vec<Event> {
    range.map(event).collect()
}

/// An event with every optional field set to something awkward.
pub(crate) fn full(seq: u64) -> Event {
    Event {
        kind: EventKind::Mcp,
        task_class: Some("remediation".into()),
        segment: Some("control".into()),
        method: "GET".to_owned(),
        path: "/mcp/srv/%2e%2E/ü?x='1';--".to_owned(),
        outcome: Outcome::Deny,
        refusal: Some(RefusalKind::PolicyDenied),
        reason: Some("forbid \"no-raw\" matched\nline two".to_owned()),
        policies: vec!["policy0".into(), "a \"quoted\" id".into()],
        tier: Some(Tier::High),
        data_class: Some("pii".into()),
        status: 403,
        bytes_in: i64::MAX as u64,
        bytes_out: 0,
        latency_us: 7,
        upstream_us: None,
        actor: None,
        policy_version: None,
        observed: None,
        decide: Some(DecideInput {
            now: 1_700_000_000,
            tier: Tier::Medium,
            write: true,
            allowed: false,
            args: Some(BTreeMap::from([
                ("id".to_owned(), AttrValue::Long(-7)),
                ("name".to_owned(), AttrValue::String("ü \"x\"\n".to_owned())),
                (
                    "tags".to_owned(),
                    AttrValue::Set(vec![
                        AttrValue::Bool(true),
                        AttrValue::String(String::new()),
                    ]),
                ),
            ])),
        }),
        trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".to_owned()),
        parent_span_id: Some("00f067aa0ba902b7".to_owned()),
        ..event(seq)
    }
}

/// An event with every optional field empty, as for a call refused at authentication.
pub(crate) fn bare(seq: u64) -> Event {
    Event {
        kind: EventKind::Token,
        agent: None,
        workflow: None,
        task_class: None,
        tool: None,
        segment: None,
        intent: None,
        outcome: Outcome::Deny,
        refusal: Some(RefusalKind::Unauthenticated),
        policies: Vec::new(),
        tier: None,
        data_class: None,
        status: 401,
        upstream_us: None,
        actor: None,
        policy_version: None,
        observed: None,
        trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".to_owned()),
        parent_span_id: Some("00f067aa0ba902b7".to_owned()),
        ..event(seq)
    }
}

/// A decision id made the way `IdGenerator` makes them: milliseconds, then 80 bits.
pub(crate) fn id_at(time_ms: i64, low: u64) -> DecisionId {
    let millis = u128::from(u64::try_from(time_ms).unwrap());
    DecisionId::from_u128((millis << 80) | u128::from(low))
}
