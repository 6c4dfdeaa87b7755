//! What the budget phase (`pipeline/budget.rs`) reads, lent by the state for one call:
//! the clock, the store that holds leases and slices, and whom a workflow's pause is
//! told.

use std::collections::BTreeMap;
use std::sync::Arc;

use gatehouse_core::clock::SharedClock;
use gatehouse_core::config::Agent;
use gatehouse_core::model::AgentId;
use gatehouse_store::Store;

use crate::metrics::Metrics;
use crate::notify::Notifier;

/// The budget phase's handles.
#[derive(Debug, Clone, Copy)]
pub struct Budgets<'a> {
    pub clock: &'a SharedClock,
    pub store: &'a Arc<dyn Store>,
    pub pauses: Pauses<'a>,
}

/// Whom a workflow's pause is told: the metrics, and the owner of its agent.
#[derive(Debug, Clone, Copy)]
pub struct Pauses<'a> {
    pub metrics: &'a Metrics,
    pub agents: &'a BTreeMap<AgentId, Agent>,
    pub notifier: &'a Notifier,
}
