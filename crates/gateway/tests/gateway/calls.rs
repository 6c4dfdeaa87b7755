//! Tool calls through the phases: what is allowed reaches the upstream with the tool's
//! secret and without the agent's credential; everything refused never reaches it.

use gatehouse_core::event::Outcome;
use gatehouse_core::refusal::RefusalKind;
use gatehouse_kit::client::send;
use http::Method;

use crate::harness::{AGENT, Harness, SECRET, decision_id, problem_kind};

#[tokio::test]
async fn an_allowed_call_reaches_the_upstream_with_its_secret_and_without_the_agents_credential() {
    let harness = Harness::start().await;
    let token = harness.token().await;
    let reply = harness
        .call(
            Method::POST,
            "/tools/tickets/tickets?team=a",
            &token,
            r#"{"title":"disk full"}"#,
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(
        reply.headers.get("x-upstream-private").is_none(),
        "connection-named header leaked"
    );
    let seen = harness.upstream.seen();
    assert_eq!(seen.len(), 1);
    let request = &seen[0];
    assert_eq!(request.uri, "/api/tickets?team=a");
    assert_eq!(
        request.headers["authorization"],
        format!("Bearer {SECRET}").as_str()
    );
    assert!(
        !request
            .headers
            .iter()
            .any(|(_, value)| value.as_bytes() == token.as_bytes())
    );
    assert_eq!(request.headers["gatehouse-agent"], AGENT);
    assert_eq!(request.body, r#"{"title":"disk full"}"#);
    let event = harness.event(&decision_id(&reply)).await;
    assert_eq!(event.outcome, Outcome::Allow);
    assert_eq!(event.intent.as_deref(), Some("ticket.create"));
    assert_eq!(event.policies, vec!["triage-works-tickets".to_owned()]);
    assert_eq!(event.status, 200);
    assert_eq!(event.bytes_in, 21);
    assert!(event.bytes_out > 0);
}

#[tokio::test]
async fn a_forbidden_intent_is_denied_with_the_policy_that_decided() {
    let harness = Harness::start().await;
    let token = harness.token().await;
    let reply = harness
        .call(Method::DELETE, "/tools/tickets/tickets/7", &token, "")
        .await;
    assert_eq!(reply.status, 403);
    assert_eq!(problem_kind(&reply), "policy-denied");
    assert!(
        !reply.text().contains("never-delete"),
        "policy ids are for the event only"
    );
    let event = harness.event(&decision_id(&reply)).await;
    assert_eq!(event.outcome, Outcome::Deny);
    assert_eq!(event.policies, vec!["never-delete".to_owned()]);
    assert!(harness.upstream.seen().is_empty());
}

#[tokio::test]
async fn with_no_permitting_policy_every_call_is_denied() {
    let harness = Harness::builder()
        .policy("@id(\"only-forbid\") forbid (principal, action == Gatehouse::Action::\"ticket.delete\", resource);")
        .start()
        .await;
    let token = harness.token().await;
    let reply = harness
        .call(Method::GET, "/tools/tickets/tickets/1", &token, "")
        .await;
    assert_eq!(reply.status, 403);
    let event = harness.event(&decision_id(&reply)).await;
    assert!(event.policies.is_empty());
    assert!(harness.upstream.seen().is_empty());
}

#[tokio::test]
async fn a_data_credential_is_refused_at_a_control_tool() {
    let harness = Harness::start().await;
    let token = harness.token().await;
    let reply = harness
        .call(Method::GET, "/tools/deploy/deployments", &token, "")
        .await;
    assert_eq!(reply.status, 403);
    assert_eq!(problem_kind(&reply), "segment-mismatch");
    assert!(harness.control_upstream.seen().is_empty());
}

#[tokio::test]
async fn an_intent_outside_the_credentials_scope_is_refused() {
    let harness = Harness::start().await;
    let token = harness.token_for("narrow").await;
    let reply = harness
        .call(Method::POST, "/tools/tickets/tickets", &token, "{}")
        .await;
    assert_eq!(reply.status, 403);
    assert_eq!(problem_kind(&reply), "out-of-scope");
    assert!(harness.upstream.seen().is_empty());
}

#[tokio::test]
async fn unknown_tools_and_unmatched_routes_are_refused() {
    let harness = Harness::start().await;
    let token = harness.token().await;
    let reply = harness.call(Method::GET, "/tools/nope/x", &token, "").await;
    assert_eq!(
        (reply.status.as_u16(), problem_kind(&reply).as_str()),
        (404, "unknown-tool")
    );
    let reply = harness
        .call(Method::PATCH, "/tools/tickets/tickets/1", &token, "")
        .await;
    assert_eq!(
        (reply.status.as_u16(), problem_kind(&reply).as_str()),
        (404, "no-route")
    );
    let reply = harness
        .call(Method::GET, "/tools/tickets/elsewhere", &token, "")
        .await;
    assert_eq!(reply.status, 404);
    assert!(harness.upstream.seen().is_empty());
}

#[tokio::test]
async fn missing_and_garbage_credentials_are_refused_and_recorded() {
    let harness = Harness::start().await;
    let url = harness.data_url("/tools/tickets/tickets/1");
    let reply = send(Method::GET, &url, &[], "").await.unwrap();
    assert_eq!(reply.status, 401);
    assert_eq!(problem_kind(&reply), "unauthenticated");
    assert!(reply.headers.contains_key("www-authenticate"));
    let event = harness.event(&decision_id(&reply)).await;
    assert_eq!(event.reason.as_deref(), Some("unauthenticated: missing"));
    for bad in [
        "Bearer",
        "Basic abc",
        "Bearer a.b.c",
        "Bearer eyJhbGciOiJub25lIn0.e30.",
    ] {
        let reply = send(Method::GET, &url, &[("authorization", bad)], "")
            .await
            .unwrap();
        assert_eq!(reply.status, 401, "{bad}");
    }
    // An identity assertion is not a task credential.
    let reply = harness
        .call(
            Method::GET,
            "/tools/tickets/tickets/1",
            &harness.assertion(),
            "",
        )
        .await;
    assert_eq!(reply.status, 401);
    assert!(harness.upstream.seen().is_empty());
}

#[tokio::test]
async fn oversize_headers_and_bodies_are_refused_before_the_upstream() {
    let harness = Harness::start().await;
    let token = harness.token().await;
    let auth = format!("Bearer {token}");
    let url = harness.data_url("/tools/tickets/upload");
    let big = "x".repeat(5000);
    let reply = send(
        Method::POST,
        &url,
        &[("authorization", &auth), ("x-big", &big)],
        "",
    )
    .await
    .unwrap();
    assert_eq!(
        (reply.status.as_u16(), problem_kind(&reply).as_str()),
        (431, "headers-too-large")
    );
    let reply = send(
        Method::POST,
        &url,
        &[("authorization", &auth)],
        "y".repeat(2048),
    )
    .await
    .unwrap();
    assert_eq!(
        (reply.status.as_u16(), problem_kind(&reply).as_str()),
        (413, "body-too-large")
    );
    assert!(harness.upstream.seen().is_empty());
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_cut_and_refused() {
    use http_body_util::{BodyExt, StreamBody};
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let harness = Harness::start().await;
    let token = harness.token().await;
    let chunks: Vec<Result<http_body::Frame<bytes::Bytes>, std::io::Error>> = (0..8)
        .map(|_| Ok(http_body::Frame::data(bytes::Bytes::from(vec![b'z'; 512]))))
        .collect();
    let body = StreamBody::new(futures_util::stream::iter(chunks)).boxed();
    let request = http::Request::post(harness.data_url("/tools/tickets/upload"))
        .header("authorization", format!("Bearer {token}"))
        .body(body)
        .unwrap();
    let client = Client::builder(TokioExecutor::new()).build_http();
    let response = client.request(request).await.unwrap();
    assert_eq!(response.status(), 413);
    let id = response.headers()["gatehouse-decision-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let event = harness.event(&id).await;
    assert_eq!(event.refusal, Some(RefusalKind::BodyTooLarge));
    assert!(
        harness
            .upstream
            .seen()
            .iter()
            .all(|seen| seen.body.len() <= 1024)
    );
}

#[tokio::test]
async fn a_dead_upstream_is_a_502_problem_with_the_decision_id() {
    let harness = Harness::start().await;
    let token = harness.token().await;
    let reply = harness.call(Method::GET, "/tools/dead/x", &token, "").await;
    assert_eq!(reply.status, 502);
    assert_eq!(problem_kind(&reply), "upstream-unavailable");
    assert!(
        !reply.text().contains("127.0.0.1"),
        "upstream address leaked: {}",
        reply.text()
    );
    let event = harness.event(&decision_id(&reply)).await;
    assert_eq!(event.outcome, Outcome::Error);
    assert!(event.reason.unwrap().starts_with("upstream-unavailable: "));
}

#[tokio::test]
async fn a_slow_upstream_is_a_504_problem() {
    let harness = Harness::start().await;
    let token = harness.token().await;
    let reply = harness
        .call(Method::GET, "/tools/slow/slow", &token, "")
        .await;
    assert_eq!(reply.status, 504);
    assert_eq!(problem_kind(&reply), "upstream-timeout");
}

#[tokio::test]
async fn agents_may_speak_http2() {
    use http_body_util::{BodyExt, Empty};
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let harness = Harness::start().await;
    let token = harness.token().await;
    let client = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http::<Empty<bytes::Bytes>>();
    let request = http::Request::get(harness.data_url("/tools/tickets/tickets/5"))
        .header("authorization", format!("Bearer {token}"))
        .body(Empty::new())
        .unwrap();
    let response = client.request(request).await.unwrap();
    assert_eq!(response.version(), http::Version::HTTP_2);
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&body).contains("/api/tickets/5"));
}

#[tokio::test]
async fn agents_cannot_smuggle_hop_by_hop_or_gatehouse_headers() {
    let harness = Harness::start().await;
    let token = harness.token().await;
    let auth = format!("Bearer {token}");
    let headers = [
        ("authorization", auth.as_str()),
        ("connection", "x-secret-hop"),
        ("x-secret-hop", "1"),
        ("proxy-authorization", "Basic Zm9vOmJhcg=="),
        ("gatehouse-agent", "spiffe://test/agent/admin"),
        ("x-kept", "yes"),
    ];
    let reply = send(
        Method::GET,
        &harness.data_url("/tools/tickets/tickets/3"),
        &headers,
        "",
    )
    .await
    .unwrap();
    assert_eq!(reply.status, 200);
    let seen = &harness.upstream.seen()[0];
    assert!(seen.headers.get("x-secret-hop").is_none());
    assert!(seen.headers.get("proxy-authorization").is_none());
    assert_eq!(seen.headers["gatehouse-agent"], AGENT);
    assert_eq!(seen.headers["x-kept"], "yes");
}

#[tokio::test]
async fn every_event_is_also_appended_to_the_json_lines_file() {
    let harness = Harness::start().await;
    let token = harness.token().await;
    harness
        .call(Method::GET, "/tools/tickets/tickets/1", &token, "")
        .await;
    harness
        .call(Method::DELETE, "/tools/tickets/tickets/1", &token, "")
        .await;
    let dir = harness.stop().await;
    let lines = std::fs::read_to_string(dir.path().join("data/events.jsonl")).unwrap();
    let events: Vec<serde_json::Value> = lines
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(events.len(), 3, "token, allow, deny");
    assert!(!lines.contains(SECRET));
}

#[tokio::test]
async fn a_policy_that_fails_to_evaluate_denies_the_call() {
    let policy = r#"
        @id("reads") permit (principal, action == Gatehouse::Action::"ticket.read", resource);
        @id("overflowing-forbid")
        forbid (principal, action, resource) when { 9223372036854775807 + context.now.unix > 0 };
    "#;
    let harness = Harness::builder().policy(policy).start().await;
    let token = harness.token().await;
    let reply = harness
        .call(Method::GET, "/tools/tickets/tickets/1", &token, "")
        .await;
    assert_eq!(
        (reply.status.as_u16(), problem_kind(&reply).as_str()),
        (403, "policy-denied")
    );
    let event = harness.event(&decision_id(&reply)).await;
    assert!(event.reason.unwrap().contains("overflowing-forbid"));
    assert!(harness.upstream.seen().is_empty());
}
