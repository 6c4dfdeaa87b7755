//! What one batched append costs the SQLite store, for callgrind and strace rather than
//! the clock: writes COUNT events (default 20,000) in batches of BATCH (default 3, what a
//! gateway's writer gathers at one connection; a busy one gathers hundreds) into a file
//! in a temporary directory, each event shaped like a proxied MCP call's.
//!
//!     cargo build --release -p gatehouse-store --example append_cost
//!     valgrind --tool=callgrind --toggle-collect='*append_lines*' \
//!         target/release/examples/append_cost 20000 3
//!     strace -c -f target/release/examples/append_cost 20000 3

use std::error::Error;

use gatehouse_core::clock::UnixTime;
use gatehouse_core::event::{Event, EventKind, Outcome};
use gatehouse_core::ids::{DecisionId, IdGenerator};
use gatehouse_core::model::Tier;
use gatehouse_store::{SqliteStore, Store};

/// 2026-05-28, and an event every millisecond from then.
const BASE_MS: i64 = 1_780_000_000_000;

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let count: u64 = args.next().map_or(Ok(20_000), |count| count.parse())?;
    let batch: usize = args.next().map_or(Ok(3), |batch| batch.parse())?;
    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open(&dir.path().join("gatehouse.db"))?;
    let generator = IdGenerator::default();
    let mut events = Vec::with_capacity(batch);
    for n in 0..count {
        let time_ms = BASE_MS + n as i64;
        let id = generator.next(UnixTime::from_nanos(time_ms * 1_000_000));
        events.push(event(n, id, time_ms));
        if events.len() == batch || n + 1 == count {
            store.append_events(&events)?;
            events.clear();
        }
    }
    Ok(())
}

/// One agent and workflow, as in the benchmark, with a second tool now and then.
fn event(n: u64, id: DecisionId, time_ms: i64) -> Event {
    Event {
        agent: Some("spiffe://acme/agent/triage-bot".into()),
        workflow: Some("wf-bench".into()),
        task_class: Some("triage".into()),
        tool: Some(
            if n.is_multiple_of(10) {
                "search"
            } else {
                "get_ticket"
            }
            .into(),
        ),
        segment: Some("data".into()),
        intent: Some("ticket.read".into()),
        outcome: Outcome::Allow,
        policies: vec!["allow-triage".into()],
        tier: Some(Tier::Low),
        status: 200,
        bytes_in: 210,
        bytes_out: 1_400,
        latency_us: 120,
        upstream_us: Some(80),
        method: "POST".to_owned(),
        path: "/mcp/helpdesk".to_owned(),
        ..Event::blank(id, time_ms, EventKind::Tool)
    }
}
