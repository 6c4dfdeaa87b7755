//! Calls that end without their answer still get their event: the agent leaving while the
//! upstream thinks, and shutdown cutting a stream it will not wait for. And an operator's
//! revocation is answered only once its audit event is in the store.

use std::time::Duration;

use gatehouse_core::event::{Event, Outcome};
use gatehouse_core::ids::DecisionId;
use gatehouse_store::{SqliteStore, Store};
use http::Method;
use http_body_util::BodyExt;
use tokio::io::AsyncWriteExt;

use crate::harness::Harness;

fn stored_event(harness_dir: &std::path::Path, id: &str) -> Option<Event> {
    let store = SqliteStore::open_existing(&harness_dir.join("data/gatehouse.db")).unwrap();
    store.event(DecisionId::parse(id).unwrap()).unwrap()
}

#[tokio::test]
async fn an_agent_that_leaves_before_the_upstream_answers_still_leaves_an_event() {
    let harness = Harness::start().await;
    let token = harness.token_in("triage", "wf-left").await;
    let addr = harness.gateway().data_addr();
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET /tools/slow/slow HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {token}\r\n\r\n"
    );
    socket.write_all(request.as_bytes()).await.unwrap();
    for _ in 0..100 {
        if harness
            .upstream
            .seen()
            .iter()
            .any(|seen| seen.uri == "/slow")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        harness
            .upstream
            .seen()
            .iter()
            .any(|seen| seen.uri == "/slow")
    );
    drop(socket);
    let left = |event: &Event| {
        event
            .reason
            .as_deref()
            .is_some_and(|reason| reason.contains("agent disconnected"))
    };
    let events = harness
        .events_until("workflow=wf-left&intent=ticket.slow", left, 1)
        .await;
    let event = events.iter().find(|event| left(event)).unwrap();
    assert_eq!(event.outcome, Outcome::Error);
    assert_eq!(event.tool.as_deref(), Some("slow"));
    let shown = harness
        .control(Method::GET, "/v1/workflows/wf-left", "")
        .await;
    assert_eq!(
        shown.json().unwrap()["usage"]["calls"],
        1,
        "the call was charged"
    );
}

#[tokio::test]
async fn shutdown_cuts_a_stream_it_will_not_wait_for_and_records_it_first() {
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let mut harness = Harness::start().await;
    let token = harness.token_in("triage", "wf-shutdown").await;
    let client =
        Client::builder(TokioExecutor::new()).build_http::<http_body_util::Empty<bytes::Bytes>>();
    let request = http::Request::get(harness.data_url("/tools/tickets/stream"))
        .header("authorization", format!("Bearer {token}"))
        .body(http_body_util::Empty::new())
        .unwrap();
    let response = client.request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let id = response.headers()["gatehouse-decision-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let mut body = response.into_body();
    assert!(body.frame().await.unwrap().unwrap().is_data());
    let gateway = harness.gateway.take().unwrap();
    let stopping = tokio::spawn(gateway.shutdown_within(Duration::from_millis(200)));
    let cut = loop {
        match body.frame().await {
            Some(Ok(_)) => {}
            Some(Err(_)) => break true,
            None => break false,
        }
    };
    assert!(cut, "the stream ran to its end: shutdown waited for it");
    stopping.await.unwrap();
    let event = stored_event(harness.dir.path(), &id).expect("the cut call's event is stored");
    assert_eq!(
        event.reason.as_deref(),
        Some("response cut mid-stream: the gateway shut down")
    );
    assert_eq!(event.outcome, Outcome::Error);
    assert!(
        event.bytes_out > 0 && event.bytes_out < 4000,
        "{}",
        event.bytes_out
    );
}

#[tokio::test]
async fn a_revocation_is_answered_only_once_its_audit_event_is_stored() {
    let harness = Harness::start().await;
    let _token = harness.token_in("triage", "wf-revoked").await;
    let body = r#"{"kind":"workflow","subject":"wf-revoked","reason":"incident"}"#;
    let revoked = harness.control(Method::POST, "/v1/revocations", body).await;
    assert_eq!(revoked.status, 200, "{}", revoked.text());
    // Straight from the file, as the next process after a `kill -9` would read it.
    let store = SqliteStore::open_existing(&harness.dir.path().join("data/gatehouse.db")).unwrap();
    let filter = gatehouse_core::event::EventFilter {
        workflow: Some("wf-revoked".into()),
        intent: Some("revoke.workflow".into()),
        ..Default::default()
    };
    let events = store.query_events(&filter).unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].actor.as_deref(), Some("admin"));
}

#[tokio::test]
async fn a_response_that_stalls_after_its_headers_is_cut_at_the_idle_timeout() {
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let harness = Harness::builder()
        .edit(
            "upstream_timeout_ms = 1000",
            "upstream_timeout_ms = 1000\nresponse_idle_timeout_ms = 300",
        )
        .start()
        .await;
    let token = harness.token().await;
    let client =
        Client::builder(TokioExecutor::new()).build_http::<http_body_util::Empty<bytes::Bytes>>();
    let request = http::Request::get(harness.data_url("/tools/tickets/stall"))
        .header("authorization", format!("Bearer {token}"))
        .body(http_body_util::Empty::new())
        .unwrap();
    let response = client.request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let id = response.headers()["gatehouse-decision-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let started = std::time::Instant::now();
    let mut body = response.into_body();
    let mut received = 0;
    let cut = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match body.frame().await {
                Some(Ok(frame)) => received += frame.data_ref().map_or(0, bytes::Bytes::len),
                Some(Err(_)) => break true,
                None => break false,
            }
        }
    })
    .await
    .expect("the gateway cut the stalled stream well before the tool's minute");
    assert!(cut, "the stream ended cleanly instead of being cut");
    assert_eq!(received, 5);
    assert!(started.elapsed() < Duration::from_secs(5));
    let event = harness.event(&id).await;
    assert_eq!(event.outcome, Outcome::Error);
    assert_eq!(event.bytes_out, 5);
    let reason = event.reason.unwrap_or_default();
    assert!(
        reason.contains("the tool sent nothing for 300 ms"),
        "{reason}"
    );
}
