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
//! apply`, so switching a tool to enforce needs no restart. On the call path, with
//! nothing observed, it costs one relaxed atomic load.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arc_swap::ArcSwap;
use gatehouse_core::config::Observed;
use gatehouse_core::event::{Event, Outcome};
use gatehouse_core::model::{SegmentName, Tier, ToolName};
use gatehouse_core::refusal::Refusal;

use crate::dataplane::classify::Call;
use crate::dataplane::record::EventDraft;
use crate::state::State;

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

/// Reads the config file again and puts its `enforce` flags in force; nothing else of
/// the file changes until a restart. `Ok(true)` when the observed set changed (an event
/// of kind `config` says to what).
pub async fn reload(state: &State, actor: &str) -> Result<bool, String> {
    let path = state.config.policy_source.config_file.clone();
    let loaded = tokio::task::spawn_blocking(move || gatehouse_core::config::load(&path))
        .await
        .map_err(|error| error.to_string())?
        .map_err(|errors| {
            format!("the config file does not load, so its `enforce` flags stay:\n{errors}")
        })?;
    let observed = loaded.observe;
    if !state.observe.update(observed.clone()) {
        return Ok(false);
    }
    state.events.emit(event(state, actor, &observed));
    Ok(true)
}

fn event(state: &State, actor: &str, observed: &Observed) -> Event {
    let now = state.clock.now();
    let path = state.config.policy_source.config_file.display().to_string();
    let mut event = Event::blank(
        state.next_id_at(now),
        now.millis(),
        "config".to_owned(),
        "RELOAD".to_owned(),
        path,
    );
    event.intent = Some("observe.reload".to_owned());
    event.actor = Some(actor.to_owned());
    event.outcome = Outcome::Allow;
    event.status = 200;
    event.reason = Some(describe(observed));
    event
}

/// `observing tools [a, b] and segments [c]`, or `enforcing everywhere`.
pub fn describe(observed: &Observed) -> String {
    if observed.is_empty() {
        return "enforcing everywhere".to_owned();
    }
    let names = |names: Vec<&str>| names.join(", ");
    format!(
        "observing tools [{}] and segments [{}]",
        names(observed.tools.iter().map(ToolName::as_str).collect()),
        names(observed.segments.iter().map(SegmentName::as_str).collect()),
    )
}

/// Danger is loud: every observed tool and segment is named in the log.
fn warn_loudly(observed: &Observed) {
    for tool in &observed.tools {
        tracing::warn!(%tool, "observe mode: calls to this tool are forwarded whatever policy, tier or budget decide");
    }
    for segment in &observed.segments {
        tracing::warn!(%segment, "observe mode: calls to every tool of this segment are forwarded whatever policy, tier or budget decide");
    }
}

/// Whether `call` is observed; an observed call is marked `pass` on its event until
/// something enforcing would have refused is recorded.
pub fn covers(state: &State, call: &Call<'_>, draft: &mut EventDraft) -> bool {
    let tool = &call.tool.tool;
    let observed = state.observe.covers(&tool.name, &tool.segment);
    if observed {
        draft.observed("pass".to_owned());
    }
    observed
}

/// The budget phase's answer: an observed call over budget records so and goes on (the
/// workflow is still paused and its owner told, as the budget's own bookkeeping does).
pub fn budget(
    reserved: Result<(), Refusal>,
    observed: bool,
    draft: &mut EventDraft,
) -> Result<(), Refusal> {
    match reserved {
        Err(refusal @ Refusal::BudgetExhausted { .. }) => or_refuse(refusal, observed, draft),
        other => other,
    }
}

/// `refusal` for an enforced call; for an observed one, the refusal is recorded as what
/// would have happened and the call goes on.
pub fn or_refuse(refusal: Refusal, observed: bool, draft: &mut EventDraft) -> Result<(), Refusal> {
    if !observed {
        return Err(refusal);
    }
    let would = match &refusal {
        Refusal::BudgetExhausted { .. } => "would-refuse-budget".to_owned(),
        other => format!("would-deny:{}", other.kind()),
    };
    draft.observed(would);
    Ok(())
}

/// The tier a call proceeds at: an observed call that would wait for a confirmation or
/// an approval records so and proceeds as low.
pub fn tier(tier: Tier, observed: bool, draft: &mut EventDraft) -> Tier {
    if !observed {
        return tier;
    }
    match tier {
        Tier::Low => {}
        Tier::Medium => draft.observed("would-confirm".to_owned()),
        Tier::High => draft.observed("would-park".to_owned()),
    }
    Tier::Low
}
