//! Control-plane actions as events: who did what to which workflow or agent.

use gatehouse_core::event::{Event, Outcome};
use http::{Method, Uri};

use crate::control::Caller;
use crate::state::State;

/// One operator action to record.
#[derive(Debug)]
pub(super) struct Action<'a> {
    pub(super) caller: &'a Caller,
    pub(super) method: &'a Method,
    pub(super) uri: &'a Uri,
    /// e.g. `workflow.end`, `revoke.agent`.
    pub(super) intent: &'static str,
    pub(super) agent: Option<String>,
    pub(super) workflow: Option<String>,
    pub(super) detail: String,
}

pub(super) fn record(state: &State, action: Action<'_>) {
    let now = state.clock.now();
    state.events.emit(Event {
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
        actor: Some(action.caller.name.clone()),
    });
}
