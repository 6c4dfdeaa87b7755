//! `gatehouse audit verify` against a real `gatehouse serve`: the chain of the events
//! the run wrote holds, and an event edited in the SQLite file behind the gateway's back
//! is named.

use std::path::Path;
use std::time::Duration;

use gatehouse_kit::client::send;
use http::Method;

use crate::example;
use crate::lifecycle::{Served, credential, operator, serve, start_tool};

/// Waits until the store holds at least `count` events (the writer batches them).
async fn stored(example: &Path, served: &Served, count: usize) {
    for _ in 0..200 {
        let listed = operator(example, served, &["events", "--json", "--limit", "100"]);
        let events: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap_or_default();
        if events
            .as_array()
            .is_some_and(|events| events.len() >= count)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the events were not stored");
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_verify_proves_the_chain_and_names_an_edited_event_and_a_removed_block() {
    let (_dir, example) = example();
    let tool = start_tool(&example).await;
    let served = serve(&example, tool).await;
    let (token, _) = credential(&example, &served, "wf-audit").await;
    let auth = format!("Bearer {token}");
    let url = format!("{}/tools/tickets/tickets", served.data);
    // Each call waits for its event to be stored, so the log has several blocks.
    for n in 0..3 {
        let reply = send(
            Method::POST,
            &url,
            &[("authorization", &auth)],
            r#"{"title":"x"}"#,
        )
        .await
        .unwrap();
        assert_eq!(reply.status, 201);
        stored(&example, &served, n + 2).await;
    }

    let verified = operator(&example, &served, &["audit", "verify"]);
    let out = String::from_utf8_lossy(&verified.stdout);
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );
    assert!(out.contains("unbroken") && out.contains("head "), "{out}");
    let recent = operator(&example, &served, &["audit", "verify", "--since", "1h"]);
    assert!(recent.status.success());

    // The first tool call's event, its status rewritten in the file.
    let db = rusqlite::Connection::open(example.join("data/gatehouse.db")).unwrap();
    let (block, text): (i64, String) = db
        .query_row(
            "SELECT block, lines FROM event_lines WHERE lines LIKE '%\"status\":201%' \
             ORDER BY block LIMIT 1",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    let (position, line) = text
        .lines()
        .enumerate()
        .find(|(_, line)| line.contains("\"status\":201"))
        .unwrap();
    let id = serde_json::from_str::<serde_json::Value>(line).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    db.execute(
        "UPDATE event_lines SET lines = ?2 WHERE block = ?1",
        rusqlite::params![block, text.replacen("\"status\":201", "\"status\":403", 1)],
    )
    .unwrap();

    let broken = operator(&example, &served, &["audit", "verify"]);
    let err = String::from_utf8_lossy(&broken.stderr);
    assert_eq!(broken.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("block {block}, position {position}, event {id}")),
        "{err}"
    );
    let json = operator(&example, &served, &["audit", "verify", "--json"]);
    let answer: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(answer["unbroken"], false);
    assert_eq!(answer["first_break"]["event"], id.as_str());
    assert_eq!(answer["first_break"]["kind"], "mismatch");

    // Put the line back: the chain holds again. Then remove the first block whole.
    db.execute(
        "UPDATE event_lines SET lines = ?2 WHERE block = ?1",
        rusqlite::params![block, text],
    )
    .unwrap();
    assert!(
        operator(&example, &served, &["audit", "verify"])
            .status
            .success()
    );
    db.execute("DELETE FROM event_lines WHERE block = 1", [])
        .unwrap();
    let gap = operator(&example, &served, &["audit", "verify"]);
    let err = String::from_utf8_lossy(&gap.stderr);
    assert_eq!(gap.status.code(), Some(1), "{err}");
    assert!(
        err.contains("block 2, position 0") && err.contains("blocks before this one are missing"),
        "{err}"
    );
}
