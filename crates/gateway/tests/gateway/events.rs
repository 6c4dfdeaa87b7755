//! What the event store keeps: unauthenticated floods sampled and summarised, not
//! stored one event per request; nothing older than the retention period.

use std::time::Duration;

use gatehouse_core::event::Event;
use gatehouse_core::event::EventKind;
use gatehouse_core::refusal::RefusalKind;
use gatehouse_kit::client::send;
use http::Method;

use crate::harness::Harness;

async fn scan(harness: &Harness, times: usize) {
    for _ in 0..times {
        let reply = send(Method::GET, &harness.data_url("/wp-login.php"), &[], "")
            .await
            .unwrap();
        assert_eq!(reply.status, 404);
    }
}

fn scans(events: &[Event]) -> usize {
    events
        .iter()
        .filter(|event| event.path == "/wp-login.php")
        .count()
}

#[tokio::test]
async fn a_scanners_flood_is_sampled_then_summarised_in_one_event() {
    let harness = Harness::start().await;
    scan(&harness, 200).await;
    // The first 20 of the minute are stored (the default), the other 180 only counted.
    harness
        .events_until("limit=1000", |e| e.path == "/wp-login.php", 20)
        .await;
    // Anything more would have been written by now: events go in batches within 200 ms.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let events = harness.events_now("limit=1000").await;
    assert_eq!(scans(&events), 20, "stored one by one");

    harness.clock.advance(Duration::from_secs(61));
    scan(&harness, 1).await;
    let is_summary = |event: &Event| event.kind == EventKind::Anonymous;
    let events = harness.events_until("limit=1000", is_summary, 1).await;
    let summary = events.iter().find(|event| is_summary(event)).unwrap();
    let reason = summary.reason.as_deref().unwrap_or_default();
    assert!(
        reason.starts_with("180 more unauthenticated requests"),
        "{reason}"
    );
    assert!(reason.contains("the first 20 were stored"), "{reason}");
    assert_eq!(summary.refusal, Some(RefusalKind::Unauthenticated));
    let events = harness
        .events_until("limit=1000", |e| e.path == "/wp-login.php", 21)
        .await;
    assert_eq!(scans(&events), 21, "a new minute stores again");
}

#[tokio::test]
async fn authenticated_calls_are_never_sampled() {
    let harness = Harness::start().await;
    let token = harness.token().await;
    for _ in 0..30 {
        let reply = harness
            .call(Method::GET, "/tools/tickets/no-such-route", &token, "")
            .await;
        assert_eq!(reply.status, 404);
    }
    let events = harness
        .events_until("limit=1000", |e| e.path.ends_with("/no-such-route"), 30)
        .await;
    assert_eq!(
        events
            .iter()
            .filter(|e| e.path.ends_with("/no-such-route"))
            .count(),
        30
    );
}

#[tokio::test]
async fn events_older_than_the_retention_period_are_deleted() {
    let harness = Harness::start().await;
    let token = harness.token().await;
    let old = harness
        .call(Method::GET, "/tools/tickets/tickets/1", &token, "")
        .await;
    assert_eq!(old.status, 200);
    let old = crate::harness::decision_id(&old);
    harness.event(&old).await;
    // The harness keeps 30 days.
    harness.clock.advance(Duration::from_secs(31 * 86_400));
    let fresh = harness.token_in("triage", "wf-later").await;
    let new = harness
        .call(Method::GET, "/tools/tickets/tickets/1", &fresh, "")
        .await;
    let new = crate::harness::decision_id(&new);
    harness.event(&new).await;
    let deleted = gatehouse_gateway::retention::prune(harness.gateway().state()).await;
    assert!(
        deleted >= 2,
        "the old call and its token exchange: {deleted}"
    );
    let url = harness.control_url(&format!("/v1/events/{old}"));
    let reply = gatehouse_kit::client::get_with_token(&url, crate::harness::OPERATOR_TOKEN)
        .await
        .unwrap();
    assert_eq!(reply.status, 404, "{}", reply.text());
    harness.event(&new).await;
}
