//! A gated call (`tools/call`, `resources/read`, `prompts/get`) whose server
//! notifications the agent asked for, answered as an event stream.
//!
//! What is relayed, and when:
//! - progress, when the request carries `params._meta.progressToken` (a string or an
//!   integer). Gatehouse sends the server a token of its own; each of the server's
//!   `notifications/progress` with that token reaches the agent with the agent's token;
//! - log messages (`notifications/message`), when the request carries a progress token
//!   (every level) or its session set a level with `logging/setLevel` (that level and
//!   above). Only a Streamable HTTP server ties a log message to a request (it arrives on
//!   the request's answer stream); a stdio server's log messages are never relayed;
//! - nothing unless the request's `Accept` includes `text/event-stream`, and nothing else
//!   (list changes, resource updates, other requests' progress).
//!
//! The call runs in its own task, so that its answer can start before it ends. The
//! answer becomes an event stream (`Content-Type: text/event-stream`) at the first
//! notification relayed: each one is an SSE `message` event, and the final JSON-RPC
//! response — or the refusal, such as a revocation that ended the call — is the last,
//! after which the stream ends. A call that relays nothing (refused before it reached
//! the server, or a server that reported nothing) is answered with one JSON body,
//! exactly as without a token: Streamable HTTP lets a server answer either way a client
//! that accepts both. At most [`RELAY_LIMIT`] notifications are relayed per call. The
//! event is recorded once, after the final answer, with the final answer's size; a
//! refusal that ends a stream is recorded with the 200 the stream was sent with.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use gatehouse_core::ids::DecisionId;
use gatehouse_core::mcp::raw::agent::Params;
use gatehouse_core::model::ToolName;
use gatehouse_core::refusal::Refusal;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use serde_json::Value;
use serde_json::value::RawValue;
use tokio::sync::{mpsc, oneshot};

use super::{Asked, finish, json, owner, refusal_message, reply_message};
use crate::body::{BoxError, ResponseBody};
use crate::credential::Credential;
use crate::mcp::call::{Caller, Gated, Reply, bad_message};
use crate::mcp::era::{Era, SESSION_HEADER};
use crate::mcp::jsonrpc::{self, ErrorObject, Id, code};
use crate::mcp::methods;
use crate::mcp_upstream::Relay;
use crate::mcp_upstream::relay::RELAY_LIMIT;
use crate::pipeline::record::EventDraft;
use crate::problem::insert_decision_header;
use crate::state::State;
use crate::workflows::LiveWorkflow;

/// What the agent asked to have relayed.
#[derive(Debug, Clone)]
pub(super) struct Wanted {
    /// The agent's progress token, to put back on the server's progress.
    token: Option<Value>,
    /// The level the session set, if any.
    level: Option<String>,
}

/// The request, owned by the task that runs it.
#[derive(Debug)]
pub(super) struct Call {
    pub(super) id: Id,
    pub(super) era: Era,
    pub(super) method: String,
    /// The params as the agent wrote them, read again (borrowed) by the task.
    pub(super) params: Option<Box<RawValue>>,
    pub(super) structured: bool,
}

/// What this request wants relayed; `None` when nothing could be (not a gated call, no
/// event stream accepted) or nothing was asked for.
pub(super) fn wanted(
    caller: Caller<'_>,
    headers: &HeaderMap,
    era: Era,
    method: &str,
    params: &Params<'_>,
) -> Option<Wanted> {
    Gated::of(method)?;
    if !accepts_events(headers) {
        return None;
    }
    let token = params
        .meta()
        .and_then(|meta| meta.get("progressToken"))
        .and_then(|token| serde_json::from_str::<Value>(token.get()).ok())
        .filter(|token| token.is_string() || token.is_i64() || token.is_u64());
    let level = match era {
        Era::Handshake => session_level(caller, headers),
        Era::Modern => None,
    };
    if token.is_none() && level.is_none() {
        return None;
    }
    Some(Wanted { token, level })
}

/// Runs the call in its own task and answers with what it sends back first: a stream
/// once something is relayed, the whole JSON answer otherwise.
pub(super) async fn answer(
    caller: Caller<'_>,
    call: Call,
    wanted: Wanted,
    draft: EventDraft,
) -> Response<ResponseBody> {
    let owned = Owned {
        state: Arc::clone(caller.state),
        credential: Arc::clone(caller.credential),
        workflow: Arc::clone(caller.workflow),
        server: caller.server.name.clone(),
    };
    let (sender, answered) = oneshot::channel();
    let decision = draft.id();
    tokio::spawn(run(owned, call, wanted, draft, sender));
    answered.await.unwrap_or_else(|_| lost(decision))
}

impl Wanted {
    fn relay(&self, sender: mpsc::Sender<Value>) -> Relay {
        let relay = Relay::new(sender);
        let relay = match self.token {
            Some(_) => relay.progress(),
            None => relay,
        };
        match (&self.level, &self.token) {
            (Some(level), _) => relay.logs_from(level),
            (None, Some(_)) => relay.logs_from("debug"),
            (None, None) => relay,
        }
    }

    /// A relayed notification as the agent gets it: progress with the agent's token.
    fn for_agent(&self, mut notification: Value) -> Value {
        let progress =
            notification.get("method").and_then(Value::as_str) == Some("notifications/progress");
        let params = notification
            .get_mut("params")
            .and_then(Value::as_object_mut);
        if let (true, Some(token), Some(params)) = (progress, &self.token, params) {
            params.insert("progressToken".to_owned(), token.clone());
        }
        notification
    }
}

/// Whether `Accept` names `text/event-stream` (or `text/*`, `*/*`) among its types.
fn accepts_events(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|item| item.split(';').next())
        .map(str::trim)
        .any(|media| {
            ["text/event-stream", "text/*", "*/*"]
                .iter()
                .any(|accepted| media.eq_ignore_ascii_case(accepted))
        })
}

fn session_level(caller: Caller<'_>, headers: &HeaderMap) -> Option<String> {
    let session = headers.get(SESSION_HEADER)?.to_str().ok()?;
    caller.state.mcp.sessions.log_level(session, &owner(caller))
}

/// The caller, owned by the call's task.
struct Owned {
    state: Arc<State>,
    credential: Arc<Credential>,
    workflow: Arc<LiveWorkflow>,
    server: ToolName,
}

/// The call's task: dispatch, relay what comes meanwhile, then the final answer.
async fn run(
    owned: Owned,
    call: Call,
    wanted: Wanted,
    mut draft: EventDraft,
    answer: oneshot::Sender<Response<ResponseBody>>,
) {
    let state = &owned.state;
    // INVARIANT: the face found this server in the same, immutable config.
    let Some(server) = state.config.mcp_servers.get(&owned.server) else {
        return;
    };
    let caller = Caller {
        state,
        credential: &owned.credential,
        workflow: &owned.workflow,
        server,
    };
    let (sender, mut notes) = mpsc::channel(RELAY_LIMIT);
    let relay = Some(wanted.relay(sender));
    let mut events = Events::new(answer, draft.id());
    // The face read these params already; reading them again cannot find a repeat.
    let outcome = match Params::read(call.params.as_deref()) {
        Err(error) => Err(bad_message(error)),
        Ok(params) => {
            let dispatched =
                methods::dispatch(caller, call.era, &call.method, &params, relay, &mut draft);
            tokio::pin!(dispatched);
            loop {
                tokio::select! {
                    biased;
                    Some(note) = notes.recv() => events.relay(&wanted.for_agent(note)),
                    outcome = &mut dispatched => break outcome,
                }
            }
        }
    };
    while let Ok(note) = notes.try_recv() {
        events.relay(&wanted.for_agent(note));
    }
    let asked = Asked {
        id: Some(&call.id),
        method: &call.method,
        era: call.era,
        structured: call.structured,
    };
    events.finish(state, asked, outcome, draft);
}

/// The answer as it goes out: not yet sent, then (once something is relayed) a stream.
struct Events {
    /// Where the response goes, until it is sent.
    answer: Option<oneshot::Sender<Response<ResponseBody>>>,
    /// The open stream's frames.
    frames: Option<mpsc::Sender<Bytes>>,
    relayed: usize,
    decision: DecisionId,
}

impl Events {
    fn new(answer: oneshot::Sender<Response<ResponseBody>>, decision: DecisionId) -> Self {
        Self {
            answer: Some(answer),
            frames: None,
            relayed: 0,
            decision,
        }
    }

    /// Sends a notification, opening the stream first if it is the first.
    fn relay(&mut self, notification: &Value) {
        let frames = match self.frames.take() {
            Some(frames) => frames,
            None => self.open(),
        };
        // A closed stream is an agent that went away; the call still ends as it would.
        let _ = frames.try_send(event(notification));
        self.frames = Some(frames);
        self.relayed += 1;
    }

    /// Answers with an event stream and returns its sending end.
    fn open(&mut self) -> mpsc::Sender<Bytes> {
        // One frame per relayed notification and one for the answer: never full.
        let (frames, receiver) = mpsc::channel(RELAY_LIMIT + 1);
        let body = EventBody { receiver }.boxed();
        let mut response = Response::new(body);
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        insert_decision_header(&mut response, self.decision);
        if let Some(answer) = self.answer.take() {
            let _ = answer.send(response);
        }
        frames
    }

    /// The final answer: the stream's last event, or the whole JSON answer; recorded.
    fn finish(
        self,
        state: &State,
        asked: Asked<'_>,
        outcome: Result<Reply, Refusal>,
        mut draft: EventDraft,
    ) {
        let Some(frames) = self.frames else {
            let response = finish(state, asked, outcome, draft);
            if let Some(answer) = self.answer {
                let _ = answer.send(response);
            }
            return;
        };
        draft.note(&format!("{} server notification(s) relayed", self.relayed));
        let message = outcome.and_then(|answer| reply_message(asked, answer, &mut draft));
        match message {
            Ok(body) => {
                let length = send_last(&frames, &body);
                draft.answered(&state.emitter, StatusCode::OK.as_u16(), length);
            }
            Err(refusal) => {
                let (_, body) = refusal_message(asked, &refusal, self.decision);
                send_last(&frames, &body.to_string());
                draft.refused(&state.emitter, &refusal, StatusCode::OK.as_u16());
            }
        }
    }
}

/// Sends the last event; returns the size of its message, as a JSON answer's would be.
fn send_last(frames: &mpsc::Sender<Bytes>, message: &str) -> u64 {
    let _ = frames.try_send(event_text(message));
    message.len() as u64
}

/// One SSE `message` event carrying `message`.
fn event(message: &Value) -> Bytes {
    event_text(&message.to_string())
}

/// One SSE `message` event carrying `message`, JSON text. A server's result passed on
/// as written may have line breaks between its tokens (never inside a string): each
/// line is a `data` field of its own, which the agent joins back with `\n`.
fn event_text(message: &str) -> Bytes {
    let mut frame = b"event: message\n".to_vec();
    for line in message.split(['\r', '\n']) {
        frame.extend_from_slice(b"data: ");
        frame.extend_from_slice(line.as_bytes());
        frame.push(b'\n');
    }
    frame.push(b'\n');
    Bytes::from(frame)
}

/// The call's task ended without answering: it cannot, short of a bug.
fn lost(decision: DecisionId) -> Response<ResponseBody> {
    let error = ErrorObject::new(code::INTERNAL_ERROR, "the call was lost");
    let message = jsonrpc::error(None, &error);
    let mut response = json(
        StatusCode::INTERNAL_SERVER_ERROR,
        serde_json::to_vec(&message).unwrap_or_default(),
    );
    insert_decision_header(&mut response, decision);
    response
}

/// A response body of the frames sent on a channel; it ends when the sender is dropped.
#[derive(Debug)]
struct EventBody {
    receiver: mpsc::Receiver<Bytes>,
}

impl Body for EventBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.receiver
            .poll_recv(cx)
            .map(|frame| frame.map(|bytes| Ok(Frame::data(bytes))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn an_event_stream_is_accepted_only_when_named() {
        assert!(accepts_events(&accept(
            "application/json, text/event-stream"
        )));
        assert!(accepts_events(&accept("Text/Event-Stream;q=0.5")));
        assert!(accepts_events(&accept("*/*")));
        assert!(!accepts_events(&accept("application/json")));
        assert!(!accepts_events(&HeaderMap::new()));
    }

    #[test]
    fn progress_gets_the_agents_token_back_and_log_messages_stay_as_they_are() {
        let wanted = Wanted {
            token: Some(json!(42)),
            level: None,
        };
        let progress = json!({"jsonrpc": "2.0", "method": "notifications/progress",
            "params": {"progressToken": "gatehouse-progress-9", "progress": 1, "total": 2}});
        assert_eq!(
            wanted.for_agent(progress)["params"],
            json!({"progressToken": 42, "progress": 1, "total": 2})
        );
        let log = json!({"jsonrpc": "2.0", "method": "notifications/message",
            "params": {"level": "info", "data": "x"}});
        assert_eq!(wanted.for_agent(log.clone()), log);
    }

    #[test]
    fn an_event_is_one_message_event() {
        let frame = event(&json!({"a": "b\nc"}));
        assert_eq!(&frame[..], b"event: message\ndata: {\"a\":\"b\\nc\"}\n\n");
    }

    #[test]
    fn a_result_written_over_lines_is_one_event_of_several_data_lines() {
        let frame = event_text("{\"a\":\n 1,\r\n\"b\":2}");
        assert_eq!(
            &frame[..],
            b"event: message\ndata: {\"a\":\ndata:  1,\ndata: \ndata: \"b\":2}\n\n"
        );
    }
}
