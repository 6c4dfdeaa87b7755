//! What one token exchange writes: the single-use claim of its assertion's `jti` and,
//! when the gateway does not hold the workflow yet, the workflow it opens. A store
//! writes many exchanges' admissions in one transaction ([`crate::Store::admit`]), so a
//! busy broker pays one commit per batch instead of two round trips per exchange.

use gatehouse_core::workflow::Workflow;

/// One exchange's writes.
#[derive(Debug, Clone, PartialEq)]
pub struct Admission {
    /// The assertion's issuer; `jti`s are single-use per issuer.
    pub issuer: String,
    pub jti: String,
    /// Unix seconds: the last moment the assertion could still be accepted (leeway
    /// included), until which the claim is remembered.
    pub expires_at: i64,
    /// The workflow to create unless one of its id is stored (then the stored one is
    /// returned, as [`crate::Store::create_workflow`] does); `None` when the gateway
    /// already holds it.
    pub workflow: Option<Workflow>,
}

/// What the store made of one [`Admission`].
#[derive(Debug, Clone, PartialEq)]
pub enum Admitted {
    /// The `jti` was claimed before and that claim has not expired: nothing was written
    /// for this exchange, its workflow included.
    Replayed,
    /// The `jti` is claimed now; the stored workflow when one was asked for.
    Fresh(Option<Workflow>),
}
