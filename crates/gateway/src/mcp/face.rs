//! `/mcp/{server}`: the Streamable HTTP face agents speak MCP to.
//!
//! The door is HTTP's: header size, origin, credential, server, segment — refused as
//! problem documents before a byte of body is read. Past it, each POST carries one
//! JSON-RPC message, answered as JSON — or, for a gated call whose agent asked for its
//! progress or log messages and accepts `text/event-stream`, as an event stream once
//! there is something to relay (`face::stream`). `GET` has no stream to offer (405);
//! `DELETE` ends a handshake-era session.

mod result;
mod stream;

use std::sync::Arc;

use bytes::Bytes;
use gatehouse_core::config::McpServer;
use gatehouse_core::event::EventKind;
use gatehouse_core::ids::DecisionId;
use gatehouse_core::mcp::raw::agent::{self, AgentMessage, Params};
use gatehouse_core::model::ToolName;
use gatehouse_core::refusal::Refusal;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::Value;

use crate::body::ResponseBody;
use crate::credential::Credential;
use crate::mcp::answer::{Answer, answer};
use crate::mcp::call::{Caller, Reply, bad_message};
use crate::mcp::era::{self, Era, SESSION_HEADER};
use crate::mcp::jsonrpc::{self, Id, code};
use crate::mcp::methods;
use crate::mcp_sessions::{Owner, SessionError};
use crate::peer::is_loopback_host;
use crate::pipeline::record::EventDraft;
use crate::problem::insert_decision_header;
use crate::state::State;
use crate::workflows::LiveWorkflow;
use result::{modern_result, reply_message};

const PREFIX: &str = "/mcp/";

/// Handles one request to `/mcp/{server}`.
pub async fn handle(state: Arc<State>, request: Request<Incoming>) -> Response<ResponseBody> {
    let mut draft = EventDraft::begin(&state.emitter, &request, EventKind::Mcp);
    let admitted = admit(&state, &request, &mut draft).await;
    let (credential, workflow, server) = match admitted {
        Ok(admitted) => admitted,
        Err(refusal) => return refused(&state, &request, draft, &refusal),
    };
    let caller = Caller {
        state: &state,
        credential: &credential,
        workflow: &workflow,
        server,
    };
    let (parts, body) = request.into_parts();
    match parts.method {
        Method::POST => post(caller, &parts.headers, body, draft).await,
        Method::DELETE => delete(caller, &parts.headers, draft),
        _ => {
            // No server-initiated stream is offered: 405, as Streamable HTTP allows.
            draft.note("no standalone SSE stream is offered");
            let mut response = empty(StatusCode::METHOD_NOT_ALLOWED);
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST, DELETE"));
            draft.allow(&state.emitter, 405);
            response
        }
    }
}

/// A refusal at the door; a missing or failed credential also says where to learn how
/// to get one (RFC 9728 §5.1), as the MCP authorization specification asks.
fn refused(
    state: &State,
    request: &Request<Incoming>,
    draft: EventDraft,
    refusal: &Refusal,
) -> Response<ResponseBody> {
    let mut response = draft.refuse(&state.emitter, refusal);
    if matches!(refusal, Refusal::Unauthenticated(_)) {
        let server = request
            .uri()
            .path()
            .strip_prefix(PREFIX)
            .unwrap_or_default();
        let headers = request.headers();
        if let Some(value) = crate::mcp::discovery::challenge(state, headers, server) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
    }
    response
}

/// The door: bounded headers, no foreign origin, a live credential, a known server in
/// the credential's segment.
async fn admit<'s>(
    state: &'s State,
    request: &Request<Incoming>,
    draft: &mut EventDraft,
) -> Result<(Arc<Credential>, Arc<LiveWorkflow>, &'s McpServer), Refusal> {
    crate::pipeline::authenticate::check_header_size(
        state.config.gateway.limits.max_header_bytes,
        request,
    )?;
    check_origin(state, request)?;
    let (credential, workflow) = crate::pipeline::authenticate::authenticate(
        state.verifier(),
        &state.revocations,
        &state.workflows,
        request,
    )
    .await?;
    draft.credential(&credential);
    let name = request
        .uri()
        .path()
        .strip_prefix(PREFIX)
        .unwrap_or_default();
    let server = state
        .config
        .mcp_servers
        .get(&ToolName::new(name))
        .ok_or_else(|| Refusal::UnknownTool {
            tool: name.chars().take(64).collect(),
        })?;
    draft.mcp(server, None);
    if credential.segment != server.segment {
        return Err(Refusal::SegmentMismatch {
            credential: credential.segment.to_string(),
            tool: server.segment.to_string(),
        });
    }
    Ok((credential, workflow, server))
}

/// DNS rebinding defence: a browser page on another origin must not reach the face. A
/// loopback listener answers only loopback host names; an `Origin`, when present, must
/// name the same host the request was sent to. The host is read from `Host` and from
/// the request's authority (HTTP/2 `:authority`, or an absolute-form target): every one
/// present must pass, so neither can smuggle a foreign name past the other.
fn check_origin<B>(state: &State, request: &Request<B>) -> Result<(), Refusal> {
    let header_host = request
        .headers()
        .get(header::HOST)
        .map(|value| value.to_str().unwrap_or("(not ASCII)"));
    let authority = request.uri().authority().map(http::uri::Authority::as_str);
    let hosts = [header_host, authority];
    let present = || hosts.iter().flatten().filter(|host| !host.is_empty());
    if state.config.gateway.data_listen.ip().is_loopback()
        && let Some(foreign) = present().find(|host| !is_loopback_host(host))
    {
        return Err(Refusal::OriginRejected {
            origin: foreign.chars().take(128).collect(),
        });
    }
    let Some(origin) = request.headers().get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or("(not ASCII)");
    // Under TLS only an `https` page is the same origin; a plain `http` page could be
    // anyone on the path.
    let tls = state.config.gateway.data_tls.is_some();
    let origin_host = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://").filter(|_| !tls))
        .unwrap_or_default();
    let mut hosts = present().peekable();
    if origin_host.is_empty()
        || hosts.peek().is_none()
        || hosts.any(|host| !origin_host.eq_ignore_ascii_case(host))
    {
        return Err(Refusal::OriginRejected {
            origin: origin.chars().take(128).collect(),
        });
    }
    Ok(())
}

/// One JSON-RPC message in, one answer out.
async fn post(
    caller: Caller<'_>,
    headers: &HeaderMap,
    body: Incoming,
    mut draft: EventDraft,
) -> Response<ResponseBody> {
    let state = caller.state;
    let bytes = match read_body(state, body).await {
        Ok(bytes) => bytes,
        Err(refusal) => return rpc_refusal(state, Asked::UNREAD, &refusal, draft),
    };
    draft.bytes_in(bytes.len() as u64);
    // Read borrowed from the body, never into a tree: a gated call reads a few members
    // and writes the rest back as they came.
    let message = match agent::parse(&bytes) {
        Ok(message) => message,
        Err(error) => {
            return rpc_refusal(state, Asked::UNREAD, &bad_message(error), draft);
        }
    };
    match message {
        AgentMessage::Request { id, method, params } => {
            draft.rpc_method(&method);
            request(caller, headers, id, &method, &params, draft).await
        }
        AgentMessage::Notification { method, .. } => {
            draft.rpc_method(&method);
            notification(caller, headers, draft)
        }
        AgentMessage::Response { .. } => {
            // Gatehouse never sends the agent requests, so no response is awaited.
            draft.note("a JSON-RPC response nobody asked for was dropped");
            draft.allow(&state.emitter, 202);
            empty(StatusCode::ACCEPTED)
        }
    }
}

async fn request(
    caller: Caller<'_>,
    headers: &HeaderMap,
    id: Id,
    method: &str,
    params: &Params<'_>,
    mut draft: EventDraft,
) -> Response<ResponseBody> {
    let state = caller.state;
    let called = params.str("name");
    let called = called.as_deref().unwrap_or_default();
    let structured =
        !(method == "tools/call" && state.mcp.declares_output(&caller.server.name, called));
    let asked = |era| Asked {
        id: Some(&id),
        method,
        era,
        structured,
    };
    let era = match era::of_request(headers, method, params) {
        Ok(era) => era,
        Err(refusal) => {
            return rpc_refusal(state, asked(Era::Handshake), &refusal, draft);
        }
    };
    if era == Era::Handshake {
        if method == "initialize" {
            return initialize(caller, &id, params, draft);
        }
        if let Err(refusal) = use_session(caller, headers, &id, &mut draft) {
            return rpc_refusal(state, asked(era), &refusal, draft);
        }
    }
    if let Some(wanted) = stream::wanted(caller, headers, era, method, params) {
        let call = stream::Call {
            id: id.clone(),
            era,
            method: method.to_owned(),
            params: params.text().map(ToOwned::to_owned),
            structured,
        };
        return stream::answer(caller, call, wanted, draft).await;
    }
    let outcome = methods::dispatch(caller, era, method, params, None, &mut draft).await;
    if method == "logging/setLevel" && outcome.is_ok() {
        remember_level(caller, headers, params, &mut draft);
    }
    finish(state, asked(era), outcome, draft)
}

/// A level set in a session applies to the session's later gated calls (see [`stream`]);
/// the stateless era has no session to keep it in.
fn remember_level(
    caller: Caller<'_>,
    headers: &HeaderMap,
    params: &Params<'_>,
    draft: &mut EventDraft,
) {
    let session = headers
        .get(SESSION_HEADER)
        .and_then(|value| value.to_str().ok());
    let level = params.str("level");
    let kept = match (session, level.as_deref()) {
        (Some(session), Some(level)) => {
            let sessions = &caller.state.mcp.sessions;
            sessions.set_log_level(session, &owner(caller), level)
        }
        _ => false,
    };
    if !kept {
        draft.note("no session keeps the level: it has no effect");
    }
}

/// The whole answer to a request, as one JSON body, recorded.
fn finish(
    state: &State,
    asked: Asked<'_>,
    outcome: Result<Reply, Refusal>,
    mut draft: EventDraft,
) -> Response<ResponseBody> {
    let message = outcome.and_then(|answer| reply_message(asked, answer, &mut draft));
    match message {
        Ok(body) => reply(state, StatusCode::OK, body.into_bytes(), None, draft),
        Err(refusal) => rpc_refusal(state, asked, &refusal, draft),
    }
}

/// `initialize` opens a session bound to this caller.
fn initialize(
    caller: Caller<'_>,
    id: &Id,
    params: &Params<'_>,
    draft: EventDraft,
) -> Response<ResponseBody> {
    let requested = params.str("protocolVersion");
    let version = era::negotiate(requested.as_deref());
    let session = caller.state.mcp.sessions.open(owner(caller), version);
    let mut draft = draft;
    draft.mcp_session(&session);
    let body = jsonrpc::result(id, methods::initialize(caller, version));
    let body = serde_json::to_vec(&body).unwrap_or_default();
    reply(caller.state, StatusCode::OK, body, Some(&session), draft)
}

fn owner(caller: Caller<'_>) -> Owner {
    let claims = &caller.credential.claims;
    Owner {
        server: caller.server.name.to_string(),
        agent: claims.sub.clone(),
        workflow: claims.wf.clone(),
    }
}

/// A handshake-era request names an open session of this caller, with a fresh id and,
/// if it says its version, the session's.
/// The session's id goes on the event (`mcp.session.id` on its span) once it is known to
/// be the caller's.
fn use_session(
    caller: Caller<'_>,
    headers: &HeaderMap,
    id: &Id,
    draft: &mut EventDraft,
) -> Result<(), Refusal> {
    let Some(session) = headers
        .get(SESSION_HEADER)
        .and_then(|value| value.to_str().ok())
    else {
        return Err(Refusal::BadMessage {
            rpc_code: code::INVALID_REQUEST,
            reason: "send `initialize` first, then the `Mcp-Session-Id` it returns (or use the 2026-07-28 per-request envelope)".to_owned(),
        });
    };
    let version = caller
        .state
        .mcp
        .sessions
        .use_session(session, &owner(caller), Some(id))
        .map_err(|error| match error {
            SessionError::Unknown => Refusal::SessionUnknown,
            SessionError::IdReused => Refusal::BadMessage {
                rpc_code: code::INVALID_REQUEST,
                reason: format!("request id {id} was already used in this session"),
            },
            SessionError::IdTooLong => Refusal::BadMessage {
                rpc_code: code::INVALID_REQUEST,
                reason: format!(
                    "request ids in a session are at most {} bytes",
                    crate::mcp_sessions::MAX_ID_BYTES
                ),
            },
        })?;
    draft.mcp_session(session);
    // Any served handshake revision is accepted, as the reference SDKs do; one Gatehouse
    // does not speak is refused.
    let declared = headers
        .get(era::VERSION_HEADER)
        .and_then(|value| value.to_str().ok());
    match declared {
        Some(declared) if !era::HANDSHAKE.contains(&declared) => Err(Refusal::BadMessage {
            rpc_code: code::INVALID_REQUEST,
            reason: format!(
                "`MCP-Protocol-Version: {declared}` is not a revision this session can speak (the session speaks `{version}`)"
            ),
        }),
        _ => Ok(()),
    }
}

/// Notifications are accepted and dropped (Gatehouse relays none to servers: each call
/// it forwards runs in Gatehouse's own upstream session), but only within a session or
/// the stateless era.
fn notification(
    caller: Caller<'_>,
    headers: &HeaderMap,
    draft: EventDraft,
) -> Response<ResponseBody> {
    let state = caller.state;
    let stateless = headers
        .get(era::VERSION_HEADER)
        .is_some_and(|value| value.as_bytes() == era::MODERN.as_bytes());
    let in_session = headers
        .get(SESSION_HEADER)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|session| {
            state
                .mcp
                .sessions
                .use_session(session, &owner(caller), None)
                .is_ok()
        });
    if stateless || in_session {
        draft.allow(&state.emitter, 202);
        return empty(StatusCode::ACCEPTED);
    }
    let refusal = if headers.contains_key(SESSION_HEADER) {
        Refusal::SessionUnknown
    } else {
        Refusal::BadMessage {
            rpc_code: code::INVALID_REQUEST,
            reason: "a notification needs the `Mcp-Session-Id` of an initialized session"
                .to_owned(),
        }
    };
    rpc_refusal(state, Asked::UNREAD, &refusal, draft)
}

/// `DELETE` ends the caller's session.
fn delete(caller: Caller<'_>, headers: &HeaderMap, draft: EventDraft) -> Response<ResponseBody> {
    let state = caller.state;
    let session = headers
        .get(SESSION_HEADER)
        .and_then(|value| value.to_str().ok());
    let closed = session.is_some_and(|session| state.mcp.sessions.close(session, &owner(caller)));
    if closed {
        draft.allow(&state.emitter, 200);
        return empty(StatusCode::OK);
    }
    draft.refuse(&state.emitter, &Refusal::SessionUnknown)
}

/// The request a refusal answers, as far as it was read.
#[derive(Debug, Clone, Copy)]
struct Asked<'a> {
    id: Option<&'a Id>,
    method: &'a str,
    era: Era,
    /// Whether a tool error may carry `structuredContent`.
    structured: bool,
}

impl Asked<'_> {
    /// Nothing readable: no id, no method.
    const UNREAD: Self = Self {
        id: None,
        method: "",
        era: Era::Handshake,
        structured: true,
    };
}

/// Answers `refusal` in MCP's shape and records it.
fn rpc_refusal(
    state: &State,
    asked: Asked<'_>,
    refusal: &Refusal,
    draft: EventDraft,
) -> Response<ResponseBody> {
    let decision = draft.id();
    let (status, body) = refusal_message(asked, refusal, decision);
    let mut response = json(status, serde_json::to_vec(&body).unwrap_or_default());
    insert_decision_header(&mut response, decision);
    draft.refused(&state.emitter, refusal, status.as_u16());
    response
}

/// `refusal` in MCP's shape, with the HTTP status it goes with when it is the whole
/// answer.
fn refusal_message(
    asked: Asked<'_>,
    refusal: &Refusal,
    decision: DecisionId,
) -> (StatusCode, Value) {
    match answer(asked.method, asked.era, refusal, decision, asked.structured) {
        Answer::ToolError(result) => {
            let id = asked.id.cloned().unwrap_or(Id::Number(0));
            let result = modern_result(result, asked.era, asked.method);
            (StatusCode::OK, jsonrpc::result(&id, result))
        }
        Answer::Error(error, status) => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            jsonrpc::error(asked.id, &error),
        ),
    }
}

fn reply(
    state: &State,
    status: StatusCode,
    body: Vec<u8>,
    session: Option<&str>,
    draft: EventDraft,
) -> Response<ResponseBody> {
    let length = body.len() as u64;
    let mut response = json(status, body);
    insert_decision_header(&mut response, draft.id());
    if let Some(value) = session.and_then(|session| HeaderValue::from_str(session).ok()) {
        response.headers_mut().insert(SESSION_HEADER, value);
    }
    draft.answered(&state.emitter, status.as_u16(), length);
    response
}

/// `bytes`, one JSON message, as the response.
fn json(status: StatusCode, bytes: Vec<u8>) -> Response<ResponseBody> {
    let length = bytes.len();
    let mut response = Response::new(crate::body::full(bytes));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    let json = HeaderValue::from_static("application/json");
    headers.insert(header::CONTENT_TYPE, json);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    response
}

fn empty(status: StatusCode) -> Response<ResponseBody> {
    let mut response = Response::new(crate::body::empty());
    *response.status_mut() = status;
    response
}

/// The body, bounded by the request limit as it streams in.
async fn read_body(state: &State, mut body: Incoming) -> Result<Bytes, Refusal> {
    let limit = state.config.gateway.limits.max_request_body;
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|error| Refusal::BadMessage {
            rpc_code: code::PARSE_ERROR,
            reason: format!("the request body could not be read: {error}"),
        })?;
        if let Ok(data) = frame.into_data() {
            if (bytes.len() + data.len()) as u64 > limit {
                return Err(Refusal::BodyTooLarge { limit });
            }
            bytes.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_are_recognised() {
        for host in [
            "127.0.0.1:8080",
            "localhost:8080",
            "LOCALHOST",
            "[::1]:8080",
            "127.0.0.1",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "evil.example:8080",
            "10.0.0.1:8080",
            "localhost.evil.example",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }
}
