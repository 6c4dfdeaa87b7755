//! Forensics mode (issue 14 item 6): the agents and workflows an operator has asked to
//! record. While one is held, each of its tool calls (HTTP and MCP) is recorded whole by
//! `pipeline::recording`. With none held, [`Forensics::active`] is one atomic load, the
//! whole cost for calls nobody records. The targets are held in memory only: a restart
//! turns forensics off.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use gatehouse_core::clock::SharedClock;
use gatehouse_core::config::Config;
use gatehouse_store::Store;
use serde::{Deserialize, Serialize};

use crate::secrets::Secrets;

/// What starting a call's recording (`pipeline/recording.rs`) reads: whom forensics
/// covers and the time, the configuration (whether the call's segment requires its
/// recording), and what a recording is redacted of and stored in.
#[derive(Debug, Clone, Copy)]
pub struct Tap<'a> {
    pub forensics: &'a Forensics,
    pub clock: &'a SharedClock,
    pub config: &'a Config,
    pub secrets: &'a Arc<Secrets>,
    pub store: &'a Arc<dyn Store>,
}

/// Whom forensics records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    Agent,
    Workflow,
}

/// One agent or workflow under forensics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub kind: TargetKind,
    pub subject: String,
    /// When it turns itself off, Unix milliseconds; `None` holds until turned off.
    pub until_ms: Option<i64>,
    pub by: String,
    pub at_ms: i64,
    /// JSON fields (by key, at any depth) and header names whose values are redacted.
    #[serde(default)]
    pub redact: Vec<String>,
}

impl Target {
    fn covers(&self, agent: &str, workflow: &str, now_ms: i64) -> bool {
        let subject = match self.kind {
            TargetKind::Agent => agent,
            TargetKind::Workflow => workflow,
        };
        self.subject == subject && self.until_ms.is_none_or(|until| now_ms < until)
    }
}

/// The targets in force.
#[derive(Debug, Default)]
pub struct Forensics {
    /// How many targets are held: zero means no call is recorded, read with one load.
    held: AtomicUsize,
    targets: RwLock<Vec<Target>>,
}

impl Forensics {
    /// Whether any call may be recorded: one atomic load.
    pub fn active(&self) -> bool {
        self.held.load(Ordering::Relaxed) > 0
    }

    /// What to redact when the call of `agent` in `workflow` is recorded, or `None` when
    /// it is not: one atomic load while forensics is off everywhere.
    pub fn redactions(&self, agent: &str, workflow: &str, now_ms: i64) -> Option<Vec<String>> {
        if self.held.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let targets = self.targets.read().unwrap_or_else(PoisonError::into_inner);
        let mut covering = targets
            .iter()
            .filter(|target| target.covers(agent, workflow, now_ms))
            .peekable();
        covering.peek()?;
        Some(
            covering
                .flat_map(|target| target.redact.iter().cloned())
                .collect(),
        )
    }

    /// Turns forensics on for `target`, replacing one for the same subject.
    pub fn add(&self, target: Target) {
        let mut targets = self.targets.write().unwrap_or_else(PoisonError::into_inner);
        targets.retain(|held| !(held.kind == target.kind && held.subject == target.subject));
        targets.push(target);
        self.held.store(targets.len(), Ordering::Relaxed);
    }

    /// Turns it off; returns the target if it was on.
    pub fn remove(&self, kind: TargetKind, subject: &str) -> Option<Target> {
        let mut targets = self.targets.write().unwrap_or_else(PoisonError::into_inner);
        let index = targets
            .iter()
            .position(|held| held.kind == kind && held.subject == subject)?;
        let removed = targets.remove(index);
        self.held.store(targets.len(), Ordering::Relaxed);
        Some(removed)
    }

    /// The targets still in force at `now_ms` (ended ones are dropped).
    pub fn list(&self, now_ms: i64) -> Vec<Target> {
        let mut targets = self.targets.write().unwrap_or_else(PoisonError::into_inner);
        targets.retain(|target| target.until_ms.is_none_or(|until| now_ms < until));
        self.held.store(targets.len(), Ordering::Relaxed);
        targets.clone()
    }
}
