//! Response risk class (issue 14, item 9) end to end: a recording upstream that only
//! offers raw reads, routes that scan and redact its answers, a task class whose
//! credentials may receive at most `sanitized` data.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::BodyExt;

use gatehouse_core::event::Event;
use gatehouse_gateway::body::{ResponseBody, full};
use gatehouse_gateway::server::spawn_server;
use http::{HeaderMap, Method, Request, Response};
use hyper::body::Incoming;
use serde_json::{Value, json};

use crate::harness::{Harness, POLICY};

const AWS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
/// Longer than the gateway's `hold_bytes` below.
const LONG: usize = 80 * 1024;

/// The raw rows the database tool returns to anyone who asks.
fn raw_rows() -> Value {
    json!([
        {"id": 1, "name": "Ann Lee", "ssn": "078-05-1120", "contact": "ann.lee@example.com"},
        {"id": 2, "name": "Bo Chan", "ssn": "219-09-9999", "card": "4111 1111 1111 1111",
         "note": "call bo@example.org before noon"},
    ])
}

/// A database tool with raw reads only, recording the headers it was sent.
struct RawDb {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<HeaderMap>>>,
    _stop: tokio::sync::watch::Sender<bool>,
}

impl RawDb {
    async fn start() -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&seen);
        let (addr, stop, _) = spawn_server("127.0.0.1:0".parse().unwrap(), move |request| {
            let record = Arc::clone(&record);
            async move { respond(&record, request) }
        })
        .await
        .unwrap();
        Self {
            addr,
            seen,
            _stop: stop,
        }
    }
}

/// A body sent as many small frames, as a tool streaming an export does.
struct Chunks(VecDeque<Bytes>);

impl http_body::Body for Chunks {
    type Data = Bytes;
    type Error = gatehouse_gateway::body::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        Poll::Ready(
            self.0
                .pop_front()
                .map(|chunk| Ok(http_body::Frame::data(chunk))),
        )
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_empty()
    }
}

fn chunked(text: String) -> ResponseBody {
    let bytes = Bytes::from(text);
    let chunks = (0..bytes.len())
        .step_by(4096)
        .map(|at| bytes.slice(at..bytes.len().min(at + 4096)))
        .collect();
    Chunks(chunks).boxed()
}

fn respond(seen: &Mutex<Vec<HeaderMap>>, request: Request<Incoming>) -> Response<ResponseBody> {
    seen.lock().unwrap().push(request.headers().clone());
    if let Some(export) = request.uri().path().strip_prefix("/db/export-") {
        // Long, streamed, with what it carries only at the end.
        let last = if export == "key" {
            AWS_KEY
        } else {
            "ann@example.com"
        };
        let body = format!("{}{last}\n", "row\n".repeat(LONG / 4));
        return Response::new(chunked(body));
    }
    let body = match request.uri().path() {
        "/db/rows" => raw_rows().to_string(),
        "/db/keys" => format!(r#"{{"id": 3, "access_key": "{AWS_KEY}"}}"#),
        "/db/plain" => r#"{"id": 4, "status": "ok"}"#.to_owned(),
        _ => String::new(),
    };
    let mut response = Response::new(full(body));
    response
        .headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    response
}

fn config(db: SocketAddr) -> String {
    format!("{RISK}{}", db_tool(db))
}

const RISK: &str = r#"
[risk]
classes = ["public", "internal", "sanitized", "pii", "raw", "secret"]
hold_bytes = 65536

[[risk.detectors]]
name = "aws"
kind = "aws-access-key"
class = "secret"

[[risk.detectors]]
name = "email"
kind = "email"
class = "pii"

[[risk.detectors]]
name = "card"
kind = "card-number"
class = "pii"

[[risk.detectors]]
name = "bulk"
kind = "volume"
bytes = 50000
class = "raw"
"#;

fn db_tool(db: SocketAddr) -> String {
    format!(
        r#"
[tools.db]
url = "http://{db}/db"
segment = "data"
routes = [
  {{ method = "GET", path = "/rows", intent = "db.read:sanitized", data_class = "sanitized", redact = {{ fields = ["ssn"], detectors = ["email", "card"] }} }},
  {{ method = "GET", path = "/keys", intent = "db.keys", scan = ["aws", "email"] }},
  {{ method = "GET", path = "/plain", intent = "db.plain" }},
  {{ method = "GET", path = "/export-key", intent = "db.export", scan = ["aws"] }},
  {{ method = "GET", path = "/export-mail", intent = "db.export-mail", scan = ["email", "bulk"] }},
]

[task_classes.analyst]
segment = "data"
intents = ["db.read:sanitized", "db.keys", "db.plain", "db.export", "db.export-mail"]
ttl_minutes = 10
max_data_class = "sanitized"
budget = {{ calls = 20, writes = 1, bytes = 1000000 }}

[task_classes.auditor]
segment = "data"
intents = ["db.keys", "db.export-mail"]
ttl_minutes = 10
"#
    )
}

const DB_POLICY: &str = r#"
@id("analysts-read-the-db")
permit (
  principal in Gatehouse::Group::"triage",
  action in [Gatehouse::Action::"db.read:sanitized", Gatehouse::Action::"db.keys",
             Gatehouse::Action::"db.plain", Gatehouse::Action::"db.export",
             Gatehouse::Action::"db.export-mail"],
  resource in Gatehouse::Segment::"data"
);
"#;

async fn start() -> (Harness, RawDb) {
    let db = RawDb::start().await;
    let harness = Harness::builder()
        .edit(
            r#"task_classes = ["triage", "narrow", "tiny"]"#,
            r#"task_classes = ["triage", "narrow", "tiny", "analyst", "auditor"]"#,
        )
        .policy(&format!("{POLICY}\n{DB_POLICY}"))
        .append(&config(db.addr))
        .start()
        .await;
    (harness, db)
}

async fn event_of(harness: &Harness, intent: &str) -> Event {
    let query = format!("intent={}", intent.replace(':', "%3A"));
    harness.events(&query, 1).await.remove(0)
}

#[tokio::test]
async fn a_sanitized_read_is_served_from_raw_rows_with_fields_and_hits_redacted() {
    let (harness, db) = start().await;
    let token = harness.token_for("analyst").await;
    let reply = harness
        .call(Method::GET, "/tools/db/rows", &token, "")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.json().unwrap(),
        json!([
            {"id": 1, "name": "Ann Lee", "ssn": "[redacted]", "contact": "[redacted:email]"},
            {"id": 2, "name": "Bo Chan", "ssn": "[redacted]", "card": "[redacted:card]",
             "note": "call [redacted:email] before noon"},
        ])
    );
    assert_eq!(
        reply.headers["content-length"].to_str().unwrap(),
        reply.body.len().to_string()
    );
    // The tool was asked for bytes it could not compress past the scan.
    let seen = db.seen.lock().unwrap().clone();
    assert_eq!(seen[0]["accept-encoding"], "identity");
    let event = event_of(&harness, "db.read:sanitized").await;
    let risk = event
        .risk
        .expect("a scanned response's event carries its risk");
    assert_eq!(risk.class, "sanitized");
    assert_eq!(risk.detected, ["email", "card"]);
    assert_eq!(risk.redacted, 5, "two ssn fields, two addresses, one card");
    assert_eq!(risk.scanned, raw_rows().to_string().len() as u64);
    assert_eq!(
        event.bytes_out,
        reply.body.len() as u64,
        "charged what was served"
    );
}

#[tokio::test]
async fn a_response_above_the_credentials_class_is_withheld_and_not_charged() {
    let (harness, _db) = start().await;
    let token = harness.token_for("analyst").await;
    let plain = harness
        .call(Method::GET, "/tools/db/plain", &token, "")
        .await;
    assert_eq!(plain.status, 200);
    let reply = harness
        .call(Method::GET, "/tools/db/keys", &token, "")
        .await;
    assert_eq!(reply.status, 403, "{}", reply.text());
    assert_eq!(reply.headers["content-type"], "application/problem+json");
    let problem = reply.json().unwrap();
    assert_eq!(
        problem["type"],
        "urn:gatehouse:problem:response-class-exceeded"
    );
    assert!(!reply.text().contains(AWS_KEY), "{}", reply.text());
    let event = event_of(&harness, "db.keys").await;
    assert_eq!(
        event.refusal.map(|kind| kind.as_str()),
        Some("response-class-exceeded")
    );
    assert_eq!(event.status, 403);
    assert_eq!(event.bytes_out, 0);
    let risk = event.risk.unwrap();
    assert_eq!(
        (risk.class.as_str(), risk.detected.as_slice()),
        ("secret", &["aws".to_owned()][..])
    );
    // The unscanned route's event has none, and only its bytes were charged.
    let plain_event = event_of(&harness, "db.plain").await;
    assert!(plain_event.risk.is_none());
    let workflow = harness
        .control(Method::GET, "/v1/workflows/wf-1", "")
        .await
        .json()
        .unwrap();
    assert_eq!(workflow["usage"]["bytes"], plain_event.bytes_out);
    assert_eq!(
        workflow["usage"]["calls"], 2,
        "the withheld call still counts as a call"
    );
}

#[tokio::test]
async fn a_credential_without_a_ceiling_gets_the_response_and_the_event_records_its_class() {
    let (harness, _db) = start().await;
    let token = harness.token_for("auditor").await;
    let reply = harness
        .call(Method::GET, "/tools/db/keys", &token, "")
        .await;
    assert_eq!(reply.status, 200);
    assert!(reply.text().contains(AWS_KEY));
    let risk = event_of(&harness, "db.keys").await.risk.unwrap();
    assert_eq!(risk.class, "secret");
}

#[tokio::test]
async fn a_long_response_streams_scanned_or_is_refused_where_it_cannot_be_judged_whole() {
    let (harness, _db) = start().await;
    // No ceiling: it streams past the hold, scanned to its end.
    let auditor = harness.token_for("auditor").await;
    let reply = harness
        .call(Method::GET, "/tools/db/export-mail", &auditor, "")
        .await;
    assert_eq!(reply.status, 200);
    assert!(reply.body.len() > LONG);
    let event = event_of(&harness, "db.export-mail").await;
    let risk = event.risk.unwrap();
    assert_eq!(
        risk.class, "raw",
        "the volume detector outranks the address"
    );
    assert_eq!(
        risk.detected,
        ["email", "bulk"],
        "the address at the very end was seen"
    );
    assert_eq!(risk.scanned, reply.body.len() as u64);
    assert_eq!(event.bytes_out, reply.body.len() as u64);
    // A ceiling below what the route's detectors may find: refused, not streamed.
    let analyst = harness.token_in("analyst", "wf-2").await;
    let refused = harness
        .call(Method::GET, "/tools/db/export-key", &analyst, "")
        .await;
    assert_eq!(refused.status, 502, "{}", refused.text());
    assert_eq!(
        refused.json().unwrap()["type"],
        "urn:gatehouse:problem:response-unscannable"
    );
    let event = event_of(&harness, "db.export").await;
    assert_eq!(
        event.refusal.map(|kind| kind.as_str()),
        Some("response-unscannable")
    );
    assert_eq!(event.bytes_out, 0);
}

#[tokio::test]
async fn an_mcp_tools_result_is_redacted_in_place_or_withheld_as_a_tool_error() {
    let scripted = crate::mcp_upstream::scripted::Scripted::start().await;
    let server = crate::mcp_upstream::servers::http(
        "people",
        scripted.addr,
        "[mcp_servers.people.tools.lookup]\nintent = \"people.lookup\"\naccess = \"read\"\nscan = [\"aws\"]\nredact = { detectors = [\"email\"] }",
    );
    let policy = r#"@id("lookups") permit (principal, action == Gatehouse::Action::"people.lookup", resource);"#;
    let harness = Harness::builder()
        .mcp(&server, &["people.lookup"], policy)
        .edit(
            "[task_classes.mcp]\n",
            "[task_classes.mcp]\nmax_data_class = \"pii\"\n",
        )
        .append(RISK)
        .start()
        .await;
    let token = harness.token_for("mcp").await;
    let call = |id: u64, text: &str| {
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
            "name": "lookup", "arguments": {"text": text},
            "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                      "io.modelcontextprotocol/clientCapabilities": {}}}})
    };
    let post = |body: Value| {
        let auth = format!("Bearer {token}");
        let url = harness.data_url("/mcp/people");
        async move {
            let headers = [
                ("authorization", auth.as_str()),
                ("content-type", "application/json"),
                ("accept", "application/json, text/event-stream"),
                ("mcp-protocol-version", "2026-07-28"),
                ("mcp-method", "tools/call"),
                ("mcp-name", "lookup"),
            ];
            gatehouse_kit::client::send(Method::POST, &url, &headers, body.to_string())
                .await
                .unwrap()
        }
    };
    let served = post(call(1, "reach ann@example.com today")).await;
    assert_eq!(served.status, 200, "{}", served.text());
    let result = &served.json().unwrap()["result"];
    assert_eq!(
        result["content"][0]["text"], "reach [redacted:email] today",
        "{result}"
    );
    let withheld = post(call(2, &format!("key {AWS_KEY}"))).await;
    let answer = withheld.json().unwrap();
    assert_eq!(answer["result"]["isError"], true, "{answer}");
    assert!(!withheld.text().contains(AWS_KEY));
    assert!(
        withheld.text().contains("response-class-exceeded"),
        "{answer}"
    );
    let events = harness.events("intent=people.lookup", 2).await;
    let served_event = events.iter().find(|event| event.refusal.is_none()).unwrap();
    let risk = served_event.risk.as_ref().unwrap();
    assert_eq!((risk.class.as_str(), risk.redacted), ("internal", 1));
    assert_eq!(risk.detected, ["email"]);
    let withheld_event = events.iter().find(|event| event.refusal.is_some()).unwrap();
    assert_eq!(
        withheld_event.refusal.map(|kind| kind.as_str()),
        Some("response-class-exceeded")
    );
    assert_eq!(withheld_event.risk.as_ref().unwrap().class, "secret");
}
