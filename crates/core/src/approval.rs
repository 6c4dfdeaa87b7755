//! Confirmations and approvals as a pure state machine (DESIGN.md §3 phase 5).
//!
//! A *medium*-tier call needs a confirmation: the call is refused with a confirmation id,
//! the workflow's confirmer confirms it, and the agent re-sends the same call (same
//! digest) once before expiry. A *high*-tier call needs an approval: the exact call is
//! parked, approvers approve or deny it (some intents need two different approvers), and
//! on approval Gatehouse itself executes the stored call once and keeps the response for
//! the agent. Nothing the agent sends after parking changes what runs.
//!
//! No clock is read here: callers pass `now`.

use serde::{Deserialize, Serialize};

use crate::ids::DecisionId;

/// Which checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Checkpoint {
    /// Medium tier: the agent re-sends the call once confirmed.
    Confirmation,
    /// High tier: Gatehouse executes the parked call once approved.
    Approval,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApprovalStatus {
    /// Waiting for confirmers or approvers.
    Pending,
    /// Confirmed or approved; a confirmation waits for the agent's re-send, an approval
    /// for Gatehouse to execute it.
    Approved,
    /// An approval being executed by Gatehouse (at most once).
    Executing,
    /// Final: an approval executed (its response is kept), or a confirmation used.
    Done,
    /// Final: an approver or confirmer said no.
    Denied,
    /// Final: nobody decided in time (auto-deny).
    Expired,
    /// Final: the workflow ended or its credentials were revoked.
    Cancelled,
}

/// One approver's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub by: String,
    pub approve: bool,
    pub reason: String,
    /// Unix seconds.
    pub at: i64,
}

/// The exact call that was checked, so what runs or is accepted later is what was decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParkedCall {
    pub method: String,
    pub tool: String,
    pub intent: String,
    /// The path below the tool, exactly as received.
    pub path: String,
    pub query: Option<String>,
    pub content_type: Option<String>,
    /// The request body (kept for approvals; confirmations only keep the digest).
    pub body: Vec<u8>,
    /// SHA-256 (hex) over method, tool, path, query and body: see [`call_digest`].
    pub digest: String,
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
    pub id: String,
    pub checkpoint: Checkpoint,
    pub status: ApprovalStatus,
    /// The decision that asked for this checkpoint.
    pub decision: DecisionId,
    pub agent: String,
    pub workflow: String,
    pub task_class: String,
    pub segment: String,
    pub tier: String,
    /// Ids of the policies that determined the decision (e.g. the one that raised the tier).
    pub policies: Vec<String>,
    /// Digest of the policy set in force when the call was decided.
    pub policy_version: String,
    pub call: ParkedCall,
    /// How many different approvers must approve.
    pub required: u8,
    pub verdicts: Vec<Verdict>,
    /// Unix seconds.
    pub created_at: i64,
    pub expires_at: i64,
    pub response: Option<StoredResponse>,
}
