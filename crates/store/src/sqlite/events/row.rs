//! One event as one row: column values in and out, in the column order of the
//! statements in `events.rs`.

use gatehouse_core::event::{Event, Outcome};
use rusqlite::{Row, ToSql};

use crate::sqlite::column::{clamp, decision_id, invalid, string_list, string_list_json};

/// The values of one event that are not stored as they are.
#[derive(Debug)]
pub(super) struct Encoded<'e> {
    event: &'e Event,
    id: String,
    outcome: &'static str,
    policies: String,
    bytes_in: i64,
    bytes_out: i64,
    latency_us: i64,
    upstream_us: Option<i64>,
}

impl<'e> Encoded<'e> {
    pub(super) fn new(event: &'e Event) -> Self {
        Self {
            event,
            id: event.id.to_string(),
            outcome: event.outcome.as_str(),
            policies: string_list_json(&event.policies),
            bytes_in: clamp(event.bytes_in),
            bytes_out: clamp(event.bytes_out),
            latency_us: clamp(event.latency_us),
            upstream_us: event.upstream_us.map(clamp),
        }
    }

    /// The parameters of `INSERT`, in its column order.
    pub(super) fn params(&self) -> [&dyn ToSql; super::COLUMNS] {
        let event = self.event;
        [
            &self.id,
            &event.time_ms,
            &event.kind,
            &event.agent,
            &event.workflow,
            &event.task_class,
            &event.tool,
            &event.segment,
            &event.method,
            &event.path,
            &event.intent,
            &self.outcome,
            &event.refusal,
            &event.reason,
            &self.policies,
            &event.tier,
            &event.data_class,
            &event.status,
            &self.bytes_in,
            &self.bytes_out,
            &self.latency_us,
            &self.upstream_us,
            &event.actor,
        ]
    }
}

/// Reads one row of a `SELECT` in the column order of `events.rs`.
pub(super) fn decode(row: &Row<'_>) -> rusqlite::Result<Event> {
    Ok(Event {
        id: decision_id(row, 0)?,
        time_ms: row.get(1)?,
        kind: row.get(2)?,
        agent: row.get(3)?,
        workflow: row.get(4)?,
        task_class: row.get(5)?,
        tool: row.get(6)?,
        segment: row.get(7)?,
        method: row.get(8)?,
        path: row.get(9)?,
        intent: row.get(10)?,
        outcome: outcome(row, 11)?,
        refusal: row.get(12)?,
        reason: row.get(13)?,
        policies: string_list(row, 14)?,
        tier: row.get(15)?,
        data_class: row.get(16)?,
        status: row.get(17)?,
        bytes_in: row.get(18)?,
        bytes_out: row.get(19)?,
        latency_us: row.get(20)?,
        upstream_us: row.get(21)?,
        actor: row.get(22)?,
    })
}

fn outcome(row: &Row<'_>, index: usize) -> rusqlite::Result<Outcome> {
    let text: String = row.get(index)?;
    Outcome::parse(&text).ok_or_else(|| invalid(index, format!("unknown outcome `{text}`")))
}
