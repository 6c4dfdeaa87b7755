//! `/mcp/{server}` end to end: a real MCP server (the reference `server-everything`,
//! launched over stdio by Gatehouse) behind a real gateway, driven with raw JSON-RPC over
//! HTTP so every byte of the agent's side is visible. SDK clients are exercised by the
//! interop suite (scripts/mcp-interop.sh).

use std::time::{Duration, Instant};

use bytes::Bytes;
use gatehouse_core::event::Event;
use gatehouse_core::event::EventKind;
use gatehouse_core::event::Observed;
use gatehouse_core::event::Would;
use gatehouse_core::refusal::RefusalKind;
use gatehouse_kit::client::{Reply, send};
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::harness::{APPROVER_TOKEN, Harness};
use crate::mcp_upstream::servers::{
    HttpEverything, LONG, everything_js, free_port, http as http_server, stdio,
};

const INTENTS: &[&str] = &[
    "everything.echo",
    "math.sum",
    "env.read",
    "docs.read",
    "prompts.get",
    "message.annotate",
];

/// `echo` (read), `get-sum` as `math.sum` with typed arguments, `get-env` mapped but
/// forbidden outright, `get-tiny-image` mapped but outside the task class's scope;
/// everything else the server has is unmapped.
fn servers() -> String {
    let node = which_node();
    let mut config = stdio("everything", &node, &[&everything_js()]);
    config.push_str(
        r#"timeout_ms = 20000
resources = { intent = "docs.read" }
prompts = { intent = "prompts.get" }

[mcp_servers.everything.tools.echo]
access = "read"
args = { message = "string" }

[mcp_servers.everything.tools.get-sum]
intent = "math.sum"
access = "read"
args = { a = "long", b = "long" }

[mcp_servers.everything.tools.get-annotated-message]
intent = "message.annotate"
tier = "medium"
args = { messageType = "string" }

[mcp_servers.everything.tools.get-env]
intent = "env.read"
access = "read"

[mcp_servers.everything.tools.get-tiny-image]
intent = "image.other"
access = "read"

[mcp_servers.gone]
segment = "data"
url = "http://127.0.0.1:9/mcp"

[mcp_servers.ops]
segment = "control"
url = "http://127.0.0.1:9/mcp"

[mcp_servers.gone.tools.anything]
intent = "env.read"
access = "read"
"#,
    );
    config
}

const POLICY: &str = r#"
@id("echo-anything-but-secrets")
permit (principal in Gatehouse::Group::"triage", action == Gatehouse::Action::"everything.echo", resource == Gatehouse::Tool::"everything")
unless { context.args.message like "*secret*" };

@id("urgent-echoes-need-approval")
@tier("high")
permit (principal in Gatehouse::Group::"triage", action == Gatehouse::Action::"everything.echo", resource)
when { context.args.message like "urgent*" };

@id("small-sums")
permit (principal in Gatehouse::Group::"triage", action == Gatehouse::Action::"math.sum", resource)
when { context.args.a < 100 && context.args.b < 100 };

@id("static-docs-but-extensions")
permit (principal in Gatehouse::Group::"triage", action == Gatehouse::Action::"docs.read", resource)
when { context.args.uri like "demo://resource/static/document/*" }
unless { context.args.uri like "*extension.md" };

@id("the-simple-prompt")
permit (principal in Gatehouse::Group::"triage", action == Gatehouse::Action::"prompts.get", resource)
when { context.args.name == "simple-prompt" };

@id("annotations-with-confirmation")
permit (principal in Gatehouse::Group::"triage", action == Gatehouse::Action::"message.annotate", resource);

@id("env-reads-on-the-gone-server-only")
permit (principal in Gatehouse::Group::"triage", action == Gatehouse::Action::"env.read", resource == Gatehouse::Tool::"gone");
"#;

/// A stdio MCP server that crashes, hangs or answers garbage, as its tools are named.
const MISBEHAVING: &str = r#"
const rl = require('readline').createInterface({ input: process.stdin });
const send = (message) => process.stdout.write(JSON.stringify(message) + '\n');
const tool = (name) => ({ name, inputSchema: { type: 'object' } });
rl.on('line', (line) => {
  const message = JSON.parse(line);
  if (message.method === 'initialize') {
    return send({ jsonrpc: '2.0', id: message.id, result: {
      protocolVersion: message.params.protocolVersion, capabilities: { tools: {} },
      serverInfo: { name: 'misbehaving', version: '1' } } });
  }
  if (message.method === 'tools/list') {
    return send({ jsonrpc: '2.0', id: message.id, result: { tools: ['crash', 'hang', 'garbage', 'ok'].map(tool) } });
  }
  if (message.method !== 'tools/call') return;
  const name = message.params.name;
  if (name === 'crash') process.exit(3);
  if (name === 'hang') return;
  if (name === 'garbage') {
    process.stdout.write('this is not JSON-RPC\n');
    return send({ jsonrpc: '2.0', id: message.id, result: 42 });
  }
  send({ jsonrpc: '2.0', id: message.id, result: { content: [{ type: 'text', text: 'fine' }] } });
});
"#;

fn which_node() -> String {
    std::env::var("GATEHOUSE_TEST_NODE").unwrap_or_else(|_| "node".to_owned())
}

async fn start() -> (Harness, String) {
    let harness = Harness::builder()
        .mcp(&servers(), INTENTS, POLICY)
        .start()
        .await;
    let token = harness.token_for("mcp").await;
    (harness, token)
}

/// One JSON-RPC POST with the agent's credential and extra headers.
async fn post(harness: &Harness, token: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    post_to(harness, "everything", token, headers, body).await
}

async fn post_to(
    harness: &Harness,
    server: &str,
    token: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    let auth = format!("Bearer {token}");
    let mut all = vec![
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
        ("accept", "application/json, text/event-stream"),
    ];
    all.extend_from_slice(headers);
    let url = harness.data_url(&format!("/mcp/{server}"));
    send(Method::POST, &url, &all, body.to_owned())
        .await
        .unwrap()
}

/// A handshake-era session: `initialize`, then `notifications/initialized`.
async fn session(harness: &Harness, token: &str) -> String {
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"}}});
    let reply = post(harness, token, &[], &init.to_string()).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.json().unwrap()["result"]["protocolVersion"],
        "2025-11-25"
    );
    let id = reply.headers["mcp-session-id"].to_str().unwrap().to_owned();
    let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let ack = post(
        harness,
        token,
        &[("mcp-session-id", &id)],
        &note.to_string(),
    )
    .await;
    assert_eq!(ack.status, 202, "{}", ack.text());
    id
}

async fn in_session(
    harness: &Harness,
    token: &str,
    session: &str,
    id: u64,
    method: &str,
    params: Value,
) -> Reply {
    let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
    post(
        harness,
        token,
        &[("mcp-session-id", session)],
        &body.to_string(),
    )
    .await
}

fn tool_names(reply: &Reply) -> Vec<String> {
    let body = reply.json().unwrap();
    body["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("no tools in {body}"))
        .iter()
        .map(|tool| tool["name"].as_str().unwrap().to_owned())
        .collect()
}

fn refusal_of(reply: &Reply) -> Value {
    let body = reply.json().unwrap();
    assert_eq!(body["result"]["isError"], true, "{body}");
    body["result"]["structuredContent"]["gatehouse"].clone()
}

#[tokio::test]
async fn an_allowed_call_returns_the_servers_result_and_hidden_tools_are_unknown() {
    let (harness, token) = start().await;
    let session = session(&harness, &token).await;
    let listed = in_session(&harness, &token, &session, 1, "tools/list", json!({})).await;
    let mut names = tool_names(&listed);
    names.sort();
    // get-env is forbidden on this server by omission, get-tiny-image is out of scope,
    // and everything unmapped never shows.
    assert_eq!(names, ["echo", "get-annotated-message", "get-sum"]);

    let echo = in_session(
        &harness,
        &token,
        &session,
        2,
        "tools/call",
        json!({"name": "echo", "arguments": {"message": "hi"}}),
    )
    .await;
    let body = echo.json().unwrap();
    assert_eq!(body["result"]["content"][0]["text"], "Echo: hi", "{body}");
    let decision = echo.headers["gatehouse-decision-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let event = harness.event(&decision).await;
    assert_eq!(event.intent.as_deref(), Some("everything.echo"));
    assert_eq!(event.tool.as_deref(), Some("everything"));
    assert_eq!(event.method, "tools/call");
    assert_eq!(event.policies, ["echo-anything-but-secrets"]);

    // Unmapped, out of scope and denied-for-every-argument all look the same.
    for (id, name) in [(3, "get-env"), (4, "get-tiny-image"), (5, "no-such-tool")] {
        let reply = in_session(
            &harness,
            &token,
            &session,
            id,
            "tools/call",
            json!({"name": name, "arguments": {}}),
        )
        .await;
        let body = reply.json().unwrap();
        assert_eq!(body["error"]["code"], -32602, "{name}: {body}");
        assert_eq!(body["error"]["message"], format!("Unknown tool: {name}"));
        assert_eq!(body["error"]["data"]["refusal"], "unknown-tool");
    }
    harness.stop().await;
}

#[tokio::test]
async fn an_argument_constraint_allows_one_call_and_refuses_its_neighbour_in_the_stateless_era() {
    let (harness, token) = start().await;
    let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                      "io.modelcontextprotocol/clientCapabilities": {}});
    let call = |a: i64, id: u64| {
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": {"name": "get-sum", "arguments": {"a": a, "b": 1}, "_meta": meta}})
        .to_string()
    };
    let headers = [
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tools/call"),
        ("mcp-name", "get-sum"),
    ];

    let allowed = post(&harness, &token, &headers, &call(2, 1)).await;
    let body = allowed.json().unwrap();
    assert_eq!(
        body["result"]["content"][0]["text"], "The sum of 2 and 1 is 3.",
        "{body}"
    );
    assert_eq!(body["result"]["resultType"], "complete");

    let refused = post(&harness, &token, &headers, &call(200, 2)).await;
    let refusal = refusal_of(&refused);
    assert_eq!(refusal["refusal"], "policy-denied");
    let decision = refusal["decision_id"].as_str().unwrap().to_owned();
    let event = harness.event(&decision).await;
    assert_eq!(event.refusal, Some(RefusalKind::PolicyDenied));
    assert_eq!(event.intent.as_deref(), Some("math.sum"));

    // A string where a long is declared never reaches policy or the server.
    let body = call(0, 3).replace("\"a\":0", "\"a\":\"0\"");
    let mistyped = post(&harness, &token, &headers, &body).await;
    assert_eq!(
        mistyped.json().unwrap()["error"]["code"],
        -32602,
        "{}",
        mistyped.text()
    );

    // The stateless era lists too, privately cacheable.
    let meta_list =
        json!({"jsonrpc": "2.0", "id": 4, "method": "tools/list", "params": {"_meta": meta}});
    let list_headers = [
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tools/list"),
    ];
    let listed = post(&harness, &token, &list_headers, &meta_list.to_string()).await;
    assert_eq!(listed.json().unwrap()["result"]["cacheScope"], "private");
    harness.stop().await;
}

#[tokio::test]
async fn a_high_tier_call_parks_runs_once_when_approved_and_the_agent_gets_its_result() {
    let (harness, token) = start().await;
    let session = session(&harness, &token).await;
    let call = json!({"name": "echo", "arguments": {"message": "urgent: page the on-call"}});
    let parked = in_session(&harness, &token, &session, 1, "tools/call", call.clone()).await;
    let refusal = refusal_of(&parked);
    assert_eq!(refusal["refusal"], "approval-pending", "{refusal}");
    let id = refusal["approval_id"].as_str().unwrap().to_owned();

    // Asking before approval: still pending.
    let mut again = call.clone();
    again["_meta"] = json!({"gatehouse/approval": id});
    let early = in_session(&harness, &token, &session, 2, "tools/call", again.clone()).await;
    assert_eq!(refusal_of(&early)["refusal"], "approval-pending");

    let path = format!("/v1/approvals/{id}/approve");
    let approved = harness
        .control_as(
            APPROVER_TOKEN,
            Method::POST,
            &path,
            r#"{"reason":"on-call agreed"}"#,
        )
        .await;
    assert_eq!(approved.status, 200, "{}", approved.text());

    let mut result = Value::Null;
    for attempt in 0..800 {
        let reply = in_session(
            &harness,
            &token,
            &session,
            10 + attempt,
            "tools/call",
            again.clone(),
        )
        .await;
        let body = reply.json().unwrap();
        if body["result"]["isError"] != true {
            result = body;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(
        result["result"]["content"][0]["text"], "Echo: urgent: page the on-call",
        "{result}"
    );

    // The approval names one exact call: the same id with other arguments is refused.
    let mut other = json!({"name": "echo", "arguments": {"message": "urgent: something else"}});
    other["_meta"] = json!({"gatehouse/approval": id});
    let swapped = in_session(&harness, &token, &session, 500, "tools/call", other).await;
    assert_eq!(refusal_of(&swapped)["refusal"], "confirmation-rejected");
    let is_execution = |event: &Event| event.kind == EventKind::Approval;
    let events = harness
        .events_until("intent=everything.echo", is_execution, 1)
        .await;
    let executions = events.iter().filter(|event| is_execution(event)).count();
    assert_eq!(executions, 1, "the approved call ran exactly once");
    harness.stop().await;
}

#[tokio::test]
async fn a_repeated_member_in_the_message_or_its_params_is_refused_and_one_in_the_arguments_settled()
 {
    let (harness, token) = start().await;
    let session = session(&harness, &token).await;
    let with_session = [("mcp-session-id", session.as_str())];
    let refused = |reply: &Reply| {
        let body = reply.json().unwrap();
        let error = &body["error"];
        let message = error["message"].as_str().unwrap_or_default().to_owned();
        (error["code"].as_i64(), message)
    };
    // A tree would keep the last `name` and decide on `get-env`; the server reading the
    // forwarded text might run the first. Neither is guessed.
    let cases = [
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"x"},"name":"get-env"}}"#,
            -32602,
            "`params` repeats `name`",
        ),
        (
            r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","_meta":{"progressToken":1,"progressToken":2}}}"#,
            -32602,
            "`params._meta` repeats `progressToken`",
        ),
        (
            r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","method":"tools/list","params":{"name":"echo"}}"#,
            -32600,
            "repeats `method`",
        ),
    ];
    for (body, code, why) in cases {
        // The status is the face's for the code (invalid params are answered with 200).
        let (got, message) = refused(&post(&harness, &token, &with_session, body).await);
        assert_eq!(got, Some(code), "{body}: {message}");
        assert!(message.contains(why), "{body}: {message}");
    }
    // Inside the arguments a tree settles a repeat, and the server gets the tree's
    // reading, written canonically: the last.
    let nested = r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"echo","arguments":{"message":"first","message":"last"}}}"#;
    let echoed = post(&harness, &token, &with_session, nested).await;
    let body = echoed.json().unwrap();
    assert_eq!(body["result"]["content"][0]["text"], "Echo: last", "{body}");
}

#[tokio::test]
async fn bad_messages_get_precise_errors_and_the_gateway_stays_up() {
    let (harness, token) = start().await;
    let session = session(&harness, &token).await;
    let with_session = [("mcp-session-id", session.as_str())];
    let code_of = |reply: &Reply| reply.json().unwrap()["error"]["code"].as_i64();

    let malformed = post(&harness, &token, &with_session, "{\"jsonrpc\":").await;
    assert_eq!(
        (malformed.status.as_u16(), code_of(&malformed)),
        (400, Some(-32700))
    );
    let batch = r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#;
    let batched = post(&harness, &token, &with_session, batch).await;
    assert_eq!(
        (batched.status.as_u16(), code_of(&batched)),
        (400, Some(-32600))
    );

    let call = r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"message":"x"}}}"#;
    let mismatch = post(
        &harness,
        &token,
        &[("mcp-session-id", &session), ("mcp-name", "get-env")],
        call,
    )
    .await;
    assert_eq!(
        (mismatch.status.as_u16(), code_of(&mismatch)),
        (400, Some(-32020))
    );

    let first = post(&harness, &token, &with_session, call).await;
    assert_eq!(first.status, 200, "{}", first.text());
    let reused = post(&harness, &token, &with_session, call).await;
    assert_eq!(
        (reused.status.as_u16(), code_of(&reused)),
        (400, Some(-32600)),
        "{}",
        reused.text()
    );

    let unknown = post(
        &harness,
        &token,
        &[("mcp-session-id", "not-a-session")],
        call,
    )
    .await;
    assert_eq!(unknown.status, 404);
    let sessionless = post(&harness, &token, &[], call).await;
    assert_eq!(
        (sessionless.status.as_u16(), code_of(&sessionless)),
        (400, Some(-32600))
    );
    let method = r#"{"jsonrpc":"2.0","id":8,"method":"sampling/createMessage","params":{}}"#;
    let unknown_method = post(&harness, &token, &with_session, method).await;
    assert_eq!(code_of(&unknown_method), Some(-32601));

    let auth = format!("Bearer {token}");
    let get = send(
        Method::GET,
        &harness.data_url("/mcp/everything"),
        &[("authorization", &auth)],
        "",
    )
    .await
    .unwrap();
    assert_eq!(get.status, 405);
    let anonymous = send(
        Method::POST,
        &harness.data_url("/mcp/everything"),
        &[],
        call,
    )
    .await
    .unwrap();
    assert_eq!(anonymous.status, 401);
    let nowhere = post_to(&harness, "nowhere", &token, &[], call).await;
    assert_eq!(nowhere.status, 404);
    let rebinding = post(&harness, &token, &[("origin", "http://evil.example")], call).await;
    assert_eq!(rebinding.status, 403);

    // A dead upstream: an explained tool error, and the next call still works.
    let dead = post_to(&harness, "gone", &token, &[], &json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}).to_string()).await;
    let dead_session = dead.headers["mcp-session-id"].to_str().unwrap().to_owned();
    let dead_call = json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"anything","arguments":{}}});
    let failed = post_to(
        &harness,
        "gone",
        &token,
        &[("mcp-session-id", &dead_session)],
        &dead_call.to_string(),
    )
    .await;
    assert_eq!(
        refusal_of(&failed)["refusal"],
        "upstream-unavailable",
        "{}",
        failed.text()
    );

    let closed = send(
        Method::DELETE,
        &harness.data_url("/mcp/everything"),
        &[("authorization", &auth), ("mcp-session-id", &session)],
        "",
    )
    .await
    .unwrap();
    assert_eq!(closed.status, 200);
    let after = in_session(&harness, &token, &session, 99, "ping", json!({})).await;
    assert_eq!(after.status, 404, "a closed session is gone");
    harness.stop().await;
}

#[tokio::test]
async fn mcp_calls_spend_the_workflow_budget_and_other_segments_are_refused_at_the_door() {
    let (harness, token) = start().await;
    let session = session(&harness, &token).await;
    let mut refused = None;
    for id in 1..=8 {
        let reply = in_session(
            &harness,
            &token,
            &session,
            id,
            "tools/call",
            json!({"name": "echo", "arguments": {"message": "n"}}),
        )
        .await;
        let body = reply.json().unwrap();
        if body["result"]["isError"] == true {
            refused = Some((id, body["result"]["structuredContent"]["gatehouse"].clone()));
            break;
        }
    }
    let (id, refusal) = refused.expect("the budget of 6 calls must run out");
    assert_eq!(id, 7);
    assert_eq!(refusal["refusal"], "budget-exhausted");
    assert_eq!(refusal["budget"]["kind"], "calls");
    // Paused now: listings, which are not counted, reach the server no more.
    let listed = in_session(&harness, &token, &session, 100, "tools/list", json!({})).await;
    let body = listed.json().unwrap();
    assert!(body["result"].is_null(), "{body}");
    assert!(body.to_string().contains("budget-exhausted"), "{body}");

    // `ops` lives in segment `control`; this credential is bound to `data`.
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    let elsewhere = post_to(&harness, "ops", &token, &[], &init.to_string()).await;
    assert_eq!(elsewhere.status, 403);
    assert!(
        elsewhere.text().contains("segment-mismatch"),
        "{}",
        elsewhere.text()
    );
    harness.stop().await;
}

#[tokio::test]
async fn resources_and_prompts_are_listed_and_read_only_as_far_as_policy_allows() {
    let (harness, token) = start().await;
    let session = session(&harness, &token).await;
    let listed = in_session(&harness, &token, &session, 1, "resources/list", json!({})).await;
    let body = listed.json().unwrap();
    let uris: Vec<&str> = body["result"]["resources"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|resource| resource["uri"].as_str().unwrap())
        .collect();
    assert!(
        uris.contains(&"demo://resource/static/document/architecture.md"),
        "{uris:?}"
    );
    assert!(
        !uris.iter().any(|uri| uri.ends_with("extension.md")),
        "{uris:?}"
    );
    assert!(
        uris.iter()
            .all(|uri| uri.starts_with("demo://resource/static/document/")),
        "{uris:?}"
    );

    let read = |uri: &str, id: u64| {
        let params = json!({"uri": uri});
        let session = session.clone();
        let token = token.clone();
        let harness = &harness;
        async move { in_session(harness, &token, &session, id, "resources/read", params).await }
    };
    let allowed = read("demo://resource/static/document/architecture.md", 2).await;
    let body = allowed.json().unwrap();
    assert!(body["result"]["contents"][0]["text"].is_string(), "{body}");
    let denied = read("demo://resource/static/document/extension.md", 3).await;
    let body = denied.json().unwrap();
    assert_eq!(body["error"]["code"], -32001, "{body}");
    assert_eq!(body["error"]["data"]["refusal"], "policy-denied");

    let prompts = in_session(&harness, &token, &session, 4, "prompts/list", json!({})).await;
    let body = prompts.json().unwrap();
    let names: Vec<&str> = body["result"]["prompts"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|prompt| prompt["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["simple-prompt"]);
    let got = in_session(
        &harness,
        &token,
        &session,
        5,
        "prompts/get",
        json!({"name": "simple-prompt"}),
    )
    .await;
    assert!(
        got.json().unwrap()["result"]["messages"].is_array(),
        "{}",
        got.text()
    );
    let refused = in_session(
        &harness,
        &token,
        &session,
        6,
        "prompts/get",
        json!({"name": "args-prompt", "arguments": {"city": "x"}}),
    )
    .await;
    assert_eq!(
        refused.json().unwrap()["error"]["data"]["refusal"],
        "policy-denied"
    );

    // Completions reveal what the prompt would: only for prompts the caller may get.
    let complete = |name: &str| json!({"ref": {"type": "ref/prompt", "name": name}, "argument": {"name": "city", "value": "Ber"}});
    let hidden = in_session(
        &harness,
        &token,
        &session,
        7,
        "completion/complete",
        complete("args-prompt"),
    )
    .await;
    assert_eq!(
        hidden.json().unwrap()["error"]["data"]["refusal"],
        "policy-denied"
    );
    let relayed = in_session(
        &harness,
        &token,
        &session,
        8,
        "completion/complete",
        complete("simple-prompt"),
    )
    .await;
    assert!(
        relayed.json().unwrap()["error"]["data"]["refusal"].is_null(),
        "{}",
        relayed.text()
    );

    let level = in_session(
        &harness,
        &token,
        &session,
        9,
        "logging/setLevel",
        json!({"level": "info"}),
    )
    .await;
    assert_eq!(level.json().unwrap()["result"], json!({}));
    let bad = in_session(
        &harness,
        &token,
        &session,
        10,
        "logging/setLevel",
        json!({"level": "loud"}),
    )
    .await;
    assert_eq!(bad.json().unwrap()["error"]["code"], -32602);
    harness.stop().await;
}

#[tokio::test]
async fn a_medium_tier_call_runs_once_with_its_confirmation_and_only_as_confirmed() {
    let (harness, token) = start().await;
    let session = session(&harness, &token).await;
    let call = json!({"name": "get-annotated-message", "arguments": {"messageType": "success"}});
    let asked = in_session(&harness, &token, &session, 1, "tools/call", call.clone()).await;
    let refusal = refusal_of(&asked);
    assert_eq!(refusal["refusal"], "confirmation-required", "{refusal}");
    assert!(
        refusal["detail"]
            .as_str()
            .unwrap()
            .contains("gatehouse/confirmation")
    );
    let id = refusal["confirmation_id"].as_str().unwrap().to_owned();
    let path = format!("/v1/confirmations/{id}/confirm");
    let confirmed = harness
        .control_as("orchestrator-token", Method::POST, &path, "{}")
        .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.text());

    let with = |mut call: Value| {
        call["_meta"] = json!({"gatehouse/confirmation": id});
        call
    };
    let other = json!({"name": "get-annotated-message", "arguments": {"messageType": "error"}});
    let swapped = in_session(&harness, &token, &session, 2, "tools/call", with(other)).await;
    assert_eq!(refusal_of(&swapped)["refusal"], "confirmation-rejected");
    let ran = in_session(
        &harness,
        &token,
        &session,
        3,
        "tools/call",
        with(call.clone()),
    )
    .await;
    let body = ran.json().unwrap();
    assert_ne!(body["result"]["isError"], true, "{body}");
    assert!(body["result"]["content"].is_array(), "{body}");
    let again = in_session(&harness, &token, &session, 4, "tools/call", with(call)).await;
    assert_eq!(
        refusal_of(&again)["refusal"],
        "confirmation-rejected",
        "a confirmation is used once"
    );
    harness.stop().await;
}

#[tokio::test]
async fn a_crashing_hanging_or_garbage_server_gets_a_precise_refusal_and_the_gateway_stays_up() {
    let script = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(script.path(), MISBEHAVING).unwrap();
    let mut config = servers();
    config.push_str(&stdio(
        "flaky",
        &which_node(),
        &[script.path().to_str().unwrap()],
    ));
    config.push_str(
        r#"timeout_ms = 1500
[mcp_servers.flaky.tools.crash]
intent = "flaky.call"
access = "read"
[mcp_servers.flaky.tools.hang]
intent = "flaky.call"
access = "read"
[mcp_servers.flaky.tools.garbage]
intent = "flaky.call"
access = "read"
[mcp_servers.flaky.tools.ok]
intent = "flaky.call"
access = "read"
"#,
    );
    let policy = format!(
        "{POLICY}\npermit (principal, action == Gatehouse::Action::\"flaky.call\", resource);"
    );
    let mut intents = INTENTS.to_vec();
    intents.push("flaky.call");
    let harness = Harness::builder()
        .mcp(&config, &intents, &policy)
        .start()
        .await;
    let token = harness.token_for("mcp").await;
    let session = flaky_session(&harness, &token).await;
    let call = |name: &str, id: u64| {
        let harness = &harness;
        let token = token.clone();
        let session = session.clone();
        let params = json!({"name": name, "arguments": {}});
        async move {
            let body =
                json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params});
            post_to(
                harness,
                "flaky",
                &token,
                &[("mcp-session-id", &session)],
                &body.to_string(),
            )
            .await
        }
    };
    assert_eq!(
        call("ok", 1).await.json().unwrap()["result"]["content"][0]["text"],
        "fine"
    );
    let garbage = refusal_of(&call("garbage", 2).await);
    assert_eq!(garbage["refusal"], "upstream-unavailable", "{garbage}");
    let hang = refusal_of(&call("hang", 3).await);
    assert_eq!(hang["refusal"], "upstream-timeout", "{hang}");
    let crash = refusal_of(&call("crash", 4).await);
    assert_eq!(crash["refusal"], "upstream-unavailable", "{crash}");
    // Relaunched (after back-off) and answering again.
    let mut recovered = false;
    for id in 5..60 {
        let reply = call("ok", id).await;
        if reply.json().unwrap()["result"]["content"][0]["text"] == "fine" {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "the crashed server was never relaunched");
    let event = harness
        .event(garbage["decision_id"].as_str().unwrap())
        .await;
    assert_eq!(event.refusal, Some(RefusalKind::UpstreamUnavailable));
    assert!(
        event
            .reason
            .unwrap_or_default()
            .contains("no `content` array")
    );
    harness.stop().await;
}

async fn flaky_session(harness: &Harness, token: &str) -> String {
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    let reply = post_to(harness, "flaky", token, &[], &init.to_string()).await;
    reply.headers["mcp-session-id"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn oversize_messages_and_revoked_credentials_are_refused() {
    let (harness, token) = start().await;
    let session = session(&harness, &token).await;
    // The harness limits request bodies to 1024 bytes.
    let big = json!({"name": "echo", "arguments": {"message": "x".repeat(2000)}});
    let oversize = in_session(&harness, &token, &session, 1, "tools/call", big).await;
    assert_eq!(oversize.status, 413, "{}", oversize.text());
    assert_eq!(oversize.json().unwrap()["error"]["code"], -32600);

    let revoked = harness
        .control(
            Method::POST,
            "/v1/revocations",
            &json!({"kind": "agent", "subject": crate::harness::AGENT, "reason": "test"})
                .to_string(),
        )
        .await;
    assert!(revoked.status.is_success(), "{}", revoked.text());
    let after = in_session(
        &harness,
        &token,
        &session,
        2,
        "tools/call",
        json!({"name": "echo", "arguments": {"message": "x"}}),
    )
    .await;
    assert_eq!(after.status, 401, "{}", after.text());
    harness.stop().await;
}

/// `trigger-long-running-operation` (it reports progress when given a token) mapped and
/// permitted, on top of [`servers`].
async fn start_with_progress() -> Harness {
    let mut config = servers();
    config.push_str(
        r#"
[mcp_servers.everything.tools.trigger-long-running-operation]
intent = "everything.long"
access = "read"
"#,
    );
    let policy = format!(
        "{POLICY}\npermit (principal in Gatehouse::Group::\"triage\", action == Gatehouse::Action::\"everything.long\", resource);"
    );
    let mut intents = INTENTS.to_vec();
    intents.push("everything.long");
    Harness::builder()
        .mcp(&config, &intents, &policy)
        .start()
        .await
}

/// An answer as it arrived: each SSE event's message with the time it came, or the JSON
/// body as the one message.
struct Streamed {
    content_type: String,
    decision: String,
    messages: Vec<(Instant, Value)>,
    text: String,
}

impl Streamed {
    fn last(&self) -> &Value {
        &self.messages.last().unwrap().1
    }

    /// Every message but the last (the answer).
    fn notifications(&self) -> Vec<&Value> {
        let (_, before) = self.messages.split_last().unwrap();
        before.iter().map(|(_, message)| message).collect()
    }
}

/// A JSON-RPC POST whose answer is read frame by frame; `first` fires at the first SSE
/// event.
async fn post_streaming(
    harness: &Harness,
    server: &str,
    token: &str,
    headers: &[(&str, &str)],
    body: &Value,
    mut first: Option<oneshot::Sender<()>>,
) -> Streamed {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    let mut request = Request::post(harness.data_url(&format!("/mcp/{server}")))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap();
    let response = tokio::time::timeout(LONG, client.request(request))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(response.status(), 200);
    let header = |name: &str| {
        let value = response.headers().get(name);
        value.map_or("", |value| value.to_str().unwrap()).to_owned()
    };
    let (content_type, decision) = (header("content-type"), header("gatehouse-decision-id"));
    let events = content_type == "text/event-stream";
    let mut body = response.into_body();
    let (mut text, mut pending, mut messages) = (String::new(), String::new(), Vec::new());
    while let Some(frame) = tokio::time::timeout(LONG, body.frame()).await.unwrap() {
        let Ok(data) = frame.unwrap().into_data() else {
            continue;
        };
        let chunk = std::str::from_utf8(&data).unwrap();
        text.push_str(chunk);
        pending.push_str(chunk);
        while let Some(end) = pending.find("\n\n").filter(|_| events) {
            let event: String = pending.drain(..end + 2).collect();
            let data = event.lines().find_map(|line| line.strip_prefix("data: "));
            messages.push((Instant::now(), serde_json::from_str(data.unwrap()).unwrap()));
            if let Some(first) = first.take() {
                let _ = first.send(());
            }
        }
    }
    if !events {
        messages.push((Instant::now(), serde_json::from_str(&text).unwrap()));
    }
    Streamed {
        content_type,
        decision,
        messages,
        text,
    }
}

/// A handshake-era session on `server`.
async fn session_on(harness: &Harness, server: &str, token: &str) -> String {
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    let reply = post_to(harness, server, token, &[], &init.to_string()).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let id = reply.headers["mcp-session-id"].to_str().unwrap().to_owned();
    let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let headers = [("mcp-session-id", id.as_str())];
    let ack = post_to(harness, server, token, &headers, &note.to_string()).await;
    assert_eq!(ack.status, 202, "{}", ack.text());
    id
}

fn tool_call(id: u64, name: &str, arguments: Value, progress: Option<Value>) -> Value {
    let mut params = json!({"name": name, "arguments": arguments});
    if let Some(token) = progress {
        params["_meta"] = json!({"progressToken": token});
    }
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params})
}

const SSE: &str = "application/json, text/event-stream";

#[tokio::test]
async fn a_progress_token_streams_the_servers_progress_with_the_agents_token_before_the_result() {
    let harness = start_with_progress().await;
    let token = harness.token_for("mcp").await;
    let session = session(&harness, &token).await;
    let long = |id, steps: u64, progress| {
        let arguments = json!({"duration": steps as f64 * 0.25, "steps": steps});
        tool_call(id, "trigger-long-running-operation", arguments, progress)
    };
    let headers = |accept| [("mcp-session-id", session.as_str()), ("accept", accept)];
    let call = long(1, 4, Some(json!("agent-token-1")));
    let streamed = post_streaming(&harness, "everything", &token, &headers(SSE), &call, None).await;
    assert_eq!(
        streamed.content_type, "text/event-stream",
        "{}",
        streamed.text
    );
    let progress: Vec<&Value> = streamed.notifications();
    assert_eq!(progress.len(), 4, "{}", streamed.text);
    for (step, note) in progress.iter().enumerate() {
        assert_eq!(note["method"], "notifications/progress");
        assert_eq!(
            note["params"],
            json!({"progressToken": "agent-token-1", "progress": step + 1, "total": 4})
        );
    }
    let answer = streamed.last();
    assert_eq!(answer["id"], 1);
    let text = answer["result"]["content"][0]["text"].as_str().unwrap();
    assert!(
        text.starts_with("Long running operation completed"),
        "{answer}"
    );
    assert!(
        !streamed.text.contains("gatehouse-progress-"),
        "Gatehouse's own token leaked"
    );
    // Streamed as it happened, not gathered up: the first step came long before the end.
    let (first, last) = (streamed.messages[0].0, streamed.messages[4].0);
    assert!(
        last - first >= Duration::from_millis(400),
        "{:?}",
        last - first
    );

    let event = harness.event(&streamed.decision).await;
    assert_eq!(event.status, 200);
    assert_eq!(event.intent.as_deref(), Some("everything.long"));
    assert!(event.bytes_out > 0);
    let reason = event.reason.unwrap_or_default();
    assert!(
        reason.contains("4 server notification(s) relayed"),
        "{reason}"
    );

    // An integer token comes back as the same integer.
    let call = long(2, 1, Some(json!(7)));
    let streamed = post_streaming(&harness, "everything", &token, &headers(SSE), &call, None).await;
    assert_eq!(streamed.notifications()[0]["params"]["progressToken"], 7);

    // The stateless era streams the same way, its result marked complete.
    let mut call = long(5, 1, None);
    call["params"]["_meta"] = json!({"progressToken": "modern",
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {}});
    let modern = [
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tools/call"),
        ("mcp-name", "trigger-long-running-operation"),
        ("accept", SSE),
    ];
    let streamed = post_streaming(&harness, "everything", &token, &modern, &call, None).await;
    assert_eq!(
        streamed.notifications()[0]["params"]["progressToken"],
        "modern"
    );
    assert_eq!(
        streamed.last()["result"]["resultType"],
        "complete",
        "{}",
        streamed.text
    );

    // No token, or no event stream accepted: one JSON answer, as before.
    for (id, accept, progress) in [(3, SSE, None), (4, "application/json", Some(json!("t")))] {
        let call = long(id, 1, progress);
        let plain = post_streaming(
            &harness,
            "everything",
            &token,
            &headers(accept),
            &call,
            None,
        )
        .await;
        assert_eq!(plain.content_type, "application/json", "{}", plain.text);
        assert_eq!(plain.messages.len(), 1);
        assert_eq!(plain.last()["id"], id);
        assert!(
            plain.last()["result"]["content"].is_array(),
            "{}",
            plain.text
        );
    }
    harness.stop().await;
}

#[tokio::test]
async fn a_revocation_mid_call_ends_the_stream_with_the_refusal_as_its_last_event() {
    let harness = start_with_progress().await;
    let token = harness.token_for("mcp").await;
    let session = session(&harness, &token).await;
    let arguments = json!({"duration": 10, "steps": 20});
    let call = tool_call(
        1,
        "trigger-long-running-operation",
        arguments,
        Some(json!("p")),
    );
    let headers = [("mcp-session-id", session.as_str()), ("accept", SSE)];
    let (first, progressed) = oneshot::channel();
    let started = Instant::now();
    let revoke = async {
        progressed.await.unwrap();
        let body = json!({"kind": "agent", "subject": crate::harness::AGENT, "reason": "test"});
        let revoked = harness
            .control(Method::POST, "/v1/revocations", &body.to_string())
            .await;
        assert!(revoked.status.is_success(), "{}", revoked.text());
    };
    let streaming = post_streaming(&harness, "everything", &token, &headers, &call, Some(first));
    let (streamed, ()) = tokio::join!(streaming, revoke);
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "the call was not ended"
    );
    assert_eq!(streamed.content_type, "text/event-stream");
    assert_eq!(streamed.messages[0].1["method"], "notifications/progress");
    let last = streamed.last();
    assert_eq!(last["id"], 1, "{last}");
    assert_eq!(
        last["error"]["data"]["refusal"], "unauthenticated",
        "{last}"
    );
    let event = harness.event(&streamed.decision).await;
    assert_eq!(event.refusal, Some(RefusalKind::Unauthenticated));
    assert_eq!(event.status, 200, "the stream had begun with 200");
    harness.stop().await;
}

#[tokio::test]
async fn over_http_progress_and_the_sessions_log_messages_stream_and_the_level_filters_them() {
    let (remote_port, fixture_port) = (free_port(), free_port());
    let (remote, fixture) = tokio::join!(
        HttpEverything::start(remote_port),
        HttpEverything::fixture(fixture_port)
    );
    let address = |port: u16| format!("127.0.0.1:{port}").parse().unwrap();
    let mut config = http_server("remote", address(remote_port), "timeout_ms = 20000");
    config.push_str(&http_server(
        "fixture",
        address(fixture_port),
        "timeout_ms = 20000",
    ));
    config.push_str(
        r#"
[mcp_servers.remote.tools.trigger-long-running-operation]
intent = "remote.long"
access = "read"

[mcp_servers.fixture.tools.test_tool_with_logging]
intent = "fixture.tools"
access = "read"

[mcp_servers.fixture.tools.test_tool_with_progress]
intent = "fixture.tools"
access = "read"
"#,
    );
    let policy = r#"
permit (principal, action == Gatehouse::Action::"remote.long", resource);
permit (principal, action == Gatehouse::Action::"fixture.tools", resource);
"#;
    let harness = Harness::builder()
        .mcp(&config, &["remote.long", "fixture.tools"], policy)
        .start()
        .await;

    // server-everything over Streamable HTTP: progress on the request's own stream.
    let token = harness.token_in("mcp", "wf-remote").await;
    let session = session_on(&harness, "remote", &token).await;
    let headers = [("mcp-session-id", session.as_str()), ("accept", SSE)];
    let arguments = json!({"duration": 0.5, "steps": 2});
    let call = tool_call(
        1,
        "trigger-long-running-operation",
        arguments,
        Some(json!("remote-1")),
    );
    let streamed = post_streaming(&harness, "remote", &token, &headers, &call, None).await;
    assert_eq!(
        streamed.content_type, "text/event-stream",
        "{}",
        streamed.text
    );
    let tokens: Vec<&Value> = streamed
        .notifications()
        .iter()
        .map(|note| &note["params"]["progressToken"])
        .collect();
    assert_eq!(tokens, [&json!("remote-1"), &json!("remote-1")]);
    assert!(
        streamed.last()["result"]["content"].is_array(),
        "{}",
        streamed.text
    );

    // The fixture: log messages once the session set a level, and only at or above it.
    let token = harness.token_in("mcp", "wf-fixture").await;
    let logging = |id| tool_call(id, "test_tool_with_logging", json!({}), None);
    let level = |session: &str, level: &str| {
        let body = json!({"jsonrpc": "2.0", "id": 100, "method": "logging/setLevel", "params": {"level": level}});
        let session = session.to_owned();
        let harness = &harness;
        let token = token.clone();
        async move {
            let headers = [("mcp-session-id", session.as_str())];
            let set = post_to(harness, "fixture", &token, &headers, &body.to_string()).await;
            assert_eq!(set.json().unwrap()["result"], json!({}), "{}", set.text());
        }
    };
    let chatty = session_on(&harness, "fixture", &token).await;
    level(&chatty, "debug").await;
    let headers = [("mcp-session-id", chatty.as_str()), ("accept", SSE)];
    let streamed = post_streaming(&harness, "fixture", &token, &headers, &logging(1), None).await;
    assert_eq!(
        streamed.content_type, "text/event-stream",
        "{}",
        streamed.text
    );
    let logs: Vec<&Value> = streamed
        .notifications()
        .iter()
        .map(|note| &note["params"]["data"])
        .collect();
    assert_eq!(
        logs,
        [
            &json!("Tool execution started"),
            &json!("Tool processing data"),
            &json!("Tool execution completed")
        ]
    );
    assert_eq!(
        streamed.last()["result"]["content"][0]["text"],
        "Tool with logging executed"
    );

    let quiet = session_on(&harness, "fixture", &token).await;
    level(&quiet, "error").await;
    let unset = session_on(&harness, "fixture", &token).await;
    for (id, session) in [(2, &quiet), (3, &unset)] {
        let headers = [("mcp-session-id", session.as_str()), ("accept", SSE)];
        let plain = post_streaming(&harness, "fixture", &token, &headers, &logging(id), None).await;
        assert_eq!(plain.content_type, "application/json", "{}", plain.text);
        assert_eq!(
            plain.last()["result"]["content"][0]["text"],
            "Tool with logging executed"
        );
    }

    // A progress token without a level: the progress, with the agent's token.
    let headers = [("mcp-session-id", unset.as_str()), ("accept", SSE)];
    let call = tool_call(4, "test_tool_with_progress", json!({}), Some(json!(41)));
    let streamed = post_streaming(&harness, "fixture", &token, &headers, &call, None).await;
    let progress: Vec<&Value> = streamed
        .notifications()
        .iter()
        .map(|note| &note["params"])
        .collect();
    assert_eq!(
        progress,
        [
            &json!({"progressToken": 41, "progress": 0, "total": 100}),
            &json!({"progressToken": 41, "progress": 50, "total": 100}),
            &json!({"progressToken": 41, "progress": 100, "total": 100}),
        ]
    );
    harness.stop().await;
    remote.stop().await;
    fixture.stop().await;
}

async fn quarantine(harness: &Harness, kind: &str, subject: &str) -> String {
    let body = json!({"kind": kind, "subject": subject, "for_secs": 600, "reason": "test"});
    let reply = harness
        .control(Method::POST, "/v1/quarantines", &body.to_string())
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json().unwrap()["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_quarantined_mcp_intent_or_server_refuses_an_allowed_call_as_a_tool_error_until_lifted() {
    let (harness, token) = start().await;
    let session = session(&harness, &token).await;
    let echo = json!({"name": "echo", "arguments": {"message": "hi"}});
    for (n, (kind, subject)) in [("intent", "everything.echo"), ("tool", "everything")]
        .into_iter()
        .enumerate()
    {
        let id = quarantine(&harness, kind, subject).await;
        let base = 10 * (n as u64 + 1);
        let refused =
            in_session(&harness, &token, &session, base, "tools/call", echo.clone()).await;
        let refusal = refusal_of(&refused);
        assert_eq!(refusal["refusal"], "quarantined", "{kind}: {refusal}");
        let lifted = harness
            .control(Method::DELETE, &format!("/v1/quarantines/{id}"), "")
            .await;
        assert_eq!(lifted.status, 200);
        let allowed = in_session(
            &harness,
            &token,
            &session,
            base + 1,
            "tools/call",
            echo.clone(),
        )
        .await;
        let body = allowed.json().unwrap();
        assert_eq!(
            body["result"]["content"][0]["text"], "Echo: hi",
            "{kind}: {body}"
        );
    }
    harness.stop().await;
}

#[tokio::test]
async fn a_quarantine_mid_call_ends_the_stream_with_the_refusal_as_its_last_event() {
    let harness = start_with_progress().await;
    let token = harness.token_for("mcp").await;
    let session = session(&harness, &token).await;
    let arguments = json!({"duration": 10, "steps": 20});
    let call = tool_call(
        1,
        "trigger-long-running-operation",
        arguments,
        Some(json!("p")),
    );
    let headers = [("mcp-session-id", session.as_str()), ("accept", SSE)];
    let (first, progressed) = oneshot::channel();
    let started = Instant::now();
    let quarantined = async {
        progressed.await.unwrap();
        quarantine(&harness, "tool", "everything").await;
    };
    let streaming = post_streaming(&harness, "everything", &token, &headers, &call, Some(first));
    let (streamed, ()) = tokio::join!(streaming, quarantined);
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "the call was not ended"
    );
    let last = streamed.last();
    assert_eq!(last["id"], 1, "{last}");
    assert_eq!(last["result"]["isError"], true, "{last}");
    let event = harness.event(&streamed.decision).await;
    assert_eq!(event.refusal, Some(RefusalKind::Quarantined));
    harness.stop().await;
}

#[tokio::test]
async fn an_observed_segment_forwards_an_mcp_call_policy_would_deny_and_records_it() {
    let harness = Harness::builder()
        .mcp(&servers(), INTENTS, POLICY)
        .edit("[segments.data]", "[segments.data]\nenforce = false")
        .start()
        .await;
    let token = harness.token_for("mcp").await;
    let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                      "io.modelcontextprotocol/clientCapabilities": {}});
    let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "get-sum", "arguments": {"a": 200, "b": 1}, "_meta": meta}});
    let headers = [
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tools/call"),
        ("mcp-name", "get-sum"),
    ];
    let reply = post(&harness, &token, &headers, &call.to_string()).await;
    let body = reply.json().unwrap();
    assert_eq!(
        body["result"]["content"][0]["text"], "The sum of 200 and 1 is 201.",
        "{body}"
    );
    let events = harness
        .events_until("intent=math.sum", |event| event.observed.is_some(), 1)
        .await;
    let event = events
        .iter()
        .find(|event| event.observed.is_some())
        .unwrap();
    assert_eq!(
        event.observed,
        Some(Observed::Would(vec![Would::Deny(
            RefusalKind::PolicyDenied
        )]))
    );
    assert!(event.refusal.is_none());
    harness.stop().await;
}

#[tokio::test]
async fn forensics_records_an_mcp_call_as_the_json_rpc_exchange() {
    let (harness, token) = start().await;
    let on = json!({ "kind": "agent", "subject": crate::harness::AGENT });
    let turned_on = harness
        .control(Method::POST, "/v1/forensics", &on.to_string())
        .await;
    assert_eq!(turned_on.status, 200, "{}", turned_on.text());
    let session = session(&harness, &token).await;
    let echo = in_session(
        &harness,
        &token,
        &session,
        2,
        "tools/call",
        json!({"name": "echo", "arguments": {"message": "for the record"}}),
    )
    .await;
    assert_eq!(
        echo.json().unwrap()["result"]["content"][0]["text"],
        "Echo: for the record"
    );
    let id = echo.headers["gatehouse-decision-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let recorded = crate::forensics::recording(&harness, &id).await;
    let request: Value = serde_json::from_str(recorded["request"].as_str().unwrap()).unwrap();
    assert_eq!(request["method"], "tools/call");
    assert_eq!(request["params"]["arguments"]["message"], "for the record");
    let response: Value = serde_json::from_str(recorded["response"].as_str().unwrap()).unwrap();
    assert_eq!(
        response["result"]["content"][0]["text"],
        "Echo: for the record"
    );
    assert_eq!(recorded["tool"], "everything");
    // The event keeps what the decide phase gave Cedar, arguments included, for replay.
    let decide = harness.event(&id).await.decide.unwrap();
    assert!(decide.allowed);
    assert_eq!(
        decide.args.unwrap()["message"],
        gatehouse_core::model::AttrValue::String("for the record".to_owned())
    );
    harness.stop().await;
}

/// The MCP face judges calls against the baseline as the HTTP face does: with a week of
/// `everything.echo` learned, a first `math.sum` is flagged `new-intent` on its event
/// and still answered (the flag raises nothing unless configured), and an echo is not.
#[tokio::test]
async fn an_mcp_call_of_an_intent_never_seen_is_flagged_new_intent() {
    use gatehouse_core::baseline::anomaly::{Anomaly, AnomalySet};
    use gatehouse_core::baseline::{HourCount, MS_PER_HOUR, hour_of};
    use gatehouse_core::clock::Clock;

    let (harness, token) = start().await;
    let state = harness.gateway().state();
    let now = harness.clock.now().millis();
    let week: Vec<HourCount> = (1..=7 * 24)
        .map(|back| HourCount {
            agent: crate::harness::AGENT.to_owned(),
            intent: "everything.echo".to_owned(),
            hour: hour_of(now - back * MS_PER_HOUR),
            calls: 1,
            bytes: 100,
        })
        .collect();
    state.store.add_hour_counts(&week).unwrap();
    state.baselines.learn(now).await.unwrap();
    let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                      "io.modelcontextprotocol/clientCapabilities": {}});
    let call = |name: &str, arguments: Value| {
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
               "params": {"name": name, "arguments": arguments, "_meta": meta}})
        .to_string()
    };
    let anomaly_of = async |name: &str, arguments: Value| {
        let headers = [
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/call"),
            ("mcp-name", name),
        ];
        let reply = post(&harness, &token, &headers, &call(name, arguments)).await;
        assert!(
            reply.json().unwrap()["result"].is_object(),
            "{}",
            reply.text()
        );
        let decision = reply.headers["gatehouse-decision-id"]
            .to_str()
            .unwrap()
            .to_owned();
        harness.event(&decision).await.anomaly
    };
    let sum = anomaly_of("get-sum", json!({"a": 2, "b": 1})).await;
    assert_eq!(sum, AnomalySet::EMPTY.with(Anomaly::NewIntent));
    let echo = anomaly_of("echo", json!({"message": "hi"})).await;
    assert_eq!(echo, AnomalySet::EMPTY);
    harness.stop().await;
}
