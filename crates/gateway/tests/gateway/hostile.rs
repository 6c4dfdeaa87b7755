//! Hostile requests against the real gateway (issue 13 item 2): what an upstream
//! framework could read as another call than the one decided. Every case asserts what
//! the recording upstream received, or that it received nothing; malformed HTTP goes
//! over raw TCP sockets, since a well-behaved client cannot send it.

use std::time::Duration;

use gatehouse_core::refusal::RefusalKind;
use gatehouse_kit::client::{Reply, send};
use http::{HeaderMap, Method};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::{AGENT, Harness, SECRET, Seen, decision_id, problem_kind};

/// What reached the `tickets` tool (the webhook shares the recording upstream).
fn tool_seen(harness: &Harness) -> Vec<Seen> {
    harness
        .upstream
        .seen()
        .into_iter()
        .filter(|seen| seen.uri.starts_with("/api/"))
        .collect()
}

/// A tool call with extra headers.
async fn call_with(
    harness: &Harness,
    method: Method,
    path: &str,
    token: &str,
    extra: &[(&str, &str)],
) -> Reply {
    let auth = format!("Bearer {token}");
    let mut headers = vec![("authorization", auth.as_str())];
    headers.extend_from_slice(extra);
    send(method, &harness.data_url(path), &headers, String::new())
        .await
        .unwrap()
}

/// Writes `request` on a fresh connection and reads until the gateway closes it.
async fn raw(harness: &Harness, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(harness.gateway().data_addr())
        .await
        .unwrap();
    stream.write_all(request).await.unwrap();
    let mut reply = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut reply)).await;
    String::from_utf8_lossy(&reply).into_owned()
}

/// A request head for `raw`, with the credential and `Connection: close`.
fn head(method: &str, target: &str, token: &str, extra: &str) -> String {
    format!(
        "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n{extra}\r\n"
    )
}

/// A chunked body of `chunks` chunks of `size` bytes.
fn chunked(chunks: usize, size: usize) -> String {
    let mut body = String::new();
    for _ in 0..chunks {
        body.push_str(&format!("{size:x}\r\n{}\r\n", "c".repeat(size)));
    }
    body.push_str("0\r\n\r\n");
    body
}

fn status_of(reply: &str) -> u16 {
    reply
        .split(' ')
        .nth(1)
        .and_then(|status| status.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {reply:?}"))
}

fn kind_of(reply: &str) -> String {
    let body = reply.split("\r\n\r\n").nth(1).unwrap_or_default();
    let json: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|_| panic!("no problem document in {reply:?}"));
    json["type"]
        .as_str()
        .unwrap()
        .trim_start_matches("urn:gatehouse:problem:")
        .to_owned()
}

fn values(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn method_override_and_url_rewrite_headers_are_refused_with_an_event_and_never_forwarded() {
    let harness = Harness::start().await;
    let token = harness.token().await;
    for (name, value) in [
        ("x-http-method-override", "DELETE"),
        ("x-http-method", "DELETE"),
        ("x-method-override", "DELETE"),
        ("x-original-url", "/admin/tickets"),
        ("x-rewrite-url", "/admin/tickets"),
        ("X_HTTP_Method_Override", "DELETE"),
        ("x_original_url", "/admin"),
    ] {
        let reply = call_with(
            &harness,
            Method::GET,
            "/tools/tickets/tickets/1",
            &token,
            &[(name, value)],
        )
        .await;
        assert_eq!(reply.status, 400, "{name}: {}", reply.text());
        assert_eq!(problem_kind(&reply), "unsafe-request", "{name}");
        let event = harness.event(&decision_id(&reply)).await;
        assert_eq!(event.refusal, Some(RefusalKind::UnsafeRequest), "{name}");
    }
    assert!(tool_seen(&harness).is_empty(), "{:?}", tool_seen(&harness));
}

#[tokio::test]
async fn a_method_parameter_is_refused_unless_the_route_opts_in() {
    let harness = Harness::start().await;
    let token = harness.token().await;
    for query in [
        "_method=DELETE",
        "a=1&_METHOD=delete",
        "%5Fmethod=DELETE",
        "_m%65thod=DELETE",
        "%5F%4D%45THOD=DELETE",
    ] {
        let path = format!("/tools/tickets/tickets/1?{query}");
        let reply = harness.call(Method::GET, &path, &token, "").await;
        assert_eq!(reply.status, 400, "{query}: {}", reply.text());
        assert_eq!(problem_kind(&reply), "unsafe-request");
    }
    assert!(tool_seen(&harness).is_empty());
    harness.stop().await;

    let harness = Harness::builder()
        .edit(
            r#"{ method = "GET", path = "/tickets/{id}", intent = "ticket.read" }"#,
            r#"{ method = "GET", path = "/tickets/{id}", intent = "ticket.read", method_param = true }"#,
        )
        .start()
        .await;
    let token = harness.token().await;
    let reply = harness
        .call(
            Method::GET,
            "/tools/tickets/tickets/1?_method=PATCH",
            &token,
            "",
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let seen = tool_seen(&harness);
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].uri, "/api/tickets/1?_method=PATCH");
}

#[tokio::test]
async fn forwarding_headers_from_the_agent_are_replaced_by_gatehouses_own() {
    let harness = Harness::start().await;
    let token = harness.token().await;
    let reply = call_with(
        &harness,
        Method::GET,
        "/tools/tickets/tickets/1",
        &token,
        &[
            ("forwarded", "for=203.0.113.9;host=evil.example;proto=https"),
            ("x-forwarded-for", "203.0.113.9"),
            ("X_Forwarded_For", "198.51.100.1"),
            ("x-forwarded-host", "evil.example"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-prefix", "/admin"),
            ("x-forwarded-port", "443"),
            ("x-real-ip", "203.0.113.9"),
            ("x_real_ip", "203.0.113.9"),
        ],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let seen = tool_seen(&harness);
    assert_eq!(seen.len(), 1);
    let headers = &seen[0].headers;
    let data = harness.gateway().data_addr().to_string();
    assert_eq!(values(headers, "x-forwarded-for"), ["127.0.0.1"]);
    assert_eq!(values(headers, "x-forwarded-host"), [data.as_str()]);
    assert_eq!(values(headers, "x-forwarded-proto"), ["http"]);
    assert_eq!(
        values(headers, "forwarded"),
        [format!("for=127.0.0.1;proto=http;host=\"{data}\"")]
    );
    for gone in ["x-forwarded-prefix", "x-forwarded-port", "x-real-ip"] {
        assert!(!headers.contains_key(gone), "{gone} reached the tool");
    }
    assert!(
        headers.keys().all(|name| !name.as_str().contains('_')),
        "an underscore variant reached the tool: {headers:?}"
    );
}

#[tokio::test]
async fn underscore_variants_of_gatehouse_and_credential_headers_never_reach_the_tool() {
    let harness = Harness::start().await;
    let token = harness.token().await;
    let reply = call_with(
        &harness,
        Method::GET,
        "/tools/tickets/tickets/1",
        &token,
        &[
            ("Gatehouse_Agent", "spiffe://evil/agent"),
            ("GATEHOUSE_WORKFLOW", "wf-evil"),
            ("gatehouse_decision_id", "forged"),
            ("gatehouse-agent", "spiffe://evil/agent"),
            ("proxy_authorization", "Basic Zm9vOmJhcg=="),
        ],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let seen = tool_seen(&harness);
    assert_eq!(seen.len(), 1);
    let headers = &seen[0].headers;
    assert_eq!(values(headers, "gatehouse-agent"), [AGENT]);
    assert_eq!(values(headers, "gatehouse-workflow"), ["wf-1"]);
    assert_eq!(
        values(headers, "gatehouse-decision-id"),
        [decision_id(&reply)]
    );
    assert_eq!(
        values(headers, "authorization"),
        [format!("Bearer {SECRET}")]
    );
    assert!(
        headers.keys().all(|name| !name.as_str().contains('_')),
        "{headers:?}"
    );
}

#[tokio::test]
async fn websocket_and_h2c_upgrades_are_refused_and_never_forwarded() {
    let harness = Harness::start().await;
    let token = harness.token().await;
    for upgrade in [
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n",
        "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n",
    ] {
        let request = head("GET", "/tools/tickets/tickets/1", &token, upgrade);
        let reply = raw(&harness, request.as_bytes()).await;
        assert_eq!(status_of(&reply), 400, "{reply}");
        assert_eq!(kind_of(&reply), "unsafe-request");
    }
    assert!(tool_seen(&harness).is_empty());
}

#[tokio::test]
async fn compatibility_forms_semicolons_and_fragments_in_the_path_are_refused() {
    let harness = Harness::start().await;
    let token = harness.token().await;
    for path in [
        "/tools/tickets/tickets/%EF%BC%8E%EF%BC%8E",
        "/tools/tickets/tickets/x%EF%BC%8Fy",
        "/tools/tickets/tickets/%E2%80%A5",
        "/tools/tickets/tickets/1;jsessionid=abc",
        "/tools/tickets/tickets/1%3bx",
        "/tools/tickets/tickets/1%3B",
        "/tools/tickets/tickets/%EF%BC%9Bx",
    ] {
        let reply = harness.call(Method::GET, path, &token, "").await;
        assert_eq!(reply.status, 400, "{path}: {}", reply.text());
        assert_eq!(problem_kind(&reply), "ambiguous-path", "{path}");
    }
    assert!(tool_seen(&harness).is_empty(), "{:?}", tool_seen(&harness));
    // A raw `#` never gets this far: hyper's parser drops the fragment, so the tool runs
    // the path that was decided and never sees the fragment.
    for target in [
        "/tools/tickets/tickets/1#frag",
        "/tools/tickets/tickets/1?a=b#frag",
    ] {
        let reply = raw(&harness, head("GET", target, &token, "").as_bytes()).await;
        assert!(matches!(status_of(&reply), 200 | 400), "{target}: {reply}");
    }
    let seen: Vec<String> = tool_seen(&harness)
        .into_iter()
        .map(|seen| seen.uri)
        .collect();
    assert!(
        seen.iter()
            .all(|uri| uri == "/api/tickets/1" || uri == "/api/tickets/1?a=b"),
        "{seen:?}"
    );
    harness.stop().await;

    let harness = Harness::builder()
        .edit(
            r#"{ method = "GET", path = "/tickets/{id}", intent = "ticket.read" }"#,
            r#"{ method = "GET", path = "/tickets/{id}", intent = "ticket.read", matrix_params = true }"#,
        )
        .start()
        .await;
    let token = harness.token().await;
    let reply = harness
        .call(Method::GET, "/tools/tickets/tickets/1;v=2", &token, "")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(tool_seen(&harness)[0].uri, "/api/tickets/1;v=2");
}

/// The harness's `tiny` class has a byte budget of 4096; here bodies may be far larger.
async fn roomy() -> Harness {
    Harness::builder()
        .edit("max_request_body = 1024", "max_request_body = 65536")
        .start()
        .await
}

#[tokio::test]
async fn a_chunked_body_over_the_byte_budget_is_refused_before_the_tool_sees_a_byte() {
    let harness = roomy().await;
    let token = harness.token_in("tiny", "wf-chunked").await;
    let body = chunked(6, 1000);
    let request = head(
        "POST",
        "/tools/tickets/tickets",
        &token,
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n",
    ) + &body;
    let reply = raw(&harness, request.as_bytes()).await;
    assert_eq!(status_of(&reply), 429, "{reply}");
    assert_eq!(kind_of(&reply), "budget-exhausted");
    assert!(tool_seen(&harness).is_empty(), "{:?}", tool_seen(&harness));

    // Under the budget, the whole body reaches the tool, framed by its length.
    let token = harness.token_in("tiny", "wf-chunked-small").await;
    let request = head(
        "POST",
        "/tools/tickets/tickets",
        &token,
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n",
    ) + &chunked(3, 500);
    let reply = raw(&harness, request.as_bytes()).await;
    assert_eq!(status_of(&reply), 200, "{reply}");
    let seen = tool_seen(&harness);
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].body.len(), 1500);
    assert_eq!(values(&seen[0].headers, "content-length"), ["1500"]);
    assert!(!seen[0].headers.contains_key("transfer-encoding"));
}

#[tokio::test]
async fn a_chunked_body_over_the_size_limit_is_refused_before_the_tool_sees_a_byte() {
    let harness = Harness::start().await;
    let token = harness.token().await;
    let request = head(
        "POST",
        "/tools/tickets/tickets",
        &token,
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n",
    ) + &chunked(3, 1000);
    let reply = raw(&harness, request.as_bytes()).await;
    assert_eq!(status_of(&reply), 413, "{reply}");
    assert!(tool_seen(&harness).is_empty(), "{:?}", tool_seen(&harness));
}

#[tokio::test]
async fn malformed_chunking_is_the_agents_400_and_spends_no_budget() {
    let harness = Harness::start().await;
    let token = harness.token_in("tiny", "wf-bad-chunks").await;
    for body in [
        "zz\r\nhello\r\n0\r\n\r\n",
        "5\r\nhelloXX\r\n0\r\n\r\n",
        "ffffffffffffffffff\r\nx\r\n0\r\n\r\n",
    ] {
        let request = head(
            "POST",
            "/tools/tickets/tickets",
            &token,
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n",
        ) + body;
        let reply = raw(&harness, request.as_bytes()).await;
        assert_eq!(status_of(&reply), 400, "{body:?}: {reply}");
        assert_eq!(kind_of(&reply), "malformed-body", "{body:?}");
    }
    assert!(tool_seen(&harness).is_empty(), "{:?}", tool_seen(&harness));
    let workflow = harness
        .control(Method::GET, "/v1/workflows/wf-bad-chunks", "")
        .await
        .json()
        .unwrap();
    assert_eq!(workflow["usage"]["calls"], 0, "{workflow}");
}

#[tokio::test]
async fn conflicting_framing_headers_are_refused_before_anything_is_forwarded() {
    let harness = Harness::start().await;
    let token = harness.token().await;
    let duplicate_length = head(
        "POST",
        "/tools/tickets/tickets",
        &token,
        "Content-Length: 2\r\nContent-Length: 40\r\n",
    ) + "{}";
    let reply = raw(&harness, duplicate_length.as_bytes()).await;
    assert_eq!(status_of(&reply), 400, "{reply}");
    // A smuggling attempt: the second request rides in what one reader takes for a body.
    let smuggle = head(
        "POST",
        "/tools/tickets/tickets",
        &token,
        "Content-Length: 60\r\nTransfer-Encoding: chunked\r\n",
    ) + "0\r\n\r\nGET /tools/tickets/tickets/2 HTTP/1.1\r\nHost: x\r\n\r\n";
    let _ = raw(&harness, smuggle.as_bytes()).await;
    let seen = tool_seen(&harness);
    assert!(
        seen.iter().all(|seen| seen.uri != "/api/tickets/2"),
        "a smuggled request reached the tool: {seen:?}"
    );
    assert!(seen.len() <= 1, "{seen:?}");
}

#[tokio::test]
async fn a_response_cut_at_the_byte_budget_has_a_status_line_and_a_clear_end() {
    let harness = Harness::start().await;
    let token = harness.token_in("tiny", "wf-cut").await;
    let request = head("GET", "/tools/tickets/big", &token, "");
    let reply = raw(&harness, request.as_bytes()).await;
    assert_eq!(status_of(&reply), 200, "{reply:.200}");
    let seen = tool_seen(&harness);
    assert_eq!(seen.len(), 1, "the call reached the tool once");
    let (head, body) = reply.split_once("\r\n\r\n").unwrap();
    // What was sent fits the budget, and the agent can tell it is cut: fewer bytes than
    // the length the tool declared, then the connection closes.
    // Exactly the budget arrives: the agent gets every byte it was charged for.
    let data: usize = body.matches('b').count();
    assert_eq!(data, 4096, "{data} bytes on a 4096-byte budget");
    let declared = head
        .to_ascii_lowercase()
        .lines()
        .find_map(|line| line.strip_prefix("content-length: ")?.parse::<usize>().ok())
        .unwrap();
    assert_eq!(declared, 10_000);
    assert!(body.len() < declared, "the cut body looks complete");
    let event = harness.event(&reply_decision(head)).await;
    assert_eq!(event.refusal, Some(RefusalKind::BudgetExhausted));
}

fn reply_decision(head: &str) -> String {
    head.lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("gatehouse-decision-id")
                .then(|| value.trim().to_owned())
        })
        .unwrap()
}

/// A gateway with one HTTP MCP server (never reached: Gatehouse answers `initialize`).
async fn with_mcp() -> Harness {
    let unreachable = "127.0.0.1:9".parse().unwrap();
    Harness::builder()
        .mcp(
            &crate::mcp_upstream::servers::http(
                "remote",
                unreachable,
                "[mcp_servers.remote.tools.echo]\nintent = \"remote.read\"\naccess = \"read\"",
            ),
            &["remote.read"],
            "",
        )
        .start()
        .await
}

/// An `initialize` over HTTP/2 (prior knowledge) to `uri`, whose authority becomes
/// `:authority`; no `Host` header is sent.
async fn h2_initialize(harness: &Harness, uri: &str, token: &str) -> http::StatusCode {
    use http_body_util::Full;
    let stream = TcpStream::connect(harness.gateway().data_addr())
        .await
        .unwrap();
    let (mut sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .unwrap();
    tokio::spawn(connection);
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "h2", "version": "1"}}});
    let request = http::Request::post(uri)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(Full::new(bytes::Bytes::from(body.to_string())))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert!(!response.headers().contains_key("host"));
    response.status()
}

#[tokio::test]
async fn an_http2_authority_is_checked_against_dns_rebinding_as_host_is() {
    let harness = with_mcp().await;
    let token = harness.token_for("mcp").await;
    let port = harness.gateway().data_addr().port();
    let foreign = h2_initialize(
        &harness,
        &format!("http://rebound.example:{port}/mcp/remote"),
        &token,
    )
    .await;
    assert_eq!(foreign, 403);
    let local = h2_initialize(
        &harness,
        &format!("http://127.0.0.1:{port}/mcp/remote"),
        &token,
    )
    .await;
    assert_eq!(local, 200);
    let events = harness
        .events_until(
            "decision=deny",
            |event| event.refusal == Some(RefusalKind::OriginRejected),
            1,
        )
        .await;
    assert!(!events.is_empty());
}

#[tokio::test]
async fn underscore_and_case_variants_of_the_tools_secret_header_never_reach_it() {
    let harness = Harness::builder()
        .edit(
            r#"auth = { secret_file = "tickets.secret" }"#,
            r#"auth = { header = "x-api-key", prefix = "", secret_file = "tickets.secret" }"#,
        )
        .start()
        .await;
    let token = harness.token().await;
    let reply = call_with(
        &harness,
        Method::GET,
        "/tools/tickets/tickets/1",
        &token,
        &[
            ("X_API_KEY", "agent-chosen"),
            ("x_api-key", "agent-chosen"),
            ("X-Api-Key", "agent-chosen"),
        ],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let seen = tool_seen(&harness);
    assert_eq!(seen.len(), 1);
    assert_eq!(values(&seen[0].headers, "x-api-key"), [SECRET]);
    assert!(!seen[0].headers.contains_key("authorization"));
    assert!(
        seen[0]
            .headers
            .keys()
            .all(|name| !name.as_str().contains('_')),
        "{:?}",
        seen[0].headers
    );
}

#[tokio::test]
async fn a_method_field_in_a_form_body_is_refused_and_other_forms_pass_whole() {
    let harness = Harness::start().await;
    let token = harness.token().await;
    let auth = format!("Bearer {token}");
    let url = harness.data_url("/tools/tickets/tickets");
    let form = "application/x-www-form-urlencoded";
    let multipart = "multipart/form-data; boundary=XyZ";
    let multipart_body =
        "--XyZ\r\nContent-Disposition: form-data; name=\"_method\"\r\n\r\nDELETE\r\n--XyZ--\r\n";
    for (content_type, body) in [
        (form, "title=x&_method=DELETE"),
        (form, "%5Fmethod=PUT"),
        (multipart, multipart_body),
    ] {
        let headers = [
            ("authorization", auth.as_str()),
            ("content-type", content_type),
        ];
        let reply = send(Method::POST, &url, &headers, body.to_owned())
            .await
            .unwrap();
        assert_eq!(reply.status, 400, "{body}: {}", reply.text());
        assert_eq!(problem_kind(&reply), "unsafe-request");
    }
    assert!(tool_seen(&harness).is_empty(), "{:?}", tool_seen(&harness));
    let headers = [("authorization", auth.as_str()), ("content-type", form)];
    let reply = send(
        Method::POST,
        &url,
        &headers,
        "title=disk+full&method=x".to_owned(),
    )
    .await
    .unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());
    let seen = tool_seen(&harness);
    assert_eq!(seen.len(), 1);
    assert_eq!(&seen[0].body[..], b"title=disk+full&method=x");
}
