//! A scripted Streamable HTTP server that records what reaches it, for what the
//! reference server cannot show: the headers Gatehouse sends, answers as event streams
//! with requests and notifications of the server's own, a forgotten session and oversize
//! or broken streams.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use gatehouse_gateway::body::{ResponseBody, empty, full};
use gatehouse_gateway::server::spawn_server;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::{Value, json};

/// One request the server received.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) method: Method,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Value,
}

impl Seen {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|value| value.to_str().unwrap())
    }

    pub(crate) fn rpc_method(&self) -> Option<&str> {
        self.body["method"].as_str()
    }
}

#[derive(Debug, Default)]
struct State {
    seen: Vec<Seen>,
    sessions: u32,
    forgotten: bool,
}

pub(crate) struct Scripted {
    pub(crate) addr: SocketAddr,
    state: Arc<Mutex<State>>,
    _stop: tokio::sync::watch::Sender<bool>,
}

impl Scripted {
    pub(crate) async fn start() -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        let (addr, stop, _) = spawn_server("127.0.0.1:0".parse().unwrap(), move |request| {
            let state = Arc::clone(&shared);
            async move { respond(state, request).await }
        })
        .await
        .unwrap();
        Self {
            addr,
            state,
            _stop: stop,
        }
    }

    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    /// Forgets every session, as a restarted server would.
    pub(crate) fn forget_sessions(&self) {
        self.state.lock().unwrap().forgotten = true;
    }
}

async fn respond(state: Arc<Mutex<State>>, request: Request<Incoming>) -> Response<ResponseBody> {
    let (parts, body) = request.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let mut state = state.lock().unwrap();
    state.seen.push(Seen {
        method: parts.method.clone(),
        headers: parts.headers.clone(),
        body: body.clone(),
    });
    if parts.method == Method::DELETE {
        return status(StatusCode::OK);
    }
    if state.forgotten && parts.headers.contains_key("mcp-session-id") {
        return status(StatusCode::NOT_FOUND);
    }
    let id = body["id"].clone();
    match body["method"].as_str() {
        Some("initialize") => {
            state.sessions += 1;
            state.forgotten = false;
            let result = json!({
                "protocolVersion": "2025-06-18",
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "scripted", "version": "1"},
            });
            let mut response = json_reply(&json!({"jsonrpc": "2.0", "id": id, "result": result}));
            let session = format!("s-{}", state.sessions);
            response
                .headers_mut()
                .insert("mcp-session-id", session.parse().unwrap());
            response
        }
        // Notifications, and Gatehouse's answers to the server's requests.
        Some("notifications/initialized") | None => status(StatusCode::ACCEPTED),
        Some("tools/list") => events(&tools_list_stream(&id)),
        Some("progress") => events(&progress_stream(&id, &body["params"]["_meta"])),
        // Says back the `text` argument, as a lookup tool returning whatever it holds.
        Some("tools/call") => {
            let text = body["params"]["arguments"]["text"].clone();
            let result = json!({"content": [{"type": "text", "text": text}]});
            json_reply(&json!({"jsonrpc": "2.0", "id": id, "result": result}))
        }
        Some("big") => events(&format!("data: \"{}\"\n\n", "x".repeat(20_000))),
        Some("silent") => events(
            "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{}}\n\n",
        ),
        Some(_) => json_reply(&json!({
            "jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": "no such method"},
        })),
    }
}

/// A priming event, a notification, two requests of the server's own, a comment, then
/// the response split over two `data:` lines, all with CRLF line ends.
fn tools_list_stream(id: &Value) -> String {
    let note = json!({"jsonrpc": "2.0", "method": "notifications/message", "params": {"level": "info", "data": "hi"}});
    let ping = json!({"jsonrpc": "2.0", "id": "ask-ping", "method": "ping"});
    let roots = json!({"jsonrpc": "2.0", "id": "ask-roots", "method": "roots/list"});
    format!(
        "id: e-0\r\ndata:\r\n\r\n\
         event: message\r\ndata: {note}\r\n\r\n\
         data: {ping}\r\n\r\n\
         data: {roots}\r\n\r\n\
         : keep-alive\r\n\
         data: {{\"jsonrpc\":\"2.0\",\"id\":{id},\r\n\
         data: \"result\":{{\"tools\":[],\"streamed\":true}}}}\r\n\r\n"
    )
}

/// Progress with the token the request carried and with another, log messages at two
/// levels and a notification of another kind, then the response, which names the
/// `_meta` the server received.
fn progress_stream(id: &Value, meta: &Value) -> String {
    let token = &meta["progressToken"];
    let notes = [
        json!({"method": "notifications/progress", "params": {"progressToken": token, "progress": 1}}),
        json!({"method": "notifications/progress", "params": {"progressToken": "someone-else", "progress": 2}}),
        json!({"method": "notifications/message", "params": {"level": "info", "data": "kept"}}),
        json!({"method": "notifications/message", "params": {"level": "debug", "data": "quiet"}}),
        json!({"method": "notifications/resources/updated", "params": {"uri": "test://x"}}),
    ];
    let mut text = String::new();
    for mut note in notes {
        note["jsonrpc"] = json!("2.0");
        text.push_str(&format!("event: message\ndata: {note}\n\n"));
    }
    let answer = json!({"jsonrpc": "2.0", "id": id, "result": {"seen": meta}});
    text.push_str(&format!("data: {answer}\n\n"));
    text
}

fn events(text: &str) -> Response<ResponseBody> {
    let mut response = Response::new(full(text.to_owned()));
    response
        .headers_mut()
        .insert("content-type", "text/event-stream".parse().unwrap());
    response
}

fn json_reply(value: &Value) -> Response<ResponseBody> {
    let mut response = Response::new(full(value.to_string()));
    response
        .headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    response
}

fn status(status: StatusCode) -> Response<ResponseBody> {
    let mut response = Response::new(empty());
    *response.status_mut() = status;
    response
}
