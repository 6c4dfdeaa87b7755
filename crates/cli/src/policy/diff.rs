//! `gatehouse policy diff OLD NEW`: the effect of a policy change on recorded calls. Each
//! recorded call that reached policy is decided again under both policy directories
//! (`policy/evaluate.rs`, the same offline decision `policy test` makes), and the calls
//! whose decision or tier differ are listed. What a call's event does not keep cannot be
//! replayed: a route's arguments are not recorded, so a call whose route requires some is
//! counted as not comparable.

use std::path::Path;

use gatehouse_core::config::Config;
use gatehouse_core::event::{Event, Outcome};
use gatehouse_core::model::Tier;
use gatehouse_core::refusal::RefusalKind;
use gatehouse_policy::{PolicyDecision, PolicyEngine};

use crate::policy::evaluate::{self, Call};

/// How a recorded call fares under the two sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Effect {
    Same,
    Changed {
        old: String,
        new: String,
    },
    /// The call cannot be decided again from its event (the reason).
    NotComparable(String),
}

/// Whether `event` is a call policy decided: its event names the policy version (events
/// recorded before versions were, when policy denied it or it got past policy).
pub(crate) fn reached_policy(event: &Event) -> bool {
    let call = matches!(event.kind.as_str(), "tool" | "mcp");
    let named = event.agent.is_some() && event.intent.is_some() && event.tool.is_some();
    let decided = event.policy_version.is_some()
        || event.outcome != Outcome::Deny
        || event.refusal == Some(RefusalKind::PolicyDenied);
    call && named && decided
}

/// The call of `event` decided under `old` and `new`.
pub(crate) fn effect(
    config: &Config,
    old: &PolicyEngine,
    new: &PolicyEngine,
    event: &Event,
) -> Effect {
    let call = Call {
        agent: event.agent.as_deref().unwrap_or_default(),
        intent: event.intent.as_deref().unwrap_or_default(),
        tool: event.tool.as_deref().unwrap_or_default(),
        task_class: event.task_class.as_deref(),
        workflow: event.workflow.as_deref(),
        time_secs: event.time_ms.div_euclid(1000),
        args: None,
        anomaly: event.anomaly,
    };
    let decided = evaluate::evaluate(config, old, &call)
        .and_then(|old| Ok((old, evaluate::evaluate(config, new, &call)?)));
    match decided {
        Err(reason) => Effect::NotComparable(reason),
        Ok((old, new)) if verdict(&old) == verdict(&new) => Effect::Same,
        Ok((old, new)) => Effect::Changed {
            old: verdict(&old),
            new: verdict(&new),
        },
    }
}

/// `allow (tier)` or `deny`, with the determining policies.
fn verdict((decision, tier): &(PolicyDecision, Tier)) -> String {
    let outcome = if evaluate::allowed(decision) {
        format!("allow ({})", tier.as_str())
    } else {
        "deny".to_owned()
    };
    format!("{outcome} [{}]", decision.policies.join(", "))
}

/// The report over `events`: one line per changed call, then the counts.
pub(crate) fn report(
    config: &Config,
    old: &Path,
    new: &Path,
    events: &[Event],
) -> Result<String, crate::Failure> {
    let old = evaluate::engine_for(config.clone(), old)?;
    let new = evaluate::engine_for(config.clone(), new)?;
    let mut lines = Vec::new();
    let (mut compared, mut changed, mut skipped) = (0, 0, 0);
    for event in events.iter().filter(|event| reached_policy(event)) {
        match effect(config, &old, &new, event) {
            Effect::Same => compared += 1,
            Effect::Changed { old, new } => {
                compared += 1;
                changed += 1;
                lines.push(format!(
                    "{}  {}  {} on {}: {old} -> {new}",
                    event.id,
                    event.agent.as_deref().unwrap_or_default(),
                    event.intent.as_deref().unwrap_or_default(),
                    event.tool.as_deref().unwrap_or_default(),
                ));
            }
            Effect::NotComparable(_) => skipped += 1,
        }
    }
    lines.push(format!(
        "{compared} recorded calls decided again: {changed} change, {skipped} not comparable \
         (arguments or routes not in the event or config)"
    ));
    Ok(lines.join("\n"))
}
