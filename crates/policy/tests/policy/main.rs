//! The policy engine as the gateway uses it: built from a typed configuration, asked for
//! decisions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests fail loudly at the first surprise"
)]

mod decisions;
mod errors;
mod fixture;
mod harness;
mod index;
mod mcp_args;
mod reload;
