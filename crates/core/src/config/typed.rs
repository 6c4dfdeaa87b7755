//! The typed configuration the rest of Gatehouse reads: every name resolved, every
//! value in its final type.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::VerifyingKey;

use crate::baseline::anomaly::{AnomalySet, Thresholds};
use crate::config::{ListenerTls, Secret};
use crate::model::{
    Access, AgentId, AttrValue, DataClass, GroupName, Intent, SegmentName, TaskClassName, Tier,
    ToolName,
};
use crate::path::PathTemplate;
use crate::risk::{RiskSettings, RouteRisk};
use crate::token::Jwks;
use crate::workflow::Budget;

/// The whole configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The directory of the config file; relative paths were resolved against it.
    pub base_dir: PathBuf,
    pub gateway: GatewaySettings,
    pub segments: BTreeMap<SegmentName, Segment>,
    pub agents: BTreeMap<AgentId, Agent>,
    pub issuers: BTreeMap<String, Issuer>,
    pub task_classes: BTreeMap<TaskClassName, TaskClass>,
    pub tools: BTreeMap<ToolName, Tool>,
    /// MCP servers behind `/mcp/{server}`; their names share the tools' namespace, since
    /// policy sees both as `Tool` resources.
    pub mcp_servers: BTreeMap<ToolName, McpServer>,
    /// Every intent named by a route or an MCP mapping, with whether it reads or writes.
    pub intents: BTreeMap<Intent, IntentInfo>,
    pub operators: Vec<Operator>,
    /// The `policies/*.cedar` files, in file-name order.
    pub policies: Vec<PolicyFile>,
    /// Where they were read from, and how the running gateway watches them.
    pub policy_source: PolicySource,
    /// The tools and segments in observe mode (`enforce = false`).
    pub observe: Observed,
    /// The Cedar schema fragment declaring entity attributes, if the config has one.
    pub schema: Option<PolicyFile>,
    /// Where pauses and other operator-worthy news are sent.
    pub notifications: Notifications,
    pub approvals: ApprovalSettings,
    /// Where stored events are delivered (`[[sinks]]`), each from its own cursor.
    pub sinks: Vec<crate::config::Sink>,
    /// `[risk]`: data class order and response detectors; `None` when not configured.
    pub risk: Option<Arc<RiskSettings>>,
    /// `[baseline]`: learning call patterns and judging calls against them.
    pub baseline: BaselineSettings,
}

/// `[baseline]`, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct BaselineSettings {
    /// Off: no counting, no anomalies, nothing stored.
    pub enabled: bool,
    pub window_days: u32,
    pub thresholds: Thresholds,
    /// Anomalies that raise a call's tier to at least `raise_to`.
    pub raise_on: AnomalySet,
    pub raise_to: Tier,
    pub flush: Duration,
    pub relearn: Duration,
}

impl Default for BaselineSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            window_days: 7,
            thresholds: Thresholds {
                min_days: 7,
                min_calls: 100,
                rate_factor: 3.0,
                rate_floor: 10,
                volume_factor: 3.0,
                volume_floor: 1024 * 1024,
                quiet_hour_calls: 0.0,
            },
            raise_on: AnomalySet::EMPTY,
            raise_to: Tier::Medium,
            flush: Duration::from_secs(5),
            relearn: Duration::from_secs(300),
        }
    }
}

/// What observe mode covers: calls to these tools, or to any tool of these segments,
/// are decided in full but forwarded whatever the decision (issue 15).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    pub tools: BTreeSet<ToolName>,
    pub segments: BTreeSet<SegmentName>,
    /// Observed tools with `discover = true`: a call matching none of their routes is
    /// forwarded too, and recorded as a candidate route.
    pub discover: BTreeSet<ToolName>,
}

impl Observed {
    pub fn is_empty(&self) -> bool {
        self.tools.is_empty() && self.segments.is_empty()
    }
}

/// The policy directory, read again when its files change (issue 15).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicySource {
    /// The config file, whose `enforce` flags the running gateway reads again.
    pub config_file: PathBuf,
    pub dir: PathBuf,
    /// How often the files are looked at for changes; `None` never.
    pub watch: Option<Duration>,
}

/// How confirmations and approvals behave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalSettings {
    pub ttl: Duration,
    pub confirmation_ttl: Duration,
    pub forbid_owner: bool,
    pub two_approvers: BTreeSet<Intent>,
    pub max_wait: Duration,
    pub console_url: Option<String>,
}

/// Outbound notifications.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notifications {
    /// `http[s]://host:port/path` receiving a JSON POST per notification.
    pub webhook: Option<UpstreamUrl>,
}

/// Listeners, storage and limits.
#[derive(Debug, Clone)]
pub struct GatewaySettings {
    /// The `aud` that identity assertions must name, and the `iss` of task credentials.
    pub audience: String,
    pub data_listen: SocketAddr,
    pub control_listen: SocketAddr,
    pub data_dir: PathBuf,
    /// Where state is kept.
    pub store: StoreLocation,
    /// On a shared store, the longest time without other replicas' changes before calls
    /// are refused.
    pub max_staleness: Duration,
    /// A JSON-lines file every event is appended to, if set.
    pub events_file: Option<PathBuf>,
    pub limits: Limits,
    /// How often upstream secrets are re-read.
    pub secrets_reload: Duration,
    /// How long events are kept; `None` keeps them all.
    pub event_retention: Option<Duration>,
    /// Unauthenticated requests stored one by one per minute (the rest are counted).
    pub anonymous_events_per_minute: u32,
    /// TLS on the data plane; `None` serves plain HTTP.
    pub data_tls: Option<ListenerTls>,
    /// TLS on the control plane; `None` serves plain HTTP.
    pub control_tls: Option<ListenerTls>,
}

/// Where Gatehouse keeps its state (ARCHITECTURE.md, "State and events").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// The embedded default: one SQLite file (`gatehouse.db` under the data directory).
    Sqlite(PathBuf),
    /// A PostgreSQL database shared by every replica; the URL may carry a password, so
    /// it never prints.
    Postgres(Secret),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_header_bytes: usize,
    pub max_request_body: u64,
    pub max_response_body: u64,
    pub upstream_timeout: Duration,
    /// Longest lifetime (`exp - iat`) of an identity assertion.
    pub max_assertion_lifetime: Duration,
    /// A connection that sends no byte of its first request, or of its next request
    /// headers, for this long is closed.
    pub idle_timeout: Duration,
    /// Open connections per listener; past the cap a new connection is closed at once.
    /// Separate caps keep the control plane reachable when the data plane is saturated.
    pub max_data_connections: usize,
    pub max_control_connections: usize,
    /// Token exchanges per second per peer address, after a burst of `token_burst_per_peer`.
    pub token_rate_per_peer: u32,
    pub token_burst_per_peer: u32,
    /// Events waiting to be stored before calls that must be recorded are refused
    /// (503 `unrecordable`); refusals beyond twice this are counted, not queued.
    pub max_queued_events: usize,
    /// Longest silence between two pieces of a response body before the call is cut.
    pub response_idle_timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub name: SegmentName,
    pub description: String,
    pub recording: RecordingPolicy,
}

/// Whether a forensic recording must be written for a recorded call to proceed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordingPolicy {
    #[default]
    Optional,
    Required,
}

#[derive(Debug, Clone)]
pub struct Agent {
    pub id: AgentId,
    pub key: AgentKey,
    pub attributes: BTreeMap<String, AttrValue>,
    pub groups: Vec<GroupName>,
    /// Task classes this agent may obtain credentials for.
    pub task_classes: BTreeSet<TaskClassName>,
    /// Who answers for this agent.
    pub owner: Option<String>,
}

/// How an agent proves its identity.
#[derive(Debug, Clone)]
pub enum AgentKey {
    /// Self-signed EdDSA assertions with this key.
    PublicKey(VerifyingKey),
    /// JWTs from this trusted issuer (key of [`Config::issuers`]) whose `sub` is the id.
    Issuer(String),
}

/// A trusted issuer of identity JWTs (e.g. a SPIFFE JWT-SVID issuer).
#[derive(Debug, Clone)]
pub struct Issuer {
    pub name: String,
    /// The `iss` claim its tokens carry.
    pub issuer: String,
    pub jwks: Jwks,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskClass {
    pub name: TaskClassName,
    pub segment: SegmentName,
    pub intents: BTreeSet<Intent>,
    /// Lifetime of each credential.
    pub ttl: Duration,
    /// Lifetime of a workflow of this class.
    pub workflow_ttl: Duration,
    /// Default budget of each workflow.
    pub budget: Budget,
    /// The operator who confirms medium-tier calls, if any.
    pub confirmer: Option<String>,
    /// The rank (in `[risk] classes`) of the most sensitive class a scanned response to
    /// this class's credentials may carry.
    pub max_data_class: Option<u8>,
}

#[derive(Debug, Clone)]
pub struct Tool {
    pub name: ToolName,
    pub segment: SegmentName,
    pub upstream: UpstreamUrl,
    pub auth: Option<UpstreamAuth>,
    pub routes: Vec<Route>,
}

/// An `http://host:port/base` or `https://host:port/base` upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamUrl {
    /// `host:port`, as written to the `Host` header and connected to.
    pub authority: String,
    /// The base path without trailing slash (`""` for the root).
    pub base_path: String,
    /// Set for `https://`: how the upstream's certificate is verified.
    pub tls: Option<UpstreamTls>,
}

/// How an `https://` upstream's certificate is verified: against the built-in web
/// roots (Mozilla's), or only against the CAs in `ca_file`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpstreamTls {
    pub ca_file: Option<PathBuf>,
}

/// The tool's own credential, injected on forward.
#[derive(Debug, Clone)]
pub struct UpstreamAuth {
    /// Lowercase header name, `authorization` by default.
    pub header: String,
    /// Written before the secret, e.g. `Bearer `.
    pub prefix: String,
    /// The value read at start-up.
    pub secret: Secret,
    /// Where it is re-read from while running.
    pub source: SecretSource,
}

/// Where a secret lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    Env(String),
    File(PathBuf),
}

impl SecretSource {
    /// Reads the current value; `None` when unset, empty or unreadable.
    pub fn read(&self) -> Option<Secret> {
        let value = match self {
            Self::Env(var) => std::env::var(var).ok()?,
            Self::File(path) => std::fs::read_to_string(path).ok()?,
        };
        let value = value.trim_end_matches(['\r', '\n']);
        (!value.is_empty()).then(|| Secret::new(value.to_owned()))
    }
}

#[derive(Debug, Clone)]
pub struct Route {
    /// Uppercase method.
    pub method: String,
    pub template: PathTemplate,
    pub intent: Intent,
    pub data_class: DataClass,
    pub tier: Tier,
    pub access: Access,
    /// A `_method` query parameter may reach the tool (refused otherwise).
    pub method_param: bool,
    /// Path segments may carry `;` (refused otherwise).
    pub matrix_params: bool,
    /// A WebSocket upgrade (`Upgrade: websocket`) reaches the tool, which then speaks
    /// WebSocket with the agent through Gatehouse (refused otherwise).
    pub websocket: bool,
    /// Arguments exposed to policy as `context.args`, typed as MCP arguments are; empty
    /// when the route declares none (its context then has no `args`).
    pub args: BTreeMap<String, ArgSpec>,
    /// Where each argument of `args` is read from.
    pub arg_sources: BTreeMap<String, ArgSource>,
    /// How its responses are scanned and redacted; `None`: they pass unread.
    pub risk: Option<Arc<RouteRisk>>,
}

impl Route {
    /// Whether a call must have its body read and parsed before policy decides.
    pub fn reads_body(&self) -> bool {
        !self.args.is_empty() && self.arg_sources.values().any(|s| *s == ArgSource::Body)
    }
}

/// Where an HTTP route's argument comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgSource {
    /// A `{name}` parameter of the path template.
    Path,
    /// A query parameter.
    Query,
    /// A top-level field of a JSON object body.
    Body,
}

impl ArgSource {
    /// The key used in config files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Path => "path",
            Self::Query => "query",
            Self::Body => "body",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntentInfo {
    pub access: Access,
    /// The typed call arguments policy sees as `context.args`: `Some` for MCP intents
    /// (possibly empty) and HTTP routes declaring arguments, `None` for HTTP routes
    /// without, whose context has no `args`.
    pub args: Option<BTreeMap<String, ArgSpec>>,
    /// Which face names the intent: an intent belongs to HTTP routes or to MCP, not both.
    pub surface: Surface,
}

/// The face of the gateway a call arrives on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// `/tools/{tool}/…` routes.
    Http,
    /// `/mcp/{server}` mappings.
    Mcp,
}

/// An MCP server behind `/mcp/{name}`.
#[derive(Debug, Clone)]
pub struct McpServer {
    pub name: ToolName,
    pub segment: SegmentName,
    pub transport: McpTransport,
    /// Bound on one request to the server, a launch and handshake included.
    pub timeout: Duration,
    /// Upstream tool name → how its calls are classified. A tool absent here is
    /// invisible and refused: no mapping means no access.
    pub tools: BTreeMap<String, McpMapping>,
    /// How `resources/read` is classified; `None` hides resources entirely.
    pub resources: Option<McpMapping>,
    /// How `prompts/get` is classified; `None` hides prompts entirely.
    pub prompts: Option<McpMapping>,
}

/// How Gatehouse reaches an MCP server.
#[derive(Debug, Clone)]
pub enum McpTransport {
    /// Streamable HTTP at `url` (its full endpoint path), with the server's own secret.
    Http {
        url: UpstreamUrl,
        auth: Option<UpstreamAuth>,
    },
    /// A process Gatehouse launches and supervises, speaking JSON-RPC on stdin/stdout.
    Stdio(StdioCommand),
}

/// A stdio server's command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StdioCommand {
    pub program: String,
    pub args: Vec<String>,
    /// Added to Gatehouse's own environment.
    pub env: BTreeMap<String, String>,
    /// Working directory, resolved against the config file's directory.
    pub cwd: PathBuf,
}

/// The classification of one MCP tool (or of resources or prompts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpMapping {
    pub intent: Intent,
    pub data_class: DataClass,
    pub tier: Tier,
    pub access: Access,
    /// Arguments exposed to policy as `context.args`; undeclared ones are forwarded but
    /// invisible to policy.
    pub args: BTreeMap<String, ArgSpec>,
    /// How its results are scanned and redacted; `None`: they pass unread.
    pub risk: Option<Arc<RouteRisk>>,
}

/// A declared argument's type, checked before policy sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArgSpec {
    pub kind: ArgKind,
    /// A required argument missing from a call refuses the call.
    pub required: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    /// Any string.
    String,
    /// A string that must be a normalised absolute path: no `.` or `..` segments, no
    /// `//`, no backslash, no NUL, so `like "/srv/reports/*"` means what it says.
    Path,
    /// An integer.
    Long,
    Bool,
    /// An array of strings.
    StringSet,
}

impl ArgKind {
    /// The name used in config files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Path => "path",
            Self::Long => "long",
            Self::Bool => "bool",
            Self::StringSet => "set<string>",
        }
    }

    /// The Cedar schema type.
    pub fn cedar_type(self) -> &'static str {
        match self {
            Self::String | Self::Path => "String",
            Self::Long => "Long",
            Self::Bool => "Bool",
            Self::StringSet => "Set<String>",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "string" => Some(Self::String),
            "path" => Some(Self::Path),
            "long" => Some(Self::Long),
            "bool" => Some(Self::Bool),
            "set<string>" => Some(Self::StringSet),
            _ => None,
        }
    }
}

/// Roles of control-plane callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Operator,
    Approver,
    Auditor,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Operator => "operator",
            Self::Approver => "approver",
            Self::Auditor => "auditor",
        }
    }
}

/// A control-plane caller; only the SHA-256 of its token is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    pub name: String,
    pub token_sha256: [u8; 32],
    pub roles: BTreeSet<Role>,
}

/// A policy or schema file's text, with where it came from for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyFile {
    pub path: PathBuf,
    pub text: String,
}
