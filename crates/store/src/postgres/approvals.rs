//! Confirmations and approvals: the approval as a JSON document without its bodies,
//! which are kept as bytes beside it (a megabyte body stays a megabyte), and the columns
//! listings filter and sort on. Every write is announced (`NOTIFY`), so an agent's call
//! held on one replica hears of a decision made on another.

use gatehouse_core::approval::{Approval, ApprovalStatus, Checkpoint};
use gatehouse_core::ids::ApprovalId;
use postgres::types::ToSql;
use postgres::{Client, GenericClient, Row};

use super::Failure;
use super::listen::NOTIFY_APPROVALS;
use crate::approval::ApprovalFilter;

const UPSERT: &str = "INSERT INTO approvals (id, checkpoint, status, agent, workflow, \
     created_at, call_body, response_body, doc) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
     ON CONFLICT (id) DO UPDATE SET checkpoint = excluded.checkpoint, status = \
     excluded.status, agent = excluded.agent, workflow = excluded.workflow, created_at = \
     excluded.created_at, call_body = excluded.call_body, response_body = \
     excluded.response_body, doc = excluded.doc";

const COLUMNS: &str = "SELECT doc, call_body, response_body FROM approvals";

/// Stores an approval and announces it, so a call held on another replica hears of it.
pub(super) fn put(client: &mut Client, approval: &Approval) -> Result<(), Failure> {
    let mut tx = client.transaction()?;
    write(&mut tx, approval)?;
    tx.execute(NOTIFY_APPROVALS, &[])?;
    tx.commit()?;
    Ok(())
}

/// Compare-and-set: the row is locked (`FOR UPDATE`) while it is compared and written,
/// so of two replicas moving one approval at once, the second sees the first's change.
pub(super) fn replace(
    client: &mut Client,
    current: &Approval,
    next: &Approval,
) -> Result<bool, Failure> {
    let mut tx = client.transaction()?;
    let stored = tx
        .query_opt(
            &format!("{COLUMNS} WHERE id = $1 FOR UPDATE"),
            &[&current.id.as_str()],
        )?
        .map(|row| decode(&row))
        .transpose()?;
    if stored.as_ref() != Some(current) {
        return Ok(false);
    }
    write(&mut tx, next)?;
    tx.execute(NOTIFY_APPROVALS, &[])?;
    tx.commit()?;
    Ok(true)
}

fn write(client: &mut impl GenericClient, approval: &Approval) -> Result<(), Failure> {
    let checkpoint = approval.checkpoint.as_str();
    let status = approval.status.as_str();
    let call_body = approval.call.body.as_slice();
    let response_body = approval
        .response
        .as_ref()
        .map(|response| response.body.as_slice());
    let doc = serde_json::to_string(&without_bodies(approval)).map_err(Failure::invalid)?;
    client.execute(
        UPSERT,
        &[
            &approval.id.as_str(),
            &checkpoint,
            &status,
            &approval.agent.as_str(),
            &approval.workflow.as_str(),
            &approval.created_at,
            &call_body,
            &response_body,
            &doc,
        ],
    )?;
    Ok(())
}

pub(super) fn one(client: &mut Client, id: &ApprovalId) -> Result<Option<Approval>, Failure> {
    client
        .query_opt(&format!("{COLUMNS} WHERE id = $1"), &[&id.as_str()])?
        .map(|row| decode(&row))
        .transpose()
}

pub(super) fn select(
    client: &mut Client,
    filter: &ApprovalFilter,
) -> Result<Vec<Approval>, Failure> {
    let status = filter.status.map(ApprovalStatus::as_str);
    let checkpoint = filter.checkpoint.map(Checkpoint::as_str);
    let mut sql = format!("{COLUMNS} WHERE true");
    let mut params: Vec<&(dyn ToSql + Sync)> = Vec::new();
    let narrowing = [
        ("status", status),
        ("workflow", filter.workflow.as_deref()),
        ("agent", filter.agent.as_deref()),
        ("checkpoint", checkpoint),
    ];
    for (column, value) in &narrowing {
        if let Some(value) = value {
            params.push(value);
            sql.push_str(&format!(" AND {column} = ${}", params.len()));
        }
    }
    let limit = i64::from(filter.effective_limit());
    params.push(&limit);
    sql.push_str(&format!(
        " ORDER BY created_at DESC, id DESC LIMIT ${}",
        params.len()
    ));
    client.query(&sql, &params)?.iter().map(decode).collect()
}

/// The approval with empty bodies: the document part of its row.
fn without_bodies(approval: &Approval) -> Approval {
    let mut stored = approval.clone();
    stored.call.body = Vec::new();
    if let Some(response) = &mut stored.response {
        response.body = Vec::new();
    }
    stored
}

fn decode(row: &Row) -> Result<Approval, Failure> {
    let doc: String = row.try_get(0)?;
    let mut approval: Approval = serde_json::from_str(&doc).map_err(|error| {
        Failure::invalid(format!("a stored approval does not read back: {error}"))
    })?;
    approval.call.body = row.try_get(1)?;
    let response_body: Option<Vec<u8>> = row.try_get(2)?;
    if let (Some(response), Some(body)) = (&mut approval.response, response_body) {
        response.body = body;
    }
    Ok(approval)
}
