//! Ambiguous paths are refused with 400 and never reach the upstream.

use http::Method;

use gatehouse_core::refusal::RefusalKind;

use crate::harness::{Harness, decision_id, problem_kind};

#[tokio::test]
async fn ambiguous_paths_are_refused_and_never_forwarded() {
    let harness = Harness::start().await;
    let token = harness.token().await;
    let paths = [
        "/tools/tickets/tickets/../admin",
        "/tools/tickets/tickets/%2e%2e/admin",
        "/tools/tickets/tickets/%2E%2E/admin",
        "/tools/tickets/tickets%2f1",
        "/tools/tickets/tickets/1%2F..%2Fx",
        "/tools/tickets//tickets/1",
        "/tools/tickets/tickets/%5c1",
        "/tools/tickets/tickets/%ff",
        "/tools/tickets/tickets/%00",
        "/tools/tickets/tickets/./1",
        "/tools/../tools/tickets/tickets/1",
        "/tools/tickets/tickets/%c0%ae%c0%ae",
    ];
    for path in paths {
        let reply = harness.call(Method::GET, path, &token, "").await;
        assert_eq!(reply.status, 400, "{path} gave {}", reply.status);
        assert_eq!(problem_kind(&reply), "ambiguous-path", "{path}");
        let event = harness.event(&decision_id(&reply)).await;
        assert_eq!(event.refusal, Some(RefusalKind::AmbiguousPath));
    }
    assert!(
        harness.upstream.seen().is_empty(),
        "{:?}",
        harness.upstream.seen()
    );
}

#[tokio::test]
async fn a_percent_encoded_space_is_not_ambiguous() {
    let harness = Harness::start().await;
    let token = harness.token().await;
    let reply = harness
        .call(Method::GET, "/tools/tickets/tickets/a%20b", &token, "")
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(harness.upstream.seen()[0].uri, "/api/tickets/a%20b");
}
