//! The Gatehouse runtime: the only crate that knows tokio and hyper.
//!
//! Two listeners: the data plane ([`dataplane`]) where agents exchange identity for task
//! credentials ([`broker`]) and call tools through the fixed phases of DESIGN.md §3, and
//! the control plane ([`control`]) for operators. Every call ends as one event
//! ([`events`]).

pub mod anonymous;
pub mod approvals;
mod blocking;
pub mod body;
pub mod broker;
pub mod client;
pub mod console;
pub mod control;
pub mod credential;
pub mod datadir;
pub mod dataplane;
pub mod events;
pub mod example_mcp;
pub mod example_tool;
pub mod journal;
pub mod keys;
pub mod mcp;
pub mod metrics;
pub mod notify;
pub mod peer;
pub mod problem;
pub mod quarantines;
pub mod replicas;
pub mod retention;
pub mod revocations;
pub mod secrets;
pub mod server;
pub mod state;
pub mod tls;
pub mod workflows;

pub use server::{Gateway, StartError};
