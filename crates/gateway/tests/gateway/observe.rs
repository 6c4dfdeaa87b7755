//! Observe mode (issue 15 item 1): a tool with `enforce = false` forwards calls that
//! policy, tier or budget would refuse, and each event records what enforcing would have
//! done; switching the tool to enforce in the config file takes effect without a
//! restart, refusing the next such call.

use std::time::{Duration, Instant};

use http::Method;

use gatehouse_core::event::EventKind;
use gatehouse_core::event::Observed;
use gatehouse_core::event::Would;
use gatehouse_core::refusal::RefusalKind;

use crate::harness::{Harness, decision_id, problem_kind};

const OBSERVED: (&str, &str) = ("[tools.tickets]\n", "[tools.tickets]\nenforce = false\n");
const WATCH: (&str, &str) = (
    "[segments.data]",
    "[policy]\nwatch_ms = 20\n\n[segments.data]",
);

async fn observed_as(harness: &Harness, reply: &gatehouse_kit::client::Reply) -> String {
    let event = harness.event(&decision_id(reply)).await;
    event
        .observed
        .map_or_else(|| "-".to_owned(), |observed| observed.to_string())
}

#[tokio::test]
async fn an_observed_tool_forwards_a_denied_call_and_enforcing_it_without_restart_refuses_the_next()
{
    let harness = Harness::builder()
        .edit(OBSERVED.0, OBSERVED.1)
        .edit(WATCH.0, WATCH.1)
        .start()
        .await;
    let token = harness.token().await;

    let read = harness
        .call(Method::GET, "/tools/tickets/tickets/7", &token, "")
        .await;
    assert_eq!(read.status, 200);
    assert_eq!(observed_as(&harness, &read).await, "pass");

    // `never-delete` forbids it: forwarded all the same, and recorded as a would-be deny.
    let delete = harness
        .call(Method::DELETE, "/tools/tickets/tickets/7", &token, "")
        .await;
    assert_eq!(delete.status, 200, "{}", delete.text());
    let seen = harness.upstream.seen();
    assert!(
        seen.iter().any(|seen| seen.method == Method::DELETE),
        "not forwarded"
    );
    let event = harness.event(&decision_id(&delete)).await;
    assert_eq!(
        event.observed,
        Some(Observed::Would(vec![Would::Deny(
            RefusalKind::PolicyDenied
        )]))
    );
    assert_eq!(event.outcome, gatehouse_core::event::Outcome::Allow);
    assert!(event.refusal.is_none());

    // A high-tier call would be parked for approval: forwarded instead.
    let export = harness
        .call(Method::GET, "/tools/tickets/export", &token, "")
        .await;
    assert_eq!(export.status, 200, "{}", export.text());
    assert_eq!(observed_as(&harness, &export).await, "would-park");

    // Enforce, by editing the config file: no restart.
    let config = harness.dir.path().join("gatehouse.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let written = Instant::now();
    std::fs::write(&config, text.replace("enforce = false\n", "")).unwrap();
    // Until the watcher has read the change, deletes are still observed and forwarded;
    // the first refused one, and every one after it, never reaches the tool.
    let mut observed_deletes = 0;
    let mut refused = None;
    while written.elapsed() < Duration::from_secs(10) {
        let reply = harness
            .call(Method::DELETE, "/tools/tickets/tickets/8", &token, "")
            .await;
        if reply.status == 403 {
            refused = Some(reply);
            break;
        }
        assert_eq!(reply.status, 200);
        observed_deletes += 1;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let refused = refused.expect("the tool never switched to enforce");
    assert_eq!(problem_kind(&refused), "policy-denied");
    let event = harness.event(&decision_id(&refused)).await;
    assert!(event.observed.is_none());
    let again = harness
        .call(Method::DELETE, "/tools/tickets/tickets/8", &token, "")
        .await;
    assert_eq!(again.status, 403);
    let reached = harness
        .upstream
        .seen()
        .iter()
        .filter(|seen| seen.method == Method::DELETE && seen.uri.ends_with("/tickets/8"))
        .count();
    assert_eq!(
        reached, observed_deletes,
        "a refused delete reached the tool"
    );
    let switched = harness
        .events_until("limit=100", |event| event.kind == EventKind::Config, 1)
        .await;
    let switched = switched
        .iter()
        .find(|event| event.kind == EventKind::Config)
        .unwrap();
    assert_eq!(switched.reason.as_deref(), Some("enforcing everywhere"));
}

#[tokio::test]
async fn an_observed_segment_forwards_a_call_over_budget_and_records_it() {
    let harness = Harness::builder()
        .edit("[segments.data]", "[segments.data]\nenforce = false")
        .start()
        .await;
    let token = harness.token_for("tiny").await;
    let mut last = None;
    for _ in 0..6 {
        let reply = harness
            .call(Method::GET, "/tools/tickets/tickets/7", &token, "")
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        last = Some(reply);
    }
    assert_eq!(
        observed_as(&harness, &last.unwrap()).await,
        "would-refuse-budget"
    );
}

/// Discovery (issue 15 item 2): an unmapped call to a discovering tool is forwarded and
/// recorded without an intent, as what enforcing would have refused; the credential's
/// segment, request hygiene and quarantines still hold.
#[tokio::test]
async fn a_discovering_tool_forwards_an_unmapped_call_but_not_past_a_quarantine_or_a_smuggled_method()
 {
    let harness = Harness::builder()
        .edit(
            OBSERVED.0,
            "[tools.tickets]\nenforce = false\ndiscover = true\n",
        )
        .start()
        .await;
    let token = harness.token().await;

    let unmapped = harness
        .call(
            Method::PATCH,
            "/tools/tickets/orders/17",
            &token,
            r#"{"a":1}"#,
        )
        .await;
    assert_eq!(unmapped.status, 200, "{}", unmapped.text());
    let seen = harness.upstream.seen();
    let forwarded = seen
        .iter()
        .find(|seen| seen.method == Method::PATCH)
        .expect("forwarded");
    assert_eq!(forwarded.uri, "/api/orders/17");
    assert_eq!(&forwarded.body[..], br#"{"a":1}"#);
    let upstream_auth = forwarded.headers.get("authorization").unwrap();
    assert!(!upstream_auth.to_str().unwrap().contains(&token));
    let event = harness.event(&decision_id(&unmapped)).await;
    assert_eq!(
        event.observed,
        Some(Observed::Would(vec![Would::Deny(RefusalKind::NoRoute)]))
    );
    assert_eq!(
        event.tool.as_ref().map(|tool| tool.as_str()),
        Some("tickets")
    );
    assert_eq!(event.intent, None);
    assert_eq!(event.outcome, gatehouse_core::event::Outcome::Allow);

    // A `_method` override is refused without a route to opt in.
    let smuggled = harness
        .call(
            Method::GET,
            "/tools/tickets/orders/17?_method=DELETE",
            &token,
            "",
        )
        .await;
    assert_eq!(problem_kind(&smuggled), "unsafe-request");

    // A tool without `discover` still refuses the unmapped call.
    let slow = harness
        .call(Method::GET, "/tools/slow/nope", &token, "")
        .await;
    assert_eq!(problem_kind(&slow), "no-route");

    // A quarantine of the tool covers discovered calls too.
    let body = serde_json::json!({"kind": "tool", "subject": "tickets", "for_secs": 60, "reason": "incident"});
    let reply = harness
        .control(Method::POST, "/v1/quarantines", &body.to_string())
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let quarantined = harness
        .call(Method::GET, "/tools/tickets/orders/18", &token, "")
        .await;
    assert_eq!(problem_kind(&quarantined), "quarantined");
}
