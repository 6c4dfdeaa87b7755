//! The scope index: Cedar evaluates every policy it is given, so for each (agent,
//! intent, tool) Gatehouse hands it only the policies whose scope can match. The entity
//! hierarchy is static, so a policy's scope either always or never matches a given
//! triple; the small per-triple sets are built on first use and cached.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use cedar_policy::{
    ActionConstraint, EntityTypeName, EntityUid, Policy, PolicySet, PrincipalConstraint,
    ResourceConstraint,
};

use crate::entities::Node;

/// Cached triples before the cache is emptied and refilled on demand.
const CACHE_LIMIT: usize = 65_536;

/// Policies indexed by scope, with a cache of the set for each request triple.
#[derive(Debug)]
pub(crate) struct ScopeIndex {
    scoped: Vec<Scoped>,
    /// Positions in `scoped` of policies whose principal scope names an entity.
    by_principal: HashMap<EntityUid, Vec<usize>>,
    /// Positions of policies whose principal scope is `principal` or `principal is T`.
    unkeyed: Vec<usize>,
    full: Arc<PolicySet>,
    cache: RwLock<HashMap<(u32, u32, u32), Arc<PolicySet>>>,
}

impl ScopeIndex {
    pub(crate) fn new(policies: Vec<Policy>, full: PolicySet) -> Self {
        let scoped: Vec<Scoped> = policies.into_iter().map(Scoped::new).collect();
        let mut by_principal: HashMap<EntityUid, Vec<usize>> = HashMap::new();
        let mut unkeyed = Vec::new();
        for (position, policy) in scoped.iter().enumerate() {
            match policy.principal.key() {
                Some(uid) => by_principal.entry(uid.clone()).or_default().push(position),
                None => unkeyed.push(position),
            }
        }
        Self {
            scoped,
            by_principal,
            unkeyed,
            full: Arc::new(full),
            cache: RwLock::new(HashMap::new()),
        }
    }

    /// The policies that can apply to this triple.
    pub(crate) fn candidates(&self, agent: &Node, intent: &Node, tool: &Node) -> Arc<PolicySet> {
        let key = (agent.index, intent.index, tool.index);
        let cache = self.cache.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(set) = cache.get(&key) {
            return Arc::clone(set);
        }
        drop(cache);
        let set = self.select(agent, intent, tool);
        let mut cache = self.cache.write().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(key, Arc::clone(&set));
        set
    }

    /// Every policy, as plain Cedar would evaluate them.
    pub(crate) fn full(&self) -> &PolicySet {
        &self.full
    }

    fn select(&self, agent: &Node, intent: &Node, tool: &Node) -> Arc<PolicySet> {
        let keyed = std::iter::once(&agent.uid)
            .chain(&agent.ancestors)
            .filter_map(|uid| self.by_principal.get(uid))
            .flatten();
        let mut positions: Vec<usize> = self
            .unkeyed
            .iter()
            .chain(keyed)
            .copied()
            .filter(|&position| {
                self.scoped
                    .get(position)
                    .is_some_and(|policy| policy.applies(agent, intent, tool))
            })
            .collect();
        positions.sort_unstable();
        positions.dedup();
        let policies = positions
            .into_iter()
            .filter_map(|position| self.scoped.get(position))
            .map(|scoped| scoped.policy.clone());
        // INVARIANT: ids are unique (checked at load), so this only fails if that check
        // is broken; the full set is then still a correct answer, only slower.
        PolicySet::from_policies(policies).map_or_else(|_| Arc::clone(&self.full), Arc::new)
    }
}

/// A policy with its scope in a form cheap to match.
#[derive(Debug)]
struct Scoped {
    policy: Policy,
    principal: Target,
    action: ActionTarget,
    resource: Target,
}

impl Scoped {
    fn new(policy: Policy) -> Self {
        Self {
            principal: Target::principal(policy.principal_constraint()),
            action: ActionTarget::new(policy.action_constraint()),
            resource: Target::resource(policy.resource_constraint()),
            policy,
        }
    }

    fn applies(&self, agent: &Node, intent: &Node, tool: &Node) -> bool {
        self.principal.matches(agent) && self.action.matches(intent) && self.resource.matches(tool)
    }
}

/// A principal or resource scope constraint.
#[derive(Debug)]
enum Target {
    Any,
    Eq(EntityUid),
    In(EntityUid),
    Is(EntityTypeName),
    IsIn(EntityTypeName, EntityUid),
}

impl Target {
    fn principal(constraint: PrincipalConstraint) -> Self {
        match constraint {
            PrincipalConstraint::Any => Self::Any,
            PrincipalConstraint::Eq(uid) => Self::Eq(uid),
            PrincipalConstraint::In(uid) => Self::In(uid),
            PrincipalConstraint::Is(kind) => Self::Is(kind),
            PrincipalConstraint::IsIn(kind, uid) => Self::IsIn(kind, uid),
        }
    }

    fn resource(constraint: ResourceConstraint) -> Self {
        match constraint {
            ResourceConstraint::Any => Self::Any,
            ResourceConstraint::Eq(uid) => Self::Eq(uid),
            ResourceConstraint::In(uid) => Self::In(uid),
            ResourceConstraint::Is(kind) => Self::Is(kind),
            ResourceConstraint::IsIn(kind, uid) => Self::IsIn(kind, uid),
        }
    }

    /// The entity a matching request must be or be in, if the scope names one.
    fn key(&self) -> Option<&EntityUid> {
        match self {
            Self::Any | Self::Is(_) => None,
            Self::Eq(uid) | Self::In(uid) | Self::IsIn(_, uid) => Some(uid),
        }
    }

    fn matches(&self, node: &Node) -> bool {
        match self {
            Self::Any => true,
            Self::Eq(uid) => node.uid == *uid,
            Self::In(uid) => node.is_in(uid),
            Self::Is(kind) => node.uid.type_name() == kind,
            Self::IsIn(kind, uid) => node.uid.type_name() == kind && node.is_in(uid),
        }
    }
}

/// An action scope constraint.
#[derive(Debug)]
enum ActionTarget {
    Any,
    Eq(EntityUid),
    In(Vec<EntityUid>),
}

impl ActionTarget {
    fn new(constraint: ActionConstraint) -> Self {
        match constraint {
            ActionConstraint::Any => Self::Any,
            ActionConstraint::Eq(uid) => Self::Eq(uid),
            ActionConstraint::In(uids) => Self::In(uids),
        }
    }

    fn matches(&self, node: &Node) -> bool {
        match self {
            Self::Any => true,
            Self::Eq(uid) => node.uid == *uid,
            Self::In(uids) => uids.iter().any(|uid| node.is_in(uid)),
        }
    }
}
