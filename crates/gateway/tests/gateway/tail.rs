//! `GET /v1/events/stream`: a subscriber sees the filtered events of calls made after it
//! subscribed, as they are stored, and resumes after `Last-Event-ID`.

use std::time::Duration;

use bytes::Bytes;
use gatehouse_store::Position;
use http::{Method, Request};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::harness::{Harness, OPERATOR_TOKEN};

/// One open stream, read frame by frame.
struct Tail {
    body: Incoming,
    buffer: String,
}

impl Tail {
    async fn open(harness: &Harness, query: &str, last: Option<&str>) -> Self {
        let response = request(harness, query, last).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Self {
            body: response.into_body(),
            buffer: String::new(),
        }
    }

    /// The next event's `id` and `data`, skipping comments; fails after five seconds.
    async fn next(&mut self) -> (String, serde_json::Value) {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let frame: String = self.buffer.drain(..end + 2).collect();
                let mut id = None;
                let mut data = None;
                for line in frame.lines() {
                    if let Some(value) = line.strip_prefix("id: ") {
                        id = Some(value.to_owned());
                    }
                    if let Some(value) = line.strip_prefix("data: ") {
                        data = Some(serde_json::from_str(value).unwrap());
                    }
                }
                if let (Some(id), Some(data)) = (id, data) {
                    return (id, data);
                }
                continue;
            }
            let frame = tokio::time::timeout(Duration::from_secs(5), self.body.frame())
                .await
                .expect("no event within five seconds")
                .expect("the stream ended")
                .unwrap();
            if let Ok(data) = frame.into_data() {
                self.buffer.push_str(std::str::from_utf8(&data).unwrap());
            }
        }
    }
}

async fn request(harness: &Harness, query: &str, last: Option<&str>) -> http::Response<Incoming> {
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut builder = Request::builder()
        .method(Method::GET)
        .uri(harness.control_url(&format!("/v1/events/stream?{query}")))
        .header("authorization", format!("Bearer {OPERATOR_TOKEN}"));
    if let Some(last) = last {
        builder = builder.header("last-event-id", last);
    }
    client
        .request(builder.body(Empty::new()).unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_tail_sees_the_filtered_events_as_they_are_stored_and_resumes_after_its_last_id() {
    let harness = Harness::start().await;
    let token = harness.token().await;
    // Stored before subscribing: a tail starts after the newest event.
    harness
        .call(Method::DELETE, "/tools/tickets/tickets/0", &token, "")
        .await;
    harness.events("decision=deny", 1).await;
    let mut denials = Tail::open(&harness, "decision=deny", None).await;
    let mut everything = Tail::open(&harness, "", None).await;
    for n in 1..=2 {
        let allowed = harness
            .call(
                Method::GET,
                &format!("/tools/tickets/tickets/{n}"),
                &token,
                "",
            )
            .await;
        assert_eq!(allowed.status, 200);
        let denied = harness
            .call(
                Method::DELETE,
                &format!("/tools/tickets/tickets/{n}"),
                &token,
                "",
            )
            .await;
        assert_eq!(denied.status, 403);
    }
    let (first_id, first) = denials.next().await;
    let (second_id, second) = denials.next().await;
    for (event, n) in [(&first, 1), (&second, 2)] {
        assert_eq!(event["outcome"], "deny");
        assert_eq!(event["refusal"], "policy-denied");
        assert_eq!(event["path"], format!("/tools/tickets/tickets/{n}"));
    }
    let first_at: Position = first_id.parse().unwrap();
    assert!(first_at < second_id.parse().unwrap());
    // The unfiltered tail sees all four calls, in store order.
    let mut paths = Vec::new();
    for _ in 0..4 {
        let (_, event) = everything.next().await;
        let method = event["method"].as_str().unwrap();
        paths.push(format!("{method} {}", event["path"].as_str().unwrap()));
    }
    assert_eq!(
        paths,
        [
            "GET /tools/tickets/tickets/1",
            "DELETE /tools/tickets/tickets/1",
            "GET /tools/tickets/tickets/2",
            "DELETE /tools/tickets/tickets/2",
        ]
    );
    // Resuming after the first denial gives the second one next, with its id.
    let mut resumed = Tail::open(&harness, "decision=deny", Some(&first_id)).await;
    let (again_id, again) = resumed.next().await;
    assert_eq!(again_id, second_id);
    assert_eq!(again, second);
    // Resuming without a filter gives the event stored right after the first denial.
    let store = std::sync::Arc::clone(&harness.gateway().state().store);
    let next = store.events_after(Some(first_at), 1).unwrap().remove(0);
    let mut unfiltered = Tail::open(&harness, "", Some(&first_id)).await;
    let (next_id, next_event) = unfiltered.next().await;
    assert_eq!(next_id, next.position.to_string());
    assert_eq!(
        next_event,
        serde_json::from_str::<serde_json::Value>(&next.line).unwrap()
    );
}

#[tokio::test]
async fn a_tail_refuses_a_bad_last_event_id_and_unknown_filters() {
    let harness = Harness::start().await;
    let bad = request(&harness, "", Some("12")).await;
    assert_eq!(bad.status(), 400);
    let unknown = request(&harness, "colour=red", None).await;
    assert_eq!(unknown.status(), 400);
}

#[tokio::test]
async fn shutdown_ends_open_tails_at_once() {
    let harness = Harness::start().await;
    let mut tail = Tail::open(&harness, "", None).await;
    let started = std::time::Instant::now();
    harness.stop().await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "shutdown waited for the tail"
    );
    let end = tokio::time::timeout(Duration::from_secs(1), tail.body.frame()).await;
    assert!(
        matches!(end, Ok(None | Some(Err(_)))),
        "the stream did not end"
    );
}
