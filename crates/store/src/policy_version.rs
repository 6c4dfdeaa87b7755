//! The record of each policy set the gateway loaded (issue 15 item 4): which files (by
//! their version hash), when, on whose word and why. A set loaded again later (a revert)
//! is a new record; the history is what ran, in order.

use serde::{Deserialize, Serialize};

/// One load of a policy set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyVersion {
    /// SHA-256 of the policy files, in hex (`gatehouse_policy::version_of`).
    pub version: String,
    /// When it went into force, Unix milliseconds.
    pub loaded_at_ms: i64,
    /// Who loaded it: `gatehouse` at start-up and on a file change, or the operator of a
    /// `policy apply`.
    pub by: String,
    /// Why, as the operator put it; at start-up and on a file change, what happened.
    pub message: Option<String>,
    /// How many policy files the set has.
    pub files: u32,
}

/// A policy set put in force on one gateway (by `policy apply` or the file watcher),
/// shared through the store with every other gateway on it, which put it in force too
/// (ARCHITECTURE.md, "State and events"). The files travel whole, so replicas run the
/// set that was applied, not whatever their own policy directories hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicySet {
    /// SHA-256 of the files (`gatehouse_policy::version_of`).
    pub version: String,
    /// When it was shared, Unix milliseconds.
    pub shared_at_ms: i64,
    /// Who put it in force.
    pub by: String,
    /// The `*.cedar` files, in the order they were read.
    pub files: Vec<PolicySetFile>,
}

/// One policy file of a shared [`PolicySet`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicySetFile {
    /// The path it was read from on the gateway that shared it (policy ids and error
    /// messages name the file).
    pub path: String,
    pub text: String,
}

/// A shared [`PolicySet`] as read back, with its place in the order of sharing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedPolicySet {
    /// Grows with every set shared: a gateway puts in force only sets shared after the
    /// last one it has seen.
    pub seq: i64,
    pub set: PolicySet,
}
