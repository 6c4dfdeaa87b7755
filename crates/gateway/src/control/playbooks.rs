//! `/v1/playbook-runs`: the record of incident playbooks run by `gatehouse playbook run`.
//! The CLI carries out each step through the ordinary control-plane APIs (each of which
//! records its own change) and then reports the step here, so every step is a `control`
//! event of intent `playbook.step` whose path names the run: `GET` lists runs from them.

use std::collections::BTreeMap;
use std::sync::Arc;

use gatehouse_core::config::Role;
use gatehouse_core::event::{Event, EventFilter};
use http::{Request, Response};
use hyper::body::Incoming;
use serde::{Deserialize, Serialize};

use crate::audit::{self, Action};
use crate::body::ResponseBody;
use crate::control::{ControlError, auth, blocking, json, ok_json};
use crate::state::State;

/// The intent of a playbook step's event.
pub(crate) const STEP_INTENT: &str = "playbook.step";

/// The longest text a step's report may carry.
const MAX_DETAIL: usize = 4096;

/// One step as the CLI reports it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Step {
    playbook: String,
    /// 1-based position in the playbook.
    index: u32,
    /// The step's kind, e.g. `revoke-agent`.
    step: String,
    agent: Option<String>,
    /// What the step changed.
    detail: String,
}

/// A run, as its step events tell it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Run {
    pub(crate) run: String,
    pub(crate) playbook: String,
    pub(crate) actor: Option<String>,
    pub(crate) agent: Option<String>,
    pub(crate) started_ms: i64,
    /// Each step's event: `step N kind: detail`.
    pub(crate) steps: Vec<String>,
}

/// Routes `/v1/playbook-runs…`; `rest` is the path after it.
pub(super) async fn route(
    state: &Arc<State>,
    request: Request<Incoming>,
    rest: &str,
) -> Result<Response<ResponseBody>, ControlError> {
    match (request.method().as_str(), rest) {
        ("GET", "") => {
            auth::require(state, &request, &[Role::Auditor, Role::Operator])?;
            let runs = runs(state, None).await?;
            Ok(ok_json(&serde_json::json!({ "runs": runs })))
        }
        ("POST", rest) => {
            let run = rest
                .strip_prefix('/')
                .and_then(|rest| rest.strip_suffix("/steps"))
                .filter(|run| valid_run(run))
                .ok_or(ControlError::NotFound)?
                .to_owned();
            step(state, request, &run).await
        }
        _ => Err(ControlError::NotFound),
    }
}

/// Run ids are the CLI's decision-id–shaped ULIDs; anything else is refused so the path
/// stays a clean key.
fn valid_run(run: &str) -> bool {
    gatehouse_core::ids::DecisionId::parse(run).is_some()
}

async fn step(
    state: &Arc<State>,
    request: Request<Incoming>,
    run: &str,
) -> Result<Response<ResponseBody>, ControlError> {
    let caller = auth::require(state, &request, &[Role::Operator])?;
    let (method, uri) = (request.method().clone(), request.uri().clone());
    let step: Step = json::read(request).await?;
    if step.detail.len() > MAX_DETAIL || step.playbook.len() > 128 || step.step.len() > 64 {
        return Err(ControlError::BadRequest {
            reason: "a playbook step's report is too long".to_owned(),
        });
    }
    let detail = format!(
        "playbook `{}` run `{run}` step {} `{}`: {}",
        step.playbook, step.index, step.step, step.detail
    );
    let action = Action {
        actor: &caller.name,
        method: &method,
        uri: &uri,
        intent: STEP_INTENT,
        agent: step.agent.map(Into::into),
        workflow: None,
        detail,
    };
    audit::record_durable(state, action).await;
    Ok(ok_json(
        &serde_json::json!({ "run": run, "index": step.index }),
    ))
}

/// Runs since `since_ms` (or the latest ones), newest first, from their step events.
pub(crate) async fn runs(
    state: &Arc<State>,
    since_ms: Option<i64>,
) -> Result<Vec<Run>, ControlError> {
    let filter = EventFilter {
        intent: Some(STEP_INTENT.into()),
        since_ms,
        limit: Some(1000),
        ..EventFilter::default()
    };
    let store = Arc::clone(&state.store);
    let mut events = blocking(move || store.query_events(&filter)).await?;
    events.sort_by_key(|event| event.id);
    Ok(group(&events))
}

fn group(events: &[Event]) -> Vec<Run> {
    let mut runs: BTreeMap<String, Run> = BTreeMap::new();
    for event in events {
        let Some(run) = event
            .path
            .strip_prefix("/v1/playbook-runs/")
            .and_then(|rest| rest.strip_suffix("/steps"))
        else {
            continue;
        };
        let reason = event.reason.clone().unwrap_or_default();
        let playbook = reason
            .strip_prefix("playbook `")
            .and_then(|rest| rest.split_once('`'))
            .map_or_else(String::new, |(name, _)| name.to_owned());
        let entry = runs.entry(run.to_owned()).or_insert_with(|| Run {
            run: run.to_owned(),
            playbook,
            actor: event.actor.as_deref().map(str::to_owned),
            agent: event.agent.as_deref().map(str::to_owned),
            started_ms: event.time_ms,
            steps: Vec::new(),
        });
        let step = reason
            .split_once(" step ")
            .map_or(reason.as_str(), |(_, step)| step);
        entry.steps.push(step.to_owned());
    }
    let mut runs: Vec<Run> = runs.into_values().collect();
    runs.sort_by_key(|run| std::cmp::Reverse(run.started_ms));
    runs
}
