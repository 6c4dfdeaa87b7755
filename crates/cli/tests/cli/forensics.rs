//! `gatehouse forensics on|list|off` and `gatehouse recordings list|show` against a real
//! `gatehouse serve`: a recorded call is printed as it crossed the gateway, the tool's
//! secret redacted.

use std::time::Duration;

use gatehouse_kit::client::send;
use http::Method;

use crate::example;
use crate::lifecycle::{credential, operator, serve, start_tool};

const AGENT: &str = "spiffe://acme/agent/triage-bot";

fn ok(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recorded_call_is_shown_as_it_crossed_the_gateway() {
    let (_dir, example) = example();
    let secret = std::fs::read_to_string(example.join("secrets/tickets.secret")).unwrap();
    let tool = start_tool(&example).await;
    let served = serve(&example, tool).await;
    let (token, _) = credential(&example, &served, "wf-forensics").await;
    ok(&operator(
        &example,
        &served,
        &["forensics", "on", "--agent", AGENT, "--for", "30m"],
    ));
    let listed = ok(&operator(&example, &served, &["forensics", "list"]));
    assert!(listed.contains(AGENT), "{listed}");

    let auth = format!("Bearer {token}");
    let reply = send(
        Method::POST,
        &format!("{}/tools/tickets/tickets", served.data),
        &[("authorization", auth.as_str())],
        r#"{"title":"printer on fire"}"#,
    )
    .await
    .unwrap();
    assert_eq!(reply.status, 201);
    let id = reply.headers["gatehouse-decision-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let mut shown = String::new();
    for _ in 0..200 {
        let output = operator(&example, &served, &["recordings", "show", &id]);
        if output.status.success() {
            shown = String::from_utf8_lossy(&output.stdout).into_owned();
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(shown.contains("POST /tickets HTTP/1.1"), "{shown}");
    assert!(shown.contains("[redacted]"), "{shown}");
    assert!(!shown.contains(secret.trim()), "the secret was recorded");
    assert!(shown.contains("printer on fire"), "{shown}");
    assert!(shown.contains("HTTP/1.1 201 Created"), "{shown}");
    let list = ok(&operator(
        &example,
        &served,
        &["recordings", "list", "--agent", AGENT],
    ));
    assert!(
        list.contains(&id) && list.contains("POST /tickets"),
        "{list}"
    );
    ok(&operator(
        &example,
        &served,
        &["forensics", "off", "--agent", AGENT],
    ));
    let listed = ok(&operator(&example, &served, &["forensics", "list"]));
    assert!(!listed.contains(AGENT), "{listed}");
}
