//! `[risk]`: data classes, detectors, and what routes redact.

use serde::Deserialize;
use toml::Spanned;

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

fn default_hold_bytes() -> u64 {
    256 * 1024
}
