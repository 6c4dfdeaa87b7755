//! `gatehouse policy test [DIR]`: the test cases shipped with a policy set
//! (`DIR/tests.toml`: agent, intent, tool, context → expected decision) run through the
//! policy engine the gateway uses, with the context a real call would have (segment, data
//! class, tier and access from the route or MCP mapping of the configuration). Exit 1
//! when a case does not get its expected decision, so CI can gate policy changes.

use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use gatehouse_core::baseline::anomaly::AnomalySet;
use gatehouse_core::config::Config;
use gatehouse_core::model::Tier;
use gatehouse_policy::{PolicyDecision, PolicyEngine};
use serde::Deserialize;

use crate::Failure;
use crate::policy::{evaluate, println_out};

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
    /// Baseline anomalies the call carries (`new-intent`, `rate`, `volume`, `hour`).
    #[serde(default)]
    anomaly: AnomalySet,
}

/// Runs the cases of `dir` (the config's policy directory when `None`) against the
/// policies of that directory.
pub(crate) fn run(config: Config, dir: Option<&Path>) -> Result<(), Failure> {
    let dir: PathBuf = dir.map_or_else(|| config.policy_source.dir.clone(), Path::to_path_buf);
    let engine = evaluate::engine_for(config.clone(), &dir)?;
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
    let call = evaluate::Call {
        agent: &case.agent,
        intent: &case.intent,
        tool: &case.tool,
        task_class: case.context.task_class.as_deref(),
        workflow: case.context.workflow.as_deref(),
        time_secs: case.context.time.unwrap_or(DEFAULT_TIME),
        args: case.context.args.as_ref(),
        anomaly: case.context.anomaly,
    };
    evaluate::evaluate(config, engine, &call)
}

/// What is wrong with `decision` for `case`, if anything.
fn mismatch(case: &Case, decision: &PolicyDecision, tier: Tier) -> Result<Option<String>, String> {
    let allowed = evaluate::allowed(decision);
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
        if decision.policies != expected {
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
