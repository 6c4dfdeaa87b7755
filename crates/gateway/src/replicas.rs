//! Following what other replicas change (ARCHITECTURE.md, "State and events"). On a
//! shared store, a revocation, a quarantine or an ended workflow written by one replica
//! must stop calls on every other, and a resumed one must serve again everywhere; a
//! policy set applied on one is put in force on every other, and a call held on one for
//! an approval decided on another hears of it: the
//! store announces such changes ([`gatehouse_store::Store::subscribe`]), and this task reads the changed
//! state again and applies it to what this replica holds in memory. After the feed was
//! lost it reads everything again, since announcements made meanwhile are gone.
//!
//! The embedded store has one writer, so it announces nothing and nothing runs here.

use std::sync::Arc;
use std::time::Instant;

use gatehouse_core::workflow::Status;
use gatehouse_store::{Change, RevocationKind, StoreError};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::blocking::store_call;
use crate::state::State;

/// Subscribes to the store's change feed and starts applying it; `None` when the store
/// has no other writers.
pub(crate) fn follow(state: &Arc<State>) -> Result<Option<JoinHandle<()>>, StoreError> {
    let (tx, rx) = mpsc::unbounded_channel();
    // Weak: the store (which the state holds) holds this handler.
    let refusing = Arc::downgrade(state);
    let announced = state.store.subscribe(Box::new(move |change| {
        // On the listener's thread, as the announcement arrives: not behind re-reads
        // of earlier changes still running below.
        if let Change::Revoked {
            kind,
            subject,
            expires_at,
        } = &change
            && let Some(state) = refusing.upgrade()
        {
            revoke_at_once(&state, *kind, subject, *expires_at);
        }
        // The receiver is gone only at shutdown, when nothing needs applying.
        let _ = tx.send((Instant::now(), change));
    }))?;
    if !announced {
        return Ok(None);
    }
    let (policy_wake, policy_woken) = mpsc::channel(1);
    let policy = tokio::spawn(follow_policy(Arc::clone(state), policy_woken));
    Ok(Some(tokio::spawn(apply_all(
        Arc::clone(state),
        rx,
        (policy_wake, AbortOnDrop(policy)),
    ))))
}

/// Aborts its task when dropped: the policy follower holds the state too, and must end
/// when the follower that feeds it is aborted at shutdown (`server.rs`).
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn apply_all(
    state: Arc<State>,
    mut rx: mpsc::UnboundedReceiver<(Instant, Change)>,
    (policy_wake, _policy_follower): (mpsc::Sender<()>, AbortOnDrop),
) {
    while let Some((heard, change)) = rx.recv().await {
        let (what, started) = (name(&change), Instant::now());
        apply(&state, change, &policy_wake).await;
        // How long an announcement waited here and took to apply: the part of the
        // propagation delay this replica adds (docs/deployment.md, "Measured").
        tracing::debug!(
            change = what,
            waited_us = started.duration_since(heard).as_micros(),
            applied_us = started.elapsed().as_micros(),
            "applied another replica's change"
        );
    }
}

async fn apply(state: &Arc<State>, change: Change, policy_wake: &mpsc::Sender<()>) {
    match change {
        // Refused already, as it was heard (`follow`); the store stays the truth.
        Change::Revocations | Change::Revoked { .. } => reload_revocations(state).await,
        Change::Quarantines => reload_quarantines(state).await,
        Change::Workflow(id) => reload_workflow(state, id).await,
        Change::Policy => {
            // Full: a wake-up is pending, and the follow it starts reads the newest set.
            let _ = policy_wake.try_send(());
        }
        Change::Approvals => state.approvals.changed_elsewhere(),
        Change::Resync => {
            crate::policy_reload::follow(state).await;
            state.approvals.changed_elsewhere();
            reload_revocations(state).await;
            reload_quarantines(state).await;
            for id in state.workflows.cached_ids() {
                reload_workflow(state, id.as_str().to_owned()).await;
            }
        }
        // After `Resync` (on a reconnect) was applied above: only then is nothing missed.
        Change::Connected => {
            state.feed.live();
            tracing::info!("following other replicas' changes");
        }
        Change::Lost(reason) => {
            state.feed.lost(state.clock.now().millis());
            tracing::warn!(%reason, "lost the feed of other replicas' changes; reconnecting");
        }
    }
}

fn name(change: &Change) -> &'static str {
    match change {
        Change::Revocations => "revocations",
        Change::Revoked { .. } => "revoked",
        Change::Quarantines => "quarantines",
        Change::Workflow(_) => "workflow",
        Change::Policy => "policy",
        Change::Approvals => "approvals",
        Change::Resync => "resync",
        Change::Connected => "connected",
        Change::Lost(_) => "lost",
    }
}

/// Puts shared policy sets in force as they are announced, on a task of its own: a set
/// is built (Cedar) before it is swapped in, and revocations, quarantines and approvals
/// announced meanwhile must not wait behind that. Announcements during a build coalesce
/// into one more follow, which reads the newest set. Ends with `apply_all`.
async fn follow_policy(state: Arc<State>, mut woken: mpsc::Receiver<()>) {
    while woken.recv().await.is_some() {
        crate::policy_reload::follow(&state).await;
    }
}

/// How many times a re-read is tried when changes made here keep landing during it; the
/// changes' own announcements bring another re-read anyway.
const REREADS: usize = 5;

/// Re-reads revocations; a read overtaken by a revocation made here is read again, so it
/// cannot undo it.
async fn reload_revocations(state: &State) {
    for _ in 0..REREADS {
        let (store, seen) = (Arc::clone(&state.store), state.revocations.changes());
        let now = state.clock.now().secs();
        match store_call("revocations", move || store.revocations(now)).await {
            Ok(stored) => {
                if state.revocations.replace(stored, seen) {
                    return;
                }
            }
            Err(error) => {
                tracing::error!(%error, "cannot read revocations another replica changed");
                return;
            }
        }
    }
}

/// Refuses what an announced revocation covers before anything is read: no store round
/// trip stands between another replica's revocation and the refusal here. Only ever
/// adds (failing closed); the re-read that follows is the truth, and counting this as
/// a change here makes a re-read already under way read again rather than undo it.
fn revoke_at_once(state: &State, kind: RevocationKind, subject: &str, expires_at: Option<i64>) {
    match kind {
        RevocationKind::Token => {
            // As a stored revocation without an expiry is held (`Revocations::replace`).
            state
                .revocations
                .revoke_token(subject, expires_at.unwrap_or(i64::MAX));
        }
        RevocationKind::Agent => state.revocations.revoke_agent(subject),
        // A revoked workflow is an ended one, announced as such.
        RevocationKind::Workflow => {}
    }
}

/// Re-reads quarantines, as [`reload_revocations`] re-reads revocations.
async fn reload_quarantines(state: &State) {
    for _ in 0..REREADS {
        let (store, seen) = (Arc::clone(&state.store), state.quarantines.changes());
        let now = state.clock.now().millis();
        match store_call("quarantines", move || store.quarantines(now)).await {
            Ok(stored) => {
                if state.quarantines.restore_read_after(stored, seen) {
                    return;
                }
            }
            Err(error) => {
                tracing::error!(%error, "cannot read quarantines another replica changed");
                return;
            }
        }
    }
}

/// Ends this replica's copy of a workflow the store says is over, or resumes it when
/// another replica extended the budget it was paused for.
async fn reload_workflow(state: &State, id: String) {
    let store = Arc::clone(&state.store);
    let key = gatehouse_core::model::WorkflowId::new(id.as_str());
    match store_call("workflow store", move || store.workflow(&key)).await {
        Ok(Some(stored)) if matches!(stored.status, Status::Ended) => {
            let by = stored.ended_by.as_deref().unwrap_or("another replica");
            if state.workflows.end_if_cached(&id, by) {
                tracing::info!(workflow = %id, %by, "workflow ended on another replica");
            }
        }
        Ok(Some(stored)) => {
            if state.workflows.adopt_if_cached(&stored) {
                tracing::info!(workflow = %id, "workflow resumed on another replica");
            }
        }
        Ok(None) => {}
        Err(error) => {
            tracing::error!(%error, workflow = %id, "cannot read a workflow another replica changed")
        }
    }
}
