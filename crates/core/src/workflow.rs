//! Workflows and their budgets as a pure state machine (DESIGN.md §2): a workflow is one
//! autonomous run, `active → paused → active … → ended` (or `expired`), with a budget of
//! calls, writes and bytes. Exhausting any part pauses it; an operator may extend the
//! budget and resume it; ended and expired are final.
//!
//! No clock is read here: callers pass `now`, so tests move time instead of sleeping.

use serde::{Deserialize, Serialize};

use crate::model::{AgentId, SegmentName, TaskClassName, WorkflowId};

/// Budget limits, or an extension to them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Budget {
    pub calls: u64,
    pub writes: u64,
    /// Request plus response bytes.
    pub bytes: u64,
}

/// What a workflow has spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    pub calls: u64,
    pub writes: u64,
    pub bytes: u64,
}

/// Which part of a budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BudgetKind {
    Calls,
    Writes,
    Bytes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Active,
    /// A budget was exhausted; an operator may extend and resume.
    Paused,
    /// Ended by an operator or by the agent's revocation; final.
    Ended,
    /// Past its expiry; final.
    Expired,
}

/// One workflow, as stored and as held in memory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workflow {
    pub id: WorkflowId,
    pub agent: AgentId,
    pub task_class: TaskClassName,
    pub segment: SegmentName,
    pub status: Status,
    pub budget: Budget,
    pub usage: Usage,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds; at or after this the workflow is expired.
    pub expires_at: i64,
    /// The budget whose exhaustion paused it, while paused.
    pub paused_for: Option<BudgetKind>,
    /// Who ended it (an operator name, or `revocation of agent X`), once ended.
    pub ended_by: Option<String>,
}
