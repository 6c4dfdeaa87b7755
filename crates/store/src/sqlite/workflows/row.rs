//! One workflow as one row: column values in and out, in the column order of the
//! statements in `workflows.rs`, and the text stored for status and budget kind.

use gatehouse_core::model::{AgentId, SegmentName, TaskClassName, WorkflowId};
use gatehouse_core::workflow::{Budget, BudgetKind, Status, Usage, Workflow};
use rusqlite::{Row, ToSql};

use crate::sqlite::column::{clamp, invalid};

/// The values of one workflow that are not stored as they are.
#[derive(Debug)]
pub(super) struct Encoded<'w> {
    workflow: &'w Workflow,
    id: &'w str,
    agent: &'w str,
    task_class: &'w str,
    segment: &'w str,
    status: &'static str,
    budget: [i64; 3],
    used: [i64; 3],
    paused_for: Option<&'static str>,
}

impl<'w> Encoded<'w> {
    pub(super) fn new(workflow: &'w Workflow) -> Self {
        let Budget {
            calls,
            writes,
            bytes,
        } = workflow.budget;
        let usage = workflow.usage;
        Self {
            workflow,
            id: workflow.id.as_str(),
            agent: workflow.agent.as_str(),
            task_class: workflow.task_class.as_str(),
            segment: workflow.segment.as_str(),
            status: status_text(workflow.status),
            budget: [clamp(calls), clamp(writes), clamp(bytes)],
            used: [clamp(usage.calls), clamp(usage.writes), clamp(usage.bytes)],
            paused_for: workflow.paused_for.map(budget_kind_text),
        }
    }

    /// The workflow [`decode`] reads from the row these values make when nothing else
    /// counts (no lease, no budget pool): counters clamped as written, the rest as is.
    pub(super) fn stored(&self) -> Workflow {
        let [calls, writes, bytes] = self.budget.map(unclamp);
        let budget = Budget {
            calls,
            writes,
            bytes,
        };
        let [calls, writes, bytes] = self.used.map(unclamp);
        let usage = Usage {
            calls,
            writes,
            bytes,
        };
        Workflow {
            budget,
            usage,
            ..self.workflow.clone()
        }
    }

    /// The parameters of every writing statement, in column order.
    pub(super) fn params(&self) -> [&dyn ToSql; 15] {
        let [budget_calls, budget_writes, budget_bytes] = &self.budget;
        let [used_calls, used_writes, used_bytes] = &self.used;
        [
            &self.id,
            &self.agent,
            &self.task_class,
            &self.segment,
            &self.status,
            budget_calls,
            budget_writes,
            budget_bytes,
            used_calls,
            used_writes,
            used_bytes,
            &self.workflow.created_at,
            &self.workflow.expires_at,
            &self.paused_for,
            &self.workflow.ended_by,
        ]
    }
}

/// Reads one row in the column order of `workflows.rs`.
pub(super) fn decode(row: &Row<'_>) -> rusqlite::Result<Workflow> {
    Ok(Workflow {
        id: WorkflowId::new(row.get::<_, String>(0)?),
        agent: AgentId::new(row.get::<_, String>(1)?),
        task_class: TaskClassName::new(row.get::<_, String>(2)?),
        segment: SegmentName::new(row.get::<_, String>(3)?),
        status: status(row, 4)?,
        budget: Budget {
            calls: row.get(5)?,
            writes: row.get(6)?,
            bytes: row.get(7)?,
        },
        usage: Usage {
            calls: row.get(8)?,
            writes: row.get(9)?,
            bytes: row.get(10)?,
        },
        created_at: row.get(11)?,
        expires_at: row.get(12)?,
        paused_for: paused_for(row, 13)?,
        ended_by: row.get(14)?,
    })
}

/// A clamped counter as `u64`; `clamp` never makes one negative, so nothing is lost.
fn unclamp(stored: i64) -> u64 {
    stored.unsigned_abs()
}

/// The stored text of a status: its serde name, so the column reads like the API.
pub(super) fn status_text(status: Status) -> &'static str {
    match status {
        Status::Active => "active",
        Status::Paused => "paused",
        Status::Ended => "ended",
        Status::Expired => "expired",
    }
}

fn budget_kind_text(kind: BudgetKind) -> &'static str {
    match kind {
        BudgetKind::Calls => "calls",
        BudgetKind::Writes => "writes",
        BudgetKind::Bytes => "bytes",
    }
}

fn status(row: &Row<'_>, index: usize) -> rusqlite::Result<Status> {
    let text: String = row.get(index)?;
    let status = match text.as_str() {
        "active" => Status::Active,
        "paused" => Status::Paused,
        "ended" => Status::Ended,
        "expired" => Status::Expired,
        _ => return Err(invalid(index, format!("unknown workflow status `{text}`"))),
    };
    Ok(status)
}

fn paused_for(row: &Row<'_>, index: usize) -> rusqlite::Result<Option<BudgetKind>> {
    let Some(text) = row.get::<_, Option<String>>(index)? else {
        return Ok(None);
    };
    let kind = match text.as_str() {
        "calls" => BudgetKind::Calls,
        "writes" => BudgetKind::Writes,
        "bytes" => BudgetKind::Bytes,
        _ => return Err(invalid(index, format!("unknown budget kind `{text}`"))),
    };
    Ok(Some(kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serde_name<T: serde::Serialize>(value: T) -> String {
        serde_json::to_value(value)
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn stored_names_are_the_serde_names() {
        for status in [
            Status::Active,
            Status::Paused,
            Status::Ended,
            Status::Expired,
        ] {
            assert_eq!(status_text(status), serde_name(status));
        }
        for kind in [BudgetKind::Calls, BudgetKind::Writes, BudgetKind::Bytes] {
            assert_eq!(budget_kind_text(kind), serde_name(kind));
        }
    }
}
