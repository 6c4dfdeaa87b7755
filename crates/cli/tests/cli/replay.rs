//! `gatehouse replay` against a real `gatehouse serve`: an agent's decisions listed, and
//! recorded calls decided again under a candidate policy set that forbids one intent:
//! exactly the calls of that intent change, from allow to deny, naming the new policy.

use std::path::Path;
use std::time::Duration;

use gatehouse_kit::client::send;
use http::Method;

use crate::example;
use crate::lifecycle::{Served, credential, operator, serve, start_tool};

const AGENT: &str = "spiffe://acme/agent/triage-bot";

/// Waits until the store holds at least `count` events of the agent's calls.
async fn calls_stored(example: &Path, served: &Served, count: usize) {
    for _ in 0..200 {
        let listed = operator(
            example,
            served,
            &["events", "--json", "--limit", "100", "--agent", AGENT],
        );
        let events: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap_or_default();
        let calls = events.as_array().map_or(0, |events| {
            events
                .iter()
                .filter(|event| event["kind"] == "tool")
                .count()
        });
        if calls >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the events were not stored");
}

fn json(output: &std::process::Output) -> serde_json::Value {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn replay_under_a_policy_that_forbids_one_intent_changes_exactly_its_decisions() {
    let (_dir, example) = example();
    let tool = start_tool(&example).await;
    let served = serve(&example, tool).await;
    let (token, _) = credential(&example, &served, "wf-replay").await;
    let auth = format!("Bearer {token}");
    let base = format!("{}/tools/tickets", served.data);
    let headers = [("authorization", auth.as_str())];
    let calls = [
        (Method::POST, "/tickets", r#"{"title":"x"}"#, 201),
        (Method::GET, "/tickets", "", 200),
        (Method::GET, "/tickets/1", "", 200),
        (Method::GET, "/tickets", "", 200),
        (Method::DELETE, "/tickets/1", "", 403),
    ];
    let mut lists = Vec::new();
    for (method, path, body, status) in calls {
        let reply = send(method, &format!("{base}{path}"), &headers, body)
            .await
            .unwrap();
        assert_eq!(reply.status, status, "{path}");
        let id = reply.headers["gatehouse-decision-id"]
            .to_str()
            .unwrap()
            .to_owned();
        if path == "/tickets" && status == 200 {
            lists.push(id);
        }
    }
    calls_stored(&example, &served, 5).await;

    let listed = operator(
        &example,
        &served,
        &["replay", "--agent", AGENT, "--since", "1h"],
    );
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    assert!(text.starts_with("5 decisions"), "{text}");
    assert!(text.contains("agents-never-delete-tickets"), "{text}");
    assert!(text.contains("tickets  ticket.list  2 calls"), "{text}");

    let candidate = example.join("candidate");
    std::fs::create_dir(&candidate).unwrap();
    for file in ["triage.cedar", "helpdesk.cedar"] {
        std::fs::copy(example.join("policies").join(file), candidate.join(file)).unwrap();
    }
    std::fs::write(
        candidate.join("no-listing.cedar"),
        "@id(\"no-listing\")\nforbid (principal, action == Gatehouse::Action::\"ticket.list\", resource);\n",
    )
    .unwrap();
    let config = example.join("gatehouse.toml");
    let report = json(&operator(
        &example,
        &served,
        &[
            "replay",
            "--policies",
            candidate.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
            "--since",
            "24h",
            "--json",
        ],
    ));
    assert_eq!(report["replayed"], 5, "{report}");
    assert_eq!(report["not_replayed"], serde_json::json!({}), "{report}");
    let changed = report["changed"].as_array().unwrap();
    let ids: Vec<&str> = changed
        .iter()
        .map(|change| change["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, lists, "{report}");
    for change in changed {
        assert_eq!(change["intent"], "ticket.list");
        assert_eq!(change["before"]["decision"], "allow");
        assert_eq!(
            change["before"]["policies"],
            serde_json::json!(["triage-reads-and-files-tickets"])
        );
        assert_eq!(change["after"]["decision"], "deny");
        assert_eq!(
            change["after"]["policies"],
            serde_json::json!(["no-listing"])
        );
    }

    // The unchanged policies change nothing.
    std::fs::remove_file(candidate.join("no-listing.cedar")).unwrap();
    let same = operator(
        &example,
        &served,
        &[
            "replay",
            "--policies",
            candidate.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
            "--since",
            "24h",
        ],
    );
    let text = String::from_utf8_lossy(&same.stdout);
    assert!(
        text.contains("5 calls replayed, 0 decisions would change"),
        "{text}"
    );
}
