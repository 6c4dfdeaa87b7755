//! A real `gatehouse serve` process: the operator verbs against it, and a search of
//! every output of the run for the upstream secrets.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use gatehouse_gateway::server::spawn_server;
use gatehouse_kit::client::{Reply, send};
use gatehouse_kit::example_tool::ExampleTool;
use http::Method;

use crate::{example, gatehouse, rewrite};

pub(crate) const AGENT: &str = "spiffe://acme/agent/triage-bot";

pub(crate) struct Served {
    child: Child,
    pub(crate) data: String,
    pub(crate) control: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Points the example at free ports and at an example tool run by this test, then serves it.
pub(crate) async fn serve(example: &Path, tool: SocketAddr) -> Served {
    serve_logging(example, tool, &[], "debug").await
}

/// As [`serve`], with extra arguments and the `GATEHOUSE_LOG` filter.
pub(crate) async fn serve_logging(
    example: &Path,
    tool: SocketAddr,
    args: &[&str],
    log: &str,
) -> Served {
    let (data, control) = (free_port(), free_port());
    rewrite(&example.join("gatehouse.toml"), |text| {
        text.replace("127.0.0.1:8080", &format!("127.0.0.1:{data}"))
            .replace("127.0.0.1:8081", &format!("127.0.0.1:{control}"))
            .replace("http://127.0.0.1:8090", &format!("http://{tool}"))
    });
    let config = example.join("gatehouse.toml");
    let child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["serve", "--config", config.to_str().unwrap()])
        .args(args)
        .env("GATEHOUSE_LOG", log)
        .stdout(std::fs::File::create(example.join("stdout.log")).unwrap())
        .stderr(std::fs::File::create(example.join("stderr.log")).unwrap())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let served = Served {
        child,
        data: format!("http://127.0.0.1:{data}"),
        control: format!("http://127.0.0.1:{control}"),
    };
    for _ in 0..200 {
        if send(Method::GET, &format!("{}/healthz", served.control), &[], "")
            .await
            .is_ok()
        {
            return served;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("gatehouse serve did not come up");
}

pub(crate) async fn start_tool(example: &Path) -> SocketAddr {
    let secret = std::fs::read_to_string(example.join("secrets/tickets.secret")).unwrap();
    let tool = Arc::new(ExampleTool::new("tickets", Some(secret.trim())));
    let (addr, stop, _) = spawn_server("127.0.0.1:0".parse().unwrap(), move |request| {
        let tool = Arc::clone(&tool);
        async move { tool.handle(request).await }
    })
    .await
    .unwrap();
    std::mem::forget(stop);
    addr
}

pub(crate) async fn credential(example: &Path, served: &Served, workflow: &str) -> (String, Reply) {
    let key = example.join("keys/triage-bot.key");
    let output = gatehouse(&[
        "agent",
        "assertion",
        "--key",
        key.to_str().unwrap(),
        "--agent",
        AGENT,
    ]);
    let assertion = String::from_utf8(output.stdout).unwrap();
    let body = format!(
        "assertion={}&workflow={workflow}&task_class=triage",
        assertion.trim()
    );
    let reply = send(
        Method::POST,
        &format!("{}/v1/token", served.data),
        &[("content-type", "application/x-www-form-urlencoded")],
        body,
    )
    .await
    .unwrap();
    let token = reply
        .json()
        .map(|json| json["access_token"].as_str().unwrap_or("").to_owned())
        .unwrap_or_default();
    (token, reply)
}

pub(crate) fn operator(example: &Path, served: &Served, args: &[&str]) -> std::process::Output {
    let token_file = example.join("operator.token");
    let mut all = args.to_vec();
    all.extend([
        "--control",
        &served.control,
        "--token-file",
        token_file.to_str().unwrap(),
    ]);
    Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(&all)
        .env("GATEHOUSE_LOG", "warn")
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn operators_end_workflows_and_revoke_agents_from_the_cli() {
    let (_dir, example) = example();
    let tool = start_tool(&example).await;
    let served = serve(&example, tool).await;
    let (token, _) = credential(&example, &served, "wf-cli").await;
    let auth = format!("Bearer {token}");
    let url = format!("{}/tools/tickets/tickets", served.data);
    let created = send(
        Method::POST,
        &url,
        &[("authorization", &auth)],
        r#"{"title":"x"}"#,
    )
    .await
    .unwrap();
    assert_eq!(created.status, 201);
    let listed = operator(&example, &served, &["workflows", "list"]);
    let table = String::from_utf8_lossy(&listed.stdout);
    assert!(
        table.contains("wf-cli") && table.contains("active") && table.contains("1/500"),
        "{table}"
    );
    let ended = operator(
        &example,
        &served,
        &["workflows", "end", "wf-cli", "--reason", "done"],
    );
    assert!(
        ended.status.success(),
        "{}",
        String::from_utf8_lossy(&ended.stderr)
    );
    let refused = send(Method::POST, &url, &[("authorization", &auth)], "{}")
        .await
        .unwrap();
    assert_eq!(refused.status, 401);
    let again = operator(&example, &served, &["workflows", "resume", "wf-cli"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("409"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let revoked = operator(
        &example,
        &served,
        &["revoke", "agent", AGENT, "--reason", "test"],
    );
    assert!(
        revoked.status.success(),
        "{}",
        String::from_utf8_lossy(&revoked.stderr)
    );
    let (_, refused) = credential(&example, &served, "wf-cli-2").await;
    assert_eq!(refused.status, 401);
    assert!(
        operator(&example, &served, &["reinstate", AGENT])
            .status
            .success()
    );
    let (_, fresh) = credential(&example, &served, "wf-cli-3").await;
    assert_eq!(fresh.status, 200);
    let rotated = operator(&example, &served, &["keys", "rotate", "--segment", "data"]);
    assert!(String::from_utf8_lossy(&rotated.stdout).contains("new_kid"));
}

#[tokio::test(flavor = "multi_thread")]
async fn upstream_secrets_never_reach_logs_events_errors_or_responses() {
    let (_dir, example) = example();
    let tool = start_tool(&example).await;
    let served = serve(&example, tool).await;
    let (token, exchange) = credential(&example, &served, "wf-secrets").await;
    let mut outputs = vec![exchange.text()];
    let auth = format!("Bearer {token}");
    let calls = [
        (Method::POST, "/tools/tickets/tickets", r#"{"title":"a"}"#),
        (Method::GET, "/tools/tickets/tickets/1", ""),
        (Method::DELETE, "/tools/tickets/tickets/1", ""),
        (Method::GET, "/tools/tickets/%2e%2e/x", ""),
        (Method::GET, "/tools/deploy/deployments", ""),
        (Method::GET, "/tools/tickets/tickets/999", ""),
    ];
    for (method, path, body) in calls {
        let reply = send(
            method,
            &format!("{}{path}", served.data),
            &[("authorization", &auth)],
            body.to_owned(),
        )
        .await
        .unwrap();
        outputs.push(format!("{:?} {}", reply.headers, reply.text()));
    }
    let events = operator(&example, &served, &["events", "--json", "--limit", "100"]);
    outputs.push(String::from_utf8_lossy(&events.stdout).into_owned());
    drop(served);
    tokio::time::sleep(Duration::from_millis(200)).await;
    for file in [
        "stdout.log",
        "stderr.log",
        "data/events.jsonl",
        "data/gatehouse.db",
        "data/gatehouse.db-wal",
    ] {
        if let Ok(bytes) = std::fs::read(example.join(file)) {
            outputs.push(String::from_utf8_lossy(&bytes).into_owned());
        }
    }
    assert!(
        outputs
            .iter()
            .any(|output| output.contains("ticket.create")),
        "the run produced no events"
    );
    for name in ["tickets.secret", "deploy.secret"] {
        let secret = std::fs::read_to_string(example.join("secrets").join(name)).unwrap();
        for output in &outputs {
            assert!(!output.contains(secret.trim()), "{name} leaked");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn approvers_list_and_approve_parked_calls_from_the_cli() {
    let (_dir, example) = example();
    rewrite(&example.join("gatehouse.toml"), |text| {
        text.replace(
            r#"intent = "ticket.list", data_class = "internal" }"#,
            r#"intent = "ticket.list", data_class = "internal", tier = "high" }"#,
        )
    });
    let tool = start_tool(&example).await;
    let served = serve(&example, tool).await;
    let (token, _) = credential(&example, &served, "wf-approve").await;
    let auth = format!("Bearer {token}");
    let url = format!("{}/tools/tickets/tickets", served.data);
    let parked = send(Method::GET, &url, &[("authorization", &auth)], "")
        .await
        .unwrap();
    assert_eq!(parked.status, 202, "{}", parked.text());
    let id = parked.json().unwrap()["approval_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let listed = operator(&example, &served, &["approvals", "list"]);
    let table = String::from_utf8_lossy(&listed.stdout);
    assert!(
        table.contains(&id) && table.contains("ticket.list") && table.contains("0/1"),
        "{table}"
    );
    let approved = operator(
        &example,
        &served,
        &["approvals", "approve", &id, "--reason", "looks fine"],
    );
    assert!(
        approved.status.success(),
        "{}",
        String::from_utf8_lossy(&approved.stderr)
    );
    let poll = format!("{}/v1/approvals/{id}", served.data);
    let mut answer = send(Method::GET, &poll, &[("authorization", &auth)], "")
        .await
        .unwrap();
    for _ in 0..100 {
        if answer.status != 202 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        answer = send(Method::GET, &poll, &[("authorization", &auth)], "")
            .await
            .unwrap();
    }
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert!(answer.text().contains("tickets"), "{}", answer.text());
    let again = operator(&example, &served, &["approvals", "deny", &id]);
    assert_eq!(
        again.status.code(),
        Some(1),
        "a decided approval takes no more verdicts"
    );
}
