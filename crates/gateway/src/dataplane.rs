//! The data plane: the token endpoint, the segment JWKS, and tool calls walking the fixed
//! phases of ARCHITECTURE.md, "The request path". Each phase passes the call on or ends it with a [`Refusal`];
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
//! 5. the call is counted and judged against its agent's **baseline** (anomalies go to
//!    Cedar and may raise the tier); **decide** (Cedar), then **tier**: a medium call needs its confirmation, a high one
//!    is parked for approval and never forwarded from here;
//! 6. **budget**: only a call that would be forwarded is counted, and the declared body
//!    size is checked first so an oversize upload spends nothing;
//! 7. **forward**, then **record** when the response body has ended.

pub mod args;
pub mod classify;
pub mod discover;
pub mod forward;
pub mod risk;
pub mod tier;
pub mod upgrade;

use std::sync::Arc;

use gatehouse_core::event::EventKind;
use gatehouse_core::model::Tier;
use gatehouse_core::refusal::Refusal;
use http::{Request, Response};
use hyper::body::Incoming;

use crate::body::ResponseBody;
use crate::peer::Peer;
use crate::pipeline::authenticate::{authenticate, check_header_size};
use crate::pipeline::cancel::{Guarded, OnBehalf};
use crate::pipeline::contain::{contain, reach};
use crate::pipeline::record::EventDraft;
use crate::pipeline::{baseline, budget, decide, observe};
use crate::state::State;

/// One tool call, start to end.
pub async fn tool_call(
    state: Arc<State>,
    request: Request<Incoming>,
    peer: Arc<Peer>,
) -> Response<ResponseBody> {
    let mut draft = EventDraft::begin(&state.emitter, &request, EventKind::Tool);
    match phases(&state, request, peer, &mut draft).await {
        Ok(response) => response,
        Err(refusal) => draft.refuse(&state.emitter, &refusal),
    }
}

async fn phases(
    state: &Arc<State>,
    request: Request<Incoming>,
    peer: Arc<Peer>,
    draft: &mut EventDraft,
) -> Result<Response<ResponseBody>, Refusal> {
    check_header_size(state.config.gateway.limits.max_header_bytes, &request)?;
    let (credential, workflow) = authenticate(
        state.verifier(),
        &state.revocations,
        &state.workflows,
        &request,
    )
    .await?;
    draft.credential(&credential);
    let (mut parts, body) = request.into_parts();
    let call = match classify::classify(state, &parts.method, &parts.uri) {
        Err(Refusal::NoRoute) => {
            let Some(destination) = classify::unrouted(state, &parts.uri)? else {
                return Err(Refusal::NoRoute);
            };
            let unrouted = discover::Unrouted {
                credential: &credential,
                workflow: &workflow,
                destination,
                peer,
            };
            let message = (parts.method.clone(), std::mem::take(&mut parts.headers));
            return Box::pin(discover::forward(state, unrouted, message, body, draft)).await;
        }
        classified => classified?,
    };
    draft.target(&call.target());
    forward::check_headers(&parts.headers, call.route)?;
    let target = call.target();
    let observed = observe::covers(&state.observe, &target, draft);
    contain(
        &state.quarantines,
        state.clock.as_ref(),
        &credential,
        &target,
    )?;
    let (args, body) = if call.route.args.is_empty() {
        (None, tier::CallBody::Streaming(body))
    } else {
        let (args, body) = Box::pin(args::gather(state, &call, &parts.headers, body)).await?;
        (Some(args), body)
    };
    let anomalies = baseline::judge(&state.baselines, &credential.agent, target.intent, draft);
    let verdict = decide::decide_recorded(
        &state.policy,
        state.clock.now(),
        &credential,
        (&target, args.as_ref()),
        anomalies,
        draft,
    );
    // Fail closed: a policy that errored might have been the forbid that applied.
    let allowed = verdict.allowed && verdict.errors.is_empty();
    let tier = decide::effective_tier(target.tier, &verdict);
    let tier = baseline::raise(&state.baselines, tier, anomalies, draft);
    draft.policies(verdict);
    if !allowed {
        observe::or_refuse(Refusal::PolicyDenied, observed, draft)?;
    }
    draft.tier(tier);
    let tier = observe::tier(tier, observed, draft);
    if tier != Tier::Low {
        budget::ensure_active(state.budgets(), &workflow)?;
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
            draft.parked(&state.emitter, response.status().as_u16());
            return Ok(response);
        }
    };
    let reserved = budget::reserve(state.budgets(), &workflow, target.access, declared).await;
    observe::budget(reserved, observed, draft)?;
    let upgrade = upgrade::take(call.route, &parts.headers, &mut parts.extensions);
    let message = forward::Message {
        upgrade,
        method: parts.method.clone(),
        headers: std::mem::take(&mut parts.headers),
        body,
        peer: Some(peer),
    };
    let guard = Guarded {
        caller: OnBehalf::of(&credential),
        workflow: &workflow,
        declared,
        reach: reach(&credential, &target),
    };
    forward::forward(state, message, guard, &call.destination(), draft).await
}
