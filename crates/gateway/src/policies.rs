//! The policy set in force, swappable while calls run. Each call loads the current
//! engine once (one atomic load, no lock) and decides under it, so every decision is
//! made under exactly one fully built version; a reload (`policy_reload.rs`) builds and
//! validates the new set aside and swaps the pointer only when it is whole.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use arc_swap::ArcSwap;
use gatehouse_policy::{DecisionRequest, PolicyDecision, PolicyEngine};

/// The current policy engine.
#[derive(Debug)]
pub struct Policies {
    current: ArcSwap<PolicyEngine>,
    /// Serialises reloads (file watcher and `policy apply`), so two never race to swap.
    reloading: tokio::sync::Mutex<()>,
    /// The `seq` of the newest policy set shared through the store that this replica has
    /// seen (its own shares included); only later ones are followed.
    shared_seen: AtomicI64,
}

impl Policies {
    pub fn new(engine: PolicyEngine) -> Self {
        Self {
            current: ArcSwap::from_pointee(engine),
            reloading: tokio::sync::Mutex::new(()),
            shared_seen: AtomicI64::new(0),
        }
    }

    /// The engine in force now; hold it for the rest of a decision.
    pub fn current(&self) -> Arc<PolicyEngine> {
        self.current.load_full()
    }

    /// The version of the engine in force now.
    pub fn version(&self) -> Arc<str> {
        Arc::clone(self.current.load().version())
    }

    /// [`PolicyEngine::decide_recent`] on the engine in force; the decision names its
    /// version.
    pub fn decide_recent(&self, request: &DecisionRequest<'_>) -> PolicyDecision {
        self.current.load().decide_recent(request)
    }

    /// [`PolicyEngine::visible`] on the engine in force.
    pub fn visible(&self, request: &DecisionRequest<'_>) -> bool {
        self.current.load().visible(request)
    }

    /// Puts `engine` in force for every call that starts deciding from now on.
    pub(crate) fn swap(&self, engine: PolicyEngine) {
        self.current.store(Arc::new(engine));
    }

    /// Marks shared set `seq` seen; `true` when it is newer than any seen before.
    pub(crate) fn see_shared(&self, seq: i64) -> bool {
        self.shared_seen.fetch_max(seq, Ordering::AcqRel) < seq
    }

    /// Held for the whole of a reload, so two never race to swap.
    pub(crate) async fn reloading(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.reloading.lock().await
    }
}
