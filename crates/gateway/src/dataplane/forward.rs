//! Phase 7: forward. The agent's credential and hop-by-hop headers are stripped, the
//! tool's own secret injected, and bodies stream both ways under their limits. The
//! event is finished by the response body when it ends.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use gatehouse_core::config::{Route, Secret};
use gatehouse_core::headers::{self, Verdict};
use gatehouse_core::refusal::Refusal;
use gatehouse_core::workflow::BudgetKind;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, Uri, Version};
use http_body_util::BodyExt;

use crate::body::{BodyMeter, CappedBody, MeteredBody, ResponseBody, StreamGuard};
use crate::dataplane::classify::Destination;
use crate::dataplane::risk::{self, Stop, StreamScan};
use crate::peer::Peer;
use crate::pipeline::budget::notify_paused;
use crate::pipeline::cancel::{Cancellation, Guarded, OnBehalf, cancellation, cancelled};
use crate::pipeline::record::EventDraft;
use crate::pipeline::recording;
use crate::pipeline::risk::Screen;
use crate::problem::{decision_header, decision_value, error_chain, insert_decision_header};
use crate::state::State;

/// Headers of a response that describe one connection, not the message (RFC 9110 §7.6.1).
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// The agent's request, taken apart: its URI stays with the classified call.
#[derive(Debug)]
pub struct Message {
    pub method: http::Method,
    pub headers: HeaderMap,
    /// Streamed from the agent, or a stored body replayed for an approval.
    pub body: ResponseBody,
    /// The agent's connection, for the forwarding headers; `None` when Gatehouse itself
    /// replays an approved call.
    pub peer: Option<Arc<Peer>>,
    /// The agent's side of a WebSocket upgrade its route lets through (`upgrade.rs`).
    pub upgrade: Option<hyper::upgrade::OnUpgrade>,
}

pub async fn forward(
    state: &Arc<State>,
    mut message: Message,
    guarded: Guarded<'_>,
    call: &Destination<'_>,
    draft: &mut EventDraft,
) -> Result<Response<ResponseBody>, Refusal> {
    let agent_upgrade = message.upgrade.take();
    let limit = state.config.gateway.limits.max_request_body;
    let tool = &call.tool.tool;
    let secret = tool
        .auth
        .as_ref()
        .and_then(|_| state.secrets.current(&tool.name));
    let (mut upstream_request, meter) =
        upstream_request(message, guarded.caller, call, draft, limit, secret)?;
    if agent_upgrade.is_some() {
        super::upgrade::ask(upstream_request.headers_mut());
    }
    // An `https://` tool whose TLS could not be set up is never called in clear.
    let tls = match (&tool.upstream.tls, &call.tool.tls) {
        (Some(_), None) => {
            return Err(Refusal::UpstreamUnavailable {
                reason: format!("TLS to `{}` could not be set up", tool.upstream.authority),
            });
        }
        (_, tls) => tls.as_ref(),
    };
    let (caller, name) = (guarded.caller, tool.name.as_str());
    let recorder = recording::recorder(state.tap(), caller.agent, caller.workflow, name, draft);
    let upstream_request = recording::request(recorder.as_ref(), upstream_request).await?;
    draft.journal(&state.emitter)?;
    let started = Instant::now();
    let sent = tokio::time::timeout(
        state.upstream.timeout,
        state
            .upstream
            .send(&tool.upstream.authority, tls, upstream_request),
    );
    // One cancellation per call: it races the upstream's answer here, then guards the
    // response stream. Revocation while the upstream is still thinking ends the call too.
    let mut cancel: Cancellation = Box::pin(cancellation(&state.cuts, guarded));
    let outcome = tokio::select! {
        outcome = sent => outcome,
        reason = &mut cancel => return Err(cancelled(&state.cuts, guarded, draft, &reason)),
    };
    draft.upstream_us(u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX));
    draft.bytes_in(meter.bytes());
    let response = match outcome {
        Err(_) => return Err(Refusal::UpstreamTimeout),
        Ok(Err(_)) if meter.tripped() => return Err(Refusal::BodyTooLarge { limit }),
        Ok(Err(error)) if meter.failed() => {
            draft.note(&error_chain(&error));
            return Err(Refusal::MalformedBody {
                reason: "the request body ended before its declared length or was badly framed"
                    .to_owned(),
            });
        }
        Ok(Err(error)) => {
            return Err(Refusal::UpstreamUnavailable {
                reason: error_chain(&error),
            });
        }
        Ok(Ok(response)) => response,
    };
    if let Some(agent) = agent_upgrade
        && response.status() == http::StatusCode::SWITCHING_PROTOCOLS
    {
        let draft = draft.take();
        let tunnel = super::upgrade::tunnel(state, response, agent, draft, meter, guarded, cancel);
        return Ok(tunnel);
    }
    let response = response.map(|body| body.map_err(Into::into).boxed());
    // Only a route that scans its responses pays for this: one field read otherwise.
    let (response, scan) = match Screen::of(&state.config, call.risk, draft) {
        None => (response, None),
        Some(screen) => {
            screened(
                state,
                &screen,
                response,
                &mut cancel,
                guarded,
                &meter,
                draft,
            )
            .await?
        }
    };
    // The draft now travels with the response body, which records the event when it ends.
    let response = agent_response(state, response, draft.take(), meter, guarded, cancel, scan);
    Ok(recording::response(recorder, response))
}

/// The response as a route that scans its responses lets it through (`dataplane/risk.rs`).
async fn screened(
    state: &Arc<State>,
    screen: &Screen,
    response: Response<ResponseBody>,
    cancel: &mut Cancellation,
    guarded: Guarded<'_>,
    meter: &BodyMeter,
    draft: &mut EventDraft,
) -> Result<(Response<ResponseBody>, Option<StreamScan>), Refusal> {
    match risk::screen(state, screen, response, cancel, draft).await {
        Ok(served) => Ok(served),
        Err(Stop::Cancelled(reason)) => Err(cancelled(&state.cuts, guarded, draft, &reason)),
        Err(Stop::Refused(refusal)) => {
            // Nothing of the response was served or charged; the request's streamed
            // bytes beyond its declared length were sent, so they count.
            let streamed = meter.bytes().saturating_sub(guarded.declared);
            let _ = guarded.workflow.add_bytes(streamed, &*state.store);
            Err(refusal)
        }
    }
}

fn upstream_request(
    message: Message,
    caller: OnBehalf<'_>,
    call: &Destination<'_>,
    draft: &EventDraft,
    limit: u64,
    secret: Option<Secret>,
) -> Result<(Request<ResponseBody>, BodyMeter), Refusal> {
    let (body, meter) = CappedBody::new(message.body, limit);
    let mut upstream = Request::new(body.boxed());
    *upstream.method_mut() = message.method;
    *upstream.uri_mut() = upstream_uri(call)?;
    *upstream.version_mut() = Version::HTTP_11;
    let span = draft.span();
    let trace_state = crate::trace::passed_state(&message.headers, &span);
    *upstream.headers_mut() = forwarded_headers(message.headers, call);
    if call.risk.is_some() {
        // A scanned response must arrive as the bytes it means.
        upstream.headers_mut().insert(
            header::ACCEPT_ENCODING,
            const { HeaderValue::from_static("identity") },
        );
    }
    inject(upstream.headers_mut(), caller, call, draft, secret)?;
    crate::trace::inject(upstream.headers_mut(), &span, trace_state);
    if let Some(peer) = &message.peer {
        inject_forwarding(upstream.headers_mut(), peer);
    }
    Ok((upstream, meter))
}

/// The origin-form target (`/base/path?query`): the connection already names the host.
fn upstream_uri(call: &Destination<'_>) -> Result<Uri, Refusal> {
    let base = call.tool.tool.upstream.base_path.as_str();
    let query = call.query.map_or(0, |query| query.len() + 1);
    let mut uri = String::with_capacity(base.len() + call.tool_path.len() + query);
    uri.push_str(base);
    uri.push_str(call.tool_path);
    if let Some(query) = call.query {
        uri.push('?');
        uri.push_str(query);
    }
    Uri::try_from(uri).map_err(|error| Refusal::Internal {
        reason: format!("cannot build the upstream URI: {error}"),
    })
}

/// Refuses a request whose headers ask the tool for another method or URL than the
/// request line's, or for a connection upgrade its route does not let through
/// (`docs/configuration.md`, "What reaches the tool").
pub(crate) fn check_headers(headers: &HeaderMap, route: &Route) -> Result<(), Refusal> {
    for name in headers.keys() {
        if let Some(reason) = headers::refused(name.as_str()) {
            if name == header::UPGRADE && super::upgrade::allowed(route, headers) {
                continue;
            }
            return Err(Refusal::UnsafeRequest {
                reason: format!("header `{name}`: {reason}"),
            });
        }
    }
    Ok(())
}

/// [`check_headers`] for a call no route classified (discovery): no upgrade is let through.
pub(crate) fn check_unrouted_headers(headers: &HeaderMap) -> Result<(), Refusal> {
    for name in headers.keys() {
        if let Some(reason) = headers::refused(name.as_str()) {
            return Err(Refusal::UnsafeRequest {
                reason: format!("header `{name}`: {reason}"),
            });
        }
    }
    Ok(())
}

/// The agent's headers minus hop-by-hop ones, its credential, anything Gatehouse sets
/// itself and anything that would impersonate the tool's own credential header or
/// Gatehouse's headers, names compared with `_` folded to `-`.
fn forwarded_headers(mut headers: HeaderMap, call: &Destination<'_>) -> HeaderMap {
    strip_named_by_connection(&mut headers);
    let secret = call.tool.auth_header.as_ref().map(HeaderName::as_str);
    // One pass over the (few) names present rather than a lookup per name to drop.
    let dropped: Vec<HeaderName> = headers
        .keys()
        .filter(|name| headers::judge(name.as_str(), secret) != Verdict::Keep)
        .cloned()
        .collect();
    for name in dropped {
        headers.remove(name);
    }
    headers
}

/// Gatehouse's own account of where the call came from, built once per connection.
fn inject_forwarding(headers: &mut HeaderMap, peer: &Peer) {
    const FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
    const HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
    const PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
    headers.insert(header::FORWARDED, peer.forwarded.clone());
    headers.insert(FOR, peer.forwarded_for.clone());
    headers.insert(HOST, peer.forwarded_host.clone());
    headers.insert(PROTO, peer.scheme.clone());
}

fn inject(
    headers: &mut HeaderMap,
    caller: OnBehalf<'_>,
    call: &Destination<'_>,
    draft: &EventDraft,
    secret: Option<Secret>,
) -> Result<(), Refusal> {
    let internal = |what: &str| Refusal::Internal {
        reason: format!("cannot encode the {what} header"),
    };
    let host = call.tool.host.clone().ok_or_else(|| internal("host"))?;
    headers.insert(header::HOST, host);
    if let (Some(auth), Some(secret)) = (&call.tool.tool.auth, secret) {
        let name = call
            .tool
            .auth_header
            .clone()
            .ok_or_else(|| internal("auth"))?;
        let mut text = String::with_capacity(auth.prefix.len() + secret.expose().len());
        text.push_str(&auth.prefix);
        text.push_str(secret.expose());
        let mut value =
            HeaderValue::from_maybe_shared(Bytes::from(text)).map_err(|_| internal("auth"))?;
        value.set_sensitive(true);
        headers.insert(name, value);
    }
    let decision = decision_value(draft.id()).map_err(|_| internal("decision"))?;
    headers.insert(decision_header(), decision);
    let agent = HeaderValue::from_str(caller.agent).map_err(|_| internal("agent"))?;
    headers.insert(const { HeaderName::from_static("gatehouse-agent") }, agent);
    let workflow = HeaderValue::from_str(caller.workflow).map_err(|_| internal("workflow"))?;
    headers.insert(
        const { HeaderName::from_static("gatehouse-workflow") },
        workflow,
    );
    Ok(())
}

/// The upstream's response, cleaned of hop-by-hop headers, its body metered so the
/// event is finished with the bytes that really reached the agent.
fn agent_response(
    state: &Arc<State>,
    response: Response<ResponseBody>,
    draft: EventDraft,
    meter: BodyMeter,
    guarded: Guarded<'_>,
    cancel: Cancellation,
    scan: Option<StreamScan>,
) -> Response<ResponseBody> {
    let (mut parts, body) = response.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    let status = parts.status.as_u16();
    let id = draft.id();
    let finish_state = Arc::clone(state);
    let limit = state.config.gateway.limits.max_response_body;
    let workflow = Arc::clone(guarded.workflow);
    let declared = guarded.declared;
    let body = MeteredBody::new(body, limit, move |bytes, end| {
        // Streamed request bytes beyond the declared length count now: the request already
        // happened, so they can only be counted, not refused.
        let _ = workflow.add_bytes(meter.bytes().saturating_sub(declared), &*finish_state.store);
        let mut draft = draft;
        draft.bytes_in(meter.bytes());
        if let Some(scan) = &scan {
            scan.record(&mut draft);
        }
        draft.complete(&finish_state.emitter, status, bytes, &end);
    })
    .guarded(stream_guard(state, guarded, cancel))
    .idle_timeout(state.config.gateway.limits.response_idle_timeout);
    let mut response = Response::from_parts(parts, body.boxed());
    insert_decision_header(&mut response, id);
    response
}

/// Removes the hop-by-hop headers and every header the `Connection` header names.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Most messages carry none: one pass over the names present settles it.
    if !headers
        .keys()
        .any(|name| HOP_BY_HOP.contains(&name.as_str()))
    {
        return;
    }
    strip_named_by_connection(headers);
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

/// Removes every header the `Connection` header names (RFC 9110 §7.6.1).
fn strip_named_by_connection(headers: &mut HeaderMap) {
    if !headers.contains_key(header::CONNECTION) {
        return;
    }
    let named_by_connection: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named_by_connection {
        headers.remove(name);
    }
}

/// Cuts the response on revocation, and at the workflow's byte budget.
fn stream_guard(state: &Arc<State>, guarded: Guarded<'_>, cancel: Cancellation) -> StreamGuard {
    let workflow = Arc::clone(guarded.workflow);
    let notify_state = Arc::clone(state);
    StreamGuard::boxed(cancel, move |bytes| {
        workflow
            .add_bytes(bytes, &*notify_state.store)
            .map_err(|cut| {
                notify_paused(
                    notify_state.pauses(),
                    &workflow.snapshot(),
                    BudgetKind::Bytes,
                );
                cut.allowed
            })
    })
}
