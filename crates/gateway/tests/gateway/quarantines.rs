//! Quarantines through the control plane and the data plane: a temporary deny on a
//! segment, tool, intent or agent that wins over every permit, lifted by an operator or
//! ending by itself, cutting calls in flight, and kept across a restart.

use std::sync::Arc;
use std::time::Duration;

use gatehouse_core::config;
use gatehouse_core::event::EventKind;
use gatehouse_core::refusal::RefusalKind;
use gatehouse_gateway::server::Gateway;
use http::Method;
use serde_json::{Value, json};

use crate::harness::{AGENT, APPROVER_TOKEN, Harness, OPERATOR_TOKEN, problem_kind};

const READ: &str = "/tools/tickets/tickets/7";

async fn quarantine(harness: &Harness, kind: &str, subject: &str, secs: u64) -> Value {
    let body = json!({"kind": kind, "subject": subject, "for_secs": secs, "reason": "incident 7"});
    let reply = harness
        .control(Method::POST, "/v1/quarantines", &body.to_string())
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json().unwrap()
}

async fn listed(harness: &Harness) -> Vec<Value> {
    let reply = harness.control(Method::GET, "/v1/quarantines", "").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json().unwrap()["quarantines"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn a_quarantined_segment_tool_intent_or_agent_refuses_an_allowed_call_until_lifted() {
    let harness = Harness::start().await;
    let token = harness.token().await;
    assert_eq!(
        harness.call(Method::GET, READ, &token, "").await.status,
        200
    );
    for (kind, subject) in [
        ("segment", "data"),
        ("tool", "tickets"),
        ("intent", "ticket.read"),
        ("agent", AGENT),
    ] {
        let seen = harness.upstream.seen().len();
        let added = quarantine(&harness, kind, subject, 600).await;
        let id = added["id"].as_str().unwrap().to_owned();
        let refused = harness.call(Method::GET, READ, &token, "").await;
        assert_eq!(refused.status, 403, "{kind}");
        assert_eq!(problem_kind(&refused), "quarantined", "{kind}");
        assert_eq!(refused.json().unwrap()["quarantine_id"], id.as_str());
        assert_eq!(
            harness.upstream.seen().len(),
            seen,
            "{kind}: reached the tool"
        );
        let held = listed(&harness).await;
        assert_eq!(held.len(), 1);
        assert_eq!(
            (held[0]["kind"].as_str(), held[0]["subject"].as_str()),
            (Some(kind), Some(subject))
        );
        assert_eq!(held[0]["by"], "admin");

        let lifted = harness
            .control(Method::DELETE, &format!("/v1/quarantines/{id}"), "")
            .await;
        assert_eq!(lifted.status, 200, "{}", lifted.text());
        assert_eq!(
            harness.call(Method::GET, READ, &token, "").await.status,
            200,
            "{kind}"
        );
        assert!(listed(&harness).await.is_empty());
    }
    // What a quarantine does not name is untouched.
    quarantine(&harness, "intent", "ticket.create", 600).await;
    quarantine(&harness, "tool", "slow", 600).await;
    assert_eq!(
        harness.call(Method::GET, READ, &token, "").await.status,
        200
    );
    let create = harness
        .call(Method::POST, "/tools/tickets/tickets", &token, "{}")
        .await;
    assert_eq!(problem_kind(&create), "quarantined");

    let events = harness
        .events_until("", |event| event.kind == EventKind::Control, 10)
        .await;
    let changes: Vec<(&str, &str)> = events
        .iter()
        .filter(|event| event.kind == EventKind::Control)
        .map(|event| {
            (
                event.intent.as_deref().unwrap_or_default(),
                event.actor.as_deref().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        changes
            .iter()
            .filter(|(intent, _)| *intent == "quarantine.add")
            .count(),
        6
    );
    assert_eq!(
        changes
            .iter()
            .filter(|(intent, _)| *intent == "quarantine.lift")
            .count(),
        4
    );
    assert!(changes.iter().all(|(_, actor)| *actor == "admin"));
    let refused = harness
        .events_until(
            "decision=deny",
            |event| event.refusal == Some(RefusalKind::Quarantined),
            5,
        )
        .await;
    assert!(refused.iter().any(|event| {
        event
            .reason
            .as_deref()
            .is_some_and(|r| r.starts_with("quarantined"))
    }));
    harness.stop().await;
}

#[tokio::test]
async fn a_quarantine_ends_by_itself_when_its_time_is_up() {
    let harness = Harness::start().await;
    let token = harness.token().await;
    quarantine(&harness, "tool", "tickets", 60).await;
    assert_eq!(
        harness.call(Method::GET, READ, &token, "").await.status,
        403
    );
    harness.clock.advance(Duration::from_secs(59));
    assert_eq!(
        harness.call(Method::GET, READ, &token, "").await.status,
        403
    );
    harness.clock.advance(Duration::from_secs(1));
    assert_eq!(
        harness.call(Method::GET, READ, &token, "").await.status,
        200
    );
    assert!(listed(&harness).await.is_empty());
    // Housekeeping (every 5 s) drops it and records its end as Gatehouse's own action.
    let mut ended = Vec::new();
    for _ in 0..100 {
        ended = harness.events_now("intent=quarantine.end").await;
        if !ended.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(ended.len(), 1, "no `quarantine.end` event");
    assert_eq!(ended[0].actor.as_deref(), Some("gatehouse"));
    assert_eq!(ended[0].kind, EventKind::Control);
    harness.stop().await;
}

#[tokio::test]
async fn a_quarantine_cuts_a_response_already_streaming() {
    use http_body_util::BodyExt;
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let harness = Harness::start().await;
    let token = harness.token().await;
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
    let added = quarantine(&harness, "intent", "stream.read", 600).await;
    let started = std::time::Instant::now();
    let mut received = 100;
    let cut = loop {
        match body.frame().await {
            Some(Ok(frame)) => received += frame.data_ref().map_or(0, bytes::Bytes::len),
            Some(Err(_)) => break true,
            None => break false,
        }
    };
    assert!(cut, "the stream ran to its end");
    assert!(received < 4000, "received {received} of 4000 bytes");
    assert!(started.elapsed() < Duration::from_secs(1));
    let event = harness.event(&id).await;
    assert_eq!(event.refusal, Some(RefusalKind::Quarantined));
    let reason = event.reason.unwrap_or_default();
    assert!(
        reason.contains(&format!(
            "quarantine `{}` began",
            added["id"].as_str().unwrap()
        )),
        "{reason}"
    );
    harness.stop().await;
}

#[tokio::test]
async fn a_quarantine_cuts_a_call_still_waiting_for_its_answer() {
    let harness = Harness::start().await;
    let token = harness.token().await;
    let url = harness.data_url("/tools/slow/slow");
    let auth = format!("Bearer {token}");
    let waiting = tokio::spawn(async move {
        gatehouse_kit::client::send(Method::GET, &url, &[("authorization", &auth)], "")
            .await
            .unwrap()
    });
    // The slow route answers after 3 s; the upstream timeout is 1 s.
    tokio::time::sleep(Duration::from_millis(200)).await;
    quarantine(&harness, "tool", "slow", 600).await;
    let reply = waiting.await.unwrap();
    assert_eq!(reply.status, 403, "{}", reply.text());
    assert_eq!(problem_kind(&reply), "quarantined");
    harness.stop().await;
}

#[tokio::test]
async fn a_quarantine_outlives_a_restart() {
    let harness = Harness::start().await;
    let added = quarantine(&harness, "agent", AGENT, 600).await;
    let clock = harness.clock.clone();
    let dir = harness.stop().await;
    let config = config::load(&dir.path().join("gatehouse.toml")).unwrap();
    let gateway = Gateway::start(config, Arc::new(clock.clone()))
        .await
        .unwrap();
    let url = format!("http://{}/v1/quarantines", gateway.control_addr());
    let reply = gatehouse_kit::client::get_with_token(&url, OPERATOR_TOKEN)
        .await
        .unwrap();
    let held = reply.json().unwrap()["quarantines"].clone();
    assert_eq!(held, json!([added]));
    let tool = gatehouse_core::model::ToolName::new("tickets");
    let segment = gatehouse_core::model::SegmentName::new("data");
    let reach = gatehouse_gateway::quarantines::Reach {
        agent: AGENT,
        tool: &tool,
        segment: &segment,
        intent: None,
    };
    let state = gateway.state();
    assert!(state.quarantines.check(reach, &clock).is_err());
    clock.advance(Duration::from_secs(600));
    assert!(state.quarantines.check(reach, &clock).is_ok());
    gateway.shutdown().await;
}

#[tokio::test]
async fn quarantines_name_what_exists_say_why_and_are_for_operators() {
    let harness = Harness::start().await;
    for (body, why) in [
        (
            json!({"kind": "tool", "subject": "tickest", "for_secs": 60, "reason": "x"}),
            "no tool named `tickest`",
        ),
        (
            json!({"kind": "segment", "subject": "nope", "for_secs": 60, "reason": "x"}),
            "no segment named `nope`",
        ),
        (
            json!({"kind": "intent", "subject": "ticket.nope", "for_secs": 60, "reason": "x"}),
            "no intent named",
        ),
        (
            json!({"kind": "tool", "subject": "tickets", "for_secs": 0, "reason": "x"}),
            "for_secs",
        ),
        (
            json!({"kind": "tool", "subject": "tickets", "for_secs": 60, "reason": " "}),
            "reason",
        ),
        (
            json!({"kind": "workflow", "subject": "wf", "for_secs": 60, "reason": "x"}),
            "workflow",
        ),
    ] {
        let reply = harness
            .control(Method::POST, "/v1/quarantines", &body.to_string())
            .await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.text());
        let title = reply.json().unwrap()["title"].as_str().unwrap().to_owned();
        assert!(title.contains(why), "{body}: {title}");
    }
    let body = json!({"kind": "tool", "subject": "tickets", "for_secs": 60, "reason": "x"});
    let approver = harness
        .control_as(
            APPROVER_TOKEN,
            Method::POST,
            "/v1/quarantines",
            &body.to_string(),
        )
        .await;
    assert_eq!(approver.status, 403, "{}", approver.text());
    let unknown = harness
        .control(Method::DELETE, "/v1/quarantines/01NOSUCHQUARANTINE", "")
        .await;
    assert_eq!(unknown.status, 404);
    assert!(listed(&harness).await.is_empty());
    harness.stop().await;
}
