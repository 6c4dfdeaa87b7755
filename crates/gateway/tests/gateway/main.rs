//! The gateway through its real HTTP surfaces: a real config on disk, real listeners on
//! loopback, and a recording upstream that proves what did and did not reach it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests fail loudly at the first surprise"
)]

mod approvals;
mod backlog;
mod baselines;
mod broker;
mod calls;
mod control;
mod discovery;
mod doors;
mod events;
mod forensics;
mod harness;
mod hostile;
mod mcp_face;
mod mcp_upstream;
mod metrics;
mod observe;
mod otlp;
mod paths;
mod policy_reload;
mod quarantines;
mod resources;
mod risk;
mod route_args;
mod sinks;
mod tail;
mod tls;
mod trace_context;
mod unfinished;
mod upgrade;
mod workflows;
