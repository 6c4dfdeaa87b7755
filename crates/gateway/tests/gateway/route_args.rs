//! Typed arguments of HTTP routes, through the real data plane: policy reads path, query
//! and body arguments as `context.args`, `@tier` on an argument-conditioned permit raises
//! the tier, ill-typed arguments never reach policy, and the bytes decided on are the
//! bytes the tool receives.

use http::Method;

use std::time::Duration;

use crate::harness::{APPROVER_TOKEN, Harness, POLICY, problem_kind};

const ROUTES: &str = r#"{ method = "POST", path = "/orders/{id}/refund", intent = "order.refund", args = { id = { path = "long" }, amount = { body = "long" }, reason = { body = "string?" } } },
  { method = "GET", path = "/orders/{id}", intent = "order.read", args = { id = { path = "string" }, view = { query = "string?" } } },
  { method = "GET", path = "/export", intent = "ticket.export" },"#;

const ORDER_POLICY: &str = r#"
@id("refunds")
permit (
  principal in Gatehouse::Group::"triage",
  action == Gatehouse::Action::"order.refund",
  resource in Gatehouse::Segment::"data"
);

@id("large-refunds-need-approval")
@tier("high")
permit (
  principal in Gatehouse::Group::"triage",
  action == Gatehouse::Action::"order.refund",
  resource in Gatehouse::Segment::"data"
) when { context.args.amount > 500 };

@id("mid-refunds-need-confirmation")
@tier("medium")
permit (
  principal in Gatehouse::Group::"triage",
  action == Gatehouse::Action::"order.refund",
  resource in Gatehouse::Segment::"data"
) when { context.args.amount > 200 };

@id("orders-but-not-the-vault")
permit (
  principal in Gatehouse::Group::"triage",
  action == Gatehouse::Action::"order.read",
  resource in Gatehouse::Segment::"data"
) unless { context.args.id == "vault" };

@id("no-internal-views")
forbid (principal, action == Gatehouse::Action::"order.read", resource)
when { context.args has view && context.args.view == "internal" };
"#;

async fn orders() -> Harness {
    Harness::builder()
        .edit(
            r#"{ method = "GET", path = "/export", intent = "ticket.export" },"#,
            ROUTES,
        )
        .edit(
            r#""ticket.export"]"#,
            r#""ticket.export", "order.refund", "order.read"]"#,
        )
        .policy(&format!("{POLICY}{ORDER_POLICY}"))
        .start()
        .await
}

fn seen_under(harness: &Harness, prefix: &str) -> Vec<crate::harness::Seen> {
    harness
        .upstream
        .seen()
        .into_iter()
        .filter(|seen| seen.uri.starts_with(prefix))
        .collect()
}

#[tokio::test]
async fn a_small_refund_is_forwarded_with_the_exact_bytes_decided_on() {
    let harness = orders().await;
    let token = harness.token().await;
    // Odd spacing, key order and an undeclared field: nothing is re-serialised.
    let body = "{ \"reason\":\"late\",  \"amount\" : 100, \"extra\": [1, {\"b\":2,\"a\":1}] }";
    let reply = harness
        .call(Method::POST, "/tools/tickets/orders/7/refund", &token, body)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let seen = seen_under(&harness, "/api/orders/");
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].uri, "/api/orders/7/refund");
    assert_eq!(seen[0].body.as_ref(), body.as_bytes());
}

#[tokio::test]
async fn a_large_refund_is_parked_for_approval_and_reaches_nothing() {
    let harness = orders().await;
    let token = harness.token().await;
    let reply = harness
        .call(
            Method::POST,
            "/tools/tickets/orders/7/refund",
            &token,
            r#"{"amount": 900}"#,
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text());
    assert!(reply.json().unwrap()["approval_id"].is_string());
    assert!(seen_under(&harness, "/api/orders/").is_empty());
    let id = crate::harness::decision_id(&reply);
    let event = harness.event(&id).await;
    assert!(
        event
            .policies
            .contains(&"large-refunds-need-approval".into()),
        "{:?}",
        event.policies
    );
}

#[tokio::test]
async fn ill_typed_arguments_are_refused_before_policy() {
    let harness = orders().await;
    let token = harness.token().await;
    for (path, body) in [
        ("/tools/tickets/orders/7/refund", r#"{"amount": "900"}"#),
        ("/tools/tickets/orders/7/refund", r#"{"amount": 90.5}"#),
        (
            "/tools/tickets/orders/7/refund",
            r#"{"reason": "no amount"}"#,
        ),
        (
            "/tools/tickets/orders/7/refund",
            r#"{"amount": 1, "amount": 900}"#,
        ),
        ("/tools/tickets/orders/7/refund", r#"[900]"#),
        ("/tools/tickets/orders/seven/refund", r#"{"amount": 100}"#),
    ] {
        let reply = harness.call(Method::POST, path, &token, body).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.text());
        assert_eq!(problem_kind(&reply), "bad-arguments", "{body}");
    }
    assert!(seen_under(&harness, "/api/orders/").is_empty());
}

#[tokio::test]
async fn a_body_with_arguments_must_be_json() {
    let harness = orders().await;
    let token = harness.token().await;
    let auth = format!("Bearer {token}");
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "text/plain"),
    ];
    let url = harness.data_url("/tools/tickets/orders/7/refund");
    let body = r#"{"amount": 100}"#.to_owned();
    let reply = gatehouse_kit::client::send(Method::POST, &url, &headers, body)
        .await
        .unwrap();
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert_eq!(problem_kind(&reply), "bad-arguments");
    assert!(seen_under(&harness, "/api/orders/").is_empty());
}

#[tokio::test]
async fn policy_reads_path_and_query_arguments() {
    let harness = orders().await;
    let token = harness.token().await;
    for (path, status) in [
        ("/tools/tickets/orders/42", 200),
        ("/tools/tickets/orders/vault", 403),
        ("/tools/tickets/orders/42?view=summary", 200),
        ("/tools/tickets/orders/42?view=internal", 403),
        ("/tools/tickets/orders/42?view=intern%61l", 403),
        ("/tools/tickets/orders/42?view=summary&view=internal", 400),
    ] {
        let reply = harness.call(Method::GET, path, &token, "").await;
        assert_eq!(reply.status, status, "{path}: {}", reply.text());
    }
    let seen: Vec<String> = seen_under(&harness, "/api/orders/")
        .into_iter()
        .map(|seen| seen.uri)
        .collect();
    assert_eq!(seen, ["/api/orders/42", "/api/orders/42?view=summary"]);
}

#[tokio::test]
async fn an_approved_large_refund_runs_with_the_exact_bytes_parked() {
    let harness = orders().await;
    let token = harness.token().await;
    let body = "{\"amount\":  900 ,\"reason\":\"broken\"}";
    let reply = harness
        .call(Method::POST, "/tools/tickets/orders/7/refund", &token, body)
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text());
    let id = reply.json().unwrap()["approval_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/v1/approvals/{id}/approve");
    let approved = harness
        .control_as(
            APPROVER_TOKEN,
            Method::POST,
            &path,
            r#"{"reason":"checked"}"#,
        )
        .await;
    assert_eq!(approved.status, 200, "{}", approved.text());
    let poll = format!("/v1/approvals/{id}");
    for _ in 0..100 {
        if harness.call(Method::GET, &poll, &token, "").await.status != 202 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seen = seen_under(&harness, "/api/orders/");
    assert_eq!(seen.len(), 1, "runs exactly once after approval");
    assert_eq!(seen[0].body.as_ref(), body.as_bytes());
}

#[tokio::test]
async fn a_confirmation_of_a_mid_refund_fits_its_exact_bytes_only() {
    let harness = orders().await;
    let token = harness.token().await;
    let path = "/tools/tickets/orders/7/refund";
    let body = r#"{"amount":300}"#;
    let first = harness.call(Method::POST, path, &token, body).await;
    assert_eq!(
        (first.status.as_u16(), problem_kind(&first).as_str()),
        (428, "confirmation-required")
    );
    let id = first.json().unwrap()["confirmation_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let confirmed = harness
        .control_as(
            "orchestrator-token",
            Method::POST,
            &format!("/v1/confirmations/{id}/confirm"),
            "{}",
        )
        .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.text());
    let auth = format!("Bearer {token}");
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
        ("gatehouse-confirmation", id.as_str()),
    ];
    let url = harness.data_url(path);
    let send = |body: &'static str| {
        gatehouse_kit::client::send(Method::POST, &url, &headers, body.to_owned())
    };
    // The same arguments in other bytes are another call.
    let respaced = send(r#"{"amount": 300}"#).await.unwrap();
    assert_eq!(
        (respaced.status.as_u16(), problem_kind(&respaced).as_str()),
        (403, "confirmation-rejected")
    );
    let same = send(r#"{"amount":300}"#).await.unwrap();
    assert_eq!(same.status, 200, "{}", same.text());
    let seen = seen_under(&harness, "/api/orders/");
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].body.as_ref(), body.as_bytes());
}

#[tokio::test]
async fn a_body_with_arguments_is_read_only_up_to_the_limit() {
    let harness = orders().await;
    let token = harness.token().await;
    let body = format!(r#"{{"amount": 1, "reason": "{}"}}"#, "x".repeat(2000));
    let reply = harness
        .call(
            Method::POST,
            "/tools/tickets/orders/7/refund",
            &token,
            &body,
        )
        .await;
    assert_eq!(reply.status, 413, "{}", reply.text());
    assert_eq!(problem_kind(&reply), "body-too-large");
    assert!(seen_under(&harness, "/api/orders/").is_empty());
}
