//! Upstream secrets as they are now: read from their files or variables at start and
//! re-read periodically, so a rotated secret takes effect without a restart. Values are
//! [`Secret`]s and never print.

use std::sync::RwLock;

use gatehouse_core::config::{Config, McpTransport, Secret, UpstreamAuth};
use gatehouse_core::model::ToolName;

use crate::config_map::ConfigMap;

/// What stands in for a secret in redacted text.
pub const REDACTED: &str = "[redacted]";

/// Shorter values are not redacted (see [`Secrets::redact`]).
const MIN_REDACTED: usize = 4;

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

    /// Replaces every current secret found in `text` (an upstream's error echoing the
    /// header Gatehouse injected, say) so it never reaches an event.
    pub fn redact(&self, text: &mut String) {
        let current = self
            .current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for secret in current.values() {
            let value = secret.expose();
            // A value this short would redact ordinary words; no real secret is one.
            if value.len() >= MIN_REDACTED && text.contains(value) {
                *text = text.replace(value, REDACTED);
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_occurrence_of_a_current_secret_is_redacted_and_short_values_are_left() {
        let mut current = ConfigMap::default();
        current.insert(ToolName::new("a"), Secret::new("s3cr3t-value".to_owned()));
        current.insert(ToolName::new("b"), Secret::new("ab".to_owned()));
        let secrets = Secrets {
            current: RwLock::new(current),
        };
        let mut text = "401: bad header `Bearer s3cr3t-value` (s3cr3t-value) ab".to_owned();
        secrets.redact(&mut text);
        assert_eq!(text, "401: bad header `Bearer [redacted]` ([redacted]) ab");
    }
}
