//! The Gatehouse runtime: the only crate that knows tokio and hyper.
//!
//! Two listeners: the data plane ([`dataplane`]) where agents exchange identity for task
//! credentials ([`broker`]) and call tools through the fixed phases of ARCHITECTURE.md, "The request path", and
//! the control plane ([`control`]) for operators. Every call ends as one event
//! ([`events`]).

pub mod access_log;
pub mod admissions;
pub mod anonymous;
pub mod approvals;
pub mod approved;
pub mod audit;
pub mod baselines;
mod blocking;
pub mod body;
pub mod broker;
pub mod config_map;
pub mod control;
pub mod credential;
pub mod datadir;
pub mod dataplane;
pub mod events;
pub mod feed;
pub mod forensics;
pub mod journal;
pub mod keys;
pub mod mcp;
pub mod mcp_sessions;
pub mod mcp_state;
pub mod mcp_upstream;
pub mod metrics;
pub mod notify;
pub mod observe;
pub mod peer;
pub mod pipeline;
pub mod policies;
pub mod policy_reload;
pub mod problem;
pub mod quarantines;
pub mod replicas;
pub mod retention;
pub mod revocations;
pub mod router;
pub mod secrets;
pub mod server;
pub mod sessions;
pub mod sinks;
pub mod state;
pub mod tail;
pub mod throttle;
pub mod tls;
mod trace;
pub mod upstream;
pub mod workflows;

pub use server::{Gateway, StartError};
