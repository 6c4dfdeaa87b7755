//! One event as one row: the columns queries filter on, and the event's JSON line, which
//! is the record read back.

use gatehouse_core::event::{Event, EventLine};
use rusqlite::{Row, ToSql};

use crate::sqlite::column::{decision_id, invalid};

/// The values of one event's row that are not stored as the event has them.
#[derive(Debug)]
pub(super) struct Encoded<'l> {
    line: &'l EventLine<'l>,
    id: String,
    outcome: &'static str,
}

impl<'l> Encoded<'l> {
    pub(super) fn new(line: &'l EventLine<'l>) -> Self {
        Self {
            line,
            id: line.event.id.to_string(),
            outcome: line.event.outcome.as_str(),
        }
    }

    /// The parameters of `INSERT`, in its column order.
    pub(super) fn params(&self) -> [&dyn ToSql; super::COLUMNS] {
        let event = self.line.event;
        [
            &self.id,
            &event.time_ms,
            &event.agent,
            &event.workflow,
            &event.tool,
            &event.intent,
            &self.outcome,
            &self.line.json,
        ]
    }
}

/// Reads one row of `SELECT id, line`: the line is the event, and must carry the id of
/// its row.
pub(super) fn decode(row: &Row<'_>) -> rusqlite::Result<Event> {
    let id = decision_id(row, 0)?;
    let line: String = row.get(1)?;
    let event: Event = serde_json::from_str(&line)
        .map_err(|error| invalid(1, format!("event `{id}` does not read back: {error}")))?;
    if event.id != id {
        return Err(invalid(
            1,
            format!("the line of event `{id}` names `{}`", event.id),
        ));
    }
    Ok(event)
}
