//! `gatehouse events tail --decision deny` against a real `gatehouse serve`: it prints
//! the refused calls made after it started, one line each as they are stored, and
//! nothing else, until Ctrl-C ends it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use gatehouse_kit::client::send;
use http::Method;

use crate::example;
use crate::lifecycle::{credential, serve, start_tool};

#[tokio::test(flavor = "multi_thread")]
async fn events_tail_prints_the_filtered_events_as_they_arrive_until_ctrl_c() {
    let (_dir, example) = example();
    let tool = start_tool(&example).await;
    let served = serve(&example, tool).await;
    let (token, _) = credential(&example, &served, "wf-tail").await;
    let token_file = example.join("operator.token");
    let mut tail = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args([
            "events",
            "tail",
            "--decision",
            "deny",
            "--json",
            "--control",
        ])
        .arg(&served.control)
        .arg("--token-file")
        .arg(&token_file)
        .env("GATEHOUSE_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (lines_tx, lines) = std::sync::mpsc::channel();
    let stdout = tail.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if lines_tx.send(line.unwrap()).is_err() {
                return;
            }
        }
    });
    // It says so once it follows; calls made before that are not its to print.
    let mut started = String::new();
    BufReader::new(tail.stderr.take().unwrap())
        .read_line(&mut started)
        .unwrap();
    assert_eq!(started.trim(), "following new events (Ctrl-C ends)");
    let auth = format!("Bearer {token}");
    let headers = [("authorization", auth.as_str())];
    let allowed = send(
        Method::POST,
        &format!("{}/tools/tickets/tickets", served.data),
        &headers,
        r#"{"title":"x"}"#,
    )
    .await
    .unwrap();
    assert_eq!(allowed.status, 201);
    let mut refused = Vec::new();
    for _ in 0..2 {
        let reply = send(
            Method::GET,
            &format!("{}/tools/deploy/deployments", served.data),
            &headers,
            "",
        )
        .await
        .unwrap();
        assert_eq!(reply.status, 403);
        refused.push(
            reply.headers["gatehouse-decision-id"]
                .to_str()
                .unwrap()
                .to_owned(),
        );
    }
    let mut printed = Vec::new();
    for _ in 0..2 {
        let line = lines
            .recv_timeout(Duration::from_secs(5))
            .expect("the tail printed nothing");
        let event: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(event["outcome"], "deny", "{line}");
        printed.push(event["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(printed, refused);
    assert!(
        lines.recv_timeout(Duration::from_millis(300)).is_err(),
        "the allowed call was printed"
    );
    // Ctrl-C ends it.
    let interrupted = Command::new("kill")
        .args(["-INT", &tail.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let mut ended = false;
    for _ in 0..50 {
        if tail.try_wait().unwrap().is_some() {
            ended = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if !ended {
        let _ = tail.kill();
    }
    assert!(ended, "Ctrl-C did not end the tail");
}
