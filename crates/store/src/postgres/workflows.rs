//! Workflows: the whole workflow as a JSON document, beside the columns listings filter
//! and sort on. Counters above `i64::MAX` are stored as `i64::MAX`, as in every backend.

use gatehouse_core::model::WorkflowId;
use gatehouse_core::workflow::{Budget, Status, Usage, Workflow};
use postgres::Client;
use postgres::types::ToSql;

use super::listen::NOTIFY_WORKFLOW;
use super::{Failure, serde_name};
use crate::workflow::WorkflowFilter;

/// Writes the whole workflow, unless the stored one has ended: ending is final, and
/// another replica's write-behind of its older copy (still active in its memory) must
/// not bring an ended workflow back.
const UPSERT: &str = "INSERT INTO workflows (id, agent, status, created_at, doc) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET agent = excluded.agent, \
     status = excluded.status, created_at = excluded.created_at, doc = excluded.doc \
     WHERE workflows.status <> 'ended'";

/// Inserts, or leaves the stored row; the stored document comes back either way, so two
/// replicas creating one workflow at once agree on it.
const CREATE: &str = "INSERT INTO workflows (id, agent, status, created_at, doc) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET id = workflows.id \
     RETURNING doc";

const BY_ID: &str = "SELECT doc FROM workflows WHERE id = $1";

/// Writes the workflow; an ended one is announced to every replica in the same
/// transaction, so their copies in memory stop serving it.
pub(super) fn put(client: &mut Client, workflow: &Workflow) -> Result<(), Failure> {
    let row = Encoded::new(workflow)?;
    if workflow.status != Status::Ended {
        client.execute(UPSERT, &row.params())?;
        return Ok(());
    }
    let mut tx = client.transaction()?;
    tx.execute(UPSERT, &row.params())?;
    tx.execute(NOTIFY_WORKFLOW, &[&row.id])?;
    tx.commit()?;
    Ok(())
}

pub(super) fn create(client: &mut Client, workflow: &Workflow) -> Result<Workflow, Failure> {
    let row = Encoded::new(workflow)?;
    let stored = client.query_one(CREATE, &row.params())?;
    decode(&stored.try_get::<_, String>(0)?)
}

pub(super) fn one(client: &mut Client, id: &WorkflowId) -> Result<Option<Workflow>, Failure> {
    client
        .query_opt(BY_ID, &[&id.as_str()])?
        .map(|row| decode(&row.try_get::<_, String>(0)?))
        .transpose()
}

pub(super) fn select(
    client: &mut Client,
    filter: &WorkflowFilter,
) -> Result<Vec<Workflow>, Failure> {
    let status = filter.status.as_ref().map(serde_name).transpose()?;
    let mut sql = String::from("SELECT doc FROM workflows WHERE true");
    let mut params: Vec<&(dyn ToSql + Sync)> = Vec::new();
    if let Some(agent) = &filter.agent {
        params.push(agent);
        sql.push_str(&format!(" AND agent = ${}", params.len()));
    }
    if let Some(status) = &status {
        params.push(status);
        sql.push_str(&format!(" AND status = ${}", params.len()));
    }
    let limit = i64::from(filter.effective_limit());
    params.push(&limit);
    sql.push_str(&format!(
        " ORDER BY created_at DESC, id DESC LIMIT ${}",
        params.len()
    ));
    client
        .query(&sql, &params)?
        .iter()
        .map(|row| decode(&row.try_get::<_, String>(0)?))
        .collect()
}

/// One workflow's column values.
struct Encoded<'w> {
    workflow: &'w Workflow,
    id: &'w str,
    agent: &'w str,
    status: String,
    doc: String,
}

impl<'w> Encoded<'w> {
    fn new(workflow: &'w Workflow) -> Result<Self, Failure> {
        let stored = Workflow {
            budget: clamped_budget(workflow.budget),
            usage: clamped_usage(workflow.usage),
            ..workflow.clone()
        };
        Ok(Self {
            workflow,
            id: workflow.id.as_str(),
            agent: workflow.agent.as_str(),
            status: serde_name(&workflow.status)?,
            doc: serde_json::to_string(&stored).map_err(Failure::invalid)?,
        })
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 5] {
        [
            &self.id,
            &self.agent,
            &self.status,
            &self.workflow.created_at,
            &self.doc,
        ]
    }
}

/// The largest counter a backend keeps (`i64::MAX`, which SQL can compare).
const CAP: u64 = i64::MAX as u64;

fn clamped_budget(budget: Budget) -> Budget {
    Budget {
        calls: budget.calls.min(CAP),
        writes: budget.writes.min(CAP),
        bytes: budget.bytes.min(CAP),
    }
}

fn clamped_usage(usage: Usage) -> Usage {
    Usage {
        calls: usage.calls.min(CAP),
        writes: usage.writes.min(CAP),
        bytes: usage.bytes.min(CAP),
    }
}

fn decode(doc: &str) -> Result<Workflow, Failure> {
    serde_json::from_str(doc)
        .map_err(|error| Failure::invalid(format!("a stored workflow does not read back: {error}")))
}
