//! One call decided offline, as the gateway would decide it: the context comes from the
//! configuration (segment, data class, tier and access of the route or MCP mapping, the
//! agent's task class), the decision from the policy engine the gateway uses, the tier
//! from the gateway's own rule. Shared by `policy test` and `policy diff`.

use std::collections::BTreeMap;
use std::path::Path;

use gatehouse_core::baseline::anomaly::AnomalySet;
use gatehouse_core::clock::UnixTime;
use gatehouse_core::config::{ArgSpec, Config, read_policy_dir};
use gatehouse_core::model::{Access, AgentId, AttrValue, DataClass, Intent, Tier, ToolName};
use gatehouse_policy::{DecisionContext, DecisionRequest, PolicyDecision, PolicyEngine};

use crate::Failure;

/// A call to decide.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Call<'a> {
    pub(crate) agent: &'a str,
    pub(crate) intent: &'a str,
    /// The tool or MCP server.
    pub(crate) tool: &'a str,
    /// The agent's first task class carrying the intent when `None`.
    pub(crate) task_class: Option<&'a str>,
    pub(crate) workflow: Option<&'a str>,
    pub(crate) time_secs: i64,
    /// Typed by the route's or mapping's declaration.
    pub(crate) args: Option<&'a toml::Table>,
    /// How the call departs from its agent's baseline (`context.anomaly`).
    pub(crate) anomaly: AnomalySet,
}

/// The engine for the `*.cedar` files of `dir`, with the rest of `config`.
pub(crate) fn engine_for(mut config: Config, dir: &Path) -> Result<PolicyEngine, Failure> {
    config.policies = read_policy_dir(dir).map_err(Failure::Config)?;
    PolicyEngine::build(&config).map_err(|errors| {
        Failure::Config(format!("invalid policy in `{}`:\n{errors}", dir.display()))
    })
}

/// The decision for `call`, and its tier when allowed (the route's, raised by `@tier`).
pub(crate) fn evaluate(
    config: &Config,
    engine: &PolicyEngine,
    call: &Call<'_>,
) -> Result<(PolicyDecision, Tier), String> {
    let intent = Intent::new(call.intent);
    let tool = ToolName::new(call.tool);
    let target = target(config, &tool, &intent)?;
    let args = arguments(&target, call.args)?;
    let agent = AgentId::new(call.agent);
    let task_class = call
        .task_class
        .map_or_else(|| task_class(config, &agent, &intent), str::to_owned);
    let request = DecisionRequest {
        agent: &agent,
        intent: &intent,
        tool: &tool,
        context: DecisionContext {
            now: UnixTime::from_secs(call.time_secs),
            workflow: call.workflow.unwrap_or("policy-test"),
            task_class: &task_class,
            segment: &target.segment,
            data_class: target.data_class.as_str(),
            tier: target.tier,
            write: target.access == Access::Write,
            args: args.as_ref(),
            anomaly: call.anomaly,
        },
    };
    let decision = engine.decide(&request);
    let tier = gatehouse_gateway::pipeline::decide::effective_tier(target.tier, &decision);
    Ok((decision, tier))
}

/// As the gateway: a policy that errored might have been the forbid that applied.
pub(crate) fn allowed(decision: &PolicyDecision) -> bool {
    decision.allowed && decision.errors.is_empty()
}

/// What the configuration says about the call.
#[derive(Debug)]
struct Target {
    segment: String,
    data_class: DataClass,
    tier: Tier,
    access: Access,
    args: BTreeMap<String, ArgSpec>,
}

/// The route (of a tool) or mapping (of an MCP server) for `intent`.
fn target(config: &Config, tool: &ToolName, intent: &Intent) -> Result<Target, String> {
    if let Some(found) = config.tools.get(tool) {
        let route = found.routes.iter().find(|route| &route.intent == intent);
        let route = route.ok_or_else(|| format!("tool `{tool}` has no route for `{intent}`"))?;
        return Ok(Target {
            segment: found.segment.to_string(),
            data_class: route.data_class.clone(),
            tier: route.tier,
            access: route.access,
            args: route.args.clone(),
        });
    }
    let server = config
        .mcp_servers
        .get(tool)
        .ok_or_else(|| format!("no tool or MCP server `{tool}`"))?;
    let mappings = server
        .tools
        .values()
        .chain(&server.resources)
        .chain(&server.prompts);
    let mapping = mappings
        .into_iter()
        .find(|mapping| &mapping.intent == intent)
        .ok_or_else(|| format!("MCP server `{tool}` maps nothing to `{intent}`"))?;
    Ok(Target {
        segment: server.segment.to_string(),
        data_class: mapping.data_class.clone(),
        tier: mapping.tier,
        access: mapping.access,
        args: mapping.args.clone(),
    })
}

/// The case's arguments typed as the gateway types a call's; `None` where the route
/// declares none (its context has no `args`).
fn arguments(
    target: &Target,
    given: Option<&toml::Table>,
) -> Result<Option<BTreeMap<String, AttrValue>>, String> {
    if target.args.is_empty() {
        return Ok(None);
    }
    let json = serde_json::to_value(given.cloned().unwrap_or_default())
        .map_err(|error| format!("arguments: {error}"))?;
    let object = json.as_object().cloned().unwrap_or_default();
    gatehouse_core::mcp::args::typed(&target.args, &object).map(Some)
}

/// The agent's first task class that may carry `intent`, as its credential would.
fn task_class(config: &Config, agent: &AgentId, intent: &Intent) -> String {
    let classes = config.agents.get(agent).map(|agent| &agent.task_classes);
    classes
        .into_iter()
        .flatten()
        .find(|name| {
            config
                .task_classes
                .get(*name)
                .is_some_and(|class| class.intents.contains(intent))
        })
        .map_or_else(|| "policy-test".to_owned(), ToString::to_string)
}
