//! The event queue is bounded (`limits.max_queued_events`): while the store cannot take
//! events, calls that must be recorded are refused before they reach a tool, `/readyz`
//! fails, and service resumes by itself once the store answers again; every call that
//! reached the tool has its event. The fault is real: another connection holds the
//! SQLite database's write lock, as a stuck backup or a second process would.

use std::time::Duration;

use http::Method;

use gatehouse_core::refusal::RefusalKind;

use crate::harness::{Harness, problem_kind};

const PATH: &str = "/tools/tickets/tickets/1";

#[tokio::test]
async fn a_stalled_store_fills_the_queue_then_calls_are_refused_until_it_drains() {
    let harness = Harness::builder()
        .edit(
            "upstream_timeout_ms = 1000",
            "upstream_timeout_ms = 1000\nmax_queued_events = 8",
        )
        .start()
        .await;
    let token = harness.token().await;
    let warm = harness.call(Method::GET, PATH, &token, "").await;
    assert_eq!(warm.status, 200, "{}", warm.text());
    // The warm call's own event (the token exchange's is a 200 too), so the queue is
    // empty when the store stalls.
    harness
        .events_until(
            "limit=100",
            |event| event.status == 200 && event.path == PATH,
            1,
        )
        .await;

    let lock = rusqlite::Connection::open(harness.dir.path().join("data/gatehouse.db")).unwrap();
    lock.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let mut forwarded = 0;
    let mut refused = None;
    for _ in 0..20 {
        let reply = harness.call(Method::GET, PATH, &token, "").await;
        if reply.status == 200 {
            forwarded += 1;
            continue;
        }
        refused = Some(reply);
        break;
    }
    let refused = refused.expect("a full queue refuses calls");
    assert_eq!(refused.status, 503);
    assert_eq!(problem_kind(&refused), "unrecordable");
    // Calls are forwarded while their events fit the queue; an event of the warm-up
    // (the token exchange's, say) may still be waiting in it when the lock is taken.
    assert!(
        (6..=8).contains(&forwarded),
        "{forwarded} calls forwarded with a bound of 8 queued events"
    );
    assert_eq!(
        harness.upstream.seen().len(),
        1 + forwarded,
        "the refused call never reached the tool"
    );
    let ready = harness.control(Method::GET, "/readyz", "").await;
    assert_eq!(ready.status, 503, "{}", ready.text());
    // Refusals while full are queued up to twice the bound, then counted: memory stays
    // bounded however long the store is away.
    for _ in 0..40 {
        let reply = harness.call(Method::GET, PATH, &token, "").await;
        assert_eq!(reply.status, 503);
    }
    assert_eq!(harness.upstream.seen().len(), 1 + forwarded);

    lock.execute_batch("COMMIT").unwrap();
    drop(lock);
    let mut resumed = false;
    for _ in 0..300 {
        if harness.control(Method::GET, "/readyz", "").await.status == 200 {
            resumed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(resumed, "/readyz recovers once the store drains the queue");
    let after = harness.call(Method::GET, PATH, &token, "").await;
    assert_eq!(after.status, 200, "{}", after.text());

    let events = harness
        .events_until("limit=1000", |event| event.status == 200, 2 + forwarded)
        .await;
    let answered = events.iter().filter(|e| e.status == 200).count();
    assert_eq!(
        answered,
        2 + forwarded,
        "every forwarded call has its event"
    );
    let unrecordable =
        |e: &&gatehouse_core::event::Event| e.refusal == Some(RefusalKind::Unrecordable);
    assert!(events.iter().filter(unrecordable).count() >= 1);
    let counted = harness
        .events_until(
            "limit=1000",
            |e| {
                e.reason
                    .as_deref()
                    .is_some_and(|r| r.starts_with("the event queue was full"))
            },
            1,
        )
        .await;
    assert!(!counted.is_empty());
}
