//! Discovery (issue 15 item 2): a call to a tool with `discover = true` that matches
//! none of its routes is forwarded instead of refused `no-route`. Its event names the
//! tool and records what enforcing would have done (`observed:
//! "would-deny:no-route"`), so `gatehouse inventory` folds its method and path into a
//! candidate route and `inventory suggest` prints the route config for it.
//!
//! Such a call has no intent, so Cedar, the credential's intent scope and the route's
//! tier cannot apply; that is why config allows `discover` only in observe mode. What
//! still holds: identity (authenticated before), the credential's segment, quarantines
//! of the agent, tool and segment (in flight too), request hygiene (ambiguous paths,
//! `;`, `_method`, rewriting headers), and the budget: the call counts, as a write
//! unless its method is safe, its body read whole (bounded) so its size is counted
//! before the tool sees a byte.

use std::sync::Arc;

use gatehouse_core::model::Access;
use gatehouse_core::refusal::Refusal;
use http::{HeaderMap, Method, Response};
use hyper::body::Incoming;

use crate::body::ResponseBody;
use crate::credential::Credential;
use crate::dataplane::classify::Destination;
use crate::dataplane::{forward, tier};
use crate::peer::Peer;
use crate::pipeline::budget;
use crate::pipeline::cancel::{Guarded, OnBehalf};
use crate::pipeline::observe;
use crate::pipeline::record::EventDraft;
use crate::quarantines::Reach;
use crate::state::State;
use crate::workflows::LiveWorkflow;

/// The caller and the call, as authenticate and classify left them.
#[derive(Debug)]
pub struct Unrouted<'a> {
    pub credential: &'a Credential,
    pub workflow: &'a Arc<LiveWorkflow>,
    pub destination: Destination<'a>,
    pub peer: Arc<Peer>,
}

/// Contains, counts and forwards a discovered call.
pub async fn forward(
    state: &Arc<State>,
    unrouted: Unrouted<'_>,
    (method, headers): (Method, HeaderMap),
    body: Incoming,
    draft: &mut EventDraft,
) -> Result<Response<ResponseBody>, Refusal> {
    let tool = &unrouted.destination.tool.tool;
    draft.unrouted(&tool.name, &tool.segment);
    // `discover` is valid only where the tool is observed, and both are read from the
    // same file at once; a call that is somehow not observed is refused as enforced.
    let observed = observe::covers_named(&state.observe, &tool.name, &tool.segment, draft);
    observe::or_refuse(Refusal::NoRoute, observed, draft)?;
    forward::check_unrouted_headers(&headers)?;
    let credential = unrouted.credential;
    if credential.segment != tool.segment {
        return Err(Refusal::SegmentMismatch {
            credential: credential.segment.to_string(),
            tool: tool.segment.to_string(),
        });
    }
    let reach = Reach {
        agent: &credential.claims.sub,
        tool: &tool.name,
        segment: &tool.segment,
        intent: None,
    };
    state.quarantines.check(reach, state.clock.as_ref())?;
    let bytes = tier::read_body(state, body).await?;
    tier::check_unrouted_form(&method, &headers, &bytes)?;
    let declared = bytes.len() as u64;
    let reserved = budget::reserve(
        state.budgets(),
        unrouted.workflow,
        access(&method),
        declared,
    )
    .await;
    observe::budget(reserved, observed, draft)?;
    let message = forward::Message {
        method,
        headers,
        body: crate::body::full(bytes),
        peer: Some(unrouted.peer),
        upgrade: None,
    };
    let guard = Guarded {
        caller: OnBehalf::of(credential),
        workflow: unrouted.workflow,
        declared,
        reach,
    };
    forward::forward(state, message, guard, &unrouted.destination, draft).await
}

/// Without a route to say, a call may write unless its method is safe (RFC 9110 §9.2.1).
fn access(method: &Method) -> Access {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        Access::Read
    } else {
        Access::Write
    }
}
