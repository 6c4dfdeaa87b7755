//! Gatehouse's Cedar facade (ARCHITECTURE.md, "The request path", *decide*).
//!
//! Policies speak about `Gatehouse::Agent`s in `Gatehouse::Group`s, `Gatehouse::Tool`s in
//! `Gatehouse::Segment`s, and intents as `Gatehouse::Action`s in the `read` or `write`
//! action group. [`PolicyEngine::build`] turns the typed configuration into a validated
//! policy set over a static entity store; [`PolicyEngine::decide`] answers one call,
//! evaluating only the policies whose scope can apply (see `scope`).

mod context;
mod engine;
mod entities;
mod error;
mod load;
mod schema;
mod scope;

pub use engine::{DecisionContext, DecisionRequest, PolicyDecision, PolicyEngine};
pub use error::{PolicyError, PolicyErrorKind, PolicyErrors};
