//! Observe mode (issue 15 item 1): calls to a tool with `enforce = false`, or to any
//! tool of a segment with `enforce = false`, go through every phase, and what enforcing
//! would have done is recorded on the event (`observed`), but the call is forwarded.
//!
//! What observe mode relaxes is the policy rollout: the Cedar decision, the tier's
//! confirmation or approval, and the budget. It never relaxes identity, the
//! credential's segment and scope, quarantines or request hygiene: those are the
//! gateway's invariants, not policy under trial.
//!
//! The set is read again from the config file by the policy watcher and on `policy
//! apply` (`policy_reload.rs`), so switching a tool to enforce needs no restart. The
//! phases consult it through `pipeline/observe.rs`; on the call path, with nothing
//! observed, it costs one relaxed atomic load.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arc_swap::ArcSwap;
use gatehouse_core::config::Observed;
use gatehouse_core::model::{SegmentName, ToolName};

/// The tools and segments observed now.
#[derive(Debug)]
pub struct Observe {
    /// Whether anything is observed: the one load a call pays when nothing is.
    any: AtomicBool,
    set: ArcSwap<Observed>,
}

impl Observe {
    pub fn new(observed: Observed) -> Self {
        warn_loudly(&observed);
        Self {
            any: AtomicBool::new(!observed.is_empty()),
            set: ArcSwap::from_pointee(observed),
        }
    }

    /// Whether a call to `tool` (in `segment`) is observed rather than enforced.
    pub fn covers(&self, tool: &ToolName, segment: &SegmentName) -> bool {
        if !self.any.load(Ordering::Relaxed) {
            return false;
        }
        let set = self.set.load();
        set.tools.contains(tool) || set.segments.contains(segment)
    }

    /// Whether calls to `tool` that match no route are forwarded and recorded as
    /// candidate routes (`discover = true`, which config allows only in observe mode).
    pub fn discovers(&self, tool: &ToolName) -> bool {
        self.any.load(Ordering::Relaxed) && self.set.load().discover.contains(tool)
    }

    /// The observed set now.
    pub fn current(&self) -> Arc<Observed> {
        self.set.load_full()
    }

    /// Puts `observed` in place; `true` when it differs from the set before.
    pub fn update(&self, observed: Observed) -> bool {
        if *self.set.load_full() == observed {
            return false;
        }
        warn_loudly(&observed);
        self.any.store(!observed.is_empty(), Ordering::Relaxed);
        self.set.store(Arc::new(observed));
        true
    }
}

/// `observing tools [a, b] and segments [c]`, or `enforcing everywhere`.
pub fn describe(observed: &Observed) -> String {
    if observed.is_empty() {
        return "enforcing everywhere".to_owned();
    }
    let names = |names: Vec<&str>| names.join(", ");
    format!(
        "observing tools [{}] and segments [{}], discovering on [{}]",
        names(observed.tools.iter().map(ToolName::as_str).collect()),
        names(observed.segments.iter().map(SegmentName::as_str).collect()),
        names(observed.discover.iter().map(ToolName::as_str).collect()),
    )
}

/// Danger is loud: every observed tool and segment is named in the log.
fn warn_loudly(observed: &Observed) {
    for tool in &observed.tools {
        tracing::warn!(%tool, "observe mode: calls to this tool are forwarded whatever policy, tier or budget decide");
    }
    for tool in &observed.discover {
        tracing::warn!(%tool, "discovery: calls to this tool that match no route are forwarded, checked only for segment and quarantine");
    }
    for segment in &observed.segments {
        tracing::warn!(%segment, "observe mode: calls to every tool of this segment are forwarded whatever policy, tier or budget decide");
    }
}
