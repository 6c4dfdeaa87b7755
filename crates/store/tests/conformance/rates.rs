//! Call counts per intent and bucket (`Store::call_counts`): only the agent's tool and
//! MCP calls naming an intent, inside the window (since included, until excluded), in
//! the right bucket, across batches written out of time order.

use gatehouse_core::event::{Event, EventKind};
use gatehouse_store::{CallCount, RateQuery, Store};

use crate::sample::{BASE_MS, event, id_at};

const HOUR: i64 = 3_600_000;
const AGENT: &str = "spiffe://acme/agent/\"quoted\" bot";

/// Call number `seq` of `agent`, `intent`, at `offset_ms` after `BASE_MS`.
fn call(seq: u64, agent: &str, intent: Option<&str>, kind: EventKind, offset_ms: i64) -> Event {
    let time_ms = BASE_MS + offset_ms;
    Event {
        id: id_at(time_ms, seq),
        time_ms,
        kind,
        agent: Some(agent.into()),
        intent: intent.map(Into::into),
        ..event(seq)
    }
}

fn count(intent: &str, bucket: u32, calls: u64) -> CallCount {
    CallCount {
        intent: intent.to_owned(),
        bucket,
        calls,
    }
}

pub(crate) fn calls_are_counted_per_intent_and_bucket_within_the_window(store: &dyn Store) {
    let read = Some("ticket.read");
    let create = Some("ticket.create");
    // The first batch is written after the second, though its calls came earlier.
    let late = vec![
        call(1, AGENT, read, EventKind::Tool, 0),
        call(2, AGENT, read, EventKind::Tool, HOUR - 1),
        call(3, AGENT, create, EventKind::Mcp, HOUR / 2),
    ];
    let early = vec![
        call(4, AGENT, read, EventKind::Tool, HOUR),
        call(5, AGENT, read, EventKind::Tool, 2 * HOUR + 5),
        call(6, AGENT, create, EventKind::Tool, 2 * HOUR + 6),
        // Not counted: other agents, kinds that are not calls, no intent, outside.
        call(7, "spiffe://acme/agent/other", read, EventKind::Tool, HOUR),
        call(8, AGENT, Some("revoke.agent"), EventKind::Control, HOUR),
        call(9, AGENT, None, EventKind::Token, HOUR),
        call(10, AGENT, None, EventKind::Tool, HOUR),
        call(11, AGENT, read, EventKind::Tool, -1),
        call(12, AGENT, read, EventKind::Tool, 3 * HOUR),
    ];
    store.append_events(&early).unwrap();
    store.append_events(&late).unwrap();
    let query = RateQuery::new(AGENT, BASE_MS, BASE_MS + 3 * HOUR, HOUR).unwrap();
    assert_eq!(
        store.call_counts(&query).unwrap(),
        vec![
            count("ticket.create", 0, 1),
            count("ticket.create", 2, 1),
            count("ticket.read", 0, 2),
            count("ticket.read", 1, 1),
            count("ticket.read", 2, 1),
        ]
    );
    // A window that starts mid-bucket counts from its own start.
    let query = RateQuery::new(AGENT, BASE_MS + HOUR / 2, BASE_MS + 2 * HOUR, HOUR).unwrap();
    assert_eq!(
        store.call_counts(&query).unwrap(),
        vec![count("ticket.create", 0, 1), count("ticket.read", 0, 2)]
    );
}

pub(crate) fn an_agent_without_calls_has_no_counts(store: &dyn Store) {
    store
        .append_events(&[call(1, AGENT, Some("ticket.read"), EventKind::Tool, 0)])
        .unwrap();
    let query =
        RateQuery::new("spiffe://acme/agent/nobody", BASE_MS, BASE_MS + HOUR, HOUR).unwrap();
    assert_eq!(store.call_counts(&query).unwrap(), Vec::new());
    let before = RateQuery::new(AGENT, BASE_MS - HOUR, BASE_MS, 60_000).unwrap();
    assert_eq!(store.call_counts(&before).unwrap(), Vec::new());
}
