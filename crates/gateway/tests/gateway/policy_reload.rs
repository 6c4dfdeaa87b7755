//! Policy lifecycle (issue 15 item 4): a policy set reloaded while calls run (by `POST
//! /v1/policies/apply` or by the watcher seeing the files change) is switched whole: no
//! call fails, every decision names a version that was fully loaded and was made by
//! that version's policies; a set that does not validate is refused and the old one
//! stays; every load is recorded with who and why.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use http::Method;
use serde_json::{Value, json};

use gatehouse_core::event::EventKind;
use gatehouse_core::refusal::RefusalKind;

use crate::harness::{Harness, POLICY};

const READ: &str = "/tools/tickets/tickets/7";

/// No watcher: only `apply` reloads.
const NO_WATCH: (&str, &str) = (
    "[segments.data]",
    "[policy]\nwatch_ms = 0\n\n[segments.data]",
);

/// The harness's policy with `ticket.read` permitted by a policy named `read-{name}` in a
/// second file, so each named set has its own version and its own determining policy.
fn policy_set(harness: &Harness, name: &str) {
    let policies = harness.dir.path().join("policies");
    let read = format!(
        "@id(\"read-{name}\")\npermit (principal in Gatehouse::Group::\"triage\", \
         action == Gatehouse::Action::\"ticket.read\", resource);\n"
    );
    let main = POLICY.replace("Gatehouse::Action::\"ticket.read\",", "");
    std::fs::write(policies.join("main.cedar"), main).unwrap();
    std::fs::write(policies.join("read.cedar"), read).unwrap();
}

async fn apply(harness: &Harness, message: &str) -> Value {
    let body = json!({ "message": message }).to_string();
    let reply = harness
        .control(Method::POST, "/v1/policies/apply", &body)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json().unwrap()
}

async fn in_force(harness: &Harness) -> Value {
    let reply = harness.control(Method::GET, "/v1/policies", "").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_applies_during_concurrent_calls_fail_none_and_each_decision_names_its_set() {
    let harness = Harness::builder()
        .edit(NO_WATCH.0, NO_WATCH.1)
        .start()
        .await;
    let token = harness.token().await;
    let started = in_force(&harness).await["in_force"]
        .as_str()
        .unwrap()
        .to_owned();
    // Which policy permits the read under each version.
    let mut permits: HashMap<String, String> = HashMap::new();
    let done = AtomicBool::new(false);
    let applier = async {
        for round in 0..200 {
            let name = if round % 2 == 0 { "even" } else { "odd" };
            policy_set(&harness, name);
            let applied = apply(&harness, &format!("round {round}")).await;
            assert_eq!(applied["changed"], true, "round {round}");
            let version = applied["version"].as_str().unwrap().to_owned();
            permits.insert(version, format!("read-{name}"));
        }
        done.store(true, Ordering::SeqCst);
    };
    let caller = || async {
        let mut statuses = Vec::new();
        while !done.load(Ordering::SeqCst) && statuses.len() < 200 {
            let reply = harness.call(Method::GET, READ, &token, "").await;
            statuses.push(reply.status.as_u16());
        }
        statuses
    };
    let ((), a, b, c, d) = tokio::join!(applier, caller(), caller(), caller(), caller());
    let statuses: Vec<u16> = [a, b, c, d].concat();
    assert!(statuses.iter().all(|status| *status == 200), "{statuses:?}");
    let calls = statuses.len();
    let events = harness
        .events_until("tool=tickets&limit=1000", |_| true, calls)
        .await;
    let mut versions_used = std::collections::HashSet::new();
    for event in events.iter().filter(|event| event.kind == EventKind::Tool) {
        let version = event.policy_version.as_deref().unwrap().to_owned();
        let permit = match permits.get(&version) {
            Some(permit) => permit.as_str(),
            None if version == started => "triage-works-tickets",
            None => panic!("event {} names version `{version}`, never loaded", event.id),
        };
        assert_eq!(event.policies, vec![permit.to_owned()], "{}", event.id);
        versions_used.insert(version);
    }
    assert!(versions_used.len() > 1, "the calls all ran under one set");
    let listed = in_force(&harness).await;
    let versions = listed["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 50);
    assert_eq!(versions[0]["message"], "round 199");
    assert_eq!(versions[0]["by"], "admin");
    assert_eq!(listed["in_force"], versions[0]["version"]);
}

#[tokio::test]
async fn a_policy_set_that_does_not_validate_is_refused_and_the_old_one_stays() {
    let harness = Harness::builder()
        .edit(NO_WATCH.0, NO_WATCH.1)
        .start()
        .await;
    let token = harness.token().await;
    let before = in_force(&harness).await["in_force"].clone();
    let policies = harness.dir.path().join("policies");
    std::fs::write(
        policies.join("broken.cedar"),
        "permit (principal, action == Gatehouse::Action::\"no.such\", resource);",
    )
    .unwrap();
    let reply = harness
        .control(Method::POST, "/v1/policies/apply", r#"{"message":"oops"}"#)
        .await;
    assert_eq!(reply.status, 409, "{}", reply.text());
    assert!(reply.text().contains("no.such"), "{}", reply.text());
    assert_eq!(in_force(&harness).await["in_force"], before);
    let call = harness.call(Method::GET, READ, &token, "").await;
    assert_eq!(call.status, 200);
    let event = harness.event(&crate::harness::decision_id(&call)).await;
    assert_eq!(event.policy_version.as_deref(), before.as_str());
    let refused = harness
        .events_until("limit=50", |event| event.kind == EventKind::Policy, 1)
        .await;
    let refused = refused
        .iter()
        .find(|event| event.kind == EventKind::Policy)
        .unwrap();
    assert_eq!(refused.refusal, Some(RefusalKind::InvalidPolicy));
    assert_eq!(refused.actor.as_deref(), Some("admin"));
    assert!(refused.reason.as_deref().unwrap().contains("no.such"));
    // Applying the same files again is a no-op that says so.
    std::fs::remove_file(policies.join("broken.cedar")).unwrap();
    let again = apply(&harness, "back").await;
    assert_eq!(again["changed"], false);
    assert_eq!(again["version"], before);
}

#[tokio::test]
async fn a_changed_policy_file_is_put_in_force_by_the_watcher() {
    let harness = Harness::builder()
        .edit(NO_WATCH.0, "[policy]\nwatch_ms = 20\n\n[segments.data]")
        .start()
        .await;
    let token = harness.token().await;
    assert_eq!(
        harness.call(Method::GET, READ, &token, "").await.status,
        200
    );
    let forbid = "\n@id(\"no-reads\")\nforbid (principal, action == Gatehouse::Action::\"ticket.read\", resource);\n";
    let written = Instant::now();
    std::fs::write(
        harness.dir.path().join("policies/main.cedar"),
        format!("{POLICY}{forbid}"),
    )
    .unwrap();
    let mut refused = None;
    while written.elapsed() < Duration::from_secs(10) {
        let reply = harness.call(Method::GET, READ, &token, "").await;
        if reply.status == 403 {
            refused = Some(reply);
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let refused = refused.expect("the watcher never loaded the changed file");
    println!(
        "reload latency (file write to first decision on the new version): {} ms",
        written.elapsed().as_millis()
    );
    let event = harness.event(&crate::harness::decision_id(&refused)).await;
    assert_eq!(event.policies, vec!["no-reads".to_owned()]);
    let listed = in_force(&harness).await;
    assert_eq!(event.policy_version.as_deref(), listed["in_force"].as_str());
    assert_eq!(listed["versions"][0]["by"], "gatehouse");
    assert_eq!(listed["versions"][0]["message"], "policy files changed");
    assert_eq!(listed["versions"][1]["message"], "loaded at start-up");
}
