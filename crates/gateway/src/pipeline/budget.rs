//! Phase 6: the workflow's budget. A call is counted, atomically, just before it is
//! forwarded — its call, its write, its declared request bytes — so with a budget of k
//! calls exactly k reach the upstream however many arrive at once. Exhaustion pauses the
//! workflow and tells its agent's owner. The call goes upstream only once a durable lease
//! covers what it spent.

use std::sync::Arc;

use gatehouse_core::model::{Access, AgentId};
use gatehouse_core::refusal::{AuthFailure, Refusal};
use gatehouse_core::workflow::{BudgetKind, BudgetRefusal, Workflow};
use gatehouse_store::Store;
use http::{HeaderMap, header};

use crate::blocking::store_call;
use crate::pipeline::SHUT_DOWN;
use crate::workflows::{Budgets, Cover, LiveWorkflow, Pauses};

/// The declared request body size, refused when over the limit (before any budget is spent).
pub fn check_declared_body(limit: u64, headers: &HeaderMap) -> Result<u64, Refusal> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok())
        .unwrap_or(0);
    if declared > limit {
        return Err(Refusal::BodyTooLarge { limit });
    }
    Ok(declared)
}

/// Counts the call (a write when `access` is) against its workflow, and returns once what
/// it spent is durable: the first call past the durable lease writes the next slice (a
/// store write per slice, not per call), so a `kill -9` never forgets spending that
/// reached the upstream.
pub async fn reserve(
    budgets: Budgets<'_>,
    workflow: &Arc<LiveWorkflow>,
    access: Access,
    declared: u64,
) -> Result<(), Refusal> {
    let write = access == Access::Write;
    // Each turn either counts the call, refuses it, or grows this replica's share of a
    // shared budget (which the pool's limit bounds), so the loop ends.
    loop {
        let now = budgets.clock.now().secs();
        let cover = workflow
            .reserve(now, write, declared)
            .map_err(|refusal| refused(budgets.pauses, workflow, refusal))?;
        match cover {
            Cover::Durable => return Ok(()),
            Cover::Closing => {
                return Err(Refusal::UpstreamUnavailable {
                    reason: SHUT_DOWN.to_owned(),
                });
            }
            Cover::NeedsLease => return lease(budgets.store, workflow).await,
            Cover::NeedsSlice => claim(budgets.store, workflow, write, declared).await?,
        }
    }
}

/// Writes the next durable lease of the workflow's budget (one node).
async fn lease(store: &Arc<dyn Store>, workflow: &Arc<LiveWorkflow>) -> Result<(), Refusal> {
    let (live, store) = (Arc::clone(workflow), Arc::clone(store));
    store_call("workflow lease", move || live.extend_lease(&*store))
        .await
        .map_err(|error| Refusal::Internal {
            reason: format!("cannot lease the workflow's budget: {error}"),
        })
}

/// Reserves a slice of a budget shared with other replicas, covering this call.
async fn claim(
    store: &Arc<dyn Store>,
    workflow: &Arc<LiveWorkflow>,
    write: bool,
    declared: u64,
) -> Result<(), Refusal> {
    let (live, store) = (Arc::clone(workflow), Arc::clone(store));
    store_call("workflow budget", move || {
        live.claim_slice(&*store, write, declared)
    })
    .await
    .map_err(|error| Refusal::Internal {
        reason: format!("cannot reserve the workflow's budget: {error}"),
    })
}

/// Refuses a call of a workflow that is not active (paused for its budget, say) without
/// counting it: a paused workflow parks no approval and gets no confirmation.
pub fn ensure_active(budgets: Budgets<'_>, workflow: &Arc<LiveWorkflow>) -> Result<(), Refusal> {
    workflow
        .ensure_active(budgets.clock.now().secs())
        .map_err(|refusal| refused(budgets.pauses, workflow, refusal))
}

/// Maps a budget refusal to the agent's refusal, telling the owner when it paused now.
pub fn refused(pauses: Pauses<'_>, workflow: &LiveWorkflow, refusal: BudgetRefusal) -> Refusal {
    let snapshot = workflow.snapshot();
    match refusal {
        BudgetRefusal::Exhausted { kind, .. } => {
            notify_paused(pauses, &snapshot, kind);
            exhausted(&snapshot, kind)
        }
        BudgetRefusal::Paused { kind, .. } => {
            exhausted(&snapshot, kind.unwrap_or(BudgetKind::Calls))
        }
        BudgetRefusal::Ended => Refusal::Unauthenticated(AuthFailure::Revoked),
        BudgetRefusal::Expired => Refusal::Unauthenticated(AuthFailure::Expired),
    }
}

/// The owner of the workflow's agent hears that it paused.
pub fn notify_paused(pauses: Pauses<'_>, workflow: &Workflow, kind: BudgetKind) {
    pauses.metrics.budget_paused();
    let owner = pauses
        .agents
        .get(&AgentId::new(workflow.agent.as_str()))
        .and_then(|agent| agent.owner.as_deref());
    pauses.notifier.workflow_paused(workflow, kind, owner);
}

fn exhausted(workflow: &Workflow, kind: BudgetKind) -> Refusal {
    Refusal::BudgetExhausted {
        workflow: workflow.id.clone(),
        kind,
        spent: workflow.usage.of(kind),
        limit: workflow.budget.of(kind),
    }
}
