//! Danger, opt-in per route (`upgrade = ["websocket"]`): a WebSocket upgrade reaches the
//! tool after every phase has passed, and once the tool answers `101 Switching
//! Protocols` the two connections are joined, byte for byte, until either side closes.
//!
//! What that gives up, and why it is opt-in: the frames after the handshake are not
//! read, classified or decided one by one; they are the tool's protocol, and the call
//! that was decided is the handshake. Revocation, the workflow's end, a quarantine and
//! shutdown still cut the tunnel. Its bytes are counted against the workflow's byte
//! budget when it closes (they cannot be refused mid-frame), and the call's event is
//! recorded then, with the bytes each way. Every other upgrade (`h2c` above all) stays
//! refused (400 `unsafe-request`).

use std::sync::Arc;

use gatehouse_core::config::Route;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Extensions, Response};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

use crate::body::{BodyEnd, BodyMeter, ResponseBody, empty};
use crate::pipeline::cancel::{Cancellation, Guarded};
use crate::pipeline::record::EventDraft;
use crate::problem::insert_decision_header;
use crate::state::State;
use crate::upstream::{self, LeasedBody};

/// Whether the agent's `Upgrade` header is one `route` lets through: exactly one value,
/// `websocket`.
pub(crate) fn allowed(route: &Route, headers: &HeaderMap) -> bool {
    let mut values = headers.get_all(header::UPGRADE).iter();
    route.websocket
        && values
            .next()
            .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"websocket"))
        && values.next().is_none()
}

/// The agent's side of the upgrade, for a route that lets one through and a request
/// that asks for it; `None` otherwise (and always over HTTP/2, which has no `Upgrade`).
pub(crate) fn take(
    route: &Route,
    headers: &HeaderMap,
    extensions: &mut Extensions,
) -> Option<OnUpgrade> {
    if !route.websocket || !headers.contains_key(header::UPGRADE) {
        return None;
    }
    extensions.remove::<OnUpgrade>()
}

/// Asks the tool for the upgrade: the hop-by-hop headers were stripped with the rest.
pub(crate) fn ask(headers: &mut HeaderMap) {
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
}

/// The tool's `101` for the agent, and the tunnel joining them once both sides have
/// switched; the event is recorded when the tunnel closes.
pub(crate) fn tunnel(
    state: &Arc<State>,
    mut response: Response<LeasedBody>,
    agent: OnUpgrade,
    draft: EventDraft,
    meter: BodyMeter,
    guarded: Guarded<'_>,
    cancel: Cancellation,
) -> Response<ResponseBody> {
    let tool = upstream::take_upgrade(&mut response);
    let (mut parts, _) = response.into_parts();
    for name in [
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
    ] {
        parts.headers.remove(name);
    }
    parts
        .headers
        .insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    let id = draft.id();
    let state = Arc::clone(state);
    let workflow = Arc::clone(guarded.workflow);
    tokio::spawn(async move {
        let (sent, received, end) = relay(agent, tool, cancel).await;
        let _ = workflow.add_bytes(sent.saturating_add(received), &*state.store);
        let mut draft = draft;
        draft.bytes_in(meter.bytes().saturating_add(sent));
        draft.complete(&state.emitter, 101, received, &end);
    });
    let mut response = Response::from_parts(parts, empty());
    insert_decision_header(&mut response, id);
    response
}

/// Copies both ways until one side closes or the call is cut: bytes agent → tool,
/// tool → agent, and how it ended.
async fn relay(agent: OnUpgrade, tool: OnUpgrade, cancel: Cancellation) -> (u64, u64, BodyEnd) {
    let (agent, tool) = match tokio::try_join!(agent, tool) {
        Ok(both) => both,
        Err(error) => {
            return (
                0,
                0,
                BodyEnd::Failed(format!("the upgrade failed: {error}")),
            );
        }
    };
    let (mut agent, mut tool) = (TokioIo::new(agent), TokioIo::new(tool));
    tokio::select! {
        copied = tokio::io::copy_bidirectional(&mut agent, &mut tool) => match copied {
            Ok((sent, received)) => (sent, received, BodyEnd::Complete),
            Err(_) => (0, 0, BodyEnd::Aborted),
        },
        reason = cancel => (0, 0, BodyEnd::Revoked(reason)),
    }
}
