//! Live workflows: the budget and lifecycle state machine of `gatehouse_core::workflow`,
//! held in memory for the hot path and written behind to the store.
//!
//! Budgets must not make the hot path take a global lock: workflows sit in shards of a
//! map under read locks, and each workflow has its own mutex, held only for the few
//! instructions of a reservation. A workflow missing from memory (after a restart) is
//! loaded from the store on first use.
//!
//! Write-behind alone would lose spending to a `kill -9`, so a call goes upstream only
//! once a durable lease covers what it spent (`gatehouse_core::workflow::Lease`): a store
//! write once per slice of the budget, not per call. After a crash the store reads usage
//! as at least the lease; a clean shutdown writes usage and releases the leases.
//!
//! On a store shared by several replicas, each spends only from slices of the
//! workflow's budget it reserved in the store (`slices`), so together they stay exact.

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use gatehouse_core::model::WorkflowId;
use gatehouse_core::workflow::{
    Budget, BudgetRefusal, BytesCut, Lease, Status, TransitionError, Workflow,
};
use gatehouse_store::{Store, StoreError};
use tokio::sync::watch;

use crate::blocking::store_call;

mod handles;
mod slices;

pub use handles::{Budgets, Pauses};

use slices::Shared;

const SHARDS: usize = 32;

/// One workflow in memory.
#[derive(Debug)]
pub struct LiveWorkflow {
    state: Mutex<Held>,
    /// One lease write at a time per workflow: calls that need a lease while another is
    /// being written wait for it and usually find themselves covered.
    leasing: Mutex<()>,
    /// Changed since last written to the store.
    dirty: AtomicBool,
    /// Turns true when the workflow ends or expires; in-flight calls listen to cut.
    over: watch::Sender<bool>,
    /// Shared by every workflow: set when shutdown writes usage for the last time and
    /// releases the leases; from then on nothing more is spent.
    closed: Arc<AtomicBool>,
}

/// The workflow and what the store durably holds of its spending, under one lock so the
/// hot path learns whether a call is covered in the same few instructions that count it.
#[derive(Debug)]
struct Held {
    workflow: Workflow,
    lease: Lease,
    /// On a shared store: this replica's slices of the workflow's budget pool, which
    /// stand in for the lease.
    shared: Option<Shared>,
}

/// Whether what a call just spent is within the durable lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Cover {
    /// The call may go upstream.
    Durable,
    /// A larger lease must be written first ([`LiveWorkflow::extend_lease`]).
    NeedsLease,
    /// Nothing was reserved: this replica's share of a shared budget must grow first
    /// ([`LiveWorkflow::claim_slice`]); then reserve again.
    NeedsSlice,
    /// Nothing was reserved: the gateway is shutting down and has written its last usage.
    Closing,
}

impl LiveWorkflow {
    /// A workflow as read from the store, whose usage there is durable.
    fn new(workflow: Workflow, closed: Arc<AtomicBool>, shared: bool) -> Self {
        let over = !workflow.is_live();
        let lease = Lease::held(&workflow);
        let shared = shared.then(Shared::default);
        Self {
            state: Mutex::new(Held {
                workflow,
                lease,
                shared,
            }),
            leasing: Mutex::new(()),
            dirty: AtomicBool::new(false),
            over: watch::Sender::new(over),
            closed,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Held> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn snapshot(&self) -> Workflow {
        self.lock().workflow.clone()
    }

    /// Counts one call against the budget before it is forwarded; the call may go
    /// upstream once its [`Cover`] is durable.
    pub fn reserve(
        &self,
        now_secs: i64,
        write: bool,
        request_bytes: u64,
    ) -> Result<Cover, BudgetRefusal> {
        let mut held = self.lock();
        // Under the lock, so a reservation is either in shutdown's last write or refused.
        if self.closed.load(Ordering::Acquire) {
            return Ok(Cover::Closing);
        }
        let Held {
            workflow, shared, ..
        } = &mut *held;
        if let Some(shared) = shared
            && shared.needs_slice(workflow, now_secs, write, request_bytes)
        {
            return Ok(Cover::NeedsSlice);
        }
        let result = held.workflow.reserve(now_secs, write, request_bytes);
        if result.is_ok()
            && let Some(shared) = held.shared.as_mut()
        {
            shared.spend(write, request_bytes);
        }
        let (cover, live) = (held.cover(), held.workflow.is_live());
        // Marked dirty before the lock goes, so a concurrent write-behind cannot miss it.
        self.changed_to(live);
        drop(held);
        result.map(|()| cover)
    }

    /// Refuses, counting nothing, unless the workflow is active.
    pub fn ensure_active(&self, now_secs: i64) -> Result<(), BudgetRefusal> {
        // Expires it first if due, as `reserve` would.
        let _ = self.is_over(now_secs);
        self.lock().workflow.ensure_active()
    }

    /// Counts streamed bytes; the cut says how many of them still fit. Bytes past the
    /// durable lease are leased first, with a store write on this thread (once per slice
    /// of the byte budget: a response body is polled synchronously); when that write
    /// fails, nothing more is let through.
    pub fn add_bytes(&self, bytes: u64, store: &dyn Store) -> Result<(), BytesCut> {
        if bytes == 0 {
            return Ok(());
        }
        let mut held = self.lock();
        if held.shared.is_some() && !self.closed.load(Ordering::Acquire) {
            drop(held);
            return self.add_shared_bytes(bytes, store);
        }
        let (usage, budget) = (held.workflow.usage, held.workflow.budget);
        if self.closed.load(Ordering::Acquire) {
            return Err(BytesCut {
                allowed: 0,
                usage,
                budget,
            });
        }
        let result = held.workflow.add_bytes(bytes);
        let (cover, live) = (held.cover(), held.workflow.is_live());
        let (usage, budget) = (held.workflow.usage, held.workflow.budget);
        self.changed_to(live);
        drop(held);
        if cover == Cover::NeedsLease
            && let Err(error) = self.extend_lease(store)
        {
            tracing::error!(%error, "cannot lease the byte budget; cutting the stream");
            return Err(BytesCut {
                allowed: 0,
                usage,
                budget,
            });
        }
        result
    }

    /// Writes a lease covering what is spent now, unless one already does; blocking.
    pub fn extend_lease(&self, store: &dyn Store) -> Result<(), StoreError> {
        let _one = self
            .leasing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (id, next) = {
            let held = self.lock();
            if held.cover() == Cover::Durable {
                return Ok(());
            }
            let workflow = &held.workflow;
            (
                workflow.id.clone(),
                held.lease.next(workflow.usage, workflow.budget),
            )
        };
        store.put_lease(&id, next)?;
        self.lock().lease.granted(next);
        Ok(())
    }

    pub fn end(&self, by: &str) -> Result<(), TransitionError> {
        let result = self.lock().workflow.end(by);
        self.changed();
        result
    }

    pub fn resume(&self, now_secs: i64, extension: Budget) -> Result<(), TransitionError> {
        let result = self.lock().workflow.resume(now_secs, extension);
        self.changed();
        result
    }

    /// Expires the workflow if due; true when it is (now) expired or ended.
    pub fn is_over(&self, now_secs: i64) -> bool {
        let mut held = self.lock();
        if held.workflow.expire_if_due(now_secs) {
            drop(held);
            self.changed();
            return true;
        }
        !held.workflow.is_live()
    }

    /// Resolves once the workflow has ended or expired.
    pub fn over_signal(&self) -> watch::Receiver<bool> {
        self.over.subscribe()
    }

    fn changed(&self) {
        let live = self.lock().workflow.is_live();
        self.changed_to(live);
    }

    fn changed_to(&self, live: bool) {
        self.dirty.store(true, Ordering::Release);
        if !live {
            self.over.send_replace(true);
        }
    }
}

impl Held {
    fn cover(&self) -> Cover {
        // A shared budget's slices are durable in the store before they are spent.
        if self.shared.is_some() || self.lease.covers(self.workflow.usage) {
            Cover::Durable
        } else {
            Cover::NeedsLease
        }
    }
}

/// All workflows this gateway has seen.
#[derive(Debug)]
pub struct Workflows {
    shards: [RwLock<HashMap<WorkflowId, Arc<LiveWorkflow>>>; SHARDS],
    store: Arc<dyn Store>,
    /// Set by [`flush_and_release`](Self::flush_and_release); see [`Cover::Closing`].
    closed: Arc<AtomicBool>,
    /// Other replicas share the store: budgets are spent from slices of its pools.
    shared: bool,
}

impl Workflows {
    pub fn new(store: Arc<dyn Store>) -> Self {
        let shared = store.is_shared();
        Self {
            shards: std::array::from_fn(|_| RwLock::new(HashMap::new())),
            store,
            closed: Arc::new(AtomicBool::new(false)),
            shared,
        }
    }

    #[expect(
        clippy::indexing_slicing,
        reason = "the index is reduced modulo SHARDS"
    )]
    fn shard(&self, id: &str) -> &RwLock<HashMap<WorkflowId, Arc<LiveWorkflow>>> {
        let mut hasher = DefaultHasher::new();
        id.hash(&mut hasher);
        &self.shards[(hasher.finish() % SHARDS as u64) as usize]
    }

    /// The workflow from memory, or from the store on first use.
    pub async fn get(&self, id: &str) -> Result<Option<Arc<LiveWorkflow>>, StoreError> {
        if let Some(live) = self.cached(id) {
            return Ok(Some(live));
        }
        let store = Arc::clone(&self.store);
        let key = WorkflowId::new(id);
        let stored = store_call("workflow store", move || store.workflow(&key)).await?;
        Ok(stored.map(|workflow| self.remember(workflow)))
    }

    /// The workflow `id` if this gateway holds it now; the store is not asked.
    pub fn cached(&self, id: &str) -> Option<Arc<LiveWorkflow>> {
        let shard = self
            .shard(id)
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        shard.get(id).cloned()
    }

    /// Caches `workflow` unless another copy got there first; returns the cached one.
    pub fn remember(&self, workflow: Workflow) -> Arc<LiveWorkflow> {
        let mut shard = self
            .shard(workflow.id.as_str())
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let id = workflow.id.clone();
        Arc::clone(shard.entry(id).or_insert_with(|| {
            Arc::new(LiveWorkflow::new(
                workflow,
                Arc::clone(&self.closed),
                self.shared,
            ))
        }))
    }

    /// The workflow named by a token exchange: the stored one if it exists, else
    /// `candidate`, created atomically in the store so concurrent exchanges agree.
    pub async fn open(&self, candidate: Workflow) -> Result<Arc<LiveWorkflow>, StoreError> {
        if let Some(live) = self.get(candidate.id.as_str()).await? {
            return Ok(live);
        }
        let store = Arc::clone(&self.store);
        let stored =
            store_call("workflow store", move || store.create_workflow(&candidate)).await?;
        Ok(self.remember(stored))
    }

    /// Workflows read from the store, as this gateway holds them now: the store counts
    /// durable leases as spent (what a crash would leave), memory knows what was spent.
    pub fn as_held(&self, stored: Vec<Workflow>) -> Vec<Workflow> {
        stored
            .into_iter()
            .map(|workflow| match self.cached(workflow.id.as_str()) {
                Some(live) => live.snapshot(),
                None => workflow,
            })
            .collect()
    }

    /// Writes every changed workflow to the store (and, on a shared store, returns the
    /// budget slices left idle).
    pub async fn flush(&self) -> Result<(), StoreError> {
        if self.shared {
            self.settle_idle().await;
        }
        let dirty: Vec<Workflow> = self.take_dirty();
        if dirty.is_empty() {
            return Ok(());
        }
        let store = Arc::clone(&self.store);
        let result = store_call("workflow store", move || {
            dirty
                .iter()
                .try_for_each(|workflow| store.put_workflow(workflow))
        })
        .await;
        if result.is_err() {
            // Nothing is lost: mark everything dirty again so the next flush retries.
            self.mark_all_dirty();
        }
        result
    }

    fn take_dirty(&self) -> Vec<Workflow> {
        let mut dirty = Vec::new();
        for shard in &self.shards {
            let shard = shard
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            for live in shard.values() {
                if live.dirty.swap(false, Ordering::AcqRel) {
                    dirty.push(live.snapshot());
                }
            }
        }
        dirty
    }

    fn mark_all_dirty(&self) {
        for shard in &self.shards {
            let shard = shard
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            for live in shard.values() {
                live.dirty.store(true, Ordering::Release);
            }
        }
    }

    /// The workflows held in memory.
    fn all(&self) -> Vec<Arc<LiveWorkflow>> {
        let mut all = Vec::new();
        for shard in &self.shards {
            let shard = shard
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            all.extend(shard.values().cloned());
        }
        all
    }

    /// Ids of the workflows held in memory.
    pub fn cached_ids(&self) -> Vec<WorkflowId> {
        let mut ids = Vec::new();
        for shard in &self.shards {
            let shard = shard
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            ids.extend(shard.keys().cloned());
        }
        ids
    }

    /// Ends the copy in memory, if any, of a workflow another replica ended (read back
    /// from the store), so calls here stop too; true when it was live here.
    pub fn end_if_cached(&self, id: &str, by: &str) -> bool {
        self.cached(id).is_some_and(|live| live.end(by).is_ok())
    }

    /// For a clean shutdown: stops all spending, writes every changed workflow, then
    /// releases the leases, since the usage written is now exact. Leases stay when the
    /// write failed. On a shared store, what this replica reserved and did not spend
    /// goes back to each pool.
    pub async fn flush_and_release(&self) -> Result<(), StoreError> {
        self.closed.store(true, Ordering::Release);
        self.flush().await?;
        if self.shared {
            self.settle_shares().await?;
        }
        let store = Arc::clone(&self.store);
        store_call("workflow store", move || store.release_leases()).await
    }

    /// Ends every live workflow of `agent` (in memory and in the store).
    pub async fn end_all_of(&self, agent: &str, by: &str) -> Result<usize, StoreError> {
        let store = Arc::clone(&self.store);
        let filter_agent = agent.to_owned();
        let stored = store_call("workflow store", move || {
            let mut all = Vec::new();
            for status in [Status::Active, Status::Paused] {
                let filter = gatehouse_store::WorkflowFilter {
                    agent: Some(filter_agent.clone()),
                    status: Some(status),
                    limit: Some(gatehouse_store::MAX_LIMIT),
                };
                all.extend(store.list_workflows(&filter)?);
            }
            Ok::<_, StoreError>(all)
        })
        .await?;
        let mut ended = 0;
        for workflow in stored {
            let live = self.remember(workflow);
            if live.end(by).is_ok() {
                ended += 1;
            }
        }
        self.flush().await?;
        Ok(ended)
    }
}

#[cfg(test)]
mod tests;
