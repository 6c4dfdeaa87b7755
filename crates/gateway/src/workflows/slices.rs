//! Budgets shared by replicas (a shared store, [`Store::is_shared`]): each replica spends
//! a workflow's budget only from slices it reserved in the workflow's pool in the store
//! (`gatehouse_core::workflow::{Pool, Share}`), so however calls are spread over
//! replicas, together they never pass a limit.
//!
//! A call that fits in this replica's unspent slice costs what it costs on one node: a
//! few instructions under the workflow's lock, no store round trip. The call that finds
//! the slice spent claims the next one (one store transaction; slices shrink as the
//! budget runs out, to one call at a time near the end) and tries again. A slice is
//! durable in the store before any call spends it, so no lease is needed: a replica
//! killed with a slice outstanding leaves it counted as spent (under-spending, never
//! over-spending); a clean shutdown settles what it did not spend, and so does a
//! replica whose slice sat unspent for [`IDLE_FLUSHES`] write-behind ticks (the calls
//! went to other replicas), so the others can still spend it.

use std::sync::Arc;

use gatehouse_core::model::WorkflowId;
use gatehouse_core::workflow::{
    Ask, Budget, BudgetKind, BytesCut, Claim, Pool, Share, Status, Usage, Workflow,
};
use gatehouse_store::{Store, StoreError};

use super::{Held, LiveWorkflow, Workflows};
use crate::blocking::store_call;

/// Write-behind ticks (200 ms each) without a call spending from a slice before its
/// unspent part goes back to the pool: about two seconds.
pub(super) const IDLE_FLUSHES: u8 = 10;

/// This replica's part of a workflow's budget pool.
#[derive(Debug, Default)]
pub(super) struct Shared {
    share: Share,
    /// The pool as the last claim left it.
    pool: Pool,
    /// Write-behind ticks since a call last spent here.
    idle: u8,
}

impl Shared {
    /// Whether a call must claim a slice before it can be counted: this replica's share
    /// does not cover it, though the pool (as last seen) may. A call the pool cannot
    /// cover either, or of a workflow not active (expired by `now_secs`, say), goes on to
    /// be refused by the workflow's own check, claiming nothing.
    pub(super) fn needs_slice(
        &self,
        workflow: &mut Workflow,
        now_secs: i64,
        write: bool,
        bytes: u64,
    ) -> bool {
        workflow.expire_if_due(now_secs);
        workflow.status == Status::Active
            && !self.share.covers(Share::cost(write, 1, bytes))
            && workflow.fits(write, bytes)
    }

    /// Counts a call the workflow reserved (its share covered it).
    pub(super) fn spend(&mut self, write: bool, bytes: u64) {
        self.share.spend(Share::cost(write, 1, bytes));
        self.idle = 0;
    }
}

impl Held {
    /// Takes in a claim's answer: the grant joins the share, and the workflow's usage
    /// and limits become this replica's view of the pool, so its own budget check
    /// refuses (and pauses) exactly when the pool has nothing left for a call.
    fn absorb(&mut self, claim: Claim) {
        let Some(shared) = self.shared.as_mut() else {
            return;
        };
        if let Some(grant) = claim.granted {
            shared.share.granted(grant);
        }
        shared.pool = claim.pool;
        self.workflow.usage = shared.share.usage_view(&claim.pool);
        self.workflow.budget = claim.pool.limit;
    }
}

impl LiveWorkflow {
    /// Claims from the pool what a call (a write if `write`, with `bytes`) needs beyond
    /// this replica's unspent share, plus a slice; blocking. One claim at a time per
    /// workflow: calls waiting behind it usually find themselves covered.
    pub fn claim_slice(
        &self,
        store: &dyn Store,
        write: bool,
        bytes: u64,
    ) -> Result<(), StoreError> {
        self.claim(store, Share::cost(write, 1, bytes), false)
    }

    fn claim(&self, store: &dyn Store, cost: Usage, partial_bytes: bool) -> Result<(), StoreError> {
        let _one = self
            .leasing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (id, need) = {
            let held = self.lock();
            let Some(shared) = &held.shared else {
                return Ok(());
            };
            if shared.share.covers(cost) {
                return Ok(());
            }
            (held.workflow.id.clone(), shared.share.shortfall(cost))
        };
        let claim = store.claim_budget(
            &id,
            Ask {
                need,
                partial_bytes,
            },
        )?;
        self.lock().absorb(claim);
        Ok(())
    }

    /// Streamed bytes on a shared store: what this replica's share covers goes through,
    /// claiming more first when it does not (taking what is left when less than asked
    /// remains); the cut says how many fit. A grant that a concurrent response on this
    /// replica spent first is claimed again, so a stream is cut only where the pool ends
    /// (or when the store cannot be reached).
    pub(super) fn add_shared_bytes(&self, bytes: u64, store: &dyn Store) -> Result<(), BytesCut> {
        let cost = Share::cost(false, 0, bytes);
        let mut last = false;
        loop {
            if let Some(result) = self.spend_bytes(bytes, last) {
                return result;
            }
            if let Err(error) = self.claim(store, cost, true) {
                tracing::error!(%error, "cannot reserve the byte budget; cutting the stream");
                last = true;
                continue;
            }
            last = self
                .lock()
                .shared
                .as_ref()
                .is_none_or(|shared| shared.pool.free(BudgetKind::Bytes) == 0);
        }
    }

    /// Counts `bytes` when this replica's share covers them; when it does not, and this
    /// is the `last` try, lets through what it covers, setting the workflow's view so its
    /// own check cuts exactly there (and pauses it). `None`: claim more first.
    fn spend_bytes(&self, bytes: u64, last: bool) -> Option<Result<(), BytesCut>> {
        let mut held = self.lock();
        let unspent = held
            .shared
            .as_ref()
            .map_or(0, |shared| shared.share.unspent().bytes);
        if unspent < bytes && !last {
            return None;
        }
        let allowed = unspent.min(bytes);
        if allowed < bytes {
            let workflow = &mut held.workflow;
            workflow.usage.bytes = workflow.budget.bytes.saturating_sub(allowed);
        }
        let result = held.workflow.add_bytes(bytes);
        if let Some(shared) = held.shared.as_mut() {
            shared.share.spend(Share::cost(false, 0, allowed));
            shared.idle = 0;
        }
        let live = held.workflow.is_live();
        drop(held);
        self.changed_to(live);
        Some(result)
    }

    /// What this replica reserved and did not spend, on a shared store.
    fn unspent(&self) -> Option<Usage> {
        self.lock()
            .shared
            .as_ref()
            .map(|shared| shared.share.unspent())
    }

    fn settled(&self) {
        if let Some(shared) = self.lock().shared.as_mut() {
            shared.share.settled();
        }
    }

    /// One write-behind tick: after [`IDLE_FLUSHES`] of them with nothing spent here,
    /// takes this replica's unspent slice out of its share (no call here can spend it
    /// from now on) for the caller to settle.
    fn take_idle(&self) -> Option<Usage> {
        let mut held = self.lock();
        let shared = held.shared.as_mut()?;
        shared.idle = shared.idle.saturating_add(1);
        let unspent = shared.share.unspent();
        if shared.idle < IDLE_FLUSHES || unspent == Usage::default() {
            return None;
        }
        shared.share.settled();
        // The pool as seen here loses it too, so this replica's view of the usage stays.
        shared.pool.settle(unspent);
        Some(unspent)
    }

    /// Resumes this copy, paused for a budget, when the stored workflow (read after
    /// another replica's resume) has more of that budget than this copy has spent; true
    /// when it did.
    fn adopt(&self, stored: &Workflow) -> bool {
        let mut held = self.lock();
        let workflow = &mut held.workflow;
        if workflow.status != Status::Paused || !stored.is_live() {
            return false;
        }
        let kind = workflow.paused_for.unwrap_or(BudgetKind::Calls);
        if stored.budget.of(kind) <= workflow.usage.of(kind) {
            return false;
        }
        workflow.budget = larger(workflow.budget, stored.budget);
        workflow.status = Status::Active;
        workflow.paused_for = None;
        drop(held);
        self.changed();
        true
    }
}

impl Workflows {
    /// At a clean shutdown on a shared store (spending already stopped): returns to each
    /// pool what this replica reserved and did not spend.
    pub(super) async fn settle_shares(&self) -> Result<(), StoreError> {
        let held: Vec<(WorkflowId, Arc<LiveWorkflow>, Usage)> = self
            .all()
            .into_iter()
            .filter_map(|live| {
                let unspent = live.unspent()?;
                Some((live.snapshot().id, live, unspent))
            })
            .collect();
        let store = Arc::clone(&self.store);
        store_call("workflow store", move || {
            for (id, live, unspent) in held {
                store.settle_budget(&id, unspent)?;
                live.settled();
            }
            Ok(())
        })
        .await
    }

    /// Returns the slices no call spent from for a while (see [`IDLE_FLUSHES`]). A
    /// failed settlement leaves them reserved: under-spending, never over-spending.
    pub(super) async fn settle_idle(&self) {
        let idle: Vec<(WorkflowId, Usage)> = self
            .all()
            .into_iter()
            .filter_map(|live| Some((live.snapshot().id, live.take_idle()?)))
            .collect();
        if idle.is_empty() {
            return;
        }
        let store = Arc::clone(&self.store);
        let settled = store_call("workflow store", move || {
            idle.iter()
                .try_for_each(|(id, unspent)| store.settle_budget(id, *unspent))
        })
        .await;
        if let Err(error) = settled {
            tracing::warn!(%error, "cannot return idle budget slices; they stay spent");
        }
    }

    /// After an operator's resume here: raises the workflow's pool by `extension` and
    /// tells every other replica, so copies paused there resume too. Nothing to do on
    /// the embedded store.
    pub async fn extend_shared(
        &self,
        id: &WorkflowId,
        extension: Budget,
    ) -> Result<(), StoreError> {
        if !self.shared {
            return Ok(());
        }
        let (store, id) = (Arc::clone(&self.store), id.clone());
        store_call("workflow store", move || {
            store.extend_budget(&id, extension)
        })
        .await
    }

    /// Applies a workflow another replica changed (read back from the store) to the
    /// copy here, if any: resumes it when it was paused for a budget now extended.
    pub fn adopt_if_cached(&self, stored: &Workflow) -> bool {
        self.cached(stored.id.as_str())
            .is_some_and(|live| live.adopt(stored))
    }
}

fn larger(a: Budget, b: Budget) -> Budget {
    Budget {
        calls: a.calls.max(b.calls),
        writes: a.writes.max(b.writes),
        bytes: a.bytes.max(b.bytes),
    }
}
