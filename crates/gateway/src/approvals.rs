//! Confirmations and approvals at run time: created by the tier phase, decided on the
//! control plane, executed once by Gatehouse itself, awaited or polled by the agent.
//!
//! The state machine is `gatehouse_core::approval`; this module keeps approvals in the
//! store and applies each transition as a compare-and-set ([`Store::replace_approval`]):
//! read, transition, write only if nobody (no other replica) wrote in between, else read
//! again. Within one replica a lock also serialises transitions, so retries happen only
//! between replicas. Approvals are rare and never on the path of a low-tier call.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use gatehouse_core::approval::{Approval, ApprovalError, ApprovalStatus};
use gatehouse_core::clock::SharedClock;
use gatehouse_core::config::ApprovalSettings;
use gatehouse_core::ids::ApprovalId;
use gatehouse_store::{ApprovalFilter, Store, StoreError};
use tokio::sync::{Mutex, watch};

use crate::blocking::store_call;
use crate::notify::Notifier;

/// One transition of an approval, applied under the transitions lock. It may run more
/// than once: again on what another replica wrote, when that replica won the race.
pub type Transition<'a, T> = Box<dyn FnMut(&mut Approval) -> Result<T, ApprovalError> + Send + 'a>;

/// Why an approval could not be changed.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error("no approval `{0}`")]
    NotFound(ApprovalId),
    #[error(transparent)]
    Refused(#[from] ApprovalError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How often a transition is tried again after other replicas changed the approval
/// under it; more means something is writing it in a loop.
const CONTENDED_RETRIES: usize = 8;

/// Another writer kept changing the approval: the caller may try again.
fn contended(id: &ApprovalId) -> StoreError {
    StoreError::Unavailable {
        location: "approval store".to_owned(),
        detail: format!(
            "approval `{id}` was changed by another replica at the same time; try again"
        ),
    }
}

/// What the tier phase (`pipeline/tier.rs`) reads to ask for a confirmation or park a
/// call: the approvals, whom a parked call is told, the approval settings and the clock.
#[derive(Debug, Clone, Copy)]
pub struct Checkpoints<'a> {
    pub approvals: &'a Approvals,
    pub notifier: &'a Notifier,
    pub settings: &'a ApprovalSettings,
    pub clock: &'a SharedClock,
}

/// All approvals, through the store.
#[derive(Debug)]
pub struct Approvals {
    store: Arc<dyn Store>,
    transitions: Mutex<()>,
    changed: watch::Sender<u64>,
    /// Runs an approved call: set once at start-up by the composition root, which alone
    /// knows the faces that can replay a parked call (`approved.rs`).
    runner: OnceLock<Runner>,
}

/// Starts the execution of approval `id` in the background.
pub struct Runner(pub Box<dyn Fn(ApprovalId) + Send + Sync>);

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Runner")
    }
}

impl Approvals {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            transitions: Mutex::new(()),
            changed: watch::Sender::new(0),
            runner: OnceLock::new(),
        }
    }

    /// Sets what runs approved calls; only the first call has effect.
    pub fn set_runner(&self, runner: Runner) {
        if self.runner.set(runner).is_err() {
            tracing::warn!("the approved-call runner was set twice; the first is kept");
        }
    }

    /// An approval just became `approved`: run it, exactly once (the execution itself
    /// claims it in the store, so a second start is a no-op).
    pub fn run_approved(&self, id: &ApprovalId) {
        match self.runner.get() {
            Some(Runner(run)) => run(id.clone()),
            None => {
                tracing::error!(approval = %id, "no runner for approved calls: it stays approved, not run")
            }
        }
    }

    /// Stores a new approval.
    pub async fn create(&self, approval: Approval) -> Result<Approval, StoreError> {
        let _held = self.transitions.lock().await;
        self.put(approval.clone()).await?;
        Ok(approval)
    }

    /// Stores a new approval unless its workflow already has `max` live ones waiting
    /// (`Ok(None)` then). Counted under the transitions lock, so parallel calls cannot
    /// all squeeze past the bound.
    pub async fn create_bounded(
        &self,
        approval: Approval,
        max: usize,
        now_secs: i64,
    ) -> Result<Option<Approval>, StoreError> {
        let _held = self.transitions.lock().await;
        let filter = ApprovalFilter {
            status: Some(ApprovalStatus::Pending),
            workflow: Some(approval.workflow.clone()),
            checkpoint: Some(approval.checkpoint),
            limit: u32::try_from(max.saturating_add(1)).ok(),
            ..ApprovalFilter::default()
        };
        let waiting = self
            .list(filter)
            .await?
            .iter()
            .filter(|pending| pending.expires_at > now_secs)
            .count();
        if waiting >= max {
            return Ok(None);
        }
        self.put(approval.clone()).await?;
        Ok(Some(approval))
    }

    pub async fn get(&self, id: &ApprovalId) -> Result<Option<Approval>, StoreError> {
        let store = Arc::clone(&self.store);
        let id = id.clone();
        store_call("approval store", move || store.approval(&id)).await
    }

    pub async fn list(&self, filter: ApprovalFilter) -> Result<Vec<Approval>, StoreError> {
        let store = Arc::clone(&self.store);
        store_call("approval store", move || store.list_approvals(&filter)).await
    }

    /// Applies one transition to the stored approval; stores it only if it succeeded.
    /// Another replica's write in between makes the transition run again on what it
    /// wrote (which may now refuse it: approved twice, say).
    pub async fn update<T>(
        &self,
        id: &ApprovalId,
        transition: Transition<'_, T>,
    ) -> Result<(Approval, T), UpdateError> {
        let _held = self.transitions.lock().await;
        let mut transition = transition;
        for _ in 0..CONTENDED_RETRIES {
            let current = self
                .get(id)
                .await?
                .ok_or_else(|| UpdateError::NotFound(id.clone()))?;
            let mut next = current.clone();
            let outcome = transition(&mut next)?;
            if self.replace(current, next.clone()).await? {
                return Ok((next, outcome));
            }
        }
        Err(contended(id).into())
    }

    /// Applies a transition that may change nothing (expiry, cancellation); stores it if
    /// it did, retrying on what another replica wrote in between.
    pub async fn touch(
        &self,
        id: &ApprovalId,
        transition: Box<dyn Fn(&mut Approval) -> bool + Send + Sync + '_>,
    ) -> Result<Option<Approval>, StoreError> {
        let _held = self.transitions.lock().await;
        for _ in 0..CONTENDED_RETRIES {
            let Some(current) = self.get(id).await? else {
                return Ok(None);
            };
            let mut next = current.clone();
            if !transition(&mut next) {
                return Ok(None);
            }
            if self.replace(current, next.clone()).await? {
                return Ok(Some(next));
            }
        }
        Err(contended(id))
    }

    /// Another replica changed an approval (announced through the store): calls held
    /// here read theirs again.
    pub(crate) fn changed_elsewhere(&self) {
        self.changed
            .send_modify(|version| *version = version.wrapping_add(1));
    }

    /// Waits up to `timeout` for the approval to be final (or executed); returns it as it is then.
    pub async fn wait(
        &self,
        id: &ApprovalId,
        timeout: Duration,
    ) -> Result<Option<Approval>, StoreError> {
        let mut changed = self.changed.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let approval = self.get(id).await?;
            let settled = approval.as_ref().is_none_or(Approval::is_final);
            if settled || tokio::time::Instant::now() >= deadline {
                return Ok(approval);
            }
            if tokio::time::timeout_at(deadline, changed.changed())
                .await
                .is_err()
            {
                return self.get(id).await;
            }
        }
    }

    /// Approvals not yet run or settled that match `filter` (its status is ignored).
    pub async fn open_ones(&self, filter: ApprovalFilter) -> Result<Vec<Approval>, StoreError> {
        let mut open = Vec::new();
        for status in [ApprovalStatus::Pending, ApprovalStatus::Approved] {
            let filter = ApprovalFilter {
                status: Some(status),
                limit: Some(gatehouse_store::MAX_LIMIT),
                ..filter.clone()
            };
            open.extend(self.list(filter).await?);
        }
        Ok(open)
    }

    /// Moves every open approval past its expiry to expired; returns them.
    pub async fn expire_due(&self, now_secs: i64) -> Result<Vec<Approval>, StoreError> {
        let mut expired = Vec::new();
        for approval in self.open_ones(ApprovalFilter::default()).await? {
            let changed = self
                .touch(
                    &approval.id,
                    Box::new(move |approval| approval.expire_if_due(now_secs)),
                )
                .await?;
            expired.extend(changed);
        }
        Ok(expired)
    }

    /// Cancels every open approval matching `filter` (its workflow ended, its agent was
    /// revoked); returns them.
    pub async fn cancel(&self, filter: ApprovalFilter) -> Result<Vec<Approval>, StoreError> {
        let mut cancelled = Vec::new();
        for approval in self.open_ones(filter).await? {
            cancelled.extend(self.touch(&approval.id, Box::new(Approval::cancel)).await?);
        }
        Ok(cancelled)
    }

    /// Compare-and-set through the store; tells waiters when it wrote.
    async fn replace(&self, current: Approval, next: Approval) -> Result<bool, StoreError> {
        let store = Arc::clone(&self.store);
        let written = store_call("approval store", move || {
            store.replace_approval(&current, &next)
        })
        .await?;
        if written {
            self.changed
                .send_modify(|version| *version = version.wrapping_add(1));
        }
        Ok(written)
    }

    async fn put(&self, approval: Approval) -> Result<(), StoreError> {
        let store = Arc::clone(&self.store);
        store_call("approval store", move || store.put_approval(&approval)).await?;
        self.changed
            .send_modify(|version| *version = version.wrapping_add(1));
        Ok(())
    }
}
