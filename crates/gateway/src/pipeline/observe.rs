//! Observe mode in the phases (`observe.rs` holds the set): an observed call records
//! what the decide, tier and budget phases would have refused, and goes on.

use gatehouse_core::event::Would;
use gatehouse_core::model::{SegmentName, Tier, ToolName};
use gatehouse_core::refusal::Refusal;

use crate::observe::Observe;
use crate::pipeline::Target;
use crate::pipeline::record::EventDraft;

/// Whether the call to `target` is observed; an observed call is marked `pass` on its event until
/// something enforcing would have refused is recorded.
pub fn covers(observe: &Observe, target: &Target<'_>, draft: &mut EventDraft) -> bool {
    covers_named(observe, target.tool, target.segment, draft)
}

/// [`covers`], by the tool's (or MCP server's) name and segment.
pub fn covers_named(
    observe: &Observe,
    tool: &ToolName,
    segment: &SegmentName,
    draft: &mut EventDraft,
) -> bool {
    let observed = observe.covers(tool, segment);
    if observed {
        draft.observe();
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
    draft.would(match &refusal {
        Refusal::BudgetExhausted { .. } => Would::RefuseBudget,
        other => Would::Deny(other.kind()),
    });
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
        Tier::Medium => draft.would(Would::Confirm),
        Tier::High => draft.would(Would::Park),
    }
    Tier::Low
}
