//! Phase 3: Cedar decides, by intent, with the call's context. Default deny; evaluation
//! errors deny too, and their text goes to the event. The same request is built for a
//! tool call, an MCP call and (for replay) a recorded call, so they cannot drift apart.

use std::collections::BTreeMap;

use gatehouse_core::baseline::anomaly::AnomalySet;
use gatehouse_core::clock::UnixTime;
use gatehouse_core::model::{Access, AttrValue, Tier};
use gatehouse_policy::{DecisionContext, DecisionRequest, PolicyDecision};

use crate::credential::Credential;
use crate::pipeline::Target;
use crate::pipeline::record::EventDraft;
use crate::policies::Policies;

/// The policy decision for `target`; the caller records its policy ids either way. A
/// call that repeats one of the same second (same agent, target, context and arguments)
/// reuses its decision, which evaluating again would reproduce exactly.
/// `args` are the call's typed arguments, `None` when its route declares none.
pub fn decide(
    policy: &Policies,
    now: UnixTime,
    credential: &Credential,
    target: &Target<'_>,
    args: Option<&BTreeMap<String, AttrValue>>,
) -> PolicyDecision {
    let none = AnomalySet::EMPTY;
    policy.decide_recent(&request(now, credential, target, args, none))
}

/// [`decide`] for a call whose event keeps what Cedar was given (the context the event
/// does not already hold, and the verdict), so `gatehouse replay` can decide it again;
/// `anomaly` is the call's judgement against its baseline (already on the event).
pub fn decide_recorded(
    policy: &Policies,
    now: UnixTime,
    credential: &Credential,
    call: (&Target<'_>, Option<&BTreeMap<String, AttrValue>>),
    anomaly: AnomalySet,
    draft: &mut EventDraft,
) -> PolicyDecision {
    let (target, args) = call;
    let request = request(now, credential, target, args, anomaly);
    let verdict = policy.decide_recent(&request);
    draft.decided(&request.context, &verdict);
    verdict
}

/// Whether some arguments could let this credential call `target` (least visibility:
/// listings hide what policy would deny whatever the arguments).
pub fn visible(
    policy: &Policies,
    now: UnixTime,
    credential: &Credential,
    target: &Target<'_>,
) -> bool {
    let none = BTreeMap::new();
    policy.visible(&request(
        now,
        credential,
        target,
        Some(&none),
        AnomalySet::EMPTY,
    ))
}

/// What Cedar is asked: principal, action, resource and context.
pub fn request<'a>(
    now: UnixTime,
    credential: &'a Credential,
    target: &Target<'a>,
    args: Option<&'a BTreeMap<String, AttrValue>>,
    anomaly: AnomalySet,
) -> DecisionRequest<'a> {
    let claims = &credential.claims;
    DecisionRequest {
        agent: &credential.agent,
        intent: target.intent,
        tool: target.tool,
        context: DecisionContext {
            now,
            workflow: &claims.wf,
            task_class: &claims.tc,
            segment: credential.segment.as_str(),
            data_class: target.data_class.as_str(),
            tier: target.tier,
            write: target.access == Access::Write,
            args,
            anomaly,
        },
    }
}

/// The target's tier, raised by `@tier("…")` on the policies that permitted the call:
/// the highest wins.
pub fn effective_tier(target: Tier, decision: &PolicyDecision) -> Tier {
    decision.tier.map_or(target, |raised| raised.max(target))
}
