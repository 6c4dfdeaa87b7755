//! Between contain and decide: the call is counted in its agent's baseline and judged
//! against it (`baselines.rs`). The anomalies go on the event, to Cedar as
//! `context.anomaly`, and may raise the tier (`[baseline] raise_tier_on`).

use gatehouse_core::baseline::anomaly::AnomalySet;
use gatehouse_core::model::{AgentId, Intent, Tier};

use crate::baselines::Baselines;
use crate::pipeline::record::EventDraft;

/// Counts and judges a call of `intent` by `agent`, at the time the call arrived.
pub fn judge(
    baselines: &Baselines,
    agent: &AgentId,
    intent: &Intent,
    draft: &mut EventDraft,
) -> AnomalySet {
    let anomalies = baselines.judge(agent, intent, draft.time_ms());
    draft.anomaly(anomalies);
    anomalies
}

/// The tier after anomalies: raised as configured, with a note on the event saying why.
pub fn raise(
    baselines: &Baselines,
    tier: Tier,
    anomalies: AnomalySet,
    draft: &mut EventDraft,
) -> Tier {
    let raised = baselines.raise(tier, anomalies);
    if raised != tier {
        draft.note(&format!(
            "tier raised to {} by a baseline anomaly",
            raised.as_str()
        ));
    }
    raised
}
