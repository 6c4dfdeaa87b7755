//! What the decide phase fed Cedar beyond the event's own fields, kept with the event so
//! that `gatehouse replay` can run the same decision again under other policies.
//!
//! The event already names the principal (agent), action (intent) and resource (tool),
//! and the context's workflow, task class, segment and data class. Missing from it were
//! the second policy saw as `context.now`, the route's own tier (the event's `tier` is
//! the effective one, after `@tier`), whether the call writes, and the typed arguments.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{AttrValue, Tier};

/// The decide phase's input that the event does not otherwise carry, and its verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecideInput {
    /// `context.now`, Unix seconds, as policy saw it.
    pub now: i64,
    /// The route's (or MCP mapping's) declared tier, before `@tier` raised it.
    pub tier: Tier,
    pub write: bool,
    /// Whether policy allowed the call (permitted and without evaluation errors).
    pub allowed: bool,
    /// `context.args` when the route or mapping declares arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<BTreeMap<String, AttrValue>>,
}
