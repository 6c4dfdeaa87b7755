//! Every data-plane door that takes a credential goes through the same authenticate
//! phase: a revoked credential, a revoked agent's credential and an ended workflow's
//! credential are refused at each. The doors come from `Door::ALL` and the knock on each
//! is an exhaustive match, so a new door cannot be added without saying how it refuses.

use gatehouse_core::token::{TaskClaims, decode};
use gatehouse_gateway::router::Door;
use gatehouse_kit::client::{Reply, send};
use http::Method;
use serde_json::json;

use crate::harness::{AGENT, Harness};
use crate::mcp_upstream::servers::http as http_server;

/// How a credential is taken away.
#[derive(Debug, Clone, Copy)]
enum Loss {
    Token,
    Agent,
    Workflow,
}

/// A gateway with one HTTP MCP server (never reached: Gatehouse answers `initialize`).
async fn start() -> Harness {
    let unreachable = "127.0.0.1:9".parse().unwrap();
    Harness::builder()
        .mcp(
            &http_server(
                "remote",
                unreachable,
                "[mcp_servers.remote.tools.echo]\nintent = \"remote.read\"\naccess = \"read\"",
            ),
            &["remote.read"],
            "",
        )
        .start()
        .await
}

/// A parked high-tier call of `token`'s workflow: something worth polling for.
async fn park(harness: &Harness, token: &str) -> String {
    let reply = harness
        .call(Method::POST, "/tools/tickets/refunds", token, "{}")
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text());
    reply.json().unwrap()["approval_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// One request on `door` with `token`, or `None` for a door that takes no credential.
async fn knock(harness: &Harness, door: Door, token: &str, approval: &str) -> Option<Reply> {
    let auth = format!("Bearer {token}");
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
        ("accept", "application/json, text/event-stream"),
    ];
    let (method, path, body) = match door {
        Door::Tool => (
            Method::GET,
            "/tools/tickets/tickets/1".to_owned(),
            String::new(),
        ),
        Door::Mcp => {
            let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-11-25", "capabilities": {},
                "clientInfo": {"name": "doors", "version": "1"}}});
            (Method::POST, "/mcp/remote".to_owned(), init.to_string())
        }
        Door::ApprovalPoll => (
            Method::GET,
            format!("/v1/approvals/{approval}"),
            String::new(),
        ),
        Door::Token | Door::Jwks | Door::Discovery | Door::Unknown => return None,
    };
    let reply = send(method, &harness.data_url(&path), &headers, body)
        .await
        .unwrap();
    Some(reply)
}

async fn take_away(harness: &Harness, loss: Loss, token: &str, workflow: &str) {
    let reply = match loss {
        Loss::Token => {
            let jti = decode(token).unwrap().claims::<TaskClaims>().unwrap().jti;
            let body = json!({"kind": "token", "subject": jti, "reason": "leaked"});
            harness
                .control(Method::POST, "/v1/revocations", &body.to_string())
                .await
        }
        Loss::Agent => {
            let body = json!({"kind": "agent", "subject": AGENT, "reason": "compromised"});
            harness
                .control(Method::POST, "/v1/revocations", &body.to_string())
                .await
        }
        Loss::Workflow => {
            let path = format!("/v1/workflows/{workflow}/end");
            harness.control(Method::POST, &path, "{}").await
        }
    };
    assert!(reply.status.is_success(), "{loss:?}: {}", reply.text());
}

#[tokio::test]
async fn every_door_that_takes_a_credential_refuses_it_once_revoked_its_agent_revoked_or_its_workflow_ended()
 {
    let harness = start().await;
    let doors: Vec<Door> = Door::ALL
        .into_iter()
        .filter(|door| door.takes_credential())
        .collect();
    assert_eq!(doors.len(), 3, "tool calls, MCP and the approval poll");
    for loss in [Loss::Token, Loss::Agent, Loss::Workflow] {
        let workflow = format!("wf-doors-{loss:?}");
        let token = harness.token_in("triage", &workflow).await;
        let approval = park(&harness, &token).await;
        for door in &doors {
            let live = knock(&harness, *door, &token, &approval).await.unwrap();
            assert!(
                live.status.is_success(),
                "{door:?} refused a live credential: {} {}",
                live.status,
                live.text()
            );
        }
        let before = harness.upstream.seen().len();
        take_away(&harness, loss, &token, &workflow).await;
        for door in &doors {
            let refused = knock(&harness, *door, &token, &approval).await.unwrap();
            assert_eq!(
                refused.status,
                401,
                "{door:?} after {loss:?}: {}",
                refused.text()
            );
        }
        assert_eq!(
            harness.upstream.seen().len(),
            before,
            "{loss:?} reached the tool"
        );
        if matches!(loss, Loss::Agent) {
            let path = format!(
                "/v1/revocations/agent/{}",
                AGENT.replace(':', "%3A").replace('/', "%2F")
            );
            let reinstated = harness.control(Method::DELETE, &path, "").await;
            assert!(reinstated.status.is_success(), "{}", reinstated.text());
        }
    }
    harness.stop().await;
}

#[test]
fn doors_without_a_credential_are_the_token_endpoint_the_key_set_and_nothing() {
    for door in Door::ALL {
        let expected = !matches!(
            door,
            Door::Token | Door::Jwks | Door::Discovery | Door::Unknown
        );
        assert_eq!(door.takes_credential(), expected, "{door:?}");
    }
    assert_eq!(
        Door::of(&Method::GET, "/v1/approvals/x"),
        Door::ApprovalPoll
    );
    assert_eq!(Door::of(&Method::POST, "/mcp/x"), Door::Mcp);
    assert_eq!(Door::of(&Method::GET, "/tools/t/x"), Door::Tool);
    assert_eq!(Door::of(&Method::GET, "/v1/token"), Door::Unknown);
}
