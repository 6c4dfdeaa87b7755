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
