//! Cancellation, whatever the transport: what binds a call in flight to its caller and
//! workflow, and the future that resolves when the call must be cut (its workflow ended,
//! its credential or agent revoked, a quarantine now covers it, or shutdown stopped
//! waiting). Both faces race their upstream call against it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use gatehouse_core::clock::Clock;
use gatehouse_core::refusal::{AuthFailure, Refusal};

use crate::credential::Credential;
use crate::pipeline::SHUT_DOWN;
use crate::pipeline::record::EventDraft;
use crate::quarantines::{Quarantines, Reach};
use crate::revocations::Cuts;
use crate::workflows::LiveWorkflow;

/// On whose behalf a call is forwarded: the agent's own credential, or (for an approved
/// call Gatehouse executes itself) the agent and workflow the approval was parked for.
#[derive(Debug, Clone, Copy)]
pub struct OnBehalf<'a> {
    pub agent: &'a str,
    pub workflow: &'a str,
    /// The credential, when the agent is on the line; its revocation cuts the call.
    pub jti: Option<&'a str>,
}

impl<'a> OnBehalf<'a> {
    pub fn of(credential: &'a Credential) -> Self {
        Self {
            agent: &credential.claims.sub,
            workflow: &credential.claims.wf,
            jti: Some(&credential.claims.jti),
        }
    }

    /// For an approved call Gatehouse runs itself: no credential is on the line.
    pub fn parked(approval: &'a gatehouse_core::approval::Approval) -> Self {
        Self {
            agent: &approval.agent,
            workflow: &approval.workflow,
            jti: None,
        }
    }
}

/// What binds a forwarded call to its caller and workflow.
#[derive(Debug, Clone, Copy)]
pub struct Guarded<'a> {
    pub caller: OnBehalf<'a>,
    pub workflow: &'a Arc<LiveWorkflow>,
    /// Request bytes already counted by the budget phase.
    pub declared: u64,
    /// What the call reaches: a quarantine covering it cuts the call.
    pub reach: Reach<'a>,
}

/// Why a call was cut before its answer: a quarantine now covering it, or else a
/// revocation (or the workflow's end).
pub(crate) fn cut_refusal(
    quarantines: &Quarantines,
    clock: &dyn Clock,
    guarded: Guarded<'_>,
) -> Refusal {
    match quarantines.covering(guarded.reach, clock) {
        Some(id) => Refusal::Quarantined { id },
        None => Refusal::Unauthenticated(AuthFailure::Revoked),
    }
}

/// A call's pending cancellation: resolves, with a reason, when the call is revoked.
pub(crate) type Cancellation = Pin<Box<dyn Future<Output = String> + Send>>;

/// The refusal of a call cancelled before the upstream answered: cut by shutdown, by a
/// quarantine, or by a revocation (or its workflow's end).
pub(crate) fn cancelled(
    cuts: &Cuts,
    guarded: Guarded<'_>,
    draft: &mut EventDraft,
    reason: &str,
) -> Refusal {
    draft.note(reason);
    if reason == SHUT_DOWN {
        return Refusal::UpstreamUnavailable {
            reason: SHUT_DOWN.to_owned(),
        };
    }
    cut_refusal(&cuts.quarantines, cuts.clock.as_ref(), guarded)
}

/// Resolves, with a reason, once the call's workflow ends, its credential or agent is
/// revoked, a quarantine covers it, or shutdown stops waiting for it; pending otherwise.
pub(crate) fn cancellation(
    cuts: &Arc<Cuts>,
    guarded: Guarded<'_>,
) -> impl Future<Output = String> + Send + 'static {
    let mut over = guarded.workflow.over_signal();
    let mut epoch = cuts.revocations.epoch();
    let mut stopping = cuts.stopping.clone();
    let cuts = Arc::clone(cuts);
    let jti = guarded.caller.jti.map(str::to_owned);
    let agent = guarded.caller.agent.to_owned();
    let reach = guarded.reach.owned();
    async move {
        // Inside this future, so watching for quarantines allocates nothing more.
        let quarantined =
            crate::quarantines::cut(&cuts.quarantines, cuts.clock.as_ref(), reach.with(&agent));
        tokio::pin!(quarantined);
        loop {
            tokio::select! {
                reason = &mut quarantined => return reason,
                ended = async { over.wait_for(|over| *over).await.is_ok() } => {
                    if ended {
                        return "the workflow ended".to_owned();
                    }
                    std::future::pending::<()>().await;
                }
                stopped = async { stopping.wait_for(|stop| *stop).await.is_ok() } => {
                    if stopped {
                        return SHUT_DOWN.to_owned();
                    }
                    std::future::pending::<()>().await;
                }
                changed = epoch.changed() => {
                    if changed.is_err() {
                        std::future::pending::<()>().await;
                    }
                    if jti.as_deref().is_some_and(|jti| cuts.revocations.is_token_revoked(jti)) {
                        return "the credential was revoked".to_owned();
                    }
                    if cuts.revocations.is_agent_revoked(&agent) {
                        return "the agent was revoked".to_owned();
                    }
                }
            }
        }
    }
}
