//! The static entity store: agents in their groups, tools in their segments, intents in
//! the `read`/`write` action groups. Built once from the configuration and checked
//! against the schema, so a request never builds or validates entities.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::str::FromStr;

use cedar_policy::{Entities, Entity, EntityId, EntityTypeName, EntityUid, RestrictedExpression};
use gatehouse_core::config::Config;
use gatehouse_core::model::{AgentId, AttrValue, Intent, ToolName};

use crate::error::{PolicyError, PolicyErrorKind, PolicyErrors};
use crate::schema::{BuiltSchema, NAMESPACE};

/// One entity a request can name, with the entities it is in.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    /// Dense index, used in the scope cache key.
    pub(crate) index: u32,
    pub(crate) uid: EntityUid,
    /// Every entity it is in (groups, segment, action group), from the built store.
    pub(crate) ancestors: Vec<EntityUid>,
}

impl Node {
    /// Cedar's `in`: the entity itself or one of its ancestors.
    pub(crate) fn is_in(&self, uid: &EntityUid) -> bool {
        self.uid == *uid || self.ancestors.contains(uid)
    }
}

/// Entities by name. Looked up on every call, with names from configuration and verified
/// credentials only, so a fast hash (seeded per process) serves better than SipHash.
pub(crate) type NodeMap<K> = HashMap<K, Node, foldhash::fast::RandomState>;

/// Every agent, intent and tool, and the Cedar entity store holding them.
#[derive(Debug, Clone)]
pub(crate) struct Universe {
    pub(crate) entities: Entities,
    pub(crate) agents: NodeMap<AgentId>,
    pub(crate) intents: NodeMap<Intent>,
    pub(crate) tools: NodeMap<ToolName>,
}

impl Universe {
    pub(crate) fn build(config: &Config, schema: &BuiltSchema) -> Result<Self, PolicyErrors> {
        let agents = nodes(config.agents.iter().map(|(id, agent)| {
            let parents = agent.groups.iter().map(|g| uid("Group", g.as_str()));
            (id.clone(), uid("Agent", id.as_str()), parents.collect())
        }));
        let intents = nodes(config.intents.iter().map(|(intent, info)| {
            let group = uid("Action", info.access.as_str());
            (intent.clone(), uid("Action", intent.as_str()), vec![group])
        }));
        // HTTP tools and MCP servers are both `Tool`s in their segment; config keeps
        // their names distinct.
        let http = config
            .tools
            .iter()
            .map(|(name, tool)| (name, &tool.segment));
        let mcp = config
            .mcp_servers
            .iter()
            .map(|(name, server)| (name, &server.segment));
        let tools = nodes(http.chain(mcp).map(|(name, segment)| {
            let segment = uid("Segment", segment.as_str());
            (name.clone(), uid("Tool", name.as_str()), vec![segment])
        }));
        let store = entity_list(config, schema, &agents, &tools)?;
        let entities = Entities::from_entities(store, Some(&schema.schema)).map_err(|error| {
            let error = PolicyError::from_diagnostic(PolicyErrorKind::Entities, None, "", &error);
            match &config.schema {
                Some(file) => error.in_file(&file.path),
                None => error,
            }
        })?;
        Ok(Self {
            agents: with_ancestors(agents, &entities),
            intents: with_ancestors(intents, &entities),
            tools: with_ancestors(tools, &entities),
            entities,
        })
    }
}

/// The uid of `Gatehouse::<kind>::"<id>"`.
pub(crate) fn uid(kind: &str, id: &str) -> EntityUid {
    EntityUid::from_type_name_and_id(type_name(kind), EntityId::new(id))
}

/// The type `Gatehouse::<kind>`.
pub(crate) fn type_name(kind: &str) -> EntityTypeName {
    #[expect(
        clippy::expect_used,
        reason = "`Gatehouse::` followed by one of our fixed identifiers always parses"
    )]
    EntityTypeName::from_str(&format!("{NAMESPACE}::{kind}")).expect("valid entity type name")
}

fn nodes<K: std::hash::Hash + Eq>(
    items: impl Iterator<Item = (K, EntityUid, Vec<EntityUid>)>,
) -> NodeMap<K> {
    items
        .zip(0_u32..)
        .map(|((key, uid, parents), index)| {
            let node = Node {
                index,
                uid,
                ancestors: parents,
            };
            (key, node)
        })
        .collect()
}

/// Replaces the configured parents by the transitive ancestors the store computed.
fn with_ancestors<K: std::hash::Hash + Eq>(
    mut nodes: NodeMap<K>,
    entities: &Entities,
) -> NodeMap<K> {
    for node in nodes.values_mut() {
        if let Some(ancestors) = entities.ancestors(&node.uid) {
            node.ancestors = ancestors.cloned().collect();
        }
    }
    nodes
}

fn entity_list(
    config: &Config,
    schema: &BuiltSchema,
    agents: &NodeMap<AgentId>,
    tools: &NodeMap<ToolName>,
) -> Result<Vec<Entity>, PolicyErrors> {
    let mut list = Vec::new();
    let mut errors = Vec::new();
    for (id, node) in agents {
        // Without a user schema agents have no declared attributes: leaving them out
        // keeps the store conforming, and validation already refuses policies reading them.
        let attributes = match (schema.user_declared, config.agents.get(id)) {
            (true, Some(agent)) => agent.attributes.clone().into_iter().collect(),
            _ => Vec::new(),
        };
        let attrs = attributes.into_iter().map(|(k, v)| (k, expression(v)));
        let parents = node.ancestors.iter().cloned().collect();
        match Entity::new(node.uid.clone(), attrs.collect(), parents) {
            Ok(entity) => list.push(entity),
            Err(error) => errors.push(PolicyError::new(
                PolicyErrorKind::Entities,
                format!("agent `{id}`: {error}"),
            )),
        }
    }
    let groups: BTreeSet<&EntityUid> = agents.values().flat_map(|n| &n.ancestors).collect();
    let segments: BTreeSet<EntityUid> = config
        .segments
        .keys()
        .map(|s| uid("Segment", s.as_str()))
        .chain(tools.values().flat_map(|n| n.ancestors.iter().cloned()))
        .collect();
    list.extend(groups.into_iter().map(|g| Entity::with_uid(g.clone())));
    list.extend(segments.into_iter().map(Entity::with_uid));
    list.extend(tools.values().map(|node| {
        let parents: HashSet<EntityUid> = node.ancestors.iter().cloned().collect();
        Entity::new_no_attrs(node.uid.clone(), parents)
    }));
    if errors.is_empty() {
        Ok(list)
    } else {
        Err(PolicyErrors(errors))
    }
}

pub(crate) fn expression(value: AttrValue) -> RestrictedExpression {
    match value {
        AttrValue::Bool(value) => RestrictedExpression::new_bool(value),
        AttrValue::Long(value) => RestrictedExpression::new_long(value),
        AttrValue::String(value) => RestrictedExpression::new_string(value),
        AttrValue::Set(values) => RestrictedExpression::new_set(values.into_iter().map(expression)),
    }
}
