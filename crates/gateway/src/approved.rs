//! Running an approved call: Gatehouse replays the parked call itself, exactly once,
//! through the same budget and forward phases as any call, and keeps the response for
//! the agent, who waited or polls `GET /v1/approvals/{id}` with its credential.

use std::sync::Arc;

use gatehouse_core::approval::{Approval, StoredResponse};
use gatehouse_core::event::EventKind;
use gatehouse_core::ids::ApprovalId;
use gatehouse_core::refusal::{AuthFailure, Refusal};
use http::{HeaderMap, Request, Response, Uri, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use crate::body::ResponseBody;
use crate::dataplane::forward::{self, Message};
use crate::dataplane::{classify, tier};
use crate::pipeline::budget;
use crate::pipeline::cancel::{Guarded, OnBehalf};
use crate::pipeline::record::{EventDraft, Identity};
use crate::pipeline::tier::replay_failure;
use crate::quarantines::Reach;
use crate::state::State;

/// Lets the approvals handle run approved calls (a weak reference: the handle lives in
/// the state it would otherwise keep alive).
pub fn install_runner(state: &Arc<State>) {
    let weak = Arc::downgrade(state);
    state
        .approvals
        .set_runner(crate::approvals::Runner(Box::new(move |id| {
            if let Some(state) = weak.upgrade() {
                tokio::spawn(execute(state, id));
            }
        })));
}

/// Executes approval `id` if it is approved and has not run; records its own event.
pub async fn execute(state: Arc<State>, id: ApprovalId) {
    let now = state.clock.now().secs();
    let started = state
        .approvals
        .update(&id, Box::new(move |approval| approval.begin_execution(now)))
        .await;
    let Ok((approval, ())) = started else {
        return;
    };
    let response = run(&state, &approval).await;
    let finished = state
        .approvals
        .update(
            &id,
            Box::new(move |approval| approval.finish_execution(response.clone())),
        )
        .await;
    if let Err(error) = finished {
        tracing::error!(%error, approval = %id, "cannot store the executed call's response");
    }
}

/// Replays the parked call; every failure becomes the stored answer the agent will see.
async fn run(state: &Arc<State>, approval: &Approval) -> StoredResponse {
    let call = &approval.call;
    let path = if call.method == crate::mcp::call::PARKED_METHOD {
        format!("/mcp/{}", call.tool)
    } else {
        format!("/tools/{}{}", call.tool, call.path)
    };
    let mut draft = EventDraft::synthetic(&state.emitter, EventKind::Approval, &call.method, &path);
    // The call runs for the agent and workflow that made it, not for nobody.
    draft.identity(Identity {
        agent: approval.agent.clone(),
        workflow: approval.workflow.clone(),
        task_class: approval.task_class.clone(),
        segment: approval.segment.clone(),
    });
    draft.note(&format!(
        "executes approval `{}` of decision `{}`, approved by {}",
        approval.id,
        approval.decision,
        approvers(approval)
    ));
    match replay(state, approval, &mut draft).await {
        Ok(response) => collect(state, response).await,
        Err(refusal) => {
            let response = draft.refuse(&state.emitter, &refusal);
            collect(state, response).await
        }
    }
}

async fn replay(
    state: &Arc<State>,
    approval: &Approval,
    draft: &mut EventDraft,
) -> Result<Response<ResponseBody>, Refusal> {
    let parked = &approval.call;
    if parked.method == crate::mcp::call::PARKED_METHOD {
        let workflow = live_workflow(state, approval).await?;
        return crate::mcp::call::replay(state, approval, &workflow, draft).await;
    }
    let uri = parked_uri(approval)?;
    let method: http::Method = parked
        .method
        .parse()
        .map_err(|_| replay_failure("stored method"))?;
    let call = classify::classify(state, &method, &uri)?;
    draft.target(&call.target());
    // An approval is a permit, and a quarantine wins over every permit.
    let reach = Reach {
        agent: &approval.agent,
        tool: &call.tool.tool.name,
        segment: &call.tool.tool.segment,
        intent: Some(&call.route.intent),
    };
    state.quarantines.check(reach, state.clock.as_ref())?;
    let workflow = live_workflow(state, approval).await?;
    let declared = parked.body.len() as u64;
    budget::reserve(state.budgets(), &workflow, call.route.access, declared).await?;
    let mut headers = HeaderMap::new();
    if let Some(content_type) = parked
        .content_type
        .as_deref()
        .and_then(|value| value.parse().ok())
    {
        headers.insert(header::CONTENT_TYPE, content_type);
    }
    let message = Message {
        method,
        headers,
        body: crate::body::full(parked.body.clone()),
        peer: None,
        upgrade: None,
    };
    let guarded = Guarded {
        caller: OnBehalf::parked(approval),
        workflow: &workflow,
        declared,
        reach,
    };
    forward::forward(state, message, guarded, &call.destination(), draft).await
}

/// The approval's workflow, if it and its agent may still act.
async fn live_workflow(
    state: &State,
    approval: &Approval,
) -> Result<Arc<crate::workflows::LiveWorkflow>, Refusal> {
    let workflow = state
        .workflows
        .get(&approval.workflow)
        .await
        .map_err(|error| replay_failure(&error.to_string()))?
        .ok_or(Refusal::Unauthenticated(AuthFailure::Revoked))?;
    if workflow.is_over(state.clock.now().secs())
        || state.revocations.is_agent_revoked(&approval.agent)
    {
        return Err(Refusal::Unauthenticated(AuthFailure::Revoked));
    }
    Ok(workflow)
}

fn parked_uri(approval: &Approval) -> Result<Uri, Refusal> {
    let call = &approval.call;
    let mut text = format!("/tools/{}{}", call.tool, call.path);
    if let Some(query) = &call.query {
        text.push('?');
        text.push_str(query);
    }
    text.parse().map_err(|_| replay_failure("stored path"))
}

/// Reads the whole response (bounded by the response limit) to keep it.
async fn collect(state: &State, response: Response<ResponseBody>) -> StoredResponse {
    let (parts, body) = response.into_parts();
    let limit =
        usize::try_from(state.config.gateway.limits.max_response_body).unwrap_or(usize::MAX);
    match read_bounded(body, limit).await {
        Some(body) => StoredResponse {
            status: parts.status.as_u16(),
            content_type: parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned),
            body,
        },
        None => StoredResponse {
            status: 502,
            content_type: Some(crate::problem::PROBLEM_JSON.to_owned()),
            body: br#"{"type":"urn:gatehouse:problem:upstream-unavailable","title":"tool unavailable","status":502}"#.to_vec(),
        },
    }
}

/// The whole body, or `None` past `limit` or on a failed stream.
async fn read_bounded(mut body: ResponseBody, limit: usize) -> Option<Vec<u8>> {
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.ok()?.into_data() {
            if bytes.len() + data.len() > limit {
                return None;
            }
            bytes.extend_from_slice(&data);
        }
    }
    Some(bytes)
}

fn approvers(approval: &Approval) -> String {
    let names: Vec<String> = approval
        .verdicts
        .iter()
        .filter(|verdict| verdict.approve)
        .map(|verdict| format!("`{}`", verdict.by))
        .collect();
    names.join(" and ")
}

/// `GET /v1/approvals/{id}` on the data plane: the caller's own approval, as it stands.
pub async fn poll(state: Arc<State>, request: Request<Incoming>) -> Response<ResponseBody> {
    let mut draft = EventDraft::begin(&state.emitter, &request, EventKind::ApprovalPoll);
    match poll_phases(&state, &request, &mut draft).await {
        Ok(response) => {
            draft.allow(&state.emitter, response.status().as_u16());
            response
        }
        Err(refusal) => draft.refuse(&state.emitter, &refusal),
    }
}

async fn poll_phases(
    state: &State,
    request: &Request<Incoming>,
    draft: &mut EventDraft,
) -> Result<Response<ResponseBody>, Refusal> {
    // The same door as a tool call: a revoked credential or agent, or an ended workflow,
    // fetches nothing, not even the stored result of a call approved before.
    crate::pipeline::authenticate::check_header_size(
        state.config.gateway.limits.max_header_bytes,
        request,
    )?;
    let (credential, _) = crate::pipeline::authenticate::authenticate(
        state.verifier(),
        &state.revocations,
        &state.workflows,
        request,
    )
    .await?;
    draft.credential(&credential);
    let id = ApprovalId::from(request.uri().path().trim_start_matches("/v1/approvals/"));
    let now = state.clock.now().secs();
    if let Ok(expired) = state
        .approvals
        .touch(&id, Box::new(move |approval| approval.expire_if_due(now)))
        .await
    {
        crate::audit::record_settled(state, expired.as_slice(), "approval.expire");
    }
    let approval = state
        .approvals
        .get(&id)
        .await
        .map_err(|error| replay_failure(&error.to_string()))?;
    // Another agent's approval is as unknown as a missing one.
    let approval = approval
        .filter(|approval| {
            approval.agent == credential.agent && approval.workflow == credential.workflow
        })
        .ok_or(Refusal::NoRoute)?;
    tier::outcome_response(&approval, draft.id())
}
