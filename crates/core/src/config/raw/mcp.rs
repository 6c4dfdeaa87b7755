//! MCP servers, the tools they expose, and their resources and prompts.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::risk::RawRedact;
use super::tools::RawUpstreamAuth;

/// An MCP server: exactly one of `url` (Streamable HTTP) or `command` (stdio).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMcpServer {
    pub segment: Spanned<String>,
    pub url: Option<Spanned<String>>,
    pub auth: Option<RawUpstreamAuth>,
    /// For an `https://` URL: PEM CA certificates to verify the server against.
    pub ca_file: Option<Spanned<String>>,
    pub command: Option<Spanned<String>>,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    pub cwd: Option<String>,
    /// How long one request may take, a launch and handshake included; defaults to
    /// `gateway.limits.upstream_timeout_ms`.
    pub timeout_ms: Option<u64>,
    /// Names the intent of a tool listed without one; `{server}` and `{tool}` expand.
    #[serde(default = "default_intent_pattern")]
    pub intent_pattern: Spanned<String>,
    #[serde(default)]
    pub tools: BTreeMap<String, RawMcpTool>,
    pub resources: Option<RawMcpFeature>,
    pub prompts: Option<RawMcpFeature>,
}

/// One exposed MCP tool.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMcpTool {
    pub intent: Option<Spanned<String>>,
    #[serde(default = "super::default_data_class")]
    pub data_class: String,
    #[serde(default = "super::default_tier")]
    pub tier: crate::model::Tier,
    /// A tool may change things unless declared `read`: its own annotations are the
    /// server's claim, not ours.
    #[serde(default = "default_mcp_access")]
    pub access: crate::model::Access,
    /// Argument name → `string`, `path`, `long`, `bool` or `set<string>`; a trailing `?`
    /// makes it optional.
    #[serde(default)]
    pub args: BTreeMap<String, Spanned<String>>,
    /// Detectors (`[[risk.detectors]]` names) the tool's results are scanned with.
    #[serde(default)]
    pub scan: Vec<Spanned<String>>,
    #[serde(default)]
    pub redact: RawRedact,
}

/// Resources or prompts of an MCP server, as one intent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMcpFeature {
    pub intent: Spanned<String>,
    #[serde(default = "super::default_data_class")]
    pub data_class: String,
    #[serde(default = "super::default_tier")]
    pub tier: crate::model::Tier,
}

fn default_intent_pattern() -> Spanned<String> {
    Spanned::new(0..0, "{server}.{tool}".to_owned())
}

fn default_mcp_access() -> crate::model::Access {
    crate::model::Access::Write
}
