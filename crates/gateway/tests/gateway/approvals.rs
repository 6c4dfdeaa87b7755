//! Tiers, confirmations and approvals through the real surfaces: an approval is bound to
//! the exact call, runs once, expires, and is never given by the agent or (when
//! configured) its owner.

use std::time::Duration;

use gatehouse_core::event::EventKind;
use gatehouse_core::event::Outcome;
use gatehouse_core::model::Tier;
use http::Method;

use crate::harness::{APPROVER_TOKEN, Harness, decision_id, problem_kind};
use crate::workflows::wait_for_hook_of;

fn refunds_seen(harness: &Harness) -> Vec<crate::harness::Seen> {
    harness
        .upstream
        .seen()
        .into_iter()
        .filter(|seen| seen.uri == "/api/refunds")
        .collect()
}

async fn park(harness: &Harness, token: &str, body: &str) -> String {
    let reply = harness
        .call(Method::POST, "/tools/tickets/refunds", token, body)
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text());
    assert!(
        !reply.headers.contains_key("preference-applied"),
        "no wait was asked for"
    );
    reply.json().unwrap()["approval_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn poll(harness: &Harness, token: &str, id: &str) -> gatehouse_kit::client::Reply {
    harness
        .call(Method::GET, &format!("/v1/approvals/{id}"), token, "")
        .await
}

async fn verdict(
    harness: &Harness,
    token: &str,
    id: &str,
    verb: &str,
) -> gatehouse_kit::client::Reply {
    let path = format!("/v1/approvals/{id}/{verb}");
    harness
        .control_as(token, Method::POST, &path, r#"{"reason":"checked"}"#)
        .await
}

async fn until_done(harness: &Harness, token: &str, id: &str) -> gatehouse_kit::client::Reply {
    for _ in 0..100 {
        let reply = poll(harness, token, id).await;
        if reply.status != 202 {
            return reply;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("approval `{id}` never ran");
}

#[tokio::test]
async fn a_high_tier_call_parks_and_runs_exactly_once_after_approval() {
    let harness = Harness::start().await;
    let token = harness.token().await;
    let id = park(&harness, &token, r#"{"amount":40}"#).await;
    assert!(
        refunds_seen(&harness).is_empty(),
        "a parked call must not reach the tool"
    );
    let hook = wait_for_hook_of(&harness, "approval.pending").await;
    assert_eq!(
        hook["link"],
        format!("http://gatehouse.test/console/approvals/{id}")
    );
    let pending = poll(&harness, &token, &id).await;
    assert_eq!(
        (
            pending.status.as_u16(),
            pending.json().unwrap()["status"].as_str()
        ),
        (202, Some("pending"))
    );
    let approved = verdict(&harness, APPROVER_TOKEN, &id, "approve").await;
    assert_eq!(approved.status, 200, "{}", approved.text());
    let done = until_done(&harness, &token, &id).await;
    assert_eq!(done.status, 200);
    assert_eq!(done.text(), r#"{"ok":true,"path":"/api/refunds"}"#);
    let seen = refunds_seen(&harness);
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].body, r#"{"amount":40}"#);
    assert_eq!(
        verdict(&harness, "bob-token", &id, "approve").await.status,
        409,
        "it ran; nothing more to approve"
    );
    assert_eq!(until_done(&harness, &token, &id).await.status, 200);
    assert_eq!(
        refunds_seen(&harness).len(),
        1,
        "polling again does not run it again"
    );
    let trail = harness.events("intent=refund.create", 2).await;
    let outcomes: Vec<Outcome> = trail.iter().map(|event| event.outcome).collect();
    assert!(
        outcomes.contains(&Outcome::Pending) && outcomes.contains(&Outcome::Allow),
        "{outcomes:?}"
    );
    let verdicts = harness.events("intent=approval.approve", 1).await;
    assert_eq!(verdicts[0].actor.as_deref(), Some("alice"));
    // The executed call is attributed to the agent and workflow it ran for.
    let is_execution = |event: &gatehouse_core::event::Event| event.kind == EventKind::Approval;
    let trail = harness
        .events_until("intent=refund.create", is_execution, 1)
        .await;
    let parked = trail.iter().find(|event| event.outcome == Outcome::Pending);
    let executed = trail.iter().find(|event| is_execution(event));
    let (parked, executed) = (parked.unwrap(), executed.unwrap());
    assert!(
        executed.agent.is_some() && executed.workflow.is_some(),
        "{executed:?}"
    );
    assert_eq!(executed.agent, parked.agent);
    assert_eq!(executed.workflow, parked.workflow);
    assert_eq!(executed.task_class, parked.task_class);
}

#[tokio::test]
async fn an_agent_that_asked_to_wait_receives_the_upstreams_response() {
    let harness = std::sync::Arc::new(Harness::start().await);
    let token = harness.token().await;
    let url = harness.data_url("/tools/tickets/refunds");
    let auth = format!("Bearer {token}");
    let waiting = {
        let (url, auth) = (url.clone(), auth.clone());
        tokio::spawn(async move {
            // More than the harness's `max_wait_secs` (10): the answer says what was applied.
            let headers = [("authorization", auth.as_str()), ("prefer", "wait=3600")];
            gatehouse_kit::client::send(Method::POST, &url, &headers, r#"{"amount":7}"#)
                .await
                .unwrap()
        })
    };
    let id = loop {
        let listed = harness
            .control_as(
                APPROVER_TOKEN,
                Method::GET,
                "/v1/approvals?status=pending",
                "",
            )
            .await;
        if let Some(id) = listed.json().unwrap()["approvals"][0]["id"].as_str() {
            break id.to_owned();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        verdict(&harness, APPROVER_TOKEN, &id, "approve")
            .await
            .status,
        200
    );
    let reply = waiting.await.unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.headers["gatehouse-approval-id"], id.as_str());
    assert_eq!(reply.headers["preference-applied"], "wait=10");
}

#[tokio::test]
async fn a_denied_approval_never_runs() {
    let harness = Harness::start().await;
    let token = harness.token().await;
    let id = park(&harness, &token, "{}").await;
    assert_eq!(
        verdict(&harness, APPROVER_TOKEN, &id, "deny").await.status,
        200
    );
    let reply = poll(&harness, &token, &id).await;
    assert_eq!(
        (reply.status.as_u16(), problem_kind(&reply).as_str()),
        (403, "approval-denied")
    );
    assert_eq!(
        verdict(&harness, "bob-token", &id, "approve").await.status,
        409
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(refunds_seen(&harness).is_empty());
}

#[tokio::test]
async fn an_expired_approval_is_denied() {
    let harness = Harness::start().await;
    let token = harness.token().await;
    let id = park(&harness, &token, "{}").await;
    harness.clock.advance(Duration::from_secs(5 * 60 + 1));
    let reply = poll(&harness, &token, &id).await;
    assert_eq!(
        (reply.status.as_u16(), problem_kind(&reply).as_str()),
        (403, "approval-expired")
    );
    assert_eq!(
        verdict(&harness, APPROVER_TOKEN, &id, "approve")
            .await
            .status,
        409
    );
    assert!(refunds_seen(&harness).is_empty());
}

#[tokio::test]
async fn the_agent_and_its_owner_cannot_approve() {
    let harness = Harness::start().await;
    let token = harness.token().await;
    let id = park(&harness, &token, "{}").await;
    let selfish = verdict(&harness, "agent-as-approver-token", &id, "approve").await;
    assert_eq!(selfish.status, 409);
    assert!(
        selfish.text().contains("made the call"),
        "{}",
        selfish.text()
    );
    let owner = verdict(&harness, "carol-token", &id, "approve").await;
    assert_eq!(owner.status, 409);
    assert!(
        owner.text().contains("owns the calling agent"),
        "{}",
        owner.text()
    );
    let operator = verdict(&harness, crate::harness::OPERATOR_TOKEN, &id, "approve").await;
    assert_eq!(
        operator.status, 403,
        "operators without the approver role cannot approve"
    );
    assert_eq!(poll(&harness, &token, &id).await.status, 202);
}

#[tokio::test]
async fn two_approver_intents_need_two_different_approvers() {
    let harness = Harness::start().await;
    let token = harness.token().await;
    let reply = harness
        .call(Method::POST, "/tools/tickets/payouts", &token, "{}")
        .await;
    let id = reply.json().unwrap()["approval_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        verdict(&harness, APPROVER_TOKEN, &id, "approve")
            .await
            .status,
        200
    );
    assert_eq!(
        poll(&harness, &token, &id).await.status,
        202,
        "one approver is not enough"
    );
    assert_eq!(
        verdict(&harness, APPROVER_TOKEN, &id, "approve")
            .await
            .status,
        409,
        "the same approver twice"
    );
    assert_eq!(
        verdict(&harness, "bob-token", &id, "approve").await.status,
        200
    );
    assert_eq!(until_done(&harness, &token, &id).await.status, 200);
}

#[tokio::test]
async fn ending_the_workflow_cancels_its_parked_calls() {
    let harness = Harness::start().await;
    let token = harness.token().await;
    let id = park(&harness, &token, "{}").await;
    harness
        .control(Method::POST, "/v1/workflows/wf-1/end", "{}")
        .await;
    // The ended workflow's credential opens no door, the poll included (issue 13 item 0);
    // the operator sees the approval cancelled.
    let reply = poll(&harness, &token, &id).await;
    assert_eq!(
        (reply.status.as_u16(), problem_kind(&reply).as_str()),
        (401, "unauthenticated")
    );
    let shown = harness
        .control(Method::GET, &format!("/v1/approvals/{id}"), "")
        .await;
    assert_eq!(
        shown.json().unwrap()["status"],
        "cancelled",
        "{}",
        shown.text()
    );
    assert_eq!(
        verdict(&harness, APPROVER_TOKEN, &id, "approve")
            .await
            .status,
        409
    );
}

#[tokio::test]
async fn a_policy_annotation_raises_the_tier() {
    let harness = Harness::start().await;
    let token = harness.token().await;
    let reply = harness
        .call(Method::GET, "/tools/tickets/export", &token, "")
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text());
    let event = harness.event(&decision_id(&reply)).await;
    assert_eq!(event.tier, Some(Tier::High));
    assert_eq!(event.policies, vec!["exports-need-approval".to_owned()]);
}

async fn confirm(harness: &Harness, token: &str, id: &str) -> gatehouse_kit::client::Reply {
    harness
        .control_as(
            token,
            Method::POST,
            &format!("/v1/confirmations/{id}/confirm"),
            "{}",
        )
        .await
}

#[tokio::test]
async fn a_confirmation_fits_one_call_once() {
    let harness = Harness::start().await;
    let token = harness.token().await;
    let url = harness.data_url("/tools/tickets/tickets/5");
    let auth = format!("Bearer {token}");
    let first = harness
        .call(
            Method::PUT,
            "/tools/tickets/tickets/5",
            &token,
            r#"{"state":"closed"}"#,
        )
        .await;
    assert_eq!(
        (first.status.as_u16(), problem_kind(&first).as_str()),
        (428, "confirmation-required")
    );
    let id = first.json().unwrap()["confirmation_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        confirm(&harness, APPROVER_TOKEN, &id).await.status,
        403,
        "only the task class's confirmer"
    );
    let early = [
        ("authorization", auth.as_str()),
        ("gatehouse-confirmation", id.as_str()),
    ];
    let unconfirmed =
        gatehouse_kit::client::send(Method::PUT, &url, &early, r#"{"state":"closed"}"#)
            .await
            .unwrap();
    assert_eq!(unconfirmed.status, 403, "not confirmed yet");
    assert_eq!(
        confirm(&harness, "orchestrator-token", &id).await.status,
        200
    );
    let with = [
        ("authorization", auth.as_str()),
        ("gatehouse-confirmation", id.as_str()),
    ];
    let other = gatehouse_kit::client::send(Method::PUT, &url, &with, r#"{"state":"deleted"}"#)
        .await
        .unwrap();
    assert_eq!(
        (other.status.as_u16(), problem_kind(&other).as_str()),
        (403, "confirmation-rejected")
    );
    let same = gatehouse_kit::client::send(Method::PUT, &url, &with, r#"{"state":"closed"}"#)
        .await
        .unwrap();
    assert_eq!(same.status, 200, "{}", same.text());
    let again = gatehouse_kit::client::send(Method::PUT, &url, &with, r#"{"state":"closed"}"#)
        .await
        .unwrap();
    assert_eq!(again.status, 403, "a confirmation is used once");
    let updates: Vec<_> = harness
        .upstream
        .seen()
        .into_iter()
        .filter(|seen| seen.method == Method::PUT)
        .collect();
    assert_eq!(updates.len(), 1);
}
