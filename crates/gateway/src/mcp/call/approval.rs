//! High-tier MCP calls: parking the exact call (arguments included), telling the agent
//! where its approval stands, and running it once when approved.

use std::sync::Arc;

use gatehouse_core::approval::{Approval, ApprovalStatus, CallToPark, ParkedCall};
use gatehouse_core::config::{McpMapping, McpServer};
use gatehouse_core::ids::ApprovalId;
use gatehouse_core::mcp::raw::agent::Params;
use gatehouse_core::refusal::Refusal;
use serde_json::Value;
use serde_json::value::RawValue;

use super::{Caller, Gated, PARKED_METHOD, Reply, Upcall, classify, forward, well_formed};
use crate::mcp::jsonrpc::ErrorObject;
use crate::pipeline::budget;
use crate::pipeline::cancel::OnBehalf;
use crate::pipeline::record::EventDraft;
use crate::pipeline::tier;
use crate::state::State;
use crate::workflows::LiveWorkflow;

pub(super) fn parked_call(
    server: &McpServer,
    kind: Gated,
    mapping: &McpMapping,
    body: &[u8],
) -> ParkedCall {
    ParkedCall::new(CallToPark {
        method: PARKED_METHOD.to_owned(),
        tool: server.name.clone(),
        intent: mapping.intent.clone(),
        path: kind.method().to_owned(),
        query: None,
        content_type: Some("application/json".to_owned()),
        body: body.to_vec(),
    })
}

/// High tier: the outcome of the approval the agent names (for this exact call), or a
/// new approval parking the call.
pub(super) async fn approval_outcome(
    caller: Caller<'_>,
    gatekeeping: &tier::Gatekeeping<'_>,
    parked: ParkedCall,
    presented: Option<&str>,
    draft: &mut EventDraft,
) -> Result<Reply, Refusal> {
    if let Some(id) = presented {
        let id = ApprovalId::from(id);
        let approval = caller
            .state
            .approvals
            .get(&id)
            .await
            .map_err(tier::store_failure)?;
        let credential = caller.credential;
        let approval = approval.filter(|approval| {
            approval.agent == credential.agent
                && approval.workflow == credential.workflow
                && approval.call.digest == parked.digest
        });
        let Some(approval) = approval else {
            return Err(Refusal::ConfirmationRejected {
                reason: format!("approval `{id}` is not this agent's approval of this exact call"),
            });
        };
        draft.note(&format!("asks for the outcome of approval `{id}`"));
        return settled(&approval);
    }
    let approval = tier::park(caller.state.checkpoints(), gatekeeping, parked, draft).await?;
    draft.note(&format!("parked as approval `{}`", approval.id));
    settled(&approval)
}

/// What an approval means for the agent now: its stored answer once run, else why not.
fn settled(approval: &Approval) -> Result<Reply, Refusal> {
    let id = approval.id.clone();
    match approval.status {
        ApprovalStatus::Done => Ok(stored_reply(approval)),
        ApprovalStatus::Denied => Err(Refusal::ApprovalDenied { id }),
        ApprovalStatus::Expired => Err(Refusal::ApprovalExpired { id }),
        ApprovalStatus::Cancelled => Err(Refusal::ApprovalCancelled { id }),
        ApprovalStatus::Pending | ApprovalStatus::Approved | ApprovalStatus::Executing => {
            Err(Refusal::ApprovalPending { id })
        }
    }
}

/// The answer kept when Gatehouse ran the approved call: the server's result or error.
fn stored_reply(approval: &Approval) -> Reply {
    let stored = approval.response.as_ref();
    let value = stored.and_then(|stored| serde_json::from_slice::<Value>(&stored.body).ok());
    match (stored.map(|stored| stored.status), value) {
        (Some(200), Some(Value::Object(mut object))) => match object.remove("error") {
            Some(error) => Reply::Error(error_object(&error)),
            None => Reply::Result(object.remove("result").unwrap_or(Value::Object(object))),
        },
        (_, value) => Reply::Error(
            ErrorObject::new(
                crate::mcp::jsonrpc::code::UPSTREAM,
                "the approved call failed",
            )
            .with_data(value.unwrap_or(Value::Null)),
        ),
    }
}

fn error_object(value: &Value) -> ErrorObject {
    let code = value
        .get("code")
        .and_then(Value::as_i64)
        .unwrap_or(crate::mcp::jsonrpc::code::UPSTREAM);
    let message = value
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("error");
    let error = ErrorObject::new(code, message);
    match value.get("data") {
        Some(data) => error.with_data(data.clone()),
        None => error,
    }
}

/// Runs an approved, parked MCP call: the stored params exactly, through the budget and
/// the server; the answer is kept as `{"result": …}` or `{"error": …}`.
pub async fn replay(
    state: &Arc<State>,
    approval: &Approval,
    workflow: &Arc<LiveWorkflow>,
    draft: &mut EventDraft,
) -> Result<http::Response<crate::body::ResponseBody>, Refusal> {
    let parked = &approval.call;
    let stored = || crate::pipeline::tier::replay_failure("stored MCP call");
    let server = state
        .config
        .mcp_servers
        .get(&parked.tool)
        .ok_or_else(stored)?;
    let kind = Gated::of(&parked.path).ok_or_else(stored)?;
    // The stored body is the forwarded params Gatehouse wrote, read as an agent's are.
    let text: &RawValue = serde_json::from_slice(&parked.body).map_err(|_| stored())?;
    let params = Params::read(Some(text)).map_err(|_| stored())?;
    let (mapping, _) = classify(server, kind, &params)?;
    let body = super::params::forwarded(&params, None).map_err(|_| stored())?;
    draft.mcp(server, Some(mapping));
    draft.rpc_method(kind.method());
    // An approval is a permit, and a quarantine wins over every permit.
    let reach = crate::quarantines::Reach {
        agent: &approval.agent,
        tool: &server.name,
        segment: &server.segment,
        intent: Some(&mapping.intent),
    };
    state.quarantines.check(reach, state.clock.as_ref())?;
    budget::reserve(
        state.budgets(),
        workflow,
        mapping.access,
        parked.body.len() as u64,
    )
    .await?;
    let on_behalf = OnBehalf::parked(approval);
    let reply = forward(
        state,
        server,
        workflow,
        on_behalf,
        Upcall::new(kind.method(), body)
            .of_intent(&mapping.intent)
            .with_risk(mapping.risk.as_ref()),
        draft,
    )
    .await
    .and_then(|reply| well_formed(kind, reply))?;
    let body = match reply {
        Reply::Result(result) => serde_json::json!({ "result": result }),
        Reply::Raw(raw) => serde_json::json!({ "result": raw.tree()? }),
        Reply::Error(error) => serde_json::json!({ "error": error.to_value() }),
    };
    let response = crate::problem::json_response(http::StatusCode::OK, &body, "application/json");
    // HTTP replays record when their body ends; this answer is whole, so record now.
    let length = serde_json::to_vec(&body).map_or(0, |bytes| bytes.len());
    draft.take().answered(&state.emitter, 200, length as u64);
    Ok(response)
}
