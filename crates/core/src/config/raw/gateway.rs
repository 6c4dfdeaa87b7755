//! `[gateway]` (listeners, limits, timeouts) and `[policy]`.

use serde::Deserialize;
use toml::Spanned;

use crate::config::RawTls;

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

fn default_anonymous_events_per_minute() -> u32 {
    20
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

fn default_secrets_reload_secs() -> u64 {
    10
}
