//! `gatehouse playbook run` against a real `gatehouse serve`: a dry run prints what would
//! change and changes nothing; the run revokes the agent and quarantines the tool it
//! touched, the agent's next call is refused, and every step is an event of the run.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gatehouse_kit::client::send;
use http::Method;

use crate::example;
use crate::lifecycle::{Served, credential, operator, serve, start_tool};

const AGENT: &str = "spiffe://acme/agent/triage-bot";

fn playbooks() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../playbooks")
}

fn run(example: &Path, served: &Served, extra: &[&str]) -> std::process::Output {
    let dir = playbooks();
    let mut args = vec![
        "playbook",
        "run",
        "compromised-agent",
        "--agent",
        AGENT,
        "--dir",
        dir.to_str().unwrap(),
    ];
    args.extend(extra);
    operator(example, served, &args)
}

/// `playbook run compromised-agent --json`, started and left running.
fn spawn_run(example: &Path, served: &Served) -> std::process::Child {
    let dir = playbooks();
    let token_file = example.join("operator.token");
    std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args([
            "playbook",
            "run",
            "compromised-agent",
            "--agent",
            AGENT,
            "--json",
        ])
        .args(["--dir", dir.to_str().unwrap(), "--control", &served.control])
        .args(["--token-file", token_file.to_str().unwrap()])
        .env("GATEHOUSE_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

fn text(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Waits until the agent's call is stored: the playbook reads what it touched from events.
async fn touched_stored(example: &Path, served: &Served) {
    for _ in 0..200 {
        let listed = operator(
            example,
            served,
            &["events", "--json", "--agent", AGENT, "--tool", "tickets"],
        );
        let events: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap_or_default();
        if events.as_array().is_some_and(|events| !events.is_empty()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the call's event was not stored");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_changes_nothing_and_the_run_cuts_the_agent_off() {
    let (_dir, example) = example();
    let tool = start_tool(&example).await;
    let served = serve(&example, tool).await;
    let (token, _) = credential(&example, &served, "wf-incident").await;
    let auth = format!("Bearer {token}");
    let url = format!("{}/tools/tickets/tickets", served.data);
    let headers = [("authorization", auth.as_str())];
    let list = || send(Method::GET, &url, &headers, "");
    assert_eq!(list().await.unwrap().status, 200);
    touched_stored(&example, &served).await;

    let dry = text(&run(&example, &served, &["--dry-run"]));
    assert!(dry.contains("dry run: nothing is changed"), "{dry}");
    assert!(
        dry.contains(&format!(
            "step 1 revoke-agent: revoke agent `{AGENT}`, ending its live workflows `wf-incident`"
        )),
        "{dry}"
    );
    assert!(
        dry.contains("step 2 quarantine-touched: quarantine tool `tickets` for 7200s"),
        "{dry}"
    );
    assert!(
        dry.contains("step 4 notify: no change: no webhook given"),
        "{dry}"
    );
    assert_eq!(
        list().await.unwrap().status,
        200,
        "the dry run changed something"
    );
    let quarantines = text(&operator(&example, &served, &["quarantine", "list"]));
    assert!(!quarantines.contains("tickets"), "{quarantines}");
    assert!(
        dry.contains(&format!(
            "step 3 forensics-on: turn on forensics recording of agent `{AGENT}` for 7200s"
        )),
        "{dry}"
    );
    let recorded = text(&operator(&example, &served, &["forensics", "list"]));
    assert!(
        !recorded.contains(AGENT),
        "the dry run turned forensics on: {recorded}"
    );

    // The agent keeps calling while the playbook runs: how long until it is cut off?
    let started = Instant::now();
    let child = spawn_run(&example, &served);
    let mut refused_after = None;
    while started.elapsed() < Duration::from_secs(20) {
        if list().await.unwrap().status == 401 {
            refused_after = Some(started.elapsed());
            break;
        }
    }
    let ran = child.wait_with_output().unwrap();
    let whole = started.elapsed();
    let refused_after = refused_after.expect("the agent was never refused");
    eprintln!(
        "playbook run compromised-agent: agent refused after {refused_after:?}, run done after {whole:?}"
    );
    assert_eq!(list().await.unwrap().status, 401);
    let report: serde_json::Value = serde_json::from_slice(&ran.stdout).unwrap();
    let run_id = report["run"].as_str().unwrap().to_owned();
    assert_eq!(report["steps"][1]["changes"][0]["subject"], "tickets");

    // Every step is an event tied to the run, and the run is listed.
    let steps = operator(
        &example,
        &served,
        &["events", "--json", "--intent", "playbook.step"],
    );
    let steps: Vec<serde_json::Value> = serde_json::from_slice(&steps.stdout).unwrap();
    assert_eq!(steps.len(), 4, "{steps:?}");
    let recorded = text(&operator(&example, &served, &["forensics", "list"]));
    assert!(recorded.contains(AGENT), "{recorded}");
    for step in &steps {
        assert_eq!(step["path"], format!("/v1/playbook-runs/{run_id}/steps"));
        assert_eq!(step["actor"], "admin");
    }
    let quarantines = text(&operator(&example, &served, &["quarantine", "list"]));
    assert!(quarantines.contains("tickets"), "{quarantines}");
    // A second run finds nothing left to do.
    let again = text(&run(&example, &served, &["--dry-run"]));
    assert!(
        again.contains("tool `tickets` is already quarantined: no change"),
        "{again}"
    );
}
