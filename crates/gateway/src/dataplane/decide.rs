//! Phase 4: Cedar decides, by intent, with the call's context. Default deny; evaluation
//! errors deny too, and their text goes to the event.

use std::collections::BTreeMap;

use gatehouse_core::model::{Access, AttrValue};
use gatehouse_policy::{DecisionContext, DecisionRequest, PolicyDecision};

use crate::credential::Credential;
use crate::dataplane::classify::Call;
use crate::dataplane::record::EventDraft;
use crate::state::State;

/// The policy decision for `call`; the caller records its policy ids either way. A call
/// that repeats one of the same second (same agent, route, context and arguments) reuses its
/// decision, which evaluating again would reproduce exactly.
/// `args` are the route's typed arguments, `None` when it declares none. What Cedar was
/// given goes to the event too, so that `gatehouse replay` can decide the call again.
pub fn decide(
    state: &State,
    credential: &Credential,
    call: &Call<'_>,
    args: Option<&BTreeMap<String, AttrValue>>,
    draft: &mut EventDraft,
) -> PolicyDecision {
    let claims = &credential.claims;
    let request = DecisionRequest {
        agent: &credential.agent,
        intent: &call.route.intent,
        tool: &call.tool.tool.name,
        context: DecisionContext {
            now: state.clock.now(),
            workflow: &claims.wf,
            task_class: &claims.tc,
            segment: credential.segment.as_str(),
            data_class: call.route.data_class.as_str(),
            tier: call.route.tier,
            write: call.route.access == Access::Write,
            args,
        },
    };
    let verdict = state.policy.decide_recent(&request);
    draft.decided(&request.context, &verdict);
    verdict
}

/// The route's tier, raised by `@tier("…")` on the policies that permitted the call: the
/// highest wins.
pub fn effective_tier(
    route: gatehouse_core::model::Tier,
    decision: &PolicyDecision,
) -> gatehouse_core::model::Tier {
    decision.tier.map_or(route, |raised| raised.max(route))
}
