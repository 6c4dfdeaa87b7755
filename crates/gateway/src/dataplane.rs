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
//!    then the route's declared **arguments** are typed (a `bad-arguments` call never
//!    reaches policy), reading the body first only if the route declares body arguments;
//! 5. **decide** (Cedar), then **tier**: a medium call needs its confirmation, a high one
//!    is parked for approval and never forwarded from here;
//! 6. **budget**: only a call that would be forwarded is counted, and the declared body
//!    size is checked first so an oversize upload spends nothing;
//! 7. **forward**, then **record** when the response body has ended.

pub mod args;
pub mod budget;
pub mod classify;
pub mod decide;
pub mod forward;
pub mod record;
pub mod tier;
pub mod upstream;

use std::sync::Arc;

use gatehouse_core::model::Tier;
use gatehouse_core::refusal::{AuthFailure, Refusal};
use gatehouse_core::workflow::Status;
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use crate::body::ResponseBody;
use crate::credential::{self, Credential};
use crate::dataplane::classify::Call;
use crate::dataplane::record::EventDraft;
use crate::observe;
use crate::peer::Peer;
use crate::problem::json_response;
use crate::quarantines::Reach;
use crate::state::State;
use crate::workflows::LiveWorkflow;

/// Every door of the data plane. A new surface is a new variant, and the door test
/// (`tests/gateway/doors.rs`) matches on it exhaustively: it cannot compile until it says
/// how to knock on the new door with a revoked credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    /// `/tools/{tool}/…`: a tool call.
    Tool,
    /// `/mcp/{server}`: the MCP face.
    Mcp,
    /// `POST /v1/token`: an identity assertion, not a credential.
    Token,
    /// `GET /v1/approvals/{id}`: an approved call's result.
    ApprovalPoll,
    /// `GET /v1/jwks.json`: public keys, no credential.
    Jwks,
    /// `GET /.well-known/…`: OAuth metadata for MCP clients (RFC 9728), no credential.
    Discovery,
    /// Anything else: refused without reading a credential.
    Unknown,
}

impl Door {
    pub const ALL: [Self; 7] = [
        Self::Tool,
        Self::Mcp,
        Self::Token,
        Self::ApprovalPoll,
        Self::Jwks,
        Self::Discovery,
        Self::Unknown,
    ];

    /// The door a request knocks on.
    pub fn of(method: &Method, path: &str) -> Self {
        if path.starts_with("/tools/") || path == "/tools" {
            return Self::Tool;
        }
        if path.starts_with("/mcp/") {
            return Self::Mcp;
        }
        match (method, path) {
            (&Method::POST, "/v1/token") => Self::Token,
            (&Method::GET, _) if path.starts_with("/v1/approvals/") => Self::ApprovalPoll,
            (&Method::GET, "/v1/jwks.json") => Self::Jwks,
            (&Method::GET, _) if path.starts_with("/.well-known/") => Self::Discovery,
            _ => Self::Unknown,
        }
    }

    /// Whether the door takes a task credential, and so goes through `authenticate`.
    pub fn takes_credential(self) -> bool {
        match self {
            Self::Tool | Self::Mcp | Self::ApprovalPoll => true,
            Self::Token | Self::Jwks | Self::Discovery | Self::Unknown => false,
        }
    }
}

/// Routes one data-plane request.
pub async fn handle(
    state: Arc<State>,
    request: Request<Incoming>,
    peer: Arc<Peer>,
) -> Response<ResponseBody> {
    if let Some(refusal) = stale(&state) {
        let draft = EventDraft::begin(&state, &request, "dataplane");
        return draft.refuse(&state, &refusal);
    }
    match Door::of(request.method(), request.uri().path()) {
        Door::Tool => tool_call(state, request, peer).await,
        // The other surfaces' futures are larger than a tool call's: on the heap, so this
        // future (moved a few times per request) is the size of a tool call's.
        Door::Mcp => Box::pin(crate::mcp::face::handle(state, request)).await,
        Door::Token => Box::pin(crate::broker::exchange(state, request, &peer)).await,
        Door::ApprovalPoll => Box::pin(crate::approvals::execute::poll(state, request)).await,
        Door::Jwks => json_response(
            StatusCode::OK,
            &state.keys.jwks(),
            "application/jwk-set+json",
        ),
        Door::Discovery => {
            crate::mcp::discovery::handle(&state, request.headers(), request.uri().path())
        }
        Door::Unknown => {
            let draft = EventDraft::begin(&state, &request, "dataplane");
            draft.refuse(&state, &Refusal::NoRoute)
        }
    }
}

/// A replica that cannot know current revocations decides nothing (DESIGN.md §6).
fn stale(state: &State) -> Option<Refusal> {
    let max = state.config.gateway.max_staleness;
    let for_ms = state.feed.stale_for(state.clock.now().millis(), max)?;
    Some(Refusal::StaleState { for_ms })
}

/// One tool call, start to end.
async fn tool_call(
    state: Arc<State>,
    request: Request<Incoming>,
    peer: Arc<Peer>,
) -> Response<ResponseBody> {
    let mut draft = EventDraft::begin(&state, &request, "tool");
    match phases(&state, request, peer, &mut draft).await {
        Ok(response) => response,
        Err(refusal) => draft.refuse(&state, &refusal),
    }
}

async fn phases(
    state: &Arc<State>,
    request: Request<Incoming>,
    peer: Arc<Peer>,
    draft: &mut EventDraft,
) -> Result<Response<ResponseBody>, Refusal> {
    check_header_size(state, &request)?;
    let (credential, workflow) = authenticate(state, &request).await?;
    draft.credential(&credential);
    let (mut parts, body) = request.into_parts();
    let call = classify::classify(state, &parts.method, &parts.uri)?;
    draft.call(&call);
    let observed = observe::covers(state, &call, draft);
    forward::check_headers(&parts.headers)?;
    contain(&credential, &call)?;
    let reach = reach(&credential, &call);
    state.quarantines.check(reach, state.clock.as_ref())?;
    let (args, body) = if call.route.args.is_empty() {
        (None, tier::CallBody::Streaming(body))
    } else {
        let (args, body) = Box::pin(args::gather(state, &call, &parts.headers, body)).await?;
        (Some(args), body)
    };
    let verdict = decide::decide(state, &credential, &call, args.as_ref());
    // Fail closed: a policy that errored might have been the forbid that applied.
    let allowed = verdict.allowed && verdict.errors.is_empty();
    let tier = decide::effective_tier(call.route.tier, &verdict);
    draft.policies(verdict);
    if !allowed {
        observe::or_refuse(Refusal::PolicyDenied, observed, draft)?;
    }
    draft.tier(tier);
    let tier = observe::tier(tier, observed, draft);
    if tier != Tier::Low {
        budget::ensure_active(state, &workflow)?;
    }
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
    let reserved = budget::reserve(state, &workflow, call.route.access, declared).await;
    observe::budget(reserved, observed, draft)?;
    let message = forward::Message {
        method: parts.method.clone(),
        headers: std::mem::take(&mut parts.headers),
        body,
        peer: Some(peer),
    };
    let guard = forward::Guarded {
        caller: forward::OnBehalf::of(&credential),
        workflow: &workflow,
        declared,
        reach,
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

/// What a quarantine may name of this call (checked in phase 3, watched in flight).
fn reach<'a>(credential: &'a Credential, call: &Call<'a>) -> Reach<'a> {
    Reach {
        agent: &credential.claims.sub,
        tool: &call.tool.tool.name,
        segment: &call.tool.tool.segment,
        intent: Some(&call.route.intent),
    }
}

/// Phase 3: the credential's segment is the tool's, and the intent is in its scope.
/// (No live quarantine covering the call is the phase's last check, in `phases`.)
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
