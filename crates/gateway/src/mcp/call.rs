//! A gated MCP call — `tools/call`, `resources/read`, `prompts/get` — walking the data
//! plane's phases: classify (name → mapping, arguments typed), contain (scope), decide
//! (Cedar, arguments in the context), tier, budget, forward, with the event recording
//! each step. Listings go through [`crate::mcp::methods`]; they are not gated calls.
//!
//! A forwarded call may carry a [`Relay`] for the server's notifications about it
//! (progress, log messages). The agent's own `_meta`, its progress token included, never
//! reaches the server: the upstream client sends a token of Gatehouse's own instead.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use gatehouse_core::approval::{Approval, ApprovalStatus, ParkedCall, call_digest};
use gatehouse_core::config::{McpMapping, McpServer, McpTransport};
use gatehouse_core::model::{AgentId, AttrValue, Tier};
use gatehouse_core::refusal::{AuthFailure, Refusal};
use gatehouse_core::workflow::BudgetKind;
use gatehouse_policy::{DecisionContext, DecisionRequest, PolicyDecision};
use serde_json::{Map, Value};

use crate::credential::Credential;
use crate::dataplane::forward::{Guarded, OnBehalf, cancellation};
use crate::dataplane::record::EventDraft;
use crate::dataplane::{budget, decide, tier};
use crate::mcp::args;
use crate::mcp::jsonrpc::ErrorObject;
use crate::mcp::upstream::{Relay, UpstreamError};
use crate::state::State;
use crate::workflows::LiveWorkflow;

/// The `ParkedCall::method` of a parked MCP call; its `path` is the JSON-RPC method.
pub const PARKED_METHOD: &str = "MCP";
/// `_meta` key carrying a confirmation id on a re-sent call.
const CONFIRMATION_META: &str = "gatehouse/confirmation";
/// `_meta` key naming the approval whose outcome a re-sent call asks for.
const APPROVAL_META: &str = "gatehouse/approval";

/// What the server answered: a result, or its own JSON-RPC error, relayed.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Result(Value),
    Error(ErrorObject),
}

/// The caller of one MCP request, authenticated and contained to the server's segment.
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    pub state: &'a Arc<State>,
    pub credential: &'a Arc<Credential>,
    pub workflow: &'a Arc<LiveWorkflow>,
    pub server: &'a McpServer,
}

/// What goes to the server: a method, its params, and where the server's notifications
/// about it go (none when `relay` is `None`).
#[derive(Debug)]
pub struct Upcall<'a> {
    pub method: &'a str,
    pub params: Value,
    pub relay: Option<Relay>,
}

impl<'a> Upcall<'a> {
    /// A request whose notifications are not wanted.
    pub fn new(method: &'a str, params: Value) -> Self {
        Self {
            method,
            params,
            relay: None,
        }
    }
}

/// Which kind of gated call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gated {
    Tool,
    Resource,
    Prompt,
}

impl Gated {
    pub fn of(method: &str) -> Option<Self> {
        match method {
            "tools/call" => Some(Self::Tool),
            "resources/read" => Some(Self::Resource),
            "prompts/get" => Some(Self::Prompt),
            _ => None,
        }
    }

    fn method(self) -> &'static str {
        match self {
            Self::Tool => "tools/call",
            Self::Resource => "resources/read",
            Self::Prompt => "prompts/get",
        }
    }

    /// The parameter that names what is called.
    fn key(self) -> &'static str {
        match self {
            Self::Tool | Self::Prompt => "name",
            Self::Resource => "uri",
        }
    }
}

/// Runs one gated call; `relay`, if any, gets the server's notifications about it once
/// it is forwarded.
pub async fn gated(
    caller: Caller<'_>,
    kind: Gated,
    params: &Map<String, Value>,
    relay: Option<Relay>,
    draft: &mut EventDraft,
) -> Result<Reply, Refusal> {
    let (mapping, name) = classify(caller.server, kind, params)?;
    draft.mcp(caller.server, Some(mapping));
    draft.note(&format!("{} `{name}`", kind.key()));
    let arguments = arguments(kind, params, name)?;
    let typed = args::typed(&mapping.args, &arguments)
        .map_err(|reason| Refusal::BadArguments { reason })?;
    contain(caller, kind, mapping, name, draft)?;
    let verdict = decide(caller, mapping, &typed);
    let allowed = verdict.allowed && verdict.errors.is_empty();
    let policies = verdict.policies.clone();
    let tier = decide::effective_tier(mapping.tier, &verdict);
    draft.policies(verdict);
    if !allowed {
        if kind == Gated::Tool && !visible(caller, mapping) {
            // Hidden from `tools/list`, so as unknown as a tool that does not exist.
            draft.note("hidden from this agent by policy");
            return Err(unknown(kind, name));
        }
        return Err(Refusal::PolicyDenied);
    }
    draft.tier(tier);
    let forwarded = forwarded_params(params);
    let body = serde_json::to_vec(&forwarded).unwrap_or_default();
    let parked = parked_call(caller.server, kind, mapping, &body);
    let meta = params.get("_meta").and_then(Value::as_object);
    let gatekeeping = tier::Gatekeeping {
        credential: caller.credential,
        intent: &mapping.intent,
        tier,
        policies,
        confirmation: meta_text(meta, CONFIRMATION_META),
        wait: std::time::Duration::ZERO,
    };
    match tier {
        Tier::Low => {}
        Tier::Medium => tier::confirm(caller.state, &gatekeeping, parked, draft).await?,
        Tier::High => {
            let presented = meta_text(meta, APPROVAL_META);
            return approval_outcome(caller, &gatekeeping, parked, presented, draft).await;
        }
    }
    budget::reserve(
        caller.state,
        caller.workflow,
        mapping.access,
        body.len() as u64,
    )?;
    draft.bytes_in(body.len() as u64);
    let on_behalf = OnBehalf::of(caller.credential);
    let upcall = Upcall {
        method: kind.method(),
        params: forwarded,
        relay,
    };
    let reply = forward(
        caller.state,
        caller.server,
        caller.workflow,
        on_behalf,
        upcall,
        draft,
    )
    .await?;
    well_formed(kind, reply)
}

/// A server's answer to a gated call has the shape MCP gives it (a tool result's
/// `content`, a resource's `contents`, a prompt's `messages`); anything else is the
/// server misbehaving, refused rather than passed to the agent as if it were a result.
fn well_formed(kind: Gated, reply: Reply) -> Result<Reply, Refusal> {
    let Reply::Result(result) = &reply else {
        return Ok(reply);
    };
    let field = match kind {
        Gated::Tool => "content",
        Gated::Resource => "contents",
        Gated::Prompt => "messages",
    };
    if result.get(field).is_some_and(Value::is_array) {
        return Ok(reply);
    }
    Err(Refusal::UpstreamUnavailable {
        reason: format!(
            "the server's `{}` answer has no `{field}` array",
            kind.method()
        ),
    })
}

/// Phase 2: the mapping of what the call names. Nothing unmapped is reachable.
fn classify<'s>(
    server: &'s McpServer,
    kind: Gated,
    params: &'s Map<String, Value>,
) -> Result<(&'s McpMapping, &'s str), Refusal> {
    let name = params
        .get(kind.key())
        .and_then(Value::as_str)
        .ok_or_else(|| Refusal::BadArguments {
            reason: format!("`params.{}` must be a string", kind.key()),
        })?;
    let mapping = match kind {
        Gated::Tool => server.tools.get(name),
        Gated::Resource => server.resources.as_ref(),
        Gated::Prompt => server.prompts.as_ref(),
    };
    let mapping = mapping.ok_or_else(|| unknown(kind, name))?;
    Ok((mapping, name))
}

fn unknown(kind: Gated, name: &str) -> Refusal {
    match kind {
        Gated::Tool => Refusal::UnknownTool {
            tool: name.to_owned(),
        },
        Gated::Resource | Gated::Prompt => Refusal::UnknownMethod {
            method: kind.method().to_owned(),
        },
    }
}

/// The arguments policy may see: a tool's `arguments`, or the resource URI / prompt name.
fn arguments(
    kind: Gated,
    params: &Map<String, Value>,
    name: &str,
) -> Result<Map<String, Value>, Refusal> {
    match kind {
        Gated::Tool => match params.get("arguments") {
            None | Some(Value::Null) => Ok(Map::new()),
            Some(Value::Object(arguments)) => Ok(arguments.clone()),
            Some(_) => Err(Refusal::BadArguments {
                reason: "`params.arguments` must be an object".to_owned(),
            }),
        },
        Gated::Resource | Gated::Prompt => {
            Ok(Map::from_iter([(kind.key().to_owned(), Value::from(name))]))
        }
    }
}

/// Phase 3: the intent is in the credential's scope (the segment was checked at the
/// door). An out-of-scope tool is hidden, so it is refused as unknown.
fn contain(
    caller: Caller<'_>,
    kind: Gated,
    mapping: &McpMapping,
    name: &str,
    draft: &mut EventDraft,
) -> Result<(), Refusal> {
    if caller.credential.allows(&mapping.intent) {
        return Ok(());
    }
    let out_of_scope = Refusal::OutOfScope {
        intent: mapping.intent.to_string(),
    };
    if kind == Gated::Tool {
        draft.note(&out_of_scope.reason());
        return Err(unknown(kind, name));
    }
    Err(out_of_scope)
}

/// Phase 4: Cedar, with the typed arguments as `context.args`.
pub fn decide(
    caller: Caller<'_>,
    mapping: &McpMapping,
    args: &BTreeMap<String, AttrValue>,
) -> PolicyDecision {
    let claims = &caller.credential.claims;
    let agent = AgentId::new(claims.sub.as_str());
    let request = decision_request(caller, mapping, &agent, args);
    caller.state.policy.decide(&request)
}

/// Whether some arguments could let this agent call the mapping (least visibility).
pub fn visible(caller: Caller<'_>, mapping: &McpMapping) -> bool {
    if !caller.credential.allows(&mapping.intent) {
        return false;
    }
    let agent = AgentId::new(caller.credential.claims.sub.as_str());
    let none = BTreeMap::new();
    let request = decision_request(caller, mapping, &agent, &none);
    caller.state.policy.visible(&request)
}

fn decision_request<'a>(
    caller: Caller<'a>,
    mapping: &'a McpMapping,
    agent: &'a AgentId,
    args: &'a BTreeMap<String, AttrValue>,
) -> DecisionRequest<'a> {
    let claims = &caller.credential.claims;
    DecisionRequest {
        agent,
        intent: &mapping.intent,
        tool: &caller.server.name,
        context: DecisionContext {
            now: caller.state.clock.now(),
            workflow: &claims.wf,
            task_class: &claims.tc,
            segment: caller.credential.segment.as_str(),
            data_class: mapping.data_class.as_str(),
            tier: mapping.tier,
            write: mapping.access == gatehouse_core::model::Access::Write,
            args: Some(args),
        },
    }
}

/// The params the server receives: the agent's, without `_meta`, which carries the
/// agent's protocol envelope and Gatehouse's own keys, neither meant for the server.
///
/// Keys are sorted at every level, so the call's digest (which binds confirmations and
/// approvals to it) does not depend on the order an SDK happened to write them in.
fn forwarded_params(params: &Map<String, Value>) -> Value {
    let kept = params.iter().filter(|(key, _)| key.as_str() != "_meta");
    canonical(&Value::Object(
        kept.map(|(key, value)| (key.clone(), value.clone()))
            .collect(),
    ))
}

/// `value` with every object's keys in sorted order.
fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(object) => {
            let mut keys: Vec<&String> = object.keys().collect();
            keys.sort_unstable();
            let sorted = keys
                .into_iter()
                .filter_map(|key| Some((key.clone(), canonical(object.get(key)?))))
                .collect();
            Value::Object(sorted)
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

fn meta_text<'m>(meta: Option<&'m Map<String, Value>>, key: &str) -> Option<&'m str> {
    meta?.get(key)?.as_str()
}

fn parked_call(server: &McpServer, kind: Gated, mapping: &McpMapping, body: &[u8]) -> ParkedCall {
    let tool = server.name.as_str();
    ParkedCall {
        method: PARKED_METHOD.to_owned(),
        tool: tool.to_owned(),
        intent: mapping.intent.to_string(),
        path: kind.method().to_owned(),
        query: None,
        content_type: Some("application/json".to_owned()),
        body: body.to_vec(),
        digest: call_digest(PARKED_METHOD, tool, kind.method(), None, body),
    }
}

/// High tier: the outcome of the approval the agent names (for this exact call), or a
/// new approval parking the call.
async fn approval_outcome(
    caller: Caller<'_>,
    gatekeeping: &tier::Gatekeeping<'_>,
    parked: ParkedCall,
    presented: Option<&str>,
    draft: &mut EventDraft,
) -> Result<Reply, Refusal> {
    if let Some(id) = presented {
        let approval = caller
            .state
            .approvals
            .get(id)
            .await
            .map_err(tier::store_failure)?;
        let claims = &caller.credential.claims;
        let approval = approval.filter(|approval| {
            approval.agent == claims.sub
                && approval.workflow == claims.wf
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
    let approval = tier::park(caller.state, gatekeeping, parked, draft).await?;
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

/// Phase 7: the server, with its secret, racing revocation; the answer's bytes count
/// against the byte budget and an answer that would overspend it is withheld. The
/// notifications relayed meanwhile are not counted: they are bounded per call instead.
pub async fn forward(
    state: &Arc<State>,
    server: &McpServer,
    workflow: &Arc<LiveWorkflow>,
    on_behalf: OnBehalf<'_>,
    upcall: Upcall<'_>,
    draft: &mut EventDraft,
) -> Result<Reply, Refusal> {
    let upstream = state
        .mcp
        .upstreams
        .get(&server.name)
        .ok_or_else(|| Refusal::Internal {
            reason: format!("no upstream client for MCP server `{}`", server.name),
        })?;
    let secret = match &server.transport {
        McpTransport::Http { auth: Some(_), .. } => state.secrets.current(&server.name),
        McpTransport::Http { auth: None, .. } | McpTransport::Stdio(_) => None,
    };
    let timeout = server.timeout;
    let guarded = Guarded {
        caller: on_behalf,
        workflow,
        declared: 0,
    };
    let started = Instant::now();
    let cancel = cancellation(state, guarded);
    let Upcall {
        method,
        params,
        relay,
    } = upcall;
    let request = upstream.request_relaying(method, params, secret.as_ref(), timeout, relay);
    let outcome = tokio::select! {
        outcome = request => outcome,
        reason = cancel => {
            draft.note(&reason);
            return Err(Refusal::Unauthenticated(AuthFailure::Revoked));
        }
    };
    draft.upstream_us(u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX));
    let reply = match outcome {
        Ok(Ok(result)) => Reply::Result(result),
        Ok(Err(error)) => Reply::Error(error),
        Err(UpstreamError::Timeout) => return Err(Refusal::UpstreamTimeout),
        Err(UpstreamError::TooLarge) => {
            let limit = state.config.gateway.limits.max_response_body;
            draft.note(&format!(
                "the server's answer exceeds the response limit of {limit} bytes"
            ));
            return Err(Refusal::UpstreamUnavailable {
                reason: format!("answer larger than {limit} bytes"),
            });
        }
        Err(error) => {
            return Err(Refusal::UpstreamUnavailable {
                reason: error.to_string(),
            });
        }
    };
    let size = match &reply {
        Reply::Result(value) => serde_json::to_vec(value).map_or(0, |bytes| bytes.len()),
        Reply::Error(_) => 0,
    };
    if workflow.add_bytes(size as u64).is_err() {
        let snapshot = workflow.snapshot();
        budget::notify_paused(state, &snapshot, BudgetKind::Bytes);
        draft.note(&format!("the server's answer of {size} bytes was withheld"));
        return Err(Refusal::BudgetExhausted {
            workflow: snapshot.id.to_string(),
            kind: BudgetKind::Bytes.as_str().to_owned(),
            spent: snapshot.usage.bytes,
            limit: snapshot.budget.bytes,
        });
    }
    Ok(reply)
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
    let stored = || crate::approvals::execute::internal("stored MCP call");
    let server = state
        .config
        .mcp_servers
        .get(&gatehouse_core::model::ToolName::new(parked.tool.as_str()))
        .ok_or_else(stored)?;
    let kind = Gated::of(&parked.path).ok_or_else(stored)?;
    let params: Map<String, Value> = serde_json::from_slice(&parked.body).map_err(|_| stored())?;
    let (mapping, _) = classify(server, kind, &params)?;
    draft.mcp(server, Some(mapping));
    draft.rpc_method(kind.method());
    budget::reserve(state, workflow, mapping.access, parked.body.len() as u64)?;
    let on_behalf = OnBehalf::parked(approval);
    let reply = forward(
        state,
        server,
        workflow,
        on_behalf,
        Upcall::new(kind.method(), Value::Object(params)),
        draft,
    )
    .await
    .and_then(|reply| well_formed(kind, reply))?;
    let body = match reply {
        Reply::Result(result) => serde_json::json!({ "result": result }),
        Reply::Error(error) => serde_json::json!({ "error": error.to_value() }),
    };
    let response = crate::problem::json_response(http::StatusCode::OK, &body, "application/json");
    // HTTP replays record when their body ends; this answer is whole, so record now.
    let length = serde_json::to_vec(&body).map_or(0, |bytes| bytes.len());
    draft.clone().answered(state, 200, length as u64);
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn forwarded_params_drop_meta_and_do_not_depend_on_key_order() {
        let Value::Object(first) = json!({"_meta": {"gatehouse/approval": "x"}, "name": "echo", "arguments": {"b": 1, "a": [{"z": 1, "y": 2}]}})
        else {
            return;
        };
        let Value::Object(second) =
            json!({"arguments": {"a": [{"y": 2, "z": 1}], "b": 1}, "name": "echo"})
        else {
            return;
        };
        let one = serde_json::to_string(&forwarded_params(&first)).unwrap_or_default();
        let two = serde_json::to_string(&forwarded_params(&second)).unwrap_or_default();
        assert_eq!(one, two);
        assert_eq!(
            one,
            r#"{"arguments":{"a":[{"y":2,"z":1}],"b":1},"name":"echo"}"#
        );
    }
}
