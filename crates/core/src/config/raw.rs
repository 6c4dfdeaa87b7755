//! The TOML document as written, before any reference is resolved. Every table rejects
//! unknown fields so a typo is an error, not a silently ignored setting. Fields that name
//! something defined elsewhere keep their span so a dangling name can report its line.
//!
//! One file per concern; this one holds the whole document's shape.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

mod approvals;
mod gateway;
mod identity;
mod mcp;
mod risk;
mod sinks;
mod tools;

use approvals::{RawApprovals, RawNotifications};
pub(crate) use gateway::RawGateway;
use gateway::RawPolicy;
use identity::RawSegment;
pub(crate) use identity::{RawAgent, RawIssuer, RawOperator, RawTaskClass};
pub(crate) use mcp::{RawMcpFeature, RawMcpServer, RawMcpTool};
pub(crate) use risk::{RawDetector, RawRedact, RawRisk};
pub(crate) use sinks::RawSink;
pub(crate) use tools::{RawRoute, RawRouteArg, RawTool, RawUpstreamAuth};

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

// Defaults more than one concern's tables use.
fn enforced() -> bool {
    true
}

fn default_data_class() -> String {
    "internal".to_owned()
}

fn default_tier() -> crate::model::Tier {
    crate::model::Tier::Low
}
