//! Phase 7: forward. The agent's credential and hop-by-hop headers are stripped, the
//! tool's own secret injected, and bodies stream both ways under their limits. The
//! event is finished by the response body when it ends.

use std::sync::Arc;
use std::time::Instant;

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use gatehouse_core::config::Secret;
use gatehouse_core::headers::{self, Verdict};
use gatehouse_core::refusal::{AuthFailure, Refusal};
use gatehouse_core::workflow::BudgetKind;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, Uri, Version};
use http_body_util::BodyExt;

use crate::body::{BodyMeter, CappedBody, MeteredBody, ResponseBody, StreamGuard};
use crate::credential::Credential;
use crate::dataplane::budget::notify_paused;
use crate::dataplane::classify::Call;
use crate::dataplane::record::EventDraft;
use crate::dataplane::upstream::LeasedBody;
use crate::peer::Peer;
use crate::problem::{decision_header, decision_value, insert_decision_header};
use crate::quarantines::Reach;
use crate::state::State;
use crate::workflows::LiveWorkflow;

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
}

/// On whose behalf a call is forwarded: the agent's own credential, or (for an approved
/// call Gatehouse executes itself) the agent and workflow the approval was parked for.
#[derive(Debug, Clone, Copy)]
pub struct OnBehalf<'a> {
    pub agent: &'a str,
    pub workflow: &'a str,
    /// The credential, when the agent is on the line; its revocation cuts the call.
    pub jti: Option<&'a str>,
}

impl<'a> OnBehalf<'a> {
    pub fn of(credential: &'a Credential) -> Self {
        Self {
            agent: &credential.claims.sub,
            workflow: &credential.claims.wf,
            jti: Some(&credential.claims.jti),
        }
    }

    /// For an approved call Gatehouse runs itself: no credential is on the line.
    pub fn parked(approval: &'a gatehouse_core::approval::Approval) -> Self {
        Self {
            agent: &approval.agent,
            workflow: &approval.workflow,
            jti: None,
        }
    }
}

/// What binds a forwarded call to its caller and workflow.
#[derive(Debug, Clone, Copy)]
pub struct Guarded<'a> {
    pub caller: OnBehalf<'a>,
    pub workflow: &'a Arc<LiveWorkflow>,
    /// Request bytes already counted by the budget phase.
    pub declared: u64,
    /// What the call reaches: a quarantine covering it cuts the call.
    pub reach: Reach<'a>,
}

pub async fn forward(
    state: &Arc<State>,
    message: Message,
    guarded: Guarded<'_>,
    call: &Call<'_>,
    draft: &mut EventDraft,
) -> Result<Response<ResponseBody>, Refusal> {
    let limit = state.config.gateway.limits.max_request_body;
    let tool = &call.tool.tool;
    let secret = tool
        .auth
        .as_ref()
        .and_then(|_| state.secrets.current(&tool.name));
    let (upstream_request, meter) =
        upstream_request(message, guarded.caller, call, draft, limit, secret)?;
    // An `https://` tool whose TLS could not be set up is never called in clear.
    let tls = match (&tool.upstream.tls, &call.tool.tls) {
        (Some(_), None) => {
            return Err(Refusal::UpstreamUnavailable {
                reason: format!("TLS to `{}` could not be set up", tool.upstream.authority),
            });
        }
        (_, tls) => tls.as_ref(),
    };
    draft.journal(state)?;
    let started = Instant::now();
    let sent = tokio::time::timeout(
        state.upstream.timeout,
        state
            .upstream
            .send(&tool.upstream.authority, tls, upstream_request),
    );
    // One cancellation per call: it races the upstream's answer here, then guards the
    // response stream. Revocation while the upstream is still thinking ends the call too.
    let mut cancel: Cancellation = Box::pin(cancellation(state, guarded));
    let outcome = tokio::select! {
        outcome = sent => outcome,
        reason = &mut cancel => return Err(cancelled(state, guarded, draft, &reason)),
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
    // The draft now travels with the response body, which records the event when it ends.
    Ok(agent_response(
        state,
        response,
        draft.take(),
        meter,
        guarded,
        cancel,
    ))
}

/// Why a call in flight was cut when shutdown stopped waiting for it.
pub const SHUT_DOWN: &str = "the gateway shut down";

/// Why a call was cut before its answer: a quarantine now covering it, or else a
/// revocation (or the workflow's end).
pub(crate) fn cut_refusal(state: &State, guarded: Guarded<'_>) -> Refusal {
    match state
        .quarantines
        .covering(guarded.reach, state.clock.as_ref())
    {
        Some(id) => Refusal::Quarantined { id },
        None => Refusal::Unauthenticated(AuthFailure::Revoked),
    }
}

/// A call's pending cancellation: resolves, with a reason, when the call is revoked.
type Cancellation = Pin<Box<dyn Future<Output = String> + Send>>;

/// The refusal of a call cancelled before the upstream answered: cut by shutdown, by a
/// quarantine, or by a revocation (or its workflow's end).
pub(crate) fn cancelled(
    state: &State,
    guarded: Guarded<'_>,
    draft: &mut EventDraft,
    reason: &str,
) -> Refusal {
    draft.note(reason);
    if reason == SHUT_DOWN {
        return Refusal::UpstreamUnavailable {
            reason: SHUT_DOWN.to_owned(),
        };
    }
    cut_refusal(state, guarded)
}

/// Resolves, with a reason, once the call's workflow ends, its credential or agent is
/// revoked, a quarantine covers it, or shutdown stops waiting for it; pending otherwise.
pub(crate) fn cancellation(
    state: &Arc<State>,
    guarded: Guarded<'_>,
) -> impl Future<Output = String> + Send + 'static {
    let mut over = guarded.workflow.over_signal();
    let mut epoch = state.revocations.epoch();
    let mut stopping = state.stopping.subscribe();
    let state = Arc::clone(state);
    let jti = guarded.caller.jti.map(str::to_owned);
    let agent = guarded.caller.agent.to_owned();
    let reach = guarded.reach.owned();
    async move {
        // Inside this future, so watching for quarantines allocates nothing more.
        let quarantined = crate::quarantines::cut(&state, reach.with(&agent));
        tokio::pin!(quarantined);
        loop {
            tokio::select! {
                reason = &mut quarantined => return reason,
                ended = async { over.wait_for(|over| *over).await.is_ok() } => {
                    if ended {
                        return "the workflow ended".to_owned();
                    }
                    std::future::pending::<()>().await;
                }
                stopped = async { stopping.wait_for(|stop| *stop).await.is_ok() } => {
                    if stopped {
                        return SHUT_DOWN.to_owned();
                    }
                    std::future::pending::<()>().await;
                }
                changed = epoch.changed() => {
                    if changed.is_err() {
                        std::future::pending::<()>().await;
                    }
                    if jti.as_deref().is_some_and(|jti| state.revocations.is_token_revoked(jti)) {
                        return "the credential was revoked".to_owned();
                    }
                    if state.revocations.is_agent_revoked(&agent) {
                        return "the agent was revoked".to_owned();
                    }
                }
            }
        }
    }
}

fn upstream_request(
    message: Message,
    caller: OnBehalf<'_>,
    call: &Call<'_>,
    draft: &EventDraft,
    limit: u64,
    secret: Option<Secret>,
) -> Result<(Request<ResponseBody>, BodyMeter), Refusal> {
    let (body, meter) = CappedBody::new(message.body, limit);
    let mut upstream = Request::new(body.boxed());
    *upstream.method_mut() = message.method;
    *upstream.uri_mut() = upstream_uri(call)?;
    *upstream.version_mut() = Version::HTTP_11;
    *upstream.headers_mut() = forwarded_headers(message.headers, call);
    inject(upstream.headers_mut(), caller, call, draft, secret)?;
    if let Some(peer) = &message.peer {
        inject_forwarding(upstream.headers_mut(), peer);
    }
    Ok((upstream, meter))
}

/// The origin-form target (`/base/path?query`): the connection already names the host.
fn upstream_uri(call: &Call<'_>) -> Result<Uri, Refusal> {
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
/// request line's, or for a connection upgrade (`docs/configuration.md`, "What reaches
/// the tool").
pub(crate) fn check_headers(headers: &HeaderMap) -> Result<(), Refusal> {
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
fn forwarded_headers(mut headers: HeaderMap, call: &Call<'_>) -> HeaderMap {
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
    call: &Call<'_>,
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
    response: Response<LeasedBody>,
    draft: EventDraft,
    meter: BodyMeter,
    guarded: Guarded<'_>,
    cancel: Cancellation,
) -> Response<ResponseBody> {
    let (mut parts, body) = response.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    let status = parts.status.as_u16();
    let id = draft.id();
    let finish_state = Arc::clone(state);
    let limit = state.config.gateway.limits.max_response_body;
    let workflow = Arc::clone(guarded.workflow);
    let declared = guarded.declared;
    let body = MeteredBody::new(
        body.map_err(Into::into).boxed(),
        limit,
        move |bytes, end| {
            // Streamed request bytes beyond the declared length count now: the request already
            // happened, so they can only be counted, not refused.
            let _ =
                workflow.add_bytes(meter.bytes().saturating_sub(declared), &*finish_state.store);
            let mut draft = draft;
            draft.bytes_in(meter.bytes());
            draft.complete(&finish_state, status, bytes, &end);
        },
    )
    .guarded(stream_guard(state, guarded, cancel));
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
                notify_paused(&notify_state, &workflow.snapshot(), BudgetKind::Bytes);
                cut.allowed
            })
    })
}

/// The error and its sources, for the event (never for the agent).
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}
