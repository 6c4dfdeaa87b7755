//! The TOML document as written, before any reference is resolved. Every table rejects
//! unknown fields so a typo is an error, not a silently ignored setting. Fields that name
//! something defined elsewhere keep their span so a dangling name can report its line.
//!
//! One file per concern; this one holds the whole document's shape.

use std::collections::BTreeMap;

use serde::Deserialize;

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
