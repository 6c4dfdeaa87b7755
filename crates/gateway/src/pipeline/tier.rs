//! Phase 5, whatever the transport: a medium-tier call needs a confirmation from the
//! workflow's confirmer, bound to the exact call (its digest) and usable once; a high-tier
//! call is parked for human approval, and Gatehouse runs the stored call itself once
//! approved. The faces turn their calls into a [`ParkedCall`] and answer in their own
//! words (an HTTP `202`, a JSON-RPC result).

use std::time::Duration;

use gatehouse_core::approval::{Approval, Checkpoint, NewApproval, ParkedCall};
use gatehouse_core::ids::ApprovalId;
use gatehouse_core::model::{Intent, PolicyId, PolicySetVersion, Tier};
use gatehouse_core::refusal::Refusal;

use crate::approvals::Checkpoints;
use crate::credential::Credential;
use crate::pipeline::record::EventDraft;

/// Calls one workflow may have waiting for approval at once: each is a stored row and a
/// notification, so a workflow cannot flood approvers or the store.
pub const MAX_PENDING_PER_WORKFLOW: usize = 32;

/// What confirmation and approval need to know about a call, whatever its transport.
#[derive(Debug)]
pub struct Gatekeeping<'a> {
    pub credential: &'a Credential,
    pub intent: &'a Intent,
    pub tier: Tier,
    pub policies: Vec<PolicyId>,
    /// The confirmation id the agent presented, if any.
    pub confirmation: Option<&'a str>,
    /// How long the agent asked to wait for a parked call's outcome.
    pub wait: Duration,
}

/// Medium tier: accept a confirmed, matching, unused confirmation, or ask for one.
pub async fn confirm(
    checkpoints: Checkpoints<'_>,
    checked: &Gatekeeping<'_>,
    call: ParkedCall,
    draft: &mut EventDraft,
) -> Result<(), Refusal> {
    let credential = checked.credential;
    let Some(id) = checked.confirmation.map(ApprovalId::from) else {
        let approval = new_approval(checkpoints, checked, Checkpoint::Confirmation, call, draft);
        let id = approval.id.clone();
        checkpoints
            .approvals
            .create(approval)
            .await
            .map_err(store_failure)?;
        return Err(Refusal::ConfirmationRequired { id });
    };
    let now = checkpoints.clock.now().secs();
    let digest = call.digest;
    let used = checkpoints
        .approvals
        .update(
            &id,
            Box::new(|approval| {
                approval.use_confirmation(&credential.agent, &credential.workflow, &digest, now)
            }),
        )
        .await;
    match used {
        Ok(_) => {
            draft.note(&format!("confirmed by confirmation `{id}`"));
            Ok(())
        }
        Err(error) => Err(Refusal::ConfirmationRejected {
            reason: format!("confirmation `{id}` not accepted: {error}"),
        }),
    }
}

/// High tier: park the exact call; the approval as it stands once the agent's requested
/// wait (bounded by `max_wait_secs`) is over.
pub async fn park(
    checkpoints: Checkpoints<'_>,
    checked: &Gatekeeping<'_>,
    call: ParkedCall,
    draft: &mut EventDraft,
) -> Result<Approval, Refusal> {
    let approval = new_approval(checkpoints, checked, Checkpoint::Approval, call, draft);
    let now = checkpoints.clock.now().secs();
    let approval = checkpoints
        .approvals
        .create_bounded(approval, MAX_PENDING_PER_WORKFLOW, now)
        .await
        .map_err(store_failure)?
        .ok_or(Refusal::TooManyPending {
            limit: MAX_PENDING_PER_WORKFLOW,
        })?;
    checkpoints
        .notifier
        .approval_pending(&approval, checkpoints.settings.console_url.as_deref());
    draft.note(&format!("parked as approval `{}`", approval.id));
    let wait = checked.wait.min(checkpoints.settings.max_wait);
    if wait.is_zero() {
        return Ok(approval);
    }
    Ok(checkpoints
        .approvals
        .wait(&approval.id, wait)
        .await
        .map_err(store_failure)?
        .unwrap_or(approval))
}

fn new_approval(
    checkpoints: Checkpoints<'_>,
    checked: &Gatekeeping<'_>,
    checkpoint: Checkpoint,
    call: ParkedCall,
    draft: &EventDraft,
) -> Approval {
    let credential = checked.credential;
    let settings = checkpoints.settings;
    let (ttl, required) = match checkpoint {
        Checkpoint::Confirmation => (settings.confirmation_ttl, 1),
        Checkpoint::Approval => {
            let two = settings.two_approvers.contains(checked.intent);
            (settings.ttl, if two { 2 } else { 1 })
        }
    };
    Approval::new(NewApproval {
        id: ApprovalId::random(),
        checkpoint,
        decision: draft.id(),
        agent: credential.agent.clone(),
        workflow: credential.workflow.clone(),
        task_class: credential.task_class.clone(),
        segment: credential.segment.clone(),
        tier: checked.tier,
        policies: checked.policies.clone(),
        // A call is parked only after policy decided it, so the version is always there.
        policy_version: draft
            .policy_version()
            .unwrap_or_else(|| PolicySetVersion::from("")),
        call,
        required,
        now_secs: checkpoints.clock.now().secs(),
        ttl_secs: i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX),
    })
}

/// A parked call that cannot be replayed as stored.
pub(crate) fn replay_failure(what: &str) -> Refusal {
    Refusal::Internal {
        reason: format!("cannot replay the parked call: {what}"),
    }
}

pub(crate) fn store_failure(error: gatehouse_store::StoreError) -> Refusal {
    Refusal::Internal {
        reason: format!("approval store: {error}"),
    }
}
