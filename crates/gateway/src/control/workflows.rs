//! `/v1/workflows`: list, create, show, end and resume workflows.

use std::sync::Arc;

use gatehouse_core::config::Role;
use gatehouse_core::model::{AgentId, TaskClassName, WorkflowId};
use gatehouse_core::workflow::{Budget, TransitionError, Workflow};
use gatehouse_store::WorkflowFilter;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use serde::Deserialize;

use crate::audit::{self, Action};
use crate::body::ResponseBody;
use crate::control::{ControlError, auth, blocking, json, ok_json, query};
use crate::problem::json_response;
use crate::state::State;

const READERS: [Role; 2] = [Role::Auditor, Role::Operator];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Create {
    id: String,
    agent: String,
    task_class: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct End {
    #[serde(default)]
    reason: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Resume {
    #[serde(default)]
    extend: Extension,
}

/// A budget extension; parts left out add nothing.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
struct Extension {
    #[serde(default)]
    calls: u64,
    #[serde(default)]
    writes: u64,
    #[serde(default)]
    bytes: u64,
}

impl From<Extension> for Budget {
    fn from(extension: Extension) -> Self {
        Self {
            calls: extension.calls,
            writes: extension.writes,
            bytes: extension.bytes,
        }
    }
}

/// Routes `/v1/workflows…`; `rest` is the path after `/v1/workflows`.
pub(super) async fn route(
    state: &Arc<State>,
    request: Request<Incoming>,
    rest: &str,
) -> Result<Response<ResponseBody>, ControlError> {
    let method = request.method().clone();
    match (method.as_str(), rest) {
        ("GET", "") => {
            auth::require(state, &request, &READERS)?;
            let filter = query::workflow_filter(request.uri().query().unwrap_or(""))?;
            list(state, filter).await
        }
        ("POST", "") => create(state, request).await,
        ("GET", id) => {
            auth::require(state, &request, &READERS)?;
            let workflow = live(state, id.trim_start_matches('/')).await?;
            Ok(ok_json(&serde_json::json!(workflow.snapshot())))
        }
        ("POST", action) => {
            let (id, verb) = action
                .trim_start_matches('/')
                .rsplit_once('/')
                .ok_or(ControlError::NotFound)?;
            let id = id.to_owned();
            match verb {
                "end" => end(state, request, &id).await,
                "resume" => resume(state, request, &id).await,
                _ => Err(ControlError::NotFound),
            }
        }
        _ => Err(ControlError::NotFound),
    }
}

async fn list(
    state: &Arc<State>,
    filter: WorkflowFilter,
) -> Result<Response<ResponseBody>, ControlError> {
    state.workflows.flush().await.map_err(unavailable)?;
    let store = Arc::clone(&state.store);
    let workflows = blocking(move || store.list_workflows(&filter)).await?;
    let workflows = state.workflows.as_held(workflows);
    Ok(ok_json(&serde_json::json!({ "workflows": workflows })))
}

async fn live(
    state: &State,
    id: &str,
) -> Result<Arc<crate::workflows::LiveWorkflow>, ControlError> {
    state
        .workflows
        .get(id)
        .await
        .map_err(unavailable)?
        .ok_or(ControlError::NotFound)
}

async fn create(
    state: &Arc<State>,
    request: Request<Incoming>,
) -> Result<Response<ResponseBody>, ControlError> {
    let caller = auth::require(state, &request, &[Role::Operator])?;
    let (method, uri) = (request.method().clone(), request.uri().clone());
    let body: Create = json::read(request).await?;
    let agent = state
        .config
        .agents
        .get(body.agent.as_str())
        .ok_or_else(|| bad(format!("unknown agent `{}`", body.agent)))?;
    let class = state
        .config
        .task_classes
        .get(body.task_class.as_str())
        .ok_or_else(|| bad(format!("unknown task class `{}`", body.task_class)))?;
    if !agent
        .task_classes
        .contains(&TaskClassName::new(body.task_class.as_str()))
    {
        return Err(bad(format!(
            "agent `{}` may not run task class `{}`",
            body.agent, body.task_class
        )));
    }
    if !valid_id(&body.id) {
        return Err(bad("`id` must be 1-128 of `A-Z a-z 0-9 . _ : -`".to_owned()));
    }
    let now = state.clock.now().secs();
    let ttl = i64::try_from(class.workflow_ttl.as_secs()).unwrap_or(i64::MAX);
    let candidate = Workflow::new(
        WorkflowId::new(body.id.as_str()),
        AgentId::new(body.agent.as_str()),
        class.name.clone(),
        class.segment.clone(),
        class.budget,
        now,
        ttl,
    );
    let exists = || ControlError::Conflict {
        reason: format!("workflow `{}` already exists", body.id),
    };
    if state
        .workflows
        .get(&body.id)
        .await
        .map_err(unavailable)?
        .is_some()
    {
        return Err(exists());
    }
    let live = state
        .workflows
        .open(candidate.clone())
        .await
        .map_err(unavailable)?;
    let workflow = live.snapshot();
    if workflow != candidate {
        return Err(exists());
    }
    audit::record(
        state,
        Action {
            actor: &caller.name,
            method: &method,
            uri: &uri,
            intent: "workflow.create",
            agent: Some(body.agent.as_str().into()),
            workflow: Some(body.id.as_str().into()),
            detail: format!("created with budget {:?}", workflow.budget),
        },
    );
    Ok(json_response(
        StatusCode::CREATED,
        &serde_json::json!(workflow),
        "application/json",
    ))
}

async fn end(
    state: &Arc<State>,
    request: Request<Incoming>,
    id: &str,
) -> Result<Response<ResponseBody>, ControlError> {
    let caller = auth::require(state, &request, &[Role::Operator])?;
    let (method, uri) = (request.method().clone(), request.uri().clone());
    let body: End = json::read(request).await?;
    let live = live(state, id).await?;
    live.end(&format!("operator `{}`", caller.name))
        .map_err(transition)?;
    crate::audit::cancel_for(state, Some(id), None).await;
    let detail = format!(
        "ended; every credential of the workflow is revoked. {}",
        body.reason
    );
    let change = Change {
        caller: &caller,
        method: &method,
        uri: &uri,
        intent: "workflow.end",
    };
    settle(state, &live, change, detail).await
}

async fn resume(
    state: &Arc<State>,
    request: Request<Incoming>,
    id: &str,
) -> Result<Response<ResponseBody>, ControlError> {
    let caller = auth::require(state, &request, &[Role::Operator])?;
    let (method, uri) = (request.method().clone(), request.uri().clone());
    let body: Resume = json::read(request).await?;
    let live = live(state, id).await?;
    live.resume(state.clock.now().secs(), body.extend.into())
        .map_err(transition)?;
    // Written first, so a replica told of the extension reads the resumed workflow.
    state.workflows.flush().await.map_err(unavailable)?;
    state
        .workflows
        .extend_shared(&live.snapshot().id, body.extend.into())
        .await
        .map_err(unavailable)?;
    let extend = body.extend;
    let detail = format!(
        "resumed with extension calls +{}, writes +{}, bytes +{}",
        extend.calls, extend.writes, extend.bytes
    );
    let change = Change {
        caller: &caller,
        method: &method,
        uri: &uri,
        intent: "workflow.resume",
    };
    settle(state, &live, change, detail).await
}

/// Who changed a workflow, and how, for the audit event.
struct Change<'a> {
    caller: &'a crate::control::Caller,
    method: &'a http::Method,
    uri: &'a http::Uri,
    intent: &'static str,
}

/// Writes a changed workflow through to the store, records the change, answers with it.
async fn settle(
    state: &State,
    live: &crate::workflows::LiveWorkflow,
    change: Change<'_>,
    detail: String,
) -> Result<Response<ResponseBody>, ControlError> {
    state.workflows.flush().await.map_err(unavailable)?;
    let workflow = live.snapshot();
    let action = Action {
        actor: &change.caller.name,
        method: change.method,
        uri: change.uri,
        intent: change.intent,
        agent: Some(workflow.agent.clone()),
        workflow: Some(workflow.id.clone()),
        detail,
    };
    audit::record_durable(state, action).await;
    Ok(ok_json(&serde_json::json!(workflow)))
}

fn transition(error: TransitionError) -> ControlError {
    ControlError::Conflict {
        reason: error.to_string(),
    }
}

pub(super) fn unavailable(error: impl std::fmt::Display) -> ControlError {
    ControlError::Unavailable {
        reason: error.to_string(),
    }
}

fn bad(reason: String) -> ControlError {
    ControlError::BadRequest { reason }
}

fn valid_id(text: &str) -> bool {
    (1..=128).contains(&text.len())
        && text
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"._:-".contains(&byte))
}
