//! Upstream secrets as they are now: read from their files or variables at start and
//! re-read periodically, so a rotated secret takes effect without a restart. Values are
//! [`Secret`]s and never print.

use std::collections::HashMap;
use std::sync::RwLock;

use gatehouse_core::config::{Config, Secret};
use gatehouse_core::model::ToolName;

/// The current secret of each tool that has one.
#[derive(Debug, Default)]
pub struct Secrets {
    current: RwLock<HashMap<ToolName, Secret>>,
}

impl Secrets {
    pub fn from_config(config: &Config) -> Self {
        let current = config
            .tools
            .values()
            .filter_map(|tool| Some((tool.name.clone(), tool.auth.as_ref()?.secret.clone())))
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
        for tool in config.tools.values() {
            let Some(auth) = &tool.auth else { continue };
            match auth.source.read() {
                Some(fresh) => self.replace(&tool.name, fresh),
                None => {
                    tracing::warn!(tool = %tool.name, "upstream secret unreadable; keeping the previous value")
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
