//! A small world of agents, tools and intents, and a fluent way to ask it for decisions.

use std::collections::BTreeMap;

use gatehouse_core::baseline::anomaly::{Anomaly, AnomalySet};
use gatehouse_core::clock::UnixTime;
use gatehouse_core::config::Config;
use gatehouse_core::model::{Access, AgentId, AttrValue, Intent, Tier, ToolName};
use gatehouse_policy::{
    DecisionContext, DecisionRequest, PolicyDecision, PolicyEngine, PolicyError,
};

use crate::fixture;

/// A schema fragment declaring the agents' `team` attribute.
pub(crate) const TEAM_SCHEMA: &str = r#"namespace Gatehouse {
  entity Group;
  entity Agent in [Group] { team: String, level?: Long };
  entity Segment;
  entity Tool in [Segment];
}
"#;

/// 2024-01-01 12:00 UTC, a Monday.
pub(crate) const MONDAY_NOON: i64 = 1_704_110_400;

/// The world: `triage-bot` (group `triage`, team `support`), `deploy-bot` (group `ops`,
/// team `platform`), `intern-bot` (no group, team `support`); tools `tickets` and `wiki`
/// in segment `data`, `deployer` in `control`.
pub(crate) struct World {
    pub(crate) config: Config,
}

impl World {
    pub(crate) fn new() -> Self {
        let mut config = fixture::empty();
        let team = |name: &str| ("team", AttrValue::String(name.to_owned()));
        fixture::add_agent(&mut config, "triage-bot", &["triage"], &[team("support")]);
        fixture::add_agent(&mut config, "deploy-bot", &["ops"], &[team("platform")]);
        fixture::add_agent(&mut config, "intern-bot", &[], &[team("support")]);
        fixture::add_tool(&mut config, "tickets", "data");
        fixture::add_tool(&mut config, "wiki", "data");
        fixture::add_tool(&mut config, "deployer", "control");
        fixture::add_intent(&mut config, "ticket.read", Access::Read);
        fixture::add_intent(&mut config, "ticket.create", Access::Write);
        fixture::add_intent(&mut config, "ticket.delete", Access::Write);
        fixture::add_intent(&mut config, "wiki.read", Access::Read);
        fixture::add_intent(&mut config, "deploy.run", Access::Write);
        Self { config }
    }

    pub(crate) fn policy(mut self, path: &str, text: &str) -> Self {
        fixture::add_policy(&mut self.config, path, text);
        self
    }

    pub(crate) fn schema(mut self, text: &str) -> Self {
        fixture::set_schema(&mut self.config, text);
        self
    }

    pub(crate) fn engine(&self) -> PolicyEngine {
        match PolicyEngine::build(&self.config) {
            Ok(engine) => engine,
            Err(errors) => panic!("engine did not build:\n{errors}"),
        }
    }

    pub(crate) fn errors(&self) -> Vec<PolicyError> {
        match PolicyEngine::build(&self.config) {
            Ok(_) => panic!("engine built, expected errors"),
            Err(errors) => errors.0,
        }
    }
}

/// One call, with a default context that individual tests change.
pub(crate) struct Call {
    agent: AgentId,
    intent: Intent,
    tool: ToolName,
    now: UnixTime,
    tier: Tier,
    write: bool,
    workflow: String,
    args: Option<BTreeMap<String, AttrValue>>,
    anomaly: AnomalySet,
}

pub(crate) fn call(agent: &str, intent: &str, tool: &str) -> Call {
    Call {
        agent: AgentId::new(agent),
        intent: Intent::new(intent),
        tool: ToolName::new(tool),
        now: UnixTime::from_secs(MONDAY_NOON),
        tier: Tier::Low,
        write: false,
        workflow: "wf-1".to_owned(),
        args: None,
        anomaly: AnomalySet::EMPTY,
    }
}

impl Call {
    pub(crate) fn at(mut self, secs: i64) -> Self {
        self.now = UnixTime::from_secs(secs);
        self
    }

    pub(crate) fn tier(mut self, tier: Tier) -> Self {
        self.tier = tier;
        self
    }

    /// A call departing from its agent's baseline in these ways.
    pub(crate) fn anomalous(mut self, anomalies: &[Anomaly]) -> Self {
        self.anomaly = anomalies.iter().copied().collect();
        self
    }

    pub(crate) fn writing(mut self) -> Self {
        self.write = true;
        self
    }

    /// An MCP call with these arguments.
    pub(crate) fn args(mut self, args: &[(&str, AttrValue)]) -> Self {
        let args = args
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.clone()));
        self.args = Some(args.collect());
        self
    }

    pub(crate) fn on(&self, engine: &PolicyEngine) -> PolicyDecision {
        engine.decide(&self.request())
    }

    pub(crate) fn request(&self) -> DecisionRequest<'_> {
        DecisionRequest {
            agent: &self.agent,
            intent: &self.intent,
            tool: &self.tool,
            context: DecisionContext {
                now: self.now,
                workflow: &self.workflow,
                task_class: "triage",
                segment: "data",
                data_class: "internal",
                tier: self.tier,
                write: self.write,
                args: self.args.as_ref(),
                anomaly: self.anomaly,
            },
        }
    }
}

pub(crate) fn allowed_by(decision: &PolicyDecision, ids: &[&str]) -> bool {
    decision.allowed && decision.policies == ids && decision.errors.is_empty()
}

pub(crate) fn denied_by(decision: &PolicyDecision, ids: &[&str]) -> bool {
    !decision.allowed && decision.policies == ids && decision.errors.is_empty()
}
