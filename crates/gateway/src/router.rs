//! The data plane's doors: which face answers a request. Above the faces, so the HTTP
//! face, the MCP face, the token broker and the approval poll never import each other.

use std::sync::Arc;

use gatehouse_core::event::EventKind;
use gatehouse_core::refusal::Refusal;
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use crate::body::ResponseBody;
use crate::peer::Peer;
use crate::pipeline::record::EventDraft;
use crate::problem::json_response;
use crate::state::State;

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
        let draft = EventDraft::begin(&state.emitter, &request, EventKind::Dataplane);
        return draft.refuse(&state.emitter, &refusal);
    }
    match Door::of(request.method(), request.uri().path()) {
        Door::Tool => crate::dataplane::tool_call(state, request, peer).await,
        // The other surfaces' futures are larger than a tool call's: on the heap, so this
        // future (moved a few times per request) is the size of a tool call's.
        Door::Mcp => Box::pin(crate::mcp::face::handle(state, request)).await,
        Door::Token => Box::pin(crate::broker::exchange(state, request, &peer)).await,
        Door::ApprovalPoll => Box::pin(crate::approved::poll(state, request)).await,
        Door::Jwks => json_response(
            StatusCode::OK,
            &state.keys.jwks(),
            "application/jwk-set+json",
        ),
        Door::Discovery => {
            crate::mcp::discovery::handle(&state, request.headers(), request.uri().path())
        }
        Door::Unknown => {
            let draft = EventDraft::begin(&state.emitter, &request, EventKind::Dataplane);
            draft.refuse(&state.emitter, &Refusal::NoRoute)
        }
    }
}

/// A replica that cannot know current revocations decides nothing (ARCHITECTURE.md, "State and events").
fn stale(state: &State) -> Option<Refusal> {
    let max = state.config.gateway.max_staleness;
    let for_ms = state.feed.stale_for(state.clock.now().millis(), max)?;
    Some(Refusal::StaleState { for_ms })
}
