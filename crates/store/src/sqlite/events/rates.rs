//! Counting one agent's calls per intent and bucket (`Store::call_counts`) from blocks:
//! only the blocks the agent's key names whose times meet the window are read, only the
//! lines holding the agent's needle are decoded, and only the four fields counted
//! (`time_ms`, `kind`, `agent`, `intent`), borrowed where the text allows.

use std::borrow::Cow;
use std::collections::BTreeMap;

use gatehouse_core::event::{EventFilter, EventKind};
use rusqlite::{Connection, params};
use serde::Deserialize;

use super::block::{Field, LineTest};
use crate::rates::{COUNTED, CallCount, RateQuery};
use crate::sqlite::column::invalid;

/// The agent's blocks, newest first, with their time bounds.
const AGENT_BLOCKS_DOWN: &str = "SELECT b.block, b.min_time_ms, b.max_time_ms, \
     b.reach_time_ms FROM event_keys k JOIN event_blocks b ON b.block = k.block \
     WHERE k.field = ?1 AND k.value = ?2 ORDER BY k.block DESC";
const TEXT_OF: &str = "SELECT lines FROM event_lines WHERE block = ?1";

/// What counting needs of a line.
#[derive(Deserialize)]
struct Counted<'a> {
    time_ms: i64,
    kind: EventKind,
    #[serde(borrow)]
    agent: Option<Cow<'a, str>>,
    #[serde(borrow)]
    intent: Option<Cow<'a, str>>,
}

/// The calls of `query`, per intent and bucket, in that order.
pub(super) fn count(conn: &Connection, query: &RateQuery) -> rusqlite::Result<Vec<CallCount>> {
    let filter = EventFilter {
        agent: Some(query.agent.as_str().into()),
        ..EventFilter::default()
    };
    let test = LineTest::new(&filter);
    let mut counts: BTreeMap<(String, u32), u64> = BTreeMap::new();
    let mut statement = conn.prepare_cached(AGENT_BLOCKS_DOWN)?;
    let mut blocks = statement.query(params![Field::Agent.as_str(), query.agent])?;
    while let Some(row) = blocks.next()? {
        let (block, min_time_ms, max_time_ms, reach_time_ms): (i64, i64, i64, i64) =
            (row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?);
        // `reach_time_ms` never falls going up the blocks: none below can reach the window.
        if reach_time_ms < query.since_ms {
            break;
        }
        if max_time_ms < query.since_ms || min_time_ms >= query.until_ms {
            continue;
        }
        let text: String = conn
            .prepare_cached(TEXT_OF)?
            .query_row([block], |row| row.get(0))?;
        for line in test.lines_in(&text) {
            let counted: Counted<'_> = serde_json::from_str(line).map_err(|error| {
                invalid(0, format!("a stored event does not read back: {error}"))
            })?;
            if let Some((intent, bucket)) = counted_call(&counted, query) {
                *counts.entry((intent.to_owned(), bucket)).or_default() += 1;
            }
        }
    }
    Ok(counts
        .into_iter()
        .map(|((intent, bucket), calls)| CallCount {
            intent,
            bucket,
            calls,
        })
        .collect())
}

/// The intent and bucket of a line that is one of the agent's calls in the window.
fn counted_call<'c>(counted: &'c Counted<'_>, query: &RateQuery) -> Option<(&'c str, u32)> {
    if !COUNTED.contains(&counted.kind) || counted.agent.as_deref() != Some(query.agent.as_str()) {
        return None;
    }
    let intent = counted.intent.as_deref()?;
    Some((intent, query.bucket_of(counted.time_ms)?))
}
