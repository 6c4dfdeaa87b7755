//! Baseline hour counts in PostgreSQL: one row per agent, intent and Unix hour; every
//! replica's flush adds to the row, in one transaction per flush.

use gatehouse_core::baseline::{HourCount, Window};
use postgres::{Client, Row};

use super::Failure;

const ADD: &str = "INSERT INTO baseline_hours (agent, intent, hour, calls, bytes) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (agent, intent, hour) DO UPDATE SET \
     calls = LEAST(baseline_hours.calls::numeric + excluded.calls, 9223372036854775807)::bigint, \
     bytes = LEAST(baseline_hours.bytes::numeric + excluded.bytes, 9223372036854775807)::bigint";

const COLUMNS: &str = "SELECT agent, intent, hour, calls, bytes FROM baseline_hours";

pub(super) fn add(client: &mut Client, counts: &[HourCount]) -> Result<(), Failure> {
    let mut tx = client.transaction()?;
    let add = tx.prepare(ADD)?;
    for count in counts {
        tx.execute(
            &add,
            &[
                &count.agent,
                &count.intent,
                &count.hour,
                &clamp(count.calls),
                &clamp(count.bytes),
            ],
        )?;
    }
    tx.commit()?;
    Ok(())
}

pub(super) fn list(
    client: &mut Client,
    agent: Option<&str>,
    window: Window,
) -> Result<Vec<HourCount>, Failure> {
    let order = "ORDER BY agent, intent, hour";
    let rows = match agent {
        Some(agent) => client.query(
            &format!("{COLUMNS} WHERE agent = $1 AND hour >= $2 AND hour < $3 {order}"),
            &[&agent, &window.from_hour, &window.to_hour],
        )?,
        None => client.query(
            &format!("{COLUMNS} WHERE hour >= $1 AND hour < $2 {order}"),
            &[&window.from_hour, &window.to_hour],
        )?,
    };
    rows.iter().map(decode).collect()
}

fn clamp(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn decode(row: &Row) -> Result<HourCount, Failure> {
    let calls: i64 = row.try_get(3)?;
    let bytes: i64 = row.try_get(4)?;
    Ok(HourCount {
        agent: row.try_get(0)?,
        intent: row.try_get(1)?,
        hour: row.try_get(2)?,
        calls: calls.unsigned_abs(),
        bytes: bytes.unsigned_abs(),
    })
}
