//! `gatehouse policy test|apply|versions`: the quickstart's policy cases pass; a wrong
//! expectation (or a policy change that breaks a case) fails with exit 1 and says which;
//! `apply` puts changed files in force in a running gateway without a restart.

use gatehouse_kit::client::send;
use http::Method;

use crate::lifecycle::{credential, operator, serve, start_tool};
use crate::{example, gatehouse, rewrite};

fn policy_test(args: &[&str]) -> (i32, String) {
    let mut all = vec!["policy", "test"];
    all.extend(args);
    let output = gatehouse(&all);
    (
        output.status.code().unwrap(),
        String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr),
    )
}

#[test]
fn the_quickstart_policy_cases_pass() {
    let (_dir, example) = example();
    let config = example.join("gatehouse.toml");
    let (code, out) = policy_test(&["--config", config.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("10 cases, 0 failed"), "{out}");
}

#[test]
fn a_wrong_expectation_fails_policy_test_with_exit_1_naming_the_case() {
    let (_dir, example) = example();
    rewrite(&example.join("policies/tests.toml"), |text| {
        text.replacen(
            "intent = \"ticket.read\"\ntool = \"tickets\"\nexpect = \"allow\"",
            "intent = \"ticket.read\"\ntool = \"tickets\"\nexpect = \"deny\"",
            1,
        )
    });
    let config = example.join("gatehouse.toml");
    let (code, out) = policy_test(&["--config", config.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(
            "FAIL  the triage bot reads a ticket: expected deny, got allow \
             (policies [triage-reads-and-files-tickets])"
        ),
        "{out}"
    );
    assert!(out.contains("10 cases, 1 failed"), "{out}");
}

#[test]
fn a_changed_policy_directory_is_tested_before_it_is_applied() {
    let (dir, example) = example();
    let candidate = dir.path().join("candidate");
    std::fs::create_dir_all(&candidate).unwrap();
    for file in ["triage.cedar", "helpdesk.cedar", "tests.toml"] {
        std::fs::copy(example.join("policies").join(file), candidate.join(file)).unwrap();
    }
    // The change under review drops the forbid on deleting tickets.
    rewrite(&candidate.join("triage.cedar"), |text| {
        let cut = text.find("// No agent deletes").unwrap();
        text[..cut].to_owned()
    });
    let config = example.join("gatehouse.toml");
    let (code, out) = policy_test(&[
        candidate.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("FAIL  no agent deletes tickets: expected policies [agents-never-delete-tickets], got policies []"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn policy_apply_puts_changed_files_in_force_without_a_restart() {
    let (_dir, example) = example();
    rewrite(&example.join("gatehouse.toml"), |text| {
        text.replace("[policy]\n", "[policy]\nwatch_ms = 0\n")
    });
    let tool = start_tool(&example).await;
    let served = serve(&example, tool).await;
    let (token, _) = credential(&example, &served, "wf-apply").await;
    let auth = format!("Bearer {token}");
    let url = format!("{}/tools/tickets/tickets", served.data);
    let headers = [("authorization", auth.as_str())];
    let create = || send(Method::POST, &url, &headers, r#"{"title":"x"}"#);
    assert_eq!(create().await.unwrap().status, 201);
    let created = wait_for_event(&example, &served, "ticket.create").await;

    // The change, reviewed first: its effect on the call just recorded.
    let candidate = example.join("candidate");
    std::fs::create_dir_all(&candidate).unwrap();
    for file in ["triage.cedar", "helpdesk.cedar"] {
        std::fs::copy(example.join("policies").join(file), candidate.join(file)).unwrap();
    }
    rewrite(&candidate.join("triage.cedar"), |text| {
        text.replace("    Gatehouse::Action::\"ticket.create\",\n", "")
    });
    let policies = example.join("policies");
    let config = example.join("gatehouse.toml");
    let diff = operator(
        &example,
        &served,
        &[
            "policy",
            "diff",
            policies.to_str().unwrap(),
            candidate.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
        ],
    );
    let report = String::from_utf8_lossy(&diff.stdout).into_owned();
    assert!(
        diff.status.success(),
        "{}",
        String::from_utf8_lossy(&diff.stderr)
    );
    assert!(
        report.contains(&format!(
            "{created}  spiffe://acme/agent/triage-bot  ticket.create on tickets: \
             allow (low) [triage-reads-and-files-tickets] -> deny []"
        )),
        "{report}"
    );
    assert!(
        report.contains("recorded calls decided again: 1 change"),
        "{report}"
    );

    rewrite(&example.join("policies/triage.cedar"), |text| {
        text.replace("    Gatehouse::Action::\"ticket.create\",\n", "")
    });
    let applied = operator(
        &example,
        &served,
        &["policy", "apply", "--message", "no more filing"],
    );
    let out = String::from_utf8_lossy(&applied.stdout).into_owned();
    assert!(
        applied.status.success(),
        "{}",
        String::from_utf8_lossy(&applied.stderr)
    );
    assert!(out.starts_with("in force: "), "{out}");
    assert_eq!(create().await.unwrap().status, 403);

    let again = operator(&example, &served, &["policy", "apply"]);
    assert!(String::from_utf8_lossy(&again.stdout).starts_with("unchanged: "));
    let versions = operator(&example, &served, &["policy", "versions"]);
    let table = String::from_utf8_lossy(&versions.stdout).into_owned();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 2, "{table}");
    assert!(
        lines[0].starts_with('*') && lines[0].ends_with("admin  no more filing"),
        "{table}"
    );
    assert!(
        lines[1].ends_with("gatehouse  loaded at start-up"),
        "{table}"
    );
}

/// The id of the first recorded event of `intent`, once it is stored.
async fn wait_for_event(
    example: &std::path::Path,
    served: &crate::lifecycle::Served,
    intent: &str,
) -> String {
    for _ in 0..200 {
        let listed = operator(example, served, &["events", "--intent", intent, "--json"]);
        let events: Vec<serde_json::Value> =
            serde_json::from_slice(&listed.stdout).unwrap_or_default();
        if let Some(id) = events.first().and_then(|event| event["id"].as_str()) {
            return id.to_owned();
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("no `{intent}` event");
}
