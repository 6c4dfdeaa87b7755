//! The inventory: what agents can reach and what they used. One entry per route of each
//! tool (and per mapping of each MCP server) from the configuration: segment, method and
//! path, intent, data class, tier, access, whether it is observed, and the agents that
//! called it among the recorded events given. Then the unmapped routes agents asked for
//! (`fold`). Computed here once, for `gatehouse inventory` and the console's inventory
//! page alike; each only reads the events and formats the result.

mod fold;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

pub use fold::Unmapped;

use crate::config::{Config, Observed};
use crate::event::{Event, EventKind};
use crate::model::Access;

/// Every reachable route and the unmapped routes called, from a config and the events
/// of a window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Inventory {
    pub routes: Vec<RouteUse>,
    pub unmapped: Vec<Unmapped>,
}

/// One reachable route (or MCP mapping) and its use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteUse {
    pub tool: String,
    pub segment: String,
    pub method: String,
    pub path: String,
    pub intent: String,
    pub data_class: String,
    pub tier: String,
    pub access: String,
    pub observed: bool,
    pub calls: usize,
    pub agents: BTreeSet<String>,
}

impl Inventory {
    /// The inventory of `config`, with the use the calls among `events` made of it.
    /// `observed` is the observe set in force (a running gateway's may be newer than
    /// `config.observe`, read again on reload).
    pub fn new(config: &Config, observed: &Observed, events: &[Event]) -> Self {
        Self {
            routes: routes(config, observed, events),
            unmapped: fold::unmapped(config, events),
        }
    }
}

/// Calls and callers per (tool, intent).
type Used<'e> = BTreeMap<(&'e str, &'e str), (usize, BTreeSet<String>)>;

fn used(events: &[Event]) -> Used<'_> {
    let mut used = Used::new();
    for event in events
        .iter()
        .filter(|event| event.kind == EventKind::Tool || event.kind == EventKind::Mcp)
    {
        let (Some(tool), Some(intent), Some(agent)) = (&event.tool, &event.intent, &event.agent)
        else {
            continue;
        };
        let entry = used.entry((tool.as_str(), intent.as_str())).or_default();
        entry.0 += 1;
        entry.1.insert(agent.to_string());
    }
    used
}

fn routes(config: &Config, observed: &Observed, events: &[Event]) -> Vec<RouteUse> {
    let used = used(events);
    let use_of = |tool: &str, intent: &str| used.get(&(tool, intent)).cloned().unwrap_or_default();
    let observed = |tool: &str, segment: &str| {
        let set = observed;
        set.tools.iter().any(|name| name.as_str() == tool)
            || set.segments.iter().any(|name| name.as_str() == segment)
    };
    let mut rows = Vec::new();
    for tool in config.tools.values() {
        for route in &tool.routes {
            let (calls, agents) = use_of(tool.name.as_str(), route.intent.as_str());
            rows.push(RouteUse {
                tool: tool.name.to_string(),
                segment: tool.segment.to_string(),
                method: route.method.clone(),
                path: route.template.as_str().to_owned(),
                intent: route.intent.to_string(),
                data_class: route.data_class.to_string(),
                tier: route.tier.as_str().to_owned(),
                access: access(route.access),
                observed: observed(tool.name.as_str(), tool.segment.as_str()),
                calls,
                agents,
            });
        }
    }
    for server in config.mcp_servers.values() {
        let mappings = server
            .tools
            .iter()
            .map(|(name, mapping)| (name.as_str(), mapping));
        let features = [
            ("resources", &server.resources),
            ("prompts", &server.prompts),
        ];
        let features = features
            .into_iter()
            .filter_map(|(name, mapping)| Some((name, mapping.as_ref()?)));
        for (name, mapping) in mappings.chain(features) {
            let (calls, agents) = use_of(server.name.as_str(), mapping.intent.as_str());
            rows.push(RouteUse {
                tool: server.name.to_string(),
                segment: server.segment.to_string(),
                method: "MCP".to_owned(),
                path: name.to_owned(),
                intent: mapping.intent.to_string(),
                data_class: mapping.data_class.to_string(),
                tier: mapping.tier.as_str().to_owned(),
                access: access(mapping.access),
                observed: false,
                calls,
                agents,
            });
        }
    }
    rows
}

fn access(access: Access) -> String {
    match access {
        Access::Read => "read",
        Access::Write => "write",
    }
    .to_owned()
}
