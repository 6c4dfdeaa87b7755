//! Why a confirmation or approval refused a verdict, an execution or a re-send. Every
//! refusal leaves the checkpoint as it was, except that an expiry found due is applied.

use thiserror::Error;

use super::{ApprovalStatus, Checkpoint};
use crate::ids::ApprovalId;
use crate::model::OperatorName;

/// A refused operation on an [`Approval`](super::Approval).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ApprovalError {
    /// A verdict came after the checkpoint was decided, cancelled or (for approvals)
    /// executed.
    #[error("checkpoint `{id}` is {status}, not pending")]
    NotPending {
        id: ApprovalId,
        status: ApprovalStatus,
    },
    /// Execution or a re-send was asked for before approval, or a second time.
    #[error("checkpoint `{id}` is {status}, not approved")]
    NotApproved {
        id: ApprovalId,
        status: ApprovalStatus,
    },
    /// An execution was finished that was not running.
    #[error("checkpoint `{id}` is {status}, not executing")]
    NotExecuting {
        id: ApprovalId,
        status: ApprovalStatus,
    },
    /// The agent tried to decide on its own call.
    #[error("`{by}` made the call and may not decide on it")]
    SelfApproval { by: OperatorName },
    /// The agent's owner tried to decide while the rules forbid it.
    #[error("`{by}` owns the calling agent and may not decide on its calls")]
    OwnerApproval { by: OperatorName },
    /// This approver already approved or denied.
    #[error("`{by}` has already given a verdict")]
    AlreadyDecided { by: OperatorName },
    /// The operation belongs to the other kind of checkpoint (e.g. executing a
    /// confirmation, or re-sending against an approval).
    #[error("checkpoint `{id}` is a {checkpoint}, which this operation does not apply to")]
    WrongCheckpoint {
        id: ApprovalId,
        checkpoint: Checkpoint,
    },
    /// The re-sent call is not the one that was confirmed.
    #[error("confirmation `{id}` was given for a different call")]
    DigestMismatch { id: ApprovalId },
    /// The re-send came from another agent or workflow than the parked call.
    #[error("confirmation `{id}` belongs to another agent or workflow")]
    WrongCaller { id: ApprovalId },
    /// Nobody decided, executed or re-sent in time.
    #[error("checkpoint `{id}` has expired")]
    Expired { id: ApprovalId },
}
