//! `/v1/approvals` (approvers) and `/v1/confirmations` (a workflow's confirmer): see the
//! exact parked call, approve or deny it with a reason. An approval that reaches its
//! required approvers is executed once by Gatehouse.

use std::sync::Arc;

use gatehouse_core::approval::{Approval, ApprovalStatus, Checkpoint, Rules};
use gatehouse_core::config::Role;
use gatehouse_core::ids::ApprovalId;
use gatehouse_core::model::{AgentId, OperatorName};
use gatehouse_store::ApprovalFilter;
use http::{Method, Request, Response, Uri};
use hyper::body::Incoming;
use serde::Deserialize;

use crate::approvals::UpdateError;
use crate::audit::{self, Action};
use crate::body::ResponseBody;
use crate::control::{Caller, ControlError, auth, json, ok_json};
use crate::state::State;

const READERS: [Role; 3] = [Role::Approver, Role::Operator, Role::Auditor];

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Verdict {
    #[serde(default)]
    reason: String,
}

/// Routes `/v1/approvals…` and `/v1/confirmations…`.
pub(super) async fn route(
    state: &Arc<State>,
    request: Request<Incoming>,
    path: &str,
) -> Result<Response<ResponseBody>, ControlError> {
    let method = request.method().clone();
    if let Some(rest) = path.strip_prefix("/v1/confirmations/") {
        let (id, verb) = rest.rsplit_once('/').ok_or(ControlError::NotFound)?;
        let approve = match (method.as_str(), verb) {
            ("POST", "confirm") => true,
            ("POST", "reject") => false,
            _ => return Err(ControlError::NotFound),
        };
        return confirm(state, request, &ApprovalId::from(id), approve).await;
    }
    let rest = path
        .trim_start_matches("/v1/approvals")
        .trim_start_matches('/');
    match (method.as_str(), rest.rsplit_once('/')) {
        ("GET", None) if rest.is_empty() => list(state, &request).await,
        ("GET", None) => show(state, &request, &ApprovalId::from(rest)).await,
        ("POST", Some((id, "approve"))) => decide(state, request, &id.into(), true).await,
        ("POST", Some((id, "deny"))) => decide(state, request, &id.into(), false).await,
        _ => Err(ControlError::NotFound),
    }
}

async fn list(
    state: &State,
    request: &Request<Incoming>,
) -> Result<Response<ResponseBody>, ControlError> {
    auth::require(state, request, &READERS)?;
    let status = match request
        .uri()
        .query()
        .and_then(|query| query.strip_prefix("status="))
    {
        Some(text) => {
            Some(
                text.parse::<ApprovalStatus>()
                    .map_err(|_| ControlError::BadRequest {
                        reason: format!("invalid value `{text}` for `status`"),
                    })?,
            )
        }
        None => None,
    };
    let filter = ApprovalFilter {
        status,
        ..ApprovalFilter::default()
    };
    let approvals = state.approvals.list(filter).await.map_err(unavailable)?;
    let shown: Vec<_> = approvals.iter().map(summary).collect();
    Ok(ok_json(&serde_json::json!({ "approvals": shown })))
}

async fn show(
    state: &State,
    request: &Request<Incoming>,
    id: &ApprovalId,
) -> Result<Response<ResponseBody>, ControlError> {
    auth::require(state, request, &READERS)?;
    let approval = state
        .approvals
        .get(id)
        .await
        .map_err(unavailable)?
        .ok_or(ControlError::NotFound)?;
    Ok(ok_json(&summary(&approval)))
}

/// An approval as operators see it: the whole call, the body as text where it is text.
pub(crate) fn summary(approval: &Approval) -> serde_json::Value {
    let mut value = serde_json::json!(approval);
    if let Some(object) = value.as_object_mut() {
        let body = String::from_utf8(approval.call.body.clone())
            .unwrap_or_else(|_| format!("<{} bytes of binary>", approval.call.body.len()));
        if let Some(call) = object
            .get_mut("call")
            .and_then(serde_json::Value::as_object_mut)
        {
            call.insert("body".into(), body.into());
        }
        if let Some(response) = object
            .get_mut("response")
            .and_then(serde_json::Value::as_object_mut)
        {
            let text = approval
                .response
                .as_ref()
                .map(|response| String::from_utf8_lossy(&response.body).into_owned())
                .unwrap_or_default();
            response.insert("body".into(), text.into());
        }
    }
    value
}

async fn decide(
    state: &Arc<State>,
    request: Request<Incoming>,
    id: &ApprovalId,
    approve: bool,
) -> Result<Response<ResponseBody>, ControlError> {
    let caller = auth::require(state, &request, &[Role::Approver])?;
    let (method, uri) = (request.method().clone(), request.uri().clone());
    let verdict: Verdict = json::read(request).await?;
    let verdict = Decision {
        caller: &caller,
        approve,
        reason: &verdict.reason,
        method: &method,
        uri: &uri,
    };
    let updated = decide_approval(state, id, verdict).await?;
    Ok(ok_json(&summary(&updated)))
}

/// An approver's verdict, as the JSON API and the console both give it; the caller's
/// role was checked by the surface it came through.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Decision<'a> {
    pub(crate) caller: &'a Caller,
    pub(crate) approve: bool,
    pub(crate) reason: &'a str,
    /// The request that carried the verdict, for the audit event.
    pub(crate) method: &'a Method,
    pub(crate) uri: &'a Uri,
}

/// Approves or denies approval `id`: the one code path for every surface. Records the
/// verdict as a control event and, once the approval has its approvers, runs the parked
/// call (once, in the background). Confirmations are not found here.
pub(crate) async fn decide_approval(
    state: &Arc<State>,
    id: &ApprovalId,
    decision: Decision<'_>,
) -> Result<Approval, ControlError> {
    let approval = state
        .approvals
        .get(id)
        .await
        .map_err(unavailable)?
        .ok_or(ControlError::NotFound)?;
    if approval.checkpoint != Checkpoint::Approval {
        return Err(ControlError::NotFound);
    }
    let Decision {
        caller,
        approve,
        reason,
        method,
        uri,
    } = decision;
    let updated = transition(state, caller, id, approve, reason, &approval.agent).await?;
    record(state, caller, method, uri, &updated, approve, reason);
    if updated.status == ApprovalStatus::Approved {
        state.approvals.run_approved(id);
    }
    Ok(updated)
}

async fn confirm(
    state: &Arc<State>,
    request: Request<Incoming>,
    id: &ApprovalId,
    approve: bool,
) -> Result<Response<ResponseBody>, ControlError> {
    let caller = auth::require(
        state,
        &request,
        &[Role::Operator, Role::Approver, Role::Auditor],
    )?;
    let (method, uri) = (request.method().clone(), request.uri().clone());
    let verdict: Verdict = json::read(request).await?;
    let approval = state
        .approvals
        .get(id)
        .await
        .map_err(unavailable)?
        .ok_or(ControlError::NotFound)?;
    if approval.checkpoint != Checkpoint::Confirmation {
        return Err(ControlError::NotFound);
    }
    // Only the confirmer the task class names may confirm its workflows' calls.
    let confirmer = state
        .config
        .task_classes
        .get(approval.task_class.as_str())
        .and_then(|class| class.confirmer.as_deref());
    if confirmer != Some(caller.name.as_str()) {
        return Err(ControlError::Forbidden {
            needed: format!("the confirmer of task class `{}`", approval.task_class),
        });
    }
    let updated = transition(
        state,
        &caller,
        id,
        approve,
        &verdict.reason,
        &approval.agent,
    )
    .await?;
    record(
        state,
        &caller,
        &method,
        &uri,
        &updated,
        approve,
        &verdict.reason,
    );
    Ok(ok_json(&summary(&updated)))
}

async fn transition(
    state: &State,
    caller: &Caller,
    id: &ApprovalId,
    approve: bool,
    reason: &str,
    agent: &AgentId,
) -> Result<Approval, ControlError> {
    let owner = state
        .config
        .agents
        .get(agent)
        .and_then(|agent| agent.owner.as_deref())
        .map(OperatorName::from);
    let rules = Rules {
        forbid_owner: state.config.approvals.forbid_owner,
        owner,
    };
    let now = state.clock.now().secs();
    let by = OperatorName::from(caller.name.as_str());
    let result = state
        .approvals
        .update(
            id,
            Box::new(|approval| {
                if approve {
                    approval.approve(&by, reason, &rules, now)
                } else {
                    approval.deny(&by, reason, &rules, now)
                }
            }),
        )
        .await;
    match result {
        Ok((approval, _)) => Ok(approval),
        Err(UpdateError::NotFound(_)) => Err(ControlError::NotFound),
        Err(UpdateError::Refused(error)) => Err(ControlError::Conflict {
            reason: error.to_string(),
        }),
        Err(UpdateError::Store(error)) => Err(unavailable(error)),
    }
}

fn record(
    state: &State,
    caller: &Caller,
    method: &Method,
    uri: &Uri,
    approval: &Approval,
    approve: bool,
    reason: &str,
) {
    let intent = match (approval.checkpoint, approve) {
        (Checkpoint::Approval, true) => "approval.approve",
        (Checkpoint::Approval, false) => "approval.deny",
        (Checkpoint::Confirmation, true) => "confirmation.confirm",
        (Checkpoint::Confirmation, false) => "confirmation.reject",
    };
    audit::record(
        state,
        Action {
            actor: &caller.name,
            method,
            uri,
            intent,
            agent: Some(approval.agent.clone()),
            workflow: Some(approval.workflow.clone()),
            detail: format!(
                "{} `{}` of decision `{}` ({} {} on `{}`), now {}: {reason}",
                approval.checkpoint.as_str(),
                approval.id,
                approval.decision,
                approval.call.method,
                approval.call.path,
                approval.call.tool,
                approval.status.as_str()
            ),
        },
    );
}

fn unavailable(error: impl std::fmt::Display) -> ControlError {
    ControlError::Unavailable {
        reason: error.to_string(),
    }
}
