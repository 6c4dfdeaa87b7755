//! Typed event sinks (`[[sinks]]`): each a name (its cursor in the store) and where and
//! how it delivers.

use std::path::PathBuf;

use crate::config::{UpstreamAuth, UpstreamUrl};

/// One configured sink.
#[derive(Debug, Clone)]
pub struct Sink {
    /// Unique among sinks: the key of its cursor in the store and its metrics label.
    pub name: String,
    pub kind: SinkKind,
    /// Most events delivered in one write or request.
    pub batch: u32,
}

/// Where a sink delivers.
#[derive(Debug, Clone)]
pub enum SinkKind {
    /// A JSON-lines file, rotated once it would pass `max_bytes`, keeping `keep` old
    /// files (`path.1` the newest).
    File {
        path: PathBuf,
        max_bytes: u64,
        keep: u32,
    },
    Stdout,
    /// A JSON array of events POSTed per batch.
    Webhook {
        url: UpstreamUrl,
        auth: Option<UpstreamAuth>,
    },
    /// OTLP/HTTP with JSON encoding at `endpoint` (`/v1/logs`, and `/v1/traces` when
    /// `traces`).
    Otlp {
        endpoint: UpstreamUrl,
        auth: Option<UpstreamAuth>,
        traces: bool,
    },
}
