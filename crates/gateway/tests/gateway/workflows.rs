//! Workflows, budgets and the credential lifecycle through the real HTTP surfaces.

use std::time::Duration;

use gatehouse_core::refusal::RefusalKind;
use gatehouse_core::token::{TaskClaims, decode};
use http::Method;

use crate::harness::{AGENT, Harness, decision_id, problem_kind};

fn tickets_seen(harness: &Harness) -> usize {
    harness
        .upstream
        .seen()
        .iter()
        .filter(|seen| seen.uri.starts_with("/api/tickets"))
        .count()
}

#[tokio::test]
async fn with_a_budget_of_k_calls_exactly_k_of_many_concurrent_calls_reach_the_upstream() {
    let harness = std::sync::Arc::new(Harness::start().await);
    let token = std::sync::Arc::new(harness.token_in("tiny", "wf-burst").await);
    let mut calls = Vec::new();
    for index in 0..200 {
        let (harness, token) = (harness.clone(), token.clone());
        calls.push(tokio::spawn(async move {
            harness
                .call(
                    Method::GET,
                    &format!("/tools/tickets/tickets/{index}"),
                    &token,
                    "",
                )
                .await
        }));
    }
    let mut statuses = Vec::new();
    for call in calls {
        statuses.push(call.await.unwrap().status.as_u16());
    }
    assert_eq!(statuses.iter().filter(|status| **status == 200).count(), 5);
    assert_eq!(
        statuses.iter().filter(|status| **status == 429).count(),
        195
    );
    assert_eq!(tickets_seen(&harness), 5);
}

#[tokio::test]
async fn an_exhausted_budget_pauses_the_workflow_tells_the_owner_and_resume_continues() {
    let harness = Harness::start().await;
    let token = harness.token_in("tiny", "wf-pause").await;
    for _ in 0..5 {
        assert_eq!(
            harness
                .call(Method::GET, "/tools/tickets/tickets/1", &token, "")
                .await
                .status,
            200
        );
    }
    let reply = harness
        .call(Method::GET, "/tools/tickets/tickets/1", &token, "")
        .await;
    assert_eq!(reply.status, 429);
    assert_eq!(problem_kind(&reply), "budget-exhausted");
    let body = reply.json().unwrap();
    assert_eq!(body["workflow"], "wf-pause");
    assert_eq!(body["budget"]["kind"], "calls");
    assert_eq!(
        (
            body["budget"]["spent"].as_u64(),
            body["budget"]["limit"].as_u64()
        ),
        (Some(5), Some(5))
    );
    let event = harness.event(&decision_id(&reply)).await;
    assert_eq!(event.refusal, Some(RefusalKind::BudgetExhausted));
    let shown = harness
        .control(Method::GET, "/v1/workflows/wf-pause", "")
        .await
        .json()
        .unwrap();
    assert_eq!(shown["status"], "paused");
    let hook = wait_for_hook(&harness).await;
    assert_eq!(hook["workflow"], "wf-pause");
    assert_eq!(hook["owner"], "carol");
    assert!(
        hook["text"]
            .as_str()
            .unwrap()
            .contains("paused workflow `wf-pause`")
    );
    let resumed = harness
        .control(
            Method::POST,
            "/v1/workflows/wf-pause/resume",
            r#"{"extend":{"calls":2}}"#,
        )
        .await;
    assert_eq!(resumed.status, 200, "{}", resumed.text());
    assert_eq!(
        harness
            .call(Method::GET, "/tools/tickets/tickets/1", &token, "")
            .await
            .status,
        200
    );
    assert_eq!(
        harness
            .call(Method::GET, "/tools/tickets/tickets/1", &token, "")
            .await
            .status,
        200
    );
    assert_eq!(
        harness
            .call(Method::GET, "/tools/tickets/tickets/1", &token, "")
            .await
            .status,
        429
    );
    assert_eq!(tickets_seen(&harness), 7);
    let audit = harness.events("intent=workflow.resume", 1).await;
    assert_eq!(audit[0].actor.as_deref(), Some("admin"));
}

/// The first webhook call of type `kind`.
pub(crate) async fn wait_for_hook_of(harness: &Harness, kind: &str) -> serde_json::Value {
    for _ in 0..100 {
        let hook = harness
            .upstream
            .seen()
            .into_iter()
            .filter(|seen| seen.uri == "/hook")
            .filter_map(|seen| serde_json::from_slice::<serde_json::Value>(&seen.body).ok())
            .find(|hook| hook["type"] == kind);
        if let Some(hook) = hook {
            return hook;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no `{kind}` webhook call");
}

async fn wait_for_hook(harness: &Harness) -> serde_json::Value {
    wait_for_hook_of(harness, "workflow.paused").await
}

#[tokio::test]
async fn the_write_budget_is_separate_from_the_call_budget() {
    let harness = Harness::start().await;
    let token = harness.token_in("tiny", "wf-writes").await;
    assert_eq!(
        harness
            .call(Method::POST, "/tools/tickets/tickets", &token, "{}")
            .await
            .status,
        200
    );
    let reply = harness
        .call(Method::POST, "/tools/tickets/tickets", &token, "{}")
        .await;
    assert_eq!(reply.status, 429);
    assert_eq!(reply.json().unwrap()["budget"]["kind"], "writes");
}

#[tokio::test]
async fn a_response_that_would_cross_the_byte_budget_is_cut_and_the_event_says_so() {
    let harness = Harness::start().await;
    let token = harness.token_in("tiny", "wf-bytes").await;
    let url = harness.data_url("/tools/tickets/big");
    let auth = format!("Bearer {token}");
    let result =
        gatehouse_kit::client::send(Method::GET, &url, &[("authorization", &auth)], "").await;
    assert!(result.is_err(), "the response should be cut mid-body");
    let events = harness.events("intent=big.read", 1).await;
    assert_eq!(events[0].refusal, Some(RefusalKind::BudgetExhausted));
    // Charged what was delivered: the event's bytes are exactly the budget the cut spent.
    assert_eq!(events[0].bytes_out, 4096);
    let shown = harness
        .control(Method::GET, "/v1/workflows/wf-bytes", "")
        .await
        .json()
        .unwrap();
    assert_eq!(shown["status"], "paused");
    assert_eq!(shown["usage"]["bytes"], 4096);
}

#[tokio::test]
async fn ending_a_workflow_revokes_its_credentials_and_refuses_new_ones() {
    let harness = Harness::start().await;
    let token = harness.token_in("triage", "wf-end").await;
    assert_eq!(
        harness
            .call(Method::GET, "/tools/tickets/tickets/1", &token, "")
            .await
            .status,
        200
    );
    let ended = harness
        .control(
            Method::POST,
            "/v1/workflows/wf-end/end",
            r#"{"reason":"done"}"#,
        )
        .await;
    assert_eq!(ended.status, 200, "{}", ended.text());
    let reply = harness
        .call(Method::GET, "/tools/tickets/tickets/1", &token, "")
        .await;
    assert_eq!(reply.status, 401);
    let event = harness.event(&decision_id(&reply)).await;
    assert_eq!(event.reason.as_deref(), Some("unauthenticated: revoked"));
    let again = harness
        .exchange(&harness.assertion(), "wf-end", "triage")
        .await;
    assert_eq!(again.status, 400);
    assert!(again.text().contains("is ended"), "{}", again.text());
    let resumed = harness
        .control(Method::POST, "/v1/workflows/wf-end/resume", "{}")
        .await;
    assert_eq!(resumed.status, 409, "an ended workflow never comes back");
}

#[tokio::test]
async fn ending_a_workflow_cuts_a_response_already_streaming() {
    use http_body_util::BodyExt;
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let harness = Harness::start().await;
    let token = harness.token_in("triage", "wf-stream").await;
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
    let first = body.frame().await.unwrap().unwrap();
    assert!(first.is_data());
    harness
        .control(Method::POST, "/v1/workflows/wf-stream/end", "{}")
        .await;
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
    assert_eq!(
        event.reason.as_deref(),
        Some("response cut mid-stream: the workflow ended")
    );
}

#[tokio::test]
async fn revoking_one_credential_leaves_the_others() {
    let harness = Harness::start().await;
    let revoked = harness.token_in("triage", "wf-one").await;
    let kept = harness.token_in("triage", "wf-one").await;
    let jti = decode(&revoked)
        .unwrap()
        .claims::<TaskClaims>()
        .unwrap()
        .jti;
    let body = format!(r#"{{"kind":"token","subject":"{jti}","reason":"leaked"}}"#);
    assert_eq!(
        harness
            .control(Method::POST, "/v1/revocations", &body)
            .await
            .status,
        200
    );
    assert_eq!(
        harness
            .call(Method::GET, "/tools/tickets/tickets/1", &revoked, "")
            .await
            .status,
        401
    );
    assert_eq!(
        harness
            .call(Method::GET, "/tools/tickets/tickets/1", &kept, "")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn a_revoked_agent_gets_nothing_until_reinstated() {
    let harness = Harness::start().await;
    let token = harness.token_in("triage", "wf-agent").await;
    let body = format!(r#"{{"kind":"agent","subject":"{AGENT}","reason":"compromised"}}"#);
    let reply = harness
        .control(Method::POST, "/v1/revocations", &body)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.json().unwrap()["by"],
        "admin",
        "the answer names who revoked"
    );
    let event = &harness.events("intent=revoke.agent", 1).await[0];
    assert_eq!(event.actor.as_deref(), Some("admin"));
    let reason = event.reason.as_deref().unwrap_or_default();
    assert!(reason.contains("by `admin`: compromised"), "{reason}");
    assert_eq!(
        harness
            .call(Method::GET, "/tools/tickets/tickets/1", &token, "")
            .await
            .status,
        401
    );
    let refused = harness
        .exchange(&harness.assertion(), "wf-agent-2", "triage")
        .await;
    assert_eq!(refused.status, 401);
    let workflow = harness
        .control(Method::GET, "/v1/workflows/wf-agent", "")
        .await
        .json()
        .unwrap();
    assert_eq!(workflow["status"], "ended");
    let listed = harness
        .control(Method::GET, "/v1/revocations", "")
        .await
        .json()
        .unwrap();
    assert_eq!(listed["revocations"][0]["by"], "admin");
    let path = format!(
        "/v1/revocations/agent/{}",
        AGENT.replace(':', "%3A").replace('/', "%2F")
    );
    assert_eq!(harness.control(Method::DELETE, &path, "").await.status, 200);
    let fresh = harness.token_in("triage", "wf-agent-3").await;
    assert_eq!(
        harness
            .call(Method::GET, "/tools/tickets/tickets/1", &fresh, "")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn a_workflow_expires_with_its_credentials() {
    let harness = Harness::start().await;
    let token = harness.token_in("tiny", "wf-expiry").await;
    harness.clock.advance(Duration::from_secs(9 * 60));
    assert_eq!(
        harness
            .call(Method::GET, "/tools/tickets/tickets/1", &token, "")
            .await
            .status,
        200
    );
    harness.clock.advance(Duration::from_secs(21 * 60 + 1));
    let fresh = harness
        .exchange(&harness.assertion(), "wf-expiry", "tiny")
        .await;
    assert_eq!(fresh.status, 400, "{}", fresh.text());
    assert!(fresh.text().contains("is expired"), "{}", fresh.text());
}

#[tokio::test]
async fn a_credential_outlives_a_key_rotation_until_the_old_key_retires() {
    let harness = Harness::start().await;
    let before = harness.token().await;
    let rotated = harness
        .control(Method::POST, "/v1/keys/data/rotate", "")
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.text());
    let rotation = rotated.json().unwrap();
    assert_eq!(
        harness
            .call(Method::GET, "/tools/tickets/tickets/1", &before, "")
            .await
            .status,
        200
    );
    let after = harness.token().await;
    let kid = decode(&after).unwrap().header().kid.clone().unwrap();
    assert_eq!(kid, rotation["new_kid"].as_str().unwrap());
    let jwks =
        gatehouse_kit::client::send(Method::GET, &harness.data_url("/v1/jwks.json"), &[], "")
            .await
            .unwrap()
            .json()
            .unwrap();
    assert_eq!(
        jwks["keys"].as_array().unwrap().len(),
        3,
        "two data keys and the control key"
    );
    harness.clock.advance(Duration::from_secs(601));
    let reply = harness
        .call(Method::GET, "/tools/tickets/tickets/1", &before, "")
        .await;
    assert_eq!(reply.status, 401);
}

#[tokio::test]
async fn a_changed_upstream_secret_is_used_without_a_restart() {
    let harness = Harness::start().await;
    let token = harness.token().await;
    std::fs::write(
        harness.dir.path().join("tickets.secret"),
        "rotated-secret-77\n",
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(2200)).await;
    assert_eq!(
        harness
            .call(Method::GET, "/tools/tickets/tickets/9", &token, "")
            .await
            .status,
        200
    );
    let last = harness.upstream.seen().pop().unwrap();
    assert_eq!(last.headers["authorization"], "Bearer rotated-secret-77");
}

#[tokio::test]
async fn workflows_are_listed_and_created_explicitly() {
    let harness = Harness::start().await;
    let body = format!(r#"{{"id":"wf-planned","agent":"{AGENT}","task_class":"tiny"}}"#);
    let created = harness.control(Method::POST, "/v1/workflows", &body).await;
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(created.json().unwrap()["budget"]["calls"], 5);
    assert_eq!(
        harness
            .control(Method::POST, "/v1/workflows", &body)
            .await
            .status,
        409
    );
    let listed = harness
        .control(Method::GET, "/v1/workflows?status=active", "")
        .await
        .json()
        .unwrap();
    assert_eq!(listed["workflows"].as_array().unwrap().len(), 1);
    let bad = harness
        .control(
            Method::POST,
            "/v1/workflows",
            r#"{"id":"x","agent":"nobody","task_class":"tiny"}"#,
        )
        .await;
    assert_eq!(bad.status, 400);
}
