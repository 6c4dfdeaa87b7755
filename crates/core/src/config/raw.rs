//! The TOML document as written, before any reference is resolved. Every table rejects
//! unknown fields so a typo is an error, not a silently ignored setting. Fields that name
//! something defined elsewhere keep their span so a dangling name can report its line.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use crate::config::RawTls;
use crate::model::AttrValue;

/// The whole document.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub gateway: RawGateway,
    #[serde(default)]
    pub policy: RawPolicy,
    #[serde(default)]
    pub segments: BTreeMap<String, RawSegment>,
    #[serde(default)]
    pub agents: BTreeMap<String, RawAgent>,
    #[serde(default)]
    pub issuers: BTreeMap<String, RawIssuer>,
    #[serde(default)]
    pub task_classes: BTreeMap<String, RawTaskClass>,
    #[serde(default)]
    pub tools: BTreeMap<String, RawTool>,
    #[serde(default)]
    pub mcp_servers: BTreeMap<String, RawMcpServer>,
    #[serde(default)]
    pub operators: Vec<RawOperator>,
    #[serde(default)]
    pub notifications: RawNotifications,
    #[serde(default)]
    pub approvals: RawApprovals,
    #[serde(default)]
    pub sinks: Vec<RawSink>,
    /// Response risk classes and detectors (`docs/configuration.md`, `[risk]`).
    pub risk: Option<RawRisk>,
    /// Per-agent baselines and anomalies (`docs/configuration.md`, `[baseline]`).
    #[serde(default)]
    pub baseline: RawBaseline,
}

/// `[baseline]`: learning per-agent call patterns and flagging calls that depart.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawBaseline {
    pub enabled: bool,
    /// The learning window, in days before the current hour.
    pub window_days: u32,
    /// Days (a started day counts) an agent's first learned call must go back before
    /// its calls are judged; at most `window_days`.
    pub min_days: u32,
    /// Calls the window must hold before an agent's calls are judged.
    pub min_calls: u64,
    pub rate_factor: f64,
    /// Calls per hour never flagged as `rate`, whatever the baseline.
    pub rate_floor: u64,
    pub volume_factor: f64,
    /// Bytes per hour never flagged as `volume`, whatever the baseline.
    pub volume_floor_bytes: u64,
    /// An hour of day whose mean calls (all intents) are at most this is unusual.
    pub quiet_hour_calls: f64,
    /// Anomalies that raise the call's tier to `raise_tier_to`.
    pub raise_tier_on: Vec<Spanned<String>>,
    pub raise_tier_to: Spanned<String>,
    /// How often in-memory counts are added to the store.
    pub flush_ms: u64,
    /// How often the baseline is learned again from the store.
    pub relearn_secs: u64,
}

impl Default for RawBaseline {
    fn default() -> Self {
        Self {
            enabled: true,
            window_days: 7,
            min_days: 7,
            min_calls: 100,
            rate_factor: 3.0,
            rate_floor: 10,
            volume_factor: 3.0,
            volume_floor_bytes: 1024 * 1024,
            quiet_hour_calls: 0.0,
            raise_tier_on: Vec::new(),
            raise_tier_to: Spanned::new(0..0, "medium".to_owned()),
            flush_ms: 5_000,
            relearn_secs: 300,
        }
    }
}

/// `[risk]`: the order of data classes and the response detectors routes may name.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRisk {
    /// Least to most sensitive.
    pub classes: Vec<Spanned<String>>,
    /// How much of a scanned response is held before its head is sent.
    #[serde(default = "default_hold_bytes")]
    pub hold_bytes: u64,
    #[serde(default)]
    pub detectors: Vec<RawDetector>,
}

fn default_hold_bytes() -> u64 {
    256 * 1024
}

/// One `[[risk.detectors]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDetector {
    pub name: Spanned<String>,
    /// `aws-access-key`, `pem-private-key`, `jwt`, `email`, `card-number` or `volume`.
    pub kind: Spanned<String>,
    /// The class a hit raises the response to.
    pub class: Spanned<String>,
    /// `volume` only: the length, in bytes, that counts as a hit.
    pub bytes: Option<u64>,
}

/// What a route or MCP tool redacts from its responses.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRedact {
    /// JSON object members whose values are replaced, wherever they appear.
    #[serde(default)]
    pub fields: Vec<String>,
    /// Detectors whose hits are replaced (they are scanned for even if `scan` omits them).
    #[serde(default)]
    pub detectors: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGateway {
    pub audience: String,
    #[serde(default = "default_data_listen")]
    pub data_listen: Spanned<String>,
    #[serde(default = "default_control_listen")]
    pub control_listen: Spanned<String>,
    #[serde(default = "default_data_dir")]
    pub data_dir: String,
    /// `postgres://…` for a database shared by replicas; left out, the embedded SQLite
    /// file under `data_dir`.
    pub store: Option<String>,
    /// On a shared store: how long this replica may go without the feed of other
    /// replicas' changes (revocations) before it refuses calls rather than guess.
    #[serde(default = "default_max_staleness_ms")]
    pub max_staleness_ms: u64,
    pub events_file: Option<String>,
    #[serde(default)]
    pub limits: RawLimits,
    /// How often upstream secrets are re-read from their files and variables.
    #[serde(default = "default_secrets_reload_secs")]
    pub secrets_reload_secs: u64,
    /// Events older than this many days are deleted; absent keeps every event.
    pub event_retention_days: Option<u64>,
    /// Unauthenticated requests stored as events one by one per minute; the rest are
    /// counted and summarised in one event per minute.
    #[serde(default = "default_anonymous_events_per_minute")]
    pub anonymous_events_per_minute: u32,
    /// TLS on the data plane (and client certificates); absent, plain HTTP.
    pub data_tls: Option<RawTls>,
    /// TLS on the control plane; absent, plain HTTP.
    pub control_tls: Option<RawTls>,
}

fn default_anonymous_events_per_minute() -> u32 {
    20
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    #[serde(default = "default_max_header_bytes")]
    pub max_header_bytes: usize,
    #[serde(default = "default_max_request_body")]
    pub max_request_body: u64,
    #[serde(default = "default_max_response_body")]
    pub max_response_body: u64,
    #[serde(default = "default_upstream_timeout_ms")]
    pub upstream_timeout_ms: u64,
    #[serde(default = "default_max_assertion_lifetime_secs")]
    pub max_assertion_lifetime_secs: u64,
    #[serde(default = "default_idle_timeout_ms")]
    pub idle_timeout_ms: u64,
    #[serde(default = "default_max_data_connections")]
    pub max_data_connections: usize,
    #[serde(default = "default_max_control_connections")]
    pub max_control_connections: usize,
    #[serde(default = "default_token_rate_per_peer")]
    pub token_rate_per_peer: u32,
    #[serde(default = "default_token_burst_per_peer")]
    pub token_burst_per_peer: u32,
    #[serde(default = "default_max_queued_events")]
    pub max_queued_events: usize,
    #[serde(default = "default_response_idle_timeout_ms")]
    pub response_idle_timeout_ms: u64,
}

impl Default for RawLimits {
    fn default() -> Self {
        Self {
            max_header_bytes: default_max_header_bytes(),
            max_request_body: default_max_request_body(),
            max_response_body: default_max_response_body(),
            upstream_timeout_ms: default_upstream_timeout_ms(),
            max_assertion_lifetime_secs: default_max_assertion_lifetime_secs(),
            idle_timeout_ms: default_idle_timeout_ms(),
            max_data_connections: default_max_data_connections(),
            max_control_connections: default_max_control_connections(),
            token_rate_per_peer: default_token_rate_per_peer(),
            max_queued_events: default_max_queued_events(),
            response_idle_timeout_ms: default_response_idle_timeout_ms(),
            token_burst_per_peer: default_token_burst_per_peer(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    /// Directory of `*.cedar` files.
    #[serde(default = "default_policy_dir")]
    pub dir: String,
    /// A cedarschema fragment declaring entity types and agent attributes.
    pub schema: Option<String>,
    /// How often the running gateway looks at the `*.cedar` files for changes, in
    /// milliseconds; a changed set is loaded once it reads the same twice. 0: never.
    #[serde(default = "default_policy_watch_ms")]
    pub watch_ms: u64,
}

impl Default for RawPolicy {
    fn default() -> Self {
        Self {
            dir: default_policy_dir(),
            schema: None,
            watch_ms: default_policy_watch_ms(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSegment {
    #[serde(default)]
    pub description: String,
    /// `false`: observe mode for every tool of the segment (issue 15).
    #[serde(default = "enforced")]
    pub enforce: bool,
    /// `required`: a call recorded in forensics mode fails when its recording cannot be
    /// written. `optional` (the default) records what it can and logs what it cannot.
    #[serde(default)]
    pub recording: crate::config::RecordingPolicy,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAgent {
    /// SPKI PEM file of the agent's Ed25519 key.
    pub public_key_file: Option<Spanned<String>>,
    /// Name of a trusted issuer vouching for this agent instead.
    pub issuer: Option<Spanned<String>>,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub task_classes: Vec<Spanned<String>>,
    #[serde(default)]
    pub attributes: BTreeMap<String, AttrValue>,
    /// Who answers for this agent (told when its workflows pause).
    pub owner: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIssuer {
    /// The `iss` claim of its tokens.
    pub issuer: String,
    /// A JWKS (RFC 7517) file with its public keys.
    pub jwks_file: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTaskClass {
    pub segment: Spanned<String>,
    pub intents: Vec<Spanned<String>>,
    /// Lifetime of each credential.
    pub ttl_minutes: u64,
    /// Lifetime of a workflow of this class, from its creation.
    #[serde(default = "default_workflow_ttl_minutes")]
    pub workflow_ttl_minutes: u64,
    /// Default budget of each workflow of this class.
    #[serde(default)]
    pub budget: RawBudget,
    /// The operator who confirms medium-tier calls of this class's workflows (e.g. the
    /// orchestrator that launched them); never the agent itself.
    pub confirmer: Option<Spanned<String>>,
    /// The most sensitive data class a response to this class's credentials may carry,
    /// on routes that scan (`[risk]`); a response found above it is refused.
    pub max_data_class: Option<Spanned<String>>,
}

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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBudget {
    #[serde(default = "default_budget_calls")]
    pub calls: u64,
    #[serde(default = "default_budget_writes")]
    pub writes: u64,
    #[serde(default = "default_budget_bytes")]
    pub bytes: u64,
}

impl Default for RawBudget {
    fn default() -> Self {
        Self {
            calls: default_budget_calls(),
            writes: default_budget_writes(),
            bytes: default_budget_bytes(),
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
    #[serde(default = "enforced")]
    pub enforce: bool,
    /// `true` (observe mode only): calls that match no route are forwarded too, and
    /// their method and path shape recorded as candidate routes (issue 15 item 2).
    #[serde(default)]
    pub discover: bool,
}

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
    #[serde(default = "default_data_class")]
    pub data_class: String,
    #[serde(default = "default_tier")]
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
    #[serde(default = "default_data_class")]
    pub data_class: String,
    #[serde(default = "default_tier")]
    pub tier: crate::model::Tier,
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
    #[serde(default = "default_data_class")]
    pub data_class: String,
    #[serde(default = "default_tier")]
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOperator {
    pub name: String,
    /// Hex SHA-256 of the operator's bearer token; the token itself is never stored.
    pub token_sha256: Spanned<String>,
    pub roles: Vec<Spanned<String>>,
}

fn default_data_listen() -> Spanned<String> {
    Spanned::new(0..0, "127.0.0.1:8080".to_owned())
}

fn default_control_listen() -> Spanned<String> {
    Spanned::new(0..0, "127.0.0.1:8081".to_owned())
}

fn default_max_staleness_ms() -> u64 {
    5_000
}

fn default_data_dir() -> String {
    "data".to_owned()
}

fn default_policy_dir() -> String {
    "policies".to_owned()
}

fn enforced() -> bool {
    true
}

fn default_policy_watch_ms() -> u64 {
    1000
}

fn default_response_idle_timeout_ms() -> u64 {
    30_000
}

fn default_max_queued_events() -> usize {
    50_000
}

fn default_max_header_bytes() -> usize {
    16 * 1024
}

fn default_max_request_body() -> u64 {
    1024 * 1024
}

fn default_max_response_body() -> u64 {
    16 * 1024 * 1024
}

fn default_upstream_timeout_ms() -> u64 {
    10_000
}

fn default_max_assertion_lifetime_secs() -> u64 {
    300
}

fn default_idle_timeout_ms() -> u64 {
    10_000
}

/// Below the usual soft limit of 1024 open files, leaving room for the control plane,
/// the store and upstream connections.
fn default_max_data_connections() -> usize {
    768
}

fn default_max_control_connections() -> usize {
    64
}

fn default_token_rate_per_peer() -> u32 {
    20
}

fn default_token_burst_per_peer() -> u32 {
    40
}

fn default_workflow_ttl_minutes() -> u64 {
    8 * 60
}

fn default_budget_calls() -> u64 {
    1000
}

fn default_budget_writes() -> u64 {
    100
}

fn default_budget_bytes() -> u64 {
    100 * 1024 * 1024
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

fn default_secrets_reload_secs() -> u64 {
    10
}

fn default_intent_pattern() -> Spanned<String> {
    Spanned::new(0..0, "{server}.{tool}".to_owned())
}

fn default_mcp_access() -> crate::model::Access {
    crate::model::Access::Write
}

fn default_auth_header() -> String {
    "authorization".to_owned()
}

fn default_data_class() -> String {
    "internal".to_owned()
}

fn default_tier() -> crate::model::Tier {
    crate::model::Tier::Low
}

/// One event sink (`[[sinks]]`): where stored events are delivered, in order, from the
/// store (the outbox). `kind` is `file`, `stdout`, `webhook` or `otlp`; a field that
/// does not belong to the kind is an error when resolved.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSink {
    pub name: Spanned<String>,
    pub kind: Spanned<String>,
    /// file: the JSON-lines file, rotated by size.
    pub path: Option<String>,
    pub max_bytes: Option<u64>,
    pub keep: Option<u32>,
    /// webhook: batches POSTed as a JSON array of events.
    pub url: Option<Spanned<String>>,
    /// otlp: OTLP/HTTP (JSON) logs to `{endpoint}/v1/logs`, and spans to
    /// `{endpoint}/v1/traces` with `traces`.
    pub endpoint: Option<Spanned<String>>,
    pub traces: Option<bool>,
    /// webhook, otlp: most events per request.
    pub batch: Option<u32>,
    /// webhook, otlp: a secret sent in a header.
    pub auth: Option<RawUpstreamAuth>,
    /// webhook, otlp with an `https://` URL: PEM CA certificates to verify it against.
    pub ca_file: Option<Spanned<String>>,
}
