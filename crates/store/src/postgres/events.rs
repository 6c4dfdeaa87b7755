//! The event log: one row per event, its JSON line beside the columns queries filter on.
//! A batch is one statement over arrays (one round trip however large the batch), and
//! ids sort as text in `C` collation, which is their time order.

use std::collections::HashSet;

use gatehouse_core::event::{Event, EventFilter, EventLine};
use gatehouse_core::ids::DecisionId;
use postgres::Client;
use postgres::error::SqlState;
use postgres::types::ToSql;

use super::{Failure, chain};
use crate::rates::{COUNTED, CallCount, RateQuery};
use crate::store::effective_limit;

const INSERT: &str = "INSERT INTO events (id, time_ms, agent, workflow, tool, intent, \
     outcome, line, link, block, position) SELECT u.id, u.t, u.a, u.w, u.tl, u.i, u.o, u.l, \
     u.k, $10::bigint, (u.ord - 1)::int FROM unnest($1::text[], $2::bigint[], $3::text[], \
     $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::bytea[]) \
     WITH ORDINALITY AS u(id, t, a, w, tl, i, o, l, k, ord)";

/// The first of the batch's ids already stored, after a unique violation.
const TAKEN: &str = "SELECT id FROM events WHERE id = ANY($1) ORDER BY id LIMIT 1";

const BY_ID: &str = "SELECT line FROM events WHERE id = $1";

/// Writes the whole batch as the next block of the chain, or nothing of it and the
/// conflicting id. The chain's head is locked for the transaction, so appends from
/// several replicas take turns.
pub(super) fn insert(client: &mut Client, lines: &[EventLine<'_>]) -> Result<(), Failure> {
    let mut columns = Columns::new(lines)?;
    let written = {
        let mut tx = client.transaction()?;
        let (block, previous) = chain::lock_head(&mut tx)?;
        let last = columns.link(previous);
        let mut params = columns.params();
        params.push(&block);
        match tx.execute(INSERT, &params) {
            Ok(_) => {
                chain::move_head(&mut tx, block, &last)?;
                tx.commit()?;
                Ok(())
            }
            Err(error) => Err(error),
        }
    };
    match written {
        Ok(()) => Ok(()),
        Err(error) if error.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
            Err(conflict(client, &columns.ids).unwrap_or(Failure::Database(error)))
        }
        Err(error) => Err(error.into()),
    }
}

pub(super) fn one(client: &mut Client, id: DecisionId) -> Result<Option<Event>, Failure> {
    client
        .query_opt(BY_ID, &[&id.to_string()])?
        .map(|row| decode(&row.try_get::<_, String>(0)?))
        .transpose()
}

/// The newest matching events; with `after`, the oldest ones after it (newest first).
pub(super) fn select(client: &mut Client, filter: &EventFilter) -> Result<Vec<Event>, Failure> {
    let outcome = filter.outcome.map(|outcome| outcome.as_str());
    let after = filter.after.map(|id| id.to_string());
    let limit = i64::from(effective_limit(filter));
    let mut sql = String::from("SELECT line FROM events WHERE true");
    let mut params: Vec<&(dyn ToSql + Sync)> = Vec::new();
    let equal = [
        ("agent", filter.agent.as_deref()),
        ("workflow", filter.workflow.as_deref()),
        ("tool", filter.tool.as_deref()),
        ("intent", filter.intent.as_deref()),
        ("outcome", outcome),
    ];
    for (column, value) in &equal {
        if let Some(value) = value {
            params.push(value);
            sql.push_str(&format!(" AND {column} = ${}", params.len()));
        }
    }
    let bounds = [
        (
            "time_ms >=",
            filter.since_ms.as_ref().map(|v| v as &(dyn ToSql + Sync)),
        ),
        (
            "time_ms <",
            filter.until_ms.as_ref().map(|v| v as &(dyn ToSql + Sync)),
        ),
        ("id >", after.as_ref().map(|v| v as &(dyn ToSql + Sync))),
    ];
    for (test, value) in bounds {
        if let Some(value) = value {
            params.push(value);
            sql.push_str(&format!(" AND {test} ${}", params.len()));
        }
    }
    params.push(&limit);
    let order = if after.is_some() { "ASC" } else { "DESC" };
    sql.push_str(&format!(" ORDER BY id {order} LIMIT ${}", params.len()));
    let mut events = client
        .query(&sql, &params)?
        .iter()
        .map(|row| decode(&row.try_get::<_, String>(0)?))
        .collect::<Result<Vec<_>, _>>()?;
    if after.is_some() {
        events.reverse();
    }
    Ok(events)
}

/// A batch as one array per column, in id order (a block's lines are, as in every
/// backend).
struct Columns {
    ids: Vec<String>,
    times: Vec<i64>,
    agents: Vec<Option<String>>,
    workflows: Vec<Option<String>>,
    tools: Vec<Option<String>>,
    intents: Vec<Option<String>>,
    outcomes: Vec<&'static str>,
    lines: Vec<String>,
    links: Vec<Vec<u8>>,
}

impl Columns {
    /// Refuses a batch naming one id twice before the database sees it.
    fn new(lines: &[EventLine<'_>]) -> Result<Self, Failure> {
        let mut seen = HashSet::with_capacity(lines.len());
        let mut ordered: Vec<&EventLine<'_>> = lines.iter().collect();
        ordered.sort_by_key(|line| line.event.id);
        let mut columns = Self {
            ids: Vec::with_capacity(lines.len()),
            times: Vec::with_capacity(lines.len()),
            agents: Vec::with_capacity(lines.len()),
            workflows: Vec::with_capacity(lines.len()),
            tools: Vec::with_capacity(lines.len()),
            intents: Vec::with_capacity(lines.len()),
            outcomes: Vec::with_capacity(lines.len()),
            lines: Vec::with_capacity(lines.len()),
            links: Vec::new(),
        };
        for line in ordered {
            let event = line.event;
            if !seen.insert(event.id) {
                return Err(Failure::Conflict(event.id));
            }
            columns.ids.push(event.id.to_string());
            columns.times.push(event.time_ms);
            columns
                .agents
                .push(event.agent.as_deref().map(str::to_owned));
            columns
                .workflows
                .push(event.workflow.as_deref().map(str::to_owned));
            columns.tools.push(event.tool.as_deref().map(str::to_owned));
            columns
                .intents
                .push(event.intent.as_deref().map(str::to_owned));
            columns.outcomes.push(event.outcome.as_str());
            columns.lines.push(line.json.clone());
        }
        Ok(columns)
    }

    /// Links every line after `previous`; returns the last link.
    fn link(&mut self, previous: chain::Link) -> chain::Link {
        let mut link = previous;
        self.links = self
            .lines
            .iter()
            .map(|line| {
                link = chain::next(&link, line);
                link.to_vec()
            })
            .collect();
        link
    }

    fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        vec![
            &self.ids,
            &self.times,
            &self.agents,
            &self.workflows,
            &self.tools,
            &self.intents,
            &self.outcomes,
            &self.lines,
            &self.links,
        ]
    }
}

/// The stored id that made the batch conflict, if it can be named.
fn conflict(client: &mut Client, ids: &[String]) -> Option<Failure> {
    let row = client.query_opt(TAKEN, &[&ids]).ok()??;
    let text: String = row.try_get(0).ok()?;
    DecisionId::parse(&text).map(Failure::Conflict)
}

fn decode(line: &str) -> Result<Event, Failure> {
    serde_json::from_str(line)
        .map_err(|error| Failure::invalid(format!("a stored event does not read back: {error}")))
}

/// One agent's calls per intent and bucket, counted by the database. The kind is not a
/// column, so it is read from the line; the agent and time columns narrow first.
const CALL_COUNTS: &str = "SELECT intent, (time_ms - $2) / $4 AS bucket, count(*) FROM events \
     WHERE agent = $1 AND time_ms >= $2 AND time_ms < $3 AND intent IS NOT NULL \
     AND (line::json ->> 'kind') = ANY($5) GROUP BY intent, bucket ORDER BY intent, bucket";

pub(super) fn call_counts(
    client: &mut Client,
    query: &RateQuery,
) -> Result<Vec<CallCount>, Failure> {
    let kinds: Vec<&str> = COUNTED.iter().map(|kind| kind.as_str()).collect();
    let rows = client.query(
        CALL_COUNTS,
        &[
            &query.agent,
            &query.since_ms,
            &query.until_ms,
            &query.bucket_ms,
            &kinds,
        ],
    )?;
    rows.iter()
        .map(|row| {
            let bucket: i64 = row.try_get(1)?;
            let calls: i64 = row.try_get(2)?;
            Ok(CallCount {
                intent: row.try_get(0)?,
                bucket: u32::try_from(bucket)
                    .map_err(|_| Failure::invalid(format!("bucket {bucket} out of range")))?,
                calls: u64::try_from(calls)
                    .map_err(|_| Failure::invalid(format!("count {calls} out of range")))?,
            })
        })
        .collect()
}
