//! Why a workflow refused a call, cut a stream or refused a transition. Messages are for
//! the event and the operator; the agent sees only the refusal kind.

use thiserror::Error;

use super::{Budget, BudgetKind, Status, Usage};

/// Why [`Workflow::reserve`](super::Workflow::reserve) refused a call.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BudgetRefusal {
    /// This call would go past the `kind` limit; the workflow is now paused for it.
    #[error("{}", exhausted_message(*kind, usage, budget))]
    Exhausted {
        kind: BudgetKind,
        usage: Usage,
        budget: Budget,
    },
    /// The workflow was already paused, for `kind` (absent only in inconsistent stored data).
    #[error("{}", paused_message(*kind, usage, budget))]
    Paused {
        kind: Option<BudgetKind>,
        usage: Usage,
        budget: Budget,
    },
    #[error("the workflow has ended")]
    Ended,
    #[error("the workflow has expired")]
    Expired,
}

/// Streamed bytes went past the byte limit: only `allowed` of them fit, the caller
/// forwards that many and cuts the stream. `usage` and `budget` are as after the cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error(
    "{}; {allowed} more bytes fit",
    exhausted_message(BudgetKind::Bytes, usage, budget)
)]
pub struct BytesCut {
    pub allowed: u64,
    pub usage: Usage,
    pub budget: Budget,
}

impl BytesCut {
    /// The same cut as a refusal, for the event and the agent's problem document.
    pub fn refusal(&self) -> BudgetRefusal {
        BudgetRefusal::Exhausted {
            kind: BudgetKind::Bytes,
            usage: self.usage,
            budget: self.budget,
        }
    }
}

impl From<BytesCut> for BudgetRefusal {
    fn from(cut: BytesCut) -> Self {
        cut.refusal()
    }
}

/// Why an operator transition ([`resume`](super::Workflow::resume),
/// [`end`](super::Workflow::end)) was refused; the workflow is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum TransitionError {
    #[error("the workflow is already {status}, which is final")]
    Final { status: Status },
    #[error("the `{kind}` budget is still exhausted after the extension")]
    StillExhausted { kind: BudgetKind },
}

fn exhausted_message(kind: BudgetKind, usage: &Usage, budget: &Budget) -> String {
    format!(
        "the `{kind}` budget is exhausted ({} of {})",
        usage.of(kind),
        budget.of(kind)
    )
}

fn paused_message(kind: Option<BudgetKind>, usage: &Usage, budget: &Budget) -> String {
    match kind {
        Some(kind) => format!(
            "the workflow is paused: {}",
            exhausted_message(kind, usage, budget)
        ),
        None => "the workflow is paused".to_owned(),
    }
}
