//! Live workflows: the budget and lifecycle state machine of `gatehouse_core::workflow`,
//! held in memory for the hot path and written behind to the store.
//!
//! Budgets must not make the hot path take a global lock: workflows sit in shards of a
//! map under read locks, and each workflow has its own mutex, held only for the few
//! instructions of a reservation. A workflow missing from memory (after a restart) is
//! loaded from the store on first use.

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use gatehouse_core::model::WorkflowId;
use gatehouse_core::workflow::{
    Budget, BudgetRefusal, BytesCut, Status, TransitionError, Workflow,
};
use gatehouse_store::{Store, StoreError};
use tokio::sync::watch;

use crate::blocking::store_call;

const SHARDS: usize = 32;

/// One workflow in memory.
#[derive(Debug)]
pub struct LiveWorkflow {
    state: Mutex<Workflow>,
    /// Changed since last written to the store.
    dirty: AtomicBool,
    /// Turns true when the workflow ends or expires; in-flight calls listen to cut.
    over: watch::Sender<bool>,
}

impl LiveWorkflow {
    fn new(workflow: Workflow) -> Self {
        let over = !workflow.is_live();
        Self {
            state: Mutex::new(workflow),
            dirty: AtomicBool::new(false),
            over: watch::Sender::new(over),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Workflow> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn snapshot(&self) -> Workflow {
        self.lock().clone()
    }

    /// Counts one call against the budget before it is forwarded.
    pub fn reserve(
        &self,
        now_secs: i64,
        write: bool,
        request_bytes: u64,
    ) -> Result<(), BudgetRefusal> {
        let result = self.lock().reserve(now_secs, write, request_bytes);
        self.changed();
        result
    }

    /// Refuses, counting nothing, unless the workflow is active.
    pub fn ensure_active(&self, now_secs: i64) -> Result<(), BudgetRefusal> {
        // Expires it first if due, as `reserve` would.
        let _ = self.is_over(now_secs);
        self.lock().ensure_active()
    }

    /// Counts streamed bytes; the cut says how many of them still fit.
    pub fn add_bytes(&self, bytes: u64) -> Result<(), BytesCut> {
        if bytes == 0 {
            return Ok(());
        }
        let result = self.lock().add_bytes(bytes);
        self.changed();
        result
    }

    pub fn end(&self, by: &str) -> Result<(), TransitionError> {
        let result = self.lock().end(by);
        self.changed();
        result
    }

    pub fn resume(&self, now_secs: i64, extension: Budget) -> Result<(), TransitionError> {
        let result = self.lock().resume(now_secs, extension);
        self.changed();
        result
    }

    /// Expires the workflow if due; true when it is (now) expired or ended.
    pub fn is_over(&self, now_secs: i64) -> bool {
        let mut workflow = self.lock();
        if workflow.expire_if_due(now_secs) {
            drop(workflow);
            self.changed();
            return true;
        }
        !workflow.is_live()
    }

    /// Resolves once the workflow has ended or expired.
    pub fn over_signal(&self) -> watch::Receiver<bool> {
        self.over.subscribe()
    }

    fn changed(&self) {
        self.dirty.store(true, Ordering::Release);
        let live = self.lock().is_live();
        if !live {
            self.over.send_replace(true);
        }
    }
}

/// All workflows this gateway has seen.
#[derive(Debug)]
pub struct Workflows {
    shards: [RwLock<HashMap<WorkflowId, Arc<LiveWorkflow>>>; SHARDS],
    store: Arc<dyn Store>,
}

impl Workflows {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            shards: std::array::from_fn(|_| RwLock::new(HashMap::new())),
            store,
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

    fn cached(&self, id: &str) -> Option<Arc<LiveWorkflow>> {
        let shard = self
            .shard(id)
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        shard.get(id).cloned()
    }

    /// Caches `workflow` unless another copy got there first; returns the cached one.
    fn remember(&self, workflow: Workflow) -> Arc<LiveWorkflow> {
        let mut shard = self
            .shard(workflow.id.as_str())
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let id = workflow.id.clone();
        Arc::clone(
            shard
                .entry(id)
                .or_insert_with(|| Arc::new(LiveWorkflow::new(workflow))),
        )
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

    /// Writes every changed workflow to the store.
    pub async fn flush(&self) -> Result<(), StoreError> {
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
