//! Hot reload under load, in a test binary of its own: `wrk` holds both cores for
//! minutes, and cargo runs test binaries one after another, so it never starves the
//! timed tests of `tests/gateway`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests fail loudly at the first surprise"
)]

#[path = "../gateway/harness.rs"]
#[allow(
    dead_code,
    reason = "the gateway tests' harness, of which this binary uses a part"
)]
mod harness;
mod reload_under_load;
