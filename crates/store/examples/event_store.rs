//! What the event log costs to write and to query at size: appends N events (default one
//! million) in batches of 250, as a busy gateway's writer does, into a SQLite file in a
//! temporary directory, then times the queries operators run. Not a test: numbers for
//! docs/benchmarks.md.
//!
//!     cargo run --release -p gatehouse-store --example event_store -- 1000000

#![allow(clippy::print_stdout, reason = "a benchmark prints its figures")]

use std::error::Error;
use std::time::{Duration, Instant};

use gatehouse_core::clock::UnixTime;
use gatehouse_core::event::{Event, EventFilter, EventKind, Outcome};
use gatehouse_core::ids::{DecisionId, IdGenerator};
use gatehouse_core::model::Tier;
use gatehouse_store::{SqliteStore, Store};

/// 2026-05-28, and 25 events per millisecond from then: 25,000 a second.
const BASE_MS: i64 = 1_780_000_000_000;
const PER_MS: u64 = 25;
const BATCH: usize = 250;

fn main() -> Result<(), Box<dyn Error>> {
    let count: u64 = match std::env::args().nth(1) {
        Some(count) => count.parse()?,
        None => 1_000_000,
    };
    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open(&dir.path().join("gatehouse.db"))?;
    let (ids, took) = write(&store, count)?;
    let bytes: u64 = std::fs::read_dir(dir.path())?
        .map(|entry| Ok(entry?.metadata()?.len()))
        .sum::<Result<u64, std::io::Error>>()?;
    println!(
        "wrote {count} events in batches of {BATCH}: {:.1} µs per event, {:.0} MB on disk",
        micros(took) / count as f64,
        bytes as f64 / 1e6
    );
    let (Some(&newest), Some(&middle)) = (
        ids.get(ids.len().saturating_sub(200)),
        ids.get(ids.len() / 2),
    ) else {
        return Ok(());
    };
    let end_ms = BASE_MS + (count / PER_MS) as i64;
    let queries = [
        ("newest 100", EventFilter::default()),
        (
            "agent (a third of events)",
            EventFilter {
                agent: Some("bot-1".into()),
                ..EventFilter::default()
            },
        ),
        (
            "agent (1 in 100,000)",
            EventFilter {
                agent: Some("rare-bot".into()),
                ..EventFilter::default()
            },
        ),
        (
            "workflow (1 in 50)",
            EventFilter {
                workflow: Some("wf-7".into()),
                ..EventFilter::default()
            },
        ),
        (
            "outcome error (1 in 1,000)",
            EventFilter {
                outcome: Some(Outcome::Error),
                ..EventFilter::default()
            },
        ),
        (
            "tool and outcome never together",
            EventFilter {
                tool: Some("tickets".into()),
                outcome: Some(Outcome::Error),
                ..EventFilter::default()
            },
        ),
        (
            "agent never seen",
            EventFilter {
                agent: Some("nobody".into()),
                ..EventFilter::default()
            },
        ),
        (
            "the last second",
            EventFilter {
                since_ms: Some(end_ms - 1000),
                ..EventFilter::default()
            },
        ),
        (
            "before the first 1 % of time",
            EventFilter {
                until_ms: Some(BASE_MS + (count / PER_MS / 100) as i64),
                ..EventFilter::default()
            },
        ),
        (
            "after a cursor 200 from the end",
            EventFilter {
                after: Some(newest),
                ..EventFilter::default()
            },
        ),
        (
            "after a cursor half way",
            EventFilter {
                after: Some(middle),
                ..EventFilter::default()
            },
        ),
        (
            "after a cursor half way, rare agent",
            EventFilter {
                after: Some(middle),
                agent: Some("rare-bot".into()),
                ..EventFilter::default()
            },
        ),
        (
            "newest 1000",
            EventFilter {
                limit: Some(1000),
                ..EventFilter::default()
            },
        ),
    ];
    println!("{:40} {:>7} {:>10}", "query", "events", "ms");
    for (name, filter) in queries {
        let (found, each) = time(|| store.query_events(&filter).map(|events| events.len()))?;
        println!("{name:40} {found:>7} {:>10.3}", micros(each) / 1000.0);
    }
    let step = (ids.len() / 1000).max(1);
    let (_, each) = time(|| {
        ids.iter()
            .step_by(step)
            .try_for_each(|id| store.event(*id).map(|_| ()))
    })?;
    let lookups = ids.len().div_ceil(step);
    println!(
        "{:40} {lookups:>7} {:>10.3}",
        "one event by id",
        micros(each) / 1000.0 / lookups as f64
    );
    Ok(())
}

/// Appends `count` events: three agents and a rare one, 50 workflows, two tools, four
/// intents, one error in a thousand.
fn write(store: &SqliteStore, count: u64) -> Result<(Vec<DecisionId>, Duration), Box<dyn Error>> {
    let generator = IdGenerator::default();
    let mut ids = Vec::new();
    let mut batch = Vec::with_capacity(BATCH);
    let started = Instant::now();
    for n in 0..count {
        let time_ms = BASE_MS + (n / PER_MS) as i64;
        let id = generator.next(UnixTime::from_nanos(time_ms * 1_000_000));
        ids.push(id);
        batch.push(event(n, id, time_ms));
        if batch.len() == BATCH || n + 1 == count {
            store.append_events(&batch)?;
            batch.clear();
        }
    }
    Ok((ids, started.elapsed()))
}

fn event(n: u64, id: DecisionId, time_ms: i64) -> Event {
    let agent = if n % 100_000 == 7 {
        "rare-bot".to_owned()
    } else {
        format!("bot-{}", n % 3)
    };
    Event {
        agent: Some(agent.into()),
        workflow: Some(format!("wf-{}", n % 50).into()),
        task_class: Some("triage".into()),
        tool: Some(
            if n.is_multiple_of(2) {
                "tickets"
            } else {
                "warehouse"
            }
            .into(),
        ),
        segment: Some("data".into()),
        intent: Some(format!("ticket.op{}", n % 4).into()),
        outcome: if n % 1000 == 3 {
            Outcome::Error
        } else {
            Outcome::Allow
        },
        policies: vec!["allow-triage".into()],
        tier: Some(Tier::Low),
        status: 200,
        latency_us: 120,
        upstream_us: Some(80),
        method: "GET".to_owned(),
        path: format!("/tools/tickets/tickets/{n}"),
        ..Event::blank(id, time_ms, EventKind::Tool)
    }
}

/// Runs `query` for at least 300 ms (and three times) after one warm-up; its last answer
/// and the mean time of one run.
fn time<T, E>(mut query: impl FnMut() -> Result<T, E>) -> Result<(T, Duration), E> {
    query()?;
    let started = Instant::now();
    let mut runs = 0;
    loop {
        let answer = query()?;
        runs += 1;
        if runs >= 3 && started.elapsed() >= Duration::from_millis(300) {
            return Ok((answer, started.elapsed() / runs));
        }
    }
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}
