//! The policy engine: built once from the configuration, then asked for one decision
//! per call. Default deny; a decision names the policies that determined it.

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use cedar_policy::{Authorizer, Decision, PolicyId, PolicySet, Request};
use gatehouse_core::baseline::anomaly::AnomalySet;
use gatehouse_core::clock::UnixTime;
use gatehouse_core::config::{Config, PolicyFile};
use gatehouse_core::model::{self, AgentId, AttrValue, Intent, Tier, ToolName};

use crate::context::{self, ArgsIn, ContextCache, Key, Slots};
use crate::entities::{Node, Universe};
use crate::error::{PolicyError, PolicyErrorKind, PolicyErrors};
use crate::load::ParsedFile;
use crate::schema::BuiltSchema;
use crate::scope::ScopeIndex;
use crate::{load, schema};

/// Cedar policies over the configuration's agents, intents and tools; immutable once
/// built, shared across threads.
#[derive(Debug)]
pub struct PolicyEngine {
    universe: Universe,
    index: ScopeIndex,
    contexts: ContextCache,
    /// Decisions of argument-less calls made within the current second.
    recent: Slots<Remembered>,
    /// The `@tier` of each policy that has one, parsed once: Cedar parses the key of an
    /// annotation lookup on every call.
    tiers: HashMap<PolicyId, Tier>,
    authorizer: Authorizer,
    /// The schema, which the next set ([`Self::with_policies`]) is validated against.
    schema: Arc<BuiltSchema>,
    /// Each policy file with its parsed policies, for the next set to reuse.
    files: Vec<ParsedFile>,
    policy_count: usize,
    /// SHA-256 of the policy files (names and texts), in hex: the version every decision
    /// of this engine names.
    version: Arc<str>,
}

/// One call to decide on.
#[derive(Debug, Clone, Copy)]
pub struct DecisionRequest<'a> {
    pub agent: &'a AgentId,
    pub intent: &'a Intent,
    pub tool: &'a ToolName,
    pub context: DecisionContext<'a>,
}

/// What policy sees as `context`.
#[derive(Debug, Clone, Copy)]
pub struct DecisionContext<'a> {
    pub now: UnixTime,
    pub workflow: &'a str,
    pub task_class: &'a str,
    pub segment: &'a str,
    pub data_class: &'a str,
    pub tier: Tier,
    pub write: bool,
    /// The call's declared arguments (an MCP mapping's or an HTTP route's), already
    /// type-checked; `None` for routes declaring none, whose context has no `args`.
    pub args: Option<&'a BTreeMap<String, AttrValue>>,
    /// How the call departs from its agent's baseline: `context.anomaly`, a set of
    /// strings (`new-intent`, `rate`, `volume`, `hour`).
    pub anomaly: AnomalySet,
}

/// The outcome of [`PolicyEngine::decide`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyDecision {
    pub allowed: bool,
    /// Ids of the determining policies, sorted: the permits that allowed, or the forbids
    /// that denied; empty on default deny.
    pub policies: Vec<model::PolicyId>,
    /// Evaluation errors, sorted; the caller treats them as deny and records them in the
    /// event. Cedar skips a policy that errors, so a call can be allowed with errors.
    pub errors: Vec<String>,
    /// The highest `@tier("…")` among the permits that allowed the call, if any of them
    /// carries one: policy may raise a route's tier, never lower it.
    pub tier: Option<Tier>,
    /// The version of the policy set that decided ([`PolicyEngine::version`]): a reloaded
    /// set is a new engine, so a decision is made under exactly one version.
    pub version: Arc<str>,
}

impl PolicyDecision {
    fn refused(error: String, version: &Arc<str>) -> Self {
        Self {
            allowed: false,
            policies: Vec::new(),
            errors: vec![error],
            tier: None,
            version: Arc::clone(version),
        }
    }

    fn default_deny(version: &Arc<str>) -> Self {
        Self {
            allowed: false,
            policies: Vec::new(),
            errors: Vec::new(),
            tier: None,
            version: Arc::clone(version),
        }
    }
}

impl PolicyEngine {
    /// Builds the schema, parses and validates every policy, and builds the entity store.
    pub fn build(config: &Config) -> Result<Self, PolicyErrors> {
        let schema = Arc::new(schema::build(config)?);
        let (loaded, full) = load_policies(&config.policies, &[], &schema.schema)?;
        let universe = Universe::build(config, &schema)?;
        Ok(Self::assemble(
            schema,
            universe,
            loaded,
            full,
            &config.policies,
        ))
    }

    /// This engine's configuration with the policy `files` instead of its own: the
    /// schema and entity store are this engine's (they come from the configuration,
    /// which a reload does not change), and a file with the same path and text as one of
    /// this engine's keeps its parsed, validated policies; only changed files are parsed
    /// and validated. Same errors and same decisions as [`Self::build`] with `files`.
    pub fn with_policies(&self, files: &[PolicyFile]) -> Result<Self, PolicyErrors> {
        let (loaded, full) = load_policies(files, &self.files, &self.schema.schema)?;
        let (schema, universe) = (Arc::clone(&self.schema), self.universe.clone());
        Ok(Self::assemble(schema, universe, loaded, full, files))
    }

    fn assemble(
        schema: Arc<BuiltSchema>,
        universe: Universe,
        loaded: load::Loaded,
        full: PolicySet,
        files: &[PolicyFile],
    ) -> Self {
        let policy_count = loaded.policies.len();
        let tiers = loaded
            .policies
            .iter()
            .filter_map(|(policy, _)| {
                let tier = parse_tier(policy.annotation("tier")?)?;
                Some((policy.id().clone(), tier))
            })
            .collect();
        let policies = loaded.policies.into_iter().map(|(policy, _)| policy);
        Self {
            universe,
            index: ScopeIndex::new(policies.collect(), full),
            contexts: ContextCache::default(),
            recent: Slots::default(),
            tiers,
            authorizer: Authorizer::new(),
            schema,
            files: loaded.files,
            policy_count,
            version: version_of(files).into(),
        }
    }

    /// Decides one call; unknown agents, intents and tools are denied with an error.
    pub fn decide(&self, request: &DecisionRequest<'_>) -> PolicyDecision {
        match self.nodes(request) {
            Ok((agent, intent, tool)) => self.decide_nodes(agent, intent, tool, &request.context),
            Err(error) => PolicyDecision::refused(error, &self.version),
        }
    }

    /// [`Self::decide`], answered from memory when the call repeats one decided within
    /// the same second: same agent, intent, tool and context, arguments included
    /// (calls with large arguments are always decided afresh). Cedar is deterministic over
    /// the static entities and policies, so the remembered decision is the one evaluating
    /// again would give. For the data plane, where an agent's calls come in bursts.
    pub fn decide_recent(&self, request: &DecisionRequest<'_>) -> PolicyDecision {
        if request
            .context
            .args
            .is_some_and(|args| !context::small_args(args))
        {
            return self.decide(request);
        }
        let (agent, intent, tool) = match self.nodes(request) {
            Ok(nodes) => nodes,
            Err(error) => return PolicyDecision::refused(error, &self.version),
        };
        let nodes = (agent.index, intent.index, tool.index);
        let mut hasher = self.recent.hasher(&request.context);
        nodes.hash(&mut hasher);
        let hash = hasher.finish();
        let remembered = self.recent.find(hash, |recent| {
            (recent.nodes == nodes && recent.key.matches(&request.context))
                .then(|| recent.decision.clone())
        });
        if let Some(decision) = remembered {
            return decision;
        }
        let decision = self.decide_nodes(agent, intent, tool, &request.context);
        let recent = Remembered {
            nodes,
            key: Key::new(&request.context),
            decision: decision.clone(),
        };
        self.recent.store(hash, recent);
        decision
    }

    /// Decides one call against every policy, bypassing the scope index; for checking
    /// the index and for tools that re-evaluate past decisions.
    pub fn decide_unindexed(&self, request: &DecisionRequest<'_>) -> PolicyDecision {
        match self.nodes(request) {
            Ok((agent, intent, tool)) => {
                self.evaluate(agent, intent, tool, &request.context, self.index.full())
            }
            Err(error) => PolicyDecision::refused(error, &self.version),
        }
    }

    /// Whether some arguments could let this call through: policy is evaluated with
    /// `context.args` unknown, and only a definite deny hides the tool. Listings use this
    /// (least visibility); every call is still decided on its real arguments.
    pub fn visible(&self, request: &DecisionRequest<'_>) -> bool {
        let Ok((agent, intent, tool)) = self.nodes(request) else {
            return false;
        };
        let policies = self.index.candidates(agent, intent, tool);
        if policies.is_empty() {
            return false;
        }
        let context = match self.contexts.context(&request.context, ArgsIn::Unknown) {
            Ok(context) => context,
            Err(_) => return false,
        };
        let uids = (agent.uid.clone(), intent.uid.clone(), tool.uid.clone());
        let Ok(query) = Request::new(uids.0, uids.1, uids.2, context, None) else {
            return false;
        };
        let response =
            self.authorizer
                .is_authorized_partial(&query, &policies, &self.universe.entities);
        response.decision() != Some(Decision::Deny)
    }

    /// The version of this policy set ([`version_of`] its files).
    pub fn version(&self) -> &Arc<str> {
        &self.version
    }

    pub fn policy_count(&self) -> usize {
        self.policy_count
    }

    /// The combined Cedar schema: the entity types, then the generated actions.
    pub fn schema_text(&self) -> String {
        self.schema.text.clone()
    }

    /// The highest tier the determining policies ask for.
    fn raised_tier<'a>(&self, ids: impl Iterator<Item = &'a PolicyId>) -> Option<Tier> {
        if self.tiers.is_empty() {
            return None;
        }
        ids.filter_map(|id| self.tiers.get(id).copied()).max()
    }

    fn nodes(&self, request: &DecisionRequest<'_>) -> Result<(&Node, &Node, &Node), String> {
        let universe = &self.universe;
        let agent = universe.agents.get(request.agent);
        let agent = agent.ok_or_else(|| format!("unknown agent `{}`", request.agent))?;
        let intent = universe.intents.get(request.intent);
        let intent = intent.ok_or_else(|| format!("unknown intent `{}`", request.intent))?;
        let tool = universe.tools.get(request.tool);
        let tool = tool.ok_or_else(|| format!("unknown tool `{}`", request.tool))?;
        Ok((agent, intent, tool))
    }

    fn decide_nodes(
        &self,
        agent: &Node,
        intent: &Node,
        tool: &Node,
        context: &DecisionContext<'_>,
    ) -> PolicyDecision {
        let policies = self.index.candidates(agent, intent, tool);
        if policies.is_empty() {
            return PolicyDecision::default_deny(&self.version);
        }
        self.evaluate(agent, intent, tool, context, &policies)
    }

    fn evaluate(
        &self,
        agent: &Node,
        intent: &Node,
        tool: &Node,
        context: &DecisionContext<'_>,
        policies: &PolicySet,
    ) -> PolicyDecision {
        let context = match self.contexts.context(context, ArgsIn::Known) {
            Ok(context) => context,
            Err(error) => return PolicyDecision::refused(error, &self.version),
        };
        // No schema here: the context shape is ours and entities were checked at build.
        let uids = (agent.uid.clone(), intent.uid.clone(), tool.uid.clone());
        let request = match Request::new(uids.0, uids.1, uids.2, context, None) {
            Ok(request) => request,
            Err(error) => {
                return PolicyDecision::refused(format!("invalid request: {error}"), &self.version);
            }
        };
        let response = self
            .authorizer
            .is_authorized(&request, policies, &self.universe.entities);
        let diagnostics = response.diagnostics();
        let allowed = response.decision() == Decision::Allow;
        let tier = allowed
            .then(|| self.raised_tier(diagnostics.reason()))
            .flatten();
        let mut policies: Vec<model::PolicyId> = diagnostics
            .reason()
            .map(|id| model::PolicyId::from(id.as_ref()))
            .collect();
        policies.sort_unstable();
        let mut errors: Vec<String> = diagnostics.errors().map(ToString::to_string).collect();
        errors.sort_unstable();
        PolicyDecision {
            allowed,
            policies,
            errors,
            tier,
            version: Arc::clone(&self.version),
        }
    }
}

/// SHA-256 over each policy file's path and text (each followed by a zero byte), in hex:
/// the same files give the same version wherever and whenever they are loaded.
pub fn version_of(files: &[PolicyFile]) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for policy in files {
        hasher.update(policy.path.to_string_lossy().as_bytes());
        hasher.update([0]);
        hasher.update(policy.text.as_bytes());
        hasher.update([0]);
    }
    hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn parse_tier(text: &str) -> Option<Tier> {
    text.parse().ok()
}

/// A decision remembered with everything it was made on.
#[derive(Debug)]
struct Remembered {
    /// Agent, intent and tool, by their dense indices.
    nodes: (u32, u32, u32),
    key: Key,
    decision: PolicyDecision,
}

/// Parses `files` (reusing `earlier`'s unchanged ones), checks their tiers and
/// validates them: the loaded policies and the whole set.
fn load_policies(
    files: &[PolicyFile],
    earlier: &[ParsedFile],
    schema: &cedar_policy::Schema,
) -> Result<(load::Loaded, PolicySet), PolicyErrors> {
    let loaded = load::parse(files, earlier)?;
    check_tiers(files, &loaded)?;
    let full = load::validate(files, &loaded, schema)?;
    Ok((loaded, full))
}

/// A `@tier` annotation must name a tier; a typo would otherwise silently not raise it.
fn check_tiers(files: &[PolicyFile], loaded: &load::Loaded) -> Result<(), PolicyErrors> {
    let errors: Vec<PolicyError> = loaded
        .policies
        .iter()
        .filter_map(|(policy, file)| {
            let tier = policy.annotation("tier")?;
            parse_tier(tier).is_none().then(|| {
                let message = format!("`@tier(\"{tier}\")` is not `low`, `medium` or `high`");
                let error = PolicyError::new(PolicyErrorKind::Validation, message)
                    .for_policy(policy.id().to_string());
                match files.get(*file) {
                    Some(file) => error.in_file(&file.path),
                    None => error,
                }
            })
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(PolicyErrors(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<PolicyEngine>();
    }
}
