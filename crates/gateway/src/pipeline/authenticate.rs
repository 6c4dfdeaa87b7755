//! Phase 1, for every door that takes a credential: a valid, unexpired task credential
//! minted by this gateway, not revoked, whose agent is not revoked and whose workflow is
//! live. Header sections are bounded before anything reads them.

use std::sync::Arc;

use gatehouse_core::refusal::{AuthFailure, Refusal};
use gatehouse_core::workflow::Status;
use http::Request;

use crate::credential::{self, Credential, Verifier};
use crate::revocations::Revocations;
use crate::workflows::{LiveWorkflow, Workflows};

/// Oversize header sections are refused before any header is parsed further.
pub(crate) fn check_header_size<B>(limit: usize, request: &Request<B>) -> Result<(), Refusal> {
    let total: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if total > limit {
        return Err(Refusal::HeadersTooLarge);
    }
    Ok(())
}

/// Phase 1: a valid, unexpired task credential minted by this gateway, not revoked, whose
/// agent is not revoked and whose workflow is live. All from memory but a workflow's
/// first use after a restart. Each check reads only its own handle: the keys and cache
/// (through `verifier`, which also carries the time), the revocations, the workflows.
pub(crate) async fn authenticate<B>(
    verifier: Verifier<'_>,
    revocations: &Revocations,
    workflows: &Workflows,
    request: &Request<B>,
) -> Result<(Arc<Credential>, Arc<LiveWorkflow>), Refusal> {
    let header = request.headers().get(http::header::AUTHORIZATION);
    let token = credential::bearer(header).map_err(Refusal::Unauthenticated)?;
    let now = verifier.now;
    let credential = credential::verify(verifier, token).map_err(Refusal::Unauthenticated)?;
    let claims = &credential.claims;
    if revocations.is_token_revoked(&claims.jti) || revocations.is_agent_revoked(&claims.sub) {
        return Err(Refusal::Unauthenticated(AuthFailure::Revoked));
    }
    let workflow = workflows
        .get(&claims.wf)
        .await
        .map_err(|error| Refusal::Internal {
            reason: format!("cannot load workflow `{}`: {error}", claims.wf),
        })?
        .ok_or(Refusal::Unauthenticated(AuthFailure::Revoked))?;
    if workflow.is_over(now.secs()) {
        let failure = match workflow.snapshot().status {
            Status::Expired => AuthFailure::Expired,
            _ => AuthFailure::Revoked,
        };
        return Err(Refusal::Unauthenticated(failure));
    }
    Ok((credential, workflow))
}
