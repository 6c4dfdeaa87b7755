//! The audit record of one decision and what followed (ARCHITECTURE.md, "The request path", record).

mod decide;
mod kind;
mod line;
mod observed;

use serde::{Deserialize, Serialize};

use crate::baseline::anomaly::AnomalySet;
use crate::closed_set::closed_set;
use crate::ids::DecisionId;
use crate::model::{
    AgentId, DataClass, Intent, OperatorName, PolicyId, PolicySetVersion, SegmentName,
    TaskClassName, Tier, ToolName, WorkflowId,
};
use crate::refusal::RefusalKind;

pub use decide::DecideInput;
pub use kind::{EventKind, UnknownEventKind};
pub use observed::{Observed, UnknownObserved, Would};

closed_set! {
    /// The outcome of one call.
    pub enum Outcome, error UnknownOutcome, "outcome";
    /// Forwarded (or, for the token endpoint, a credential was issued).
    Allow => "allow",
    /// Refused before reaching the tool.
    Deny => "deny",
    /// Allowed, then failed at or after the upstream.
    Error => "error",
    /// Held for a confirmation (medium tier).
    Confirm => "confirm",
    /// Parked for a human approval (high tier).
    Pending => "pending",
}

/// One event. Fields the call never reached stay `None` (a 401 has no intent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The decision id; unique and sortable by time.
    pub id: DecisionId,
    /// When the call arrived, Unix milliseconds.
    pub time_ms: i64,
    /// Which surface of Gatehouse the event comes from.
    pub kind: EventKind,
    pub agent: Option<AgentId>,
    pub workflow: Option<WorkflowId>,
    pub task_class: Option<TaskClassName>,
    pub tool: Option<ToolName>,
    pub segment: Option<SegmentName>,
    pub method: String,
    /// The request path as received (raw, not decoded).
    pub path: String,
    pub intent: Option<Intent>,
    pub outcome: Outcome,
    /// The refusal kind (`policy-denied`, …) when refused.
    pub refusal: Option<RefusalKind>,
    /// The full reason, never shown to the agent.
    pub reason: Option<String>,
    /// Ids of the policies that determined the decision.
    pub policies: Vec<PolicyId>,
    /// The effective tier (after `@tier`).
    pub tier: Option<Tier>,
    pub data_class: Option<DataClass>,
    /// HTTP status returned to the agent.
    pub status: u16,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Total time in Gatehouse, microseconds.
    pub latency_us: u64,
    /// Time spent waiting on the upstream, microseconds.
    pub upstream_us: Option<u64>,
    /// The operator who caused a control-plane event (or `gatehouse`, for its own
    /// actions); `None` for agent calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<OperatorName>,
    /// The version of the policy set that decided the call (`PolicyEngine::version`);
    /// absent when the call ended before policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_version: Option<PolicySetVersion>,
    /// Set only for a call in observe mode (forwarded whatever was decided): `pass`, or
    /// what enforcing would have done (`would-deny:policy-denied`, `would-confirm`,
    /// `would-park`, `would-refuse-budget`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed: Option<Observed>,
    /// What the decide phase evaluated, for replay; only on calls that reached it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decide: Option<DecideInput>,
    /// The caller's W3C trace id (32 lowercase hex) when its call carried a valid
    /// `traceparent`; otherwise the call's trace is its own, named by its decision id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// The caller's span (16 lowercase hex), the parent of Gatehouse's span for the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_span_id: Option<String>,
    /// The agent's MCP session (`Mcp-Session-Id`), on MCP calls made in a handshake-era
    /// session; `mcp.session.id` on the call's span.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcp_session: Option<String>,
    /// What scanning the response found, on calls to routes and MCP tools that scan
    /// (`[risk]` in docs/configuration.md). Boxed: most events have none, and every call
    /// moves its event a few times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk: Option<Box<ResponseRisk>>,
    /// How the call departed from its agent's baseline (`new-intent`, `rate`, `volume`,
    /// `hour`; `[baseline]` in docs/configuration.md); absent when it did not, or when
    /// the call ended before it was judged.
    #[serde(default, skip_serializing_if = "no_anomaly")]
    pub anomaly: AnomalySet,
}

fn no_anomaly(set: &AnomalySet) -> bool {
    set.is_empty()
}

/// The risk class of one response: the highest data class it was found to carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseRisk {
    /// The highest class seen: the route's declared class, raised by any detector hit
    /// left in the response (a redacted hit no longer counts).
    pub class: DataClass,
    /// The detectors that found something, each once, in configuration order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub detected: Vec<String>,
    /// How many values were redacted (named JSON fields and detector hits).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub redacted: u64,
    /// How many response bytes were scanned (every byte of the response: a response
    /// that could not be scanned whole is withheld instead).
    pub scanned: u64,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

impl Event {
    /// An event with its id, time and kind and nothing else yet (no method or path): a
    /// refusal (`deny`) until the call says otherwise. Other fields are set by name,
    /// `Event { method, path, ..Event::blank(id, time_ms, EventKind::Tool) }`.
    pub fn blank(id: DecisionId, time_ms: i64, kind: EventKind) -> Self {
        Self {
            id,
            time_ms,
            kind,
            agent: None,
            workflow: None,
            task_class: None,
            tool: None,
            segment: None,
            method: String::new(),
            path: String::new(),
            intent: None,
            outcome: Outcome::Deny,
            refusal: None,
            reason: None,
            policies: Vec::new(),
            tier: None,
            data_class: None,
            status: 0,
            bytes_in: 0,
            bytes_out: 0,
            latency_us: 0,
            upstream_us: None,
            actor: None,
            policy_version: None,
            observed: None,
            decide: None,
            trace_id: None,
            parent_span_id: None,
            mcp_session: None,
            risk: None,
            anomaly: AnomalySet::EMPTY,
        }
    }
}

/// An event and its JSON line, encoded once for every place that keeps it: the store
/// and the events file hold the same text.
#[derive(Debug, Clone)]
pub struct EventLine<'e> {
    pub event: &'e Event,
    /// The event as one JSON object, without a newline.
    pub json: String,
}

impl<'e> EventLine<'e> {
    /// Encodes `event`: the bytes `serde_json::to_string` writes, written faster
    /// (`event/line.rs`).
    pub fn new(event: &'e Event) -> Self {
        Self {
            event,
            json: line::encode(event),
        }
    }

    /// Every event of a batch, encoded.
    pub fn all(events: &'e [Event]) -> Vec<Self> {
        events.iter().map(Self::new).collect()
    }
}

/// A query over stored events; every field narrows the result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventFilter {
    pub agent: Option<AgentId>,
    pub workflow: Option<WorkflowId>,
    pub tool: Option<ToolName>,
    pub intent: Option<Intent>,
    pub outcome: Option<Outcome>,
    /// Inclusive lower bound, Unix milliseconds.
    pub since_ms: Option<i64>,
    /// Exclusive upper bound, Unix milliseconds.
    pub until_ms: Option<i64>,
    /// Only events with an id greater than this one (for paging and tailing).
    pub after: Option<DecisionId>,
    /// At most this many, newest first; defaults to 100, capped at 1000.
    pub limit: Option<u32>,
}
