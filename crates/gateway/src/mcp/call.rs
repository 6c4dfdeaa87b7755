//! A gated MCP call — `tools/call`, `resources/read`, `prompts/get` — walking the data
//! plane's phases: classify (name → mapping, arguments typed), contain (scope), decide
//! (Cedar, arguments in the context), tier, budget, forward, with the event recording
//! each step. Listings go through [`crate::mcp::methods`]; they are not gated calls.
//!
//! A forwarded call may carry a [`Relay`] for the server's notifications about it
//! (progress, log messages). The agent's own `_meta`, its progress token included, never
//! reaches the server: the upstream client sends a token of Gatehouse's own instead.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use gatehouse_core::baseline::anomaly::AnomalySet;
use gatehouse_core::config::{McpMapping, McpServer};
use gatehouse_core::mcp::raw::Written;
use gatehouse_core::mcp::raw::agent::{Object, Params};
use gatehouse_core::model::{AttrValue, Intent, Tier};
use gatehouse_core::refusal::Refusal;
use gatehouse_core::risk::RouteRisk;
use gatehouse_policy::PolicyDecision;
use serde_json::{Map, Value};

use crate::credential::Credential;
use crate::mcp::args;
use crate::mcp::jsonrpc::{ErrorObject, code};
use crate::mcp_upstream::Relay;
use crate::pipeline::cancel::OnBehalf;
use crate::pipeline::record::EventDraft;
use crate::pipeline::{Target, baseline, budget, decide, observe, tier};
use crate::quarantines::Reach;
use crate::state::State;
use crate::workflows::LiveWorkflow;

mod approval;
mod forward;
pub(crate) mod params;

pub use approval::replay;
use approval::{approval_outcome, parked_call};
pub use forward::forward;

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
    /// A result as the server wrote it, passed on without being parsed into a tree
    /// (nothing on the call's route reads its content).
    Raw(Raw),
    Error(ErrorObject),
}

/// A server's result as it wrote it: one JSON value, its text unparsed (its top members
/// read with its message).
#[derive(Debug, Clone)]
pub struct Raw {
    pub text: Written,
    /// Whether the result (an object) has a `resultType` member; `None` until
    /// `well_formed` read its members.
    pub result_type: Option<bool>,
}

/// The same text, as written (two spellings of one value differ).
impl PartialEq for Raw {
    fn eq(&self, other: &Self) -> bool {
        self.text.get() == other.text.get() && self.result_type == other.result_type
    }
}

impl Raw {
    pub fn new(text: Written) -> Self {
        Self {
            text,
            result_type: None,
        }
    }

    /// The result as a tree, for a route that reads it.
    pub fn tree(&self) -> Result<Value, Refusal> {
        serde_json::from_str(self.text.get()).map_err(|error| Refusal::UpstreamUnavailable {
            reason: format!("the server's result does not parse: {error}"),
        })
    }
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
    /// The params object as JSON text, without `_meta` (Gatehouse writes its own).
    pub params: String,
    /// The call's child `traceparent`, sent in `_meta`.
    pub traceparent: Option<String>,
    pub relay: Option<Relay>,
    /// The gated call's intent, which a quarantine may name; `None` for the rest.
    pub intent: Option<&'a Intent>,
    /// How the tool's result is scanned and redacted (`scan`, `redact`); `None` for
    /// the rest.
    pub risk: Option<&'a Arc<RouteRisk>>,
}

impl<'a> Upcall<'a> {
    /// A request whose notifications are not wanted; `params` is an object's JSON text
    /// without `_meta`.
    pub fn new(method: &'a str, params: String) -> Self {
        Self {
            method,
            params,
            traceparent: None,
            relay: None,
            intent: None,
            risk: None,
        }
    }

    /// The same request, its result scanned as `risk` says (an approved call's replay).
    pub fn with_risk(self, risk: Option<&'a Arc<RouteRisk>>) -> Self {
        Self { risk, ..self }
    }

    /// The same request, for a gated call of `intent`.
    pub fn of_intent(self, intent: &'a Intent) -> Self {
        Self {
            intent: Some(intent),
            ..self
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
    params: &Params<'_>,
    relay: Option<Relay>,
    draft: &mut EventDraft,
) -> Result<Reply, Refusal> {
    let (mapping, name) = classify(caller.server, kind, params)?;
    let name = name.as_ref();
    draft.mcp(caller.server, Some(mapping));
    draft.note(&format!("{} `{name}`", kind.key()));
    // A tool's arguments are read into a tree once: typed for policy and Cedar's
    // context, and written from the same tree into the forwarded params.
    let tree = tool_arguments(kind, params)?;
    let arguments = policy_arguments(kind, tree.as_ref(), name);
    let typed = args::typed(&mapping.args, arguments.as_ref())
        .map_err(|reason| Refusal::BadArguments { reason })?;
    contain(caller, kind, mapping, name, draft)?;
    let reach = Reach {
        agent: &caller.credential.claims.sub,
        tool: &caller.server.name,
        segment: &caller.server.segment,
        intent: Some(&mapping.intent),
    };
    caller
        .state
        .quarantines
        .check(reach, caller.state.clock.as_ref())?;
    let (server, segment) = (&caller.server.name, &caller.server.segment);
    let observed = observe::covers_named(&caller.state.observe, server, segment, draft);
    let state = caller.state;
    let anomalies = baseline::judge(
        &state.baselines,
        &caller.credential.agent,
        &mapping.intent,
        draft,
    );
    let verdict = decide_recorded(caller, mapping, (&typed, anomalies), draft);
    let allowed = verdict.allowed && verdict.errors.is_empty();
    let policies = verdict.policies.clone();
    let tier = decide::effective_tier(mapping.tier, &verdict);
    let tier = baseline::raise(&state.baselines, tier, anomalies, draft);
    draft.policies(verdict);
    if !allowed {
        if !observed && kind == Gated::Tool && !visible(caller, mapping) {
            // Hidden from `tools/list`, so as unknown as a tool that does not exist.
            draft.note("hidden from this agent by policy");
            return Err(unknown(kind, name));
        }
        observe::or_refuse(Refusal::PolicyDenied, observed, draft)?;
    }
    draft.tier(tier);
    let tier = observe::tier(tier, observed, draft);
    let body = params::forwarded(params, tree.as_ref()).map_err(|error| not_json(&error))?;
    // The parked form (and its digest) only for the tiers that confirm or park a call.
    let parked = || parked_call(caller.server, kind, mapping, body.as_bytes());
    let meta = params.meta();
    let confirmation = meta_text(meta, CONFIRMATION_META);
    let gatekeeping = tier::Gatekeeping {
        credential: caller.credential,
        intent: &mapping.intent,
        tier,
        policies,
        confirmation: confirmation.as_deref(),
        wait: std::time::Duration::ZERO,
    };
    match tier {
        Tier::Low => {}
        Tier::Medium => {
            budget::ensure_active(caller.state.budgets(), caller.workflow)?;
            // The tiers' futures (the checkpoint store's writes) are larger than the
            // forward's: on the heap, so a low-tier call's future stays small.
            let confirm = tier::confirm(caller.state.checkpoints(), &gatekeeping, parked(), draft);
            Box::pin(confirm).await?;
        }
        Tier::High => {
            let presented = meta_text(meta, APPROVAL_META);
            // Asking for an approved call's result is fine; parking a new one is not.
            if presented.is_none() {
                budget::ensure_active(caller.state.budgets(), caller.workflow)?;
            }
            let presented = presented.as_deref();
            let outcome = approval_outcome(caller, &gatekeeping, parked(), presented, draft);
            return Box::pin(outcome).await;
        }
    }
    let reserved = budget::reserve(
        caller.state.budgets(),
        caller.workflow,
        mapping.access,
        body.len() as u64,
    )
    .await;
    observe::budget(reserved, observed, draft)?;
    draft.bytes_in(body.len() as u64);
    let on_behalf = OnBehalf::of(caller.credential);
    let upcall = Upcall {
        method: kind.method(),
        params: body,
        traceparent: Some(draft.span().child_header()),
        relay,
        intent: Some(&mapping.intent),
        risk: mapping.risk.as_ref(),
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
///
/// A result passed on as written is read member by member, not into a tree; one that
/// repeats a member is refused too, as its agent might read it otherwise than this check.
pub(super) fn well_formed(kind: Gated, reply: Reply) -> Result<Reply, Refusal> {
    let field = match kind {
        Gated::Tool => "content",
        Gated::Resource => "contents",
        Gated::Prompt => "messages",
    };
    let has_no_field = || Refusal::UpstreamUnavailable {
        reason: format!(
            "the server's `{}` answer has no `{field}` array",
            kind.method()
        ),
    };
    match reply {
        Reply::Result(result) if result.get(field).is_some_and(Value::is_array) => {
            Ok(Reply::Result(result))
        }
        Reply::Result(_) => Err(has_no_field()),
        Reply::Raw(raw) => {
            if !raw.text.get().starts_with('{') {
                return Err(has_no_field());
            }
            let members = raw
                .text
                .members()
                .ok_or_else(|| Refusal::UpstreamUnavailable {
                    reason: format!("the server's `{}` answer repeats a member", kind.method()),
                })?;
            let member = |name: &str| members.iter().find(|(key, _)| key.as_ref() == name);
            let array = member(field).map(|(_, start)| *start);
            if array != Some(b'[') {
                return Err(has_no_field());
            }
            let result_type = Some(member("resultType").is_some());
            Ok(Reply::Raw(Raw { result_type, ..raw }))
        }
        Reply::Error(error) => Ok(Reply::Error(error)),
    }
}

/// Phase 2: the mapping of what the call names. Nothing unmapped is reachable.
pub(super) fn classify<'s, 'p>(
    server: &'s McpServer,
    kind: Gated,
    params: &Params<'p>,
) -> Result<(&'s McpMapping, Cow<'p, str>), Refusal> {
    let name = params
        .str(kind.key())
        .ok_or_else(|| Refusal::BadArguments {
            reason: format!("`params.{}` must be a string", kind.key()),
        })?;
    let mapping = match kind {
        Gated::Tool => server.tools.get(name.as_ref()),
        Gated::Resource => server.resources.as_ref(),
        Gated::Prompt => server.prompts.as_ref(),
    };
    let mapping = mapping.ok_or_else(|| unknown(kind, &name))?;
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

/// A tool call's `arguments`, read into a tree; `None` when absent or null, and for
/// the other kinds, whose params carry no arguments policy reads.
fn tool_arguments(kind: Gated, params: &Params<'_>) -> Result<Option<Map<String, Value>>, Refusal> {
    let Some(raw) = params.get("arguments").filter(|_| kind == Gated::Tool) else {
        return Ok(None);
    };
    match raw.get() {
        "null" => Ok(None),
        text if text.starts_with('{') => serde_json::from_str(text)
            .map(Some)
            .map_err(|error| not_json(&error)),
        _ => Err(Refusal::BadArguments {
            reason: "`params.arguments` must be an object".to_owned(),
        }),
    }
}

/// The arguments policy may see: a tool's `arguments` (borrowed), or the resource URI /
/// prompt name.
fn policy_arguments<'t>(
    kind: Gated,
    tree: Option<&'t Map<String, Value>>,
    name: &str,
) -> Cow<'t, Map<String, Value>> {
    match (kind, tree) {
        (Gated::Tool, Some(arguments)) => Cow::Borrowed(arguments),
        (Gated::Tool, None) => Cow::Owned(Map::new()),
        (Gated::Resource | Gated::Prompt, _) => {
            Cow::Owned(Map::from_iter([(kind.key().to_owned(), Value::from(name))]))
        }
    }
}

/// A shape error from reading the agent's message, answered as the tree parser would.
pub(crate) fn bad_message(error: ErrorObject) -> Refusal {
    Refusal::BadMessage {
        rpc_code: error.code,
        reason: error.message,
    }
}

/// Text the borrowed reader read past that a tree cannot hold (a lone surrogate escape,
/// a number out of range): not JSON, as the tree parser said of the whole message.
pub(crate) fn not_json(error: &serde_json::Error) -> Refusal {
    Refusal::BadMessage {
        rpc_code: code::PARSE_ERROR,
        reason: format!("not JSON: {error}"),
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

/// What the mapped call reaches, in the pipeline's words.
pub fn target<'a>(caller: Caller<'a>, mapping: &'a McpMapping) -> Target<'a> {
    Target {
        tool: &caller.server.name,
        segment: &caller.server.segment,
        intent: &mapping.intent,
        data_class: &mapping.data_class,
        tier: mapping.tier,
        access: mapping.access,
    }
}

/// Phase 3: Cedar, with the typed arguments as `context.args`.
pub fn decide(
    caller: Caller<'_>,
    mapping: &McpMapping,
    args: &BTreeMap<String, AttrValue>,
) -> PolicyDecision {
    let state = caller.state;
    let target = target(caller, mapping);
    decide::decide(
        &state.policy,
        state.clock.now(),
        caller.credential,
        &target,
        Some(args),
    )
}

/// [`decide`] for a gated call, whose event keeps what Cedar was given (for replay).
fn decide_recorded(
    caller: Caller<'_>,
    mapping: &McpMapping,
    judged: (&BTreeMap<String, AttrValue>, AnomalySet),
    draft: &mut EventDraft,
) -> PolicyDecision {
    let state = caller.state;
    let target = target(caller, mapping);
    let (args, anomalies) = judged;
    decide::decide_recorded(
        &state.policy,
        state.clock.now(),
        caller.credential,
        (&target, Some(args)),
        anomalies,
        draft,
    )
}

/// Whether some arguments could let this agent call the mapping (least visibility).
pub fn visible(caller: Caller<'_>, mapping: &McpMapping) -> bool {
    if !caller.credential.allows(&mapping.intent) {
        return false;
    }
    let state = caller.state;
    let target = target(caller, mapping);
    decide::visible(&state.policy, state.clock.now(), caller.credential, &target)
}

fn meta_text<'a>(meta: Option<&Object<'a>>, key: &str) -> Option<Cow<'a, str>> {
    meta?.str(key)
}

#[cfg(test)]
mod tests;
