//! Bounded resources (issue 13 item 1): idle connections are closed, and each listener
//! has its own connection cap, so a saturated data plane leaves the control plane
//! reachable.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use gatehouse_core::refusal::RefusalKind;
use gatehouse_kit::client::get_with_token;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::{Harness, OPERATOR_TOKEN};

async fn with_limits(limits: &str) -> Harness {
    Harness::builder()
        .edit(
            "upstream_timeout_ms = 1000",
            &format!("upstream_timeout_ms = 1000\n{limits}"),
        )
        .start()
        .await
}

/// Reads until the peer closes; `None` if it is still open after `wait`.
async fn closed_within(stream: &mut TcpStream, wait: Duration) -> Option<Vec<u8>> {
    let mut read = Vec::new();
    tokio::time::timeout(wait, stream.read_to_end(&mut read))
        .await
        .ok()
        .map(|_| read)
}

#[tokio::test]
async fn a_connection_that_never_sends_a_byte_is_closed_on_both_listeners() {
    let harness = with_limits("idle_timeout_ms = 300").await;
    let gateway = harness.gateway();
    for addr in [gateway.data_addr(), gateway.control_addr()] {
        let started = Instant::now();
        let mut silent = TcpStream::connect(addr).await.unwrap();
        let read = closed_within(&mut silent, Duration::from_secs(5)).await;
        assert_eq!(read, Some(Vec::new()), "{addr} kept a silent connection");
        assert!(started.elapsed() >= Duration::from_millis(250));
    }
}

#[tokio::test]
async fn a_kept_alive_connection_that_goes_quiet_is_closed() {
    let harness = with_limits("idle_timeout_ms = 300").await;
    let mut stream = TcpStream::connect(harness.gateway().control_addr())
        .await
        .unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let read = closed_within(&mut stream, Duration::from_secs(5)).await;
    let text = String::from_utf8(read.expect("the idle connection stayed open")).unwrap();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
}

#[tokio::test]
async fn an_http2_connection_that_goes_quiet_is_closed_too() {
    let harness = with_limits("idle_timeout_ms = 300").await;
    let stream = TcpStream::connect(harness.gateway().control_addr())
        .await
        .unwrap();
    let (mut sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .unwrap();
    let connection = tokio::spawn(connection);
    let request = http::Request::get("/healthz")
        .header(http::header::HOST, "127.0.0.1")
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), http::Version::HTTP_2);
    drop(response);
    let quiet = Instant::now();
    // The server's GOAWAY and close end the client's connection task: within two idle
    // periods of the last byte, and not before one.
    let ended = tokio::time::timeout(Duration::from_secs(5), connection).await;
    assert!(ended.is_ok(), "the idle HTTP/2 connection stayed open");
    assert!(
        quiet.elapsed() >= Duration::from_millis(250),
        "{:?}",
        quiet.elapsed()
    );
    assert!(sender.is_closed());
}

/// Connections that hold a slot without sending anything.
async fn hold(addr: SocketAddr, count: usize) -> Vec<TcpStream> {
    let mut held = Vec::new();
    for _ in 0..count {
        held.push(TcpStream::connect(addr).await.unwrap());
    }
    // Let the gateway accept them all before the next one arrives.
    tokio::time::sleep(Duration::from_millis(100)).await;
    held
}

#[tokio::test]
async fn a_saturated_data_plane_refuses_new_connections_and_the_control_plane_still_answers() {
    let harness = with_limits("max_data_connections = 4\nmax_control_connections = 4").await;
    let data = harness.gateway().data_addr();
    let mut held = hold(data, 4).await;
    let mut extra = TcpStream::connect(data).await.unwrap();
    let read = closed_within(&mut extra, Duration::from_secs(2)).await;
    assert_eq!(read, Some(Vec::new()), "a fifth data connection was kept");
    let health = get_with_token(&harness.control_url("/healthz"), OPERATOR_TOKEN)
        .await
        .unwrap();
    assert_eq!(health.status, 200);
    // A slot freed is a slot usable.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let keys = get_with_token(&harness.data_url("/v1/jwks.json"), "")
        .await
        .unwrap();
    assert_eq!(keys.status, 200);
}

#[tokio::test]
async fn token_requests_past_a_peers_burst_are_refused_before_their_assertion_is_read() {
    let harness = with_limits("token_rate_per_peer = 1\ntoken_burst_per_peer = 2").await;
    let token = harness.token_in("triage", "wf-burst-1").await;
    let _ = harness.token_in("triage", "wf-burst-2").await;
    // The third is refused whatever it carries: nothing in it is read.
    let assertion = harness.assertion();
    let refused = harness.exchange(&assertion, "wf-burst-3", "triage").await;
    assert_eq!(refused.status, 429, "{}", refused.text());
    assert_eq!(crate::harness::problem_kind(&refused), "rate-limited");
    let event = harness.event(&crate::harness::decision_id(&refused)).await;
    assert_eq!(event.refusal, Some(RefusalKind::RateLimited));
    // Its assertion was not spent: once the bucket refills it still buys a credential.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let later = harness.exchange(&assertion, "wf-burst-3", "triage").await;
    assert_eq!(later.status, 200, "{}", later.text());
    // Tool calls are not the token endpoint's business.
    for _ in 0..4 {
        let reply = harness
            .call(http::Method::GET, "/tools/tickets/tickets/1", &token, "")
            .await;
        assert_eq!(reply.status, 200);
    }
}

#[tokio::test]
async fn a_paused_workflow_parks_no_approval_and_the_tool_sees_nothing_more() {
    let harness = Harness::builder()
        .edit(
            r#"intents = ["ticket.read", "ticket.create", "stream.read", "big.read"]"#,
            r#"intents = ["ticket.read", "ticket.create", "stream.read", "big.read", "refund.create"]"#,
        )
        .start()
        .await;
    let token = harness.token_in("tiny", "wf-paused").await;
    // The tiny class allows 5 calls; the sixth pauses the workflow.
    for _ in 0..5 {
        let reply = harness
            .call(http::Method::GET, "/tools/tickets/tickets/1", &token, "")
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
    }
    let sixth = harness
        .call(http::Method::GET, "/tools/tickets/tickets/1", &token, "")
        .await;
    assert_eq!(sixth.status, 429);
    let seen = harness.upstream.seen().len();
    let parked = harness
        .call(http::Method::POST, "/tools/tickets/refunds", &token, "{}")
        .await;
    assert_eq!(parked.status, 429, "{}", parked.text());
    assert_eq!(crate::harness::problem_kind(&parked), "budget-exhausted");
    let approvals = harness
        .control(http::Method::GET, "/v1/approvals", "")
        .await
        .json()
        .unwrap();
    assert_eq!(
        approvals["approvals"].as_array().map(Vec::len),
        Some(0),
        "{approvals}"
    );
    // Only the owner's webhook may have been called since; never the tool.
    assert!(
        harness.upstream.seen()[seen..]
            .iter()
            .all(|seen| !seen.uri.starts_with("/api/")),
        "the paused workflow reached the tool"
    );
}

#[tokio::test]
async fn a_workflow_has_a_bounded_number_of_calls_waiting_for_approval() {
    let harness = Harness::start().await;
    let token = harness.token().await;
    let limit = gatehouse_gateway::pipeline::tier::MAX_PENDING_PER_WORKFLOW;
    for index in 0..limit {
        let body = format!(r#"{{"amount":{index}}}"#);
        let reply = harness
            .call(http::Method::POST, "/tools/tickets/refunds", &token, &body)
            .await;
        assert_eq!(reply.status, 202, "{index}: {}", reply.text());
    }
    let over = harness
        .call(http::Method::POST, "/tools/tickets/refunds", &token, "{}")
        .await;
    assert_eq!(over.status, 429, "{}", over.text());
    assert_eq!(crate::harness::problem_kind(&over), "too-many-pending");
    // Another workflow of the same agent has its own bound.
    let other = harness.token_in("triage", "wf-other").await;
    let reply = harness
        .call(http::Method::POST, "/tools/tickets/refunds", &other, "{}")
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text());
    assert!(
        harness
            .upstream
            .seen()
            .iter()
            .all(|seen| seen.uri != "/api/refunds"),
        "a parked call reached the tool"
    );
}
