//! Who calls and within what: segments, agents, trusted issuers, task classes and
//! their budgets, operators.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use crate::model::AttrValue;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSegment {
    #[serde(default)]
    pub description: String,
    /// `false`: observe mode for every tool of the segment (issue 15).
    #[serde(default = "super::enforced")]
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOperator {
    pub name: String,
    /// Hex SHA-256 of the operator's bearer token; the token itself is never stored.
    pub token_sha256: Spanned<String>,
    pub roles: Vec<Spanned<String>>,
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
