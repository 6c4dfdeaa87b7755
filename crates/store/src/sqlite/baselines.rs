//! Baseline hour counts in SQLite: one row per agent, intent and Unix hour; a flush adds
//! to the row.

use gatehouse_core::baseline::{HourCount, Window};
use rusqlite::{Connection, Row};

use super::column::clamp;

const ADD: &str = "INSERT INTO baseline_hours (agent, intent, hour, calls, bytes) \
     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (agent, intent, hour) DO UPDATE SET \
     calls = min(calls + excluded.calls, 9223372036854775807), \
     bytes = min(bytes + excluded.bytes, 9223372036854775807)";

const COLUMNS: &str = "SELECT agent, intent, hour, calls, bytes FROM baseline_hours";

pub(super) fn add(conn: &mut Connection, counts: &[HourCount]) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    {
        let mut add = tx.prepare_cached(ADD)?;
        for count in counts {
            add.execute((
                &count.agent,
                &count.intent,
                count.hour,
                clamp(count.calls),
                clamp(count.bytes),
            ))?;
        }
    }
    tx.commit()
}

pub(super) fn list(
    conn: &Connection,
    agent: Option<&str>,
    window: Window,
) -> rusqlite::Result<Vec<HourCount>> {
    let order = "ORDER BY agent, intent, hour";
    let span = (window.from_hour, window.to_hour);
    match agent {
        Some(agent) => conn
            .prepare_cached(&format!(
                "{COLUMNS} WHERE agent = ?1 AND hour >= ?2 AND hour < ?3 {order}"
            ))?
            .query_map((agent, span.0, span.1), decode)?
            .collect(),
        None => conn
            .prepare_cached(&format!("{COLUMNS} WHERE hour >= ?1 AND hour < ?2 {order}"))?
            .query_map(span, decode)?
            .collect(),
    }
}

fn decode(row: &Row<'_>) -> rusqlite::Result<HourCount> {
    let calls: i64 = row.get(3)?;
    let bytes: i64 = row.get(4)?;
    Ok(HourCount {
        agent: row.get(0)?,
        intent: row.get(1)?,
        hour: row.get(2)?,
        calls: calls.unsigned_abs(),
        bytes: bytes.unsigned_abs(),
    })
}
