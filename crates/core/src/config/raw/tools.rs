//! HTTP tools: upstream, credential injection, routes and their arguments.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::risk::RawRedact;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTool {
    pub url: Spanned<String>,
    pub segment: Spanned<String>,
    pub auth: Option<RawUpstreamAuth>,
    /// For an `https://` URL: PEM CA certificates to verify the tool against, instead
    /// of the built-in web roots.
    pub ca_file: Option<Spanned<String>>,
    #[serde(default)]
    pub routes: Vec<RawRoute>,
    /// `false`: observe mode (issue 15): every phase runs and the event records what
    /// would have happened, but the call is forwarded.
    #[serde(default = "super::enforced")]
    pub enforce: bool,
    /// `true` (observe mode only): calls that match no route are forwarded too, and
    /// their method and path shape recorded as candidate routes (issue 15 item 2).
    #[serde(default)]
    pub discover: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUpstreamAuth {
    #[serde(default = "default_auth_header")]
    pub header: String,
    pub prefix: Option<String>,
    /// Environment variable holding the secret.
    pub secret_env: Option<Spanned<String>>,
    /// File holding the secret (trailing newline trimmed).
    pub secret_file: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    pub method: Spanned<String>,
    pub path: Spanned<String>,
    pub intent: Spanned<String>,
    #[serde(default = "super::default_data_class")]
    pub data_class: String,
    #[serde(default = "super::default_tier")]
    pub tier: crate::model::Tier,
    pub access: Option<crate::model::Access>,
    /// Danger, opt-in: let a `_method` query parameter reach the tool.
    #[serde(default)]
    pub method_param: bool,
    /// Danger, opt-in: let path segments carry `;` (matrix or path parameters).
    #[serde(default)]
    pub matrix_params: bool,
    /// Danger, opt-in: connection upgrades let through to the tool after the decision;
    /// only `"websocket"` exists.
    #[serde(default)]
    pub upgrade: Vec<Spanned<String>>,
    /// Argument name → where it is read from and its type, written as for MCP:
    /// `{ path = "long" }`, `{ query = "string?" }` or `{ body = "long" }`.
    #[serde(default)]
    pub args: BTreeMap<String, RawRouteArg>,
    /// Detectors (`[[risk.detectors]]` names) the route's responses are scanned with.
    #[serde(default)]
    pub scan: Vec<Spanned<String>>,
    #[serde(default)]
    pub redact: RawRedact,
}

/// One argument of an HTTP route: exactly one source, whose value is the argument type.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRouteArg {
    /// A `{name}` parameter of the route's path template.
    pub path: Option<Spanned<String>>,
    /// A query parameter.
    pub query: Option<Spanned<String>>,
    /// A top-level field of a JSON object body.
    pub body: Option<Spanned<String>>,
}

fn default_auth_header() -> String {
    "authorization".to_owned()
}
