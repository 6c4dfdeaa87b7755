//! `[[sinks]]`: where stored events are delivered.

use serde::Deserialize;
use toml::Spanned;

use super::tools::RawUpstreamAuth;

/// One event sink (`[[sinks]]`): where stored events are delivered, in order, from the
/// store (the outbox). `kind` is `file`, `stdout`, `webhook` or `otlp`; a field that
/// does not belong to the kind is an error when resolved.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSink {
    pub name: Spanned<String>,
    pub kind: Spanned<String>,
    /// file: the JSON-lines file, rotated by size.
    pub path: Option<String>,
    pub max_bytes: Option<u64>,
    pub keep: Option<u32>,
    /// webhook: batches POSTed as a JSON array of events.
    pub url: Option<Spanned<String>>,
    /// otlp: OTLP/HTTP (JSON) logs to `{endpoint}/v1/logs`, and spans to
    /// `{endpoint}/v1/traces` with `traces`.
    pub endpoint: Option<Spanned<String>>,
    pub traces: Option<bool>,
    /// webhook, otlp: most events per request.
    pub batch: Option<u32>,
    /// webhook, otlp: a secret sent in a header.
    pub auth: Option<RawUpstreamAuth>,
    /// webhook, otlp with an `https://` URL: PEM CA certificates to verify it against.
    pub ca_file: Option<Spanned<String>>,
}
