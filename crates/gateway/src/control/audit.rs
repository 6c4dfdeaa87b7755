//! Control-plane actions as events: who did what to which workflow or agent.

use std::time::Duration;

use gatehouse_core::event::{Event, Outcome};
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
    pub(crate) agent: Option<String>,
    pub(crate) workflow: Option<String>,
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
        kind: "control".to_owned(),
        agent: action.agent,
        workflow: action.workflow,
        task_class: None,
        tool: None,
        segment: None,
        method: action.method.as_str().to_owned(),
        path: action.uri.path().to_owned(),
        intent: Some(action.intent.to_owned()),
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
        actor: Some(action.actor.to_owned()),
        policy_version: None,
        observed: None,
    }
}
