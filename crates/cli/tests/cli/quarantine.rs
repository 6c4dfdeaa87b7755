//! `gatehouse quarantine add|list|lift` against a real `gatehouse serve`: an allowed
//! call is refused while the quarantine holds and allowed again once it is lifted.

use gatehouse_kit::client::send;
use http::Method;

use crate::example;
use crate::lifecycle::{credential, operator, serve, start_tool};

fn stdout(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn operators_quarantine_a_tool_list_it_and_lift_it_from_the_cli() {
    let (_dir, example) = example();
    let tool = start_tool(&example).await;
    let served = serve(&example, tool).await;
    let (token, _) = credential(&example, &served, "wf-quarantine").await;
    let auth = format!("Bearer {token}");
    let url = format!("{}/tools/tickets/tickets", served.data);
    let headers = [("authorization", auth.as_str())];
    let create = || send(Method::POST, &url, &headers, r#"{"title":"x"}"#);
    assert_eq!(create().await.unwrap().status, 201);

    let added = operator(
        &example,
        &served,
        &[
            "quarantine",
            "add",
            "--tool",
            "tickets",
            "--for",
            "30m",
            "--reason",
            "incident 7",
        ],
    );
    let added: serde_json::Value = serde_json::from_str(&stdout(&added)).unwrap();
    let id = added["id"].as_str().unwrap().to_owned();
    assert_eq!(added["kind"], "tool");
    let refused = create().await.unwrap();
    assert_eq!(refused.status, 403);
    assert_eq!(
        refused.json().unwrap()["type"],
        "urn:gatehouse:problem:quarantined"
    );

    let table = stdout(&operator(&example, &served, &["quarantine", "list"]));
    assert!(
        table.contains(&id) && table.contains("tickets") && table.contains("incident 7"),
        "{table}"
    );
    let lifted = stdout(&operator(&example, &served, &["quarantine", "lift", &id]));
    assert!(lifted.contains(&id), "{lifted}");
    assert_eq!(create().await.unwrap().status, 201);
    let table = stdout(&operator(&example, &served, &["quarantine", "list"]));
    assert!(!table.contains(&id), "{table}");

    let typo = operator(
        &example,
        &served,
        &[
            "quarantine",
            "add",
            "--tool",
            "tickest",
            "--for",
            "5m",
            "--reason",
            "x",
        ],
    );
    assert_eq!(typo.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&typo.stderr).contains("no tool named `tickest`"),
        "{}",
        String::from_utf8_lossy(&typo.stderr)
    );
    let two = operator(
        &example,
        &served,
        &[
            "quarantine",
            "add",
            "--tool",
            "tickets",
            "--agent",
            "a",
            "--for",
            "5m",
            "--reason",
            "x",
        ],
    );
    assert_eq!(two.status.code(), Some(2), "clap refuses two targets");
}
