//! The data plane: the token endpoint, the segment JWKS, and tool calls walking the fixed
//! phases of DESIGN.md §3. Each phase passes the call on or ends it with a [`Refusal`];
//! the order is the point:
//!
//! 1. headers are bounded before anything reads them;
//! 2. **authenticate** before classify, so an anonymous caller learns nothing about
//!    which tools or routes exist;
//! 3. **classify** before contain, since containment needs the tool's segment and the
//!    route's intent;
//! 4. **contain** (segment, scope) before decide: cheap, static checks that need no policy;
//! 5. **decide** (Cedar), then **tier**: a medium call needs its confirmation, a high one
//!    is parked for approval and never forwarded from here;
//! 6. **budget**: only a call that would be forwarded is counted, and the declared body
//!    size is checked first so an oversize upload spends nothing;
//! 7. **forward**, then **record** when the response body has ended.

pub mod budget;
pub mod classify;
pub mod decide;
pub mod forward;
pub mod record;
pub mod tier;
pub mod upstream;

use std::sync::Arc;

use gatehouse_core::refusal::{AuthFailure, Refusal};
use gatehouse_core::workflow::Status;
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use crate::body::ResponseBody;
use crate::credential::{self, Credential};
use crate::dataplane::classify::Call;
use crate::dataplane::record::EventDraft;
use crate::problem::json_response;
use crate::state::State;
use crate::workflows::LiveWorkflow;

/// Routes one data-plane request.
pub async fn handle(state: Arc<State>, request: Request<Incoming>) -> Response<ResponseBody> {
    let path = request.uri().path();
    if path.starts_with("/tools/") || path == "/tools" {
        return tool_call(state, request).await;
    }
    // The other surfaces' futures are larger than a tool call's: on the heap, so this
    // future (moved a few times per request) is the size of a tool call's.
    if path.starts_with("/mcp/") {
        return Box::pin(crate::mcp::face::handle(state, request)).await;
    }
    match (request.method(), path) {
        (&Method::POST, "/v1/token") => Box::pin(crate::broker::exchange(state, request)).await,
        (&Method::GET, _) if path.starts_with("/v1/approvals/") => {
            Box::pin(crate::approvals::execute::poll(state, request)).await
        }
        (&Method::GET, _) if path.starts_with("/.well-known/") => {
            crate::mcp::discovery::handle(&state, request.headers(), path)
        }
        (&Method::GET, "/v1/jwks.json") => json_response(
            StatusCode::OK,
            &state.keys.jwks(),
            "application/jwk-set+json",
        ),
        _ => {
            let draft = EventDraft::begin(&state, &request, "dataplane");
            draft.refuse(&state, &Refusal::NoRoute)
        }
    }
}

/// One tool call, start to end.
async fn tool_call(state: Arc<State>, request: Request<Incoming>) -> Response<ResponseBody> {
    let mut draft = EventDraft::begin(&state, &request, "tool");
    match phases(&state, request, &mut draft).await {
        Ok(response) => response,
        Err(refusal) => draft.refuse(&state, &refusal),
    }
}

async fn phases(
    state: &Arc<State>,
    request: Request<Incoming>,
    draft: &mut EventDraft,
) -> Result<Response<ResponseBody>, Refusal> {
    check_header_size(state, &request)?;
    let (credential, workflow) = authenticate(state, &request).await?;
    draft.credential(&credential);
    let (mut parts, body) = request.into_parts();
    let call = classify::classify(state, &parts.method, &parts.uri)?;
    draft.call(&call);
    contain(&credential, &call)?;
    let verdict = decide::decide(state, &credential, &call);
    // Fail closed: a policy that errored might have been the forbid that applied.
    let allowed = verdict.allowed && verdict.errors.is_empty();
    let tier = decide::effective_tier(call.route.tier, &verdict);
    draft.policies(verdict);
    if !allowed {
        return Err(Refusal::PolicyDenied);
    }
    draft.tier(tier);
    let checked = tier::Checked {
        credential: &credential,
        call: &call,
        method: &parts.method,
        headers: &parts.headers,
        tier,
    };
    let (body, declared) = match tier::gate(state, checked, body, draft).await? {
        tier::Gate::Proceed(body, declared) => (body, declared),
        tier::Gate::Parked(response) => {
            draft.parked(state, response.status().as_u16());
            return Ok(response);
        }
    };
    budget::reserve(state, &workflow, call.route.access, declared)?;
    let message = forward::Message {
        method: parts.method.clone(),
        headers: std::mem::take(&mut parts.headers),
        body,
    };
    let guard = forward::Guarded {
        caller: forward::OnBehalf::of(&credential),
        workflow: &workflow,
        declared,
    };
    forward::forward(state, message, guard, &call, draft).await
}

/// Oversize header sections are refused before any header is parsed further.
pub(crate) fn check_header_size<B>(state: &State, request: &Request<B>) -> Result<(), Refusal> {
    let total: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if total > state.config.gateway.limits.max_header_bytes {
        return Err(Refusal::HeadersTooLarge);
    }
    Ok(())
}

/// Phase 1: a valid, unexpired task credential minted by this gateway, not revoked, whose
/// agent is not revoked and whose workflow is live. All from memory but a workflow's
/// first use after a restart.
pub(crate) async fn authenticate<B>(
    state: &State,
    request: &Request<B>,
) -> Result<(Arc<Credential>, Arc<LiveWorkflow>), Refusal> {
    let header = request.headers().get(http::header::AUTHORIZATION);
    let token = credential::bearer(header).map_err(Refusal::Unauthenticated)?;
    let credential = credential::verify(state, token).map_err(Refusal::Unauthenticated)?;
    let claims = &credential.claims;
    if state.revocations.is_token_revoked(&claims.jti)
        || state.revocations.is_agent_revoked(&claims.sub)
    {
        return Err(Refusal::Unauthenticated(AuthFailure::Revoked));
    }
    let workflow = state
        .workflows
        .get(&claims.wf)
        .await
        .map_err(|error| Refusal::Internal {
            reason: format!("cannot load workflow `{}`: {error}", claims.wf),
        })?
        .ok_or(Refusal::Unauthenticated(AuthFailure::Revoked))?;
    if workflow.is_over(state.clock.now().secs()) {
        let failure = match workflow.snapshot().status {
            Status::Expired => AuthFailure::Expired,
            _ => AuthFailure::Revoked,
        };
        return Err(Refusal::Unauthenticated(failure));
    }
    Ok((credential, workflow))
}

/// Phase 3: the credential's segment is the tool's, and the intent is in its scope.
fn contain(credential: &Credential, call: &Call<'_>) -> Result<(), Refusal> {
    if credential.segment != call.tool.tool.segment {
        return Err(Refusal::SegmentMismatch {
            credential: credential.segment.to_string(),
            tool: call.tool.tool.segment.to_string(),
        });
    }
    if !credential.allows(&call.route.intent) {
        return Err(Refusal::OutOfScope {
            intent: call.route.intent.to_string(),
        });
    }
    Ok(())
}
