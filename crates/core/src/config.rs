//! Configuration: one TOML file, `policies/*.cedar` and an optional Cedar schema,
//! parsed once at start-up into the typed [`Config`]. Raw documents reject unknown
//! fields; every reference (segment, tool, task class, issuer, secret, key file) is
//! resolved here, so the rest of Gatehouse never sees a dangling name.

mod error;
mod load;
mod raw;
mod resolve;
mod secret;
mod sink;
mod tls;
mod typed;

pub use error::{ConfigError, ConfigErrors};
pub use load::{load, parse_document, read_policy_dir};
pub use raw::RawConfig;
pub use secret::Secret;
pub use sink::{Sink, SinkKind};
pub use tls::{ClientCerts, ListenerTls, RawTls};
pub use typed::{
    Agent, AgentKey, ApprovalSettings, ArgKind, ArgSource, ArgSpec, BaselineSettings, Config,
    GatewaySettings, IntentInfo, Issuer, Limits, McpMapping, McpServer, McpTransport,
    Notifications, Observed, Operator, PolicyFile, PolicySource, RecordingPolicy, Role, Route,
    SecretSource, Segment, StdioCommand, StoreLocation, Surface, TaskClass, Tool, UpstreamAuth,
    UpstreamTls, UpstreamUrl,
};
