//! The control plane: health, readiness, and the event query with operator tokens.

use gatehouse_kit::client::{get_with_token, send};
use http::Method;

use crate::harness::{AGENT, APPROVER_TOKEN, Harness, OPERATOR_TOKEN};

#[tokio::test]
async fn health_and_readiness_answer_without_a_token() {
    let harness = Harness::start().await;
    for path in ["/healthz", "/readyz"] {
        let reply = send(Method::GET, &harness.control_url(path), &[], "")
            .await
            .unwrap();
        assert_eq!(reply.status, 200, "{path}");
    }
}

#[tokio::test]
async fn events_need_an_operator_or_auditor_token() {
    let harness = Harness::start().await;
    let url = harness.control_url("/v1/events");
    assert_eq!(send(Method::GET, &url, &[], "").await.unwrap().status, 401);
    assert_eq!(get_with_token(&url, "wrong").await.unwrap().status, 401);
    assert_eq!(
        get_with_token(&url, APPROVER_TOKEN).await.unwrap().status,
        403
    );
    assert_eq!(
        get_with_token(&url, OPERATOR_TOKEN).await.unwrap().status,
        200
    );
}

#[tokio::test]
async fn the_data_plane_does_not_serve_the_control_api() {
    let harness = Harness::start().await;
    let reply = get_with_token(&harness.data_url("/v1/events"), OPERATOR_TOKEN)
        .await
        .unwrap();
    assert_eq!(reply.status, 404);
}

#[tokio::test]
async fn events_filter_by_agent_intent_and_decision() {
    let harness = Harness::start().await;
    let token = harness.token().await;
    harness
        .call(Method::GET, "/tools/tickets/tickets/1", &token, "")
        .await;
    harness
        .call(Method::DELETE, "/tools/tickets/tickets/1", &token, "")
        .await;
    harness
        .call(Method::DELETE, "/tools/tickets/tickets/2", &token, "")
        .await;
    let all = harness.events("", 4).await;
    assert!(
        all.windows(2).all(|pair| pair[0].id > pair[1].id),
        "newest first"
    );
    let denied = harness.events("decision=deny", 2).await;
    assert_eq!(denied.len(), 2);
    let reads = harness.events("intent=ticket.read", 1).await;
    assert_eq!(reads.len(), 1);
    let mine = harness
        .events(
            &format!("agent={}", AGENT.replace(':', "%3A").replace('/', "%2F")),
            4,
        )
        .await;
    assert_eq!(mine.len(), 4);
    let limited = harness.events("limit=1", 1).await;
    assert_eq!(limited.len(), 1);
}

#[tokio::test]
async fn bad_event_queries_are_refused_clearly() {
    let harness = Harness::start().await;
    for query in ["bogus=1", "decision=maybe", "since=yesterday", "after=nope"] {
        let url = harness.control_url(&format!("/v1/events?{query}"));
        let reply = get_with_token(&url, OPERATOR_TOKEN).await.unwrap();
        assert_eq!(reply.status, 400, "{query}");
        assert_eq!(reply.headers["content-type"], "application/problem+json");
    }
}
