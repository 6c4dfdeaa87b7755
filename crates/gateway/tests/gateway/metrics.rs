//! `GET /metrics` on the control plane, scraped after real calls: decisions by outcome
//! and refusal kind, both latency histograms, and the gauges read at scrape time.

use http::Method;
use serde_json::json;

use crate::harness::{Harness, OPERATOR_TOKEN};

async fn scrape(harness: &Harness) -> String {
    let url = harness.control_url("/metrics");
    let reply = gatehouse_kit::client::get_with_token(&url, OPERATOR_TOKEN)
        .await
        .unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.headers["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    reply.text()
}

/// The value of the sample named exactly `series` (name and labels).
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no `{series}` in\n{text}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_scrape_counts_decisions_latencies_and_what_is_in_force() {
    let harness = Harness::start().await;
    let token = harness.token().await;
    let before = scrape(&harness).await;
    let allowed_before = sample(
        &before,
        r#"gatehouse_decisions_total{outcome="allow",refusal="none"}"#,
    );
    for _ in 0..3 {
        let reply = harness
            .call(Method::GET, "/tools/tickets/tickets/1", &token, "")
            .await;
        assert_eq!(reply.status, 200);
    }
    let denied = harness
        .call(Method::DELETE, "/tools/tickets/tickets/1", &token, "")
        .await;
    assert_eq!(denied.status, 403);
    let dead = harness.call(Method::GET, "/tools/dead/x", &token, "").await;
    assert_eq!(dead.status, 502);
    let body = json!({"kind": "agent", "subject": crate::harness::AGENT, "reason": "t"});
    let revoked = harness
        .control(Method::POST, "/v1/revocations", &body.to_string())
        .await;
    assert!(revoked.status.is_success(), "{}", revoked.text());
    let body = json!({"kind": "tool", "subject": "slow", "for_secs": 60, "reason": "t"});
    harness
        .control(Method::POST, "/v1/quarantines", &body.to_string())
        .await;

    let text = scrape(&harness).await;
    let allowed = sample(
        &text,
        r#"gatehouse_decisions_total{outcome="allow",refusal="none"}"#,
    );
    assert_eq!(allowed - allowed_before, 3.0, "{text}");
    assert_eq!(
        sample(
            &text,
            r#"gatehouse_decisions_total{outcome="deny",refusal="policy-denied"}"#
        ),
        1.0
    );
    assert_eq!(
        sample(
            &text,
            r#"gatehouse_decisions_total{outcome="error",refusal="upstream-unavailable"}"#
        ),
        1.0
    );
    assert_eq!(
        sample(
            &text,
            r#"gatehouse_upstream_errors_total{kind="unavailable"}"#
        ),
        1.0
    );
    assert!(sample(&text, "gatehouse_tool_latency_seconds_count") >= 3.0);
    let decided = sample(&text, "gatehouse_decision_latency_seconds_count");
    assert_eq!(
        decided,
        sample(
            &text,
            r#"gatehouse_decision_latency_seconds_bucket{le="+Inf"}"#
        )
    );
    assert!(decided >= 5.0);
    assert_eq!(sample(&text, r#"gatehouse_revocations{kind="agent"}"#), 1.0);
    assert_eq!(sample(&text, "gatehouse_quarantines"), 1.0);
    assert_eq!(sample(&text, "gatehouse_pending_approvals"), 0.0);
    assert_eq!(sample(&text, "gatehouse_store_up"), 1.0);
    // Every sample belongs to a family declared with HELP and TYPE before it.
    let mut declared = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            declared.push(rest.split(' ').next().unwrap().to_owned());
        } else if !line.starts_with('#') {
            let name = line.split(['{', ' ']).next().unwrap();
            assert!(
                declared
                    .iter()
                    .any(|family| name.starts_with(family.as_str())),
                "`{line}` has no TYPE"
            );
        }
    }
    harness.stop().await;
}

#[tokio::test]
async fn metrics_need_an_operator_or_auditor_token() {
    let harness = Harness::start().await;
    let url = harness.control_url("/metrics");
    let anonymous = gatehouse_kit::client::send(Method::GET, &url, &[], "")
        .await
        .unwrap();
    assert_eq!(anonymous.status, 401);
    let approver = gatehouse_kit::client::get_with_token(&url, crate::harness::APPROVER_TOKEN)
        .await
        .unwrap();
    assert_eq!(approver.status, 403);
    harness.stop().await;
}
