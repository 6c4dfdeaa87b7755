//! `gatehouse policy test [DIR]`: the test cases shipped with a policy set
//! (`DIR/tests.toml`: agent, intent, tool, context → expected decision) run through the
//! policy engine the gateway uses, with the context a real call would have (segment, data
//! class, tier and access from the route or MCP mapping of the configuration). Exit 1
//! when a case does not get its expected decision, so CI can gate policy changes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use gatehouse_core::clock::UnixTime;
use gatehouse_core::config::{ArgSpec, Config, read_policy_dir};
use gatehouse_core::model::{Access, AgentId, AttrValue, DataClass, Intent, Tier, ToolName};
use gatehouse_policy::{DecisionContext, DecisionRequest, PolicyDecision, PolicyEngine};
use serde::Deserialize;

use crate::Failure;
use crate::policy::println_out;

/// The file of cases in a policy directory.
pub(crate) const CASES_FILE: &str = "tests.toml";

/// When a case names no time: Monday 2026-01-05 10:00 UTC, a working hour.
const DEFAULT_TIME: i64 = 1_767_607_200;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Cases {
    #[serde(rename = "case", default)]
    cases: Vec<Case>,
}

/// One case: a call and the decision it must get.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    agent: String,
    intent: String,
    /// The tool or MCP server.
    tool: String,
    expect: Expect,
    /// The tier the call must end at (the route's, raised by `@tier`), when allowed.
    tier: Option<String>,
    /// The ids of the determining policies, when the case pins them.
    policies: Option<Vec<String>>,
    #[serde(default)]
    context: CaseContext,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Expect {
    Allow,
    Deny,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseContext {
    task_class: Option<String>,
    workflow: Option<String>,
    /// Unix seconds.
    time: Option<i64>,
    /// The call's arguments, typed by the route's or mapping's declaration.
    args: Option<toml::Table>,
}

/// What the configuration says about the call a case makes.
#[derive(Debug)]
struct Target {
    segment: String,
    data_class: DataClass,
    tier: Tier,
    access: Access,
    args: BTreeMap<String, ArgSpec>,
}

/// Runs the cases of `dir` (the config's policy directory when `None`) against the
/// policies of that directory.
pub(crate) fn run(config: Config, dir: Option<&Path>) -> Result<(), Failure> {
    let dir: PathBuf = dir.map_or_else(|| config.policy_source.dir.clone(), Path::to_path_buf);
    let mut config = config;
    config.policies = read_policy_dir(&dir).map_err(Failure::Config)?;
    let engine = PolicyEngine::build(&config)
        .map_err(|errors| Failure::Config(format!("invalid policy:\n{errors}")))?;
    let path = dir.join(CASES_FILE);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read the policy cases `{}`", path.display()))?;
    let cases: Cases = toml::from_str(&text)
        .map_err(|error| Failure::Config(format!("{}: {error}", path.display())))?;
    let failed = cases
        .cases
        .iter()
        .filter(|case| !passes(&config, &engine, case))
        .count();
    let total = cases.cases.len();
    println_out(&format!(
        "{total} cases, {failed} failed (policy version {})",
        engine.version()
    ));
    if failed > 0 {
        return Err(Failure::Other(anyhow!(
            "{failed} of {total} policy cases failed"
        )));
    }
    Ok(())
}

/// Decides one case and prints its line.
fn passes(config: &Config, engine: &PolicyEngine, case: &Case) -> bool {
    let verdict = decide(config, engine, case);
    let problem = verdict.and_then(|(decision, tier)| mismatch(case, &decision, tier));
    match problem {
        Ok(None) => {
            println_out(&format!("ok    {}", case.name));
            true
        }
        Ok(Some(problem)) | Err(problem) => {
            println_out(&format!("FAIL  {}: {problem}", case.name));
            false
        }
    }
}

/// The decision the gateway would make, and the call's tier if allowed.
fn decide(
    config: &Config,
    engine: &PolicyEngine,
    case: &Case,
) -> Result<(PolicyDecision, Tier), String> {
    let intent = Intent::new(case.intent.as_str());
    let tool = ToolName::new(case.tool.as_str());
    let target = target(config, &tool, &intent)?;
    let args = arguments(&target, case.context.args.as_ref())?;
    let agent = AgentId::new(case.agent.as_str());
    let task_class = case
        .context
        .task_class
        .clone()
        .unwrap_or_else(|| task_class(config, &agent, &intent));
    let request = DecisionRequest {
        agent: &agent,
        intent: &intent,
        tool: &tool,
        context: DecisionContext {
            now: UnixTime::from_secs(case.context.time.unwrap_or(DEFAULT_TIME)),
            workflow: case.context.workflow.as_deref().unwrap_or("policy-test"),
            task_class: &task_class,
            segment: &target.segment,
            data_class: target.data_class.as_str(),
            tier: target.tier,
            write: target.access == Access::Write,
            args: args.as_ref(),
        },
    };
    let decision = engine.decide(&request);
    let tier = gatehouse_gateway::dataplane::decide::effective_tier(target.tier, &decision);
    Ok((decision, tier))
}

/// What is wrong with `decision` for `case`, if anything.
fn mismatch(case: &Case, decision: &PolicyDecision, tier: Tier) -> Result<Option<String>, String> {
    // As in the gateway: a policy that errored might have been the forbid that applied.
    let allowed = decision.allowed && decision.errors.is_empty();
    let got = if allowed { Expect::Allow } else { Expect::Deny };
    let explain = || {
        let mut text = format!("policies [{}]", decision.policies.join(", "));
        if !decision.errors.is_empty() {
            text.push_str(&format!(", errors: {}", decision.errors.join("; ")));
        }
        text
    };
    if got != case.expect {
        return Ok(Some(
            format!("expected {:?}, got {got:?} ({})", case.expect, explain()).to_lowercase(),
        ));
    }
    if let Some(expected) = &case.policies {
        let mut expected = expected.clone();
        expected.sort_unstable();
        if expected != decision.policies {
            return Ok(Some(format!(
                "expected policies [{}], got {}",
                expected.join(", "),
                explain()
            )));
        }
    }
    match &case.tier {
        Some(expected) if allowed && expected != tier.as_str() => Ok(Some(format!(
            "expected tier `{expected}`, got `{}`",
            tier.as_str()
        ))),
        _ => Ok(None),
    }
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
