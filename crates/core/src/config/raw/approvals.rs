//! `[approvals]` (checkpoint lifetimes, two approvers) and `[notifications]`.

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawApprovals {
    /// How long a high-tier call waits for approvers before it is denied.
    #[serde(default = "default_approval_ttl_minutes")]
    pub ttl_minutes: u64,
    /// How long a confirmation stays usable.
    #[serde(default = "default_confirmation_ttl_minutes")]
    pub confirmation_ttl_minutes: u64,
    /// Refuse approvals by the owner of the agent that made the call.
    #[serde(default)]
    pub forbid_owner: bool,
    /// Intents that need two different approvers.
    #[serde(default)]
    pub two_approvers: Vec<Spanned<String>>,
    /// Longest `Prefer: wait=N` honoured, in seconds.
    #[serde(default = "default_max_wait_secs")]
    pub max_wait_secs: u64,
    /// Base URL of the console, for links in notifications.
    pub console_url: Option<String>,
}

impl Default for RawApprovals {
    fn default() -> Self {
        Self {
            ttl_minutes: default_approval_ttl_minutes(),
            confirmation_ttl_minutes: default_confirmation_ttl_minutes(),
            forbid_owner: false,
            two_approvers: Vec::new(),
            max_wait_secs: default_max_wait_secs(),
            console_url: None,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNotifications {
    /// Receives a JSON POST when a workflow pauses on an exhausted budget.
    pub webhook_url: Option<Spanned<String>>,
    /// For an `https://` webhook: PEM CA certificates to verify it against, instead of
    /// the built-in web roots.
    pub ca_file: Option<Spanned<String>>,
}

fn default_approval_ttl_minutes() -> u64 {
    60
}

fn default_confirmation_ttl_minutes() -> u64 {
    10
}

fn default_max_wait_secs() -> u64 {
    60
}
