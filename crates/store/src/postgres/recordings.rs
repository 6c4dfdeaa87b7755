//! Forensic recordings in PostgreSQL: one row each, keyed by the call's decision id.

use postgres::{Client, Row};

use super::Failure;
use crate::recording::Recording;

const UPSERT: &str = "INSERT INTO recordings (id, time_ms, agent, workflow, tool, request, \
     response) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO UPDATE SET \
     time_ms = excluded.time_ms, agent = excluded.agent, workflow = excluded.workflow, \
     tool = excluded.tool, request = excluded.request, response = excluded.response";
const COLUMNS: &str =
    "SELECT id, time_ms, agent, workflow, tool, request, response FROM recordings";

pub(super) fn put(client: &mut Client, recording: &Recording) -> Result<(), Failure> {
    client.execute(
        UPSERT,
        &[
            &recording.id,
            &recording.time_ms,
            &recording.agent,
            &recording.workflow,
            &recording.tool,
            &recording.request,
            &recording.response,
        ],
    )?;
    Ok(())
}

pub(super) fn one(client: &mut Client, id: &str) -> Result<Option<Recording>, Failure> {
    let rows = client.query(&format!("{COLUMNS} WHERE id = $1"), &[&id])?;
    rows.first().map(decode).transpose()
}

pub(super) fn list(
    client: &mut Client,
    agent: Option<&str>,
    limit: u32,
) -> Result<Vec<Recording>, Failure> {
    let limit = i64::from(limit);
    let order = "ORDER BY time_ms DESC, id DESC LIMIT";
    let rows = match agent {
        Some(agent) => client.query(
            &format!("{COLUMNS} WHERE agent = $1 {order} $2"),
            &[&agent, &limit],
        )?,
        None => client.query(&format!("{COLUMNS} {order} $1"), &[&limit])?,
    };
    rows.iter().map(decode).collect()
}

fn decode(row: &Row) -> Result<Recording, Failure> {
    Ok(Recording {
        id: row.try_get(0)?,
        time_ms: row.try_get(1)?,
        agent: row.try_get(2)?,
        workflow: row.try_get(3)?,
        tool: row.try_get(4)?,
        request: row.try_get(5)?,
        response: row.try_get(6)?,
    })
}
