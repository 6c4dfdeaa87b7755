//! Confirmations and approvals as a pure state machine (ARCHITECTURE.md, "The request path", tier).
//!
//! A *medium*-tier call needs a confirmation: the call is refused with a confirmation id,
//! the workflow's confirmer confirms it, and the agent re-sends the same call (same
//! digest) once before expiry. A *high*-tier call needs an approval: the exact call is
//! parked, approvers approve or deny it (some intents need two different approvers), and
//! on approval Gatehouse itself executes the stored call once and keeps the response for
//! the agent. Nothing the agent sends after parking changes what runs.
//!
//! No clock is read here: callers pass `now`.
//!
//! The rules, in one place:
//! - `Pending → Approved` once `required` different approvers said yes; one no from any
//!   approver ends it as `Denied`. The agent never decides on its own call, nor (when the
//!   rules forbid it) the agent's owner, and each approver decides once.
//! - an approval runs `Approved → Executing → Done` exactly once, driven by Gatehouse; a
//!   confirmation goes `Approved → Done` on the agent's re-send of the same call.
//! - `Pending` and `Approved` expire at `expires_at` (auto-deny): an approval nobody ran
//!   in time, or a confirmation nobody used, is dead. `Executing` is already running and
//!   never expires.
//! - `Done`, `Denied`, `Expired` and `Cancelled` are final: nothing changes them again.
//! - `call` is written once, at parking, and never changed.

mod digest;
mod error;

use serde::{Deserialize, Serialize};

use crate::closed_set::closed_set;
use crate::ids::{ApprovalId, DecisionId};
use crate::model::{
    AgentId, Intent, OperatorName, PolicyId, PolicySetVersion, SegmentName, TaskClassName, Tier,
    ToolName, WorkflowId,
};

pub use digest::{CallDigest, CallToPark, call_digest};
pub use error::ApprovalError;

/// Who may not decide, beyond the agent itself (which never may).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    /// Refuse the verdict of the agent's owner (four eyes: the owner is not independent).
    pub forbid_owner: bool,
    /// The owner of the calling agent, when known.
    pub owner: Option<OperatorName>,
}

closed_set! {
    /// Which checkpoint.
    pub enum Checkpoint, error UnknownCheckpoint, "checkpoint";
    /// Medium tier: the agent re-sends the call once confirmed.
    Confirmation => "confirmation",
    /// High tier: Gatehouse executes the parked call once approved.
    Approval => "approval",
}

closed_set! {
    /// Where a checkpoint is in its life.
    pub enum ApprovalStatus, error UnknownApprovalStatus, "approval status";
    /// Waiting for confirmers or approvers.
    Pending => "pending",
    /// Confirmed or approved; a confirmation waits for the agent's re-send, an approval
    /// for Gatehouse to execute it.
    Approved => "approved",
    /// An approval being executed by Gatehouse (at most once).
    Executing => "executing",
    /// Final: an approval executed (its response is kept), or a confirmation used.
    Done => "done",
    /// Final: an approver or confirmer said no.
    Denied => "denied",
    /// Final: nobody decided in time (auto-deny).
    Expired => "expired",
    /// Final: the workflow ended or its credentials were revoked.
    Cancelled => "cancelled",
}

impl ApprovalStatus {
    /// `Done`, `Denied`, `Expired` or `Cancelled`.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Done | Self::Denied | Self::Expired | Self::Cancelled
        )
    }
}

/// One approver's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub by: OperatorName,
    pub approve: bool,
    pub reason: String,
    /// Unix seconds.
    pub at: i64,
}

/// The exact call that was checked, so what runs or is accepted later is what was decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParkedCall {
    pub method: String,
    pub tool: ToolName,
    pub intent: Intent,
    /// The path below the tool, exactly as received.
    pub path: String,
    pub query: Option<String>,
    pub content_type: Option<String>,
    /// The request body (kept for approvals; confirmations only keep the digest).
    pub body: Vec<u8>,
    /// SHA-256 (hex) over method, tool, path, query and body: see [`call_digest`].
    pub digest: CallDigest,
}

/// The upstream's answer to an executed approval, kept for the agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredResponse {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// One confirmation or approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// Unguessable id (128 random bits, hex).
    pub id: ApprovalId,
    pub checkpoint: Checkpoint,
    pub status: ApprovalStatus,
    /// The decision that asked for this checkpoint.
    pub decision: DecisionId,
    pub agent: AgentId,
    pub workflow: WorkflowId,
    pub task_class: TaskClassName,
    pub segment: SegmentName,
    pub tier: Tier,
    /// Ids of the policies that determined the decision (e.g. the one that raised the tier).
    pub policies: Vec<PolicyId>,
    /// Digest of the policy set in force when the call was decided.
    pub policy_version: PolicySetVersion,
    pub call: ParkedCall,
    /// How many different approvers must approve (1 or 2).
    pub required: u8,
    pub verdicts: Vec<Verdict>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds; at or after this a pending or approved checkpoint is expired.
    pub expires_at: i64,
    /// Set once, when an executed approval finishes.
    pub response: Option<StoredResponse>,
}

/// What a new checkpoint is made of: one field per stored field it starts with, named
/// and typed, so no two of its names can be swapped.
#[derive(Debug, Clone)]
pub struct NewApproval {
    pub id: ApprovalId,
    pub checkpoint: Checkpoint,
    pub decision: DecisionId,
    pub agent: AgentId,
    pub workflow: WorkflowId,
    pub task_class: TaskClassName,
    pub segment: SegmentName,
    pub tier: Tier,
    pub policies: Vec<PolicyId>,
    pub policy_version: PolicySetVersion,
    pub call: ParkedCall,
    pub required: u8,
    pub now_secs: i64,
    pub ttl_secs: i64,
}

impl Approval {
    /// A new pending checkpoint with no verdicts, expiring at `now_secs + ttl_secs`.
    /// `required` is clamped to 1..=2: zero approvers would approve nothing, and two
    /// different people are the most any intent asks for.
    pub fn new(new: NewApproval) -> Self {
        Self {
            id: new.id,
            checkpoint: new.checkpoint,
            status: ApprovalStatus::Pending,
            decision: new.decision,
            agent: new.agent,
            workflow: new.workflow,
            task_class: new.task_class,
            segment: new.segment,
            tier: new.tier,
            policies: new.policies,
            policy_version: new.policy_version,
            call: new.call,
            required: new.required.clamp(1, 2),
            verdicts: Vec::new(),
            created_at: new.now_secs,
            expires_at: new.now_secs.saturating_add(new.ttl_secs),
            response: None,
        }
    }

    /// Moves a pending or approved (not yet executed or used) checkpoint at or past its
    /// expiry to `Expired`; returns whether it changed. `Executing` and final states stay.
    pub fn expire_if_due(&mut self, now_secs: i64) -> bool {
        let waiting = matches!(
            self.status,
            ApprovalStatus::Pending | ApprovalStatus::Approved
        );
        if !waiting || now_secs < self.expires_at {
            return false;
        }
        self.status = ApprovalStatus::Expired;
        true
    }

    /// An approver's yes, recorded; once `required` different approvers said yes the
    /// checkpoint is `Approved`. Returns the new status. Expires the checkpoint first if
    /// it is due. A refused verdict ([`ApprovalError::Expired`], `NotPending`,
    /// `SelfApproval`, `OwnerApproval`, `AlreadyDecided`) records nothing.
    pub fn approve(
        &mut self,
        by: &OperatorName,
        reason: &str,
        rules: &Rules,
        now_secs: i64,
    ) -> Result<ApprovalStatus, ApprovalError> {
        self.admit_verdict(by, rules, now_secs)?;
        self.record(by, true, reason, now_secs);
        if self.approvals() >= usize::from(self.required.max(1)) {
            self.status = ApprovalStatus::Approved;
        }
        Ok(self.status)
    }

    /// An approver's no, recorded: one is enough to end the checkpoint as `Denied`, even
    /// after other approvers said yes. Refused exactly as [`approve`](Self::approve).
    pub fn deny(
        &mut self,
        by: &OperatorName,
        reason: &str,
        rules: &Rules,
        now_secs: i64,
    ) -> Result<ApprovalStatus, ApprovalError> {
        self.admit_verdict(by, rules, now_secs)?;
        self.record(by, false, reason, now_secs);
        self.status = ApprovalStatus::Denied;
        Ok(self.status)
    }

    /// The workflow ended or its credentials were revoked: a pending or approved
    /// checkpoint becomes `Cancelled`; returns whether it changed. An executing approval
    /// is already running and goes on to `Done`; final states stay.
    pub fn cancel(&mut self) -> bool {
        let waiting = matches!(
            self.status,
            ApprovalStatus::Pending | ApprovalStatus::Approved
        );
        if waiting {
            self.status = ApprovalStatus::Cancelled;
        }
        waiting
    }

    /// Gatehouse starts running an approved approval: `Approved → Executing`, which can
    /// happen once only. Expires the approval first if it is due.
    pub fn begin_execution(&mut self, now_secs: i64) -> Result<(), ApprovalError> {
        self.ensure_checkpoint(Checkpoint::Approval)?;
        self.expire_if_due(now_secs);
        self.ensure_approved()?;
        self.status = ApprovalStatus::Executing;
        Ok(())
    }

    /// The executed approval's upstream answered: `Executing → Done`, keeping `response`
    /// for the agent.
    pub fn finish_execution(&mut self, response: StoredResponse) -> Result<(), ApprovalError> {
        self.ensure_checkpoint(Checkpoint::Approval)?;
        if self.status != ApprovalStatus::Executing {
            return Err(ApprovalError::NotExecuting {
                id: self.id.clone(),
                status: self.status,
            });
        }
        self.status = ApprovalStatus::Done;
        self.response = Some(response);
        Ok(())
    }

    /// The agent's re-send of a confirmed call: `Approved → Done`, so a confirmation is
    /// used once. Expires the confirmation first if it is due. Refused, changing nothing,
    /// when the caller is not the agent and workflow that parked the call
    /// ([`ApprovalError::WrongCaller`], checked first so another caller learns nothing
    /// about the call) or when `digest` is not the parked call's
    /// ([`ApprovalError::DigestMismatch`]: the confirmation is for another call).
    pub fn use_confirmation(
        &mut self,
        agent: &AgentId,
        workflow: &WorkflowId,
        digest: &CallDigest,
        now_secs: i64,
    ) -> Result<(), ApprovalError> {
        self.ensure_checkpoint(Checkpoint::Confirmation)?;
        self.expire_if_due(now_secs);
        self.ensure_approved()?;
        if *agent != self.agent || *workflow != self.workflow {
            return Err(ApprovalError::WrongCaller {
                id: self.id.clone(),
            });
        }
        if *digest != self.call.digest {
            return Err(ApprovalError::DigestMismatch {
                id: self.id.clone(),
            });
        }
        self.status = ApprovalStatus::Done;
        Ok(())
    }

    /// How many different approvers said yes.
    pub fn approvals(&self) -> usize {
        let mut approvers: Vec<&OperatorName> = self
            .verdicts
            .iter()
            .filter(|verdict| verdict.approve)
            .map(|verdict| &verdict.by)
            .collect();
        approvers.sort_unstable();
        approvers.dedup();
        approvers.len()
    }

    /// `Done`, `Denied`, `Expired` or `Cancelled`: nothing changes it again.
    pub fn is_final(&self) -> bool {
        self.status.is_final()
    }

    /// Whether `by` may give a verdict now; expires the checkpoint first if it is due.
    fn admit_verdict(
        &mut self,
        by: &OperatorName,
        rules: &Rules,
        now_secs: i64,
    ) -> Result<(), ApprovalError> {
        self.expire_if_due(now_secs);
        match self.status {
            ApprovalStatus::Pending => {}
            ApprovalStatus::Expired => return Err(self.expired()),
            status => {
                return Err(ApprovalError::NotPending {
                    id: self.id.clone(),
                    status,
                });
            }
        }
        // An operator and an agent are different kinds of names, but a control-plane
        // identity spelled as the agent's is the agent, whatever door it came through.
        if by.as_str() == self.agent.as_str() {
            return Err(ApprovalError::SelfApproval { by: by.clone() });
        }
        if rules.forbid_owner && rules.owner.as_ref() == Some(by) {
            return Err(ApprovalError::OwnerApproval { by: by.clone() });
        }
        if self.verdicts.iter().any(|verdict| verdict.by == *by) {
            return Err(ApprovalError::AlreadyDecided { by: by.clone() });
        }
        Ok(())
    }

    fn record(&mut self, by: &OperatorName, approve: bool, reason: &str, now_secs: i64) {
        self.verdicts.push(Verdict {
            by: by.clone(),
            approve,
            reason: reason.to_owned(),
            at: now_secs,
        });
    }

    fn ensure_checkpoint(&self, wanted: Checkpoint) -> Result<(), ApprovalError> {
        if self.checkpoint == wanted {
            return Ok(());
        }
        Err(ApprovalError::WrongCheckpoint {
            id: self.id.clone(),
            checkpoint: self.checkpoint,
        })
    }

    fn ensure_approved(&self) -> Result<(), ApprovalError> {
        match self.status {
            ApprovalStatus::Approved => Ok(()),
            ApprovalStatus::Expired => Err(self.expired()),
            status => Err(ApprovalError::NotApproved {
                id: self.id.clone(),
                status,
            }),
        }
    }

    fn expired(&self) -> ApprovalError {
        ApprovalError::Expired {
            id: self.id.clone(),
        }
    }
}

#[cfg(test)]
mod tests;
