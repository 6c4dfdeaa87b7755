//! MCP's share of the runtime state, below the MCP face so the handles it is built into
//! need not know the face: a client per upstream server, the agents' sessions, and which
//! tools declare an output schema.

use std::collections::{HashMap, HashSet};
use std::sync::RwLock;

use gatehouse_core::model::ToolName;
use serde_json::Value;

/// MCP's share of the runtime: a client per upstream server, the agents' sessions, and
/// which tools declare an output schema.
#[derive(Debug)]
pub struct Mcp {
    pub upstreams: crate::mcp_upstream::Upstreams,
    pub sessions: crate::mcp_sessions::Sessions,
    /// Per server, the tools whose listing declared an `outputSchema`: clients validate
    /// `structuredContent` against it even on errors, so a refusal of such a tool keeps
    /// its details in `_meta` only.
    output_schemas: RwLock<HashMap<ToolName, HashSet<String>>>,
}

impl Mcp {
    pub fn start(
        config: &gatehouse_core::config::Config,
        client: &crate::upstream::UpstreamClient,
    ) -> Self {
        Self {
            upstreams: crate::mcp_upstream::Upstreams::start(config, client),
            sessions: crate::mcp_sessions::Sessions::default(),
            output_schemas: RwLock::default(),
        }
    }

    /// Remembers which of a server's listed tools declare an output schema.
    pub fn note_tools(&self, server: &ToolName, tools: &[Value]) {
        let declaring = tools
            .iter()
            .filter(|tool| tool.get("outputSchema").is_some())
            .filter_map(|tool| Some(tool.get("name")?.as_str()?.to_owned()))
            .collect();
        self.output_schemas
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(server.clone(), declaring);
    }

    /// Whether `tool` of `server` declared an output schema when last listed.
    pub fn declares_output(&self, server: &ToolName, tool: &str) -> bool {
        self.output_schemas
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(server)
            .is_some_and(|tools| tools.contains(tool))
    }
}
