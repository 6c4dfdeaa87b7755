//! The operator's log as `gatehouse serve` writes it: an access line per call, failures
//! with their cause, JSON on request, no colour codes when stderr is not a terminal.

use std::path::Path;
use std::time::Duration;

use gatehouse_kit::client::send;
use http::Method;
use serde_json::Value;

use crate::example;
use crate::lifecycle::{credential, free_port, serve_logging, start_tool};

/// The JSON log lines of the access target, waiting for the one with `decision`.
async fn access_line(example: &Path, decision: &str) -> (Value, String) {
    for _ in 0..100 {
        let log = std::fs::read_to_string(example.join("stderr.log")).unwrap_or_default();
        let found = log
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .find(|line| line["target"] == "gatehouse::access" && line["decision"] == decision);
        if let Some(line) = found {
            return (line, log);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let log = std::fs::read_to_string(example.join("stderr.log")).unwrap_or_default();
    panic!("no access line for {decision} in: {log}");
}

fn decision_of(reply: &gatehouse_kit::client::Reply) -> String {
    reply.headers["gatehouse-decision-id"]
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn each_call_is_one_json_access_line_with_who_what_and_how_long() {
    let (_dir, example) = example();
    let tool = start_tool(&example).await;
    let served = serve_logging(&example, tool, &["--log-format", "json"], "info").await;
    let (token, _) = credential(&example, &served, "wf-logs").await;
    let auth = format!("Bearer {token}");
    let url = format!("{}/tools/tickets/tickets", served.data);
    let reply = send(
        Method::POST,
        &url,
        &[("authorization", &auth)],
        r#"{"title":"x"}"#,
    )
    .await
    .unwrap();
    assert_eq!(reply.status, 201, "{}", reply.text());
    let (line, log) = access_line(&example, &decision_of(&reply)).await;
    assert_eq!(line["level"], "INFO", "{line}");
    assert_eq!(line["agent"], "spiffe://acme/agent/triage-bot");
    assert_eq!(line["workflow"], "wf-logs");
    assert_eq!(line["tool"], "tickets");
    assert_eq!(line["intent"], "ticket.create");
    assert_eq!(line["outcome"], "allow");
    assert_eq!(line["status"], 201);
    assert!(line["latency_us"].as_u64().is_some(), "{line}");
    assert!(!log.contains('\u{1b}'), "colour codes in a file: {log}");

    let denied = send(
        Method::DELETE,
        &format!("{url}/1"),
        &[("authorization", &auth)],
        "",
    )
    .await
    .unwrap();
    assert_eq!(denied.status, 403);
    let (line, _) = access_line(&example, &decision_of(&denied)).await;
    assert_eq!(line["outcome"], "deny");
    assert_eq!(line["refusal"], "policy-denied");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_the_tool_cannot_answer_is_a_warning_with_its_cause() {
    let (_dir, example) = example();
    // Nothing listens there: the call fails with 502.
    let dead = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let served = serve_logging(&example, dead, &["--log-format", "json"], "warn").await;
    let (token, _) = credential(&example, &served, "wf-dead").await;
    let auth = format!("Bearer {token}");
    let reply = send(
        Method::POST,
        &format!("{}/tools/tickets/tickets", served.data),
        &[("authorization", &auth)],
        r#"{"title":"x"}"#,
    )
    .await
    .unwrap();
    assert_eq!(reply.status, 502, "{}", reply.text());
    let (line, log) = access_line(&example, &decision_of(&reply)).await;
    assert_eq!(line["level"], "WARN", "{line}");
    assert_eq!(line["outcome"], "error");
    assert_eq!(line["refusal"], "upstream-unavailable");
    let reason = line["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("connect") || reason.contains("refused"),
        "{line}"
    );
    // At `warn`, the token exchange's info line is filtered out.
    assert!(
        !log.contains("\"kind\":\"token\""),
        "info lines under a warn filter: {log}"
    );
}
