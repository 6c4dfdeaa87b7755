//! `gatehouse evidence export` against a real `gatehouse serve`: after calls, an
//! approval, a quarantine with a hostile reason and a playbook run, the JSON holds each
//! of them with the chain's check, and the HTML report escapes what users wrote.

use std::path::Path;
use std::time::Duration;

use gatehouse_kit::client::send;
use http::Method;

use crate::example;
use crate::lifecycle::{Served, credential, operator, serve, start_tool};

const HOSTILE: &str = "<script>alert(1)</script>";

fn ok(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Waits until the store holds at least `count` events of kind `kind`.
async fn stored(example: &Path, served: &Served, kind: &str, count: usize) {
    for _ in 0..200 {
        let listed = operator(example, served, &["events", "--json", "--limit", "200"]);
        let events: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap_or_default();
        let found = events.as_array().map_or(0, |events| {
            events.iter().filter(|event| event["kind"] == kind).count()
        });
        if found >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the events were not stored");
}

#[tokio::test(flavor = "multi_thread")]
async fn evidence_export_writes_every_section_as_json_and_escaped_html() {
    let (_dir, example) = example();
    let tool = start_tool(&example).await;
    let served = serve(&example, tool).await;
    let (token, _) = credential(&example, &served, "wf-evidence").await;
    let auth = format!("Bearer {token}");
    let base = format!("{}/tools/tickets/tickets", served.data);
    let headers = [("authorization", auth.as_str())];
    assert_eq!(
        send(Method::GET, &base, &headers, "").await.unwrap().status,
        200
    );
    let delete = send(Method::DELETE, &format!("{base}/1"), &headers, "")
        .await
        .unwrap();
    assert_eq!(delete.status, 403);
    let parked = send(Method::POST, &format!("{base}/1/escalate"), &headers, "")
        .await
        .unwrap();
    assert_eq!(parked.status, 202, "{}", parked.text());
    let approval = parked.json().unwrap()["approval_id"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(&operator(
        &example,
        &served,
        &["approvals", "approve", &approval, "--reason", "looks fine"],
    ));
    ok(&operator(
        &example,
        &served,
        &[
            "quarantine",
            "add",
            "--intent",
            "ticket.read",
            "--for",
            "10m",
            "--reason",
            HOSTILE,
        ],
    ));
    let playbooks = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../playbooks");
    ok(&operator(
        &example,
        &served,
        &[
            "playbook",
            "run",
            "segment-lockdown",
            "--set",
            "segment=control",
            "--dir",
            playbooks.to_str().unwrap(),
        ],
    ));
    stored(&example, &served, "tool", 3).await;

    let out = example.join("evidence.json");
    let said = ok(&operator(
        &example,
        &served,
        &[
            "evidence",
            "export",
            "--since",
            "1h",
            "--out",
            out.to_str().unwrap(),
        ],
    ));
    assert!(said.contains("event chain unbroken"), "{said}");
    let evidence: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(evidence["chain"]["unbroken"], true, "{evidence}");
    let version = evidence["policy"]["version"].as_str().unwrap();
    assert_eq!(version.len(), 64);
    assert_eq!(evidence["policy"]["files"].as_array().unwrap().len(), 2);
    assert_eq!(evidence["decisions"]["tool"]["allow"], 1, "{evidence}");
    assert_eq!(evidence["decisions"]["tool"]["deny"], 1, "{evidence}");
    assert_eq!(evidence["decisions"]["tool"]["pending"], 1, "{evidence}");
    assert_eq!(evidence["refusals"]["policy-denied"], 1, "{evidence}");
    let approvals = evidence["approvals"].as_array().unwrap();
    assert_eq!(approvals.len(), 1, "{evidence}");
    assert_eq!(approvals[0]["id"], approval.as_str());
    assert_eq!(approvals[0]["verdicts"][0]["by"], "admin");
    assert_eq!(approvals[0]["policy_version"], version);
    assert_eq!(
        evidence["policy"]["versions_in_approvals"][0]["current"],
        true
    );
    let live = evidence["quarantines"]["live"].as_array().unwrap();
    assert_eq!(live.len(), 2, "{evidence}");
    assert_eq!(
        evidence["quarantines"]["changes"].as_array().unwrap().len(),
        2
    );
    let runs = evidence["playbook_runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{evidence}");
    assert_eq!(runs[0]["playbook"], "segment-lockdown");
    assert_eq!(runs[0]["steps"].as_array().unwrap().len(), 2);

    let html = std::fs::read_to_string(example.join("evidence.json.html")).unwrap();
    assert!(
        !html.contains(HOSTILE),
        "an unescaped reason reached the report"
    );
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains(version) && html.contains("segment-lockdown"));
    assert!(html.contains("Unbroken."));
}
