//! Control-plane actions as events (who did what to which workflow or agent), and what
//! happened to approvals with no operator (expiry, cancellation) recorded the same way.

use std::time::Duration;

use gatehouse_core::approval::Approval;
use gatehouse_core::event::{Event, EventKind, Outcome};
use gatehouse_core::model::{AgentId, Intent, WorkflowId};
use gatehouse_store::ApprovalFilter;
use http::{Method, Uri};

use crate::state::State;

/// One action to record: an operator's, or Gatehouse's own (expiry, cancellation).
#[derive(Debug)]
pub(crate) struct Action<'a> {
    /// The operator's name, or `gatehouse`.
    pub(crate) actor: &'a str,
    pub(crate) method: &'a Method,
    pub(crate) uri: &'a Uri,
    /// e.g. `workflow.end`, `revoke.agent`.
    pub(crate) intent: &'static str,
    pub(crate) agent: Option<AgentId>,
    pub(crate) workflow: Option<WorkflowId>,
    pub(crate) detail: String,
}

/// How long a control-plane answer waits for its audit event to be stored.
const DURABLE_WAIT: Duration = Duration::from_secs(10);

/// Queues the action's event without waiting (Gatehouse's own actions).
pub(crate) fn record(state: &State, action: Action<'_>) {
    state.events.emit(event(state, action));
}

/// Records the action and returns once its event is in the store (bounded, logged): an
/// operator's change is answered only once a `kill -9` can no longer lose its record.
pub(crate) async fn record_durable(state: &State, action: Action<'_>) {
    let event = event(state, action);
    state.events.emit_durable(event, DURABLE_WAIT).await;
}

fn event(state: &State, action: Action<'_>) -> Event {
    let now = state.clock.now();
    Event {
        id: state.next_id(),
        time_ms: now.millis(),
        kind: EventKind::Control,
        agent: action.agent,
        workflow: action.workflow,
        task_class: None,
        tool: None,
        segment: None,
        method: action.method.as_str().to_owned(),
        path: action.uri.path().to_owned(),
        intent: Some(Intent::new(action.intent)),
        outcome: Outcome::Allow,
        refusal: None,
        reason: Some(action.detail),
        policies: Vec::new(),
        tier: None,
        data_class: None,
        status: 200,
        bytes_in: 0,
        bytes_out: 0,
        latency_us: 0,
        upstream_us: None,
        actor: Some(action.actor.into()),
        policy_version: None,
        observed: None,
        decide: None,
        trace_id: None,
        parent_span_id: None,
        mcp_session: None,
        risk: None,
        anomaly: Default::default(),
    }
}

/// Records what happened to approvals without any operator: expiry, cancellation.
pub fn record_settled(state: &State, approvals: &[Approval], intent: &'static str) {
    let (method, uri) = (
        http::Method::POST,
        http::Uri::from_static("/internal/approvals"),
    );
    for approval in approvals {
        let action = Action {
            actor: "gatehouse",
            method: &method,
            uri: &uri,
            intent,
            agent: Some(approval.agent.clone()),
            workflow: Some(approval.workflow.clone()),
            detail: format!(
                "{} `{}` of decision `{}` is now {}",
                approval.checkpoint.as_str(),
                approval.id,
                approval.decision,
                approval.status.as_str()
            ),
        };
        record(state, action);
    }
}

/// Cancels the open approvals of a workflow or agent that just lost its credentials.
pub async fn cancel_for(state: &State, workflow: Option<&str>, agent: Option<&str>) {
    let filter = ApprovalFilter {
        workflow: workflow.map(WorkflowId::from),
        agent: agent.map(AgentId::from),
        ..ApprovalFilter::default()
    };
    match state.approvals.cancel(filter).await {
        Ok(cancelled) => record_settled(state, &cancelled, "approval.cancel"),
        Err(error) => tracing::error!(%error, "cannot cancel the approvals of a revoked workflow"),
    }
}
