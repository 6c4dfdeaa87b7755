//! The bundled example MCP server the quickstart and benchmarks run behind
//! `/mcp/helpdesk`: a tiny in-memory helpdesk spoken over Streamable HTTP in the handshake
//! era (MCP 2025-11-25, "Transports"). Each POST carries one JSON-RPC message and gets one
//! JSON answer; it assigns no `Mcp-Session-Id`, so a client may call it without a session;
//! it offers no stream (`GET` gets 405). It insists on its own bearer secret, so the
//! quickstart shows Gatehouse injecting it.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body::Body;
use http_body_util::{BodyExt, Limited};
use serde_json::{Map, Value, json};

use gatehouse_core::mcp::jsonrpc::{self, ErrorObject, Id, Message, code};
use gatehouse_gateway::body::{BoxError, ResponseBody};
use gatehouse_gateway::problem::json_response;

const MAX_BODY: usize = 64 * 1024;
/// Revisions answered as asked; a client asking for any other gets the first.
const VERSIONS: [&str; 3] = ["2025-11-25", "2025-06-18", "2025-03-26"];
const NEWEST: &str = "2025-11-25";
const VERSION_HEADER: &str = "mcp-protocol-version";
/// `search_tickets` answers at most this many tickets unless told otherwise.
const DEFAULT_LIMIT: u64 = 10;

/// One example helpdesk server.
#[derive(Debug)]
pub struct ExampleMcp {
    /// The exact `Authorization` value it requires, if any.
    expected_auth: Option<String>,
    tickets: Mutex<BTreeMap<u64, String>>,
    next_id: AtomicU64,
}

impl ExampleMcp {
    pub fn new(bearer_secret: Option<&str>) -> Self {
        Self {
            expected_auth: bearer_secret.map(|secret| format!("Bearer {secret}")),
            tickets: Mutex::new(BTreeMap::new()),
            next_id: AtomicU64::new(1),
        }
    }

    /// Answers one HTTP request to the server's endpoint (any path).
    pub async fn handle<B>(&self, request: Request<B>) -> Response<ResponseBody>
    where
        B: Body<Data = Bytes>,
        B::Error: Into<BoxError>,
    {
        if !self.authorized(request.headers()) {
            return unauthorized();
        }
        if request.method() != Method::POST {
            return method_not_allowed();
        }
        if let Err(error) = check_version(request.headers()) {
            return bad_request(&error);
        }
        let Some(bytes) = read_body(request.into_body()).await else {
            let error = ErrorObject::new(code::INVALID_REQUEST, "unreadable body or over 64 KiB");
            return bad_request(&error);
        };
        match jsonrpc::parse(&bytes) {
            Ok(Message::Request { id, method, params }) => {
                reply(StatusCode::OK, &self.answer(&id, &method, &params))
            }
            Ok(Message::Notification { .. } | Message::Response { .. }) => accepted(),
            Err(error) => bad_request(&error),
        }
    }

    /// The JSON-RPC reply to one request.
    pub fn answer(&self, id: &Id, method: &str, params: &Map<String, Value>) -> Value {
        match self.dispatch(method, params) {
            Ok(result) => jsonrpc::result(id, result),
            Err(error) => jsonrpc::error(Some(id), &error),
        }
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(expected) = &self.expected_auth else {
            return true;
        };
        headers
            .get(header::AUTHORIZATION)
            .is_some_and(|value| value.as_bytes() == expected.as_bytes())
    }

    fn dispatch(&self, method: &str, params: &Map<String, Value>) -> Result<Value, ErrorObject> {
        Ok(match method {
            "initialize" => initialize(params),
            "ping" => json!({}),
            "tools/list" => json!({ "tools": tools() }),
            "tools/call" => self.call(params)?,
            other => {
                return Err(ErrorObject::new(
                    code::METHOD_NOT_FOUND,
                    format!("Method not found: {other}"),
                ));
            }
        })
    }

    /// `tools/call`: an unknown tool is a protocol error; bad arguments and missing
    /// tickets are tool errors the model can read and correct.
    fn call(&self, params: &Map<String, Value>) -> Result<Value, ErrorObject> {
        let invalid = |why: &str| ErrorObject::new(code::INVALID_PARAMS, why.to_owned());
        let name = params
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("`name` must be a string"))?;
        let no_arguments = Map::new();
        let args = match params.get("arguments") {
            None => &no_arguments,
            Some(Value::Object(args)) => args,
            Some(_) => return Err(invalid("`arguments` must be an object")),
        };
        let outcome = match name {
            "create_ticket" => self.create(args),
            "get_ticket" => self.get(args),
            "search_tickets" => self.search(args),
            "delete_ticket" => self.delete(args),
            _ => return Err(invalid(&format!("Unknown tool: {name}"))),
        };
        Ok(tool_result(outcome))
    }

    fn create(&self, args: &Map<String, Value>) -> ToolOutcome {
        only(args, &["title"])?;
        let title = string_arg(args, "title")?;
        if title.trim().is_empty() {
            return Err("`title` must not be empty".to_owned());
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.store()?.insert(id, title.to_owned());
        Ok(ticket(id, title))
    }

    fn get(&self, args: &Map<String, Value>) -> ToolOutcome {
        only(args, &["id"])?;
        let id = integer_arg(args, "id")?.ok_or("`id` is required")?;
        // Benchmarks read a fixed ticket without creating it first.
        if id == 0 {
            return Ok(ticket(0, "example"));
        }
        let tickets = self.store()?;
        let title = tickets.get(&id).ok_or_else(|| no_ticket(id))?;
        Ok(ticket(id, title))
    }

    fn search(&self, args: &Map<String, Value>) -> ToolOutcome {
        only(args, &["query", "limit"])?;
        let query = string_arg(args, "query")?.to_lowercase();
        let limit = integer_arg(args, "limit")?.unwrap_or(DEFAULT_LIMIT);
        let tickets = self.store()?;
        let found: Vec<Value> = tickets
            .iter()
            .filter(|(_, title)| title.to_lowercase().contains(&query))
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .map(|(id, title)| ticket(*id, title))
            .collect();
        Ok(json!({ "tickets": found }))
    }

    fn delete(&self, args: &Map<String, Value>) -> ToolOutcome {
        only(args, &["id"])?;
        let id = integer_arg(args, "id")?.ok_or("`id` is required")?;
        self.store()?.remove(&id).ok_or_else(|| no_ticket(id))?;
        Ok(json!({ "deleted": id }))
    }

    fn store(&self) -> Result<std::sync::MutexGuard<'_, BTreeMap<u64, String>>, String> {
        self.tickets
            .lock()
            .map_err(|_| "the ticket store is unavailable".to_owned())
    }
}

/// A tool's structured result, or the text of its error.
type ToolOutcome = Result<Value, String>;

/// The `initialize` result: the client's revision when spoken here, else the newest.
fn initialize(params: &Map<String, Value>) -> Value {
    let asked = params.get("protocolVersion").and_then(Value::as_str);
    let version = asked
        .and_then(|asked| VERSIONS.into_iter().find(|version| *version == asked))
        .unwrap_or(NEWEST);
    json!({
        "protocolVersion": version,
        "capabilities": { "tools": { "listChanged": false } },
        "serverInfo": { "name": "example-helpdesk", "version": env!("CARGO_PKG_VERSION") },
        "instructions": "A demo helpdesk: file, read, search and delete tickets (kept in memory).",
    })
}

/// The four tools, each with its input schema.
fn tools() -> Value {
    let id = json!({ "id": { "type": "integer", "description": "The ticket number." } });
    json!([
        tool(
            "create_ticket",
            "File a new helpdesk ticket.",
            json!({ "title": { "type": "string", "description": "One line saying what is wrong." } }),
            &["title"],
            json!({ "readOnlyHint": false, "destructiveHint": false }),
        ),
        tool(
            "get_ticket",
            "Read one ticket by number.",
            id.clone(),
            &["id"],
            json!({ "readOnlyHint": true }),
        ),
        tool(
            "search_tickets",
            "Find tickets whose title contains the query (case-insensitive).",
            json!({
                "query": { "type": "string", "description": "Text to look for in titles." },
                "limit": { "type": "integer", "minimum": 0, "description": "At most this many tickets (default 10)." },
            }),
            &["query"],
            json!({ "readOnlyHint": true }),
        ),
        tool(
            "delete_ticket",
            "Delete a ticket for good.",
            id,
            &["id"],
            json!({ "readOnlyHint": false, "destructiveHint": true }),
        ),
    ])
}

fn tool(
    name: &str,
    description: &str,
    properties: Value,
    required: &[&str],
    annotations: Value,
) -> Value {
    json!({
        "name": name,
        "description": description,
        "inputSchema": {
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": false,
        },
        "annotations": annotations,
    })
}

/// A `CallToolResult`: the structured content, also as JSON text for older clients.
fn tool_result(outcome: ToolOutcome) -> Value {
    match outcome {
        Ok(structured) => json!({
            "content": [{ "type": "text", "text": structured.to_string() }],
            "structuredContent": structured,
            "isError": false,
        }),
        Err(why) => json!({
            "content": [{ "type": "text", "text": why }],
            "isError": true,
        }),
    }
}

fn ticket(id: u64, title: &str) -> Value {
    json!({ "id": id, "title": title, "status": "open" })
}

fn no_ticket(id: u64) -> String {
    format!("no ticket #{id}")
}

/// Refuses arguments the tool's schema does not declare.
fn only(args: &Map<String, Value>, allowed: &[&str]) -> Result<(), String> {
    match args.keys().find(|name| !allowed.contains(&name.as_str())) {
        Some(name) => Err(format!("unexpected argument `{name}`")),
        None => Ok(()),
    }
}

fn string_arg<'a>(args: &'a Map<String, Value>, name: &str) -> Result<&'a str, String> {
    match args.get(name) {
        Some(Value::String(text)) => Ok(text),
        Some(_) => Err(format!("`{name}` must be a string")),
        None => Err(format!("`{name}` is required")),
    }
}

/// A non-negative integer argument, `None` when absent.
fn integer_arg(args: &Map<String, Value>, name: &str) -> Result<Option<u64>, String> {
    match args.get(name) {
        None => Ok(None),
        Some(value) => value
            .as_u64()
            .map(Some)
            .ok_or_else(|| format!("`{name}` must be a non-negative integer")),
    }
}

/// A client that names a revision after the handshake must name one spoken here.
fn check_version(headers: &HeaderMap) -> Result<(), ErrorObject> {
    let Some(value) = headers.get(VERSION_HEADER) else {
        return Ok(());
    };
    if value
        .to_str()
        .is_ok_and(|version| VERSIONS.contains(&version))
    {
        return Ok(());
    }
    Err(ErrorObject::new(
        code::INVALID_REQUEST,
        format!(
            "unsupported {VERSION_HEADER}; this server speaks {}",
            VERSIONS.join(", ")
        ),
    ))
}

async fn read_body<B>(body: B) -> Option<Bytes>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    Some(
        Limited::new(body, MAX_BODY)
            .collect()
            .await
            .ok()?
            .to_bytes(),
    )
}

fn reply(status: StatusCode, value: &Value) -> Response<ResponseBody> {
    json_response(status, value, "application/json")
}

/// A message it cannot take, answered with a null id.
fn bad_request(error: &ErrorObject) -> Response<ResponseBody> {
    reply(StatusCode::BAD_REQUEST, &jsonrpc::error(None, error))
}

fn accepted() -> Response<ResponseBody> {
    let mut response = Response::new(gatehouse_gateway::body::empty());
    *response.status_mut() = StatusCode::ACCEPTED;
    response
}

fn unauthorized() -> Response<ResponseBody> {
    let mut response = reply(
        StatusCode::UNAUTHORIZED,
        &json!({ "error": "missing or wrong upstream credential" }),
    );
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// No server-initiated stream and no session to end.
fn method_not_allowed() -> Response<ResponseBody> {
    let mut response = reply(
        StatusCode::METHOD_NOT_ALLOWED,
        &json!({ "error": "POST one JSON-RPC message" }),
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    response
}

#[cfg(test)]
mod tests;
