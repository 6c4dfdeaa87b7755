//! Upstream secrets as they are now: read from their files or variables at start and
//! re-read periodically, so a rotated secret takes effect without a restart. Values are
//! [`Secret`]s and never print.

use std::sync::RwLock;

use gatehouse_core::config::{Config, McpTransport, Secret, UpstreamAuth};
use gatehouse_core::model::ToolName;

use crate::state::ConfigMap;

/// The current secret of each tool that has one.
#[derive(Debug, Default)]
pub struct Secrets {
    current: RwLock<ConfigMap<ToolName, Secret>>,
}

impl Secrets {
    pub fn from_config(config: &Config) -> Self {
        let current = authed(config)
            .map(|(name, auth)| (name.clone(), auth.secret.clone()))
            .collect();
        Self {
            current: RwLock::new(current),
        }
    }

    pub fn current(&self, tool: &ToolName) -> Option<Secret> {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(tool)
            .cloned()
    }

    /// Re-reads every source; a source that is gone keeps the last good value (and says so).
    pub fn reload(&self, config: &Config) {
        for (name, auth) in authed(config) {
            match auth.source.read() {
                Some(fresh) => self.replace(name, fresh),
                None => {
                    tracing::warn!(tool = %name, "upstream secret unreadable; keeping the previous value")
                }
            }
        }
    }

    fn replace(&self, tool: &ToolName, fresh: Secret) {
        let mut current = self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if current.get(tool) != Some(&fresh) {
            tracing::info!(%tool, "upstream secret changed; using the new value");
            current.insert(tool.clone(), fresh);
        }
    }
}

/// Every HTTP tool and HTTP MCP server that has an upstream secret.
fn authed(config: &Config) -> impl Iterator<Item = (&ToolName, &UpstreamAuth)> {
    let tools = config
        .tools
        .values()
        .filter_map(|tool| Some((&tool.name, tool.auth.as_ref()?)));
    let servers = config
        .mcp_servers
        .values()
        .filter_map(|server| match &server.transport {
            McpTransport::Http {
                auth: Some(auth), ..
            } => Some((&server.name, auth)),
            McpTransport::Http { auth: None, .. } | McpTransport::Stdio(_) => None,
        });
    tools.chain(servers)
}
